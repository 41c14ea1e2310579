//! The replication backlog: the last `repl-backlog-size` bytes of the
//! replication stream, from which a replica that lost its link resumes
//! with a partial resynchronisation.

use std::collections::VecDeque;

/// A bounded window on the replication stream.
pub struct Backlog {
    size: usize,
    data: VecDeque<u8>,
    /// Stream offset of the first byte held (Redis's `repl_backlog->offset`).
    first: u64,
}

impl Backlog {
    /// An empty backlog of `size` bytes whose next byte has stream offset
    /// `next` (the master offset + 1, as Redis creates it).
    pub fn new(size: usize, next: u64) -> Self {
        Self {
            size: size.max(1),
            data: VecDeque::new(),
            first: next,
        }
    }

    /// Appends stream bytes, dropping the oldest past the size.
    pub fn push(&mut self, bytes: &[u8]) {
        self.data.extend(bytes);
        let excess = self.data.len().saturating_sub(self.size);
        if excess > 0 {
            self.data.drain(..excess);
            self.first += excess as u64;
        }
    }

    /// Applies a new `repl-backlog-size`, dropping the oldest bytes when
    /// it shrinks.
    pub fn resize(&mut self, size: usize) {
        self.size = size.max(1);
        self.push(&[]);
    }

    /// Offset of the first byte held (`repl_backlog_first_byte_offset`).
    pub fn first_byte_offset(&self) -> u64 {
        self.first
    }

    /// Bytes held (`repl_backlog_histlen`).
    pub fn histlen(&self) -> u64 {
        self.data.len() as u64
    }

    /// Configured size (`repl_backlog_size`).
    pub fn size(&self) -> usize {
        self.size
    }

    /// The bytes from stream offset `from` to the end, when the backlog
    /// still holds them (`from` may be one past the end: nothing to send).
    pub fn since(&self, from: u64) -> Option<Vec<u8>> {
        if from < self.first || from > self.first + self.histlen() {
            return None;
        }
        let skip = (from - self.first) as usize;
        Some(self.data.iter().skip(skip).copied().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_bytes_and_their_offsets() {
        let mut b = Backlog::new(4, 1);
        assert_eq!(b.since(1), Some(vec![]));
        b.push(b"abc");
        assert_eq!(b.since(2), Some(b"bc".to_vec()));
        b.push(b"def");
        assert_eq!(b.first_byte_offset(), 3);
        assert_eq!(b.histlen(), 4);
        assert_eq!(b.since(2), None);
        assert_eq!(b.since(4), Some(b"def".to_vec()));
        assert_eq!(b.since(7), Some(vec![]));
        assert_eq!(b.since(8), None);
    }
}
