//! The string family against a running ferrokv: replies byte for byte,
//! expiry, limits, RESP3 shapes, and the atomicity of multi-key commands.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use ferrokv::keyspace::shard_of;

fn raw_cmd(raw: &mut common::Raw, args: &[&[u8]]) -> Vec<u8> {
    raw.send(&common::encode(args));
    raw.read_frame()
}

#[test]
fn set_options_and_errors() {
    let s = common::Server::start();
    let mut r = s.raw();
    assert_eq!(r.cmd(&["SET", "k", "v"]), b"+OK\r\n");
    assert_eq!(r.cmd(&["GET", "k"]), b"$1\r\nv\r\n");
    assert_eq!(
        r.cmd(&["SET", "k", "v", "NX", "XX"]),
        b"-ERR syntax error\r\n"
    );
    assert_eq!(
        r.cmd(&["SET", "k", "v", "EX", "1", "PX", "1"]),
        b"-ERR syntax error\r\n"
    );
    assert_eq!(
        r.cmd(&["SET", "k", "v", "KEEPTTL", "EX", "1"]),
        b"-ERR syntax error\r\n"
    );
    assert_eq!(r.cmd(&["SET", "k", "v", "EX"]), b"-ERR syntax error\r\n");
    assert_eq!(
        r.cmd(&["SET", "k", "v", "PERSIST"]),
        b"-ERR syntax error\r\n"
    );
    assert_eq!(
        r.cmd(&["SET", "k", "v", "EX", "0"]),
        b"-ERR invalid expire time in 'set' command\r\n"
    );
    assert_eq!(
        r.cmd(&["SET", "k", "v", "EX", "9223372036854775807"]),
        b"-ERR invalid expire time in 'set' command\r\n"
    );
    assert_eq!(
        r.cmd(&["SET", "k", "v", "EX", "1.5"]),
        b"-ERR value is not an integer or out of range\r\n"
    );
    // Repeated expire options are allowed; the last one counts.
    assert_eq!(r.cmd(&["SET", "k", "v", "EX", "x", "EX", "10"]), b"+OK\r\n");
    assert_eq!(
        r.cmd(&["SET", "k", "v", "EX", "10", "EX", "x"]),
        b"-ERR value is not an integer or out of range\r\n"
    );
    // NX/XX abort with null; GET returns the old value either way.
    assert_eq!(r.cmd(&["SET", "k", "w", "NX"]), b"$-1\r\n");
    assert_eq!(r.cmd(&["SET", "new", "w", "XX"]), b"$-1\r\n");
    assert_eq!(r.cmd(&["SET", "k", "w", "NX", "GET"]), b"$1\r\nv\r\n");
    assert_eq!(r.cmd(&["SET", "k", "w", "GET"]), b"$1\r\nv\r\n");
    assert_eq!(r.cmd(&["SET", "new", "w", "XX", "GET"]), b"$-1\r\n");
    assert_eq!(r.cmd(&["GET", "new"]), b"$-1\r\n");
    assert_eq!(r.cmd(&["GET", "k"]), b"$1\r\nw\r\n");
    assert_eq!(
        r.cmd(&["SET", "k"]),
        b"-ERR wrong number of arguments for 'set' command\r\n"
    );
    // Binary keys and values round-trip.
    let bin: &[u8] = b"\x00\xff\r\n";
    assert_eq!(raw_cmd(&mut r, &[b"SET", bin, bin]), b"+OK\r\n");
    assert_eq!(raw_cmd(&mut r, &[b"GET", bin]), b"$4\r\n\x00\xff\r\n\r\n");
}

