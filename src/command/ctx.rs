//! Per-connection state and the context a command handler runs in.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::MutexGuard;

use super::Command;
use crate::keyspace::{Db, MultiLock, Shard};
use crate::protocol::reply::Reply;
use crate::server::clients::ClientHandle;
use crate::server::Server;

/// Something the connection must do after the current command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write pending replies, then close (QUIT, protocol errors).
    Close,
    /// Pause this client before reading further (DEBUG SLEEP).
    Sleep(Duration),
    /// Shut the server down (SHUTDOWN).
    Shutdown,
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
}

/// State owned by one connection task.
pub struct ClientState {
    /// Unique client id (`CLIENT ID`).
    pub id: u64,
    /// Selected database.
    pub db: usize,
    /// Whether AUTH succeeded (or no password is required).
    pub authenticated: bool,
    /// `CLIENT REPLY` mode.
    pub reply_mode: ReplyMode,
    /// Pending connection-level action.
    pub action: Option<Action>,
    /// Local statistics, flushed per batch.
    pub stats: LocalStats,
    /// Information shared with other clients (`CLIENT LIST`, `KILL`).
    pub handle: Arc<ClientHandle>,
}

impl ClientState {
    /// Fresh state for a new connection.
    pub fn new(handle: Arc<ClientHandle>, authenticated: bool) -> Self {
        Self {
            id: handle.id,
            db: 0,
            authenticated,
            reply_mode: ReplyMode::On,
            action: None,
            stats: LocalStats::default(),
            handle,
        }
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
        self.db().lock(key)
    }

    /// Locks the shards of all keys of this command (from its key specs)
    /// in the selected database.
    pub fn lock_command_keys(&self, args: &[&[u8]]) -> MultiLock<'a> {
        let db = self.client.db;
        self.server
            .keyspace
            .lock_keys(self.cmd.keys(args).into_iter().map(|k| (db, k)))
    }

    /// Counts a keyspace lookup for `INFO stats`.
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
