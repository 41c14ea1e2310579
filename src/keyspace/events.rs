//! Key events that happen inside a [`Shard`](super::Shard), recorded for
//! keyspace notifications.
//!
//! A shard does not know its database nor the server, so when it expires a
//! key or creates one it only appends the key to a per-thread list, and
//! only while the server asked for that kind of event ([`set_recording`]).
//! Commands run synchronously on one thread, and the active-expiry cron
//! steps a shard synchronously too, so whoever locked the shard drains the
//! list on the same thread right after (it knows the database) and turns
//! the entries into notifications, in the order they happened.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU8, Ordering};

/// What happened to a recorded key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyEvent {
    /// Removed because its TTL passed (lazily or by active expiry).
    Expired,
    /// Added to the keyspace where it did not exist (Redis's `dbAdd`).
    Created,
}

const EXPIRED: u8 = 1;
const CREATED: u8 = 2;
/// Expired keys are also recorded while clients track keys (CLIENT
/// TRACKING invalidates them), whatever the notification settings.
const TRACKING: u8 = 4;
/// Expired keys are also recorded while the propagation stream runs (the
/// active-expiry cron propagates a DEL for each).
const PROPAGATING: u8 = 8;

/// Which kinds of events shards record, for the whole process.
static RECORDING: AtomicU8 = AtomicU8::new(0);

thread_local! {
    static PENDING: RefCell<Vec<(KeyEvent, Box<[u8]>)>> = const { RefCell::new(Vec::new()) };
    static ANY: Cell<bool> = const { Cell::new(false) };
}

/// Turns recording of expired and created keys on or off (keyspace
/// notifications).
pub fn set_recording(expired: bool, created: bool) {
    let bits = if expired { EXPIRED } else { 0 } | if created { CREATED } else { 0 };
    let _ = RECORDING.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
        Some(old & (TRACKING | PROPAGATING) | bits)
    });
}

/// Records expired keys while some client tracks keys.
pub fn set_tracking(on: bool) {
    if on {
        RECORDING.fetch_or(TRACKING, Ordering::Relaxed);
    } else {
        RECORDING.fetch_and(!TRACKING, Ordering::Relaxed);
    }
}

/// Records expired keys while the propagation stream runs.
pub fn set_propagating(on: bool) {
    if on {
        RECORDING.fetch_or(PROPAGATING, Ordering::Relaxed);
    } else {
        RECORDING.fetch_and(!PROPAGATING, Ordering::Relaxed);
    }
}

fn record(bits: u8, event: KeyEvent, key: &[u8]) {
    if RECORDING.load(Ordering::Relaxed) & bits != 0 {
        push(event, key);
    }
}

fn push(event: KeyEvent, key: &[u8]) {
    PENDING.with(|p| p.borrow_mut().push((event, key.into())));
    ANY.with(|a| a.set(true));
}

/// A shard expired `key`.
pub(crate) fn expired(key: &[u8]) {
    record(EXPIRED | TRACKING | PROPAGATING, KeyEvent::Expired, key);
}

/// A shard added `key`, which did not exist.
pub(crate) fn created(key: &[u8]) {
    record(CREATED, KeyEvent::Created, key);
}

/// Whether this thread has recorded events not yet taken.
pub fn pending() -> bool {
    ANY.with(Cell::get)
}

/// Takes this thread's recorded events, oldest first.
pub fn take() -> Vec<(KeyEvent, Box<[u8]>)> {
    if !pending() {
        return Vec::new();
    }
    ANY.with(|a| a.set(false));
    PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_events_in_order() {
        push(KeyEvent::Expired, b"a");
        push(KeyEvent::Created, b"b");
        assert!(pending());
        let got = take();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], (KeyEvent::Expired, b"a".to_vec().into()));
        assert_eq!(got[1], (KeyEvent::Created, b"b".to_vec().into()));
        assert!(!pending());
        assert!(take().is_empty());
    }
}
