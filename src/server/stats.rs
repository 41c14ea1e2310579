//! Server-wide counters for `INFO stats`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::command::ClientState;

/// Totals since start (or the last `CONFIG RESETSTAT`).
#[derive(Default)]
pub struct Stats {
    /// Connections accepted.
    pub connections_received: AtomicU64,
    /// Connections refused (maxclients).
    pub rejected_connections: AtomicU64,
    /// Commands executed.
    pub commands_processed: AtomicU64,
    /// Lookups that found a key.
    pub keyspace_hits: AtomicU64,
    /// Lookups that found nothing.
    pub keyspace_misses: AtomicU64,
    /// Error replies.
    pub error_replies: AtomicU64,
    /// Keyspace changes since the last save (`rdb_changes_since_last_save`).
    pub dirty: AtomicU64,
    /// Bytes read from clients.
    pub net_input_bytes: AtomicU64,
    /// Bytes written to clients.
    pub net_output_bytes: AtomicU64,
    /// Instantaneous operations per second, sampled by the cron task.
    pub ops_per_sec: AtomicU64,
    /// Instantaneous client input in bytes per second, sampled likewise.
    pub input_bytes_per_sec: AtomicU64,
    /// Instantaneous client output in bytes per second, sampled likewise.
    pub output_bytes_per_sec: AtomicU64,
    /// Keys evicted for `maxmemory` (`evicted_keys`).
    pub evicted_keys: AtomicU64,
    /// Highest `used_memory` observed by `INFO memory`.
    pub used_memory_peak: AtomicU64,
    /// The keyspace's expired-key total at the last `CONFIG RESETSTAT`.
    pub expired_keys_base: AtomicU64,
    /// Error replies by error code (`INFO errorstats`).
    error_codes: Mutex<BTreeMap<String, u64>>,
}

/// Redis stops tracking new error codes past this many distinct ones.
const MAX_ERROR_CODES: usize = 128;

impl Stats {
    /// Folds a connection's local counters into the totals and clears them.
    pub fn absorb(&self, client: &mut ClientState) {
        let s = std::mem::take(&mut client.stats);
        let add = |c: &AtomicU64, v: u64| {
            if v != 0 {
                c.fetch_add(v, Ordering::Relaxed);
            }
        };
        add(&self.commands_processed, s.commands);
        add(&self.keyspace_hits, s.hits);
        add(&self.keyspace_misses, s.misses);
        add(&self.error_replies, s.errors);
        add(&self.dirty, s.dirty);
    }

    /// Counts an error reply under its code (the first word of `msg`).
    pub fn count_error(&self, msg: &[u8]) {
        let word = msg.split(|&b| b == b' ').next().unwrap_or(b"ERR");
        let code = String::from_utf8_lossy(word);
        let mut codes = self.error_codes.lock();
        if let Some(n) = codes.get_mut(code.as_ref()) {
            *n += 1;
        } else if codes.len() < MAX_ERROR_CODES {
            codes.insert(code.into_owned(), 1);
        }
    }

    /// Error reply counts by code, sorted by code.
    pub fn error_codes(&self) -> Vec<(String, u64)> {
        self.error_codes
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    /// Zeroes the counters (`CONFIG RESETSTAT`); `expired_keys` is the
    /// keyspace's running total, which becomes the new zero.
    pub fn reset(&self, expired_keys: u64) {
        self.expired_keys_base
            .store(expired_keys, Ordering::Relaxed);
        for c in [
            &self.connections_received,
            &self.rejected_connections,
            &self.commands_processed,
            &self.keyspace_hits,
            &self.keyspace_misses,
            &self.error_replies,
            &self.net_input_bytes,
            &self.net_output_bytes,
            &self.evicted_keys,
        ] {
            c.store(0, Ordering::Relaxed);
        }
        self.error_codes.lock().clear();
    }

    /// Keys expired since start or the last reset, from the keyspace's
    /// running total.
    pub fn expired_keys(&self, total: u64) -> u64 {
        total.saturating_sub(Self::get(&self.expired_keys_base))
    }

    /// Reads a counter.
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}
