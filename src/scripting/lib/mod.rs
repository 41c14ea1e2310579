//! The C libraries Redis 7.0 embeds in its Lua VM, re-implemented in Rust:
//! `cjson` (lua-cjson 2.1.0), `cmsgpack` (lua-cmsgpack 0.4.0), `bit`
//! (LuaBitOp 1.0.2) and `struct` (Roberto Ierusalimschy's struct library).
//!
//! Scripts see them exactly as in Redis, including their error messages.
//! Those messages matter beyond the top level: a script may `pcall` a
//! library function and inspect or return the error, so errors must be
//! plain Lua strings carrying the `chunk:line: ` prefix that `luaL_error`
//! adds. mlua turns errors returned by Rust callbacks into userdata, so
//! every library function is wrapped in a small C closure ([`trampoline`])
//! that calls the Rust implementation and raises its error as a string
//! from a C frame, as the original C functions do.

mod bit;
mod cjson;
mod cmsgpack;
mod strct;

use std::ffi::c_int;

use mlua::{ffi, Function, Lua, MultiValue, Table, Value};

/// Registers the globals `cjson`, `cmsgpack`, `bit` and `struct`.
pub fn load(lua: &Lua) -> mlua::Result<()> {
    let globals = lua.globals();
    globals.set("cjson", cjson::module(lua)?)?;
    globals.set("cmsgpack", cmsgpack::module(lua)?)?;
    globals.set("bit", bit::module(lua)?)?;
    globals.set("struct", strct::module(lua)?)?;
    Ok(())
}

/// An error a library function raises into the script.
pub(crate) enum Raise {
    /// `luaL_error(msg)`: the message, prefixed with the caller's position.
    Msg(String),
    /// `luaL_argerror(narg, msg)`: "bad argument #narg to 'name' (msg)".
    Arg(i64, String),
    /// An error raised without a position, as the Lua core raises errors
    /// from inside C functions (e.g. "table index is nil").
    Plain(String),
    /// An error from mlua itself (out of memory and the like), raised as is.
    Lua(mlua::Error),
}

impl From<mlua::Error> for Raise {
    fn from(e: mlua::Error) -> Self {
        Raise::Lua(e)
    }
}

/// Result of a library function body.
pub(crate) type LibResult<T> = Result<T, Raise>;

/// Marks a return value list as "raise this" for [`trampoline`]. Its
/// address is unique, so no script value can be mistaken for it.
static RAISE_MARK: u8 = 0;

fn mark() -> Value {
    Value::LightUserData(mlua::LightUserData(
        std::ptr::addr_of!(RAISE_MARK) as *mut std::ffi::c_void
    ))
}

/// Makes a Lua function from a library body. The mlua callback returns the
/// body's values, or for a [`Raise`] the raise mark, a kind (0 = message,
/// 1 = argument error, 2 = message without position), the argument number
/// and the text; the C trampoline around it turns the latter into a Lua
/// string error raised from a C frame.
pub(crate) fn lib_fn<F>(lua: &Lua, body: F) -> mlua::Result<Function>
where
    F: Fn(&Lua, MultiValue) -> LibResult<MultiValue> + Send + 'static,
{
    let inner = lua.create_function(move |lua, args: MultiValue| match body(lua, args) {
        Ok(values) => Ok(values),
        Err(Raise::Lua(e)) => Err(e),
        Err(Raise::Msg(msg)) => Ok(MultiValue::from_iter([
            mark(),
            Value::Integer(0),
            Value::Integer(0),
            Value::String(lua.create_string(msg)?),
        ])),
        Err(Raise::Plain(msg)) => Ok(MultiValue::from_iter([
            mark(),
            Value::Integer(2),
            Value::Integer(0),
            Value::String(lua.create_string(msg)?),
        ])),
        Err(Raise::Arg(narg, msg)) => Ok(MultiValue::from_iter([
            mark(),
            Value::Integer(1),
            Value::Integer(narg),
            Value::String(lua.create_string(msg)?),
        ])),
    })?;
    // SAFETY: pushes one C closure with the inner function as its upvalue;
    // `exec_raw` checks the stack and runs this under a protected call.
    unsafe {
        lua.exec_raw::<Function>(inner, |state| {
            ffi::lua_pushcclosure(state, trampoline, 1);
        })
    }
}

