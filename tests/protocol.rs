//! The wire protocol over raw TCP: pipelining, fragmented and huge
//! requests, inline commands, RESP3, protocol errors (bytes checked
//! against redis-server 7.0.15), connection limits, many clients, garbage
//! input, start-up and shutdown logs.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::{encode, Raw, Server, TIMEOUT};

/// Sends `bytes` on a fresh connection and returns everything the server
/// wrote until it closed the connection (panics if it stays open).
fn reply_then_close(server: &Server, bytes: &[u8]) -> Vec<u8> {
    let mut raw = server.raw();
    raw.send(bytes);
    let mut out = Vec::new();
    match raw.stream.read_to_end(&mut out) {
        Ok(_) => out,
        Err(e) => panic!(
            "connection still open after {:?} ({e}); got {:?}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(80)]),
            String::from_utf8_lossy(&out)
        ),
    }
}

#[test]
fn pipeline_of_10000_commands_in_one_write() {
    let server = Server::start();
    let mut raw = server.raw();
    let mut batch = Vec::new();
    for i in 0..10_000 {
        let n = i.to_string();
        batch.extend(encode(&[b"ECHO", n.as_bytes()]));
    }
    // Write from another thread so a full socket buffer cannot deadlock us.
    let mut writer = raw.stream.try_clone().expect("clone");
    let sender = thread::spawn(move || writer.write_all(&batch));
    for i in 0..10_000 {
        let n = i.to_string();
        let expected = format!("${}\r\n{n}\r\n", n.len());
        assert_eq!(raw.read_frame(), expected.as_bytes(), "reply #{i}");
    }
    sender.join().expect("writer").expect("write");
    assert_eq!(raw.cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn command_split_across_many_writes() {
    let server = Server::start();
    let mut raw = server.raw();
    let request = encode(&[b"SET", b"split", b"value"]);
    for byte in &request {
        raw.send(std::slice::from_ref(byte));
        thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(raw.read_frame(), b"+OK\r\n");
    for byte in b"GET split\r\n" {
        raw.send(std::slice::from_ref(byte));
        thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(raw.read_frame(), b"$5\r\nvalue\r\n");
}

#[test]
fn five_megabyte_bulk_in_chunks() {
    let server = Server::start();
    let mut raw = server.raw();
    let value: Vec<u8> = (0..5 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let request = encode(&[b"SET", b"big", &value]);
    for chunk in request.chunks(64 * 1024) {
        raw.send(chunk);
    }
    assert_eq!(raw.read_frame(), b"+OK\r\n");
    let reply = raw.cmd(&["GET", "big"]);
    let header = format!("${}\r\n", value.len());
    assert!(reply.starts_with(header.as_bytes()));
    assert_eq!(&reply[header.len()..reply.len() - 2], &value[..]);
    assert_eq!(raw.cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn inline_commands() {
    let server = Server::start();
    let mut raw = server.raw();
    raw.send(b"PING\r\n");
    assert_eq!(raw.read_frame(), b"+PONG\r\n");
    // LF-only line endings, blank lines and surrounding blanks are ignored.
    raw.send(b"\r\n\n\n  PING   \n");
    assert_eq!(raw.read_frame(), b"+PONG\r\n");
    raw.send(b"PING\tx\r\n");
    assert_eq!(raw.read_frame(), b"$1\r\nx\r\n");
    raw.send(b"SET 'k 1' \"v\\x41\\n\"\r\nGET \"k 1\"\r\n");
    assert_eq!(raw.read_frame(), b"+OK\r\n");
    assert_eq!(raw.read_frame(), b"$3\r\nvA\n\r\n");
    raw.send(b"ECHO 'it\\'s'\r\n");
    assert_eq!(raw.read_frame(), b"$4\r\nit's\r\n");
    // Inline and multibulk mixed in one write.
    let mut mixed = b"ECHO a\r\n".to_vec();
    mixed.extend(encode(&[b"ECHO", b"b"]));
    mixed.extend(b"ECHO c\n");
    raw.send(&mixed);
    for expected in [&b"$1\r\na\r\n"[..], b"$1\r\nb\r\n", b"$1\r\nc\r\n"] {
        assert_eq!(raw.read_frame(), expected);
    }
    // An empty multibulk or a negative count is skipped, like Redis.
    raw.send(b"*0\r\n*-1\r\nPING\r\n");
    assert_eq!(raw.read_frame(), b"+PONG\r\n");
}

/// Decodes exactly one RESP3 frame that fills `bytes`.
fn decode_resp3(bytes: &[u8]) -> redis_protocol::resp3::types::OwnedFrame {
    match redis_protocol::resp3::decode::complete::decode(bytes) {
        Ok(Some((frame, used))) => {
            assert_eq!(used, bytes.len(), "trailing bytes in {bytes:?}");
            frame
        }
        other => panic!(
            "not a RESP3 frame: {:?} -> {other:?}",
            String::from_utf8_lossy(bytes)
        ),
    }
}

#[test]
fn resp3_after_hello_3() {
    use redis_protocol::resp3::types::OwnedFrame;
    let server = Server::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["GET", "missing"]), b"$-1\r\n");
    let hello = raw.cmd(&["HELLO", "3"]);
    assert!(hello.starts_with(b"%7\r\n"), "{hello:?}");
    let OwnedFrame::Map { data, .. } = decode_resp3(&hello) else {
        panic!("HELLO 3 is not a map: {hello:?}");
    };
    let field = |name: &str| {
        data.iter()
            .find(|(k, _)| {
                matches!(k, OwnedFrame::BlobString { data, .. } if data == name.as_bytes())
            })
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("HELLO map lacks {name}"))
    };
    assert!(matches!(field("proto"), OwnedFrame::Number { data: 3, .. }));
    assert!(matches!(field("server"), OwnedFrame::BlobString { ref data, .. } if data == b"redis"));
    assert!(
        matches!(field("version"), OwnedFrame::BlobString { ref data, .. } if data == b"7.0.15")
    );
    assert!(matches!(field("modules"), OwnedFrame::Array { ref data, .. } if data.is_empty()));

    let null = raw.cmd(&["GET", "missing"]);
    assert_eq!(null, b"_\r\n");
    assert!(matches!(decode_resp3(&null), OwnedFrame::Null));
    for reply in [
        raw.cmd(&["PING"]),
        raw.cmd(&["SET", "k", "v"]),
        raw.cmd(&["GET", "k"]),
        raw.cmd(&["NOSUCH"]),
        raw.cmd(&["CLIENT", "ID"]),
    ] {
        decode_resp3(&reply);
    }
    let back = raw.cmd(&["HELLO", "2"]);
    assert!(back.starts_with(b"*14\r\n"), "{back:?}");
    assert_eq!(raw.cmd(&["GET", "missing"]), b"$-1\r\n");
}

#[test]
fn protocol_errors_answer_like_redis_and_close() {
    let server = Server::start();
    let too_big_inline = vec![b'x'; 70_000];
    let mut too_big_count = b"*".to_vec();
    too_big_count.extend(vec![b'1'; 70_000]);
    let mut too_big_bulk = b"*1\r\n$".to_vec();
    too_big_bulk.extend(vec![b'1'; 70_000]);
    let cases: Vec<(&[u8], &[u8])> = vec![
        (
            b"*x\r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*3000000000\r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*1\r\n+x\r\n",
            b"-ERR Protocol error: expected '$', got '+'\r\n",
        ),
        (
            b"*1\r\n$-2\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n$x\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n$99999999999\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"SET \"a\r\n",
            b"-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
        (
            b"SET 'a\r\n",
            b"-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
        (
            b"SET \"a\"b\r\n",
            b"-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
        (
            &too_big_inline,
            b"-ERR Protocol error: too big inline request\r\n",
        ),
        (
            &too_big_count,
            b"-ERR Protocol error: too big mbulk count string\r\n",
        ),
        (
            &too_big_bulk,
            b"-ERR Protocol error: too big bulk count string\r\n",
        ),
        // Commands before the bad one are answered first.
        (
            b"PING\r\n*x\r\nPING\r\n",
            b"+PONG\r\n-ERR Protocol error: invalid multibulk length\r\n",
        ),
    ];
    for (input, expected) in cases {
        let got = reply_then_close(&server, input);
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(expected),
            "input {:?}",
            String::from_utf8_lossy(&input[..input.len().min(40)])
        );
    }
    assert_eq!(server.raw().cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn proto_max_bulk_len_is_enforced() {
    let server = Server::start_with(&["--proto-max-bulk-len", "1mb"]);
    let got = reply_then_close(&server, b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$2000000\r\n");
    assert_eq!(got, b"-ERR Protocol error: invalid bulk length\r\n");
    // Exactly the limit is still accepted.
    let mut raw = server.raw();
    let value = vec![b'v'; 1024 * 1024];
    assert_eq!(
        {
            raw.send(&encode(&[b"SET", b"a", &value]));
            raw.read_frame()
        },
        b"+OK\r\n"
    );
}

#[test]
fn thousand_concurrent_clients() {
    const CLIENTS: usize = 1000;
    const THREADS: usize = 20;
    let server = Server::start();
    // Every connection is open before any command runs.
    let mut conns: Vec<Raw> = (0..CLIENTS).map(|_| server.raw()).collect();
    let mut groups: Vec<Vec<(usize, Raw)>> = (0..THREADS).map(|_| Vec::new()).collect();
    for (i, raw) in conns.drain(..).enumerate() {
        groups[i % THREADS].push((i, raw));
    }
    let workers: Vec<_> = groups
        .into_iter()
        .map(|mut group| {
            thread::spawn(move || {
                for round in 0..3 {
                    for (i, raw) in group.iter_mut() {
                        let key = format!("client:{i}");
                        let value = format!("{i}-{round}");
                        raw.send(&encode(&[b"SET", key.as_bytes(), value.as_bytes()]));
                    }
                    for (_, raw) in group.iter_mut() {
                        assert_eq!(raw.read_frame(), b"+OK\r\n");
                    }
                    for (i, raw) in group.iter_mut() {
                        let value = format!("{i}-{round}");
                        let expected = format!("${}\r\n{value}\r\n", value.len());
                        assert_eq!(raw.cmd_str(&["GET", &format!("client:{i}")]), expected);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("client thread");
    }
    assert_eq!(server.raw().cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn client_disconnecting_mid_command_does_not_affect_others() {
    let server = Server::start();
    let mut other = server.raw();
    assert_eq!(other.cmd(&["SET", "shared", "1"]), b"+OK\r\n");
    for partial in [
        &b"*3\r\n$3\r\nSET\r\n$6\r\nshared\r\n$1"[..],
        b"*3\r\n$3\r\nSET\r\n$6\r\nshared\r\n$5\r\nab",
        b"SET shared 2",
        b"*2\r\n$4\r\nECHO\r\n$100000\r\n",
    ] {
        let mut quitter = server.raw();
        quitter.send(partial);
        thread::sleep(Duration::from_millis(20));
        drop(quitter);
        assert_eq!(other.cmd(&["GET", "shared"]), b"$1\r\n1\r\n");
    }
    assert_eq!(server.raw().cmd(&["GET", "shared"]), b"$1\r\n1\r\n");
}

#[test]
fn idle_client_is_closed_after_timeout() {
    let server = Server::start_with(&["--timeout", "1"]);
    let mut idle = server.raw();
    let mut busy = server.raw();
    assert_eq!(idle.cmd(&["PING"]), b"+PONG\r\n");
    let started = Instant::now();
    // The busy client keeps talking and stays connected.
    while started.elapsed() < Duration::from_millis(2500) {
        assert_eq!(busy.cmd(&["PING"]), b"+PONG\r\n");
        thread::sleep(Duration::from_millis(200));
    }
    assert!(idle.is_closed(), "idle client still connected");
    assert!(started.elapsed() < TIMEOUT);
    assert_eq!(busy.cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn maxclients_refuses_the_next_client() {
    let server = Server::start_with(&["--maxclients", "3"]);
    // Let the readiness probe's connection go away first.
    thread::sleep(Duration::from_millis(200));
    let mut open: Vec<Raw> = (0..3).map(|_| server.raw()).collect();
    for raw in &mut open {
        assert_eq!(raw.cmd(&["PING"]), b"+PONG\r\n");
    }
    let mut refused = server.raw();
    let mut got = Vec::new();
    refused
        .stream
        .read_to_end(&mut got)
        .expect("refused client closed");
    assert_eq!(got, b"-ERR max number of clients reached\r\n");
    drop(open.pop());
    // The slot frees up once the server notices the close.
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let mut again = server.raw();
        again.send(b"PING\r\n");
        match again.try_read_frame() {
            Ok(reply) if reply == b"+PONG\r\n" => break,
            other => assert!(Instant::now() < deadline, "slot never freed: {other:?}"),
        }
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn command_and_subcommand_names_are_case_insensitive() {
    let server = Server::start();
    let mut raw = server.raw();
    let id = raw.cmd(&["CLIENT", "ID"]);
    assert!(id.starts_with(b":"), "{id:?}");
    assert_eq!(raw.cmd(&["client", "id"]), id);
    assert_eq!(raw.cmd(&["cLiEnT", "Id"]), id);
    assert_eq!(raw.cmd(&["client", "setname", "MixedCase"]), b"+OK\r\n");
    assert_eq!(raw.cmd(&["CLIENT", "GETNAME"]), b"$9\r\nMixedCase\r\n");
    assert_eq!(raw.cmd(&["Client", "GetName"]), b"$9\r\nMixedCase\r\n");
    raw.send(b"client getname\r\n");
    assert_eq!(raw.read_frame(), b"$9\r\nMixedCase\r\n");
    assert_eq!(
        raw.cmd(&["client", "nosuch"]),
        b"-ERR unknown subcommand 'nosuch'. Try CLIENT HELP.\r\n"
    );
}

#[test]
fn quit_replies_ok_and_closes() {
    let server = Server::start();
    let mut raw = server.raw();
    raw.send(b"QUIT\r\nPING\r\n");
    assert_eq!(raw.read_frame(), b"+OK\r\n");
    assert!(raw.is_closed());
}

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Random bytes, sometimes shaped like RESP so the parser goes deeper.
fn garbage(rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    while out.len() < 16 * 1024 {
        match rng.next() % 6 {
            0 => out.extend(format!("*{}\r\n", rng.next() % 5).bytes()),
            1 => out.extend(format!("${}\r\n", rng.next() % 40).bytes()),
            2 => out.extend(format!("*{}\r\n", rng.next() as i64).bytes()),
            3 => out.extend(b"\"\\x"),
            _ => {
                let n = (rng.next() % 200) as usize;
                out.extend(rng.bytes(n));
            }
        }
    }
    out
}

#[test]
fn inline_request_with_nul_byte_waits_like_redis() {
    // Redis looks for the newline with strchr(), which stops at the NUL:
    // the request never completes, and once 64 KB are buffered the client
    // gets the too-big-inline error.
    let server = Server::start();
    let watch = MemoryWatch::new(server.pid(), 1 << 30);
    let mut raw = server.raw();
    raw.stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    raw.send(b"ECHO a\x00b\r\nPING\r\n");
    thread::sleep(Duration::from_millis(200));
    raw.send(&vec![b'x'; 70_000]);
    let mut got = Vec::new();
    let _ = raw.stream.read_to_end(&mut got);
    assert!(
        !watch.blown(),
        "server passed 1 GB of memory and was killed"
    );
    assert_eq!(
        String::from_utf8_lossy(&got),
        "-ERR Protocol error: too big inline request\r\n"
    );
    assert_eq!(server.raw().cmd(&["PING"]), b"+PONG\r\n");
}

/// Resident memory of a process, in bytes.
fn rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Kills `pid` if its memory passes `limit` bytes, so a runaway server
/// cannot take the machine down; dropping the guard stops the watch.
struct MemoryWatch {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<thread::JoinHandle<bool>>,
}

impl MemoryWatch {
    fn new(pid: u32, limit: u64) -> MemoryWatch {
        use std::sync::atomic::Ordering;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                if rss(pid).is_some_and(|r| r > limit) {
                    let _ = Command::new("kill")
                        .args(["-KILL", &pid.to_string()])
                        .status();
                    return true;
                }
                thread::sleep(Duration::from_millis(50));
            }
            false
        });
        MemoryWatch {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops watching; whether the limit was hit.
    fn blown(mut self) -> bool {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.take().is_some_and(|t| t.join().unwrap_or(true))
    }
}

/// Throws seeded garbage at `server` on many connections, then checks it
/// still answers.
fn survive_garbage(server: &Server) {
    const LIMIT: u64 = 1 << 30;
    let watch = MemoryWatch::new(server.pid(), LIMIT);
    let port = server.port;
    let workers: Vec<_> = (0..8u64)
        .map(|t| {
            thread::spawn(move || {
                let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (t + 1));
                for _ in 0..16 {
                    let payload = garbage(&mut rng);
                    // A refused connection means the server is gone;
                    // the checks below report it.
                    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
                        return;
                    };
                    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                    // The server may close at the first protocol error:
                    // write errors are expected.
                    for piece in payload.chunks(1500) {
                        if s.write_all(piece).is_err() {
                            break;
                        }
                    }
                    let _ = s.shutdown(Shutdown::Write);
                    let mut sink = Vec::new();
                    let _ = s.read_to_end(&mut sink);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("garbage thread");
    }
    assert!(
        !watch.blown(),
        "server passed {LIMIT} bytes of memory on garbage input and was killed"
    );
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["PING"]), b"+PONG\r\n");
    assert_eq!(raw.cmd(&["SET", "after", "garbage"]), b"+OK\r\n");
    assert_eq!(raw.cmd(&["GET", "after"]), b"$7\r\ngarbage\r\n");
}

#[test]
fn server_survives_garbage() {
    survive_garbage(&Server::start());
}

#[test]
fn redis_survives_the_same_garbage() {
    // The control: the garbage is fair if real Redis takes it too.
    survive_garbage(&Server::start_redis());
}

/// ferrokv started with its stdout piped into a line channel.
struct Logged {
    child: Child,
    port: u16,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    dir: std::path::PathBuf,
}

impl Logged {
    fn start() -> Logged {
        let port = common::free_port();
        let dir = common::scratch_dir("logged");
        let mut child = Command::new(env!("CARGO_BIN_EXE_ferrokv"))
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start ferrokv");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Logged {
            child,
            port,
            lines,
            seen: Vec::new(),
            dir,
        }
    }

    /// Waits (bounded) for a log line containing `text`.
    fn wait_for(&mut self, text: &str) -> String {
        let deadline = Instant::now() + TIMEOUT;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => break,
            }
        }
        panic!("no log line containing {text:?}; got {:#?}", self.seen);
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn startup_log_and_sigterm_shutdown() {
    let mut server = Logged::start();
    let first = server.wait_for("ferrokv");
    assert!(first.contains(&format!("port={}", server.port)), "{first}");
    server.wait_for("Ready to accept connections tcp");
    let mut raw = Raw::connect(server.port);
    assert_eq!(raw.cmd(&["PING"]), b"+PONG\r\n");
    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    server.wait_for("Received SIGTERM scheduling shutdown");
    let deadline = Instant::now() + TIMEOUT;
    let exit = loop {
        if let Some(exit) = server.child.try_wait().expect("wait") {
            break exit;
        }
        assert!(Instant::now() < deadline, "no exit within {TIMEOUT:?}");
        thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "exit status {exit:?}");
    server.wait_for("ready to exit");
    assert!(raw.is_closed());
}

#[test]
fn normal_output_buffer_hard_limit_closes_the_client() {
    let s = common::Server::start_with(&["--client-output-buffer-limit", "normal 1mb 0 0"]);
    let mut r = s.raw();
    let big = "x".repeat(600 * 1024);
    assert_eq!(r.cmd(&["SET", "big", &big]), b"+OK\r\n");
    // One reply under the limit is fine; a pipeline of three is not.
    assert_eq!(r.cmd(&["STRLEN", "big"]), b":614400\r\n");
    let get = common::encode(&[b"GET", b"big"]);
    r.send(&[get.clone(), get.clone(), get].concat());
    assert!(r.is_closed());
    let mut other = s.raw();
    assert_eq!(other.cmd(&["PING"]), b"+PONG\r\n");
}
