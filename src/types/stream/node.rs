//! One node of a stream: a run of consecutive entries stored back to back
//! in a single byte buffer, like the listpacks Redis keeps in its radix
//! tree. Entries are never moved once written; deletion only sets a flag
//! (Redis marks entries deleted inside the listpack the same way), and a
//! node is dropped as a whole when its last live entry goes.
//!
//! The node also tracks how many bytes the equivalent Redis listpack would
//! take, because Redis decides when to start a new node from that size
//! (`stream-node-max-bytes`), and approximate trimming removes whole nodes:
//! matching the byte count keeps `XTRIM ~` results identical to Redis.

use super::StreamId;
use crate::util::num::parse_i64;

/// The entry was deleted (a tombstone).
const FLAG_DELETED: u8 = 1;
/// The entry has the same field names as the node's first entry.
const FLAG_SAMEFIELDS: u8 = 2;

/// Fixed size of an entry header in [`Node::buf`]: flags, ms, seq, count.
const HEADER: usize = 1 + 8 + 8 + 4;

/// Bytes of a listpack with no elements (header and terminator).
const LP_EMPTY: usize = 7;

/// Encoded size of a listpack integer element (without its back-length).
fn lp_int_len(v: i64) -> usize {
    match v {
        0..=127 => 1,
        -4096..=4095 => 2,
        -32768..=32767 => 3,
        -8_388_608..=8_388_607 => 4,
        -2_147_483_648..=2_147_483_647 => 5,
        _ => 9,
    }
}

/// Size of a whole listpack element whose encoding plus data is `l` bytes.
fn lp_elem(l: usize) -> usize {
    let back = match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    };
    l + back
}

/// Listpack size of an integer element.
pub(super) fn lp_int(v: i64) -> usize {
    lp_elem(lp_int_len(v))
}

/// Listpack size of a string element (stored as an integer when it is the
/// canonical form of one, as listpacks do).
pub(super) fn lp_str(s: &[u8]) -> usize {
    if s.len() <= 20 {
        if let Some(v) = parse_i64(s) {
            return lp_int(v);
        }
    }
    let l = match s.len() {
        0..=63 => 1 + s.len(),
        64..=4095 => 2 + s.len(),
        _ => 5 + s.len(),
    };
    lp_elem(l)
}

/// A decoded entry position inside a node.
#[derive(Clone, Copy)]
pub(super) struct Slot {
    /// Offset of the entry header in the buffer.
    pub pos: usize,
    /// Offset just past the entry.
    pub end: usize,
    /// The entry's ID.
    pub id: StreamId,
    /// Whether it is a tombstone.
    pub deleted: bool,
}

/// A run of entries (see the module documentation).
#[derive(Clone, Default)]
pub struct Node {
    /// Entries: flags (u8), ms (u64 LE), seq (u64 LE), pair count (u32 LE),
    /// then each field and value as length (u32 LE) + bytes.
    buf: Vec<u8>,
    /// Live entries.
    pub(super) live: usize,
    /// Tombstones.
    pub(super) deleted: usize,
    /// Listpack bytes except the header and the two counters.
    lp_body: usize,
    /// ID of the last entry, live or not.
    pub(super) last: StreamId,
}

fn read_u32(buf: &[u8], at: usize) -> usize {
    let mut b = [0u8; 4];
    b.copy_from_slice(&buf[at..at + 4]);
    u32::from_le_bytes(b) as usize
}

fn read_u64(buf: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&buf[at..at + 8]);
    u64::from_le_bytes(b)
}

impl Node {
    /// Bytes of the listpack Redis would hold for this node.
    pub fn lp_bytes(&self) -> usize {
        LP_EMPTY + lp_int(self.live as i64) + lp_int(self.deleted as i64) + self.lp_body
    }

    /// Entries written to the node, tombstones included.
    pub fn total(&self) -> usize {
        self.live + self.deleted
    }

    /// Heap bytes held.
    pub fn heap_size(&self) -> usize {
        self.buf.capacity()
    }

    /// Releases spare buffer capacity.
    pub(super) fn shrink(&mut self) {
        self.buf.shrink_to_fit();
    }

    /// The slot starting at `pos`.
    pub(super) fn slot(&self, pos: usize) -> Slot {
        let buf = &self.buf;
        let flags = buf[pos];
        let id = StreamId {
            ms: read_u64(buf, pos + 1),
            seq: read_u64(buf, pos + 9),
        };
        let pairs = read_u32(buf, pos + 17);
        let mut end = pos + HEADER;
        for _ in 0..pairs * 2 {
            end += 4 + read_u32(buf, end);
        }
        Slot {
            pos,
            end,
            id,
            deleted: flags & FLAG_DELETED != 0,
        }
    }

