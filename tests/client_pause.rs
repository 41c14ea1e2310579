//! CLIENT PAUSE / UNPAUSE with several clients: what waits, what runs,
//! and that UNPAUSE releases the waiters at once.

mod common;

use std::time::{Duration, Instant};

/// Sends a command and returns its reply with how long it took.
fn timed(raw: &mut common::Raw, args: &[&str]) -> (Vec<u8>, Duration) {
    let t = Instant::now();
    let reply = raw.cmd(args);
    (reply, t.elapsed())
}

#[test]
fn write_pause_holds_writes_and_may_replicate_commands_only() {
    let s = common::Server::start();
    let mut admin = s.raw();
    let mut other = s.raw();
    assert_eq!(admin.cmd(&["CLIENT", "PAUSE", "400", "WRITE"]), b"+OK\r\n");
    let (r, took) = timed(&mut other, &["GET", "k"]);
    assert_eq!(r, b"$-1\r\n");
    assert!(took < Duration::from_millis(300), "{took:?}");
    let (r, took) = timed(&mut other, &["SET", "k", "v"]);
    assert_eq!(r, b"+OK\r\n");
    assert!(took >= Duration::from_millis(250), "{took:?}");

    for cmd in [&["PUBLISH", "ch", "m"][..], &["SPUBLISH", "ch", "m"][..]] {
        admin.cmd(&["CLIENT", "PAUSE", "300", "WRITE"]);
        let (_, took) = timed(&mut other, cmd);
        assert!(took >= Duration::from_millis(150), "{cmd:?} {took:?}");
    }

    // Inside MULTI a read is queued at once, a write waits; EXEC of a
    // read-only transaction runs.
    admin.cmd(&["CLIENT", "PAUSE", "300", "WRITE"]);
    assert_eq!(other.cmd(&["MULTI"]), b"+OK\r\n");
    let (r, took) = timed(&mut other, &["GET", "k"]);
    assert_eq!(r, b"+QUEUED\r\n");
    assert!(took < Duration::from_millis(150), "{took:?}");
    let (r, took) = timed(&mut other, &["EXEC"]);
    assert_eq!(r, b"*1\r\n$1\r\nv\r\n");
    assert!(took < Duration::from_millis(150), "{took:?}");
}

#[test]
fn all_pause_holds_every_command_even_unpause() {
    let s = common::Server::start();
    let mut admin = s.raw();
    let mut other = s.raw();
    let mut third = s.raw();
    let t = Instant::now();
    assert_eq!(admin.cmd(&["CLIENT", "PAUSE", "600", "ALL"]), b"+OK\r\n");
    other.send(&common::encode(&[b"PING"]));
    third.send(&common::encode(&[b"CLIENT", b"UNPAUSE"]));
    // The pausing client is paused too.
    assert_eq!(admin.cmd(&["GET", "k"]), b"$-1\r\n");
    assert!(
        t.elapsed() >= Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(other.read_frame(), b"+PONG\r\n");
    assert_eq!(third.read_frame(), b"+OK\r\n");
    // Errors found before the pause check are not held back.
    admin.cmd(&["CLIENT", "PAUSE", "5000", "ALL"]);
    let (r, took) = timed(&mut other, &["NOSUCHCMD"]);
    assert!(r.starts_with(b"-ERR unknown command"), "{r:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[test]
fn unpause_releases_waiting_clients_at_once() {
    let s = common::Server::start();
    let mut admin = s.raw();
    let mut writer = s.raw();
    let t = Instant::now();
    assert_eq!(admin.cmd(&["CLIENT", "PAUSE", "8000", "WRITE"]), b"+OK\r\n");
    writer.send(&common::encode(&[b"SET", b"k", b"v"]));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(admin.cmd(&["GET", "k"]), b"$-1\r\n");
    assert_eq!(admin.cmd(&["CLIENT", "UNPAUSE"]), b"+OK\r\n");
    assert_eq!(writer.read_frame(), b"+OK\r\n");
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
    assert_eq!(admin.cmd(&["GET", "k"]), b"$1\r\nv\r\n");
}

#[test]
fn a_killed_client_stops_waiting() {
    let s = common::Server::start();
    let mut admin = s.raw();
    let mut waiter = s.raw();
    let id = waiter.cmd_str(&["CLIENT", "ID"]);
    admin.cmd(&["CLIENT", "PAUSE", "8000", "WRITE"]);
    waiter.send(&common::encode(&[b"SET", b"k", b"v"]));
    std::thread::sleep(Duration::from_millis(100));
    let id = id.trim_start_matches(':').trim().to_string();
    assert_eq!(admin.cmd(&["CLIENT", "KILL", "ID", &id]), b":1\r\n");
    assert!(waiter.is_closed());
    admin.cmd(&["CLIENT", "UNPAUSE"]);
    assert_eq!(admin.cmd(&["EXISTS", "k"]), b":0\r\n");
}
