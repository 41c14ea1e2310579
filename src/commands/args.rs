//! Argument parsing helpers shared by the families.

use crate::command::CmdError;
use crate::util::num::{parse_f64, parse_i64};

/// Parses an integer argument (`ERR value is not an integer or out of range`).
pub fn int(arg: &[u8]) -> Result<i64, CmdError> {
    parse_i64(arg).ok_or(CmdError::NotInteger)
}

/// Parses a float argument (`ERR value is not a valid float`).
pub fn float(arg: &[u8]) -> Result<f64, CmdError> {
    parse_f64(arg).ok_or(CmdError::NotFloat)
}

/// Case-insensitive comparison with an ASCII keyword.
pub fn is(arg: &[u8], keyword: &str) -> bool {
    arg.eq_ignore_ascii_case(keyword.as_bytes())
}

/// Parses an argument Redis reads as a C `int` (`getIntFromObjectOrReply`):
/// `ERR value is not an integer or out of range` unless it is an integer,
/// `ERR value is out of range, value must between …` outside `i32`.
pub fn int32(arg: &[u8]) -> Result<i32, CmdError> {
    let v = int(arg)?;
    i32::try_from(v).map_err(|_| {
        CmdError::err("ERR value is out of range, value must between -2147483648 and 2147483647")
    })
}

/// Parses a database index argument: an `int` as Redis parses it (see
/// [`int32`]), then `ERR DB index is out of range`.
pub fn db_index(arg: &[u8], databases: usize) -> Result<usize, CmdError> {
    db_in_range(int32(arg)? as i64, databases)
}

/// Checks an already parsed database index (`ERR DB index is out of range`).
pub fn db_in_range(idx: i64, databases: usize) -> Result<usize, CmdError> {
    if idx < 0 || idx as u64 >= databases as u64 {
        return Err(CmdError::DbIndex);
    }
    Ok(idx as usize)
}

/// Parses a SCAN-family cursor the way Redis does with `strtoul`: an
/// optional sign (a minus negates modulo 2^64), decimal digits, nothing
/// else; an empty string is cursor 0. `ERR invalid cursor` otherwise.
pub fn cursor(arg: &[u8]) -> Result<u64, CmdError> {
    let invalid = || CmdError::err("ERR invalid cursor");
    if arg.is_empty() {
        return Ok(0);
    }
    let (negative, digits) = match arg[0] {
        b'-' => (true, &arg[1..]),
        b'+' => (false, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() {
        return Err(invalid());
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return Err(invalid());
        }
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add((c - b'0') as u64))
            .ok_or_else(invalid)?;
    }
    Ok(if negative { v.wrapping_neg() } else { v })
}

/// An integer argument that must be at least 1, else the error `msg`.
pub fn positive(arg: &[u8], msg: &'static str) -> Result<usize, CmdError> {
    match parse_i64(arg) {
        Some(v) if v >= 1 => Ok(usize::try_from(v).unwrap_or(usize::MAX)),
        _ => Err(CmdError::err(msg)),
    }
}

/// The `numkeys key [key ...] <where> [COUNT count]` arguments of
/// LMPOP/BLMPOP/ZMPOP/BZMPOP.
pub struct Mpop<'a, 'b> {
    /// The keys, in order.
    pub keys: &'b [&'a [u8]],
    /// The `<where>` word (LEFT/RIGHT, MIN/MAX), for the caller to check.
    pub side: &'a [u8],
    /// Elements to pop (default 1).
    pub count: usize,
}

/// Parses [`Mpop`] arguments starting at the numkeys argument.
pub fn mpop_args<'a, 'b>(args: &'b [&'a [u8]]) -> Result<Mpop<'a, 'b>, CmdError> {
    let numkeys = positive(args[0], "ERR numkeys should be greater than 0")?;
    let where_idx = numkeys
        .checked_add(1)
        .filter(|&i| i < args.len())
        .ok_or(CmdError::Syntax)?;
    let count = match &args[where_idx + 1..] {
        [] => 1,
        [word, n] if is(word, "COUNT") => positive(n, "ERR count should be greater than 0")?,
        _ => return Err(CmdError::Syntax),
    };
    Ok(Mpop {
        keys: &args[1..where_idx],
        side: args[where_idx],
        count,
    })
}

/// Options of the SCAN family: `[MATCH pattern] [COUNT count]`, plus
/// `[TYPE type]` for SCAN itself.
pub struct ScanOptions<'a> {
    /// Roughly how many items one call returns (at least 1).
    pub count: u64,
    /// The MATCH pattern; `None` when absent or `*`.
    pub pattern: Option<&'a [u8]>,
    /// The TYPE filter (SCAN only).
    pub type_filter: Option<&'a [u8]>,
}

impl<'a> ScanOptions<'a> {
    /// Parses the option pairs in `opts` with Redis's syntax errors.
    pub fn parse(opts: &[&'a [u8]], allow_type: bool) -> Result<Self, CmdError> {
        let mut o = ScanOptions {
            count: 10,
            pattern: None,
            type_filter: None,
        };
        for pair in opts.chunks(2) {
            let [name, value] = pair else {
                return Err(CmdError::Syntax);
            };
            if is(name, "COUNT") {
                o.count = match int(value)? {
                    n if n < 1 => return Err(CmdError::Syntax),
                    n => n as u64,
                };
            } else if is(name, "MATCH") {
                o.pattern = Some(*value).filter(|p| *p != b"*");
            } else if allow_type && is(name, "TYPE") {
                o.type_filter = Some(*value);
            } else {
                return Err(CmdError::Syntax);
            }
        }
        Ok(o)
    }

    /// Whether `item` passes the MATCH pattern.
    pub fn matches(&self, item: &[u8]) -> bool {
        self.pattern
            .is_none_or(|p| crate::util::glob::glob_match(p, item, false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_like_strtoul() {
        assert_eq!(cursor(b"").unwrap(), 0);
        assert_eq!(cursor(b"+7").unwrap(), 7);
        assert_eq!(cursor(b"-1").unwrap(), u64::MAX);
        assert_eq!(cursor(b"18446744073709551615").unwrap(), u64::MAX);
        assert_eq!(cursor(b"-18446744073709551615").unwrap(), 1);
        for bad in [
            &b"18446744073709551616"[..],
            b" 0",
            b"0x",
            b"-",
            b"+",
            b"1 ",
        ] {
            assert!(cursor(bad).is_err(), "{:?}", bad);
        }
    }

    #[test]
    fn db_index_is_a_c_int() {
        assert_eq!(db_index(b"3", 16).unwrap(), 3);
        assert_eq!(db_index(b"16", 16), Err(CmdError::DbIndex));
        assert_eq!(db_index(b"-1", 16), Err(CmdError::DbIndex));
        assert_eq!(
            db_index(b"4294967296", 16).unwrap_err().bytes(),
            b"ERR value is out of range, value must between -2147483648 and 2147483647"
        );
        assert_eq!(
            db_index(b"99999999999999999999", 16),
            Err(CmdError::NotInteger)
        );
        assert_eq!(db_index(b"x", 16), Err(CmdError::NotInteger));
    }
}
