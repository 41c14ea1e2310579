//! Conversions between RESP replies and Lua values, following Redis's
//! rules: a command's reply becomes a Lua value for `redis.call`, and the
//! value a script returns becomes the caller's reply.

use mlua::{Lua, Table, Value};

use crate::protocol::reply::Reply;
use crate::util::num::{format_g17, parse_i64};

/// Deepest table nesting converted into a reply (Redis stops at the Lua
/// stack limit; a self-referencing table must not recurse forever).
const MAX_DEPTH: usize = 200;

/// Turns an error reply line (without `-`) into the `err` string Redis
/// stores in error tables: the code is kept, `ERR` added when missing.
pub fn error_text(line: &[u8]) -> Vec<u8> {
    let line = trim_crlf(line);
    match line.iter().position(|&c| c == b' ') {
        Some(_) => line.to_vec(),
        None => {
            let mut s = b"ERR ".to_vec();
            s.extend_from_slice(line);
            s
        }
    }
}

fn trim_crlf(mut s: &[u8]) -> &[u8] {
    while let [rest @ .., b'\r' | b'\n'] = s {
        s = rest;
    }
    while let [b'\r' | b'\n', rest @ ..] = s {
        s = rest;
    }
    s
}

/// A table with one field, the shape Redis uses for status, error,
/// double, big number, map and set replies.
fn single(lua: &Lua, field: &str, v: impl mlua::IntoLua) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(0, 1)?;
    t.raw_set(field, v)?;
    Ok(Value::Table(t))
}

/// Parses one RESP reply from `buf` at `*pos` into a Lua value.
pub fn reply_to_lua(lua: &Lua, buf: &[u8], pos: &mut usize) -> mlua::Result<Value> {
    let line_end = buf[*pos..]
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|i| *pos + i)
        .ok_or_else(|| mlua::Error::runtime("truncated reply"))?;
    let kind = buf[*pos];
    let line = &buf[*pos + 1..line_end];
    *pos = line_end + 2;
    let num = || parse_i64(line).unwrap_or(0);
    match kind {
        b'+' => single(lua, "ok", lua.create_string(line)?),
        b'-' => {
            let t = lua.create_table_with_capacity(0, 2)?;
            t.raw_set("err", lua.create_string(error_text(line))?)?;
            // The failed command counted this error already.
            t.raw_set("ignore_error_stats_update", true)?;
            Ok(Value::Table(t))
        }
        b':' => Ok(Value::Number(num() as f64)),
        b'$' | b'=' => {
            let n = num();
            if n < 0 {
                return Ok(Value::Boolean(false));
            }
            let data = &buf[*pos..*pos + n as usize];
            *pos += n as usize + 2;
            if kind == b'$' {
                return Ok(Value::String(lua.create_string(data)?));
            }
            let (format, text) = data.split_at(data.len().min(4));
            let t = lua.create_table()?;
            t.raw_set("format", lua.create_string(&format[..format.len().min(3)])?)?;
            t.raw_set("string", lua.create_string(text)?)?;
            single(lua, "verbatim_string", t)
        }
        b'*' | b'>' => {
            let n = num();
            if n < 0 {
                return Ok(Value::Boolean(false));
            }
            let t = lua.create_table_with_capacity(n as usize, 0)?;
            for i in 1..=n {
                let v = reply_to_lua(lua, buf, pos)?;
                t.raw_set(i, v)?;
            }
            Ok(Value::Table(t))
        }
        b'%' => {
            let t = lua.create_table()?;
            for _ in 0..num() {
                let k = reply_to_lua(lua, buf, pos)?;
                let v = reply_to_lua(lua, buf, pos)?;
                t.raw_set(k, v)?;
            }
            single(lua, "map", t)
        }
        b'~' => {
            let t = lua.create_table()?;
            for _ in 0..num() {
                let k = reply_to_lua(lua, buf, pos)?;
                t.raw_set(k, true)?;
            }
            single(lua, "set", t)
        }
        b'|' => {
            // Attributes are not exposed to scripts: skip them.
            for _ in 0..num() * 2 {
                reply_to_lua(lua, buf, pos)?;
            }
            reply_to_lua(lua, buf, pos)
        }
        b'_' => Ok(Value::Nil),
        b'#' => Ok(Value::Boolean(line == b"t")),
        b',' => {
            let text = std::str::from_utf8(line).unwrap_or("0");
            let d = match text {
                "inf" => f64::INFINITY,
                "-inf" => f64::NEG_INFINITY,
                t => t.parse().unwrap_or(f64::NAN),
            };
            single(lua, "double", d)
        }
        b'(' => single(lua, "big_number", lua.create_string(line)?),
        _ => Err(mlua::Error::runtime("unknown reply type")),
    }
}