/// Calls the Rust body stored as upvalue 1 with this call's arguments and
/// returns its results, or raises its error as a string like `luaL_error`
/// / `luaL_argerror` do from a C function.
unsafe extern "C-unwind" fn trampoline(state: *mut ffi::lua_State) -> c_int {
    let nargs = ffi::lua_gettop(state);
    ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
    ffi::lua_insert(state, 1);
    if ffi::lua_pcall(state, nargs, ffi::LUA_MULTRET, 0) != 0 {
        // An mlua error (the body's `Raise::Lua`): propagate untouched.
        ffi::lua_error(state)
    }
    let nres = ffi::lua_gettop(state);
    let is_raise =
        nres == 4 && ffi::lua_touserdata(state, 1) as *const u8 == std::ptr::addr_of!(RAISE_MARK);
    if !is_raise {
        return nres;
    }
    let kind = ffi::lua_tointeger(state, 2);
    if kind == 2 {
        ffi::lua_error(state)
    }
    let mut narg = ffi::lua_tointeger(state, 3);
    if kind == 1 {
        // luaL_argerror: name the function as the caller sees it.
        let mut ar: ffi::lua_Debug = std::mem::zeroed();
        if ffi::lua_getstack(state, 0, &mut ar) == 0 {
            ffi::lua_pushfstring(
                state,
                c"bad argument #%d (%s)".as_ptr(),
                narg as c_int,
                ffi::lua_tostring(state, 4),
            );
        } else {
            ffi::lua_getinfo(state, c"n".as_ptr(), &mut ar);
            let is_method = !ar.namewhat.is_null()
                && std::ffi::CStr::from_ptr(ar.namewhat).to_bytes() == b"method";
            if is_method {
                narg -= 1;
            }
            let name = if ar.name.is_null() {
                c"?".as_ptr()
            } else {
                ar.name
            };
            if is_method && narg == 0 {
                ffi::lua_pushfstring(
                    state,
                    c"calling '%s' on bad self (%s)".as_ptr(),
                    name,
                    ffi::lua_tostring(state, 4),
                );
            } else {
                ffi::lua_pushfstring(
                    state,
                    c"bad argument #%d to '%s' (%s)".as_ptr(),
                    narg as c_int,
                    name,
                    ffi::lua_tostring(state, 4),
                );
            }
        }
        ffi::lua_replace(state, 4);
    }
    ffi::luaL_where(state, 1);
    ffi::lua_insert(state, 4);
    ffi::lua_concat(state, 2);
    ffi::lua_error(state)
}

/// Runs `body` on the raw Lua stack, inside a C frame of its own that
/// holds `args` at indices 1..=n as the original C function's frame did,
/// and returns the `Ok(count)` values `body` leaves on top.
///
/// The table walkers work at this level rather than through mlua values:
/// every mlua value holds a slot of mlua's reference stack, which (like
/// any Lua stack) is capped at 8000 slots, so holding the entries of a
/// large table as mlua values fails. On the raw stack the libraries also
/// hit `lua_checkstack` limits exactly where the C code does.
pub(crate) fn on_stack<F>(lua: &Lua, args: MultiValue, body: F) -> LibResult<MultiValue>
where
    F: FnOnce(*mut ffi::lua_State) -> LibResult<c_int>,
{
    let mut outcome: LibResult<c_int> = Ok(0);
    // SAFETY: `body` only uses the stack of the frame it is given; Lua API
    // errors inside it (memory errors) unwind to `exec_raw`'s protected call.
    let values: MultiValue = unsafe {
        lua.exec_raw(args, |state| {
            let r = body(state);
            let top = ffi::lua_gettop(state);
            match r {
                Ok(n) => {
                    let n = n.min(top);
                    for _ in 0..top - n {
                        ffi::lua_remove(state, 1);
                    }
                }
                Err(_) => ffi::lua_settop(state, 0),
            }
            outcome = r;
        })?
    };
    outcome.map(|_| values)
}

/// The bytes of the string (or number, converted in place) at `idx`.
///
/// # Safety
/// `idx` must be a valid index holding a string or a number, and the
/// returned slice must not outlive that stack slot.
pub(crate) unsafe fn stack_bytes<'a>(state: *mut ffi::lua_State, idx: c_int) -> &'a [u8] {
    let mut len = 0usize;
    let p = ffi::lua_tolstring(state, idx, &mut len);
    if p.is_null() {
        &[]
    } else {
        std::slice::from_raw_parts(p as *const u8, len)
    }
}

/// Lua's name for the type of `v`, as `lua_typename` gives it.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::Boolean(_) => "boolean",
        Value::LightUserData(_) | Value::UserData(_) => "userdata",
        Value::Integer(_) | Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Table(_) => "table",
        Value::Function(_) => "function",
        Value::Thread(_) => "thread",
        _ => "userdata",
    }
}

/// The arguments of one call, with the argument checks of the Lua
/// auxiliary library (`luaL_check*`), 1-based like Lua's stack.
pub(crate) struct Args<'a> {
    lua: &'a Lua,
    values: Vec<Value>,
}

impl<'a> Args<'a> {
    pub(crate) fn new(lua: &'a Lua, args: MultiValue) -> Self {
        Args {
            lua,
            values: args.into_vec(),
        }
    }

    /// Number of arguments (`lua_gettop`).
    pub(crate) fn len(&self) -> usize {
        self.values.len()
    }

    /// Argument `i`, `None` when absent ("no value").
    pub(crate) fn get(&self, i: usize) -> Option<&Value> {
        self.values.get(i.wrapping_sub(1))
    }

