//! The sharded keyspace and its locking contract.
//!
//! Each database is split into [`SHARDS`] shards chosen by the key's cluster
//! hash slot. A single-key command locks one shard; a multi-key command
//! locks all its shards in ascending `(db, shard)` order through
//! [`Keyspace::lock_keys`], so two commands can never deadlock; commands that
//! must see or change everything at once (FLUSHALL, SWAPDB, MULTI/EXEC, …)
//! take the [`Keyspace::gate`] exclusively, while ordinary commands hold it
//! shared.

pub mod access;
pub mod dict;
pub mod events;
pub mod expiry;
pub mod shard;
pub mod value;

use parking_lot::{Mutex, MutexGuard, RwLock};

use crate::util::crc16::key_slot;
pub use dict::{Dict, Keyed};
pub use shard::{Entry, Shard};
pub use value::{SmallBytes, Value};

/// log2 of the number of shards per database.
pub const SHARD_BITS: u32 = 8;
/// Shards per database.
pub const SHARDS: usize = 1 << SHARD_BITS;

/// Keeps each shard lock on its own cache line.
#[repr(align(64))]
struct Padded<T>(T);

/// One logical database (`SELECT n`).
pub struct Db {
    shards: Box<[Padded<Mutex<Shard>>]>,
}

/// The shard index of a key (from its cluster slot).
pub fn shard_of(key: &[u8]) -> usize {
    key_slot(key) as usize & (SHARDS - 1)
}

impl Db {
    fn new() -> Self {
        Self {
            shards: (0..SHARDS)
                .map(|_| Padded(Mutex::new(Shard::default())))
                .collect(),
        }
    }

    /// Locks the shard holding `key`.
    pub fn lock(&self, key: &[u8]) -> MutexGuard<'_, Shard> {
        self.shards[shard_of(key)].0.lock()
    }

    /// Locks shard number `idx`.
    pub fn lock_shard(&self, idx: usize) -> MutexGuard<'_, Shard> {
        self.shards[idx].0.lock()
    }

    /// Locks shard number `idx` if it is free right now.
    pub fn try_lock_shard(&self, idx: usize) -> Option<MutexGuard<'_, Shard>> {
        self.shards[idx].0.try_lock()
    }

    /// Locks every shard in ascending order, for a consistent view.
    pub fn lock_all(&self) -> Vec<MutexGuard<'_, Shard>> {
        self.shards.iter().map(|s| s.0.lock()).collect()
    }

    /// Number of keys (logically expired ones included until reclaimed).
    pub fn len(&self) -> usize {
        self.lock_all().iter().map(|s| s.len()).sum()
    }

    /// Whether the database holds no key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Visits one bucket of a whole-database SCAN and returns the next
    /// cursor (0 when the iteration is complete).
    ///
    /// The cursor packs the shard index in its low [`SHARD_BITS`] bits and
    /// that shard's reverse-binary [`Dict`] cursor above them; shards are
    /// walked in order, each one from its cursor 0 to its end. So a key
    /// present for a whole iteration is returned at least once however the
    /// shards grow or shrink meanwhile. Shards that are empty when reached
    /// are skipped without costing a step (a key living there for the
    /// whole iteration would make it non-empty). Shards are locked one
    /// after another, never together.
    pub fn scan_step(&self, cursor: u64, now: u64, mut visit: impl FnMut(&Entry)) -> u64 {
        let mut shard = (cursor & (SHARDS as u64 - 1)) as usize;
        let mut inner = cursor >> SHARD_BITS;
        loop {
            let (scanned, next) = {
                let guard = self.lock_shard(shard);
                if guard.is_empty() {
                    (false, 0)
                } else {
                    (true, guard.scan(inner, now, &mut visit))
                }
            };
            if next != 0 {
                return (next << SHARD_BITS) | shard as u64;
            }
            match (shard + 1..SHARDS).find(|&i| !self.lock_shard(i).is_empty()) {
                Some(i) => shard = i,
                None => return 0,
            }
            inner = 0;
            if scanned {
                return shard as u64;
            }
        }
    }

    /// Number of keys with a TTL.
    pub fn volatile_len(&self) -> usize {
        self.shards.iter().map(|s| s.0.lock().volatile()).sum()
    }
}

/// All databases plus the global gate.
pub struct Keyspace {
    /// Held shared by ordinary commands and exclusively by commands that
    /// must run with nothing else in flight.
    pub gate: RwLock<()>,
    dbs: Box<[Db]>,
}

/// Several shards locked together in a deadlock-free order.
pub struct MultiLock<'a> {
    guards: Vec<((usize, usize), MutexGuard<'a, Shard>)>,
}