#[test]
fn ttl_options_expire_keys() {
    let s = common::Server::start();
    let mut r = s.raw();
    assert_eq!(r.cmd(&["SET", "px", "v", "PX", "100"]), b"+OK\r\n");
    assert_eq!(r.cmd(&["SET", "keep", "v", "PX", "100"]), b"+OK\r\n");
    assert_eq!(r.cmd(&["SET", "keep", "w", "KEEPTTL"]), b"+OK\r\n");
    assert_eq!(r.cmd(&["SET", "reset", "v", "PX", "100"]), b"+OK\r\n");
    assert_eq!(r.cmd(&["SET", "reset", "w"]), b"+OK\r\n");
    assert_eq!(r.cmd(&["PSETEX", "ps", "100", "v"]), b"+OK\r\n");
    assert_eq!(r.cmd(&["SET", "persist", "v", "PX", "100"]), b"+OK\r\n");
    assert_eq!(r.cmd(&["GETEX", "persist", "PERSIST"]), b"$1\r\nv\r\n");
    assert_eq!(r.cmd(&["SET", "incr", "1", "PX", "100"]), b"+OK\r\n");
    assert_eq!(r.cmd(&["INCR", "incr"]), b":2\r\n");
    assert_eq!(r.cmd(&["SET", "getset", "1", "PX", "100"]), b"+OK\r\n");
    assert_eq!(r.cmd(&["GETSET", "getset", "2"]), b"$1\r\n1\r\n");
    assert_eq!(r.cmd(&["GET", "px"]), b"$1\r\nv\r\n");
    thread::sleep(Duration::from_millis(250));
    assert_eq!(r.cmd(&["GET", "px"]), b"$-1\r\n");
    assert_eq!(r.cmd(&["GET", "keep"]), b"$-1\r\n");
    assert_eq!(r.cmd(&["GET", "reset"]), b"$1\r\nw\r\n");
    assert_eq!(r.cmd(&["GET", "ps"]), b"$-1\r\n");
    assert_eq!(r.cmd(&["GET", "persist"]), b"$1\r\nv\r\n");
    assert_eq!(r.cmd(&["GET", "incr"]), b"$-1\r\n");
    assert_eq!(r.cmd(&["GET", "getset"]), b"$1\r\n2\r\n");
    // Absolute times in the past.
    assert_eq!(r.cmd(&["SET", "old", "v", "PXAT", "1"]), b"+OK\r\n");
    assert_eq!(r.cmd(&["GET", "old"]), b"$-1\r\n");
    assert_eq!(r.cmd(&["SET", "old", "v"]), b"+OK\r\n");
    assert_eq!(r.cmd(&["GETEX", "old", "EXAT", "1"]), b"$1\r\nv\r\n");
    assert_eq!(r.cmd(&["GET", "old"]), b"$-1\r\n");
}

#[test]
fn setex_getex_getdel_getset() {
    let s = common::Server::start();
    let mut r = s.raw();
    assert_eq!(r.cmd(&["SETEX", "k", "100", "v"]), b"+OK\r\n");
    assert_eq!(
        r.cmd(&["SETEX", "k", "0", "v"]),
        b"-ERR invalid expire time in 'setex' command\r\n"
    );
    assert_eq!(
        r.cmd(&["PSETEX", "k", "-1", "v"]),
        b"-ERR invalid expire time in 'psetex' command\r\n"
    );
    assert_eq!(r.cmd(&["SETNX", "k", "x"]), b":0\r\n");
    assert_eq!(r.cmd(&["SETNX", "n", "x"]), b":1\r\n");
    assert_eq!(
        r.cmd(&["GETEX", "k", "EX", "10", "PX", "10"]),
        b"-ERR syntax error\r\n"
    );
    assert_eq!(r.cmd(&["GETEX", "k", "NX"]), b"-ERR syntax error\r\n");
    assert_eq!(
        r.cmd(&["GETEX", "k", "EX", "-1"]),
        b"-ERR invalid expire time in 'getex' command\r\n"
    );
    // A missing key answers null before the expire value is looked at.
    assert_eq!(r.cmd(&["GETEX", "missing", "EX", "abc"]), b"$-1\r\n");
    assert_eq!(r.cmd(&["GETEX", "k", "PX", "100000"]), b"$1\r\nv\r\n");
    assert_eq!(r.cmd(&["GETDEL", "k"]), b"$1\r\nv\r\n");
    assert_eq!(r.cmd(&["GETDEL", "k"]), b"$-1\r\n");
    assert_eq!(r.cmd(&["GETSET", "k", "1"]), b"$-1\r\n");
    assert_eq!(r.cmd(&["GETSET", "k", "2"]), b"$1\r\n1\r\n");
    assert_eq!(r.cmd(&["GET", "k"]), b"$1\r\n2\r\n");
}

