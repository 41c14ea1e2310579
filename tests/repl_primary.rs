//! The primary side of replication against a real `redis-server` 7.0
//! replica: full sync of every type, the live stream, partial resync after
//! a dropped link, WAIT, ROLE/INFO, and `redis-cli --rdb`.

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use common::Server;
use redis::Value;

const DEADLINE: Duration = Duration::from_secs(10);

/// Polls `cond` until it holds, failing the test after the deadline.
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + DEADLINE;
    while Instant::now() < end {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

fn info_field(con: &mut redis::Connection, section: &str, field: &str) -> String {
    let info: String = redis::cmd("INFO").arg(section).query(con).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or("")
        .to_string()
}

/// Every key of databases 0-3 with its type, value and absolute expiry.
fn snapshot(con: &mut redis::Connection) -> BTreeMap<(u8, Vec<u8>), (String, String, i64)> {
    let mut all = BTreeMap::new();
    for db in 0..4u8 {
        redis::cmd("SELECT").arg(db).query::<()>(con).unwrap();
        let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(con).unwrap();
        for key in keys {
            let kind: String = redis::cmd("TYPE").arg(&key).query(con).unwrap();
            let value = match kind.as_str() {
                "string" => redis::cmd("GET").arg(&key).query::<Value>(con),
                "list" => redis::cmd("LRANGE").arg(&key).arg(0).arg(-1).query(con),
                "zset" => redis::cmd("ZRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .arg("WITHSCORES")
                    .query(con),
                "hash" => redis::cmd("HGETALL")
                    .arg(&key)
                    .query::<Vec<Vec<u8>>>(con)
                    .map(|flat| {
                        let mut pairs: Vec<_> = flat.chunks(2).map(|p| p.to_vec()).collect();
                        pairs.sort();
                        Value::BulkString(format!("{pairs:?}").into_bytes())
                    }),
                "set" => redis::cmd("SMEMBERS")
                    .arg(&key)
                    .query::<Vec<Vec<u8>>>(con)
                    .map(|mut m| {
                        m.sort();
                        Value::BulkString(format!("{m:?}").into_bytes())
                    }),
                other => panic!("unexpected type {other}"),
            }
            .unwrap();
            let at: i64 = redis::cmd("PEXPIRETIME").arg(&key).query(con).unwrap();
            all.insert((db, key), (kind, format!("{value:?}"), at));
        }
    }
    redis::cmd("SELECT").arg(0).query::<()>(con).unwrap();
    all
}

/// Writes every type in several databases, small and large encodings,
/// with and without TTLs.
fn populate(con: &mut redis::Connection) {
    let q = |con: &mut redis::Connection, args: &[&str]| {
        let mut c = redis::cmd(args[0]);
        for a in &args[1..] {
            c.arg(*a);
        }
        c.query::<Value>(con).unwrap();
    };
    q(con, &["SET", "str", "hello"]);
    q(con, &["SET", "int", "12345"]);
    q(con, &["SET", "bin", "\x00\u{ff}\r\n"]);
    q(con, &["SET", "ttl", "v", "EX", "1000"]);
    q(con, &["RPUSH", "list", "a", "b", "c", "1"]);
    q(con, &["HSET", "hash", "f1", "v1", "f2", "2"]);
    q(con, &["SADD", "intset", "1", "2", "3"]);
    q(con, &["SADD", "set", "x", "y"]);
    q(con, &["ZADD", "zset", "1.5", "a", "-2", "b", "inf", "c"]);
    q(con, &["PEXPIRE", "hash", "5000000"]);
    for i in 0..300 {
        let (i, v) = (i.to_string(), "v".repeat(i % 80));
        q(con, &["RPUSH", "biglist", &v]);
        q(con, &["HSET", "bighash", &i, &v]);
        q(con, &["SADD", "bigset", &v, &i]);
        q(con, &["ZADD", "bigzset", &i, &format!("m{i}")]);
    }
    q(con, &["SELECT", "2"]);
    q(con, &["SET", "other-db", "2"]);
    q(con, &["SADD", "s2", "a"]);
    q(con, &["SELECT", "0"]);
}

fn start_replica(primary: &Server) -> (Server, redis::Connection) {
    let port = primary.port.to_string();
    let replica = Server::start_redis_with(&["--replicaof", "127.0.0.1", &port]);
    let mut rcon = replica.client();
    wait_until("master_link_status:up", || {
        info_field(&mut rcon, "replication", "master_link_status") == "up"
    });
    (replica, rcon)
}

/// Waits until the replica holds exactly the primary's data.
fn assert_same(primary: &mut redis::Connection, replica: &mut redis::Connection) {
    let want = snapshot(primary);
    let mut got = BTreeMap::new();
    let end = Instant::now() + DEADLINE;
    while Instant::now() < end {
        got = snapshot(replica);
        if got == want {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(got, want, "replica differs from the primary");
}

#[test]
fn real_redis_replica_full_sync_stream_and_partial_resync() {
    let primary = Server::start();
    let mut pcon = primary.client();
    populate(&mut pcon);
    let (_replica, mut rcon) = start_replica(&primary);
    assert_same(&mut pcon, &mut rcon);
    assert_eq!(info_field(&mut pcon, "stats", "sync_full"), "1");

    // Live writes of every kind follow.
    let mut raw = primary.raw();
    for cmd in [
        &["INCR", "int"][..],
        &["APPEND", "str", " world"],
        &["LPUSH", "list", "z"],
        &["RPOP", "list"],
        &["HSET", "hash", "f3", "v3"],
        &["HDEL", "hash", "f1"],
        &["SADD", "intset", "9"],
        &["SREM", "set", "x"],
        &["ZINCRBY", "zset", "10", "a"],
        &["EXPIRE", "str", "500"],
        &["PERSIST", "ttl"],
        &["SET", "soon", "gone", "PX", "50"],
        &["SPOP", "bigset", "5"],
        &["SELECT", "3"],
        &["SET", "db3", "x"],
        &["MULTI"],
        &["INCR", "counter"],
        &["LPUSH", "l3", "a", "b"],
        &["EXEC"],
        &["SELECT", "0"],
        &["DEL", "biglist"],
    ] {
        raw.cmd(cmd);
    }
    // The expired key goes away on the replica through the primary's DEL.
    std::thread::sleep(Duration::from_millis(100));
    let _: Value = redis::cmd("GET").arg("soon").query(&mut pcon).unwrap();
    let acked: i64 = redis::cmd("WAIT")
        .arg(1)
        .arg(5000)
        .query(&mut pcon)
        .unwrap();
    assert_eq!(acked, 1);
    assert_same(&mut pcon, &mut rcon);
    let soon: i64 = redis::cmd("EXISTS").arg("soon").query(&mut rcon).unwrap();
    assert_eq!(soon, 0);

    // INFO, ROLE and CLIENT LIST show the replica.
    let port = _replica.port;
    let info: String = redis::cmd("INFO")
        .arg("replication")
        .query(&mut pcon)
        .unwrap();
    assert!(
        info.contains("role:master\r\nconnected_slaves:1\r\n"),
        "{info}"
    );
    assert!(
        info.contains(&format!(
            "slave0:ip=127.0.0.1,port={port},state=online,offset="
        )),
        "{info}"
    );
    assert!(info.contains("repl_backlog_active:1\r\n"), "{info}");
    let offset: u64 = info_field(&mut pcon, "replication", "master_repl_offset")
        .parse()
        .unwrap();
    assert!(offset > 0);
    let role: Value = redis::cmd("ROLE").query(&mut pcon).unwrap();
    let Value::Array(role) = role else {
        panic!("ROLE: {role:?}")
    };
    assert_eq!(role[0], Value::BulkString(b"master".to_vec()));
    assert!(matches!(role[1], Value::Int(n) if n > 0));
    let Value::Array(replicas) = &role[2] else {
        panic!("ROLE replicas: {:?}", role[2])
    };
    assert_eq!(replicas.len(), 1);
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut pcon).unwrap();
    assert!(list.contains(" flags=S "), "{list}");
    // Its acknowledgements every second keep it from looking idle.
    std::thread::sleep(Duration::from_millis(2100));
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .arg("TYPE")
        .arg("replica")
        .query(&mut pcon)
        .unwrap();
    let idle: u64 = list
        .split(' ')
        .find_map(|f| f.strip_prefix("idle="))
        .and_then(|v| v.parse().ok())
        .expect("idle field");
    assert!(idle <= 1 && list.contains(" flags=S "), "{list}");
    assert_eq!(
        info_field(&mut rcon, "replication", "master_repl_offset"),
        info_field(&mut pcon, "replication", "master_repl_offset")
    );

    // A dropped link comes back with a partial resynchronisation.
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("replica")
        .query(&mut pcon)
        .unwrap();
    assert_eq!(killed, 1);
    raw.cmd(&["SET", "after-kill", "1"]);
    raw.cmd(&["HSET", "hash", "f9", "v9"]);
    wait_until("partial resync", || {
        info_field(&mut pcon, "stats", "sync_partial_ok") == "1"
            && info_field(&mut pcon, "replication", "connected_slaves") == "1"
    });
    assert_eq!(info_field(&mut pcon, "stats", "sync_full"), "1");
    assert_same(&mut pcon, &mut rcon);

    // FLUSHALL empties the replica too.
    raw.cmd(&["FLUSHALL"]);
    let acked: i64 = redis::cmd("WAIT")
        .arg(1)
        .arg(5000)
        .query(&mut pcon)
        .unwrap();
    assert_eq!(acked, 1);
    wait_until("empty replica", || {
        redis::cmd("DBSIZE").query::<i64>(&mut rcon).unwrap() == 0
    });
}

#[test]
fn full_sync_with_repl_diskless_sync_no() {
    let primary = Server::start_with(&["--repl-diskless-sync", "no"]);
    let mut pcon = primary.client();
    populate(&mut pcon);
    let (_replica, mut rcon) = start_replica(&primary);
    assert_same(&mut pcon, &mut rcon);
    redis::cmd("SET")
        .arg("live")
        .arg("1")
        .query::<()>(&mut pcon)
        .unwrap();
    assert_same(&mut pcon, &mut rcon);
}

#[test]
fn redis_cli_rdb_loads_into_redis() {
    let primary = Server::start();
    let mut pcon = primary.client();
    populate(&mut pcon);
    let dir = common::scratch_dir("repl-rdb");
    let file = dir.join("synced.rdb");
    let status = Command::new("timeout")
        .arg("10")
        .arg("redis-cli")
        .args(["-p", &primary.port.to_string(), "--rdb"])
        .arg(&file)
        .output()
        .expect("redis-cli");
    assert!(status.status.success(), "{status:?}");
    let loaded =
        Server::start_redis_with(&["--dir", dir.to_str().unwrap(), "--dbfilename", "synced.rdb"]);
    let mut lcon = loaded.client();
    assert_eq!(snapshot(&mut lcon), snapshot(&mut pcon));
}

#[test]
fn replconf_wait_and_role_replies() {
    let s = Server::start();
    let mut raw = s.raw();
    assert_eq!(raw.cmd(&["REPLCONF"]), b"+OK\r\n");
    assert_eq!(
        raw.cmd(&[
            "REPLCONF",
            "listening-port",
            "6380",
            "capa",
            "eof",
            "capa",
            "psync2"
        ]),
        b"+OK\r\n"
    );
    assert_eq!(raw.cmd(&["REPLCONF", "a"]), b"-ERR syntax error\r\n");
    assert_eq!(
        raw.cmd(&["REPLCONF", "foo", "bar"]),
        b"-ERR Unrecognized REPLCONF option: foo\r\n"
    );
    assert_eq!(
        raw.cmd(&["REPLCONF", "listening-port", "x"]),
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        raw.cmd(&["WAIT", "1", "-1"]),
        b"-ERR timeout is negative\r\n"
    );
    assert_eq!(
        raw.cmd(&["WAIT", "1", "1.5"]),
        b"-ERR timeout is not an integer or out of range\r\n"
    );
    assert_eq!(
        raw.cmd(&["WAIT", "x", "1"]),
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(raw.cmd(&["WAIT", "0", "0"]), b":0\r\n");
    let started = Instant::now();
    assert_eq!(raw.cmd(&["WAIT", "1", "100"]), b":0\r\n");
    assert!(started.elapsed() >= Duration::from_millis(100));
    assert_eq!(raw.cmd(&["ROLE"]), b"*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n");
    assert_eq!(
        raw.cmd(&["PSYNC", "?", "x"]),
        b"-ERR value is not an integer or out of range\r\n"
    );
    let mut con = s.client();
    assert_eq!(
        info_field(&mut con, "replication", "repl_backlog_active"),
        "0"
    );
    assert_eq!(
        info_field(&mut con, "replication", "master_repl_offset"),
        "0"
    );
}

#[test]
fn psync_protocol_full_then_continue() {
    let s = Server::start();
    let mut raw = s.raw();
    raw.cmd(&["SET", "k", "v"]);
    let mut link = s.raw();
    link.send(&common::encode(&[b"PSYNC", b"?", b"-1"]));
    let line = link.read_frame();
    let text = String::from_utf8(line).unwrap();
    let parts: Vec<&str> = text.trim_end().split(' ').collect();
    assert_eq!(parts[0], "+FULLRESYNC");
    assert_eq!(parts[1].len(), 40);
    assert_eq!(parts[2], "0");
    let replid = parts[1].to_string();
    // The RDB follows as a bulk without a trailing CRLF, then the stream.
    let mut header = Vec::new();
    while !header.ends_with(b"\r\n") {
        header.extend(link.read_bytes(1));
    }
    let len: usize = std::str::from_utf8(&header[1..header.len() - 2])
        .unwrap()
        .parse()
        .unwrap();
    let rdb = link.read_bytes(len);
    assert!(rdb.starts_with(b"REDIS0010"));
    raw.cmd(&["SET", "k", "w"]);
    let stream = link.read_bytes(
        b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nw\r\n".len(),
    );
    assert_eq!(
        stream,
        b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nw\r\n"
    );
    drop(link);
    // Resume from byte 24 of the stream: the backlog still holds the rest.
    let mut again = s.raw();
    again.cmd(&["REPLCONF", "capa", "psync2"]);
    again.send(&common::encode(&[b"PSYNC", replid.as_bytes(), b"24"]));
    assert_eq!(
        again.read_frame(),
        format!("+CONTINUE {replid}\r\n").into_bytes()
    );
    let rest = again.read_bytes(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nw\r\n".len());
    assert_eq!(rest, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nw\r\n");
    // An unknown history or an offset past the backlog needs a full sync.
    let mut other = s.raw();
    other.send(&common::encode(&[b"PSYNC", replid.as_bytes(), b"9999"]));
    assert!(other.read_frame().starts_with(b"+FULLRESYNC "));
    // A replica speaking garbage loses its link.
    other.send(b"*abc\r\n");
    assert!(other.is_closed());
    let mut con = s.client();
    assert_eq!(info_field(&mut con, "stats", "sync_full"), "2");
    assert_eq!(info_field(&mut con, "stats", "sync_partial_ok"), "1");
    assert_eq!(info_field(&mut con, "stats", "sync_partial_err"), "1");
}

#[test]
fn min_replicas_to_write_refuses_writes_without_good_replicas() {
    let primary = Server::start_with(&["--min-replicas-to-write", "1"]);
    let mut raw = primary.raw();
    assert_eq!(
        raw.cmd(&["SET", "k", "v"]),
        b"-NOREPLICAS Not enough good replicas to write.\r\n"
    );
    assert_eq!(raw.cmd(&["GET", "k"]), b"$-1\r\n");
    assert_eq!(raw.cmd(&["MULTI"]), b"+OK\r\n");
    assert_eq!(
        raw.cmd(&["INCR", "n"]),
        b"-NOREPLICAS Not enough good replicas to write.\r\n"
    );
    assert_eq!(
        raw.cmd(&["EXEC"]),
        b"-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    let (_replica, mut rcon) = start_replica(&primary);
    wait_until("writes accepted", || {
        raw.cmd(&["SET", "k", "v"]) == b"+OK\r\n"
    });
    wait_until("replicated", || {
        redis::cmd("GET")
            .arg("k")
            .query::<Option<String>>(&mut rcon)
            .unwrap()
            == Some("v".into())
    });
    assert_eq!(
        raw.cmd(&["CONFIG", "SET", "min-replicas-to-write", "2"]),
        b"+OK\r\n"
    );
    assert_eq!(
        raw.cmd(&["DEL", "k"]),
        b"-NOREPLICAS Not enough good replicas to write.\r\n"
    );
    assert_eq!(
        raw.cmd(&["CONFIG", "SET", "min-replicas-max-lag", "0"]),
        b"+OK\r\n"
    );
    assert_eq!(raw.cmd(&["DEL", "k"]), b":1\r\n");
}

#[test]
fn backlog_is_freed_after_its_ttl_without_replicas() {
    let s = Server::start();
    let mut raw = s.raw();
    assert_eq!(
        raw.cmd(&["CONFIG", "GET", "repl-backlog-size"]),
        b"*2\r\n$17\r\nrepl-backlog-size\r\n$7\r\n1048576\r\n"
    );
    assert_eq!(
        raw.cmd(&["CONFIG", "SET", "repl-backlog-size", "100"]),
        b"+OK\r\n"
    );
    let mut link = s.raw();
    link.send(&common::encode(&[b"SYNC"]));
    let mut header = Vec::new();
    while !header.ends_with(b"\r\n") {
        header.extend(link.read_bytes(1));
    }
    assert!(header.starts_with(b"$"));
    for i in 0..20 {
        raw.cmd(&["SET", "key", &i.to_string()]);
    }
    let mut con = s.client();
    // The backlog keeps only the newest 100 bytes of the stream.
    assert_eq!(
        info_field(&mut con, "replication", "repl_backlog_size"),
        "100"
    );
    assert_eq!(
        info_field(&mut con, "replication", "repl_backlog_histlen"),
        "100"
    );
    let offset: u64 = info_field(&mut con, "replication", "master_repl_offset")
        .parse()
        .unwrap();
    assert_eq!(
        info_field(&mut con, "replication", "repl_backlog_first_byte_offset"),
        (offset - 99).to_string()
    );
    let replid = info_field(&mut con, "replication", "master_replid");
    drop(link);
    assert_eq!(
        raw.cmd(&["CONFIG", "SET", "repl-backlog-ttl", "1"]),
        b"+OK\r\n"
    );
    wait_until("backlog freed", || {
        info_field(&mut con, "replication", "repl_backlog_active") == "0"
    });
    assert_ne!(info_field(&mut con, "replication", "master_replid"), replid);
    // Writes go on without a replication stream.
    raw.cmd(&["SET", "key", "after"]);
    assert_eq!(
        info_field(&mut con, "replication", "master_repl_offset"),
        offset.to_string()
    );
}

#[test]
fn replica_that_stops_reading_is_dropped_at_its_output_limit() {
    let s = Server::start();
    let mut raw = s.raw();
    assert_eq!(
        raw.cmd(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "replica 1mb 0 0"
        ]),
        b"+OK\r\n"
    );
    // A replica that never reads what it is sent.
    let mut link = s.raw();
    link.send(&common::encode(&[b"SYNC"]));
    let mut con = s.client();
    wait_until("replica attached", || {
        info_field(&mut con, "replication", "connected_slaves") == "1"
    });
    let big = "x".repeat(1 << 20);
    for i in 0..40 {
        raw.cmd(&["SET", &format!("k{i}"), &big]);
        if info_field(&mut con, "replication", "connected_slaves") == "0" {
            break;
        }
    }
    wait_until("replica dropped", || {
        info_field(&mut con, "replication", "connected_slaves") == "0"
    });
    assert!(link.is_closed());
}

#[test]
fn concurrent_writers_reach_two_replicas_identically() {
    let primary = Server::start();
    let mut pcon = primary.client();
    populate(&mut pcon);
    let (_r1, mut r1) = start_replica(&primary);
    let (_r2, mut r2) = start_replica(&primary);
    // Four clients pipeline writes to shared keys of every type at once:
    // the stream must carry them in the order they changed the data.
    let writers: Vec<_> = (0..4)
        .map(|t| {
            let mut con = primary.client();
            std::thread::spawn(move || {
                for round in 0..50 {
                    let mut p = redis::pipe();
                    for i in 0..50 {
                        let n = round * 50 + i;
                        let member = format!("m{}", n % 97);
                        p.cmd("INCR").arg("counter").ignore();
                        p.cmd("APPEND").arg("log").arg(t.to_string()).ignore();
                        p.cmd("RPUSH").arg("list").arg(n).ignore();
                        p.cmd("LPOP").arg("biglist").ignore();
                        p.cmd("HINCRBY")
                            .arg("hash")
                            .arg(&member)
                            .arg(t + 1)
                            .ignore();
                        p.cmd("SADD").arg("bigset").arg(&member).ignore();
                        p.cmd("SREM")
                            .arg("bigset")
                            .arg(format!("m{}", (n + 13) % 97))
                            .ignore();
                        p.cmd("ZINCRBY")
                            .arg("zset")
                            .arg(t + 1)
                            .arg(&member)
                            .ignore();
                        p.cmd("SET").arg(format!("k{}", n % 31)).arg(t).ignore();
                    }
                    p.query::<()>(&mut con).unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let acked: i64 = redis::cmd("WAIT")
        .arg(2)
        .arg(5000)
        .query(&mut pcon)
        .unwrap();
    assert_eq!(acked, 2);
    assert_same(&mut pcon, &mut r1);
    assert_same(&mut pcon, &mut r2);
    let counter: i64 = redis::cmd("GET").arg("counter").query(&mut r1).unwrap();
    assert_eq!(counter, 4 * 50 * 50);
}

#[test]
fn replicas_are_pinged_through_the_stream() {
    let s = Server::start();
    let mut raw = s.raw();
    assert_eq!(
        raw.cmd(&["CONFIG", "SET", "repl-ping-replica-period", "1"]),
        b"+OK\r\n"
    );
    let mut link = s.raw();
    link.send(&common::encode(&[b"PSYNC", b"?", b"-1"]));
    assert!(link.read_frame().starts_with(b"+FULLRESYNC "));
    let mut header = Vec::new();
    while !header.ends_with(b"\r\n") {
        header.extend(link.read_bytes(1));
    }
    let len: usize = std::str::from_utf8(&header[1..header.len() - 2])
        .unwrap()
        .parse()
        .unwrap();
    link.read_bytes(len);
    // PING counts in the offset like any other stream byte.
    assert_eq!(link.read_bytes(14), b"*1\r\n$4\r\nPING\r\n");
    let mut con = s.client();
    let offset: u64 = info_field(&mut con, "replication", "master_repl_offset")
        .parse()
        .unwrap();
    assert!(offset >= 14 && offset.is_multiple_of(14), "{offset}");
    // An acknowledgement shows in INFO.
    link.send(&common::encode(&[b"REPLCONF", b"ACK", b"14"]));
    wait_until("ack", || {
        info_field(&mut con, "replication", "slave0").contains(",offset=14,")
    });
}

#[test]
fn replication_and_the_aof_consume_the_same_writes() {
    let primary = Server::start_with(&["--appendonly", "yes", "--appendfsync", "always"]);
    let mut pcon = primary.client();
    populate(&mut pcon);
    let (_replica, mut rcon) = start_replica(&primary);
    let mut raw = primary.raw();
    for i in 0..100 {
        assert_eq!(raw.cmd(&["SET", &format!("a{i}"), "x"]), b"+OK\r\n");
    }
    raw.cmd(&["SELECT", "1"]);
    raw.cmd(&["RPUSH", "l", "a"]);
    assert_same(&mut pcon, &mut rcon);
    // Turning the AOF off leaves the replication stream running.
    assert_eq!(raw.cmd(&["CONFIG", "SET", "appendonly", "no"]), b"+OK\r\n");
    assert_eq!(raw.cmd(&["RPUSH", "l", "b"]), b":2\r\n");
    assert_eq!(raw.cmd(&["WAIT", "1", "5000"]), b":1\r\n");
    assert_same(&mut pcon, &mut rcon);
}
