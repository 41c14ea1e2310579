//! The hash family against a running ferrokv: replies byte for byte,
//! encoding conversions, the HSCAN guarantee, HRANDFIELD sampling.

mod common;

use std::collections::{HashMap, HashSet};

use redis::Connection;

fn hgetall(con: &mut Connection, key: &str) -> HashMap<String, String> {
    redis::cmd("HGETALL").arg(key).query(con).expect("hgetall")
}

fn encoding(con: &mut Connection, key: &str) -> String {
    redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg(key)
        .query(con)
        .expect("object encoding")
}

#[test]
fn set_get_delete() {
    let s = common::Server::start();
    let mut r = s.raw();
    assert_eq!(r.cmd(&["HSET", "h", "a", "1", "b", "2"]), b":2\r\n");
    assert_eq!(r.cmd(&["HSET", "h", "a", "3", "c", "4"]), b":1\r\n");
    assert_eq!(r.cmd(&["HMSET", "h", "d", "5"]), b"+OK\r\n");
    assert_eq!(
        r.cmd(&["HSET", "h", "a", "1", "b"]),
        b"-ERR wrong number of arguments for 'hset' command\r\n"
    );
    assert_eq!(
        r.cmd(&["HMSET", "h", "a"]),
        b"-ERR wrong number of arguments for 'hmset' command\r\n"
    );
    assert_eq!(r.cmd(&["HSETNX", "h", "a", "x"]), b":0\r\n");
    assert_eq!(r.cmd(&["HSETNX", "h", "e", "x"]), b":1\r\n");
    assert_eq!(r.cmd(&["HGET", "h", "a"]), b"$1\r\n3\r\n");
    assert_eq!(r.cmd(&["HGET", "h", "zz"]), b"$-1\r\n");
    assert_eq!(r.cmd(&["HGET", "nokey", "a"]), b"$-1\r\n");
    assert_eq!(
        r.cmd(&["HMGET", "h", "a", "zz", "e"]),
        b"*3\r\n$1\r\n3\r\n$-1\r\n$1\r\nx\r\n"
    );
    assert_eq!(r.cmd(&["HMGET", "nokey", "a"]), b"*1\r\n$-1\r\n");
    // Insertion order while compact, updates in place.
    assert_eq!(
        r.cmd(&["HKEYS", "h"]),
        b"*5\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n"
    );
    assert_eq!(
        r.cmd(&["HVALS", "h"]),
        b"*5\r\n$1\r\n3\r\n$1\r\n2\r\n$1\r\n4\r\n$1\r\n5\r\n$1\r\nx\r\n"
    );
    assert_eq!(r.cmd(&["HLEN", "h"]), b":5\r\n");
    assert_eq!(r.cmd(&["HLEN", "nokey"]), b":0\r\n");
    assert_eq!(r.cmd(&["HEXISTS", "h", "a"]), b":1\r\n");
    assert_eq!(r.cmd(&["HEXISTS", "h", "zz"]), b":0\r\n");
    assert_eq!(r.cmd(&["HSTRLEN", "h", "a"]), b":1\r\n");
    assert_eq!(r.cmd(&["HSTRLEN", "h", "zz"]), b":0\r\n");
    assert_eq!(r.cmd(&["HDEL", "h", "a", "a", "zz"]), b":1\r\n");
    assert_eq!(r.cmd(&["HDEL", "nokey", "a"]), b":0\r\n");
    assert_eq!(r.cmd(&["HDEL", "h", "b", "c", "d", "e", "x"]), b":4\r\n");
    assert_eq!(r.cmd(&["EXISTS", "h"]), b":0\r\n");
    assert_eq!(r.cmd(&["HGETALL", "h"]), b"*0\r\n");
    // HSETNX on an existing field of a missing key cannot leave an empty hash.
    assert_eq!(r.cmd(&["HSETNX", "n", "f", "v"]), b":1\r\n");
    assert_eq!(r.cmd(&["HGETALL", "n"]), b"*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
}

#[test]
fn wrong_type_and_binary() {
    let s = common::Server::start();
    let mut r = s.raw();
    r.cmd(&["SET", "s", "x"]);
    let wrongtype = b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
    for cmd in [
        &["HSET", "s", "f", "v"][..],
        &["HSETNX", "s", "f", "v"],
        &["HGET", "s", "f"],
        &["HMGET", "s", "f"],
        &["HGETALL", "s"],
        &["HKEYS", "s"],
        &["HVALS", "s"],
        &["HDEL", "s", "f"],
        &["HLEN", "s"],
        &["HEXISTS", "s", "f"],
        &["HSTRLEN", "s", "f"],
        &["HINCRBY", "s", "f", "1"],
        &["HINCRBYFLOAT", "s", "f", "1"],
        &["HRANDFIELD", "s"],
        &["HRANDFIELD", "s", "2"],
        &["HSCAN", "s", "0"],
    ] {
        assert_eq!(r.cmd(cmd), wrongtype, "{cmd:?}");
    }
    // Arguments are validated before the key's type.
    assert_eq!(
        r.cmd(&["HINCRBY", "s", "f", "x"]),
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        r.cmd(&["HINCRBYFLOAT", "s", "f", "x"]),
        b"-ERR value is not a valid float\r\n"
    );
    assert_eq!(r.cmd(&["HSCAN", "s", "x"]), b"-ERR invalid cursor\r\n");
    assert_eq!(r.cmd(&["GET", "s"]), b"$1\r\nx\r\n");
    r.cmd(&["HSET", "h", "f", "v"]);
    assert_eq!(r.cmd(&["GET", "h"]), wrongtype);
    assert_eq!(r.cmd(&["TYPE", "h"]), b"+hash\r\n");

    let mut con = s.client();
    let field = b"f\x00\xff\r\n".to_vec();
    let value = b"\x00\x01binary\xfe".to_vec();
    let _: i64 = redis::cmd("HSET")
        .arg("bin")
        .arg(&field)
        .arg(&value)
        .query(&mut con)
        .unwrap();
    let got: Vec<u8> = redis::cmd("HGET")
        .arg("bin")
        .arg(&field)
        .query(&mut con)
        .unwrap();
    assert_eq!(got, value);
}

#[test]
fn counters() {
    let s = common::Server::start();
    let mut r = s.raw();
    assert_eq!(r.cmd(&["HINCRBY", "h", "n", "5"]), b":5\r\n");
    assert_eq!(r.cmd(&["HINCRBY", "h", "n", "-7"]), b":-2\r\n");
    r.cmd(&["HSET", "h", "max", "9223372036854775807", "s", "abc"]);
    r.cmd(&["HSET", "h", "min", "-9223372036854775808"]);
    assert_eq!(
        r.cmd(&["HINCRBY", "h", "max", "1"]),
        b"-ERR increment or decrement would overflow\r\n"
    );
    assert_eq!(
        r.cmd(&["HINCRBY", "h", "min", "-1"]),
        b"-ERR increment or decrement would overflow\r\n"
    );
    assert_eq!(
        r.cmd(&["HINCRBY", "h", "s", "1"]),
        b"-ERR hash value is not an integer\r\n"
    );
    assert_eq!(
        r.cmd(&["HINCRBYFLOAT", "h", "s", "1"]),
        b"-ERR hash value is not a float\r\n"
    );
    assert_eq!(
        r.cmd(&["HINCRBYFLOAT", "h", "f", "inf"]),
        b"-ERR value is NaN or Infinity\r\n"
    );
    assert_eq!(
        r.cmd(&["HINCRBYFLOAT", "h", "f", "nan"]),
        b"-ERR value is not a valid float\r\n"
    );
    assert_eq!(r.cmd(&["HINCRBYFLOAT", "h", "f", "0.1"]), b"$3\r\n0.1\r\n");
    assert_eq!(r.cmd(&["HINCRBYFLOAT", "h", "f", "0.2"]), b"$3\r\n0.3\r\n");
    assert_eq!(
        r.cmd(&["HINCRBYFLOAT", "h", "n", "2.5e3"]),
        b"$4\r\n2498\r\n"
    );
    assert_eq!(r.cmd(&["HINCRBY", "h", "n", "2"]), b":2500\r\n");
    // Errors leave no empty hash behind.
    assert_eq!(
        r.cmd(&["HINCRBYFLOAT", "e", "f", "inf"]),
        b"-ERR value is NaN or Infinity\r\n"
    );
    assert_eq!(r.cmd(&["EXISTS", "e"]), b":0\r\n");
}

#[test]
fn encoding_thresholds() {
    let s = common::Server::start();
    let mut con = s.client();
    let mut r = s.raw();
    for i in 0..512 {
        r.cmd(&["HSET", "h", &format!("f{i}"), "v"]);
    }
    assert_eq!(encoding(&mut con, "h"), "listpack");
    r.cmd(&["HSET", "h", "f512", "v"]);
    assert_eq!(encoding(&mut con, "h"), "hashtable");
    // Never converts back.
    for i in 0..504 {
        r.cmd(&["HDEL", "h", &format!("f{i}")]);
    }
    assert_eq!(encoding(&mut con, "h"), "hashtable");
    assert_eq!(hgetall(&mut con, "h").len(), 9);

    let long = "x".repeat(65);
    r.cmd(&["HSET", "v", "f", &"x".repeat(64)]);
    assert_eq!(encoding(&mut con, "v"), "listpack");
    r.cmd(&["HSET", "v", "g", &long]);
    assert_eq!(encoding(&mut con, "v"), "hashtable");
    r.cmd(&["HINCRBY", "w", &long, "1"]);
    assert_eq!(encoding(&mut con, "w"), "hashtable");

    // A lowered limit applies on the next write to a compact hash.
    r.cmd(&["HSET", "c", "a", "1", "b", "2", "c", "3"]);
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "hash-max-listpack-entries", "2"]),
        b"+OK\r\n"
    );
    assert_eq!(encoding(&mut con, "c"), "listpack");
    r.cmd(&["HSET", "c", "a", "9"]);
    assert_eq!(encoding(&mut con, "c"), "hashtable");
    r.cmd(&["HSET", "d", "a", "1", "b", "2"]);
    assert_eq!(encoding(&mut con, "d"), "listpack");
    r.cmd(&["HSETNX", "d", "c", "3"]);
    assert_eq!(encoding(&mut con, "d"), "hashtable");
    let want: HashMap<String, String> = [("a", "1"), ("b", "2"), ("c", "3")]
        .into_iter()
        .map(|(f, v)| (f.to_string(), v.to_string()))
        .collect();
    assert_eq!(hgetall(&mut con, "d"), want);
    r.cmd(&["CONFIG", "SET", "hash-max-listpack-value", "3"]);
    r.cmd(&["HSET", "e", "abc", "1"]);
    assert_eq!(encoding(&mut con, "e"), "listpack");
    assert_eq!(
        r.cmd(&["HINCRBYFLOAT", "e", "abc", "0.25"]),
        b"$4\r\n1.25\r\n"
    );
    assert_eq!(encoding(&mut con, "e"), "hashtable");
}

