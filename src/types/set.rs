//! The set value type.
//!
//! Like Redis 7.0, a set is an `intset` (a sorted array of integers packed
//! at the narrowest width of 16, 32 or 64 bits that fits every member) while
//! all its members are canonical integers (`string2ll`) and it holds at most
//! `set-max-intset-entries` members; otherwise it is a `hashtable`, a
//! [`Dict`] of byte strings, so SSCAN keeps Redis's guarantee. A set never
//! converts back from `hashtable` to `intset`, as in Redis.

use std::collections::HashSet;

use crate::keyspace::dict::{Dict, Keyed};
use crate::keyspace::value::IntBuf;
use crate::keyspace::SmallBytes;
use crate::util::num::parse_i64;
use crate::util::rand::random_u64;

/// A member borrowed from a set: intsets hold integers, hashtables bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem<'a> {
    /// A member of an intset.
    Int(i64),
    /// A member of a hashtable.
    Bytes(&'a [u8]),
}

impl<'a> Elem<'a> {
    /// The member's bytes; integers are rendered into `buf`.
    pub fn bytes<'b>(&'b self, buf: &'b mut IntBuf) -> &'b [u8] {
        match self {
            Elem::Int(v) => buf.format(*v).as_bytes(),
            Elem::Bytes(b) => b,
        }
    }

    /// An owned copy.
    pub fn to_member(&self) -> Member {
        match *self {
            Elem::Int(v) => Member::Int(v),
            Elem::Bytes(b) => Member::Bytes(b.to_vec()),
        }
    }
}

/// A member owned outside any set (popped members, intermediate results).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Member {
    /// An integer member.
    Int(i64),
    /// Any other member.
    Bytes(Vec<u8>),
}

impl Member {
    /// A borrowed view.
    pub fn as_elem(&self) -> Elem<'_> {
        match self {
            Member::Int(v) => Elem::Int(*v),
            Member::Bytes(b) => Elem::Bytes(b),
        }
    }

    /// The member's bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Member::Int(v) => IntBuf::new().format(v).as_bytes().to_vec(),
            Member::Bytes(b) => b,
        }
    }
}

/// A set value.
#[derive(Clone, Default)]
pub struct Set {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    Ints(IntSet),
    Table(Table),
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Ints(IntSet::default())
    }
}

