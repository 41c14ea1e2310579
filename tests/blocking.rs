//! Blocking list commands: arrival order, timeouts, chains, disconnects,
//! CLIENT UNBLOCK and pipelining. Every wait is bounded.

mod common;

use std::time::{Duration, Instant};

use common::{encode, Raw, Server};

/// Sends a command without reading its reply.
fn send(c: &mut Raw, args: &[&str]) {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    c.send(&encode(&args));
}

fn blocked_clients(c: &mut Raw) -> usize {
    let info = c.cmd_str(&["INFO", "clients"]);
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("blocked_clients in INFO")
}

/// Waits (bounded) until `n` clients are blocked.
fn wait_blocked(c: &mut Raw, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while blocked_clients(c) != n {
        assert!(
            Instant::now() < deadline,
            "never reached {n} blocked clients"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn waiters_are_served_in_arrival_order() {
    let s = Server::start();
    let (mut a, mut b, mut c) = (s.raw(), s.raw(), s.raw());
    send(&mut a, &["BLPOP", "k", "5"]);
    wait_blocked(&mut c, 1);
    send(&mut b, &["BLPOP", "k", "5"]);
    wait_blocked(&mut c, 2);
    assert_eq!(c.cmd(&["RPUSH", "k", "x", "y"]), b":2\r\n");
    assert_eq!(a.read_frame(), b"*2\r\n$1\r\nk\r\n$1\r\nx\r\n");
    assert_eq!(b.read_frame(), b"*2\r\n$1\r\nk\r\n$1\r\ny\r\n");
    assert_eq!(c.cmd(&["EXISTS", "k"]), b":0\r\n");
    assert_eq!(blocked_clients(&mut c), 0);
}

#[test]
fn push_of_three_serves_two_waiters_and_leaves_one() {
    let s = Server::start();
    let (mut a, mut b, mut c) = (s.raw(), s.raw(), s.raw());
    send(&mut a, &["BLPOP", "k", "5"]);
    wait_blocked(&mut c, 1);
    send(&mut b, &["BRPOP", "k", "5"]);
    wait_blocked(&mut c, 2);
    assert_eq!(c.cmd(&["LPUSH", "k", "a", "b", "c"]), b":3\r\n");
    assert_eq!(a.read_frame(), b"*2\r\n$1\r\nk\r\n$1\r\nc\r\n");
    assert_eq!(b.read_frame(), b"*2\r\n$1\r\nk\r\n$1\r\na\r\n");
    assert_eq!(c.cmd(&["LRANGE", "k", "0", "-1"]), b"*1\r\n$1\r\nb\r\n");
}

#[test]
fn first_non_empty_key_wins() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd(&["RPUSH", "k2", "v2"]);
    c.cmd(&["RPUSH", "k3", "v3"]);
    assert_eq!(
        c.cmd(&["BLPOP", "k1", "k2", "k3", "0"]),
        b"*2\r\n$2\r\nk2\r\n$2\r\nv2\r\n"
    );
    let mut a = s.raw();
    send(&mut a, &["BLPOP", "k1", "k2", "1"]);
    wait_blocked(&mut c, 1);
    c.cmd(&["RPUSH", "k2", "late"]);
    assert_eq!(a.read_frame(), b"*2\r\n$2\r\nk2\r\n$4\r\nlate\r\n");
}

#[test]
fn timeout_replies_null_on_time() {
    let s = Server::start();
    let mut c = s.raw();
    for (cmd, reply) in [
        (vec!["BLPOP", "k", "0.3"], &b"*-1\r\n"[..]),
        (vec!["BRPOP", "k", "0.3"], b"*-1\r\n"),
        (vec!["BLMOVE", "k", "d", "LEFT", "LEFT", "0.3"], b"*-1\r\n"),
        (vec!["BRPOPLPUSH", "k", "d", "0.3"], b"*-1\r\n"),
        (vec!["BLMPOP", "0.3", "1", "k", "LEFT"], b"*-1\r\n"),
    ] {
        let start = Instant::now();
        assert_eq!(c.cmd(&cmd), reply, "{cmd:?}");
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(290) && took < Duration::from_millis(450),
            "{cmd:?} took {took:?}"
        );
    }
    c.cmd(&["HELLO", "3"]);
    assert_eq!(c.cmd(&["BLPOP", "k", "0.05"]), b"_\r\n");
    assert_eq!(
        c.cmd(&["BLMOVE", "k", "d", "LEFT", "LEFT", "0.05"]),
        b"_\r\n"
    );
}

#[test]
fn zero_timeout_waits_for_a_push() {
    let s = Server::start();
    let (mut a, mut c) = (s.raw(), s.raw());
    send(&mut a, &["BLPOP", "k", "0"]);
    wait_blocked(&mut c, 1);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(blocked_clients(&mut c), 1);
    c.cmd(&["RPUSH", "k", "v"]);
    assert_eq!(a.read_frame(), b"*2\r\n$1\r\nk\r\n$1\r\nv\r\n");
}

#[test]
fn blmove_waiters_chain() {
    let s = Server::start();
    let (mut a, mut b, mut c) = (s.raw(), s.raw(), s.raw());
    send(&mut a, &["BLMOVE", "a", "b", "LEFT", "RIGHT", "5"]);
    wait_blocked(&mut c, 1);
    send(&mut b, &["BLMOVE", "b", "c", "LEFT", "RIGHT", "5"]);
    wait_blocked(&mut c, 2);
    c.cmd(&["RPUSH", "a", "v"]);
    assert_eq!(a.read_frame(), b"$1\r\nv\r\n");
    assert_eq!(b.read_frame(), b"$1\r\nv\r\n");
    assert_eq!(c.cmd(&["LRANGE", "c", "0", "-1"]), b"*1\r\n$1\r\nv\r\n");
    assert_eq!(c.cmd(&["EXISTS", "a", "b"]), b":0\r\n");
}

#[test]
fn brpoplpush_and_lmove_serve_waiters() {
    let s = Server::start();
    let (mut a, mut b, mut c) = (s.raw(), s.raw(), s.raw());
    send(&mut a, &["BRPOPLPUSH", "src", "dst", "5"]);
    wait_blocked(&mut c, 1);
    send(&mut b, &["BLPOP", "dst", "5"]);
    wait_blocked(&mut c, 2);
    c.cmd(&["RPUSH", "other", "x"]);
    assert_eq!(
        c.cmd(&["LMOVE", "other", "src", "LEFT", "LEFT"]),
        b"$1\r\nx\r\n"
    );
    assert_eq!(a.read_frame(), b"$1\r\nx\r\n");
    assert_eq!(b.read_frame(), b"*2\r\n$3\r\ndst\r\n$1\r\nx\r\n");
    assert_eq!(c.cmd(&["EXISTS", "src", "dst", "other"]), b":0\r\n");
}

#[test]
fn blmove_into_wrong_type_fails_the_waiter() {
    let s = Server::start();
    let (mut a, mut c) = (s.raw(), s.raw());
    c.cmd(&["SET", "dst", "str"]);
    send(&mut a, &["BLMOVE", "src", "dst", "LEFT", "LEFT", "5"]);
    wait_blocked(&mut c, 1);
    c.cmd(&["RPUSH", "src", "x"]);
    assert_eq!(
        a.read_frame(),
        &b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"[..]
    );
    assert_eq!(c.cmd(&["LRANGE", "src", "0", "-1"]), b"*1\r\n$1\r\nx\r\n");
    assert_eq!(blocked_clients(&mut c), 0);
}

#[test]
fn blmpop_serves_up_to_count() {
    let s = Server::start();
    let (mut a, mut c) = (s.raw(), s.raw());
    send(
        &mut a,
        &["BLMPOP", "5", "2", "x", "y", "RIGHT", "COUNT", "2"],
    );
    wait_blocked(&mut c, 1);
    c.cmd(&["RPUSH", "y", "1", "2", "3"]);
    assert_eq!(
        a.read_frame(),
        b"*2\r\n$1\r\ny\r\n*2\r\n$1\r\n3\r\n$1\r\n2\r\n"
    );
    assert_eq!(c.cmd(&["LRANGE", "y", "0", "-1"]), b"*1\r\n$1\r\n1\r\n");
}

#[test]
fn disconnected_waiter_leaves_the_queue() {
    let s = Server::start();
    let (mut a, mut b, mut c) = (s.raw(), s.raw(), s.raw());
    send(&mut a, &["BLPOP", "k", "0"]);
    wait_blocked(&mut c, 1);
    send(&mut b, &["BLPOP", "k", "0"]);
    wait_blocked(&mut c, 2);
    drop(a);
    wait_blocked(&mut c, 1);
    c.cmd(&["RPUSH", "k", "v"]);
    assert_eq!(b.read_frame(), b"*2\r\n$1\r\nk\r\n$1\r\nv\r\n");
    assert_eq!(c.cmd(&["LLEN", "k"]), b":0\r\n");
}

#[test]
fn client_unblock_timeout_and_error() {
    let s = Server::start();
    let (mut a, mut c) = (s.raw(), s.raw());
    let id = a.cmd_str(&["CLIENT", "ID"]);
    let id = id.trim().trim_start_matches(':').to_string();
    send(&mut a, &["BLPOP", "k", "0"]);
    wait_blocked(&mut c, 1);
    assert_eq!(c.cmd(&["CLIENT", "UNBLOCK", &id]), b":1\r\n");
    assert_eq!(a.read_frame(), b"*-1\r\n");
    assert_eq!(blocked_clients(&mut c), 0);
    send(&mut a, &["BLMOVE", "k", "d", "LEFT", "LEFT", "0"]);
    wait_blocked(&mut c, 1);
    assert_eq!(c.cmd(&["CLIENT", "UNBLOCK", &id, "ERROR"]), b":1\r\n");
    assert_eq!(
        a.read_frame(),
        &b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"[..]
    );
    assert_eq!(c.cmd(&["CLIENT", "UNBLOCK", &id]), b":0\r\n");
    // The next push is not taken by anybody.
    c.cmd(&["RPUSH", "k", "v"]);
    assert_eq!(c.cmd(&["LLEN", "k"]), b":1\r\n");
}

#[test]
fn pipelined_commands_wait_for_the_blocked_one() {
    let s = Server::start();
    let (mut a, mut c) = (s.raw(), s.raw());
    a.send(b"BLPOP k 5\r\nPING\r\nLLEN k\r\n");
    wait_blocked(&mut c, 1);
    c.cmd(&["RPUSH", "k", "v", "w"]);
    assert_eq!(a.read_frame(), b"*2\r\n$1\r\nk\r\n$1\r\nv\r\n");
    assert_eq!(a.read_frame(), b"+PONG\r\n");
    assert_eq!(a.read_frame(), b":1\r\n");
}

#[test]
fn a_push_inside_multi_wakes_the_waiter_only_after_exec() {
    let s = Server::start();
    let mut waiter = s.raw();
    let mut tx = s.raw();
    let mut probe = s.raw();
    send(&mut waiter, &["BLPOP", "q", "5"]);
    wait_blocked(&mut probe, 1);
    assert_eq!(tx.cmd(&["MULTI"]), b"+OK\r\n");
    assert_eq!(tx.cmd(&["RPUSH", "q", "a"]), b"+QUEUED\r\n");
    assert_eq!(tx.cmd(&["RPUSH", "q", "b"]), b"+QUEUED\r\n");
    assert_eq!(tx.cmd(&["LPOP", "q"]), b"+QUEUED\r\n");
    // Nothing reaches the waiter while the transaction is only queued.
    waiter
        .stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    assert!(waiter.try_read_frame().is_err());
    waiter
        .stream
        .set_read_timeout(Some(common::TIMEOUT))
        .unwrap();
    // EXEC's own LPOP takes "a": the waiter is served from the final state.
    assert_eq!(tx.cmd(&["EXEC"]), b"*3\r\n:1\r\n:2\r\n$1\r\na\r\n");
    assert_eq!(waiter.read_frame(), b"*2\r\n$1\r\nq\r\n$1\r\nb\r\n");
    assert_eq!(probe.cmd(&["EXISTS", "q"]), b":0\r\n");
}