#[test]
fn resp3_shapes() {
    let s = common::Server::start();
    let mut r = s.raw();
    r.cmd(&["HELLO", "3"]);
    r.cmd(&["HSET", "h", "a", "1", "b", "2"]);
    assert_eq!(
        r.cmd(&["HGETALL", "h"]),
        b"%2\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n"
    );
    assert_eq!(r.cmd(&["HGETALL", "nokey"]), b"%0\r\n");
    assert_eq!(r.cmd(&["HKEYS", "nokey"]), b"*0\r\n");
    assert_eq!(r.cmd(&["HGET", "h", "x"]), b"_\r\n");
    assert_eq!(
        r.cmd(&["HRANDFIELD", "h", "5", "WITHVALUES"]),
        b"*2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n"
    );
    assert_eq!(r.cmd(&["HRANDFIELD", "nokey"]), b"_\r\n");
    assert_eq!(
        r.cmd(&["HSCAN", "h", "0"]),
        b"*2\r\n$1\r\n0\r\n*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n"
    );
}

#[test]
fn hrandfield_properties() {
    let s = common::Server::start();
    let mut con = s.client();
    for (key, n) in [("small", 20), ("large", 1000)] {
        for i in 0..n {
            let _: i64 = redis::cmd("HSET")
                .arg(key)
                .arg(format!("f{i}"))
                .arg(format!("v{i}"))
                .query(&mut con)
                .unwrap();
        }
        let all = hgetall(&mut con, key);
        for count in [1, 5, n / 3, n / 2, n - 1, n, n + 10] {
            let got: Vec<String> = redis::cmd("HRANDFIELD")
                .arg(key)
                .arg(count)
                .query(&mut con)
                .unwrap();
            assert_eq!(got.len(), count.min(n), "{key} {count}");
            let distinct: HashSet<&String> = got.iter().collect();
            assert_eq!(distinct.len(), got.len(), "{key} {count}: repeats");
            assert!(got.iter().all(|f| all.contains_key(f)));
        }
        // Negative count: exactly that many, repeats allowed.
        let got: Vec<String> = redis::cmd("HRANDFIELD")
            .arg(key)
            .arg(-(3 * n as i64))
            .query(&mut con)
            .unwrap();
        assert_eq!(got.len(), 3 * n);
        assert!(got.iter().all(|f| all.contains_key(f)));
        let distinct: HashSet<&String> = got.iter().collect();
        assert!(distinct.len() < got.len());
        assert!(distinct.len() > n / 4, "poor spread: {}", distinct.len());
        // WITHVALUES pairs belong together.
        for count in [7i64, -50] {
            let got: Vec<String> = redis::cmd("HRANDFIELD")
                .arg(key)
                .arg(count)
                .arg("WITHVALUES")
                .query(&mut con)
                .unwrap();
            assert_eq!(got.len(), 2 * count.unsigned_abs() as usize);
            for pair in got.chunks(2) {
                assert_eq!(all[&pair[0]], pair[1]);
            }
        }
        let one: String = redis::cmd("HRANDFIELD").arg(key).query(&mut con).unwrap();
        assert!(all.contains_key(&one));
    }
    let mut r = s.raw();
    assert_eq!(r.cmd(&["HRANDFIELD", "nokey"]), b"$-1\r\n");
    assert_eq!(r.cmd(&["HRANDFIELD", "nokey", "3"]), b"*0\r\n");
    assert_eq!(r.cmd(&["HRANDFIELD", "small", "0"]), b"*0\r\n");
    assert_eq!(
        r.cmd(&["HRANDFIELD", "small", "1", "WITHVALUE"]),
        b"-ERR syntax error\r\n"
    );
    assert_eq!(
        r.cmd(&["HRANDFIELD", "small", "-9223372036854775808"]),
        b"-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n"
    );
    assert_eq!(
        r.cmd(&["HRANDFIELD", "small", "4611686018427387904", "WITHVALUES"]),
        b"-ERR value is out of range\r\n"
    );
}