    /// All slots in order.
    pub(super) fn slots(&self) -> impl Iterator<Item = Slot> + '_ {
        let mut pos = 0;
        std::iter::from_fn(move || {
            if pos >= self.buf.len() {
                return None;
            }
            let s = self.slot(pos);
            pos = s.end;
            Some(s)
        })
    }

    /// The field/value pairs of the entry at `slot`.
    pub(super) fn pairs(&self, slot: &Slot) -> Pairs<'_> {
        Pairs {
            buf: &self.buf[slot.pos + HEADER..slot.end],
        }
    }

    /// Whether `fields` (flattened field/value pairs) have the same field
    /// names as the node's first entry, Redis's "master entry".
    fn same_fields(&self, fields: &[&[u8]]) -> bool {
        let first = self.slot(0);
        let pairs = read_u32(&self.buf, 17);
        pairs * 2 == fields.len()
            && self
                .pairs(&first)
                .zip(fields.chunks_exact(2))
                .all(|((f, _), new)| f == new[0])
    }

    /// A node holding just the entry `id` with `fields`.
    pub(super) fn new(id: StreamId, fields: &[&[u8]]) -> Node {
        let names = fields.chunks_exact(2).map(|p| lp_str(p[0])).sum::<usize>();
        let mut node = Node {
            // The master entry: field count, names, zero terminator.
            lp_body: lp_int((fields.len() / 2) as i64) + names + lp_int(0),
            ..Node::default()
        };
        node.push(id, id, fields, true);
        node
    }

    /// Appends an entry; `master` is the node's first ID.
    pub(super) fn append(&mut self, master: StreamId, id: StreamId, fields: &[&[u8]]) {
        let same = self.same_fields(fields);
        self.push(master, id, fields, same);
    }

    fn push(&mut self, master: StreamId, id: StreamId, fields: &[&[u8]], same: bool) {
        let pairs = fields.len() / 2;
        let flags = if same { FLAG_SAMEFIELDS } else { 0 };
        self.buf.push(flags);
        self.buf.extend_from_slice(&id.ms.to_le_bytes());
        self.buf.extend_from_slice(&id.seq.to_le_bytes());
        self.buf.extend_from_slice(&(pairs as u32).to_le_bytes());
        for f in fields {
            self.buf.extend_from_slice(&(f.len() as u32).to_le_bytes());
            self.buf.extend_from_slice(f);
        }
        // Listpack cost: flags, ms and seq deltas, [count, names], values,
        // and the trailing element count used for reverse walks.
        let mut lp = lp_int(flags as i64)
            + lp_int(id.ms.wrapping_sub(master.ms) as i64)
            + lp_int(id.seq.wrapping_sub(master.seq) as i64);
        let mut elements = 3 + pairs;
        if !same {
            lp += lp_int(pairs as i64);
            elements += 1 + pairs;
        }
        for (i, f) in fields.iter().enumerate() {
            if !same || i % 2 == 1 {
                lp += lp_str(f);
            }
        }
        lp += lp_int(elements as i64);
        self.lp_body += lp;
        self.live += 1;
        self.last = id;
    }

    /// Marks the entry at `pos` deleted; false if it already was.
    pub(super) fn delete_at(&mut self, pos: usize) -> bool {
        if self.buf[pos] & FLAG_DELETED != 0 {
            return false;
        }
        self.buf[pos] |= FLAG_DELETED;
        self.live -= 1;
        self.deleted += 1;
        true
    }
}

/// An entry as stored in a node, tombstones included (for serialising
/// the stream node by node, as Redis's RDB format does).
pub struct RawEntry<'a> {
    /// Its ID.
    pub id: StreamId,
    /// Whether it was deleted.
    pub deleted: bool,
    /// Its field/value pairs.
    pub fields: Pairs<'a>,
}

impl Node {
    /// Live entries in the node.
    pub fn live_count(&self) -> usize {
        self.live
    }

    /// Deleted entries still stored in the node.
    pub fn deleted_count(&self) -> usize {
        self.deleted
    }

    /// Every stored entry in order, tombstones included; the first one's
    /// field names are the node's master fields.
    pub fn raw_entries(&self) -> impl Iterator<Item = RawEntry<'_>> + '_ {
        self.slots().map(|slot| RawEntry {
            id: slot.id,
            deleted: slot.deleted,
            fields: self.pairs(&slot),
        })
    }
}

/// Iterator over an entry's field/value pairs.
#[derive(Clone)]
pub struct Pairs<'a> {
    buf: &'a [u8],
}

impl<'a> Iterator for Pairs<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty() {
            return None;
        }
        let mut take = || {
            let len = read_u32(self.buf, 0);
            let (item, rest) = self.buf[4..].split_at(len);
            self.buf = rest;
            item
        };
        let f = take();
        let v = take();
        Some((f, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listpack_sizes() {
        assert_eq!(lp_int(0), 2);
        assert_eq!(lp_int(127), 2);
        assert_eq!(lp_int(128), 3);
        assert_eq!(lp_int(-1), 3);
        assert_eq!(lp_int(40000), 5);
        assert_eq!(lp_int(i64::MAX), 10);
        assert_eq!(lp_str(b"abc"), 5);
        assert_eq!(lp_str(b"12"), 2);
        assert_eq!(lp_str(b"012"), 5);
        assert_eq!(lp_str(&[b'x'; 100]), 103);
        assert_eq!(lp_str(&[b'x'; 5000]), 5007);
    }

    #[test]
    fn node_bytes_like_redis() {
        // Header 7, count 2, deleted 2, master entry (count 2, "a" 3,
        // terminator 2), entry (flags, ms, seq, value, lp-count: 2 each).
        let id = StreamId { ms: 1, seq: 1 };
        let n = Node::new(id, &[b"a", b"1"]);
        assert_eq!(n.lp_bytes(), 7 + 2 + 2 + 7 + 10);
        let slot = n.slot(0);
        assert_eq!(
            n.pairs(&slot).collect::<Vec<_>>(),
            vec![(&b"a"[..], &b"1"[..])]
        );
    }
}
