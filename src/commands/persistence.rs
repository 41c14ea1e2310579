//! Persistence commands: SAVE, BGSAVE, LASTSAVE, SHUTDOWN and DEBUG RELOAD
//! (the snapshot machinery is in `persist::snapshot`).

use std::sync::atomic::Ordering;

use crate::command::{Action, CmdError, CmdResult, Ctx, TableBuilder};
use crate::commands::args::is;
use crate::persist::snapshot::{self, BgsaveError, ChildKind, ShutdownFlags};

/// Registers the family. Runs after the server family: DEBUG (for
/// RELOAD) must be registered before it is marked exclusive.
pub fn register(t: &mut TableBuilder) {
    t.add("save", save);
    t.add("bgsave", bgsave);
    t.add("lastsave", lastsave);
    t.add("shutdown", shutdown);
    // Each needs the whole keyspace still: a synchronous save, the
    // instant of the fork, the final save, a reload.
    t.exclusive("save");
    t.exclusive("bgsave");
    t.exclusive("shutdown");
    t.exclusive("debug");
}

const BGSAVE_IN_PROGRESS: &str = "ERR Background save already in progress";

/// SAVE: writes the snapshot in this process, every other command held
/// off meanwhile.
fn save(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let p = &ctx.server.persistence;
    if p.child_kind() == Some(ChildKind::Rdb) {
        return Err(CmdError::err(BGSAVE_IN_PROGRESS));
    }
    p.count_save();
    snapshot::save_sync(ctx.server).map_err(|_| CmdError::err("ERR"))?;
    ctx.out.ok();
    Ok(())
}

/// BGSAVE [SCHEDULE]: forks a child that writes the snapshot. With another
/// kind of child running (or inside EXEC), SCHEDULE defers it to the cron.
fn bgsave(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let schedule = match args {
        [_] => false,
        [_, opt] if is(opt, "SCHEDULE") => true,
        _ => return Err(CmdError::Syntax),
    };
    let server = ctx.server;
    let child = server.persistence.child_kind();
    if child == Some(ChildKind::Rdb) {
        return Err(CmdError::err(BGSAVE_IN_PROGRESS));
    }
    if child.is_some() || ctx.client.in_exec {
        if !(schedule || ctx.client.in_exec) {
            return Err(CmdError::err(
                "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.",
            ));
        }
        server.persistence.schedule_bgsave();
        ctx.out.simple(b"Background saving scheduled");
        return Ok(());
    }
    match snapshot::bgsave_gated(server) {
        Ok(_) => ctx.out.simple(b"Background saving started"),
        Err(BgsaveError::ChildActive) => return Err(CmdError::err(BGSAVE_IN_PROGRESS)),
        Err(BgsaveError::Fork) => return Err(CmdError::err("ERR")),
    }
    Ok(())
}

/// LASTSAVE: Unix time of the last successful save.
fn lastsave(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.out
        .int(ctx.server.lastsave.load(Ordering::Relaxed) as i64);
    Ok(())
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]: the final save (per the
/// save points or the flags) happens here, so a failure is answered and
/// the server keeps running; on success the connection closes without a
/// reply and the process exits.
fn shutdown(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut flags = ShutdownFlags::default();
    let (mut now, mut abort) = (false, false);
    for arg in &args[1..] {
        if is(arg, "NOSAVE") {
            flags.nosave = true;
        } else if is(arg, "SAVE") {
            flags.save = true;
        } else if is(arg, "NOW") {
            now = true;
        } else if is(arg, "FORCE") {
            flags.force = true;
        } else if is(arg, "ABORT") {
            abort = true;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let any_flag = flags.save || flags.nosave || flags.force || now;
    if (abort && any_flag) || (flags.save && flags.nosave) {
        return Err(CmdError::Syntax);
    }
    if abort {
        // Shutdown never waits for replicas here: none to abort.
        return Err(CmdError::err("ERR No shutdown in progress."));
    }
    tracing::info!("User requested shutdown...");
    snapshot::prepare_shutdown(ctx.server, flags)
        .map_err(|_| CmdError::err("ERR Errors trying to SHUTDOWN. Check logs."))?;
    ctx.client.action = Some(Action::Shutdown);
    Ok(())
}

/// DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: saves the snapshot, empties
/// the keyspace and loads the file back (DEBUG runs with the gate held
/// exclusively). Called by the DEBUG handler.
pub fn debug_reload(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (mut flush, mut save) = (true, true);
    for opt in &args[2..] {
        if is(opt, "NOFLUSH") {
            flush = false;
        } else if is(opt, "NOSAVE") {
            save = false;
        } else if !is(opt, "MERGE") {
            // MERGE lets loaded keys replace existing ones, which the
            // loader always does.
            return Err(CmdError::err(
                "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.",
            ));
        }
    }
    let server = ctx.server;
    if save {
        snapshot::save_sync(server).map_err(|_| CmdError::err("ERR"))?;
    }
    if flush {
        let keyspace = &server.keyspace;
        for db in 0..keyspace.db_count() {
            crate::commands::db::touch_watched(ctx, db, db);
        }
        crate::server::tracking::flushed(server, ctx.client);
        for db in 0..keyspace.db_count() {
            drop(keyspace.take_db(db));
        }
    }
    match snapshot::load_rdb_file(server) {
        Ok(Some(_)) => {}
        Ok(None) => {
            tracing::warn!(
                "DEBUG RELOAD: no {} to load",
                server.config.read().dbfilename
            );
            return Err(CmdError::err(
                "ERR Error trying to load the RDB dump, check server logs.",
            ));
        }
        Err(e) => {
            tracing::warn!("{e}");
            return Err(CmdError::err(
                "ERR Error trying to load the RDB dump, check server logs.",
            ));
        }
    }
    tracing::warn!("DB reloaded by DEBUG RELOAD");
    ctx.out.ok();
    Ok(())
}
