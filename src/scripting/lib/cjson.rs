//! `cjson`: lua-cjson 2.1.0 as bundled in Redis 7.0. `encode`/`decode`
//! plus the configuration functions; each module instance (`cjson` and
//! every `cjson.new()`) has its own configuration, as in the C library.

use std::sync::Arc;

use parking_lot::Mutex;

use std::ffi::{c_char, c_int};

use mlua::{ffi, LightUserData, Lua, MultiValue, Table, Value};

use super::{c_double_to_i32, lib_fn, on_stack, one, stack_bytes, Args, LibResult, Raise};

/// Per-instance settings, with lua-cjson's defaults.
struct Config {
    sparse_convert: bool,
    sparse_ratio: i32,
    sparse_safe: i32,
    encode_max_depth: i32,
    decode_max_depth: i32,
    /// 0 = off, 1 = on, 2 = "null".
    encode_invalid_numbers: usize,
    decode_invalid_numbers: bool,
    keep_buffer: bool,
    precision: i32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sparse_convert: false,
            sparse_ratio: 2,
            sparse_safe: 10,
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            encode_invalid_numbers: 0,
            decode_invalid_numbers: true,
            keep_buffer: true,
            precision: 14,
        }
    }
}

/// Shared by the functions of one module instance (the VM may move
/// between threads, so it is `Send`).
type Cfg = Arc<Mutex<Config>>;

/// `cjson.null`: the NULL light userdata.
fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

pub(crate) fn module(lua: &Lua) -> mlua::Result<Table> {
    let cfg: Cfg = Arc::new(Mutex::new(Config::default()));
    let t = lua.create_table()?;
    type Body = fn(&Lua, &Cfg, Args) -> LibResult<MultiValue>;
    let fns: [(&str, Body); 9] = [
        ("encode", encode),
        ("decode", decode),
        ("encode_sparse_array", cfg_sparse_array),
        ("encode_max_depth", cfg_encode_max_depth),
        ("decode_max_depth", cfg_decode_max_depth),
        ("encode_number_precision", cfg_precision),
        ("encode_keep_buffer", cfg_keep_buffer),
        ("encode_invalid_numbers", cfg_encode_invalid),
        ("decode_invalid_numbers", cfg_decode_invalid),
    ];
    for (name, f) in fns {
        let cfg = cfg.clone();
        t.set(
            name,
            lib_fn(lua, move |lua, a| f(lua, &cfg, Args::new(lua, a)))?,
        )?;
    }
    t.set(
        "new",
        lib_fn(lua, |lua, _| one(Value::Table(module(lua)?)))?,
    )?;
    t.set("null", null())?;
    t.set("_NAME", "cjson")?;
    t.set("_VERSION", "2.1.0")?;
    Ok(t)
}

// ---- configuration -------------------------------------------------------

/// `json_arg_init`: at most `n` arguments.
fn arg_init(args: &Args, n: usize) -> LibResult<()> {
    if args.len() > n {
        return Err(Raise::Arg(n as i64 + 1, "found too many arguments".into()));
    }
    Ok(())
}

/// `json_integer_option`: sets from argument `i` unless nil, within
/// `min..=max`, and returns the current value.
fn integer_option(
    args: &Args,
    i: usize,
    setting: &mut i32,
    min: i32,
    max: i32,
) -> LibResult<Value> {
    if !args.is_none_or_nil(i) {
        // lua_Integer is ptrdiff_t; the C code stores it in an int.
        let value = args.check_integer(i)? as i32;
        if !(min <= value && value <= max) {
            return Err(Raise::Arg(
                1,
                format!("expected integer between {min} and {max}"),
            ));
        }
        *setting = value;
    }
    Ok(Value::Number(f64::from(*setting)))
}

/// `json_enum_option`: a boolean or one of `options` by name; returns a
/// boolean for the off/on values and the option's name otherwise.
fn enum_option(
    lua: &Lua,
    args: &Args,
    i: usize,
    setting: &mut usize,
    options: &[&str],
) -> LibResult<Value> {
    match args.get(i) {
        None | Some(Value::Nil) => {}
        Some(Value::Boolean(b)) => *setting = usize::from(*b),
        Some(_) => {
            let name = args.check_bytes(i)?;
            match options.iter().position(|o| o.as_bytes() == name) {
                Some(p) => *setting = p,
                None => {
                    return Err(Raise::Arg(
                        i as i64,
                        format!("invalid option '{}'", String::from_utf8_lossy(&name)),
                    ))
                }
            }
        }
    }
    Ok(if *setting <= 1 {
        Value::Boolean(*setting == 1)
    } else {
        Value::String(lua.create_string(options[*setting])?)
    })
}

const OFF_ON: &[&str] = &["off", "on"];

fn bool_option(lua: &Lua, args: &Args, i: usize, setting: &mut bool) -> LibResult<Value> {
    let mut v = usize::from(*setting);
    let r = enum_option(lua, args, i, &mut v, OFF_ON)?;
    *setting = v == 1;
    Ok(r)
}

