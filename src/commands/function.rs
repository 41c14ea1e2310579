//! Functions: FCALL, FCALL_RO and FUNCTION.

use crate::command::{CmdError, CmdResult, Ctx, TableBuilder};
use crate::commands::args::is;
use crate::commands::introspect::reply_help;
use crate::commands::scripting::flush_mode;
use crate::scripting::functions::RestorePolicy;
use crate::scripting::script_flags;
use crate::util::glob::glob_match;

/// Registers the family.
pub fn register(t: &mut TableBuilder) {
    t.add("fcall", fcall);
    t.add("fcall_ro", fcall_ro);
    // A function runs atomically, like EXEC: nothing interleaves with it.
    t.exclusive("fcall");
    t.exclusive("fcall_ro");
    t.add_sub("function", "load", load);
    t.add_sub("function", "delete", delete);
    t.add_sub("function", "flush", flush);
    t.add_sub("function", "list", list);
    t.add_sub("function", "stats", stats);
    t.add_sub("function", "kill", kill);
    t.add_sub("function", "dump", dump);
    t.add_sub("function", "restore", restore);
    t.add_sub("function", "help", help);
}

fn fcall(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    ctx.server.scripting.fcall(ctx, args, false)
}

fn fcall_ro(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    ctx.server.scripting.fcall(ctx, args, true)
}

fn load(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let code = args[args.len() - 1];
    let mut replace = false;
    for opt in &args[2..args.len() - 1] {
        if !is(opt, "REPLACE") {
            return Err(CmdError::msg(format!(
                "ERR Unknown option given: {}",
                String::from_utf8_lossy(opt)
            )));
        }
        replace = true;
    }
    let name = ctx.server.scripting.function_load(code, replace)?;
    // Libraries are data: counted for save points and propagated as-is.
    ctx.changed();
    ctx.out.bulk(name.as_bytes());
    Ok(())
}

fn delete(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let name = String::from_utf8_lossy(args[2]);
    if !ctx.server.scripting.libraries.lock().remove(&name) {
        return Err(CmdError::err("ERR Library not found"));
    }
    ctx.changed();
    ctx.out.ok();
    Ok(())
}

fn flush(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    flush_mode(args, "ERR FUNCTION FLUSH only supports SYNC|ASYNC option")?;
    ctx.server.scripting.libraries.lock().clear();
    ctx.changed();
    ctx.out.ok();
    Ok(())
}

fn list(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut with_code = false;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 2;
    while i < args.len() {
        if is(args[i], "WITHCODE") && !with_code {
            with_code = true;
        } else if is(args[i], "LIBRARYNAME") && pattern.is_none() {
            i += 1;
            let Some(p) = args.get(i) else {
                return Err(CmdError::err("ERR library name argument was not given"));
            };
            pattern = Some(p);
        } else {
            return Err(CmdError::msg(format!(
                "ERR Unknown argument {}",
                String::from_utf8_lossy(args[i])
            )));
        }
        i += 1;
    }
    let libs = ctx.server.scripting.libraries.lock();
    let shown: Vec<_> = libs
        .libs
        .values()
        .filter(|l| pattern.is_none_or(|p| glob_match(p, l.name.as_bytes(), false)))
        .collect();
    let out = &mut *ctx.out;
    out.array(shown.len());
    for lib in shown {
        out.map(if with_code { 4 } else { 3 });
        out.bulk(b"library_name");
        out.bulk(lib.name.as_bytes());
        out.bulk(b"engine");
        out.bulk(b"LUA");
        out.bulk(b"functions");
        out.array(lib.functions.len());
        for f in lib.functions.values() {
            out.map(3);
            out.bulk(b"name");
            out.bulk(f.name.as_bytes());
            out.bulk(b"description");
            match &f.description {
                Some(d) => out.bulk(d.as_bytes()),
                None => out.null(),
            }
            out.bulk(b"flags");
            let names: Vec<&str> = script_flags::NAMES
                .iter()
                .filter(|(_, bit)| f.flags & bit != 0)
                .map(|(n, _)| *n)
                .collect();
            out.set(names.len());
            for n in names {
                out.simple(n.as_bytes());
            }
        }
        if with_code {
            out.bulk(b"library_code");
            out.bulk(&lib.code);
        }
    }
    Ok(())
}

fn stats(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let engine = &ctx.server.scripting;
    let running = engine.running_function()?;
    let (libraries, functions) = {
        let libs = engine.libraries.lock();
        (libs.libs.len(), libs.function_count())
    };
    let out = &mut *ctx.out;
    out.map(2);
    out.bulk(b"running_script");
    match running {
        None => out.null(),
        Some(f) => {
            out.map(3);
            out.bulk(b"name");
            out.bulk(f.name.as_bytes());
            out.bulk(b"command");
            out.bulk_array(f.argv.iter().map(Vec::as_slice));
            out.bulk(b"duration_ms");
            out.int(f.duration_ms as i64);
        }
    }
    out.bulk(b"engines");
    out.map(1);
    out.bulk(b"LUA");
    out.map(2);
    out.bulk(b"libraries_count");
    out.int(libraries as i64);
    out.bulk(b"functions_count");
    out.int(functions as i64);
    Ok(())
}

fn kill(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.server.scripting.kill(false)?;
    ctx.out.ok();
    Ok(())
}

fn dump(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let codes = ctx.server.scripting.library_codes();
    ctx.out.bulk(&crate::scripting::payload::encode(&codes));
    Ok(())
}

fn restore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len() > 4 {
        return Err(CmdError::err(
            "ERR unknown subcommand or wrong number of arguments for 'RESTORE'. Try FUNCTION HELP.",
        ));
    }
    let policy =
        match args.get(3) {
            None => RestorePolicy::Append,
            Some(p) if is(p, "APPEND") => RestorePolicy::Append,
            Some(p) if is(p, "REPLACE") => RestorePolicy::Replace,
            Some(p) if is(p, "FLUSH") => RestorePolicy::Flush,
            Some(_) => return Err(CmdError::err(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            )),
        };
    let codes = crate::scripting::payload::decode(args[2]).ok_or(CmdError::err(
        "ERR DUMP payload version or checksum are wrong",
    ))?;
    ctx.server.scripting.function_restore(&codes, policy)?;
    ctx.changed();
    ctx.out.ok();
    Ok(())
}

fn help(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    reply_help(
        ctx.out,
        &[
            "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "LOAD [REPLACE] <FUNCTION CODE>",
            "    Create a new library with the given library name and code.",
            "DELETE <LIBRARY NAME>",
            "    Delete the given library.",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "    Return general information on all the libraries:",
            "    * Library name",
            "    * The engine used to run the Library",
            "    * Library description",
            "    * Functions list",
            "    * Library code (if WITHCODE is given)",
            "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
            "STATS",
            "    Return information about the current function running:",
            "    * Function name",
            "    * Command used to run the function",
            "    * Duration in MS that the function is running",
            "    If no function is running, return nil",
            "    In addition, returns a list of available engines.",
            "KILL",
            "    Kill the current running function.",
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the libraries.",
            "    * SYNC: Synchronously flush the libraries.",
            "DUMP",
            "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
            "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
            "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
            "    control how to handle existing libraries (default APPEND):",
            "    * FLUSH: delete all existing libraries.",
            "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
            "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
            "      libraries with the new libraries (notice that even on this option there is a chance of failure",
            "      in case of functions name collision with another library).",
            "HELP",
            "    Prints this help.",
        ],
    );
    Ok(())
}
