//! The generic keyspace family, the TTL commands and the database
//! commands, end to end against the real binary.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{Raw, Server, TIMEOUT};
use ferrokv::keyspace::shard_of;

/// Sends every command and asserts each raw reply.
fn expect(raw: &mut Raw, cases: &[(&[&str], &[u8])]) {
    for (args, want) in cases {
        let got = raw.cmd(args);
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(want),
            "reply to {args:?}"
        );
    }
}

/// Reads an integer reply.
fn int(raw: &mut Raw, args: &[&str]) -> i64 {
    let reply = raw.cmd_str(args);
    reply
        .strip_prefix(':')
        .and_then(|s| s.trim_end().parse().ok())
        .unwrap_or_else(|| panic!("{args:?} answered {reply:?}"))
}

fn set_many(con: &mut redis::Connection, keys: impl Iterator<Item = String>) {
    let mut pipe = redis::pipe();
    for k in keys {
        pipe.cmd("SET").arg(k).arg("v").ignore();
    }
    pipe.query::<()>(con).unwrap();
}

fn del_many(con: &mut redis::Connection, keys: impl Iterator<Item = String>) {
    let mut pipe = redis::pipe();
    for k in keys {
        pipe.cmd("DEL").arg(k).ignore();
    }
    pipe.query::<()>(con).unwrap();
}

/// Polls `check` until it holds or [`TIMEOUT`] passes.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn del_unlink_exists_touch() {
    let s = Server::start();
    let mut r = s.raw();
    expect(
        &mut r,
        &[
            (&["SET", "a", "1"], b"+OK\r\n"),
            (&["SET", "b", "2"], b"+OK\r\n"),
            (&["SET", "c", "3"], b"+OK\r\n"),
            (&["EXISTS", "a", "a", "nokey", "b"], b":3\r\n"),
            (&["EXISTS", "nokey"], b":0\r\n"),
            (&["TOUCH", "a", "a", "nokey"], b":2\r\n"),
            (&["DEL", "a", "nokey", "a"], b":1\r\n"),
            (&["EXISTS", "a"], b":0\r\n"),
            (&["UNLINK", "b", "c", "b"], b":2\r\n"),
            (&["UNLINK", "b"], b":0\r\n"),
            (&["SET", "", "empty"], b"+OK\r\n"),
            (&["DEL", ""], b":1\r\n"),
            (
                &["DEL"],
                b"-ERR wrong number of arguments for 'del' command\r\n",
            ),
            (
                &["EXISTS"],
                b"-ERR wrong number of arguments for 'exists' command\r\n",
            ),
            (
                &["TOUCH"],
                b"-ERR wrong number of arguments for 'touch' command\r\n",
            ),
            (
                &["UNLINK"],
                b"-ERR wrong number of arguments for 'unlink' command\r\n",
            ),
        ],
    );
    // Keys spread over many shards are all deleted by one command.
    let mut con = s.client();
    let keys: Vec<String> = (0..200).map(|i| format!("many:{i}")).collect();
    set_many(&mut con, keys.iter().cloned());
    let n: i64 = redis::cmd("DEL").arg(&keys).query(&mut con).unwrap();
    assert_eq!(n, 200);
    let n: i64 = redis::cmd("EXISTS").arg(&keys).query(&mut con).unwrap();
    assert_eq!(n, 0);
}

#[test]
fn type_reports_string_or_none() {
    let s = Server::start();
    let mut r = s.raw();
    expect(
        &mut r,
        &[
            (&["SET", "s", "x"], b"+OK\r\n"),
            (&["SET", "i", "12"], b"+OK\r\n"),
            (&["TYPE", "s"], b"+string\r\n"),
            (&["TYPE", "i"], b"+string\r\n"),
            (&["TYPE", "nokey"], b"+none\r\n"),
            (
                &["TYPE", "a", "b"],
                b"-ERR wrong number of arguments for 'type' command\r\n",
            ),
        ],
    );
}

