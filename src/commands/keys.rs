//! The generic keyspace family: DEL, UNLINK, EXISTS, TOUCH, TYPE, RENAME,
//! RENAMENX, COPY, KEYS, SCAN, RANDOMKEY and OBJECT. The TTL commands live
//! in `expire`, the whole-database ones (and MOVE) in `db`.

use crate::command::{CmdError, CmdResult, Ctx, TableBuilder};
use crate::commands::args::{cursor, db_index, is, ScanOptions};
use crate::keyspace::{Entry, Value, SHARDS};
use crate::server::notify;
use crate::util::glob::glob_match;
use crate::util::rand::random_u64;

/// Registers the family.
pub fn register(t: &mut TableBuilder) {
    t.add("del", del);
    t.add("unlink", del);
    t.add("exists", exists);
    t.add("touch", touch);
    t.add("type", type_cmd);
    t.add("rename", rename);
    t.add("renamenx", renamenx);
    t.add("copy", copy);
    t.add("keys", keys);
    t.add("scan", scan);
    t.add("randomkey", randomkey);
    t.add_sub("object", "encoding", object_encoding);
    t.add_sub("object", "refcount", object_refcount);
    t.add_sub("object", "idletime", object_idletime);
    t.add_sub("object", "freq", object_freq);
    t.add_sub("object", "help", object_help);
}

/// `shared.sameobjecterr` in Redis (COPY, MOVE).
pub const SAME_OBJECT: &str = "ERR source and destination objects are the same";

/// DEL and UNLINK. Values are freed after the locks are released, so
/// other clients never wait on a large deallocation.
fn del(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (db, now) = (ctx.client.db, ctx.now);
    let mut locks = ctx.lock_command_keys(args);
    let removed: Vec<Entry> = args[1..]
        .iter()
        .filter_map(|key| locks.shard(db, key).remove_live(key, now))
        .collect();
    drop(locks);
    for entry in &removed {
        ctx.modified(entry.key(), "del");
    }
    ctx.out.int(removed.len() as i64);
    drop(removed);
    Ok(())
}

/// EXISTS counts a key once per mention, without touching its clock.
fn exists(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (db, now) = (ctx.client.db, ctx.now);
    let mut locks = ctx.lock_command_keys(args);
    let found: Vec<bool> = args[1..]
        .iter()
        .map(|key| locks.shard(db, key).peek(key, now).is_some())
        .collect();
    drop(locks);
    count_lookups(ctx, &args[1..], &found)
}

/// TOUCH counts the existing keys and refreshes their access clock.
fn touch(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (db, now) = (ctx.client.db, ctx.now);
    let mut locks = ctx.lock_command_keys(args);
    let found: Vec<bool> = args[1..]
        .iter()
        .map(|key| locks.shard(db, key).get(key, now).is_some())
        .collect();
    drop(locks);
    count_lookups(ctx, &args[1..], &found)
}

/// Feeds the hit/miss statistics and replies with the number of hits.
fn count_lookups(ctx: &mut Ctx, keys: &[&[u8]], found: &[bool]) -> CmdResult {
    for (key, &hit) in keys.iter().zip(found) {
        ctx.read_lookup(key, hit);
    }
    ctx.out.int(found.iter().filter(|&&hit| hit).count() as i64);
    Ok(())
}

fn type_cmd(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let name = ctx
        .lock(args[1])
        .peek(args[1], ctx.now)
        .map(|e| e.value.type_name());
    ctx.read_lookup(args[1], name.is_some());
    ctx.out.simple(name.unwrap_or("none").as_bytes());
    Ok(())
}

fn rename(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    rename_generic(ctx, args, false)
}

fn renamenx(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    rename_generic(ctx, args, true)
}

