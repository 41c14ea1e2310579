//! Publish/subscribe: channel, pattern and shard-channel subscriptions.
//!
//! Every subscribed client owns a [`Subscriber`]: an unbounded queue its
//! connection task drains, plus a count of the bytes still queued. A
//! publisher encodes each message in the subscriber's protocol and queues
//! it; a subscriber that lets its queue grow past the `pubsub` class of
//! `client-output-buffer-limit` is disconnected, as in Redis.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::mpsc;

use super::clients::ClientHandle;
use crate::config::BufferLimit;
use crate::protocol::reply::Reply;
use crate::util::glob::glob_match;
use crate::util::time::now_ms;

/// The receiving end of a client's message queue.
pub type Inbox = mpsc::UnboundedReceiver<Vec<u8>>;

/// A client able to receive published messages.
pub struct Subscriber {
    id: u64,
    resp3: AtomicBool,
    tx: mpsc::UnboundedSender<Vec<u8>>,
    /// When the queue first went over the soft limit (Unix ms; 0 = not).
    over_soft_since: AtomicU64,
    handle: Arc<ClientHandle>,
}

impl Subscriber {
    /// Creates a subscriber and the inbox its connection drains.
    pub fn new(handle: Arc<ClientHandle>, resp3: bool) -> (Arc<Subscriber>, Inbox) {
        let (tx, rx) = mpsc::unbounded_channel();
        let sub = Arc::new(Subscriber {
            id: handle.id,
            resp3: AtomicBool::new(resp3),
            tx,
            over_soft_since: AtomicU64::new(0),
            handle,
        });
        (sub, rx)
    }

    /// Follows the client's protocol switches (HELLO).
    pub fn set_resp3(&self, resp3: bool) {
        self.resp3.store(resp3, Ordering::Relaxed);
    }

    /// Whether the client speaks RESP3.
    pub fn resp3(&self) -> bool {
        self.resp3.load(Ordering::Relaxed)
    }

    /// The client's id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Queues bytes already encoded for this client (MONITOR lines).
    pub fn send_raw(&self, msg: Vec<u8>, limit: BufferLimit) {
        self.deliver(msg, limit);
    }

    /// Bytes queued for this client.
    pub fn pending(&self) -> usize {
        self.handle.output.bytes()
    }

    /// The connection wrote `items` queued messages totalling `n` bytes.
    pub fn written(&self, n: usize, items: usize) {
        let left = self.handle.output.pop(n, items);
        if left == 0 {
            self.over_soft_since.store(0, Ordering::Relaxed);
        }
    }

    fn deliver(&self, msg: Vec<u8>, limit: BufferLimit) {
        // Counted before sending, so the connection never subtracts first.
        let len = msg.len();
        let pending = self.handle.output.push(len);
        if self.tx.send(msg).is_err() {
            self.handle.output.pop(len, 1);
            return;
        }
        if limit.hard > 0 && pending as u64 > limit.hard {
            self.disconnect("hard");
            return;
        }
        if limit.soft > 0 && pending as u64 > limit.soft {
            let now = now_ms();
            let since = self.over_soft_since.load(Ordering::Relaxed);
            if since == 0 {
                self.over_soft_since.store(now, Ordering::Relaxed);
            } else if now.saturating_sub(since) >= limit.soft_seconds * 1000 {
                self.disconnect("soft");
            }
        } else {
            self.over_soft_since.store(0, Ordering::Relaxed);
        }
    }

    fn disconnect(&self, which: &str) {
        if !self.handle.is_killed() {
            tracing::warn!(
                client = %self.handle.addr,
                "Client scheduled to be closed ASAP for overcoming of output buffer limits ({which} pubsub limit)"
            );
            self.handle.kill();
        }
    }
}

type Subs = Vec<Arc<Subscriber>>;

/// All subscriptions of the server.
#[derive(Default)]
pub struct PubSub {
    channels: Mutex<HashMap<Vec<u8>, Subs>>,
    patterns: Mutex<Vec<(Vec<u8>, Arc<Subscriber>)>>,
    shard_channels: Mutex<HashMap<Vec<u8>, Subs>>,
}

/// Which kind of subscription.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// SUBSCRIBE.
    Channel,
    /// PSUBSCRIBE.
    Pattern,
    /// SSUBSCRIBE.
    Shard,
}

/// Encodes a message push: `[kind, (pattern,) channel, payload]`.
fn encode(
    resp3: bool,
    kind: &[u8],
    pattern: Option<&[u8]>,
    channel: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    let mut out = Reply {
        resp3,
        ..Reply::default()
    };
    out.push(if pattern.is_some() { 4 } else { 3 });
    out.bulk(kind);
    if let Some(p) = pattern {
        out.bulk(p);
    }
    out.bulk(channel);
    out.bulk(payload);
    out.buf
}

