//! MEMORY USAGE and MEMORY HELP.

use crate::command::{CmdError, CmdResult, Ctx, TableBuilder};
use crate::commands::args::{int, is};

/// Registers the family.
pub fn register(t: &mut TableBuilder) {
    t.add_sub("memory", "usage", usage);
    t.add_sub("memory", "help", help);
}

/// MEMORY USAGE key [SAMPLES count]: bytes used by the key, its value and
/// its table slot (whole values are measured, so SAMPLES only validates).
fn usage(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    match &args[3..] {
        [] => {}
        [opt, count] if is(opt, "SAMPLES") => {
            let n = int(count)?;
            if n < 0 {
                return Err(CmdError::Syntax);
            }
        }
        _ => return Err(CmdError::Syntax),
    }
    let key = args[2];
    let size = ctx
        .lock(key)
        .peek(key, ctx.now)
        .map(|e| e.memory_usage() + std::mem::size_of::<usize>());
    match size {
        Some(n) => ctx.out.int(n as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

fn help(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    crate::commands::introspect::reply_help(
        ctx.out,
        &[
            "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
            "HELP",
            "    Prints this help.",
        ],
    );
    Ok(())
}
