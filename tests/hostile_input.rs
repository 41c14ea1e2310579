//! Hostile input at the scale issue 8 names: an absurd bulk length, a
//! 2^31-1 multibulk count, 100,000 connections opened and dropped, and a
//! client that never reads its replies next to a slow-loris client, while
//! a normal client's latency is measured.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{encode, Raw, Server};

fn used_memory(r: &mut Raw) -> u64 {
    let info = r.cmd_str(&["INFO", "memory"]);
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory")
}

/// Reads until the server closes the connection (bounded).
fn read_to_close(c: &mut TcpStream) -> Vec<u8> {
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut all = Vec::new();
    let _ = c.read_to_end(&mut all);
    all
}

#[test]
fn absurd_lengths_are_protocol_errors_that_allocate_nothing() {
    let s = Server::start();
    let mut r = s.raw();
    let before = used_memory(&mut r);
    let mut c = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    c.write_all(b"*1\r\n$2147483648\r\n").unwrap();
    assert_eq!(
        read_to_close(&mut c),
        b"-ERR Protocol error: invalid bulk length\r\n"
    );
    let mut c = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    c.write_all(b"*2147483647\r\n$3\r\nSET\r\n").unwrap();
    c.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 64];
    // Still waiting for arguments: nothing sent back, nothing reserved.
    assert!(c.read(&mut buf).is_err());
    assert!(used_memory(&mut r) < before + 4 * 1024 * 1024);
    assert_eq!(r.cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn a_hundred_thousand_connections_come_and_go() {
    let s = Server::start();
    let mut r = s.raw();
    let before = used_memory(&mut r);
    let started = Instant::now();
    for i in 0..100_000u32 {
        let c = TcpStream::connect(("127.0.0.1", s.port)).expect("connect");
        // Reset on close, so the client side leaves no TIME_WAIT behind.
        socket2::SockRef::from(&c)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        if i % 10 == 0 {
            (&c).write_all(b"PING\r\n").unwrap();
        }
        assert!(started.elapsed() < Duration::from_secs(300), "too slow");
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let clients = r.cmd_str(&["INFO", "clients"]);
        if clients.contains("connected_clients:1\r\n") {
            break;
        }
        assert!(Instant::now() < deadline, "clients left: {clients}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(used_memory(&mut r) < before + 8 * 1024 * 1024);
    assert_eq!(r.cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn non_reading_and_slow_clients_leave_others_fast_and_memory_bounded() {
    let s = Server::start_with(&["--client-output-buffer-limit", "normal 8mb 4mb 2"]);
    let mut r = s.raw();
    let big = "x".repeat(100_000);
    assert_eq!(r.cmd(&["SET", "big", &big]), b"+OK\r\n");
    let before = used_memory(&mut r);
    // Asks for ~200 MB of replies and never reads them.
    let mut greedy = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    let mut asks = Vec::new();
    for _ in 0..2000 {
        asks.extend_from_slice(&encode(&[b"GET", b"big"]));
    }
    greedy
        .set_write_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = greedy.write_all(&asks);
    // Sends one byte of a command every 100 ms.
    let slow = std::thread::spawn({
        let port = s.port;
        move || {
            let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
            for b in b"*1\r\n$4\r\nPING\r\n" {
                let _ = c.write_all(&[*b]);
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    });
    let mut worst = Duration::ZERO;
    for _ in 0..200 {
        let t = Instant::now();
        assert_eq!(r.cmd(&["PING"]), b"+PONG\r\n");
        worst = worst.max(t.elapsed());
        std::thread::sleep(Duration::from_millis(5));
    }
    slow.join().unwrap();
    assert!(worst < Duration::from_millis(500), "a PING took {worst:?}");
    assert!(
        used_memory(&mut r) < before + 32 * 1024 * 1024,
        "memory grew by more than the output limit allows"
    );
}
