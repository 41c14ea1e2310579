//! The list value type: a quicklist-like deque of byte-packed nodes.
//!
//! Each node is one contiguous buffer of entries, listpack style:
//! `[len varint][bytes][backlen]`, where `backlen` is the size of the first
//! two parts written so it can be read backwards from the entry's end. That
//! makes pushes and pops O(1) at both ends of a node, and a list of small
//! elements costs about two bytes per element beyond the data, with no
//! allocation per element. Nodes are capped like Redis's quicklist by
//! `list-max-listpack-size` (`fill`): a negative value limits a node's bytes
//! (-1 = 4 KB … -5 = 64 KB), a positive one its entry count (and 8 KB).

use std::collections::VecDeque;

/// Byte limits of the negative `fill` levels (Redis's `optimization_level`).
const SIZE_LEVELS: [usize; 5] = [4096, 8192, 16384, 32768, 65536];

/// Largest node a positive `fill` may build (Redis's `SIZE_SAFETY_LIMIT`).
const SIZE_SAFETY_LIMIT: usize = 8192;

/// Largest `fill` honoured (Redis's `FILL_MAX`).
const FILL_MAX: i64 = 1 << 15;

fn varint_len(mut v: usize) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// Size of an entry holding `len` bytes.
fn entry_size(len: usize) -> usize {
    let head = varint_len(len) + len;
    head + varint_len(head)
}

/// Writes one entry into `dst`, which is exactly `entry_size(data.len())`.
fn write_entry(dst: &mut [u8], data: &[u8]) {
    let mut pos = 0;
    let mut v = data.len();
    while v >= 0x80 {
        dst[pos] = (v as u8 & 0x7f) | 0x80;
        v >>= 7;
        pos += 1;
    }
    dst[pos] = v as u8;
    pos += 1;
    dst[pos..pos + data.len()].copy_from_slice(data);
    pos += data.len();
    // The backlen: 7-bit groups, most significant first; every byte but the
    // first carries the "more bytes before me" flag.
    let head = pos;
    let n = varint_len(head);
    for i in 0..n {
        let group = ((head >> (7 * (n - 1 - i))) & 0x7f) as u8;
        dst[pos + i] = if i == 0 { group } else { group | 0x80 };
    }
}

/// One node: packed entries and their count.
#[derive(Clone, Default)]
struct Node {
    buf: Vec<u8>,
    count: u32,
}

impl Node {
    /// The data range and the end of the entry starting at `off`.
    fn entry(&self, off: usize) -> (std::ops::Range<usize>, usize) {
        let mut len = 0usize;
        let mut shift = 0;
        let mut pos = off;
        loop {
            let b = self.buf[pos];
            len |= ((b & 0x7f) as usize) << shift;
            pos += 1;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        let head = pos - off + len;
        (pos..pos + len, off + head + varint_len(head))
    }

    /// The start of the entry that ends at `end`.
    fn prev(&self, end: usize) -> usize {
        let mut head = 0usize;
        let mut shift = 0;
        let mut pos = end;
        loop {
            pos -= 1;
            let b = self.buf[pos];
            head |= ((b & 0x7f) as usize) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        pos - head
    }

    /// Byte offset of entry `i` (`i == count` gives the end).
    fn offset_of(&self, i: usize) -> usize {
        let count = self.count as usize;
        if i <= count / 2 {
            (0..i).fold(0, |off, _| self.entry(off).1)
        } else {
            (i..count).fold(self.buf.len(), |end, _| self.prev(end))
        }
    }

    fn get(&self, i: usize) -> &[u8] {
        &self.buf[self.entry(self.offset_of(i)).0]
    }

    /// Replaces bytes `start..end` by a fresh entry holding `data`.
    fn splice(&mut self, start: usize, end: usize, data: &[u8]) {
        let size = entry_size(data.len());
        let old = self.buf.len();
        let removed = end - start;
        if size > removed {
            self.buf.reserve_exact(size - removed);
            self.buf.resize(old + size - removed, 0);
            self.buf.copy_within(end..old, start + size);
        } else {
            self.buf.copy_within(end..old, start + size);
            self.buf.truncate(old - (removed - size));
        }
        write_entry(&mut self.buf[start..start + size], data);
    }

    fn insert(&mut self, i: usize, data: &[u8]) {
        let off = self.offset_of(i);
        self.splice(off, off, data);
        self.count += 1;
    }

    fn push_back(&mut self, data: &[u8]) {
        let size = entry_size(data.len());
        let old = self.buf.len();
        self.buf.reserve_exact(size);
        self.buf.resize(old + size, 0);
        write_entry(&mut self.buf[old..], data);
        self.count += 1;
    }

    fn replace(&mut self, i: usize, data: &[u8]) {
        let off = self.offset_of(i);
        let end = self.entry(off).1;
        self.splice(off, end, data);
    }

    /// Removes entries `from..to`.
    fn remove_range(&mut self, from: usize, to: usize) {
        let start = self.offset_of(from);
        let end = (from..to).fold(start, |off, _| self.entry(off).1);
        self.buf.drain(start..end);
        self.count -= (to - from) as u32;
        if self.buf.capacity() > 2 * self.buf.len() + 64 {
            self.buf.shrink_to_fit();
        }
    }

    /// Moves entries `at..` into a new node.
    fn split_off(&mut self, at: usize) -> Node {
        let off = self.offset_of(at);
        let tail = Node {
            buf: self.buf[off..].to_vec(),
            count: self.count - at as u32,
        };
        self.buf.truncate(off);
        self.buf.shrink_to_fit();
        self.count = at as u32;
        tail
    }

    fn iter(&self) -> NodeIter<'_> {
        NodeIter {
            node: self,
            front: 0,
            back: self.buf.len(),
        }
    }
}

/// Entries of one node, both ways.
struct NodeIter<'a> {
    node: &'a Node,
    front: usize,
    back: usize,
}

