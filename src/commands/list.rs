//! The list family, following Redis 7.0's `t_list.c`: argument checks in
//! Redis's order, empty lists deleted, keyspace events named as Redis
//! names them, and the blocking variants (BLPOP, BRPOP, BLMOVE,
//! BRPOPLPUSH, BLMPOP) served by whichever command pushes next.

use crate::command::{CmdError, CmdResult, Ctx, TableBuilder};
use crate::commands::args::{int, is, mpop_args};
use crate::keyspace::{MultiLock, Shard, Value};
use crate::protocol::reply::Reply;
use crate::server::blocking::{parse_timeout, BlockedOp, HeldShards, Serve};
use crate::types::List;

/// Registers the family.
pub fn register(t: &mut TableBuilder) {
    t.add("lpush", lpush);
    t.add("rpush", rpush);
    t.add("lpushx", lpushx);
    t.add("rpushx", rpushx);
    t.add("lpop", lpop);
    t.add("rpop", rpop);
    t.add("llen", llen);
    t.add("lrange", lrange);
    t.add("lindex", lindex);
    t.add("lset", lset);
    t.add("linsert", linsert);
    t.add("lrem", lrem);
    t.add("ltrim", ltrim);
    t.add("lpos", lpos);
    t.add("lmove", lmove);
    t.add("rpoplpush", rpoplpush);
    t.add("lmpop", lmpop);
    t.add("blpop", blpop);
    t.add("brpop", brpop);
    t.add("blmove", blmove);
    t.add("brpoplpush", brpoplpush);
    t.add("blmpop", blmpop);
}

/// A list end.
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Left,
    Right,
}

impl End {
    /// `LEFT` or `RIGHT` (`ERR syntax error` otherwise).
    fn parse(arg: &[u8]) -> Result<End, CmdError> {
        if is(arg, "left") {
            Ok(End::Left)
        } else if is(arg, "right") {
            Ok(End::Right)
        } else {
            Err(CmdError::Syntax)
        }
    }

    fn pop_event(self) -> &'static str {
        match self {
            End::Left => "lpop",
            End::Right => "rpop",
        }
    }

    fn push_event(self) -> &'static str {
        match self {
            End::Left => "lpush",
            End::Right => "rpush",
        }
    }

    fn pop_command(self) -> &'static [u8] {
        match self {
            End::Left => b"LPOP",
            End::Right => b"RPOP",
        }
    }

    /// The direction as Redis spells it when it builds LMOVE itself.
    fn word(self) -> &'static [u8] {
        match self {
            End::Left => b"left",
            End::Right => b"right",
        }
    }

    fn push_command(self) -> &'static [u8] {
        match self {
            End::Left => b"LPUSH",
            End::Right => b"RPUSH",
        }
    }
}

fn push(list: &mut List, end: End, data: &[u8]) {
    match end {
        End::Left => list.push_front(data),
        End::Right => list.push_back(data),
    }
}

fn pop(list: &mut List, end: End) -> Option<Vec<u8>> {
    match end {
        End::Left => list.pop_front(),
        End::Right => list.pop_back(),
    }
}

/// The list at `key`: `None` when absent, `WRONGTYPE` for other types.
fn list_mut<'a>(
    shard: &'a mut Shard,
    key: &[u8],
    now: u64,
) -> Result<Option<&'a mut List>, CmdError> {
    match shard.get_mut(key, now) {
        None => Ok(None),
        Some(entry) => match &mut entry.value {
            Value::List(l) => Ok(Some(l)),
            _ => Err(CmdError::WrongType),
        },
    }
}

/// The list at `key` for a read-only command (counted as a lookup).
fn list_ref<'a>(
    ctx: &mut Ctx,
    shard: &'a mut Shard,
    key: &[u8],
) -> Result<Option<&'a List>, CmdError> {
    let found = list_mut(shard, key, ctx.now)?;
    ctx.read_lookup(key, found.is_some());
    Ok(found.map(|l| &*l))
}

/// `WRONGTYPE` if `key` holds something other than a list.
fn check_list(shard: &mut Shard, key: &[u8], now: u64) -> CmdResult {
    list_mut(shard, key, now).map(|_| ())
}

/// Deletes `key` if its list became empty; returns whether it did.
fn remove_if_empty(shard: &mut Shard, key: &[u8], now: u64) -> bool {
    if matches!(list_mut(shard, key, now), Ok(Some(l)) if l.is_empty()) {
        shard.remove(key);
        true
    } else {
        false
    }
}

