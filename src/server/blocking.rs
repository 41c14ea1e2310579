//! Clients blocked on keys (BLPOP, BLMOVE, BZPOPMIN, …).
//!
//! A blocking command that finds nothing registers a [`Waiter`] on its keys
//! while still holding their shard locks, so no push can slip in between.
//! A command that adds data to a key calls [`Blocking::serve`] while it
//! still holds that key's shard lock: waiters are served in arrival order
//! and no third client can take the element first. Lock order is always
//! shard locks, then the registry mutex; while holding the registry, other
//! shards are only ever `try_lock`ed, so serving cannot deadlock.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, MutexGuard};
use tokio::sync::oneshot;

use crate::command::CmdError;
use crate::keyspace::{shard_of, Keyspace, MultiLock, Shard};
use crate::protocol::reply::Reply;

/// Access to locked shards while serving a waiter.
pub trait ShardAccess {
    /// The shard of `key` in the waiter's database, if it is locked by the
    /// serving command or can be locked without risking a deadlock.
    fn shard(&mut self, key: &[u8]) -> Option<&mut Shard>;
}

/// What is handed to [`BlockedOp::serve`].
pub struct Serve<'a> {
    /// The key that received data.
    pub key: &'a [u8],
    /// Command time in Unix ms.
    pub now: u64,
    /// Locked shards.
    pub shards: &'a mut dyn ShardAccess,
    /// The waiter's reply, in its protocol.
    pub out: Reply,
    /// Keys changed by serving, with their event names (for
    /// `Ctx::modified`).
    pub modified: Vec<(Vec<u8>, &'static str)>,
    /// A command the waiter's own connection runs after the reply, when a
    /// second key could not be locked here (BLMOVE's destination in a
    /// shard another command holds): its reply is discarded.
    pub then: Option<Vec<Vec<u8>>>,
    /// The non-blocking commands that replay what serving did (BLPOP as
    /// LPOP, BLMOVE as LMOVE …), for the AOF.
    pub propagate: Vec<Vec<Vec<u8>>>,
    /// Keys that received data while serving (BLMOVE's destination, when
    /// its shard was at hand): their waiters are served next, in the same
    /// call, as Redis chains BLMOVE waiters.
    pub ready: Vec<Vec<u8>>,
}

/// What serving blocked clients changed.
#[derive(Default)]
pub struct Served {
    /// Keys changed, with their event names (for `Ctx::modified`).
    pub keys: Vec<(Vec<u8>, &'static str)>,
    /// The commands that replay the pops, in order.
    pub commands: Vec<Vec<Vec<u8>>>,
}

/// The operation a blocked command completes once data arrives.
pub trait BlockedOp: Send + Sync {
    /// Tries to serve from `serve.key`; writes the reply and returns true,
    /// or returns false (nothing usable there) to keep waiting.
    fn serve(&self, serve: &mut Serve<'_>) -> bool;

    /// Writes the reply sent when the timeout expires.
    fn timeout_reply(&self, out: &mut Reply);

    /// Writes the reply when the command may not block (inside MULTI or
    /// a script); the timeout reply unless the command differs.
    fn nonblocking_reply(&self, out: &mut Reply) {
        self.timeout_reply(out);
    }
}

/// How a blocked client is woken.
pub enum Wakeup {
    /// Served: the reply, and possibly a follow-up command to run.
    Served(Vec<u8>, Option<Vec<Vec<u8>>>),
    /// Released by `CLIENT UNBLOCK`, with the reply to send.
    Unblocked(Vec<u8>),
}

/// One blocked client.
pub struct Waiter {
    client: u64,
    db: usize,
    keys: Vec<Vec<u8>>,
    resp3: bool,
    op: Box<dyn BlockedOp>,
    wake: Mutex<Option<oneshot::Sender<Wakeup>>>,
}

impl Waiter {
    /// The reply for a timeout, in the client's protocol.
    pub fn timeout_reply(&self) -> Vec<u8> {
        let mut out = Reply {
            resp3: self.resp3,
            ..Reply::default()
        };
        self.op.timeout_reply(&mut out);
        out.buf
    }

    fn wake(&self, w: Wakeup) {
        if let Some(tx) = self.wake.lock().take() {
            let _ = tx.send(w);
        }
    }
}

/// A client's pending block: the connection awaits it.
pub struct Block {
    /// The registered waiter.
    pub waiter: Arc<Waiter>,
    /// Resolves when served or unblocked.
    pub rx: oneshot::Receiver<Wakeup>,
    /// When to give up; `None` waits forever.
    pub deadline: Option<Instant>,
}

impl std::fmt::Debug for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Block")
            .field("client", &self.waiter.client)
            .field("deadline", &self.deadline)
            .finish()
    }
}

