//! The hash family: HSET and friends, counters, HRANDFIELD, HSCAN.
//!
//! Semantics follow Redis 7.0's `t_hash.c`: the order in which arguments,
//! key existence and type are checked (which decides the error a client
//! sees), the encoding conversions and the reply shapes of RESP2 and RESP3.

use crate::command::{CmdError, CmdResult, Ctx, TableBuilder};
use crate::commands::args::{cursor, int, is, ScanOptions};
use crate::keyspace::Value;
use crate::protocol::reply::Reply;
use crate::types::hash::{Hash, Limits};
use crate::util::long_double::{incr_by_float, IncrFloatError};
use crate::util::num::parse_i64;

/// Registers the family.
pub fn register(t: &mut TableBuilder) {
    t.add("hset", hset);
    t.add("hmset", hmset);
    t.add("hsetnx", hsetnx);
    t.add("hget", hget);
    t.add("hmget", hmget);
    t.add("hgetall", hgetall);
    t.add("hkeys", hkeys);
    t.add("hvals", hvals);
    t.add("hdel", hdel);
    t.add("hlen", hlen);
    t.add("hexists", hexists);
    t.add("hstrlen", hstrlen);
    t.add("hincrby", hincrby);
    t.add("hincrbyfloat", hincrbyfloat);
    t.add("hrandfield", hrandfield);
    t.add("hscan", hscan);
}

fn hash_of(value: &Value) -> Result<&Hash, CmdError> {
    match value {
        Value::Hash(h) => Ok(h),
        _ => Err(CmdError::WrongType),
    }
}

fn hash_of_mut(value: &mut Value) -> Result<&mut Hash, CmdError> {
    match value {
        Value::Hash(h) => Ok(h),
        _ => Err(CmdError::WrongType),
    }
}

/// The current compact-encoding thresholds.
fn limits(ctx: &Ctx) -> Limits {
    let enc = ctx.server.config.read().encodings;
    Limits {
        max_entries: enc.hash_max_listpack_entries,
        max_value: enc.hash_max_listpack_value,
    }
}

/// Runs `read` on the hash at `key` (`None` when the key is missing),
/// counting the lookup; `WRONGTYPE` for other types.
fn read_hash<R>(
    ctx: &mut Ctx,
    key: &[u8],
    read: impl FnOnce(Option<&Hash>, &mut Ctx) -> R,
) -> Result<R, CmdError> {
    let mut shard = ctx.lock(key);
    let found = match shard.get(key, ctx.now) {
        Some(entry) => Some(hash_of(&entry.value)?),
        None => None,
    };
    let hit = found.is_some();
    let r = read(found, ctx);
    drop(shard);
    ctx.read_lookup(key, hit);
    Ok(r)
}

/// Writes `pairs` (field, value, …) into the hash at `key`, creating it;
/// returns how many fields are new.
fn set_fields(ctx: &mut Ctx, key: &[u8], pairs: &[&[u8]]) -> Result<usize, CmdError> {
    let limits = limits(ctx);
    let mut shard = ctx.lock(key);
    let entry = shard.get_or_insert(key, ctx.now, || Value::Hash(Box::default()));
    let created = hash_of_mut(&mut entry.value)?.set_pairs(pairs, limits);
    drop(shard);
    ctx.modified(key, "hset");
    Ok(created)
}

/// HSET/HMSET need whole field/value pairs.
fn check_pairs(ctx: &Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len() % 2 == 1 {
        return Err(CmdError::msg(format!(
            "ERR wrong number of arguments for '{}' command",
            ctx.cmd.name
        )));
    }
    Ok(())
}

fn hset(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    check_pairs(ctx, args)?;
    let created = set_fields(ctx, args[1], &args[2..])?;
    ctx.out.int(created as i64);
    Ok(())
}

fn hmset(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    check_pairs(ctx, args)?;
    set_fields(ctx, args[1], &args[2..])?;
    ctx.out.ok();
    Ok(())
}