/// Pushes `data` into the list at `key` (which must be a list or absent),
/// creating it with node size `fill`.
fn push_into(shard: &mut Shard, key: &[u8], now: u64, fill: i64, end: End, data: &[u8]) {
    let entry = shard.get_or_insert(key, now, || Value::List(Box::new(List::new(fill))));
    if let Value::List(l) = &mut entry.value {
        push(l, end, data);
    }
}

/// Pops up to `count` elements from the list at `key` (non-empty when
/// present), deleting it when emptied. Returns the elements and whether
/// the key was deleted.
fn pop_n(shard: &mut Shard, key: &[u8], now: u64, end: End, count: usize) -> (Vec<Vec<u8>>, bool) {
    let mut items = Vec::new();
    if let Ok(Some(l)) = list_mut(shard, key, now) {
        while items.len() < count {
            match pop(l, end) {
                Some(v) => items.push(v),
                None => break,
            }
        }
    }
    let deleted = remove_if_empty(shard, key, now);
    (items, deleted)
}

/// The `list-max-listpack-size` a new list gets.
fn fill(ctx: &Ctx) -> i64 {
    ctx.server.config.read().encodings.list_max_listpack_size
}

/// Redis's `getPositiveLongFromObjectOrReply` with message `msg`: both
/// non-integers and negatives get `msg`.
fn non_negative(arg: &[u8], msg: &'static str) -> Result<i64, CmdError> {
    match int(arg) {
        Ok(v) if v >= 0 => Ok(v),
        _ => Err(CmdError::err(msg)),
    }
}

fn push_generic(ctx: &mut Ctx, args: &[&[u8]], end: End, only_existing: bool) -> CmdResult {
    let key = args[1];
    let fill = fill(ctx);
    let now = ctx.now;
    let mut shard = ctx.lock(key);
    let len = match list_mut(&mut shard, key, now)? {
        Some(l) => {
            args[2..].iter().for_each(|v| push(l, end, v));
            l.len()
        }
        None if only_existing => {
            ctx.out.int(0);
            return Ok(());
        }
        None => {
            let mut l = List::new(fill);
            args[2..].iter().for_each(|v| push(&mut l, end, v));
            let len = l.len();
            shard.set(key, Value::List(Box::new(l)), 0, now);
            len
        }
    };
    ctx.out.int(len as i64);
    ctx.modified(key, end.push_event());
    ctx.serve_blocked_one(key, &mut shard);
    Ok(())
}

fn lpush(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    push_generic(ctx, args, End::Left, false)
}

fn rpush(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    push_generic(ctx, args, End::Right, false)
}

fn lpushx(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    push_generic(ctx, args, End::Left, true)
}

fn rpushx(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    push_generic(ctx, args, End::Right, true)
}

fn pop_generic(ctx: &mut Ctx, args: &[&[u8]], end: End) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::msg(format!(
            "ERR wrong number of arguments for '{}' command",
            ctx.cmd.name
        )));
    }
    let count = match args.get(2) {
        Some(arg) => Some(non_negative(
            arg,
            "ERR value is out of range, must be positive",
        )?),
        None => None,
    };
    let key = args[1];
    let now = ctx.now;
    let mut shard = ctx.lock(key);
    if list_mut(&mut shard, key, now)?.is_none() {
        match count {
            Some(_) => ctx.out.null_array(),
            None => ctx.out.null(),
        }
        return Ok(());
    }
    if count == Some(0) {
        ctx.out.array(0);
        return Ok(());
    }
    let (items, deleted) = pop_n(&mut shard, key, now, end, count.unwrap_or(1) as usize);
    drop(shard);
    match count {
        Some(_) => ctx.out.bulk_array(items.iter().map(Vec::as_slice)),
        None => ctx.out.bulk(&items[0]),
    }
    ctx.modified(key, end.pop_event());
    if deleted {
        ctx.modified(key, "del");
    }
    Ok(())
}

fn lpop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    pop_generic(ctx, args, End::Left)
}

fn rpop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    pop_generic(ctx, args, End::Right)
}

fn llen(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut shard = ctx.lock(args[1]);
    let len = list_ref(ctx, &mut shard, args[1])?.map_or(0, List::len);
    ctx.out.int(len as i64);
    Ok(())
}

/// Clamps a Redis `start`/`stop` pair to `len`; `None` when empty.
fn clamp_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let stop = if stop < 0 { len + stop } else { stop };
    if start > stop || start >= len {
        return None;
    }
    Some((start as usize, stop.min(len - 1) as usize))
}

