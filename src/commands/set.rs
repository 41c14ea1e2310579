//! The set family: SADD, SREM, SCARD, SISMEMBER, SMISMEMBER, SMEMBERS,
//! SPOP, SRANDMEMBER, SMOVE, SINTER/SINTERCARD/SINTERSTORE, SUNION/
//! SUNIONSTORE, SDIFF/SDIFFSTORE and SSCAN.
//!
//! Semantics follow Redis 7.0's `t_set.c`: the order of argument and type
//! checks, the reply types (RESP3 sets where Redis sends them), the
//! encodings results are stored with, and the keyspace events. Multi-key
//! commands lock all their keys at once and visit the sets one at a time,
//! so no two shards are borrowed together.

use crate::command::{CmdError, CmdResult, Ctx, TableBuilder};
use crate::commands::args::{cursor, int, is, ScanOptions};
use crate::keyspace::{MultiLock, Shard, Value};
use crate::protocol::reply::Reply;
use crate::server::propagate::argv;
use crate::types::set::{Elem, Member, Set};
use crate::util::num::parse_i64;

/// Registers the family.
pub fn register(t: &mut TableBuilder) {
    t.add("sadd", sadd);
    t.add("srem", srem);
    t.add("scard", scard);
    t.add("sismember", sismember);
    t.add("smismember", smismember);
    t.add("smembers", smembers);
    t.add("spop", spop);
    t.add("srandmember", srandmember);
    t.add("smove", smove);
    t.add("sinter", sinter);
    t.add("sintercard", sintercard);
    t.add("sinterstore", sinterstore);
    t.add("sunion", sunion);
    t.add("sunionstore", sunionstore);
    t.add("sdiff", sdiff);
    t.add("sdiffstore", sdiffstore);
    t.add("sscan", sscan);
}

/// `set-max-intset-entries`.
fn max_intset(ctx: &Ctx) -> usize {
    ctx.server.config.read().encodings.set_max_intset_entries
}

