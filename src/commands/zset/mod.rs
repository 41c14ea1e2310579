//! The sorted-set family (Redis 7.0's `t_zset.c`): ZADD and friends here,
//! ranges in [`range`], pops and the blocking pops in [`pop`], and the
//! union / intersection / difference commands in [`setops`].

pub mod parse;
pub mod pop;
pub mod range;
pub mod setops;

use crate::command::{CmdError, CmdResult, Ctx, TableBuilder};
use crate::commands::args::{cursor, int, is, ScanOptions};
use crate::keyspace::{Shard, Value};
use crate::protocol::reply::Reply;
use crate::types::zset::Limits;
use crate::types::ZSet;
use crate::util::num::format_g17;
use parse::{score_arg, LexRange, ScoreRange};

/// Registers the family.
pub fn register(t: &mut TableBuilder) {
    t.add("zadd", zadd);
    t.add("zincrby", zincrby);
    t.add("zrem", zrem);
    t.add("zcard", zcard);
    t.add("zscore", zscore);
    t.add("zmscore", zmscore);
    t.add("zrank", zrank);
    t.add("zrevrank", zrevrank);
    t.add("zcount", zcount);
    t.add("zlexcount", zlexcount);
    t.add("zremrangebyrank", zremrangebyrank);
    t.add("zremrangebyscore", zremrangebyscore);
    t.add("zremrangebylex", zremrangebylex);
    t.add("zscan", zscan);
    t.add("zrandmember", zrandmember);
    range::register(t);
    pop::register(t);
    setops::register(t);
}

/// The encoding thresholds currently configured.
pub(crate) fn limits(ctx: &Ctx) -> Limits {
    let c = ctx.server.config.read();
    Limits {
        max_entries: c.encodings.zset_max_listpack_entries,
        max_value: c.encodings.zset_max_listpack_value,
    }
}

/// The sorted set at `key`, `None` when absent, `WRONGTYPE` for others.
pub(crate) fn read<'a>(
    shard: &'a mut Shard,
    key: &[u8],
    now: u64,
) -> Result<Option<&'a ZSet>, CmdError> {
    match shard.get(key, now) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::ZSet(z) => Ok(Some(z)),
            _ => Err(CmdError::WrongType),
        },
    }
}

/// [`read`] for a command's read lookup: a missing key is reported as a
/// `keymiss` notification.
pub(crate) fn read_key<'s>(
    ctx: &Ctx,
    shard: &'s mut Shard,
    key: &[u8],
) -> Result<Option<&'s ZSet>, CmdError> {
    let found = read(shard, key, ctx.now)?;
    if found.is_none() {
        crate::server::notify::keymiss(ctx.server, ctx.client.db, key);
    }
    Ok(found)
}

/// Mutable access to the sorted set at `key`.
pub(crate) fn write<'a>(
    shard: &'a mut Shard,
    key: &[u8],
    now: u64,
) -> Result<Option<&'a mut ZSet>, CmdError> {
    match shard.get_mut(key, now) {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::ZSet(z) => Ok(Some(z)),
            _ => Err(CmdError::WrongType),
        },
    }
}

/// After removing members: records `event`, and deletes the key (event
/// `del`) when the set became empty.
pub(crate) fn after_removal(
    ctx: &mut Ctx,
    shard: &mut Shard,
    key: &[u8],
    removed: usize,
    event: &'static str,
) {
    if removed == 0 {
        return;
    }
    ctx.modified(key, event);
    let empty = matches!(shard.get(key, ctx.now), Some(e) if matches!(&e.value, Value::ZSet(z) if z.is_empty()));
    if empty {
        shard.remove(key);
        ctx.modified(key, "del");
    }
}

