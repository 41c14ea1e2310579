//! One shard of a database: a [`Dict`] of entries plus expiry bookkeeping.

use super::access;
use super::dict::{Dict, Keyed};
use super::events;
use super::expiry::{self, Mode};
use super::value::{SmallBytes, Value};

/// A key, its value and its absolute expiry time.
pub struct Entry {
    key: SmallBytes,
    /// The stored value.
    pub value: Value,
    /// Unix time in ms after which the key is gone; 0 = no expiry.
    expire_at: u64,
    /// Access clock: LRU time or LFU counter (see [`access`]).
    lru: u32,
}

impl Keyed for Entry {
    fn key(&self) -> &[u8] {
        self.key.as_bytes()
    }
}

impl Entry {
    /// The key's bytes.
    pub fn key(&self) -> &[u8] {
        self.key.as_bytes()
    }

    /// Absolute expiry in Unix ms, 0 when the key is persistent.
    pub fn expire_at(&self) -> u64 {
        self.expire_at
    }

    /// Seconds since the key was last read or written (meaningless while
    /// an LFU policy is set: the field then holds a counter).
    pub fn idle_secs(&self, now: u64) -> u64 {
        access::idle_ms(self.lru, now) / 1000
    }

    /// Milliseconds since the key was last read or written (LRU
    /// eviction's measure).
    pub fn idle_ms(&self, now: u64) -> u64 {
        access::idle_ms(self.lru, now)
    }

    /// The decayed LFU access counter (meaningful under an LFU policy).
    pub fn lfu_freq(&self, now: u64) -> u8 {
        access::decayed(self.lru, now)
    }

    fn is_expired(&self, now: u64) -> bool {
        self.expire_at != 0 && now > self.expire_at && expiry::mode() != Mode::Keep
    }

    /// Approximate bytes used by this key (for MEMORY USAGE).
    pub fn memory_usage(&self) -> usize {
        // Node allocation: link + entry, rounded to the allocator's class.
        let node = std::mem::size_of::<Entry>() + 8;
        node.next_power_of_two() + self.key.heap_size() + self.value.heap_size()
    }
}

/// Shard contents.
#[derive(Default)]
pub struct Shard {
    dict: Dict<Entry>,
    volatile: usize,
    expired: u64,
    expire_cursor: u64,
}

/// Outcome of one active-expiry step on a shard.
pub struct ExpireStep {
    /// Keys with a TTL looked at.
    pub sampled: usize,
    /// Keys removed.
    pub expired: usize,
    /// Whether the shard's sweep wrapped around to the start.
    pub wrapped: bool,
}

impl Shard {
    /// Number of keys, including logically expired ones not yet reclaimed.
    pub fn len(&self) -> usize {
        self.dict.len()
    }

    /// Whether the shard is empty.
    pub fn is_empty(&self) -> bool {
        self.dict.is_empty()
    }

    /// Keys with a TTL.
    pub fn volatile(&self) -> usize {
        self.volatile
    }

    /// Keys expired in this shard since start.
    pub fn expired_count(&self) -> u64 {
        self.expired
    }

    /// Moves the keys out, leaving this shard empty but keeping its
    /// statistics (the expired-keys counter).
    pub fn take_contents(&mut self) -> Shard {
        let expired = self.expired;
        let mut old = std::mem::take(self);
        self.expired = expired;
        old.expired = 0;
        old
    }

    /// Drops `key` if its TTL has passed (lazy expiry).
    fn expire_if_needed(&mut self, key: &[u8], now: u64) {
        if self.dict.get(key).is_some_and(|e| e.is_expired(now)) {
            self.remove(key);
            self.expired += 1;
            events::expired(key);
        }
    }

    /// The live entry for `key`; counts as an access.
    pub fn get(&mut self, key: &[u8], now: u64) -> Option<&Entry> {
        self.get_mut(key, now).map(|e| &*e)
    }

    /// Whether a replica's own client must not see `key` (expired, but
    /// left for the primary's DEL).
    fn hidden(&self, key: &[u8], now: u64) -> bool {
        expiry::mode() == Mode::Hide && self.dict.get(key).is_some_and(|e| e.is_expired(now))
    }

