//! Reading RDB primitives from an in-memory buffer.
//!
//! Every length read from the data is checked against the bytes actually
//! left before anything is allocated, so a corrupt or hostile length (say
//! 2^60) is an error, never an allocation.

use std::borrow::Cow;

use super::{lzf, RdbError};

/// A length that is really a special string encoding (top bits `11`).
pub enum Len {
    /// A plain length.
    Plain(u64),
    /// Encoding number of an encoded string: 0-2 integers, 3 LZF.
    Encoded(u8),
}

const ENC_INT8: u8 = 0;
const ENC_INT16: u8 = 1;
const ENC_INT32: u8 = 2;
const ENC_LZF: u8 = 3;

/// A string read from the data: borrowed when stored raw, owned when it
/// was an integer or compressed.
pub type Str<'a> = Cow<'a, [u8]>;

/// A cursor over the input.
pub struct Input<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Input<'a> {
    /// Starts reading `data` from its first byte.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    /// Bytes consumed so far.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: u64) -> Result<&'a [u8], RdbError> {
        if n > self.remaining() as u64 {
            return Err(RdbError::Truncated);
        }
        let s = &self.data[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }

    /// One byte.
    pub fn u8(&mut self) -> Result<u8, RdbError> {
        Ok(self.take(1)?[0])
    }

    /// A fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], RdbError> {
        let s = self.take(N as u64)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// A length or a string-encoding marker.
    pub fn len_or_enc(&mut self) -> Result<Len, RdbError> {
        let b = self.u8()?;
        Ok(match b >> 6 {
            0 => Len::Plain((b & 0x3f) as u64),
            1 => Len::Plain(((b & 0x3f) as u64) << 8 | self.u8()? as u64),
            2 => match b {
                0x80 => Len::Plain(u32::from_be_bytes(self.array()?) as u64),
                0x81 => Len::Plain(u64::from_be_bytes(self.array()?)),
                _ => {
                    return Err(RdbError::corrupt(format!(
                        "unknown length encoding {b:#04x}"
                    )))
                }
            },
            _ => Len::Encoded(b & 0x3f),
        })
    }

    /// A plain length.
    pub fn len(&mut self) -> Result<u64, RdbError> {
        match self.len_or_enc()? {
            Len::Plain(n) => Ok(n),
            Len::Encoded(_) => Err(RdbError::corrupt(
                "string encoding where a length was expected",
            )),
        }
    }

    /// A count of items each taking at least `min_bytes` bytes: checked
    /// against the input left so it can size an allocation.
    pub fn count(&mut self, min_bytes: u64) -> Result<usize, RdbError> {
        let n = self.len()?;
        if n.saturating_mul(min_bytes) > self.remaining() as u64 {
            return Err(RdbError::corrupt(format!(
                "count {n} exceeds the data left"
            )));
        }
        Ok(n as usize)
    }

    /// A string in any RDB string encoding.
    pub fn string(&mut self) -> Result<Str<'a>, RdbError> {
        match self.len_or_enc()? {
            Len::Plain(n) => Ok(Cow::Borrowed(self.take(n)?)),
            Len::Encoded(ENC_INT8) => Ok(int_str(self.u8()? as i8 as i64)),
            Len::Encoded(ENC_INT16) => Ok(int_str(i16::from_le_bytes(self.array()?) as i64)),
            Len::Encoded(ENC_INT32) => Ok(int_str(i32::from_le_bytes(self.array()?) as i64)),
            Len::Encoded(ENC_LZF) => {
                let clen = self.len()?;
                let len = self.len()?;
                let data = self.take(clen)?;
                lzf::decompress(data, usize::try_from(len).unwrap_or(usize::MAX))
                    .map(Cow::Owned)
                    .ok_or_else(|| RdbError::corrupt("invalid LZF compressed string"))
            }
            Len::Encoded(e) => Err(RdbError::corrupt(format!("unknown string encoding {e}"))),
        }
    }

    /// A double in the old text form: a length byte (253 NaN, 254 +inf,
    /// 255 -inf) then that many ASCII characters.
    pub fn text_double(&mut self) -> Result<f64, RdbError> {
        match self.u8()? {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => {
                let s = self.take(n as u64)?;
                std::str::from_utf8(s)
                    .ok()
                    .and_then(|s| s.trim().parse::<f64>().ok())
                    .ok_or_else(|| RdbError::corrupt("invalid double"))
            }
        }
    }

    /// A little-endian binary double.
    pub fn binary_double(&mut self) -> Result<f64, RdbError> {
        Ok(f64::from_le_bytes(self.array()?))
    }
}

fn int_str(v: i64) -> Str<'static> {
    Cow::Owned(itoa::Buffer::new().format(v).as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths() {
        let mut i = Input::new(&[
            0x05, 0x41, 0x02, 0x80, 0, 1, 0, 0, 0x81, 0, 0, 0, 0, 0, 0, 0, 9,
        ]);
        assert_eq!(i.len().unwrap(), 5);
        assert_eq!(i.len().unwrap(), 0x102);
        assert_eq!(i.len().unwrap(), 0x10000);
        assert_eq!(i.len().unwrap(), 9);
        assert!(matches!(i.len(), Err(RdbError::Truncated)));
    }

    #[test]
    fn strings() {
        let mut i = Input::new(&[
            0xc0, 0xfe, 0xc1, 0x39, 0x30, 0xc2, 0xff, 0xff, 0xff, 0x7f, 0x02, b'h', b'i',
        ]);
        assert_eq!(&*i.string().unwrap(), b"-2");
        assert_eq!(&*i.string().unwrap(), b"12345");
        assert_eq!(&*i.string().unwrap(), b"2147483647");
        assert_eq!(&*i.string().unwrap(), b"hi");
    }

    #[test]
    fn absurd_lengths_do_not_allocate() {
        // A 64-bit length of 2^60.
        let mut i = Input::new(&[0x81, 0x10, 0, 0, 0, 0, 0, 0, 0, b'x']);
        assert!(i.string().is_err());
        let mut i = Input::new(&[0x81, 0x10, 0, 0, 0, 0, 0, 0, 0]);
        assert!(i.count(1).is_err());
        // LZF claiming a 2^60-byte result.
        let mut i = Input::new(&[0xc3, 0x02, 0x81, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x00, b'a']);
        assert!(i.string().is_err());
    }
}
