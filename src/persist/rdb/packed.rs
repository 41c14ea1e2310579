//! The compact blobs RDB embeds as strings: ziplist, listpack, intset and
//! zipmap (read), and listpack and intset (written).
//!
//! Readers validate every offset against the blob and return the
//! elements, so a corrupt blob is an error before any value is built.

use super::RdbError;
use crate::util::num::parse_i64;

/// One element of a packed blob.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Item<'a> {
    /// A string element.
    Bytes(&'a [u8]),
    /// An integer-encoded element.
    Int(i64),
}

impl<'a> Item<'a> {
    /// The element as bytes (integers rendered into `buf`).
    pub fn bytes<'b>(&'b self, buf: &'b mut itoa::Buffer) -> &'b [u8] {
        match self {
            Item::Bytes(b) => b,
            Item::Int(v) => buf.format(*v).as_bytes(),
        }
    }
}

fn bad(what: &str) -> RdbError {
    RdbError::corrupt(format!("invalid {what} encoding"))
}

fn get(blob: &[u8], at: usize, n: usize, what: &str) -> Result<usize, RdbError> {
    at.checked_add(n)
        .filter(|&end| end <= blob.len())
        .ok_or_else(|| bad(what))
}

fn sign_extend(v: u64, bits: u32) -> i64 {
    ((v << (64 - bits)) as i64) >> (64 - bits)
}

/// Reads a listpack: `total bytes u32`, `count u16`, entries, `0xFF`.
pub fn listpack(blob: &[u8]) -> Result<Vec<Item<'_>>, RdbError> {
    const W: &str = "listpack";
    if blob.len() < 7
        || u32::from_le_bytes([blob[0], blob[1], blob[2], blob[3]]) as usize != blob.len()
    {
        return Err(bad(W));
    }
    let count = u16::from_le_bytes([blob[4], blob[5]]) as usize;
    let mut items = Vec::with_capacity(count.min(blob.len() / 2));
    let mut p = 6;
    loop {
        let b = *blob.get(p).ok_or_else(|| bad(W))?;
        if b == 0xff {
            if p + 1 != blob.len() {
                return Err(bad(W));
            }
            break;
        }
        let start = p;
        let (item, end) = if b & 0x80 == 0 {
            (Item::Int((b & 0x7f) as i64), p + 1)
        } else if b & 0xc0 == 0x80 {
            let len = (b & 0x3f) as usize;
            let end = get(blob, p + 1, len, W)?;
            (Item::Bytes(&blob[p + 1..end]), end)
        } else if b & 0xe0 == 0xc0 {
            let e = get(blob, p, 2, W)?;
            let v = ((b & 0x1f) as u64) << 8 | blob[p + 1] as u64;
            (Item::Int(sign_extend(v, 13)), e)
        } else if b & 0xf0 == 0xe0 {
            get(blob, p, 2, W)?;
            let len = ((b & 0x0f) as usize) << 8 | blob[p + 1] as usize;
            let end = get(blob, p + 2, len, W)?;
            (Item::Bytes(&blob[p + 2..end]), end)
        } else {
            let width = match b {
                0xf0 => 4,
                0xf1 => 2,
                0xf2 => 3,
                0xf3 => 4,
                0xf4 => 8,
                _ => return Err(bad(W)),
            };
            let e = get(blob, p + 1, width, W)?;
            let mut raw = [0u8; 8];
            raw[..width].copy_from_slice(&blob[p + 1..e]);
            let v = u64::from_le_bytes(raw);
            if b == 0xf0 {
                let end = get(blob, e, v as usize, W)?;
                (Item::Bytes(&blob[e..end]), end)
            } else {
                (Item::Int(sign_extend(v, width as u32 * 8)), e)
            }
        };
        let entry_len = end - start;
        p = get(blob, end, backlen_size(entry_len), W)?;
        items.push(item);
    }
    if count != 0xffff && count != items.len() {
        return Err(bad(W));
    }
    Ok(items)
}