fn add(map: &mut HashMap<Vec<u8>, Subs>, name: &[u8], sub: &Arc<Subscriber>) {
    let subs = map.entry(name.to_vec()).or_default();
    if !subs.iter().any(|s| s.id == sub.id) {
        subs.push(sub.clone());
    }
}

fn remove(map: &mut HashMap<Vec<u8>, Subs>, name: &[u8], id: u64) {
    if let Some(subs) = map.get_mut(name) {
        subs.retain(|s| s.id != id);
        if subs.is_empty() {
            map.remove(name);
        }
    }
}

impl PubSub {
    /// Registers a subscription.
    pub fn subscribe(&self, kind: Kind, name: &[u8], sub: &Arc<Subscriber>) {
        match kind {
            Kind::Channel => add(&mut self.channels.lock(), name, sub),
            Kind::Shard => add(&mut self.shard_channels.lock(), name, sub),
            Kind::Pattern => {
                let mut patterns = self.patterns.lock();
                if !patterns.iter().any(|(p, s)| p == name && s.id == sub.id) {
                    patterns.push((name.to_vec(), sub.clone()));
                }
            }
        }
    }

    /// Calls `f(kind, name, client id)` for every subscription (ACL
    /// changes check them against the new channel permissions).
    pub fn for_each_subscription(&self, mut f: impl FnMut(Kind, &[u8], u64)) {
        for (kind, map) in [
            (Kind::Channel, &self.channels),
            (Kind::Shard, &self.shard_channels),
        ] {
            for (name, subs) in map.lock().iter() {
                for s in subs {
                    f(kind, name, s.id);
                }
            }
        }
        for (name, s) in self.patterns.lock().iter() {
            f(Kind::Pattern, name, s.id);
        }
    }

    /// Removes a subscription of client `id`.
    pub fn unsubscribe(&self, kind: Kind, name: &[u8], id: u64) {
        match kind {
            Kind::Channel => remove(&mut self.channels.lock(), name, id),
            Kind::Shard => remove(&mut self.shard_channels.lock(), name, id),
            Kind::Pattern => self
                .patterns
                .lock()
                .retain(|(p, s)| !(p == name && s.id == id)),
        }
    }

    /// Publishes to channel (or shard channel) subscribers and matching
    /// patterns; returns how many clients received the message.
    pub fn publish(
        &self,
        shard: bool,
        channel: &[u8],
        payload: &[u8],
        limit: BufferLimit,
    ) -> usize {
        let mut encoded: [Option<Vec<u8>>; 2] = [None, None];
        let mut receivers = 0;
        let map = if shard {
            &self.shard_channels
        } else {
            &self.channels
        };
        let kind: &[u8] = if shard { b"smessage" } else { b"message" };
        if let Some(subs) = map.lock().get(channel) {
            for sub in subs {
                let resp3 = sub.resp3.load(Ordering::Relaxed);
                let msg = encoded[resp3 as usize]
                    .get_or_insert_with(|| encode(resp3, kind, None, channel, payload))
                    .clone();
                sub.deliver(msg, limit);
                receivers += 1;
            }
        }
        if !shard {
            for (pattern, sub) in self.patterns.lock().iter() {
                if glob_match(pattern, channel, false) {
                    let resp3 = sub.resp3.load(Ordering::Relaxed);
                    sub.deliver(
                        encode(resp3, b"pmessage", Some(pattern), channel, payload),
                        limit,
                    );
                    receivers += 1;
                }
            }
        }
        receivers
    }

    /// Active channels (or shard channels) matching an optional pattern.
    pub fn channels(&self, shard: bool, pattern: Option<&[u8]>) -> Vec<Vec<u8>> {
        let map = if shard {
            &self.shard_channels
        } else {
            &self.channels
        };
        map.lock()
            .keys()
            .filter(|c| match pattern {
                Some(p) => glob_match(p, c, false),
                None => true,
            })
            .cloned()
            .collect()
    }

    /// Subscriber count of a channel (or shard channel).
    pub fn numsub(&self, shard: bool, channel: &[u8]) -> usize {
        let map = if shard {
            &self.shard_channels
        } else {
            &self.channels
        };
        map.lock().get(channel).map_or(0, Vec::len)
    }

    /// Number of distinct subscribed patterns.
    pub fn numpat(&self) -> usize {
        let patterns = self.patterns.lock();
        let mut names: Vec<&Vec<u8>> = patterns.iter().map(|(p, _)| p).collect();
        names.sort();
        names.dedup();
        names.len()
    }
}