/// Replies with (member, score) pairs: members only, a flat
/// member/score array (RESP2), or an array of pairs (RESP3).
pub(crate) fn reply_pairs<'a>(
    out: &mut Reply,
    pairs: impl ExactSizeIterator<Item = (&'a [u8], f64)>,
    withscores: bool,
) {
    let n = pairs.len();
    if !withscores {
        out.array(n);
        for (m, _) in pairs {
            out.bulk(m);
        }
    } else if out.resp3 {
        out.array(n);
        for (m, s) in pairs {
            out.array(2);
            out.bulk(m);
            out.double(s);
        }
    } else {
        out.array(2 * n);
        for (m, s) in pairs {
            out.bulk(m);
            out.double(s);
        }
    }
}

// ZADD flags (Redis's ZADD_IN_*).
const NX: u8 = 1;
const XX: u8 = 2;
const GT: u8 = 4;
const LT: u8 = 8;
const CH: u8 = 16;
const INCR: u8 = 32;

/// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]
fn zadd(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut flags = 0;
    let mut i = 2;
    while i < args.len() {
        let flag = match args[i] {
            a if is(a, "nx") => NX,
            a if is(a, "xx") => XX,
            a if is(a, "gt") => GT,
            a if is(a, "lt") => LT,
            a if is(a, "ch") => CH,
            a if is(a, "incr") => INCR,
            _ => break,
        };
        flags |= flag;
        i += 1;
    }
    zadd_generic(ctx, args[1], &args[i..], flags)
}

/// ZINCRBY key increment member
fn zincrby(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    zadd_generic(ctx, args[1], &args[2..], INCR)
}