/// RENAME/RENAMENX: the value and its TTL move to the new name in one
/// step under both shards' locks.
fn rename_generic(ctx: &mut Ctx, args: &[&[u8]], nx: bool) -> CmdResult {
    let (src, dst) = (args[1], args[2]);
    let (db, now) = (ctx.client.db, ctx.now);
    let mut locks = ctx.lock_command_keys(args);
    if locks.shard(db, src).get(src, now).is_none() {
        return Err(CmdError::NoSuchKey);
    }
    if src == dst {
        if nx {
            ctx.out.int(0);
        } else {
            ctx.out.ok();
        }
        return Ok(());
    }
    if nx && locks.shard(db, dst).get(dst, now).is_some() {
        ctx.out.int(0);
        return Ok(());
    }
    let entry = locks
        .shard(db, src)
        .remove(src)
        .expect("checked live above");
    let expire_at = entry.expire_at();
    // Like Redis, an existing destination is deleted and the key added
    // anew (a `new` notification even when the name was taken).
    let target = locks.shard(db, dst);
    let replaced = target.remove_live(dst, now);
    target.set(dst, entry.value, expire_at, now);
    drop(locks);
    drop(replaced);
    ctx.modified(src, "rename_from");
    ctx.modified(dst, "rename_to");
    if nx {
        ctx.out.int(1);
    } else {
        ctx.out.ok();
    }
    Ok(())
}

