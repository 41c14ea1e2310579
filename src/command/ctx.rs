//! Per-connection state and the context a command handler runs in.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::MutexGuard;

use super::Command;
use crate::keyspace::{Db, MultiLock, Shard};
use crate::protocol::reply::Reply;
use crate::server::blocking::{Block, BlockedOp, HeldShards, ShardAccess};
use crate::server::clients::ClientHandle;
use crate::server::propagate::ClientProp;
use crate::server::pubsub::{Inbox, Kind, Subscriber};
use crate::server::tracking::{self, ClientTracking};
use crate::server::Server;

/// Something the connection must do after the current command.
#[derive(Debug)]
pub enum Action {
    /// Wait until a blocked command is served, unblocked or times out.
    Block(Block),
    /// Write pending replies, then close (QUIT, protocol errors).
    Close,
    /// Pause this client before reading further (DEBUG SLEEP).
    Sleep(Duration),
    /// Shut the server down (SHUTDOWN).
    Shutdown,
    /// Turn the AOF on or off (`CONFIG SET appendonly`): needs the
    /// keyspace gate exclusively, so it runs after the command.
    SwitchAof(bool),
    /// The connection became a replica's link (SYNC/PSYNC): once the
    /// reply is written it only carries the replication stream.
    Replicate(Arc<crate::replication::primary::ReplicaLink>),
    /// WAIT: reply once enough replicas acknowledged, or at the timeout.
    WaitReplicas(crate::replication::primary::WaitAcks),
}

/// `CLIENT REPLY` mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyMode {
    /// Replies are sent.
    On,
    /// Replies are discarded.
    Off,
    /// The next command's reply is discarded.
    Skip,
    /// The current command's reply is being discarded.
    Skipping,
}

/// Counters a connection accumulates and folds into the server's totals
/// once per batch, so the hot path touches no shared cache line for them.
#[derive(Default, Debug, Clone, Copy)]
pub struct LocalStats {
    /// Commands executed.
    pub commands: u64,
    /// Key lookups that found a key.
    pub hits: u64,
    /// Key lookups that found nothing.
    pub misses: u64,
    /// Error replies sent.
    pub errors: u64,
    /// Keyspace modifications (`rdb_changes_since_last_save`).
    pub dirty: u64,
}

/// Commands queued between MULTI and EXEC.
#[derive(Default)]
pub struct MultiState {
    /// The queued commands, arguments copied.
    pub queued: Vec<Vec<Vec<u8>>>,
    /// A command was refused while queuing: EXEC must abort.
    pub failed: bool,
}

impl MultiState {
    /// Queues a command for EXEC.
    pub fn queue(&mut self, args: &[&[u8]]) {
        self.queued.push(args.iter().map(|a| a.to_vec()).collect());
    }
}

/// State owned by one connection task.
pub struct ClientState {
    /// Unique client id (`CLIENT ID`).
    pub id: u64,
    /// Selected database.
    pub db: usize,
    /// Whether AUTH succeeded (or no password is required).
    pub authenticated: bool,
    /// The ACL user; `None` is the `default` user.
    pub user: Option<Arc<crate::acl::User>>,
    /// `CLIENT REPLY` mode.
    pub reply_mode: ReplyMode,
    /// Pending connection-level action.
    pub action: Option<Action>,
    /// Local statistics, flushed per batch.
    pub stats: LocalStats,
    /// Information shared with other clients (`CLIENT LIST`, `KILL`).
    pub handle: Arc<ClientHandle>,
    /// Set between MULTI and EXEC/DISCARD.
    pub multi: Option<MultiState>,
    /// Running inside EXEC: blocking commands don't block and waiters on
    /// pushed keys are served once the transaction is done.
    pub in_exec: bool,
    /// Keys that received data during EXEC, served afterwards.
    pub ready_keys: Vec<(usize, Vec<u8>)>,
    /// WATCHed keys, with whether each was live when watched.
    pub watched: Vec<(usize, Vec<u8>, bool)>,
    /// Set when a watched key changes.
    pub watch_dirty: Arc<AtomicBool>,
    /// Pub/Sub state, once the client subscribed to something.
    pub subs: Subscriptions,
    /// Client-side caching state (CLIENT TRACKING).
    pub tracking: ClientTracking,
    /// What the running command propagates (AOF).
    pub prop: ClientProp,
    /// What the client declared with REPLCONF before syncing.
    pub repl_conf: crate::replication::primary::ReplConf,
}

