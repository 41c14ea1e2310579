//! `cmsgpack`: lua-cmsgpack 0.4.0 as bundled in Redis 7.0 (`pack`,
//! `unpack`, `unpack_one`, `unpack_limit`).

use mlua::{Lua, MultiValue, Table, Value};

use super::{module_table, Args, LibResult, Raise};

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

/// `LUAI_MAXCSTACK`: the most values one C function may keep on the Lua
/// stack; unpacking fails where the C code's `luaL_checkstack` would.
const MAX_STACK: usize = 8000;

fn pack(lua: &Lua, a: MultiValue) -> LibResult<MultiValue> {
    let args = Args::new(lua, a);
    if args.len() == 0 {
        return Err(Raise::Arg(0, "MessagePack pack needs input.".into()));
    }
    let mut out = Vec::new();
    for i in 1..=args.len() {
        if let Some(v) = args.get(i) {
            encode(&mut out, v, 0)?;
        }
    }
    super::one(Value::String(lua.create_string(&out)?))
}

/// C's `(int64_t)n == n` guard as x86-64 evaluates it.
fn is_int64(n: f64) -> bool {
    n.is_finite()
        && (-9.223_372_036_854_775_808e18..9.223_372_036_854_775_808e18).contains(&n)
        && n.trunc() == n
}

fn encode(out: &mut Vec<u8>, v: &Value, level: usize) -> LibResult<()> {
    match v {
        Value::String(s) => encode_bytes(out, &s.as_bytes()),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => encode_number(out, *i as f64),
        Value::Number(n) => encode_number(out, *n),
        Value::Table(t) if level < MAX_NESTING => encode_table(out, t, level)?,
        _ => out.push(0xc0),
    }
    Ok(())
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

/// A table is an array when every key is a positive number equal to its
/// C `int` and the largest key equals the number of keys (so the keys
/// are exactly 1..n); the empty table is an empty array.
fn encode_table(out: &mut Vec<u8>, t: &Table, level: usize) -> LibResult<()> {
    let pairs: Vec<(Value, Value)> = t.pairs::<Value, Value>().collect::<mlua::Result<_>>()?;
    let mut is_array = true;
    let mut max: i32 = 0;
    for (k, _) in &pairs {
        let n = match k {
            Value::Integer(i) => *i as f64,
            Value::Number(n) => *n,
            _ => {
                is_array = false;
                break;
            }
        };
        if n <= 0.0 || f64::from(super::c_double_to_i32(n)) != n {
            is_array = false;
            break;
        }
        if n > f64::from(max) {
            max = n as i32;
        }
    }
    if is_array && max as usize == pairs.len() {
        let len = t.raw_len();
        encode_header(out, len, 0x90, 0xdc);
        for i in 1..=len {
            let v: Value = t.get(i)?;
            encode(out, &v, level + 1)?;
        }
    } else {
        encode_header(out, pairs.len(), 0x80, 0xde);
        for (k, v) in &pairs {
            encode(out, k, level + 1)?;
            encode(out, v, level + 1)?;
        }
    }
    Ok(())
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
        lua,
        data: &s,
        pos: offset as usize,
        top: 1,
    };
    let mut values = Vec::new();
    let mut count = 0;
    while d.pos < len && count < limit {
        match d.value()? {
            Ok(v) => values.push(v),
            Err(Bad::Eof) => return Err(Raise::Msg("Missing bytes in input.".into())),
            Err(Bad::Format) => return Err(Raise::Msg("Bad data format in input.".into())),
        }
        count += 1;
    }
    if !decode_all {
        let next = if d.pos == len { -1 } else { d.pos as i32 };
        values.insert(0, Value::Integer(i64::from(next)));
    }
    Ok(MultiValue::from_iter(values))
}

/// Why decoding stopped (reported once the top-level value is abandoned).
enum Bad {
    Eof,
    Format,
}

/// A container being filled while decoding.
enum Open {
    Array {
        t: Table,
        len: usize,
        next: usize,
    },
    Map {
        t: Table,
        left: usize,
        key: Option<Value>,
    },
}

struct Decoder<'a> {
    lua: &'a Lua,
    data: &'a [u8],
    pos: usize,
    /// Slots the C decoder would hold on the Lua stack.
    top: usize,
}

/// What one element header announced.
enum Item {
    Value(Value),
    Array(usize),
    Map(usize),
}

