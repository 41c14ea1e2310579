//! The string family: GET/SET and their variants, counters, ranges, LCS.
//!
//! Every command follows Redis 7.0's `t_string.c` semantics, including the
//! order in which arguments are validated (which decides the error a client
//! sees when several things are wrong) and the encoding each command leaves
//! behind (`int`, `embstr`, `raw`, as `OBJECT ENCODING` reports it).

use crate::command::{CmdError, CmdResult, Ctx, TableBuilder};
use crate::commands::args::{int, is};
use crate::keyspace::value::IntBuf;
use crate::keyspace::{Shard, SmallBytes, Value};
use crate::protocol::reply::Reply;
use crate::server::notify;
use crate::util::long_double::{incr_by_float, IncrFloatError};
use crate::util::num::parse_i64;

/// Registers the family.
pub fn register(t: &mut TableBuilder) {
    t.add("get", get);
    t.add("set", set);
    t.add("setnx", setnx);
    t.add("setex", setex);
    t.add("psetex", psetex);
    t.add("getex", getex);
    t.add("getdel", getdel);
    t.add("getset", getset);
    t.add("mset", mset);
    t.add("msetnx", msetnx);
    t.add("mget", mget);
    t.add("append", append);
    t.add("strlen", strlen);
    t.add("getrange", getrange);
    t.add("substr", getrange);
    t.add("setrange", setrange);
    t.add("incr", incr);
    t.add("decr", decr);
    t.add("incrby", incrby);
    t.add("decrby", decrby);
    t.add("incrbyfloat", incrbyfloat);
    t.add("lcs", lcs);
}

/// The bytes of a string value, or `WRONGTYPE` for other types.
fn string_of<'a>(value: &'a Value, buf: &'a mut IntBuf) -> Result<&'a [u8], CmdError> {
    value.as_str(buf).ok_or(CmdError::WrongType)
}

/// Length of a string value, or `WRONGTYPE` for other types.
fn string_len(value: &Value) -> Result<usize, CmdError> {
    string_of(value, &mut IntBuf::new()).map(<[u8]>::len)
}

/// Redis's `checkStringLength`: a string of `size + append` bytes must fit
/// in `proto-max-bulk-len` (and the sum must not overflow).
fn check_string_length(size: u64, append: u64, max: u64) -> CmdResult {
    match size.checked_add(append) {
        Some(total) if total <= max => Ok(()),
        _ => Err(CmdError::TooBig),
    }
}

/// Replies with the string at `key` (null when absent) the way Redis's
/// `getGenericCommand` does, writing nothing on `WRONGTYPE`; returns
/// whether the key exists.
fn reply_string(
    out: &mut Reply,
    shard: &mut Shard,
    key: &[u8],
    now: u64,
) -> Result<bool, CmdError> {
    match shard.get(key, now) {
        Some(entry) => {
            let mut buf = IntBuf::new();
            out.bulk(string_of(&entry.value, &mut buf)?);
            Ok(true)
        }
        None => {
            out.null();
            Ok(false)
        }
    }
}

fn get(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut shard = ctx.lock(args[1]);
    let found = reply_string(ctx.out, &mut shard, args[1], ctx.now)?;
    drop(shard);
    ctx.read_lookup(args[1], found);
    Ok(())
}

// Option flags of SET and GETEX (Redis's OBJ_* flags).
const NX: u16 = 1 << 0;
const XX: u16 = 1 << 1;
const GET: u16 = 1 << 2;
const KEEPTTL: u16 = 1 << 3;
const PERSIST: u16 = 1 << 4;
const EX: u16 = 1 << 5;
const PX: u16 = 1 << 6;
const EXAT: u16 = 1 << 7;
const PXAT: u16 = 1 << 8;
/// Options that decide the TTL; they exclude each other.
const TTL_OPTS: u16 = KEEPTTL | PERSIST | EX | PX | EXAT | PXAT;

/// SET or GETEX options after parsing.
struct ExtArgs<'a> {
    flags: u16,
    /// The EX/PX/EXAT/PXAT argument, validated later: Redis checks it only
    /// after the syntax (SET) or after the key lookup (GETEX).
    expire: Option<&'a [u8]>,
}

