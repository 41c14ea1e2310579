//! Bitmaps and HyperLogLog against a real redis-server: identical HLL
//! bytes and estimates at scale (1,000,000 distinct elements), random
//! sparse-code edits, values moved between the servers, in-place SETBIT
//! cost, and the keyspace side effects (WATCH, notifications).

mod common;

use std::time::{Duration, Instant};

use common::{Raw, Server};

/// Deterministic pseudo-random numbers (xorshift64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn get(con: &mut redis::Connection, key: &str) -> Vec<u8> {
    redis::cmd("GET").arg(key).query(con).expect("GET")
}

fn pfcount(con: &mut redis::Connection, keys: &[&str]) -> i64 {
    redis::cmd("PFCOUNT").arg(keys).query(con).expect("PFCOUNT")
}

/// PFADDs `elems` to `key` in pipelined batches of `batch` elements per
/// command; returns the replies.
fn pfadd_all(con: &mut redis::Connection, key: &str, elems: &[String], batch: usize) -> Vec<i64> {
    let mut replies = Vec::new();
    for group in elems.chunks(batch * 50) {
        let mut pipe = redis::pipe();
        for chunk in group.chunks(batch) {
            pipe.cmd("PFADD").arg(key).arg(chunk);
        }
        let r: Vec<i64> = pipe.query(con).expect("pipelined PFADD");
        replies.extend(r);
    }
    replies
}

