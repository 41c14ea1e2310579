//! A chained hash table with Redis's `SCAN` guarantee.
//!
//! Buckets are a power of two; the cursor walks bucket indexes in
//! reverse-binary order, so an item present for a whole scan is returned at
//! least once even if the table grows or shrinks between calls (the same
//! property Redis's `dictScan` has). Nodes are single allocations holding the
//! item and the chain link, so resizing moves pointers, never items.

use std::hash::BuildHasher;
use std::sync::OnceLock;

/// Items stored in a [`Dict`] expose their key.
pub trait Keyed {
    /// The bytes the item is looked up by.
    fn key(&self) -> &[u8];
}

type Link<T> = Option<Box<Node<T>>>;

struct Node<T> {
    next: Link<T>,
    item: T,
}

/// Hashes a key with a per-process random seed (hash flooding resistance).
pub fn hash_key(key: &[u8]) -> u64 {
    static STATE: OnceLock<foldhash::fast::RandomState> = OnceLock::new();
    STATE
        .get_or_init(foldhash::fast::RandomState::default)
        .hash_one(key)
}

const MIN_BUCKETS: usize = 4;

/// A hash table of [`Keyed`] items.
pub struct Dict<T> {
    table: Box<[Link<T>]>,
    len: usize,
}

impl<T> Default for Dict<T> {
    fn default() -> Self {
        Self {
            table: Box::new([]),
            len: 0,
        }
    }
}

impl<T: Keyed> Dict<T> {
    /// An empty table; allocates nothing until the first insert.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the table holds no item.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of buckets (for memory statistics).
    pub fn buckets(&self) -> usize {
        self.table.len()
    }

    fn mask(&self) -> usize {
        self.table.len().wrapping_sub(1)
    }

    fn bucket_of(&self, key: &[u8]) -> usize {
        hash_key(key) as usize & self.mask()
    }

    /// Looks an item up by key.
    pub fn get(&self, key: &[u8]) -> Option<&T> {
        if self.len == 0 {
            return None;
        }
        let mut cur = self.table[self.bucket_of(key)].as_deref();
        while let Some(node) = cur {
            if node.item.key() == key {
                return Some(&node.item);
            }
            cur = node.next.as_deref();
        }
        None
    }

    /// Looks an item up by key for modification. The key itself must not
    /// be changed through the returned reference.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut T> {
        if self.len == 0 {
            return None;
        }
        let idx = self.bucket_of(key);
        let mut cur = self.table[idx].as_deref_mut();
        while let Some(node) = cur {
            if node.item.key() == key {
                return Some(&mut node.item);
            }
            cur = node.next.as_deref_mut();
        }
        None
    }

    /// Inserts an item whose key is known to be absent.
    pub fn insert_new(&mut self, item: T) -> &mut T {
        if self.len >= self.table.len() {
            let size = (self.table.len() * 2).max(MIN_BUCKETS);
            self.resize(size);
        }
        let idx = self.bucket_of(item.key());
        let next = self.table[idx].take();
        self.len += 1;
        &mut self.table[idx].insert(Box::new(Node { next, item })).item
    }

    /// Inserts or replaces; returns the replaced item.
    pub fn insert(&mut self, item: T) -> Option<T> {
        if let Some(slot) = self.get_mut(item.key()) {
            return Some(std::mem::replace(slot, item));
        }
        self.insert_new(item);
        None
    }

    /// Removes and returns the item with this key.
    pub fn remove(&mut self, key: &[u8]) -> Option<T> {
        if self.len == 0 {
            return None;
        }
        let idx = self.bucket_of(key);
        let mut link = &mut self.table[idx];
        loop {
            if link.as_ref()?.item.key() == key {
                let mut node = link.take().expect("checked above");
                *link = node.next.take();
                self.len -= 1;
                self.maybe_shrink();
                return Some(node.item);
            }
            link = &mut link.as_mut().expect("checked above").next;
        }
    }

    fn maybe_shrink(&mut self) {
        if self.table.len() > MIN_BUCKETS && self.len * 10 < self.table.len() {
            let size = self.len.next_power_of_two().max(MIN_BUCKETS);
            self.resize(size);
        }
    }

    fn resize(&mut self, size: usize) {
        let mut table: Box<[Link<T>]> = (0..size).map(|_| None).collect();
        let mask = size - 1;
        for bucket in self.table.iter_mut() {
            let mut cur = bucket.take();
            while let Some(mut node) = cur {
                cur = node.next.take();
                let idx = hash_key(node.item.key()) as usize & mask;
                node.next = table[idx].take();
                table[idx] = Some(node);
            }
        }
        self.table = table;
    }

    /// Removes every item.
    pub fn clear(&mut self) {
        for bucket in self.table.iter_mut() {
            let mut cur = bucket.take();
            while let Some(mut node) = cur {
                cur = node.next.take();
            }
        }
        self.table = Box::new([]);
        self.len = 0;
    }

    /// Iterates over all items in bucket order.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.table.iter().flat_map(|bucket| {
            let mut cur = bucket.as_deref();
            std::iter::from_fn(move || {
                let node = cur?;
                cur = node.next.as_deref();
                Some(&node.item)
            })
        })
    }

    /// Visits one bucket at `cursor` and returns the next cursor (0 when
    /// the whole table has been visited).
    pub fn scan(&self, cursor: u64, mut visit: impl FnMut(&T)) -> u64 {
        if self.table.is_empty() {
            return 0;
        }
        let mask = self.mask() as u64;
        let mut cur = self.table[(cursor & mask) as usize].as_deref();
        while let Some(node) = cur {
            visit(&node.item);
            cur = node.next.as_deref();
        }
        next_cursor(cursor, mask)
    }

    /// Like [`Dict::scan`], but removes the visited items for which `keep`
    /// returns false, and returns how many it removed.
    pub fn scan_retain(&mut self, cursor: u64, mut keep: impl FnMut(&T) -> bool) -> (u64, usize) {
        if self.table.is_empty() {
            return (0, 0);
        }
        let mask = self.mask() as u64;
        let mut removed = 0;
        let mut link = &mut self.table[(cursor & mask) as usize];
        while link.is_some() {
            if keep(&link.as_ref().expect("checked").item) {
                link = &mut link.as_mut().expect("checked").next;
            } else {
                let mut node = link.take().expect("checked");
                *link = node.next.take();
                removed += 1;
            }
        }
        self.len -= removed;
        let next = next_cursor(cursor, mask);
        if removed > 0 {
            self.maybe_shrink();
        }
        (next, removed)
    }

    /// A pseudo-random item, chosen with the caller's random number.
    pub fn random(&self, mut rnd: u64) -> Option<&T> {
        if self.len == 0 {
            return None;
        }
        let mask = self.mask() as u64;
        loop {
            if let Some(node) = self.table[(rnd & mask) as usize].as_deref() {
                let mut chain = 0;
                let mut cur = Some(node);
                while let Some(n) = cur {
                    chain += 1;
                    cur = n.next.as_deref();
                }
                let mut pick = (rnd >> 32) as usize % chain;
                let mut cur = node;
                while pick > 0 {
                    cur = cur.next.as_deref().expect("within chain");
                    pick -= 1;
                }
                return Some(&cur.item);
            }
            rnd = crate::util::rand::next_u64(rnd);
        }
    }
}