/// Error replies written inside a script's result, for the statistics:
/// each with whether a failed command already counted it.
pub type NestedErrors = Vec<(Vec<u8>, bool)>;

/// Writes `v`, a script's result, as the caller's reply. `script_resp3`
/// is the protocol the script selected with `redis.setresp` (it decides
/// how booleans are answered). Error replies inside arrays or maps are
/// collected in `errors`.
pub fn lua_to_reply(out: &mut Reply, v: &Value, script_resp3: bool, errors: &mut NestedErrors) {
    write_value(out, v, script_resp3, 0, errors);
}

/// C's `(long long)` cast as x86-64 performs it: out-of-range values and
/// NaN become `LLONG_MIN` (Rust's `as` would saturate instead).
fn c_long_long(n: f64) -> i64 {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if !(-LIMIT..LIMIT).contains(&n) {
        i64::MIN
    } else {
        n as i64
    }
}

fn replace_newlines(s: &[u8]) -> Vec<u8> {
    s.iter()
        .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c })
        .collect()
}

fn write_value(out: &mut Reply, v: &Value, resp3: bool, depth: usize, errors: &mut NestedErrors) {
    match v {
        Value::String(s) => out.bulk(&s.as_bytes()),
        Value::Boolean(b) => {
            if resp3 {
                out.boolean(*b);
            } else if *b {
                out.int(1);
            } else {
                out.null();
            }
        }
        Value::Integer(i) => out.int(*i),
        Value::Number(n) => out.int(c_long_long(*n)),
        Value::Table(t) => {
            if depth >= MAX_DEPTH {
                out.error("ERR reached lua stack limit");
                return;
            }
            write_table(out, t, resp3, depth, errors);
        }
        _ => out.null(),
    }
}

fn write_table(out: &mut Reply, t: &Table, resp3: bool, depth: usize, errors: &mut NestedErrors) {
    if let Ok(Value::String(err)) = t.raw_get::<Value>("err") {
        out.error_bytes(&err.as_bytes());
        let counted = matches!(
            t.raw_get::<Value>("ignore_error_stats_update"),
            Ok(Value::Boolean(true))
        );
        errors.push((err.as_bytes().to_vec(), counted));
        return;
    }
    if let Ok(Value::String(ok)) = t.raw_get::<Value>("ok") {
        out.simple(&replace_newlines(&ok.as_bytes()));
        return;
    }
    match t.raw_get::<Value>("double") {
        Ok(Value::Number(d)) => return out.double(d),
        Ok(Value::Integer(i)) => return out.double(i as f64),
        _ => {}
    }
    if let Ok(Value::String(n)) = t.raw_get::<Value>("big_number") {
        let n = replace_newlines(&n.as_bytes());
        if out.resp3 {
            out.buf.push(b'(');
            out.buf.extend_from_slice(&n);
            out.buf.extend_from_slice(b"\r\n");
        } else {
            out.bulk(&n);
        }
        return;
    }
    if let Ok(Value::Table(v)) = t.raw_get::<Value>("verbatim_string") {
        if let (Ok(Value::String(format)), Ok(Value::String(s))) =
            (v.raw_get::<Value>("format"), v.raw_get::<Value>("string"))
        {
            write_verbatim(out, &format.as_bytes(), &s.as_bytes());
            return;
        }
    }
    if let Ok(Value::Table(map)) = t.raw_get::<Value>("map") {
        let pairs: Vec<(Value, Value)> = map.pairs::<Value, Value>().flatten().collect();
        out.map(pairs.len());
        for (k, v) in &pairs {
            write_value(out, k, resp3, depth + 1, errors);
            write_value(out, v, resp3, depth + 1, errors);
        }
        return;
    }
    if let Ok(Value::Table(set)) = t.raw_get::<Value>("set") {
        let keys: Vec<Value> = set
            .pairs::<Value, Value>()
            .flatten()
            .map(|(k, _)| k)
            .collect();
        out.set(keys.len());
        for k in &keys {
            write_value(out, k, resp3, depth + 1, errors);
        }
        return;
    }
    // An array stops at the first nil, as Redis reads it.
    let mut items = Vec::new();
    for i in 1.. {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(v),
        }
    }
    out.array(items.len());
    for v in &items {
        write_value(out, v, resp3, depth + 1, errors);
    }
}

