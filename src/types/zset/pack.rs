//! The compact `listpack` encoding: all (score, member) pairs in one
//! byte buffer, sorted by score then member, scanned linearly (the sets
//! are small by construction, as in Redis).
//!
//! Entry layout: the score (one byte `b` < 0xFE for the small integer
//! `b - 127`; 0xFE and the 4 little-endian bytes of an `f32` when that is
//! exact; or 0xFF and the 8 bytes of an `f64`), then the member length
//! (one byte < 0xFF, or 0xFF and a `u32`), then the member bytes. The
//! buffer is an exact-size boxed slice, reallocated per write like a
//! Redis listpack, so a small set costs about what Redis's does.

use std::cmp::Ordering;

const WIDE: u8 = 0xFF;
const SINGLE: u8 = 0xFE;
const SMALL_BIAS: f64 = 127.0;

/// Sorted pairs in one contiguous buffer.
#[derive(Clone, Default)]
pub struct Pack {
    buf: Box<[u8]>,
    len: u32,
}

/// Orders two (score, member) pairs as a sorted set does.
pub fn cmp_entry(a: (f64, &[u8]), b: (f64, &[u8])) -> Ordering {
    a.0.partial_cmp(&b.0)
        .unwrap_or(Ordering::Equal)
        .then_with(|| a.1.cmp(b.1))
}

/// Decodes the entry at `pos`: (score, member, next position).
fn decode(buf: &[u8], pos: usize) -> (f64, &[u8], usize) {
    let (score, mut p) = match buf[pos] {
        WIDE => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&buf[pos + 1..pos + 9]);
            (f64::from_le_bytes(b), pos + 9)
        }
        SINGLE => {
            let mut b = [0u8; 4];
            b.copy_from_slice(&buf[pos + 1..pos + 5]);
            (f32::from_le_bytes(b) as f64, pos + 5)
        }
        b => (b as f64 - SMALL_BIAS, pos + 1),
    };
    let len = if buf[p] == WIDE {
        let mut b = [0u8; 4];
        b.copy_from_slice(&buf[p + 1..p + 5]);
        p += 5;
        u32::from_le_bytes(b) as usize
    } else {
        p += 1;
        buf[p - 1] as usize
    };
    (score, &buf[p..p + len], p + len)
}

fn encode(score: f64, member: &[u8], out: &mut Vec<u8>) {
    // Like Redis's listpack, a zero score is stored without its sign.
    let small = score + SMALL_BIAS;
    if score.fract() == 0.0 && (0.0..SINGLE as f64).contains(&small) {
        out.push(small as u8);
    } else if (score as f32) as f64 == score && !(score == 0.0 && score.is_sign_negative()) {
        out.push(SINGLE);
        out.extend_from_slice(&(score as f32).to_le_bytes());
    } else {
        out.push(WIDE);
        out.extend_from_slice(&score.to_le_bytes());
    }
    if member.len() < WIDE as usize {
        out.push(member.len() as u8);
    } else {
        out.push(WIDE);
        out.extend_from_slice(&(member.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(member);
}

/// Iterator over the pairs of a [`Pack`] in order.
pub struct Iter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let (score, member, next) = decode(self.buf, self.pos);
        self.pos = next;
        Some((member, score))
    }
}

impl Pack {
    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether it holds no pair.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Heap bytes used.
    pub fn heap_size(&self) -> usize {
        self.buf.len()
    }

    /// The pairs in order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            buf: &self.buf,
            pos: 0,
        }
    }

    /// Position, rank and score of `member`.
    fn find(&self, member: &[u8]) -> Option<(usize, usize, f64)> {
        let mut pos = 0;
        let mut rank = 0;
        while pos < self.buf.len() {
            let (score, m, next) = decode(&self.buf, pos);
            if m == member {
                return Some((pos, rank, score));
            }
            pos = next;
            rank += 1;
        }
        None
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.find(member).map(|(_, _, s)| s)
    }

    /// The 0-based ascending rank of `member`.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        self.find(member).map(|(_, r, _)| r)
    }

    /// Inserts a member known to be absent.
    pub fn insert_new(&mut self, member: &[u8], score: f64) {
        let mut pos = 0;
        while pos < self.buf.len() {
            let (s, m, next) = decode(&self.buf, pos);
            if cmp_entry((s, m), (score, member)) == Ordering::Greater {
                break;
            }
            pos = next;
        }
        let mut enc = Vec::with_capacity(member.len() + 14);
        encode(score, member, &mut enc);
        let mut buf = std::mem::take(&mut self.buf).into_vec();
        buf.reserve_exact(enc.len());
        buf.splice(pos..pos, enc);
        self.buf = buf.into_boxed_slice();
        self.len += 1;
    }

    /// Removes `member`, returning its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let (pos, _, score) = self.find(member)?;
        let (_, _, next) = decode(&self.buf, pos);
        self.cut(pos, next);
        self.len -= 1;
        Some(score)
    }

    /// Byte position of the entry of rank `rank` (or the end).
    fn pos_of_rank(&self, rank: usize) -> usize {
        let mut pos = 0;
        for _ in 0..rank {
            if pos >= self.buf.len() {
                break;
            }
            pos = decode(&self.buf, pos).2;
        }
        pos
    }

    /// Removes ranks `start..end`, returning the removed pairs in order.
    pub fn remove_ranks(&mut self, start: usize, end: usize) -> Vec<(Box<[u8]>, f64)> {
        let from = self.pos_of_rank(start);
        let mut to = from;
        let mut removed = Vec::with_capacity(end - start);
        for _ in start..end {
            let (s, m, next) = decode(&self.buf, to);
            removed.push((Box::from(m), s));
            to = next;
        }
        self.cut(from, to);
        self.len -= removed.len() as u32;
        removed
    }

    /// Removes bytes `from..to`, keeping the buffer exact-size.
    fn cut(&mut self, from: usize, to: usize) {
        let mut buf = std::mem::take(&mut self.buf).into_vec();
        buf.drain(from..to);
        self.buf = buf.into_boxed_slice();
    }

    /// Builds a pack from pairs already sorted by (score, member).
    pub fn from_sorted<'a>(pairs: impl Iterator<Item = (&'a [u8], f64)>) -> Self {
        let mut buf = Vec::new();
        let mut len = 0;
        for (m, s) in pairs {
            encode(s, m, &mut buf);
            len += 1;
        }
        Pack {
            buf: buf.into_boxed_slice(),
            len,
        }
    }

    /// Iterates starting at rank `start`.
    pub fn iter_from(&self, start: usize) -> Iter<'_> {
        Iter {
            buf: &self.buf,
            pos: self.pos_of_rank(start),
        }
    }
}
