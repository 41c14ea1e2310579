//! MULTI/EXEC atomicity and WATCH under concurrency, against the real
//! binary with several worker threads.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const KEYS: [&str; 6] = ["tx:a", "tx:b", "{x}tx:c", "{y}tx:d", "{z}tx:e", "tx:f"];

#[test]
fn exec_blocks_are_never_seen_half_applied() {
    let s = common::Server::start_with(&["--threads", "2"]);
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..3 {
        let port = s.port;
        let stop = stop.clone();
        writers.push(thread::spawn(move || {
            let mut r = common::Raw::connect(port);
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let value = format!("{w}-{n}");
                let mut batch = common::encode(&[b"MULTI"]);
                for k in KEYS {
                    batch.extend(common::encode(&[b"SET", k.as_bytes(), value.as_bytes()]));
                }
                batch.extend(common::encode(&[b"EXEC"]));
                r.send(&batch);
                for _ in 0..KEYS.len() + 2 {
                    r.read_frame();
                }
                n += 1;
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_millis(2500);
    let mut con = s.client();
    let mut reads = 0;
    while Instant::now() < deadline {
        let values: Vec<Option<String>> =
            redis::cmd("MGET").arg(&KEYS[..]).query(&mut con).unwrap();
        if values[0].is_some() {
            assert!(
                values.iter().all(|v| v == &values[0]),
                "mixed transaction state: {values:?}"
            );
        }
        reads += 1;
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    assert!(reads > 100, "only {reads} reads");
}

#[test]
fn watch_makes_optimistic_increments_exact() {
    let s = common::Server::start_with(&["--threads", "2"]);
    let mut handles = Vec::new();
    for _ in 0..4 {
        let port = s.port;
        handles.push(thread::spawn(move || {
            let mut r = common::Raw::connect(port);
            let mut committed = 0;
            let deadline = Instant::now() + Duration::from_secs(20);
            while committed < 200 {
                assert!(Instant::now() < deadline, "no progress");
                assert_eq!(r.cmd(&["WATCH", "counter"]), b"+OK\r\n");
                let current: i64 = match r.cmd_str(&["GET", "counter"]).as_str() {
                    "$-1\r\n" => 0,
                    reply => reply.lines().nth(1).unwrap().parse().unwrap(),
                };
                r.cmd(&["MULTI"]);
                r.cmd(&["SET", "counter", &(current + 1).to_string()]);
                let result = r.cmd(&["EXEC"]);
                if result != b"*-1\r\n" {
                    assert_eq!(result, b"*1\r\n+OK\r\n");
                    committed += 1;
                }
            }
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    let mut r = s.raw();
    assert_eq!(r.cmd(&["GET", "counter"]), b"$3\r\n800\r\n");
}

#[test]
fn another_clients_write_aborts_exec() {
    let s = common::Server::start();
    let mut a = s.raw();
    let mut b = s.raw();
    a.cmd(&["SET", "k", "1"]);
    assert_eq!(a.cmd(&["WATCH", "k"]), b"+OK\r\n");
    assert_eq!(b.cmd(&["INCR", "k"]), b":2\r\n");
    a.cmd(&["MULTI"]);
    assert_eq!(a.cmd(&["SET", "k", "x"]), b"+QUEUED\r\n");
    assert_eq!(a.cmd(&["EXEC"]), b"*-1\r\n");
    assert_eq!(a.cmd(&["GET", "k"]), b"$1\r\n2\r\n");
    // SWAPDB touches watched keys that exist in either database.
    a.cmd(&["WATCH", "k"]);
    b.cmd(&["SWAPDB", "0", "1"]);
    a.cmd(&["MULTI"]);
    a.cmd(&["PING"]);
    assert_eq!(a.cmd(&["EXEC"]), b"*-1\r\n");
    // A disconnected watcher leaves nothing behind.
    let mut c = s.raw();
    c.cmd(&["WATCH", "k", "other"]);
    drop(c);
    a.cmd(&["MULTI"]);
    a.cmd(&["PING"]);
    assert_eq!(a.cmd(&["EXEC"]), b"*1\r\n+PONG\r\n");
}
