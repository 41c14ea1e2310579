//! The set family against a running ferrokv: replies byte for byte,
//! encoding conversions, SPOP/SRANDMEMBER properties, the SSCAN guarantee
//! under concurrent writes, and the atomicity of multi-key commands.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use ferrokv::keyspace::shard_of;

fn members(con: &mut redis::Connection, key: &str) -> HashSet<String> {
    redis::cmd("SMEMBERS").arg(key).query(con).unwrap()
}

fn encoding(con: &mut redis::Connection, key: &str) -> String {
    redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg(key)
        .query(con)
        .unwrap()
}

fn fill(con: &mut redis::Connection, key: &str, items: impl Iterator<Item = String>) {
    let items: Vec<String> = items.collect();
    for chunk in items.chunks(500) {
        let _: i64 = redis::cmd("SADD").arg(key).arg(chunk).query(con).unwrap();
    }
}

/// Two key names living in different shards.
fn keys_in_two_shards(prefix: &str) -> (String, String) {
    let a = format!("{prefix}a");
    let b = (0..)
        .map(|i| format!("{prefix}b{i}"))
        .find(|k| shard_of(k.as_bytes()) != shard_of(a.as_bytes()))
        .unwrap();
    (a, b)
}

#[test]
fn basic_replies() {
    let s = common::Server::start();
    let mut r = s.raw();
    assert_eq!(r.cmd(&["SADD", "s", "3", "1", "2", "1"]), b":3\r\n");
    assert_eq!(
        r.cmd(&["SMEMBERS", "s"]),
        b"*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"
    );
    assert_eq!(r.cmd(&["SCARD", "s"]), b":3\r\n");
    assert_eq!(r.cmd(&["SISMEMBER", "s", "2"]), b":1\r\n");
    assert_eq!(r.cmd(&["SISMEMBER", "s", "02"]), b":0\r\n");
    assert_eq!(r.cmd(&["SMISMEMBER", "s", "1", "x"]), b"*2\r\n:1\r\n:0\r\n");
    assert_eq!(r.cmd(&["SREM", "s", "1", "9"]), b":1\r\n");
    assert_eq!(r.cmd(&["SET", "str", "v"]), b"+OK\r\n");
    let wrongtype: &[u8] =
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
    assert_eq!(r.cmd(&["SADD", "str", "a"]), wrongtype);
    // Every source is type-checked, even after a missing one.
    assert_eq!(r.cmd(&["SINTER", "nokey", "str"]), wrongtype);
    // SMOVE from a missing source answers 0 before checking the target.
    assert_eq!(r.cmd(&["SMOVE", "nokey", "str", "a"]), b":0\r\n");
    assert_eq!(
        r.cmd(&["SPOP", "s", "-1"]),
        b"-ERR value is out of range, must be positive\r\n"
    );
    assert_eq!(
        r.cmd(&["SINTERCARD", "0", "s"]),
        b"-ERR numkeys should be greater than 0\r\n"
    );
    assert_eq!(
        r.cmd(&["SINTERCARD", "1", "s", "LIMIT", "-1"]),
        b"-ERR LIMIT can't be negative\r\n"
    );
    assert_eq!(
        r.cmd(&["SINTERCARD", "2", "s"]),
        b"-ERR Number of keys can't be greater than number of args\r\n"
    );
    assert_eq!(r.cmd(&["SINTERCARD", "1", "s", "LIMIT", "1"]), b":1\r\n");
    // The last member removed deletes the key.
    assert_eq!(r.cmd(&["SREM", "s", "2", "3"]), b":2\r\n");
    assert_eq!(r.cmd(&["EXISTS", "s"]), b":0\r\n");
    assert_eq!(r.cmd(&["HELLO", "3"])[0], b'%');
    assert_eq!(r.cmd(&["SADD", "s", "x"]), b":1\r\n");
    assert_eq!(r.cmd(&["SMEMBERS", "s"]), b"~1\r\n$1\r\nx\r\n");
    assert_eq!(r.cmd(&["SRANDMEMBER", "s", "2"]), b"*1\r\n$1\r\nx\r\n");
    assert_eq!(r.cmd(&["SPOP", "s", "2"]), b"~1\r\n$1\r\nx\r\n");
    assert_eq!(r.cmd(&["SPOP", "s"]), b"_\r\n");
}

