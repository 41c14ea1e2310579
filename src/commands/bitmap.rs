//! The bitmap family: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD
//! and BITFIELD_RO, on plain string values as Redis 7.0's `bitops.c`.
//!
//! Bits are numbered from the most significant bit of the first byte.
//! Writes grow the string in place (`Value::make_raw`), zero-filling, so a
//! SETBIT costs O(1) amortised instead of a copy of the whole bitmap. The
//! order of argument checks and key lookups follows Redis 7.0.15, because
//! it decides which reply a client gets when several things are wrong.

use crate::command::{CmdError, CmdResult, Ctx, TableBuilder};
use crate::commands::args::{int, is};
use crate::keyspace::value::IntBuf;
use crate::keyspace::{Shard, Value};
use crate::util::num::parse_i64;

/// Registers the family.
pub fn register(t: &mut TableBuilder) {
    t.add("setbit", setbit);
    t.add("getbit", getbit);
    t.add("bitcount", bitcount);
    t.add("bitpos", bitpos);
    t.add("bitop", bitop);
    t.add("bitfield", bitfield);
    t.add("bitfield_ro", bitfield_ro);
}

const OFFSET_ERR: &str = "ERR bit offset is not an integer or out of range";

/// Parses a bit offset (Redis's `getBitOffsetFromArgument`): a
/// non-negative integer, or with `hash` a `#N` offset counted in units of
/// `bits`; the byte it reaches must stay below `proto-max-bulk-len`.
fn bit_offset(arg: &[u8], hash: bool, bits: u32, max_bulk: u64) -> Result<u64, CmdError> {
    let err = || CmdError::err(OFFSET_ERR);
    let (digits, scaled) = match arg.split_first() {
        Some((b'#', rest)) if hash => (rest, true),
        _ => (arg, false),
    };
    let mut offset = parse_i64(digits).ok_or_else(err)?;
    if scaled {
        // Redis multiplies without an overflow check; a wrapped product is
        // then caught by the range check below, exactly as there.
        offset = offset.wrapping_mul(bits as i64);
    }
    if offset < 0 || (offset as u64 >> 3) >= max_bulk {
        return Err(err());
    }
    Ok(offset as u64)
}

/// The bytes of a string value for reading (integers rendered in `buf`).
fn read_string<'a>(value: &'a Value, buf: &'a mut IntBuf) -> Result<&'a [u8], CmdError> {
    value.as_str(buf).ok_or(CmdError::WrongType)
}

/// Redis's `lookupStringForBitCommand`: the string at `key` as a growable
/// buffer at least `bytes` long (created when missing, zero-padded when
/// shorter). Returns whether the key was created or grew.
fn bit_buffer<'s>(
    shard: &'s mut Shard,
    key: &[u8],
    bytes: usize,
    now: u64,
) -> Result<(&'s mut Vec<u8>, bool), CmdError> {
    let created = match shard.get(key, now) {
        Some(entry) if !entry.value.is_string() => return Err(CmdError::WrongType),
        Some(_) => false,
        None => {
            shard.set(key, Value::Raw(Box::new(vec![0; bytes])), 0, now);
            true
        }
    };
    let entry = shard.get_mut(key, now).ok_or(CmdError::WrongType)?;
    let buf = entry.value.make_raw().ok_or(CmdError::WrongType)?;
    let grew = created || buf.len() < bytes;
    if buf.len() < bytes {
        buf.resize(bytes, 0);
    }
    Ok((buf, grew))
}

fn setbit(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let offset = bit_offset(args[2], false, 0, ctx.max_bulk())?;
    let on = match parse_i64(args[3]) {
        Some(v @ (0 | 1)) => v == 1,
        _ => return Err(CmdError::err("ERR bit is not an integer or out of range")),
    };
    let now = ctx.now;
    let mut shard = ctx.lock(key);
    let byte = (offset >> 3) as usize;
    let (buf, grew) = bit_buffer(&mut shard, key, byte + 1, now)?;
    let mask = 1u8 << (7 - (offset & 7));
    let was = buf[byte] & mask != 0;
    if on {
        buf[byte] |= mask;
    } else {
        buf[byte] &= !mask;
    }
    // Redis 7.0 counts a change (and notifies) only when the key was
    // created, grew, or the bit really flipped.
    if grew || was != on {
        ctx.modified(key, "setbit");
    }
    drop(shard);
    ctx.out.int(was as i64);
    Ok(())
}

