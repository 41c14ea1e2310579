//! `struct`: Roberto Ierusalimschy's struct library as Redis bundles it
//! (`struct.pack`, `struct.unpack`, `struct.size`), on an x86-64 layout:
//! little-endian native order, `long` and `size_t` of 8 bytes, `int` of 4,
//! maximum alignment 8.

use mlua::{Lua, MultiValue, Table, Value};

use super::{c_double_to_i64, module_table, one, Args, LibResult, Raise, TWO_POW_63};

pub(crate) fn module(lua: &Lua) -> mlua::Result<Table> {
    module_table(lua, &[("pack", pack), ("unpack", unpack), ("size", size)])
}

/// Largest size of an `i`/`I` integer.
const MAXINTSIZE: i32 = 32;
/// Default `!` alignment: the alignment of a double.
const MAXALIGN: i32 = 8;

/// Byte order and alignment in effect while walking a format.
struct Header {
    little: bool,
    align: usize,
}

impl Header {
    fn new() -> Self {
        Header {
            little: true,
            align: 1,
        }
    }
}

/// A format string walked option by option; it ends at its first NUL, as
/// the C library reads it as a C string.
struct Format<'a> {
    fmt: &'a [u8],
    pos: usize,
}

impl<'a> Format<'a> {
    fn new(fmt: &'a [u8]) -> Self {
        let end = fmt.iter().position(|&c| c == 0).unwrap_or(fmt.len());
        Format {
            fmt: &fmt[..end],
            pos: 0,
        }
    }

    fn next_opt(&mut self) -> Option<u8> {
        let c = *self.fmt.get(self.pos)?;
        self.pos += 1;
        Some(c)
    }

    /// `getnum`: an optional decimal count after an option.
    fn num(&mut self, default: i32) -> LibResult<i32> {
        if !self.fmt.get(self.pos).is_some_and(u8::is_ascii_digit) {
            return Ok(default);
        }
        let mut a: i32 = 0;
        while let Some(&c) = self.fmt.get(self.pos).filter(|c| c.is_ascii_digit()) {
            let d = i32::from(c - b'0');
            if a > i32::MAX / 10 || a * 10 > i32::MAX - d {
                return Err(Raise::Msg("integral size overflow".into()));
            }
            a = a * 10 + d;
            self.pos += 1;
        }
        Ok(a)
    }

    /// `optsize`: the size of option `opt` (0 for options without data).
    fn size(&mut self, opt: u8) -> LibResult<usize> {
        Ok(match opt {
            b'B' | b'b' | b'x' => 1,
            b'H' | b'h' => 2,
            b'L' | b'l' | b'T' | b'd' => 8,
            b'f' => 4,
            b'c' => self.num(1)? as usize,
            b'i' | b'I' => {
                let sz = self.num(4)?;
                if sz > MAXINTSIZE {
                    return Err(Raise::Msg(format!(
                        "integral size {sz} is larger than limit of {MAXINTSIZE}"
                    )));
                }
                sz as usize
            }
            _ => 0,
        })
    }

    /// `controloptions`: handles the options that carry no data.
    fn control(&mut self, opt: u8, h: &mut Header) -> LibResult<()> {
        match opt {
            b' ' => {}
            b'>' => h.little = false,
            b'<' => h.little = true,
            b'!' => {
                let a = self.num(MAXALIGN)?;
                if a <= 0 || a & (a - 1) != 0 {
                    return Err(Raise::Msg(format!("alignment {a} is not a power of 2")));
                }
                h.align = a as usize;
            }
            _ => {
                return Err(Raise::Arg(
                    1,
                    format!("invalid format option '{}'", char::from(opt)),
                ))
            }
        }
        Ok(())
    }
}

/// `gettoalign`: padding needed before an item of `size` at `len`.
fn to_align(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    (size.wrapping_sub(len & size.wrapping_sub(1))) & size.wrapping_sub(1)
}

fn is_int_opt(opt: u8) -> bool {
    matches!(
        opt,
        b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I'
    )
}

/// C's `(unsigned long)d` as gcc compiles it on x86-64.
fn c_double_to_u64(d: f64) -> u64 {
    if d < TWO_POW_63 {
        c_double_to_i64(d) as u64
    } else {
        (c_double_to_i64(d - TWO_POW_63) as u64) ^ (1 << 63)
    }
}

/// The values of an argument list as laid out on the C library's stack:
/// the arguments, then the nil mark `b_pack` pushes, then nothing.
fn pack_arg<'a>(args: &'a Args, i: usize) -> (Option<&'a Value>, bool) {
    if i <= args.len() {
        (args.get(i), false)
    } else {
        (None, i == args.len() + 1)
    }
}

/// `luaL_checknumber` on `b_pack`'s stack, where the slot after the last
/// argument holds the nil mark (so a missing first value is "got nil").
fn pack_number(args: &Args, i: usize) -> LibResult<f64> {
    match pack_arg(args, i) {
        (Some(_), _) => args.check_number(i),
        (None, true) => Err(Raise::Arg(i as i64, "number expected, got nil".into())),
        (None, false) => Err(args.type_error(i, "number")),
    }
}

