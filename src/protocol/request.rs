//! Incremental request parser.
//!
//! Requests are parsed in place: a parsed argument is a byte range of the
//! connection's read buffer, so executing a pipelined batch copies and
//! allocates nothing. Inline arguments with quotes are unescaped in place
//! (the unescaped form is never longer). The error texts are Redis's own.

/// Longest inline request or multibulk/bulk header line Redis accepts.
pub const INLINE_MAX: usize = 64 * 1024;

/// Protocol limits applied while parsing.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// `proto-max-bulk-len`.
    pub max_bulk: usize,
    /// Clients that still have to authenticate get tiny limits, as in Redis.
    pub unauthenticated: bool,
}

/// Result of one parse attempt.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A whole command ends at this offset; its arguments were appended to
    /// the span list.
    Command(usize),
    /// Input up to this offset held no command (empty inline line or `*0`).
    Skip(usize),
    /// More bytes are needed; at least this many in total from the buffer
    /// start, when known.
    Incomplete(usize),
    /// A protocol violation; the text follows `-ERR `.
    Error(String),
}

/// Resumable parser state for one connection.
#[derive(Default)]
pub struct Parser {
    /// A multibulk whose header was read: args still expected, offset of
    /// the next argument header.
    pending: Option<(usize, usize)>,
    /// Spans of the arguments of the command being parsed (complete once
    /// [`Parser::parse`] returns [`Parsed::Command`]), as `(start, end)`
    /// offsets into the buffer.
    pub spans: Vec<(usize, usize)>,
}

fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    memchr_cr(&buf[from..]).map(|i| from + i)
}

fn memchr_cr(s: &[u8]) -> Option<usize> {
    s.iter().position(|&c| c == b'\r')
}

fn parse_len(digits: &[u8]) -> Option<i64> {
    crate::util::num::parse_i64(digits)
}

impl Parser {
    /// Shifts the state of a partially received command after `consumed`
    /// bytes left the front of the buffer.
    pub fn rebase(&mut self, consumed: usize) {
        for span in &mut self.spans {
            span.0 -= consumed;
            span.1 -= consumed;
        }
        if let Some((_, pos)) = self.pending.as_mut() {
            *pos -= consumed;
        }
    }

    /// Bytes at the start of the buffer already parsed into arguments of a
    /// command still being received. Redis moves such arguments out of
    /// its query buffer, so `client-query-buffer-limit` applies to what
    /// follows them only.
    pub fn parsed_len(&self) -> usize {
        self.pending.map_or(0, |(_, pos)| pos)
    }

    /// Forgets the arguments of the command just executed.
    pub fn finish_command(&mut self) {
        self.spans.clear();
    }

    /// Parses one command starting at `start` (or resumes the pending one).
    pub fn parse(&mut self, buf: &mut [u8], start: usize, limits: Limits) -> Parsed {
        if self.pending.is_none() {
            if start >= buf.len() {
                return Parsed::Incomplete(start + 1);
            }
            if buf[start] != b'*' {
                return self.parse_inline(buf, start);
            }
            let Some(cr) = find_crlf(buf, start) else {
                if buf.len() - start > INLINE_MAX {
                    return Parsed::Error("Protocol error: too big mbulk count string".into());
                }
                return Parsed::Incomplete(buf.len() + 1);
            };
            if cr + 1 >= buf.len() {
                return Parsed::Incomplete(cr + 2);
            }
            let count = match parse_len(&buf[start + 1..cr]) {
                Some(n) if n <= i32::MAX as i64 => n,
                _ => return Parsed::Error("Protocol error: invalid multibulk length".into()),
            };
            if limits.unauthenticated && count > 10 {
                return Parsed::Error("Protocol error: unauthenticated multibulk length".into());
            }
            if count <= 0 {
                return Parsed::Skip(cr + 2);
            }
            self.pending = Some((count as usize, cr + 2));
        }
        self.resume_multibulk(buf, limits)
    }

