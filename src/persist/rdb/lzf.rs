//! LZF compression as used by RDB string encoding (liblzf's stream
//! format, no header).
//!
//! The stream is a sequence of runs. A control byte below 32 starts a
//! literal run of `ctrl + 1` bytes. Otherwise the top three bits hold a
//! match length minus two (7 means "add the next byte"), and the low five
//! bits with the following byte hold a back-reference distance minus one
//! (at most 8192 bytes back). Matches are at least three bytes long.

use std::cell::RefCell;

/// Longest literal run one control byte can announce.
const MAX_LITERAL: usize = 32;
/// Farthest back a match may point.
const MAX_OFFSET: usize = 1 << 13;
/// Longest match one back-reference can encode: 2 + 7 + 255.
const MAX_MATCH: usize = 264;
const HASH_BITS: u32 = 14;

thread_local! {
    /// Last position (plus one) seen for each 3-byte hash. Reused across
    /// calls without clearing: every candidate is verified against the
    /// input, so a stale entry only costs a failed comparison, and clearing
    /// 64 KB per short string would dominate saving many small values.
    static TABLE: RefCell<Vec<u32>> = RefCell::new(vec![0; 1 << HASH_BITS]);
}

fn hash3(b: &[u8]) -> usize {
    let v = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
    (v.wrapping_mul(0x9E37_79B1) >> (32 - HASH_BITS)) as usize
}

fn flush_literals(out: &mut Vec<u8>, lits: &[u8]) {
    for chunk in lits.chunks(MAX_LITERAL) {
        out.push((chunk.len() - 1) as u8);
        out.extend_from_slice(chunk);
    }
}

/// Compresses `input`; returns `None` when the result would be longer
/// than `max_out` bytes (the caller then stores the data uncompressed).
pub fn compress(input: &[u8], max_out: usize) -> Option<Vec<u8>> {
    if input.is_empty() || input.len() > u32::MAX as usize - 1 {
        return None;
    }
    TABLE.with(|table| {
        let table = &mut *table.borrow_mut();
        let mut out = Vec::with_capacity(max_out.min(input.len()));
        let mut lit_start = 0;
        let mut i = 0;
        while i + 2 < input.len() {
            let h = hash3(&input[i..]);
            let cand = table[h] as usize;
            table[h] = (i + 1) as u32;
            if cand != 0 && cand - 1 < i && i - (cand - 1) <= MAX_OFFSET {
                let r = cand - 1;
                let limit = (input.len() - i).min(MAX_MATCH);
                let len = input[r..]
                    .iter()
                    .zip(&input[i..i + limit])
                    .take_while(|(a, b)| a == b)
                    .count();
                if len >= 3 {
                    flush_literals(&mut out, &input[lit_start..i]);
                    let off = i - r - 1;
                    let l = len - 2;
                    if l < 7 {
                        out.push(((l << 5) | (off >> 8)) as u8);
                    } else {
                        out.push(((7 << 5) | (off >> 8)) as u8);
                        out.push((l - 7) as u8);
                    }
                    out.push((off & 0xff) as u8);
                    if out.len() > max_out {
                        return None;
                    }
                    // Index the positions inside the match so later data
                    // can refer to them.
                    for p in i + 1..(i + len).min(input.len().saturating_sub(2)) {
                        table[hash3(&input[p..])] = (p + 1) as u32;
                    }
                    i += len;
                    lit_start = i;
                    continue;
                }
            }
            i += 1;
        }
        flush_literals(&mut out, &input[lit_start..]);
        (out.len() <= max_out).then_some(out)
    })
}

/// Decompresses `input`, which must expand to exactly `out_len` bytes.
pub fn decompress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    // Each input byte yields at most MAX_MATCH bytes, so a larger claimed
    // length is corrupt and must not be allocated.
    if out_len > input.len().saturating_mul(MAX_MATCH) {
        return None;
    }
    let mut out = Vec::with_capacity(out_len);
    let mut ip = 0;
    while ip < input.len() {
        let ctrl = input[ip] as usize;
        ip += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            let lit = input.get(ip..ip + run)?;
            if out.len() + run > out_len {
                return None;
            }
            out.extend_from_slice(lit);
            ip += run;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += *input.get(ip)? as usize;
                ip += 1;
            }
            len += 2;
            let back = ((ctrl & 0x1f) << 8) + *input.get(ip)? as usize + 1;
            ip += 1;
            if back > out.len() || out.len() + len > out_len {
                return None;
            }
            let start = out.len() - back;
            if back >= len {
                out.extend_from_within(start..start + len);
            } else {
                // Overlapping copy: repeats the last `back` bytes.
                for k in 0..len {
                    let b = out[start + k];
                    out.push(b);
                }
            }
        }
    }
    (out.len() == out_len).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(data: &[u8]) {
        let c = compress(data, data.len() + data.len() / 16 + 64).expect("fits");
        assert_eq!(decompress(&c, data.len()).as_deref(), Some(data));
    }

    #[test]
    fn roundtrips() {
        roundtrip(b"a");
        roundtrip(b"abc");
        roundtrip(&[b'x'; 1000]);
        roundtrip(b"hello hello hello hello world world world");
        let mut seed = 12345u64;
        let noise: Vec<u8> = (0..5000)
            .map(|_| {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                (seed >> 59) as u8 + b'a'
            })
            .collect();
        roundtrip(&noise);
        let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        roundtrip(&big);
    }

    #[test]
    fn compresses_repetitive_data() {
        let c = compress(&[b'a'; 200], 196).expect("compressible");
        assert!(c.len() < 10);
        assert!(compress(b"abcdefghijklmnopqrstuvwxyz", 22).is_none());
    }

    #[test]
    fn decodes_reference_stream() {
        // "aaaaaaaaaa": literal 'a', then a match of 9 at distance 1.
        assert_eq!(
            decompress(&[0x00, b'a', 0xe0, 0x00, 0x00], 10).as_deref(),
            Some(&b"aaaaaaaaaa"[..])
        );
    }

    #[test]
    fn rejects_corrupt_streams() {
        assert!(decompress(&[0x05, b'a'], 6).is_none());
        assert!(decompress(&[0x20, 0x05], 3).is_none());
        assert!(decompress(&[0x00, b'a'], 2).is_none());
        assert!(decompress(&[0x00, b'a'], 1 << 60).is_none());
        assert!(decompress(&[0xe0], 10).is_none());
    }
}
