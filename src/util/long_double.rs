//! `long double` parsing and increments with Redis's exact rules
//! (INCRBYFLOAT, HINCRBYFLOAT, blocking timeouts).
//!
//! Redis adds in the C `long double` type (80-bit extended precision on
//! x86-64) and prints the sum with `"%.17Lf"` minus trailing zeros, which
//! hides the binary rounding of `f64` (`0.1 + 0.2` is `0.3`, not
//! `0.30000000000000004`). The arithmetic lives in `long_double.c`.

use std::os::raw::{c_char, c_int, c_long};

/// Size of the output buffer (Redis's `MAX_LONG_DOUBLE_CHARS`).
const LD_CHARS: usize = 5120;

extern "C" {
    fn fkv_ld_incr(
        cur: *const c_char,
        cur_len: usize,
        incr: *const c_char,
        incr_len: usize,
        out: *mut c_char,
        out_len: usize,
    ) -> c_long;
    fn fkv_ld_parse_f64(s: *const c_char, len: usize, out: *mut f64) -> c_int;
}

/// Why an increment failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncrFloatError {
    /// The stored value or the increment is not a valid float.
    NotFloat,
    /// The sum is NaN or infinite.
    NanOrInfinity,
}

/// Adds `incr` to `current` (`None` = missing key = 0), both parsed like
/// Redis's `string2ld`, and returns the sum formatted like Redis's
/// human-friendly `ld2string`.
pub fn incr_by_float(current: Option<&[u8]>, incr: &[u8]) -> Result<Vec<u8>, IncrFloatError> {
    let mut out = vec![0u8; LD_CHARS];
    let (cur_ptr, cur_len) = match current {
        Some(c) => (c.as_ptr().cast::<c_char>(), c.len()),
        None => (std::ptr::null(), 0),
    };
    // SAFETY: every pointer/length pair describes a live buffer of that
    // length (or is null for `cur`, which the C side checks), and the C
    // side never writes more than `out_len` bytes to `out`.
    let n = unsafe {
        fkv_ld_incr(
            cur_ptr,
            cur_len,
            incr.as_ptr().cast::<c_char>(),
            incr.len(),
            out.as_mut_ptr().cast::<c_char>(),
            out.len(),
        )
    };
    match n {
        -1 => Err(IncrFloatError::NotFloat),
        n if n < 0 => Err(IncrFloatError::NanOrInfinity),
        n => {
            out.truncate(n as usize);
            Ok(out)
        }
    }
}

/// Parses `s` as a C `long double` like Redis's `string2ld` (the range is
/// wider than `f64`'s: `1e400` is accepted and narrows to infinity), for
/// arguments Redis reads that way, such as blocking timeouts.
pub fn parse_long_double(s: &[u8]) -> Option<f64> {
    let mut out = 0.0f64;
    // SAFETY: `s` is a live buffer of `s.len()` bytes and `out` a valid f64.
    let ok = unsafe { fkv_ld_parse_f64(s.as_ptr().cast::<c_char>(), s.len(), &mut out) };
    (ok == 1).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(a: Option<&str>, b: &str) -> Result<String, IncrFloatError> {
        incr_by_float(a.map(str::as_bytes), b.as_bytes())
            .map(|v| String::from_utf8(v).expect("ascii"))
    }

    #[test]
    fn sums_in_extended_precision() {
        assert_eq!(add(Some("0.1"), "0.2").unwrap(), "0.3");
        assert_eq!(add(Some("10.5"), "0.1").unwrap(), "10.6");
        assert_eq!(add(None, "5.0e3").unwrap(), "5000");
        assert_eq!(add(Some("3"), "-3").unwrap(), "0");
        assert_eq!(add(None, "-0.0").unwrap(), "0");
        assert_eq!(add(Some("1"), "-1.5").unwrap(), "-0.5");
    }

    #[test]
    fn validates_like_string2ld() {
        assert_eq!(add(None, " 1"), Err(IncrFloatError::NotFloat));
        assert_eq!(add(None, "1 "), Err(IncrFloatError::NotFloat));
        assert_eq!(add(None, ""), Err(IncrFloatError::NotFloat));
        assert_eq!(add(None, "nan"), Err(IncrFloatError::NotFloat));
        assert_eq!(add(None, "1e99999"), Err(IncrFloatError::NotFloat));
        assert_eq!(add(Some("abc"), "1"), Err(IncrFloatError::NotFloat));
        assert_eq!(add(None, "inf"), Err(IncrFloatError::NanOrInfinity));
        assert_eq!(add(None, "1\0junk"), Err(IncrFloatError::NotFloat));
    }
}