    /// The live entry for `key`, mutable; counts as an access.
    pub fn get_mut(&mut self, key: &[u8], now: u64) -> Option<&mut Entry> {
        if self.hidden(key, now) {
            return None;
        }
        self.expire_if_needed(key, now);
        let entry = self.dict.get_mut(key)?;
        entry.lru = access::touch(entry.lru, now);
        Some(entry)
    }

    /// The live entry for `key` without counting an access (OBJECT, TTL
    /// introspection that Redis does with `LOOKUP_NOTOUCH`).
    pub fn peek(&mut self, key: &[u8], now: u64) -> Option<&Entry> {
        if self.hidden(key, now) {
            return None;
        }
        self.expire_if_needed(key, now);
        self.dict.get(key)
    }

    /// The entry for `key` as stored, even if its TTL passed, without
    /// counting an access (eviction checks its candidates this way).
    pub fn get_raw(&self, key: &[u8]) -> Option<&Entry> {
        self.dict.get(key)
    }

    /// Whether `key` exists and is live.
    pub fn contains(&mut self, key: &[u8], now: u64) -> bool {
        self.get(key, now).is_some()
    }

    /// Sets `key` to `value` with expiry `expire_at` (0 = none), replacing
    /// any previous value and TTL. Returns the previous live value.
    pub fn set(&mut self, key: &[u8], value: Value, expire_at: u64, now: u64) -> Option<Value> {
        self.expire_if_needed(key, now);
        if let Some(entry) = self.dict.get_mut(key) {
            let was_volatile = entry.expire_at != 0;
            entry.expire_at = expire_at;
            // Overwriting counts as an access: an LFU counter carries over.
            entry.lru = access::touch(entry.lru, now);
            let old = std::mem::replace(&mut entry.value, value);
            self.volatile = self.volatile + (expire_at != 0) as usize - was_volatile as usize;
            return Some(old);
        }
        self.insert_new(key, value, expire_at, now);
        None
    }

    /// Replaces the value of an existing live key, keeping its TTL.
    /// Inserts the key without TTL if absent.
    pub fn set_keep_ttl(&mut self, key: &[u8], value: Value, now: u64) -> Option<Value> {
        self.expire_if_needed(key, now);
        if let Some(entry) = self.dict.get_mut(key) {
            entry.lru = access::touch(entry.lru, now);
            return Some(std::mem::replace(&mut entry.value, value));
        }
        self.insert_new(key, value, 0, now);
        None
    }

    fn insert_new(&mut self, key: &[u8], value: Value, expire_at: u64, now: u64) -> &mut Entry {
        self.volatile += (expire_at != 0) as usize;
        events::created(key);
        self.dict
            .insert_new(Self::make_entry(key, value, expire_at, now))
    }

    /// The live entry for `key`, created with `make` if absent.
    pub fn get_or_insert(
        &mut self,
        key: &[u8],
        now: u64,
        make: impl FnOnce() -> Value,
    ) -> &mut Entry {
        self.expire_if_needed(key, now);
        if self.dict.get(key).is_none() {
            return self.insert_new(key, make(), 0, now);
        }
        self.get_mut(key, now).expect("present")
    }

