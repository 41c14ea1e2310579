//! ZUNION/ZINTER/ZDIFF, their STORE forms and ZINTERCARD: Redis 7.0's
//! `zunionInterDiffGenericCommand`, with plain sets accepted as inputs
//! (every member scoring 1).

use crate::server::notify;
use std::collections::HashMap;

use super::range::store_result;
use super::reply_pairs;
use crate::command::{CmdError, CmdResult, Ctx, TableBuilder};
use crate::commands::args::{int, is};
use crate::keyspace::{MultiLock, Shard, Value};
use crate::types::zset::pack::cmp_entry;
use crate::types::Set;
use crate::util::num::parse_i64;

/// Registers the set-operation commands.
pub fn register(t: &mut TableBuilder) {
    t.add("zunion", |ctx, args| setop(ctx, args, Op::Union, false));
    t.add("zinter", |ctx, args| setop(ctx, args, Op::Inter, false));
    t.add("zdiff", |ctx, args| setop(ctx, args, Op::Diff, false));
    t.add("zunionstore", |ctx, args| setop(ctx, args, Op::Union, true));
    t.add("zinterstore", |ctx, args| setop(ctx, args, Op::Inter, true));
    t.add("zdiffstore", |ctx, args| setop(ctx, args, Op::Diff, true));
    t.add("zintercard", zintercard);
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

/// Owned (member, score) pairs.
type Pairs = Vec<(Vec<u8>, f64)>;

/// One input: its (member, score) pairs, and its weight.
struct Input {
    pairs: Vec<(Vec<u8>, f64)>,
    weight: f64,
}

/// The members of the sorted set or set at `key` (`None` when absent).
fn input_of(shard: &mut Shard, key: &[u8], now: u64) -> Result<Option<Pairs>, CmdError> {
    let Some(entry) = shard.get(key, now) else {
        return Ok(None);
    };
    match &entry.value {
        Value::ZSet(z) => Ok(Some(
            z.range(0, z.len())
                .into_iter()
                .map(|(m, s)| (m.to_vec(), s))
                .collect(),
        )),
        Value::Set(s) => set_pairs(s).map(Some),
        _ => Err(CmdError::WrongType),
    }
}

/// The members of a plain set input, each scoring 1. The set type lives
/// on the `set` branch; until the merge wires its iterator in here
/// (`s.iter().map(|e| (e.to_member().into_bytes(), 1.0)).collect()`), a
/// set input is refused rather than silently read as empty.
/// The inputs of a set operation, read under `lock` (which holds every
/// key); a missing key is an empty input (and a keyspace miss).
fn read_inputs(ctx: &Ctx, lock: &mut MultiLock, keys: &[&[u8]]) -> Result<Vec<Input>, CmdError> {
    let (db, now) = (ctx.client.db, ctx.now);
    let mut inputs = Vec::with_capacity(keys.len());
    for key in keys {
        let pairs = match input_of(lock.shard(db, key), key, now)? {
            Some(pairs) => pairs,
            None => {
                notify::keymiss(ctx.server, db, key);
                Vec::new()
            }
        };
        inputs.push(Input { pairs, weight: 1.0 });
    }
    Ok(inputs)
}

fn set_pairs(s: &Set) -> Result<Vec<(Vec<u8>, f64)>, CmdError> {
    Ok(s.iter()
        .map(|e| (e.to_member().into_bytes(), 1.0))
        .collect())
}

/// `ERR at least 1 input key is needed for '<command>' command`.
fn numkeys_error(name: &[u8]) -> CmdError {
    let name = String::from_utf8_lossy(name).to_ascii_lowercase();
    CmdError::msg(format!(
        "ERR at least 1 input key is needed for '{name}' command"
    ))
}

/// `score * weight`, with NaN (0 * inf) read as 0 like Redis.
fn weighted(score: f64, weight: f64) -> f64 {
    let v = score * weight;
    if v.is_nan() {
        0.0
    } else {
        v
    }
}

fn aggregate(target: &mut f64, v: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *target += v;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if v < *target {
                *target = v;
            }
        }
        Aggregate::Max => {
            if v > *target {
                *target = v;
            }
        }
    }
}