fn getbit(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let offset = bit_offset(args[2], false, 0, ctx.max_bulk())?;
    let mut shard = ctx.lock(args[1]);
    let bit = match shard.get(args[1], ctx.now) {
        Some(entry) => {
            // Redis counts the lookup before checking the type.
            ctx.read_lookup(args[1], true);
            let mut ibuf = IntBuf::new();
            let s = read_string(&entry.value, &mut ibuf)?;
            Some(
                s.get((offset >> 3) as usize)
                    .is_some_and(|b| b & (1 << (7 - (offset & 7))) != 0),
            )
        }
        None => None,
    };
    drop(shard);
    if bit.is_none() {
        ctx.read_lookup(args[1], false);
    }
    ctx.out.int(bit.unwrap_or(false) as i64);
    Ok(())
}

/// A BITCOUNT/BITPOS range after Redis's index normalisation: bytes
/// `start..=end`, with the bits outside a BIT-unit range masked off at the
/// edges (`first_mask` covers the leading bits of the first byte,
/// `last_mask` the trailing bits of the last byte).
struct ByteRange {
    start: i64,
    end: i64,
    first_mask: u8,
    last_mask: u8,
}

/// Normalises `start..=end` (negative = from the end) over `len` bytes,
/// in bits when `bit_unit`, as Redis's BITCOUNT/BITPOS do.
fn normalise(mut start: i64, mut end: i64, len: usize, bit_unit: bool) -> ByteRange {
    let total = if bit_unit {
        (len as i64) << 3
    } else {
        len as i64
    };
    if start < 0 {
        start = start.saturating_add(total);
    }
    if end < 0 {
        end = end.saturating_add(total);
    }
    start = start.max(0);
    end = end.max(0).min(total - 1);
    let mut range = ByteRange {
        start,
        end,
        first_mask: 0,
        last_mask: 0,
    };
    if bit_unit && start <= end {
        range.first_mask = !((1u16 << (8 - (start & 7))) - 1) as u8;
        range.last_mask = ((1u16 << (7 - (end & 7))) - 1) as u8;
        range.start >>= 3;
        range.end >>= 3;
    }
    range
}

/// Parses the optional `BYTE|BIT` unit argument.
fn unit_arg(arg: Option<&&[u8]>) -> Result<bool, CmdError> {
    match arg {
        None => Ok(false),
        Some(a) if is(a, "BIT") => Ok(true),
        Some(a) if is(a, "BYTE") => Ok(false),
        Some(_) => Err(CmdError::Syntax),
    }
}

fn bitcount(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut shard = ctx.lock(args[1]);
    let Some(entry) = shard.get(args[1], ctx.now) else {
        drop(shard);
        ctx.read_lookup(args[1], false);
        ctx.out.int(0);
        return Ok(());
    };
    ctx.read_lookup(args[1], true);
    let mut ibuf = IntBuf::new();
    let s = read_string(&entry.value, &mut ibuf)?;
    let count = match args.len() {
        2 => popcount(s),
        4 | 5 => {
            let start = int(args[2])?;
            let end = int(args[3])?;
            let bit_unit = unit_arg(args.get(4))?;
            if start < 0 && end < 0 && start > end {
                0
            } else {
                let r = normalise(start, end, s.len(), bit_unit);
                if r.start > r.end {
                    0
                } else {
                    let (a, b) = (r.start as usize, r.end as usize);
                    popcount(&s[a..=b]) - popcount(&[s[a] & r.first_mask, s[b] & r.last_mask])
                }
            }
        }
        _ => return Err(CmdError::Syntax),
    };
    drop(shard);
    ctx.out.int(count as i64);
    Ok(())
}

/// Number of set bits in `s`, eight bytes at a time.
fn popcount(s: &[u8]) -> u64 {
    let words = s.chunks_exact(8);
    let tail = words.remainder();
    let mut word = [0u8; 8];
    let mut n = 0u64;
    for w in words {
        word.copy_from_slice(w);
        n += u64::from_ne_bytes(word).count_ones() as u64;
    }
    n + tail.iter().map(|b| b.count_ones() as u64).sum::<u64>()
}