fn pack_bytes(args: &Args, i: usize) -> LibResult<Vec<u8>> {
    match pack_arg(args, i) {
        (Some(_), _) => args.check_bytes(i),
        (None, true) => Err(Raise::Arg(i as i64, "string expected, got nil".into())),
        (None, false) => Err(args.type_error(i, "string")),
    }
}

fn pack(lua: &Lua, a: MultiValue) -> LibResult<MultiValue> {
    let args = Args::new(lua, a);
    let fmt_bytes = args.check_bytes(1)?;
    let mut fmt = Format::new(&fmt_bytes);
    let mut h = Header::new();
    let mut arg = 2;
    let mut out: Vec<u8> = Vec::new();
    while let Some(opt) = fmt.next_opt() {
        let mut size = fmt.size(opt)?;
        let pad = to_align(out.len(), &h, opt, size);
        out.resize(out.len() + pad, 0);
        match opt {
            _ if is_int_opt(opt) => {
                let n = pack_number(&args, arg)?;
                arg += 1;
                let mut value = if n < 0.0 {
                    c_double_to_i64(n) as u64
                } else {
                    c_double_to_u64(n)
                };
                let mut buf = [0u8; MAXINTSIZE as usize];
                for b in buf[..size].iter_mut() {
                    *b = value as u8;
                    value = value.checked_shr(8).unwrap_or(0);
                }
                if !h.little {
                    buf[..size].reverse();
                }
                out.extend_from_slice(&buf[..size]);
            }
            b'x' => out.push(0),
            b'f' => {
                let f = pack_number(&args, arg)? as f32;
                arg += 1;
                out.extend_from_slice(&if h.little {
                    f.to_le_bytes()
                } else {
                    f.to_be_bytes()
                });
            }
            b'd' => {
                let d = pack_number(&args, arg)?;
                arg += 1;
                out.extend_from_slice(&if h.little {
                    d.to_le_bytes()
                } else {
                    d.to_be_bytes()
                });
            }
            b'c' | b's' => {
                let s = pack_bytes(&args, arg)?;
                arg += 1;
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    // The C code checks after moving to the next argument.
                    return Err(Raise::Arg(arg as i64, "string too short".into()));
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                }
            }
            _ => fmt.control(opt, &mut h)?,
        }
    }
    one(Value::String(lua.create_string(&out)?))
}

/// `getinteger`: reads `size` bytes as an integer, sign-extending signed
/// formats (with x86 shift-count wrapping for sizes over 8 bytes).
fn get_integer(data: &[u8], little: bool, signed: bool, size: usize) -> f64 {
    let mut l: u64 = 0;
    let mut push = |b: u8| l = (l << 8) | u64::from(b);
    if little {
        data[..size].iter().rev().for_each(|&b| push(b));
    } else {
        data[..size].iter().for_each(|&b| push(b));
    }
    if !signed {
        return l as f64;
    }
    let mask = u64::MAX.wrapping_shl((size * 8).wrapping_sub(1) as u32);
    if l & mask != 0 {
        l |= mask;
    }
    l as i64 as f64
}

fn unpack(lua: &Lua, a: MultiValue) -> LibResult<MultiValue> {
    let args = Args::new(lua, a);
    let fmt_bytes = args.check_bytes(1)?;
    let data = args.check_bytes(2)?;
    let ld = data.len();
    let pos = args.opt_integer(3, 1)?.wrapping_sub(1);
    if pos < 0 {
        return Err(Raise::Arg(3, "offset must be 1 or greater".into()));
    }
    let mut pos = pos as usize;
    let mut fmt = Format::new(&fmt_bytes);
    let mut h = Header::new();
    let mut out: Vec<Value> = Vec::new();
    let too_short = || Raise::Arg(2, "data string too short".into());
    while let Some(opt) = fmt.next_opt() {
        let mut size = fmt.size(opt)?;
        pos = pos.wrapping_add(to_align(pos, &h, opt, size));
        if size > ld || pos > ld - size {
            return Err(too_short());
        }
        match opt {
            _ if is_int_opt(opt) => {
                let signed = opt.is_ascii_lowercase();
                out.push(Value::Number(get_integer(
                    &data[pos..],
                    h.little,
                    signed,
                    size,
                )));
            }
            b'x' => {}
            b'f' => {
                let b: [u8; 4] = data[pos..pos + 4].try_into().unwrap_or_default();
                let f = if h.little {
                    f32::from_le_bytes(b)
                } else {
                    f32::from_be_bytes(b)
                };
                out.push(Value::Number(f64::from(f)));
            }
            b'd' => {
                let b: [u8; 8] = data[pos..pos + 8].try_into().unwrap_or_default();
                let d = if h.little {
                    f64::from_le_bytes(b)
                } else {
                    f64::from_be_bytes(b)
                };
                out.push(Value::Number(d));
            }
            b'c' => {
                if size == 0 {
                    // c0 takes its length from the value just unpacked.
                    let prev = match out.last() {
                        Some(Value::Number(n)) => Some(*n),
                        Some(v @ Value::String(_)) => lua.coerce_number(v.clone())?,
                        _ => None,
                    };
                    let Some(n) = prev else {
                        return Err(Raise::Msg("format 'c0' needs a previous size".into()));
                    };
                    out.pop();
                    size = if n < 0.0 {
                        c_double_to_i64(n) as usize
                    } else {
                        c_double_to_u64(n) as usize
                    };
                    if size > ld || pos > ld - size {
                        return Err(too_short());
                    }
                }
                out.push(Value::String(lua.create_string(&data[pos..pos + size])?));
            }
            b's' => {
                let Some(len) = data[pos..].iter().position(|&b| b == 0) else {
                    return Err(Raise::Msg("unfinished string in data".into()));
                };
                out.push(Value::String(lua.create_string(&data[pos..pos + len])?));
                size = len + 1;
            }
            _ => fmt.control(opt, &mut h)?,
        }
        pos = pos.wrapping_add(size);
    }
    out.push(Value::Number(pos.wrapping_add(1) as i64 as f64));
    Ok(MultiValue::from_iter(out))
}

