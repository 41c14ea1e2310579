//! ZRANGE in all its forms (by rank, score or lex, reversed, limited),
//! the older ZRANGEBYSCORE-style commands, and ZRANGESTORE: Redis 7.0's
//! `zrangeGenericCommand`, including its argument-checking order.

use super::parse::{LexRange, ScoreRange};
use super::{limits, rank_window, read_key, reply_pairs};
use crate::command::{CmdError, CmdResult, Ctx, TableBuilder};
use crate::commands::args::{int, is};
use crate::keyspace::{MultiLock, Value};
use crate::server::blocking::HeldShards;
use crate::types::ZSet;

/// Registers the range commands.
pub fn register(t: &mut TableBuilder) {
    t.add("zrange", |ctx, args| {
        zrange_generic(ctx, args, false, None, None)
    });
    t.add("zrangestore", |ctx, args| {
        zrange_generic(ctx, args, true, None, None)
    });
    t.add("zrevrange", |ctx, args| {
        zrange_generic(ctx, args, false, Some(Kind::Rank), Some(true))
    });
    t.add("zrangebyscore", |ctx, args| {
        zrange_generic(ctx, args, false, Some(Kind::Score), Some(false))
    });
    t.add("zrevrangebyscore", |ctx, args| {
        zrange_generic(ctx, args, false, Some(Kind::Score), Some(true))
    });
    t.add("zrangebylex", |ctx, args| {
        zrange_generic(ctx, args, false, Some(Kind::Lex), Some(false))
    });
    t.add("zrevrangebylex", |ctx, args| {
        zrange_generic(ctx, args, false, Some(Kind::Lex), Some(true))
    });
}

/// What the range arguments mean.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Ranks (`start stop`).
    Rank,
    /// Scores (`BYSCORE`).
    Score,
    /// Members (`BYLEX`).
    Lex,
}

/// A parsed range request.
enum Range<'a> {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange<'a>),
}

/// The members selected by a range request, in reply order.
fn select<'z>(
    z: &'z ZSet,
    range: &Range,
    rev: bool,
    offset: i64,
    limit: i64,
) -> Vec<(&'z [u8], f64)> {
    let (lo, hi) = match range {
        Range::Rank(start, end) => {
            let (a, b) = rank_window(*start, *end, z.len());
            let len = z.len();
            let (lo, hi) = if rev { (len - b, len - a) } else { (a, b) };
            let mut v = z.range(lo, hi);
            if rev {
                v.reverse();
            }
            return v;
        }
        Range::Score(r) => r.ranks(z),
        Range::Lex(r) => r.ranks(z),
    };
    if offset < 0 || lo >= hi {
        return Vec::new();
    }
    let n = hi - lo;
    let skip = (offset as u64).min(n as u64) as usize;
    let take = if limit < 0 {
        n - skip
    } else {
        (limit as u64).min((n - skip) as u64) as usize
    };
    if rev {
        let top = hi - skip;
        let mut v = z.range(top - take, top);
        v.reverse();
        v
    } else {
        z.range(lo + skip, lo + skip + take)
    }
}

/// `zrangeGenericCommand`: `store` for ZRANGESTORE (destination first);
/// `kind`/`rev` fixed by the legacy commands, `None` when chosen by the
/// BYSCORE/BYLEX/REV keywords.
fn zrange_generic(
    ctx: &mut Ctx,
    args: &[&[u8]],
    store: bool,
    kind: Option<Kind>,
    rev: Option<bool>,
) -> CmdResult {
    let start = if store { 2 } else { 1 };
    let (mut kind_opt, mut rev_opt) = (kind, rev);
    let mut withscores = false;
    let (mut offset, mut limit) = (0i64, -1i64);
    let mut j = start + 3;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = args[j];
        if !store && is(a, "withscores") {
            withscores = true;
        } else if is(a, "limit") && left >= 2 {
            offset = int(args[j + 1])?;
            limit = int(args[j + 2])?;
            j += 2;
        } else if rev_opt.is_none() && is(a, "rev") {
            rev_opt = Some(true);
        } else if kind.is_none() && kind_opt.is_none() && is(a, "bylex") {
            kind_opt = Some(Kind::Lex);
        } else if kind.is_none() && kind_opt.is_none() && is(a, "byscore") {
            kind_opt = Some(Kind::Score);
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let kind = kind_opt.unwrap_or(Kind::Rank);
    let rev = rev_opt.unwrap_or(false);
    if limit != -1 && kind == Kind::Rank {
        return Err(CmdError::err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && kind == Kind::Lex {
        return Err(CmdError::err(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    let (mut min, mut max) = (args[start + 1], args[start + 2]);
    if rev && kind != Kind::Rank {
        std::mem::swap(&mut min, &mut max);
    }
    let range = match kind {
        Kind::Rank => Range::Rank(int(min)?, int(max)?),
        Kind::Score => Range::Score(ScoreRange::parse(min, max)?),
        Kind::Lex => Range::Lex(LexRange::parse(min, max)?),
    };
    let src = args[start];
    if !store {
        let mut shard = ctx.lock(src);
        let found = read_key(ctx, &mut shard, src)?;
        let picked = found.map_or_else(Vec::new, |z| select(z, &range, rev, offset, limit));
        reply_pairs(ctx.out, picked.into_iter(), withscores);
        return Ok(());
    }
    let dst = args[1];
    let mut lock = ctx.lock_command_keys(args);
    let db = ctx.client.db;
    let picked: Vec<(Vec<u8>, f64)> = match read_key(ctx, lock.shard(db, src), src)? {
        None => Vec::new(),
        Some(z) => {
            let mut v: Vec<_> = select(z, &range, rev, offset, limit)
                .into_iter()
                .map(|(m, s)| (m.to_vec(), s))
                .collect();
            if rev {
                v.reverse();
            }
            v
        }
    };
    store_result(ctx, &mut lock, dst, &picked, "zrangestore");
    Ok(())
}

/// Stores a computed result (pairs in ascending order, distinct members)
/// at `dst`, replacing whatever was there, and replies with its size; an
/// empty result deletes `dst`. Serves clients blocked on `dst`.
pub(crate) fn store_result<'k>(
    ctx: &mut Ctx<'k>,
    lock: &mut MultiLock<'k>,
    dst: &[u8],
    pairs: &[(Vec<u8>, f64)],
    event: &'static str,
) {
    let db = ctx.client.db;
    let now = ctx.now;
    let shard = lock.shard(db, dst);
    if pairs.is_empty() {
        if shard.remove_live(dst, now).is_some() {
            ctx.modified(dst, "del");
        }
        ctx.out.int(0);
        return;
    }
    let z = ZSet::from_sorted(pairs.iter().map(|(m, s)| (&m[..], *s)), limits(ctx));
    shard.set(dst, Value::ZSet(Box::new(z)), 0, now);
    ctx.modified(dst, event);
    ctx.out.int(pairs.len() as i64);
    let keyspace = &ctx.server.keyspace;
    let mut held = HeldShards::many(keyspace, db, lock);
    ctx.serve_blocked(dst, &mut held);
}
