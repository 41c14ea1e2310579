//! Pub/Sub between real connections: delivery in RESP2 and RESP3,
//! patterns, subscriber mode, slow subscribers and client introspection.

mod common;

use std::time::{Duration, Instant};

use common::Raw;

#[test]
fn messages_reach_channel_and_pattern_subscribers() {
    let s = common::Server::start();
    let mut sub = s.raw();
    let mut psub = s.raw();
    let mut publisher = s.raw();
    assert_eq!(
        sub.cmd(&["SUBSCRIBE", "news"]),
        b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n"
    );
    assert_eq!(
        psub.cmd(&["PSUBSCRIBE", "n[ae]ws"]),
        b"*3\r\n$10\r\npsubscribe\r\n$7\r\nn[ae]ws\r\n:1\r\n"
    );
    assert_eq!(publisher.cmd(&["PUBLISH", "news", "hi"]), b":2\r\n");
    assert_eq!(publisher.cmd(&["PUBLISH", "naws", "x"]), b":1\r\n");
    assert_eq!(publisher.cmd(&["PUBLISH", "other", "x"]), b":0\r\n");
    assert_eq!(
        sub.read_frame(),
        b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
    );
    assert_eq!(
        psub.read_frame(),
        b"*4\r\n$8\r\npmessage\r\n$7\r\nn[ae]ws\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
    );
    assert_eq!(
        psub.read_frame(),
        b"*4\r\n$8\r\npmessage\r\n$7\r\nn[ae]ws\r\n$4\r\nnaws\r\n$1\r\nx\r\n"
    );
    // Binary payloads arrive untouched, in order.
    for i in 0..100 {
        publisher.send(&common::encode(&[
            b"PUBLISH",
            b"news",
            format!("\x00{i}\r\n").as_bytes(),
        ]));
    }
    for _ in 0..100 {
        publisher.read_frame();
    }
    for i in 0..100 {
        let payload = format!("\x00{i}\r\n");
        let expected = format!(
            "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n${}\r\n{payload}\r\n",
            payload.len()
        );
        assert_eq!(sub.read_frame(), expected.as_bytes());
    }
}

#[test]
fn resp3_subscribers_get_pushes_and_can_run_commands() {
    let s = common::Server::start();
    let mut sub = s.raw();
    assert!(sub.cmd_str(&["HELLO", "3"]).starts_with("%7"));
    assert_eq!(
        sub.cmd(&["SUBSCRIBE", "c"]),
        b">3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n"
    );
    assert_eq!(sub.cmd(&["SET", "k", "v"]), b"+OK\r\n");
    assert_eq!(sub.cmd(&["GET", "k"]), b"$1\r\nv\r\n");
    let mut publisher = s.raw();
    assert_eq!(publisher.cmd(&["PUBLISH", "c", "m"]), b":1\r\n");
    assert_eq!(
        sub.read_frame(),
        b">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n"
    );
}

#[test]
fn resp2_subscriber_mode_limits_commands() {
    let s = common::Server::start();
    let mut sub = s.raw();
    sub.cmd(&["SUBSCRIBE", "c"]);
    assert_eq!(
        sub.cmd_str(&["GET", "k"]),
        "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"
    );
    assert_eq!(sub.cmd(&["PING"]), b"*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    assert_eq!(
        sub.cmd(&["UNSUBSCRIBE"]),
        b"*3\r\n$11\r\nunsubscribe\r\n$1\r\nc\r\n:0\r\n"
    );
    assert_eq!(sub.cmd(&["GET", "k"]), b"$-1\r\n");
}

fn client_list_line(r: &mut Raw, id: &str) -> String {
    let reply = r.cmd_str(&["CLIENT", "LIST", "ID", id]);
    reply.lines().nth(1).unwrap_or_default().to_string()
}