#[test]
fn mset_msetnx_mget() {
    let s = common::Server::start();
    let mut r = s.raw();
    assert_eq!(r.cmd(&["MSET", "a", "1", "b", "2"]), b"+OK\r\n");
    assert_eq!(
        r.cmd(&["MGET", "a", "b", "c"]),
        b"*3\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n"
    );
    assert_eq!(
        r.cmd(&["MSET", "a", "1", "b"]),
        b"-ERR wrong number of arguments for 'mset' command\r\n"
    );
    assert_eq!(
        r.cmd(&["MSETNX", "x", "1", "y"]),
        b"-ERR wrong number of arguments for 'msetnx' command\r\n"
    );
    assert_eq!(r.cmd(&["MSET", "d", "1", "d", "2"]), b"+OK\r\n");
    assert_eq!(r.cmd(&["GET", "d"]), b"$1\r\n2\r\n");
    assert_eq!(r.cmd(&["MSETNX", "x", "1", "a", "9"]), b":0\r\n");
    assert_eq!(r.cmd(&["MGET", "x", "a"]), b"*2\r\n$-1\r\n$1\r\n1\r\n");
    assert_eq!(r.cmd(&["MSETNX", "x", "1", "y", "2"]), b":1\r\n");
    assert_eq!(r.cmd(&["MGET", "x", "y"]), b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
}

#[test]
fn append_strlen_ranges() {
    let s = common::Server::start();
    let mut r = s.raw();
    assert_eq!(r.cmd(&["APPEND", "k", "Hello"]), b":5\r\n");
    assert_eq!(r.cmd(&["APPEND", "k", " World"]), b":11\r\n");
    assert_eq!(r.cmd(&["STRLEN", "k"]), b":11\r\n");
    assert_eq!(r.cmd(&["STRLEN", "missing"]), b":0\r\n");
    assert_eq!(r.cmd(&["GETRANGE", "k", "0", "4"]), b"$5\r\nHello\r\n");
    assert_eq!(r.cmd(&["GETRANGE", "k", "-5", "-1"]), b"$5\r\nWorld\r\n");
    assert_eq!(r.cmd(&["GETRANGE", "k", "-1", "-5"]), b"$0\r\n\r\n");
    assert_eq!(r.cmd(&["GETRANGE", "k", "5", "2"]), b"$0\r\n\r\n");
    assert_eq!(r.cmd(&["GETRANGE", "k", "6", "1000"]), b"$5\r\nWorld\r\n");
    assert_eq!(r.cmd(&["SUBSTR", "k", "0", "0"]), b"$1\r\nH\r\n");
    assert_eq!(r.cmd(&["GETRANGE", "missing", "0", "-1"]), b"$0\r\n\r\n");
    assert_eq!(
        r.cmd(&["GETRANGE", "missing", "a", "1"]),
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(r.cmd(&["SET", "n", "12345"]), b"+OK\r\n");
    assert_eq!(r.cmd(&["GETRANGE", "n", "1", "2"]), b"$2\r\n23\r\n");
    assert_eq!(r.cmd(&["APPEND", "n", "6"]), b":6\r\n");
    assert_eq!(r.cmd(&["INCR", "n"]), b":123457\r\n");

    assert_eq!(r.cmd(&["SETRANGE", "s", "3", "ab"]), b":5\r\n");
    assert_eq!(r.cmd(&["GET", "s"]), b"$5\r\n\x00\x00\x00ab\r\n");
    assert_eq!(r.cmd(&["SETRANGE", "s", "0", "xyz"]), b":5\r\n");
    assert_eq!(r.cmd(&["GET", "s"]), b"$5\r\nxyzab\r\n");
    assert_eq!(r.cmd(&["SETRANGE", "s", "100", ""]), b":5\r\n");
    // An empty value on a missing key creates nothing.
    assert_eq!(r.cmd(&["SETRANGE", "e", "5", ""]), b":0\r\n");
    assert_eq!(r.cmd(&["GET", "e"]), b"$-1\r\n");
    assert_eq!(
        r.cmd(&["SETRANGE", "s", "-1", "x"]),
        b"-ERR offset is out of range\r\n"
    );
    let too_big = b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n";
    assert_eq!(r.cmd(&["SETRANGE", "s", "536870911", "ab"]), too_big);
    assert_eq!(r.cmd(&["SETRANGE", "new", "536870912", "a"]), too_big);
    assert_eq!(
        r.cmd(&["SETRANGE", "s", "9223372036854775807", "a"]),
        too_big
    );
    assert_eq!(r.cmd(&["GET", "new"]), b"$-1\r\n");
}

#[test]
fn append_respects_proto_max_bulk_len() {
    let s = common::Server::start_with(&["--proto-max-bulk-len", "1mb"]);
    let mut r = s.raw();
    let big = "x".repeat(1024 * 1024 - 1);
    assert_eq!(r.cmd(&["SET", "k", &big]), b"+OK\r\n");
    assert_eq!(r.cmd(&["APPEND", "k", "y"]), b":1048576\r\n");
    assert_eq!(
        r.cmd(&["APPEND", "k", "z"]),
        b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"
    );
    assert_eq!(r.cmd(&["STRLEN", "k"]), b":1048576\r\n");
}

#[test]
fn counters_and_overflow() {
    let s = common::Server::start();
    let mut r = s.raw();
    assert_eq!(r.cmd(&["INCR", "c"]), b":1\r\n");
    assert_eq!(r.cmd(&["INCRBY", "c", "41"]), b":42\r\n");
    assert_eq!(r.cmd(&["DECRBY", "c", "50"]), b":-8\r\n");
    assert_eq!(r.cmd(&["DECR", "c"]), b":-9\r\n");
    assert_eq!(r.cmd(&["GET", "c"]), b"$2\r\n-9\r\n");
    let not_int = b"-ERR value is not an integer or out of range\r\n";
    assert_eq!(r.cmd(&["INCRBY", "c", "1.5"]), not_int);
    assert_eq!(r.cmd(&["SET", "s", "abc"]), b"+OK\r\n");
    assert_eq!(r.cmd(&["INCR", "s"]), not_int);
    assert_eq!(r.cmd(&["SET", "s", " 1"]), b"+OK\r\n");
    assert_eq!(r.cmd(&["INCR", "s"]), not_int);
    let overflow = b"-ERR increment or decrement would overflow\r\n";
    assert_eq!(r.cmd(&["SET", "c", "9223372036854775807"]), b"+OK\r\n");
    assert_eq!(r.cmd(&["INCR", "c"]), overflow);
    assert_eq!(r.cmd(&["SET", "c", "-9223372036854775808"]), b"+OK\r\n");
    assert_eq!(r.cmd(&["DECR", "c"]), overflow);
    assert_eq!(r.cmd(&["INCRBY", "c", "-1"]), overflow);
    assert_eq!(
        r.cmd(&["DECRBY", "c", "-9223372036854775808"]),
        b"-ERR decrement would overflow\r\n"
    );
    assert_eq!(r.cmd(&["GET", "c"]), b"$20\r\n-9223372036854775808\r\n");
}

#[test]
fn incrbyfloat_uses_long_double() {
    let s = common::Server::start();
    let mut r = s.raw();
    assert_eq!(r.cmd(&["SET", "f", "0.1"]), b"+OK\r\n");
    assert_eq!(r.cmd(&["INCRBYFLOAT", "f", "0.2"]), b"$3\r\n0.3\r\n");
    assert_eq!(r.cmd(&["SET", "f", "10.5"]), b"+OK\r\n");
    assert_eq!(r.cmd(&["INCRBYFLOAT", "f", "0.1"]), b"$4\r\n10.6\r\n");
    assert_eq!(r.cmd(&["INCRBYFLOAT", "g", "5.0e3"]), b"$4\r\n5000\r\n");
    assert_eq!(r.cmd(&["INCRBYFLOAT", "z", "-0.0"]), b"$1\r\n0\r\n");
    assert_eq!(r.cmd(&["SET", "i", "10"]), b"+OK\r\n");
    assert_eq!(r.cmd(&["INCRBYFLOAT", "i", "-1.5"]), b"$3\r\n8.5\r\n");
    assert_eq!(r.cmd(&["INCRBYFLOAT", "i", "1.5"]), b"$2\r\n10\r\n");
    assert_eq!(r.cmd(&["INCR", "i"]), b":11\r\n");
    assert_eq!(
        r.cmd_str(&["INCRBYFLOAT", "big", "1e20"]),
        "$21\r\n100000000000000000000\r\n"
    );
    // 1e308 is not exact in extended precision either; Redis prints
    // the long double's exact digits, 308 of them.
    let huge = r.cmd_str(&["INCRBYFLOAT", "huge", "1e308"]);
    assert!(huge.starts_with("$308\r\n99999999999999999996685879655845645660560099847"));
    let nan_inf = b"-ERR increment would produce NaN or Infinity\r\n";
    let not_float = b"-ERR value is not a valid float\r\n";
    assert_eq!(r.cmd(&["INCRBYFLOAT", "x", "inf"]), nan_inf);
    assert_eq!(r.cmd(&["INCRBYFLOAT", "x", "nan"]), not_float);
    assert_eq!(r.cmd(&["INCRBYFLOAT", "x", " 1"]), not_float);
    assert_eq!(r.cmd(&["INCRBYFLOAT", "x", "1e99999"]), not_float);
    assert_eq!(r.cmd(&["SET", "s", "abc"]), b"+OK\r\n");
    assert_eq!(r.cmd(&["INCRBYFLOAT", "s", "1"]), not_float);
    assert_eq!(r.cmd(&["GET", "x"]), b"$-1\r\n");
}

#[test]
fn lcs_in_resp2_and_resp3() {
    let s = common::Server::start();
    let mut r = s.raw();
    assert_eq!(
        r.cmd(&["MSET", "key1", "ohmytext", "key2", "mynewtext"]),
        b"+OK\r\n"
    );
    assert_eq!(r.cmd(&["LCS", "key1", "key2"]), b"$6\r\nmytext\r\n");
    assert_eq!(r.cmd(&["LCS", "key1", "key2", "LEN"]), b":6\r\n");
    let matches = "*2\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n\
                   *3\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n:2\r\n";
    let body = format!("$7\r\nmatches\r\n{matches}$3\r\nlen\r\n:6\r\n");
    assert_eq!(
        r.cmd_str(&["LCS", "key1", "key2", "IDX", "WITHMATCHLEN"]),
        format!("*4\r\n{body}")
    );
    assert_eq!(
        r.cmd_str(&["LCS", "key1", "key2", "IDX", "MINMATCHLEN", "3"]),
        "*4\r\n$7\r\nmatches\r\n*1\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n$3\r\nlen\r\n:6\r\n"
    );
    assert_eq!(
        r.cmd(&["LCS", "key1", "key2", "IDX", "LEN"]),
        b"-ERR If you want both the length and indexes, please just use IDX.\r\n"
    );
    assert_eq!(
        r.cmd(&["LCS", "key1", "key2", "MINMATCHLEN"]),
        b"-ERR syntax error\r\n"
    );
    assert_eq!(r.cmd(&["LCS", "key1", "missing"]), b"$0\r\n\r\n");
    // A 12002 x 12002 table of u32 would exceed proto-max-bulk-len.
    assert_eq!(r.cmd(&["SETRANGE", "big1", "12000", "a"]), b":12001\r\n");
    assert_eq!(r.cmd(&["SETRANGE", "big2", "12000", "b"]), b":12001\r\n");
    assert_eq!(
        r.cmd(&["LCS", "big1", "big2", "LEN"]),
        b"-ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len\r\n"
    );
    r.cmd(&["HELLO", "3"]);
    assert_eq!(
        r.cmd_str(&["LCS", "key1", "key2", "IDX", "WITHMATCHLEN"]),
        format!("%2\r\n{body}")
    );
}

/// Keys that live in `n` different shards, so a multi-key command really
/// has to lock several shards.
fn keys_in_distinct_shards(n: usize) -> Vec<String> {
    let mut seen = HashSet::new();
    (0..)
        .map(|i| format!("atomic:{i}"))
        .filter(|k| seen.insert(shard_of(k.as_bytes())))
        .take(n)
        .collect()
}

#[test]
fn mget_never_sees_half_of_an_mset() {
    let s = common::Server::start();
    let keys = Arc::new(keys_in_distinct_shards(8));
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let run_for = Duration::from_millis(2500);
    let mut handles = Vec::new();
    for w in 0..3 {
        let (keys, stop) = (keys.clone(), stop.clone());
        let mut con = s.client();
        handles.push(thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let value = format!("w{w}-{i}");
                let mut cmd = redis::cmd("MSET");
                for k in keys.iter() {
                    cmd.arg(k).arg(&value);
                }
                let () = cmd.query(&mut con).expect("MSET");
                i += 1;
            }
        }));
    }
    for _ in 0..3 {
        let (keys, stop, reads) = (keys.clone(), stop.clone(), reads.clone());
        let mut con = s.client();
        handles.push(thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let values: Vec<Option<String>> = redis::cmd("MGET")
                    .arg(&keys[..])
                    .query(&mut con)
                    .expect("MGET");
                let first = &values[0];
                assert!(
                    values.iter().all(|v| v == first),
                    "MGET saw a partial MSET: {values:?}"
                );
                reads.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let start = Instant::now();
    while start.elapsed() < run_for {
        thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().expect("worker panicked");
    }
    assert!(
        reads.load(Ordering::Relaxed) > 100,
        "too few reads to mean anything"
    );
}

#[test]
fn concurrent_incr_loses_no_update() {
    let s = common::Server::start();
    let (clients, per_client) = (8, 1500);
    let handles: Vec<_> = (0..clients)
        .map(|_| {
            let mut con = s.client();
            thread::spawn(move || {
                for _ in 0..per_client {
                    let _: i64 = redis::cmd("INCR")
                        .arg("counter")
                        .query(&mut con)
                        .expect("INCR");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("worker panicked");
    }
    let mut con = s.client();
    let total: i64 = redis::cmd("GET").arg("counter").query(&mut con).unwrap();
    assert_eq!(total, clients * per_client);
}
