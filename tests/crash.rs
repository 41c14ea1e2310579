//! Crash safety of the AOF: writers get acknowledgements for INCR/SET while
//! the server is `kill -9`ed at a random moment; after a restart every
//! acknowledged write must be there.
//!
//! With `appendfsync always` a reply leaves only once the command is
//! fsynced. With `everysec` and `no` a reply leaves once the command is
//! written to the file (the kernel keeps it when the process dies), so a
//! process crash loses nothing either; only a machine crash could lose
//! the last second under `everysec`.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{scratch_dir, Server, TIMEOUT};

/// Writers, each with its own counter and keys.
const WRITERS: usize = 4;
/// INCR+SET pairs per pipelined batch.
const BATCH: usize = 50;
/// Acknowledged writes (INCRs plus SETs) after which the writers stop.
const TARGET: usize = 100_000;

/// Reads one RESP reply line (the writers only get `:n` and `+OK`).
fn read_line(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<Vec<u8>> {
    loop {
        if let Some(pos) = buf.windows(2).position(|w| w == b"\r\n") {
            let line = buf[..pos].to_vec();
            buf.drain(..pos + 2);
            return Ok(line);
        }
        let mut chunk = [0u8; 64 * 1024];
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Writes `INCR ctr{id}` / `SET k{id}:{n} n` pairs until the server dies
/// or the writers together reach [`TARGET`]; returns the highest `n` whose
/// two replies arrived.
fn writer(port: u16, id: usize) -> u64 {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return 0;
    };
    let _ = stream.set_read_timeout(Some(TIMEOUT));
    let mut buf = Vec::new();
    let mut acked = 0u64;
    let per_writer = (TARGET / 2 / WRITERS) as u64;
    while acked < per_writer {
        let mut out = Vec::new();
        for n in acked + 1..=acked + BATCH as u64 {
            let n_s = n.to_string();
            out.extend(common::encode(&[b"INCR", format!("ctr{id}").as_bytes()]));
            out.extend(common::encode(&[
                b"SET",
                format!("k{id}:{n}").as_bytes(),
                n_s.as_bytes(),
            ]));
        }
        if stream.write_all(&out).is_err() {
            return acked;
        }
        for _ in 0..BATCH {
            let Ok(incr) = read_line(&mut stream, &mut buf) else {
                return acked;
            };
            assert_eq!(incr, format!(":{}", acked + 1).into_bytes());
            let Ok(set) = read_line(&mut stream, &mut buf) else {
                return acked;
            };
            assert_eq!(set, b"+OK");
            acked += 1;
        }
    }
    acked
}

/// A pseudo-random delay in `0..max_ms`.
fn random_ms(max_ms: u64) -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as u64);
    nanos.wrapping_mul(6364136223846793005) % max_ms
}

fn crash_and_check(fsync: &str) {
    let dir = scratch_dir(&format!("crash-{fsync}"));
    let d = dir.to_str().expect("utf-8").to_string();
    let server = Server::start_with(&["--dir", &d, "--appendonly", "yes", "--appendfsync", fsync]);
    let port = server.port;
    let writers: Vec<_> = (0..WRITERS)
        .map(|id| std::thread::spawn(move || writer(port, id)))
        .collect();
    std::thread::sleep(Duration::from_millis(300 + random_ms(2000)));
    let killed = Command::new("kill")
        .args(["-9", &server.pid().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let acked: Vec<u64> = writers
        .into_iter()
        .map(|w| w.join().expect("writer thread"))
        .collect();
    drop(server);
    let total: u64 = acked.iter().sum::<u64>() * 2;
    assert!(total > 0, "no write was acknowledged before the kill");
    println!("appendfsync {fsync}: {total} writes acknowledged before kill -9");
    let started = Instant::now();
    let server = Server::start_with(&["--dir", &d, "--appendonly", "yes"]);
    assert!(started.elapsed() < TIMEOUT);
    let mut r = server.raw();
    for (id, &n) in acked.iter().enumerate() {
        let counter = r.cmd_str(&["GET", &format!("ctr{id}")]);
        let value: u64 = counter
            .split("\r\n")
            .nth(1)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        assert!(
            value >= n,
            "writer {id}: {n} INCRs acknowledged, {value} after restart"
        );
        // Every acknowledged SET is there with its value.
        let mut next = 1;
        while next <= n {
            let last = (next + 999).min(n);
            let keys: Vec<String> = (next..=last).map(|i| format!("k{id}:{i}")).collect();
            let mut args = vec!["MGET"];
            args.extend(keys.iter().map(String::as_str));
            let expected: Vec<u8> = {
                let mut e = format!("*{}\r\n", keys.len()).into_bytes();
                for i in next..=last {
                    let v = i.to_string();
                    e.extend(format!("${}\r\n{v}\r\n", v.len()).into_bytes());
                }
                e
            };
            assert_eq!(r.cmd(&args), expected, "writer {id}: keys {next}..={last}");
            next = last + 1;
        }
    }
    drop(r);
    drop(server);
    let _ = std::fs::remove_dir_all(Path::new(&d));
}

#[test]
fn kill_9_under_appendfsync_always_loses_no_acknowledged_write() {
    crash_and_check("always");
}

#[test]
fn kill_9_under_appendfsync_everysec_loses_no_acknowledged_write() {
    crash_and_check("everysec");
}
