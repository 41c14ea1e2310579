//! HyperLogLog in Redis's exact byte representation, so values move
//! between Redis and ferrokv unchanged (`GET`, `DUMP`/`RESTORE`, RDB) and
//! estimates agree to the unit.
//!
//! Layout: a 16-byte header — `HYLL`, the encoding byte (0 dense,
//! 1 sparse), three unused bytes, and the cached cardinality as a
//! little-endian u64 whose top bit marks the cache invalid — followed by
//! the registers. 2^14 registers of 6 bits each (p = 14, 50 hash bits left
//! for the run of zeros); elements hash with MurmurHash64A, seed
//! `0xadc83b19`.
//!
//! Dense: registers packed LSB first, 12288 bytes. Sparse: a run-length
//! code of `ZERO` (`00xxxxxx`, 1-64 zero registers), `XZERO`
//! (`01xxxxxx yyyyyyyy`, 1-16384 zero registers) and `VAL` (`1vvvvvxx`,
//! 1-4 registers of value 1-32). Updates edit the sparse code in place the
//! way Redis does (split the covering opcode, then merge neighbouring
//! `VAL`s within a short window), because the resulting bytes are not
//! canonical and must match Redis's; a value above 32 or a code growing
//! past `hll-sparse-max-bytes` turns the value dense.

/// Header size.
pub const HDR: usize = 16;
/// Number of registers.
pub const REGISTERS: usize = 1 << P;
/// Size of a dense HLL value, header included.
pub const DENSE_SIZE: usize = HDR + (REGISTERS * BITS).div_ceil(8);

const P: usize = 14;
const Q: usize = 64 - P;
const BITS: usize = 6;
const REGISTER_MAX: u32 = (1 << BITS) - 1;
const DENSE: u8 = 0;
const SPARSE: u8 = 1;
const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_LEN: usize = 4;
const ZERO_MAX_LEN: usize = 64;
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

/// A value whose sparse code does not describe exactly 2^14 registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupt;

/// The representation of an HLL value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// 6-bit packed registers.
    Dense,
    /// Run-length code.
    Sparse,
}

/// Whether `s` has the shape of an HLL value (Redis's `isHLLObjectOrReply`:
/// header present, magic, known encoding, exact dense size).
pub fn is_hll(s: &[u8]) -> bool {
    s.len() >= HDR
        && &s[..4] == b"HYLL"
        && s[4] <= SPARSE
        && (s[4] != DENSE || s.len() == DENSE_SIZE)
}

/// The encoding of a value that passed [`is_hll`].
pub fn encoding(s: &[u8]) -> Encoding {
    if s[4] == DENSE {
        Encoding::Dense
    } else {
        Encoding::Sparse
    }
}

/// A new empty HLL: sparse, one `XZERO` covering every register, cached
/// cardinality 0 (valid).
pub fn new_sparse() -> Vec<u8> {
    let mut v = vec![0u8; HDR];
    v[..4].copy_from_slice(b"HYLL");
    v[4] = SPARSE;
    push_zeros(&mut v, REGISTERS);
    v
}

/// The cached cardinality, when valid.
pub fn cached(s: &[u8]) -> Option<u64> {
    if s[15] & 0x80 != 0 {
        return None;
    }
    let mut card = [0u8; 8];
    card.copy_from_slice(&s[8..16]);
    Some(u64::from_le_bytes(card))
}

/// Stores `card` as the valid cached cardinality.
pub fn set_cached(s: &mut [u8], card: u64) {
    s[8..16].copy_from_slice(&card.to_le_bytes());
}

/// Marks the cached cardinality stale.
pub fn invalidate(s: &mut [u8]) {
    s[15] |= 0x80;
}