fn write_verbatim(out: &mut Reply, format: &[u8], s: &[u8]) {
    if !out.resp3 {
        out.bulk(s);
        return;
    }
    out.buf.push(b'=');
    let mut len = itoa::Buffer::new();
    out.buf
        .extend_from_slice(len.format(s.len() + 4).as_bytes());
    out.buf.extend_from_slice(b"\r\n");
    let mut fmt = [b' '; 3];
    for (slot, c) in fmt.iter_mut().zip(format) {
        *slot = *c;
    }
    out.buf.extend_from_slice(&fmt);
    out.buf.push(b':');
    out.buf.extend_from_slice(s);
    out.buf.extend_from_slice(b"\r\n");
}

/// A command argument from a Lua value: strings as they are, numbers in
/// `%.17g` form as Redis formats them; None for any other type.
pub fn lua_arg(v: &Value) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    push_lua_arg(v, &mut buf).then_some(buf)
}

/// Appends [`lua_arg`]'s bytes for `v` to `buf`; false (nothing appended)
/// for a type that is no valid argument. `redis.call` packs all its
/// arguments into one buffer this way instead of one allocation each.
pub fn push_lua_arg(v: &Value, buf: &mut Vec<u8>) -> bool {
    match v {
        Value::String(s) => buf.extend_from_slice(&s.as_bytes()),
        Value::Integer(i) => buf.extend_from_slice(format_g17(*i as f64).as_bytes()),
        // glibc prints the sign of a NaN (0/0 is negative on x86).
        Value::Number(n) if n.is_nan() && n.is_sign_negative() => buf.extend_from_slice(b"-nan"),
        Value::Number(n) => buf.extend_from_slice(format_g17(*n).as_bytes()),
        _ => return false,
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_text_adds_a_code_when_missing() {
        assert_eq!(error_text(b"WRONGTYPE bad\r\n"), b"WRONGTYPE bad");
        assert_eq!(error_text(b"NOCODE"), b"ERR NOCODE");
    }

    #[test]
    fn round_trips_nested_replies() {
        let lua = Lua::new();
        let buf = b"*3\r\n:5\r\n$-1\r\n*1\r\n+OK\r\n";
        let mut pos = 0;
        let v = reply_to_lua(&lua, buf, &mut pos).unwrap();
        assert_eq!(pos, buf.len());
        let mut out = Reply::new();
        let mut errors = Vec::new();
        lua_to_reply(&mut out, &v, false, &mut errors);
        assert!(errors.is_empty());
        // A null bulk becomes false, which goes back as a null bulk.
        assert_eq!(out.buf, b"*3\r\n:5\r\n$-1\r\n*1\r\n+OK\r\n");
    }
}