fn hsetnx(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (key, field, value) = (args[1], args[2], args[3]);
    let limits = limits(ctx);
    let mut shard = ctx.lock(key);
    let added = match shard.get_mut(key, ctx.now) {
        Some(entry) => {
            let h = hash_of_mut(&mut entry.value)?;
            !h.contains(field) && h.set(field, value, limits)
        }
        None => {
            let mut h = Hash::new();
            h.set(field, value, limits);
            shard.set(key, Value::Hash(Box::new(h)), 0, ctx.now);
            true
        }
    };
    drop(shard);
    if added {
        ctx.modified(key, "hset");
    }
    ctx.out.int(added as i64);
    Ok(())
}

fn hget(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    read_hash(ctx, args[1], |h, ctx| {
        match h.and_then(|h| h.get(args[2])) {
            Some(v) => ctx.out.bulk(v),
            None => ctx.out.null(),
        }
    })
}

fn hmget(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    read_hash(ctx, args[1], |h, ctx| {
        let fields = &args[2..];
        ctx.out.array(fields.len());
        for f in fields {
            match h.and_then(|h| h.get(f)) {
                Some(v) => ctx.out.bulk(v),
                None => ctx.out.null(),
            }
        }
    })
}

/// HGETALL (a map in RESP3), HKEYS and HVALS (arrays).
fn getall_generic(ctx: &mut Ctx, key: &[u8], fields: bool, values: bool) -> CmdResult {
    read_hash(ctx, key, |h, ctx| {
        let len = h.map_or(0, Hash::len);
        if fields && values {
            ctx.out.map(len);
        } else {
            ctx.out.array(len);
        }
        for (f, v) in h.into_iter().flat_map(Hash::iter) {
            if fields {
                ctx.out.bulk(f);
            }
            if values {
                ctx.out.bulk(v);
            }
        }
    })
}

fn hgetall(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    getall_generic(ctx, args[1], true, true)
}

fn hkeys(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    getall_generic(ctx, args[1], true, false)
}

fn hvals(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    getall_generic(ctx, args[1], false, true)
}

fn hdel(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let mut shard = ctx.lock(key);
    let mut deleted = 0;
    let mut emptied = false;
    if let Some(entry) = shard.get_mut(key, ctx.now) {
        let h = hash_of_mut(&mut entry.value)?;
        for f in &args[2..] {
            if h.remove(f) {
                deleted += 1;
                if h.is_empty() {
                    emptied = true;
                    break;
                }
            }
        }
    }
    if emptied {
        shard.remove(key);
    }
    drop(shard);
    if deleted > 0 {
        ctx.modified(key, "hdel");
        if emptied {
            ctx.modified(key, "del");
        }
    }
    ctx.out.int(deleted);
    Ok(())
}

fn hlen(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    read_hash(ctx, args[1], |h, ctx| {
        ctx.out.int(h.map_or(0, Hash::len) as i64);
    })
}

fn hexists(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    read_hash(ctx, args[1], |h, ctx| {
        ctx.out.int(h.is_some_and(|h| h.contains(args[2])) as i64);
    })
}

fn hstrlen(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    read_hash(ctx, args[1], |h, ctx| {
        let len = h.and_then(|h| h.get(args[2])).map_or(0, <[u8]>::len);
        ctx.out.int(len as i64);
    })
}

fn hincrby(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (key, field) = (args[1], args[2]);
    let incr = int(args[3])?;
    let limits = limits(ctx);
    let mut shard = ctx.lock(key);
    let entry = shard.get_or_insert(key, ctx.now, || Value::Hash(Box::default()));
    let h = hash_of_mut(&mut entry.value)?;
    let current = match h.get(field) {
        Some(v) => parse_i64(v).ok_or(CmdError::err("ERR hash value is not an integer"))?,
        None => 0,
    };
    let sum = current.checked_add(incr).ok_or(CmdError::Overflow)?;
    h.set(field, itoa::Buffer::new().format(sum).as_bytes(), limits);
    drop(shard);
    ctx.modified(key, "hincrby");
    ctx.out.int(sum);
    Ok(())
}

