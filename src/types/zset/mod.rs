//! The sorted-set value type: members with `f64` scores, ordered by
//! (score, member).
//!
//! Small sets use the compact `listpack` encoding ([`pack::Pack`], one
//! byte buffer scanned linearly); past `zset-max-listpack-entries` members
//! or a member longer than `zset-max-listpack-value` bytes they switch, for
//! good, to the `skiplist` encoding ([`tree::Tree`], an order-statistics
//! tree plus a member index), exactly when Redis 7.0 converts.

pub mod pack;
pub mod tree;

use pack::Pack;
use tree::Tree;

/// The encoding thresholds in force for a write.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// `zset-max-listpack-entries`.
    pub max_entries: usize,
    /// `zset-max-listpack-value`.
    pub max_value: usize,
}

/// A sorted set.
#[derive(Clone)]
pub enum ZSet {
    /// Compact encoding.
    Pack(Pack),
    /// Large encoding.
    Tree(Box<Tree>),
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet::Pack(Pack::default())
    }
}

impl ZSet {
    /// An empty set in the compact encoding.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a set from pairs sorted by (score, member) with distinct
    /// members, in the encoding Redis picks for a computed result
    /// (ZUNIONSTORE, ZRANGESTORE, …): compact when it fits the limits.
    pub fn from_sorted<'a>(
        pairs: impl ExactSizeIterator<Item = (&'a [u8], f64)> + Clone,
        limits: Limits,
    ) -> Self {
        let fits = pairs.len() <= limits.max_entries
            && pairs.clone().all(|(m, _)| m.len() <= limits.max_value);
        if fits {
            return ZSet::Pack(Pack::from_sorted(pairs));
        }
        let mut tree = Tree::new();
        for (m, s) in pairs {
            tree.insert_new(m, s);
        }
        ZSet::Tree(Box::new(tree))
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        match self {
            ZSet::Pack(p) => p.len(),
            ZSet::Tree(t) => t.len(),
        }
    }

