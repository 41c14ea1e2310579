//! XPENDING, XCLAIM and XAUTOCLAIM: inspecting and moving the entries a
//! group delivered but nobody acknowledged.

use super::{parse_strict_id, reply_entry, reply_id, stream_mut};
use crate::command::{CmdError, CmdResult, Ctx, TableBuilder};
use crate::commands::args::{int, is};
use crate::keyspace::Shard;
use crate::types::stream::{Stream, StreamId};

/// Registers the commands.
pub fn register(t: &mut TableBuilder) {
    t.add("xpending", xpending);
    t.add("xclaim", xclaim);
    t.add("xautoclaim", xautoclaim);
}

/// NOGROUP as XPENDING/XCLAIM word it.
fn no_group(key: &[u8], group: &[u8]) -> CmdError {
    use crate::command::c_str;
    let mut msg = b"NOGROUP No such key '".to_vec();
    msg.extend_from_slice(c_str(key));
    msg.extend_from_slice(b"' or consumer group '");
    msg.extend_from_slice(c_str(group));
    msg.extend_from_slice(b"'");
    CmdError::Bytes(msg)
}

/// The stream at `key` having group `group`, or NOGROUP.
fn stream_with_group<'a>(
    shard: &'a mut Shard,
    key: &[u8],
    group: &[u8],
    now: u64,
) -> Result<&'a mut Stream, CmdError> {
    match stream_mut(shard, key, now)? {
        Some(s) if s.group(group).is_some() => Ok(s),
        _ => Err(no_group(key, group)),
    }
}

/// An interval start (`(` = exclusive).
fn interval_start(arg: &[u8]) -> Result<StreamId, CmdError> {
    let (id, ex) = interval(arg, 0)?;
    if ex {
        return id
            .next()
            .ok_or(CmdError::err("ERR invalid start ID for the interval"));
    }
    Ok(id)
}

fn interval(arg: &[u8], missing_seq: u64) -> Result<(StreamId, bool), CmdError> {
    if arg.len() > 1 && arg[0] == b'(' {
        let id = super::parse_id_generic(&arg[1..], missing_seq, true, false)?.id;
        return Ok((id, true));
    }
    Ok((super::parse_id(arg, missing_seq)?, false))
}

fn xpending(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let summary = args.len() == 3;
    if !summary && !(6..=9).contains(&args.len()) {
        return Err(CmdError::Syntax);
    }
    let mut min_idle = 0i64;
    let mut count = 0i64;
    let mut start = StreamId::MIN;
    let mut end = StreamId::MAX;
    let mut consumer = None;
    if !summary {
        let mut at = 3;
        if is(args[3], "idle") {
            min_idle = int(args[4])?;
            if args.len() < 8 {
                return Err(CmdError::Syntax);
            }
            at += 2;
        }
        count = int(args[at + 2])?.max(0);
        start = interval_start(args[at])?;
        let (e, ex) = interval(args[at + 1], u64::MAX)?;
        end = if ex {
            e.prev()
                .ok_or(CmdError::err("ERR invalid end ID for the interval"))?
        } else {
            e
        };
        consumer = args.get(at + 3).copied();
    }
    let (key, name) = (args[1], args[2]);
    let now = ctx.now;
    let mut shard = ctx.lock(key);
    let s = stream_with_group(&mut shard, key, name, now)?;
    let Some(g) = s.group(name) else {
        return Err(no_group(key, name));
    };
    let out = &mut *ctx.out;
    if summary {
        out.array(4);
        out.int(g.pel.len() as i64);
        match (g.pel.keys().next(), g.pel.keys().next_back()) {
            (Some(first), Some(last)) => {
                reply_id(out, *first);
                reply_id(out, *last);
                let owners: Vec<_> = g
                    .consumers
                    .iter()
                    .filter(|(_, c)| !c.pel.is_empty())
                    .collect();
                out.array(owners.len());
                for (n, c) in owners {
                    out.array(2);
                    out.bulk(n);
                    out.bulk_int(c.pel.len() as i64);
                }
            }
            _ => {
                out.null();
                out.null();
                out.null_array();
            }
        }
        return Ok(());
    }
    let ids: Vec<StreamId> = match consumer {
        Some(c) => match g.consumers.get(c) {
            Some(c) if start <= end => c.pel.range(start..=end).copied().collect(),
            Some(_) => Vec::new(),
            None => {
                out.array(0);
                return Ok(());
            }
        },
        None if start <= end => g.pel.range(start..=end).map(|(k, _)| *k).collect(),
        None => Vec::new(),
    };
    let mut rows = Vec::new();
    for id in ids {
        if rows.len() as i64 >= count {
            break;
        }
        let Some(p) = g.pel.get(&id) else {
            continue;
        };
        let idle = now as i64 - p.delivery_time as i64;
        if min_idle != 0 && idle < min_idle {
            continue;
        }
        rows.push((id, p, idle.max(0)));
    }
    out.array(rows.len());
    for (id, p, idle) in rows {
        out.array(4);
        reply_id(out, id);
        out.bulk(&p.consumer);
        out.int(idle);
        out.int(p.delivery_count as i64);
    }
    Ok(())
}

