//! Stored values and their compact encodings.

use crate::types::{Hash, List, Set, Stream, ZSet};
use crate::util::num::parse_i64;

/// Longest byte string kept inline (no heap allocation).
pub const INLINE_MAX: usize = 22;

/// Strings up to this length report the `embstr` encoding, as in Redis.
const EMBSTR_MAX: usize = 44;

/// A byte string stored inline when short (24 bytes in all, like a `Vec`
/// header) and as one exact-size heap block otherwise.
#[derive(Clone)]
pub enum SmallBytes {
    /// Up to [`INLINE_MAX`] bytes.
    Inline {
        /// Used length of `data`.
        len: u8,
        /// The bytes.
        data: [u8; INLINE_MAX],
    },
    /// Longer strings.
    Heap(Box<[u8]>),
}

impl SmallBytes {
    /// Copies `s` into the most compact form.
    pub fn new(s: &[u8]) -> Self {
        if s.len() <= INLINE_MAX {
            let mut data = [0u8; INLINE_MAX];
            data[..s.len()].copy_from_slice(s);
            Self::Inline {
                len: s.len() as u8,
                data,
            }
        } else {
            Self::Heap(s.into())
        }
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Inline { len, data } => &data[..*len as usize],
            Self::Heap(b) => b,
        }
    }

    /// Heap bytes owned beyond the struct itself.
    pub fn heap_size(&self) -> usize {
        match self {
            Self::Inline { .. } => 0,
            Self::Heap(b) => b.len(),
        }
    }
}

/// A value in the keyspace.
#[derive(Clone)]
pub enum Value {
    /// A string that is the canonical form of an `i64` (`int` encoding).
    Int(i64),
    /// A string set as a whole (`embstr`, or `raw` when long).
    Str(SmallBytes),
    /// A string grown in place by APPEND/SETRANGE (`raw`).
    Raw(Box<Vec<u8>>),
    /// A hash.
    Hash(Box<Hash>),
    /// A list.
    List(Box<List>),
    /// A set.
    Set(Box<Set>),
    /// A sorted set.
    ZSet(Box<ZSet>),
    /// A stream.
    Stream(Box<Stream>),
}

/// Scratch space for rendering an integer-encoded string.
pub type IntBuf = itoa::Buffer;

impl Value {
    /// A string value from bytes, integer-encoded when Redis would do so.
    pub fn string(s: &[u8]) -> Self {
        if s.len() <= 20 {
            if let Some(v) = parse_i64(s) {
                return Value::Int(v);
            }
        }
        Value::Str(SmallBytes::new(s))
    }

    /// The type name `TYPE` reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) | Value::Str(_) | Value::Raw(_) => "string",
            Value::Hash(_) => "hash",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    /// The encoding name `OBJECT ENCODING` reports.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::Str(s) if s.as_bytes().len() <= EMBSTR_MAX => "embstr",
            Value::Str(_) | Value::Raw(_) => "raw",
            Value::Hash(h) => h.encoding(),
            Value::List(l) => l.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
            Value::Stream(s) => s.encoding(),
        }
    }

    /// The bytes of a string value; integers are rendered into `buf`.
    /// Returns `None` for non-string types.
    pub fn as_str<'a>(&'a self, buf: &'a mut IntBuf) -> Option<&'a [u8]> {
        match self {
            Value::Int(v) => Some(buf.format(*v).as_bytes()),
            Value::Str(s) => Some(s.as_bytes()),
            Value::Raw(v) => Some(v),
            _ => None,
        }
    }

    /// Whether this is a string value.
    pub fn is_string(&self) -> bool {
        matches!(self, Value::Int(_) | Value::Str(_) | Value::Raw(_))
    }

    /// A mutable growable buffer for in-place string edits (APPEND,
    /// SETRANGE), converting the value to the `raw` encoding first.
    /// Returns `None` for non-string types.
    pub fn make_raw(&mut self) -> Option<&mut Vec<u8>> {
        let bytes = match self {
            Value::Raw(v) => return Some(v),
            Value::Int(v) => itoa::Buffer::new().format(*v).as_bytes().to_vec(),
            Value::Str(s) => s.as_bytes().to_vec(),
            _ => return None,
        };
        *self = Value::Raw(Box::new(bytes));
        match self {
            Value::Raw(v) => Some(v),
            _ => unreachable!("just converted"),
        }
    }

    /// Approximate heap bytes held outside the entry (for MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Int(_) => 0,
            Value::Str(s) => s.heap_size(),
            Value::Raw(v) => std::mem::size_of::<Vec<u8>>() + v.capacity(),
            Value::Hash(h) => std::mem::size_of::<Hash>() + h.heap_size(),
            Value::List(l) => std::mem::size_of::<List>() + l.heap_size(),
            Value::Set(s) => std::mem::size_of::<Set>() + s.heap_size(),
            Value::ZSet(z) => std::mem::size_of::<ZSet>() + z.heap_size(),
            Value::Stream(s) => std::mem::size_of::<Stream>() + s.heap_size(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_sizes() {
        assert_eq!(std::mem::size_of::<SmallBytes>(), 24);
        assert_eq!(std::mem::size_of::<Value>(), 24);
    }

    #[test]
    fn encodings_like_redis() {
        assert_eq!(Value::string(b"123").encoding(), "int");
        assert_eq!(Value::string(b"0123").encoding(), "embstr");
        assert_eq!(Value::string(&[b'a'; 44]).encoding(), "embstr");
        assert_eq!(Value::string(&[b'a'; 45]).encoding(), "raw");
        let mut v = Value::string(b"12");
        v.make_raw().unwrap().push(b'3');
        assert_eq!(v.encoding(), "raw");
        assert_eq!(v.as_str(&mut IntBuf::new()).unwrap(), b"123");
    }
}