/// Bytes of the backward length that follows a listpack entry of `len`
/// bytes (Redis's `lpEncodeBacklen` size classes).
fn backlen_size(len: usize) -> usize {
    match len {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

/// Reads a ziplist: `zlbytes u32`, `zltail u32`, `zllen u16`, entries,
/// `0xFF`; each entry is a previous-length field, an encoding, the data.
pub fn ziplist(blob: &[u8]) -> Result<Vec<Item<'_>>, RdbError> {
    const W: &str = "ziplist";
    if blob.len() < 11
        || u32::from_le_bytes([blob[0], blob[1], blob[2], blob[3]]) as usize != blob.len()
    {
        return Err(bad(W));
    }
    let count = u16::from_le_bytes([blob[8], blob[9]]) as usize;
    let mut items = Vec::with_capacity(count.min(blob.len() / 2));
    let mut p = 10;
    loop {
        let b = *blob.get(p).ok_or_else(|| bad(W))?;
        if b == 0xff {
            if p + 1 != blob.len() {
                return Err(bad(W));
            }
            break;
        }
        p = get(blob, p, if b == 0xfe { 5 } else { 1 }, W)?;
        let enc = *blob.get(p).ok_or_else(|| bad(W))?;
        let (item, end) = match enc >> 6 {
            0 => {
                let len = (enc & 0x3f) as usize;
                let end = get(blob, p + 1, len, W)?;
                (Item::Bytes(&blob[p + 1..end]), end)
            }
            1 => {
                get(blob, p, 2, W)?;
                let len = ((enc & 0x3f) as usize) << 8 | blob[p + 1] as usize;
                let end = get(blob, p + 2, len, W)?;
                (Item::Bytes(&blob[p + 2..end]), end)
            }
            2 => {
                let e = get(blob, p + 1, 4, W)?;
                let len = u32::from_be_bytes([blob[p + 1], blob[p + 2], blob[p + 3], blob[p + 4]]);
                let end = get(blob, e, len as usize, W)?;
                (Item::Bytes(&blob[e..end]), end)
            }
            _ => {
                let width = match enc {
                    0xc0 => 2,
                    0xd0 => 4,
                    0xe0 => 8,
                    0xf0 => 3,
                    0xfe => 1,
                    0xf1..=0xfd => 0,
                    _ => return Err(bad(W)),
                };
                let e = get(blob, p + 1, width, W)?;
                if width == 0 {
                    (Item::Int((enc & 0x0f) as i64 - 1), e)
                } else {
                    let mut raw = [0u8; 8];
                    raw[..width].copy_from_slice(&blob[p + 1..e]);
                    let v = sign_extend(u64::from_le_bytes(raw), width as u32 * 8);
                    (Item::Int(v), e)
                }
            }
        };
        items.push(item);
        p = end;
    }
    if count != 0xffff && count != items.len() {
        return Err(bad(W));
    }
    Ok(items)
}

/// Reads an intset: `encoding u32` (2, 4 or 8 bytes per integer),
/// `length u32`, sorted little-endian integers.
pub fn intset(blob: &[u8]) -> Result<Vec<i64>, RdbError> {
    const W: &str = "intset";
    if blob.len() < 8 {
        return Err(bad(W));
    }
    let width = u32::from_le_bytes([blob[0], blob[1], blob[2], blob[3]]) as usize;
    let len = u32::from_le_bytes([blob[4], blob[5], blob[6], blob[7]]) as usize;
    if !matches!(width, 2 | 4 | 8) || len.checked_mul(width) != Some(blob.len() - 8) {
        return Err(bad(W));
    }
    let mut out = Vec::with_capacity(len);
    for c in blob[8..].chunks_exact(width) {
        let mut raw = [0u8; 8];
        raw[..width].copy_from_slice(c);
        let v = sign_extend(u64::from_le_bytes(raw), width as u32 * 8);
        if out.last().is_some_and(|&last| last >= v) {
            return Err(bad(W));
        }
        out.push(v);
    }
    Ok(out)
}

/// Reads a zipmap (hashes before Redis 2.6): `count u8`, then per pair a
/// field length, field, value length, a free-space byte, value, padding;
/// `0xFF` ends it. Returns fields and values alternately.
pub fn zipmap(blob: &[u8]) -> Result<Vec<&[u8]>, RdbError> {
    const W: &str = "zipmap";
    let mut out = Vec::new();
    let mut p = 1;
    let read_len = |p: &mut usize| -> Result<Option<usize>, RdbError> {
        let b = *blob.get(*p).ok_or_else(|| bad(W))?;
        match b {
            0xff => Ok(None),
            0xfe => {
                let e = get(blob, *p + 1, 4, W)?;
                let len =
                    u32::from_le_bytes([blob[*p + 1], blob[*p + 2], blob[*p + 3], blob[*p + 4]]);
                *p = e;
                Ok(Some(len as usize))
            }
            n => {
                *p += 1;
                Ok(Some(n as usize))
            }
        }
    };
    while let Some(flen) = read_len(&mut p)? {
        let fend = get(blob, p, flen, W)?;
        out.push(&blob[p..fend]);
        p = fend;
        let vlen = read_len(&mut p)?.ok_or_else(|| bad(W))?;
        let free = *blob.get(p).ok_or_else(|| bad(W))? as usize;
        let vend = get(blob, p + 1, vlen, W)?;
        out.push(&blob[p + 1..vend]);
        p = get(blob, vend, free, W)?;
    }
    if p + 1 != blob.len() {
        return Err(bad(W));
    }
    Ok(out)
}

/// Bytes `s` takes as a listpack entry, backward length included.
pub fn entry_size(s: &[u8]) -> usize {
    let head = match parse_i64(s) {
        Some(v) if (0..=127).contains(&v) => 1,
        Some(v) if (-4096..=4095).contains(&v) => 2,
        Some(v) if i16::try_from(v).is_ok() => 3,
        Some(v) if (-(1 << 23)..(1 << 23)).contains(&v) => 4,
        Some(v) if i32::try_from(v).is_ok() => 5,
        Some(_) => 9,
        None if s.len() < 64 => 1 + s.len(),
        None if s.len() < 4096 => 2 + s.len(),
        None => 5 + s.len(),
    };
    head + backlen_size(head)
}

/// Builds a listpack the way Redis writes one, integers in their
/// smallest encoding.
pub struct ListpackWriter {
    buf: Vec<u8>,
    count: usize,
}

impl ListpackWriter {
    /// An empty listpack.
    pub fn new() -> Self {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&[0; 6]);
        Self { buf, count: 0 }
    }

    /// Bytes used so far (header and entries).
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Number of entries.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Appends a string, integer-encoded when it is a canonical integer
    /// (as Redis's `lpAppend` does).
    pub fn push(&mut self, s: &[u8]) {
        match parse_i64(s) {
            Some(v) => self.push_int(v),
            None => self.push_bytes(s),
        }
    }

    /// Appends an integer.
    pub fn push_int(&mut self, v: i64) {
        let start = self.buf.len();
        if (0..=127).contains(&v) {
            self.buf.push(v as u8);
        } else if (-4096..=4095).contains(&v) {
            let u = (v as u64) & 0x1fff;
            self.buf
                .extend_from_slice(&[0xc0 | (u >> 8) as u8, u as u8]);
        } else if let Ok(x) = i16::try_from(v) {
            self.buf.push(0xf1);
            self.buf.extend_from_slice(&x.to_le_bytes());
        } else if (-(1 << 23)..(1 << 23)).contains(&v) {
            self.buf.push(0xf2);
            self.buf.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        } else if let Ok(x) = i32::try_from(v) {
            self.buf.push(0xf3);
            self.buf.extend_from_slice(&x.to_le_bytes());
        } else {
            self.buf.push(0xf4);
            self.buf.extend_from_slice(&v.to_le_bytes());
        }
        self.finish_entry(start);
    }

    fn push_bytes(&mut self, s: &[u8]) {
        let start = self.buf.len();
        let n = s.len();
        if n < 64 {
            self.buf.push(0x80 | n as u8);
        } else if n < 4096 {
            self.buf
                .extend_from_slice(&[0xe0 | (n >> 8) as u8, n as u8]);
        } else {
            self.buf.push(0xf0);
            self.buf.extend_from_slice(&(n as u32).to_le_bytes());
        }
        self.buf.extend_from_slice(s);
        self.finish_entry(start);
    }

    /// Writes the backward length of the entry that began at `start`.
    fn finish_entry(&mut self, start: usize) {
        let l = self.buf.len() - start;
        let n = backlen_size(l);
        for i in 0..n {
            let group = ((l >> (7 * (n - 1 - i))) & 0x7f) as u8;
            self.buf.push(if i == 0 { group } else { group | 0x80 });
        }
        self.count += 1;
    }

    /// The finished listpack.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(0xff);
        let total = self.buf.len() as u32;
        self.buf[..4].copy_from_slice(&total.to_le_bytes());
        let count = self.count.min(0xffff) as u16;
        self.buf[4..6].copy_from_slice(&count.to_le_bytes());
        self.buf
    }
}

