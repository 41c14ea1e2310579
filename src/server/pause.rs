//! `CLIENT PAUSE`: holds back client commands until a deadline or
//! `CLIENT UNPAUSE`, the way Redis 7.0 postpones them.
//!
//! The state is a pause kind plus an end time (Unix ms); connections check
//! it before running each command and wait on a [`Notify`] (never holding
//! a lock) until the pause ends. Like Redis, a new pause never shortens
//! the current one nor weakens its kind: `WRITE` for 10 s then `ALL` for
//! 1 s gives `ALL` for 10 s.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::command::{flags, Command};
use crate::util::time::now_ms;

/// What a pause holds back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PauseKind {
    /// Commands that write or may replicate (EVAL, PUBLISH, PFCOUNT, …).
    Write,
    /// Every command.
    All,
}

/// The server-wide pause state.
#[derive(Default)]
pub struct ClientPause {
    /// Fast path: false whenever no pause is set.
    active: AtomicBool,
    /// Kind and end (Unix ms) of the current pause.
    state: Mutex<Option<(PauseKind, u64)>>,
    /// Woken on `CLIENT UNPAUSE` (and when a pause is replaced).
    changed: Notify,
}

/// Commands Redis 7.0 flags `may-replicate`: not writes, yet held back by
/// `CLIENT PAUSE WRITE` because they can cause replication traffic.
const MAY_REPLICATE: &[&str] = &["eval", "evalsha", "fcall", "publish", "spublish", "pfcount"];

/// Whether `CLIENT PAUSE WRITE` holds `cmd` back.
pub fn is_may_replicate(cmd: &Command) -> bool {
    cmd.has(flags::WRITE) || MAY_REPLICATE.contains(&cmd.name.as_str())
}

impl ClientPause {
    /// Starts or extends a pause ending at `end_ms` (Unix ms).
    pub fn pause(&self, kind: PauseKind, end_ms: u64) {
        let mut state = self.state.lock();
        let (old_kind, old_end) = state.unwrap_or((kind, 0));
        *state = Some((kind.max(old_kind), end_ms.max(old_end)));
        self.active.store(true, Ordering::Release);
        drop(state);
        self.changed.notify_waiters();
    }

    /// Ends any pause and releases the waiting clients.
    pub fn unpause(&self) {
        *self.state.lock() = None;
        self.active.store(false, Ordering::Release);
        self.changed.notify_waiters();
    }

    /// Whether any pause may be in force (cheap; check before resolving).
    pub fn maybe_active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    /// How long a command must still wait: `writes` says whether it (or,
    /// for EXEC, its transaction) writes or may replicate. None = run now.
    fn remaining(&self, writes: bool) -> Option<Duration> {
        let mut state = self.state.lock();
        let (kind, end) = (*state)?;
        let now = now_ms();
        if end <= now {
            *state = None;
            self.active.store(false, Ordering::Release);
            return None;
        }
        (kind == PauseKind::All || writes).then(|| Duration::from_millis(end - now))
    }

    /// Waits until a command of that sort may run.
    pub async fn wait(&self, writes: bool) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            // Registered before the check, so an UNPAUSE in between wakes us.
            changed.as_mut().enable();
            let Some(left) = self.remaining(writes) else {
                return;
            };
            tokio::select! {
                _ = changed => {}
                _ = tokio::time::sleep(left) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_only_extend_and_strengthen() {
        let p = ClientPause::default();
        assert!(p.remaining(true).is_none());
        let now = now_ms();
        p.pause(PauseKind::Write, now + 10_000);
        assert!(p.remaining(false).is_none());
        assert!(p.remaining(true).is_some());
        p.pause(PauseKind::All, now + 1);
        let left = p.remaining(false).expect("ALL pause, end kept");
        assert!(left > Duration::from_secs(5));
        p.unpause();
        assert!(!p.maybe_active());
        assert!(p.remaining(true).is_none());
    }

    #[test]
    fn an_expired_pause_clears_itself() {
        let p = ClientPause::default();
        p.pause(PauseKind::All, 0);
        assert!(p.maybe_active());
        assert!(p.remaining(false).is_none());
        assert!(!p.maybe_active());
    }
}
