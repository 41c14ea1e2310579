//! Client-side caching (`CLIENT TRACKING`), following Redis 7.0's
//! `tracking.c`.
//!
//! Default mode: after a read-only command of a tracking client, its keys
//! are remembered in a server-wide table (key name -> client ids, across
//! databases, as in Redis). The first modification of such a key sends
//! each remembering client one invalidation and forgets the key.
//! BCAST mode: every modified key matching one of a client's prefixes is
//! reported to it, batched per command.
//!
//! Messages go to the client's own connection as RESP3 pushes, or to the
//! REDIRECT client (a RESP3 push, or a `__redis__:invalidate` Pub/Sub
//! message for a RESP2 subscriber), through the Pub/Sub queues the
//! connections already drain. Invalidations caused by a client's own
//! command are appended after that command's reply, like Redis's pending
//! invalidations. Nothing is done on writes while no client tracks (one
//! relaxed atomic load).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use super::clients::{ClientHandle, TrackingFlags};
use super::pubsub::Subscriber;
use super::Server;
use crate::command::{ClientState, Command};
use crate::config::BufferLimit;
use crate::keyspace::events;
use crate::protocol::reply::Reply;

/// The Pub/Sub channel RESP2 redirect targets receive invalidations on.
const CHANNEL: &[u8] = b"__redis__:invalidate";

/// `CLIENT TRACKING` options.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Options {
    /// BCAST: report every change to keys under the prefixes.
    pub bcast: bool,
    /// OPTIN: track reads only after `CLIENT CACHING yes`.
    pub optin: bool,
    /// OPTOUT: track reads unless `CLIENT CACHING no`.
    pub optout: bool,
    /// NOLOOP: no invalidations for the client's own writes.
    pub noloop: bool,
}

/// The tracking state a connection keeps for itself.
#[derive(Default, Debug)]
pub struct ClientTracking {
    /// Tracking is enabled.
    pub on: bool,
    /// Its options.
    pub opts: Options,
    /// `CLIENT CACHING` was given for the next command (or transaction).
    pub caching: bool,
    /// Invalidations of this client caused by its own command, sent after
    /// the reply (`None`: everything, after a flush).
    pending: Vec<Option<Vec<u8>>>,
    /// Keys this command modified that match some BCAST prefix.
    bcast_keys: Vec<Vec<u8>>,
}

/// A tracking client as writers see it.
struct Tracker {
    opts: Options,
    /// Client id invalidations are redirected to (0 = none).
    redirect: u64,
    /// The redirect client was gone when an invalidation was due.
    broken: bool,
    /// BCAST prefixes.
    prefixes: BTreeSet<Vec<u8>>,
    /// The client's own message queue.
    queue: Arc<Subscriber>,
    /// The client's handle, for `CLIENT LIST` flags.
    handle: Arc<ClientHandle>,
}

impl Tracker {
    /// Publishes the state `CLIENT LIST` shows.
    fn publish(&self) {
        self.handle.info.lock().tracking = TrackingFlags {
            on: true,
            bcast: self.opts.bcast,
            broken: self.broken,
            redirect: self.redirect,
        };
    }
}

#[derive(Default)]
struct Inner {
    /// By id, which is connection order (flushes notify in that order).
    trackers: BTreeMap<u64, Tracker>,
    /// Default mode: key name -> ids of clients that read it.
    keys: HashMap<Vec<u8>, Vec<u64>>,
    /// Client ids over all of `keys` (`INFO tracking_total_items`).
    items: usize,
    /// BCAST mode: prefix -> ids of clients registered for it.
    prefixes: BTreeMap<Vec<u8>, Vec<u64>>,
}

/// The server-wide tracking table.
#[derive(Default)]
pub struct Tracking {
    /// Clients with tracking on: writes skip the table while it is 0.
    clients: AtomicUsize,
    inner: Mutex<Inner>,
}