#[test]
fn rename_and_renamenx() {
    let s = Server::start();
    let mut r = s.raw();
    expect(
        &mut r,
        &[
            (&["RENAME", "nokey", "x"], b"-ERR no such key\r\n"),
            (&["RENAME", "nokey", "nokey"], b"-ERR no such key\r\n"),
            (&["RENAMENX", "nokey", "x"], b"-ERR no such key\r\n"),
            (&["SET", "a", "va", "EX", "1000"], b"+OK\r\n"),
            (&["RENAME", "a", "a"], b"+OK\r\n"),
            (&["RENAMENX", "a", "a"], b":0\r\n"),
            (&["RENAME", "a", "b"], b"+OK\r\n"),
            (&["EXISTS", "a"], b":0\r\n"),
            (&["GET", "b"], b"$2\r\nva\r\n"),
            (&["SET", "c", "vc"], b"+OK\r\n"),
            (&["RENAMENX", "b", "c"], b":0\r\n"),
            (&["GET", "b"], b"$2\r\nva\r\n"),
            (&["RENAMENX", "b", "d"], b":1\r\n"),
            (&["EXISTS", "b"], b":0\r\n"),
            // The destination's value and TTL are replaced by the source's.
            (&["SET", "p", "plain"], b"+OK\r\n"),
            (&["SET", "t", "timed", "EX", "500"], b"+OK\r\n"),
            (&["RENAME", "p", "t"], b"+OK\r\n"),
            (&["TTL", "t"], b":-1\r\n"),
            (&["GET", "t"], b"$5\r\nplain\r\n"),
            (
                &["RENAME", "a"],
                b"-ERR wrong number of arguments for 'rename' command\r\n",
            ),
        ],
    );
    // The TTL moves with the key.
    let ttl = int(&mut r, &["TTL", "d"]);
    assert!((990..=1000).contains(&ttl), "ttl {ttl}");
}

