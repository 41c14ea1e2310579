//! Replication state shared by the primary and replica sides: the role,
//! the two replication ids, the stream offset, the backlog and the
//! attached replicas.
//!
//! The replication stream is the propagation stream re-encoded with its
//! own SELECTs ([`crate::server::propagate`] calls [`Replication::feed`]
//! in stream order); it only runs once a replica attached, so a server
//! without replicas pays nothing.

pub mod backlog;
pub mod primary;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Mutex, MutexGuard};

use backlog::Backlog;
use primary::ReplicaLink;

/// Everything the replication commands and INFO read and change together.
pub struct State {
    /// `master_replid`: the history this server's data belongs to.
    pub replid: String,
    /// `master_replid2`: the previous history (after a promotion), all
    /// zeros when none.
    pub replid2: String,
    /// `master_repl_offset`: bytes of replication stream produced.
    pub offset: u64,
    /// `second_repl_offset`: up to where `replid2` is valid (-1: none).
    pub second_offset: i64,
    /// Created when the first replica attaches.
    pub backlog: Option<Backlog>,
    /// Replicas fed by the stream (full sync in progress or online).
    pub replicas: Vec<Arc<ReplicaLink>>,
    /// When the last replica left (for `repl-backlog-ttl`).
    pub idle_since: Option<Instant>,
}

/// The shared replication state.
pub struct Replication {
    state: Mutex<State>,
    /// `sync_full`: full resynchronisations served.
    pub sync_full: AtomicU64,
    /// `sync_partial_ok`: partial resynchronisations accepted.
    pub sync_partial_ok: AtomicU64,
    /// `sync_partial_err`: partial resynchronisations refused.
    pub sync_partial_err: AtomicU64,
    /// The replication cron runs (from the first replica until the
    /// backlog is freed).
    pub(crate) cron: AtomicBool,
}

impl Default for Replication {
    fn default() -> Self {
        Self {
            state: Mutex::new(State {
                replid: new_replid(),
                replid2: "0".repeat(40),
                offset: 0,
                second_offset: -1,
                backlog: None,
                replicas: Vec::new(),
                idle_since: None,
            }),
            sync_full: AtomicU64::new(0),
            sync_partial_ok: AtomicU64::new(0),
            sync_partial_err: AtomicU64::new(0),
            cron: AtomicBool::new(false),
        }
    }
}

/// A random 40-hex-digit replication id.
pub fn new_replid() -> String {
    let mut id = String::with_capacity(48);
    while id.len() < 40 {
        let _ = write!(id, "{:016x}", crate::util::rand::random_u64());
    }
    id.truncate(40);
    id
}

impl Replication {
    /// Locks the state. Lock order: the propagation stream, then this.
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    /// Appends replication stream bytes: counted in the offset, kept in
    /// the backlog, queued for every replica.
    pub fn feed(&self, bytes: &[u8]) {
        let mut st = self.state.lock();
        st.offset += bytes.len() as u64;
        if let Some(backlog) = &mut st.backlog {
            backlog.push(bytes);
        }
        for replica in &st.replicas {
            replica.push(bytes);
        }
    }

    /// The counter for INFO stats.
    pub fn stat(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}