/// Builds an intset blob from sorted distinct integers, in the narrowest
/// width that holds them all.
pub fn write_intset(values: &[i64]) -> Vec<u8> {
    let width = values
        .iter()
        .map(|&v| {
            if i16::try_from(v).is_ok() {
                2
            } else if i32::try_from(v).is_ok() {
                4
            } else {
                8
            }
        })
        .max()
        .unwrap_or(2);
    let mut out = Vec::with_capacity(8 + values.len() * width);
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(values.len() as u32).to_le_bytes());
    for &v in values {
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listpack_roundtrip_every_encoding() {
        let long = vec![b'x'; 5000];
        let mid = vec![b'y'; 300];
        let ints = [
            0i64,
            127,
            128,
            -1,
            4095,
            -4096,
            4096,
            32767,
            -32768,
            40000,
            8388607,
            -8388608,
            8388608,
            i32::MAX as i64,
            i32::MIN as i64,
            i64::MAX,
            i64::MIN,
        ];
        let mut w = ListpackWriter::new();
        for v in ints {
            w.push_int(v);
        }
        w.push(b"hello");
        w.push(&mid);
        w.push(&long);
        w.push(b"");
        w.push(b"012");
        let blob = w.finish();
        let items = listpack(&blob).unwrap();
        let mut expect: Vec<Item> = ints.iter().map(|&v| Item::Int(v)).collect();
        expect.extend([
            Item::Bytes(b"hello"),
            Item::Bytes(&mid),
            Item::Bytes(&long),
            Item::Bytes(b""),
            Item::Bytes(b"012"),
        ]);
        assert_eq!(items, expect);
    }

    #[test]
    fn listpack_matches_redis_bytes() {
        // From `DUMP` of a Redis 7.0 hash {a: 1, b: hello}.
        let blob = b"\x16\x00\x00\x00\x04\x00\x81a\x02\x01\x01\x81b\x02\x85hello\x06\xff";
        let mut w = ListpackWriter::new();
        for s in [&b"a"[..], b"1", b"b", b"hello"] {
            w.push(s);
        }
        assert_eq!(w.finish(), blob);
        assert_eq!(listpack(blob).unwrap()[3], Item::Bytes(b"hello"));
    }

    #[test]
    fn listpack_rejects_corruption() {
        let mut w = ListpackWriter::new();
        w.push(b"hello");
        w.push_int(1000);
        let blob = w.finish();
        for cut in 0..blob.len() {
            assert!(listpack(&blob[..cut]).is_err());
        }
        let mut wrong_count = blob.clone();
        wrong_count[4] = 3;
        assert!(listpack(&wrong_count).is_err());
        let mut bad_enc = blob.clone();
        bad_enc[6] = 0xf7;
        assert!(listpack(&bad_enc).is_err());
    }

    #[test]
    fn ziplist_entries() {
        // A ziplist holding "ab", 7 (immediate), 300 (int16), -2 (int8),
        // 100000 (int24), 1<<32 (int64).
        let mut body = Vec::new();
        body.extend_from_slice(&[0x00, 0x02, b'a', b'b']);
        body.extend_from_slice(&[0x04, 0xf8]);
        body.extend_from_slice(&[0x02, 0xc0, 0x2c, 0x01]);
        body.extend_from_slice(&[0x04, 0xfe, 0xfe]);
        body.extend_from_slice(&[0x03, 0xf0, 0xa0, 0x86, 0x01]);
        body.extend_from_slice(&[0x05, 0xe0, 0, 0, 0, 0, 1, 0, 0, 0]);
        let total = 10 + body.len() + 1;
        let mut blob = Vec::new();
        blob.extend_from_slice(&(total as u32).to_le_bytes());
        blob.extend_from_slice(&0u32.to_le_bytes());
        blob.extend_from_slice(&6u16.to_le_bytes());
        blob.extend_from_slice(&body);
        blob.push(0xff);
        assert_eq!(
            ziplist(&blob).unwrap(),
            vec![
                Item::Bytes(b"ab"),
                Item::Int(7),
                Item::Int(300),
                Item::Int(-2),
                Item::Int(100000),
                Item::Int(1 << 32)
            ]
        );
        for cut in 0..blob.len() {
            assert!(ziplist(&blob[..cut]).is_err());
        }
    }

    #[test]
    fn intset_widths() {
        for vals in [
            vec![1i64, 2, 3],
            vec![-70000, 5],
            vec![i64::MIN, 0, i64::MAX],
            vec![],
        ] {
            assert_eq!(intset(&write_intset(&vals)).unwrap(), vals);
        }
        assert!(intset(&[2, 0, 0, 0, 2, 0, 0, 0, 1, 0]).is_err());
        assert!(intset(&[3, 0, 0, 0, 0, 0, 0, 0]).is_err());
        // Unsorted.
        assert!(intset(&[2, 0, 0, 0, 2, 0, 0, 0, 5, 0, 1, 0]).is_err());
    }

    #[test]
    fn zipmap_pairs() {
        let blob = b"\x02\x03foo\x03\x02bar\x00\x00\x01k\x01\x00v\xff";
        assert_eq!(zipmap(blob).unwrap(), vec![&b"foo"[..], b"bar", b"k", b"v"]);
        assert!(zipmap(&blob[..blob.len() - 1]).is_err());
    }
}
