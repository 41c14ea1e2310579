//! ZPOPMIN/ZPOPMAX, ZMPOP and the blocking BZPOPMIN/BZPOPMAX/BZMPOP.
//!
//! A blocking pop that finds every key empty registers a [`PopOp`] while
//! still holding the keys' shard locks; the command that later adds to one
//! of the keys serves it under its own locks (see `server::blocking`).

use super::{read, write};
use crate::command::{CmdError, CmdResult, Ctx, TableBuilder};
use crate::commands::args::{is, mpop_args};
use crate::keyspace::Shard;
use crate::protocol::reply::Reply;
use crate::server::blocking::{parse_timeout, BlockedOp, Serve};
use crate::types::ZSet;
use crate::util::num::parse_i64;

/// Registers the pop commands.
pub fn register(t: &mut TableBuilder) {
    t.add("zpopmin", |ctx, args| zpop(ctx, args, false));
    t.add("zpopmax", |ctx, args| zpop(ctx, args, true));
    t.add("zmpop", |ctx, args| zmpop(ctx, args, false));
    t.add("bzmpop", |ctx, args| zmpop(ctx, args, true));
    t.add("bzpopmin", |ctx, args| bzpop(ctx, args, false));
    t.add("bzpopmax", |ctx, args| bzpop(ctx, args, true));
}

fn event(max: bool) -> &'static str {
    if max {
        "zpopmax"
    } else {
        "zpopmin"
    }
}

/// Pops up to `count` members from the low (or high, `max`) end, in pop
/// order.
fn pop_from(z: &mut ZSet, max: bool, count: usize) -> Vec<(Box<[u8]>, f64)> {
    let len = z.len();
    let n = count.min(len);
    if max {
        let mut v = z.remove_ranks(len - n, len);
        v.reverse();
        v
    } else {
        z.remove_ranks(0, n)
    }
}

/// Pops from the set at `key` (known to hold a non-empty sorted set),
/// deleting the key when emptied; returns the popped pairs.
fn pop_key(
    shard: &mut Shard,
    key: &[u8],
    now: u64,
    max: bool,
    count: usize,
) -> Vec<(Box<[u8]>, f64)> {
    match write(shard, key, now) {
        Ok(Some(z)) => {
            let popped = pop_from(z, max, count);
            if z.is_empty() {
                shard.remove(key);
            }
            popped
        }
        _ => Vec::new(),
    }
}

/// How a pop reply is shaped.
#[derive(Clone, Copy)]
enum Shape {
    /// ZPOPMIN/ZPOPMAX: flat member/score array, nested pairs in RESP3
    /// when a count was given.
    Pop { nested: bool },
    /// BZPOPMIN/BZPOPMAX: `[key, member, score]`.
    Bpop,
    /// ZMPOP/BZMPOP: `[key, [[member, score], ...]]`.
    Mpop,
}

fn reply(out: &mut Reply, shape: Shape, key: &[u8], popped: &[(Box<[u8]>, f64)]) {
    match shape {
        Shape::Pop { nested } => {
            if nested && out.resp3 {
                out.array(popped.len());
                for (m, s) in popped {
                    out.array(2);
                    out.bulk(m);
                    out.double(*s);
                }
            } else {
                out.array(2 * popped.len());
                for (m, s) in popped {
                    out.bulk(m);
                    out.double(*s);
                }
            }
        }
        Shape::Bpop => {
            out.array(3);
            out.bulk(key);
            for (m, s) in popped {
                out.bulk(m);
                out.double(*s);
            }
        }
        Shape::Mpop => {
            out.array(2);
            out.bulk(key);
            out.array(popped.len());
            for (m, s) in popped {
                out.array(2);
                out.bulk(m);
                out.double(*s);
            }
        }
    }
}

/// Records a pop's changes: the pop event, and `del` if the key is gone.
fn record(ctx: &mut Ctx, key: &[u8], max: bool, emptied: bool) {
    ctx.modified(key, event(max));
    if emptied {
        ctx.modified(key, "del");
    }
}

