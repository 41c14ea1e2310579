//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! Commands between MULTI and EXEC are queued by the dispatcher. EXEC holds
//! the keyspace gate exclusively, so no other client's command interleaves
//! with the queued ones; clients blocked on keys the transaction filled are
//! served once it is complete, as in Redis.

use std::sync::atomic::Ordering;

use crate::command::{invoke, CmdError, CmdResult, Ctx, MultiState, TableBuilder};
use crate::server::blocking::HeldShards;

/// Registers the family.
pub fn register(t: &mut TableBuilder) {
    t.add("multi", multi);
    t.add("exec", exec);
    t.add("discard", discard);
    t.add("watch", watch);
    t.add("unwatch", unwatch);
    t.exclusive("exec");
}

fn multi(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(CmdError::err("ERR MULTI calls can not be nested"));
    }
    ctx.client.multi = Some(MultiState::default());
    ctx.out.ok();
    Ok(())
}

fn discard(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    if ctx.client.multi.take().is_none() {
        return Err(CmdError::err("ERR DISCARD without MULTI"));
    }
    ctx.client.unwatch_all(ctx.server);
    ctx.out.ok();
    Ok(())
}

fn watch(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(CmdError::err("ERR WATCH inside MULTI is not allowed"));
    }
    let (db, now) = (ctx.client.db, ctx.now);
    for key in &args[1..] {
        if ctx
            .client
            .watched
            .iter()
            .any(|(d, k, _)| *d == db && k == key)
        {
            continue;
        }
        let live = ctx.lock(key).peek(key, now).is_some();
        ctx.server
            .watches
            .watch(ctx.client.id, &ctx.client.watch_dirty, db, key);
        ctx.client.watched.push((db, key.to_vec(), live));
    }
    ctx.out.ok();
    Ok(())
}

fn unwatch(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.client.unwatch_all(ctx.server);
    ctx.out.ok();
    Ok(())
}

/// Whether a watched key changed or expired since WATCH.
fn watched_keys_changed(ctx: &Ctx) -> bool {
    if ctx.client.watch_dirty.load(Ordering::Acquire) {
        return true;
    }
    // Expiry removes keys without a write command: a key that was live
    // when watched and is gone now counts as changed.
    ctx.client.watched.iter().any(|(db, key, live)| {
        *live
            && ctx
                .server
                .keyspace
                .db(*db)
                .lock(key)
                .peek(key, ctx.now)
                .is_none()
    })
}

fn exec(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let Some(multi) = ctx.client.multi.take() else {
        return Err(CmdError::err("ERR EXEC without MULTI"));
    };
    if multi.failed {
        ctx.client.unwatch_all(ctx.server);
        return Err(CmdError::err(
            "EXECABORT Transaction discarded because of previous errors.",
        ));
    }
    if watched_keys_changed(ctx) {
        ctx.client.unwatch_all(ctx.server);
        ctx.out.null_array();
        return Ok(());
    }
    ctx.client.unwatch_all(ctx.server);
    ctx.out.array(multi.queued.len());
    ctx.client.in_exec = true;
    for cmd_args in &multi.queued {
        let args: Vec<&[u8]> = cmd_args.iter().map(Vec::as_slice).collect();
        match crate::command::resolve(ctx.server, &args) {
            Ok(cmd) => invoke(ctx.server, ctx.client, ctx.out, cmd, &args),
            Err(msg) => ctx.out.error_bytes(&msg),
        }
    }
    ctx.client.in_exec = false;
    serve_ready_keys(ctx);
    Ok(())
}

/// Serves clients blocked on keys the command or transaction changed.
pub(crate) fn serve_ready_keys(ctx: &mut Ctx) {
    let ready = std::mem::take(&mut ctx.client.ready_keys);
    let keyspace = &ctx.server.keyspace;
    for (db, key) in ready {
        let mut shard = keyspace.db(db).lock(&key);
        let mut held = HeldShards::one(keyspace, db, &key, &mut shard);
        let changed = ctx.server.blocking.serve(db, &key, ctx.now, &mut held);
        drop(held);
        drop(shard);
        for (changed_key, event) in changed {
            ctx.modified_in(db, &changed_key, event);
        }
    }
}