fn hscan_all(con: &mut Connection, key: &str, count: usize) -> (HashMap<String, String>, usize) {
    let mut seen = HashMap::new();
    let mut cursor = 0u64;
    let mut calls = 0;
    loop {
        let (next, items): (u64, Vec<String>) = redis::cmd("HSCAN")
            .arg(key)
            .arg(cursor)
            .arg("COUNT")
            .arg(count)
            .query(con)
            .unwrap();
        calls += 1;
        for pair in items.chunks(2) {
            seen.insert(pair[0].clone(), pair[1].clone());
        }
        cursor = next;
        if cursor == 0 {
            return (seen, calls);
        }
    }
}

#[test]
fn hscan_compact_and_match() {
    let s = common::Server::start();
    let mut con = s.client();
    let mut r = s.raw();
    r.cmd(&["HSET", "h", "a1", "x", "b1", "y", "a2", "z"]);
    // A compact hash comes back whole, whatever the cursor and COUNT.
    assert_eq!(
        r.cmd(&["HSCAN", "h", "5", "COUNT", "1", "MATCH", "a*"]),
        b"*2\r\n$1\r\n0\r\n*4\r\n$2\r\na1\r\n$1\r\nx\r\n$2\r\na2\r\n$1\r\nz\r\n"
    );
    assert_eq!(
        r.cmd(&["HSCAN", "nokey", "0", "COUNT", "0"]),
        b"*2\r\n$1\r\n0\r\n*0\r\n"
    );
    assert_eq!(
        r.cmd(&["HSCAN", "h", "0", "COUNT", "0"]),
        b"-ERR syntax error\r\n"
    );
    assert_eq!(
        r.cmd(&["HSCAN", "h", "0", "NOVALUES"]),
        b"-ERR syntax error\r\n"
    );
    let (all, calls) = hscan_all(&mut con, "h", 10);
    assert_eq!((all.len(), calls), (3, 1));
}

