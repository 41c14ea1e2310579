//! Keys watched by clients (WATCH): any change to one makes the watching
//! clients' next EXEC fail.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

type Watchers = Vec<(u64, Arc<AtomicBool>)>;

/// The registry of watched keys.
#[derive(Default)]
pub struct Watches {
    map: Mutex<HashMap<(usize, Vec<u8>), Watchers>>,
    /// Watched (client, key) pairs: lets writes skip the registry when 0.
    count: AtomicUsize,
}

impl Watches {
    /// Client `id` watches `key` of database `db`; `dirty` is its flag.
    pub fn watch(&self, id: u64, dirty: &Arc<AtomicBool>, db: usize, key: &[u8]) {
        let mut map = self.map.lock();
        let watchers = map.entry((db, key.to_vec())).or_default();
        if !watchers.iter().any(|(c, _)| *c == id) {
            watchers.push((id, dirty.clone()));
            self.count.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Client `id` stops watching these keys.
    pub fn unwatch(&self, id: u64, keys: &[(usize, Vec<u8>)]) {
        if keys.is_empty() {
            return;
        }
        let mut map = self.map.lock();
        for key in keys {
            if let Some(watchers) = map.get_mut(key) {
                let before = watchers.len();
                watchers.retain(|(c, _)| *c != id);
                self.count
                    .fetch_sub(before - watchers.len(), Ordering::Relaxed);
                if watchers.is_empty() {
                    map.remove(key);
                }
            }
        }
    }

    /// A key changed: its watchers' transactions will fail.
    pub fn touch(&self, db: usize, key: &[u8]) {
        if self.count.load(Ordering::Relaxed) == 0 {
            return;
        }
        if let Some(watchers) = self.map.lock().get(&(db, key.to_vec())) {
            for (_, dirty) in watchers {
                dirty.store(true, Ordering::Release);
            }
        }
    }

    /// The watched keys of database `db` (for FLUSHDB/SWAPDB, which touch
    /// those that exist).
    pub fn keys_in(&self, db: usize) -> Vec<Vec<u8>> {
        if self.count.load(Ordering::Relaxed) == 0 {
            return Vec::new();
        }
        self.map
            .lock()
            .keys()
            .filter(|(d, _)| *d == db)
            .map(|(_, k)| k.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touch_marks_only_watchers_of_that_key() {
        let w = Watches::default();
        let a = Arc::new(AtomicBool::new(false));
        let b = Arc::new(AtomicBool::new(false));
        w.watch(1, &a, 0, b"k");
        w.watch(2, &b, 0, b"other");
        w.touch(0, b"k");
        w.touch(1, b"other");
        assert!(a.load(Ordering::Acquire));
        assert!(!b.load(Ordering::Acquire));
        w.unwatch(1, &[(0, b"k".to_vec())]);
        w.unwatch(2, &[(0, b"other".to_vec())]);
        assert_eq!(w.count.load(Ordering::Relaxed), 0);
        assert!(w.keys_in(0).is_empty());
    }
}