impl Set {
    /// An empty set (an intset, like Redis's `createIntsetObject`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Ints(s) => s.len(),
            Repr::Table(t) => t.dict.len(),
        }
    }

    /// Whether it holds nothing (an empty collection is deleted).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name `OBJECT ENCODING` reports.
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Ints(_) => "intset",
            Repr::Table(_) => "hashtable",
        }
    }

    /// Approximate heap bytes used (for MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        match &self.repr {
            Repr::Ints(s) => s.data.capacity(),
            Repr::Table(t) => {
                let node = std::mem::size_of::<Option<Box<()>>>() + std::mem::size_of::<Entry>();
                t.dict.buckets() * std::mem::size_of::<usize>()
                    + t.dict.len() * node.next_power_of_two()
                    + t.heap
            }
        }
    }

    /// Whether `member` belongs to the set.
    pub fn contains(&self, member: &[u8]) -> bool {
        match &self.repr {
            Repr::Ints(s) => parse_i64(member).is_some_and(|v| s.search(v).is_ok()),
            Repr::Table(t) => t.dict.get(member).is_some(),
        }
    }

    /// Whether `elem` (possibly taken from another set) belongs to the set.
    pub fn contains_elem(&self, elem: Elem) -> bool {
        match (&self.repr, elem) {
            (Repr::Ints(s), Elem::Int(v)) => s.search(v).is_ok(),
            (_, Elem::Bytes(b)) => self.contains(b),
            (Repr::Table(t), Elem::Int(v)) => {
                t.dict.get(IntBuf::new().format(v).as_bytes()).is_some()
            }
        }
    }

    /// Adds `member`; returns whether it was new. The set becomes a
    /// hashtable when the member is not an integer or the intset would
    /// grow past `max_intset` entries.
    pub fn add(&mut self, member: &[u8], max_intset: usize) -> bool {
        match parse_i64(member) {
            Some(v) => self.add_int(v, max_intset),
            None => self.table().insert(member),
        }
    }

    /// Adds `elem` (see [`Set::add`]).
    pub fn add_elem(&mut self, elem: Elem, max_intset: usize) -> bool {
        match elem {
            Elem::Int(v) => self.add_int(v, max_intset),
            Elem::Bytes(b) => self.add(b, max_intset),
        }
    }

    fn add_int(&mut self, v: i64, max_intset: usize) -> bool {
        match &mut self.repr {
            Repr::Ints(s) => {
                let added = s.insert(v);
                // Like Redis, only a successful insertion can convert.
                if added && s.len() > max_intset {
                    self.table();
                }
                added
            }
            Repr::Table(t) => t.insert(IntBuf::new().format(v).as_bytes()),
        }
    }

    /// The hashtable representation, converting an intset first.
    fn table(&mut self) -> &mut Table {
        if let Repr::Ints(s) = &self.repr {
            let mut table = Table::default();
            let mut buf = IntBuf::new();
            for v in s.iter() {
                table.insert(buf.format(v).as_bytes());
            }
            self.repr = Repr::Table(table);
        }
        match &mut self.repr {
            Repr::Table(t) => t,
            Repr::Ints(_) => unreachable!("just converted"),
        }
    }

    /// Removes `member`; returns whether it was present.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Ints(s) => parse_i64(member).is_some_and(|v| s.remove(v)),
            Repr::Table(t) => t.remove(member),
        }
    }

    /// Removes `elem` (possibly taken from another set).
    pub fn remove_elem(&mut self, elem: Elem) -> bool {
        match (&mut self.repr, elem) {
            (Repr::Ints(s), Elem::Int(v)) => s.remove(v),
            (_, Elem::Bytes(b)) => self.remove(b),
            (Repr::Table(t), Elem::Int(v)) => t.remove(IntBuf::new().format(v).as_bytes()),
        }
    }

    /// Iterates over the members: ascending for an intset, table order for
    /// a hashtable.
    pub fn iter(&self) -> impl Iterator<Item = Elem<'_>> {
        let (ints, table) = match &self.repr {
            Repr::Ints(s) => (Some(s.iter().map(Elem::Int)), None),
            Repr::Table(t) => (
                None,
                Some(t.dict.iter().map(|e| Elem::Bytes(e.0.as_bytes()))),
            ),
        };
        ints.into_iter()
            .flatten()
            .chain(table.into_iter().flatten())
    }

    /// A random member.
    pub fn random(&self) -> Option<Elem<'_>> {
        match &self.repr {
            Repr::Ints(s) if s.len() > 0 => Some(Elem::Int(s.get(random_u64() as usize % s.len()))),
            Repr::Ints(_) => None,
            Repr::Table(t) => t
                .dict
                .random(random_u64())
                .map(|e| Elem::Bytes(e.0.as_bytes())),
        }
    }

    /// `count` distinct random members, in random order; the whole set
    /// when `count >= len`.
    pub fn sample(&self, count: usize) -> Vec<Elem<'_>> {
        let len = self.len();
        if count >= len {
            return self.iter().collect();
        }
        match &self.repr {
            Repr::Ints(s) => distinct_indices(len, count)
                .into_iter()
                .map(|i| Elem::Int(s.get(i)))
                .collect(),
            Repr::Table(t) if dense(count, len) => {
                let all: Vec<&Entry> = t.dict.iter().collect();
                distinct_indices(len, count)
                    .into_iter()
                    .map(|i| Elem::Bytes(all[i].0.as_bytes()))
                    .collect()
            }
            Repr::Table(t) => {
                // Few members wanted from a large table: sample and reject
                // repeats.
                let mut seen = HashSet::with_capacity(count);
                let mut out = Vec::with_capacity(count);
                while out.len() < count {
                    let Some(e) = t.dict.random(random_u64()) else {
                        break;
                    };
                    if seen.insert(e.0.as_bytes()) {
                        out.push(Elem::Bytes(e.0.as_bytes()));
                    }
                }
                out
            }
        }
    }

    /// Removes and returns a random member.
    pub fn pop(&mut self) -> Option<Member> {
        let member = self.random()?.to_member();
        self.remove_elem(member.as_elem());
        Some(member)
    }

    /// Removes and returns `count` distinct random members (all of them
    /// when `count >= len`).
    pub fn pop_many(&mut self, count: usize) -> Vec<Member> {
        if count >= self.len() {
            let all = self.iter().map(|e| e.to_member()).collect();
            self.repr = Repr::default();
            return all;
        }
        match &mut self.repr {
            Repr::Ints(s) => {
                let mut picked = distinct_indices(s.len(), count);
                let out = picked.iter().map(|&i| Member::Int(s.get(i))).collect();
                picked.sort_unstable();
                s.remove_indices(&picked);
                out
            }
            Repr::Table(_) => {
                let out: Vec<Member> = self.sample(count).iter().map(Elem::to_member).collect();
                for m in &out {
                    self.remove_elem(m.as_elem());
                }
                out
            }
        }
    }

    /// Visits part of the set for SSCAN and returns the next cursor (0 at
    /// the end). An intset is visited whole in one call, like Redis.
    pub fn scan(&self, cursor: u64, mut visit: impl FnMut(Elem)) -> u64 {
        match &self.repr {
            Repr::Ints(s) => {
                s.iter().for_each(|v| visit(Elem::Int(v)));
                0
            }
            Repr::Table(t) => t.dict.scan(cursor, |e| visit(Elem::Bytes(e.0.as_bytes()))),
        }
    }
}