impl Decoder<'_> {
    fn check_stack(&self, what: &str) -> LibResult<()> {
        if self.top + 1 > MAX_STACK {
            return Err(Raise::Msg(format!("stack overflow ({what})")));
        }
        Ok(())
    }

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

    fn string(&mut self, head: usize, len: usize) -> LibResult<Result<Item, Bad>> {
        if let Err(e) = self.need(head + len) {
            return Ok(Err(e));
        }
        let start = self.pos + head;
        let s = self.lua.create_string(&self.data[start..start + len])?;
        self.pos = start + len;
        Ok(Ok(Item::Value(Value::String(s))))
    }

    /// Reads one element header (and scalar payload).
    fn item(&mut self) -> LibResult<Result<Item, Bad>> {
        if let Err(e) = self.need(1) {
            return Ok(Err(e));
        }
        self.check_stack(
            "too many return values at once; use unpack_one or unpack_limit instead.",
        )?;
        let c = self.data[self.pos];
        let sized = |n: usize| -> Result<(), Bad> {
            if self.data.len() - self.pos < n {
                Err(Bad::Eof)
            } else {
                Ok(())
            }
        };
        let (num, width) = match c {
            0xcc | 0xd0 => (1, 1),
            0xcd | 0xd1 => (2, 1),
            0xce | 0xd2 | 0xca => (4, 1),
            0xcf | 0xd3 | 0xcb => (8, 1),
            _ => (0, 0),
        };
        if width == 1 {
            if let Err(e) = sized(1 + num) {
                return Ok(Err(e));
            }
            let raw = self.be(1, num);
            let n = match c {
                0xcc | 0xcd | 0xce => raw as f64,
                0xd0 => f64::from(raw as u8 as i8),
                0xd1 => f64::from(raw as u16 as i16),
                0xd2 => f64::from(raw as u32 as i32),
                0xca => f64::from(f32::from_bits(raw as u32)),
                0xcb => f64::from_bits(raw),
                _ => raw as i64 as f64,
            };
            self.pos += 1 + num;
            return Ok(Ok(Item::Value(Value::Number(n))));
        }
        let item = match c {
            0xc0 => Item::Value(Value::Nil),
            0xc2 => Item::Value(Value::Boolean(false)),
            0xc3 => Item::Value(Value::Boolean(true)),
            0xd9 | 0xda | 0xdb => {
                let head = match c {
                    0xd9 => 1,
                    0xda => 2,
                    _ => 4,
                };
                if let Err(e) = sized(1 + head) {
                    return Ok(Err(e));
                }
                let len = self.be(1, head) as usize;
                return self.string(1 + head, len);
            }
            0xdc | 0xdd | 0xde | 0xdf => {
                let head = if c == 0xdc || c == 0xde { 2 } else { 4 };
                if let Err(e) = sized(1 + head) {
                    return Ok(Err(e));
                }
                let len = self.be(1, head) as usize;
                self.pos += 1 + head;
                return Ok(Ok(if c <= 0xdd {
                    Item::Array(len)
                } else {
                    Item::Map(len)
                }));
            }
            _ if c & 0x80 == 0 => Item::Value(Value::Number(f64::from(c))),
            _ if c & 0xe0 == 0xe0 => Item::Value(Value::Number(f64::from(c as i8))),
            _ if c & 0xe0 == 0xa0 => return self.string(1, usize::from(c & 0x1f)),
            _ if c & 0xf0 == 0x90 => {
                self.pos += 1;
                return Ok(Ok(Item::Array(usize::from(c & 0x0f))));
            }
            _ if c & 0xf0 == 0x80 => {
                self.pos += 1;
                return Ok(Ok(Item::Map(usize::from(c & 0x0f))));
            }
            _ => return Ok(Err(Bad::Format)),
        };
        self.pos += 1;
        Ok(Ok(item))
    }

    /// Decodes one complete value, nesting with an explicit stack (input
    /// may nest thousands of levels deep).
    fn value(&mut self) -> LibResult<Result<Value, Bad>> {
        let mut open: Vec<Open> = Vec::new();
        loop {
            if let Some(Open::Array { .. }) = open.last() {
                self.check_stack("in function mp_decode_to_lua_array")?;
                self.top += 1;
            }
            let mut done = match self.item()? {
                Err(e) => return Ok(Err(e)),
                Ok(Item::Value(v)) => {
                    self.top += 1;
                    v
                }
                Ok(Item::Array(len)) => {
                    self.top += 1;
                    let t = self.lua.create_table()?;
                    if len > 0 {
                        open.push(Open::Array { t, len, next: 1 });
                        continue;
                    }
                    Value::Table(t)
                }
                Ok(Item::Map(left)) => {
                    self.top += 1;
                    let t = self.lua.create_table()?;
                    if left > 0 {
                        open.push(Open::Map { t, left, key: None });
                        continue;
                    }
                    Value::Table(t)
                }
            };
            // Store the finished value in its container, closing every
            // container it completes.
            loop {
                match open.last_mut() {
                    None => return Ok(Ok(done)),
                    Some(Open::Array { t, len, next }) => {
                        t.raw_set(*next, done.clone())?;
                        self.top -= 2;
                        *next += 1;
                        if *next <= *len {
                            break;
                        }
                    }
                    Some(Open::Map { t, left, key }) => match key.take() {
                        None => {
                            *key = Some(done);
                            break;
                        }
                        Some(k) => {
                            match &k {
                                Value::Nil => {
                                    return Err(Raise::Plain("table index is nil".into()))
                                }
                                Value::Number(n) if n.is_nan() => {
                                    return Err(Raise::Plain("table index is NaN".into()))
                                }
                                _ => {}
                            }
                            t.raw_set(k, done.clone())?;
                            self.top -= 2;
                            *left -= 1;
                            if *left > 0 {
                                break;
                            }
                        }
                    },
                }
                done = match open.pop() {
                    Some(Open::Array { t, .. } | Open::Map { t, .. }) => Value::Table(t),
                    None => return Ok(Ok(done)),
                };
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
            (
                "return cmsgpack.pack({[1] = 1, [3] = 3})",
                "8201010303",
            ),
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