#[test]
fn hscan_guarantee_while_changing() {
    let s = common::Server::start();
    let mut con = s.client();
    let n = 2000;
    let mut pipe = redis::pipe();
    for i in 0..n {
        pipe.cmd("HSET")
            .arg("big")
            .arg(format!("stable{i}"))
            .arg(i)
            .ignore();
    }
    pipe.query::<()>(&mut con).unwrap();
    assert_eq!(encoding(&mut con, "big"), "hashtable");

    let mut writer = s.client();
    let mut seen = HashSet::new();
    let mut cursor = 0u64;
    let mut step = 0;
    loop {
        let (next, items): (u64, Vec<String>) = redis::cmd("HSCAN")
            .arg("big")
            .arg(cursor)
            .arg("COUNT")
            .arg(20)
            .query(&mut con)
            .unwrap();
        for pair in items.chunks(2) {
            seen.insert(pair[0].clone());
        }
        // Grow the table a lot, then shrink it back, mid-scan.
        step += 1;
        let mut pipe = redis::pipe();
        if step < 10 {
            for i in 0..1000 {
                pipe.cmd("HSET")
                    .arg("big")
                    .arg(format!("tmp{step}-{i}"))
                    .arg(i)
                    .ignore();
            }
        } else if step < 20 {
            for i in 0..1000 {
                pipe.cmd("HDEL")
                    .arg("big")
                    .arg(format!("tmp{}-{i}", step - 9))
                    .ignore();
            }
        }
        pipe.query::<()>(&mut writer).unwrap();
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    for i in 0..n {
        assert!(seen.contains(&format!("stable{i}")), "missed stable{i}");
    }
    let (all, calls) = hscan_all(&mut con, "big", 100);
    assert_eq!(all.len(), n);
    assert!(calls > 1);
    assert_eq!(all["stable7"], "7");
}
