//! Streams end to end: blocking XREAD/XREADGROUP wake-up order, timeouts,
//! group destruction under a blocked reader, SCAN TYPE, and a work queue
//! with three consumers where one dies and its entries are reclaimed with
//! XAUTOCLAIM. Every wait is bounded.

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{encode, Raw, Server};
use redis::Value;

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

/// The reply XREAD/XREADGROUP gives for one entry `id` with `a`=`v`.
fn one_entry(key: &str, id: &str, v: &str) -> Vec<u8> {
    format!(
        "*1\r\n*2\r\n${}\r\n{key}\r\n*1\r\n*2\r\n${}\r\n{id}\r\n*2\r\n$1\r\na\r\n${}\r\n{v}\r\n",
        key.len(),
        id.len(),
        v.len()
    )
    .into_bytes()
}

#[test]
fn group_readers_are_served_in_arrival_order() {
    let s = Server::start();
    let (mut a, mut b, mut c) = (s.raw(), s.raw(), s.raw());
    assert_eq!(
        c.cmd(&["XGROUP", "CREATE", "q", "g", "$", "MKSTREAM"]),
        b"+OK\r\n"
    );
    send(
        &mut a,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "ca",
            "COUNT",
            "1",
            "BLOCK",
            "5000",
            "STREAMS",
            "q",
            ">",
        ],
    );
    wait_blocked(&mut c, 1);
    send(
        &mut b,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "cb",
            "COUNT",
            "1",
            "BLOCK",
            "5000",
            "STREAMS",
            "q",
            ">",
        ],
    );
    wait_blocked(&mut c, 2);
    assert_eq!(c.cmd(&["XADD", "q", "1-0", "a", "x"]), b"$3\r\n1-0\r\n");
    assert_eq!(a.read_frame(), one_entry("q", "1-0", "x"));
    // The second reader stays blocked: the first took the only entry.
    wait_blocked(&mut c, 1);
    assert_eq!(c.cmd(&["XADD", "q", "2-0", "a", "y"]), b"$3\r\n2-0\r\n");
    assert_eq!(b.read_frame(), one_entry("q", "2-0", "y"));
    let pending = c.cmd_str(&["XPENDING", "q", "g"]);
    assert!(
        pending.contains("ca") && pending.contains("cb"),
        "{pending}"
    );
}

#[test]
fn xread_waiters_all_see_the_entry_and_future_ids_wait() {
    let s = Server::start();
    let (mut a, mut b, mut c) = (s.raw(), s.raw(), s.raw());
    assert_eq!(c.cmd(&["XADD", "s", "1-0", "a", "0"]), b"$3\r\n1-0\r\n");
    // `a` waits for IDs past 100-0; `b` for anything new ($).
    send(&mut a, &["XREAD", "BLOCK", "5000", "STREAMS", "s", "100-0"]);
    wait_blocked(&mut c, 1);
    send(&mut b, &["XREAD", "BLOCK", "5000", "STREAMS", "s", "$"]);
    wait_blocked(&mut c, 2);
    c.cmd(&["XADD", "s", "50-0", "a", "1"]);
    assert_eq!(b.read_frame(), one_entry("s", "50-0", "1"));
    wait_blocked(&mut c, 1);
    c.cmd(&["XADD", "s", "101-0", "a", "2"]);
    assert_eq!(a.read_frame(), one_entry("s", "101-0", "2"));
    assert_eq!(blocked_clients(&mut c), 0);
}

