//! XRANGE, XREVRANGE, XREAD and XREADGROUP, with the blocking forms served
//! by XADD (and failed by XGROUP DESTROY) through the blocking registry.

use std::time::Duration;

use super::{
    parse_id, parse_id_generic, parse_strict_id, reply_entries, reply_entry, reply_id, stream_mut,
    stream_ref,
};
use crate::command::{CmdError, CmdResult, Ctx, TableBuilder};
use crate::commands::args::{int, is};
use crate::protocol::reply::Reply;
use crate::server::blocking::{BlockedOp, Serve};
use crate::types::stream::{Stream, StreamId};

/// Registers the commands.
pub fn register(t: &mut TableBuilder) {
    t.add("xrange", xrange);
    t.add("xrevrange", xrevrange);
    t.add("xread", xread);
    t.add("xreadgroup", xreadgroup);
}

/// Entries a blocked reader gets at most when it gave no COUNT.
const BLOCKED_DEFAULT_COUNT: usize = 1000;

/// An interval bound: `(` makes it exclusive (strict ID syntax then).
fn parse_bound(arg: &[u8], missing_seq: u64) -> Result<(StreamId, bool), CmdError> {
    if arg.len() > 1 && arg[0] == b'(' {
        let id = parse_id_generic(&arg[1..], missing_seq, true, false)?.id;
        return Ok((id, true));
    }
    Ok((parse_id(arg, missing_seq)?, false))
}

fn range_generic(ctx: &mut Ctx, args: &[&[u8]], rev: bool) -> CmdResult {
    let (start_arg, end_arg) = if rev {
        (args[3], args[2])
    } else {
        (args[2], args[3])
    };
    let (mut start, ex) = parse_bound(start_arg, 0)?;
    if ex {
        start = start
            .next()
            .ok_or(CmdError::err("ERR invalid start ID for the interval"))?;
    }
    let (mut end, ex) = parse_bound(end_arg, u64::MAX)?;
    if ex {
        end = end
            .prev()
            .ok_or(CmdError::err("ERR invalid end ID for the interval"))?;
    }
    let mut count: i64 = -1;
    let mut j = 4;
    while j < args.len() {
        if is(args[j], "count") && j + 1 < args.len() {
            count = int(args[j + 1])?.max(0);
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let key = args[1];
    let mut shard = ctx.lock(key);
    match stream_ref(ctx, &mut shard, key)? {
        None => ctx.out.array(0),
        // An explicit COUNT of zero (or less) answers a null array.
        Some(_) if count == 0 => ctx.out.null_array(),
        Some(s) => {
            let limit = if count < 0 { 0 } else { count as usize };
            reply_entries(ctx.out, &s.range(start, end, rev, limit));
        }
    }
    Ok(())
}

fn xrange(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    range_generic(ctx, args, false)
}

fn xrevrange(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    range_generic(ctx, args, true)
}

/// Where a reader starts on one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum From {
    /// Entries after this ID.
    After(StreamId),
    /// XREADGROUP `>`: entries never delivered to the group.
    New,
}

/// Parsed XREAD/XREADGROUP arguments.
struct ReadArgs<'a> {
    timeout: Option<Option<Duration>>,
    count: usize,
    noack: bool,
    group: Option<(&'a [u8], &'a [u8])>,
    keys: Vec<&'a [u8]>,
    ids: Vec<&'a [u8]>,
}