fn hincrbyfloat(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (key, field, incr) = (args[1], args[2], args[3]);
    // The increment is checked on its own first, before the key.
    incr_by_float(None, incr).map_err(|e| match e {
        IncrFloatError::NotFloat => CmdError::NotFloat,
        IncrFloatError::NanOrInfinity => CmdError::err("ERR value is NaN or Infinity"),
    })?;
    let limits = limits(ctx);
    let mut shard = ctx.lock(key);
    let entry = shard.get_or_insert(key, ctx.now, || Value::Hash(Box::default()));
    let h = hash_of_mut(&mut entry.value)?;
    let sum = incr_by_float(h.get(field), incr).map_err(|e| match e {
        IncrFloatError::NotFloat => CmdError::err("ERR hash value is not a float"),
        IncrFloatError::NanOrInfinity => {
            CmdError::err("ERR increment would produce NaN or Infinity")
        }
    })?;
    h.set(field, &sum, limits);
    drop(shard);
    ctx.modified(key, "hincrbyfloat");
    // The printed sum replays exactly, whatever the float rounding.
    ctx.propagate_one(&[b"HSET", key, field, &sum]);
    ctx.out.bulk(&sum);
    Ok(())
}

/// Writes HRANDFIELD pairs: fields only, or field and value flat (RESP2)
/// or as two-element arrays (RESP3).
fn reply_pairs<'a>(
    ctx: &mut Ctx,
    n: usize,
    pairs: impl Iterator<Item = (&'a [u8], &'a [u8])>,
    with_values: bool,
) {
    if with_values && !ctx.out.resp3 {
        ctx.out.array(n * 2);
    } else {
        ctx.out.array(n);
    }
    for (f, v) in pairs.take(n) {
        if with_values && ctx.out.resp3 {
            ctx.out.array(2);
        }
        ctx.out.bulk(f);
        if with_values {
            ctx.out.bulk(v);
        }
    }
}

fn hrandfield(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    if args.len() == 2 {
        return read_hash(ctx, key, |h, ctx| match h.and_then(Hash::random) {
            Some((f, _)) => ctx.out.bulk(f),
            None => ctx.out.null(),
        });
    }
    let count = int(args[2])?;
    if count == i64::MIN {
        return Err(CmdError::err(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    let with_values = match args.len() {
        3 => false,
        4 if is(args[3], "WITHVALUES") => true,
        _ => return Err(CmdError::Syntax),
    };
    if with_values && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return Err(CmdError::err("ERR value is out of range"));
    }
    read_hash(ctx, key, |h, ctx| {
        let Some(h) = h.filter(|_| count != 0) else {
            ctx.out.array(0);
            return;
        };
        let n = count.unsigned_abs() as usize;
        if count < 0 {
            reply_pairs(ctx, n, h.random_stream(), with_values);
        } else {
            let pairs = h.random_distinct(n);
            reply_pairs(ctx, pairs.len(), pairs.into_iter(), with_values);
        }
    })
}

fn hscan(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let start = cursor(args[2])?;
    read_hash(ctx, key, |h, ctx| -> CmdResult {
        let Some(h) = h else {
            ctx.out.buf.extend_from_slice(b"*2\r\n$1\r\n0\r\n*0\r\n");
            return Ok(());
        };
        // Options are parsed only once the key is known to be a hash.
        let opts = ScanOptions::parse(&args[3..], false)?;
        // The table hands out short-lived references: encode the items
        // as they come, and prepend the count once known.
        let mut items = Reply::new();
        let mut n = 0;
        let next = h.scan(start, opts.count, |f, v| {
            if opts.matches(f) {
                items.bulk(f);
                items.bulk(v);
                n += 2;
            }
        });
        ctx.out.array(2);
        ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
        ctx.out.array(n);
        ctx.out.buf.extend_from_slice(&items.buf);
        Ok(())
    })?
}
