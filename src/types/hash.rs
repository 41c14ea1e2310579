//! The hash value type.
//!
//! Like Redis, a small hash is one compact buffer of field/value strings in
//! insertion order (reported as `listpack`), and becomes a hash table
//! (`hashtable`, a [`Dict`] with the SCAN cursor guarantee) once it has
//! more than `hash-max-listpack-entries` fields or a field or value longer
//! than `hash-max-listpack-value` bytes. It never converts back.

use std::collections::HashSet;

use crate::keyspace::dict::{Dict, Keyed};
use crate::util::rand::random_u64;

/// Redis refuses to grow a listpack past 1 GB (`lpSafeToAdd`); a hash that
/// would converts to the table encoding instead.
const PACK_MAX_BYTES: usize = 1 << 30;

/// The thresholds of the compact encoding (from the configuration).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// `hash-max-listpack-entries`.
    pub max_entries: usize,
    /// `hash-max-listpack-value`.
    pub max_value: usize,
}

/// A hash value.
#[derive(Default)]
pub struct Hash {
    repr: Repr,
}

enum Repr {
    Pack(Pack),
    /// Boxed so a small hash's header stays small.
    Table(Box<Table>),
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Pack(Pack::default())
    }
}

/// Field/value pairs in insertion order in one exact-size buffer: the
/// number of pairs, then every string, each as a LEB128 length followed
/// by its bytes (one byte of overhead for strings under 128 bytes, less
/// than a Redis listpack entry). Empty when the hash is.
#[derive(Clone, Default)]
struct Pack {
    buf: Box<[u8]>,
}

/// One field and its value in a single allocation (`field ++ value`).
struct Pair {
    data: Box<[u8]>,
    field_len: u32,
}

impl Pair {
    fn new(field: &[u8], value: &[u8]) -> Self {
        let mut data = Vec::with_capacity(field.len() + value.len());
        data.extend_from_slice(field);
        data.extend_from_slice(value);
        Pair {
            data: data.into_boxed_slice(),
            field_len: field.len() as u32,
        }
    }

    fn field(&self) -> &[u8] {
        &self.data[..self.field_len as usize]
    }

    fn value(&self) -> &[u8] {
        &self.data[self.field_len as usize..]
    }
}

impl Keyed for Pair {
    fn key(&self) -> &[u8] {
        self.field()
    }
}

/// The large encoding: the table and the bytes its pairs hold (so MEMORY
/// USAGE needs no walk).
#[derive(Default)]
struct Table {
    dict: Dict<Pair>,
    bytes: usize,
}

impl Table {
    fn insert(&mut self, field: &[u8], value: &[u8]) -> bool {
        self.bytes += field.len() + value.len();
        match self.dict.insert(Pair::new(field, value)) {
            Some(old) => {
                self.bytes -= old.data.len();
                false
            }
            None => true,
        }
    }
}

/// Appends `n` in LEB128.
fn put_varint(buf: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        buf.push((n as u8) | 0x80);
        n >>= 7;
    }
    buf.push(n as u8);
}

/// Reads a LEB128 number at `pos`; returns it and the position after it.
fn get_varint(buf: &[u8], mut pos: usize) -> (usize, usize) {
    let mut n = 0usize;
    let mut shift = 0;
    loop {
        let b = buf[pos];
        pos += 1;
        n |= ((b & 0x7f) as usize) << shift;
        if b & 0x80 == 0 {
            return (n, pos);
        }
        shift += 7;
    }
}

/// Bytes [`put_varint`] writes for `n`.
fn varint_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        len += 1;
        n >>= 7;
    }
    len
}

/// Appends `s` with its length prefix.
fn put_str(buf: &mut Vec<u8>, s: &[u8]) {
    put_varint(buf, s.len());
    buf.extend_from_slice(s);
}

/// Bytes [`put_str`] writes for `s`.
fn encoded_len(s: &[u8]) -> usize {
    varint_len(s.len()) + s.len()
}

/// Reads the string at `pos`; returns it and the position after it.
fn get_str(buf: &[u8], pos: usize) -> (&[u8], usize) {
    let (len, pos) = get_varint(buf, pos);
    (&buf[pos..pos + len], pos + len)
}