impl MultiLock<'_> {
    /// Whether the shard of `key` in database `db` is part of this lock.
    pub fn holds(&self, db: usize, key: &[u8]) -> bool {
        let id = (db, shard_of(key));
        self.guards.binary_search_by(|(k, _)| k.cmp(&id)).is_ok()
    }

    /// The locked shard of `key` in database `db`.
    ///
    /// Panics if that shard was not part of the lock request, which is a
    /// programming error in the calling command.
    pub fn shard(&mut self, db: usize, key: &[u8]) -> &mut Shard {
        let id = (db, shard_of(key));
        let pos = self
            .guards
            .binary_search_by(|(k, _)| k.cmp(&id))
            .expect("shard not locked by this command");
        &mut self.guards[pos].1
    }
}

impl Keyspace {
    /// Creates `databases` empty databases.
    pub fn new(databases: usize) -> Self {
        Self {
            gate: RwLock::new(()),
            dbs: (0..databases).map(|_| Db::new()).collect(),
        }
    }

    /// Number of databases.
    pub fn db_count(&self) -> usize {
        self.dbs.len()
    }

    /// Database number `idx` (must be in range).
    pub fn db(&self, idx: usize) -> &Db {
        &self.dbs[idx]
    }

    /// Locks the shards of all `(db, key)` pairs in ascending order.
    pub fn lock_keys<'k>(
        &self,
        keys: impl IntoIterator<Item = (usize, &'k [u8])>,
    ) -> MultiLock<'_> {
        let mut ids: Vec<(usize, usize)> = keys
            .into_iter()
            .map(|(db, key)| (db, shard_of(key)))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        MultiLock {
            guards: ids
                .into_iter()
                .map(|(db, shard)| ((db, shard), self.dbs[db].lock_shard(shard)))
                .collect(),
        }
    }

    /// Exchanges the contents of two databases. The caller holds the gate
    /// exclusively.
    pub fn swap_dbs(&self, a: usize, b: usize) {
        if a == b {
            return;
        }
        for i in 0..SHARDS {
            let (first, second) = if a < b { (a, b) } else { (b, a) };
            let mut x = self.dbs[first].lock_shard(i);
            let mut y = self.dbs[second].lock_shard(i);
            std::mem::swap(&mut *x, &mut *y);
        }
    }

    /// Empties one database, returning the old contents so the caller can
    /// free them off the hot path (`FLUSHDB ASYNC`).
    /// The shards keep their expired-keys counters (`INFO`'s
    /// `expired_keys` counts since start, across flushes).
    pub fn take_db(&self, idx: usize) -> Vec<Shard> {
        self.dbs[idx]
            .shards
            .iter()
            .map(|s| s.0.lock().take_contents())
            .collect()
    }

    /// Total keys that expired (lazily or actively) since start.
    pub fn expired_keys(&self) -> u64 {
        self.dbs
            .iter()
            .flat_map(|db| db.shards.iter())
            .map(|s| s.0.lock().expired_count())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn key(i: usize) -> Vec<u8> {
        format!("key:{i}").into_bytes()
    }

    fn insert(db: &Db, range: std::ops::Range<usize>) {
        for i in range {
            let k = key(i);
            db.lock(&k).set(&k, Value::Int(i as i64), 0, 0);
        }
    }

    fn remove(db: &Db, range: std::ops::Range<usize>) {
        for i in range {
            let k = key(i);
            db.lock(&k).remove(&k);
        }
    }

    #[test]
    fn scan_step_covers_every_shard_while_growing_and_shrinking() {
        let ks = Keyspace::new(1);
        let db = ks.db(0);
        insert(db, 0..3000);
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut steps = 0;
        loop {
            cursor = db.scan_step(cursor, 0, |e| {
                seen.insert(e.key().to_vec());
            });
            steps += 1;
            match steps {
                50 => insert(db, 3000..20000),
                500 => remove(db, 3000..20000),
                _ => {}
            }
            if cursor == 0 {
                break;
            }
        }
        assert!((0..3000).all(|i| seen.contains(&key(i))));
    }

    #[test]
    fn scan_step_skips_empty_shards_and_ends_with_zero() {
        let ks = Keyspace::new(1);
        let db = ks.db(0);
        assert_eq!(db.scan_step(0, 0, |_| panic!("empty db")), 0);
        insert(db, 0..1);
        let mut seen = 0;
        let mut cursor = 0;
        let mut steps = 0;
        loop {
            cursor = db.scan_step(cursor, 0, |_| seen += 1);
            steps += 1;
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen, 1);
        // One key lives in one shard with a small table: a handful of
        // buckets, not one step per shard.
        assert!(steps <= 4, "{steps} steps");
    }

    #[test]
    fn take_db_keeps_expired_counter() {
        let ks = Keyspace::new(1);
        let db = ks.db(0);
        db.lock(b"k").set(b"k", Value::Int(1), 10, 0);
        assert!(db.lock(b"k").get(b"k", 20).is_none());
        insert(db, 0..10);
        assert_eq!(ks.expired_keys(), 1);
        let old = ks.take_db(0);
        assert_eq!(old.iter().map(Shard::len).sum::<usize>(), 10);
        assert_eq!(db.len(), 0);
        assert_eq!(ks.expired_keys(), 1);
    }
}