impl<'a> Iterator for NodeIter<'a> {
    type Item = (usize, usize, &'a [u8]);

    /// Yields (start, end, data) of each entry.
    fn next(&mut self) -> Option<Self::Item> {
        if self.front >= self.back {
            return None;
        }
        let start = self.front;
        let (data, end) = self.node.entry(start);
        self.front = end;
        Some((start, end, &self.node.buf[data]))
    }
}

impl DoubleEndedIterator for NodeIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.front >= self.back {
            return None;
        }
        let end = self.back;
        let start = self.node.prev(end);
        self.back = start;
        let (data, _) = self.node.entry(start);
        Some((start, end, &self.node.buf[data]))
    }
}

/// A list value.
#[derive(Clone)]
pub struct List {
    nodes: VecDeque<Node>,
    len: usize,
    fill: i32,
}

impl Default for List {
    fn default() -> Self {
        Self::new(-2)
    }
}

impl List {
    /// An empty list whose nodes follow `list-max-listpack-size` = `fill`
    /// (clamped as Redis does).
    pub fn new(fill: i64) -> Self {
        Self {
            nodes: VecDeque::new(),
            len: 0,
            fill: fill.clamp(-(SIZE_LEVELS.len() as i64), FILL_MAX) as i32,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds nothing (an empty collection is deleted).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The name `OBJECT ENCODING` reports (Redis 7.0 lists are always
    /// quicklists).
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// Approximate heap bytes used (for MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>()
            + self.nodes.iter().map(|n| n.buf.capacity()).sum::<usize>()
    }

    /// Whether `node` may grow by `extra` bytes and one entry
    /// (Redis's `_quicklistNodeAllowInsert`).
    fn allows(&self, node: &Node, extra: usize) -> bool {
        let size = node.buf.len() + extra;
        if self.fill < 0 {
            size <= SIZE_LEVELS[(-self.fill - 1) as usize]
        } else {
            size <= SIZE_SAFETY_LIMIT && (node.count as i64) < self.fill as i64
        }
    }

    /// Whether `node` holds more than its limit allows.
    fn oversized(&self, node: &Node) -> bool {
        node.count > 1
            && if self.fill < 0 {
                node.buf.len() > SIZE_LEVELS[(-self.fill - 1) as usize]
            } else {
                node.buf.len() > SIZE_SAFETY_LIMIT || node.count as i64 > self.fill.max(1) as i64
            }
    }

    fn new_node(&mut self, at: usize, data: &[u8]) {
        let mut node = Node::default();
        node.buf.reserve_exact(entry_size(data.len()));
        node.push_back(data);
        if self.nodes.capacity() == 0 {
            self.nodes.reserve_exact(1);
        }
        self.nodes.insert(at, node);
    }

    /// Appends `data` at the tail.
    pub fn push_back(&mut self, data: &[u8]) {
        let size = entry_size(data.len());
        match self.nodes.back() {
            Some(tail) if self.allows(tail, size) => {
                if let Some(tail) = self.nodes.back_mut() {
                    tail.push_back(data);
                }
            }
            _ => self.new_node(self.nodes.len(), data),
        }
        self.len += 1;
    }

    /// Prepends `data` at the head.
    pub fn push_front(&mut self, data: &[u8]) {
        let size = entry_size(data.len());
        match self.nodes.front() {
            Some(head) if self.allows(head, size) => {
                if let Some(head) = self.nodes.front_mut() {
                    head.splice(0, 0, data);
                    head.count += 1;
                }
            }
            _ => self.new_node(0, data),
        }
        self.len += 1;
    }

    /// Removes and returns the head element.
    pub fn pop_front(&mut self) -> Option<Vec<u8>> {
        let node = self.nodes.front_mut()?;
        let (data, end) = node.entry(0);
        let value = node.buf[data].to_vec();
        node.buf.drain(..end);
        node.count -= 1;
        self.after_removal(0);
        Some(value)
    }

    /// Removes and returns the tail element.
    pub fn pop_back(&mut self) -> Option<Vec<u8>> {
        let last = self.nodes.len().checked_sub(1)?;
        let node = &mut self.nodes[last];
        let start = node.prev(node.buf.len());
        let value = node.buf[node.entry(start).0].to_vec();
        node.buf.truncate(start);
        node.count -= 1;
        self.after_removal(last);
        Some(value)
    }

    /// Bookkeeping after one element left node `idx`.
    fn after_removal(&mut self, idx: usize) {
        self.len -= 1;
        if self.nodes[idx].count == 0 {
            self.nodes.remove(idx);
        }
    }

    /// The node holding element `index` (< len) and the position in it,
    /// walking from the nearer end.
    fn locate(&self, index: usize) -> (usize, usize) {
        if index < self.len / 2 {
            let mut i = index;
            for (n, node) in self.nodes.iter().enumerate() {
                if i < node.count as usize {
                    return (n, i);
                }
                i -= node.count as usize;
            }
        } else {
            let mut from_end = self.len - index;
            for (n, node) in self.nodes.iter().enumerate().rev() {
                if from_end <= node.count as usize {
                    return (n, node.count as usize - from_end);
                }
                from_end -= node.count as usize;
            }
        }
        unreachable!("index checked against len")
    }

    /// Resolves a Redis index (negative counts from the tail).
    pub fn index(&self, index: i64) -> Option<usize> {
        let i = if index < 0 {
            self.len as i64 + index
        } else {
            index
        };
        (0..self.len as i64).contains(&i).then_some(i as usize)
    }

    /// Element `index` (0-based from the head).
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        if index >= self.len {
            return None;
        }
        let (n, i) = self.locate(index);
        Some(self.nodes[n].get(i))
    }

    /// Replaces element `index`; false if out of range.
    pub fn set(&mut self, index: usize, data: &[u8]) -> bool {
        if index >= self.len {
            return false;
        }
        let (n, i) = self.locate(index);
        self.nodes[n].replace(i, data);
        self.split_if_oversized(n);
        true
    }

    /// Inserts `data` so that it becomes element `index` (`index == len`
    /// appends).
    pub fn insert(&mut self, index: usize, data: &[u8]) {
        if index >= self.len {
            self.push_back(data);
            return;
        }
        if index == 0 {
            self.push_front(data);
            return;
        }
        let (n, i) = self.locate(index);
        let size = entry_size(data.len());
        if self.allows(&self.nodes[n], size) {
            self.nodes[n].insert(i, data);
        } else if i == 0 && self.allows(&self.nodes[n - 1], size) {
            self.nodes[n - 1].push_back(data);
        } else {
            if i > 0 {
                let tail = self.nodes[n].split_off(i);
                self.nodes.insert(n + 1, tail);
            }
            let at = if i > 0 { n + 1 } else { n };
            self.new_node(at, data);
        }
        self.len += 1;
    }

    /// Splits node `n` in halves until every part respects the limit.
    fn split_if_oversized(&mut self, n: usize) {
        if !self.oversized(&self.nodes[n]) {
            return;
        }
        let half = self.nodes[n].count as usize / 2;
        let tail = self.nodes[n].split_off(half);
        self.nodes.insert(n + 1, tail);
        self.split_if_oversized(n + 1);
        self.split_if_oversized(n);
    }

    /// Removes up to `limit` elements equal to `value` (0 = all), scanning
    /// from the tail when `from_tail`. Returns how many were removed.
    pub fn remove_matching(&mut self, value: &[u8], limit: usize, from_tail: bool) -> usize {
        let mut removed = 0;
        let order: Vec<usize> = if from_tail {
            (0..self.nodes.len()).rev().collect()
        } else {
            (0..self.nodes.len()).collect()
        };
        for n in order {
            if limit != 0 && removed == limit {
                break;
            }
            let node = &self.nodes[n];
            let mut hits = Vec::new();
            let mut check = |(start, end, data): (usize, usize, &[u8])| {
                if data == value && (limit == 0 || removed + hits.len() < limit) {
                    hits.push((start, end));
                }
            };
            if from_tail {
                node.iter().rev().for_each(&mut check);
                hits.reverse();
            } else {
                node.iter().for_each(&mut check);
            }
            if hits.is_empty() {
                continue;
            }
            let mut buf = Vec::with_capacity(node.buf.len());
            let mut pos = 0;
            for &(start, end) in &hits {
                buf.extend_from_slice(&node.buf[pos..start]);
                pos = end;
            }
            buf.extend_from_slice(&node.buf[pos..]);
            let node = &mut self.nodes[n];
            node.buf = buf;
            node.count -= hits.len() as u32;
            removed += hits.len();
        }
        self.nodes.retain(|n| n.count > 0);
        self.len -= removed;
        removed
    }

    /// Keeps elements `start..=stop` (already clamped, `start <= stop <
    /// len`) and drops the rest.
    pub fn retain_range(&mut self, start: usize, stop: usize) {
        self.drop_front(start);
        self.drop_back(self.len - (stop - start + 1));
    }

    /// Removes the first `n` elements.
    pub fn drop_front(&mut self, mut n: usize) {
        self.len -= n;
        while n > 0 {
            let Some(node) = self.nodes.front_mut() else {
                break;
            };
            let count = node.count as usize;
            if count <= n {
                n -= count;
                self.nodes.pop_front();
            } else {
                node.remove_range(0, n);
                n = 0;
            }
        }
    }

    /// Removes the last `n` elements.
    pub fn drop_back(&mut self, mut n: usize) {
        self.len -= n;
        while n > 0 {
            let Some(node) = self.nodes.back_mut() else {
                break;
            };
            let count = node.count as usize;
            if count <= n {
                n -= count;
                self.nodes.pop_back();
            } else {
                node.remove_range(count - n, count);
                n = 0;
            }
        }
    }

    /// Elements from the head.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &[u8]> + '_ {
        self.nodes
            .iter()
            .flat_map(|n| n.iter().map(|(_, _, data)| data))
    }

