//! DUMP and RESTORE: a value serialised in Redis's payload format (the
//! RDB encoding of the value, the 2-byte RDB version and a CRC64), so
//! payloads move between ferrokv and Redis in both directions.

use crate::command::{CmdError, CmdResult, Ctx, TableBuilder};
use crate::commands::args::{int, is};
use crate::keyspace::Shard;
use crate::persist::rdb::{self, RdbError, SaveOptions};

/// Registers the family.
pub fn register(t: &mut TableBuilder) {
    t.add("dump", dump);
    t.add("restore", restore);
}

const BAD_PAYLOAD: &str = "ERR DUMP payload version or checksum are wrong";

/// DUMP key: the payload, or a null reply when the key does not exist.
fn dump(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let opts = {
        let config = ctx.server.config.read();
        // Redis compresses DUMP payloads as it compresses dumps.
        SaveOptions {
            compression: config.rdbcompression,
            list_max_listpack_size: config.encodings.list_max_listpack_size,
            ..SaveOptions::default()
        }
    };
    let mut shard = ctx.lock(args[1]);
    let payload = shard
        .get(args[1], ctx.now)
        .map(|e| rdb::dump_value(&e.value, &opts));
    drop(shard);
    ctx.read_lookup(args[1], payload.is_some());
    match payload {
        Some(p) => ctx.out.bulk(&p),
        None => ctx.out.null(),
    }
    Ok(())
}

/// RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f].
fn restore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq) = (None, None);
    let mut i = 4;
    while i < args.len() {
        let has_value = i + 1 < args.len();
        if is(args[i], "REPLACE") {
            replace = true;
        } else if is(args[i], "ABSTTL") {
            absttl = true;
        } else if is(args[i], "IDLETIME") && has_value && freq.is_none() {
            // IDLETIME (LRU) and FREQ (LFU) exclude each other, in
            // either order, as in Redis.
            let v = int(args[i + 1])?;
            if v < 0 {
                return Err(CmdError::err("ERR Invalid IDLETIME value, must be >= 0"));
            }
            idle = Some(v as u64);
            i += 1;
        } else if is(args[i], "FREQ") && has_value && idle.is_none() {
            let v = int(args[i + 1])?;
            if !(0..=255).contains(&v) {
                return Err(CmdError::err(
                    "ERR Invalid FREQ value, must be >= 0 and <= 255",
                ));
            }
            // Kept only to validate and to exclude IDLETIME: there is no
            // LFU eviction policy, under which alone Redis stores it.
            freq = Some(v);
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    let enc = ctx.server.config.read().encodings;
    let now = ctx.now;
    let mut shard = ctx.lock(key);
    // Redis checks, in this order: the key, the TTL, the payload footer,
    // the payload body.
    if !replace && shard.contains(key, now) {
        return Err(CmdError::err("BUSYKEY Target key name already exists."));
    }
    let ttl = int(args[2])?;
    if ttl < 0 {
        return Err(CmdError::err("ERR Invalid TTL value, must be >= 0"));
    }
    let payload = args[3];
    if payload.len() < 10 {
        return Err(CmdError::err(BAD_PAYLOAD));
    }
    let value = match rdb::restore_value(payload, &enc) {
        Ok(v) => v,
        Err(RdbError::Checksum { .. } | RdbError::Version(_)) => {
            return Err(CmdError::err(BAD_PAYLOAD))
        }
        Err(_) => return Err(CmdError::err("ERR Bad data format")),
    };
    // A relative TTL wraps like Redis's signed arithmetic: an overflowing
    // one lands in the past and the key is not created.
    let when = match (ttl, absttl) {
        (0, _) => 0,
        (t, true) => t,
        (t, false) => t.wrapping_add(now as i64),
    };
    let old = if replace {
        shard.remove_live(key, now)
    } else {
        None
    };
    if when != 0 && when <= now as i64 {
        drop(shard);
        let deleted = old.is_some();
        drop(old);
        if deleted {
            ctx.modified(key, "del");
            ctx.propagate_one(&[b"DEL", key]);
        }
        ctx.out.ok();
        return Ok(());
    }
    // The access clock is set back by IDLETIME seconds (OBJECT IDLETIME).
    let accessed = idle.map_or(now, |s| now.saturating_sub(s.saturating_mul(1000)));
    shard.put_entry(Shard::make_entry(key, value, when as u64, accessed));
    ctx.modified(key, "restore");
    // Like any key Redis adds, a restored list, zset or stream serves
    // the clients blocked on it.
    ctx.serve_blocked_one(key, &mut shard);
    drop(shard);
    drop(old);
    // A relative TTL replays as the absolute time it meant.
    if when != 0 && !absttl && ctx.propagating() {
        let at = when.to_string();
        let mut replay: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
        replay[2] = at.into_bytes();
        replay.push(b"ABSTTL".to_vec());
        ctx.propagate_as(vec![replay]);
    }
    ctx.out.ok();
    Ok(())
}