/// A located pair in a [`Pack`]: where the field starts, where the value
/// starts and where the pair ends.
struct Slot {
    start: usize,
    value_at: usize,
    end: usize,
}

impl Pack {
    /// Number of pairs and where the first one starts.
    fn header(&self) -> (usize, usize) {
        if self.buf.is_empty() {
            (0, 0)
        } else {
            get_varint(&self.buf, 0)
        }
    }

    fn pairs(&self) -> usize {
        self.header().0
    }

    fn iter(&self) -> PackIter<'_> {
        PackIter {
            buf: &self.buf,
            pos: self.header().1,
        }
    }

    fn find(&self, field: &[u8]) -> Option<Slot> {
        let mut pos = self.header().1;
        while pos < self.buf.len() {
            let (f, value_at) = get_str(&self.buf, pos);
            let (_, end) = get_str(&self.buf, value_at);
            if f == field {
                return Some(Slot {
                    start: pos,
                    value_at,
                    end,
                });
            }
            pos = end;
        }
        None
    }

    fn get(&self, field: &[u8]) -> Option<&[u8]> {
        self.find(field)
            .map(|slot| get_str(&self.buf, slot.value_at).0)
    }

    /// Replaces the bytes in `range` with `with` and the pair count with
    /// `pairs`, leaving an exact-size buffer (as a listpack is), or none
    /// when no pair is left.
    fn edit(&mut self, range: std::ops::Range<usize>, with: &[u8], pairs: usize) {
        let (old_pairs, body) = self.header();
        let mut v = std::mem::take(&mut self.buf).into_vec();
        if pairs == 0 {
            return;
        }
        let grow = (with.len() + varint_len(pairs)).saturating_sub(range.len() + body);
        v.reserve_exact(grow);
        v.splice(range, with.iter().copied());
        if old_pairs != pairs || body == 0 {
            let mut head = Vec::with_capacity(varint_len(pairs));
            put_varint(&mut head, pairs);
            v.splice(0..body, head);
        }
        self.buf = v.into_boxed_slice();
    }

    /// Sets a field; returns whether it is new.
    fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        let pairs = self.pairs();
        match self.find(field) {
            Some(slot) => {
                let mut enc = Vec::with_capacity(encoded_len(value));
                put_str(&mut enc, value);
                self.edit(slot.value_at..slot.end, &enc, pairs);
                false
            }
            None => {
                let mut enc = Vec::with_capacity(encoded_len(field) + encoded_len(value));
                put_str(&mut enc, field);
                put_str(&mut enc, value);
                let end = self.buf.len();
                self.edit(end..end, &enc, pairs + 1);
                true
            }
        }
    }

    fn remove(&mut self, field: &[u8]) -> bool {
        let Some(slot) = self.find(field) else {
            return false;
        };
        self.edit(slot.start..slot.end, &[], self.pairs() - 1);
        true
    }
}

struct PackIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for PackIter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let (f, at) = get_str(self.buf, self.pos);
        let (v, end) = get_str(self.buf, at);
        self.pos = end;
        Some((f, v))
    }
}

/// Iterator over a hash's field/value pairs (insertion order while compact).
pub struct Iter<'a>(IterRepr<'a>);

enum IterRepr<'a> {
    Pack(PackIter<'a>),
    Table(Box<dyn Iterator<Item = &'a Pair> + 'a>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IterRepr::Pack(it) => it.next(),
            IterRepr::Table(it) => it.next().map(|p| (p.field(), p.value())),
        }
    }
}

impl Clone for Hash {
    fn clone(&self) -> Self {
        let repr = match &self.repr {
            Repr::Pack(p) => Repr::Pack(p.clone()),
            Repr::Table(t) => {
                let mut copy = Table::default();
                for p in t.dict.iter() {
                    copy.insert(p.field(), p.value());
                }
                Repr::Table(Box::new(copy))
            }
        };
        Hash { repr }
    }
}