    fn resume_multibulk(&mut self, buf: &[u8], limits: Limits) -> Parsed {
        let (mut left, mut pos) = self.pending.expect("pending multibulk");
        let max_bulk = if limits.unauthenticated {
            16384
        } else {
            limits.max_bulk
        };
        while left > 0 {
            if pos >= buf.len() {
                self.pending = Some((left, pos));
                return Parsed::Incomplete(pos + 1);
            }
            let Some(cr) = find_crlf(buf, pos) else {
                self.pending = Some((left, pos));
                if buf.len() - pos > INLINE_MAX {
                    return Parsed::Error("Protocol error: too big bulk count string".into());
                }
                return Parsed::Incomplete(buf.len() + 1);
            };
            if buf[pos] != b'$' {
                return Parsed::Error(format!(
                    "Protocol error: expected '$', got '{}'",
                    buf[pos] as char
                ));
            }
            let len = match parse_len(&buf[pos + 1..cr]) {
                Some(n) if n >= 0 && (n as u64) <= max_bulk as u64 => n as usize,
                _ => {
                    let what = if limits.unauthenticated {
                        "unauthenticated bulk length"
                    } else {
                        "invalid bulk length"
                    };
                    return Parsed::Error(format!("Protocol error: {what}"));
                }
            };
            let data = cr + 2;
            let end = data + len + 2;
            if end > buf.len() {
                self.pending = Some((left, pos));
                return Parsed::Incomplete(end);
            }
            self.spans.push((data, data + len));
            left -= 1;
            pos = end;
        }
        self.pending = None;
        Parsed::Command(pos)
    }

    fn parse_inline(&mut self, buf: &mut [u8], start: usize) -> Parsed {
        // Redis finds the line end with strchr, which stops at a NUL byte:
        // a NUL before the newline means "no complete line yet", until the
        // inline size limit closes the connection.
        let line = buf[start..].iter().position(|&c| c == b'\n' || c == 0);
        let Some(nl) = line.filter(|&i| buf[start + i] == b'\n') else {
            if buf.len() - start > INLINE_MAX {
                return Parsed::Error("Protocol error: too big inline request".into());
            }
            return Parsed::Incomplete(buf.len() + 1);
        };
        let nl = start + nl;
        let line_end = if nl > start && buf[nl - 1] == b'\r' {
            nl - 1
        } else {
            nl
        };
        if split_args_in_place(buf, start, line_end, &mut self.spans).is_err() {
            self.spans.clear();
            return Parsed::Error("Protocol error: unbalanced quotes in request".into());
        }
        if self.spans.is_empty() {
            return Parsed::Skip(nl + 1);
        }
        Parsed::Command(nl + 1)
    }
}

