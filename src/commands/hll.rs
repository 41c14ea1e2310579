//! The HyperLogLog family: PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST,
//! over string values holding Redis's HLL representation
//! ([`crate::types::hll`]), with Redis 7.0.15's side effects: PFCOUNT of
//! one key refreshes the cached cardinality in the value (a write that
//! counts as a change but sends no notification), and PFADD/PFMERGE
//! notify `pfadd`.

use crate::command::{CmdError, CmdResult, Ctx, TableBuilder};
use crate::commands::args::is;
use crate::keyspace::value::IntBuf;
use crate::keyspace::Value;
use crate::server::tracking;
use crate::types::hll::{self, Encoding, REGISTERS};

/// Registers the family.
pub fn register(t: &mut TableBuilder) {
    t.add("pfadd", pfadd);
    t.add("pfcount", pfcount);
    t.add("pfmerge", pfmerge);
    t.add("pfdebug", pfdebug);
    t.add("pfselftest", pfselftest);
}

fn not_hll() -> CmdError {
    CmdError::err("WRONGTYPE Key is not a valid HyperLogLog string value.")
}

fn corrupt(_: hll::Corrupt) -> CmdError {
    CmdError::err("INVALIDOBJ Corrupted HLL object detected")
}

/// The bytes of a value that must be an HLL: other types get the usual
/// `WRONGTYPE`, strings that are not HLLs the HLL-specific one.
fn hll_bytes<'a>(value: &'a Value, buf: &'a mut IntBuf) -> Result<&'a [u8], CmdError> {
    let s = value.as_str(buf).ok_or(CmdError::WrongType)?;
    if !hll::is_hll(s) {
        return Err(not_hll());
    }
    Ok(s)
}

/// [`hll_bytes`] for modification: the value becomes a private `raw`
/// buffer, as Redis's `dbUnshareStringValue` makes it.
fn hll_mut(value: &mut Value) -> Result<&mut Vec<u8>, CmdError> {
    hll_bytes(value, &mut IntBuf::new())?;
    value.make_raw().ok_or(CmdError::WrongType)
}

fn sparse_max(ctx: &Ctx) -> usize {
    ctx.server.config.read().encodings.hll_sparse_max_bytes
}

/// Redis's `signalModifiedKey` plus `server.dirty++` without a keyspace
/// notification: PFCOUNT refreshing the cache, PFDEBUG converting.
fn changed_silently(ctx: &mut Ctx, key: &[u8]) {
    ctx.client.stats.dirty += 1;
    ctx.server.watches.touch(ctx.client.db, key);
    if ctx.server.tracking.clients() > 0 {
        tracking::touched(ctx.server, ctx.client, key);
    }
}

fn pfadd(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let (now, max) = (ctx.now, sparse_max(ctx));
    let mut shard = ctx.lock(key);
    let mut updated = 0u64;
    if shard.get(key, now).is_none() {
        shard.set(key, Value::Raw(Box::new(hll::new_sparse())), 0, now);
        updated += 1;
    }
    let entry = shard.get_mut(key, now).ok_or(CmdError::WrongType)?;
    let buf = hll_mut(&mut entry.value)?;
    for ele in &args[2..] {
        if hll::add(buf, ele, max).map_err(corrupt)? {
            updated += 1;
        }
    }
    if updated > 0 {
        hll::invalidate(buf);
        ctx.modified(key, "pfadd");
        // Redis counts one change per updated register.
        ctx.client.stats.dirty += updated - 1;
    }
    drop(shard);
    ctx.out.int((updated > 0) as i64);
    Ok(())
}

fn pfcount(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len() > 2 {
        return pfcount_union(ctx, args);
    }
    let key = args[1];
    let now = ctx.now;
    let mut shard = ctx.lock(key);
    let Some(entry) = shard.get_mut(key, now) else {
        drop(shard);
        ctx.read_lookup(key, false);
        ctx.out.int(0);
        return Ok(());
    };
    ctx.read_lookup(key, true);
    let buf = hll_mut(&mut entry.value)?;
    let (card, refreshed) = match hll::cached(buf) {
        Some(card) => (card, false),
        None => {
            let card = hll::count(buf).map_err(corrupt)?;
            hll::set_cached(buf, card);
            (card, true)
        }
    };
    drop(shard);
    if refreshed {
        changed_silently(ctx, key);
    }
    ctx.out.int(card as i64);
    Ok(())
}