impl<T> Drop for Dict<T> {
    fn drop(&mut self) {
        // Unlink chains iteratively so a long chain cannot overflow the stack.
        for bucket in self.table.iter_mut() {
            let mut cur = bucket.take();
            while let Some(mut node) = cur {
                cur = node.next.take();
            }
        }
    }
}

/// Reverse-binary increment of the bits under `mask`.
fn next_cursor(cursor: u64, mask: u64) -> u64 {
    let mut v = cursor | !mask;
    v = v.reverse_bits();
    v = v.wrapping_add(1);
    v.reverse_bits()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    struct Item(Vec<u8>);
    impl Keyed for Item {
        fn key(&self) -> &[u8] {
            &self.0
        }
    }

    fn key(i: usize) -> Vec<u8> {
        format!("k{i}").into_bytes()
    }

    #[test]
    fn insert_get_remove_resize() {
        let mut d = Dict::new();
        for i in 0..1000 {
            assert!(d.insert(Item(key(i))).is_none());
        }
        assert_eq!(d.len(), 1000);
        assert!(d.insert(Item(key(5))).is_some());
        for i in 0..1000 {
            assert!(d.get(&key(i)).is_some());
        }
        for i in 0..990 {
            assert!(d.remove(&key(i)).is_some());
        }
        assert!(d.remove(&key(0)).is_none());
        assert_eq!(d.len(), 10);
        assert!(d.buckets() <= 128);
        assert_eq!(d.iter().count(), 10);
    }

    #[test]
    fn scan_survives_growth_and_shrinking() {
        let mut d = Dict::new();
        for i in 0..500 {
            d.insert(Item(key(i)));
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut step = 0;
        loop {
            cursor = d.scan(cursor, |it| {
                seen.insert(it.0.clone());
            });
            step += 1;
            // Grow, then shrink, while the scan is in progress.
            if step == 20 {
                for i in 500..5000 {
                    d.insert(Item(key(i)));
                }
            }
            if step == 200 {
                for i in 1000..5000 {
                    d.remove(&key(i));
                }
            }
            if cursor == 0 {
                break;
            }
        }
        for i in 0..500 {
            assert!(seen.contains(&key(i)), "missed {i}");
        }
    }

    #[test]
    fn scan_retain_removes() {
        let mut d = Dict::new();
        for i in 0..100 {
            d.insert(Item(key(i)));
        }
        let mut cursor = 0;
        let mut removed = 0;
        loop {
            let (next, n) = d.scan_retain(cursor, |it| it.0.len() > 2);
            removed += n;
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(removed, 10);
        assert_eq!(d.len(), 90);
    }
}