/// Parses an integer with a command-specific error message.
fn int_or(arg: &[u8], msg: &'static str) -> Result<i64, CmdError> {
    crate::util::num::parse_i64(arg).ok_or(CmdError::err(msg))
}

fn xclaim(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (key, name, consumer) = (args[1], args[2], args[3]);
    let now = ctx.now;
    let mut shard = ctx.lock(key);
    let s = stream_with_group(&mut shard, key, name, now)?;
    let min_idle = int_or(args[4], "ERR Invalid min-idle-time argument for XCLAIM")?.max(0);
    let mut j = 5;
    let mut ids = Vec::new();
    while j < args.len() {
        match parse_strict_id(args[j]) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
        j += 1;
    }
    let mut force = false;
    let mut justid = false;
    let mut delivery: Option<i64> = None;
    let mut retry: Option<i64> = None;
    let mut last_id = StreamId::MIN;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let opt = args[j];
        if is(opt, "force") {
            force = true;
        } else if is(opt, "justid") {
            justid = true;
        } else if is(opt, "idle") && more > 0 {
            j += 1;
            let idle = int_or(args[j], "ERR Invalid IDLE option argument for XCLAIM")?;
            delivery = Some((now as i64).wrapping_sub(idle));
        } else if is(opt, "time") && more > 0 {
            j += 1;
            delivery = Some(int_or(
                args[j],
                "ERR Invalid TIME option argument for XCLAIM",
            )?);
        } else if is(opt, "retrycount") && more > 0 {
            j += 1;
            retry = Some(int_or(
                args[j],
                "ERR Invalid RETRYCOUNT option argument for XCLAIM",
            )?);
        } else if is(opt, "lastid") && more > 0 {
            j += 1;
            last_id = parse_strict_id(args[j])?;
        } else {
            let mut msg = b"ERR Unrecognized XCLAIM option '".to_vec();
            msg.extend_from_slice(crate::command::c_str(opt));
            msg.push(b'\'');
            return Err(CmdError::Bytes(msg));
        }
        j += 1;
    }
    // A bogus delivery time (negative, in the future) means now.
    let time = match delivery {
        Some(t) if t >= 0 && t <= now as i64 => t as u64,
        _ => now,
    };
    let mut claimed = Vec::new();
    let mut created = false;
    let mut dirty = 0u64;
    {
        let exists: Vec<bool> = ids.iter().map(|id| s.get(*id).is_some()).collect();
        let Some(g) = s.group_mut(name) else {
            return Err(no_group(key, name));
        };
        if last_id > g.last_id {
            g.last_id = last_id;
            dirty += 1;
        }
        for (id, exists) in ids.iter().zip(exists) {
            if !exists {
                // The entry is gone: its PEL record goes too.
                if g.ack(*id) {
                    dirty += 1;
                }
                continue;
            }
            let old_count = match g.pel.get(id) {
                Some(p) => {
                    let idle = now as i64 - p.delivery_time as i64;
                    if min_idle > 0 && idle < min_idle {
                        continue;
                    }
                    p.delivery_count
                }
                // FORCE creates the record, delivered once so far.
                None if force => 1,
                None => continue,
            };
            if g.touch_consumer(consumer, now) {
                created = true;
            }
            let count = match retry {
                Some(r) if r >= 0 => r as u64,
                _ if justid => old_count,
                _ => old_count + 1,
            };
            g.assign(*id, consumer, time, count);
            claimed.push(*id);
            dirty += 1;
        }
    }
    ctx.out.array(claimed.len());
    for id in &claimed {
        if justid {
            reply_id(ctx.out, *id);
        } else {
            match s.get(*id) {
                Some(e) => reply_entry(ctx.out, &e),
                None => ctx.out.null(),
            }
        }
    }
    if created {
        super::event_only(ctx, key, "xgroup-createconsumer");
    }
    ctx.client.stats.dirty += dirty;
    Ok(())
}