/// The set stored at `key` for reading: `None` when absent, `WRONGTYPE`
/// for other types.
fn read_set<'s>(shard: &'s mut Shard, key: &[u8], now: u64) -> Result<Option<&'s Set>, CmdError> {
    match shard.get(key, now).map(|e| &e.value) {
        None => Ok(None),
        Some(Value::Set(s)) => Ok(Some(s)),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// The set stored at `key` for writing (see [`read_set`]).
fn write_set<'s>(
    shard: &'s mut Shard,
    key: &[u8],
    now: u64,
) -> Result<Option<&'s mut Set>, CmdError> {
    match shard.get_mut(key, now).map(|e| &mut e.value) {
        None => Ok(None),
        Some(Value::Set(s)) => Ok(Some(s)),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// Replies with one member as a bulk string.
fn reply_elem(out: &mut Reply, elem: Elem) {
    match elem {
        Elem::Int(v) => out.bulk_int(v),
        Elem::Bytes(b) => out.bulk(b),
    }
}

/// Replies with a whole set as a RESP3 set (an array in RESP2).
fn reply_set(out: &mut Reply, set: &Set) {
    out.set(set.len());
    set.iter().for_each(|e| reply_elem(out, e));
}

/// A set built member by member from an empty intset, as Redis builds
/// command results, so its encoding (and iteration order) is the one
/// Redis's result would have.
fn build(members: impl IntoIterator<Item = Member>, max_intset: usize) -> Set {
    let mut set = Set::new();
    for m in members {
        set.add_elem(m.as_elem(), max_intset);
    }
    set
}

/// SADD key member [member ...]
fn sadd(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (key, now, max) = (args[1], ctx.now, max_intset(ctx));
    let mut shard = ctx.lock(key);
    write_set(&mut shard, key, now)?;
    let entry = shard.get_or_insert(key, now, || Value::Set(Box::default()));
    let Value::Set(set) = &mut entry.value else {
        unreachable!("checked to be a set")
    };
    let added = args[2..].iter().filter(|m| set.add(m, max)).count();
    if added > 0 {
        ctx.modified(key, "sadd");
    }
    drop(shard);
    ctx.out.int(added as i64);
    Ok(())
}

/// SREM key member [member ...]
fn srem(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (key, now) = (args[1], ctx.now);
    let mut shard = ctx.lock(key);
    let Some(set) = write_set(&mut shard, key, now)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let removed = args[2..].iter().filter(|m| set.remove(m)).count();
    if removed > 0 {
        let emptied = set.is_empty();
        ctx.modified(key, "srem");
        if emptied {
            shard.remove(key);
            ctx.modified(key, "del");
        }
    }
    drop(shard);
    ctx.out.int(removed as i64);
    Ok(())
}

/// SCARD key
fn scard(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut shard = ctx.lock(args[1]);
    let len = read_set(&mut shard, args[1], ctx.now)?.map(Set::len);
    drop(shard);
    ctx.read_lookup(args[1], len.is_some());
    ctx.out.int(len.unwrap_or(0) as i64);
    Ok(())
}

/// SISMEMBER key member
fn sismember(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut shard = ctx.lock(args[1]);
    let found = read_set(&mut shard, args[1], ctx.now)?.map(|s| s.contains(args[2]));
    drop(shard);
    ctx.read_lookup(args[1], found.is_some());
    ctx.out.int(found.unwrap_or(false) as i64);
    Ok(())
}

/// SMISMEMBER key member [member ...]
fn smismember(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut shard = ctx.lock(args[1]);
    let set = read_set(&mut shard, args[1], ctx.now)?;
    let hit = set.is_some();
    ctx.out.array(args.len() - 2);
    for m in &args[2..] {
        ctx.out.int(set.is_some_and(|s| s.contains(m)) as i64);
    }
    drop(shard);
    ctx.read_lookup(args[1], hit);
    Ok(())
}

/// SMEMBERS key
fn smembers(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut shard = ctx.lock(args[1]);
    let set = read_set(&mut shard, args[1], ctx.now)?;
    let hit = set.is_some();
    match set {
        Some(set) => reply_set(ctx.out, set),
        None => ctx.out.set(0),
    }
    drop(shard);
    ctx.read_lookup(args[1], hit);
    Ok(())
}

/// Parses a count Redis reads with `getPositiveLongFromObjectOrReply`.
fn positive(arg: &[u8]) -> Result<usize, CmdError> {
    match parse_i64(arg) {
        Some(v) if v >= 0 => Ok(v as usize),
        _ => Err(CmdError::err("ERR value is out of range, must be positive")),
    }
}

/// SPOP key [count]
fn spop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    match args.len() {
        2 => spop_one(ctx, args[1]),
        3 => spop_count(ctx, args[1], positive(args[2])?),
        _ => Err(CmdError::Syntax),
    }
}

fn spop_one(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    let now = ctx.now;
    let mut shard = ctx.lock(key);
    let Some(set) = write_set(&mut shard, key, now)? else {
        ctx.out.null();
        return Ok(());
    };
    let member = set.pop().expect("stored sets are never empty");
    let emptied = set.is_empty();
    ctx.modified(key, "spop");
    if emptied {
        shard.remove(key);
        ctx.modified(key, "del");
    }
    drop(shard);
    // The random choice replays as the member it picked.
    if ctx.propagating() {
        let mut buf = crate::keyspace::value::IntBuf::new();
        ctx.propagate_one(&[b"SREM", key, member.as_elem().bytes(&mut buf)]);
    }
    reply_elem(ctx.out, member.as_elem());
    Ok(())
}