#[test]
fn encoding_conversions() {
    let s = common::Server::start();
    let mut con = s.client();
    fill(&mut con, "ints", (0..512).map(|i| i.to_string()));
    assert_eq!(encoding(&mut con, "ints"), "intset");
    fill(&mut con, "ints", ["511".to_string()].into_iter());
    assert_eq!(encoding(&mut con, "ints"), "intset");
    fill(&mut con, "ints", ["512".to_string()].into_iter());
    assert_eq!(encoding(&mut con, "ints"), "hashtable");
    assert_eq!(members(&mut con, "ints").len(), 513);

    fill(
        &mut con,
        "mixed",
        ["1", "2", "x"].iter().map(|s| s.to_string()),
    );
    assert_eq!(encoding(&mut con, "mixed"), "hashtable");
    let _: i64 = redis::cmd("SREM")
        .arg("mixed")
        .arg("x")
        .query(&mut con)
        .unwrap();
    assert_eq!(encoding(&mut con, "mixed"), "hashtable");

    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("set-max-intset-entries")
        .arg("2")
        .query(&mut con)
        .unwrap();
    fill(&mut con, "small", ["1", "2"].iter().map(|s| s.to_string()));
    assert_eq!(encoding(&mut con, "small"), "intset");
    fill(&mut con, "small", ["3".to_string()].into_iter());
    assert_eq!(encoding(&mut con, "small"), "hashtable");
    // Results are stored with the same rules.
    let n: i64 = redis::cmd("SUNIONSTORE")
        .arg("u")
        .arg("small")
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 3);
    assert_eq!(encoding(&mut con, "u"), "hashtable");
    let n: i64 = redis::cmd("SDIFFSTORE")
        .arg("d")
        .arg("small")
        .arg("missing")
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 3);
    assert_eq!(encoding(&mut con, "d"), "hashtable");
    let _: i64 = redis::cmd("SREM")
        .arg("d")
        .arg("3")
        .query(&mut con)
        .unwrap();
    let n: i64 = redis::cmd("SINTERSTORE")
        .arg("i")
        .arg("d")
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(encoding(&mut con, "i"), "intset");
}

#[test]
fn spop_and_srandmember_properties() {
    let s = common::Server::start();
    let mut con = s.client();
    for (key, n) in [("small", 100usize), ("big", 3000)] {
        fill(&mut con, key, (0..n).map(|i| format!("m{i}")));
        let all = members(&mut con, key);
        for count in [1usize, 7, n / 3, n / 2 + 1, n - 1] {
            let got: Vec<String> = redis::cmd("SRANDMEMBER")
                .arg(key)
                .arg(count)
                .query(&mut con)
                .unwrap();
            let uniq: HashSet<String> = got.iter().cloned().collect();
            assert_eq!(got.len(), count);
            assert_eq!(uniq.len(), count, "SRANDMEMBER {count} repeats");
            assert!(uniq.is_subset(&all));
        }
        let got: Vec<String> = redis::cmd("SRANDMEMBER")
            .arg(key)
            .arg(n + 10)
            .query(&mut con)
            .unwrap();
        assert_eq!(got.into_iter().collect::<HashSet<_>>(), all);
        let got: Vec<String> = redis::cmd("SRANDMEMBER")
            .arg(key)
            .arg(-(2 * n as i64))
            .query(&mut con)
            .unwrap();
        assert_eq!(got.len(), 2 * n);
        let uniq: HashSet<String> = got.iter().cloned().collect();
        assert!(uniq.is_subset(&all));
        assert!(uniq.len() < 2 * n && uniq.len() > n / 4);

        // SPOP with a count returns distinct members and removes them.
        let mut left = all.clone();
        for count in [1usize, 5, n / 2] {
            let popped: Vec<String> = redis::cmd("SPOP")
                .arg(key)
                .arg(count)
                .query(&mut con)
                .unwrap();
            let uniq: HashSet<String> = popped.iter().cloned().collect();
            assert_eq!(uniq.len(), count);
            assert!(uniq.is_subset(&left));
            left.retain(|m| !uniq.contains(m));
            assert_eq!(members(&mut con, key), left);
        }
        let popped: HashSet<String> = redis::cmd("SPOP").arg(key).arg(n).query(&mut con).unwrap();
        assert_eq!(popped, left);
        let exists: i64 = redis::cmd("EXISTS").arg(key).query(&mut con).unwrap();
        assert_eq!(exists, 0);
    }

    // Single draws reach every member of a small set.
    fill(&mut con, "ten", (0..10).map(|i| i.to_string()));
    let mut seen = HashSet::new();
    for _ in 0..500 {
        let m: String = redis::cmd("SRANDMEMBER")
            .arg("ten")
            .query(&mut con)
            .unwrap();
        seen.insert(m);
    }
    assert_eq!(seen.len(), 10);
    let mut seen = HashSet::new();
    while let Some(m) = redis::cmd("SPOP")
        .arg("ten")
        .query::<Option<String>>(&mut con)
        .unwrap()
    {
        assert!(seen.insert(m));
    }
    assert_eq!(seen.len(), 10);
}

