//! EVAL scripts: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT.

use crate::command::{CmdError, CmdResult, Ctx, TableBuilder};
use crate::commands::args::is;
use crate::commands::introspect::reply_help;

/// Registers the family.
pub fn register(t: &mut TableBuilder) {
    t.add("eval", eval);
    t.add("evalsha", evalsha);
    t.add("eval_ro", eval_ro);
    t.add("evalsha_ro", evalsha_ro);
    // A script runs atomically, like EXEC: nothing interleaves with it.
    for name in ["eval", "evalsha", "eval_ro", "evalsha_ro"] {
        t.exclusive(name);
    }
    t.add_sub("script", "load", script_load);
    t.add_sub("script", "exists", script_exists);
    t.add_sub("script", "flush", script_flush);
    t.add_sub("script", "kill", script_kill);
    t.add_sub("script", "help", script_help);
}

fn eval(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    ctx.server.scripting.eval(ctx, args[1], false, false, args)
}

fn evalsha(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    ctx.server.scripting.eval(ctx, args[1], true, false, args)
}

fn eval_ro(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    ctx.server.scripting.eval(ctx, args[1], false, true, args)
}

fn evalsha_ro(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    ctx.server.scripting.eval(ctx, args[1], true, true, args)
}

fn script_load(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let sha = ctx.server.scripting.load_script(args[2])?;
    ctx.out.bulk(sha.as_bytes());
    Ok(())
}

fn script_exists(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    ctx.out.array(args.len() - 2);
    for sha in &args[2..] {
        let found = ctx.server.scripting.script_exists(sha);
        ctx.out.int(found as i64);
    }
    Ok(())
}

/// Parses the optional `ASYNC|SYNC` of SCRIPT FLUSH / FUNCTION FLUSH.
pub fn flush_mode(args: &[&[u8]], err: &'static str) -> CmdResult {
    match args.len() {
        2 => Ok(()),
        3 if is(args[2], "ASYNC") || is(args[2], "SYNC") => Ok(()),
        _ => Err(CmdError::err(err)),
    }
}

fn script_flush(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    flush_mode(args, "ERR SCRIPT FLUSH only support SYNC|ASYNC option")?;
    ctx.server.scripting.flush_scripts();
    ctx.out.ok();
    Ok(())
}

fn script_kill(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.server.scripting.kill(true)?;
    ctx.out.ok();
    Ok(())
}

fn script_help(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    reply_help(
        ctx.out,
        &[
            "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DEBUG (YES|SYNC|NO)",
            "    Set the debug mode for subsequent scripts executed.",
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
            "HELP",
            "    Prints this help.",
        ],
    );
    Ok(())
}
