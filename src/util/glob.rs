//! Redis's glob-style pattern matching (`KEYS`, `SCAN MATCH`, `CONFIG GET`,
//! pub/sub patterns): `*`, `?`, `[...]` with ranges and `^` negation, and
//! `\` escapes.

/// Whether `string` matches `pattern`, optionally ignoring ASCII case.
pub fn glob_match(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    match_at(pattern, string, nocase, 0)
}

fn eq(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

// Recursion depth is bounded like Redis does, so hostile patterns such as
// "*a*a*a*…" cannot blow the stack.
const MAX_NESTING: usize = 1000;

fn match_at(mut p: &[u8], mut s: &[u8], nocase: bool, nesting: usize) -> bool {
    if nesting > MAX_NESTING {
        return false;
    }
    while !p.is_empty() && !s.is_empty() {
        match p[0] {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                for start in 0..s.len() {
                    if match_at(&p[1..], &s[start..], nocase, nesting + 1) {
                        return true;
                    }
                }
                return false;
            }
            b'?' => s = &s[1..],
            b'[' => {
                let (matched, rest) = match_class(&p[1..], s[0], nocase);
                if !matched {
                    return false;
                }
                p = rest;
                s = &s[1..];
                continue;
            }
            b'\\' if p.len() >= 2 => {
                p = &p[1..];
                if !eq(p[0], s[0], nocase) {
                    return false;
                }
                s = &s[1..];
            }
            c => {
                if !eq(c, s[0], nocase) {
                    return false;
                }
                s = &s[1..];
            }
        }
        p = &p[1..];
    }
    if s.is_empty() {
        p.iter().all(|&c| c == b'*')
    } else {
        false
    }
}

/// Matches one character against a `[...]` class whose body starts at `p`;
/// returns whether it matched and the pattern after the closing `]`.
fn match_class(mut p: &[u8], c: u8, nocase: bool) -> (bool, &[u8]) {
    let not = p.first() == Some(&b'^');
    if not {
        p = &p[1..];
    }
    let mut matched = false;
    loop {
        match p {
            [] => break,
            [b'\\', esc, ..] => {
                if eq(*esc, c, nocase) {
                    matched = true;
                }
                p = &p[2..];
            }
            [b']', ..] => {
                p = &p[1..];
                break;
            }
            [a, b'-', b, ..] if *b != b']' || p.len() == 3 => {
                let (mut lo, mut hi) = (*a, *b);
                if lo > hi {
                    std::mem::swap(&mut lo, &mut hi);
                }
                let (lo, hi, ch) = if nocase {
                    (
                        lo.to_ascii_lowercase(),
                        hi.to_ascii_lowercase(),
                        c.to_ascii_lowercase(),
                    )
                } else {
                    (lo, hi, c)
                };
                if ch >= lo && ch <= hi {
                    matched = true;
                }
                p = &p[3..];
            }
            [x, ..] => {
                if eq(*x, c, nocase) {
                    matched = true;
                }
                p = &p[1..];
            }
        }
    }
    (matched != not, p)
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    fn m(p: &str, s: &str) -> bool {
        glob_match(p.as_bytes(), s.as_bytes(), false)
    }

    #[test]
    fn wildcards_classes_and_escapes() {
        assert!(m("*", "anything"));
        assert!(m("h?llo", "hello"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("h[b-a]llo", "hallo"));
        assert!(m("h\\*llo", "h*llo"));
        assert!(!m("h\\*llo", "hello"));
        assert!(m("a*", "a"));
        assert!(!m("a", ""));
        assert!(m("", ""));
        assert!(glob_match(b"HELLO", b"hello", true));
        assert!(!m(&"*a".repeat(2000), &"a".repeat(10)));
    }
}