    /// Whether it holds nothing (an empty collection is deleted).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name `OBJECT ENCODING` reports.
    pub fn encoding(&self) -> &'static str {
        match self {
            ZSet::Pack(_) => "listpack",
            ZSet::Tree(_) => "skiplist",
        }
    }

    /// Approximate heap bytes used (for MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        match self {
            ZSet::Pack(p) => p.heap_size(),
            ZSet::Tree(t) => std::mem::size_of::<Tree>() + t.heap_size(),
        }
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            ZSet::Pack(p) => p.score(member),
            ZSet::Tree(t) => t.score(member),
        }
    }

    /// The 0-based ascending rank of `member`.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        match self {
            ZSet::Pack(p) => p.rank(member),
            ZSet::Tree(t) => t.rank(member),
        }
    }

    /// Sets the score of `member`, adding it if absent; returns whether it
    /// was added. Converts to the large encoding when `limits` are passed.
    pub fn set(&mut self, member: &[u8], score: f64, limits: Limits) -> bool {
        // Like Redis, only an insertion can trigger the conversion; an
        // updated member keeps the current encoding.
        let added = self.remove(member).is_none();
        if let (true, ZSet::Pack(p)) = (added, &*self) {
            if p.len() + 1 > limits.max_entries || member.len() > limits.max_value {
                let mut tree = Tree::new();
                for (m, s) in p.iter() {
                    tree.insert_new(m, s);
                }
                *self = ZSet::Tree(Box::new(tree));
            }
        }
        match self {
            ZSet::Pack(p) => p.insert_new(member, score),
            ZSet::Tree(t) => t.insert_new(member, score),
        }
        added
    }

    /// Removes `member`, returning its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        match self {
            ZSet::Pack(p) => p.remove(member),
            ZSet::Tree(t) => t.remove(member),
        }
    }

    /// The pair at ascending rank `rank`.
    pub fn get(&self, rank: usize) -> Option<(&[u8], f64)> {
        match self {
            ZSet::Pack(p) => p.iter_from(rank).next(),
            ZSet::Tree(t) => t.get(rank),
        }
    }

    /// The pairs of ascending ranks `start..end` (clamped), in order.
    pub fn range(&self, start: usize, end: usize) -> Vec<(&[u8], f64)> {
        let end = end.min(self.len());
        if start >= end {
            return Vec::new();
        }
        match self {
            ZSet::Pack(p) => p.iter_from(start).take(end - start).collect(),
            ZSet::Tree(t) => t.range(start, end),
        }
    }

    /// Number of leading members for which `before(score, member)` holds;
    /// `before` must be monotone over the order (true, then false).
    pub fn partition_point(&self, before: impl Fn(f64, &[u8]) -> bool) -> usize {
        match self {
            ZSet::Pack(p) => p.iter().take_while(|(m, s)| before(*s, m)).count(),
            ZSet::Tree(t) => t.partition_point(before),
        }
    }

    /// Removes ascending ranks `start..end` (clamped), returning the
    /// removed pairs in order.
    pub fn remove_ranks(&mut self, start: usize, end: usize) -> Vec<(Box<[u8]>, f64)> {
        let end = end.min(self.len());
        if start >= end {
            return Vec::new();
        }
        match self {
            ZSet::Pack(p) => p.remove_ranks(start, end),
            ZSet::Tree(t) => t.remove_ranks(start, end),
        }
    }

    /// One ZSCAN step: visits some pairs and returns the next cursor (0
    /// when done). The compact encoding is returned whole, as in Redis.
    pub fn scan(&self, cursor: u64, mut visit: impl FnMut(&[u8], f64)) -> u64 {
        match self {
            ZSet::Pack(p) => {
                for (m, s) in p.iter() {
                    visit(m, s);
                }
                0
            }
            ZSet::Tree(t) => t.dict().scan(cursor, |e| visit(e.member(), e.score)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    const LIMITS: Limits = Limits {
        max_entries: 8,
        max_value: 6,
    };

    #[derive(Debug, Clone)]
    enum Op {
        Add(u8, i8),
        AddFrac(u8, i16),
        Remove(u8),
        RemoveRanks(u8, u8),
        Long(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u8..24, any::<i8>()).prop_map(|(m, s)| Op::Add(m, s)),
            1 => (0u8..24, any::<i16>()).prop_map(|(m, s)| Op::AddFrac(m, s)),
            2 => (0u8..24).prop_map(Op::Remove),
            1 => (0u8..12, 0u8..4).prop_map(|(a, n)| Op::RemoveRanks(a, n)),
            1 => (0u8..24).prop_map(Op::Long),
        ]
    }

    fn name(m: u8) -> Vec<u8> {
        format!("m{m}").into_bytes()
    }

    /// The model: members sorted by (score, member) through a BTreeMap on
    /// (ordered score bits, member) plus a member -> score map.
    #[derive(Default)]
    struct Model {
        by_member: BTreeMap<Vec<u8>, f64>,
    }

    impl Model {
        fn sorted(&self) -> Vec<(Vec<u8>, f64)> {
            let mut v: Vec<_> = self
                .by_member
                .iter()
                .map(|(m, s)| (m.clone(), *s))
                .collect();
            v.sort_by(|a, b| pack::cmp_entry((a.1, &a.0), (b.1, &b.0)));
            v
        }
    }

    proptest! {
        #[test]
        fn matches_model(ops in proptest::collection::vec(op(), 1..120)) {
            let mut z = ZSet::new();
            let mut model = Model::default();
            for op in ops {
                match op {
                    Op::Add(m, s) => {
                        let added = z.set(&name(m), s as f64, LIMITS);
                        prop_assert_eq!(added, model.by_member.insert(name(m), s as f64).is_none());
                    }
                    Op::AddFrac(m, s) => {
                        let score = s as f64 / 7.0;
                        z.set(&name(m), score, LIMITS);
                        model.by_member.insert(name(m), score);
                    }
                    Op::Long(m) => {
                        let member = format!("longmember{m}").into_bytes();
                        z.set(&member, m as f64, LIMITS);
                        model.by_member.insert(member, m as f64);
                    }
                    Op::Remove(m) => {
                        prop_assert_eq!(z.remove(&name(m)), model.by_member.remove(&name(m)));
                    }
                    Op::RemoveRanks(a, n) => {
                        let sorted = model.sorted();
                        let (a, b) = (a as usize, a as usize + n as usize);
                        let removed = z.remove_ranks(a, b);
                        let expect: Vec<_> = sorted.iter().skip(a).take(b.saturating_sub(a)).cloned().collect();
                        let got: Vec<_> = removed.iter().map(|(m, s)| (m.to_vec(), *s)).collect();
                        prop_assert_eq!(got, expect.clone());
                        for (m, _) in expect {
                            model.by_member.remove(&m);
                        }
                    }
                }
                let sorted = model.sorted();
                prop_assert_eq!(z.len(), sorted.len());
                let fits = sorted.len() <= LIMITS.max_entries;
                if !fits {
                    prop_assert_eq!(z.encoding(), "skiplist");
                }
                let all: Vec<_> = z.range(0, z.len()).into_iter().map(|(m, s)| (m.to_vec(), s)).collect();
                prop_assert_eq!(&all, &sorted);
                for (rank, (m, s)) in sorted.iter().enumerate() {
                    prop_assert_eq!(z.rank(m), Some(rank));
                    prop_assert_eq!(z.score(m), Some(*s));
                    prop_assert_eq!(z.get(rank).map(|(m, s)| (m.to_vec(), s)), Some((m.clone(), *s)));
                }
                for pivot in [-50.0, 0.0, 3.5, 60.0] {
                    let expect = sorted.iter().filter(|(_, s)| *s < pivot).count();
                    prop_assert_eq!(z.partition_point(|s, _| s < pivot), expect);
                }
                if sorted.len() > 2 {
                    let mid: Vec<_> = z.range(1, sorted.len() - 1).into_iter().map(|(m, s)| (m.to_vec(), s)).collect();
                    prop_assert_eq!(&mid[..], &sorted[1..sorted.len() - 1]);
                }
                let mut seen = Vec::new();
                let mut cursor = 0;
                loop {
                    cursor = z.scan(cursor, |m, _| seen.push(m.to_vec()));
                    if cursor == 0 {
                        break;
                    }
                }
                seen.sort();
                let members: Vec<_> = model.by_member.keys().cloned().collect();
                prop_assert_eq!(seen, members);
            }
        }
    }

    #[test]
    fn compact_encoding_is_small() {
        let mut z = ZSet::new();
        let limits = Limits {
            max_entries: 128,
            max_value: 64,
        };
        for i in 0..10 {
            z.set(format!("member:{i}").as_bytes(), i as f64, limits);
        }
        assert_eq!(z.encoding(), "listpack");
        assert!(z.heap_size() <= 120, "{}", z.heap_size());
        assert!(std::mem::size_of::<ZSet>() <= 32);
        assert_eq!(z.score(b"member:3"), Some(3.0));
    }

    #[test]
    fn negative_zero_is_unsigned_in_listpack_only() {
        let limits = Limits {
            max_entries: 1,
            max_value: 64,
        };
        let mut z = ZSet::new();
        z.set(b"a", -0.0, limits);
        assert!(z.score(b"a").unwrap().is_sign_positive());
        z.set(b"b", -0.0, limits);
        assert_eq!(z.encoding(), "skiplist");
        assert!(z.score(b"b").unwrap().is_sign_negative());
    }
}