    /// Removes `key` whatever its TTL; returns the entry.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let entry = self.dict.remove(key)?;
        self.volatile -= (entry.expire_at != 0) as usize;
        Some(entry)
    }

    /// Removes `key` if live; returns its entry.
    pub fn remove_live(&mut self, key: &[u8], now: u64) -> Option<Entry> {
        self.expire_if_needed(key, now);
        self.remove(key)
    }

    /// Sets or clears (0) the TTL of a live key; false if the key is absent.
    pub fn set_expire(&mut self, key: &[u8], expire_at: u64, now: u64) -> bool {
        self.expire_if_needed(key, now);
        match self.dict.get_mut(key) {
            Some(entry) => {
                let was = entry.expire_at != 0;
                entry.expire_at = expire_at;
                self.volatile = self.volatile + (expire_at != 0) as usize - was as usize;
                true
            }
            None => false,
        }
    }

    /// Removes the TTL of a live key; whether it had one (PERSIST).
    pub fn persist(&mut self, key: &[u8], now: u64) -> bool {
        let had = self.get(key, now).is_some_and(|e| e.expire_at != 0);
        if had {
            self.set_expire(key, 0, now);
        }
        had
    }

    /// Re-inserts an entry taken out of another shard or database,
    /// replacing any existing key (which counts as a new key, as Redis
    /// deletes the old one first).
    pub fn put_entry(&mut self, entry: Entry) {
        self.remove(entry.key());
        events::created(entry.key());
        self.volatile += (entry.expire_at != 0) as usize;
        self.dict.insert_new(entry);
    }

    /// Builds an entry for moving or copying between shards.
    pub fn make_entry(key: &[u8], value: Value, expire_at: u64, now: u64) -> Entry {
        Entry {
            key: SmallBytes::new(key),
            value,
            expire_at,
            lru: access::fresh(now),
        }
    }

    /// Iterates over live entries.
    pub fn iter_live(&self, now: u64) -> impl Iterator<Item = &Entry> {
        self.dict.iter().filter(move |e| !e.is_expired(now))
    }

    /// Iterates over every stored entry, expired or not.
    pub fn iter_all(&self) -> impl Iterator<Item = &Entry> {
        self.dict.iter()
    }

    /// Visits the live entries of one bucket of the scan cursor.
    pub fn scan(&self, cursor: u64, now: u64, mut visit: impl FnMut(&Entry)) -> u64 {
        self.dict.scan(cursor, |e| {
            if !e.is_expired(now) {
                visit(e)
            }
        })
    }

    /// A pseudo-random entry chosen with `rnd`, expired or not (eviction
    /// sampling: an expired key is as good a victim as any).
    pub fn sample(&self, rnd: u64) -> Option<&Entry> {
        self.dict.random(rnd)
    }

    /// A random live entry, if any (tries a few samples past expired keys).
    pub fn random(&self, now: u64) -> Option<&Entry> {
        for _ in 0..64 {
            let e = self.dict.random(crate::util::rand::random_u64())?;
            if !e.is_expired(now) {
                return Some(e);
            }
        }
        self.iter_live(now).next()
    }

    /// Active expiry: sweeps up to `buckets` buckets from where the last
    /// step stopped, removing keys whose TTL has passed.
    pub fn expire_step(&mut self, now: u64, buckets: usize) -> ExpireStep {
        let mut step = ExpireStep {
            sampled: 0,
            expired: 0,
            wrapped: false,
        };
        // A replica's keys expire by its primary's DELs.
        if self.volatile == 0 || expiry::is_replica() {
            return step;
        }
        for _ in 0..buckets {
            let mut sampled = 0;
            let mut gone = 0u64;
            let (next, removed) = self.dict.scan_retain(self.expire_cursor, |e| {
                if e.expire_at != 0 {
                    sampled += 1;
                }
                if e.is_expired(now) {
                    gone += 1;
                    events::expired(e.key());
                    false
                } else {
                    true
                }
            });
            debug_assert_eq!(removed as u64, gone);
            self.volatile -= removed;
            self.expired += gone;
            step.sampled += sampled;
            step.expired += removed;
            self.expire_cursor = next;
            if next == 0 {
                step.wrapped = true;
                break;
            }
        }
        step
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_stays_compact() {
        assert_eq!(std::mem::size_of::<Entry>(), 64);
    }

    #[test]
    fn lazy_and_active_expiry() {
        let mut s = Shard::default();
        s.set(b"a", Value::string(b"1"), 100, 0);
        s.set(b"b", Value::string(b"2"), 0, 0);
        assert!(s.get(b"a", 100).is_some());
        assert!(s.get(b"a", 101).is_none());
        assert_eq!(s.volatile(), 0);
        assert_eq!(s.expired_count(), 1);
        for i in 0..100u32 {
            s.set(&i.to_be_bytes(), Value::Int(1), 50, 0);
        }
        assert_eq!(s.volatile(), 100);
        let mut expired = 0;
        loop {
            let step = s.expire_step(60, 16);
            expired += step.expired;
            if step.wrapped {
                break;
            }
        }
        assert_eq!(expired, 100);
        assert_eq!(s.volatile(), 0);
        assert_eq!(s.len(), 1);
    }
}
