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

/// Parses a database index argument.
pub fn db_index(arg: &[u8], databases: usize) -> Result<usize, CmdError> {
    let idx = parse_i64(arg).ok_or(CmdError::NotInteger)?;
    if idx < 0 || idx as u64 >= databases as u64 {
        return Err(CmdError::DbIndex);
    }
    Ok(idx as usize)
}
