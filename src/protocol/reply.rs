//! Reply encoder writing RESP2 or RESP3 straight into the connection's
//! output buffer, so a pipelined batch is answered with one write.

use crate::util::num::{format_g17, push_i64};

/// The output buffer of one connection plus its protocol version.
#[derive(Default)]
pub struct Reply {
    /// Encoded bytes waiting to be written.
    pub buf: Vec<u8>,
    /// Whether the client switched to RESP3 with `HELLO 3`.
    pub resp3: bool,
}

impl Reply {
    /// Creates an empty RESP2 reply buffer.
    pub fn new() -> Self {
        Self::default()
    }

    fn header(&mut self, kind: u8, n: i64) {
        self.buf.push(kind);
        push_i64(&mut self.buf, n);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// `+OK`.
    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    /// A status reply such as `+PONG`.
    pub fn simple(&mut self, s: &[u8]) {
        self.buf.push(b'+');
        self.buf.extend_from_slice(s);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An error reply; `msg` carries its code (`ERR …`, `WRONGTYPE …`).
    pub fn error(&mut self, msg: &str) {
        self.error_bytes(msg.as_bytes());
    }

    /// An error reply from raw bytes (it may quote binary client input).
    /// Line breaks are replaced so the reply stays one line, as Redis does.
    pub fn error_bytes(&mut self, msg: &[u8]) {
        self.buf.push(b'-');
        self.buf.extend(
            msg.iter()
                .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }),
        );
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An integer reply.
    pub fn int(&mut self, v: i64) {
        self.header(b':', v);
    }

    /// A bulk string reply.
    pub fn bulk(&mut self, s: &[u8]) {
        self.header(b'$', s.len() as i64);
        self.buf.extend_from_slice(s);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// A bulk string holding the decimal form of an integer.
    pub fn bulk_int(&mut self, v: i64) {
        let mut b = itoa::Buffer::new();
        self.bulk(b.format(v).as_bytes());
    }

    /// The null bulk string (`$-1`, RESP3 `_`).
    pub fn null(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"$-1\r\n");
        }
    }

    /// The null array (`*-1`, RESP3 `_`).
    pub fn null_array(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"*-1\r\n");
        }
    }

    /// Header of an array of `n` elements.
    pub fn array(&mut self, n: usize) {
        self.header(b'*', n as i64);
    }

    /// Header of a map of `n` pairs (a flat array of 2n in RESP2).
    pub fn map(&mut self, n: usize) {
        if self.resp3 {
            self.header(b'%', n as i64);
        } else {
            self.header(b'*', 2 * n as i64);
        }
    }

    /// Header of a set of `n` elements (an array in RESP2).
    pub fn set(&mut self, n: usize) {
        self.header(if self.resp3 { b'~' } else { b'*' }, n as i64);
    }

    /// Header of an out-of-band push of `n` elements (an array in RESP2).
    pub fn push(&mut self, n: usize) {
        self.header(if self.resp3 { b'>' } else { b'*' }, n as i64);
    }

    /// A double (RESP3 `,`; a bulk string in `%.17g` form in RESP2).
    pub fn double(&mut self, v: f64) {
        let text = format_g17(v);
        if self.resp3 {
            self.buf.push(b',');
            self.buf.extend_from_slice(text.as_bytes());
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(text.as_bytes());
        }
    }

    /// A boolean (RESP3 `#t`/`#f`; integer 1/0 in RESP2).
    pub fn boolean(&mut self, v: bool) {
        if self.resp3 {
            self.buf
                .extend_from_slice(if v { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(v as i64);
        }
    }

    /// A verbatim string of format `txt` (a bulk string in RESP2).
    pub fn verbatim(&mut self, s: &[u8]) {
        if self.resp3 {
            self.header(b'=', s.len() as i64 + 4);
            self.buf.extend_from_slice(b"txt:");
            self.buf.extend_from_slice(s);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(s);
        }
    }

    /// An array of bulk strings.
    pub fn bulk_array<'a, I>(&mut self, items: I)
    where
        I: IntoIterator<Item = &'a [u8]>,
        I::IntoIter: ExactSizeIterator,
    {
        let items = items.into_iter();
        self.array(items.len());
        for item in items {
            self.bulk(item);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_both_protocols() {
        let mut r = Reply::new();
        r.null();
        r.map(1);
        r.bulk(b"a");
        r.double(1.5);
        assert_eq!(r.buf, b"$-1\r\n*2\r\n$1\r\na\r\n$3\r\n1.5\r\n");
        let mut r = Reply {
            resp3: true,
            ..Reply::default()
        };
        r.null();
        r.map(1);
        r.boolean(true);
        r.double(f64::NEG_INFINITY);
        assert_eq!(r.buf, b"_\r\n%1\r\n#t\r\n,-inf\r\n");
        let mut r = Reply::new();
        r.error("ERR bad\r\nthing");
        assert_eq!(r.buf, b"-ERR bad  thing\r\n");
    }
}
