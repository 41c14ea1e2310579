//! `cmsgpack`: lua-cmsgpack 0.4.0 as bundled in Redis 7.0 (`pack`,
//! `unpack`, `unpack_one`, `unpack_limit`).

use std::ffi::c_char;

use mlua::{ffi, Lua, MultiValue, Table, Value};

use super::{module_table, on_stack, stack_bytes, Args, LibResult, Raise, TWO_POW_63};

pub(crate) fn module(lua: &Lua) -> mlua::Result<Table> {
    let t = module_table(
        lua,
        &[
            ("pack", pack),
            ("unpack", unpack),
            ("unpack_one", unpack_one),
            ("unpack_limit", unpack_limit),
        ],
    )?;
    t.set("_NAME", "cmsgpack")?;
    t.set("_VERSION", "lua-cmsgpack 0.4.0")?;
    t.set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    Ok(t)
}

/// Tables nested deeper than this are encoded as nil (which also stops
/// self-referencing tables).
const MAX_NESTING: usize = 16;

fn pack(lua: &Lua, a: MultiValue) -> LibResult<MultiValue> {
    if a.is_empty() {
        return Err(Raise::Arg(0, "MessagePack pack needs input.".into()));
    }
    let mut out = Vec::new();
    on_stack(lua, a, |state| {
        // SAFETY: walks the arguments of this frame with balanced pushes.
        unsafe {
            let nargs = ffi::lua_gettop(state);
            for i in 1..=nargs {
                ffi::lua_pushvalue(state, i);
                encode(state, &mut out, 0);
            }
        }
        Ok(0)
    })?;
    super::one(Value::String(lua.create_string(&out)?))
}

/// C's `(int64_t)n == n` guard as x86-64 evaluates it.
fn is_int64(n: f64) -> bool {
    n.is_finite() && (-TWO_POW_63..TWO_POW_63).contains(&n) && n.trunc() == n
}

/// `mp_encode_lua_type`: encodes the value on top of the stack and pops it.
///
/// # Safety
/// The stack must have a value on top.
unsafe fn encode(state: *mut ffi::lua_State, out: &mut Vec<u8>, level: usize) {
    let mut t = ffi::lua_type(state, -1);
    if t == ffi::LUA_TTABLE && level == MAX_NESTING {
        t = ffi::LUA_TNIL;
    }
    match t {
        ffi::LUA_TSTRING => encode_bytes(out, stack_bytes(state, -1)),
        ffi::LUA_TBOOLEAN => out.push(if ffi::lua_toboolean(state, -1) != 0 {
            0xc3
        } else {
            0xc2
        }),
        ffi::LUA_TNUMBER => encode_number(out, ffi::lua_tonumber(state, -1)),
        ffi::LUA_TTABLE => encode_table(state, out, level),
        _ => out.push(0xc0),
    }
    ffi::lua_pop(state, 1);
}

