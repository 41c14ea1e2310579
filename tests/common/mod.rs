//! Shared helpers for the integration tests: start the real `ferrokv`
//! binary (and, for differential tests, a real `redis-server`) on a free
//! port, and talk to it with the `redis` crate or raw RESP bytes.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Every wait in the tests is bounded by this.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A fresh scratch directory under the target directory.
pub fn scratch_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ferrokv-test-{tag}-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// A running server process, killed on drop.
pub struct Server {
    child: Child,
    /// The TCP port it listens on.
    pub port: u16,
    /// Its working directory.
    pub dir: PathBuf,
}

impl Server {
    /// Starts ferrokv with default settings (no persistence) on a free port.
    pub fn start() -> Server {
        Self::start_with(&[])
    }

    /// Starts ferrokv with extra `--directive value` arguments.
    pub fn start_with(extra: &[&str]) -> Server {
        let port = free_port();
        let dir = scratch_dir("ferrokv");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferrokv"));
        cmd.args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .arg("--dir")
        .arg(&dir)
        .args(extra)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        Self::spawn(cmd, port, dir)
    }

    /// Starts the real `redis-server` (differential tests). Panics with a
    /// clear message when it is not installed: tests never skip silently.
    pub fn start_redis() -> Server {
        Self::start_redis_with(&[])
    }

    /// Starts the real `redis-server` with extra `--directive value`
    /// arguments (e.g. `--replicaof` for replication tests).
    pub fn start_redis_with(extra: &[&str]) -> Server {
        let port = free_port();
        let dir = scratch_dir("redis");
        let mut cmd = Command::new("redis-server");
        cmd.args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .arg("--dir")
        .arg(&dir)
        .args(extra)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        Self::spawn(cmd, port, dir)
    }

    fn spawn(mut cmd: Command, port: u16, dir: PathBuf) -> Server {
        let child = cmd.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot start {:?}: {e} (is it installed? .ci/run installs redis-server)",
                cmd.get_program()
            )
        });
        let server = Server { child, port, dir };
        server.wait_ready();
        server
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(mut c) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = c.set_read_timeout(Some(Duration::from_secs(1)));
                if c.write_all(b"PING\r\n").is_ok() {
                    // "+PONG", or "-NOAUTH" when a password is required.
                    let mut buf = [0u8; 7];
                    if c.read_exact(&mut buf).is_ok()
                        && (&buf == b"+PONG\r\n" || &buf == b"-NOAUTH")
                    {
                        // Leave through QUIT and wait for the server's EOF, so
                        // the probe is gone from CLIENT LIST when tests start.
                        let _ = c.write_all(b"QUIT\r\n");
                        let _ = c.read_to_end(&mut Vec::new());
                        return;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "server on port {} did not answer PING within {:?}",
            self.port, TIMEOUT
        );
    }

    /// A connection through the `redis` crate.
    pub fn client(&self) -> redis::Connection {
        let client =
            redis::Client::open(format!("redis://127.0.0.1:{}/", self.port)).expect("client");
        let con = client
            .get_connection_with_timeout(TIMEOUT)
            .expect("connect");
        con.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        con
    }

    /// A raw RESP connection.
    pub fn raw(&self) -> Raw {
        Raw::connect(self.port)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends SIGTERM and waits (bounded) for the exit status.
    pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Encodes a command as a RESP multibulk.
pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Length of the first complete RESP2/RESP3 frame in `buf`, if complete.
pub fn frame_len(buf: &[u8]) -> Option<usize> {
    let line_end = |from: usize| -> Option<usize> {
        buf[from..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .map(|p| from + p)
    };
    let first = *buf.first()?;
    let eol = line_end(1)?;
    let after = eol + 2;
    if matches!(first, b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(') {
        // Simple strings and errors may hold any byte but CR and LF.
        return Some(after);
    }
    let header = std::str::from_utf8(&buf[1..eol]).ok()?;
    match first {
        b'$' | b'!' | b'=' => {
            let n: i64 = header.parse().ok()?;
            if n < 0 {
                return Some(after);
            }
            let end = after + n as usize + 2;
            (buf.len() >= end).then_some(end)
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n: i64 = header.parse().ok()?;
            let items = match first {
                b'%' | b'|' => n * 2,
                _ => n,
            };
            let mut pos = after;
            for _ in 0..items.max(0) {
                pos += frame_len(&buf[pos..])?;
            }
            if first == b'|' {
                // An attribute precedes the real reply.
                pos += frame_len(&buf[pos..])?;
            }
            Some(pos)
        }
        _ => panic!("not a RESP frame: {:?}", String::from_utf8_lossy(buf)),
    }
}

/// A raw TCP connection speaking RESP bytes.
pub struct Raw {
    /// The socket.
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    /// Connects to a local port.
    pub fn connect(port: u16) -> Raw {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        stream.set_nodelay(true).expect("nodelay");
        Raw {
            stream,
            buf: Vec::new(),
        }
    }

    /// Writes bytes as they are.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// Reads exactly one reply frame and returns its bytes.
    pub fn read_frame(&mut self) -> Vec<u8> {
        self.try_read_frame().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like [`Raw::read_frame`], but a closed connection, a read error or
    /// the timeout is returned as a description instead of panicking.
    pub fn try_read_frame(&mut self) -> Result<Vec<u8>, String> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(n) = frame_len(&self.buf) {
                return Ok(self.buf.drain(..n).collect());
            }
            if Instant::now() >= deadline {
                return Err(format!("no complete reply within {TIMEOUT:?}"));
            }
            let mut chunk = [0u8; 64 * 1024];
            let n = self
                .stream
                .read(&mut chunk)
                .map_err(|e| format!("read failed: {e}"))?;
            if n == 0 {
                return Err(format!(
                    "connection closed; partial reply: {:?}",
                    String::from_utf8_lossy(&self.buf)
                ));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Reads exactly `n` bytes, whatever they hold (a replication stream,
    /// an RDB payload without a trailing CRLF).
    pub fn read_bytes(&mut self, n: usize) -> Vec<u8> {
        let deadline = Instant::now() + TIMEOUT;
        while self.buf.len() < n {
            assert!(Instant::now() < deadline, "no {n} bytes within {TIMEOUT:?}");
            let mut chunk = [0u8; 64 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => panic!("connection closed after {} bytes", self.buf.len()),
                Ok(got) => self.buf.extend_from_slice(&chunk[..got]),
                Err(e) => panic!("read failed: {e}"),
            }
        }
        self.buf.drain(..n).collect()
    }

    /// Sends a command and returns the raw reply.
    pub fn cmd(&mut self, args: &[&str]) -> Vec<u8> {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.send(&encode(&args));
        self.read_frame()
    }

    /// Like [`Raw::cmd`], with the reply as a (lossy) string for asserts.
    pub fn cmd_str(&mut self, args: &[&str]) -> String {
        String::from_utf8_lossy(&self.cmd(args)).into_owned()
    }

    /// Whether the server closed the connection (reads until EOF, bounded).
    pub fn is_closed(&mut self) -> bool {
        let mut chunk = [0u8; 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return true,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(_) => return false,
            }
        }
    }
}