fn cfg_sparse_array(lua: &Lua, cfg: &Cfg, args: Args) -> LibResult<MultiValue> {
    arg_init(&args, 3)?;
    let mut c = cfg.lock();
    let convert = bool_option(lua, &args, 1, &mut c.sparse_convert)?;
    let ratio = integer_option(&args, 2, &mut c.sparse_ratio, 0, i32::MAX)?;
    let safe = integer_option(&args, 3, &mut c.sparse_safe, 0, i32::MAX)?;
    Ok(MultiValue::from_iter([convert, ratio, safe]))
}

fn cfg_encode_max_depth(_: &Lua, cfg: &Cfg, args: Args) -> LibResult<MultiValue> {
    arg_init(&args, 1)?;
    one(integer_option(
        &args,
        1,
        &mut cfg.lock().encode_max_depth,
        1,
        i32::MAX,
    )?)
}

fn cfg_decode_max_depth(_: &Lua, cfg: &Cfg, args: Args) -> LibResult<MultiValue> {
    arg_init(&args, 1)?;
    one(integer_option(
        &args,
        1,
        &mut cfg.lock().decode_max_depth,
        1,
        i32::MAX,
    )?)
}

fn cfg_precision(_: &Lua, cfg: &Cfg, args: Args) -> LibResult<MultiValue> {
    arg_init(&args, 1)?;
    one(integer_option(&args, 1, &mut cfg.lock().precision, 1, 14)?)
}

fn cfg_keep_buffer(lua: &Lua, cfg: &Cfg, args: Args) -> LibResult<MultiValue> {
    arg_init(&args, 1)?;
    one(bool_option(lua, &args, 1, &mut cfg.lock().keep_buffer)?)
}

fn cfg_encode_invalid(lua: &Lua, cfg: &Cfg, args: Args) -> LibResult<MultiValue> {
    arg_init(&args, 1)?;
    let mut c = cfg.lock();
    one(enum_option(
        lua,
        &args,
        1,
        &mut c.encode_invalid_numbers,
        &["off", "on", "null"],
    )?)
}

fn cfg_decode_invalid(lua: &Lua, cfg: &Cfg, args: Args) -> LibResult<MultiValue> {
    arg_init(&args, 1)?;
    one(bool_option(
        lua,
        &args,
        1,
        &mut cfg.lock().decode_invalid_numbers,
    )?)
}

// ---- encoding --------------------------------------------------------------

fn encode(lua: &Lua, cfg: &Cfg, args: Args) -> LibResult<MultiValue> {
    if args.len() != 1 {
        return Err(Raise::Arg(1, "expected 1 argument".into()));
    }
    let cfg = cfg.lock();
    let mut out = Vec::new();
    let arg = args.get(1).cloned().unwrap_or(Value::Nil);
    on_stack(lua, MultiValue::from_iter([arg]), |state| {
        // SAFETY: the encoder keeps its pushes and pops balanced.
        unsafe {
            Encoder {
                cfg: &cfg,
                out: &mut out,
            }
            .run(state)
        }?;
        Ok(0)
    })?;
    one(Value::String(lua.create_string(&out)?))
}

/// "Cannot serialise <type>: <reason>" for the value at `idx`.
///
/// # Safety
/// `idx` must be a valid stack index.
unsafe fn cannot(state: *mut ffi::lua_State, idx: c_int, reason: &str) -> Raise {
    let t = ffi::lua_type(state, idx);
    let name = std::ffi::CStr::from_ptr(ffi::lua_typename(state, t));
    Raise::Msg(format!(
        "Cannot serialise {}: {reason}",
        name.to_string_lossy()
    ))
}

/// A table being written (the table is on the Lua stack; an object's
/// current key sits above it).
enum Writing {
    Array { len: i32, next: i32 },
    Object { first: bool },
}

struct Encoder<'a> {
    cfg: &'a Config,
    out: &'a mut Vec<u8>,
}