/// COPY source destination [DB index] [REPLACE]: the TTL is copied too.
fn copy(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (src, dst) = (args[1], args[2]);
    let (src_db, now) = (ctx.client.db, ctx.now);
    let mut dst_db = src_db;
    let mut replace = false;
    let mut i = 3;
    while i < args.len() {
        if is(args[i], "REPLACE") {
            replace = true;
        } else if is(args[i], "DB") && i + 1 < args.len() {
            dst_db = db_index(args[i + 1], ctx.server.keyspace.db_count())?;
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if src_db == dst_db && src == dst {
        return Err(CmdError::err(SAME_OBJECT));
    }
    let mut locks = ctx
        .server
        .keyspace
        .lock_keys([(src_db, src), (dst_db, dst)]);
    let found = locks
        .shard(src_db, src)
        .get(src, now)
        .map(|e| (e.value.clone(), e.expire_at()));
    // Expiry seen in the source database is reported there.
    notify::flush_recorded(ctx.server, src_db);
    let Some((value, expire_at)) = found else {
        drop(locks);
        ctx.read_lookup(src, false);
        ctx.out.int(0);
        return Ok(());
    };
    let target = locks.shard(dst_db, dst);
    let copied = replace || target.get(dst, now).is_none();
    // A replaced destination is deleted and added anew, as in Redis.
    let replaced = copied.then(|| {
        let old = target.remove_live(dst, now);
        target.set(dst, value, expire_at, now);
        old
    });
    drop(locks);
    drop(replaced);
    if copied {
        ctx.modified_in(dst_db, dst, "copy_to");
    }
    ctx.read_lookup(src, true);
    ctx.out.int(copied as i64);
    Ok(())
}

/// KEYS pattern: a consistent view of the whole database, like Redis's
/// single-threaded KEYS (it blocks the database while it runs).
fn keys(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let pattern = args[1];
    let all = pattern == b"*";
    let now = ctx.now;
    let shards = ctx.db().lock_all();
    let found: Vec<&[u8]> = shards
        .iter()
        .flat_map(|s| s.iter_live(now))
        .map(Entry::key)
        .filter(|k| all || glob_match(pattern, k, false))
        .collect();
    ctx.out.array(found.len());
    for key in found {
        ctx.out.bulk(key);
    }
    Ok(())
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type].
fn scan(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut cur = cursor(args[1])?;
    let opts = ScanOptions::parse(&args[2..], true)?;
    let count = opts.count;
    // Like Redis: stop after about COUNT keys, or after 10 * COUNT buckets
    // so a sparse table cannot make one call run long.
    let mut budget = count.saturating_mul(10);
    let mut visited = 0u64;
    let mut found: Vec<Vec<u8>> = Vec::new();
    let db = ctx.db();
    loop {
        cur = db.scan_step(cur, ctx.now, |e| {
            visited += 1;
            let wanted = opts.matches(e.key())
                && opts
                    .type_filter
                    .is_none_or(|t| t.eq_ignore_ascii_case(e.value.type_name().as_bytes()));
            if wanted {
                found.push(e.key().to_vec());
            }
        });
        budget -= 1;
        if cur == 0 || budget == 0 || visited >= count {
            break;
        }
    }
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(cur).as_bytes());
    ctx.out.array(found.len());
    for key in &found {
        ctx.out.bulk(key);
    }
    Ok(())
}

/// RANDOMKEY: a shard is picked with probability proportional to its
/// size, then a random live key inside it; shards are locked one at a
/// time.
fn randomkey(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let now = ctx.now;
    let sizes: Vec<usize> = (0..SHARDS).map(|i| db.lock_shard(i).len()).collect();
    let total: usize = sizes.iter().sum();
    let mut key = None;
    if total > 0 {
        let mut pick = (random_u64() % total as u64) as usize;
        let mut start = 0;
        for (i, &n) in sizes.iter().enumerate() {
            if pick < n {
                start = i;
                break;
            }
            pick -= n;
        }
        // The chosen shard may have emptied (or hold only expired keys)
        // since it was measured: continue with the following ones.
        key = (0..SHARDS).find_map(|step| {
            let shard = db.lock_shard((start + step) % SHARDS);
            shard.random(now).map(|e| e.key().to_vec())
        });
    }
    match key {
        Some(k) => ctx.out.bulk(&k),
        None => ctx.out.null(),
    }
    Ok(())
}

/// Runs `f` on the entry of `args[2]` looked up without touching its
/// access clock (OBJECT never counts as an access), or replies null.
fn object_lookup(
    ctx: &mut Ctx,
    args: &[&[u8]],
    f: impl FnOnce(&Entry, u64) -> Result<i64, CmdError>,
) -> CmdResult {
    let key = args[2];
    let now = ctx.now;
    let result = ctx.lock(key).peek(key, now).map(|e| f(e, now));
    ctx.count_lookup(result.is_some());
    match result {
        Some(v) => ctx.out.int(v?),
        None => ctx.out.null(),
    }
    Ok(())
}

fn object_encoding(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let key = args[2];
    let encoding = ctx.lock(key).peek(key, ctx.now).map(|e| e.value.encoding());
    ctx.count_lookup(encoding.is_some());
    match encoding {
        Some(enc) => ctx.out.bulk(enc.as_bytes()),
        None => ctx.out.null(),
    }
    Ok(())
}

/// Redis shares the integer objects 0..9999 (refcount `INT_MAX`), except
/// when `maxmemory` is set with an LRU/LFU policy: each key then needs its
/// own object to hold its access clock.
fn object_refcount(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    const SHARED_INTEGERS: i64 = 10000;
    let evict = &ctx.server.evict;
    let shared = !(evict.maxmemory() > 0 && evict.policy().tracks_access());
    object_lookup(ctx, args, |e, _| {
        Ok(match e.value {
            Value::Int(v) if shared && (0..SHARED_INTEGERS).contains(&v) => i32::MAX as i64,
            _ => 1,
        })
    })
}

/// Under an LFU policy keys keep access counters, not idle times.
fn object_idletime(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let lfu = ctx.server.evict.policy().is_lfu();
    object_lookup(ctx, args, |e, now| {
        if lfu {
            return Err(CmdError::err(
                "ERR An LFU maxmemory policy is selected, idle time not tracked. \
                 Please note that when switching between policies at runtime LRU and LFU data \
                 will take some time to adjust.",
            ));
        }
        Ok(e.idle_secs(now) as i64)
    })
}

/// Access frequencies are only tracked under an LFU policy.
fn object_freq(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let lfu = ctx.server.evict.policy().is_lfu();
    object_lookup(ctx, args, |e, now| {
        if !lfu {
            return Err(CmdError::err(
                "ERR An LFU maxmemory policy is not selected, access frequency not tracked. \
                 Please note that when switching between policies at runtime LRU and LFU data \
                 will take some time to adjust.",
            ));
        }
        Ok(e.lfu_freq(now) as i64)
    })
}

const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

fn object_help(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.out.array(OBJECT_HELP.len());
    for line in OBJECT_HELP {
        ctx.out.simple(line.as_bytes());
    }
    Ok(())
}
