//! The `redis` table scripts see, and `redis.call`/`redis.pcall`: running a
//! command for the script through the same path EXEC uses.

use mlua::{Lua, MultiValue, Table, Value};
use std::cell::Cell;

use super::convert::{error_text, lua_arg, push_lua_arg, reply_to_lua};
use super::vm::table_error;
use super::{RunState, ScriptError};
use crate::command::{flags, invoke, ClientState, Command};
use crate::protocol::reply::Reply;
use crate::server::Server;

/// The script run in progress on this thread: what `redis.call` needs.
pub(crate) struct Call<'a> {
    /// The server.
    pub server: &'a Server,
    /// The calling client, in EXEC-like state for the script's duration.
    pub client: &'a mut ClientState,
    /// Protocol of command replies as the script sees them (`setresp`).
    pub resp3: bool,
    /// `_RO` invocation or a `no-writes` script.
    pub read_only: bool,
    /// Shared run state (marks writes for SCRIPT KILL).
    pub state: &'a RunState,
    /// The script's start (Unix ms): its commands all see this clock, so
    /// a key cannot expire halfway through a script, as in Redis.
    pub now: u64,
}

thread_local! {
    /// The `Call` of the script running on this thread, if any. Lua
    /// callbacks must be `'static`, so the borrowed context reaches them
    /// through this pointer for exactly the duration of [`enter`].
    static CURRENT: Cell<*mut ()> = const { Cell::new(std::ptr::null_mut()) };
    /// The running script's start time (see [`Call::now`]).
    static NOW: Cell<Option<u64>> = const { Cell::new(None) };
}

/// Runs `f` (the script) with `call` reachable from Lua callbacks.
pub(crate) fn enter<R>(call: &mut Call<'_>, f: impl FnOnce() -> R) -> R {
    struct Restore(*mut (), Option<u64>);
    impl Drop for Restore {
        fn drop(&mut self) {
            CURRENT.with(|c| c.set(self.0));
            NOW.with(|c| c.set(self.1));
        }
    }
    let now = NOW.with(|c| c.replace(Some(call.now)));
    let ptr = call as *mut Call<'_> as *mut ();
    let _restore = Restore(CURRENT.with(|c| c.replace(ptr)), now);
    f()
}

/// Whether a script is running on this thread (its commands show as
/// `lua` in MONITOR).
pub fn in_script() -> bool {
    CURRENT.with(|c| !c.get().is_null())
}

/// The frozen clock of the script running on this thread, if any.
pub fn script_time() -> Option<u64> {
    // Read apart from the `Call`: this runs inside `redis.call`, which
    // already holds the `Call` mutably.
    NOW.with(Cell::get)
}

