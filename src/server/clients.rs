//! The registry of connected clients, shared by `CLIENT LIST/KILL/INFO`
//! and `INFO clients`.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Instant;

use dashmap::DashMap;
use parking_lot::Mutex;
use tokio::sync::Notify;

use super::pubsub::Subscriber;

/// Fields of a client that change while it runs, updated once per batch.
#[derive(Default, Clone)]
pub struct ClientInfo {
    /// `CLIENT SETNAME`.
    pub name: Option<Vec<u8>>,
    /// `CLIENT SETINFO LIB-NAME`.
    pub lib_name: Option<Vec<u8>>,
    /// `CLIENT SETINFO LIB-VER`.
    pub lib_ver: Option<Vec<u8>>,
    /// Selected database.
    pub db: usize,
    /// Protocol version (2 or 3).
    pub resp: u8,
    /// Name of the last command run.
    pub last_cmd: String,
    /// When the last command arrived.
    pub last_interaction: Option<Instant>,
    /// Bytes buffered in the query buffer.
    pub qbuf: usize,
    /// The ACL user name; `None` is `default`.
    pub user: Option<Vec<u8>>,
    /// `CLIENT NO-EVICT on`.
    pub no_evict: bool,
    /// Channel, pattern and shard-channel subscription counts.
    pub subscriptions: [usize; 3],
    /// CLIENT TRACKING state.
    pub tracking: TrackingFlags,
    /// The connection is a replica's link (flag `S`).
    pub replica: bool,
}

/// What `CLIENT LIST` shows of CLIENT TRACKING.
#[derive(Default, Clone, Copy)]
pub struct TrackingFlags {
    /// Tracking is on (flag `t`).
    pub on: bool,
    /// BCAST mode (flag `B`).
    pub bcast: bool,
    /// The redirect client vanished (flag `R`).
    pub broken: bool,
    /// Redirect client id (0 = none).
    pub redirect: u64,
}

/// Output other clients queued for this one (published messages, MONITOR
/// lines) that its connection has not written to the socket yet.
///
/// Kept on the handle rather than in [`ClientInfo`] because it grows while
/// the owning connection is stalled (a subscriber that stops reading), which
/// is exactly when `CLIENT LIST` and `INFO clients` must show it.
#[derive(Default)]
pub struct OutputQueue {
    bytes: AtomicUsize,
    items: AtomicUsize,
}

impl OutputQueue {
    /// Accounts for one queued item of `n` bytes; returns the bytes now queued.
    pub fn push(&self, n: usize) -> usize {
        self.items.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(n, Ordering::Relaxed) + n
    }

    /// Accounts for `items` items totalling `n` bytes leaving the queue
    /// (written, or never delivered); returns the bytes still queued.
    pub fn pop(&self, n: usize, items: usize) -> usize {
        self.items.fetch_sub(items, Ordering::Relaxed);
        self.bytes.fetch_sub(n, Ordering::Relaxed) - n
    }

    /// Bytes queued (`omem`).
    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Items queued (`oll`: one per message, where Redis counts 16 KB blocks).
    pub fn items(&self) -> usize {
        self.items.load(Ordering::Relaxed)
    }
}

/// A connected client as other clients see it.
pub struct ClientHandle {
    /// Unique id.
    pub id: u64,
    /// Peer address `ip:port`.
    pub addr: String,
    /// Local address `ip:port`.
    pub laddr: String,
    /// Socket file descriptor.
    pub fd: i32,
    /// Connection time.
    pub created: Instant,
    /// Mutable details.
    pub info: Mutex<ClientInfo>,
    /// The client's message queue once it has one (redirected tracking
    /// invalidations reach it there).
    pub queue: OnceLock<Weak<Subscriber>>,
    /// Pub/sub and MONITOR output not yet written.
    pub output: OutputQueue,
    killed: AtomicBool,
    kill_signal: Notify,
}

