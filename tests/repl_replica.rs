//! ferrokv as a replica of a real redis-server 7.0: full sync (diskless
//! and disk-based RDB transfer) with every type and encoding, the live
//! command stream, read-only refusals, partial resync after the primary
//! drops the link, promotion and switching primaries at run time.

mod common;
mod rdb_common;

use std::time::{Duration, Instant};

use common::{Server, TIMEOUT};
use rdb_common::{assert_same, populate, server_snapshot, Snapshot};

/// Databases the comparisons look at (the fixture and tests use 0..=3).
const DBS: usize = 4;

/// A real redis-server primary that starts a sync at once; `diskless`
/// picks the `$EOF:` transfer form, otherwise `$<len>`.
fn primary(diskless: bool) -> Server {
    let p = Server::start_redis();
    let mut raw = p.raw();
    let yes_no = if diskless { "yes" } else { "no" };
    assert_eq!(
        raw.cmd(&["CONFIG", "SET", "repl-diskless-sync", yes_no]),
        b"+OK\r\n"
    );
    assert_eq!(
        raw.cmd(&["CONFIG", "SET", "repl-diskless-sync-delay", "0"]),
        b"+OK\r\n"
    );
    p
}

fn replica_of(p: &Server) -> Server {
    Server::start_with(&["--replicaof", &format!("127.0.0.1 {}", p.port)])
}

/// Polls `f` until it returns true, for at most [`TIMEOUT`].
fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

fn info_field(raw: &mut common::Raw, section: &str, field: &str) -> String {
    let info = raw.cmd_str(&["INFO", section]);
    let prefix = format!("{field}:");
    info.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {field} in {info}"))
        .to_string()
}

fn link_up(r: &Server) -> bool {
    info_field(&mut r.raw(), "replication", "master_link_status") == "up"
}