    /// Elements from `index` towards the tail, starting without walking
    /// the skipped nodes' entries.
    pub fn iter_from(&self, index: usize) -> impl Iterator<Item = &[u8]> + '_ {
        let (first, skip) = if index < self.len {
            self.locate(index)
        } else {
            (self.nodes.len(), 0)
        };
        self.nodes
            .range(first..)
            .enumerate()
            .flat_map(move |(k, n)| {
                let it = n.iter().map(|(_, _, data)| data);
                it.skip(if k == 0 { skip } else { 0 })
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn contents(l: &List) -> Vec<Vec<u8>> {
        l.iter().map(<[u8]>::to_vec).collect()
    }

    #[test]
    fn entry_encoding_round_trips_long_values() {
        let mut l = List::new(-1);
        let big = vec![7u8; 20_000];
        l.push_back(b"a");
        l.push_back(&big);
        l.push_front(&big[..300]);
        assert_eq!(l.get(1), Some(&b"a"[..]));
        assert_eq!(l.get(2), Some(&big[..]));
        assert_eq!(l.pop_back().as_deref(), Some(&big[..]));
        assert_eq!(l.pop_front().as_deref(), Some(&big[..300]));
        assert_eq!(l.len(), 1);
    }

    #[test]
    fn small_elements_are_packed() {
        let mut l = List::new(-2);
        for i in 0..100u32 {
            l.push_back(format!("{i:016}").as_bytes());
        }
        assert_eq!(l.nodes.len(), 1);
        assert!(l.heap_size() < 100 * 16 + 300);
    }

    #[derive(Debug, Clone)]
    enum Op {
        PushFront(Vec<u8>),
        PushBack(Vec<u8>),
        PopFront,
        PopBack,
        Insert(usize, Vec<u8>),
        Set(usize, Vec<u8>),
        Trim(usize, usize),
        Rem(Vec<u8>, usize, bool),
        Range(usize),
    }

    fn value() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(0u8..3, 0..3),
            proptest::collection::vec(any::<u8>(), 0..200),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            value().prop_map(Op::PushFront),
            value().prop_map(Op::PushBack),
            Just(Op::PopFront),
            Just(Op::PopBack),
            (any::<usize>(), value()).prop_map(|(i, v)| Op::Insert(i, v)),
            (any::<usize>(), value()).prop_map(|(i, v)| Op::Set(i, v)),
            (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Op::Trim(a, b)),
            (value(), 0usize..4, any::<bool>()).prop_map(|(v, n, t)| Op::Rem(v, n, t)),
            any::<usize>().prop_map(Op::Range),
        ]
    }