fn bitpos(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let bit = match parse_i64(args[2]) {
        Some(b @ (0 | 1)) => b == 1,
        Some(_) => return Err(CmdError::err("ERR The bit argument must be 1 or 0.")),
        None => return Err(CmdError::NotInteger),
    };
    let mut shard = ctx.lock(args[1]);
    let Some(entry) = shard.get(args[1], ctx.now) else {
        drop(shard);
        ctx.read_lookup(args[1], false);
        // A missing key is an endless run of zero bits.
        ctx.out.int(if bit { -1 } else { 0 });
        return Ok(());
    };
    ctx.read_lookup(args[1], true);
    let mut ibuf = IntBuf::new();
    let s = read_string(&entry.value, &mut ibuf)?;
    let (range, end_given) = match args.len() {
        3 => (normalise(0, s.len() as i64 - 1, s.len(), false), false),
        4..=6 => {
            let start = int(args[3])?;
            let bit_unit = unit_arg(args.get(5))?;
            let (end, end_given) = match args.get(4) {
                Some(a) => (int(a)?, true),
                None if bit_unit => (((s.len() as i64) << 3) + 7, false),
                None => (s.len() as i64 - 1, false),
            };
            (normalise(start, end, s.len(), bit_unit), end_given)
        }
        _ => return Err(CmdError::Syntax),
    };
    let pos = if range.start > range.end {
        -1
    } else {
        find_bit(s, &range, bit, end_given)
    };
    drop(shard);
    ctx.out.int(pos);
    Ok(())
}

/// The first bit equal to `bit` inside `range` of `s`. When none is found
/// while looking for a clear bit without an explicit end, the string
/// counts as zero-padded on the right, so the answer is the first bit
/// after the range; otherwise -1.
fn find_bit(s: &[u8], range: &ByteRange, bit: bool, end_given: bool) -> i64 {
    let (a, b) = (range.start as usize, range.end as usize);
    for (i, &byte) in s[a..=b].iter().enumerate() {
        let idx = a + i;
        // Bits outside the range read as the opposite of what we look for.
        let mut outside = 0u8;
        if idx == a {
            outside |= range.first_mask;
        }
        if idx == b {
            outside |= range.last_mask;
        }
        let candidates = if bit {
            byte & !outside
        } else {
            !byte & !outside
        };
        if candidates != 0 {
            return (idx as i64) * 8 + candidates.leading_zeros() as i64;
        }
    }
    if bit || end_given {
        -1
    } else {
        (b as i64 + 1) * 8
    }
}

/// BITOP's operation.
#[derive(Clone, Copy)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

fn bitop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let op = match args[1] {
        a if is(a, "AND") => BitOp::And,
        a if is(a, "OR") => BitOp::Or,
        a if is(a, "XOR") => BitOp::Xor,
        a if is(a, "NOT") => BitOp::Not,
        _ => return Err(CmdError::Syntax),
    };
    if matches!(op, BitOp::Not) && args.len() != 4 {
        return Err(CmdError::err(
            "ERR BITOP NOT must be called with a single source key.",
        ));
    }
    let (db, now) = (ctx.client.db, ctx.now);
    let dest = args[2];
    let mut locks = ctx.lock_command_keys(args);
    // Copies of the sources: the destination may be one of them.
    let mut sources: Vec<Vec<u8>> = Vec::with_capacity(args.len() - 3);
    for key in &args[3..] {
        match locks.shard(db, key).get(key, now) {
            Some(entry) => {
                ctx.read_lookup(key, true);
                let mut ibuf = IntBuf::new();
                sources.push(read_string(&entry.value, &mut ibuf)?.to_vec());
            }
            None => {
                ctx.read_lookup(key, false);
                sources.push(Vec::new())
            }
        }
    }
    let maxlen = sources.iter().map(Vec::len).max().unwrap_or(0);
    let shard = locks.shard(db, dest);
    if maxlen > 0 {
        let result = combine(op, &sources, maxlen);
        // Stored as a plain `raw` string (never int-encoded), TTL dropped.
        shard.set(dest, Value::Raw(Box::new(result)), 0, now);
        drop(locks);
        ctx.modified(dest, "set");
    } else if shard.remove_live(dest, now).is_some() {
        drop(locks);
        ctx.modified(dest, "del");
    }
    ctx.out.int(maxlen as i64);
    Ok(())
}