#[derive(Default)]
struct State {
    queues: HashMap<(usize, Vec<u8>), VecDeque<Arc<Waiter>>>,
    by_client: HashMap<u64, Arc<Waiter>>,
}

impl State {
    fn unlink(&mut self, waiter: &Arc<Waiter>) -> bool {
        if self.by_client.remove(&waiter.client).is_none() {
            return false;
        }
        for key in &waiter.keys {
            let id = (waiter.db, key.clone());
            if let Some(q) = self.queues.get_mut(&id) {
                q.retain(|w| !Arc::ptr_eq(w, waiter));
                if q.is_empty() {
                    self.queues.remove(&id);
                }
            }
        }
        true
    }
}

/// The registry of blocked clients.
#[derive(Default)]
pub struct Blocking {
    state: Mutex<State>,
    blocked: AtomicUsize,
}

/// Parses a blocking timeout in seconds (decimals allowed, 0 = forever),
/// with Redis's errors.
pub fn parse_timeout(arg: &[u8]) -> Result<Option<Duration>, CmdError> {
    let secs = crate::util::long_double::parse_long_double(arg)
        .ok_or(CmdError::err("ERR timeout is not a float or out of range"))?;
    // Redis rounds the milliseconds up, then casts to a C `long long`:
    // infinities and values past its range become LLONG_MIN, "negative".
    let ms = (secs * 1000.0).ceil();
    if ms < 0.0 || ms >= i64::MAX as f64 {
        return Err(CmdError::err("ERR timeout is negative"));
    }
    let ms = ms as u64;
    Ok((ms > 0).then(|| Duration::from_millis(ms)))
}

impl Blocking {
    /// Number of blocked clients (`blocked_clients`).
    pub fn count(&self) -> usize {
        self.blocked.load(Ordering::Relaxed)
    }

    /// Keys of database `db` that clients are blocked on.
    pub fn keys_in(&self, db: usize) -> Vec<Vec<u8>> {
        if self.count() == 0 {
            return Vec::new();
        }
        let state = self.state.lock();
        state
            .queues
            .keys()
            .filter(|(d, _)| *d == db)
            .map(|(_, k)| k.clone())
            .collect()
    }

    /// Registers a client on `keys`. Call while holding those keys' shard
    /// locks, right after finding them empty.
    pub fn block(
        &self,
        client: u64,
        db: usize,
        keys: Vec<Vec<u8>>,
        resp3: bool,
        timeout: Option<Duration>,
        op: Box<dyn BlockedOp>,
    ) -> Block {
        let (tx, rx) = oneshot::channel();
        let waiter = Arc::new(Waiter {
            client,
            db,
            keys,
            resp3,
            op,
            wake: Mutex::new(Some(tx)),
        });
        let mut state = self.state.lock();
        for key in &waiter.keys {
            let queue = state.queues.entry((db, key.clone())).or_default();
            if !queue.iter().any(|w| Arc::ptr_eq(w, &waiter)) {
                queue.push_back(waiter.clone());
            }
        }
        state.by_client.insert(client, waiter.clone());
        self.blocked.fetch_add(1, Ordering::Relaxed);
        Block {
            waiter,
            rx,
            deadline: timeout.map(|t| Instant::now() + t),
        }
    }

    /// Removes a waiter (timeout, disconnect). False if it was already
    /// served or unblocked, in which case its wakeup is on its way.
    pub fn cancel(&self, waiter: &Arc<Waiter>) -> bool {
        let removed = self.state.lock().unlink(waiter);
        if removed {
            self.blocked.fetch_sub(1, Ordering::Relaxed);
        }
        removed
    }

    /// `CLIENT UNBLOCK`: releases client `id` with a timeout reply, or
    /// with an `UNBLOCKED` error. False if the client is not blocked.
    pub fn unblock(&self, id: u64, with_error: bool) -> bool {
        let waiter = {
            let mut state = self.state.lock();
            let Some(w) = state.by_client.get(&id).cloned() else {
                return false;
            };
            state.unlink(&w);
            w
        };
        self.blocked.fetch_sub(1, Ordering::Relaxed);
        let reply = if with_error {
            b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n".to_vec()
        } else {
            waiter.timeout_reply()
        };
        waiter.wake(Wakeup::Unblocked(reply));
        true
    }

    /// Releases every blocked client with the error `reply` (a primary
    /// turning replica: their keys now change only by its primary).
    pub fn unblock_all(&self, reply: &[u8]) {
        let waiters: Vec<_> = {
            let mut state = self.state.lock();
            let all: Vec<_> = state.by_client.values().cloned().collect();
            for w in &all {
                state.unlink(w);
            }
            all
        };
        for waiter in waiters {
            self.blocked.fetch_sub(1, Ordering::Relaxed);
            waiter.wake(Wakeup::Unblocked(reply.to_vec()));
        }
    }

