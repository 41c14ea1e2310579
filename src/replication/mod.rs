//! Replication state shared by the primary and replica sides: the two
//! replication ids, the stream offset, the backlog, the attached replicas
//! and, when we are a replica, the link to our primary.
//!
//! The replication stream is the propagation stream re-encoded with its
//! own SELECTs ([`crate::server::propagate`] calls [`Replication::feed`]
//! in stream order); it only runs once a replica attached, so a server
//! without replicas pays nothing.

pub mod backlog;
pub mod primary;
pub mod replica;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
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
    /// Set while we are a replica: the link to our primary.
    pub primary: Option<replica::Link>,
}

impl State {
    /// What a replica asking `PSYNC replid offset` is missing, when a
    /// partial resynchronisation can serve it: the id names this history
    /// (or the previous one, up to where it was valid) and the backlog
    /// still holds the offset.
    pub fn continuation(&self, replid: &[u8], offset: &[u8]) -> Option<Vec<u8>> {
        let offset = crate::util::num::parse_i64(offset).filter(|&o| o >= 0)?;
        let id = String::from_utf8_lossy(replid);
        let history_ok = id.eq_ignore_ascii_case(&self.replid)
            || (id.eq_ignore_ascii_case(&self.replid2) && offset <= self.second_offset);
        if !history_ok {
            return None;
        }
        self.backlog.as_ref()?.since(offset as u64)
    }

    /// Starts a new history that continues the current one (a replica
    /// promoted to primary): the old id stays valid up to the current
    /// offset, so its former siblings resume with a partial resync.
    pub fn shift_replid(&mut self) {
        self.replid2 = std::mem::replace(&mut self.replid, new_replid());
        self.second_offset = self.offset as i64 + 1;
    }
}

/// The shared replication state.
pub struct Replication {
    /// Guarded as one unit: promotion changes ids and offsets together.
    pub state: Mutex<State>,
    /// The server itself, for the link task REPLICAOF spawns from a
    /// handler (which only borrows it); set once it is shared.
    server: OnceLock<Weak<crate::server::Server>>,
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
                primary: None,
            }),
            server: OnceLock::new(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_follows_both_histories() {
        let repl = Replication::default();
        let mut st = repl.state();
        st.backlog = Some(Backlog::new(64, 1));
        drop(st);
        repl.feed(b"*1\r\n$4\r\nPING\r\n");
        let mut st = repl.state();
        let old = st.replid.clone();
        assert_eq!(st.continuation(old.as_bytes(), b"15"), Some(vec![]));
        assert_eq!(
            st.continuation(old.as_bytes(), b"5"),
            Some(b"$4\r\nPING\r\n".to_vec())
        );
        assert_eq!(st.continuation(old.as_bytes(), b"16"), None);
        assert_eq!(st.continuation(b"?", b"1"), None);
        assert_eq!(st.continuation(old.as_bytes(), b"x"), None);
        st.shift_replid();
        assert_eq!(st.replid2, old);
        assert_eq!(st.second_offset, 15);
        drop(st);
        repl.feed(b"+x");
        let st = repl.state();
        // The old id is good up to where the new history started.
        assert_eq!(st.continuation(old.as_bytes(), b"15"), Some(b"+x".to_vec()));
        assert_eq!(st.continuation(old.as_bytes(), b"16"), None);
        let new = st.replid.clone();
        assert_eq!(st.continuation(new.as_bytes(), b"15"), Some(b"+x".to_vec()));
        assert_eq!(st.continuation(new.as_bytes(), b"17"), Some(vec![]));
    }
}