fn lrange(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let start = int(args[2])?;
    let stop = int(args[3])?;
    let mut shard = ctx.lock(args[1]);
    let Some(list) = list_ref(ctx, &mut shard, args[1])? else {
        ctx.out.array(0);
        return Ok(());
    };
    match clamp_range(start, stop, list.len()) {
        Some((a, b)) => {
            ctx.out.array(b - a + 1);
            for item in list.iter_from(a).take(b - a + 1) {
                ctx.out.bulk(item);
            }
        }
        None => ctx.out.array(0),
    }
    Ok(())
}

fn lindex(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut shard = ctx.lock(args[1]);
    let Some(list) = list_ref(ctx, &mut shard, args[1])? else {
        ctx.out.null();
        return Ok(());
    };
    let index = int(args[2])?;
    match list.index(index).and_then(|i| list.get(i)) {
        Some(item) => ctx.out.bulk(item),
        None => ctx.out.null(),
    }
    Ok(())
}

fn lset(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let now = ctx.now;
    let mut shard = ctx.lock(key);
    let list = list_mut(&mut shard, key, now)?.ok_or(CmdError::NoSuchKey)?;
    let index = int(args[2])?;
    let ok = list.index(index).is_some_and(|i| list.set(i, args[3]));
    if !ok {
        return Err(CmdError::err("ERR index out of range"));
    }
    drop(shard);
    ctx.out.ok();
    ctx.modified(key, "lset");
    Ok(())
}

fn linsert(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let after = if is(args[2], "after") {
        true
    } else if is(args[2], "before") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    let key = args[1];
    let now = ctx.now;
    let mut shard = ctx.lock(key);
    let Some(list) = list_mut(&mut shard, key, now)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let Some(pos) = list.iter().position(|item| item == args[3]) else {
        ctx.out.int(-1);
        return Ok(());
    };
    list.insert(pos + after as usize, args[4]);
    ctx.out.int(list.len() as i64);
    ctx.modified(key, "linsert");
    ctx.serve_blocked_one(key, &mut shard);
    Ok(())
}

fn lrem(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let count = int(args[2])?;
    let key = args[1];
    let now = ctx.now;
    let mut shard = ctx.lock(key);
    let Some(list) = list_mut(&mut shard, key, now)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let limit = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
    let removed = list.remove_matching(args[3], limit, count < 0);
    let deleted = remove_if_empty(&mut shard, key, now);
    drop(shard);
    ctx.out.int(removed as i64);
    if removed > 0 {
        ctx.modified(key, "lrem");
    }
    if deleted {
        ctx.modified(key, "del");
    }
    Ok(())
}

fn ltrim(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let start = int(args[2])?;
    let stop = int(args[3])?;
    let key = args[1];
    let now = ctx.now;
    let mut shard = ctx.lock(key);
    let Some(list) = list_mut(&mut shard, key, now)? else {
        ctx.out.ok();
        return Ok(());
    };
    match clamp_range(start, stop, list.len()) {
        Some((a, b)) => list.retain_range(a, b),
        None => list.drop_front(list.len()),
    }
    let deleted = remove_if_empty(&mut shard, key, now);
    drop(shard);
    ctx.out.ok();
    ctx.modified(key, "ltrim");
    if deleted {
        ctx.modified(key, "del");
    }
    Ok(())
}

