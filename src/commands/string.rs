//! The string family.

use crate::command::{CmdError, CmdResult, Ctx, TableBuilder};
use crate::commands::args::{int, is};
use crate::keyspace::value::IntBuf;
use crate::keyspace::Value;

/// Registers the family.
pub fn register(t: &mut TableBuilder) {
    t.add("get", get);
    t.add("set", set);
}

fn get(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut shard = ctx.lock(args[1]);
    let found = match shard.get(args[1], ctx.now) {
        Some(entry) => {
            let mut buf = IntBuf::new();
            let s = entry.value.as_str(&mut buf).ok_or(CmdError::WrongType)?;
            ctx.out.bulk(s);
            true
        }
        None => {
            ctx.out.null();
            false
        }
    };
    drop(shard);
    ctx.count_lookup(found);
    Ok(())
}

/// When a key set by SET/GETEX should expire.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Drop any TTL.
    None,
    /// Keep the existing TTL (KEEPTTL).
    Keep,
    /// Absolute Unix time in ms.
    At(u64),
}

/// Converts an EX/PX/EXAT/PXAT argument to an absolute ms time with
/// Redis's overflow and sign checks; `cmd` names the command in errors.
pub fn expire_arg(
    arg: &[u8],
    unit_ms: i64,
    relative: bool,
    now: u64,
    cmd: &str,
) -> Result<u64, CmdError> {
    let v = int(arg)?;
    let invalid = || CmdError::msg(format!("ERR invalid expire time in '{cmd}' command"));
    if v <= 0 {
        return Err(invalid());
    }
    let ms = v.checked_mul(unit_ms).ok_or_else(invalid)?;
    let at = if relative {
        ms.checked_add(now as i64).ok_or_else(invalid)?
    } else {
        ms
    };
    Ok(at as u64)
}

fn set(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (key, value) = (args[1], args[2]);
    let mut nx = false;
    let mut xx = false;
    let mut want_old = false;
    let mut expiry = Expiry::None;
    let mut i = 3;
    while i < args.len() {
        let a = args[i];
        let next = args.get(i + 1);
        let ttl_set = expiry != Expiry::None;
        if is(a, "NX") && !xx {
            nx = true;
        } else if is(a, "XX") && !nx {
            xx = true;
        } else if is(a, "GET") {
            want_old = true;
        } else if is(a, "KEEPTTL") && !ttl_set {
            expiry = Expiry::Keep;
        } else if let (false, Some(v)) = (ttl_set, next) {
            let (unit, relative) = if is(a, "EX") {
                (1000, true)
            } else if is(a, "PX") {
                (1, true)
            } else if is(a, "EXAT") {
                (1000, false)
            } else if is(a, "PXAT") {
                (1, false)
            } else {
                return Err(CmdError::Syntax);
            };
            expiry = Expiry::At(expire_arg(v, unit, relative, ctx.now, "set")?);
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }

    let now = ctx.now;
    let mut shard = ctx.lock(key);
    let existing = shard.get(key, now);
    let exists = existing.is_some();
    if want_old {
        match existing {
            Some(entry) => {
                let mut buf = IntBuf::new();
                let s = entry.value.as_str(&mut buf).ok_or(CmdError::WrongType)?;
                ctx.out.bulk(s);
            }
            None => ctx.out.null(),
        }
    }
    if (nx && exists) || (xx && !exists) {
        if !want_old {
            ctx.out.null();
        }
        return Ok(());
    }
    let value = Value::string(value);
    match expiry {
        Expiry::Keep => {
            shard.set_keep_ttl(key, value, now);
        }
        Expiry::None => {
            shard.set(key, value, 0, now);
        }
        Expiry::At(at) => {
            shard.set(key, value, at, now);
        }
    }
    if !want_old {
        ctx.out.ok();
    }
    Ok(())
}