impl ExtArgs<'_> {
    fn has(&self, flag: u16) -> bool {
        self.flags & flag != 0
    }

    /// The absolute expiry time in ms, if an expire option was given.
    fn expire_at(&self, now: u64, cmd: &str) -> Result<Option<u64>, CmdError> {
        let Some(arg) = self.expire else {
            return Ok(None);
        };
        let unit = if self.has(EX | EXAT) { 1000 } else { 1 };
        let relative = self.has(EX | PX);
        expire_arg(arg, unit, relative, now, cmd).map(Some)
    }
}

/// Parses the options of SET (`getex == false`) or GETEX from `args[from..]`
/// with Redis's rules: an option may repeat (the last expire wins), but
/// options that contradict each other are a syntax error.
fn parse_ext<'a>(args: &[&'a [u8]], from: usize, getex: bool) -> Result<ExtArgs<'a>, CmdError> {
    let mut ext = ExtArgs {
        flags: 0,
        expire: None,
    };
    let mut i = from;
    while i < args.len() {
        let a = args[i];
        let next = args.get(i + 1).copied();
        let f = ext.flags;
        let ttl_free = |own: u16| f & TTL_OPTS & !own == 0;
        let expire_opt = [(EX, "EX"), (PX, "PX"), (EXAT, "EXAT"), (PXAT, "PXAT")]
            .into_iter()
            .find(|(_, name)| is(a, name));
        if !getex && is(a, "NX") && f & XX == 0 {
            ext.flags |= NX;
        } else if !getex && is(a, "XX") && f & NX == 0 {
            ext.flags |= XX;
        } else if !getex && is(a, "GET") {
            ext.flags |= GET;
        } else if !getex && is(a, "KEEPTTL") && ttl_free(KEEPTTL) {
            ext.flags |= KEEPTTL;
        } else if getex && is(a, "PERSIST") && ttl_free(PERSIST) {
            ext.flags |= PERSIST;
        } else if let (Some((flag, _)), Some(v)) = (expire_opt, next) {
            if !ttl_free(flag) {
                return Err(CmdError::Syntax);
            }
            ext.flags |= flag;
            ext.expire = Some(v);
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    Ok(ext)
}

/// Converts an EX/PX/EXAT/PXAT style argument to an absolute ms time with
/// Redis's sign and overflow checks; `cmd` names the command in errors.
fn expire_arg(
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

/// SET and its variants: stores `value` at `key` under the NX/XX/GET/TTL
/// rules of `flags`, all under one lock. Replies `ok`, or `abort` when
/// NX/XX prevent the write (SETNX's `:1`/`:0`), unless GET asked for the
/// old value instead.
fn set_generic(
    ctx: &mut Ctx,
    key: &[u8],
    value: &[u8],
    flags: u16,
    expire_at: Option<u64>,
    (ok, abort): (&[u8], &[u8]),
) -> CmdResult {
    let now = ctx.now;
    let mut shard = ctx.lock(key);
    let found = if flags & GET != 0 {
        let found = reply_string(ctx.out, &mut shard, key, now)?;
        ctx.read_lookup(key, found);
        found
    } else {
        shard.contains(key, now)
    };
    let reply = if (flags & NX != 0 && found) || (flags & XX != 0 && !found) {
        abort
    } else {
        let stored = Value::string(value);
        match expire_at {
            Some(at) => shard.set(key, stored, at, now),
            None if flags & KEEPTTL != 0 => shard.set_keep_ttl(key, stored, now),
            None => shard.set(key, stored, 0, now),
        };
        ctx.modified(key, "set");
        if let Some(at) = expire_at {
            ctx.modified(key, "expire");
            // Relative TTLs replay as the absolute time they meant (Redis
            // rewrites every expiring SET this way, PXAT included).
            if ctx.propagating() {
                let at = at.to_string();
                ctx.propagate_one(&[b"SET", key, value, b"PXAT", at.as_bytes()]);
            }
        }
        ok
    };
    if flags & GET == 0 {
        ctx.out.buf.extend_from_slice(reply);
    }
    Ok(())
}

/// The null reply of the client's protocol.
fn null_reply(ctx: &Ctx) -> &'static [u8] {
    if ctx.out.resp3 {
        b"_\r\n"
    } else {
        b"$-1\r\n"
    }
}

fn set(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let ext = parse_ext(args, 3, false)?;
    let expire_at = ext.expire_at(ctx.now, "set")?;
    let null = null_reply(ctx);
    set_generic(
        ctx,
        args[1],
        args[2],
        ext.flags,
        expire_at,
        (b"+OK\r\n", null),
    )?;
    // GET only shapes the reply: Redis propagates the SET without it.
    if ext.has(GET) && expire_at.is_none() && ctx.propagating() {
        let mut replay: Vec<Vec<u8>> = args[..3].iter().map(|a| a.to_vec()).collect();
        replay.extend(
            args[3..]
                .iter()
                .filter(|a| !is(a, "GET"))
                .map(|a| a.to_vec()),
        );
        ctx.propagate_as(vec![replay]);
    }
    Ok(())
}

fn setnx(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    set_generic(ctx, args[1], args[2], NX, None, (b":1\r\n", b":0\r\n"))
}

fn setex(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let at = expire_arg(args[2], 1000, true, ctx.now, "setex")?;
    set_generic(ctx, args[1], args[3], 0, Some(at), (b"+OK\r\n", b"+OK\r\n"))
}

fn psetex(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let at = expire_arg(args[2], 1, true, ctx.now, "psetex")?;
    set_generic(ctx, args[1], args[3], 0, Some(at), (b"+OK\r\n", b"+OK\r\n"))
}

fn getex(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let ext = parse_ext(args, 2, true)?;
    let now = ctx.now;
    let mut shard = ctx.lock(key);
    let Some(entry) = shard.get(key, now) else {
        drop(shard);
        ctx.read_lookup(key, false);
        ctx.out.null();
        return Ok(());
    };
    let mut buf = IntBuf::new();
    let value = string_of(&entry.value, &mut buf)?;
    // Redis validates the expire time only once the key is known to exist.
    let expire_at = ext.expire_at(now, "getex")?;
    ctx.out.bulk(value);
    match expire_at {
        // An absolute time already past deletes the key.
        Some(at) if ext.has(EXAT | PXAT) && at <= now => {
            shard.remove(key);
            ctx.modified(key, "del");
            ctx.propagate_one(&[b"DEL", key]);
        }
        Some(at) => {
            shard.set_expire(key, at, now);
            ctx.modified(key, "expire");
            if ctx.propagating() {
                let at = at.to_string();
                ctx.propagate_one(&[b"PEXPIREAT", key, at.as_bytes()]);
            }
        }
        None if ext.has(PERSIST) && shard.persist(key, now) => {
            ctx.modified(key, "persist");
            ctx.propagate_one(&[b"PERSIST", key]);
        }
        None => {}
    }
    drop(shard);
    ctx.read_lookup(key, true);
    Ok(())
}

fn getdel(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let mut shard = ctx.lock(key);
    let found = reply_string(ctx.out, &mut shard, key, ctx.now)?;
    if found {
        shard.remove(key);
        ctx.modified(key, "del");
        ctx.propagate_one(&[b"DEL", key]);
    }
    drop(shard);
    ctx.read_lookup(key, found);
    Ok(())
}

fn getset(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (key, value) = (args[1], args[2]);
    let now = ctx.now;
    let mut shard = ctx.lock(key);
    let found = reply_string(ctx.out, &mut shard, key, now)?;
    shard.set(key, Value::string(value), 0, now);
    ctx.modified(key, "set");
    ctx.propagate_one(&[b"SET", key, value]);
    drop(shard);
    ctx.read_lookup(key, found);
    Ok(())
}

/// MSET/MSETNX: all keys are locked together, so no reader can observe
/// some of the new values without the others.
fn mset_generic(ctx: &mut Ctx, args: &[&[u8]], nx: bool) -> CmdResult {
    if args.len().is_multiple_of(2) {
        return Err(CmdError::msg(format!(
            "ERR wrong number of arguments for '{}' command",
            ctx.cmd.name
        )));
    }
    let (db, now) = (ctx.client.db, ctx.now);
    let mut locks = ctx.lock_command_keys(args);
    let pairs = args[1..].chunks_exact(2);
    if nx
        && pairs
            .clone()
            .any(|kv| locks.shard(db, kv[0]).contains(kv[0], now))
    {
        ctx.out.int(0);
        return Ok(());
    }
    for kv in pairs {
        locks
            .shard(db, kv[0])
            .set(kv[0], Value::string(kv[1]), 0, now);
        ctx.modified(kv[0], "set");
    }
    if nx {
        ctx.out.int(1);
    } else {
        ctx.out.ok();
    }
    Ok(())
}

fn mset(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    mset_generic(ctx, args, false)
}

fn msetnx(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    mset_generic(ctx, args, true)
}

fn mget(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (db, now) = (ctx.client.db, ctx.now);
    let mut locks = ctx.lock_command_keys(args);
    let keys = &args[1..];
    let mut hits = 0;
    ctx.out.array(keys.len());
    for key in keys {
        let mut buf = IntBuf::new();
        match locks.shard(db, key).get(key, now) {
            Some(entry) => {
                hits += 1;
                // Values of other types read as nil, not as an error.
                match entry.value.as_str(&mut buf) {
                    Some(s) => ctx.out.bulk(s),
                    None => ctx.out.null(),
                }
            }
            None => {
                notify::keymiss(ctx.server, db, key);
                ctx.out.null()
            }
        }
    }
    drop(locks);
    ctx.client.stats.hits += hits;
    ctx.client.stats.misses += keys.len() as u64 - hits;
    Ok(())
}

fn append(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (key, tail) = (args[1], args[2]);
    let max = ctx.max_bulk();
    let now = ctx.now;
    let mut shard = ctx.lock(key);
    let len = match shard.get_mut(key, now) {
        Some(entry) => {
            let len = string_len(&entry.value)?;
            check_string_length(len as u64, tail.len() as u64, max)?;
            let buf = entry.value.make_raw().ok_or(CmdError::WrongType)?;
            buf.extend_from_slice(tail);
            buf.len()
        }
        None => {
            // A new key is stored like SET stores it (int/embstr/raw).
            shard.set(key, Value::string(tail), 0, now);
            tail.len()
        }
    };
    ctx.modified(key, "append");
    drop(shard);
    ctx.out.int(len as i64);
    Ok(())
}

fn strlen(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut shard = ctx.lock(args[1]);
    let len = match shard.get(args[1], ctx.now) {
        Some(entry) => Some(string_len(&entry.value)?),
        None => None,
    };
    drop(shard);
    ctx.read_lookup(args[1], len.is_some());
    ctx.out.int(len.unwrap_or(0) as i64);
    Ok(())
}

/// The byte range GETRANGE returns for `start..=end` over `len` bytes,
/// following Redis's index rules; `None` means the empty string.
fn range_of(mut start: i64, mut end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    if start < 0 && end < 0 && start > end {
        return None;
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    let start = start.max(0);
    let end = end.max(0).min(len - 1);
    if start > end || len == 0 {
        return None;
    }
    Some((start as usize, end as usize))
}

fn getrange(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let start = int(args[2])?;
    let end = int(args[3])?;
    let mut shard = ctx.lock(args[1]);
    let found = match shard.get(args[1], ctx.now) {
        Some(entry) => {
            let mut buf = IntBuf::new();
            let s = string_of(&entry.value, &mut buf)?;
            match range_of(start, end, s.len()) {
                Some((from, to)) => ctx.out.bulk(&s[from..=to]),
                None => ctx.out.bulk(b""),
            }
            true
        }
        None => {
            ctx.out.bulk(b"");
            false
        }
    };
    drop(shard);
    ctx.read_lookup(args[1], found);
    Ok(())
}

fn setrange(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (key, value) = (args[1], args[3]);
    let offset = int(args[2])?;
    if offset < 0 {
        return Err(CmdError::err("ERR offset is out of range"));
    }
    let offset = offset as u64;
    let max = ctx.max_bulk();
    let now = ctx.now;
    let mut shard = ctx.lock(key);
    let len = match shard.get_mut(key, now) {
        Some(entry) => {
            let len = string_len(&entry.value)?;
            if value.is_empty() {
                len
            } else {
                check_string_length(offset, value.len() as u64, max)?;
                let buf = entry.value.make_raw().ok_or(CmdError::WrongType)?;
                write_at(buf, offset as usize, value);
                let len = buf.len();
                ctx.modified(key, "setrange");
                len
            }
        }
        // Setting nothing on a missing key creates nothing.
        None if value.is_empty() => 0,
        None => {
            check_string_length(offset, value.len() as u64, max)?;
            let mut buf = Vec::new();
            write_at(&mut buf, offset as usize, value);
            let len = buf.len();
            shard.set(key, Value::Raw(Box::new(buf)), 0, now);
            ctx.modified(key, "setrange");
            len
        }
    };
    drop(shard);
    ctx.out.int(len as i64);
    Ok(())
}

/// Copies `value` into `buf` at `offset`, zero-filling any gap.
fn write_at(buf: &mut Vec<u8>, offset: usize, value: &[u8]) {
    let end = offset + value.len();
    if buf.len() < end {
        buf.resize(end, 0);
    }
    buf[offset..end].copy_from_slice(value);
}

/// INCR and friends: adds `delta` to the integer at `key` (0 if absent),
/// keeping its TTL; the result is stored int-encoded.
fn incr_by(ctx: &mut Ctx, key: &[u8], delta: i64) -> CmdResult {
    let now = ctx.now;
    let mut shard = ctx.lock(key);
    let value = match shard.get_mut(key, now) {
        Some(entry) => {
            let current = match entry.value {
                Value::Int(v) => v,
                ref other => {
                    let mut buf = IntBuf::new();
                    parse_i64(string_of(other, &mut buf)?).ok_or(CmdError::NotInteger)?
                }
            };
            let value = current.checked_add(delta).ok_or(CmdError::Overflow)?;
            entry.value = Value::Int(value);
            value
        }
        None => {
            shard.set(key, Value::Int(delta), 0, now);
            delta
        }
    };
    ctx.modified(key, "incrby");
    drop(shard);
    ctx.out.int(value);
    Ok(())
}

fn incr(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    incr_by(ctx, args[1], 1)
}

fn decr(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    incr_by(ctx, args[1], -1)
}

fn incrby(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let delta = int(args[2])?;
    incr_by(ctx, args[1], delta)
}

fn decrby(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let delta = int(args[2])?;
    // -i64::MIN does not exist; Redis has a dedicated message for it.
    let delta = delta
        .checked_neg()
        .ok_or(CmdError::err("ERR decrement would overflow"))?;
    incr_by(ctx, args[1], delta)
}

fn incrbyfloat(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (key, incr) = (args[1], args[2]);
    let now = ctx.now;
    let mut shard = ctx.lock(key);
    let float_err = |e| match e {
        IncrFloatError::NotFloat => CmdError::NotFloat,
        IncrFloatError::NanOrInfinity => {
            CmdError::err("ERR increment would produce NaN or Infinity")
        }
    };
    let sum = match shard.get_mut(key, now) {
        Some(entry) => {
            let mut buf = IntBuf::new();
            let current = string_of(&entry.value, &mut buf)?;
            let sum = incr_by_float(Some(current), incr).map_err(float_err)?;
            // Redis stores the printed sum as a plain string (embstr/raw),
            // never int-encoded, and keeps the TTL.
            entry.value = Value::Str(SmallBytes::new(&sum));
            sum
        }
        None => {
            let sum = incr_by_float(None, incr).map_err(float_err)?;
            shard.set(key, Value::Str(SmallBytes::new(&sum)), 0, now);
            sum
        }
    };
    ctx.modified(key, "incrbyfloat");
    // The printed sum replays exactly, whatever the float rounding.
    ctx.propagate_one(&[b"SET", key, &sum, b"KEEPTTL"]);
    drop(shard);
    ctx.out.bulk(&sum);
    Ok(())
}

/// One matching range of LCS IDX: positions in the first and the second
/// string (inclusive) and the length.
#[derive(Debug, PartialEq, Eq)]
struct LcsMatch {
    a: (u32, u32),
    b: (u32, u32),
    len: u32,
}

/// The LCS dynamic-programming table of `a` and `b`: entry
/// `j + i * (b.len() + 1)` is the LCS length of `a[..i]` and `b[..j]`.
/// `None` if the memory cannot be allocated.
fn lcs_table(a: &[u8], b: &[u8]) -> Option<Vec<u32>> {
    let width = b.len() + 1;
    let mut t = Vec::new();
    t.try_reserve_exact((a.len() + 1) * width).ok()?;
    t.resize((a.len() + 1) * width, 0);
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            t[j + i * width] = if a[i - 1] == b[j - 1] {
                t[(j - 1) + (i - 1) * width] + 1
            } else {
                t[j + (i - 1) * width].max(t[(j - 1) + i * width])
            };
        }
    }
    Some(t)
}