fn lpos(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut rank: i64 = 1;
    let mut count: Option<i64> = None;
    let mut maxlen: i64 = 0;
    let mut i = 3;
    while i < args.len() {
        let more = i + 1 < args.len();
        if is(args[i], "rank") && more {
            rank = int(args[i + 1])?;
            if rank == 0 {
                return Err(CmdError::err(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the \
                     second ... or use negative to start from the end of the list",
                ));
            }
        } else if is(args[i], "count") && more {
            count = Some(non_negative(args[i + 1], "ERR COUNT can't be negative")?);
        } else if is(args[i], "maxlen") && more {
            maxlen = non_negative(args[i + 1], "ERR MAXLEN can't be negative")?;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    let mut shard = ctx.lock(args[1]);
    let Some(list) = list_ref(ctx, &mut shard, args[1])? else {
        match count {
            Some(_) => ctx.out.array(0),
            None => ctx.out.null(),
        }
        return Ok(());
    };
    // Matches before the first one reported. Redis negates the rank in a
    // C long, so LLONG_MIN stays negative and every match qualifies.
    let skip = if rank == i64::MIN {
        0
    } else {
        rank.unsigned_abs() - 1
    };
    let want = match count {
        Some(0) => u64::MAX,
        Some(n) => n as u64,
        None => 1,
    };
    let scan = if maxlen == 0 {
        list.len()
    } else {
        list.len().min(maxlen as usize)
    };
    let len = list.len();
    let items: Box<dyn Iterator<Item = (usize, &[u8])>> = if rank < 0 {
        Box::new(list.iter().rev().enumerate().map(|(i, v)| (len - 1 - i, v)))
    } else {
        Box::new(list.iter().enumerate())
    };
    let mut seen = 0u64;
    let mut found = Vec::new();
    for (idx, item) in items.take(scan) {
        if item == args[2] {
            seen += 1;
            if seen > skip {
                found.push(idx as i64);
                if found.len() as u64 >= want {
                    break;
                }
            }
        }
    }
    match count {
        Some(_) => {
            ctx.out.array(found.len());
            found.iter().for_each(|&i| ctx.out.int(i));
        }
        None => match found.first() {
            Some(&i) => ctx.out.int(i),
            None => ctx.out.null(),
        },
    }
    Ok(())
}

/// LMOVE under the held locks of `src` and `dst`: replies the moved
/// element (null when `src` is absent) and serves `dst`'s waiters.
fn move_locked<'a>(
    ctx: &mut Ctx<'a>,
    mut lock: MultiLock<'a>,
    src: &[u8],
    dst: &[u8],
    from: End,
    to: End,
) -> CmdResult {
    let db = ctx.client.db;
    let now = ctx.now;
    let fill = fill(ctx);
    if list_mut(lock.shard(db, src), src, now)?.is_none() {
        ctx.out.null();
        return Ok(());
    }
    check_list(lock.shard(db, dst), dst, now)?;
    let value = match list_mut(lock.shard(db, src), src, now) {
        Ok(Some(l)) => pop(l, from),
        _ => None,
    };
    let Some(value) = value else {
        ctx.out.null();
        return Ok(());
    };
    push_into(lock.shard(db, dst), dst, now, fill, to, &value);
    let deleted = remove_if_empty(lock.shard(db, src), src, now);
    ctx.out.bulk(&value);
    ctx.modified(dst, to.push_event());
    ctx.modified(src, from.pop_event());
    if deleted {
        ctx.modified(src, "del");
    }
    let keyspace = &ctx.server.keyspace;
    ctx.serve_blocked(dst, &mut HeldShards::many(keyspace, db, &mut lock));
    Ok(())
}

fn lmove(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let from = End::parse(args[3])?;
    let to = End::parse(args[4])?;
    let lock = ctx.lock_command_keys(args);
    move_locked(ctx, lock, args[1], args[2], from, to)
}

fn rpoplpush(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let lock = ctx.lock_command_keys(args);
    move_locked(ctx, lock, args[1], args[2], End::Right, End::Left)
}

/// Parsed `numkeys key… LEFT|RIGHT [COUNT n]` of LMPOP/BLMPOP.
struct MpopArgs<'a> {
    keys: Vec<&'a [u8]>,
    end: End,
    count: usize,
}

fn parse_mpop<'a>(args: &[&'a [u8]]) -> Result<MpopArgs<'a>, CmdError> {
    let m = mpop_args(args)?;
    Ok(MpopArgs {
        keys: m.keys.to_vec(),
        end: End::parse(m.side)?,
        count: m.count,
    })
}

/// Pops from the first non-empty list of `keys` under `lock` (holding
/// them all) and writes the reply with `write`; false when every list is
/// empty. `WRONGTYPE` for a non-list met before that.
fn pop_first(
    ctx: &mut Ctx,
    lock: &mut MultiLock<'_>,
    keys: &[&[u8]],
    end: End,
    count: usize,
    multi: bool,
) -> Result<bool, CmdError> {
    let write: WriteFn = if multi { write_mpop } else { write_pair };
    let db = ctx.client.db;
    let now = ctx.now;
    for &key in keys {
        let shard = lock.shard(db, key);
        if list_mut(shard, key, now)?.is_none() {
            continue;
        }
        let (items, deleted) = pop_n(shard, key, now, end, count);
        let popped = items.len();
        write(ctx.out, key, items);
        ctx.modified(key, end.pop_event());
        if deleted {
            ctx.modified(key, "del");
        }
        // BLPOP/BLMPOP/LMPOP replay as the plain pop of the key served
        // (with the count for the MPOP forms), as Redis propagates them.
        if ctx.propagating() {
            if multi {
                let n = popped.to_string();
                ctx.propagate_one(&[end.pop_command(), key, n.as_bytes()]);
            } else {
                ctx.propagate_one(&[end.pop_command(), key]);
            }
        }
        return Ok(true);
    }
    Ok(false)
}