#[test]
fn rename_is_atomic_across_shards() {
    assert_ne!(
        shard_of(b"ping"),
        shard_of(b"pong"),
        "keys must differ in shard"
    );
    let s = Server::start();
    let mut r = s.raw();
    r.cmd(&["SET", "ping", "ball"]);
    let stop = Arc::new(AtomicBool::new(false));
    let renamer = {
        let stop = stop.clone();
        let mut r = s.raw();
        thread::spawn(move || {
            let mut moves = 0;
            while !stop.load(Ordering::Relaxed) {
                assert_eq!(r.cmd(&["RENAME", "ping", "pong"]), b"+OK\r\n");
                assert_eq!(r.cmd(&["RENAME", "pong", "ping"]), b"+OK\r\n");
                moves += 2;
            }
            moves
        })
    };
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut checks = 0;
    while Instant::now() < deadline && checks < 20_000 {
        // Exactly one of the names exists at any instant.
        assert_eq!(r.cmd(&["EXISTS", "ping", "pong"]), b":1\r\n");
        assert_eq!(r.cmd(&["DBSIZE"]), b":1\r\n");
        checks += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let moves = renamer.join().unwrap();
    assert!(
        moves > 100 && checks > 100,
        "moves {moves}, checks {checks}"
    );
}

#[test]
fn copy_within_and_across_databases() {
    let s = Server::start();
    let mut r = s.raw();
    expect(
        &mut r,
        &[
            (&["SET", "a", "hello", "EX", "1000"], b"+OK\r\n"),
            (&["COPY", "a", "b"], b":1\r\n"),
            (&["GET", "b"], b"$5\r\nhello\r\n"),
            (&["COPY", "a", "b"], b":0\r\n"),
            (&["SET", "a", "world", "KEEPTTL"], b"+OK\r\n"),
            (&["COPY", "a", "b", "REPLACE"], b":1\r\n"),
            (&["GET", "b"], b"$5\r\nworld\r\n"),
            (
                &["COPY", "a", "a"],
                b"-ERR source and destination objects are the same\r\n",
            ),
            (
                &["COPY", "a", "a", "DB", "0"],
                b"-ERR source and destination objects are the same\r\n",
            ),
            (&["COPY", "a", "a", "DB", "1"], b":1\r\n"),
            (&["COPY", "a", "a", "DB", "1"], b":0\r\n"),
            (&["COPY", "a", "a", "DB", "1", "REPLACE"], b":1\r\n"),
            (
                &["COPY", "a", "c", "DB", "16"],
                b"-ERR DB index is out of range\r\n",
            ),
            (
                &["COPY", "a", "c", "DB", "x"],
                b"-ERR value is not an integer or out of range\r\n",
            ),
            (&["COPY", "a", "c", "DB"], b"-ERR syntax error\r\n"),
            (&["COPY", "a", "c", "FOO"], b"-ERR syntax error\r\n"),
            (&["COPY", "nokey", "c"], b":0\r\n"),
            (&["SELECT", "1"], b"+OK\r\n"),
            (&["GET", "a"], b"$5\r\nworld\r\n"),
        ],
    );
    // The TTL is copied, in this database and in the other one.
    let ttl = int(&mut r, &["TTL", "a"]);
    assert!((990..=1000).contains(&ttl), "ttl {ttl}");
    r.cmd(&["SELECT", "0"]);
    let ttl = int(&mut r, &["TTL", "b"]);
    assert!((990..=1000).contains(&ttl), "ttl {ttl}");
    // The copy is independent of the source.
    expect(
        &mut r,
        &[
            (&["SET", "a", "changed"], b"+OK\r\n"),
            (&["GET", "b"], b"$5\r\nworld\r\n"),
        ],
    );
}

#[test]
fn move_between_databases() {
    let s = Server::start();
    let mut r = s.raw();
    expect(
        &mut r,
        &[
            (&["SET", "m", "v", "EX", "1000"], b"+OK\r\n"),
            (
                &["MOVE", "m", "0"],
                b"-ERR source and destination objects are the same\r\n",
            ),
            (&["MOVE", "m", "16"], b"-ERR DB index is out of range\r\n"),
            (&["MOVE", "m", "-1"], b"-ERR DB index is out of range\r\n"),
            (
                &["MOVE", "m", "x"],
                b"-ERR value is not an integer or out of range\r\n",
            ),
            (
                &["MOVE", "m", "4294967296"],
                b"-ERR value is out of range, value must between -2147483648 and 2147483647\r\n",
            ),
            (&["MOVE", "nokey", "1"], b":0\r\n"),
            (&["MOVE", "m", "1"], b":1\r\n"),
            (&["EXISTS", "m"], b":0\r\n"),
            (&["SET", "m", "here"], b"+OK\r\n"),
            (&["MOVE", "m", "1"], b":0\r\n"),
            (&["GET", "m"], b"$4\r\nhere\r\n"),
            (&["SELECT", "1"], b"+OK\r\n"),
            (&["GET", "m"], b"$1\r\nv\r\n"),
        ],
    );
    let ttl = int(&mut r, &["TTL", "m"]);
    assert!((990..=1000).contains(&ttl), "ttl {ttl}");
}

#[test]
fn swapdb_is_seen_by_other_clients() {
    let s = Server::start();
    let mut a = s.raw();
    let mut b = s.raw();
    expect(
        &mut a,
        &[
            (&["SET", "k", "zero"], b"+OK\r\n"),
            (&["SELECT", "1"], b"+OK\r\n"),
            (&["SET", "k", "one"], b"+OK\r\n"),
            (&["SET", "k2", "one"], b"+OK\r\n"),
        ],
    );
    expect(&mut b, &[(&["GET", "k"], b"$4\r\nzero\r\n")]);
    expect(
        &mut a,
        &[
            (&["SWAPDB", "0", "1"], b"+OK\r\n"),
            (&["GET", "k"], b"$4\r\nzero\r\n"),
            (&["SWAPDB", "1", "1"], b"+OK\r\n"),
            (&["SWAPDB", "0", "16"], b"-ERR DB index is out of range\r\n"),
            (&["SWAPDB", "-1", "0"], b"-ERR DB index is out of range\r\n"),
            (&["SWAPDB", "x", "0"], b"-ERR invalid first DB index\r\n"),
            (&["SWAPDB", "0", "x"], b"-ERR invalid second DB index\r\n"),
            (
                &["SWAPDB", "0", "4294967296"],
                b"-ERR invalid second DB index\r\n",
            ),
            (
                &["SWAPDB", "0"],
                b"-ERR wrong number of arguments for 'swapdb' command\r\n",
            ),
        ],
    );
    expect(
        &mut b,
        &[(&["GET", "k"], b"$3\r\none\r\n"), (&["DBSIZE"], b":2\r\n")],
    );
}

#[test]
fn keys_glob_patterns() {
    let s = Server::start();
    let mut con = s.client();
    let names = [
        "foo", "foobar", "bar", "a*b", "a?b", "aXb", "h[e]llo", "hello", "hallo", "hbllo", "FOO",
    ];
    set_many(&mut con, names.iter().map(|s| s.to_string()));
    let _: () = redis::cmd("SET")
        .arg("gone")
        .arg("v")
        .arg("PX")
        .arg(1)
        .query(&mut con)
        .unwrap();
    thread::sleep(Duration::from_millis(10));
    let keys = |con: &mut redis::Connection, pattern: &str| -> Vec<String> {
        let mut v: Vec<String> = redis::cmd("KEYS").arg(pattern).query(con).unwrap();
        v.sort();
        v
    };
    let mut all: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    all.sort();
    assert_eq!(keys(&mut con, "*"), all, "expired keys are not listed");
    assert_eq!(keys(&mut con, "foo*"), ["foo", "foobar"]);
    assert_eq!(keys(&mut con, "*bar"), ["bar", "foobar"]);
    assert_eq!(keys(&mut con, "h[ae]llo"), ["hallo", "hello"]);
    assert_eq!(keys(&mut con, "h[^e]llo"), ["hallo", "hbllo"]);
    assert_eq!(keys(&mut con, "h[a-c]llo"), ["hallo", "hbllo"]);
    assert_eq!(keys(&mut con, "a?b"), ["a*b", "a?b", "aXb"]);
    assert_eq!(keys(&mut con, "a\\*b"), ["a*b"]);
    assert_eq!(keys(&mut con, "h\\[e\\]llo"), ["h[e]llo"]);
    assert_eq!(keys(&mut con, "FOO"), ["FOO"]);
    assert!(keys(&mut con, "nomatch").is_empty());
}

/// Runs a full SCAN with the given options; returns every key returned.
fn full_scan(r: &mut Raw, opts: &[&str]) -> Vec<String> {
    let mut cursor = "0".to_string();
    let mut out = Vec::new();
    for _ in 0..1_000_000 {
        let mut args = vec!["SCAN", &cursor];
        args.extend_from_slice(opts);
        let reply = r.cmd(&args);
        let (next, keys) = parse_scan(&reply);
        out.extend(keys);
        cursor = next;
        if cursor == "0" {
            return out;
        }
    }
    panic!("SCAN did not terminate");
}

/// Splits a raw SCAN reply into its cursor and keys.
fn parse_scan(reply: &[u8]) -> (String, Vec<String>) {
    let text = String::from_utf8_lossy(reply);
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(lines[0], "*2", "{text}");
    let cursor = lines[2].to_string();
    let n: usize = lines[3][1..].parse().unwrap();
    let keys = (0..n).map(|i| lines[5 + 2 * i].to_string()).collect();
    (cursor, keys)
}

#[test]
fn scan_options_and_errors() {
    let s = Server::start();
    let mut con = s.client();
    set_many(&mut con, (0..500).map(|i| format!("user:{i}")));
    set_many(&mut con, (0..50).map(|i| format!("other:{i}")));
    let mut r = s.raw();
    let all: HashSet<String> = full_scan(&mut r, &[]).into_iter().collect();
    assert_eq!(all.len(), 550);
    let matched: HashSet<String> = full_scan(&mut r, &["MATCH", "other:*", "COUNT", "7"])
        .into_iter()
        .collect();
    assert_eq!(matched.len(), 50);
    assert!(matched.iter().all(|k| k.starts_with("other:")));
    assert_eq!(full_scan(&mut r, &["TYPE", "string"]).len(), 550);
    assert_eq!(full_scan(&mut r, &["TYPE", "STRING"]).len(), 550);
    assert!(full_scan(&mut r, &["TYPE", "list"]).is_empty());
    // COUNT bounds the work of one call; a big COUNT finishes at once.
    let (_, keys) = parse_scan(&r.cmd(&["SCAN", "0"]));
    assert!(keys.len() <= 20, "{} keys for COUNT 10", keys.len());
    let (cursor, keys) = parse_scan(&r.cmd(&["SCAN", "0", "COUNT", "100000"]));
    assert_eq!((cursor.as_str(), keys.len()), ("0", 550));
    expect(
        &mut r,
        &[
            (&["SCAN", " 0"], b"-ERR invalid cursor\r\n"),
            (&["SCAN", "0x"], b"-ERR invalid cursor\r\n"),
            (
                &["SCAN", "18446744073709551616"],
                b"-ERR invalid cursor\r\n",
            ),
            (&["SCAN", "0", "COUNT", "0"], b"-ERR syntax error\r\n"),
            (
                &["SCAN", "0", "COUNT", "x"],
                b"-ERR value is not an integer or out of range\r\n",
            ),
            (&["SCAN", "0", "MATCH"], b"-ERR syntax error\r\n"),
            (&["SCAN", "0", "FOO", "bar"], b"-ERR syntax error\r\n"),
            (&["FLUSHALL"], b"+OK\r\n"),
            (&["SCAN", "0"], b"*2\r\n$1\r\n0\r\n*0\r\n"),
            (&["SCAN", ""], b"*2\r\n$1\r\n0\r\n*0\r\n"),
            (&["SET", "k", "v"], b"+OK\r\n"),
            (&["SCAN", "0"], b"*2\r\n$1\r\n0\r\n*1\r\n$1\r\nk\r\n"),
        ],
    );
}

#[test]
fn scan_returns_every_stable_key_despite_concurrent_writes() {
    let s = Server::start();
    let mut con = s.client();
    let originals: Vec<String> = (0..10_000).map(|i| format!("orig:{i}")).collect();
    for chunk in originals.chunks(1000) {
        set_many(&mut con, chunk.iter().cloned());
    }
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let done = done.clone();
        let mut con = s.client();
        thread::spawn(move || {
            // Adds 10,000 keys (growing the shards) and deletes them again
            // (shrinking them), interleaved with the scan.
            for batch in 0..100 {
                set_many(
                    &mut con,
                    (batch * 100..batch * 100 + 100).map(|i| format!("new:{i}")),
                );
                if batch >= 20 {
                    let old = batch - 20;
                    del_many(
                        &mut con,
                        (old * 100..old * 100 + 100).map(|i| format!("new:{i}")),
                    );
                }
            }
            for old in 80..100 {
                del_many(
                    &mut con,
                    (old * 100..old * 100 + 100).map(|i| format!("new:{i}")),
                );
            }
            done.store(true, Ordering::Relaxed);
        })
    };
    let mut r = s.raw();
    let seen: HashSet<String> = full_scan(&mut r, &["COUNT", "10"]).into_iter().collect();
    writer.join().unwrap();
    assert!(done.load(Ordering::Relaxed));
    let missing: Vec<&String> = originals.iter().filter(|k| !seen.contains(*k)).collect();
    assert!(missing.is_empty(), "{} originals missed", missing.len());
    assert!(seen
        .iter()
        .all(|k| k.starts_with("orig:") || k.starts_with("new:")));
    assert_eq!(r.cmd(&["DBSIZE"]), b":10000\r\n");
}