fn parse_read<'a>(args: &[&'a [u8]], xreadgroup: bool) -> Result<ReadArgs<'a>, CmdError> {
    let mut r = ReadArgs {
        timeout: None,
        count: 0,
        noack: false,
        group: None,
        keys: Vec::new(),
        ids: Vec::new(),
    };
    let mut streams_at = None;
    let mut i = 1;
    while i < args.len() {
        let more = args.len() - i - 1;
        let o = args[i];
        if is(o, "block") && more > 0 {
            i += 1;
            r.timeout = Some(parse_block_ms(args[i])?);
        } else if is(o, "count") && more > 0 {
            i += 1;
            r.count = int(args[i])?.max(0) as usize;
        } else if is(o, "streams") && more > 0 {
            let n = args.len() - (i + 1);
            if !n.is_multiple_of(2) {
                let (name, symbol) = if xreadgroup {
                    ("XREADGROUP", '>')
                } else {
                    ("XREAD", '$')
                };
                return Err(CmdError::msg(format!(
                    "ERR Unbalanced {name} list of streams: for each stream key an ID or '{symbol}' must be specified."
                )));
            }
            streams_at = Some(i + 1);
            break;
        } else if is(o, "group") && more >= 2 {
            if !xreadgroup {
                return Err(CmdError::err(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            r.group = Some((args[i + 1], args[i + 2]));
            i += 2;
        } else if is(o, "noack") {
            if !xreadgroup {
                return Err(CmdError::err(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            r.noack = true;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    let Some(at) = streams_at else {
        return Err(CmdError::Syntax);
    };
    if xreadgroup && r.group.is_none() {
        return Err(CmdError::err("ERR Missing GROUP option for XREADGROUP"));
    }
    let n = (args.len() - at) / 2;
    r.keys = args[at..at + n].to_vec();
    r.ids = args[at + n..].to_vec();
    Ok(r)
}

/// BLOCK's argument: integer milliseconds (Redis's
/// `getTimeoutFromObjectOrReply` in ms units); `None` = forever.
fn parse_block_ms(arg: &[u8]) -> Result<Option<Duration>, CmdError> {
    let ms = crate::util::num::parse_i64(arg).ok_or(CmdError::err(
        "ERR timeout is not an integer or out of range",
    ))?;
    if ms < 0 {
        return Err(CmdError::err("ERR timeout is negative"));
    }
    if ms == 0 {
        return Ok(None);
    }
    Ok(Some(Duration::from_millis(ms as u64)))
}

/// Writes the per-key header of a read reply (`[key, …]` in RESP2, a map
/// entry in RESP3).
fn key_header(out: &mut Reply, key: &[u8]) {
    if !out.resp3 {
        out.array(2);
    }
    out.bulk(key);
}

/// Writes the outer reply header for `n` served keys.
fn outer_header(out: &mut Reply, n: usize) {
    if out.resp3 {
        out.map(n);
    } else {
        out.array(n);
    }
}

/// Who reads from a group, and how.
#[derive(Clone, Copy)]
struct GroupRead<'a> {
    group: &'a [u8],
    consumer: &'a [u8],
    /// Entries at most (0 = all).
    count: usize,
    /// Deliver without recording pending entries.
    noack: bool,
    now: u64,
}

/// Serves a group read on stream `s`: new entries after the group's last
/// ID (`history` false) or the consumer's pending entries after `after`.
/// Writes the entries array and returns how many were written.
fn serve_group(
    out: &mut Reply,
    s: &mut Stream,
    r: &GroupRead<'_>,
    after: StreamId,
    history: bool,
) -> usize {
    let GroupRead {
        group,
        consumer,
        count,
        noack,
        now,
    } = *r;
    let Some(start) = after.next() else {
        out.array(0);
        return 0;
    };
    if history {
        let ids: Vec<StreamId> = s
            .group(group)
            .and_then(|g| g.consumers.get(consumer))
            .map(|c| {
                c.pel
                    .range(start..)
                    .take(if count == 0 { usize::MAX } else { count })
                    .copied()
                    .collect()
            })
            .unwrap_or_default();
        out.array(ids.len());
        let mut found = Vec::new();
        for id in &ids {
            match s.get(*id) {
                Some(e) => {
                    reply_entry(out, &e);
                    found.push(*id);
                }
                None => {
                    // Deleted while pending: the ID with a null body.
                    out.array(2);
                    reply_id(out, *id);
                    out.null_array();
                }
            }
        }
        if let Some(g) = s.group_mut(group) {
            for id in found {
                if let Some(p) = g.pel.get_mut(&id) {
                    p.delivery_time = now;
                    p.delivery_count += 1;
                }
            }
        }
        return ids.len();
    }
    let entries = s.range(start, StreamId::MAX, false, count);
    reply_entries(out, &entries);
    let ids: Vec<StreamId> = entries.iter().map(|e| e.id).collect();
    for id in &ids {
        s.advance_group(group, *id);
        if !noack {
            if let Some(g) = s.group_mut(group) {
                g.assign(*id, consumer, now, 1);
            }
        }
    }
    ids.len()
}

fn xread(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let r = parse_read(args, false)?;
    let now = ctx.now;
    let mut lock = ctx.lock_command_keys(args);
    let db = ctx.client.db;
    let mut from = Vec::with_capacity(r.keys.len());
    for (key, id) in r.keys.iter().zip(&r.ids) {
        let s = stream_mut(lock.shard(db, key), key, now)?;
        from.push(match *id {
            b"$" => s.map_or(StreamId::MIN, |s| s.last_id),
            b">" => {
                return Err(CmdError::err(
                    "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
                ))
            }
            id => parse_strict_id(id)?,
        });
    }
    let mut served = Vec::new();
    for (i, key) in r.keys.iter().enumerate() {
        let found = stream_mut(lock.shard(db, key), key, now)?;
        ctx.count_lookup(found.is_some());
        if let Some(s) = found {
            if s.last_entry().is_some_and(|e| e.id > from[i]) {
                served.push(i);
            }
        }
    }
    if !served.is_empty() {
        outer_header(ctx.out, served.len());
        for i in served {
            let key = r.keys[i];
            key_header(ctx.out, key);
            if let Ok(Some(s)) = stream_mut(lock.shard(db, key), key, now) {
                let entries = from[i]
                    .next()
                    .map(|start| s.range(start, StreamId::MAX, false, r.count))
                    .unwrap_or_default();
                reply_entries(ctx.out, &entries);
            }
        }
        return Ok(());
    }
    match r.timeout {
        Some(timeout) => {
            let keys = r.keys.iter().map(|k| k.to_vec()).collect();
            let wait = ReadWait {
                from: r.keys.iter().map(|k| k.to_vec()).zip(from).collect(),
                count: if r.count == 0 {
                    BLOCKED_DEFAULT_COUNT
                } else {
                    r.count
                },
                group: None,
            };
            ctx.block(keys, timeout, Box::new(wait));
        }
        None => ctx.out.null_array(),
    }
    drop(lock);
    Ok(())
}

fn xreadgroup(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let r = parse_read(args, true)?;
    let Some((group, consumer)) = r.group else {
        return Err(CmdError::Syntax);
    };
    let now = ctx.now;
    let mut lock = ctx.lock_command_keys(args);
    let db = ctx.client.db;
    let mut from = Vec::with_capacity(r.keys.len());
    for (key, id) in r.keys.iter().zip(&r.ids) {
        let s = stream_mut(lock.shard(db, key), key, now)?;
        if s.and_then(|s| s.group(group)).is_none() {
            let mut msg = b"NOGROUP No such key '".to_vec();
            msg.extend_from_slice(crate::command::c_str(key));
            msg.extend_from_slice(b"' or consumer group '");
            msg.extend_from_slice(crate::command::c_str(group));
            msg.extend_from_slice(b"' in XREADGROUP with GROUP option");
            return Err(CmdError::Bytes(msg));
        }
        from.push(match *id {
            b"$" => {
                return Err(CmdError::err(
                    "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
                ))
            }
            b">" => From::New,
            id => From::After(parse_strict_id(id)?),
        });
    }
    // Decide which keys are served now, creating consumers on the way.
    let mut served = Vec::new();
    for (i, key) in r.keys.iter().enumerate() {
        ctx.count_lookup(true);
        let Ok(Some(s)) = stream_mut(lock.shard(db, key), key, now) else {
            continue;
        };
        let last_valid = s.last_entry().map(|e| e.id);
        let Some(g) = s.group_mut(group) else {
            continue;
        };
        let serve = match from[i] {
            From::After(_) => true,
            From::New => last_valid.is_some_and(|id| id > g.last_id),
        };
        let created = g.touch_consumer(consumer, now);
        if created {
            super::event_only(ctx, key, "xgroup-createconsumer");
        }
        if serve {
            served.push(i);
        }
    }
    if !served.is_empty() {
        outer_header(ctx.out, served.len());
        for i in served {
            let key = r.keys[i];
            key_header(ctx.out, key);
            if let Ok(Some(s)) = stream_mut(lock.shard(db, key), key, now) {
                let (after, history) = match from[i] {
                    From::After(id) => (id, true),
                    From::New => (s.group(group).map_or(StreamId::MIN, |g| g.last_id), false),
                };
                let read = GroupRead {
                    group,
                    consumer,
                    count: r.count,
                    noack: r.noack,
                    now,
                };
                serve_group(ctx.out, s, &read, after, history);
            }
            ctx.client.stats.dirty += 1;
        }
        return Ok(());
    }
    match r.timeout {
        Some(timeout) => {
            let keys = r.keys.iter().map(|k| k.to_vec()).collect();
            let wait = ReadWait {
                from: r.keys.iter().map(|k| (k.to_vec(), StreamId::MAX)).collect(),
                count: if r.count == 0 {
                    BLOCKED_DEFAULT_COUNT
                } else {
                    r.count
                },
                group: Some(GroupWait {
                    group: group.to_vec(),
                    consumer: consumer.to_vec(),
                    noack: r.noack,
                }),
            };
            ctx.block(keys, timeout, Box::new(wait));
        }
        None => ctx.out.null_array(),
    }
    drop(lock);
    Ok(())
}

/// The group side of a blocked XREADGROUP.
struct GroupWait {
    group: Vec<u8>,
    consumer: Vec<u8>,
    noack: bool,
}

/// A blocked XREAD/XREADGROUP.
struct ReadWait {
    /// Each key with the ID entries must be greater than (XREAD).
    from: Vec<(Vec<u8>, StreamId)>,
    count: usize,
    group: Option<GroupWait>,
}

impl BlockedOp for ReadWait {
    fn serve(&self, sv: &mut Serve<'_>) -> bool {
        let key = sv.key;
        let now = sv.now;
        let Some(shard) = sv.shards.shard(key) else {
            return false;
        };
        let Ok(Some(s)) = stream_mut(shard, key, now) else {
            // A group reader whose stream went away is failed, as Redis
            // 7.0 does; a plain reader keeps waiting for a new stream.
            if self.group.is_some() {
                sv.out.error("UNBLOCKED the stream key no longer exists");
                return true;
            }
            return false;
        };
        let gt = match &self.group {
            Some(gw) => match s.group(&gw.group) {
                Some(g) => g.last_id,
                None => {
                    sv.out.error(
                        "NOGROUP the consumer group this client was blocked on no longer exists",
                    );
                    return true;
                }
            },
            None => match self.from.iter().find(|(k, _)| k == key) {
                Some((_, id)) => *id,
                None => return false,
            },
        };
        if s.last_id <= gt {
            return false;
        }
        outer_header(&mut sv.out, 1);
        if !sv.out.resp3 {
            // One key served: `[[key, entries]]`.
            sv.out.array(2);
        }
        sv.out.bulk(key);
        match &self.group {
            Some(gw) => {
                if let Some(g) = s.group_mut(&gw.group) {
                    if g.touch_consumer(&gw.consumer, now) {
                        sv.modified.push((key.to_vec(), "xgroup-createconsumer"));
                    }
                }
                let read = GroupRead {
                    group: &gw.group,
                    consumer: &gw.consumer,
                    count: self.count,
                    noack: gw.noack,
                    now,
                };
                serve_group(&mut sv.out, s, &read, gt, false);
            }
            None => {
                let entries = gt
                    .next()
                    .map(|start| s.range(start, StreamId::MAX, false, self.count))
                    .unwrap_or_default();
                reply_entries(&mut sv.out, &entries);
            }
        }
        true
    }

    fn timeout_reply(&self, out: &mut Reply) {
        out.null_array();
    }
}