fn xautoclaim(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (key, name, consumer) = (args[1], args[2], args[3]);
    let min_idle = int_or(args[4], "ERR Invalid min-idle-time argument for XAUTOCLAIM")?.max(0);
    let start = interval_start(args[5])?;
    let mut count: usize = 100;
    let mut justid = false;
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if is(args[j], "count") && more > 0 {
            let max = i64::MAX / 16;
            count = match crate::util::num::parse_i64(args[j + 1]) {
                Some(n) if (1..=max).contains(&n) => n as usize,
                _ => return Err(CmdError::err("ERR COUNT must be > 0")),
            };
            j += 1;
        } else if is(args[j], "justid") {
            justid = true;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let now = ctx.now;
    let mut shard = ctx.lock(key);
    let s = stream_with_group(&mut shard, key, name, now)?;
    // Redis examines at most ten PEL records per requested entry.
    let mut attempts = count.saturating_mul(10);
    let candidates: Vec<StreamId> = s
        .group(name)
        .map(|g| {
            g.pel
                .range(start..)
                .take(attempts.saturating_add(1))
                .map(|(k, _)| *k)
                .collect()
        })
        .unwrap_or_default();
    let exists: Vec<bool> = candidates.iter().map(|id| s.get(*id).is_some()).collect();
    let Some(g) = s.group_mut(name) else {
        return Err(no_group(key, name));
    };
    let mut claimed = Vec::new();
    let mut deleted = Vec::new();
    let mut created = false;
    let mut examined = 0;
    while attempts > 0 && count > 0 && examined < candidates.len() {
        attempts -= 1;
        let id = candidates[examined];
        examined += 1;
        if !exists[examined - 1] {
            g.ack(id);
            deleted.push(id);
            count -= 1;
            continue;
        }
        let Some(p) = g.pel.get(&id) else {
            continue;
        };
        if min_idle > 0 && (now as i64 - p.delivery_time as i64) < min_idle {
            continue;
        }
        let delivered = if justid {
            p.delivery_count
        } else {
            p.delivery_count + 1
        };
        if g.touch_consumer(consumer, now) {
            created = true;
        }
        g.assign(id, consumer, now, delivered);
        claimed.push(id);
        count -= 1;
    }
    let cursor = candidates.get(examined).copied().unwrap_or(StreamId::MIN);
    let out = &mut *ctx.out;
    out.array(3);
    reply_id(out, cursor);
    out.array(claimed.len());
    for id in &claimed {
        if justid {
            reply_id(out, *id);
        } else if let Some(e) = s.get(*id) {
            reply_entry(out, &e);
        }
    }
    out.array(deleted.len());
    for id in &deleted {
        reply_id(out, *id);
    }
    if created {
        super::event_only(ctx, key, "xgroup-createconsumer");
    }
    ctx.client.stats.dirty += (claimed.len() + deleted.len()) as u64;
    Ok(())
}