fn encode_number(out: &mut Vec<u8>, n: f64) {
    if is_int64(n) {
        encode_int(out, n as i64);
    } else if n == f64::from(n as f32) {
        out.push(0xca);
        out.extend_from_slice(&(n as f32).to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        if n <= 127 {
            out.push(n as u8);
        } else if n <= 0xff {
            out.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_bytes(out: &mut Vec<u8>, s: &[u8]) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

/// Writes an array or map header: the fix form under 16 entries, then
/// 16-bit and 32-bit lengths.
fn encode_header(out: &mut Vec<u8>, len: usize, fix: u8, wide: u8) {
    if len < 16 {
        out.push(fix | len as u8);
    } else if len <= 0xffff {
        out.push(wide);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(wide + 1);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

/// `table_is_an_array`: every key is a positive number equal to its C
/// `int`, and the largest key equals the number of keys (so the keys are
/// exactly 1..n); the empty table is an empty array.
///
/// # Safety
/// A table must be on top of the stack.
unsafe fn is_array(state: *mut ffi::lua_State) -> bool {
    let (mut count, mut max) = (0i64, 0i32);
    ffi::lua_pushnil(state);
    while ffi::lua_next(state, -2) != 0 {
        ffi::lua_pop(state, 1);
        let n = ffi::lua_tonumber(state, -1);
        if ffi::lua_type(state, -1) != ffi::LUA_TNUMBER
            || n <= 0.0
            || f64::from(super::c_double_to_i32(n)) != n
        {
            ffi::lua_pop(state, 1);
            return false;
        }
        if n > f64::from(max) {
            max = n as i32;
        }
        count += 1;
    }
    i64::from(max) == count
}

/// # Safety
/// A table must be on top of the stack; it stays there.
unsafe fn encode_table(state: *mut ffi::lua_State, out: &mut Vec<u8>, level: usize) {
    ffi::lua_checkstack(state, 3);
    if is_array(state) {
        let len = ffi::lua_objlen(state, -1);
        encode_header(out, len, 0x90, 0xdc);
        for j in 1..=len {
            ffi::lua_pushnumber(state, j as f64);
            ffi::lua_gettable(state, -2);
            encode(state, out, level + 1);
        }
    } else {
        let mut len = 0usize;
        ffi::lua_pushnil(state);
        while ffi::lua_next(state, -2) != 0 {
            ffi::lua_pop(state, 1);
            len += 1;
        }
        encode_header(out, len, 0x80, 0xde);
        ffi::lua_pushnil(state);
        while ffi::lua_next(state, -2) != 0 {
            ffi::lua_pushvalue(state, -2);
            encode(state, out, level + 1);
            encode(state, out, level + 1);
        }
    }
}

fn unpack(lua: &Lua, a: MultiValue) -> LibResult<MultiValue> {
    let args = Args::new(lua, a);
    unpack_full(lua, &args, 0, 0)
}

fn unpack_one(lua: &Lua, a: MultiValue) -> LibResult<MultiValue> {
    let args = Args::new(lua, a);
    let offset = args.opt_integer(2, 0)? as i32;
    unpack_full(lua, &args, 1, offset)
}

fn unpack_limit(lua: &Lua, a: MultiValue) -> LibResult<MultiValue> {
    let args = Args::new(lua, a);
    let limit = args.check_integer(2)? as i32;
    let offset = args.opt_integer(3, 0)? as i32;
    unpack_full(lua, &args, limit, offset)
}

/// Decodes up to `limit` values from `offset`; limit and offset both 0
/// means "everything, and no next offset" (also when unpack_limit is
/// asked for 0 values, as in the C code). Otherwise the next offset (-1
/// at the end of the input) comes first.
fn unpack_full(lua: &Lua, args: &Args, limit: i32, offset: i32) -> LibResult<MultiValue> {
    let s = args.check_bytes(1)?;
    let len = s.len();
    let decode_all = limit == 0 && offset == 0;
    if offset < 0 || limit < 0 {
        return Err(Raise::Msg(format!(
            "Invalid request to unpack with offset of {offset} and limit of {}.",
            len as i32
        )));
    }
    if offset as usize > len {
        return Err(Raise::Msg(format!(
            "Start offset {offset} greater than input length {}.",
            len as i32
        )));
    }
    let limit = if decode_all { i32::MAX } else { limit };
    let mut d = Decoder {
        data: &s,
        pos: offset as usize,
    };
    // The C function works with just the input string on its stack.
    let input = Value::String(lua.create_string(&s)?);
    on_stack(lua, MultiValue::from_iter([input]), |state| {
        let mut count = 0;
        while d.pos < len && count < limit {
            // SAFETY: the decoder pushes exactly one value per call.
            match unsafe { d.value(state)? } {
                Ok(()) => {}
                Err(Bad::Eof) => return Err(Raise::Msg("Missing bytes in input.".into())),
                Err(Bad::Format) => return Err(Raise::Msg("Bad data format in input.".into())),
            }
            count += 1;
        }
        if !decode_all {
            let next = if d.pos == len { -1 } else { d.pos as i32 };
            // SAFETY: plain stack manipulation within this frame.
            unsafe {
                if ffi::lua_checkstack(state, 1) == 0 {
                    return Err(Raise::Msg(
                        "stack overflow (in function mp_unpack_full)".into(),
                    ));
                }
                ffi::lua_pushnumber(state, f64::from(next));
                ffi::lua_insert(state, 2);
            }
            count += 1;
        }
        Ok(count)
    })
}

/// Why decoding stopped (reported once the top-level value is abandoned).
enum Bad {
    Eof,
    Format,
}

/// A container being filled while decoding (the table itself is on the
/// Lua stack).
enum Open {
    Array { len: usize, next: usize },
    Map { left: usize, has_key: bool },
}

struct Decoder<'a> {
    data: &'a [u8],
    pos: usize,
}

/// What one element header announced.
enum Item {
    /// A scalar, already pushed.
    Pushed,
    Array(usize),
    Map(usize),
}

fn stack_error(what: &str) -> Raise {
    Raise::Msg(format!("stack overflow ({what})"))
}

impl Decoder<'_> {
    fn need(&self, n: usize) -> Result<(), Bad> {
        if self.data.len() - self.pos < n {
            Err(Bad::Eof)
        } else {
            Ok(())
        }
    }

    fn be(&self, at: usize, n: usize) -> u64 {
        self.data[self.pos + at..self.pos + at + n]
            .iter()
            .fold(0, |acc, &b| (acc << 8) | u64::from(b))
    }

    /// # Safety
    /// Pushes one string.
    unsafe fn string(
        &mut self,
        state: *mut ffi::lua_State,
        head: usize,
        len: usize,
    ) -> Result<Item, Bad> {
        self.need(head.saturating_add(len))?;
        let start = self.pos + head;
        let bytes = &self.data[start..start + len];
        ffi::lua_pushlstring(state, bytes.as_ptr() as *const c_char, len);
        self.pos = start + len;
        Ok(Item::Pushed)
    }

    /// Reads one element header, pushing scalars.
    ///
    /// # Safety
    /// Pushes at most one value.
    unsafe fn item(&mut self, state: *mut ffi::lua_State) -> LibResult<Result<Item, Bad>> {
        if let Err(e) = self.need(1) {
            return Ok(Err(e));
        }
        if ffi::lua_checkstack(state, 1) == 0 {
            return Err(stack_error(
                "too many return values at once; use unpack_one or unpack_limit instead.",
            ));
        }
        let c = self.data[self.pos];
        let num = match c {
            0xcc | 0xd0 => 1,
            0xcd | 0xd1 => 2,
            0xce | 0xd2 | 0xca => 4,
            0xcf | 0xd3 | 0xcb => 8,
            _ => 0,
        };
        if num > 0 {
            if let Err(e) = self.need(1 + num) {
                return Ok(Err(e));
            }
            let raw = self.be(1, num);
            let n = match c {
                0xcc..=0xce => raw as f64,
                0xd0 => f64::from(raw as u8 as i8),
                0xd1 => f64::from(raw as u16 as i16),
                0xd2 => f64::from(raw as u32 as i32),
                0xca => f64::from(f32::from_bits(raw as u32)),
                0xcb => f64::from_bits(raw),
                // Redis's copy reads uint 64 as signed too.
                _ => raw as i64 as f64,
            };
            ffi::lua_pushnumber(state, n);
            self.pos += 1 + num;
            return Ok(Ok(Item::Pushed));
        }
        let sized = |head: usize| -> Result<usize, Bad> {
            self.need(1 + head)?;
            Ok(self.be(1, head) as usize)
        };
        match c {
            0xc0 => ffi::lua_pushnil(state),
            0xc2 => ffi::lua_pushboolean(state, 0),
            0xc3 => ffi::lua_pushboolean(state, 1),
            0xd9..=0xdb => {
                let head = 1 << (c - 0xd9);
                return Ok(sized(head).and_then(|len| self.string(state, 1 + head, len)));
            }
            0xdc..=0xdf => {
                let head = if c == 0xdc || c == 0xde { 2 } else { 4 };
                return Ok(sized(head).map(|len| {
                    self.pos += 1 + head;
                    if c <= 0xdd {
                        Item::Array(len)
                    } else {
                        Item::Map(len)
                    }
                }));
            }
            _ if c & 0x80 == 0 => ffi::lua_pushnumber(state, f64::from(c)),
            _ if c & 0xe0 == 0xe0 => ffi::lua_pushnumber(state, f64::from(c as i8)),
            _ if c & 0xe0 == 0xa0 => return Ok(self.string(state, 1, usize::from(c & 0x1f))),
            _ if c & 0xf0 == 0x90 => {
                self.pos += 1;
                return Ok(Ok(Item::Array(usize::from(c & 0x0f))));
            }
            _ if c & 0xf0 == 0x80 => {
                self.pos += 1;
                return Ok(Ok(Item::Map(usize::from(c & 0x0f))));
            }
            _ => return Ok(Err(Bad::Format)),
        }
        self.pos += 1;
        Ok(Ok(Item::Pushed))
    }

    /// Decodes one complete value onto the stack, nesting with an
    /// explicit stack (input may nest thousands of levels deep).
    ///
    /// # Safety
    /// Pushes one value on success; on failure the caller discards the
    /// stack.
    unsafe fn value(&mut self, state: *mut ffi::lua_State) -> LibResult<Result<(), Bad>> {
        let mut open: Vec<Open> = Vec::new();
        loop {
            if let Some(Open::Array { next, .. }) = open.last() {
                if ffi::lua_checkstack(state, 1) == 0 {
                    return Err(stack_error("in function mp_decode_to_lua_array"));
                }
                ffi::lua_pushnumber(state, *next as f64);
            }
            match self.item(state)? {
                Err(e) => return Ok(Err(e)),
                Ok(Item::Pushed) => {}
                Ok(Item::Array(len)) => {
                    ffi::lua_newtable(state);
                    if len > 0 {
                        open.push(Open::Array { len, next: 1 });
                        continue;
                    }
                }
                Ok(Item::Map(left)) => {
                    ffi::lua_newtable(state);
                    if left > 0 {
                        open.push(Open::Map {
                            left,
                            has_key: false,
                        });
                        continue;
                    }
                }
            }
            // Store the finished value in its container, closing every
            // container it completes.
            loop {
                match open.last_mut() {
                    None => return Ok(Ok(())),
                    Some(Open::Array { len, next }) => {
                        ffi::lua_settable(state, -3);
                        *next += 1;
                        if *next <= *len {
                            break;
                        }
                    }
                    Some(Open::Map { left, has_key }) => {
                        if !*has_key {
                            *has_key = true;
                            break;
                        }
                        // lua_settable raises these from inside the C
                        // function, so without a position.
                        match ffi::lua_type(state, -2) {
                            ffi::LUA_TNIL => return Err(Raise::Plain("table index is nil".into())),
                            ffi::LUA_TNUMBER if ffi::lua_tonumber(state, -2).is_nan() => {
                                return Err(Raise::Plain("table index is NaN".into()))
                            }
                            _ => {}
                        }
                        ffi::lua_settable(state, -3);
                        *has_key = false;
                        *left -= 1;
                        if *left > 0 {
                            break;
                        }
                    }
                }
                open.pop();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{error_of, eval, vm};

    fn hex(lua: &mlua::Lua, code: &str) -> String {
        let s: mlua::LuaString = lua.load(code).eval().expect("run");
        s.as_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn pack_bytes() {
        let lua = vm();
        let cases = [
            (
                "return cmsgpack.pack(1, -1, 200, -200, 70000)",
                "01ffccc8d1ff38ce00011170",
            ),
            ("return cmsgpack.pack(2^40)", "cf0000010000000000"),
            ("return cmsgpack.pack(-2^63)", "d38000000000000000"),
            ("return cmsgpack.pack(2^63)", "ca5f000000"),
            (
                "return cmsgpack.pack(1.5, 0.1)",
                "ca3fc00000cb3fb999999999999a",
            ),
            (
                "return cmsgpack.pack('ab', true, false, nil)",
                "a26162c3c2c0",
            ),
            ("return cmsgpack.pack({})", "90"),
            ("return cmsgpack.pack({1, 2, {3}})", "9301029103"),
            ("return cmsgpack.pack({a = 1})", "81a16101"),
            ("return cmsgpack.pack({[1] = 1, [3] = 3})", "8201010303"),
            (
                "return cmsgpack.pack(string.rep('x', 40)):sub(1, 2)",
                "d928",
            ),
            (
                "return cmsgpack.pack(string.rep('x', 300)):sub(1, 3)",
                "da012c",
            ),
        ];
        for (code, want) in cases {
            assert_eq!(hex(&lua, code), want, "{code}");
        }
        // A self-referencing table stops at 16 levels with nil.
        let s = hex(&lua, "local t = {} t.t = t return cmsgpack.pack(t)");
        assert_eq!(s, "81a174".repeat(16) + "c0");
    }

    #[test]
    fn unpack_values() {
        let lua = vm();
        let cases = [
            (
                "local t = cmsgpack.unpack(cmsgpack.pack({1, 'two', {x = 3}})) \
                 return t[1] .. t[2] .. t[3].x",
                "1two3",
            ),
            (
                "return select('#', cmsgpack.unpack(cmsgpack.pack(1, 2, 3)))",
                "3",
            ),
            ("return select('#', cmsgpack.unpack(''))", "0"),
            (
                "return cmsgpack.unpack(string.char(0xcf, 255, 255, 255, 255, 255, 255, 255, 255))",
                "-1",
            ),
            ("return cmsgpack.unpack(string.char(0xd0, 0x80))", "-128"),
            ("return cmsgpack.unpack(string.char(0xe0))", "-32"),
            ("return cmsgpack.unpack(cmsgpack.pack(0.1))", "0.1"),
            (
                "return table.concat({cmsgpack.unpack_one(string.char(1, 2, 3), 1)}, ',')",
                "2,2",
            ),
            (
                "return table.concat({cmsgpack.unpack_one(string.char(1, 2, 3), 2)}, ',')",
                "-1,3",
            ),
            (
                "return table.concat({cmsgpack.unpack_limit(string.char(1, 2, 3), 2)}, ',')",
                "2,1,2",
            ),
            (
                "return table.concat({cmsgpack.unpack_limit(string.char(1, 2, 3), 0)}, ',')",
                "1,2,3",
            ),
            (
                "local t = cmsgpack.unpack(string.rep(string.char(0x91), 3999) .. string.char(1)) \
                 return type(t)",
                "table",
            ),
        ];
        for (code, want) in cases {
            assert_eq!(eval(&lua, code), want, "{code}");
        }
    }

    #[test]
    fn errors() {
        let lua = vm();
        let cases = [
            (
                "return cmsgpack.pack()",
                "user_script:1: bad argument #0 to 'pack' (MessagePack pack needs input.)",
            ),
            (
                "return cmsgpack.unpack(string.char(0xc1))",
                "user_script:1: Bad data format in input.",
            ),
            (
                "return cmsgpack.unpack(string.char(0x92, 1))",
                "user_script:1: Missing bytes in input.",
            ),
            (
                "return cmsgpack.unpack(string.char(0x81, 0xc0, 1))",
                "table index is nil",
            ),
            (
                "return cmsgpack.unpack_one(string.char(1), -1)",
                "user_script:1: Invalid request to unpack with offset of -1 and limit of 1.",
            ),
            (
                "return cmsgpack.unpack_one(string.char(1), 5)",
                "user_script:1: Start offset 5 greater than input length 1.",
            ),
            (
                "return cmsgpack.unpack(string.rep(string.char(0x91), 4000) .. string.char(1))",
                "user_script:1: stack overflow (in function mp_decode_to_lua_array)",
            ),
            (
                "return cmsgpack.unpack(string.rep(string.char(0x81, 1), 4000) .. string.char(1))",
                "user_script:1: stack overflow (too many return values at once; \
                 use unpack_one or unpack_limit instead.)",
            ),
        ];
        for (code, want) in cases {
            assert_eq!(error_of(&lua, code), want, "{code}");
        }
    }
}