impl ClientHandle {
    /// Asks the client's connection task to close.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::Release);
        self.kill_signal.notify_waiters();
    }

    /// Whether the client was asked to close.
    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }

    /// Resolves when [`ClientHandle::kill`] is called.
    /// Several of these may wait at once (reading, writing, blocked).
    pub async fn killed(&self) {
        let notified = self.kill_signal.notified();
        tokio::pin!(notified);
        // Registered before the flag is checked: a kill in between is seen.
        notified.as_mut().enable();
        if self.is_killed() {
            return;
        }
        notified.await;
    }

    /// One line of `CLIENT LIST` / `CLIENT INFO`, without the newline.
    pub fn describe(&self) -> String {
        let info = self.info.lock();
        let now = Instant::now();
        let age = now.duration_since(self.created).as_secs();
        let idle = info
            .last_interaction
            .map(|t| now.duration_since(t).as_secs())
            .unwrap_or(age);
        let text = |v: &Option<Vec<u8>>| {
            v.as_deref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default()
        };
        let mut flags = String::new();
        if crate::replication::replica::is_primary_client(self.id) {
            flags.push('M');
        }
        if info.replica {
            flags.push('S');
        }
        if info.subscriptions.iter().any(|&n| n > 0) {
            flags.push('P');
        }
        let tracking = info.tracking;
        for (set, c) in [
            (tracking.on, 't'),
            (tracking.broken, 'R'),
            (tracking.bcast, 'B'),
        ] {
            if set {
                flags.push(c);
            }
        }
        if info.no_evict {
            flags.push('e');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        let redir = if tracking.on {
            tracking.redirect as i64
        } else {
            -1
        };
        let omem = self.output.bytes();
        // Like Redis, a client with output waiting is also polled for writes.
        let events = if omem > 0 { "rw" } else { "r" };
        let cmd = if info.last_cmd.is_empty() {
            "NULL"
        } else {
            &info.last_cmd
        };
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi=-1 qbuf={} qbuf-free={} argv-mem=0 multi-mem=0 rbs={} rbp={} obl=0 oll={} omem={} tot-mem={} events={} cmd={} user={} redir={} resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            text(&info.name),
            age,
            idle,
            flags,
            info.db,
            info.subscriptions[0],
            info.subscriptions[1],
            info.subscriptions[2],
            info.qbuf,
            0,
            16384,
            info.qbuf,
            self.output.items(),
            omem,
            info.qbuf + omem + 16384,
            events,
            cmd,
            info.user
                .as_deref()
                .map_or("default".into(), String::from_utf8_lossy),
            redir,
            info.resp,
            text(&info.lib_name),
            text(&info.lib_ver),
        )
    }
}

/// All connected clients.
#[derive(Default)]
pub struct Clients {
    map: DashMap<u64, Arc<ClientHandle>>,
    next_id: AtomicU64,
}

impl Clients {
    /// Registers a new connection and returns its handle.
    pub fn register(&self, addr: String, laddr: String, fd: i32) -> Arc<ClientHandle> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let handle = Arc::new(ClientHandle {
            id,
            addr,
            laddr,
            fd,
            created: Instant::now(),
            info: Mutex::new(ClientInfo {
                resp: 2,
                ..ClientInfo::default()
            }),
            queue: OnceLock::new(),
            output: OutputQueue::default(),
            killed: AtomicBool::new(false),
            kill_signal: Notify::new(),
        });
        self.map.insert(id, handle.clone());
        handle
    }

    /// Removes a closed connection.
    pub fn unregister(&self, id: u64) {
        self.map.remove(&id);
    }

    /// Number of connected clients.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no client is connected.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// A snapshot of all handles, ordered by id.
    pub fn all(&self) -> Vec<Arc<ClientHandle>> {
        let mut v: Vec<_> = self.map.iter().map(|e| e.value().clone()).collect();
        v.sort_by_key(|c| c.id);
        v
    }

    /// The handle of client `id`.
    pub fn get(&self, id: u64) -> Option<Arc<ClientHandle>> {
        self.map.get(&id).map(|e| e.value().clone())
    }
}