impl Hash {
    /// An empty hash in the compact encoding.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Pack(p) => p.pairs(),
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
            Repr::Pack(_) => "listpack",
            Repr::Table(_) => "hashtable",
        }
    }

    /// Approximate heap bytes used (for MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        match &self.repr {
            Repr::Pack(p) => p.buf.len(),
            Repr::Table(t) => {
                // Each pair is a chain node (link + pair) plus its bytes.
                let node = std::mem::size_of::<Pair>() + std::mem::size_of::<usize>();
                std::mem::size_of::<Table>()
                    + t.dict.buckets() * std::mem::size_of::<usize>()
                    + t.dict.len() * node
                    + t.bytes
            }
        }
    }

    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match &self.repr {
            Repr::Pack(p) => p.get(field),
            Repr::Table(t) => t.dict.get(field).map(Pair::value),
        }
    }

    /// Whether `field` exists.
    pub fn contains(&self, field: &[u8]) -> bool {
        match &self.repr {
            Repr::Pack(p) => p.find(field).is_some(),
            Repr::Table(t) => t.dict.get(field).is_some(),
        }
    }

    /// Whether a write of these strings makes the compact form convert
    /// first (Redis's `hashTypeTryConversion`): one is longer than the
    /// value limit, or the buffer would pass 1 GB.
    fn too_long_for_pack(&self, strings: &[&[u8]], limits: Limits) -> bool {
        let Repr::Pack(p) = &self.repr else {
            return false;
        };
        let mut sum = 0usize;
        for s in strings {
            if s.len() > limits.max_value {
                return true;
            }
            sum += s.len();
        }
        p.buf.len() + sum > PACK_MAX_BYTES
    }

    /// Converts to the table encoding (Redis never converts back).
    fn convert(&mut self) {
        let Repr::Pack(p) = &self.repr else {
            return;
        };
        let mut table = Table::default();
        for (f, v) in p.iter() {
            table.insert(f, v);
        }
        self.repr = Repr::Table(Box::new(table));
    }

    /// Sets `field` to `value`, converting to the table encoding when the
    /// compact one would pass `limits`; returns whether the field is new.
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: Limits) -> bool {
        if self.too_long_for_pack(&[field, value], limits) {
            self.convert();
        }
        match &mut self.repr {
            Repr::Pack(p) => {
                let new = p.set(field, value);
                // Checked after updates too, as Redis does, so a lowered
                // limit converts on the next write.
                if p.pairs() > limits.max_entries {
                    self.convert();
                }
                new
            }
            Repr::Table(t) => t.insert(field, value),
        }
    }

    /// Sets several `[field, value]` pairs, deciding the conversion for
    /// long strings over all of them first like HSET; returns how many
    /// fields are new.
    pub fn set_pairs(&mut self, pairs: &[&[u8]], limits: Limits) -> usize {
        if self.too_long_for_pack(pairs, limits) {
            self.convert();
        }
        pairs
            .chunks_exact(2)
            .filter(|kv| self.set(kv[0], kv[1], limits))
            .count()
    }

    /// Removes `field`; returns whether it existed.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Pack(p) => p.remove(field),
            Repr::Table(t) => match t.dict.remove(field) {
                Some(old) => {
                    t.bytes -= old.data.len();
                    true
                }
                None => false,
            },
        }
    }

    /// All pairs: insertion order while compact, table order otherwise.
    pub fn iter(&self) -> Iter<'_> {
        Iter(match &self.repr {
            Repr::Pack(p) => IterRepr::Pack(p.iter()),
            Repr::Table(t) => IterRepr::Table(Box::new(t.dict.iter())),
        })
    }

    /// One step of HSCAN from `cursor`, visiting pairs; returns the next
    /// cursor. The compact form is returned whole with cursor 0, like
    /// Redis; the table visits buckets until about `count` strings (fields
    /// and values) were seen or `10 * count` buckets were walked.
    pub fn scan(&self, cursor: u64, count: u64, mut visit: impl FnMut(&[u8], &[u8])) -> u64 {
        match &self.repr {
            Repr::Pack(p) => {
                for (f, v) in p.iter() {
                    visit(f, v);
                }
                0
            }
            Repr::Table(t) => {
                let mut cursor = cursor;
                let mut budget = count.saturating_mul(10);
                let mut seen = 0u64;
                loop {
                    cursor = t.dict.scan(cursor, |p| {
                        seen += 2;
                        visit(p.field(), p.value());
                    });
                    if cursor == 0 || budget == 0 || seen >= count {
                        return cursor;
                    }
                    budget -= 1;
                }
            }
        }
    }

    /// A random pair (`None` when empty).
    pub fn random(&self) -> Option<(&[u8], &[u8])> {
        match &self.repr {
            Repr::Pack(p) => {
                let n = p.pairs() as u64;
                if n == 0 {
                    return None;
                }
                p.iter().nth((random_u64() % n) as usize)
            }
            Repr::Table(t) => t.dict.random(random_u64()).map(|p| (p.field(), p.value())),
        }
    }

    /// An endless stream of random pairs, possibly repeated (HRANDFIELD's
    /// negative count takes as many as asked, without collecting them
    /// first). Empty for an empty hash.
    pub fn random_stream(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        // The compact form is indexed once instead of walked per pick.
        let index: Vec<(&[u8], &[u8])> = match &self.repr {
            Repr::Pack(p) => p.iter().collect(),
            Repr::Table(_) => Vec::new(),
        };
        let empty = self.is_empty();
        std::iter::repeat_with(move || {
            if index.is_empty() {
                self.random()
            } else {
                Some(index[(random_u64() % index.len() as u64) as usize])
            }
        })
        .take_while(move |_| !empty)
        .flatten()
    }

    /// `count` distinct random pairs (all of them when `count` reaches the
    /// size), as HRANDFIELD with a positive count.
    pub fn random_distinct(&self, count: usize) -> Vec<(&[u8], &[u8])> {
        let size = self.len();
        if count >= size {
            return self.iter().collect();
        }
        // Sparse picks from a big table: draw until enough distinct ones
        // (Redis's "case 4"); otherwise a partial shuffle of all pairs.
        if matches!(self.repr, Repr::Table(_)) && count.saturating_mul(3) <= size {
            let mut seen = HashSet::with_capacity(count);
            let mut out = Vec::with_capacity(count);
            while out.len() < count {
                if let Some((f, v)) = self.random() {
                    if seen.insert(f) {
                        out.push((f, v));
                    }
                }
            }
            return out;
        }
        let mut all: Vec<_> = self.iter().collect();
        for i in 0..count {
            let j = i + (random_u64() % (size - i) as u64) as usize;
            all.swap(i, j);
        }
        all.truncate(count);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    const SMALL: Limits = Limits {
        max_entries: 8,
        max_value: 16,
    };

    #[test]
    fn pack_keeps_insertion_order_and_updates_in_place() {
        let mut h = Hash::new();
        assert!(h.set(b"a", b"1", SMALL));
        assert!(h.set(b"b", b"2", SMALL));
        assert!(h.set(b"c", b"3", SMALL));
        assert!(!h.set(b"a", b"longer value", SMALL));
        assert!(h.remove(b"b"));
        assert!(!h.remove(b"b"));
        let pairs: Vec<_> = h.iter().collect();
        assert_eq!(
            pairs,
            vec![(&b"a"[..], &b"longer value"[..]), (&b"c"[..], &b"3"[..])]
        );
        assert_eq!(h.encoding(), "listpack");
    }

    #[test]
    fn long_strings_use_multi_byte_lengths() {
        let big = vec![b'x'; 300];
        let limits = Limits {
            max_entries: 8,
            max_value: 1000,
        };
        let mut h = Hash::new();
        h.set(&big, b"v", limits);
        h.set(b"f", &big, limits);
        assert_eq!(h.get(&big), Some(&b"v"[..]));
        assert_eq!(h.get(b"f"), Some(&big[..]));
        assert_eq!(h.encoding(), "listpack");
    }

    #[test]
    fn pack_buffer_is_exact_and_counts_past_127() {
        let limits = Limits {
            max_entries: 1000,
            max_value: 64,
        };
        let mut h = Hash::new();
        for i in 0..200 {
            assert!(h.set(format!("{i}").as_bytes(), b"v", limits));
        }
        assert_eq!(h.len(), 200);
        for i in 0..150 {
            assert!(h.remove(format!("{i}").as_bytes()));
        }
        assert_eq!(h.len(), 50);
        assert_eq!(h.iter().count(), 50);
        assert_eq!(h.get(b"199"), Some(&b"v"[..]));
        for i in 150..200 {
            assert!(h.remove(format!("{i}").as_bytes()));
        }
        assert!(h.is_empty());
        assert_eq!(h.heap_size(), 0);
        // The box a `Value::Hash` points to is a 16-byte allocation.
        assert_eq!(std::mem::size_of::<Hash>(), 16);
    }

    #[test]
    fn converts_at_thresholds() {
        let mut h = Hash::new();
        for i in 0..8 {
            h.set(format!("f{i}").as_bytes(), b"v", SMALL);
        }
        assert_eq!(h.encoding(), "listpack");
        h.set(b"f8", b"v", SMALL);
        assert_eq!(h.encoding(), "hashtable");
        let mut h = Hash::new();
        h.set(b"f", &[b'x'; 16], SMALL);
        assert_eq!(h.encoding(), "listpack");
        h.set(b"g", &[b'x'; 17], SMALL);
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.len(), 2);
    }

    #[test]
    fn random_samples() {
        let mut h = Hash::new();
        for i in 0..20 {
            h.set(format!("f{i}").as_bytes(), b"v", SMALL);
        }
        for count in [1, 5, 7, 19, 20, 25] {
            let s = h.random_distinct(count);
            assert_eq!(s.len(), count.min(20));
            let distinct: HashSet<_> = s.iter().map(|p| p.0).collect();
            assert_eq!(distinct.len(), s.len());
        }
        assert_eq!(h.random_stream().take(50).count(), 50);
        assert_eq!(Hash::new().random_stream().count(), 0);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Set(u8, u8),
        Del(u8),
        Incr(u8, i8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u8..24, 0u8..20).prop_map(|(f, v)| Op::Set(f, v)),
            (0u8..24).prop_map(Op::Del),
            (0u8..24, any::<i8>()).prop_map(|(f, d)| Op::Incr(f, d)),
        ]
    }

    fn field(f: u8) -> Vec<u8> {
        format!("field{f}").into_bytes()
    }

    proptest! {
        #[test]
        fn behaves_like_a_map(ops in proptest::collection::vec(op(), 1..200)) {
            let mut h = Hash::new();
            let mut model: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
            let mut converted = false;
            for op in ops {
                match op {
                    Op::Set(f, v) => {
                        // Values up to 19 bytes cross the 16-byte limit.
                        let value = vec![b'v'; v as usize];
                        let new = h.set(&field(f), &value, SMALL);
                        prop_assert_eq!(new, model.insert(field(f), value).is_none());
                    }
                    Op::Del(f) => {
                        prop_assert_eq!(h.remove(&field(f)), model.remove(&field(f)).is_some());
                    }
                    Op::Incr(f, d) => {
                        let cur = h.get(&field(f)).map_or(Some(0), |v| {
                            std::str::from_utf8(v).ok()?.parse::<i64>().ok()
                        });
                        if let Some(cur) = cur {
                            let next = (cur + d as i64).to_string().into_bytes();
                            h.set(&field(f), &next, SMALL);
                            model.insert(field(f), next);
                        }
                    }
                }
                converted |= h.encoding() == "hashtable";
                // Never converts back.
                prop_assert!(!converted || h.encoding() == "hashtable");
                if h.encoding() == "listpack" {
                    prop_assert!(h.len() <= SMALL.max_entries);
                }
                prop_assert_eq!(h.len(), model.len());
            }
            let got: HashMap<Vec<u8>, Vec<u8>> =
                h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
            prop_assert_eq!(&got, &model);
            for (f, v) in &model {
                prop_assert_eq!(h.get(f), Some(&v[..]));
                prop_assert!(h.contains(f));
            }
            let mut scanned = HashMap::new();
            let mut cursor = 0;
            loop {
                cursor = h.scan(cursor, 3, |f, v| {
                    scanned.insert(f.to_vec(), v.to_vec());
                });
                if cursor == 0 {
                    break;
                }
            }
            prop_assert_eq!(&scanned, &model);
            let copy = h.clone();
            prop_assert_eq!(copy.len(), h.len());
            prop_assert_eq!(copy.encoding(), h.encoding());
        }
    }
}