/// What `CLIENT TRACKINGINFO` reports besides the client's own flags.
pub struct Info {
    /// The redirect id.
    pub redirect: u64,
    /// The redirect client disappeared.
    pub broken: bool,
    /// BCAST prefixes, sorted.
    pub prefixes: Vec<Vec<u8>>,
}

/// An invalidation's value: key names, or null (everything, on flush).
enum Value<'a> {
    Keys(&'a [&'a [u8]]),
    Null,
}

/// Redis's `stringCheckPrefix`: whether one string is a prefix of the other.
fn overlap(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

fn overlap_error(new: &[u8], kind: &str, old: &[u8]) -> Vec<u8> {
    let mut msg = b"ERR Prefix '".to_vec();
    msg.extend_from_slice(new);
    msg.extend_from_slice(format!("' overlaps with {kind} prefix '").as_bytes());
    msg.extend_from_slice(old);
    msg.extend_from_slice(b"'. Prefixes for a single client must not overlap.");
    msg
}

impl Tracking {
    /// Number of clients with tracking enabled (`INFO tracking_clients`).
    pub fn clients(&self) -> usize {
        self.clients.load(Ordering::Relaxed)
    }

    /// Checks new BCAST prefixes against the client's and each other, as
    /// Redis's `checkPrefixCollisionsOrReply`: returns the error, and
    /// whether tracking is enabled anyway (Redis 7.0 does so, replying
    /// the error and then +OK, when the clash is not with the first one).
    pub fn prefix_collision(&self, id: u64, new: &[&[u8]]) -> Option<(Vec<u8>, bool)> {
        let inner = self.inner.lock();
        let existing = inner.trackers.get(&id).map(|t| &t.prefixes);
        for (i, p) in new.iter().enumerate() {
            if let Some(old) = existing.and_then(|s| s.iter().find(|o| overlap(o, p))) {
                return Some((overlap_error(p, "an existing", old), false));
            }
            if let Some(q) = new[i + 1..].iter().find(|q| overlap(p, q)) {
                return Some((overlap_error(p, "another provided", q), i > 0));
            }
        }
        None
    }

    /// Registers a client's prefix for BCAST.
    fn add_prefix(inner: &mut Inner, id: u64, prefix: &[u8]) {
        if let Some(t) = inner.trackers.get_mut(&id) {
            t.prefixes.insert(prefix.to_vec());
        }
        let ids = inner.prefixes.entry(prefix.to_vec()).or_default();
        if !ids.contains(&id) {
            ids.push(id);
        }
    }

    /// Tracked keys, (key, client) pairs and BCAST prefixes, for `INFO`.
    pub fn totals(&self) -> (usize, usize, usize) {
        let inner = self.inner.lock();
        (inner.keys.len(), inner.items, inner.prefixes.len())
    }

    /// The redirect, broken flag and prefixes of a tracking client.
    pub fn info(&self, id: u64) -> Option<Info> {
        let inner = self.inner.lock();
        inner.trackers.get(&id).map(|t| Info {
            redirect: t.redirect,
            broken: t.broken,
            prefixes: t.prefixes.iter().cloned().collect(),
        })
    }
}

/// `CLIENT TRACKING on`: enables tracking (or updates it) for `client`.
pub fn enable(
    server: &Server,
    client: &mut ClientState,
    resp3: bool,
    redirect: u64,
    opts: Options,
    prefixes: &[&[u8]],
) {
    let queue = client.subs.queue(&client.handle, resp3);
    let tracking = &server.tracking;
    let mut inner = tracking.inner.lock();
    if !client.tracking.on && tracking.clients.fetch_add(1, Ordering::Relaxed) == 0 {
        events::set_tracking(true);
    }
    let tracker = inner.trackers.entry(client.id).or_insert_with(|| Tracker {
        opts,
        redirect,
        broken: false,
        prefixes: BTreeSet::new(),
        queue,
        handle: client.handle.clone(),
    });
    tracker.opts = opts;
    tracker.redirect = redirect;
    tracker.broken = false;
    tracker.publish();
    if opts.bcast {
        if prefixes.is_empty() {
            Tracking::add_prefix(&mut inner, client.id, b"");
        }
        for p in prefixes {
            Tracking::add_prefix(&mut inner, client.id, p);
        }
    }
    client.tracking.on = true;
    client.tracking.opts = opts;
}

/// `CLIENT TRACKING off`, RESET and disconnection.
pub fn disable(server: &Server, client: &mut ClientState) {
    if !client.tracking.on {
        return;
    }
    let tracking = &server.tracking;
    let mut inner = tracking.inner.lock();
    if let Some(t) = inner.trackers.remove(&client.id) {
        for p in &t.prefixes {
            if let Some(ids) = inner.prefixes.get_mut(p) {
                ids.retain(|&i| i != client.id);
                if ids.is_empty() {
                    inner.prefixes.remove(p);
                }
            }
        }
    }
    if tracking.clients.fetch_sub(1, Ordering::Relaxed) == 1 {
        // Nobody left to invalidate: reclaim the table.
        events::set_tracking(false);
        inner.keys = HashMap::new();
        inner.items = 0;
    }
    client.handle.info.lock().tracking = TrackingFlags::default();
    let t = &mut client.tracking;
    t.on = false;
    t.opts = Options::default();
    t.caching = false;
}

/// Remembers the keys of a read-only command run by a tracking client
/// (Redis's `trackingRememberKeys`), honouring OPTIN/OPTOUT + CACHING.
pub fn remember(server: &Server, client: &ClientState, cmd: &Command, args: &[&[u8]]) {
    let t = &client.tracking;
    if t.opts.bcast || (t.opts.optin && !t.caching) || (t.opts.optout && t.caching) {
        return;
    }
    let keys = cmd.keys(args);
    if keys.is_empty() {
        return;
    }
    let max_keys = server.config.read().tracking_table_max_keys as usize;
    let mut inner = server.tracking.inner.lock();
    for key in keys {
        let ids = inner.keys.entry(key.to_vec()).or_default();
        if !ids.contains(&client.id) {
            ids.push(client.id);
            inner.items += 1;
        }
    }
    if max_keys > 0 && inner.keys.len() > max_keys {
        limit_keys(server, &mut inner, max_keys);
    }
}

/// Forgets keys, invalidating their readers, until the table holds at
/// most `max_keys` (Redis's `trackingLimitUsedSlots`, which walks to
/// random keys; here the hash order is the arbitrary choice).
#[cold]
fn limit_keys(server: &Server, inner: &mut Inner, max_keys: usize) {
    let limits = Limits::of(server);
    let excess = inner.keys.len() - max_keys;
    let victims: Vec<Vec<u8>> = inner.keys.keys().take(excess).cloned().collect();
    for key in victims {
        let Some(ids) = inner.keys.remove(&key) else {
            continue;
        };
        inner.items -= ids.len();
        for id in ids {
            if let Some(t) = inner.trackers.get_mut(&id).filter(|t| !t.opts.bcast) {
                send(server, t, &Value::Keys(&[&key]), None, limits);
            }
        }
    }
}

/// A key was modified by `writer` (Redis's `trackingInvalidateKey`).
pub fn touched(server: &Server, writer: &mut ClientState, key: &[u8]) {
    let mut inner = server.tracking.inner.lock();
    if inner.prefixes.keys().any(|p| key.starts_with(p)) {
        writer.tracking.bcast_keys.push(key.to_vec());
    }
    let Some(ids) = inner.keys.remove(key) else {
        return;
    };
    inner.items -= ids.len();
    let limits = Limits::of(server);
    for id in ids {
        let Some(t) = inner.trackers.get_mut(&id) else {
            continue;
        };
        if t.opts.bcast || (t.opts.noloop && id == writer.id) {
            continue;
        }
        if id == writer.id {
            writer.tracking.pending.push(Some(key.to_vec()));
        } else {
            send(server, t, &Value::Keys(&[key]), None, limits);
        }
    }
}

/// A key expired (lazily during a command, or by active expiry): like
/// Redis's `signalModifiedKey(NULL, …)`, its readers and the BCAST clients
/// of its prefixes are told at once, with no writer to exclude.
pub fn expired(server: &Server, key: &[u8]) {
    if server.tracking.clients() == 0 {
        return;
    }
    let mut inner = server.tracking.inner.lock();
    let limits = Limits::of(server);
    let Inner {
        trackers,
        keys,
        items,
        prefixes,
    } = &mut *inner;
    let value = Value::Keys(&[key]);
    for (prefix, ids) in prefixes.iter() {
        if key.starts_with(prefix) {
            for id in ids {
                if let Some(t) = trackers.get_mut(id) {
                    send(server, t, &value, None, limits);
                }
            }
        }
    }
    let Some(ids) = keys.remove(key) else {
        return;
    };
    *items -= ids.len();
    for id in ids {
        if let Some(t) = trackers.get_mut(&id).filter(|t| !t.opts.bcast) {
            send(server, t, &value, None, limits);
        }
    }
}

/// FLUSHDB/FLUSHALL: every tracking client is told to drop everything.
pub fn flushed(server: &Server, writer: &mut ClientState) {
    if server.tracking.clients() == 0 {
        return;
    }
    let mut inner = server.tracking.inner.lock();
    let limits = Limits::of(server);
    for (&id, t) in inner.trackers.iter_mut() {
        if id == writer.id {
            writer.tracking.pending.push(None);
        } else {
            send(server, t, &Value::Null, None, limits);
        }
    }
    inner.keys = HashMap::new();
    inner.items = 0;
}

/// Called once per top-level command: sends the invalidations the command
/// caused for its own client (after its reply) and the BCAST batches, and
/// drops a `CLIENT CACHING` flag that no longer applies.
#[inline]
pub fn after_command(
    server: &Server,
    client: &mut ClientState,
    out: &mut Reply,
    cmd: Option<&Command>,
) {
    if client.tracking.caching
        && client.multi.is_none()
        && !cmd.is_some_and(|c| c.name.starts_with("client|"))
    {
        client.tracking.caching = false;
    }
    let t = &client.tracking;
    if !t.pending.is_empty() || !t.bcast_keys.is_empty() {
        flush_pending(server, client, out);
    }
}

#[cold]
fn flush_pending(server: &Server, client: &mut ClientState, out: &mut Reply) {
    let id = client.id;
    let pending = std::mem::take(&mut client.tracking.pending);
    let mut keys = std::mem::take(&mut client.tracking.bcast_keys);
    let mut inner = server.tracking.inner.lock();
    let limits = Limits::of(server);
    if let Some(t) = inner.trackers.get_mut(&id) {
        for p in &pending {
            let value = match p {
                Some(key) => Value::Keys(&[key.as_slice()]),
                None => Value::Null,
            };
            send(server, t, &value, Some((id, &mut *out)), limits);
        }
    }
    if keys.is_empty() {
        return;
    }
    keys.sort();
    keys.dedup();
    let Inner {
        trackers, prefixes, ..
    } = &mut *inner;
    for (prefix, ids) in prefixes.iter() {
        let matching: Vec<&[u8]> = keys
            .iter()
            .filter(|k| k.starts_with(prefix))
            .map(Vec::as_slice)
            .collect();
        if matching.is_empty() {
            continue;
        }
        for &target in ids {
            let Some(t) = trackers.get_mut(&target) else {
                continue;
            };
            if t.opts.noloop && target == id {
                continue;
            }
            send(
                server,
                t,
                &Value::Keys(&matching),
                Some((id, &mut *out)),
                limits,
            );
        }
    }
}

/// Output limits for own-connection pushes and Pub/Sub redirects.
#[derive(Clone, Copy)]
struct Limits {
    normal: BufferLimit,
    pubsub: BufferLimit,
}

impl Limits {
    fn of(server: &Server) -> Self {
        let c = server.config.read();
        Limits {
            normal: c.output_limits.normal,
            pubsub: c.output_limits.pubsub,
        }
    }
}

/// Encodes `[kind, …]` frames.
fn frame(resp3: bool) -> Reply {
    Reply {
        resp3,
        ..Reply::default()
    }
}

/// Sends one invalidation for tracker `t` (Redis's `sendTrackingMessage`).
/// `own` is the calling client's id and reply buffer: messages for it go
/// after its reply instead of through its queue.
fn send(
    server: &Server,
    t: &mut Tracker,
    value: &Value,
    own: Option<(u64, &mut Reply)>,
    limits: Limits,
) {
    let tracker_resp3 = t.queue.resp3();
    let encode_value = |out: &mut Reply| match value {
        Value::Keys(keys) => {
            out.array(keys.len());
            for k in keys.iter() {
                out.bulk(k);
            }
        }
        // The null of the tracking client's protocol, whoever receives it.
        Value::Null => out
            .buf
            .extend_from_slice(if tracker_resp3 { b"_\r\n" } else { b"$-1\r\n" }),
    };
    if t.redirect == 0 {
        if !tracker_resp3 {
            // RESP2 can't carry pushes on the same connection.
            return;
        }
        let mut out = frame(true);
        out.push(2);
        out.bulk(b"invalidate");
        encode_value(&mut out);
        deliver_own(t, out.buf, own, limits);
        return;
    }
    let Some(target) = server.clients.get(t.redirect) else {
        if !t.broken {
            t.broken = true;
            t.publish();
        }
        if tracker_resp3 {
            let mut out = frame(true);
            out.push(2);
            out.bulk(b"tracking-redir-broken");
            out.int(t.redirect as i64);
            deliver_own(t, out.buf, own, limits);
        }
        return;
    };
    let Some(queue) = target.queue.get().and_then(Weak::upgrade) else {
        return;
    };
    let mut out;
    if queue.resp3() {
        out = frame(true);
        out.push(2);
        out.bulk(b"invalidate");
    } else if target.info.lock().subscriptions.iter().any(|&n| n > 0) {
        out = frame(false);
        out.array(3);
        out.bulk(b"message");
        out.bulk(CHANNEL);
    } else {
        return;
    }
    encode_value(&mut out);
    match own {
        Some((id, reply)) if id == target.id => reply.buf.extend_from_slice(&out.buf),
        _ => queue.send_raw(out.buf, limits.pubsub),
    }
}

fn deliver_own(t: &Tracker, msg: Vec<u8>, own: Option<(u64, &mut Reply)>, limits: Limits) {
    match own {
        Some((id, reply)) if id == t.queue.id() => reply.buf.extend_from_slice(&msg),
        _ => t.queue.send_raw(msg, limits.normal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_overlap_when_one_starts_the_other() {
        assert!(overlap(b"a", b"ab"));
        assert!(overlap(b"ab", b"a"));
        assert!(overlap(b"", b"x"));
        assert!(overlap(b"x", b"x"));
        assert!(!overlap(b"ab", b"ac"));
    }

    #[test]
    fn collisions_report_like_redis() {
        let t = Tracking::default();
        let (msg, enable) = t.prefix_collision(1, &[b"a", b"ab"]).unwrap();
        assert_eq!(
            msg,
            b"ERR Prefix 'a' overlaps with another provided prefix 'ab'. Prefixes for a single client must not overlap."
        );
        assert!(!enable);
        assert!(t.prefix_collision(1, &[b"b", b"c", b"cd"]).unwrap().1);
        assert!(t.prefix_collision(1, &[b"b", b"c"]).is_none());
    }
}