/// ZPOPMIN/ZPOPMAX key [count]
fn zpop(ctx: &mut Ctx, args: &[&[u8]], max: bool) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let count = match args.get(2) {
        None => None,
        Some(a) => Some(
            parse_i64(a)
                .filter(|v| *v >= 0)
                .ok_or(CmdError::err("ERR value is out of range, must be positive"))?,
        ),
    };
    let key = args[1];
    let now = ctx.now;
    let mut shard = ctx.lock(key);
    let Some(z) = read(&mut shard, key, now)? else {
        ctx.out.array(0);
        return Ok(());
    };
    let len = z.len();
    let n = count.map_or(1, |c| c as u64).min(len as u64) as usize;
    let popped = pop_key(&mut shard, key, now, max, n);
    reply(
        ctx.out,
        Shape::Pop {
            nested: count.is_some(),
        },
        key,
        &popped,
    );
    if !popped.is_empty() {
        let emptied = n == len;
        record(ctx, key, max, emptied);
    }
    Ok(())
}

/// BZPOPMIN/BZPOPMAX key [key ...] timeout
fn bzpop(ctx: &mut Ctx, args: &[&[u8]], max: bool) -> CmdResult {
    let timeout = parse_timeout(args[args.len() - 1])?;
    let keys = &args[1..args.len() - 1];
    pop_or_block(ctx, keys, max, 1, Shape::Bpop, timeout, true)
}

/// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count], and BZMPOP with a
/// leading timeout.
fn zmpop(ctx: &mut Ctx, args: &[&[u8]], blocking: bool) -> CmdResult {
    let (timeout, numkeys_idx) = if blocking {
        (parse_timeout(args[1])?, 2)
    } else {
        (None, 1)
    };
    let m = mpop_args(&args[numkeys_idx..])?;
    let max = if is(m.side, "min") {
        false
    } else if is(m.side, "max") {
        true
    } else {
        return Err(CmdError::Syntax);
    };
    pop_or_block(ctx, m.keys, max, m.count, Shape::Mpop, timeout, blocking)
}

/// Pops from the first non-empty key of `keys`; otherwise replies with
/// the "nothing" reply, or blocks when `blocking`.
fn pop_or_block(
    ctx: &mut Ctx,
    keys: &[&[u8]],
    max: bool,
    count: usize,
    shape: Shape,
    timeout: Option<std::time::Duration>,
    blocking: bool,
) -> CmdResult {
    let db = ctx.client.db;
    let now = ctx.now;
    let mut lock = ctx.server.keyspace.lock_keys(keys.iter().map(|k| (db, *k)));
    for key in keys {
        let shard = lock.shard(db, key);
        let Some(z) = read(shard, key, now)? else {
            continue;
        };
        let len = z.len();
        let popped = pop_key(shard, key, now, max, count);
        reply(ctx.out, shape, key, &popped);
        record(ctx, key, max, count >= len);
        // The blocking and multi-key forms replay as the plain pop.
        if ctx.propagating() && !matches!(shape, Shape::Pop { .. }) {
            ctx.propagate_as(vec![replay_pop(key, max, shape, popped.len())]);
        }
        return Ok(());
    }
    if blocking {
        let op = PopOp { max, count, shape };
        ctx.block(
            keys.iter().map(|k| k.to_vec()).collect(),
            timeout,
            Box::new(op),
        );
    } else {
        ctx.out.null_array();
    }
    Ok(())
}

/// The ZPOPMIN/ZPOPMAX that replays a pop of `n` members (with the count
/// for the MPOP forms, as Redis propagates them).
fn replay_pop(key: &[u8], max: bool, shape: Shape, n: usize) -> Vec<Vec<u8>> {
    let name: &[u8] = if max { b"ZPOPMAX" } else { b"ZPOPMIN" };
    let mut argv = vec![name.to_vec(), key.to_vec()];
    if matches!(shape, Shape::Mpop) {
        argv.push(n.to_string().into_bytes());
    }
    argv
}

/// A blocked BZPOPMIN/BZPOPMAX/BZMPOP waiting for members.
struct PopOp {
    max: bool,
    count: usize,
    shape: Shape,
}

impl BlockedOp for PopOp {
    fn serve(&self, serve: &mut Serve<'_>) -> bool {
        let key = serve.key;
        let now = serve.now;
        let Some(shard) = serve.shards.shard(key) else {
            return false;
        };
        let len = match read(shard, key, now) {
            Ok(Some(z)) => z.len(),
            _ => return false,
        };
        let popped = pop_key(shard, key, now, self.max, self.count);
        serve
            .propagate
            .push(replay_pop(key, self.max, self.shape, popped.len()));
        reply(&mut serve.out, self.shape, key, &popped);
        serve.modified.push((key.to_vec(), event(self.max)));
        if self.count >= len {
            serve.modified.push((key.to_vec(), "del"));
        }
        true
    }

    fn timeout_reply(&self, out: &mut Reply) {
        out.null_array();
    }
}