/// Walks the table back from the end like Redis does, returning the LCS
/// string and the matching ranges of at least `min_len` bytes (in the
/// order Redis emits them: from the end of the strings backwards).
fn lcs_walk(a: &[u8], b: &[u8], t: &[u32], min_len: u64) -> (Vec<u8>, Vec<LcsMatch>) {
    let width = b.len() + 1;
    let at = |i: usize, j: usize| t[j + i * width];
    let total = at(a.len(), b.len()) as usize;
    let mut lcs = vec![0u8; total];
    let mut idx = total;
    let mut ranges = Vec::new();
    // `cur` is the range being grown backwards: (a_start, a_end, b_start, b_end).
    let mut cur: Option<(usize, usize, usize, usize)> = None;
    let (mut i, mut j) = (a.len(), b.len());
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            lcs[idx - 1] = a[i - 1];
            match &mut cur {
                None => cur = Some((i - 1, i - 1, j - 1, j - 1)),
                Some((a_start, _, b_start, _)) if *a_start == i && *b_start == j => {
                    *a_start -= 1;
                    *b_start -= 1;
                }
                Some(_) => emit = true,
            }
            if let Some((a_start, _, b_start, _)) = cur {
                if a_start == 0 || b_start == 0 {
                    emit = true;
                }
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if at(i - 1, j) > at(i, j - 1) {
                i -= 1;
            } else {
                j -= 1;
            }
            emit = cur.is_some();
        }
        if emit {
            if let Some((a_start, a_end, b_start, b_end)) = cur.take() {
                let len = (a_end - a_start + 1) as u32;
                if min_len == 0 || u64::from(len) >= min_len {
                    ranges.push(LcsMatch {
                        a: (a_start as u32, a_end as u32),
                        b: (b_start as u32, b_end as u32),
                        len,
                    });
                }
            }
        }
    }
    (lcs, ranges)
}