#[test]
fn timeouts_answer_null_in_both_protocols() {
    let s = Server::start();
    let mut a = s.raw();
    let started = Instant::now();
    assert_eq!(
        a.cmd(&["XREAD", "BLOCK", "100", "STREAMS", "s", "$"]),
        b"*-1\r\n"
    );
    assert!(started.elapsed() >= Duration::from_millis(90));
    a.cmd(&["HELLO", "3"]);
    assert_eq!(
        a.cmd(&["XREAD", "BLOCK", "50", "STREAMS", "s", "0"]),
        b"_\r\n"
    );
    a.cmd(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
    assert_eq!(
        a.cmd(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "BLOCK",
            "50",
            "STREAMS",
            "s",
            ">"
        ]),
        b"_\r\n"
    );
    // RESP3 replies are maps keyed by stream.
    a.cmd(&["XADD", "s", "1-0", "a", "v"]);
    assert_eq!(
        a.cmd(&["XREAD", "STREAMS", "s", "0"]),
        b"%1\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\na\r\n$1\r\nv\r\n"
    );
}

#[test]
fn destroying_the_group_fails_its_blocked_readers() {
    let s = Server::start();
    let (mut a, mut c) = (s.raw(), s.raw());
    c.cmd(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
    send(
        &mut a,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "BLOCK",
            "5000",
            "STREAMS",
            "s",
            ">",
        ],
    );
    wait_blocked(&mut c, 1);
    assert_eq!(c.cmd(&["XGROUP", "DESTROY", "s", "g"]), b":1\r\n");
    assert_eq!(
        a.read_frame(),
        b"-NOGROUP the consumer group this client was blocked on no longer exists\r\n"
    );
    assert_eq!(blocked_clients(&mut c), 0);
}

#[test]
fn scan_type_and_generic_commands_know_streams() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd(&["XADD", "st", "1-0", "a", "1"]);
    c.cmd(&["SET", "str", "x"]);
    assert_eq!(c.cmd(&["TYPE", "st"]), b"+stream\r\n");
    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "st"]), b"$6\r\nstream\r\n");
    assert_eq!(
        c.cmd(&["SCAN", "0", "TYPE", "stream"]),
        b"*2\r\n$1\r\n0\r\n*1\r\n$2\r\nst\r\n"
    );
    assert_eq!(c.cmd(&["COPY", "st", "st2"]), b":1\r\n");
    assert_eq!(c.cmd(&["XLEN", "st2"]), b":1\r\n");
    assert_eq!(
        c.cmd(&["SORT", "st"]),
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
}

