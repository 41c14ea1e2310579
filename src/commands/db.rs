//! Whole-database commands: DBSIZE, FLUSHDB, FLUSHALL, SWAPDB, and MOVE
//! between databases.

use crate::command::{CmdError, CmdResult, Ctx, TableBuilder};
use crate::commands::args::{db_in_range, db_index, int32, is};
use crate::commands::keys::SAME_OBJECT;
use crate::keyspace::Shard;
use crate::server::notify;

/// Registers the family.
pub fn register(t: &mut TableBuilder) {
    t.add("dbsize", dbsize);
    t.add("flushdb", flushdb);
    t.add("flushall", flushall);
    t.add("swapdb", swapdb);
    t.add("move", move_cmd);
    t.exclusive("flushdb");
    t.exclusive("flushall");
    t.exclusive("swapdb");
}

/// Keys in the selected database, counting expired keys not reclaimed
/// yet (as Redis does).
fn dbsize(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.out.int(ctx.db().len() as i64);
    Ok(())
}

/// Parses FLUSHDB/FLUSHALL's optional `ASYNC`/`SYNC`; true for async.
/// Without an argument the flush is synchronous (`lazyfree-lazy-user-flush
/// no`, Redis's default).
fn flush_mode(args: &[&[u8]]) -> Result<bool, CmdError> {
    match args {
        [_] => Ok(false),
        [_, mode] if is(mode, "SYNC") => Ok(false),
        [_, mode] if is(mode, "ASYNC") => Ok(true),
        _ => Err(CmdError::Syntax),
    }
}

/// Counts the flushed keys as changes, then frees the old contents, on a
/// background thread for `ASYNC` so the reply does not wait for the
/// deallocation.
fn dispose(ctx: &mut Ctx, old: Vec<Vec<Shard>>, background: bool) {
    let keys: usize = old.iter().flatten().map(Shard::len).sum();
    ctx.client.stats.dirty += keys as u64;
    if background {
        std::thread::spawn(move || drop(old));
    } else {
        drop(old);
    }
}

/// Queues the keys clients of database `db` are blocked on, to be
/// re-offered to them once the command is done, as Redis does after
/// FLUSHDB and SWAPDB (a blocked XREADGROUP fails on a flushed stream, a
/// BLPOP is served by a list swapped in).
fn offer_blocked_keys(ctx: &mut Ctx, db: usize) {
    for key in ctx.server.blocking.keys_in(db) {
        ctx.client.ready_keys.push((db, key));
    }
}

/// FLUSHDB [ASYNC|SYNC] (runs with the keyspace gate held exclusively).
/// Invalidates WATCHes on keys of database `db` that exist in `db` or in
/// `other` (the database swapped in), as Redis's touchAllWatchedKeysInDb.
fn touch_watched(ctx: &Ctx, db: usize, other: usize) {
    let keyspace = &ctx.server.keyspace;
    for key in ctx.server.watches.keys_in(db) {
        let exists = |d: usize| keyspace.db(d).lock(&key).peek(&key, ctx.now).is_some();
        if exists(db) || exists(other) {
            ctx.server.watches.touch(db, &key);
        }
    }
}

fn flushdb(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let background = flush_mode(args)?;
    touch_watched(ctx, ctx.client.db, ctx.client.db);
    crate::server::tracking::flushed(ctx.server, ctx.client);
    let old = ctx.server.keyspace.take_db(ctx.client.db);
    offer_blocked_keys(ctx, ctx.client.db);
    dispose(ctx, vec![old], background);
    ctx.out.ok();
    Ok(())
}

/// FLUSHALL [ASYNC|SYNC] (runs with the keyspace gate held exclusively).
fn flushall(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let background = flush_mode(args)?;
    for db in 0..ctx.server.keyspace.db_count() {
        touch_watched(ctx, db, db);
    }
    crate::server::tracking::flushed(ctx.server, ctx.client);
    let keyspace = &ctx.server.keyspace;
    let old = (0..keyspace.db_count())
        .map(|db| keyspace.take_db(db))
        .collect();
    for db in 0..keyspace.db_count() {
        offer_blocked_keys(ctx, db);
    }
    dispose(ctx, old, background);
    ctx.out.ok();
    Ok(())
}

/// SWAPDB index1 index2 (runs with the keyspace gate held exclusively).
fn swapdb(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let first = int32(args[1]).map_err(|_| CmdError::err("ERR invalid first DB index"))?;
    let second = int32(args[2]).map_err(|_| CmdError::err("ERR invalid second DB index"))?;
    let databases = ctx.server.keyspace.db_count();
    let a = db_in_range(first as i64, databases)?;
    let b = db_in_range(second as i64, databases)?;
    touch_watched(ctx, a, b);
    touch_watched(ctx, b, a);
    ctx.server.keyspace.swap_dbs(a, b);
    offer_blocked_keys(ctx, a);
    offer_blocked_keys(ctx, b);
    ctx.out.ok();
    Ok(())
}

/// MOVE key db: 1 when moved (with its TTL), 0 when the key is missing
/// here or already present in the target database.
fn move_cmd(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let (src, now) = (ctx.client.db, ctx.now);
    let dst = db_index(args[2], ctx.server.keyspace.db_count())?;
    if src == dst {
        return Err(CmdError::err(SAME_OBJECT));
    }
    let mut locks = ctx.server.keyspace.lock_keys([(src, key), (dst, key)]);
    // Events the shards record (expiry, the new key) belong to the
    // database they happened in.
    let in_src = locks.shard(src, key).get(key, now).is_some();
    notify::flush_recorded(ctx.server, src);
    let moved = in_src && locks.shard(dst, key).get(key, now).is_none();
    if moved {
        let entry = locks
            .shard(src, key)
            .remove(key)
            .expect("checked live above");
        locks.shard(dst, key).put_entry(entry);
    }
    notify::flush_recorded(ctx.server, dst);
    drop(locks);
    if moved {
        ctx.modified_in(src, key, "move_from");
        ctx.modified_in(dst, key, "move_to");
    }
    ctx.out.int(moved as i64);
    Ok(())
}