/// Redis's `zaddGenericCommand`: `pairs` are the score/member arguments.
fn zadd_generic(ctx: &mut Ctx, key: &[u8], pairs: &[&[u8]], flags: u8) -> CmdResult {
    let has = |f: u8| flags & f != 0;
    if pairs.is_empty() || !pairs.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    if has(NX) && has(XX) {
        return Err(CmdError::err(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if (has(GT) && has(NX)) || (has(LT) && has(NX)) || (has(GT) && has(LT)) {
        return Err(CmdError::err(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if has(INCR) && pairs.len() > 2 {
        return Err(CmdError::err(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    let scores = pairs
        .iter()
        .step_by(2)
        .map(|s| score_arg(s))
        .collect::<Result<Vec<f64>, _>>()?;
    let limits = limits(ctx);
    let now = ctx.now;
    let mut shard = ctx.lock(key);
    let exists = write(&mut shard, key, now)?.is_some();
    let (mut added, mut updated, mut processed) = (0, 0, 0);
    let mut last = 0.0;
    if exists || !has(XX) {
        let entry = shard.get_or_insert(key, now, || Value::ZSet(Box::default()));
        let Value::ZSet(z) = &mut entry.value else {
            return Err(CmdError::WrongType);
        };
        for (j, &score) in scores.iter().enumerate() {
            let member = pairs[2 * j + 1];
            match z.score(member) {
                Some(cur) => {
                    if has(NX) {
                        continue;
                    }
                    let new = if has(INCR) { score + cur } else { score };
                    if new.is_nan() {
                        return Err(CmdError::err("ERR resulting score is not a number (NaN)"));
                    }
                    if (has(LT) && new >= cur) || (has(GT) && new <= cur) {
                        continue;
                    }
                    processed += 1;
                    last = new;
                    if new != cur {
                        z.set(member, new, limits);
                        updated += 1;
                    }
                }
                None => {
                    if has(XX) {
                        continue;
                    }
                    z.set(member, score, limits);
                    added += 1;
                    processed += 1;
                    last = score;
                }
            }
        }
    }
    if added + updated > 0 {
        ctx.modified(key, if has(INCR) { "zincr" } else { "zadd" });
    }
    if has(INCR) {
        if processed > 0 {
            ctx.out.double(last);
        } else {
            ctx.out.null();
        }
    } else {
        ctx.out.int(if has(CH) { added + updated } else { added });
    }
    if added > 0 {
        ctx.serve_blocked_one(key, &mut shard);
    }
    Ok(())
}

/// ZREM key member [member ...]
fn zrem(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let mut shard = ctx.lock(key);
    let removed = match write(&mut shard, key, ctx.now)? {
        None => 0,
        Some(z) => args[2..].iter().filter(|m| z.remove(m).is_some()).count(),
    };
    after_removal(ctx, &mut shard, key, removed, "zrem");
    ctx.out.int(removed as i64);
    Ok(())
}

/// ZCARD key
fn zcard(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut shard = ctx.lock(args[1]);
    let n = read_key(ctx, &mut shard, args[1])?.map_or(0, ZSet::len);
    ctx.out.int(n as i64);
    Ok(())
}

/// ZSCORE key member
fn zscore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut shard = ctx.lock(args[1]);
    match read_key(ctx, &mut shard, args[1])?.and_then(|z| z.score(args[2])) {
        Some(s) => ctx.out.double(s),
        None => ctx.out.null(),
    }
    Ok(())
}

/// ZMSCORE key member [member ...]
fn zmscore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut shard = ctx.lock(args[1]);
    let z = read_key(ctx, &mut shard, args[1])?;
    ctx.out.array(args.len() - 2);
    for m in &args[2..] {
        match z.and_then(|z| z.score(m)) {
            Some(s) => ctx.out.double(s),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn rank_generic(ctx: &mut Ctx, args: &[&[u8]], rev: bool) -> CmdResult {
    let mut shard = ctx.lock(args[1]);
    let z = read_key(ctx, &mut shard, args[1])?;
    match z.and_then(|z| z.rank(args[2]).map(|r| (r, z.len()))) {
        Some((r, len)) => ctx.out.int(if rev { len - 1 - r } else { r } as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

/// ZRANK key member
fn zrank(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    rank_generic(ctx, args, false)
}

/// ZREVRANK key member
fn zrevrank(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    rank_generic(ctx, args, true)
}

/// Replies how many members of `key` fall in the rank span `ranks` picks.
fn count_in(ctx: &mut Ctx, key: &[u8], ranks: impl Fn(&ZSet) -> (usize, usize)) -> CmdResult {
    let mut shard = ctx.lock(key);
    let n = read_key(ctx, &mut shard, key)?.map_or(0, |z| {
        let (lo, hi) = ranks(z);
        hi - lo
    });
    ctx.out.int(n as i64);
    Ok(())
}

/// ZCOUNT key min max
fn zcount(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let range = ScoreRange::parse(args[2], args[3])?;
    count_in(ctx, args[1], |z| range.ranks(z))
}

/// ZLEXCOUNT key min max
fn zlexcount(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let range = LexRange::parse(args[2], args[3])?;
    count_in(ctx, args[1], |z| range.ranks(z))
}

/// Removes the members of ascending ranks chosen by `pick` from `key`.
fn zremrange(
    ctx: &mut Ctx,
    key: &[u8],
    event: &'static str,
    pick: impl Fn(&ZSet) -> (usize, usize),
) -> CmdResult {
    let mut shard = ctx.lock(key);
    let removed = match write(&mut shard, key, ctx.now)? {
        None => 0,
        Some(z) => {
            let (lo, hi) = pick(z);
            z.remove_ranks(lo, hi).len()
        }
    };
    after_removal(ctx, &mut shard, key, removed, event);
    ctx.out.int(removed as i64);
    Ok(())
}

/// Redis's rank sanitizing for ZRANGE-style `start`/`end` (inclusive,
/// negative from the end): the ascending ranks `lo..hi`, maybe empty.
pub(crate) fn rank_window(start: i64, end: i64, len: usize) -> (usize, usize) {
    let len = len as i64;
    let mut start = if start < 0 { start + len } else { start };
    let mut end = if end < 0 { end + len } else { end };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= len {
        return (0, 0);
    }
    if end >= len {
        end = len - 1;
    }
    (start as usize, end as usize + 1)
}

/// ZREMRANGEBYRANK key start stop
fn zremrangebyrank(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (start, end) = (int(args[2])?, int(args[3])?);
    zremrange(ctx, args[1], "zremrangebyrank", |z| {
        rank_window(start, end, z.len())
    })
}

/// ZREMRANGEBYSCORE key min max
fn zremrangebyscore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let range = ScoreRange::parse(args[2], args[3])?;
    zremrange(ctx, args[1], "zremrangebyscore", |z| range.ranks(z))
}

/// ZREMRANGEBYLEX key min max
fn zremrangebylex(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let range = LexRange::parse(args[2], args[3])?;
    zremrange(ctx, args[1], "zremrangebylex", |z| range.ranks(z))
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count]
fn zscan(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut cur = cursor(args[2])?;
    let mut shard = ctx.lock(args[1]);
    let Some(z) = read_key(ctx, &mut shard, args[1])? else {
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.array(0);
        return Ok(());
    };
    let opts = ScanOptions::parse(&args[3..], false)?;
    let count = opts.count;
    // As Redis: about COUNT elements, at most 10 * COUNT buckets per call.
    // A listpack holds scores as strings made by `d2string`; the skiplist
    // ones are printed with `%.17g`.
    let format: fn(f64) -> String = if matches!(z, ZSet::Pack(_)) {
        d2string
    } else {
        format_g17
    };
    let mut found: Vec<(Vec<u8>, f64)> = Vec::new();
    let mut budget = count.saturating_mul(10);
    loop {
        cur = z.scan(cur, |m, s| {
            if opts.matches(m) {
                found.push((m.to_vec(), s));
            }
        });
        budget -= 1;
        if cur == 0 || budget == 0 || found.len() as u64 >= count {
            break;
        }
    }
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(cur).as_bytes());
    ctx.out.array(2 * found.len());
    for (m, s) in &found {
        ctx.out.bulk(m);
        ctx.out.bulk(format(*s).as_bytes());
    }
    Ok(())
}

/// Redis's `d2string` (how a listpack stores scores): integral values in the
/// `long long` range as integers, others like `%.17g`.
fn d2string(v: f64) -> String {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0; // 2^63
    if v != 0.0 && v.fract() == 0.0 && v > -LIMIT && v < LIMIT {
        itoa::Buffer::new().format(v as i64).to_string()
    } else {
        format_g17(v)
    }
}

/// ZRANDMEMBER key [count [WITHSCORES]]
fn zrandmember(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let mut rnd = crate::util::rand::random_u64();
    if args.len() < 3 {
        let mut shard = ctx.lock(key);
        match read_key(ctx, &mut shard, key)? {
            Some(z) => {
                let (m, _) = z.get(rnd as usize % z.len()).ok_or(CmdError::Syntax)?;
                ctx.out.bulk(m);
            }
            None => ctx.out.null(),
        }
        return Ok(());
    }
    let count = int(args[2])?;
    if count == i64::MIN {
        return Err(CmdError::err(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    let withscores = match args.len() {
        3 => false,
        4 if is(args[3], "withscores") => true,
        _ => return Err(CmdError::Syntax),
    };
    if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return Err(CmdError::err("ERR value is out of range"));
    }
    let mut shard = ctx.lock(key);
    let Some(z) = read_key(ctx, &mut shard, key)? else {
        ctx.out.array(0);
        return Ok(());
    };
    let len = z.len();
    let all = z.range(0, len);
    let picked: Vec<(&[u8], f64)> = if count < 0 {
        (0..count.unsigned_abs())
            .map(|_| {
                rnd = crate::util::rand::next_u64(rnd);
                all[(rnd % len as u64) as usize]
            })
            .collect()
    } else if count as usize >= len {
        all
    } else {
        // Partial Fisher-Yates shuffle: `count` distinct members.
        let mut idx: Vec<usize> = (0..len).collect();
        for i in 0..count as usize {
            rnd = crate::util::rand::next_u64(rnd);
            let j = i + (rnd % (len - i) as u64) as usize;
            idx.swap(i, j);
        }
        idx[..count as usize].iter().map(|&i| all[i]).collect()
    };
    reply_pairs(ctx.out, picked.into_iter(), withscores);
    Ok(())
}
