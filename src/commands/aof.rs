//! BGREWRITEAOF.

use crate::command::{CmdError, CmdResult, Ctx, TableBuilder};
use crate::persist::aof::rewrite::{self, Started};

/// Registers the family.
pub fn register(t: &mut TableBuilder) {
    t.add("bgrewriteaof", bgrewriteaof);
    // The fork needs every shard unlocked: no command may run meanwhile.
    t.exclusive("bgrewriteaof");
}

fn bgrewriteaof(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let reply: &[u8] = match rewrite::bgrewriteaof(ctx.server).map_err(CmdError::msg)? {
        Started::Now => b"Background append only file rewriting started",
        Started::Scheduled => b"Background append only file rewriting scheduled",
    };
    ctx.out.simple(reply);
    Ok(())
}