fn spop_count(ctx: &mut Ctx, key: &[u8], count: usize) -> CmdResult {
    let (now, max) = (ctx.now, max_intset(ctx));
    let mut shard = ctx.lock(key);
    let Some(set) = write_set(&mut shard, key, now)? else {
        ctx.out.set(0);
        return Ok(());
    };
    if count == 0 {
        ctx.out.set(0);
        return Ok(());
    }
    ctx.modified(key, "spop");
    if count >= set.len() {
        // Redis replies with the SUNION of the set alone, i.e. a set
        // rebuilt member by member (ascending when it fits an intset).
        let all = set.pop_many(count);
        shard.remove(key);
        ctx.modified(key, "del");
        drop(shard);
        ctx.propagate_one(&[b"DEL", key]);
        reply_set(ctx.out, &build(all, max));
        return Ok(());
    }
    let popped = set.pop_many(count);
    drop(shard);
    if ctx.propagating() {
        let mut buf = crate::keyspace::value::IntBuf::new();
        let srems = popped
            .iter()
            .map(|m| argv(&[b"SREM", key, m.as_elem().bytes(&mut buf)]))
            .collect();
        ctx.propagate_as(srems);
    }
    ctx.out.set(popped.len());
    for m in &popped {
        reply_elem(ctx.out, m.as_elem());
    }
    Ok(())
}

/// SRANDMEMBER key [count]
fn srandmember(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let count = match args.get(2) {
        None => None,
        Some(arg) => match int(arg)? {
            i64::MIN => {
                return Err(CmdError::err(
                    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
                ))
            }
            v => Some(v),
        },
    };
    let mut shard = ctx.lock(args[1]);
    let set = read_set(&mut shard, args[1], ctx.now)?;
    let hit = set.is_some();
    match (set, count) {
        (None, None) => ctx.out.null(),
        (None, Some(_)) | (Some(_), Some(0)) => ctx.out.array(0),
        (Some(set), None) => reply_elem(ctx.out, set.random().expect("non-empty")),
        (Some(set), Some(n)) if n < 0 => {
            // Repeats allowed: independent draws.
            let n = n.unsigned_abs() as usize;
            ctx.out.array(n);
            for _ in 0..n {
                reply_elem(ctx.out, set.random().expect("non-empty"));
            }
        }
        (Some(set), Some(n)) => {
            let picked = set.sample(n as usize);
            ctx.out.array(picked.len());
            picked.into_iter().for_each(|e| reply_elem(ctx.out, e));
        }
    }
    drop(shard);
    ctx.read_lookup(args[1], hit);
    Ok(())
}

/// SMOVE source destination member
fn smove(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (src, dst, member) = (args[1], args[2], args[3]);
    let (db, now, max) = (ctx.client.db, ctx.now, max_intset(ctx));
    let mut locks = ctx.lock_command_keys(args);
    let src_is_set = match locks.shard(db, src).get(src, now) {
        None => {
            ctx.out.int(0);
            return Ok(());
        }
        Some(e) => matches!(e.value, Value::Set(_)),
    };
    if !src_is_set || write_set(locks.shard(db, dst), dst, now).is_err() {
        return Err(CmdError::WrongType);
    }
    let shard = locks.shard(db, src);
    let set = write_set(shard, src, now)?.expect("checked above");
    if src == dst {
        ctx.out.int(set.contains(member) as i64);
        return Ok(());
    }
    if !set.remove(member) {
        ctx.out.int(0);
        return Ok(());
    }
    let emptied = set.is_empty();
    ctx.modified(src, "srem");
    if emptied {
        shard.remove(src);
        ctx.modified(src, "del");
    }
    let entry = locks
        .shard(db, dst)
        .get_or_insert(dst, now, || Value::Set(Box::default()));
    let Value::Set(target) = &mut entry.value else {
        unreachable!("checked to be a set")
    };
    if target.add(member, max) {
        ctx.modified(dst, "sadd");
    }
    drop(locks);
    ctx.out.int(1);
    Ok(())
}

/// The sources of a multi-key set operation, locked together.
struct Sources<'a, 'k> {
    locks: MultiLock<'a>,
    db: usize,
    now: u64,
    keys: &'k [&'k [u8]],
    /// Cardinality of each key's set, `None` when the key is missing.
    lens: Vec<Option<usize>>,
}

