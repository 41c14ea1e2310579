//! The sorted-set family against a running ferrokv: replies, encodings and
//! their conversion, large sets (rank/range against a model), ZSCAN's
//! guarantee, ZRANDMEMBER properties and the blocking pops.

mod common;

use std::collections::{BTreeSet, HashSet};
use std::thread;
use std::time::{Duration, Instant};

fn wait_blocked(r: &mut common::Raw, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info = r.cmd_str(&["INFO", "clients"]);
        if info.contains(&format!("blocked_clients:{n}\r\n")) {
            return;
        }
        assert!(Instant::now() < deadline, "clients never blocked: {info}");
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn zadd_flags_and_errors() {
    let s = common::Server::start();
    let mut r = s.raw();
    assert_eq!(r.cmd(&["ZADD", "z", "1", "a", "2", "b"]), b":2\r\n");
    assert_eq!(
        r.cmd(&["ZADD", "z", "CH", "GT", "0", "a", "5", "b"]),
        b":1\r\n"
    );
    assert_eq!(
        r.cmd(&["ZADD", "z", "INCR", "0.1", "a"]),
        b"$18\r\n1.1000000000000001\r\n"
    );
    assert_eq!(r.cmd(&["ZADD", "z", "XX", "INCR", "1", "nope"]), b"$-1\r\n");
    assert_eq!(
        r.cmd(&["ZADD", "z", "NX", "XX", "1", "a"]),
        b"-ERR XX and NX options at the same time are not compatible\r\n"
    );
    assert_eq!(
        r.cmd(&["ZADD", "z", "GT", "LT", "1", "a"]),
        b"-ERR GT, LT, and/or NX options at the same time are not compatible\r\n"
    );
    assert_eq!(
        r.cmd(&["ZADD", "z", "INCR", "1", "a", "2", "b"]),
        b"-ERR INCR option supports a single increment-element pair\r\n"
    );
    assert_eq!(r.cmd(&["ZADD", "z", "inf", "a"]), b":0\r\n");
    assert_eq!(
        r.cmd(&["ZINCRBY", "z", "-inf", "a"]),
        b"-ERR resulting score is not a number (NaN)\r\n"
    );
    assert_eq!(
        r.cmd(&["ZADD", "z", "nan", "a"]),
        b"-ERR value is not a valid float\r\n"
    );
    assert_eq!(r.cmd(&["ZSCORE", "z", "a"]), b"$3\r\ninf\r\n");
}

#[test]
fn ranges_by_score_and_lex() {
    let s = common::Server::start();
    let mut r = s.raw();
    r.cmd(&["ZADD", "s", "1", "a", "2", "b", "3", "c", "4", "d"]);
    assert_eq!(
        r.cmd(&["ZRANGE", "s", "(1", "+inf", "BYSCORE", "LIMIT", "1", "2"]),
        b"*2\r\n$1\r\nc\r\n$1\r\nd\r\n"
    );
    assert_eq!(
        r.cmd(&[
            "ZRANGE",
            "s",
            "+inf",
            "-inf",
            "BYSCORE",
            "REV",
            "LIMIT",
            "0",
            "1",
            "WITHSCORES"
        ]),
        b"*2\r\n$1\r\nd\r\n$1\r\n4\r\n"
    );
    assert_eq!(
        r.cmd(&["ZRANGE", "s", "-2", "-1"]),
        b"*2\r\n$1\r\nc\r\n$1\r\nd\r\n"
    );
    assert_eq!(r.cmd(&["ZCOUNT", "s", "(1", "(4"]), b":2\r\n");
    assert_eq!(
        r.cmd(&["ZCOUNT", "s", "x", "1"]),
        b"-ERR min or max is not a float\r\n"
    );
    r.cmd(&["ZADD", "l", "0", "a", "0", "b", "0", "c"]);
    assert_eq!(
        r.cmd(&["ZRANGEBYLEX", "l", "(a", "[c"]),
        b"*2\r\n$1\r\nb\r\n$1\r\nc\r\n"
    );
    assert_eq!(
        r.cmd(&["ZLEXCOUNT", "l", "a", "+"]),
        b"-ERR min or max not valid string range item\r\n"
    );
    assert_eq!(r.cmd(&["ZREMRANGEBYLEX", "l", "-", "+"]), b":3\r\n");
    assert_eq!(r.cmd(&["EXISTS", "l"]), b":0\r\n");
}

#[test]
fn encoding_follows_thresholds() {
    let s = common::Server::start();
    let mut r = s.raw();
    r.cmd(&["CONFIG", "SET", "zset-max-listpack-entries", "2"]);
    r.cmd(&["ZADD", "e", "1", "a", "2", "b"]);
    assert_eq!(r.cmd(&["OBJECT", "ENCODING", "e"]), b"$8\r\nlistpack\r\n");
    r.cmd(&["ZADD", "e", "3", "c"]);
    assert_eq!(r.cmd(&["OBJECT", "ENCODING", "e"]), b"$8\r\nskiplist\r\n");
    r.cmd(&["ZREM", "e", "c"]);
    assert_eq!(r.cmd(&["OBJECT", "ENCODING", "e"]), b"$8\r\nskiplist\r\n");
    r.cmd(&["ZRANGESTORE", "d", "e", "0", "-1"]);
    assert_eq!(r.cmd(&["OBJECT", "ENCODING", "d"]), b"$8\r\nlistpack\r\n");
    r.cmd(&["CONFIG", "SET", "zset-max-listpack-entries", "128"]);
    r.cmd(&["CONFIG", "SET", "zset-max-listpack-value", "3"]);
    r.cmd(&["ZADD", "v", "1", "abcd"]);
    assert_eq!(r.cmd(&["OBJECT", "ENCODING", "v"]), b"$8\r\nskiplist\r\n");
}

#[test]
fn large_sets_rank_and_range() {
    let s = common::Server::start();
    let mut con = s.client();
    let n = 3000;
    let mut model: Vec<(i64, String)> = Vec::new();
    let mut cmd = redis::cmd("ZADD");
    cmd.arg("big");
    for i in 0..n {
        let score = (i * 7919) % 1000;
        let member = format!("m{i}");
        cmd.arg(score).arg(&member);
        model.push((score, member));
    }
    let _: i64 = cmd.query(&mut con).unwrap();
    model.sort();
    let enc: String = redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg("big")
        .query(&mut con)
        .unwrap();
    assert_eq!(enc, "skiplist");
    for rank in [0, 1, 500, 1499, 2998, 2999] {
        let (_, m) = &model[rank];
        let got: i64 = redis::cmd("ZRANK")
            .arg("big")
            .arg(m)
            .query(&mut con)
            .unwrap();
        assert_eq!(got as usize, rank);
        let got: i64 = redis::cmd("ZREVRANK")
            .arg("big")
            .arg(m)
            .query(&mut con)
            .unwrap();
        assert_eq!(got as usize, n as usize - 1 - rank);
    }
    let got: Vec<String> = redis::cmd("ZRANGE")
        .arg("big")
        .arg(100)
        .arg(199)
        .query(&mut con)
        .unwrap();
    let want: Vec<String> = model[100..200].iter().map(|(_, m)| m.clone()).collect();
    assert_eq!(got, want);
    let got: Vec<String> = redis::cmd("ZRANGE")
        .arg("big")
        .arg("(500")
        .arg(600)
        .arg("BYSCORE")
        .query(&mut con)
        .unwrap();
    let want: Vec<String> = model
        .iter()
        .filter(|(s, _)| *s > 500 && *s <= 600)
        .map(|(_, m)| m.clone())
        .collect();
    assert_eq!(got, want);
    let removed: i64 = redis::cmd("ZREMRANGEBYRANK")
        .arg("big")
        .arg(10)
        .arg(-11)
        .query(&mut con)
        .unwrap();
    assert_eq!(removed, n - 20);
    let card: i64 = redis::cmd("ZCARD").arg("big").query(&mut con).unwrap();
    assert_eq!(card, 20);
}

#[test]
fn zscan_returns_every_member() {
    let s = common::Server::start();
    let mut con = s.client();
    for i in 0..1000 {
        let _: i64 = redis::cmd("ZADD")
            .arg("z")
            .arg(i)
            .arg(format!("m{i}"))
            .query(&mut con)
            .unwrap();
    }
    let mut cursor = 0u64;
    let mut seen = HashSet::new();
    let mut step = 0;
    loop {
        let (next, items): (u64, Vec<String>) = redis::cmd("ZSCAN")
            .arg("z")
            .arg(cursor)
            .arg("COUNT")
            .arg(20)
            .query(&mut con)
            .unwrap();
        for pair in items.chunks(2) {
            seen.insert(pair[0].clone());
        }
        // Grow the set while scanning: the original members must still
        // all be returned.
        step += 1;
        let _: i64 = redis::cmd("ZADD")
            .arg("z")
            .arg(step)
            .arg(format!("new{step}"))
            .query(&mut con)
            .unwrap();
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    for i in 0..1000 {
        assert!(seen.contains(&format!("m{i}")), "m{i} missing");
    }
}

#[test]
fn zrandmember_properties() {
    let s = common::Server::start();
    let mut con = s.client();
    let _: i64 = redis::cmd("ZADD")
        .arg("r")
        .arg(1)
        .arg("a")
        .arg(2)
        .arg("b")
        .arg(3)
        .arg("c")
        .query(&mut con)
        .unwrap();
    let got: Vec<String> = redis::cmd("ZRANDMEMBER")
        .arg("r")
        .arg(2)
        .query(&mut con)
        .unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got.iter().collect::<BTreeSet<_>>().len(), 2);
    let got: Vec<String> = redis::cmd("ZRANDMEMBER")
        .arg("r")
        .arg(-20)
        .query(&mut con)
        .unwrap();
    assert_eq!(got.len(), 20);
    assert!(got.iter().all(|m| ["a", "b", "c"].contains(&m.as_str())));
    let got: Vec<String> = redis::cmd("ZRANDMEMBER")
        .arg("r")
        .arg(2)
        .arg("WITHSCORES")
        .query(&mut con)
        .unwrap();
    for pair in got.chunks(2) {
        let expect = match pair[0].as_str() {
            "a" => "1",
            "b" => "2",
            _ => "3",
        };
        assert_eq!(pair[1], expect);
    }
}

#[test]
fn bzpopmin_serves_in_arrival_order() {
    let s = common::Server::start();
    let mut w1 = s.raw();
    let mut w2 = s.raw();
    let mut r = s.raw();
    w1.send(&common::encode(&[b"BZPOPMIN", b"q", b"5"]));
    wait_blocked(&mut r, 1);
    w2.send(&common::encode(&[b"BZPOPMIN", b"other", b"q", b"5"]));
    wait_blocked(&mut r, 2);
    assert_eq!(r.cmd(&["ZADD", "q", "2", "b", "1", "a"]), b":2\r\n");
    assert_eq!(w1.read_frame(), b"*3\r\n$1\r\nq\r\n$1\r\na\r\n$1\r\n1\r\n");
    assert_eq!(w2.read_frame(), b"*3\r\n$1\r\nq\r\n$1\r\nb\r\n$1\r\n2\r\n");
    assert_eq!(r.cmd(&["EXISTS", "q"]), b":0\r\n");
}

#[test]
fn bzmpop_served_by_store_and_timeout() {
    let s = common::Server::start();
    let mut w = s.raw();
    let mut r = s.raw();
    w.send(&common::encode(&[
        b"BZMPOP", b"5", b"1", b"dst", b"MAX", b"COUNT", b"5",
    ]));
    wait_blocked(&mut r, 1);
    r.cmd(&["ZADD", "src", "1", "a", "2", "b"]);
    assert_eq!(r.cmd(&["ZUNIONSTORE", "dst", "1", "src"]), b":2\r\n");
    assert_eq!(
        w.read_frame(),
        b"*2\r\n$3\r\ndst\r\n*2\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n"
    );
    let start = Instant::now();
    assert_eq!(w.cmd(&["BZPOPMAX", "nothing", "0.2"]), b"*-1\r\n");
    assert!(start.elapsed() >= Duration::from_millis(150));
    assert!(start.elapsed() < Duration::from_secs(5));
}