impl Encoder<'_> {
    /// Writes the value on top of the stack (the argument), walking
    /// nested tables with an explicit stack but the same Lua stack use
    /// as the C encoder.
    ///
    /// # Safety
    /// The stack must hold the value to encode on top.
    unsafe fn run(&mut self, state: *mut ffi::lua_State) -> LibResult<()> {
        let mut open: Vec<Writing> = Vec::new();
        loop {
            // The value to write is on top of the stack.
            if ffi::lua_type(state, -1) == ffi::LUA_TTABLE {
                let depth = open.len() + 1;
                if depth > self.cfg.encode_max_depth as usize || ffi::lua_checkstack(state, 3) == 0
                {
                    return Err(Raise::Msg(format!(
                        "Cannot serialise, excessive nesting ({depth})"
                    )));
                }
                match self.array_length(state)? {
                    Some(len) if len > 0 => {
                        self.out.push(b'[');
                        open.push(Writing::Array { len, next: 1 });
                    }
                    _ => {
                        self.out.push(b'{');
                        open.push(Writing::Object { first: true });
                        ffi::lua_pushnil(state);
                    }
                }
            } else {
                self.scalar(state)?;
                if !open.is_empty() {
                    ffi::lua_pop(state, 1);
                }
            }
            // Put the next value to write on top, closing finished tables.
            loop {
                match open.last_mut() {
                    None => return Ok(()),
                    Some(Writing::Array { len, next }) => {
                        if *next > *len {
                            self.out.push(b']');
                        } else {
                            if *next > 1 {
                                self.out.push(b',');
                            }
                            ffi::lua_rawgeti(state, -1, (*next).into());
                            *next += 1;
                            break;
                        }
                    }
                    Some(Writing::Object { first }) => {
                        if ffi::lua_next(state, -2) == 0 {
                            self.out.push(b'}');
                        } else {
                            if !*first {
                                self.out.push(b',');
                            }
                            *first = false;
                            match ffi::lua_type(state, -2) {
                                ffi::LUA_TNUMBER => {
                                    self.out.push(b'"');
                                    self.number(state, -2)?;
                                    self.out.extend_from_slice(b"\":");
                                }
                                ffi::LUA_TSTRING => {
                                    append_string(self.out, stack_bytes(state, -2));
                                    self.out.push(b':');
                                }
                                _ => {
                                    return Err(cannot(
                                        state,
                                        -2,
                                        "table key must be a number or string",
                                    ))
                                }
                            }
                            break;
                        }
                    }
                }
                // A table finished: the parent pops it.
                open.pop();
                if !open.is_empty() {
                    ffi::lua_pop(state, 1);
                }
            }
        }
    }

    /// # Safety
    /// A non-table value must be on top of the stack.
    unsafe fn scalar(&mut self, state: *mut ffi::lua_State) -> LibResult<()> {
        match ffi::lua_type(state, -1) {
            ffi::LUA_TSTRING => append_string(self.out, stack_bytes(state, -1)),
            ffi::LUA_TNUMBER => self.number(state, -1)?,
            ffi::LUA_TBOOLEAN => {
                if ffi::lua_toboolean(state, -1) != 0 {
                    self.out.extend_from_slice(b"true");
                } else {
                    self.out.extend_from_slice(b"false");
                }
            }
            ffi::LUA_TNIL => self.out.extend_from_slice(b"null"),
            ffi::LUA_TLIGHTUSERDATA if ffi::lua_touserdata(state, -1).is_null() => {
                self.out.extend_from_slice(b"null")
            }
            _ => return Err(cannot(state, -1, "type not supported")),
        }
        Ok(())
    }

    /// # Safety
    /// A number must be at `idx`.
    unsafe fn number(&mut self, state: *mut ffi::lua_State, idx: c_int) -> LibResult<()> {
        let n = ffi::lua_tonumber(state, idx);
        match self.cfg.encode_invalid_numbers {
            0 if !n.is_finite() => return Err(cannot(state, idx, "must not be NaN or Inf")),
            1 if n.is_nan() => {
                self.out.extend_from_slice(b"nan");
                return Ok(());
            }
            2 if !n.is_finite() => {
                self.out.extend_from_slice(b"null");
                return Ok(());
            }
            _ => {}
        }
        self.out
            .extend_from_slice(format_g(n, self.cfg.precision as usize).as_bytes());
        Ok(())
    }

    /// `lua_array_length`: `Some(max key)` when every key is a positive
    /// integral number, `None` for an object. Excessively sparse arrays
    /// are an error, or objects when `encode_sparse_array` converts them.
    ///
    /// # Safety
    /// A table must be on top of the stack, with 2 free slots.
    unsafe fn array_length(&self, state: *mut ffi::lua_State) -> LibResult<Option<i32>> {
        let mut max: i32 = 0;
        let mut items: i32 = 0;
        ffi::lua_pushnil(state);
        while ffi::lua_next(state, -2) != 0 {
            let k = ffi::lua_tonumber(state, -2);
            if ffi::lua_type(state, -2) == ffi::LUA_TNUMBER
                && k != 0.0
                && k.floor() == k
                && k >= 1.0
            {
                if k > f64::from(max) {
                    max = c_double_to_i32(k);
                }
                items = items.wrapping_add(1);
                ffi::lua_pop(state, 1);
                continue;
            }
            ffi::lua_pop(state, 2);
            return Ok(None);
        }
        let c = self.cfg;
        if c.sparse_ratio > 0 && max > items.wrapping_mul(c.sparse_ratio) && max > c.sparse_safe {
            if !c.sparse_convert {
                return Err(cannot(state, -1, "excessively sparse array"));
            }
            return Ok(None);
        }
        Ok(Some(max))
    }
}

fn append_string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\x08' => out.extend_from_slice(b"\\b"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\x0c' => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0..=0x1f | 0x7f => {
                out.extend_from_slice(format!("\\u{c:04x}").as_bytes());
            }
            _ => out.push(c),
        }
    }
    out.push(b'"');
}

