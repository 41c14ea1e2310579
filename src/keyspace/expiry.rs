//! Expiry on a replica: its primary's DELs remove expired keys, so the
//! replica never deletes a key because of its TTL, it only hides logically
//! expired keys from its own clients; commands from the primary see every
//! key as it is (the primary decided they are still alive).

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether this process is a replica (set when REPLICAOF changes the role).
static REPLICA: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// Set while this thread runs a command received from the primary.
    static FROM_PRIMARY: Cell<bool> = const { Cell::new(false) };
}

/// How a shard treats a key whose TTL passed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// Delete it (a primary's lazy and active expiry).
    Delete,
    /// Leave it in place but report it absent (a replica's own clients).
    Hide,
    /// Leave it in place and report it present (the replication stream).
    Keep,
}

/// Switches replica expiry on or off for the whole process.
pub fn set_replica(on: bool) {
    REPLICA.store(on, Ordering::Relaxed);
}

/// Whether replica expiry is on (the active-expiry cron then stays idle).
pub fn is_replica() -> bool {
    REPLICA.load(Ordering::Relaxed)
}

/// Runs `f` as a command from the primary: expired keys stay visible.
pub fn from_primary<R>(f: impl FnOnce() -> R) -> R {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            FROM_PRIMARY.with(|p| p.set(false));
        }
    }
    FROM_PRIMARY.with(|p| p.set(true));
    let _reset = Reset;
    f()
}

/// Whether the running command came from the primary.
pub fn running_from_primary() -> bool {
    FROM_PRIMARY.with(Cell::get)
}

/// The mode for the command running on this thread.
pub(super) fn mode() -> Mode {
    if !is_replica() {
        Mode::Delete
    } else if running_from_primary() {
        Mode::Keep
    } else {
        Mode::Hide
    }
}
