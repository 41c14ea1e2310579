//! Differential tests: every script in `tests/diff/*.txt` runs against a
//! real `redis-server` and against ferrokv, and the replies are compared
//! byte for byte.
//!
//! Script format (one command per line, redis-cli inline syntax):
//! - `#` starts a comment line; blank lines are ignored;
//! - `~CMD ...` compares the reply as an unordered collection;
//! - `!CMD ...` runs the command on both servers without comparing;
//! - `@sleep N` sleeps N milliseconds.
//!
//! Each file starts with `FLUSHALL` on both servers and fresh connections.
//! `DIFF_FILE=strings cargo test --test differential` runs only the files
//! whose name contains `strings`.

mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{encode, frame_len, Raw, Server};

/// How a script line's reply is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Exact,
    Unordered,
    Ignore,
}

/// One meaningful line of a script.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    Command(Mode, Vec<Vec<u8>>),
    Sleep(u64),
}

/// Splits a line like redis-cli (`sdssplitargs`: double quotes with
/// `\xHH \n \r \t \b \a \" \\` escapes, single quotes with `\'`), using
/// the server's own inline-command parser.
fn split_args(line: &str) -> Result<Vec<Vec<u8>>, String> {
    use ferrokv::protocol::request::{Limits, Parsed, Parser};
    let mut buf = format!("{line}\n").into_bytes();
    let limits = Limits {
        max_bulk: usize::MAX,
        unauthenticated: false,
    };
    let mut parser = Parser::default();
    match parser.parse(&mut buf, 0, limits) {
        Parsed::Command(_) => Ok(parser
            .spans
            .iter()
            .map(|&(s, e)| buf[s..e].to_vec())
            .collect()),
        Parsed::Skip(_) => Ok(Vec::new()),
        Parsed::Error(e) => Err(e),
        Parsed::Incomplete(_) => Err("incomplete line".into()),
    }
}

/// Parses one script line; `None` for comments and blank lines.
fn parse_line(line: &str) -> Result<Option<Step>, String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    if let Some(rest) = line.strip_prefix("@sleep") {
        let ms = rest
            .trim()
            .parse()
            .map_err(|_| format!("bad @sleep argument {rest:?}"))?;
        return Ok(Some(Step::Sleep(ms)));
    }
    if line.starts_with('@') {
        return Err(format!("unknown directive {line:?}"));
    }
    let (mode, rest) = match line.as_bytes()[0] {
        b'~' => (Mode::Unordered, &line[1..]),
        b'!' => (Mode::Ignore, &line[1..]),
        _ => (Mode::Exact, line),
    };
    let args = split_args(rest)?;
    if args.is_empty() {
        return Err("prefix without a command".into());
    }
    Ok(Some(Step::Command(mode, args)))
}

/// Renders bytes like redis-cli does: printable ASCII as is, the rest
/// escaped.
fn escape(bytes: &[u8]) -> String {
    let mut s = String::new();
    for &c in bytes {
        match c {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            0x20..=0x7e => s.push(c as char),
            _ => {
                let _ = write!(s, "\\x{c:02x}");
            }
        }
    }
    s
}

/// Length of a frame's header line including its CRLF.
fn header_len(frame: &[u8]) -> usize {
    frame
        .windows(2)
        .position(|w| w == b"\r\n")
        .map_or(frame.len(), |p| p + 2)
}