#[test]
fn a_million_distinct_elements_give_identical_bytes_and_count() {
    let redis = Server::start_redis();
    let ours = Server::start();
    let (mut r, mut f) = (redis.client(), ours.client());
    let started = Instant::now();
    let mut added = 0usize;
    // Checkpoints cover the sparse code, its promotion and the dense form.
    for target in [50usize, 700, 3_000, 20_000, 1_000_000] {
        let elems: Vec<String> = (added..target).map(|i| format!("elem:{i}")).collect();
        let batch = if target <= 3_000 { 7 } else { 1_000 };
        let a = pfadd_all(&mut r, "hll", &elems, batch);
        let b = pfadd_all(&mut f, "hll", &elems, batch);
        assert_eq!(a, b, "PFADD replies up to {target}");
        added = target;
        assert_eq!(get(&mut r, "hll"), get(&mut f, "hll"), "bytes at {target}");
        let (cr, cf) = (pfcount(&mut r, &["hll"]), pfcount(&mut f, &["hll"]));
        assert_eq!(cr, cf, "PFCOUNT at {target}");
        // The cached cardinality written by PFCOUNT is part of the bytes.
        assert_eq!(get(&mut r, "hll"), get(&mut f, "hll"), "cache at {target}");
    }
    let count = pfcount(&mut f, &["hll"]);
    assert!((980_000..1_020_000).contains(&count), "{count}");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn random_sparse_edits_merges_and_unions_match_redis() {
    let redis = Server::start_redis();
    let ours = Server::start();
    let (mut r, mut f) = (redis.client(), ours.client());
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let keys = ["k0", "k1", "k2", "k3", "k4", "k5"];
    for round in 0..60 {
        let key = keys[(rng.next() % keys.len() as u64) as usize];
        let n = 1 + (rng.next() % 120) as usize;
        let elems: Vec<String> = (0..n).map(|_| format!("{}", rng.next() % 5_000)).collect();
        let a: i64 = redis::cmd("PFADD")
            .arg(key)
            .arg(&elems)
            .query(&mut r)
            .unwrap();
        let b: i64 = redis::cmd("PFADD")
            .arg(key)
            .arg(&elems)
            .query(&mut f)
            .unwrap();
        assert_eq!(a, b, "round {round}");
        assert_eq!(get(&mut r, key), get(&mut f, key), "round {round} {key}");
        if round % 7 == 0 {
            let srcs = &keys[..(2 + round % 4)];
            assert_eq!(pfcount(&mut r, srcs), pfcount(&mut f, srcs));
            let a: String = redis::cmd("PFMERGE")
                .arg("dst")
                .arg(srcs)
                .query(&mut r)
                .unwrap();
            let b: String = redis::cmd("PFMERGE")
                .arg("dst")
                .arg(srcs)
                .query(&mut f)
                .unwrap();
            assert_eq!(a, b);
            assert_eq!(get(&mut r, "dst"), get(&mut f, "dst"), "merge {round}");
        }
    }
    // A low sparse limit promotes at the same point on both servers.
    for con in [&mut r, &mut f] {
        let _: () = redis::cmd("CONFIG")
            .arg(&["SET", "hll-sparse-max-bytes", "120"])
            .query(con)
            .unwrap();
    }
    for i in 0..200 {
        let e = format!("p{i}");
        let a: i64 = redis::cmd("PFADD")
            .arg("promo")
            .arg(&e)
            .query(&mut r)
            .unwrap();
        let b: i64 = redis::cmd("PFADD")
            .arg("promo")
            .arg(&e)
            .query(&mut f)
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(get(&mut r, "promo"), get(&mut f, "promo"), "element {i}");
    }
}

#[test]
fn hll_values_move_between_servers_unchanged() {
    let redis = Server::start_redis();
    let ours = Server::start();
    let (mut r, mut f) = (redis.client(), ours.client());
    let sparse: Vec<String> = (0..300).map(|i| format!("s{i}")).collect();
    let dense: Vec<String> = (0..8_000).map(|i| format!("d{i}")).collect();
    pfadd_all(&mut r, "sparse", &sparse, 100);
    pfadd_all(&mut f, "dense", &dense, 500);
    // Redis -> ferrokv and ferrokv -> Redis, as a SET of the raw bytes.
    let from_redis = get(&mut r, "sparse");
    let from_ours = get(&mut f, "dense");
    let _: () = redis::cmd("SET")
        .arg("sparse")
        .arg(&from_redis)
        .query(&mut f)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("dense")
        .arg(&from_ours)
        .query(&mut r)
        .unwrap();
    pfadd_all(&mut r, "dense", &dense, 500);
    for key in ["sparse", "dense"] {
        let more: Vec<String> = (0..500).map(|i| format!("{key}-more{i}")).collect();
        assert_eq!(
            pfadd_all(&mut r, key, &more, 50),
            pfadd_all(&mut f, key, &more, 50)
        );
        assert_eq!(pfcount(&mut r, &[key]), pfcount(&mut f, &[key]));
        assert_eq!(get(&mut r, key), get(&mut f, key), "{key}");
    }
    assert_eq!(
        pfcount(&mut r, &["sparse", "dense"]),
        pfcount(&mut f, &["sparse", "dense"])
    );
}

#[test]
fn setbit_grows_in_place() {
    let s = Server::start();
    let mut raw = s.raw();
    // A 64 MB bitmap: copying it per SETBIT would take minutes.
    assert_eq!(raw.cmd(&["SETBIT", "bm", "536870911", "1"]), b":0\r\n");
    let started = Instant::now();
    let mut pipeline = Vec::new();
    let n = 20_000;
    for i in 0..n {
        let offset = (i * 26_843u64).to_string();
        pipeline.extend(common::encode(&[b"SETBIT", b"bm", offset.as_bytes(), b"1"]));
    }
    raw.send(&pipeline);
    for _ in 0..n {
        assert_eq!(raw.read_frame(), b":0\r\n");
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(raw.cmd(&["STRLEN", "bm"]), b":67108864\r\n");
    assert_eq!(
        raw.cmd(&["BITCOUNT", "bm"]),
        format!(":{}\r\n", n + 1).as_bytes()
    );
    assert_eq!(raw.cmd(&["GETBIT", "bm", "536870911"]), b":1\r\n");
    assert_eq!(raw.cmd(&["BITPOS", "bm", "1", "-1"]), b":536870911\r\n");
}

#[test]
fn pfcount_cache_refresh_touches_watchers() {
    let s = Server::start();
    let mut a = s.raw();
    let mut b = s.raw();
    a.cmd(&["PFADD", "h", "x", "y"]);
    // The cache is stale after PFADD: PFCOUNT rewrites it, which aborts a
    // transaction watching the key, as Redis's signalModifiedKey does.
    a.cmd(&["WATCH", "h"]);
    assert_eq!(b.cmd(&["PFCOUNT", "h"]), b":2\r\n");
    a.cmd(&["MULTI"]);
    a.cmd(&["PING"]);
    assert_eq!(a.cmd(&["EXEC"]), b"*-1\r\n");
    // With the cache valid, PFCOUNT changes nothing.
    a.cmd(&["WATCH", "h"]);
    assert_eq!(b.cmd(&["PFCOUNT", "h"]), b":2\r\n");
    a.cmd(&["MULTI"]);
    a.cmd(&["PING"]);
    assert_eq!(a.cmd(&["EXEC"]), b"*1\r\n+PONG\r\n");
}

/// The keyevent names published while running `cmds`, in order, then
/// the keyspace hit and miss counters.
fn events(port: u16, flags: &str, cmds: &[&[&str]]) -> Vec<String> {
    let mut c = Raw::connect(port);
    c.cmd(&["FLUSHALL"]);
    c.cmd(&["CONFIG", "RESETSTAT"]);
    c.cmd(&["CONFIG", "SET", "notify-keyspace-events", flags]);
    let mut sub = Raw::connect(port);
    sub.cmd(&["PSUBSCRIBE", "__keyevent@*"]);
    for args in cmds {
        c.cmd(args);
    }
    c.cmd(&["SET", "end", "1"]);
    let mut names = Vec::new();
    loop {
        let frame = String::from_utf8_lossy(&sub.read_frame()).to_string();
        let parts: Vec<&str> = frame.split("\r\n").collect();
        let channel = parts.get(6).copied().unwrap_or_default();
        let key = parts.get(8).copied().unwrap_or_default();
        let event = channel.rsplit(':').next().unwrap_or_default();
        names.push(format!("{event} {key}"));
        if key == "end" {
            break;
        }
    }
    let info = c.cmd_str(&["INFO", "stats"]);
    for line in info.lines() {
        if line.starts_with("keyspace_hits:") || line.starts_with("keyspace_misses:") {
            names.push(line.to_string());
        }
    }
    names
}

#[test]
fn keyspace_events_match_redis() {
    let redis = Server::start_redis();
    let ours = Server::start();
    let script: &[&[&str]] = &[
        &["SETBIT", "b", "3", "1"],
        &["SETBIT", "b", "3", "1"],
        &["SETBIT", "b", "3", "0"],
        &["SETBIT", "b", "100", "0"],
        &["BITFIELD", "f", "SET", "u8", "0", "255"],
        &["BITFIELD", "f", "SET", "u8", "0", "255"],
        &[
            "BITFIELD", "f", "OVERFLOW", "FAIL", "INCRBY", "u8", "0", "1",
        ],
        &[
            "BITFIELD", "f2", "OVERFLOW", "FAIL", "SET", "u8", "0", "300",
        ],
        &["BITFIELD", "f", "SET", "u8", "100", "0"],
        &["BITOP", "OR", "d", "b"],
        &["BITOP", "AND", "d", "missing"],
        &["BITOP", "AND", "d", "missing"],
        &["PFADD", "h"],
        &["PFADD", "h"],
        &["PFADD", "h", "a"],
        &["PFCOUNT", "h"],
        &["PFMERGE", "h2", "h"],
        &["PFDEBUG", "TODENSE", "h2"],
        // Lookups: a type error still counts as a hit, as in Redis.
        &["RPUSH", "l", "x"],
        &["GETBIT", "b", "1"],
        &["GETBIT", "nokey", "1"],
        &["GETBIT", "l", "1"],
        &["BITCOUNT", "b"],
        &["BITCOUNT", "nokey"],
        &["BITCOUNT", "l"],
        &["BITPOS", "b", "1"],
        &["BITPOS", "nokey", "1"],
        &["BITPOS", "l", "1"],
        &["BITFIELD_RO", "b", "GET", "u8", "0"],
        &["BITFIELD_RO", "nokey", "GET", "u8", "0"],
        &["BITFIELD", "l", "GET", "u8", "0"],
        &["BITOP", "OR", "d", "b", "nokey", "l"],
        &["PFCOUNT", "h", "nokey", "h2"],
        &["PFCOUNT", "h", "l"],
        &["PFCOUNT", "nokey"],
        &["PFCOUNT", "l"],
        &["PFMERGE", "h3", "h", "nokey"],
    ];
    let theirs = events(redis.port, "KEA", script);
    assert!(theirs.contains(&"setbit b".to_string()), "{theirs:?}");
    assert!(theirs.contains(&"pfadd h2".to_string()), "{theirs:?}");
    assert!(theirs.iter().any(|l| l.starts_with("keyspace_misses:")));
    assert_eq!(theirs, events(ours.port, "KEA", script));
    // setbit and pfadd are string-class events (`$`), del is generic.
    let strings_only = events(redis.port, "E$", script);
    assert!(!strings_only.contains(&"del d".to_string()));
    assert_eq!(strings_only, events(ours.port, "E$", script));
}