fn lcs(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (db, now) = (ctx.client.db, ctx.now);
    let mut locks = ctx.lock_command_keys(args);
    let mut hits = 0;
    let mut strings = [Vec::new(), Vec::new()];
    let mut wrong_type = false;
    for (n, key) in args[1..3].iter().enumerate() {
        match locks.shard(db, key).get(key, now) {
            Some(entry) => {
                hits += 1;
                match entry.value.as_str(&mut IntBuf::new()) {
                    Some(s) => strings[n] = s.to_vec(),
                    None => wrong_type = true,
                }
            }
            None => notify::keymiss(ctx.server, db, key),
        }
    }
    // The computation can be long: it runs on copies, without the locks.
    drop(locks);
    ctx.client.stats.hits += hits;
    ctx.client.stats.misses += 2 - hits;
    if wrong_type {
        return Err(CmdError::err(
            "ERR The specified keys must contain string values",
        ));
    }
    let [a, b] = strings;

    let (mut get_len, mut get_idx, mut with_len) = (false, false, false);
    let mut min_len = 0u64;
    let mut i = 3;
    while i < args.len() {
        let opt = args[i];
        if is(opt, "IDX") {
            get_idx = true;
        } else if is(opt, "LEN") {
            get_len = true;
        } else if is(opt, "WITHMATCHLEN") {
            with_len = true;
        } else if is(opt, "MINMATCHLEN") && i + 1 < args.len() {
            min_len = int(args[i + 1])?.max(0) as u64;
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if get_idx && get_len {
        return Err(CmdError::err(
            "ERR If you want both the length and indexes, please just use IDX.",
        ));
    }
    if a.len() as u64 >= u64::from(u32::MAX - 1) || b.len() as u64 >= u64::from(u32::MAX - 1) {
        return Err(CmdError::err("ERR String too long for LCS"));
    }
    let cells = (a.len() as u64 + 1) * (b.len() as u64 + 1);
    if cells * 4 > ctx.max_bulk() {
        return Err(CmdError::err(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        ));
    }
    let table = lcs_table(&a, &b).ok_or(CmdError::err(
        "ERR Insufficient memory, failed allocating transient memory for LCS",
    ))?;
    let total = table[table.len() - 1];
    if get_len {
        ctx.out.int(i64::from(total));
        return Ok(());
    }
    let (string, ranges) = lcs_walk(&a, &b, &table, min_len);
    if !get_idx {
        ctx.out.bulk(&string);
        return Ok(());
    }
    let out = &mut *ctx.out;
    out.map(2);
    out.bulk(b"matches");
    out.array(ranges.len());
    for m in &ranges {
        out.array(2 + with_len as usize);
        out.array(2);
        out.int(m.a.0.into());
        out.int(m.a.1.into());
        out.array(2);
        out.int(m.b.0.into());
        out.int(m.b.1.into());
        if with_len {
            out.int(m.len.into());
        }
    }
    out.bulk(b"len");
    out.int(i64::from(total));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn getrange_indexes_like_redis() {
        assert_eq!(range_of(0, -1, 5), Some((0, 4)));
        assert_eq!(range_of(-3, -1, 5), Some((2, 4)));
        assert_eq!(range_of(-1, -5, 5), None);
        assert_eq!(range_of(-10, -8, 5), Some((0, 0)));
        assert_eq!(range_of(3, 100, 5), Some((3, 4)));
        assert_eq!(range_of(10, 20, 5), None);
        assert_eq!(range_of(0, -1, 0), None);
        assert_eq!(range_of(i64::MIN, i64::MAX, 3), Some((0, 2)));
    }

    #[test]
    fn expire_args_are_checked() {
        assert_eq!(expire_arg(b"10", 1000, true, 5, "set"), Ok(10_005));
        assert_eq!(expire_arg(b"7", 1, false, 5, "set"), Ok(7));
        let invalid = Err(CmdError::msg(
            "ERR invalid expire time in 'set' command".into(),
        ));
        assert_eq!(expire_arg(b"0", 1, true, 5, "set"), invalid);
        assert_eq!(expire_arg(b"-1", 1, true, 5, "set"), invalid);
        assert_eq!(
            expire_arg(b"9223372036854775807", 1000, true, 5, "set"),
            invalid
        );
        assert_eq!(
            expire_arg(b"9223372036854775807", 1, true, 5, "set"),
            invalid
        );
        assert_eq!(
            expire_arg(b"x", 1, true, 5, "set"),
            Err(CmdError::NotInteger)
        );
    }

    #[test]
    fn set_options_follow_redis_rules() {
        fn parse(
            opts: &[&'static [u8]],
            getex: bool,
        ) -> Result<(u16, Option<&'static [u8]>), CmdError> {
            parse_ext(opts, 0, getex).map(|e| (e.flags, e.expire))
        }
        assert_eq!(
            parse(&[b"EX", b"1", b"ex", b"2"], false),
            Ok((EX, Some(&b"2"[..])))
        );
        assert_eq!(parse(&[b"NX", b"GET"], false), Ok((NX | GET, None)));
        assert_eq!(parse(&[b"NX", b"XX"], false), Err(CmdError::Syntax));
        assert_eq!(
            parse(&[b"EX", b"1", b"PX", b"2"], false),
            Err(CmdError::Syntax)
        );
        assert_eq!(
            parse(&[b"KEEPTTL", b"EX", b"1"], false),
            Err(CmdError::Syntax)
        );
        assert_eq!(parse(&[b"EX"], false), Err(CmdError::Syntax));
        assert_eq!(parse(&[b"PERSIST"], false), Err(CmdError::Syntax));
        assert_eq!(parse(&[b"PERSIST"], true), Ok((PERSIST, None)));
        assert_eq!(parse(&[b"NX"], true), Err(CmdError::Syntax));
        assert_eq!(
            parse(&[b"PERSIST", b"PXAT", b"1"], true),
            Err(CmdError::Syntax)
        );
    }

    #[test]
    fn lcs_matches_redis_example() {
        let (a, b) = (b"ohmytext", b"mynewtext");
        let t = lcs_table(a, b).unwrap();
        let (s, ranges) = lcs_walk(a, b, &t, 0);
        assert_eq!(s, b"mytext");
        assert_eq!(
            ranges,
            vec![
                LcsMatch {
                    a: (4, 7),
                    b: (5, 8),
                    len: 4
                },
                LcsMatch {
                    a: (2, 3),
                    b: (0, 1),
                    len: 2
                },
            ]
        );
        let (_, long_only) = lcs_walk(a, b, &t, 4);
        assert_eq!(long_only.len(), 1);
    }

    #[test]
    fn string_length_limit() {
        assert_eq!(check_string_length(10, 5, 15), Ok(()));
        assert_eq!(check_string_length(10, 6, 15), Err(CmdError::TooBig));
        assert_eq!(
            check_string_length(u64::MAX, 1, u64::MAX),
            Err(CmdError::TooBig)
        );
    }
}