/// Puts a reply in a canonical order: the elements of an array or set
/// (and of aggregates nested directly in it) are sorted by their encoded
/// bytes, the pairs of a map by the bytes of key and value.
fn normalize(frame: &[u8], depth: u32) -> Vec<u8> {
    let Some(&kind) = frame.first() else {
        return Vec::new();
    };
    if depth == 0 || !matches!(kind, b'*' | b'~' | b'%' | b'>') {
        return frame.to_vec();
    }
    let head = header_len(frame);
    let Some(count) = std::str::from_utf8(&frame[1..head.saturating_sub(2)])
        .ok()
        .and_then(|n| n.parse::<i64>().ok())
        .filter(|&n| n > 0)
    else {
        return frame.to_vec();
    };
    let per_item = if kind == b'%' { 2 } else { 1 };
    let mut items: Vec<Vec<u8>> = Vec::new();
    let mut pos = head;
    for _ in 0..count {
        let mut item = Vec::new();
        for _ in 0..per_item {
            let Some(n) = frame_len(&frame[pos..]) else {
                return frame.to_vec();
            };
            item.extend(normalize(&frame[pos..pos + n], depth - 1));
            pos += n;
        }
        items.push(item);
    }
    items.sort();
    let mut out = frame[..head].to_vec();
    for item in items {
        out.extend(item);
    }
    out
}

/// The two servers and one connection to each.
struct Pair {
    redis: Server,
    ferrokv: Server,
    to_redis: Raw,
    to_ferrokv: Raw,
}

impl Pair {
    fn start() -> Pair {
        let redis = Server::start_redis();
        let ferrokv = Server::start();
        let to_redis = redis.raw();
        let to_ferrokv = ferrokv.raw();
        Pair {
            redis,
            ferrokv,
            to_redis,
            to_ferrokv,
        }
    }

    fn reconnect(&mut self) {
        self.to_redis = self.redis.raw();
        self.to_ferrokv = self.ferrokv.raw();
    }

    /// Sends one command to both servers; each reply is its bytes or a
    /// description of why there is none.
    fn run(&mut self, args: &[Vec<u8>]) -> (Result<Vec<u8>, String>, Result<Vec<u8>, String>) {
        let args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        let request = encode(&args);
        let ask = |raw: &mut Raw| -> Result<Vec<u8>, String> {
            use std::io::Write;
            raw.stream
                .write_all(&request)
                .map_err(|e| format!("write failed: {e}"))?;
            raw.try_read_frame()
        };
        (ask(&mut self.to_redis), ask(&mut self.to_ferrokv))
    }
}

/// Whether a command ends its connection on purpose.
fn closes_connection(args: &[Vec<u8>]) -> bool {
    let is = |i: usize, word: &str| {
        args.get(i)
            .is_some_and(|a| a.eq_ignore_ascii_case(word.as_bytes()))
    };
    is(0, "quit") || (is(0, "client") && is(1, "kill"))
}

fn show(reply: &Result<Vec<u8>, String>) -> String {
    match reply {
        Ok(bytes) => format!("\"{}\"", escape(bytes)),
        Err(e) => format!("<{e}>"),
    }
}

/// Runs one script; returns its mismatches.
fn run_file(pair: &mut Pair, path: &Path) -> Vec<String> {
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut failures = Vec::new();
    pair.reconnect();
    let flush = vec![b"FLUSHALL".to_vec()];
    let (redis, ferrokv) = pair.run(&flush);
    if redis.as_deref() != Ok(b"+OK\r\n") || ferrokv.as_deref() != Ok(b"+OK\r\n") {
        failures.push(format!(
            "{name}:0: FLUSHALL before the script -> redis: {} ferrokv: {}",
            show(&redis),
            show(&ferrokv)
        ));
    }
    for (index, line) in text.lines().enumerate() {
        let at = format!("{name}:{}", index + 1);
        let step = match parse_line(line) {
            Ok(Some(step)) => step,
            Ok(None) => continue,
            Err(e) => {
                failures.push(format!("{at}: cannot parse {line:?}: {e}"));
                continue;
            }
        };
        let (mode, args) = match step {
            Step::Sleep(ms) => {
                std::thread::sleep(Duration::from_millis(ms));
                continue;
            }
            Step::Command(mode, args) => (mode, args),
        };
        let (redis, ferrokv) = pair.run(&args);
        let same = match (&redis, &ferrokv) {
            (Ok(r), Ok(f)) => match mode {
                Mode::Exact => r == f,
                Mode::Unordered => normalize(r, 2) == normalize(f, 2),
                Mode::Ignore => true,
            },
            (Err(_), Err(_)) => true,
            _ => false,
        };
        if !same {
            let command: Vec<String> = args.iter().map(|a| escape(a)).collect();
            failures.push(format!(
                "{at}: {} -> redis: {} ferrokv: {}",
                command.join(" "),
                show(&redis),
                show(&ferrokv)
            ));
        }
        if redis.is_err() || ferrokv.is_err() || closes_connection(&args) {
            pair.reconnect();
        }
        if !pair.ferrokv.is_alive() {
            failures.push(format!("{at}: ferrokv exited; stopping this run"));
            break;
        }
    }
    failures
}