fn hex_val(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Splits `buf[start..end]` into arguments like Redis's `sdssplitargs`,
/// unescaping quoted parts in place and pushing each argument's span.
fn split_args_in_place(
    buf: &mut [u8],
    start: usize,
    end: usize,
    spans: &mut Vec<(usize, usize)>,
) -> Result<(), ()> {
    let mut r = start;
    loop {
        while r < end && matches!(buf[r], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
            r += 1;
        }
        if r >= end {
            return Ok(());
        }
        let arg_start = r;
        let mut w = r;
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            if in_dq {
                if r >= end {
                    return Err(());
                }
                let c = buf[r];
                if c == b'\\' && r + 3 < end && buf[r + 1] == b'x' {
                    if let (Some(h), Some(l)) = (hex_val(buf[r + 2]), hex_val(buf[r + 3])) {
                        buf[w] = h * 16 + l;
                        w += 1;
                        r += 4;
                        continue;
                    }
                }
                if c == b'\\' && r + 1 < end {
                    buf[w] = match buf[r + 1] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    };
                    w += 1;
                    r += 2;
                    continue;
                }
                if c == b'"' {
                    if r + 1 < end && !buf[r + 1].is_ascii_whitespace() {
                        return Err(());
                    }
                    r += 1;
                    break;
                }
                buf[w] = c;
                w += 1;
                r += 1;
            } else if in_sq {
                if r >= end {
                    return Err(());
                }
                let c = buf[r];
                if c == b'\\' && r + 1 < end && buf[r + 1] == b'\'' {
                    buf[w] = b'\'';
                    w += 1;
                    r += 2;
                    continue;
                }
                if c == b'\'' {
                    if r + 1 < end && !buf[r + 1].is_ascii_whitespace() {
                        return Err(());
                    }
                    r += 1;
                    break;
                }
                buf[w] = c;
                w += 1;
                r += 1;
            } else {
                if r >= end {
                    break;
                }
                match buf[r] {
                    b' ' | b'\n' | b'\r' | b'\t' => break,
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    c => {
                        buf[w] = c;
                        w += 1;
                    }
                }
                r += 1;
            }
        }
        spans.push((arg_start, w));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_bulk: 512 * 1024 * 1024,
        unauthenticated: false,
    };

    fn args(p: &Parser, buf: &[u8]) -> Vec<Vec<u8>> {
        p.spans.iter().map(|&(s, e)| buf[s..e].to_vec()).collect()
    }

    #[test]
    fn multibulk_in_one_piece_and_resumed() {
        let full = b"*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n".to_vec();
        let mut p = Parser::default();
        let mut buf = full.clone();
        assert_eq!(p.parse(&mut buf, 0, LIMITS), Parsed::Command(full.len()));
        assert_eq!(args(&p, &buf), vec![b"ECHO".to_vec(), b"hello".to_vec()]);

        let mut p = Parser::default();
        for cut in 1..full.len() {
            let mut part = full[..cut].to_vec();
            assert!(matches!(
                p.parse(&mut part, 0, LIMITS),
                Parsed::Incomplete(_)
            ));
        }
        let mut buf = full.clone();
        assert_eq!(p.parse(&mut buf, 0, LIMITS), Parsed::Command(full.len()));
        assert_eq!(p.spans.len(), 2);
    }

    #[test]
    fn inline_with_quotes() {
        let mut buf = b"SET \"a b\" 'c\\'d' \"\\x41\\n\"\r\n".to_vec();
        let mut p = Parser::default();
        let n = buf.len();
        assert_eq!(p.parse(&mut buf, 0, LIMITS), Parsed::Command(n));
        assert_eq!(
            args(&p, &buf),
            vec![
                b"SET".to_vec(),
                b"a b".to_vec(),
                b"c'd".to_vec(),
                b"A\n".to_vec()
            ]
        );
        let mut bad = b"SET \"a\r\n".to_vec();
        assert_eq!(
            Parser::default().parse(&mut bad, 0, LIMITS),
            Parsed::Error("Protocol error: unbalanced quotes in request".into())
        );
        let mut nul = b"ECHO a\x00b\r\n".to_vec();
        assert!(matches!(
            Parser::default().parse(&mut nul, 0, LIMITS),
            Parsed::Incomplete(_)
        ));
        let mut blank = b"\r\n".to_vec();
        assert_eq!(
            Parser::default().parse(&mut blank, 0, LIMITS),
            Parsed::Skip(2)
        );
    }

    #[test]
    fn protocol_errors_use_redis_wording() {
        let cases: [(&[u8], &str); 4] = [
            (b"*x\r\n", "Protocol error: invalid multibulk length"),
            (b"*1\r\n+x\r\n", "Protocol error: expected '$', got '+'"),
            (b"*1\r\n$-2\r\n", "Protocol error: invalid bulk length"),
            (
                b"*1\r\n$99999999999\r\n",
                "Protocol error: invalid bulk length",
            ),
        ];
        for (input, message) in cases {
            let mut b = input.to_vec();
            assert_eq!(
                Parser::default().parse(&mut b, 0, LIMITS),
                Parsed::Error(message.into())
            );
        }
        let mut b = vec![b'a'; INLINE_MAX + 10];
        assert_eq!(
            Parser::default().parse(&mut b, 0, LIMITS),
            Parsed::Error("Protocol error: too big inline request".into())
        );
    }
}