#[test]
fn scan_survives_shards_growing_then_shrinking_mid_iteration() {
    // 10,000 keys leave ~40 per shard; 60,000 more grow each shard's table
    // eightfold, and deleting them shrinks it back: a cursor that is not
    // reverse-binary would skip buckets when a table shrinks.
    let s = Server::start();
    let mut con = s.client();
    let originals: Vec<String> = (0..10_000).map(|i| format!("orig:{i}")).collect();
    for chunk in originals.chunks(1000) {
        set_many(&mut con, chunk.iter().cloned());
    }
    let extra = |range: std::ops::Range<usize>| range.map(|i| format!("extra:{i}"));
    let mut r = s.raw();
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    for call in 0.. {
        assert!(call < 1_000_000, "SCAN did not terminate");
        match call {
            100 => {
                for start in (0..60_000).step_by(5000) {
                    set_many(&mut con, extra(start..start + 5000));
                }
            }
            400 => {
                for start in (0..60_000).step_by(5000) {
                    del_many(&mut con, extra(start..start + 5000));
                }
            }
            _ => {}
        }
        let (next, keys) = parse_scan(&r.cmd(&["SCAN", &cursor, "COUNT", "10"]));
        seen.extend(keys);
        cursor = next;
        if cursor == "0" {
            assert!(call > 400, "the scan ended before the shrink");
            break;
        }
    }
    let missing = originals.iter().filter(|k| !seen.contains(*k)).count();
    assert_eq!(missing, 0, "originals missed");
}