/// Waits until the replica's data equals the primary's.
fn wait_same(p: &Server, r: &Server) -> Snapshot {
    let (mut pc, mut rc) = (p.client(), r.client());
    let want = server_snapshot(&mut pc, DBS);
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let got = server_snapshot(&mut rc, DBS);
        if got == want {
            return got;
        }
        if Instant::now() >= deadline {
            assert_same(&want, &got);
            panic!("snapshots differ");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn full_sync_brings_everything(diskless: bool) {
    let p = primary(diskless);
    populate(&mut p.client());
    let r = replica_of(&p);
    wait_for("the link", || link_up(&r));
    let snap = wait_same(&p, &r);
    assert!(snap.len() > 20, "the fixture has every type");
    assert!(snap.values().any(|v| v.2 > 0), "the fixture has TTLs");
    let mut raw = p.raw();
    assert_eq!(info_field(&mut raw, "stats", "sync_full"), "1");
    // The received RDB became our snapshot file, no temporary file left.
    let files: Vec<String> = std::fs::read_dir(&r.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files, ["dump.rdb"]);
}

#[test]
fn full_sync_diskless_brings_every_type_encoding_and_ttl() {
    full_sync_brings_everything(true);
}

#[test]
fn full_sync_disk_based_brings_every_type_encoding_and_ttl() {
    full_sync_brings_everything(false);
}

#[test]
fn live_writes_of_every_kind_are_applied() {
    let p = primary(true);
    let r = replica_of(&p);
    wait_for("the link", || link_up(&r));
    let mut w = p.raw();
    let writes: &[&[&str]] = &[
        &["SET", "s", "v"],
        &["SET", "n", "10"],
        &["INCRBY", "n", "5"],
        &["APPEND", "s", "w"],
        &["SET", "ttl", "x", "EX", "1000"],
        &["EXPIRE", "s", "500"],
        &["RPUSH", "l", "a", "b", "c"],
        &["LPOP", "l"],
        &["HSET", "h", "f", "1", "g", "2"],
        &["HINCRBYFLOAT", "h", "f", "1.5"],
        &["SADD", "set", "1", "2", "x"],
        &["SPOP", "set"],
        &["ZADD", "z", "1", "a", "2", "b"],
        &["ZINCRBY", "z", "5", "a"],
        &["SET", "gone", "1"],
        &["DEL", "gone"],
        &["SELECT", "2"],
        &["SET", "in2", "yes"],
        &["SELECT", "0"],
    ];
    for cmd in writes {
        let reply = w.cmd(cmd);
        assert!(!reply.starts_with(b"-"), "{cmd:?}: {reply:?}");
    }
    // Big values cross the compact encodings on the replica too.
    for i in 0..300 {
        w.cmd(&["HSET", "bigh", &format!("f{i}"), &"v".repeat(i % 90)]);
        w.cmd(&["ZADD", "bigz", &i.to_string(), &format!("m{i}")]);
    }
    assert_eq!(w.cmd(&["MULTI"]), b"+OK\r\n");
    w.cmd(&["SET", "tx1", "a"]);
    w.cmd(&["INCR", "tx2"]);
    w.cmd(&["LPUSH", "l", "tx"]);
    assert_eq!(w.cmd(&["EXEC"]), b"*3\r\n+OK\r\n:1\r\n:3\r\n");
    w.cmd(&[
        "EVAL",
        "redis.call('SET', KEYS[1], ARGV[1]); redis.call('RPUSH', KEYS[2], ARGV[1]); return 1",
        "2",
        "lua1",
        "lua2",
        "fromlua",
    ]);
    wait_same(&p, &r);
    let mut rr = r.raw();
    assert_eq!(rr.cmd(&["GET", "lua1"]), b"$7\r\nfromlua\r\n");
    assert_eq!(rr.cmd(&["SELECT", "2"]), b"+OK\r\n");
    assert_eq!(rr.cmd(&["GET", "in2"]), b"$3\r\nyes\r\n");

    assert_eq!(w.cmd(&["FLUSHALL"]), b"+OK\r\n");
    wait_for("the flush", || rr.cmd(&["DBSIZE"]) == b":0\r\n");
    assert_eq!(rr.cmd(&["SELECT", "0"]), b"+OK\r\n");
    assert_eq!(rr.cmd(&["DBSIZE"]), b":0\r\n");

    // The replica acknowledges what it applied: the primary sees the same
    // offset for it as its own.
    w.cmd(&["SET", "last", "1"]);
    let own = info_field(&mut w, "replication", "master_repl_offset");
    wait_for("the acknowledged offset", || {
        info_field(&mut w, "replication", "slave0").contains(&format!("offset={own},"))
    });
    assert_eq!(
        info_field(&mut rr, "replication", "master_repl_offset"),
        own
    );
}

#[test]
fn a_read_only_replica_refuses_writes_from_its_clients() {
    let p = primary(true);
    let r = replica_of(&p);
    wait_for("the link", || link_up(&r));
    let mut rr = r.raw();
    assert_eq!(
        rr.cmd(&["CONFIG", "SET", "replica-priority", "7"]),
        b"+OK\r\n"
    );
    assert_eq!(info_field(&mut rr, "replication", "slave_priority"), "7");
    assert_eq!(info_field(&mut rr, "replication", "slave_read_only"), "1");
    let readonly = b"-READONLY You can't write against a read only replica.\r\n";
    assert_eq!(rr.cmd(&["SET", "a", "b"]), readonly);
    assert_eq!(rr.cmd(&["DEL", "a"]), readonly);
    assert_eq!(rr.cmd(&["GET", "a"]), b"$-1\r\n");
    // Refused while queuing, so the transaction aborts.
    assert_eq!(rr.cmd(&["MULTI"]), b"+OK\r\n");
    assert_eq!(rr.cmd(&["SET", "a", "b"]), readonly);
    assert_eq!(
        rr.cmd(&["EXEC"]),
        b"-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    assert_eq!(
        rr.cmd(&["CONFIG", "SET", "replica-read-only", "no"]),
        b"+OK\r\n"
    );
    assert_eq!(rr.cmd(&["SET", "a", "b"]), b"+OK\r\n");
}

#[test]
fn stale_data_is_refused_while_the_link_is_down_when_asked() {
    let p = primary(true);
    let r = Server::start_with(&["--replicaof", &format!("127.0.0.1 {}", common::free_port())]);
    let mut rr = r.raw();
    // Set after start-up: the harness's readiness PING would be refused.
    assert_eq!(
        rr.cmd(&["CONFIG", "SET", "replica-serve-stale-data", "no"]),
        b"+OK\r\n"
    );
    assert_eq!(
        rr.cmd(&["GET", "a"]),
        b"-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n"
    );
    assert_eq!(
        rr.cmd(&["PING"]),
        b"-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n"
    );
    // Commands flagged stale (SELECT, INFO, REPLICAOF…) still run.
    assert_eq!(rr.cmd(&["SELECT", "0"]), b"+OK\r\n");
    assert_eq!(
        rr.cmd(&["REPLICAOF", "127.0.0.1", &p.port.to_string()]),
        b"+OK\r\n"
    );
    wait_for("the link", || link_up(&r));
    assert_eq!(rr.cmd(&["GET", "a"]), b"$-1\r\n");
}

#[test]
fn a_dropped_link_resumes_with_a_partial_resync() {
    let p = primary(true);
    let r = replica_of(&p);
    wait_for("the link", || link_up(&r));
    let mut w = p.raw();
    w.cmd(&["SET", "before", "1"]);
    wait_for("before", || {
        r.raw().cmd(&["GET", "before"]) == b"$1\r\n1\r\n"
    });
    assert_eq!(info_field(&mut w, "stats", "sync_partial_ok"), "0");
    assert_eq!(w.cmd(&["CLIENT", "KILL", "TYPE", "replica"]), b":1\r\n");
    w.cmd(&["SET", "during", "2"]);
    w.cmd(&["RPUSH", "l", "x"]);
    wait_for("the partial resync", || {
        info_field(&mut w, "stats", "sync_partial_ok") == "1"
    });
    assert_eq!(info_field(&mut w, "stats", "sync_full"), "1");
    wait_same(&p, &r);
    let mut rr = r.raw();
    assert_eq!(rr.cmd(&["GET", "during"]), b"$1\r\n2\r\n");
    let down = info_field(&mut rr, "replication", "master_link_status");
    assert_eq!(down, "up");

    // Killing the primary's client on the replica side does the same.
    let list = rr.cmd_str(&["CLIENT", "LIST"]);
    let primary_addr = format!("addr=127.0.0.1:{} ", p.port);
    let line = list
        .lines()
        .find(|l| l.contains(&primary_addr))
        .unwrap_or_else(|| panic!("no client for the primary in {list}"));
    assert!(line.contains(" flags=M "), "{line}");
    let id = Some(line)
        .and_then(|l| l.strip_prefix("id="))
        .and_then(|l| l.split(' ').next())
        .unwrap_or_else(|| panic!("no client for the primary in {list}"))
        .to_string();
    assert_eq!(rr.cmd(&["CLIENT", "KILL", "ID", &id]), b":1\r\n");
    w.cmd(&["SET", "after_kill", "3"]);
    wait_for("the second partial resync", || {
        info_field(&mut w, "stats", "sync_partial_ok") == "2"
    });
    wait_for("after_kill", || {
        rr.cmd(&["GET", "after_kill"]) == b"$1\r\n3\r\n"
    });
    assert_eq!(info_field(&mut w, "stats", "sync_full"), "1");
}

#[test]
fn replicaof_no_one_promotes_and_keeps_the_data() {
    let p = primary(true);
    let r = replica_of(&p);
    wait_for("the link", || link_up(&r));
    let mut w = p.raw();
    w.cmd(&["SET", "k", "v"]);
    let mut rr = r.raw();
    wait_for("k", || rr.cmd(&["GET", "k"]) == b"$1\r\nv\r\n");
    let replid = info_field(&mut rr, "replication", "master_replid");
    let offset: i64 = info_field(&mut rr, "replication", "master_repl_offset")
        .parse()
        .unwrap();
    assert_eq!(
        replid,
        info_field(&mut w, "replication", "master_replid"),
        "a replica takes its primary's history"
    );
    let role = rr.cmd(&["ROLE"]);
    let want = format!(
        "*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:{}\r\n$9\r\nconnected\r\n:{offset}\r\n",
        p.port
    );
    assert_eq!(String::from_utf8_lossy(&role), want);

    assert_eq!(rr.cmd(&["REPLICAOF", "NO", "ONE"]), b"+OK\r\n");
    assert_eq!(info_field(&mut rr, "replication", "role"), "master");
    assert_eq!(info_field(&mut rr, "replication", "master_replid2"), replid);
    assert_ne!(info_field(&mut rr, "replication", "master_replid"), replid);
    assert_eq!(
        info_field(&mut rr, "replication", "second_repl_offset"),
        (offset + 1).to_string()
    );
    assert_eq!(rr.cmd(&["GET", "k"]), b"$1\r\nv\r\n");
    assert_eq!(rr.cmd(&["SET", "k", "mine"]), b"+OK\r\n");
    // No longer following: the old primary's writes stay there.
    w.cmd(&["SET", "after", "1"]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(rr.cmd(&["GET", "after"]), b"$-1\r\n");
    assert_eq!(
        rr.cmd(&["ROLE"]),
        format!("*3\r\n$6\r\nmaster\r\n:{offset}\r\n*0\r\n").as_bytes()
    );
}

#[test]
fn replicaof_switches_primaries_at_run_time() {
    let p1 = primary(true);
    let p2 = primary(false);
    p1.raw().cmd(&["SET", "from", "p1"]);
    p2.raw().cmd(&["SET", "from", "p2"]);
    p2.raw().cmd(&["SADD", "only2", "a"]);
    let r = replica_of(&p1);
    let mut rr = r.raw();
    wait_for("p1's data", || rr.cmd(&["GET", "from"]) == b"$2\r\np1\r\n");
    // A transaction watching a key the new primary's data replaces fails.
    let mut watcher = r.raw();
    assert_eq!(watcher.cmd(&["WATCH", "from"]), b"+OK\r\n");
    let p1_port = p1.port.to_string();
    assert_eq!(
        rr.cmd(&["REPLICAOF", "127.0.0.1", &p1_port]),
        b"+OK Already connected to specified master\r\n"
    );
    assert_eq!(
        rr.cmd(&["REPLICAOF", "127.0.0.1", &p2.port.to_string()]),
        b"+OK\r\n"
    );
    wait_same(&p2, &r);
    assert_eq!(watcher.cmd(&["MULTI"]), b"+OK\r\n");
    assert_eq!(watcher.cmd(&["GET", "from"]), b"+QUEUED\r\n");
    assert_eq!(watcher.cmd(&["EXEC"]), b"*-1\r\n");
    assert_eq!(
        info_field(&mut rr, "replication", "master_port"),
        p2.port.to_string()
    );
    p2.raw().cmd(&["SET", "live", "2"]);
    wait_for("p2's stream", || rr.cmd(&["GET", "live"]) == b"$1\r\n2\r\n");
}

#[test]
fn logically_expired_keys_are_hidden_until_the_primary_deletes_them() {
    let p = primary(true);
    let mut w = p.raw();
    let r = replica_of(&p);
    wait_for("the link", || link_up(&r));
    let mut rr = r.raw();
    let set_at = Instant::now();
    w.cmd(&["SET", "k", "v", "PX", "2000"]);
    wait_for("k", || rr.cmd(&["DBSIZE"]) == b":1\r\n");
    // A write pause stops the primary's expiry, so only time passes.
    assert_eq!(w.cmd(&["CLIENT", "PAUSE", "10000", "WRITE"]), b"+OK\r\n");
    assert!(
        set_at.elapsed() < Duration::from_millis(1800),
        "too slow to pause the primary before the key expires"
    );
    std::thread::sleep(Duration::from_millis(2300).saturating_sub(set_at.elapsed()));
    // Expired for the replica's clients, but still there: only the
    // primary's DEL removes it.
    assert_eq!(rr.cmd(&["GET", "k"]), b"$-1\r\n");
    assert_eq!(rr.cmd(&["EXISTS", "k"]), b":0\r\n");
    assert_eq!(rr.cmd(&["DBSIZE"]), b":1\r\n");
    assert_eq!(w.cmd(&["CLIENT", "UNPAUSE"]), b"+OK\r\n");
    assert_eq!(w.cmd(&["GET", "k"]), b"$-1\r\n");
    wait_for("the primary's DEL", || rr.cmd(&["DBSIZE"]) == b":0\r\n");
}

#[test]
fn replicaof_argument_errors_match_redis() {
    let r = Server::start();
    let mut rr = r.raw();
    for port in ["abc", "99999", "-1"] {
        assert_eq!(
            rr.cmd(&["REPLICAOF", "127.0.0.1", port]),
            b"-ERR Invalid master port\r\n"
        );
    }
    assert_eq!(
        rr.cmd(&["SLAVEOF", "127.0.0.1"]),
        b"-ERR wrong number of arguments for 'slaveof' command\r\n"
    );
    assert_eq!(rr.cmd(&["REPLICAOF", "no", "one"]), b"+OK\r\n");
    assert_eq!(rr.cmd(&["ROLE"]), b"*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n");
}

/// Reads one command the replica sent to a scripted primary.
fn read_command(con: &mut std::net::TcpStream, buf: &mut Vec<u8>) -> Vec<String> {
    use std::io::Read;
    loop {
        if let Some(n) = common::frame_len(buf) {
            let frame: Vec<u8> = buf.drain(..n).collect();
            // "*N", then "$len" and the argument in turn.
            return String::from_utf8_lossy(&frame)
                .split("\r\n")
                .skip(2)
                .step_by(2)
                .filter(|a| !a.is_empty())
                .map(str::to_string)
                .collect();
        }
        let mut chunk = [0u8; 4096];
        let n = con.read(&mut chunk).expect("read from the replica");
        assert!(n > 0, "the replica closed the link");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Accepts the replica's connection and answers its handshake up to
/// PSYNC, which it returns.
fn handshake(listener: &std::net::TcpListener) -> (std::net::TcpStream, Vec<u8>, Vec<String>) {
    use std::io::Write;
    let (mut con, _) = listener.accept().expect("the replica connects");
    con.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut buf = Vec::new();
    assert_eq!(read_command(&mut con, &mut buf), ["PING"]);
    con.write_all(b"+PONG\r\n").unwrap();
    let conf = read_command(&mut con, &mut buf);
    assert_eq!(conf[..2], ["REPLCONF", "listening-port"]);
    con.write_all(b"+OK\r\n").unwrap();
    assert_eq!(
        read_command(&mut con, &mut buf),
        ["REPLCONF", "capa", "eof", "capa", "psync2"]
    );
    con.write_all(b"+OK\r\n").unwrap();
    let psync = read_command(&mut con, &mut buf);
    (con, buf, psync)
}

#[test]
fn diskless_stream_after_the_mark_getack_and_repl_timeout() {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let r = Server::start_with(&[
        "--replicaof",
        &format!("127.0.0.1 {port}"),
        "--repl-timeout",
        "1",
    ]);
    let (mut con, mut buf, psync) = handshake(&listener);
    assert_eq!(psync[0], "PSYNC");
    let replid = "a".repeat(40);
    let mark = "m".repeat(40);
    // An empty RDB (checksum 0 = not checked), the mark, then at once the
    // command stream in the same write.
    let set = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
    let mut out = format!("+FULLRESYNC {replid} 100\r\n$EOF:{mark}\r\n").into_bytes();
    out.extend_from_slice(b"REDIS0010\xff\0\0\0\0\0\0\0\0");
    out.extend_from_slice(mark.as_bytes());
    out.extend_from_slice(set);
    out.extend_from_slice(b"*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n");
    con.write_all(&out).unwrap();
    let applied = 100 + set.len();
    // ACKs every second and for GETACK, all at the applied offset (the
    // GETACK itself not counted).
    loop {
        let ack = read_command(&mut con, &mut buf);
        assert_eq!(ack[..2], ["REPLCONF", "ACK"]);
        if ack[2] == applied.to_string() {
            break;
        }
        assert_eq!(
            ack[2], "100",
            "only the first periodic ACK may precede the stream"
        );
    }
    assert_eq!(r.raw().cmd(&["GET", "k"]), b"$1\r\nv\r\n");
    // Silence longer than repl-timeout: the replica reconnects and offers
    // the history it has, one byte past the GETACK.
    let after_getack = applied + 37;
    let (_con2, _, psync) = handshake(&listener);
    assert_eq!(psync, ["PSYNC", &replid, &(after_getack + 1).to_string()]);
    assert_eq!(r.raw().cmd(&["GET", "k"]), b"$1\r\nv\r\n");
}

#[test]
fn a_replica_with_the_aof_on_persists_the_synchronised_data() {
    let p = primary(true);
    populate(&mut p.client());
    let dir = common::scratch_dir("replica-aof");
    let dir_arg = dir.to_str().unwrap().to_string();
    let want = {
        let r = Server::start_with(&[
            "--dir",
            &dir_arg,
            "--appendonly",
            "yes",
            "--replicaof",
            &format!("127.0.0.1 {}", p.port),
        ]);
        wait_for("the link", || link_up(&r));
        p.raw().cmd(&["SET", "streamed", "1"]);
        let snap = wait_same(&p, &r);
        let mut rr = r.raw();
        wait_for("the AOF rewrite", || {
            info_field(&mut rr, "persistence", "aof_rewrite_in_progress") == "0"
                && info_field(&mut rr, "persistence", "aof_rewrites") == "1"
        });
        snap
    };
    // Restarted as a primary on the same files: everything is there.
    let again = Server::start_with(&["--dir", &dir_arg, "--appendonly", "yes"]);
    assert_same(&want, &server_snapshot(&mut again.client(), DBS));
    drop(again);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn info_and_role_show_a_transfer_in_progress() {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let r = Server::start_with(&["--replicaof", &format!("127.0.0.1 {port}")]);
    let mut rr = r.raw();
    let (mut con, _, _) = handshake(&listener);
    let mut out = format!("+FULLRESYNC {} 7\r\n$100\r\n", "b".repeat(40)).into_bytes();
    out.extend_from_slice(&[b'x'; 40]);
    con.write_all(&out).unwrap();
    wait_for("40 bytes of the RDB", || {
        rr.cmd_str(&["INFO", "replication"])
            .contains("master_sync_read_bytes:40\r\n")
    });
    let info = rr.cmd_str(&["INFO", "replication"]);
    let want = "master_link_status:down\r\nmaster_last_io_seconds_ago:-1\r\n\
         master_sync_in_progress:1\r\nslave_read_repl_offset:0\r\nslave_repl_offset:0\r\n\
         master_sync_total_bytes:100\r\nmaster_sync_read_bytes:40\r\n\
         master_sync_left_bytes:60\r\nmaster_sync_perc:40.00\r\n\
         master_sync_last_io_seconds_ago:0\r\nmaster_link_down_since_seconds:-1\r\n";
    assert!(info.contains(want), "{info}");
    assert_eq!(
        rr.cmd_str(&["ROLE"]),
        format!("*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:{port}\r\n$4\r\nsync\r\n:-1\r\n")
    );
    let temp_files = |dir: &std::path::Path| {
        std::fs::read_dir(dir)
            .unwrap()
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                name.to_string_lossy().starts_with("temp-")
            })
            .count()
    };
    assert_eq!(
        temp_files(&r.dir),
        1,
        "the transfer goes to a temporary file"
    );
    // Promoted mid-transfer: the partial file goes away.
    assert_eq!(rr.cmd(&["REPLICAOF", "NO", "ONE"]), b"+OK\r\n");
    wait_for("the temporary file to go", || temp_files(&r.dir) == 0);
}

#[test]
fn masterauth_and_masteruser_authenticate_with_the_primary() {
    let p = primary(true);
    let mut w = p.raw();
    assert_eq!(
        w.cmd(&["ACL", "SETUSER", "repl", "on", ">userpass", "+@all", "~*"]),
        b"+OK\r\n"
    );
    assert_eq!(
        w.cmd(&["CONFIG", "SET", "requirepass", "secret"]),
        b"+OK\r\n"
    );
    w.cmd(&["SET", "k", "v"]);
    // The default user's password.
    let r1 = Server::start_with(&[
        "--replicaof",
        &format!("127.0.0.1 {}", p.port),
        "--masterauth",
        "secret",
    ]);
    wait_for("the link with masterauth", || link_up(&r1));
    wait_for("k", || r1.raw().cmd(&["GET", "k"]) == b"$1\r\nv\r\n");
    // A named user.
    let r2 = Server::start_with(&[
        "--replicaof",
        &format!("127.0.0.1 {}", p.port),
        "--masteruser",
        "repl",
        "--masterauth",
        "userpass",
    ]);
    wait_for("the link with masteruser", || link_up(&r2));
    // A wrong password never gets the link up.
    let r3 = Server::start_with(&[
        "--replicaof",
        &format!("127.0.0.1 {}", p.port),
        "--masterauth",
        "wrong",
    ]);
    std::thread::sleep(Duration::from_millis(1500));
    let mut raw3 = r3.raw();
    assert_eq!(
        info_field(&mut raw3, "replication", "master_link_status"),
        "down"
    );
    assert_eq!(raw3.cmd(&["GET", "k"]), b"$-1\r\n");
    // Fixed at run time, the next attempt succeeds.
    assert_eq!(
        raw3.cmd(&["CONFIG", "SET", "masterauth", "secret"]),
        b"+OK\r\n"
    );
    wait_for("the link after fixing masterauth", || link_up(&r3));
}

#[test]
fn a_primary_without_its_own_link_is_retried_until_it_can_serve() {
    // A real redis-server that is itself a replica with a dead link
    // answers PSYNC with -NOMASTERLINK.
    let p = primary(true);
    let mut w = p.raw();
    let nowhere = common::free_port().to_string();
    assert_eq!(w.cmd(&["REPLICAOF", "127.0.0.1", &nowhere]), b"+OK\r\n");
    let r = replica_of(&p);
    std::thread::sleep(Duration::from_millis(1500));
    let mut rr = r.raw();
    assert_eq!(
        info_field(&mut rr, "replication", "master_link_status"),
        "down"
    );
    assert_eq!(w.cmd(&["REPLICAOF", "NO", "ONE"]), b"+OK\r\n");
    w.cmd(&["SET", "k", "v"]);
    wait_for("the link once the primary can serve", || link_up(&r));
    wait_for("k", || rr.cmd(&["GET", "k"]) == b"$1\r\nv\r\n");
}

#[test]
fn turning_replica_releases_blocked_clients() {
    let r = Server::start();
    let mut blocked = r.raw();
    blocked.send(&common::encode(&[b"BLPOP", b"q", b"0"]));
    let mut rr = r.raw();
    wait_for("the client to block", || {
        info_field(&mut rr, "clients", "blocked_clients") == "1"
    });
    let nowhere = common::free_port().to_string();
    assert_eq!(rr.cmd(&["REPLICAOF", "127.0.0.1", &nowhere]), b"+OK\r\n");
    assert_eq!(
        blocked.read_frame(),
        b"-UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)\r\n"
    );
    assert_eq!(info_field(&mut rr, "clients", "blocked_clients"), "0");
    assert_eq!(rr.cmd(&["REPLICAOF", "NO", "ONE"]), b"+OK\r\n");
}

#[test]
fn a_pipelined_burst_of_mixed_writes_arrives_intact() {
    let p = primary(true);
    let r = replica_of(&p);
    wait_for("the link", || link_up(&r));
    let mut w = p.raw();
    let mut batch = Vec::new();
    let n = 20_000;
    for i in 0..n {
        let k = format!("k{}", i % 500);
        let v = format!("{i}-{}", "x".repeat(i % 300));
        let cmd: Vec<&[u8]> = match i % 6 {
            0 => vec![b"SET", k.as_bytes(), v.as_bytes()],
            1 => vec![b"HSET", b"h", k.as_bytes(), v.as_bytes()],
            2 => vec![b"RPUSH", b"l", v.as_bytes()],
            3 => vec![b"SADD", b"s", k.as_bytes()],
            4 => vec![b"ZADD", b"z", b"1.5", k.as_bytes()],
            _ => vec![b"INCR", b"counter"],
        };
        batch.extend_from_slice(&common::encode(&cmd));
    }
    w.send(&batch);
    for _ in 0..n {
        let reply = w.read_frame();
        assert!(!reply.starts_with(b"-"), "{reply:?}");
    }
    wait_same(&p, &r);
    let own = info_field(&mut w, "replication", "master_repl_offset");
    let mut rr = r.raw();
    wait_for("the same offset", || {
        info_field(&mut rr, "replication", "master_repl_offset") == own
    });
}
