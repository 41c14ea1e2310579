//! REPLICAOF / SLAVEOF (switching between primary and replica) and ROLE.

use crate::command::{CmdError, CmdResult, Ctx, TableBuilder};
use crate::commands::args::is;
use crate::replication::replica;

/// Registers the commands.
pub fn register(t: &mut TableBuilder) {
    t.add("replicaof", replicaof);
    t.add("slaveof", replicaof);
}

/// REPLICAOF host port | REPLICAOF NO ONE.
fn replicaof(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if is(args[1], "no") && is(args[2], "one") {
        replica::become_primary(ctx.server);
        ctx.out.ok();
        return Ok(());
    }
    let port = crate::util::num::parse_i64(args[2])
        .filter(|p| (0..=65535).contains(p))
        .ok_or(CmdError::err("ERR Invalid master port"))? as u16;
    let host = String::from_utf8_lossy(args[1]).into_owned();
    if replica::is_replica_of(ctx.server, &host, port) {
        ctx.out.simple(b"OK Already connected to specified master");
        return Ok(());
    }
    replica::become_replica(ctx.server, host, port);
    ctx.out.ok();
    Ok(())
}