/// Applies `op` byte by byte; shorter sources read as zero-padded.
fn combine(op: BitOp, sources: &[Vec<u8>], maxlen: usize) -> Vec<u8> {
    let byte = |s: &Vec<u8>, j: usize| s.get(j).copied().unwrap_or(0);
    let mut out = vec![0u8; maxlen];
    for (j, slot) in out.iter_mut().enumerate() {
        let first = byte(&sources[0], j);
        *slot = match op {
            BitOp::Not => !first,
            BitOp::And => sources[1..].iter().fold(first, |acc, s| acc & byte(s, j)),
            BitOp::Or => sources[1..].iter().fold(first, |acc, s| acc | byte(s, j)),
            BitOp::Xor => sources[1..].iter().fold(first, |acc, s| acc ^ byte(s, j)),
        };
    }
    out
}

/// What BITFIELD does on overflow.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

/// One parsed BITFIELD operation.
struct FieldOp {
    kind: FieldKind,
    offset: u64,
    bits: u32,
    signed: bool,
    overflow: Overflow,
}

#[derive(Clone, Copy)]
enum FieldKind {
    Get,
    Set(i64),
    IncrBy(i64),
}

const TYPE_ERR: &str =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

/// Parses `i1`..`i64` / `u1`..`u63`.
fn field_type(arg: &[u8]) -> Result<(bool, u32), CmdError> {
    let err = || CmdError::err(TYPE_ERR);
    let (signed, digits) = match arg.split_first() {
        Some((b'i', rest)) => (true, rest),
        Some((b'u', rest)) => (false, rest),
        _ => return Err(err()),
    };
    let bits = parse_i64(digits).ok_or_else(err)?;
    let max = if signed { 64 } else { 63 };
    if !(1..=max).contains(&bits) {
        return Err(err());
    }
    Ok((signed, bits as u32))
}

/// Parses BITFIELD's operations, validating them all before anything runs.
fn parse_fields(args: &[&[u8]], max_bulk: u64) -> Result<Vec<FieldOp>, CmdError> {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < args.len() {
        let remaining = args.len() - j - 1;
        let sub = args[j];
        let takes_value = if is(sub, "GET") && remaining >= 2 {
            false
        } else if (is(sub, "SET") || is(sub, "INCRBY")) && remaining >= 3 {
            true
        } else if is(sub, "OVERFLOW") && remaining >= 1 {
            overflow = match args[j + 1] {
                a if is(a, "WRAP") => Overflow::Wrap,
                a if is(a, "SAT") => Overflow::Sat,
                a if is(a, "FAIL") => Overflow::Fail,
                _ => return Err(CmdError::err("ERR Invalid OVERFLOW type specified")),
            };
            j += 2;
            continue;
        } else {
            return Err(CmdError::Syntax);
        };
        let (signed, bits) = field_type(args[j + 1])?;
        let offset = bit_offset(args[j + 2], true, bits, max_bulk)?;
        let kind = if takes_value {
            let v = int(args[j + 3])?;
            if is(sub, "SET") {
                FieldKind::Set(v)
            } else {
                FieldKind::IncrBy(v)
            }
        } else {
            FieldKind::Get
        };
        ops.push(FieldOp {
            kind,
            offset,
            bits,
            signed,
            overflow,
        });
        j += if takes_value { 4 } else { 3 };
    }
    Ok(ops)
}

fn bitfield(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    bitfield_generic(ctx, args, false)
}

fn bitfield_ro(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    bitfield_generic(ctx, args, true)
}