    proptest! {
        #[test]
        fn behaves_like_a_deque(
            fill in prop_oneof![Just(-1i64), Just(1), Just(2), Just(3), Just(5)],
            ops in proptest::collection::vec(op(), 1..200),
        ) {
            let mut l = List::new(fill);
            let mut m: VecDeque<Vec<u8>> = VecDeque::new();
            for op in ops {
                match op {
                    Op::PushFront(v) => { l.push_front(&v); m.push_front(v); }
                    Op::PushBack(v) => { l.push_back(&v); m.push_back(v); }
                    Op::PopFront => prop_assert_eq!(l.pop_front(), m.pop_front()),
                    Op::PopBack => prop_assert_eq!(l.pop_back(), m.pop_back()),
                    Op::Insert(i, v) => {
                        let i = i % (m.len() + 1);
                        l.insert(i, &v);
                        m.insert(i, v);
                    }
                    Op::Set(i, v) => {
                        if m.is_empty() {
                            prop_assert!(!l.set(0, &v));
                        } else {
                            let i = i % m.len();
                            prop_assert!(l.set(i, &v));
                            m[i] = v;
                        }
                    }
                    Op::Trim(a, b) => {
                        if !m.is_empty() {
                            let a = a % m.len();
                            let b = a + b % (m.len() - a);
                            l.retain_range(a, b);
                            m = m.range(a..=b).cloned().collect();
                        }
                    }
                    Op::Rem(v, limit, from_tail) => {
                        let mut removed = 0;
                        let mut keep: Vec<bool> = vec![true; m.len()];
                        let idx: Vec<usize> = if from_tail {
                            (0..m.len()).rev().collect()
                        } else {
                            (0..m.len()).collect()
                        };
                        for i in idx {
                            if m[i] == v && (limit == 0 || removed < limit) {
                                keep[i] = false;
                                removed += 1;
                            }
                        }
                        prop_assert_eq!(l.remove_matching(&v, limit, from_tail), removed);
                        let mut k = keep.into_iter();
                        m.retain(|_| k.next().unwrap_or(true));
                    }
                    Op::Range(i) => {
                        let i = i % (m.len() + 1);
                        let got: Vec<Vec<u8>> = l.iter_from(i).map(<[u8]>::to_vec).collect();
                        let want: Vec<Vec<u8>> = m.range(i..).cloned().collect();
                        prop_assert_eq!(got, want);
                        if i < m.len() {
                            prop_assert_eq!(l.get(i), Some(&m[i][..]));
                        }
                    }
                }
                prop_assert_eq!(l.len(), m.len());
                prop_assert_eq!(l.nodes.iter().map(|n| n.count as usize).sum::<usize>(), m.len());
                prop_assert!(l.nodes.iter().all(|n| n.count > 0));
                let rev: Vec<Vec<u8>> = l.iter().rev().map(<[u8]>::to_vec).collect();
                let mut want: Vec<Vec<u8>> = m.iter().cloned().collect();
                prop_assert_eq!(contents(&l), want.clone());
                want.reverse();
                prop_assert_eq!(rev, want);
            }
        }
    }
}