#[test]
fn randomkey_returns_live_keys() {
    let s = Server::start();
    let mut r = s.raw();
    expect(
        &mut r,
        &[
            (&["RANDOMKEY"], b"$-1\r\n"),
            (&["SET", "only", "v"], b"+OK\r\n"),
            (&["RANDOMKEY"], b"$4\r\nonly\r\n"),
            (&["SET", "gone", "v", "PX", "1"], b"+OK\r\n"),
            (&["DEL", "only"], b":1\r\n"),
        ],
    );
    thread::sleep(Duration::from_millis(10));
    expect(&mut r, &[(&["RANDOMKEY"], b"$-1\r\n")]);
    let mut con = s.client();
    set_many(&mut con, (0..100).map(|i| format!("r:{i}")));
    let mut seen = HashSet::new();
    for _ in 0..300 {
        let k: String = redis::cmd("RANDOMKEY").query(&mut con).unwrap();
        assert!(k.starts_with("r:"));
        seen.insert(k);
    }
    assert!(seen.len() > 30, "only {} distinct keys", seen.len());
}

#[test]
fn object_subcommands() {
    let s = Server::start();
    let mut r = s.raw();
    let long = "x".repeat(45);
    expect(
        &mut r,
        &[
            (&["SET", "int", "123"], b"+OK\r\n"),
            (&["SET", "big", "100000"], b"+OK\r\n"),
            (&["SET", "neg", "-1"], b"+OK\r\n"),
            (&["SET", "emb", "hello"], b"+OK\r\n"),
            (&["SET", "raw", &long], b"+OK\r\n"),
            (&["OBJECT", "ENCODING", "int"], b"$3\r\nint\r\n"),
            (&["OBJECT", "ENCODING", "emb"], b"$6\r\nembstr\r\n"),
            (&["OBJECT", "ENCODING", "raw"], b"$3\r\nraw\r\n"),
            (&["OBJECT", "ENCODING", "nokey"], b"$-1\r\n"),
            (&["OBJECT", "REFCOUNT", "int"], b":2147483647\r\n"),
            (&["OBJECT", "REFCOUNT", "big"], b":1\r\n"),
            (&["OBJECT", "REFCOUNT", "neg"], b":1\r\n"),
            (&["OBJECT", "REFCOUNT", "emb"], b":1\r\n"),
            (&["OBJECT", "REFCOUNT", "nokey"], b"$-1\r\n"),
            (&["OBJECT", "IDLETIME", "nokey"], b"$-1\r\n"),
            (&["OBJECT", "FREQ", "nokey"], b"$-1\r\n"),
            (
                &["OBJECT", "FREQ", "int"],
                b"-ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.\r\n",
            ),
            (
                &["OBJECT", "FOO"],
                b"-ERR unknown subcommand 'FOO'. Try OBJECT HELP.\r\n",
            ),
            (
                &["OBJECT", "ENCODING"],
                b"-ERR wrong number of arguments for 'object|encoding' command\r\n",
            ),
        ],
    );
    let help = r.cmd_str(&["OBJECT", "HELP"]);
    assert!(help.starts_with(
        "*15\r\n+OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"
    ));
    assert!(help.ends_with("+HELP\r\n+    Prints this help.\r\n"));
}