impl<'a, 'k> Sources<'a, 'k> {
    /// Locks the command's keys and looks every source up, failing with
    /// `WRONGTYPE` at the first key that is not a set (Redis checks every
    /// source before computing anything, even when one is missing).
    fn open(ctx: &mut Ctx<'a>, args: &[&[u8]], keys: &'k [&'k [u8]]) -> Result<Self, CmdError> {
        let (db, now) = (ctx.client.db, ctx.now);
        let mut locks = ctx.lock_command_keys(args);
        let mut lens = Vec::with_capacity(keys.len());
        for key in keys {
            let len = read_set(locks.shard(db, key), key, now);
            ctx.read_lookup(key, matches!(len, Ok(Some(_)) | Err(_)));
            lens.push(len?.map(Set::len));
        }
        Ok(Self {
            locks,
            db,
            now,
            keys,
            lens,
        })
    }

    /// Runs `f` on the set of source `i` (which must exist).
    fn with<R>(&mut self, i: usize, f: impl FnOnce(&Set) -> R) -> R {
        let key = self.keys[i];
        match self
            .locks
            .shard(self.db, key)
            .peek(key, self.now)
            .map(|e| &e.value)
        {
            Some(Value::Set(s)) => f(s),
            _ => unreachable!("source checked to be a set under the same locks"),
        }
    }

    /// SINTER: the members of the smallest set found in all the others,
    /// in the smallest set's order.
    fn inter(&mut self) -> Vec<Member> {
        let Some(lens) = self.lens.iter().copied().collect::<Option<Vec<usize>>>() else {
            return Vec::new();
        };
        let mut order: Vec<usize> = (0..lens.len()).collect();
        order.sort_by_key(|&i| lens[i]);
        let mut members: Vec<Member> =
            self.with(order[0], |s| s.iter().map(|e| e.to_member()).collect());
        for &i in &order[1..] {
            if members.is_empty() {
                break;
            }
            self.with(i, |s| members.retain(|m| s.contains_elem(m.as_elem())));
        }
        members
    }

    /// SUNION, built member by member like Redis's result set.
    fn union(&mut self, max: usize) -> Set {
        let mut out = Set::new();
        for i in 0..self.keys.len() {
            if self.lens[i].is_some() {
                self.with(i, |s| {
                    s.iter().for_each(|e| {
                        out.add_elem(e, max);
                    })
                });
            }
        }
        out
    }

    /// SDIFF with the algorithm Redis would pick, since it decides the
    /// encoding of the result: algorithm 1 adds only the surviving members
    /// of the first set, algorithm 2 adds the whole first set and then
    /// removes the others' members.
    fn diff(&mut self, max: usize) -> Set {
        let Some(first) = self.lens[0] else {
            return Set::new();
        };
        if self.keys[1..].contains(&self.keys[0]) {
            return Set::new();
        }
        let present: Vec<usize> = (1..self.keys.len())
            .filter(|&i| self.lens[i].is_some())
            .collect();
        let algo_one = first * (present.len() + 1) / 2;
        let algo_two: usize = first
            + present
                .iter()
                .map(|&i| self.lens[i].unwrap_or(0))
                .sum::<usize>();
        if algo_one <= algo_two {
            let mut members: Vec<Member> =
                self.with(0, |s| s.iter().map(|e| e.to_member()).collect());
            for &i in &present {
                self.with(i, |s| members.retain(|m| !s.contains_elem(m.as_elem())));
            }
            build(members, max)
        } else {
            let mut out = self.with(0, |s| {
                let mut out = Set::new();
                s.iter().for_each(|e| {
                    out.add_elem(e, max);
                });
                out
            });
            for &i in &present {
                if out.is_empty() {
                    break;
                }
                self.with(i, |s| {
                    s.iter().for_each(|e| {
                        out.remove_elem(e);
                    })
                });
            }
            out
        }
    }

    /// Stores `result` at `dst` (replacing any value and TTL) or deletes
    /// `dst` when `result` is empty; replies with the cardinality.
    fn store(mut self, ctx: &mut Ctx, dst: &[u8], result: Set, event: &'static str) {
        let len = result.len();
        let shard = self.locks.shard(self.db, dst);
        if len == 0 {
            if shard.remove_live(dst, self.now).is_some() {
                ctx.modified(dst, "del");
            }
        } else {
            shard.set(dst, Value::Set(Box::new(result)), 0, self.now);
            ctx.modified(dst, event);
        }
        drop(self);
        ctx.out.int(len as i64);
    }
}

/// SINTER key [key ...]
fn sinter(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut src = Sources::open(ctx, args, &args[1..])?;
    let members = src.inter();
    drop(src);
    ctx.out.set(members.len());
    for m in &members {
        reply_elem(ctx.out, m.as_elem());
    }
    Ok(())
}

/// SINTERSTORE destination key [key ...]
fn sinterstore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let max = max_intset(ctx);
    let mut src = Sources::open(ctx, args, &args[2..])?;
    let result = build(src.inter(), max);
    src.store(ctx, args[1], result, "sinterstore");
    Ok(())
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
fn sintercard(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let numkeys = match parse_i64(args[1]) {
        Some(n) if n >= 1 => n as u64,
        _ => return Err(CmdError::err("ERR numkeys should be greater than 0")),
    };
    if numkeys > (args.len() - 2) as u64 {
        return Err(CmdError::err(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let end = 2 + numkeys as usize;
    let mut limit = 0usize;
    let mut i = end;
    while i < args.len() {
        if is(args[i], "LIMIT") && i + 1 < args.len() {
            limit = match parse_i64(args[i + 1]) {
                Some(v) if v >= 0 => v as usize,
                _ => return Err(CmdError::err("ERR LIMIT can't be negative")),
            };
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let mut src = Sources::open(ctx, args, &args[2..end])?;
    let mut card = src.inter().len();
    drop(src);
    if limit > 0 {
        card = card.min(limit);
    }
    ctx.out.int(card as i64);
    Ok(())
}

/// SUNION key [key ...]
fn sunion(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let max = max_intset(ctx);
    let mut src = Sources::open(ctx, args, &args[1..])?;
    let result = src.union(max);
    drop(src);
    reply_set(ctx.out, &result);
    Ok(())
}

/// SUNIONSTORE destination key [key ...]
fn sunionstore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let max = max_intset(ctx);
    let mut src = Sources::open(ctx, args, &args[2..])?;
    let result = src.union(max);
    src.store(ctx, args[1], result, "sunionstore");
    Ok(())
}

/// SDIFF key [key ...]
fn sdiff(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let max = max_intset(ctx);
    let mut src = Sources::open(ctx, args, &args[1..])?;
    let result = src.diff(max);
    drop(src);
    reply_set(ctx.out, &result);
    Ok(())
}

/// SDIFFSTORE destination key [key ...]
fn sdiffstore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let max = max_intset(ctx);
    let mut src = Sources::open(ctx, args, &args[2..])?;
    let result = src.diff(max);
    src.store(ctx, args[1], result, "sdiffstore");
    Ok(())
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]
fn sscan(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut cur = cursor(args[2])?;
    let mut shard = ctx.lock(args[1]);
    let Some(set) = read_set(&mut shard, args[1], ctx.now)? else {
        drop(shard);
        ctx.read_lookup(args[1], false);
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.array(0);
        return Ok(());
    };
    // Options are parsed after the lookup, as in Redis's
    // scanGenericCommand; TYPE is only for SCAN.
    let opts = ScanOptions::parse(&args[3..], false)?;
    let count = opts.count;
    let mut found: Vec<Member> = Vec::new();
    let mut budget = count.saturating_mul(10);
    loop {
        cur = set.scan(cur, |e| found.push(e.to_member()));
        if cur == 0 || budget == 0 || found.len() as u64 >= count {
            break;
        }
        budget -= 1;
    }
    drop(shard);
    ctx.read_lookup(args[1], true);
    if opts.pattern.is_some() {
        let mut buf = crate::keyspace::value::IntBuf::new();
        found.retain(|m| opts.matches(m.as_elem().bytes(&mut buf)));
    }
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(cur).as_bytes());
    ctx.out.array(found.len());
    for m in &found {
        reply_elem(ctx.out, m.as_elem());
    }
    Ok(())
}