/// Whether picking `count` of `len` items is cheaper by listing them all.
fn dense(count: usize, len: usize) -> bool {
    count.saturating_mul(3) >= len
}

/// `count` (< `n`) distinct indexes below `n`, in random order.
fn distinct_indices(n: usize, count: usize) -> Vec<usize> {
    if dense(count, n) {
        // Partial Fisher-Yates shuffle.
        let mut idx: Vec<usize> = (0..n).collect();
        for i in 0..count {
            let j = i + random_u64() as usize % (n - i);
            idx.swap(i, j);
        }
        idx.truncate(count);
        idx
    } else {
        let mut seen = HashSet::with_capacity(count);
        let mut out = Vec::with_capacity(count);
        while out.len() < count {
            let i = random_u64() as usize % n;
            if seen.insert(i) {
                out.push(i);
            }
        }
        out
    }
}

/// A hashtable member: the bytes inline when short.
struct Entry(SmallBytes);

impl Keyed for Entry {
    fn key(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// The `hashtable` encoding, with the heap bytes its members own.
#[derive(Default)]
struct Table {
    dict: Dict<Entry>,
    heap: usize,
}

impl Clone for Table {
    fn clone(&self) -> Self {
        let mut dict = Dict::new();
        for e in self.dict.iter() {
            dict.insert_new(Entry(e.0.clone()));
        }
        Self {
            dict,
            heap: self.heap,
        }
    }
}

impl Table {
    fn insert(&mut self, member: &[u8]) -> bool {
        if self.dict.get(member).is_some() {
            return false;
        }
        let entry = Entry(SmallBytes::new(member));
        self.heap += entry.0.heap_size();
        self.dict.insert_new(entry);
        true
    }

    fn remove(&mut self, member: &[u8]) -> bool {
        match self.dict.remove(member) {
            Some(e) => {
                self.heap -= e.0.heap_size();
                true
            }
            None => false,
        }
    }
}

/// The `intset` encoding: sorted little-endian integers of one width.
#[derive(Clone)]
struct IntSet {
    /// Bytes per integer: 2, 4 or 8.
    width: usize,
    data: Vec<u8>,
}

impl Default for IntSet {
    fn default() -> Self {
        Self {
            width: 2,
            data: Vec::new(),
        }
    }
}

/// The narrowest width that holds `v`.
fn width_of(v: i64) -> usize {
    if i16::try_from(v).is_ok() {
        2
    } else if i32::try_from(v).is_ok() {
        4
    } else {
        8
    }
}

fn encode(v: i64, width: usize, out: &mut Vec<u8>) {
    match width {
        2 => out.extend_from_slice(&(v as i16).to_le_bytes()),
        4 => out.extend_from_slice(&(v as i32).to_le_bytes()),
        _ => out.extend_from_slice(&v.to_le_bytes()),
    }
}

impl IntSet {
    fn len(&self) -> usize {
        self.data.len() / self.width
    }

    fn get(&self, i: usize) -> i64 {
        let b = &self.data[i * self.width..(i + 1) * self.width];
        match *b {
            [x, y] => i16::from_le_bytes([x, y]) as i64,
            [a, b, c, d] => i32::from_le_bytes([a, b, c, d]) as i64,
            _ => i64::from_le_bytes(b.try_into().expect("8-byte slot")),
        }
    }

    fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Binary search: `Ok(index)` when present, `Err(insertion point)`.
    fn search(&self, v: i64) -> Result<usize, usize> {
        if width_of(v) > self.width {
            // Outside the current width: beyond every member.
            return Err(if v < 0 { 0 } else { self.len() });
        }
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.get(mid).cmp(&v) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    fn insert(&mut self, v: i64) -> bool {
        let width = width_of(v);
        if width > self.width {
            let mut data = Vec::with_capacity(self.data.len() / self.width * width + width);
            for x in self.iter() {
                encode(x, width, &mut data);
            }
            self.data = data;
            self.width = width;
        }
        let Err(pos) = self.search(v) else {
            return false;
        };
        let mut bytes = Vec::with_capacity(8);
        encode(v, self.width, &mut bytes);
        let at = pos * self.width;
        self.data.splice(at..at, bytes);
        true
    }

    fn remove(&mut self, v: i64) -> bool {
        let Ok(pos) = self.search(v) else {
            return false;
        };
        let at = pos * self.width;
        self.data.drain(at..at + self.width);
        true
    }

    /// Removes the members at `sorted` (ascending, distinct) indexes.
    fn remove_indices(&mut self, sorted: &[usize]) {
        let w = self.width;
        let mut next = sorted.iter().peekable();
        let mut i = 0;
        self.data.retain(|_| {
            let idx = i / w;
            i += 1;
            while next.peek().is_some_and(|&&r| r < idx) {
                next.next();
            }
            next.peek() != Some(&&idx)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn bytes(e: Elem) -> Vec<u8> {
        e.bytes(&mut IntBuf::new()).to_vec()
    }

    fn members(s: &Set) -> BTreeSet<Vec<u8>> {
        s.iter().map(bytes).collect()
    }

    #[test]
    fn intset_widths_and_order() {
        let mut s = Set::new();
        for v in ["5", "-3", "70000", "1", "-9223372036854775808", "32767"] {
            assert!(s.add(v.as_bytes(), 512));
        }
        assert!(!s.add(b"5", 512));
        assert_eq!(s.encoding(), "intset");
        let order: Vec<i64> = s
            .iter()
            .map(|e| match e {
                Elem::Int(v) => v,
                Elem::Bytes(_) => panic!("intset member"),
            })
            .collect();
        assert_eq!(order, vec![i64::MIN, -3, 1, 5, 32767, 70000]);
        assert!(s.contains(b"70000"));
        assert!(!s.contains(b"070000"));
        assert!(s.remove(b"-9223372036854775808"));
        assert!(!s.remove(b"99999999999"));
        assert_eq!(s.len(), 5);
    }

    #[test]
    fn converts_on_string_or_size() {
        let mut s = Set::new();
        s.add(b"1", 512);
        s.add(b"01", 512);
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.contains(b"1") && s.contains(b"01"));
        let mut s = Set::new();
        for i in 0..3 {
            s.add(i.to_string().as_bytes(), 3);
        }
        assert_eq!(s.encoding(), "intset");
        assert!(!s.add(b"2", 3));
        assert_eq!(s.encoding(), "intset");
        s.add(b"3", 3);
        assert_eq!(s.encoding(), "hashtable");
        assert_eq!(s.len(), 4);
    }

    #[test]
    fn sample_and_pop_are_distinct() {
        for n in [10usize, 600] {
            let mut s = Set::new();
            for i in 0..n {
                s.add(i.to_string().as_bytes(), 512);
            }
            for count in [1, 3, n / 2, n - 1, n, n + 5] {
                let got: Vec<Vec<u8>> = s.sample(count).into_iter().map(bytes).collect();
                let uniq: BTreeSet<_> = got.iter().cloned().collect();
                assert_eq!(got.len(), count.min(n));
                assert_eq!(uniq.len(), got.len());
            }
            let before = members(&s);
            let popped: Vec<Vec<u8>> = s
                .pop_many(n / 3)
                .into_iter()
                .map(Member::into_bytes)
                .collect();
            let uniq: BTreeSet<_> = popped.iter().cloned().collect();
            assert_eq!(uniq.len(), n / 3);
            assert!(uniq.is_disjoint(&members(&s)));
            assert_eq!(&uniq | &members(&s), before);
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Add(Vec<u8>),
        Remove(Vec<u8>),
        Contains(Vec<u8>),
        Pop,
        PopMany(usize),
    }

    fn member() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            (-40i64..40).prop_map(|v| v.to_string().into_bytes()),
            any::<i64>().prop_map(|v| v.to_string().into_bytes()),
            prop::sample::select(vec!["a", "b", "-0", "01", "", "x y"])
                .prop_map(|s| s.as_bytes().to_vec()),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => member().prop_map(Op::Add),
            3 => member().prop_map(Op::Remove),
            2 => member().prop_map(Op::Contains),
            1 => Just(Op::Pop),
            1 => (0usize..8).prop_map(Op::PopMany),
        ]
    }

    proptest! {
        #[test]
        fn matches_btreeset(ops in prop::collection::vec(op(), 1..200), max in 0usize..24) {
            let mut set = Set::new();
            let mut model: BTreeSet<Vec<u8>> = BTreeSet::new();
            for op in ops {
                match op {
                    Op::Add(m) => prop_assert_eq!(set.add(&m, max), model.insert(m)),
                    Op::Remove(m) => prop_assert_eq!(set.remove(&m), model.remove(&m)),
                    Op::Contains(m) => prop_assert_eq!(set.contains(&m), model.contains(&m)),
                    Op::Pop => match set.pop() {
                        Some(m) => prop_assert!(model.remove(&m.into_bytes())),
                        None => prop_assert!(model.is_empty()),
                    },
                    Op::PopMany(n) => {
                        let popped = set.pop_many(n);
                        prop_assert_eq!(popped.len(), n.min(model.len()));
                        for m in popped {
                            prop_assert!(model.remove(&m.into_bytes()));
                        }
                    }
                }
                prop_assert_eq!(set.len(), model.len());
                prop_assert_eq!(&members(&set), &model);
                if set.encoding() == "intset" {
                    prop_assert!(set.len() <= max);
                    let ints: Vec<i64> = model
                        .iter()
                        .map(|m| parse_i64(m).expect("intset holds integers"))
                        .collect();
                    let mut sorted = ints.clone();
                    sorted.sort_unstable();
                    let order: Vec<Vec<u8>> = set.iter().map(bytes).collect();
                    let expect: Vec<Vec<u8>> = sorted.iter().map(|v| v.to_string().into_bytes()).collect();
                    prop_assert_eq!(order, expect);
                }
            }
        }
    }
}