fn size(lua: &Lua, a: MultiValue) -> LibResult<MultiValue> {
    let args = Args::new(lua, a);
    let fmt_bytes = args.check_bytes(1)?;
    let mut fmt = Format::new(&fmt_bytes);
    let mut h = Header::new();
    let mut pos: usize = 0;
    while let Some(opt) = fmt.next_opt() {
        let size = fmt.size(opt)?;
        pos = pos.wrapping_add(to_align(pos, &h, opt, size));
        if opt == b's' {
            return Err(Raise::Arg(1, "option 's' has no fixed size".into()));
        }
        if opt == b'c' && size == 0 {
            return Err(Raise::Arg(1, "option 'c0' has no fixed size".into()));
        }
        // Unlike pack/unpack, size lets unknown letters and digits through.
        if !opt.is_ascii_alphanumeric() {
            fmt.control(opt, &mut h)?;
        }
        pos = pos.wrapping_add(size);
    }
    one(Value::Number(pos as f64))
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{error_of, eval, vm};

    #[test]
    fn pack_unpack() {
        let lua = vm();
        let cases = [
            ("return #struct.pack('>i', 1)", "4"),
            ("return struct.pack('>I2', 0x4142)", "AB"),
            ("return struct.pack('<h', 0x4142)", "BA"),
            ("return struct.pack('c3', 'abcdef')", "abc"),
            ("return struct.pack('c0', 'abcdef')", "abcdef"),
            ("return #struct.pack('s', 'ab')", "3"),
            ("return #struct.pack('!4 b i', 1, 2)", "8"),
            ("return #struct.pack('b i', 1, 2)", "5"),
            ("return struct.unpack('>i', struct.pack('>i', -5))", "-5"),
            (
                "return struct.unpack('<I', struct.pack('<i', -1))",
                "4294967295",
            ),
            ("return select(2, struct.unpack('>h', 'AB'))", "3"),
            ("return struct.unpack('d', struct.pack('d', 1.25))", "1.25"),
            ("return struct.unpack('f', struct.pack('f', 0.5))", "0.5"),
            ("return struct.unpack('s', 'hi\\0rest')", "hi"),
            ("return struct.unpack('b c0', '\\3abcd')", "abc"),
            (
                "return struct.unpack('>l', struct.pack('>l', -2^40))",
                "-1099511627776",
            ),
            ("return struct.unpack('B', 'AB', 2)", "66"),
            ("return struct.size('!8 b d')", "16"),
            ("return struct.size('i3 c5 x')", "9"),
            ("return struct.size('q')", "0"),
            ("return struct.size('>!4 b i')", "8"),
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
                "return struct.pack('q', 1)",
                "user_script:1: bad argument #1 to 'pack' (invalid format option 'q')",
            ),
            (
                "return struct.pack('i')",
                "user_script:1: bad argument #2 to 'pack' (number expected, got nil)",
            ),
            (
                "return struct.pack('c5', 'ab')",
                "user_script:1: bad argument #3 to 'pack' (string too short)",
            ),
            (
                "return struct.pack('i33', 1)",
                "user_script:1: integral size 33 is larger than limit of 32",
            ),
            (
                "return struct.pack('!3', 1)",
                "user_script:1: alignment 3 is not a power of 2",
            ),
            (
                "return struct.unpack('i', 'ab')",
                "user_script:1: bad argument #2 to 'unpack' (data string too short)",
            ),
            (
                "return struct.unpack('s', 'ab')",
                "user_script:1: unfinished string in data",
            ),
            (
                "return struct.unpack('c0', 'ab')",
                "user_script:1: format 'c0' needs a previous size",
            ),
            (
                "return struct.unpack('b', 'ab', 0)",
                "user_script:1: bad argument #3 to 'unpack' (offset must be 1 or greater)",
            ),
        ];
        for (code, want) in cases {
            assert_eq!(error_of(&lua, code), want, "{code}");
        }
    }
}
