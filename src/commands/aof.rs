//! BGREWRITEAOF.

use crate::command::{CmdError, CmdResult, Ctx, TableBuilder};

/// Registers the family.
pub fn register(t: &mut TableBuilder) {
    t.add("bgrewriteaof", bgrewriteaof);
    // The fork needs every shard unlocked: no command may run meanwhile.
    t.exclusive("bgrewriteaof");
}

fn bgrewriteaof(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    crate::persist::aof::rewrite::bgrewriteaof(ctx.server).map_err(CmdError::msg)?;
    ctx.out
        .simple(b"Background append only file rewriting started");
    Ok(())
}
