//! Client limits: query buffer, output buffer (normal class), maxclients,
//! and hostile inputs that must not make the server allocate.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{Raw, Server};

fn info_field(r: &mut Raw, section: &str, name: &str) -> u64 {
    let text = r.cmd_str(&["INFO", section]);
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in INFO {section}"))
        .trim()
        .parse()
        .expect("numeric field")
}

/// Waits (bounded) until `connected_clients` is `n`.
fn wait_clients(r: &mut Raw, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = info_field(r, "clients", "connected_clients");
        if now == n {
            return;
        }
        assert!(Instant::now() < deadline, "still {now} clients, want {n}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn connect(s: &Server) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// Writes `chunks` until the server closes the connection; returns
/// whether it did (bounded by the socket timeouts).
fn write_until_closed(stream: &mut TcpStream, chunk: &[u8], max_chunks: usize) -> bool {
    for _ in 0..max_chunks {
        if stream.write_all(chunk).is_err() {
            return true;
        }
    }
    let mut buf = [0u8; 64];
    matches!(stream.read(&mut buf), Ok(0) | Err(_))
}

#[test]
fn query_buffer_limit_closes_a_client_with_a_huge_partial_argument() {
    let s = Server::start_with(&["--client-query-buffer-limit", "1mb"]);
    let mut r = s.raw();
    let before = info_field(&mut r, "memory", "used_memory");
    let mut c = connect(&s);
    c.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$50000000\r\n")
        .unwrap();
    // Far less than the announced 50 MB: the limit applies to what is
    // buffered, not to what was announced.
    assert!(write_until_closed(&mut c, &[b'x'; 64 * 1024], 100));
    assert_eq!(r.cmd(&["PING"]), b"+PONG\r\n");
    assert_eq!(r.cmd(&["EXISTS", "k"]), b":0\r\n");
    let after = info_field(&mut r, "memory", "used_memory");
    assert!(
        after < before + 16 * 1024 * 1024,
        "memory grew from {before} to {after}"
    );
}

/// As in Redis, arguments already parsed leave the query buffer: a command
/// with many small arguments may exceed the limit in total.
#[test]
fn query_buffer_limit_ignores_already_parsed_arguments() {
    let s = Server::start_with(&["--client-query-buffer-limit", "1mb"]);
    let mut c = connect(&s);
    let pairs = 100_000;
    let mut bytes = format!("*{}\r\n$4\r\nMSET\r\n", 2 * pairs + 1).into_bytes();
    for i in 0..pairs {
        let k = format!("key:{i:06}");
        bytes.extend_from_slice(format!("$10\r\n{k}\r\n$10\r\n0123456789\r\n").as_bytes());
    }
    assert!(bytes.len() > 3 * 1024 * 1024);
    for chunk in bytes.chunks(16 * 1024) {
        c.write_all(chunk).unwrap();
    }
    let mut reply = [0u8; 5];
    c.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"+OK\r\n");
    let mut r = s.raw();
    assert_eq!(r.cmd(&["DBSIZE"]), b":100000\r\n");
}

/// A multibulk header announcing two billion arguments allocates nothing
/// up front; the client just waits for them.
#[test]
fn huge_multibulk_count_allocates_nothing_up_front() {
    let s = Server::start();
    let mut r = s.raw();
    let before = info_field(&mut r, "memory", "used_memory");
    let mut conns: Vec<TcpStream> = (0..20).map(|_| connect(&s)).collect();
    for c in &mut conns {
        c.write_all(b"*2147483647\r\n$3\r\nSET\r\n").unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(r.cmd(&["PING"]), b"+PONG\r\n");
    let after = info_field(&mut r, "memory", "used_memory");
    assert!(
        after < before + 4 * 1024 * 1024,
        "memory grew from {before} to {after}"
    );
}

/// A client that pipelines big replies without reading them is closed
/// once its pending output stays over the soft limit for the soft time.
#[test]
fn normal_output_buffer_soft_limit_closes_a_client_that_does_not_read() {
    let s = Server::start_with(&["--client-output-buffer-limit", "normal 0 1mb 1"]);
    let mut r = s.raw();
    let big = "x".repeat(4 * 1024 * 1024);
    assert_eq!(r.cmd(&["SET", "big", &big]), b"+OK\r\n");
    let mut c = connect(&s);
    let get = common::encode(&[b"GET", b"big"]);
    for _ in 0..20 {
        c.write_all(&get).unwrap();
    }
    wait_clients(&mut r, 2);
    let started = Instant::now();
    wait_clients(&mut r, 1);
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert_eq!(r.cmd(&["GET", "missing"]), b"$-1\r\n");
}

/// A client reading its replies is never closed by the soft limit.
#[test]
fn normal_output_buffer_soft_limit_spares_clients_that_read() {
    let s = Server::start_with(&["--client-output-buffer-limit", "normal 0 1mb 1"]);
    let mut r = s.raw();
    let big = "x".repeat(2 * 1024 * 1024);
    assert_eq!(r.cmd(&["SET", "big", &big]), b"+OK\r\n");
    for _ in 0..5 {
        assert_eq!(r.cmd(&["GET", "big"]).len(), big.len() + 12);
    }
}

#[test]
fn maxclients_refuses_and_closes_the_extra_connection() {
    let s = Server::start_with(&["--maxclients", "2"]);
    let mut a = s.raw();
    let _b = s.raw();
    assert_eq!(a.cmd(&["PING"]), b"+PONG\r\n");
    let mut extra = connect(&s);
    let mut got = Vec::new();
    extra.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"-ERR max number of clients reached\r\n");
    assert_eq!(info_field(&mut a, "stats", "rejected_connections"), 1);
    // Raising the limit at run time lets the next one in.
    assert_eq!(a.cmd(&["CONFIG", "SET", "maxclients", "3"]), b"+OK\r\n");
    let mut third = s.raw();
    assert_eq!(third.cmd(&["PING"]), b"+PONG\r\n");
}

/// Idle clients are closed after `timeout` seconds; busy ones are not.
#[test]
fn idle_timeout_closes_only_idle_clients() {
    let s = Server::start_with(&["--timeout", "1"]);
    let mut idle = s.raw();
    let mut busy = s.raw();
    assert_eq!(idle.cmd(&["PING"]), b"+PONG\r\n");
    for _ in 0..6 {
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(busy.cmd(&["PING"]), b"+PONG\r\n");
    }
    assert!(idle.is_closed());
}

/// A header announcing a huge (but allowed) bulk string reserves memory as
/// the data arrives, not up front: many such clients cost little.
#[test]
fn announced_big_bulks_do_not_reserve_memory_up_front() {
    let s = Server::start();
    let mut r = s.raw();
    let before = info_field(&mut r, "memory", "used_memory");
    let mut conns: Vec<TcpStream> = (0..30).map(|_| connect(&s)).collect();
    for c in &mut conns {
        c.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$400000000\r\nxyz")
            .unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(r.cmd(&["PING"]), b"+PONG\r\n");
    let after = info_field(&mut r, "memory", "used_memory");
    assert!(
        after < before + 64 * 1024 * 1024,
        "memory grew from {before} to {after}"
    );
}

/// A client trickling a command one byte at a time holds nothing up:
/// others keep being served promptly, and its command runs once complete.
#[test]
fn slow_loris_client_does_not_delay_others() {
    let s = Server::start();
    let mut slow = connect(&s);
    let command = b"SET slow done\r\n";
    let mut r = s.raw();
    for &byte in command.iter() {
        slow.write_all(&[byte]).unwrap();
        let started = Instant::now();
        assert_eq!(r.cmd(&["PING"]), b"+PONG\r\n");
        assert!(started.elapsed() < Duration::from_millis(500));
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut reply = [0u8; 5];
    slow.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"+OK\r\n");
    assert_eq!(r.cmd(&["GET", "slow"]), b"$4\r\ndone\r\n");
}

/// Thousands of connections opened and dropped leave nothing behind.
#[test]
fn connection_churn_leaves_no_clients_or_memory_behind() {
    let s = Server::start();
    let mut r = s.raw();
    assert_eq!(r.cmd(&["PING"]), b"+PONG\r\n");
    let before = info_field(&mut r, "memory", "used_memory");
    for i in 0..3000 {
        let mut c = connect(&s);
        if i % 2 == 0 {
            c.write_all(b"PING\r\n").unwrap();
        }
    }
    wait_clients(&mut r, 1);
    let after = info_field(&mut r, "memory", "used_memory");
    assert!(
        after < before + 4 * 1024 * 1024,
        "memory grew from {before} to {after}"
    );
    assert!(info_field(&mut r, "stats", "total_connections_received") > 3000);
}
