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
    /// An error quoting client bytes, which need not be UTF-8.
    Bytes(Vec<u8>),
}

/// The part of `arg` Redis prints with `%s`: up to the first NUL byte.
pub fn c_str(arg: &[u8]) -> &[u8] {
    let end = arg.iter().position(|&b| b == 0).unwrap_or(arg.len());
    &arg[..end]
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

    /// An error made of `prefix`, a client argument copied as Redis's
    /// `%s` would (up to a NUL byte), and `suffix`.
    pub fn with_arg(prefix: &str, arg: &[u8], suffix: &str) -> Self {
        let mut msg = Vec::with_capacity(prefix.len() + arg.len() + suffix.len());
        msg.extend_from_slice(prefix.as_bytes());
        msg.extend_from_slice(c_str(arg));
        msg.extend_from_slice(suffix.as_bytes());
        CmdError::Bytes(msg)
    }

    /// The reply bytes, starting with the error code.
    pub fn bytes(&self) -> &[u8] {
        let text: &str = match self {
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
            CmdError::Bytes(b) => return b,
        };
        text.as_bytes()
    }
}