    /// Serves clients blocked on `key` of database `db`, in arrival order,
    /// while the caller holds the key's shard (through `shards`), then the
    /// waiters of keys that serving filled ([`Serve::ready`]). Returns the
    /// keys changed by serving, with their event names.
    pub fn serve(&self, db: usize, key: &[u8], now: u64, shards: &mut dyn ShardAccess) -> Served {
        let mut changed = Served::default();
        if self.count() == 0 {
            return changed;
        }
        let mut state = self.state.lock();
        let mut pending = VecDeque::from([key.to_vec()]);
        while let Some(key) = pending.pop_front() {
            let id = (db, key);
            // Waiters are tried in arrival order; one that cannot be
            // served (a stream reader waiting for IDs past the new entry)
            // does not hold back the ones behind it.
            let queued: Vec<Arc<Waiter>> = match state.queues.get(&id) {
                Some(q) => q.iter().cloned().collect(),
                None => continue,
            };
            for waiter in queued {
                let mut serve = Serve {
                    key: &id.1,
                    now,
                    shards: &mut *shards,
                    out: Reply {
                        resp3: waiter.resp3,
                        ..Reply::default()
                    },
                    modified: Vec::new(),
                    then: None,
                    propagate: Vec::new(),
                    ready: Vec::new(),
                };
                if !waiter.op.serve(&mut serve) {
                    continue;
                }
                state.unlink(&waiter);
                self.blocked.fetch_sub(1, Ordering::Relaxed);
                changed.keys.append(&mut serve.modified);
                changed.commands.append(&mut serve.propagate);
                pending.extend(serve.ready);
                waiter.wake(Wakeup::Served(serve.out.buf, serve.then));
            }
        }
        changed
    }
}

/// [`ShardAccess`] over the locks a serving command already holds, plus
/// shards taken with `try_lock` on demand.
pub struct HeldShards<'a, 'g> {
    keyspace: &'a Keyspace,
    db: usize,
    held: Held<'a, 'g>,
    extra: Vec<(usize, MutexGuard<'a, Shard>)>,
}

enum Held<'a, 'g> {
    One(usize, &'g mut Shard),
    Many(&'g mut MultiLock<'a>),
}

impl<'a, 'g> HeldShards<'a, 'g> {
    /// The caller holds the one shard of `key`.
    pub fn one(keyspace: &'a Keyspace, db: usize, key: &[u8], shard: &'g mut Shard) -> Self {
        Self {
            keyspace,
            db,
            held: Held::One(shard_of(key), shard),
            extra: Vec::new(),
        }
    }

    /// The caller holds several shards through a [`MultiLock`].
    pub fn many(keyspace: &'a Keyspace, db: usize, lock: &'g mut MultiLock<'a>) -> Self {
        Self {
            keyspace,
            db,
            held: Held::Many(lock),
            extra: Vec::new(),
        }
    }
}

impl ShardAccess for HeldShards<'_, '_> {
    fn shard(&mut self, key: &[u8]) -> Option<&mut Shard> {
        let idx = shard_of(key);
        let held = match &self.held {
            Held::One(i, _) => *i == idx,
            Held::Many(lock) => lock.holds(self.db, key),
        };
        if held {
            return Some(match &mut self.held {
                Held::One(_, shard) => &mut **shard,
                Held::Many(lock) => lock.shard(self.db, key),
            });
        }
        if let Some(pos) = self.extra.iter().position(|(i, _)| *i == idx) {
            return Some(&mut self.extra[pos].1);
        }
        let guard = self.keyspace.db(self.db).try_lock_shard(idx)?;
        self.extra.push((idx, guard));
        self.extra.last_mut().map(|(_, g)| &mut **g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_parse_like_redis() {
        assert_eq!(parse_timeout(b"0").unwrap(), None);
        assert_eq!(
            parse_timeout(b"0.5").unwrap(),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            parse_timeout(b"-1").unwrap_err(),
            CmdError::err("ERR timeout is negative")
        );
        assert_eq!(
            parse_timeout(b"0.0001").unwrap(),
            Some(Duration::from_millis(1))
        );
        assert_eq!(parse_timeout(b"-0.0001").unwrap(), None);
        assert_eq!(
            parse_timeout(b"inf").unwrap_err(),
            CmdError::err("ERR timeout is negative")
        );
        assert_eq!(
            parse_timeout(b"abc").unwrap_err(),
            CmdError::err("ERR timeout is not a float or out of range")
        );
    }
}