#[test]
fn idletime_is_only_reset_by_real_accesses() {
    let s = Server::start();
    let mut r = s.raw();
    r.cmd(&["SET", "k", "v"]);
    assert_eq!(int(&mut r, &["OBJECT", "IDLETIME", "k"]), 0);
    thread::sleep(Duration::from_millis(1100));
    // Introspection does not count as an access.
    for args in [
        &["OBJECT", "IDLETIME", "k"][..],
        &["OBJECT", "ENCODING", "k"],
        &["EXISTS", "k"],
        &["TYPE", "k"],
        &["TTL", "k"],
        &["PTTL", "k"],
        &["SCAN", "0"],
        &["KEYS", "*"],
    ] {
        r.cmd(args);
    }
    assert!(int(&mut r, &["OBJECT", "IDLETIME", "k"]) >= 1);
    r.cmd(&["GET", "k"]);
    assert_eq!(int(&mut r, &["OBJECT", "IDLETIME", "k"]), 0);
    r.cmd(&["SET", "t", "v"]);
    thread::sleep(Duration::from_millis(1100));
    assert_eq!(int(&mut r, &["TOUCH", "t"]), 1);
    assert_eq!(int(&mut r, &["OBJECT", "IDLETIME", "t"]), 0);
}

#[test]
fn expire_options_and_errors() {
    let s = Server::start();
    let mut r = s.raw();
    expect(
        &mut r,
        &[
            (&["SET", "k", "v"], b"+OK\r\n"),
            (&["EXPIRE", "nokey", "100"], b":0\r\n"),
            (&["EXPIRE", "k", "100", "XX"], b":0\r\n"),
            (&["EXPIRE", "k", "100", "GT"], b":0\r\n"),
            (&["EXPIRE", "k", "100", "LT"], b":1\r\n"),
            (&["TTL", "k"], b":100\r\n"),
            (&["EXPIRE", "k", "200", "NX"], b":0\r\n"),
            (&["EXPIRE", "k", "50", "GT"], b":0\r\n"),
            (&["EXPIRE", "k", "200", "GT"], b":1\r\n"),
            (&["EXPIRE", "k", "300", "LT"], b":0\r\n"),
            (&["EXPIRE", "k", "150", "LT", "XX"], b":1\r\n"),
            (&["TTL", "k"], b":150\r\n"),
            (&["PERSIST", "k"], b":1\r\n"),
            (&["PERSIST", "k"], b":0\r\n"),
            (&["PERSIST", "nokey"], b":0\r\n"),
            (&["TTL", "k"], b":-1\r\n"),
            (&["EXPIRE", "k", "100", "NX"], b":1\r\n"),
            (
                &["EXPIRE", "k", "100", "NX", "XX"],
                b"-ERR NX and XX, GT or LT options at the same time are not compatible\r\n",
            ),
            (
                &["EXPIRE", "k", "100", "NX", "GT"],
                b"-ERR NX and XX, GT or LT options at the same time are not compatible\r\n",
            ),
            (
                &["EXPIRE", "k", "100", "GT", "LT"],
                b"-ERR GT and LT options at the same time are not compatible\r\n",
            ),
            (
                &["EXPIRE", "k", "100", "FOO"],
                b"-ERR Unsupported option FOO\r\n",
            ),
            // Options are checked before the time.
            (
                &["EXPIRE", "k", "abc", "FOO"],
                b"-ERR Unsupported option FOO\r\n",
            ),
            (
                &["EXPIRE", "k", "abc"],
                b"-ERR value is not an integer or out of range\r\n",
            ),
            (
                &["EXPIRE", "k", "9223372036854775807"],
                b"-ERR invalid expire time in 'expire' command\r\n",
            ),
            (
                &["EXPIRE", "k", "9223372036854774"],
                b"-ERR invalid expire time in 'expire' command\r\n",
            ),
            (
                &["EXPIRE", "k", "-9223372036854775808"],
                b"-ERR invalid expire time in 'expire' command\r\n",
            ),
            (
                &["PEXPIRE", "k", "9223372036854775000"],
                b"-ERR invalid expire time in 'pexpire' command\r\n",
            ),
            (
                &["EXPIREAT", "k", "9223372036854775807"],
                b"-ERR invalid expire time in 'expireat' command\r\n",
            ),
            (&["PEXPIREAT", "k", "9223372036854775807"], b":1\r\n"),
            (&["PEXPIRETIME", "k"], b":9223372036854775807\r\n"),
            (&["EXPIRETIME", "k"], b":9223372036854776\r\n"),
            (&["EXPIREAT", "k", "99999999999"], b":1\r\n"),
            (&["EXPIRETIME", "k"], b":99999999999\r\n"),
            (&["PEXPIRETIME", "k"], b":99999999999000\r\n"),
            (&["PEXPIREAT", "k", "99999999999499"], b":1\r\n"),
            (&["EXPIRETIME", "k"], b":99999999999\r\n"),
            (&["PEXPIREAT", "k", "99999999999500"], b":1\r\n"),
            (&["EXPIRETIME", "k"], b":100000000000\r\n"),
            (
                &["EXPIRE", "k"],
                b"-ERR wrong number of arguments for 'expire' command\r\n",
            ),
        ],
    );
}

