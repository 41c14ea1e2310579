//! DUMP and RESTORE against a real Redis 7.0: payloads cross both ways
//! for every type in both encodings, and RESTORE's options and errors
//! answer as Redis does.

mod common;
mod rdb_common;

use ferrokv::persist::rdb::crc64;
use rdb_common::*;

fn dump(con: &mut redis::Connection, key: &[u8]) -> Vec<u8> {
    redis::cmd("DUMP").arg(key).query(con).expect("dump")
}

fn restore(con: &mut redis::Connection, key: &[u8], payload: &[u8]) {
    redis::cmd("RESTORE")
        .arg(key)
        .arg(0)
        .arg(payload)
        .query::<()>(con)
        .expect("restore");
}

/// Copies every key of `from` into `to` through DUMP/RESTORE.
fn copy_all(from: &mut redis::Connection, to: &mut redis::Connection) {
    for db in [0, 3] {
        redis::cmd("SELECT").arg(db).query::<()>(from).unwrap();
        redis::cmd("SELECT").arg(db).query::<()>(to).unwrap();
        let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(from).unwrap();
        for key in keys {
            let payload = dump(from, &key);
            restore(to, &key, &payload);
            let pttl: i64 = redis::cmd("PEXPIRETIME").arg(&key).query(from).unwrap();
            if pttl > 0 {
                redis::cmd("PEXPIREAT")
                    .arg(&key)
                    .arg(pttl)
                    .query::<()>(to)
                    .unwrap();
            }
        }
    }
    redis::cmd("SELECT").arg(0).query::<()>(from).unwrap();
    redis::cmd("SELECT").arg(0).query::<()>(to).unwrap();
}

#[test]
fn payloads_cross_both_ways_for_every_type() {
    let redis_a = common::Server::start_redis();
    let ours = common::Server::start();
    let redis_b = common::Server::start_redis();
    let mut ra = redis_a.client();
    populate(&mut ra);
    let expected = server_snapshot(&mut ra, 16);
    let mut fk = ours.client();
    copy_all(&mut ra, &mut fk);
    assert_same(&server_snapshot(&mut fk, 16), &expected);
    let mut rb = redis_b.client();
    copy_all(&mut fk, &mut rb);
    assert_same(&server_snapshot(&mut rb, 16), &expected);
}

#[test]
fn compact_payloads_are_byte_identical_to_redis() {
    let r = common::Server::start_redis();
    let f = common::Server::start();
    let (mut rc, mut fc) = (r.client(), f.client());
    for con in [&mut rc, &mut fc] {
        for args in [
            vec!["SET", "s", "hello"],
            vec!["SET", "n", "-123456"],
            vec!["SET", "big", "12345678901234"],
            vec!["RPUSH", "l", "a", "1", "-5000", "70000", "hello world"],
            vec!["HSET", "h", "f", "v", "n", "42"],
            vec!["ZADD", "z", "1", "a", "2.5", "b", "-inf", "c", "1e20", "d"],
            vec!["SADD", "i", "1", "5", "-70000"],
        ] {
            let mut c = redis::cmd(args[0]);
            for a in &args[1..] {
                c.arg(*a);
            }
            c.query::<redis::Value>(con).unwrap();
        }
    }
    for key in ["s", "n", "big", "l", "h", "z", "i"] {
        assert_eq!(
            dump(&mut fc, key.as_bytes()),
            dump(&mut rc, key.as_bytes()),
            "DUMP {key}"
        );
    }
    let missing: Option<Vec<u8>> = redis::cmd("DUMP").arg("nope").query(&mut fc).unwrap();
    assert_eq!(missing, None);
}

/// A payload for `body` (type byte and value) with RDB version `version`
/// and a correct checksum.
fn payload(body: &[u8], version: u16) -> Vec<u8> {
    let mut p = body.to_vec();
    p.extend_from_slice(&version.to_le_bytes());
    let crc = crc64(&p);
    p.extend_from_slice(&crc.to_le_bytes());
    p
}

fn raw_restore(raw: &mut common::Raw, args: &[&[u8]]) -> Vec<u8> {
    let mut argv: Vec<&[u8]> = vec![b"RESTORE"];
    argv.extend_from_slice(args);
    raw.send(&common::encode(&argv));
    raw.read_frame()
}