#[test]
fn sscan_guarantee_under_concurrent_writes() {
    let s = common::Server::start();
    let mut con = s.client();
    let stable: HashSet<String> = (0..5000).map(|i| format!("m{i}")).collect();
    fill(&mut con, "big", stable.iter().cloned());
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let mut con = s.client();
        thread::spawn(move || {
            // Grow the table well past its size, then shrink it, repeatedly.
            let mut round = 0;
            while !stop.load(Ordering::Relaxed) {
                let extra: Vec<String> = (0..20000).map(|i| format!("x{round}_{i}")).collect();
                for chunk in extra.chunks(1000) {
                    let _: i64 = redis::cmd("SADD")
                        .arg("big")
                        .arg(chunk)
                        .query(&mut con)
                        .unwrap();
                }
                for chunk in extra.chunks(1000) {
                    let _: i64 = redis::cmd("SREM")
                        .arg("big")
                        .arg(chunk)
                        .query(&mut con)
                        .unwrap();
                }
                round += 1;
            }
        })
    };
    for _ in 0..3 {
        let mut seen = HashSet::new();
        let mut cursor = 0u64;
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SSCAN")
                .arg("big")
                .arg(cursor)
                .arg("COUNT")
                .arg(20)
                .query(&mut con)
                .unwrap();
            seen.extend(batch);
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        let missed = stable.difference(&seen).count();
        assert_eq!(missed, 0, "SSCAN missed {missed} members");
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();

    // MATCH filters; an intset comes back whole with cursor 0.
    fill(&mut con, "ints", (0..300).map(|i| i.to_string()));
    let (next, batch): (u64, Vec<String>) = redis::cmd("SSCAN")
        .arg("ints")
        .arg(0)
        .arg("MATCH")
        .arg("1?")
        .query(&mut con)
        .unwrap();
    assert_eq!(next, 0);
    assert_eq!(batch.len(), 10);
}

#[test]
fn store_commands_overwrite_and_delete() {
    let s = common::Server::start();
    let mut r = s.raw();
    r.cmd(&["SADD", "a", "1", "2", "3"]);
    r.cmd(&["SADD", "b", "3", "4"]);
    assert_eq!(r.cmd(&["SET", "dst", "x", "EX", "100"]), b"+OK\r\n");
    assert_eq!(r.cmd(&["SUNIONSTORE", "dst", "a", "b"]), b":4\r\n");
    assert_eq!(r.cmd(&["TTL", "dst"]), b":-1\r\n");
    assert_eq!(r.cmd(&["TYPE", "dst"]), b"+set\r\n");
    assert_eq!(r.cmd(&["SDIFFSTORE", "dst", "a", "b"]), b":2\r\n");
    assert_eq!(r.cmd(&["SMEMBERS", "dst"]), b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    // The destination may be a source.
    assert_eq!(r.cmd(&["SINTERSTORE", "dst", "dst", "a"]), b":2\r\n");
    // An empty result deletes the destination, whatever its type.
    assert_eq!(r.cmd(&["SINTERSTORE", "dst", "a", "nokey"]), b":0\r\n");
    assert_eq!(r.cmd(&["EXISTS", "dst"]), b":0\r\n");
    r.cmd(&["SET", "dst", "x"]);
    assert_eq!(r.cmd(&["SDIFFSTORE", "dst", "a", "a"]), b":0\r\n");
    assert_eq!(r.cmd(&["EXISTS", "dst"]), b":0\r\n");
    // A wrong-type source leaves the destination alone.
    r.cmd(&["SET", "dst", "x"]);
    r.cmd(&["SET", "str", "y"]);
    assert_eq!(
        r.cmd(&["SUNIONSTORE", "dst", "a", "str"]),
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_eq!(r.cmd(&["GET", "dst"]), b"$1\r\nx\r\n");
}

#[test]
fn multi_key_commands_are_atomic() {
    let s = common::Server::start();
    let (src, dst) = keys_in_two_shards("atom");
    let mut con = s.client();
    fill(&mut con, &src, (0..50).map(|i| format!("e{i}")));
    let stop = Arc::new(AtomicBool::new(false));
    // Movers shuffle members between the two sets; the union is always
    // the 50 members and the sets never share one.
    let movers: Vec<_> = (0..2)
        .map(|t| {
            let (stop, src, dst) = (stop.clone(), src.clone(), dst.clone());
            let mut con = s.client();
            thread::spawn(move || {
                let mut i = t;
                while !stop.load(Ordering::Relaxed) {
                    let m = format!("e{}", i % 50);
                    let (from, to) = if i % 3 == 0 {
                        (&dst, &src)
                    } else {
                        (&src, &dst)
                    };
                    let _: i64 = redis::cmd("SMOVE")
                        .arg(from)
                        .arg(to)
                        .arg(&m)
                        .query(&mut con)
                        .unwrap();
                    i += 7;
                }
            })
        })
        .collect();
    for _ in 0..2000 {
        let n: i64 = redis::cmd("SUNIONSTORE")
            .arg("u")
            .arg(&src)
            .arg(&dst)
            .query(&mut con)
            .unwrap();
        assert_eq!(n, 50);
        let common: i64 = redis::cmd("SINTERCARD")
            .arg(2)
            .arg(&src)
            .arg(&dst)
            .query(&mut con)
            .unwrap();
        assert_eq!(common, 0);
        let union: Vec<String> = redis::cmd("SUNION")
            .arg(&src)
            .arg(&dst)
            .query(&mut con)
            .unwrap();
        assert_eq!(union.len(), 50);
    }
    stop.store(true, Ordering::Relaxed);
    for m in movers {
        m.join().unwrap();
    }
}