/// PFCOUNT of several keys: the estimate of their union, computed in a
/// scratch register array without touching the values.
fn pfcount_union(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (db, now) = (ctx.client.db, ctx.now);
    let mut locks = ctx.lock_command_keys(args);
    let mut max = Box::new([0u8; REGISTERS]);
    for key in &args[1..] {
        let Some(entry) = locks.shard(db, key).get(key, now) else {
            ctx.read_lookup(key, false);
            continue;
        };
        ctx.read_lookup(key, true);
        let mut ibuf = IntBuf::new();
        hll::merge_into(&mut max, hll_bytes(&entry.value, &mut ibuf)?).map_err(corrupt)?;
    }
    drop(locks);
    ctx.out.int(hll::count_registers(&max) as i64);
    Ok(())
}

fn pfmerge(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (db, now, sparse) = (ctx.client.db, ctx.now, sparse_max(ctx));
    let dest = args[1];
    let mut locks = ctx.lock_command_keys(args);
    let mut max = Box::new([0u8; REGISTERS]);
    let mut use_dense = false;
    // The destination is a source too (it is args[1]).
    for key in &args[1..] {
        let Some(entry) = locks.shard(db, key).get(key, now) else {
            ctx.read_lookup(key, false);
            continue;
        };
        ctx.read_lookup(key, true);
        let mut ibuf = IntBuf::new();
        let s = hll_bytes(&entry.value, &mut ibuf)?;
        use_dense |= hll::encoding(s) == Encoding::Dense;
        hll::merge_into(&mut max, s).map_err(corrupt)?;
    }
    let shard = locks.shard(db, dest);
    if shard.get(dest, now).is_none() {
        shard.set(dest, Value::Raw(Box::new(hll::new_sparse())), 0, now);
    }
    let entry = shard.get_mut(dest, now).ok_or(CmdError::WrongType)?;
    let buf = hll_mut(&mut entry.value)?;
    // Any dense input makes the result dense, as in Redis.
    if use_dense {
        hll::to_dense(buf).map_err(corrupt)?;
    }
    for (i, &v) in max.iter().enumerate() {
        if v > 0 {
            hll::set_register(buf, i, v, sparse).map_err(corrupt)?;
        }
    }
    hll::invalidate(buf);
    drop(locks);
    ctx.modified(dest, "pfadd");
    ctx.out.ok();
    Ok(())
}

fn pfdebug(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (sub, key) = (args[1], args[2]);
    let now = ctx.now;
    let mut shard = ctx.lock(key);
    let entry = shard
        .get_mut(key, now)
        .ok_or(CmdError::err("ERR The specified key does not exist"))?;
    let buf = hll_mut(&mut entry.value)?;
    if is(sub, "GETREG") {
        let converted = hll::to_dense(buf).map_err(corrupt)?;
        let regs = &buf[hll::HDR..];
        ctx.out.array(REGISTERS);
        for i in 0..REGISTERS {
            ctx.out.int(hll::dense_get(regs, i) as i64);
        }
        if converted {
            // Redis counts the conversion so it propagates.
            ctx.client.stats.dirty += 1;
        }
    } else if is(sub, "DECODE") {
        if hll::encoding(buf) != Encoding::Sparse {
            return Err(CmdError::err("ERR HLL encoding is not sparse"));
        }
        ctx.out.bulk(hll::decode(buf).as_bytes());
    } else if is(sub, "TODENSE") {
        let converted = hll::to_dense(buf).map_err(corrupt)?;
        if converted {
            ctx.client.stats.dirty += 1;
        }
        ctx.out.int(converted as i64);
    } else if is(sub, "ENCODING") {
        ctx.out.simple(match hll::encoding(buf) {
            Encoding::Dense => b"dense",
            Encoding::Sparse => b"sparse",
        });
    } else {
        return Err(CmdError::with_arg(
            "ERR Unknown PFDEBUG subcommand '",
            sub,
            "'",
        ));
    }
    Ok(())
}

fn pfselftest(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    hll::self_test().map_err(CmdError::msg)?;
    ctx.out.ok();
    Ok(())
}
