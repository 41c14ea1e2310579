//! The wire protocol: request parsing (RESP multibulk and inline) and
//! reply encoding (RESP2 and RESP3).

pub mod reply;
pub mod request;
