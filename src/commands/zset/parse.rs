//! Score, range and lex-range parsing with Redis's exact rules (C
//! `strtod`, so hex floats, `inf` and `infinity` behave as in Redis).

use std::ffi::CString;
use std::os::raw::c_char;

use crate::command::CmdError;
use crate::types::ZSet;

extern "C" {
    fn strtod(s: *const c_char, endp: *mut *mut c_char) -> f64;
}

/// C `strtod` over `arg` up to its first NUL byte: the value and how many
/// bytes it consumed.
fn c_strtod(arg: &[u8]) -> (f64, usize) {
    let end = arg.iter().position(|&b| b == 0).unwrap_or(arg.len());
    let Ok(c) = CString::new(&arg[..end]) else {
        return (0.0, 0);
    };
    let mut endp: *mut c_char = std::ptr::null_mut();
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call;
    // strtod only reads it and stores a pointer into it in `endp`.
    let v = unsafe { strtod(c.as_ptr(), &mut endp) };
    // SAFETY: strtod sets `endp` to a position inside `c`'s buffer.
    let used = unsafe { endp.offset_from(c.as_ptr()) } as usize;
    (v, used)
}

/// Whether strtod would have reported `ERANGE` with a zero or infinite
/// result (an overflow, or an underflow of a nonzero mantissa to zero).
fn out_of_range(text: &[u8], v: f64) -> bool {
    let digits = text
        .iter()
        .skip_while(|c| matches!(c, b'+' | b'-' | b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c));
    let body: Vec<u8> = digits.copied().collect();
    if v.is_infinite() {
        return !body.first().is_some_and(|c| c.eq_ignore_ascii_case(&b'i'));
    }
    if v == 0.0 {
        let hex = body.len() > 1 && body[0] == b'0' && (body[1] | 0x20) == b'x';
        let mantissa = if hex { &body[2..] } else { &body[..] };
        let stop = if hex { b'p' } else { b'e' };
        return mantissa
            .iter()
            .take_while(|c| (**c | 0x20) != stop)
            .any(|c| c.is_ascii_hexdigit() && *c != b'0');
    }
    false
}

/// Parses a score like Redis's `getDoubleFromObject`: the whole string,
/// no leading space, no overflow, not NaN.
pub fn score(arg: &[u8]) -> Option<f64> {
    if arg.is_empty() || arg[0].is_ascii_whitespace() || arg[0] == 0x0b {
        return None;
    }
    let (v, used) = c_strtod(arg);
    if used != arg.len() || v.is_nan() || out_of_range(arg, v) {
        return None;
    }
    Some(v)
}

/// Parses a score argument (`ERR value is not a valid float`).
pub fn score_arg(arg: &[u8]) -> Result<f64, CmdError> {
    score(arg).ok_or(CmdError::NotFloat)
}

/// A score interval (`ZRANGEBYSCORE` min/max).
#[derive(Clone, Copy, Debug)]
pub struct ScoreRange {
    min: f64,
    max: f64,
    minex: bool,
    maxex: bool,
}

fn bound(arg: &[u8]) -> Option<(f64, bool)> {
    let (ex, text) = match arg.first() {
        Some(b'(') => (true, &arg[1..]),
        _ => (false, arg),
    };
    // Redis only checks that strtod stopped at the C string's end, so an
    // empty bound reads as 0 and leading spaces are skipped.
    let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
    let (v, used) = c_strtod(text);
    (used == end && !v.is_nan()).then_some((v, ex))
}

impl ScoreRange {
    /// Parses min and max (`ERR min or max is not a float`).
    pub fn parse(min: &[u8], max: &[u8]) -> Result<Self, CmdError> {
        let err = || CmdError::err("ERR min or max is not a float");
        let (min, minex) = bound(min).ok_or_else(err)?;
        let (max, maxex) = bound(max).ok_or_else(err)?;
        Ok(ScoreRange {
            min,
            max,
            minex,
            maxex,
        })
    }

    /// The ascending ranks `lo..hi` of the members inside the range.
    pub fn ranks(&self, z: &ZSet) -> (usize, usize) {
        let lo = z.partition_point(|s, _| {
            if self.minex {
                s <= self.min
            } else {
                s < self.min
            }
        });
        let hi = z.partition_point(|s, _| {
            if self.maxex {
                s < self.max
            } else {
                s <= self.max
            }
        });
        (lo, hi.max(lo))
    }
}

/// One end of a lex range.
#[derive(Clone, Copy, Debug)]
enum Lex<'a> {
    Min,
    Max,
    Incl(&'a [u8]),
    Excl(&'a [u8]),
}

fn lex_item(arg: &[u8]) -> Option<Lex<'_>> {
    let only = arg.len() == 1 || arg.get(1) == Some(&0);
    match arg.first()? {
        b'+' if only => Some(Lex::Max),
        b'-' if only => Some(Lex::Min),
        b'(' => Some(Lex::Excl(&arg[1..])),
        b'[' => Some(Lex::Incl(&arg[1..])),
        _ => None,
    }
}

/// A member interval (`ZRANGEBYLEX` min/max).
#[derive(Clone, Copy, Debug)]
pub struct LexRange<'a> {
    min: Lex<'a>,
    max: Lex<'a>,
}

impl<'a> LexRange<'a> {
    /// Parses min and max (`ERR min or max not valid string range item`).
    pub fn parse(min: &'a [u8], max: &'a [u8]) -> Result<Self, CmdError> {
        let err = || CmdError::err("ERR min or max not valid string range item");
        Ok(LexRange {
            min: lex_item(min).ok_or_else(err)?,
            max: lex_item(max).ok_or_else(err)?,
        })
    }

    /// The ascending ranks `lo..hi` of the members inside the range
    /// (meaningful when all scores are equal, as in Redis).
    pub fn ranks(&self, z: &ZSet) -> (usize, usize) {
        let lo = z.partition_point(|_, m| match self.min {
            Lex::Min => false,
            Lex::Max => true,
            Lex::Incl(x) => m < x,
            Lex::Excl(x) => m <= x,
        });
        let hi = z.partition_point(|_, m| match self.max {
            Lex::Min => false,
            Lex::Max => true,
            Lex::Incl(x) => m <= x,
            Lex::Excl(x) => m < x,
        });
        (lo, hi.max(lo))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_like_strtod() {
        assert_eq!(score(b"1.5"), Some(1.5));
        assert_eq!(score(b"0x10"), Some(16.0));
        assert_eq!(score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(score(b"Infinity"), Some(f64::INFINITY));
        assert_eq!(score(b"1e400"), None);
        assert_eq!(score(b"1e-400"), None);
        assert_eq!(score(b"0e-400"), Some(0.0));
        assert_eq!(score(b"nan"), None);
        assert_eq!(score(b" 1"), None);
        assert_eq!(score(b"1 "), None);
        assert_eq!(score(b""), None);
        assert!(ScoreRange::parse(b"", b" 1").is_ok());
        assert!(ScoreRange::parse(b"(", b"(1").is_ok());
        assert!(ScoreRange::parse(b"1 ", b"2").is_err());
        assert!(LexRange::parse(b"-", b"+").is_ok());
        assert!(LexRange::parse(b"a", b"+").is_err());
        assert!(LexRange::parse(b"", b"+").is_err());
    }
}