/// Writes a served pop's reply: the key and the popped elements.
type WriteFn = fn(&mut Reply, &[u8], Vec<Vec<u8>>);

fn write_mpop(out: &mut Reply, key: &[u8], items: Vec<Vec<u8>>) {
    out.array(2);
    out.bulk(key);
    out.bulk_array(items.iter().map(Vec::as_slice));
}

fn write_pair(out: &mut Reply, key: &[u8], items: Vec<Vec<u8>>) {
    out.array(2);
    out.bulk(key);
    out.bulk(&items[0]);
}

fn lmpop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let a = parse_mpop(&args[1..])?;
    let mut lock = lock_keys(ctx, &a.keys);
    if !pop_first(ctx, &mut lock, &a.keys, a.end, a.count, true)? {
        ctx.out.null_array();
    }
    Ok(())
}

/// What a blocked list command does once a key gets data.
struct ListWait {
    end: End,
    kind: WaitKind,
}

enum WaitKind {
    /// BLPOP/BRPOP: reply `[key, element]`.
    Pair,
    /// BLMPOP: reply `[key, [elements]]` with up to this many.
    Multi(usize),
    /// BLMOVE/BRPOPLPUSH: push into `dst` at `to` (a new list there gets
    /// node size `fill`), reply the element.
    /// `replay` is the non-blocking command that replays the move.
    Move {
        dst: Vec<u8>,
        to: End,
        fill: i64,
        replay: Vec<Vec<u8>>,
    },
}

impl BlockedOp for ListWait {
    fn serve(&self, s: &mut Serve<'_>) -> bool {
        let key = s.key;
        let now = s.now;
        let has_data = match s.shards.shard(key) {
            Some(shard) => matches!(list_mut(shard, key, now), Ok(Some(l)) if !l.is_empty()),
            None => false,
        };
        if !has_data {
            return false;
        }
        let (dst, to, fill) = match &self.kind {
            WaitKind::Move { dst, to, fill, .. } => (dst, *to, *fill),
            WaitKind::Pair | WaitKind::Multi(_) => {
                let count = match self.kind {
                    WaitKind::Multi(n) => n,
                    _ => 1,
                };
                let Some(shard) = s.shards.shard(key) else {
                    return false;
                };
                let (items, deleted) = pop_n(shard, key, now, self.end, count);
                let pop = self.end.pop_command().to_vec();
                s.propagate.push(match self.kind {
                    WaitKind::Multi(_) => {
                        vec![pop, key.to_vec(), items.len().to_string().into_bytes()]
                    }
                    _ => vec![pop, key.to_vec()],
                });
                match self.kind {
                    WaitKind::Multi(_) => write_mpop(&mut s.out, key, items),
                    _ => write_pair(&mut s.out, key, items),
                }
                s.modified.push((key.to_vec(), self.end.pop_event()));
                if deleted {
                    s.modified.push((key.to_vec(), "del"));
                }
                return true;
            }
        };
        // Redis checks the destination's type before popping, and fails
        // the waiter with WRONGTYPE, leaving the element in place.
        let dst_ok = s.shards.shard(dst).map(|shard| check_list(shard, dst, now));
        if let Some(Err(e)) = dst_ok {
            s.out.error_bytes(e.bytes());
            return true;
        }
        let Some(value) = s
            .shards
            .shard(key)
            .and_then(|shard| match list_mut(shard, key, now) {
                Ok(Some(l)) => pop(l, self.end),
                _ => None,
            })
        else {
            return false;
        };
        match s.shards.shard(dst) {
            Some(shard) => {
                push_into(shard, dst, now, fill, to, &value);
                s.modified.push((dst.clone(), to.push_event()));
                s.ready.push(dst.clone());
                if let WaitKind::Move { replay, .. } = &self.kind {
                    s.propagate.push(replay.clone());
                }
            }
            None => {
                // The push runs later as its own command, which
                // propagates itself.
                s.propagate
                    .push(vec![self.end.pop_command().to_vec(), key.to_vec()]);
                s.then = Some(vec![to.push_command().to_vec(), dst.clone(), value.clone()]);
            }
        }
        s.modified.push((key.to_vec(), self.end.pop_event()));
        if s.shards
            .shard(key)
            .is_some_and(|shard| remove_if_empty(shard, key, now))
        {
            s.modified.push((key.to_vec(), "del"));
        }
        s.out.bulk(&value);
        true
    }