#[test]
fn past_expire_times_delete_the_key() {
    let s = Server::start();
    let mut r = s.raw();
    for args in [
        &["EXPIRE", "k", "0"][..],
        &["EXPIRE", "k", "-10"],
        &["PEXPIRE", "k", "-9223372036854775808"],
        &["EXPIREAT", "k", "1"],
        &["PEXPIREAT", "k", "0"],
        &["EXPIRE", "k", "-1", "LT"],
    ] {
        assert_eq!(r.cmd(&["SET", "k", "v"]), b"+OK\r\n");
        assert_eq!(r.cmd(args), b":1\r\n", "{args:?}");
        assert_eq!(r.cmd(&["EXISTS", "k"]), b":0\r\n", "{args:?}");
    }
    // A failed condition leaves the key alone.
    r.cmd(&["SET", "k", "v"]);
    assert_eq!(r.cmd(&["EXPIRE", "k", "-1", "XX"]), b":0\r\n");
    assert_eq!(r.cmd(&["EXPIRE", "k", "-1", "GT"]), b":0\r\n");
    assert_eq!(r.cmd(&["EXISTS", "k"]), b":1\r\n");
}

#[test]
fn ttl_family_replies() {
    let s = Server::start();
    let mut r = s.raw();
    expect(
        &mut r,
        &[
            (&["TTL", "nokey"], b":-2\r\n"),
            (&["PTTL", "nokey"], b":-2\r\n"),
            (&["EXPIRETIME", "nokey"], b":-2\r\n"),
            (&["PEXPIRETIME", "nokey"], b":-2\r\n"),
            (&["SET", "p", "v"], b"+OK\r\n"),
            (&["TTL", "p"], b":-1\r\n"),
            (&["PTTL", "p"], b":-1\r\n"),
            (&["EXPIRETIME", "p"], b":-1\r\n"),
            (&["PEXPIRETIME", "p"], b":-1\r\n"),
            (&["SET", "t", "v", "PX", "1900"], b"+OK\r\n"),
            (&["TTL", "t"], b":2\r\n"),
            (&["SET", "t", "v", "EX", "10"], b"+OK\r\n"),
            (&["TTL", "t"], b":10\r\n"),
        ],
    );
    let pttl = int(&mut r, &["PTTL", "t"]);
    assert!((9000..=10000).contains(&pttl), "pttl {pttl}");
    let at = int(&mut r, &["PEXPIRETIME", "t"]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!(
        (now + 9000..=now + 10000).contains(&at),
        "at {at} now {now}"
    );
    assert_eq!(int(&mut r, &["EXPIRETIME", "t"]), (at + 500) / 1000);
}

#[test]
fn lazy_expiry_hides_expired_keys() {
    let s = Server::start();
    let mut r = s.raw();
    r.cmd(&["SET", "e", "v", "PX", "50"]);
    r.cmd(&["SET", "e2", "v", "PX", "50"]);
    thread::sleep(Duration::from_millis(100));
    expect(
        &mut r,
        &[
            (&["GET", "e"], b"$-1\r\n"),
            (&["EXISTS", "e", "e2"], b":0\r\n"),
            (&["TTL", "e2"], b":-2\r\n"),
            (&["TYPE", "e2"], b"+none\r\n"),
            (&["RENAME", "e2", "x"], b"-ERR no such key\r\n"),
            (&["EXPIRE", "e2", "100"], b":0\r\n"),
            (&["KEYS", "*"], b"*0\r\n"),
        ],
    );
}

#[test]
fn active_expiry_reclaims_unread_keys() {
    let s = Server::start();
    let mut con = s.client();
    let mut pipe = redis::pipe();
    for i in 0..1000 {
        pipe.cmd("SET")
            .arg(format!("tmp:{i}"))
            .arg("v")
            .arg("PX")
            .arg(50)
            .ignore();
    }
    pipe.cmd("SET").arg("keep").arg("v").ignore();
    pipe.query::<()>(&mut con).unwrap();
    let mut r = s.raw();
    // DBSIZE counts expired keys until they are reclaimed, and nothing
    // reads the keys: only the background sweep can bring it down.
    assert!(int(&mut r, &["DBSIZE"]) > 1);
    eventually("active expiry", || int(&mut r, &["DBSIZE"]) == 1);
    expect(&mut r, &[(&["GET", "keep"], b"$1\r\nv\r\n")]);
}

#[test]
fn dbsize_flushdb_flushall() {
    let s = Server::start();
    let mut r = s.raw();
    let mut con = s.client();
    set_many(&mut con, (0..10_000).map(|i| format!("k:{i}")));
    let _: () = redis::cmd("SELECT").arg(3).query(&mut con).unwrap();
    set_many(&mut con, (0..1000).map(|i| format!("k:{i}")));
    expect(
        &mut r,
        &[
            (&["DBSIZE"], b":10000\r\n"),
            (
                &["DBSIZE", "x"],
                b"-ERR wrong number of arguments for 'dbsize' command\r\n",
            ),
            (&["SELECT", "3"], b"+OK\r\n"),
            (&["DBSIZE"], b":1000\r\n"),
            (&["FLUSHDB", "FOO"], b"-ERR syntax error\r\n"),
            (&["FLUSHDB", "ASYNC", "SYNC"], b"-ERR syntax error\r\n"),
            (&["FLUSHDB"], b"+OK\r\n"),
            (&["DBSIZE"], b":0\r\n"),
            (&["SELECT", "0"], b"+OK\r\n"),
            (&["DBSIZE"], b":10000\r\n"),
            (&["FLUSHALL", "FOO"], b"-ERR syntax error\r\n"),
            (&["FLUSHALL", "ASYNC"], b"+OK\r\n"),
            (&["DBSIZE"], b":0\r\n"),
            (&["GET", "k:1"], b"$-1\r\n"),
            // The server keeps working while the old data is freed.
            (&["SET", "k:1", "new"], b"+OK\r\n"),
            (&["GET", "k:1"], b"$3\r\nnew\r\n"),
            (&["FLUSHALL", "sync"], b"+OK\r\n"),
            (&["DBSIZE"], b":0\r\n"),
            (&["SET", "a", "1"], b"+OK\r\n"),
            (&["FLUSHDB", "async"], b"+OK\r\n"),
            (&["DBSIZE"], b":0\r\n"),
        ],
    );
    let n: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(n, 0);
}

#[test]
fn flushall_async_under_concurrent_writes() {
    let s = Server::start();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let mut con = s.client();
        thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                set_many(&mut con, (i..i + 100).map(|n| format!("w:{n}")));
                i += 100;
            }
        })
    };
    let mut r = s.raw();
    for _ in 0..20 {
        assert_eq!(r.cmd(&["FLUSHALL", "ASYNC"]), b"+OK\r\n");
        thread::sleep(Duration::from_millis(5));
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    assert_eq!(r.cmd(&["FLUSHALL"]), b"+OK\r\n");
    assert_eq!(r.cmd(&["DBSIZE"]), b":0\r\n");
}