#[test]
fn errors_match_redis() {
    let r = common::Server::start_redis();
    let f = common::Server::start();
    let good = payload(b"\x00\x05hello", 10);
    let mut bad_crc = good.clone();
    *bad_crc.last_mut().unwrap() ^= 1;
    let v11 = payload(b"\x00\x05hello", 11);
    let v13 = payload(b"\x00\x05hello", 13);
    let cases: Vec<Vec<&[u8]>> = vec![
        vec![b"k", b"0", &good],
        vec![b"k", b"0", &good],
        vec![b"k", b"0", &good, b"REPLACE"],
        vec![b"k", b"-1", &good],
        vec![b"k", b"abc", &good],
        vec![b"k2", b"-1", &good],
        vec![b"k2", b"abc", &good],
        vec![b"k2", b"0", &bad_crc],
        vec![b"k2", b"0", b"short"],
        vec![b"k2", b"0", &v13],
        vec![b"k2", b"0", &good, b"IDLETIME"],
        vec![b"k2", b"0", &good, b"IDLETIME", b"-1"],
        vec![b"k2", b"0", &good, b"IDLETIME", b"x"],
        vec![b"k2", b"0", &good, b"FREQ", b"256"],
        vec![b"k2", b"0", &good, b"FREQ", b"-1"],
        vec![b"k2", b"0", &good, b"FREQ", b"1", b"IDLETIME", b"1"],
        vec![b"k2", b"0", &good, b"IDLETIME", b"1", b"FREQ", b"1"],
        vec![b"k2", b"0", &good, b"BOGUS"],
        vec![b"k", b"0", &good, b"BOGUS"],
        vec![b"k2", b"9223372036854775807", &good],
        vec![b"k2", b"1000", &good, b"ABSTTL"],
        vec![b"k", b"1000", &good, b"ABSTTL", b"REPLACE"],
    ];
    let (mut rr, mut fr) = (r.raw(), f.raw());
    for case in &cases {
        let want = raw_restore(&mut rr, case);
        assert_eq!(raw_restore(&mut fr, case), want, "RESTORE {case:?}");
    }
    // Past an absolute TTL the key is not created, and REPLACE deleted it.
    assert_eq!(fr.cmd(&["EXISTS", "k", "k2"]), b":0\r\n");
    let corrupt: Vec<Vec<u8>> = vec![
        // Unknown type byte, a string truncated, an empty list, a 2^60
        // length, a module value.
        payload(b"\x08\x05hello", 10),
        payload(b"\x00\x09hello", 10),
        payload(b"\x12\x00", 10),
        payload(b"\x00\x81\x10\x00\x00\x00\x00\x00\x00\x00hello", 10),
        payload(b"\x01\x81\x10\x00\x00\x00\x00\x00\x00\x00\x01a", 10),
        payload(b"\x07\x01\x02", 10),
    ];
    for p in &corrupt {
        assert_eq!(
            raw_restore(&mut fr, &[b"c", b"0", p]),
            b"-ERR Bad data format\r\n",
            "payload {p:?}"
        );
    }
    // Payloads of later RDB versions (Redis 7.2/7.4) are accepted.
    assert_eq!(raw_restore(&mut fr, &[b"v11", b"0", &v11]), b"+OK\r\n");
    assert_eq!(fr.cmd(&["GET", "v11"]), b"$5\r\nhello\r\n");
}

#[test]
fn ttl_idle_and_notification() {
    let f = common::Server::start();
    let mut con = f.client();
    let good = payload(b"\x00\x05hello", 10);
    let mut sub = f.raw();
    sub.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]);
    sub.cmd(&["SUBSCRIBE", "__keyevent@0__:restore"]);
    redis::cmd("RESTORE")
        .arg("t")
        .arg(100000)
        .arg(&good[..])
        .query::<()>(&mut con)
        .unwrap();
    let pttl: i64 = redis::cmd("PTTL").arg("t").query(&mut con).unwrap();
    assert!((99000..=100000).contains(&pttl), "pttl {pttl}");
    assert_eq!(
        sub.read_frame(),
        b"*3\r\n$7\r\nmessage\r\n$22\r\n__keyevent@0__:restore\r\n$1\r\nt\r\n"
    );
    let at = 4102444800000i64;
    redis::cmd("RESTORE")
        .arg("a")
        .arg(at)
        .arg(&good[..])
        .arg("ABSTTL")
        .arg("IDLETIME")
        .arg(1000)
        .query::<()>(&mut con)
        .unwrap();
    let exp: i64 = redis::cmd("PEXPIRETIME").arg("a").query(&mut con).unwrap();
    assert_eq!(exp, at);
    let idle: i64 = redis::cmd("OBJECT")
        .arg("IDLETIME")
        .arg("a")
        .query(&mut con)
        .unwrap();
    assert!((1000..=1001).contains(&idle), "idle {idle}");
    // A restored value takes the encoding the current thresholds give.
    redis::cmd("HSET")
        .arg("h")
        .arg("a")
        .arg("1")
        .arg("b")
        .arg("2")
        .query::<()>(&mut con)
        .unwrap();
    let compact = dump(&mut con, b"h");
    redis::cmd("CONFIG")
        .arg("SET")
        .arg("hash-max-listpack-entries")
        .arg(1)
        .query::<()>(&mut con)
        .unwrap();
    restore(&mut con, b"h2", &compact);
    let enc: String = redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg("h2")
        .query(&mut con)
        .unwrap();
    assert_eq!(enc, "hashtable");
}

#[test]
fn restoring_a_list_serves_blocked_clients() {
    let f = common::Server::start();
    let mut con = f.client();
    redis::cmd("RPUSH")
        .arg("src")
        .arg("a")
        .arg("b")
        .query::<()>(&mut con)
        .unwrap();
    let list = dump(&mut con, b"src");
    let mut waiter = f.raw();
    waiter.send(&common::encode(&[b"BLPOP", b"l", b"5"]));
    // Wait (bounded) until the BLPOP is blocked.
    let deadline = std::time::Instant::now() + common::TIMEOUT;
    loop {
        let info: String = redis::cmd("INFO").arg("clients").query(&mut con).unwrap();
        if info.contains("blocked_clients:1") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "BLPOP never blocked");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    restore(&mut con, b"l", &list);
    assert_eq!(waiter.read_frame(), b"*2\r\n$1\r\nl\r\n$1\r\na\r\n");
    let rest: Vec<String> = redis::cmd("LRANGE")
        .arg("l")
        .arg(0)
        .arg(-1)
        .query(&mut con)
        .unwrap();
    assert_eq!(rest, ["b"]);
}