    fn timeout_reply(&self, out: &mut Reply) {
        out.null_array();
    }

    fn nonblocking_reply(&self, out: &mut Reply) {
        // Redis answers a BLMOVE that may not block with a null bulk, but
        // a timed-out one with a null array.
        match self.kind {
            WaitKind::Move { .. } => out.null(),
            _ => out.null_array(),
        }
    }
}

fn block_on(ctx: &mut Ctx, keys: &[&[u8]], timeout: Option<std::time::Duration>, wait: ListWait) {
    let keys = keys.iter().map(|k| k.to_vec()).collect();
    ctx.block(keys, timeout, Box::new(wait));
}

/// Locks the shards of `keys` in the selected database.
fn lock_keys<'a>(ctx: &Ctx<'a>, keys: &[&[u8]]) -> MultiLock<'a> {
    let db = ctx.client.db;
    ctx.server.keyspace.lock_keys(keys.iter().map(|k| (db, *k)))
}

/// BLPOP/BRPOP/BLMPOP: pops now if a list has data, else blocks, holding
/// the keys' locks from the check until the client is registered so no
/// push can slip in between.
fn blocking_pop(
    ctx: &mut Ctx,
    keys: &[&[u8]],
    timeout: Option<std::time::Duration>,
    end: End,
    kind: WaitKind,
) -> CmdResult {
    let (count, multi) = match kind {
        WaitKind::Multi(n) => (n, true),
        _ => (1, false),
    };
    let mut lock = lock_keys(ctx, keys);
    if !pop_first(ctx, &mut lock, keys, end, count, multi)? {
        block_on(ctx, keys, timeout, ListWait { end, kind });
    }
    drop(lock);
    Ok(())
}

fn blpop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    bpop(ctx, args, End::Left)
}

fn brpop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    bpop(ctx, args, End::Right)
}

fn bpop(ctx: &mut Ctx, args: &[&[u8]], end: End) -> CmdResult {
    let timeout = parse_timeout(args[args.len() - 1])?;
    blocking_pop(ctx, &args[1..args.len() - 1], timeout, end, WaitKind::Pair)
}

fn blmpop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let timeout = parse_timeout(args[1])?;
    let a = parse_mpop(&args[2..])?;
    blocking_pop(ctx, &a.keys, timeout, a.end, WaitKind::Multi(a.count))
}

fn blmove_generic(ctx: &mut Ctx, args: &[&[u8]], from: End, to: End, timeout: &[u8]) -> CmdResult {
    let timeout = parse_timeout(timeout)?;
    let (src, dst) = (args[1], args[2]);
    let db = ctx.client.db;
    let now = ctx.now;
    let fill = fill(ctx);
    let mut lock = ctx.lock_command_keys(args);
    // Replays as the non-blocking form (BRPOPLPUSH has no direction
    // arguments): served at once with the arguments as given, served
    // later with Redis's lowercase direction words.
    let replay: Vec<&[u8]> = match args {
        [_, _, _, _] => vec![b"RPOPLPUSH", src, dst],
        _ => vec![b"LMOVE", src, dst, args[3], args[4]],
    };
    if list_mut(lock.shard(db, src), src, now)?.is_none() {
        let mut later: Vec<Vec<u8>> = replay.iter().map(|a| a.to_vec()).collect();
        if later.len() == 5 {
            later[3] = from.word().to_vec();
            later[4] = to.word().to_vec();
        }
        let kind = WaitKind::Move {
            dst: dst.to_vec(),
            to,
            fill,
            replay: later,
        };
        block_on(ctx, &[src], timeout, ListWait { end: from, kind });
        return Ok(());
    }
    move_locked(ctx, lock, src, dst, from, to)?;
    ctx.propagate_one(&replay);
    Ok(())
}

fn blmove(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let from = End::parse(args[3])?;
    let to = End::parse(args[4])?;
    blmove_generic(ctx, args, from, to, args[5])
}

fn brpoplpush(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    blmove_generic(ctx, args, End::Right, End::Left, args[3])
}