fn scripts() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diff");
    let filter = std::env::var("DIFF_FILE").unwrap_or_default();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().contains(&filter))
        })
        .collect();
    files.sort();
    files
}

#[test]
fn diff_scripts_match_redis() {
    let files = scripts();
    assert!(!files.is_empty(), "no tests/diff/*.txt scripts found");
    let mut pair = Pair::start();
    let mut report = Vec::new();
    for path in &files {
        let failures = run_file(&mut pair, path);
        eprintln!(
            "{}: {}",
            path.file_name().unwrap_or_default().to_string_lossy(),
            if failures.is_empty() {
                "ok".to_string()
            } else {
                format!("{} mismatches", failures.len())
            }
        );
        report.extend(failures);
        if !pair.ferrokv.is_alive() {
            report.push("ferrokv died; later scripts not run".into());
            break;
        }
    }
    assert!(
        report.is_empty(),
        "{} mismatches against redis-server:\n{}",
        report.len(),
        report.join("\n")
    );
}

#[test]
fn script_lines_parse_like_redis_cli() {
    let cmd = |line: &str| match parse_line(line) {
        Ok(Some(Step::Command(mode, args))) => (mode, args),
        other => panic!("{line:?} -> {other:?}"),
    };
    assert_eq!(
        cmd(r#"SET "a b" "\x00\xff\n\"\\" 'it\'s'"#),
        (
            Mode::Exact,
            vec![
                b"SET".to_vec(),
                b"a b".to_vec(),
                b"\x00\xff\n\"\\".to_vec(),
                b"it's".to_vec()
            ]
        )
    );
    assert_eq!(cmd("~ SMEMBERS s").0, Mode::Unordered);
    assert_eq!(cmd("!RANDOMKEY").0, Mode::Ignore);
    assert_eq!(cmd(r#"SET k """#).1[2], b"");
    assert_eq!(parse_line("  # note"), Ok(None));
    assert_eq!(parse_line(""), Ok(None));
    assert_eq!(parse_line("@sleep 15"), Ok(Some(Step::Sleep(15))));
    assert!(parse_line(r#"SET "a"#).is_err());
    assert!(parse_line(r#"SET "a"b"#).is_err());
}

#[test]
fn unordered_replies_compare_equal() {
    let a = b"*3\r\n$1\r\nb\r\n$1\r\na\r\n*2\r\n:2\r\n:1\r\n";
    let b = b"*3\r\n*2\r\n:1\r\n:2\r\n$1\r\na\r\n$1\r\nb\r\n";
    assert_eq!(normalize(a, 2), normalize(b, 2));
    let m1 = b"%2\r\n$1\r\nx\r\n:1\r\n$1\r\ny\r\n:2\r\n";
    let m2 = b"%2\r\n$1\r\ny\r\n:2\r\n$1\r\nx\r\n:1\r\n";
    assert_eq!(normalize(m1, 2), normalize(m2, 2));
    assert_ne!(normalize(b"*1\r\n:1\r\n", 2), normalize(b"*1\r\n:2\r\n", 2));
    assert_eq!(normalize(b"$-1\r\n", 2), b"$-1\r\n");
}