/// C's `%.<prec>g`.
pub(crate) fn format_g(n: f64, prec: usize) -> String {
    if n.is_nan() {
        return if n.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    if n.is_infinite() {
        return if n < 0.0 { "-inf" } else { "inf" }.into();
    }
    let prec = prec.max(1);
    if n == 0.0 {
        return if n.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let e = format!("{:.*e}", prec - 1, n);
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= prec as i32 {
        let mantissa = trim_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.unsigned_abs())
    } else {
        let decimals = (prec as i32 - 1 - exp).max(0) as usize;
        trim_zeros(&format!("{n:.decimals$}")).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

// ---- decoding --------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tok {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    String,
    Number,
    Boolean,
    Null,
    Colon,
    Comma,
    End,
    Error,
}

impl Tok {
    fn name(self) -> &'static str {
        match self {
            Tok::ObjBegin => "T_OBJ_BEGIN",
            Tok::ObjEnd => "T_OBJ_END",
            Tok::ArrBegin => "T_ARR_BEGIN",
            Tok::ArrEnd => "T_ARR_END",
            Tok::String => "T_STRING",
            Tok::Number => "T_NUMBER",
            Tok::Boolean => "T_BOOLEAN",
            Tok::Null => "T_NULL",
            Tok::Colon => "T_COLON",
            Tok::Comma => "T_COMMA",
            Tok::End => "T_END",
            Tok::Error => "T_ERROR",
        }
    }
}

/// One token: its type, 0-based position, and payload.
struct Token {
    kind: Tok,
    index: usize,
    string: Vec<u8>,
    number: f64,
    boolean: bool,
    error: &'static str,
}

struct Parser<'a> {
    data: &'a [u8],
    pos: usize,
    decode_invalid_numbers: bool,
}