fn bitfield_generic(ctx: &mut Ctx, args: &[&[u8]], readonly_cmd: bool) -> CmdResult {
    let key = args[1];
    let ops = parse_fields(args, ctx.max_bulk())?;
    let highest = ops
        .iter()
        .filter(|op| !matches!(op.kind, FieldKind::Get))
        .map(|op| op.offset + op.bits as u64 - 1)
        .max();
    let now = ctx.now;
    let mut shard = ctx.lock(key);
    let Some(highest) = highest else {
        // Only GETs: read without creating anything.
        match shard.get(key, now) {
            Some(entry) => {
                ctx.read_lookup(key, true);
                let mut ibuf = IntBuf::new();
                let s = read_string(&entry.value, &mut ibuf)?;
                ctx.out.array(ops.len());
                for op in &ops {
                    ctx.out.int(read_field(s, op));
                }
            }
            None => {
                ctx.read_lookup(key, false);
                ctx.out.array(ops.len());
                for op in &ops {
                    ctx.out.int(read_field(&[], op));
                }
            }
        }
        return Ok(());
    };
    if readonly_cmd {
        return Err(CmdError::err(
            "ERR BITFIELD_RO only supports the GET subcommand",
        ));
    }
    let (buf, grew) = bit_buffer(&mut shard, key, (highest >> 3) as usize + 1, now)?;
    ctx.out.array(ops.len());
    let mut changes = 0u64;
    for op in &ops {
        match apply_field(buf, op) {
            Some((reply, changed)) => {
                ctx.out.int(reply);
                if grew || changed {
                    changes += 1;
                }
            }
            None => ctx.out.null(),
        }
    }
    if changes > 0 {
        ctx.modified(key, "setbit");
        // Redis adds one dirty count per changing operation.
        ctx.client.stats.dirty += changes - 1;
    }
    Ok(())
}

/// Reads the `bits`-wide field at bit `offset`, MSB first; bits past the
/// end of `s` read as zero.
fn get_bits(s: &[u8], offset: u64, bits: u32) -> u64 {
    let mut v = 0u64;
    for i in 0..bits as u64 {
        let at = offset + i;
        let byte = s.get((at >> 3) as usize).copied().unwrap_or(0);
        v = (v << 1) | ((byte >> (7 - (at & 7))) & 1) as u64;
    }
    v
}

/// Writes the low `bits` of `v` at bit `offset`, MSB first (`s` is long
/// enough: BITFIELD grew it beforehand).
fn set_bits(s: &mut [u8], offset: u64, bits: u32, v: u64) {
    for i in 0..bits as u64 {
        let at = offset + i;
        let mask = 1u8 << (7 - (at & 7));
        let byte = &mut s[(at >> 3) as usize];
        if (v >> (bits as u64 - 1 - i)) & 1 == 1 {
            *byte |= mask;
        } else {
            *byte &= !mask;
        }
    }
}

/// Sign-extends a `bits`-wide field.
fn to_signed(v: u64, bits: u32) -> i64 {
    if bits < 64 && v & (1 << (bits - 1)) != 0 {
        (v | (u64::MAX << bits)) as i64
    } else {
        v as i64
    }
}

/// The value of a GET operation.
fn read_field(s: &[u8], op: &FieldOp) -> i64 {
    let raw = get_bits(s, op.offset, op.bits);
    if op.signed {
        to_signed(raw, op.bits)
    } else {
        raw as i64
    }
}

/// Runs a SET or INCRBY: returns the reply value and whether the field
/// changed, or `None` when OVERFLOW FAIL refused the write.
fn apply_field(buf: &mut [u8], op: &FieldOp) -> Option<(i64, bool)> {
    let (incr_mode, arg) = match op.kind {
        FieldKind::Set(v) => (false, v),
        FieldKind::IncrBy(v) => (true, v),
        FieldKind::Get => return Some((read_field(buf, op), false)),
    };
    let old_raw = get_bits(buf, op.offset, op.bits);
    let (reply, new_raw) = if op.signed {
        let old = to_signed(old_raw, op.bits);
        let (value, incr) = if incr_mode { (old, arg) } else { (arg, 0) };
        let new = match signed_overflow(value, incr, op.bits, op.overflow) {
            Some(limited) => limited?,
            None => value.wrapping_add(incr),
        };
        let reply = if incr_mode { new } else { old };
        (reply, new as u64)
    } else {
        let (value, incr) = if incr_mode {
            (old_raw, arg)
        } else {
            (arg as u64, 0)
        };
        let new = match unsigned_overflow(value, incr, op.bits, op.overflow) {
            Some(limited) => limited?,
            None => value.wrapping_add(incr as u64),
        };
        let reply = if incr_mode {
            new as i64
        } else {
            old_raw as i64
        };
        (reply, new)
    };
    set_bits(buf, op.offset, op.bits, new_raw);
    let mask = if op.bits == 64 {
        u64::MAX
    } else {
        (1u64 << op.bits) - 1
    };
    Some((reply, new_raw & mask != old_raw))
}

