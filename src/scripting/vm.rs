//! The Lua state: libraries, the `redis` table, protected globals, the
//! error handler that records where a script failed, and the count hook.

use std::sync::Arc;

use mlua::{Function, HookTriggers, Lua, LuaOptions, MultiValue, StdLib, Table, Value, VmState};

use super::call;
use super::{RunState, ScriptError};

/// Chunk name of ferrokv's own Lua code: its frames are skipped when
/// locating a script error, as Redis's C helpers are.
const INTERNAL: &str = "=ferrokv";

/// Instructions between two runs of the count hook (Redis's value).
const HOOK_EVERY: u32 = 100_000;

/// Lua side of the set-up. Receives the error-text helper and the real
/// globals; returns the script environments and the protected runners.
const PRELUDE: &str = r#"
local err_text, killed, G = ...
local raw_pcall, xpcall, type, tostring, error, rawget, setmetatable =
  pcall, xpcall, type, tostring, error, rawget, setmetatable

-- Redis 7 raises tables for Redis errors; pcall returns their text. A
-- script being killed (SCRIPT KILL) cannot catch the error.
local function pcall_result(ok, ...)
  if ok then return ok, ... end
  local e = ...
  if killed() then error(e, 0) end
  if type(e) == 'table' and (type(e.err) == 'string' or type(e.err) == 'number') then
    return false, e.err
  end
  if type(e) == 'userdata' then
    local t = err_text(e)
    if t then return false, t end
  end
  return false, e
end
G.pcall = function(...) return pcall_result(raw_pcall(...)) end
local function xpcall_result(ok, ...)
  if not ok and killed() then error((...), 0) end
  return ok, ...
end
G.xpcall = function(f, handler)
  return xpcall_result(xpcall(f, function(e)
    if killed() then return e end
    return handler(e)
  end))
end

-- Scripts see the globals through a proxy: reading an undefined global
-- and creating one are errors, as in Redis. `rebase` switches the table
-- the proxy reads (a function library loads with only its restricted
-- `redis` table visible, and runs with the full globals). Metatables are
-- protected: scripts may read them but not replace them.
local function missing(_, k)
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end
local function make_env(base, hidden)
  local env = {}
  setmetatable(env, {
    __index = function(_, k)
      if k == '_G' then return env end
      local v = nil
      if not hidden[k] then v = rawget(base, k) end
      if v == nil then
        error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
      end
      return v
    end,
    __newindex = function() error('Attempt to modify a readonly table', 2) end,
    __metatable = {},
  })
  return env, function(b, h) base, hidden = b, h end
end