impl Parser<'_> {
    /// The byte at `i`; the C parser reads a NUL-terminated string, so
    /// the end reads as 0.
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    fn starts_with(&self, s: &[u8]) -> bool {
        self.data.get(self.pos..).is_some_and(|d| d.starts_with(s))
    }

    fn token(&mut self) -> Token {
        while matches!(self.at(self.pos), b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        let mut t = Token {
            kind: Tok::Error,
            index: self.pos,
            string: Vec::new(),
            number: 0.0,
            boolean: false,
            error: "invalid token",
        };
        let ch = self.at(self.pos);
        let single = match ch {
            b'{' => Some(Tok::ObjBegin),
            b'}' => Some(Tok::ObjEnd),
            b'[' => Some(Tok::ArrBegin),
            b']' => Some(Tok::ArrEnd),
            b':' => Some(Tok::Colon),
            b',' => Some(Tok::Comma),
            _ => None,
        };
        if let Some(kind) = single {
            t.kind = kind;
            self.pos += 1;
            return t;
        }
        match ch {
            0 => t.kind = Tok::End,
            b'"' => self.string(&mut t),
            b'-' | b'0'..=b'9' => {
                if !self.decode_invalid_numbers && self.is_invalid_number() {
                    self.set_error(&mut t, "invalid number");
                } else {
                    self.number(&mut t);
                }
            }
            b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'+' => {
                if self.starts_with(b"true") {
                    t.kind = Tok::Boolean;
                    t.boolean = true;
                    self.pos += 4;
                } else if self.starts_with(b"false") {
                    t.kind = Tok::Boolean;
                    self.pos += 5;
                } else if self.starts_with(b"null") {
                    t.kind = Tok::Null;
                    self.pos += 4;
                } else if self.decode_invalid_numbers && self.is_invalid_number() {
                    self.number(&mut t);
                } else {
                    self.set_error(&mut t, "invalid token");
                }
            }
            _ => {}
        }
        t
    }

    fn set_error(&self, t: &mut Token, what: &'static str) {
        t.kind = Tok::Error;
        t.index = self.pos;
        t.error = what;
    }

    /// `json_is_invalid_number`: numbers JSON forbids but strtod reads
    /// (leading '+', hex, leading zeros, inf, nan).
    fn is_invalid_number(&self) -> bool {
        let mut p = self.pos;
        if self.at(p) == b'+' {
            return true;
        }
        if self.at(p) == b'-' {
            p += 1;
        }
        let c = self.at(p);
        if c == b'0' {
            let c2 = self.at(p + 1);
            return c2 | 0x20 == b'x' || c2.is_ascii_digit();
        }
        // Bytes >= 0x80 are negative chars in C, so they compare <= '9'.
        if c <= b'9' || c >= 0x80 {
            return false;
        }
        let rest = self.data.get(p..).unwrap_or_default();
        let ci = |w: &[u8]| rest.len() >= 3 && rest[..3].eq_ignore_ascii_case(w);
        ci(b"inf") || ci(b"nan")
    }

    fn number(&mut self, t: &mut Token) {
        match strtod(self.data.get(self.pos..).unwrap_or_default()) {
            Some((n, used)) => {
                t.kind = Tok::Number;
                t.number = n;
                self.pos += used;
            }
            None => self.set_error(t, "invalid number"),
        }
    }

    fn string(&mut self, t: &mut Token) {
        self.pos += 1;
        let mut buf = Vec::new();
        loop {
            let ch = self.at(self.pos);
            if ch == b'"' {
                break;
            }
            if ch == 0 {
                return self.set_error(t, "unexpected end of string");
            }
            if ch == b'\\' {
                let esc = match self.at(self.pos + 1) {
                    b'"' => b'"',
                    b'\\' => b'\\',
                    b'/' => b'/',
                    b'b' => 8,
                    b'f' => 12,
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'u' => {
                        if self.unicode_escape(&mut buf) {
                            continue;
                        }
                        return self.set_error(t, "invalid unicode escape code");
                    }
                    _ => return self.set_error(t, "invalid escape code"),
                };
                buf.push(esc);
                self.pos += 2;
                continue;
            }
            buf.push(ch);
            self.pos += 1;
        }
        self.pos += 1;
        t.kind = Tok::String;
        t.string = buf;
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let mut v = 0;
        for i in 0..4 {
            let d = char::from(self.at(at + i)).to_digit(16)?;
            v = (v << 4) | d;
        }
        Some(v)
    }

    /// `\uXXXX`, with a following low surrogate for a high one; appends
    /// UTF-8 and advances, or returns false for an invalid escape.
    fn unicode_escape(&mut self, buf: &mut Vec<u8>) -> bool {
        let Some(mut cp) = self.hex4(self.pos + 2) else {
            return false;
        };
        let mut len = 6;
        if cp & 0xF800 == 0xD800 {
            if cp & 0x400 != 0 || self.at(self.pos + 6) != b'\\' || self.at(self.pos + 7) != b'u' {
                return false;
            }
            let Some(low) = self.hex4(self.pos + 8) else {
                return false;
            };
            if low & 0xFC00 != 0xDC00 {
                return false;
            }
            cp = (((cp & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            len = 12;
        }
        // Encode by hand: lone low surrogates are written as the C code
        // writes them (3 bytes), which char::encode_utf8 cannot do.
        match cp {
            0..=0x7F => buf.push(cp as u8),
            0x80..=0x7FF => {
                buf.extend_from_slice(&[0xC0 | (cp >> 6) as u8, 0x80 | (cp & 0x3F) as u8])
            }
            0x800..=0xFFFF => buf.extend_from_slice(&[
                0xE0 | (cp >> 12) as u8,
                0x80 | ((cp >> 6) & 0x3F) as u8,
                0x80 | (cp & 0x3F) as u8,
            ]),
            _ => buf.extend_from_slice(&[
                0xF0 | (cp >> 18) as u8,
                0x80 | ((cp >> 12) & 0x3F) as u8,
                0x80 | ((cp >> 6) & 0x3F) as u8,
                0x80 | (cp & 0x3F) as u8,
            ]),
        }
        self.pos += len;
        true
    }
}

/// C's `strtod` in the "C" locale: the value and the bytes used, or None
/// when no number starts `s`.
fn strtod(s: &[u8]) -> Option<(f64, usize)> {
    let mut i = 0;
    let neg = match s.first() {
        Some(b'-') => {
            i = 1;
            true
        }
        Some(b'+') => {
            i = 1;
            false
        }
        _ => false,
    };
    let sign = |v: f64| if neg { -v } else { v };
    let rest = &s[i..];
    let ci = |w: &[u8]| rest.len() >= w.len() && rest[..w.len()].eq_ignore_ascii_case(w);
    if ci(b"infinity") {
        return Some((sign(f64::INFINITY), i + 8));
    }
    if ci(b"inf") {
        return Some((sign(f64::INFINITY), i + 3));
    }
    if ci(b"nan") {
        let mut used = i + 3;
        if s.get(used) == Some(&b'(') {
            let close = s[used + 1..]
                .iter()
                .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'));
            if let Some(p) = close {
                if s[used + 1 + p] == b')' {
                    used += p + 2;
                }
            }
        }
        return Some((sign(f64::NAN), used));
    }
    if rest.len() > 2 && rest[0] == b'0' && rest[1] | 0x20 == b'x' {
        if let Some((v, used)) = hex_float(&rest[2..]) {
            return Some((sign(v), i + 2 + used));
        }
    }
    let digits = |from: usize| s[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let int = digits(i);
    let mut end = i + int;
    let mut frac = 0;
    if s.get(end) == Some(&b'.') {
        frac = digits(end + 1);
        if int > 0 || frac > 0 {
            end += 1 + frac;
        }
    }
    if int == 0 && frac == 0 {
        return None;
    }
    if matches!(s.get(end), Some(b'e' | b'E')) {
        let mut e = end + 1;
        if matches!(s.get(e), Some(b'+' | b'-')) {
            e += 1;
        }
        let n = digits(e);
        if n > 0 {
            end = e + n;
        }
    }
    let text = std::str::from_utf8(&s[i..end]).ok()?;
    let v: f64 = text.parse().ok()?;
    Some((sign(v), end))
}

/// The part of a hex float after "0x": digits, optional fraction and
/// binary exponent.
fn hex_float(s: &[u8]) -> Option<(f64, usize)> {
    let mut v = 0.0f64;
    let mut i = 0;
    let mut any = false;
    let mut scale = 0i32;
    while let Some(d) = s.get(i).and_then(|c| char::from(*c).to_digit(16)) {
        v = v * 16.0 + f64::from(d);
        any = true;
        i += 1;
    }
    if s.get(i) == Some(&b'.') {
        let mut j = i + 1;
        let mut frac_any = false;
        while let Some(d) = s.get(j).and_then(|c| char::from(*c).to_digit(16)) {
            v = v * 16.0 + f64::from(d);
            scale -= 4;
            frac_any = true;
            j += 1;
        }
        if any || frac_any {
            any = true;
            i = j;
        }
    }
    if !any {
        return None;
    }
    if matches!(s.get(i), Some(b'p' | b'P')) {
        let mut e = i + 1;
        let neg = match s.get(e) {
            Some(b'-') => {
                e += 1;
                true
            }
            Some(b'+') => {
                e += 1;
                false
            }
            _ => false,
        };
        let start = e;
        let mut exp: i32 = 0;
        while let Some(d) = s.get(e).filter(|c| c.is_ascii_digit()) {
            exp = exp.saturating_mul(10).saturating_add(i32::from(d - b'0'));
            e += 1;
        }
        if e > start {
            scale = scale.saturating_add(if neg { -exp } else { exp });
            i = e;
        }
    }
    Some((v * 2f64.powi(scale), i))
}

/// A container being filled while decoding (the table is on the Lua
/// stack, an object's pending key above it).
enum Filling {
    Array { next: i32 },
    Object,
}

fn decode(lua: &Lua, cfg: &Cfg, args: Args) -> LibResult<MultiValue> {
    if args.len() != 1 {
        return Err(Raise::Arg(1, "expected 1 argument".into()));
    }
    let (max_depth, invalid) = {
        let c = cfg.lock();
        (c.decode_max_depth as usize, c.decode_invalid_numbers)
    };
    let data = args.check_bytes(1)?;
    if data.len() >= 2 && (data[0] == 0 || data[1] == 0) {
        return Err(Raise::Msg(
            "JSON parser does not support UTF-16 or UTF-32".into(),
        ));
    }
    let mut p = Parser {
        data: &data,
        pos: 0,
        decode_invalid_numbers: invalid,
    };
    let arg = args.get(1).cloned().unwrap_or(Value::Nil);
    on_stack(lua, MultiValue::from_iter([arg]), |state| {
        // SAFETY: the parser pushes the decoded value and nothing else.
        unsafe { parse(state, &mut p, max_depth) }?;
        Ok(1)
    })
}

/// "Expected <exp> but found <token> at character <n>".
fn parse_error(exp: &str, t: &Token) -> Raise {
    let found = if t.kind == Tok::Error {
        t.error
    } else {
        t.kind.name()
    };
    Raise::Msg(format!(
        "Expected {exp} but found {found} at character {}",
        t.index + 1
    ))
}

/// Starts a value: pushes a scalar (true), or opens a table (false).
///
/// # Safety
/// Pushes one value.
unsafe fn begin(
    state: *mut ffi::lua_State,
    p: &Parser,
    open: &mut Vec<Filling>,
    max_depth: usize,
    t: Token,
) -> LibResult<bool> {
    let (slots, array) = match t.kind {
        Tok::String => {
            ffi::lua_pushlstring(state, t.string.as_ptr() as *const c_char, t.string.len());
            return Ok(true);
        }
        Tok::Number => {
            ffi::lua_pushnumber(state, t.number);
            return Ok(true);
        }
        Tok::Boolean => {
            ffi::lua_pushboolean(state, c_int::from(t.boolean));
            return Ok(true);
        }
        Tok::Null => {
            ffi::lua_pushlightuserdata(state, std::ptr::null_mut());
            return Ok(true);
        }
        Tok::ObjBegin => (3, false),
        Tok::ArrBegin => (2, true),
        _ => return Err(parse_error("value", &t)),
    };
    let depth = open.len() + 1;
    if depth > max_depth || ffi::lua_checkstack(state, slots) == 0 {
        return Err(Raise::Msg(format!(
            "Found too many nested data structures ({depth}) at character {}",
            p.pos
        )));
    }
    ffi::lua_newtable(state);
    open.push(if array {
        Filling::Array { next: 1 }
    } else {
        Filling::Object
    });
    Ok(false)
}

/// Reads an object key and its colon, pushes the key, and starts the
/// value.
///
/// # Safety
/// Pushes the key and the value's first slot.
unsafe fn object_entry(
    state: *mut ffi::lua_State,
    p: &mut Parser,
    open: &mut Vec<Filling>,
    max_depth: usize,
    t: Token,
) -> LibResult<bool> {
    if t.kind != Tok::String {
        return Err(parse_error("object key string", &t));
    }
    ffi::lua_pushlstring(state, t.string.as_ptr() as *const c_char, t.string.len());
    let colon = p.token();
    if colon.kind != Tok::Colon {
        return Err(parse_error("colon", &colon));
    }
    let t = p.token();
    begin(state, p, open, max_depth, t)
}

/// Parses the whole input, leaving the value on the stack; tables nest
/// with an explicit stack, using the Lua stack as the C parser does.
///
/// # Safety
/// Pushes one value on success.
unsafe fn parse(state: *mut ffi::lua_State, p: &mut Parser, max_depth: usize) -> LibResult<()> {
    let mut open: Vec<Filling> = Vec::new();
    let first = p.token();
    // `done`: the value on top is complete; otherwise a table was just
    // opened and its first entry (or end) comes next.
    let mut done = begin(state, p, &mut open, max_depth, first)?;
    loop {
        if !done {
            let t = p.token();
            done = match open.last() {
                Some(Filling::Array { .. }) if t.kind == Tok::ArrEnd => {
                    open.pop();
                    true
                }
                Some(Filling::Object) if t.kind == Tok::ObjEnd => {
                    open.pop();
                    true
                }
                Some(Filling::Array { .. }) => begin(state, p, &mut open, max_depth, t)?,
                _ => object_entry(state, p, &mut open, max_depth, t)?,
            };
            continue;
        }
        let (closes, what) = match open.last_mut() {
            None => {
                let t = p.token();
                if t.kind != Tok::End {
                    return Err(parse_error("the end", &t));
                }
                return Ok(());
            }
            Some(Filling::Array { next }) => {
                ffi::lua_rawseti(state, -2, (*next).into());
                *next += 1;
                (Tok::ArrEnd, "comma or array end")
            }
            Some(Filling::Object) => {
                ffi::lua_rawset(state, -3);
                (Tok::ObjEnd, "comma or object end")
            }
        };
        let t = p.token();
        if t.kind == closes {
            open.pop();
            continue;
        }
        if t.kind != Tok::Comma {
            return Err(parse_error(what, &t));
        }
        let t = p.token();
        done = match open.last() {
            Some(Filling::Array { .. }) => begin(state, p, &mut open, max_depth, t)?,
            _ => object_entry(state, p, &mut open, max_depth, t)?,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{error_of, eval, vm};
    use super::format_g;

    #[test]
    fn percent_g() {
        let cases = [
            (1.5, "1.5"),
            (0.1, "0.1"),
            (1e20, "1e+20"),
            (1e15, "1e+15"),
            (123456789012345678.0, "1.2345678901235e+17"),
            (-0.0, "-0"),
            (1.0 / 3.0, "0.33333333333333"),
            (9007199254740992.0, "9.007199254741e+15"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (100.0, "100"),
            (99999999999999.9, "1e+14"),
            (999999999999999.9, "1e+15"),
        ];
        for (n, want) in cases {
            assert_eq!(format_g(n, 14), want, "{n}");
        }
        assert_eq!(format_g(1.23456, 3), "1.23");
    }

    #[test]
    fn encode() {
        let lua = vm();
        let cases = [
            ("return cjson.encode({1, 2, 3})", "[1,2,3]"),
            ("return cjson.encode({})", "{}"),
            ("return cjson.encode({a = {b = 'c'}})", r#"{"a":{"b":"c"}}"#),
            ("return cjson.encode({[1] = 1, [3] = 2})", "[1,null,2]"),
            ("return cjson.encode({[0] = 1})", r#"{"0":1}"#),
            ("return cjson.encode({[1.5] = 1})", r#"{"1.5":1}"#),
            ("return cjson.encode(cjson.null)", "null"),
            ("return cjson.encode(nil)", "null"),
            ("return cjson.encode(true)", "true"),
            (
                "return cjson.encode('a\"\\\\/\\n\\1\\127')",
                "\"a\\\"\\\\\\/\\n\\u0001\\u007f\"",
            ),
            (
                "return cjson.encode({[1] = 1, [2] = 2, [10] = 3})",
                "[1,2,null,null,null,null,null,null,null,3]",
            ),
            (
                "cjson.encode_sparse_array(true) local s = cjson.encode({[1] = 1, [100] = 2}) \
                 cjson.encode_sparse_array(false) return s",
                "",
            ),
            (
                "cjson.encode_number_precision(3) local s = cjson.encode(3.14159) \
                 cjson.encode_number_precision(14) return s",
                "3.14",
            ),
            (
                "cjson.encode_invalid_numbers('null') local s = cjson.encode({1/0}) \
                 cjson.encode_invalid_numbers(false) return s",
                "[null]",
            ),
            (
                "cjson.encode_invalid_numbers(true) local s = cjson.encode({1/0, -1/0}) \
                 cjson.encode_invalid_numbers(false) return s",
                "[inf,-inf]",
            ),
            ("return cjson.encode_invalid_numbers()", "false"),
            ("return cjson.encode_max_depth()", "1000"),
            ("return select('#', cjson.encode_sparse_array())", "3"),
            (
                "local c = cjson.new() c.encode_max_depth(5) return cjson.encode_max_depth()",
                "1000",
            ),
        ];
        for (code, want) in cases {
            let got = eval(&lua, code);
            if want.is_empty() {
                // Object order depends on the hash; check the shape only.
                assert!(
                    got.starts_with('{') && got.contains("\"100\":2"),
                    "{code}: {got}"
                );
            } else {
                assert_eq!(got, want, "{code}");
            }
        }
    }

    #[test]
    fn decode() {
        let lua = vm();
        let cases = [
            ("return cjson.decode('[1,2,3]')[3]", "3"),
            (
                "return cjson.decode('{\"a\":{\"b\":[true]}}').a.b[1]",
                "true",
            ),
            (
                "return cjson.decode(' \"x\\\\u00e9\\\\ud83d\\\\ude00\" ')",
                "x\u{e9}\u{1f600}",
            ),
            ("return cjson.decode('null') == cjson.null", "true"),
            ("return cjson.decode('[null]')[1] == cjson.null", "true"),
            ("return cjson.decode('1e2')", "100"),
            ("return cjson.decode('-0.5')", "-0.5"),
            ("return cjson.decode('+1')", "1"),
            ("return cjson.decode('0x10')", "16"),
            ("return cjson.decode('Infinity')", "inf"),
            ("return cjson.decode('\"\\\\/\\\\b\\\\t\"')", "/\u{8}\t"),
            (
                "return #cjson.decode('[' .. string.rep('[', 998) .. string.rep(']', 999))",
                "1",
            ),
            (
                "local t = {} for i = 1, 20000 do t['k' .. i] = {i} end \
                 local u = cjson.decode(cjson.encode(t)) return u.k77[1] + u.k20000[1]",
                "20077",
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
                "return cjson.encode(function() end)",
                "user_script:1: Cannot serialise function: type not supported",
            ),
            (
                "return cjson.encode({[1] = 1, [2] = 2, [100] = 3})",
                "user_script:1: Cannot serialise table: excessively sparse array",
            ),
            (
                "return cjson.encode({[true] = 1})",
                "user_script:1: Cannot serialise boolean: table key must be a number or string",
            ),
            (
                "return cjson.encode(0/0)",
                "user_script:1: Cannot serialise number: must not be NaN or Inf",
            ),
            (
                "local t = {} t[1] = t return cjson.encode(t)",
                "user_script:1: Cannot serialise, excessive nesting (1001)",
            ),
            (
                "return cjson.encode()",
                "user_script:1: bad argument #1 to 'encode' (expected 1 argument)",
            ),
            (
                "return cjson.decode('[1,')",
                "user_script:1: Expected value but found T_END at character 4",
            ),
            (
                "return cjson.decode('{1:2}')",
                "user_script:1: Expected object key string but found T_NUMBER at character 2",
            ),
            (
                "return cjson.decode('{\"a\" 2}')",
                "user_script:1: Expected colon but found T_NUMBER at character 6",
            ),
            (
                "return cjson.decode('[1 2]')",
                "user_script:1: Expected comma or array end but found T_NUMBER at character 4",
            ),
            (
                "return cjson.decode('\"abc')",
                "user_script:1: Expected value but found unexpected end of string at character 5",
            ),
            (
                "return cjson.decode('\"\\\\q\"')",
                "user_script:1: Expected value but found invalid escape code at character 2",
            ),
            (
                "return cjson.decode('\"\\\\ud800\"')",
                "user_script:1: Expected value but found invalid unicode escape code at character 2",
            ),
            (
                "return cjson.decode('1 2')",
                "user_script:1: Expected the end but found T_NUMBER at character 3",
            ),
            (
                "return cjson.decode('tru')",
                "user_script:1: Expected value but found invalid token at character 1",
            ),
            (
                "return cjson.decode(string.rep('[', 1001))",
                "user_script:1: Found too many nested data structures (1001) at character 1001",
            ),
            (
                "return cjson.decode('\"\\0')",
                "user_script:1: JSON parser does not support UTF-16 or UTF-32",
            ),
            (
                "return cjson.encode_number_precision(15)",
                "user_script:1: bad argument #1 to 'encode_number_precision' \
                 (expected integer between 1 and 14)",
            ),
            (
                "return cjson.encode_keep_buffer('x')",
                "user_script:1: bad argument #1 to 'encode_keep_buffer' (invalid option 'x')",
            ),
            (
                "return cjson.encode_invalid_numbers(1, 2)",
                "user_script:1: bad argument #2 to 'encode_invalid_numbers' (found too many arguments)",
            ),
        ];
        for (code, want) in cases {
            assert_eq!(error_of(&lua, code), want, "{code}");
        }
    }
}
