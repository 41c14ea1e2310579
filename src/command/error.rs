//! Command errors with Redis's exact wording.

use std::borrow::Cow;

/// An error reply a command returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CmdError {
    /// `WRONGTYPE Operation against a key holding the wrong kind of value`.
    WrongType,
    /// `ERR value is not an integer or out of range`.
    NotInteger,
    /// `ERR value is not a valid float`.
    NotFloat,
    /// `ERR syntax error`.
    Syntax,
    /// `ERR no such key`.
    NoSuchKey,
    /// `ERR increment or decrement would overflow`.
    Overflow,
    /// `ERR string exceeds maximum allowed size (proto-max-bulk-len)`.
    TooBig,
    /// `ERR DB index is out of range`.
    DbIndex,
    /// Any other error; the text includes its code (`ERR …`).
    Other(Cow<'static, str>),
}

/// What a command handler returns.
pub type CmdResult = Result<(), CmdError>;

impl CmdError {
    /// An `ERR`-class error with a static message (without the code).
    pub fn err(msg: &'static str) -> Self {
        CmdError::Other(Cow::Borrowed(msg))
    }

    /// An error whose message is built at run time (code included).
    pub fn msg(msg: String) -> Self {
        CmdError::Other(Cow::Owned(msg))
    }

    /// The reply text, starting with the error code.
    pub fn text(&self) -> &str {
        match self {
            CmdError::WrongType => {
                "WRONGTYPE Operation against a key holding the wrong kind of value"
            }
            CmdError::NotInteger => "ERR value is not an integer or out of range",
            CmdError::NotFloat => "ERR value is not a valid float",
            CmdError::Syntax => "ERR syntax error",
            CmdError::NoSuchKey => "ERR no such key",
            CmdError::Overflow => "ERR increment or decrement would overflow",
            CmdError::TooBig => "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
            CmdError::DbIndex => "ERR DB index is out of range",
            CmdError::Other(s) => s,
        }
    }
}