/// A client's subscriptions.
#[derive(Default)]
pub struct Subscriptions {
    /// Its message queue, once created.
    pub subscriber: Option<Arc<Subscriber>>,
    /// The receiving end, drained by the connection.
    pub inbox: Option<Inbox>,
    /// Channels, patterns and shard channels, in subscription order.
    pub names: [Vec<Vec<u8>>; 3],
    /// In MONITOR mode.
    pub monitoring: bool,
}

impl Subscriptions {
    /// The client's message queue, created on first use.
    pub fn queue(&mut self, handle: &Arc<ClientHandle>, resp3: bool) -> Arc<Subscriber> {
        if let Some(s) = &self.subscriber {
            return s.clone();
        }
        let (sub, inbox) = Subscriber::new(handle.clone(), resp3);
        self.subscriber = Some(sub.clone());
        self.inbox = Some(inbox);
        let _ = handle.queue.set(Arc::downgrade(&sub));
        sub
    }

    /// Channels plus patterns (the count SUBSCRIBE and PSUBSCRIBE report).
    pub fn classic(&self) -> usize {
        self.names[0].len() + self.names[1].len()
    }

    /// Whether any subscription is active (RESP2 subscriber mode).
    pub fn active(&self) -> bool {
        self.names.iter().any(|n| !n.is_empty())
    }
}

impl ClientState {
    /// Fresh state for a new connection.
    pub fn new(handle: Arc<ClientHandle>, authenticated: bool) -> Self {
        Self {
            id: handle.id,
            db: 0,
            authenticated,
            user: None,
            reply_mode: ReplyMode::On,
            action: None,
            stats: LocalStats::default(),
            handle,
            multi: None,
            in_exec: false,
            ready_keys: Vec::new(),
            watched: Vec::new(),
            watch_dirty: Arc::new(AtomicBool::new(false)),
            subs: Subscriptions::default(),
            tracking: ClientTracking::default(),
            prop: ClientProp::default(),
            repl_conf: Default::default(),
        }
    }

    /// Drops every subscription (RESET, disconnect).
    pub fn unsubscribe_all(&mut self, server: &Server) {
        let kinds = [Kind::Channel, Kind::Pattern, Kind::Shard];
        for (kind, names) in kinds.iter().zip(self.subs.names.iter_mut()) {
            for name in names.drain(..) {
                server.pubsub.unsubscribe(*kind, &name, self.id);
            }
        }
        self.handle.info.lock().subscriptions = [0; 3];
        if self.subs.monitoring {
            server.monitors.remove(self.id);
            self.subs.monitoring = false;
        }
    }

    /// Forgets every WATCHed key (EXEC, DISCARD, UNWATCH, RESET, close).
    pub fn unwatch_all(&mut self, server: &Server) {
        let keys: Vec<(usize, Vec<u8>)> = self
            .watched
            .drain(..)
            .map(|(db, key, _)| (db, key))
            .collect();
        server.watches.unwatch(self.id, &keys);
        self.watch_dirty.store(false, Ordering::Release);
    }
}

/// What a handler sees: the server, its client, the reply buffer.
pub struct Ctx<'a> {
    /// The whole server.
    pub server: &'a Server,
    /// The calling client.
    pub client: &'a mut ClientState,
    /// Where replies go.
    pub out: &'a mut Reply,
    /// The command being run (its table entry).
    pub cmd: &'a Command,
    /// Time of the command's start in Unix ms (one value per command, as
    /// Redis caches it, so a command sees a consistent clock).
    pub now: u64,
}