fn compute(op: Op, mut inputs: Vec<Input>, how: Aggregate) -> Vec<(Vec<u8>, f64)> {
    let mut out: Vec<(Vec<u8>, f64)> = Vec::new();
    match op {
        Op::Union => {
            // Smallest first, as Redis (it decides the summation order).
            inputs.sort_by_key(|i| i.pairs.len());
            let mut index: HashMap<Vec<u8>, usize> = HashMap::new();
            for input in inputs {
                for (m, s) in input.pairs {
                    let v = weighted(s, input.weight);
                    match index.get(&m) {
                        Some(&i) => aggregate(&mut out[i].1, v, how),
                        None => {
                            index.insert(m.clone(), out.len());
                            out.push((m, v));
                        }
                    }
                }
            }
        }
        Op::Inter => {
            inputs.sort_by_key(|i| i.pairs.len());
            let maps: Vec<HashMap<&[u8], f64>> = inputs[1..]
                .iter()
                .map(|i| i.pairs.iter().map(|(m, s)| (&m[..], *s)).collect())
                .collect();
            'member: for (m, s) in &inputs[0].pairs {
                let mut score = weighted(*s, inputs[0].weight);
                for (j, map) in maps.iter().enumerate() {
                    match map.get(&m[..]) {
                        Some(&other) => {
                            aggregate(&mut score, weighted(other, inputs[j + 1].weight), how)
                        }
                        None => continue 'member,
                    }
                }
                out.push((m.clone(), score));
            }
        }
        Op::Diff => {
            let others: Vec<HashMap<&[u8], ()>> = inputs[1..]
                .iter()
                .map(|i| i.pairs.iter().map(|(m, _)| (&m[..], ())).collect())
                .collect();
            for (m, s) in &inputs[0].pairs {
                if !others.iter().any(|o| o.contains_key(&m[..])) {
                    out.push((m.clone(), *s));
                }
            }
        }
    }
    out.sort_by(|a, b| cmp_entry((a.1, &a.0), (b.1, &b.0)));
    out
}

/// ZUNION/ZINTER/ZDIFF numkeys key [key ...] [WEIGHTS w ...]
/// [AGGREGATE SUM|MIN|MAX] [WITHSCORES], and the STORE forms with a
/// destination first.
fn setop(ctx: &mut Ctx, args: &[&[u8]], op: Op, store: bool) -> CmdResult {
    let numkeys_idx = if store { 2 } else { 1 };
    let setnum = int(args[numkeys_idx])?;
    if setnum < 1 {
        return Err(numkeys_error(args[0]));
    }
    if setnum as u64 > (args.len() - numkeys_idx - 1) as u64 {
        return Err(CmdError::Syntax);
    }
    let setnum = setnum as usize;
    let keys = &args[numkeys_idx + 1..numkeys_idx + 1 + setnum];
    let db = ctx.client.db;
    let dst = store.then(|| args[1]);
    let mut lock = ctx
        .server
        .keyspace
        .lock_keys(keys.iter().chain(dst.iter()).map(|k| (db, *k)));
    let mut inputs = read_inputs(ctx, &mut lock, keys)?;
    let mut how = Aggregate::Sum;
    let mut withscores = false;
    let mut j = numkeys_idx + 1 + setnum;
    while j < args.len() {
        let remaining = args.len() - j;
        if op != Op::Diff && remaining > setnum && is(args[j], "weights") {
            for (i, input) in inputs.iter_mut().enumerate() {
                input.weight = super::parse::score(args[j + 1 + i])
                    .ok_or(CmdError::err("ERR weight value is not a float"))?;
            }
            j += 1 + setnum;
        } else if op != Op::Diff && remaining >= 2 && is(args[j], "aggregate") {
            how = match args[j + 1] {
                a if is(a, "sum") => Aggregate::Sum,
                a if is(a, "min") => Aggregate::Min,
                a if is(a, "max") => Aggregate::Max,
                _ => return Err(CmdError::Syntax),
            };
            j += 2;
        } else if !store && is(args[j], "withscores") {
            withscores = true;
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let result = compute(op, inputs, how);
    match dst {
        Some(dst) => {
            let event = match op {
                Op::Union => "zunionstore",
                Op::Inter => "zinterstore",
                Op::Diff => "zdiffstore",
            };
            store_result(ctx, &mut lock, dst, &result, event);
        }
        None => {
            drop(lock);
            reply_pairs(
                ctx.out,
                result.iter().map(|(m, s)| (&m[..], *s)),
                withscores,
            );
        }
    }
    Ok(())
}

/// ZINTERCARD numkeys key [key ...] [LIMIT limit]
fn zintercard(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let setnum = int(args[1])?;
    if setnum < 1 {
        return Err(numkeys_error(args[0]));
    }
    if setnum as u64 > (args.len() - 2) as u64 {
        return Err(CmdError::Syntax);
    }
    let setnum = setnum as usize;
    let keys = &args[2..2 + setnum];
    let db = ctx.client.db;
    let mut lock = ctx.server.keyspace.lock_keys(keys.iter().map(|k| (db, *k)));
    let inputs = read_inputs(ctx, &mut lock, keys)?;
    drop(lock);
    let mut limit = 0usize;
    let mut j = 2 + setnum;
    while j < args.len() {
        if args.len() - j >= 2 && is(args[j], "limit") {
            limit = parse_i64(args[j + 1])
                .filter(|v| *v >= 0)
                .ok_or(CmdError::err("ERR LIMIT can't be negative"))? as usize;
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let n = compute(Op::Inter, inputs, Aggregate::Sum).len();
    ctx.out.int(if limit > 0 { n.min(limit) } else { n } as i64);
    Ok(())
}
