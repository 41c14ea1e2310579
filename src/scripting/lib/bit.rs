//! `bit`: LuaBitOp 1.0.2. All operations work on 32-bit integers and
//! return signed 32-bit results as Lua numbers.

use mlua::{Lua, MultiValue, Table, Value};

use super::{module_table, one, Args, LibResult};

pub(crate) fn module(lua: &Lua) -> mlua::Result<Table> {
    module_table(
        lua,
        &[
            ("tobit", tobit),
            ("bnot", bnot),
            ("band", band),
            ("bor", bor),
            ("bxor", bxor),
            ("lshift", lshift),
            ("rshift", rshift),
            ("arshift", arshift),
            ("rol", rol),
            ("ror", ror),
            ("bswap", bswap),
            ("tohex", tohex),
        ],
    )
}

/// LuaBitOp's `barg`: adding 2^52+2^51 moves the integer part, rounded to
/// nearest-even, into the low mantissa bits; the low 32 bits are the
/// result. A value that is not a number raises a type error, but only
/// when those bits are 0, exactly as LuaBitOp checks it.
fn barg(args: &Args, i: usize) -> LibResult<u32> {
    let n = args.to_number(i)?;
    let bits = (n.unwrap_or(0.0) + 6_755_399_441_055_744.0).to_bits() as u32;
    if bits == 0 && n.is_none() {
        return Err(args.type_error(i, "number"));
    }
    Ok(bits)
}

fn ret(b: u32) -> LibResult<MultiValue> {
    one(Value::Number(f64::from(b as i32)))
}

fn tobit(lua: &Lua, a: MultiValue) -> LibResult<MultiValue> {
    ret(barg(&Args::new(lua, a), 1)?)
}

fn bnot(lua: &Lua, a: MultiValue) -> LibResult<MultiValue> {
    ret(!barg(&Args::new(lua, a), 1)?)
}

/// band/bor/bxor fold arguments 2..n into argument 1, checking them from
/// the last one down as LuaBitOp does (so the reported bad argument is
/// the highest-numbered one).
fn fold(lua: &Lua, a: MultiValue, op: fn(u32, u32) -> u32) -> LibResult<MultiValue> {
    let args = Args::new(lua, a);
    let mut b = barg(&args, 1)?;
    for i in (2..=args.len()).rev() {
        b = op(b, barg(&args, i)?);
    }
    ret(b)
}

fn band(lua: &Lua, a: MultiValue) -> LibResult<MultiValue> {
    fold(lua, a, |x, y| x & y)
}

fn bor(lua: &Lua, a: MultiValue) -> LibResult<MultiValue> {
    fold(lua, a, |x, y| x | y)
}

fn bxor(lua: &Lua, a: MultiValue) -> LibResult<MultiValue> {
    fold(lua, a, |x, y| x ^ y)
}

/// Shifts and rotates use the low 5 bits of the count.
fn shift(lua: &Lua, a: MultiValue, op: fn(u32, u32) -> u32) -> LibResult<MultiValue> {
    let args = Args::new(lua, a);
    let b = barg(&args, 1)?;
    let n = barg(&args, 2)? & 31;
    ret(op(b, n))
}

fn lshift(lua: &Lua, a: MultiValue) -> LibResult<MultiValue> {
    shift(lua, a, |b, n| b << n)
}

fn rshift(lua: &Lua, a: MultiValue) -> LibResult<MultiValue> {
    shift(lua, a, |b, n| b >> n)
}

fn arshift(lua: &Lua, a: MultiValue) -> LibResult<MultiValue> {
    shift(lua, a, |b, n| ((b as i32) >> n) as u32)
}

fn rol(lua: &Lua, a: MultiValue) -> LibResult<MultiValue> {
    shift(lua, a, u32::rotate_left)
}

fn ror(lua: &Lua, a: MultiValue) -> LibResult<MultiValue> {
    shift(lua, a, u32::rotate_right)
}

fn bswap(lua: &Lua, a: MultiValue) -> LibResult<MultiValue> {
    ret(barg(&Args::new(lua, a), 1)?.swap_bytes())
}

/// `tohex(x [, n])`: n hex digits (default 8, at most 8), upper case when
/// n is negative.
fn tohex(lua: &Lua, a: MultiValue) -> LibResult<MultiValue> {
    let args = Args::new(lua, a);
    let mut b = barg(&args, 1)?;
    let mut n = if args.get(2).is_none() {
        8
    } else {
        barg(&args, 2)? as i32
    };
    let digits: &[u8; 16] = if n < 0 {
        // -i32::MIN overflows; the compiled C code then acts as for 8.
        n = n.checked_neg().unwrap_or(8);
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let n = n.min(8) as usize;
    let mut buf = [0u8; 8];
    for slot in buf[..n].iter_mut().rev() {
        *slot = digits[(b & 15) as usize];
        b >>= 4;
    }
    one(Value::String(lua.create_string(&buf[..n])?))
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{error_of, eval, vm};

    #[test]
    fn operations() {
        let lua = vm();
        let cases = [
            ("return bit.tobit(0xffffffff)", "-1"),
            ("return bit.tobit(2^31)", "-2147483648"),
            ("return bit.tobit(1.5)", "2"),
            ("return bit.tobit(2.5)", "2"),
            ("return bit.tobit(-1.5)", "-2"),
            ("return bit.tobit('12')", "12"),
            ("return bit.tobit(2^32 + 7)", "7"),
            ("return bit.bnot(0)", "-1"),
            ("return bit.band(0xff, 0x0f, 0x3)", "3"),
            ("return bit.band(1.5, 2^32+3)", "2"),
            ("return bit.bor(1, 2, 4, 8)", "15"),
            ("return bit.bxor(5, 3)", "6"),
            ("return bit.lshift(1, 31)", "-2147483648"),
            ("return bit.lshift(1, 33)", "2"),
            ("return bit.rshift(-1, 28)", "15"),
            ("return bit.arshift(-256, 4)", "-16"),
            ("return bit.rol(0x12345678, 8)", "878082066"),
            ("return bit.ror(0x12345678, 8)", "2014458966"),
            ("return bit.rol(7, 0)", "7"),
            ("return bit.bswap(0x12345678)", "2018915346"),
            ("return bit.tohex(-1)", "ffffffff"),
            ("return bit.tohex(255, 2)", "ff"),
            ("return bit.tohex(255, -4)", "00FF"),
            ("return bit.tohex(0x1234, 20)", "00001234"),
            ("return bit.tohex(1, 0)", ""),
        ];
        for (code, want) in cases {
            assert_eq!(eval(&lua, code), want, "{code}");
        }
    }

    #[test]
    fn errors() {
        let lua = vm();
        assert_eq!(
            error_of(&lua, "return bit.band()"),
            "user_script:1: bad argument #1 to 'band' (number expected, got no value)"
        );
        assert_eq!(
            error_of(&lua, "return bit.bor(1, 'x', {})"),
            "user_script:1: bad argument #3 to 'bor' (number expected, got table)"
        );
        assert_eq!(
            error_of(&lua, "local x = 1\nreturn bit.lshift(x)"),
            "user_script:2: bad argument #2 to 'lshift' (number expected, got no value)"
        );
    }
}
