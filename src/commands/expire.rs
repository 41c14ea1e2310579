//! Key expiry commands: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (with NX, XX,
//! GT, LT), TTL, PTTL, EXPIRETIME, PEXPIRETIME and PERSIST.

use crate::command::{CmdError, CmdResult, Ctx, TableBuilder};
use crate::commands::args::{int, is};

/// Registers the family.
pub fn register(t: &mut TableBuilder) {
    t.add("expire", |ctx, args| expire_generic(ctx, args, 1000, true));
    t.add("pexpire", |ctx, args| expire_generic(ctx, args, 1, true));
    t.add("expireat", |ctx, args| {
        expire_generic(ctx, args, 1000, false)
    });
    t.add("pexpireat", |ctx, args| expire_generic(ctx, args, 1, false));
    t.add("ttl", |ctx, args| ttl_generic(ctx, args, false, false));
    t.add("pttl", |ctx, args| ttl_generic(ctx, args, true, false));
    t.add("expiretime", |ctx, args| {
        ttl_generic(ctx, args, false, true)
    });
    t.add("pexpiretime", |ctx, args| {
        ttl_generic(ctx, args, true, true)
    });
    t.add("persist", persist);
}

/// The NX/XX/GT/LT conditions of the EXPIRE family.
#[derive(Default)]
struct Conditions {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

impl Conditions {
    /// Parses the options after the time, with Redis's error texts.
    fn parse(opts: &[&[u8]]) -> Result<Self, CmdError> {
        let mut c = Conditions::default();
        for opt in opts {
            if is(opt, "NX") {
                c.nx = true;
            } else if is(opt, "XX") {
                c.xx = true;
            } else if is(opt, "GT") {
                c.gt = true;
            } else if is(opt, "LT") {
                c.lt = true;
            } else {
                return Err(CmdError::with_arg("ERR Unsupported option ", opt, ""));
            }
        }
        if c.nx && (c.xx || c.gt || c.lt) {
            return Err(CmdError::err(
                "ERR NX and XX, GT or LT options at the same time are not compatible",
            ));
        }
        if c.gt && c.lt {
            return Err(CmdError::err(
                "ERR GT and LT options at the same time are not compatible",
            ));
        }
        Ok(c)
    }

    /// Whether a new expiry `when` may replace `current` (0 = none, which
    /// counts as an infinite TTL for GT and LT).
    fn allow(&self, current: u64, when: i64) -> bool {
        let current = (current != 0).then_some(current as i64);
        !((self.nx && current.is_some())
            || (self.xx && current.is_none())
            || (self.gt && current.is_none_or(|c| when <= c))
            || (self.lt && current.is_some_and(|c| when >= c)))
    }
}

/// The absolute expiry in ms for EXPIRE-family argument `arg`, with
/// Redis's overflow checks (negative results are allowed: they delete).
fn expire_time(ctx: &Ctx, arg: &[u8], unit_ms: i64, relative: bool) -> Result<i64, CmdError> {
    let invalid = || {
        CmdError::msg(format!(
            "ERR invalid expire time in '{}' command",
            ctx.cmd.name
        ))
    };
    let when = int(arg)?;
    let when = when.checked_mul(unit_ms).ok_or_else(invalid)?;
    let base = if relative { ctx.now as i64 } else { 0 };
    when.checked_add(base).ok_or_else(invalid)
}

/// EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT key time [NX|XX|GT|LT]: 1 when the
/// TTL was set (or the key deleted because the time is already past), 0
/// when the key is missing or a condition failed.
fn expire_generic(ctx: &mut Ctx, args: &[&[u8]], unit_ms: i64, relative: bool) -> CmdResult {
    let conditions = Conditions::parse(&args[3..])?;
    let when = expire_time(ctx, args[2], unit_ms, relative)?;
    let (key, now) = (args[1], ctx.now);
    let mut shard = ctx.lock(key);
    let Some(entry) = shard.get(key, now) else {
        ctx.out.int(0);
        return Ok(());
    };
    if !conditions.allow(entry.expire_at(), when) {
        ctx.out.int(0);
        return Ok(());
    }
    if when <= now as i64 {
        let removed = shard.remove(key);
        drop(shard);
        drop(removed);
        ctx.modified(key, "del");
        ctx.propagate_one(&[b"DEL", key]);
    } else {
        shard.set_expire(key, when as u64, now);
        ctx.modified(key, "expire");
        // Every form replays as PEXPIREAT with the absolute time it set,
        // its condition arguments kept as Redis keeps them.
        if ctx.propagating() {
            let at = when.to_string();
            let mut replay: Vec<&[u8]> = vec![b"PEXPIREAT", key, at.as_bytes()];
            replay.extend_from_slice(&args[3..]);
            ctx.propagate_one(&replay);
        }
    }
    ctx.out.int(1);
    Ok(())
}

/// TTL/PTTL/EXPIRETIME/PEXPIRETIME: -2 for a missing key, -1 without TTL.
/// Looking at a TTL is not an access of the key.
fn ttl_generic(ctx: &mut Ctx, args: &[&[u8]], ms: bool, absolute: bool) -> CmdResult {
    let (key, now) = (args[1], ctx.now);
    let expire_at = ctx.lock(key).peek(key, now).map(|e| e.expire_at());
    ctx.read_lookup(key, expire_at.is_some());
    let reply = match expire_at {
        None => -2,
        Some(0) => -1,
        Some(at) => {
            // Stored times are positive i64 values, so the rounding below
            // cannot overflow a u64.
            let t = if absolute { at } else { at.saturating_sub(now) };
            if ms {
                t as i64
            } else {
                ((t + 500) / 1000) as i64
            }
        }
    };
    ctx.out.int(reply);
    Ok(())
}

fn persist(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (key, now) = (args[1], ctx.now);
    let had_ttl = ctx.lock(key).persist(key, now);
    if had_ttl {
        ctx.modified(key, "persist");
    }
    ctx.out.int(had_ttl as i64);
    Ok(())
}