impl<'a> Ctx<'a> {
    /// The selected database.
    pub fn db(&self) -> &'a Db {
        self.server.keyspace.db(self.client.db)
    }

    /// Locks the shard of `key` in the selected database.
    pub fn lock(&self, key: &[u8]) -> MutexGuard<'a, Shard> {
        let guard = self.db().lock(key);
        self.reserve_for_write();
        guard
    }

    /// Locks the shards of all keys of this command (from its key specs)
    /// in the selected database.
    pub fn lock_command_keys(&self, args: &[&[u8]]) -> MultiLock<'a> {
        let db = self.client.db;
        let locks = self
            .server
            .keyspace
            .lock_keys(self.cmd.keys(args).into_iter().map(|k| (db, k)));
        self.reserve_for_write();
        locks
    }

    /// While the propagation stream runs, a write command takes its place
    /// in it as soon as it holds its keys' locks: a later command on the
    /// same keys can only lock them after this one released them, so it
    /// is logged after, even when this one changes the key only after
    /// dropping the lock.
    /// For write commands locking shards without [`Ctx::lock`] or
    /// [`Ctx::lock_command_keys`] (cross-database MOVE): call right after
    /// locking, so the command takes its place in the propagation stream
    /// while it holds the locks.
    pub fn locked_for_write(&self) {
        self.reserve_for_write();
    }

    fn reserve_for_write(&self) {
        if self.cmd.has(super::flags::WRITE) {
            self.reserve_place();
        }
    }

    /// Takes this command's place in the propagation stream, once, while
    /// the stream runs.
    fn reserve_place(&self) {
        if self.server.propagation.enabled() && self.client.prop.seq().is_none() {
            self.client.prop.reserve(&self.server.propagation);
        }
    }

    /// Records that this command modified `key` in the selected database;
    /// `event` is the keyspace-notification name of the change (`set`,
    /// `del`, `lpush`, `hset`, `expire`, …). Every write path calls this
    /// once per modified key, like Redis's `signalModifiedKey` +
    /// `notifyKeyspaceEvent`: it counts the change for persistence, and is
    /// where WATCH invalidation and keyspace notifications hook in.
    pub fn modified(&mut self, key: &[u8], event: &'static str) {
        self.modified_in(self.client.db, key, event);
    }

    /// [`Ctx::modified`] for a key of database `db` (MOVE, COPY … DB).
    pub fn modified_in(&mut self, db: usize, key: &[u8], event: &'static str) {
        self.changed();
        if self.propagating() && crate::keyspace::events::pending() {
            self.propagate_expired(db);
        }
        self.server.watches.touch(db, key);
        if self.server.blocking.count() > 0 {
            // Clients blocked on the key re-check it after the command:
            // XREADGROUP fails when its stream was deleted or replaced.
            self.client.ready_keys.push((db, key.to_vec()));
        }
        crate::server::notify::modified(self.server, db, key, event);
        if self.server.tracking.clients() > 0 {
            tracking::touched(self.server, self.client, key);
        }
        tracing::trace!(db, event, key = %String::from_utf8_lossy(key), "modified");
    }

    /// Keys this command found expired (and removed) propagate as DELs
    /// ahead of its own change, as Redis does; the recorded events then go
    /// on to the notifications.
    pub fn propagate_expired(&mut self, db: usize) {
        use crate::keyspace::events::{self, KeyEvent};
        let taken = events::take();
        for (event, key) in &taken {
            if *event == KeyEvent::Expired {
                let del = vec![b"DEL".to_vec(), key.to_vec()];
                self.client.prop.items.push((db, del));
            }
        }
        crate::server::notify::flush_events(self.server, db, taken);
    }

    /// Counts a change to the keyspace for persistence. While the
    /// propagation stream runs, the command's first change reserves its
    /// place in the stream, while the command still holds the locks of
    /// what it changed, so commands on one key are logged in the order
    /// they were applied. FLUSHALL-like commands that change no single key
    /// call this directly.
    pub fn changed(&mut self) {
        self.client.stats.dirty += 1;
        self.reserve_place();
    }

    /// Propagates this command even when it changed nothing (FLUSHALL and
    /// FLUSHDB on empty databases still reach the AOF, as in Redis).
    pub fn force_propagate(&mut self) {
        if self.server.propagation.enabled() {
            self.client.prop.force = true;
            self.reserve_place();
        }
    }

    /// Propagates `commands` (zero or more, each an argv) instead of this
    /// command's own arguments, when it changed the keyspace: the forms
    /// that replay the change deterministically (EXPIRE as PEXPIREAT, SET
    /// EX as SET PXAT, SPOP as SREM …). EXEC passes nothing: the commands
    /// it ran propagate themselves.
    pub fn propagate_as(&mut self, commands: Vec<Vec<Vec<u8>>>) {
        if self.propagating() {
            self.client.prop.custom = Some(commands);
        }
    }

    /// [`Ctx::propagate_as`] with one command given by its parts; builds
    /// nothing unless the stream runs.
    pub fn propagate_one(&mut self, parts: &[&[u8]]) {
        if self.propagating() {
            self.propagate_as(vec![crate::server::propagate::argv(parts)]);
        }
    }

    /// Propagates `commands` after what this command propagates itself
    /// (the pops of the blocked clients its push served).
    pub fn propagate_after(&mut self, commands: Vec<Vec<Vec<u8>>>) {
        if self.propagating() {
            let db = self.client.db;
            let after = commands.into_iter().map(|c| (db, c));
            self.client.prop.after.extend(after);
        }
    }

    /// Whether this command's changes are being propagated: handlers build
    /// their [`Ctx::propagate_as`] rewrites only then.
    pub fn propagating(&self) -> bool {
        self.client.prop.seq().is_some()
    }

    /// Blocks this client on `keys` until [`Ctx::serve_blocked`] serves it
    /// with `op`, or `timeout` passes (`None` = forever). Call while holding
    /// the keys' shard locks, after finding nothing to serve; write no reply.
    pub fn block(&mut self, keys: Vec<Vec<u8>>, timeout: Option<Duration>, op: Box<dyn BlockedOp>) {
        if self.client.in_exec {
            // Inside a transaction a blocking command returns at once.
            op.nonblocking_reply(self.out);
            return;
        }
        let block = self.server.blocking.block(
            self.client.id,
            self.client.db,
            keys,
            self.out.resp3,
            timeout,
            op,
        );
        self.client.action = Some(Action::Block(block));
    }

    /// Serves clients blocked on `key` after this command added data to
    /// it; call while still holding the key's shard lock(s) via `shards`.
    pub fn serve_blocked(&mut self, key: &[u8], shards: &mut dyn ShardAccess) {
        if self.client.in_exec {
            if self.server.blocking.count() > 0 {
                self.client.ready_keys.push((self.client.db, key.to_vec()));
            }
            return;
        }
        let served = self
            .server
            .blocking
            .serve(self.client.db, key, self.now, shards);
        for (key, event) in served.keys {
            self.modified(&key, event);
        }
        self.propagate_after(served.commands);
    }

    /// Serves clients blocked on `key` when the command holds just that
    /// key's shard.
    pub fn serve_blocked_one(&mut self, key: &[u8], shard: &mut Shard) {
        if self.server.blocking.count() == 0 {
            return;
        }
        let keyspace = &self.server.keyspace;
        let mut held = HeldShards::one(keyspace, self.client.db, key, shard);
        self.serve_blocked(key, &mut held);
    }

    /// Counts a read lookup of `key` for `INFO stats` and, when it found
    /// nothing, publishes the `keymiss` notification (Redis's
    /// `lookupKeyRead`).
    pub fn read_lookup(&mut self, key: &[u8], hit: bool) {
        self.count_lookup(hit);
        if self.propagating() && crate::keyspace::events::pending() {
            self.propagate_expired(self.client.db);
        }
        if !hit {
            crate::server::notify::keymiss(self.server, self.client.db, key);
        }
    }

    /// Counts a keyspace lookup for `INFO stats`, without notifying a miss
    /// (introspection such as OBJECT).
    pub fn count_lookup(&mut self, hit: bool) {
        if hit {
            self.client.stats.hits += 1;
        } else {
            self.client.stats.misses += 1;
        }
    }

    /// The `proto-max-bulk-len` limit for string values.
    pub fn max_bulk(&self) -> u64 {
        self.server.config.read().proto_max_bulk_len
    }
}