/// IDs of the entries in an XREADGROUP/XAUTOCLAIM entries array.
fn entry_ids(entries: &Value) -> Vec<String> {
    let Value::Array(items) = entries else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|e| match e {
            Value::Array(pair) => match pair.first() {
                Some(Value::BulkString(id)) => Some(String::from_utf8_lossy(id).into_owned()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// IDs from an XREADGROUP reply (`nil` or `[[key, entries]]`).
fn read_ids(reply: &Value) -> Vec<String> {
    match reply {
        Value::Array(keys) => keys
            .iter()
            .flat_map(|k| match k {
                Value::Array(kv) if kv.len() == 2 => entry_ids(&kv[1]),
                _ => Vec::new(),
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[test]
fn work_queue_with_a_dead_consumer_processes_every_entry_once() {
    const ENTRIES: usize = 60;
    let s = Server::start();
    let mut admin = s.client();
    redis::cmd("XGROUP")
        .arg(&["CREATE", "jobs", "workers", "$", "MKSTREAM"])
        .query::<()>(&mut admin)
        .unwrap();
    let done: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut workers = Vec::new();
    let mut probe = s.raw();
    // Carol blocks first, so arrival order hands her the first entry.
    for (n, name) in ["carol", "alice", "bob"].into_iter().enumerate() {
        let mut con = s.client();
        let done = done.clone();
        workers.push(std::thread::spawn(move || {
            loop {
                let reply: Value = redis::cmd("XREADGROUP")
                    .arg(&[
                        "GROUP", "workers", name, "COUNT", "2", "BLOCK", "700", "STREAMS", "jobs",
                        ">",
                    ])
                    .query(&mut con)
                    .unwrap();
                let ids = read_ids(&reply);
                if ids.is_empty() {
                    return;
                }
                if name == "carol" {
                    // Carol crashes holding entries she never acknowledged.
                    return;
                }
                for id in ids {
                    let acked: i64 = redis::cmd("XACK")
                        .arg("jobs")
                        .arg("workers")
                        .arg(&id)
                        .query(&mut con)
                        .unwrap();
                    assert_eq!(acked, 1, "{name} acked {id}");
                    done.lock().unwrap().push(id);
                }
            }
        }));
        wait_blocked(&mut probe, n + 1);
    }
    let mut all = BTreeSet::new();
    for i in 1..=ENTRIES {
        let id: String = redis::cmd("XADD")
            .arg("jobs")
            .arg("*")
            .arg("n")
            .arg(i)
            .query(&mut admin)
            .unwrap();
        all.insert(id);
        if i % 10 == 0 {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    for w in workers {
        w.join().unwrap();
    }
    // Bob reclaims whatever carol left behind, in pages.
    let before = done.lock().unwrap().len();
    let mut cursor = "0-0".to_string();
    loop {
        let reply: Value = redis::cmd("XAUTOCLAIM")
            .arg(&["jobs", "workers", "bob", "0", &cursor, "COUNT", "3"])
            .query(&mut admin)
            .unwrap();
        let Value::Array(parts) = reply else {
            panic!("XAUTOCLAIM reply {reply:?}");
        };
        for id in entry_ids(&parts[1]) {
            let acked: i64 = redis::cmd("XACK")
                .arg("jobs")
                .arg("workers")
                .arg(&id)
                .query(&mut admin)
                .unwrap();
            assert_eq!(acked, 1);
            done.lock().unwrap().push(id);
        }
        cursor = match &parts[0] {
            Value::BulkString(c) => String::from_utf8_lossy(c).into_owned(),
            other => panic!("cursor {other:?}"),
        };
        if cursor == "0-0" {
            break;
        }
    }
    let done = done.lock().unwrap();
    assert!(done.len() > before, "carol's entries were reclaimed");
    let unique: BTreeSet<String> = done.iter().cloned().collect();
    assert_eq!(unique.len(), done.len(), "an entry was processed twice");
    assert_eq!(unique, all, "every entry processed");
    let pending: Value = redis::cmd("XPENDING")
        .arg("jobs")
        .arg("workers")
        .query(&mut admin)
        .unwrap();
    let Value::Array(summary) = pending else {
        panic!("{pending:?}");
    };
    assert_eq!(summary[0], Value::Int(0));
    // Everything was delivered: the group's lag is zero.
    let groups: Vec<Vec<Value>> = redis::cmd("XINFO")
        .arg("GROUPS")
        .arg("jobs")
        .query(&mut admin)
        .unwrap();
    let fields = &groups[0];
    let lag_at = fields
        .iter()
        .position(|v| *v == Value::BulkString(b"lag".to_vec()))
        .expect("lag field");
    assert_eq!(fields[lag_at + 1], Value::Int(0));
}

/// Replaces every integer that looks like a Unix time in ms (and idle
/// times, which follow the clock) so two servers' replies compare.
fn mask_times(reply: &[u8]) -> String {
    let text = String::from_utf8_lossy(reply);
    text.split("\r\n")
        .map(|line| match line.strip_prefix(':') {
            Some(n) if n.parse::<i64>().is_ok_and(|v| v > 1_000_000_000_000) => ":<time>",
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

#[test]
fn xinfo_full_has_redis_shape() {
    let ours = Server::start();
    let redis = Server::start_redis();
    let script: &[&[&str]] = &[
        &["XADD", "s", "1-0", "a", "1"],
        &["XADD", "s", "2-0", "a", "2", "b", "3"],
        &["XADD", "s", "3-0", "a", "3"],
        &["XGROUP", "CREATE", "s", "g", "0"],
        &["XGROUP", "CREATE", "s", "empty", "$"],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c1",
            "COUNT",
            "2",
            "STREAMS",
            "s",
            ">",
        ],
        &[
            "XCLAIM",
            "s",
            "g",
            "c2",
            "0",
            "2-0",
            "TIME",
            "1000",
            "RETRYCOUNT",
            "5",
        ],
        &["XDEL", "s", "3-0"],
        &["XINFO", "STREAM", "s", "FULL"],
        &["XINFO", "STREAM", "s", "FULL", "COUNT", "1"],
        &["XINFO", "STREAM", "s", "FULL", "COUNT", "0"],
        &["HELLO", "3"],
        &["XINFO", "STREAM", "s", "FULL"],
    ];
    let (mut a, mut b) = (ours.raw(), redis.raw());
    for cmd in script {
        if cmd[0] == "HELLO" {
            a.cmd(cmd);
            b.cmd(cmd);
            continue;
        }
        let (x, y) = (a.cmd(cmd), b.cmd(cmd));
        assert_eq!(mask_times(&x), mask_times(&y), "{cmd:?}");
    }
}

#[test]
fn xpending_rows_report_owner_idle_and_deliveries() {
    let s = Server::start();
    let mut c = s.client();
    for id in ["1-0", "2-0", "3-0"] {
        redis::cmd("XADD")
            .arg(&["q", id, "a", "1"])
            .query::<String>(&mut c)
            .unwrap();
    }
    redis::cmd("XGROUP")
        .arg(&["CREATE", "q", "g", "0"])
        .query::<()>(&mut c)
        .unwrap();
    redis::cmd("XREADGROUP")
        .arg(&["GROUP", "g", "c1", "STREAMS", "q", ">"])
        .query::<Value>(&mut c)
        .unwrap();
    redis::cmd("XCLAIM")
        .arg(&[
            "q",
            "g",
            "c2",
            "0",
            "2-0",
            "IDLE",
            "5000",
            "RETRYCOUNT",
            "4",
        ])
        .query::<Value>(&mut c)
        .unwrap();
    let rows: Vec<(String, String, i64, i64)> = redis::cmd("XPENDING")
        .arg(&["q", "g", "-", "+", "10"])
        .query(&mut c)
        .unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(
        (rows[0].0.as_str(), rows[0].1.as_str(), rows[0].3),
        ("1-0", "c1", 1)
    );
    assert_eq!(
        (rows[1].0.as_str(), rows[1].1.as_str(), rows[1].3),
        ("2-0", "c2", 4)
    );
    assert!(rows[0].2 >= 0 && rows[0].2 < 5000, "{rows:?}");
    assert!(rows[1].2 >= 5000 && rows[1].2 < 10000, "{rows:?}");
    let idle: Vec<(String, String, i64, i64)> = redis::cmd("XPENDING")
        .arg(&["q", "g", "IDLE", "4000", "-", "+", "10"])
        .query(&mut c)
        .unwrap();
    assert_eq!(idle.len(), 1);
    assert_eq!(idle[0].0, "2-0");
    // History reads count as deliveries too.
    redis::cmd("XREADGROUP")
        .arg(&["GROUP", "g", "c1", "STREAMS", "q", "0"])
        .query::<Value>(&mut c)
        .unwrap();
    let rows: Vec<(String, String, i64, i64)> = redis::cmd("XPENDING")
        .arg(&["q", "g", "-", "+", "10", "c1"])
        .query(&mut c)
        .unwrap();
    let counts: Vec<i64> = rows.iter().map(|r| r.3).collect();
    assert_eq!(counts, vec![2, 2]);
}

#[test]
fn deleting_or_replacing_the_stream_fails_group_readers_only() {
    let s = Server::start();
    let (mut a, mut b, mut c) = (s.raw(), s.raw(), s.raw());
    c.cmd(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
    send(
        &mut a,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "BLOCK",
            "5000",
            "STREAMS",
            "s",
            ">",
        ],
    );
    wait_blocked(&mut c, 1);
    send(&mut b, &["XREAD", "BLOCK", "5000", "STREAMS", "s", "$"]);
    wait_blocked(&mut c, 2);
    assert_eq!(c.cmd(&["DEL", "s"]), b":1\r\n");
    assert_eq!(
        a.read_frame(),
        b"-UNBLOCKED the stream key no longer exists\r\n"
    );
    // A plain reader keeps waiting, and is served by a new stream.
    wait_blocked(&mut c, 1);
    c.cmd(&["XADD", "s", "1-0", "a", "v"]);
    assert_eq!(b.read_frame(), one_entry("s", "1-0", "v"));
    // Overwriting the key with another type fails group readers too.
    c.cmd(&["XGROUP", "CREATE", "s", "g", "$"]);
    send(
        &mut a,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "BLOCK",
            "5000",
            "STREAMS",
            "s",
            ">",
        ],
    );
    wait_blocked(&mut c, 1);
    assert_eq!(c.cmd(&["SET", "s", "x"]), b"+OK\r\n");
    assert_eq!(
        a.read_frame(),
        b"-UNBLOCKED the stream key no longer exists\r\n"
    );
    assert_eq!(blocked_clients(&mut c), 0);
}

#[test]
fn approximate_trim_without_limit_is_clamped_like_redis() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd(&["CONFIG", "SET", "stream-node-max-entries", "0"]);
    // 60-byte nodes hold one entry each, so whole-node trimming is exact
    // and only the implicit limit (10000 when max-entries is 0) stops it.
    c.cmd(&["CONFIG", "SET", "stream-node-max-bytes", "60"]);
    let mut batch = Vec::new();
    for i in 1..=10_300 {
        let id = format!("{i}-0");
        batch.extend(encode(&[b"XADD", b"s", id.as_bytes(), b"f", b"v"]));
    }
    c.send(&batch);
    for _ in 0..10_300 {
        c.read_frame();
    }
    assert_eq!(c.cmd(&["XTRIM", "s", "MAXLEN", "~", "0"]), b":10000\r\n");
    assert_eq!(c.cmd(&["XLEN", "s"]), b":300\r\n");
    assert_eq!(
        c.cmd(&["XTRIM", "s", "MAXLEN", "~", "0", "LIMIT", "0"]),
        b":300\r\n"
    );
}

#[test]
fn flush_and_swapdb_re_offer_blocked_keys() {
    let s = Server::start();
    let (mut a, mut c) = (s.raw(), s.raw());
    c.cmd(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
    send(
        &mut a,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "BLOCK",
            "5000",
            "STREAMS",
            "s",
            ">",
        ],
    );
    wait_blocked(&mut c, 1);
    assert_eq!(c.cmd(&["FLUSHALL"]), b"+OK\r\n");
    assert_eq!(
        a.read_frame(),
        b"-UNBLOCKED the stream key no longer exists\r\n"
    );
    // A list waiter is served by a list that SWAPDB brings in.
    c.cmd(&["SELECT", "1"]);
    c.cmd(&["RPUSH", "k", "x"]);
    send(&mut a, &["BLPOP", "k", "5"]);
    wait_blocked(&mut c, 1);
    assert_eq!(c.cmd(&["SWAPDB", "0", "1"]), b"+OK\r\n");
    assert_eq!(a.read_frame(), b"*2\r\n$1\r\nk\r\n$1\r\nx\r\n");
}

/// Whether `other` run by a second client between WATCH and EXEC aborts
/// the transaction.
fn aborts_watch(s: &Server, other: &[&str]) -> bool {
    let (mut a, mut b) = (s.raw(), s.raw());
    b.cmd(&["FLUSHALL"]);
    b.cmd(&["XADD", "s", "1-0", "a", "1"]);
    b.cmd(&["XADD", "s", "2-0", "a", "2"]);
    b.cmd(&["XGROUP", "CREATE", "s", "g", "0"]);
    b.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "COUNT",
        "1",
        "STREAMS",
        "s",
        ">",
    ]);
    a.cmd(&["WATCH", "s"]);
    b.cmd(other);
    a.cmd(&["MULTI"]);
    a.cmd(&["PING"]);
    a.cmd(&["EXEC"]) == b"*-1\r\n"
}

#[test]
fn only_entry_changes_invalidate_watch_as_in_redis() {
    let s = Server::start();
    // Redis 7.0 signals a modified key for entry changes only; group
    // bookkeeping and XSETID leave WATCH alone.
    for (cmd, aborts) in [
        (&["XADD", "s", "9-0", "a", "1"][..], true),
        (&["XDEL", "s", "1-0"][..], true),
        (&["XTRIM", "s", "MAXLEN", "0"][..], true),
        (&["XACK", "s", "g", "1-0"][..], false),
        (
            &["XREADGROUP", "GROUP", "g", "c2", "STREAMS", "s", "0"][..],
            false,
        ),
        (
            &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"][..],
            false,
        ),
        (&["XCLAIM", "s", "g", "c3", "0", "1-0"][..], false),
        (&["XAUTOCLAIM", "s", "g", "c4", "0", "0"][..], false),
        (&["XGROUP", "CREATECONSUMER", "s", "g", "z"][..], false),
        (&["XGROUP", "DELCONSUMER", "s", "g", "c"][..], false),
        (&["XGROUP", "SETID", "s", "g", "0"][..], false),
        (&["XGROUP", "CREATE", "s", "g2", "0"][..], false),
        (&["XGROUP", "DESTROY", "s", "g"][..], false),
        (&["XSETID", "s", "5-0"][..], false),
    ] {
        assert_eq!(aborts_watch(&s, cmd), aborts, "{cmd:?}");
    }
}

/// Sends `cmds` pipelined and reads every reply.
fn pipeline(c: &mut Raw, cmds: &[Vec<String>]) {
    let mut batch = Vec::new();
    for cmd in cmds {
        let args: Vec<&[u8]> = cmd.iter().map(|a| a.as_bytes()).collect();
        batch.extend(encode(&args));
    }
    c.send(&batch);
    for _ in cmds {
        c.read_frame();
    }
}

#[test]
fn node_layout_and_radix_tree_counts_match_redis() {
    let ours = Server::start();
    let redis = Server::start_redis();
    // IDs shaped like real ones (clock jumps, same-ms runs) in small nodes,
    // then whole-node trimming and deletes that empty some nodes.
    let mut ids = Vec::new();
    let mut ms: u64 = 1_700_000_000_000;
    for i in 0..3000u64 {
        ms += [0, 0, 1, 3, 250, 70_000][(i * 7 % 6) as usize];
        ids.push(format!("{ms}-{i}"));
    }
    let mut cmds = vec![vec![
        "CONFIG".to_string(),
        "SET".into(),
        "stream-node-max-entries".into(),
        "7".into(),
    ]];
    for id in &ids {
        cmds.push(vec![
            "XADD".into(),
            "s".into(),
            id.clone(),
            "f".into(),
            "v".into(),
        ]);
    }
    cmds.push(vec![
        "XTRIM".into(),
        "s".into(),
        "MAXLEN".into(),
        "~".into(),
        "2000".into(),
    ]);
    for chunk in ids[1200..1700].chunks(50) {
        let mut del = vec!["XDEL".to_string(), "s".into()];
        del.extend(chunk.iter().cloned());
        cmds.push(del);
    }
    for (i, id) in ids[1700..].iter().enumerate() {
        if i % 3 == 0 {
            cmds.push(vec!["XDEL".into(), "s".into(), id.clone()]);
        }
    }
    let (mut a, mut b) = (ours.raw(), redis.raw());
    pipeline(&mut a, &cmds);
    pipeline(&mut b, &cmds);
    assert_eq!(
        a.cmd(&["XINFO", "STREAM", "s"]),
        b.cmd(&["XINFO", "STREAM", "s"])
    );
}