-- Reading a missing field of `t` is an error (FUNCTION LOAD's `redis`).
local function strict(t)
  return setmetatable(t, { __index = missing, __metatable = {} })
end

-- A read-only view of `t` (the `redis` table).
local function readonly(t)
  return setmetatable({}, {
    __index = t,
    __newindex = function() error('Attempt to modify a readonly table', 2) end,
    __metatable = {},
  })
end

local function run_eval(f, handler) return xpcall(f, handler) end
local function run_function(f, keys, args, handler)
  return xpcall(function() return f(keys, args) end, handler)
end
return make_env, strict, readonly, run_eval, run_function
"#;

/// The VM and the pieces of it ferrokv calls into.
pub struct Vm {
    /// The Lua state.
    pub lua: Lua,
    globals: Table,
    eval_env: Table,
    /// Globals functions may not see (`KEYS`, `ARGV`).
    function_hidden: Table,
    make_env: Function,
    strict: Function,
    run_eval: Function,
    run_function: Function,
    handler: Function,
    /// Calls since the last incremental GC step.
    gc_countdown: u32,
}

/// An error value raised by ferrokv's Rust functions.
fn raised(v: &Value) -> Option<ScriptError> {
    let Value::Error(e) = v else {
        return None;
    };
    Some(match e.downcast_ref::<ScriptError>() {
        Some(ScriptError::Table(s)) => ScriptError::Table(s.clone()),
        Some(ScriptError::Reply(s)) => ScriptError::Reply(s.clone()),
        Some(ScriptError::Plain(s)) => ScriptError::Plain(s.clone()),
        None => ScriptError::Plain(e.to_string()),
    })
}

/// Position prefix (`user_script:3: `) of the Lua code calling the
/// current Rust function, as `luaL_error` adds it.
pub(crate) fn position(lua: &Lua) -> String {
    lua.inspect_stack(1, |d| {
        let line = d.current_line()?;
        let src = d.source();
        if src.what == "C" {
            return None;
        }
        Some(format!(
            "{}:{line}: ",
            src.short_src.as_deref().unwrap_or("?")
        ))
    })
    .flatten()
    .unwrap_or_default()
}

/// Raises a plain Lua error with the caller's position, like `luaL_error`.
pub(crate) fn lua_error(lua: &Lua, msg: &str) -> mlua::Error {
    mlua::Error::external(ScriptError::Plain(format!("{}{msg}", position(lua))))
}

/// Raises a Redis error table (`ERR msg`), like `luaPushError` + `lua_error`.
pub(crate) fn table_error(msg: &str) -> mlua::Error {
    mlua::Error::external(ScriptError::Table(format!("ERR {msg}")))
}

/// The message handler: turns any error into `{err=…, source=…, line=…}`
/// with the position of the script code that failed.
fn handle_error(lua: &Lua, err: Value) -> mlua::Result<Table> {
    let t = match err {
        Value::Table(t) => t,
        other => {
            let mut counted = false;
            let text = match raised(&other) {
                Some(ScriptError::Table(s)) => s,
                Some(ScriptError::Reply(s)) => {
                    counted = true;
                    s
                }
                Some(ScriptError::Plain(s)) => format!("ERR {s}"),
                None => {
                    let s: mlua::LuaString =
                        lua.globals().get::<Function>("tostring")?.call(other)?;
                    format!("ERR {}", s.to_string_lossy())
                }
            };
            let t = lua.create_table()?;
            t.raw_set("err", text)?;
            if counted {
                t.raw_set("ignore_error_stats_update", true)?;
            }
            t
        }
    };
    for level in 1.. {
        let Some(found) = lua.inspect_stack(level, |d| {
            let src = d.source();
            let line = d.current_line();
            // C functions, ferrokv's own Lua code and tail-call records
            // (no line) are not where the script failed.
            if src.what == "C" || src.source.as_deref() == Some(INTERNAL) || line.is_none() {
                return None;
            }
            Some((src.source.map(|s| s.into_owned()), line))
        }) else {
            break;
        };
        if let Some((source, line)) = found {
            if let Some(source) = source {
                t.raw_set("source", source)?;
            }
            if let Some(line) = line {
                t.raw_set("line", line as i64)?;
            }
            break;
        }
    }
    Ok(t)
}

impl Vm {
    /// Builds the VM with Redis's libraries and API.
    pub fn new(state: Arc<RunState>) -> mlua::Result<Self> {
        let lua = Lua::new_with(
            StdLib::TABLE | StdLib::STRING | StdLib::MATH,
            LuaOptions::default(),
        )?;
        let g = lua.globals();
        // Redis 7.0 scripts lack these base functions.
        for name in [
            "loadfile", "dofile", "print", "getfenv", "setfenv", "newproxy",
        ] {
            g.raw_set(name, Value::Nil)?;
        }
        super::lib::load(&lua)?;
        let math: Table = g.get("math")?;
        let st = state.clone();
        math.raw_set(
            "random",
            lua.create_function(move |lua, args: MultiValue| random(lua, &st, args))?,
        )?;
        let st = state.clone();
        math.raw_set(
            "randomseed",
            lua.create_function(move |lua, args: MultiValue| {
                let seed = int_arg(lua, args.front(), 1)?;
                st.seed(seed);
                Ok(())
            })?,
        )?;
        let err_text = lua.create_function(|_, v: Value| Ok(raised(&v).map(|e| e.to_string())))?;
        let st = state.clone();
        let killed = lua.create_function(move |_, ()| Ok(st.killing()))?;
        let (make_env, strict, readonly, run_eval, run_function): (
            Function,
            Function,
            Function,
            Function,
            Function,
        ) = lua
            .load(PRELUDE)
            .set_name(INTERNAL)
            .call((err_text, killed, g.clone()))?;
        let redis: Table = readonly.call(call::redis_table(&lua)?)?;
        g.raw_set("redis", redis)?;
        // Library tables are shared by every script: like Redis, make them
        // read-only so no script can change them for the next one.
        for name in [
            "string",
            "math",
            "table",
            "coroutine",
            "cjson",
            "cmsgpack",
            "bit",
            "struct",
        ] {
            if let Value::Table(lib) = g.raw_get::<Value>(name)? {
                let view: Table = readonly.call(lib)?;
                g.raw_set(name, view)?;
            }
        }
        let (eval_env, _): (Table, Function) = make_env.call((g.clone(), lua.create_table()?))?;
        let function_hidden = lua.create_table()?;
        function_hidden.raw_set("KEYS", true)?;
        function_hidden.raw_set("ARGV", true)?;
        let handler = lua.create_function(handle_error)?;
        lua.set_hook(
            HookTriggers::new().every_nth_instruction(HOOK_EVERY),
            move |_, _| {
                state.check()?;
                Ok(VmState::Continue)
            },
        )?;
        Ok(Self {
            lua,
            globals: g,
            eval_env,
            function_hidden,
            make_env,
            strict,
            run_eval,
            run_function,
            handler,
            gc_countdown: 0,
        })
    }

    /// Compiles an EVAL script body (a shebang line becomes a comment so
    /// line numbers stay right). Errors carry Lua's message.
    pub fn compile_eval(&self, body: &[u8]) -> Result<Function, String> {
        self.compile(body, "@user_script", self.eval_env.clone())
    }

    /// Compiles `body` as chunk `name` running in `env`.
    pub fn compile(&self, body: &[u8], name: &str, env: Table) -> Result<Function, String> {
        let mut code = body.to_vec();
        if code.starts_with(b"#!") {
            code[..2].copy_from_slice(b"--");
        }
        self.lua
            .load(code)
            .set_name(name)
            .set_environment(env)
            .into_function()
            .map_err(|e| match e {
                mlua::Error::SyntaxError { message, .. } => message,
                other => other.to_string(),
            })
    }

    /// A library's environment while its code loads: only `load_api`
    /// (the restricted `redis` table) is visible. The returned function
    /// switches it to the runtime globals once loading succeeded.
    pub fn library_env(&self, load_api: Table) -> mlua::Result<(Table, Function)> {
        let strict_api: Table = self.strict.call(load_api)?;
        let base = self.lua.create_table()?;
        base.raw_set("redis", strict_api)?;
        self.make_env.call((base, self.lua.create_table()?))
    }

    /// Switches a library environment (from [`Vm::library_env`]) to the
    /// globals functions run with.
    pub fn open_library_env(&self, rebase: &Function) -> mlua::Result<()> {
        rebase.call((self.globals.clone(), self.function_hidden.clone()))
    }

    /// Runs a compiled script (`eval`: with KEYS/ARGV globals) or a
    /// registered function (called with the keys and args tables) under
    /// the error handler. Returns (ok, result or error table).
    pub fn invoke(
        &self,
        eval: bool,
        func: &Function,
        keys: &[&[u8]],
        argv: &[&[u8]],
    ) -> mlua::Result<(bool, Value)> {
        let keys_t = self.array(keys)?;
        let argv_t = self.array(argv)?;
        if eval {
            self.globals.raw_set("KEYS", keys_t)?;
            self.globals.raw_set("ARGV", argv_t)?;
            self.run_eval.call((func, &self.handler))
        } else {
            self.run_function
                .call((func, keys_t, argv_t, &self.handler))
        }
    }

    /// A fresh Lua array of `items`, sized up front and filled in place
    /// (no intermediate Vec of Lua strings: this runs twice per script call).
    fn array(&self, items: &[&[u8]]) -> mlua::Result<Table> {
        let t = self.lua.create_table_with_capacity(items.len(), 0)?;
        for (i, item) in items.iter().enumerate() {
            t.raw_set(i + 1, self.lua.create_string(item)?)?;
        }
        Ok(t)
    }

    /// Runs library code at FUNCTION LOAD time under the error handler.
    pub fn run_load(&self, func: &Function) -> mlua::Result<(bool, Value)> {
        self.run_eval.call((func, &self.handler))
    }

    /// Runs the garbage collector a little every few scripts, as Redis
    /// does, so garbage never piles up into one long full cycle.
    pub fn step_gc(&mut self) {
        self.gc_countdown += 1;
        if self.gc_countdown >= 50 {
            self.gc_countdown = 0;
            self.lua.gc_step().ok();
        }
    }
}

/// The name the running Rust function was called by, as `luaL_argerror`
/// reports it (`?` when unknown, e.g. called through `pcall`).
fn called_as(lua: &Lua) -> String {
    lua.inspect_stack(0, |d| d.names().name.map(|n| n.into_owned()))
        .flatten()
        .unwrap_or_else(|| "?".into())
}

/// `luaL_checkint` on an argument of a math function.
fn int_arg(lua: &Lua, v: Option<&Value>, n: usize) -> mlua::Result<i32> {
    let fname = called_as(lua);
    match v {
        Some(Value::Integer(i)) => Ok(*i as i32),
        Some(Value::Number(f)) => Ok(*f as i32),
        Some(Value::String(s)) => {
            if let Some(f) = s.to_str().ok().and_then(|s| s.trim().parse::<f64>().ok()) {
                return Ok(f as i32);
            }
            Err(lua_error(
                lua,
                &format!("bad argument #{n} to '{fname}' (number expected, got string)"),
            ))
        }
        other => {
            let got = other.map_or("no value", |v| v.type_name());
            Err(lua_error(
                lua,
                &format!("bad argument #{n} to '{fname}' (number expected, got {got})"),
            ))
        }
    }
}

/// Redis's `math.random`: Lua's algorithm over Redis's PRNG.
fn random(lua: &Lua, st: &RunState, args: MultiValue) -> mlua::Result<f64> {
    let r = st.random();
    match args.len() {
        0 => Ok(r),
        1 => {
            let u = int_arg(lua, args.front(), 1)?;
            if u < 1 {
                let msg = format!(
                    "bad argument #1 to '{}' (interval is empty)",
                    called_as(lua)
                );
                return Err(lua_error(lua, &msg));
            }
            Ok((r * u as f64).floor() + 1.0)
        }
        2 => {
            let l = int_arg(lua, args.front(), 1)?;
            let u = int_arg(lua, args.get(1), 2)?;
            if l > u {
                let msg = format!(
                    "bad argument #2 to '{}' (interval is empty)",
                    called_as(lua)
                );
                return Err(lua_error(lua, &msg));
            }
            Ok((r * (u as f64 - l as f64 + 1.0)).floor() + l as f64)
        }
        _ => Err(lua_error(lua, "wrong number of arguments")),
    }
}