#[test]
fn subscribers_show_in_client_list_and_can_be_killed_by_type() {
    let s = common::Server::start();
    let mut sub = s.raw();
    let id = sub
        .cmd_str(&["CLIENT", "ID"])
        .trim_start_matches(':')
        .trim()
        .to_string();
    sub.cmd(&["SUBSCRIBE", "a", "b"]);
    sub.read_frame();
    sub.cmd(&["PSUBSCRIBE", "p*"]);
    let mut admin = s.raw();
    let line = client_list_line(&mut admin, &id);
    assert!(
        line.contains(" flags=P ") && line.contains(" sub=2 psub=1 ssub=0 "),
        "{line}"
    );
    assert_eq!(admin.cmd(&["CLIENT", "KILL", "TYPE", "pubsub"]), b":1\r\n");
    assert!(sub.is_closed());
    let deadline = Instant::now() + Duration::from_secs(5);
    while admin.cmd(&["PUBSUB", "NUMSUB", "a"]) != b"*2\r\n$1\r\na\r\n:0\r\n" {
        assert!(
            Instant::now() < deadline,
            "killed subscriber still registered"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_subscriber_that_does_not_read_is_disconnected_at_the_hard_limit() {
    let s = common::Server::start();
    let mut admin = s.raw();
    assert_eq!(
        admin.cmd(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 1mb 0 0"
        ]),
        b"+OK\r\n"
    );
    let mut slow = s.raw();
    slow.cmd(&["SUBSCRIBE", "firehose"]);
    let payload = "x".repeat(100 * 1024);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(
            Instant::now() < deadline,
            "slow subscriber never disconnected"
        );
        let receivers = admin.cmd(&["PUBLISH", "firehose", &payload]);
        if receivers == b":0\r\n" {
            break;
        }
    }
    // Memory stayed bounded: the server is healthy and the client is gone.
    assert_eq!(
        admin.cmd(&["PUBSUB", "NUMSUB", "firehose"]),
        b"*2\r\n$8\r\nfirehose\r\n:0\r\n"
    );
    assert_eq!(admin.cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn monitor_streams_commands_in_redis_format() {
    let s = common::Server::start();
    let mut mon = s.raw();
    assert_eq!(mon.cmd(&["MONITOR"]), b"+OK\r\n");
    let mut c = s.raw();
    let addr = {
        let line = c.cmd_str(&["CLIENT", "INFO"]);
        line.split(' ')
            .find_map(|f| f.strip_prefix("addr="))
            .unwrap()
            .to_string()
    };
    c.cmd(&["SET", "a\x00b", "\"x\"\n"]);
    c.cmd(&["SELECT", "2"]);
    c.cmd(&["GET", "k"]);
    c.cmd(&["CONFIG", "GET", "port"]);
    c.cmd(&["AUTH", "secret"]);
    let mut lines = Vec::new();
    for _ in 0..5 {
        lines.push(String::from_utf8(mon.read_frame()).unwrap());
    }
    let strip = |l: &str| {
        let (stamp, rest) = l.trim_end().split_once(' ').unwrap();
        let (secs, micros) = stamp.trim_start_matches('+').split_once('.').unwrap();
        assert!(secs.parse::<u64>().is_ok() && micros.len() == 6, "{l}");
        rest.to_string()
    };
    let rest: Vec<String> = lines.iter().map(|l| strip(l)).collect();
    assert_eq!(rest[0], format!("[0 {addr}] \"CLIENT\" \"INFO\""));
    assert_eq!(
        rest[1],
        format!("[0 {addr}] \"SET\" \"a\\x00b\" \"\\\"x\\\"\\n\"")
    );
    assert_eq!(rest[2], format!("[2 {addr}] \"SELECT\" \"2\""));
    assert_eq!(rest[3], format!("[2 {addr}] \"GET\" \"k\""));
    // CONFIG is an admin command: not shown. AUTH's secret is redacted.
    assert_eq!(rest[4], format!("[2 {addr}] \"AUTH\" \"(redacted)\""));
    assert_eq!(
        mon.cmd_str(&["GET", "x"]),
        "-ERR Replica can't interact with the keyspace\r\n"
    );
}