/// Redis's `checkSignedBitfieldOverflow` for `value + incr` in a signed
/// `bits`-wide field: `None` when it fits, otherwise `Some` of the value
/// to store (`Some(None)` for FAIL).
fn signed_overflow(value: i64, incr: i64, bits: u32, mode: Overflow) -> Option<Option<i64>> {
    let max: i64 = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let max_incr = (max as u64).wrapping_sub(value as u64) as i64;
    let min_incr = min.wrapping_sub(value);
    let limit = if value > max
        || (bits != 64 && incr > max_incr)
        || (value >= 0 && incr > 0 && incr > max_incr)
    {
        max
    } else if value < min
        || (bits != 64 && incr < min_incr)
        || (value < 0 && incr < 0 && incr < min_incr)
    {
        min
    } else {
        return None;
    };
    Some(match mode {
        Overflow::Fail => None,
        Overflow::Sat => Some(limit),
        Overflow::Wrap => {
            let sum = (value as u64).wrapping_add(incr as u64);
            Some(to_signed(sum & low_mask(bits), bits))
        }
    })
}

/// Redis's `checkUnsignedBitfieldOverflow`, shaped like
/// [`signed_overflow`].
fn unsigned_overflow(value: u64, incr: i64, bits: u32, mode: Overflow) -> Option<Option<u64>> {
    let max = low_mask(bits);
    let max_incr = max.wrapping_sub(value) as i64;
    let min_incr = (value as i64).wrapping_neg();
    let limit = if value > max || (incr > 0 && incr > max_incr) {
        max
    } else if incr < 0 && incr < min_incr {
        0
    } else {
        return None;
    };
    Some(match mode {
        Overflow::Fail => None,
        Overflow::Sat => Some(limit),
        Overflow::Wrap => Some(value.wrapping_add(incr as u64) & max),
    })
}

/// The low `bits` bits set.
fn low_mask(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_across_bytes() {
        let mut buf = vec![0u8; 10];
        set_bits(&mut buf, 5, 13, 0x1abc);
        assert_eq!(get_bits(&buf, 5, 13), 0x1abc);
        assert_eq!(to_signed(get_bits(&buf, 5, 13), 13), 0x1abc - 0x2000);
        set_bits(&mut buf, 3, 64, u64::MAX - 5);
        assert_eq!(get_bits(&buf, 3, 64), u64::MAX - 5);
    }

    #[test]
    fn overflow_rules() {
        assert_eq!(signed_overflow(127, 1, 8, Overflow::Wrap), Some(Some(-128)));
        assert_eq!(signed_overflow(127, 1, 8, Overflow::Sat), Some(Some(127)));
        assert_eq!(
            signed_overflow(-128, -1, 8, Overflow::Sat),
            Some(Some(-128))
        );
        assert_eq!(signed_overflow(100, 20, 8, Overflow::Fail), None);
        assert_eq!(signed_overflow(i64::MAX, 1, 64, Overflow::Fail), Some(None));
        assert_eq!(unsigned_overflow(255, 1, 8, Overflow::Wrap), Some(Some(0)));
        assert_eq!(unsigned_overflow(0, -1, 8, Overflow::Sat), Some(Some(0)));
        assert_eq!(unsigned_overflow(3, -1, 8, Overflow::Sat), None);
    }

    #[test]
    fn offsets() {
        assert_eq!(bit_offset(b"#3", true, 8, 512), Ok(24));
        assert!(bit_offset(b"#3", false, 8, 512).is_err());
        assert!(bit_offset(b"4096", false, 0, 512).is_err());
        assert_eq!(bit_offset(b"4095", false, 0, 512), Ok(4095));
    }
}