/// Gives `f` the running script's `Call`; None outside a script run.
fn with_call<R>(f: impl FnOnce(&mut Call<'_>) -> R) -> Option<R> {
    let ptr = CURRENT.with(|c| c.get());
    if ptr.is_null() {
        return None;
    }
    // SAFETY: `enter` stores a pointer to a `Call` that outlives the
    // script run and that its owner does not touch while the script runs;
    // the script runs synchronously on this thread, and `with_call` is not
    // re-entered while `f` runs (commands run from a script cannot start
    // another script: EVAL and FCALL are `noscript`).
    let call = unsafe { &mut *(ptr as *mut Call<'_>) };
    Some(f(call))
}

/// Finds the command for a script's argv, with Redis's script errors.
fn lookup(server: &Server, args: &[&[u8]]) -> Result<&'static Command, &'static str> {
    const UNKNOWN: &str = "Unknown Redis command called from script";
    let cmd = server.commands.lookup(args[0]).ok_or(UNKNOWN)?;
    let cmd = if cmd.subcommands.is_empty() || args.len() < 2 {
        cmd
    } else {
        let sub = String::from_utf8_lossy(args[1]).to_ascii_lowercase();
        cmd.subcommands.get(&sub).ok_or(UNKNOWN)?
    };
    if !cmd.arity_ok(args.len()) {
        return Err("Wrong number of args calling Redis command from script");
    }
    if cmd.handler.is_none() {
        return Err(UNKNOWN);
    }
    Ok(cmd)
}

/// `redis.call` (`raise`) and `redis.pcall`.
fn redis_call(lua: &Lua, args: MultiValue, raise: bool) -> mlua::Result<Value> {
    let fail = |msg: String| -> mlua::Result<Value> {
        if raise {
            Err(mlua::Error::external(ScriptError::Table(msg)))
        } else {
            let t = lua.create_table()?;
            t.raw_set("err", msg)?;
            Ok(Value::Table(t))
        }
    };
    if args.is_empty() {
        return fail("ERR Please specify at least one argument for this redis lib call".into());
    }
    // All arguments share one buffer: two allocations per call instead of
    // one per argument.
    let mut bytes = Vec::with_capacity(64);
    let mut ends = Vec::with_capacity(args.len());
    for v in &args {
        if !push_lua_arg(v, &mut bytes) {
            return fail("ERR Lua redis lib command arguments must be strings or integers".into());
        }
        ends.push(bytes.len());
    }
    let outcome = with_call(|call| {
        let mut start = 0;
        let argv: Vec<&[u8]> = ends
            .iter()
            .map(|&end| {
                let arg = &bytes[start..end];
                start = end;
                arg
            })
            .collect();
        let cmd = lookup(call.server, &argv).map_err(|m| format!("ERR {m}"))?;
        if cmd.has(flags::NOSCRIPT) {
            return Err("ERR This Redis command is not allowed from script".to_string());
        }
        if cmd.has(flags::WRITE) {
            if call.read_only {
                return Err(
                    "ERR Write commands are not allowed from read-only scripts.".to_string()
                );
            }
            call.state.mark_written();
        }
        let mut out = Reply {
            resp3: call.resp3,
            ..Reply::default()
        };
        invoke(call.server, call.client, &mut out, cmd, &argv);
        Ok(out.buf)
    });
    let reply = match outcome {
        None => {
            return fail(
                "ERR redis.call/pcall can only be called inside a script invocation".into(),
            )
        }
        Some(Err(msg)) => return fail(msg),
        Some(Ok(buf)) => buf,
    };
    if raise && reply.first() == Some(&b'-') {
        let end = reply.len().saturating_sub(2).max(1);
        let text = error_text(&reply[1..end]);
        return Err(mlua::Error::external(ScriptError::Reply(
            String::from_utf8_lossy(&text).into_owned(),
        )));
    }
    let mut pos = 0;
    reply_to_lua(lua, &reply, &mut pos)
}

/// A one-field table, or Redis's error table for bad arguments.
fn single_field(lua: &Lua, args: &MultiValue, field: &str) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    match (args.len(), args.front()) {
        (1, Some(Value::String(s))) => {
            let mut text = s.as_bytes().to_vec();
            if field == "err" {
                if text.first() == Some(&b'-') {
                    text.remove(0);
                }
                text = error_text(&text);
            }
            t.raw_set(field, lua.create_string(&text)?)?;
        }
        _ => t.raw_set("err", "ERR wrong number or type of arguments")?,
    }
    Ok(t)
}

/// `redis.log(level, msg…)`.
pub(crate) fn log(_: &Lua, args: MultiValue) -> mlua::Result<()> {
    if args.len() < 2 {
        return Err(table_error("redis.log() requires two arguments or more."));
    }
    let level = match &args[0] {
        Value::Integer(i) => *i as f64,
        Value::Number(n) => *n,
        Value::String(s) => match s.to_str().ok().and_then(|s| s.trim().parse::<f64>().ok()) {
            Some(n) => n,
            None => return Err(table_error("First argument must be a number (log level).")),
        },
        _ => return Err(table_error("First argument must be a number (log level).")),
    };
    let level = level as i64;
    if !(0..=3).contains(&level) {
        return Err(table_error("Invalid debug level."));
    }
    let parts: Vec<String> = args
        .iter()
        .skip(1)
        .filter_map(|v| match v {
            Value::String(s) => Some(s.to_string_lossy()),
            Value::Integer(i) => Some(i.to_string()),
            Value::Number(n) => Some(crate::util::num::format_g17(*n)),
            _ => None,
        })
        .collect();
    let msg = parts.join(" ");
    match level {
        0 => tracing::debug!(target: "script", "{msg}"),
        1 => tracing::debug!(target: "script", "{msg}"),
        2 => tracing::info!(target: "script", "{msg}"),
        _ => tracing::warn!(target: "script", "{msg}"),
    }
    Ok(())
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Number(n) => Some(*n),
        Value::String(s) => s.to_str().ok().and_then(|s| s.trim().parse().ok()),
        _ => None,
    }
}

/// Builds the `redis` table.
pub(crate) fn redis_table(lua: &Lua) -> mlua::Result<Table> {
    let redis = lua.create_table()?;
    redis.raw_set(
        "call",
        lua.create_function(|lua, args: MultiValue| redis_call(lua, args, true))?,
    )?;
    redis.raw_set(
        "pcall",
        lua.create_function(|lua, args: MultiValue| redis_call(lua, args, false))?,
    )?;
    redis.raw_set(
        "sha1hex",
        lua.create_function(|_, args: MultiValue| {
            if args.len() != 1 {
                return Err(table_error("wrong number of arguments"));
            }
            let data = lua_arg(&args[0]).unwrap_or_default();
            Ok(sha1_smol::Sha1::from(data).digest().to_string())
        })?,
    )?;
    redis.raw_set(
        "error_reply",
        lua.create_function(|lua, args: MultiValue| single_field(lua, &args, "err"))?,
    )?;
    redis.raw_set(
        "status_reply",
        lua.create_function(|lua, args: MultiValue| single_field(lua, &args, "ok"))?,
    )?;
    redis.raw_set("log", lua.create_function(log)?)?;
    add_log_api(&redis)?;
    redis.raw_set(
        "setresp",
        lua.create_function(|_, args: MultiValue| {
            if args.len() != 1 {
                return Err(table_error("redis.setresp() requires one argument."));
            }
            let resp = number(&args[0]).unwrap_or(0.0) as i64;
            if resp != 2 && resp != 3 {
                return Err(table_error("RESP version must be 2 or 3."));
            }
            with_call(|call| call.resp3 = resp == 3).ok_or_else(|| {
                table_error("redis.setresp can only be called inside a script invocation")
            })
        })?,
    )?;
    redis.raw_set(
        "set_repl",
        lua.create_function(|_, args: MultiValue| {
            if with_call(|_| ()).is_none() {
                return Err(table_error(
                    "redis.set_repl can only be called inside a script invocation",
                ));
            }
            if args.len() != 1 {
                return Err(table_error("redis.set_repl() requires two arguments."));
            }
            let flags = number(&args[0]).unwrap_or(0.0) as i64;
            if flags & !3 != 0 {
                return Err(table_error(
                    "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
                ));
            }
            // Effects are always propagated as a whole (no replicas here).
            Ok(())
        })?,
    )?;
    for (name, v) in [
        ("REPL_NONE", 0),
        ("REPL_AOF", 1),
        ("REPL_SLAVE", 2),
        ("REPL_REPLICA", 2),
        ("REPL_ALL", 3),
    ] {
        redis.raw_set(name, v)?;
    }
    // The debugger's hooks are no-ops outside a debugging session.
    redis.raw_set("breakpoint", lua.create_function(|_, ()| Ok(false))?)?;
    redis.raw_set("debug", lua.create_function(|_, _: MultiValue| Ok(()))?)?;
    redis.raw_set(
        "acl_check_cmd",
        lua.create_function(|_, args: MultiValue| {
            if args.is_empty() {
                return Err(table_error(
                    "Please specify at least one argument for this redis lib call",
                ));
            }
            let Some(argv) = args.iter().map(lua_arg).collect::<Option<Vec<Vec<u8>>>>() else {
                return Err(table_error(
                    "Lua redis lib command arguments must be strings or integers",
                ));
            };
            let argv: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
            // Without ACL users every existing command is permitted.
            with_call(|call| {
                lookup(call.server, &argv).is_ok() || call.server.commands.lookup(argv[0]).is_some()
            })
            .filter(|known| *known)
            .ok_or_else(|| table_error("Invalid command passed to redis.acl_check_cmd()"))
        })?,
    )?;
    redis.raw_set("replicate_commands", lua.create_function(|_, ()| Ok(true))?)?;
    Ok(redis)
}

/// The log levels and version fields, shared by the full `redis` table
/// and the one FUNCTION LOAD code sees.
pub(crate) fn add_log_api(redis: &Table) -> mlua::Result<()> {
    for (name, level) in [
        ("LOG_DEBUG", 0),
        ("LOG_VERBOSE", 1),
        ("LOG_NOTICE", 2),
        ("LOG_WARNING", 3),
    ] {
        redis.raw_set(name, level)?;
    }
    redis.raw_set("REDIS_VERSION", crate::server::REDIS_VERSION)?;
    redis.raw_set("REDIS_VERSION_NUM", 0x07_00_0f)?;
    Ok(())
}