    /// `lua_isnoneornil`.
    pub(crate) fn is_none_or_nil(&self, i: usize) -> bool {
        matches!(self.get(i), None | Some(Value::Nil))
    }

    /// The "X expected, got Y" argument error of `luaL_typerror`.
    pub(crate) fn type_error(&self, i: usize, expected: &str) -> Raise {
        let got = self.get(i).map_or("no value", type_name);
        Raise::Arg(i as i64, format!("{expected} expected, got {got}"))
    }

    /// `lua_tonumber`: the number, or `None` when not convertible.
    pub(crate) fn to_number(&self, i: usize) -> LibResult<Option<f64>> {
        match self.get(i) {
            None => Ok(None),
            Some(Value::Number(n)) => Ok(Some(*n)),
            Some(Value::Integer(n)) => Ok(Some(*n as f64)),
            Some(v @ Value::String(_)) => Ok(self.lua.coerce_number(v.clone())?),
            Some(_) => Ok(None),
        }
    }

    /// `luaL_checknumber`.
    pub(crate) fn check_number(&self, i: usize) -> LibResult<f64> {
        match self.to_number(i)? {
            Some(n) => Ok(n),
            None => Err(self.type_error(i, "number")),
        }
    }

    /// `luaL_checkinteger`: the number truncated towards zero.
    pub(crate) fn check_integer(&self, i: usize) -> LibResult<i64> {
        self.check_number(i).map(c_double_to_i64)
    }

    /// `luaL_optinteger`.
    pub(crate) fn opt_integer(&self, i: usize, default: i64) -> LibResult<i64> {
        if self.is_none_or_nil(i) {
            Ok(default)
        } else {
            self.check_integer(i)
        }
    }

    /// `luaL_checklstring`: strings, and numbers converted as Lua does.
    pub(crate) fn check_bytes(&self, i: usize) -> LibResult<Vec<u8>> {
        match self.get(i) {
            Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
            Some(v @ (Value::Number(_) | Value::Integer(_))) => {
                match self.lua.coerce_string(v.clone())? {
                    Some(s) => Ok(s.as_bytes().to_vec()),
                    None => Err(self.type_error(i, "string")),
                }
            }
            _ => Err(self.type_error(i, "string")),
        }
    }
}

/// 2^63, the first double outside `i64`.
pub(crate) const TWO_POW_63: f64 = (1u64 << 63) as f64;

/// C's `(long)d` on x86-64: truncation, with the "integer indefinite"
/// value for NaN and out-of-range doubles.
pub(crate) fn c_double_to_i64(d: f64) -> i64 {
    if !(-TWO_POW_63..TWO_POW_63).contains(&d) {
        i64::MIN
    } else {
        d as i64
    }
}

/// C's `(int)d` on x86-64 (see [`c_double_to_i64`]).
pub(crate) fn c_double_to_i32(d: f64) -> i32 {
    if d.is_nan() || d >= 2_147_483_648.0 || d <= -2_147_483_649.0 {
        i32::MIN
    } else {
        d as i32
    }
}

/// A library function body.
pub(crate) type LibFn = fn(&Lua, MultiValue) -> LibResult<MultiValue>;

/// Builds a module table of library functions.
pub(crate) fn module_table(lua: &Lua, fns: &[(&str, LibFn)]) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    for (name, f) in fns {
        t.set(*name, lib_fn(lua, *f)?)?;
    }
    Ok(t)
}

/// A single return value.
pub(crate) fn one(v: Value) -> LibResult<MultiValue> {
    Ok(MultiValue::from_iter([v]))
}

#[cfg(test)]
pub(crate) mod test_util {
    use mlua::Lua;

    /// A bare Lua 5.1 VM with the libraries loaded.
    pub fn vm() -> Lua {
        let lua = Lua::new();
        super::load(&lua).expect("load libraries");
        lua
    }

    /// Runs `code` as a chunk named `user_script` and returns its first
    /// result as a string (Lua's `tostring`).
    pub fn eval(lua: &Lua, code: &str) -> String {
        let f = lua
            .load(code)
            .set_name("@user_script")
            .into_function()
            .expect("compile");
        let wrapped: mlua::Function = lua
            .load("local f = ... return function() return tostring((f())) end")
            .call(f)
            .expect("wrap");
        wrapped.call::<String>(()).expect("run")
    }

    /// Runs `code` under `pcall` and returns the error message (a string).
    pub fn error_of(lua: &Lua, code: &str) -> String {
        let f = lua
            .load(code)
            .set_name("@user_script")
            .into_function()
            .expect("compile");
        let check: mlua::Function = lua
            .load(
                "local f = ... return function() local ok, e = pcall(f) \
                 assert(not ok, 'no error') assert(type(e) == 'string', type(e)) return e end",
            )
            .call(f)
            .expect("wrap");
        check.call::<String>(()).expect("run")
    }
}
