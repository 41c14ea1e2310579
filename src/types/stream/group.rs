//! Consumer groups: the last delivered ID, the 7.0 read counter, the
//! pending entries list (PEL) and the consumers with their own PELs.

use std::collections::{BTreeMap, BTreeSet};

use super::StreamId;

/// A delivered, not yet acknowledged entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    /// Last delivery time (Unix ms).
    pub delivery_time: u64,
    /// Times delivered.
    pub delivery_count: u64,
    /// The consumer owning it.
    pub consumer: Box<[u8]>,
}

/// A consumer of a group.
#[derive(Clone, Debug, Default)]
pub struct Consumer {
    /// Last time it read or claimed (Unix ms).
    pub seen_time: u64,
    /// IDs it owns in the group's PEL.
    pub pel: BTreeSet<StreamId>,
}

/// A consumer group.
#[derive(Clone, Debug)]
pub struct Group {
    /// Last ID delivered with `>`.
    pub last_id: StreamId,
    /// Logical read counter (`entries-read`), `None` when unknown.
    pub entries_read: Option<u64>,
    /// The group's pending entries.
    pub pel: BTreeMap<StreamId, Pending>,
    /// Consumers by name.
    pub consumers: BTreeMap<Vec<u8>, Consumer>,
}

impl Group {
    /// A group with no consumers.
    pub fn new(last_id: StreamId, entries_read: Option<u64>) -> Self {
        Group {
            last_id,
            entries_read,
            pel: BTreeMap::new(),
            consumers: BTreeMap::new(),
        }
    }

    /// Approximate heap bytes held.
    pub fn heap_size(&self) -> usize {
        let pel: usize = self.pel.values().map(|p| 64 + p.consumer.len()).sum();
        let consumers: usize = self
            .consumers
            .iter()
            .map(|(n, c)| 64 + n.len() + c.pel.len() * 24)
            .sum();
        pel + consumers
    }

    /// Adds consumer `name` if missing; returns whether it was created.
    pub fn create_consumer(&mut self, name: &[u8], now: u64) -> bool {
        if self.consumers.contains_key(name) {
            return false;
        }
        self.consumers.insert(
            name.to_vec(),
            Consumer {
                seen_time: now,
                pel: BTreeSet::new(),
            },
        );
        true
    }

    /// Consumer `name`, created if missing, with its seen time refreshed.
    /// Returns whether it was created.
    pub fn touch_consumer(&mut self, name: &[u8], now: u64) -> bool {
        let created = self.create_consumer(name, now);
        if let Some(c) = self.consumers.get_mut(name) {
            c.seen_time = now;
        }
        created
    }

    /// Deletes consumer `name` and its pending entries; returns how many
    /// it had, `None` if it did not exist.
    pub fn delete_consumer(&mut self, name: &[u8]) -> Option<usize> {
        let c = self.consumers.remove(name)?;
        for id in &c.pel {
            self.pel.remove(id);
        }
        Some(c.pel.len())
    }

    /// Acknowledges `id`; returns whether it was pending.
    pub fn ack(&mut self, id: StreamId) -> bool {
        let Some(p) = self.pel.remove(&id) else {
            return false;
        };
        if let Some(c) = self.consumers.get_mut(&*p.consumer) {
            c.pel.remove(&id);
        }
        true
    }

    /// Gives `id` to `consumer` (which must exist) with the delivery time
    /// and count given, creating or moving its PEL entry.
    pub fn assign(&mut self, id: StreamId, consumer: &[u8], time: u64, count: u64) {
        if let Some(old) = self.pel.get(&id) {
            if &*old.consumer != consumer {
                let old = old.consumer.clone();
                if let Some(c) = self.consumers.get_mut(&*old) {
                    c.pel.remove(&id);
                }
            }
        }
        self.pel.insert(
            id,
            Pending {
                delivery_time: time,
                delivery_count: count,
                consumer: consumer.into(),
            },
        );
        if let Some(c) = self.consumers.get_mut(consumer) {
            c.pel.insert(id);
        }
    }
}