/// MurmurHash64A as Redis uses it (little-endian 8-byte blocks).
pub fn murmur64a(key: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (key.len() as u64).wrapping_mul(M);
    let blocks = key.chunks_exact(8);
    let tail = blocks.remainder();
    let mut word = [0u8; 8];
    for block in blocks {
        word.copy_from_slice(block);
        let mut k = u64::from_le_bytes(word);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= (b as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element lands in and the value it offers: the length
/// of the run of zero bits after the index bits, plus one.
pub fn pattern(ele: &[u8]) -> (usize, u8) {
    let hash = murmur64a(ele, 0xadc8_3b19);
    let index = (hash & (REGISTERS as u64 - 1)) as usize;
    // The sentinel bit bounds the count at Q + 1.
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

/// Adds `ele`; returns whether a register changed.
pub fn add(s: &mut Vec<u8>, ele: &[u8], sparse_max: usize) -> Result<bool, Corrupt> {
    let (index, count) = pattern(ele);
    set_register(s, index, count, sparse_max)
}

/// Raises register `index` to `count` if lower (PFADD, PFMERGE), in either
/// encoding; returns whether it changed.
pub fn set_register(
    s: &mut Vec<u8>,
    index: usize,
    count: u8,
    sparse_max: usize,
) -> Result<bool, Corrupt> {
    if s[4] == DENSE {
        Ok(dense_set_max(&mut s[HDR..], index, count))
    } else {
        sparse_set(s, index, count, sparse_max)
    }
}

/// Reads dense register `i`.
pub fn dense_get(regs: &[u8], i: usize) -> u8 {
    let bit = i * BITS;
    let (byte, fb) = (bit / 8, (bit & 7) as u32);
    let b0 = regs[byte] as u32;
    let b1 = regs.get(byte + 1).copied().unwrap_or(0) as u32;
    (((b0 >> fb) | (b1 << (8 - fb))) & REGISTER_MAX) as u8
}

/// Writes dense register `i`.
pub fn dense_set(regs: &mut [u8], i: usize, v: u8) {
    let bit = i * BITS;
    let (byte, fb) = (bit / 8, (bit & 7) as u32);
    let v = v as u32;
    regs[byte] &= !(REGISTER_MAX << fb) as u8;
    regs[byte] |= (v << fb) as u8;
    if let Some(next) = regs.get_mut(byte + 1) {
        let fb8 = 8 - fb;
        *next &= !(REGISTER_MAX >> fb8) as u8;
        *next |= (v >> fb8) as u8;
    }
}

fn dense_set_max(regs: &mut [u8], i: usize, count: u8) -> bool {
    if dense_get(regs, i) < count {
        dense_set(regs, i, count);
        true
    } else {
        false
    }
}

fn is_zero(b: u8) -> bool {
    b & 0xc0 == 0
}

fn is_xzero(b: u8) -> bool {
    b & 0xc0 == 0x40
}

fn is_val(b: u8) -> bool {
    b & 0x80 != 0
}

fn zero_len(b: u8) -> usize {
    (b & 0x3f) as usize + 1
}

fn xzero_len(b: u8, b2: u8) -> usize {
    ((((b & 0x3f) as usize) << 8) | b2 as usize) + 1
}

fn val_value(b: u8) -> u8 {
    ((b >> 2) & 0x1f) + 1
}

fn val_len(b: u8) -> usize {
    (b & 0x3) as usize + 1
}

fn val_op(value: u8, len: usize) -> u8 {
    0x80 | ((value - 1) << 2) | (len as u8 - 1)
}

/// Appends the opcodes of a run of `len` zero registers as Redis splits
/// one: `XZERO` above 64, `ZERO` otherwise.
fn push_zeros(out: &mut Vec<u8>, len: usize) {
    if len > ZERO_MAX_LEN {
        let l = len - 1;
        out.push(0x40 | (l >> 8) as u8);
        out.push((l & 0xff) as u8);
    } else {
        out.push(len as u8 - 1);
    }
}

/// One decoded sparse opcode at byte `at`.
struct Op {
    len: usize,
    span: usize,
}

fn op_at(s: &[u8], at: usize) -> Op {
    let b = s[at];
    if is_zero(b) {
        Op {
            len: 1,
            span: zero_len(b),
        }
    } else if is_val(b) {
        Op {
            len: 1,
            span: val_len(b),
        }
    } else {
        // A truncated XZERO reads a zero second byte (Redis reads the sds
        // terminator there); the final register count then flags it.
        let b2 = s.get(at + 1).copied().unwrap_or(0);
        Op {
            len: 2,
            span: xzero_len(b, b2),
        }
    }
}

/// Redis's `hllSparseSet`.
fn sparse_set(
    s: &mut Vec<u8>,
    index: usize,
    count: u8,
    sparse_max: usize,
) -> Result<bool, Corrupt> {
    if count > VAL_MAX_VALUE {
        return promote(s, index, count);
    }
    // Step 1: find the opcode covering `index`.
    let end = s.len();
    let (mut p, mut first, mut span) = (HDR, 0usize, 0usize);
    let mut prev = None;
    let mut op_len = 1;
    while p < end {
        let op = op_at(s, p);
        span = op.span;
        op_len = op.len;
        if index < first + span {
            break;
        }
        prev = Some(p);
        p += op.len;
        first += span;
    }
    if span == 0 || p >= end {
        return Err(Corrupt);
    }
    let b = s[p];
    let last = first + span - 1;
    // Step 2: the trivial in-place updates.
    if is_val(b) {
        let old = val_value(b);
        if old >= count {
            return Ok(false);
        }
        if span == 1 {
            s[p] = val_op(count, 1);
            merge_vals(s, prev.unwrap_or(HDR));
            invalidate(s);
            return Ok(true);
        }
    }
    if is_zero(b) && span == 1 {
        s[p] = val_op(count, 1);
        merge_vals(s, prev.unwrap_or(HDR));
        invalidate(s);
        return Ok(true);
    }
    // General case: split the opcode into up to three.
    let mut seq = Vec::with_capacity(5);
    if is_val(b) {
        let cur = val_value(b);
        if index != first {
            seq.push(val_op(cur, index - first));
        }
        seq.push(val_op(count, 1));
        if index != last {
            seq.push(val_op(cur, last - index));
        }
    } else {
        if index != first {
            push_zeros(&mut seq, index - first);
        }
        seq.push(val_op(count, 1));
        if index != last {
            push_zeros(&mut seq, last - index);
        }
    }
    // Step 3: substitute, unless the code would outgrow its limit.
    if seq.len() > op_len && s.len() + seq.len() - op_len > sparse_max {
        return promote(s, index, count);
    }
    s.splice(p..(p + op_len).min(end), seq);
    merge_vals(s, prev.unwrap_or(HDR));
    invalidate(s);
    Ok(true)
}

/// Redis's step 4 of `hllSparseSet`: within five opcodes from `p`, merge
/// adjacent `VAL`s of equal value whose lengths fit one opcode.
fn merge_vals(s: &mut Vec<u8>, mut p: usize) {
    let mut scan = 5;
    while p < s.len() && scan > 0 {
        scan -= 1;
        let b = s[p];
        if is_xzero(b) {
            p += 2;
            continue;
        }
        if is_zero(b) {
            p += 1;
            continue;
        }
        if let Some(&next) = s.get(p + 1) {
            if is_val(next) && val_value(b) == val_value(next) {
                let len = val_len(b) + val_len(next);
                if len <= VAL_MAX_LEN {
                    s[p + 1] = val_op(val_value(b), len);
                    s.remove(p);
                    continue;
                }
            }
        }
        p += 1;
    }
}

/// Turns the value dense, then sets the register there.
fn promote(s: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    to_dense(s)?;
    Ok(dense_set_max(&mut s[HDR..], index, count))
}

/// Visits the runs of a sparse code as `(first register, length, value)`.
/// Like the Redis 7.0.15 build installed here (with the sparse-overflow
/// security fix), any opcode reaching past the last register, or a code
/// covering fewer registers, is corruption.
fn walk(s: &[u8], mut visit: impl FnMut(usize, usize, u8)) -> Result<(), Corrupt> {
    let mut idx = 0;
    let mut p = HDR;
    while p < s.len() {
        let op = op_at(s, p);
        if idx + op.span > REGISTERS {
            return Err(Corrupt);
        }
        let value = if is_val(s[p]) { val_value(s[p]) } else { 0 };
        visit(idx, op.span, value);
        idx += op.span;
        p += op.len;
    }
    if idx != REGISTERS {
        return Err(Corrupt);
    }
    Ok(())
}

/// Converts a sparse value to dense, keeping the header (cached
/// cardinality included); returns whether it converted.
pub fn to_dense(s: &mut Vec<u8>) -> Result<bool, Corrupt> {
    if s[4] == DENSE {
        return Ok(false);
    }
    let mut dense = vec![0u8; DENSE_SIZE];
    dense[..HDR].copy_from_slice(&s[..HDR]);
    dense[4] = DENSE;
    walk(s, |idx, span, value| {
        if value > 0 {
            for i in idx..idx + span {
                dense_set(&mut dense[HDR..], i, value);
            }
        }
    })?;
    *s = dense;
    Ok(true)
}

/// Raises `max[i]` to every register of `s` (PFCOUNT of several keys,
/// PFMERGE).
pub fn merge_into(max: &mut [u8; REGISTERS], s: &[u8]) -> Result<(), Corrupt> {
    if s[4] == DENSE {
        for (i, m) in max.iter_mut().enumerate() {
            *m = (*m).max(dense_get(&s[HDR..], i));
        }
        return Ok(());
    }
    walk(s, |idx, span, value| {
        for m in &mut max[idx..idx + span] {
            *m = (*m).max(value);
        }
    })
}

/// The cardinality estimate of a value (ignoring its cache).
pub fn count(s: &[u8]) -> Result<u64, Corrupt> {
    let mut histo = [0u32; 64];
    if s[4] == DENSE {
        for i in 0..REGISTERS {
            histo[dense_get(&s[HDR..], i) as usize] += 1;
        }
    } else {
        walk(s, |_, span, value| histo[value as usize] += span as u32)?;
    }
    Ok(estimate(&histo))
}

/// The estimate over raw registers (one byte each).
pub fn count_registers(regs: &[u8; REGISTERS]) -> u64 {
    let mut histo = [0u32; 64];
    for &r in regs {
        histo[r as usize & 63] += 1;
    }
    estimate(&histo)
}

/// Otmar Ertl's improved estimator, as Redis 7 computes it from the
/// register-value histogram.
fn estimate(histo: &[u32; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - histo[Q + 1] as f64) / m);
    for j in (1..=Q).rev() {
        z += histo[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(histo[0] as f64 / m);
    (ALPHA_INF * m * m / z).round() as u64
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let prev = z;
        z += x * y;
        y += y;
        if prev == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let prev = z;
        y *= 0.5;
        z -= (1.0 - x).powf(2.0) * y;
        if prev == z {
            return z / 3.0;
        }
    }
}

/// PFDEBUG DECODE's rendering of a sparse code (`z:N`, `Z:N`, `v:V,N`).
pub fn decode(s: &[u8]) -> String {
    let mut parts = Vec::new();
    let mut p = HDR;
    while p < s.len() {
        let b = s[p];
        let op = op_at(s, p);
        parts.push(if is_zero(b) {
            format!("z:{}", op.span)
        } else if is_xzero(b) {
            format!("Z:{}", op.span)
        } else {
            format!("v:{},{}", val_value(b), op.span)
        });
        p += op.len;
    }
    parts.join(" ")
}

/// All registers of a value as one byte each (for PFDEBUG GETREG after
/// conversion, and tests).
pub fn registers(s: &[u8]) -> Result<Box<[u8; REGISTERS]>, Corrupt> {
    let mut regs = Box::new([0u8; REGISTERS]);
    merge_into(&mut regs, s)?;
    Ok(regs)
}

/// Largest sparse code, in bytes, for which PFSELFTEST still expects the
/// sparse encoding; mirrors the default `hll-sparse-max-bytes`.
const SELFTEST_SPARSE_MAX: usize = 3000;

/// PFSELFTEST: checks dense register access with pseudo-random values and
/// that sparse and dense values agree and stay within the expected error
/// while growing to 100,000 elements. Returns Redis's failure message.
pub fn self_test() -> Result<(), String> {
    let mut regs = vec![0u8; DENSE_SIZE - HDR];
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..20 {
        let values: Vec<u8> = (0..REGISTERS).map(|_| (next() & 63) as u8).collect();
        for (i, &v) in values.iter().enumerate() {
            dense_set(&mut regs, i, v);
        }
        for (i, &v) in values.iter().enumerate() {
            if dense_get(&regs, i) != v {
                return Err(format!(
                    "TESTFAILED Register error at {i}: expected {v}, got {}",
                    dense_get(&regs, i)
                ));
            }
        }
    }
    let mut sparse = new_sparse();
    let mut dense = new_sparse();
    to_dense(&mut dense).map_err(|_| "TESTFAILED dense conversion".to_string())?;
    let relerr = 1.04 / (REGISTERS as f64).sqrt();
    let base = next();
    let mut checkpoint = 1u64;
    for j in 1..=100_000u64 {
        let ele = (j ^ base).to_le_bytes();
        let corrupt = |_| "TESTFAILED corrupted value".to_string();
        add(&mut sparse, &ele, SELFTEST_SPARSE_MAX).map_err(corrupt)?;
        add(&mut dense, &ele, SELFTEST_SPARSE_MAX).map_err(corrupt)?;
        if j != checkpoint {
            continue;
        }
        if (j as usize) < SELFTEST_SPARSE_MAX / 2 && encoding(&sparse) != Encoding::Sparse {
            return Err("TESTFAILED sparse encoding not used".into());
        }
        let est = count(&dense).map_err(corrupt)?;
        if count(&sparse).map_err(corrupt)? != est {
            return Err("TESTFAILED dense/sparse disagree".into());
        }
        let max_err = if j == 10 {
            1
        } else {
            (relerr * 6.0 * checkpoint as f64).ceil() as u64
        };
        let abs_err = checkpoint.abs_diff(est);
        if abs_err > max_err {
            return Err(format!(
                "TESTFAILED Too big error. card:{checkpoint} abserr:{abs_err}"
            ));
        }
        checkpoint *= 10;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn empty_value_bytes() {
        let v = new_sparse();
        assert_eq!(v.len(), 18);
        assert_eq!(&v[..5], b"HYLL\x01");
        assert_eq!(&v[16..], &[0x7f, 0xff]);
        assert_eq!(cached(&v), Some(0));
        assert_eq!(count(&v), Ok(0));
        assert_eq!(decode(&v), "Z:16384");
    }

    #[test]
    fn murmur_matches_reference_values() {
        // Register and value Redis 7.0.15 reports (PFDEBUG DECODE after a
        // single PFADD) for these elements.
        assert_eq!(pattern(b"a"), (12711, 2));
        assert_eq!(pattern(b"hello"), (9216, 1));
        assert_eq!(pattern(b"foo"), (7348, 5));
        assert_eq!(pattern(b"12345"), (14704, 1));
        assert_eq!(pattern(b""), (5938, 2));
    }

    #[test]
    fn dense_registers_round_trip() {
        let mut regs = vec![0u8; DENSE_SIZE - HDR];
        for i in 0..REGISTERS {
            dense_set(&mut regs, i, (i % 64) as u8);
        }
        for i in 0..REGISTERS {
            assert_eq!(dense_get(&regs, i), (i % 64) as u8);
        }
    }

    #[test]
    fn sparse_and_dense_agree_and_promote() {
        let mut sparse = new_sparse();
        let mut dense = new_sparse();
        to_dense(&mut dense).unwrap();
        for i in 0..5000u32 {
            let e = i.to_string();
            assert_eq!(
                add(&mut sparse, e.as_bytes(), 3000).unwrap(),
                add(&mut dense, e.as_bytes(), 3000).unwrap()
            );
            if i % 97 == 0 {
                assert_eq!(registers(&sparse).unwrap(), registers(&dense).unwrap());
                assert_eq!(count(&sparse), count(&dense));
            }
        }
        assert_eq!(encoding(&sparse), Encoding::Dense);
        assert_eq!(sparse[16..], dense[16..]);
        let est = count(&dense).unwrap();
        assert!((4800..5200).contains(&est), "{est}");
    }

    #[test]
    fn sparse_code_stays_consistent() {
        let mut v = new_sparse();
        for i in 0..300u32 {
            add(&mut v, &i.to_le_bytes(), usize::MAX).unwrap();
            let total: usize = {
                let mut p = HDR;
                let mut n = 0;
                while p < v.len() {
                    let op = op_at(&v, p);
                    n += op.span;
                    p += op.len;
                }
                n
            };
            assert_eq!(total, REGISTERS);
        }
        assert_eq!(encoding(&v), Encoding::Sparse);
    }

    #[test]
    fn corrupt_values_are_rejected() {
        let mut v = new_sparse();
        v[16] = 0x00; // ZERO of 1 instead of XZERO of 16384.
        v.truncate(17);
        assert_eq!(count(&v), Err(Corrupt));
        assert_eq!(to_dense(&mut v.clone()), Err(Corrupt));
        assert_eq!(set_register(&mut v, 100, 1, 3000), Err(Corrupt));
        assert!(!is_hll(b"HYLL\x00short"));
        assert!(!is_hll(b"HYLX\x01\0\0\0\0\0\0\0\0\0\0\0"));
    }

    #[test]
    fn cache_flag() {
        let mut v = new_sparse();
        invalidate(&mut v);
        assert_eq!(cached(&v), None);
        set_cached(&mut v, 42);
        assert_eq!(cached(&v), Some(42));
    }

    proptest! {
        /// Register updates on the sparse code (with promotion at a random
        /// size limit) agree with a plain array of registers, and the code
        /// always describes exactly 2^14 registers.
        #[test]
        fn sparse_updates_match_a_register_model(
            ops in prop::collection::vec((0usize..REGISTERS, 1u8..=40), 1..300),
            clustered in any::<bool>(),
            limit in 20usize..4000,
        ) {
            let mut v = new_sparse();
            let mut model = [0u8; REGISTERS];
            for (index, count) in ops {
                // Clustered indexes exercise VAL splitting and merging.
                let index = if clustered { index % 64 } else { index };
                let changed = set_register(&mut v, index, count, limit).unwrap();
                prop_assert_eq!(changed, model[index] < count);
                model[index] = model[index].max(count);
                prop_assert!(is_hll(&v));
                if encoding(&v) == Encoding::Sparse {
                    prop_assert!(v.len() <= limit.max(18));
                }
            }
            prop_assert_eq!(&registers(&v).unwrap()[..], &model[..]);
            prop_assert_eq!(count(&v).unwrap(), count_registers(&model));
        }
    }

    #[test]
    fn self_test_passes() {
        assert_eq!(self_test(), Ok(()));
    }
}
