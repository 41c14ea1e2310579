//! The append-only file: what is logged (Redis 7.0's propagation forms),
//! restarts, interoperability with a real redis-server 7.0 in both
//! directions, BGREWRITEAOF under load, torn and corrupted files, and
//! turning the AOF on at run time.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{scratch_dir, Server, TIMEOUT};

/// ferrokv with the AOF on in `dir` (which outlives the server).
fn ferrokv(dir: &Path, extra: &[&str]) -> Server {
    let dir = dir.to_str().expect("utf-8 path");
    let mut args = vec!["--dir", dir, "--appendonly", "yes"];
    args.extend_from_slice(extra);
    Server::start_with(&args)
}

/// A real redis-server in `dir`, killed on drop.
struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    fn start(dir: &Path, extra: &[&str]) -> Redis {
        let port = common::free_port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "yes"])
            .arg("--dir")
            .arg(dir)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        let redis = Redis { child, port };
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Ok(mut c) = TcpStream::connect(("127.0.0.1", port)) {
                let _ = c.set_read_timeout(Some(Duration::from_secs(1)));
                let mut buf = [0u8; 7];
                if c.write_all(b"PING\r\n").is_ok()
                    && c.read_exact(&mut buf).is_ok()
                    && &buf == b"+PONG\r\n"
                {
                    return redis;
                }
            }
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn raw(&self) -> common::Raw {
        common::Raw::connect(self.port)
    }

    /// SHUTDOWN (which fsyncs the AOF) and wait for the exit.
    fn shutdown(mut self) {
        self.raw().send(b"SHUTDOWN\r\n");
        let deadline = Instant::now() + TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not exit");
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A scratch directory removed at the end of the test.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        Dir(scratch_dir(tag))
    }

    fn aof(&self) -> PathBuf {
        self.0.join("appendonlydir")
    }

    fn manifest(&self) -> String {
        std::fs::read_to_string(self.aof().join("appendonly.aof.manifest")).expect("manifest")
    }

    /// The newest incremental file's path.
    fn incr(&self) -> PathBuf {
        let manifest = self.manifest();
        let name = manifest
            .lines()
            .rfind(|l| l.ends_with("type i"))
            .and_then(|l| l.split_whitespace().nth(1))
            .expect("an incremental file");
        self.aof().join(name)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// RESP of one command, as the AOF holds it.
fn resp(args: &[&str]) -> String {
    let mut s = format!("*{}\r\n", args.len());
    for a in args {
        s.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    s
}

/// Waits (bounded) until `INFO persistence` shows `field:value`.
fn wait_info(raw: &mut common::Raw, field: &str, value: &str) {
    let want = format!("{field}:{value}\r\n");
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let info = raw.cmd_str(&["INFO", "persistence"]);
        if info.contains(&want) {
            return;
        }
        assert!(Instant::now() < deadline, "never saw {want:?} in {info}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until the initial or a requested rewrite is over.
fn wait_rewrites(raw: &mut common::Raw, count: u32) {
    wait_info(raw, "aof_rewrites", &count.to_string());
    wait_info(raw, "aof_rewrite_in_progress", "0");
}

/// Waits (bounded) until `path` holds `want`.
fn wait_file(path: &Path, want: &str) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let got = std::fs::read(path).unwrap_or_default();
        if got == want.as_bytes() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} is\n{}\nexpected\n{want}",
            path.display(),
            String::from_utf8_lossy(&got)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The integer in a bulk string reply.
fn bulk_int(reply: Vec<u8>) -> i64 {
    let s = String::from_utf8(reply).expect("utf-8");
    let (_, value) = s.split_once("\r\n").expect("bulk reply");
    value.trim_end().parse().expect("integer bulk")
}

fn int(reply: Vec<u8>) -> i64 {
    let s = String::from_utf8(reply).expect("utf-8");
    s.trim_start_matches(':')
        .trim_end()
        .parse()
        .expect("integer reply")
}

#[test]
fn writes_are_logged_in_redis_forms() {
    let dir = Dir::new("aof-forms");
    let s = ferrokv(&dir.0, &[]);
    let mut r = s.raw();
    r.cmd(&["SET", "a", "1", "EX", "100"]);
    let a_at = int(r.cmd(&["PEXPIRETIME", "a"])).to_string();
    r.cmd(&["SET", "b", "x", "GET"]);
    r.cmd(&["EXPIRE", "b", "500", "NX"]);
    let b_at = int(r.cmd(&["PEXPIRETIME", "b"])).to_string();
    r.cmd(&["EXPIRE", "b", "600", "LT"]);
    r.cmd(&["GETEX", "b", "PERSIST"]);
    r.cmd(&["INCRBYFLOAT", "f", "1.5"]);
    r.cmd(&["HINCRBYFLOAT", "h", "x", "2.5"]);
    r.cmd(&["GETDEL", "f"]);
    r.cmd(&["GET", "a"]);
    r.cmd(&["EXPIRE", "h", "-1"]);
    r.cmd(&["SADD", "s", "only"]);
    r.cmd(&["SPOP", "s"]);
    r.cmd(&["SELECT", "2"]);
    r.cmd(&["MULTI"]);
    r.cmd(&["SET", "m", "1"]);
    r.cmd(&["INCR", "n"]);
    r.cmd(&["GET", "m"]);
    r.cmd(&["EXEC"]);
    r.cmd(&["RPUSH", "l", "x", "y"]);
    r.cmd(&["BLPOP", "l", "0"]);
    let mut waiter = s.raw();
    waiter.cmd(&["SELECT", "2"]);
    waiter.send(&common::encode(&[b"BLPOP", b"w", b"0"]));
    let deadline = Instant::now() + TIMEOUT;
    while !r
        .cmd_str(&["INFO", "clients"])
        .contains("blocked_clients:1")
    {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(10));
    }
    r.cmd(&["RPUSH", "w", "v"]);
    assert_eq!(waiter.read_frame(), b"*2\r\n$1\r\nw\r\n$1\r\nv\r\n");
    r.cmd(&["RPUSH", "src", "a", "b", "c"]);
    r.cmd(&["BLMOVE", "src", "dst", "LEFT", "right", "0"]);
    r.cmd(&["BRPOPLPUSH", "src", "dst", "0"]);
    r.cmd(&["ZADD", "z", "1", "a", "2", "b"]);
    r.cmd(&["BZMPOP", "0", "1", "z", "MAX", "COUNT", "5"]);
    r.cmd(&["FLUSHDB"]);
    let expected = [
        resp(&["SELECT", "0"]),
        resp(&["SET", "a", "1", "PXAT", &a_at]),
        resp(&["SET", "b", "x"]),
        resp(&["PEXPIREAT", "b", &b_at, "NX"]),
        resp(&["PERSIST", "b"]),
        resp(&["SET", "f", "1.5", "KEEPTTL"]),
        resp(&["HSET", "h", "x", "2.5"]),
        resp(&["DEL", "f"]),
        resp(&["DEL", "h"]),
        resp(&["SADD", "s", "only"]),
        resp(&["SREM", "s", "only"]),
        resp(&["SELECT", "2"]),
        resp(&["MULTI"]),
        resp(&["SET", "m", "1"]),
        resp(&["INCR", "n"]),
        resp(&["EXEC"]),
        resp(&["RPUSH", "l", "x", "y"]),
        resp(&["LPOP", "l"]),
        resp(&["RPUSH", "w", "v"]),
        resp(&["LPOP", "w"]),
        resp(&["RPUSH", "src", "a", "b", "c"]),
        resp(&["LMOVE", "src", "dst", "LEFT", "right"]),
        resp(&["RPOPLPUSH", "src", "dst"]),
        resp(&["ZADD", "z", "1", "a", "2", "b"]),
        resp(&["ZPOPMAX", "z", "2"]),
        resp(&["FLUSHDB"]),
    ]
    .concat();
    wait_file(&dir.incr(), &expected);
}

/// Every type written, half of it rewritten into a base (`preamble`
/// selects RDB or commands), the rest appended: ferrokv after a restart,
/// and then a real redis-server, see the same data and TTLs.
fn restart_round_trip(preamble: &str, base: &str) {
    let dir = Dir::new(&format!("aof-restart-{preamble}"));
    let mut s = ferrokv(&dir.0, &["--aof-use-rdb-preamble", preamble]);
    let mut r = s.raw();
    let big: Vec<String> = (0..300).map(|i| format!("member-{i}")).collect();
    let mut cmds: Vec<Vec<&str>> = vec![
        vec!["SET", "str", "hello"],
        vec!["SET", "int", "12345"],
        vec!["SET", "ttl", "v", "EX", "1000"],
        vec!["RPUSH", "list", "a", "b", "c"],
        vec!["SADD", "intset", "1", "2", "3"],
        vec!["SADD", "set", "x", "y"],
        vec!["ZADD", "zset", "1.5", "a", "-2", "b", "inf", "c"],
        vec!["HSET", "hash", "f1", "v1", "f2", "v2"],
        vec!["INCRBYFLOAT", "float", "0.1"],
        // What came before goes into an RDB-preamble base.
        vec!["BGREWRITEAOF"],
        vec!["INCRBYFLOAT", "float", "0.2"],
        vec!["PEXPIREAT", "hash", "4102444800000"],
        vec!["SELECT", "5"],
        vec!["SET", "in5", "five"],
    ];
    let mut sadd = vec!["SADD", "bigset"];
    sadd.extend(big.iter().map(String::as_str));
    cmds.push(sadd);
    for c in &cmds {
        r.cmd(c);
    }
    wait_rewrites(&mut r, 1);
    assert!(dir
        .manifest()
        .starts_with(&format!("file appendonly.aof.2.base.{base} seq 2 type b\n")));
    let ttl_at = r.cmd(&["SELECT", "0"]);
    assert_eq!(ttl_at, b"+OK\r\n");
    let ttl_at = r.cmd(&["PEXPIRETIME", "ttl"]);
    let snapshot = |r: &mut common::Raw| -> Vec<Vec<u8>> {
        let probes: Vec<Vec<&str>> = vec![
            vec!["SELECT", "0"],
            vec!["GET", "str"],
            vec!["GET", "int"],
            vec!["OBJECT", "ENCODING", "int"],
            vec!["LRANGE", "list", "0", "-1"],
            vec!["SMEMBERS", "intset"],
            vec!["SORT", "set", "ALPHA"],
            vec!["ZRANGE", "zset", "0", "-1", "WITHSCORES"],
            vec!["HGETALL", "hash"],
            vec!["GET", "float"],
            vec!["PEXPIRETIME", "hash"],
            vec!["PEXPIRETIME", "str"],
            vec!["SELECT", "5"],
            vec!["GET", "in5"],
            vec!["SCARD", "bigset"],
            vec!["DBSIZE"],
            vec!["SELECT", "0"],
            vec!["DBSIZE"],
        ];
        probes.iter().map(|p| r.cmd(p)).collect()
    };
    let before = snapshot(&mut r);
    assert_eq!(before[9], b"$3\r\n0.3\r\n");
    drop(r);
    assert!(s.terminate().is_some_and(|st| st.success()));
    let mut s = ferrokv(&dir.0, &[]);
    let mut r = s.raw();
    assert_eq!(snapshot(&mut r), before);
    assert_eq!(r.cmd(&["PEXPIRETIME", "ttl"]), ttl_at);
    let info = r.cmd_str(&["INFO", "persistence"]);
    assert!(info.contains("aof_enabled:1\r\n"), "{info}");
    // Replaying is neither a change to save nor a served command.
    assert!(info.contains("rdb_changes_since_last_save:0\r\n"), "{info}");
    assert!(!r
        .cmd_str(&["INFO", "commandstats"])
        .contains("cmdstat_rpush"));
    drop(r);
    assert!(s.terminate().is_some_and(|st| st.success()));
    let redis = Redis::start(&dir.0, &[]);
    let mut rr = redis.raw();
    assert_eq!(snapshot(&mut rr), before);
    assert_eq!(rr.cmd(&["PEXPIRETIME", "ttl"]), ttl_at);
}

#[test]
fn restart_keeps_every_type_with_an_rdb_preamble_base() {
    restart_round_trip("yes", "rdb");
}

#[test]
fn restart_keeps_every_type_with_a_command_base() {
    restart_round_trip("no", "aof");
}

#[test]
fn redis_loads_our_aof_and_we_load_redis_aof() {
    // ferrokv writes: base (after BGREWRITEAOF) plus an incremental file.
    let dir = Dir::new("aof-interop");
    let mut s = ferrokv(&dir.0, &[]);
    let mut r = s.raw();
    r.cmd(&["RPUSH", "list", "1", "2", "3"]);
    r.cmd(&["HSET", "hash", "f", "v"]);
    r.cmd(&["SET", "ttl", "v", "PX", "900000"]);
    assert_eq!(
        r.cmd(&["BGREWRITEAOF"]),
        b"+Background append only file rewriting started\r\n"
    );
    wait_rewrites(&mut r, 1);
    r.cmd(&["ZADD", "zset", "2.5", "m"]);
    r.cmd(&["SELECT", "3"]);
    r.cmd(&["SADD", "set", "a", "b"]);
    let ttl_at = {
        r.cmd(&["SELECT", "0"]);
        r.cmd(&["PEXPIRETIME", "ttl"])
    };
    drop(r);
    assert!(s.terminate().is_some_and(|st| st.success()));
    assert_eq!(
        dir.manifest(),
        "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
    );
    let redis = Redis::start(&dir.0, &[]);
    let mut rr = redis.raw();
    assert_eq!(
        rr.cmd(&["LRANGE", "list", "0", "-1"]),
        b"*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"
    );
    assert_eq!(rr.cmd(&["HGET", "hash", "f"]), b"$1\r\nv\r\n");
    assert_eq!(rr.cmd(&["PEXPIRETIME", "ttl"]), ttl_at);
    assert_eq!(rr.cmd(&["ZSCORE", "zset", "m"]), b"$3\r\n2.5\r\n");
    rr.cmd(&["SELECT", "3"]);
    assert_eq!(rr.cmd(&["SCARD", "set"]), b":2\r\n");
    // Redis goes on appending to the same directory; we load its files.
    rr.cmd(&["SET", "from-redis", "yes"]);
    rr.cmd(&["BGREWRITEAOF"]);
    wait_rewrites(&mut rr, 1);
    rr.cmd(&["INCR", "counter"]);
    drop(rr);
    redis.shutdown();
    let s = ferrokv(&dir.0, &[]);
    let mut r = s.raw();
    assert_eq!(r.cmd(&["HGET", "hash", "f"]), b"$1\r\nv\r\n");
    assert_eq!(r.cmd(&["PEXPIRETIME", "ttl"]), ttl_at);
    r.cmd(&["SELECT", "3"]);
    assert_eq!(r.cmd(&["GET", "from-redis"]), b"$3\r\nyes\r\n");
    assert_eq!(r.cmd(&["GET", "counter"]), b"$1\r\n1\r\n");
    assert_eq!(r.cmd(&["SCARD", "set"]), b":2\r\n");
}

#[test]
fn redis_written_aof_with_command_base_loads() {
    let dir = Dir::new("aof-from-redis");
    let redis = Redis::start(&dir.0, &["--aof-use-rdb-preamble", "no"]);
    let mut rr = redis.raw();
    rr.cmd(&["SET", "a", "1"]);
    rr.cmd(&["ZADD", "z", "1", "x", "2", "y"]);
    rr.cmd(&["BGREWRITEAOF"]);
    wait_rewrites(&mut rr, 1);
    rr.cmd(&["MULTI"]);
    rr.cmd(&["INCR", "a"]);
    rr.cmd(&["LPUSH", "l", "v"]);
    rr.cmd(&["EXEC"]);
    rr.cmd(&["EXPIRE", "z", "1000"]);
    let z_at = rr.cmd(&["PEXPIRETIME", "z"]);
    drop(rr);
    redis.shutdown();
    let s = ferrokv(&dir.0, &[]);
    let mut r = s.raw();
    assert_eq!(r.cmd(&["GET", "a"]), b"$1\r\n2\r\n");
    assert_eq!(r.cmd(&["LPOP", "l"]), b"$1\r\nv\r\n");
    assert_eq!(r.cmd(&["ZCARD", "z"]), b":2\r\n");
    assert_eq!(r.cmd(&["PEXPIRETIME", "z"]), z_at);
}

#[test]
fn bgrewriteaof_while_writing_loses_nothing() {
    let dir = Dir::new("aof-rewrite");
    let mut s = ferrokv(&dir.0, &[]);
    let mut r = s.raw();
    let port = s.port;
    let writer = std::thread::spawn(move || {
        let mut w = common::Raw::connect(port);
        let started = Instant::now();
        let mut n = 0i64;
        while started.elapsed() < Duration::from_millis(1500) {
            n += 1;
            assert_eq!(int(w.cmd(&["INCR", "counter"])), n);
            w.cmd(&["RPUSH", "list", &n.to_string()]);
        }
        n
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        r.cmd(&["BGREWRITEAOF"]),
        b"+Background append only file rewriting started\r\n"
    );
    let second = r.cmd(&["BGREWRITEAOF"]);
    let in_progress = b"-ERR Background append only file rewriting already in progress\r\n";
    assert!(
        second == in_progress || second == b"+Background append only file rewriting started\r\n"
    );
    let n = writer.join().expect("writer");
    wait_info(&mut r, "aof_rewrite_in_progress", "0");
    drop(r);
    assert!(s.terminate().is_some_and(|st| st.success()));
    // The superseded base and incremental files are gone.
    let names: Vec<String> = std::fs::read_dir(dir.aof())
        .expect("aof dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names.iter().any(|n| n == "appendonly.aof.1.base.aof"),
        "{names:?}"
    );
    assert!(!names.iter().any(|n| n.starts_with("temp-")), "{names:?}");
    let s = ferrokv(&dir.0, &[]);
    let mut r = s.raw();
    assert_eq!(bulk_int(r.cmd(&["GET", "counter"])), n);
    assert_eq!(int(r.cmd(&["LLEN", "list"])), n);
    let last = r.cmd(&["LINDEX", "list", "-1"]);
    assert_eq!(
        last,
        format!("${}\r\n{n}\r\n", n.to_string().len()).into_bytes()
    );
}

/// Starts ferrokv expecting it to fail; returns its output.
fn failing_start(dir: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ferrokv"))
        .args(["--port", &common::free_port().to_string(), "--save", ""])
        .args(["--appendonly", "yes", "--dir"])
        .arg(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run ferrokv");
    assert!(!out.status.success(), "ferrokv started on a corrupt AOF");
    String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout)
}

/// Writes a few commands through a server and stops it cleanly; returns
/// the incremental file's path and bytes.
fn prepared_aof(dir: &Dir) -> (PathBuf, Vec<u8>) {
    let mut s = ferrokv(&dir.0, &[]);
    let mut r = s.raw();
    for i in 0..5 {
        r.cmd(&["SET", &format!("k{i}"), &format!("v{i}")]);
    }
    drop(r);
    assert!(s.terminate().is_some_and(|st| st.success()));
    let path = dir.incr();
    let bytes = std::fs::read(&path).expect("incr file");
    (path, bytes)
}

#[test]
fn a_torn_last_command_is_dropped_and_the_file_truncated() {
    let dir = Dir::new("aof-torn");
    let (path, good) = prepared_aof(&dir);
    let mut torn = good.clone();
    torn.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$2\r\nk9\r\n$5\r\nv");
    std::fs::write(&path, &torn).expect("write");
    // Without aof-load-truncated the server refuses to start.
    let out = Command::new(env!("CARGO_BIN_EXE_ferrokv"))
        .args(["--port", &common::free_port().to_string(), "--save", ""])
        .args(["--appendonly", "yes", "--aof-load-truncated", "no", "--dir"])
        .arg(&dir.0)
        .output()
        .expect("run ferrokv");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Unexpected end of file"));
    assert_eq!(std::fs::read(&path).expect("file"), torn);
    let s = ferrokv(&dir.0, &[]);
    let mut r = s.raw();
    assert_eq!(r.cmd(&["GET", "k4"]), b"$2\r\nv4\r\n");
    assert_eq!(r.cmd(&["EXISTS", "k9"]), b":0\r\n");
    drop(r);
    drop(s);
    let now = std::fs::read(&path).expect("file");
    assert_eq!(&now[..good.len()], &good[..]);
    assert!(
        now.len() == good.len(),
        "the torn command was truncated away"
    );
}

#[test]
fn a_flipped_byte_in_the_middle_stops_start_up() {
    let dir = Dir::new("aof-corrupt");
    let (path, good) = prepared_aof(&dir);
    // Break the length prefix of the third command's key.
    let third = resp(&["SELECT", "0"]).len() + 2 * resp(&["SET", "k0", "v0"]).len();
    let mut bad = good.clone();
    let at = third + b"*3\r\n$3\r\nSET\r\n".len();
    assert_eq!(bad[at], b'$');
    bad[at] = b'#';
    std::fs::write(&path, &bad).expect("write");
    let out = failing_start(&dir.0);
    assert!(out.contains("Bad file format"), "{out}");
    assert!(out.contains(&format!("at offset {third}")), "{out}");
    assert_eq!(
        std::fs::read(&path).expect("file"),
        bad,
        "file left untouched"
    );
    // An unknown command name is refused too.
    let mut unknown = good;
    let name_at = third + b"*3\r\n$3\r\n".len();
    unknown[name_at] = b'X';
    std::fs::write(&path, &unknown).expect("write");
    let out = failing_start(&dir.0);
    assert!(out.contains("Unknown command 'XET'"), "{out}");
}

#[test]
fn config_set_appendonly_yes_writes_everything_first() {
    let dir = Dir::new("aof-runtime");
    let d = dir.0.to_str().expect("utf-8");
    let mut s = Server::start_with(&["--dir", d]);
    let mut r = s.raw();
    r.cmd(&["SET", "before", "1"]);
    r.cmd(&["RPUSH", "l", "a", "b"]);
    assert!(r
        .cmd_str(&["INFO", "persistence"])
        .contains("aof_enabled:0\r\n"));
    assert_eq!(r.cmd(&["CONFIG", "SET", "appendonly", "yes"]), b"+OK\r\n");
    assert_eq!(
        r.cmd(&["CONFIG", "GET", "appendonly"]),
        b"*2\r\n$10\r\nappendonly\r\n$3\r\nyes\r\n"
    );
    r.cmd(&["SET", "after", "2"]);
    wait_rewrites(&mut r, 1);
    assert!(r
        .cmd_str(&["INFO", "persistence"])
        .contains("aof_enabled:1\r\n"));
    drop(r);
    assert!(s.terminate().is_some_and(|st| st.success()));
    let s = ferrokv(&dir.0, &[]);
    let mut r = s.raw();
    assert_eq!(r.cmd(&["GET", "before"]), b"$1\r\n1\r\n");
    assert_eq!(r.cmd(&["GET", "after"]), b"$1\r\n2\r\n");
    assert_eq!(r.cmd(&["LLEN", "l"]), b":2\r\n");
    // And off again: later writes are not logged.
    assert_eq!(r.cmd(&["CONFIG", "SET", "appendonly", "no"]), b"+OK\r\n");
    let size = std::fs::metadata(dir.incr()).expect("incr").len();
    r.cmd(&["SET", "unlogged", "1"]);
    assert!(r
        .cmd_str(&["INFO", "persistence"])
        .contains("aof_enabled:0\r\n"));
    assert_eq!(std::fs::metadata(dir.incr()).expect("incr").len(), size);
}

#[test]
fn an_old_single_file_aof_is_loaded_and_upgraded() {
    let dir = Dir::new("aof-upgrade");
    let old = [
        resp(&["SELECT", "0"]),
        resp(&["SET", "old", "style"]),
        resp(&["MULTI"]),
        resp(&["INCR", "n"]),
        resp(&["INCR", "n"]),
        resp(&["EXEC"]),
    ]
    .concat();
    std::fs::write(dir.0.join("appendonly.aof"), &old).expect("write");
    let s = ferrokv(&dir.0, &[]);
    let mut r = s.raw();
    assert_eq!(r.cmd(&["GET", "old"]), b"$5\r\nstyle\r\n");
    assert_eq!(r.cmd(&["GET", "n"]), b"$1\r\n2\r\n");
    assert!(!dir.0.join("appendonly.aof").exists());
    assert_eq!(
        std::fs::read_to_string(dir.aof().join("appendonly.aof")).expect("moved"),
        old
    );
    assert_eq!(
        dir.manifest(),
        "file appendonly.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    );
}

#[test]
fn aof_directives_read_and_validate_like_redis() {
    let s = Server::start();
    let mut r = s.raw();
    let get = |r: &mut common::Raw, name: &str| r.cmd_str(&["CONFIG", "GET", name]);
    assert_eq!(
        get(&mut r, "appendfsync"),
        "*2\r\n$11\r\nappendfsync\r\n$8\r\neverysec\r\n"
    );
    assert_eq!(
        get(&mut r, "appendfilename"),
        "*2\r\n$14\r\nappendfilename\r\n$14\r\nappendonly.aof\r\n"
    );
    assert_eq!(
        get(&mut r, "appenddirname"),
        "*2\r\n$13\r\nappenddirname\r\n$13\r\nappendonlydir\r\n"
    );
    assert_eq!(
        get(&mut r, "auto-aof-rewrite-min-size"),
        "*2\r\n$25\r\nauto-aof-rewrite-min-size\r\n$8\r\n67108864\r\n"
    );
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "appendfsync", "always"]),
        b"+OK\r\n"
    );
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "appendfsync", "sometimes"]),
        b"-ERR CONFIG SET failed (possibly related to argument 'appendfsync') - argument(s) must be one of the following: everysec, always, no\r\n"
    );
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "appendfilename", "x.aof"]),
        b"-ERR CONFIG SET failed (possibly related to argument 'appendfilename') - can't set immutable config\r\n"
    );
}

#[test]
fn restore_with_a_relative_ttl_is_logged_with_an_absolute_one() {
    let dir = Dir::new("aof-restore");
    let s = ferrokv(&dir.0, &[]);
    let mut r = s.raw();
    r.cmd(&["SET", "k", "v"]);
    let dump = r.cmd(&["DUMP", "k"]);
    let header_end = dump.windows(2).position(|w| w == b"\r\n").expect("bulk") + 2;
    let payload = dump[header_end..dump.len() - 2].to_vec();
    r.send(&common::encode(&[b"RESTORE", b"r", b"10000", &payload]));
    assert_eq!(r.read_frame(), b"+OK\r\n");
    let at = int(r.cmd(&["PEXPIRETIME", "r"])).to_string();
    let mut expected = resp(&["SELECT", "0"]).into_bytes();
    expected.extend(resp(&["SET", "k", "v"]).into_bytes());
    expected.extend(common::encode(&[
        b"RESTORE",
        b"r",
        at.as_bytes(),
        &payload,
        b"ABSTTL",
    ]));
    let deadline = Instant::now() + TIMEOUT;
    while std::fs::read(dir.incr()).unwrap_or_default() != expected {
        assert!(Instant::now() < deadline, "RESTORE not logged as expected");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_aof_is_rewritten_automatically_when_it_doubles() {
    let dir = Dir::new("aof-auto");
    let s = ferrokv(
        &dir.0,
        &[
            "--auto-aof-rewrite-min-size",
            "4kb",
            "--auto-aof-rewrite-percentage",
            "100",
        ],
    );
    let mut r = s.raw();
    let value = "x".repeat(100);
    for i in 0..20 {
        r.cmd(&["SET", "same-key", &format!("{i}{value}")]);
    }
    // 20 × ~130 bytes: under the minimum size, no rewrite yet.
    std::thread::sleep(Duration::from_millis(300));
    assert!(r
        .cmd_str(&["INFO", "persistence"])
        .contains("aof_rewrites:0\r\n"));
    for i in 0..40 {
        r.cmd(&["SET", "same-key", &format!("{i}{value}")]);
    }
    wait_rewrites(&mut r, 1);
    assert!(dir
        .manifest()
        .starts_with("file appendonly.aof.2.base.rdb seq 2 type b\n"));
    let info = r.cmd_str(&["INFO", "persistence"]);
    let size = |name: &str| -> u64 {
        info.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
            .expect("size field")
    };
    // The new base holds the one key; writes after the fork went to the
    // new incremental file.
    let base = std::fs::metadata(dir.aof().join("appendonly.aof.2.base.rdb")).expect("base");
    assert!(base.len() < 1024, "base of {} bytes", base.len());
    assert!(
        size("aof_current_size:") >= size("aof_base_size:"),
        "{info}"
    );
    assert!(size("aof_base_size:") >= base.len(), "{info}");
}

#[test]
fn concurrent_writers_to_the_same_keys_replay_in_applied_order() {
    let dir = Dir::new("aof-order");
    let mut s = ferrokv(&dir.0, &["--threads", "4"]);
    let port = s.port;
    let writers: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                let mut w = common::Raw::connect(port);
                for i in 0..300 {
                    let key = format!("k{}", i % 5);
                    let list = format!("l{}", i % 3);
                    let tag = format!("{t}.{i};");
                    // Pipelined, so commands of several clients interleave
                    // on the server's threads.
                    let mut batch = common::encode(&[b"APPEND", key.as_bytes(), tag.as_bytes()]);
                    batch.extend(common::encode(&[b"RPUSH", list.as_bytes(), tag.as_bytes()]));
                    batch.extend(common::encode(&[
                        b"SETRANGE",
                        b"shared",
                        b"0",
                        tag.as_bytes(),
                    ]));
                    w.send(&batch);
                    for _ in 0..3 {
                        w.read_frame();
                    }
                }
            })
        })
        .collect();
    for w in writers {
        w.join().expect("writer");
    }
    let probes: Vec<Vec<String>> = (0..5)
        .map(|i| vec!["GET".to_string(), format!("k{i}")])
        .chain((0..3).map(|i| vec!["LRANGE".into(), format!("l{i}"), "0".into(), "-1".into()]))
        .chain(std::iter::once(vec!["GET".into(), "shared".into()]))
        .collect();
    let read_all = |r: &mut common::Raw| -> Vec<Vec<u8>> {
        probes
            .iter()
            .map(|p| r.cmd(&p.iter().map(String::as_str).collect::<Vec<_>>()))
            .collect()
    };
    let mut r = s.raw();
    let before = read_all(&mut r);
    drop(r);
    assert!(s.terminate().is_some_and(|st| st.success()));
    let s = ferrokv(&dir.0, &[]);
    let mut r = s.raw();
    assert_eq!(read_all(&mut r), before);
}

#[test]
fn bgrewriteaof_during_bgsave_is_scheduled_and_runs_after_it() {
    let dir = Dir::new("aof-scheduled");
    let s = ferrokv(&dir.0, &[]);
    let mut r = s.raw();
    r.cmd(&["SET", "k", "v"]);
    // One packet: the BGSAVE child is still registered (the cron reaps it
    // at the earliest on its next tick) when BGREWRITEAOF arrives.
    let mut both = common::encode(&[b"BGSAVE"]);
    both.extend(common::encode(&[b"BGREWRITEAOF"]));
    r.send(&both);
    assert_eq!(r.read_frame(), b"+Background saving started\r\n");
    assert_eq!(
        r.read_frame(),
        b"+Background append only file rewriting scheduled\r\n"
    );
    wait_rewrites(&mut r, 1);
    wait_info(&mut r, "aof_rewrite_scheduled", "0");
    assert!(dir
        .manifest()
        .starts_with("file appendonly.aof.2.base.rdb seq 2 type b\n"));
}

#[test]
fn turning_the_aof_on_during_a_rewrite_restarts_the_rewrite() {
    let dir = Dir::new("aof-on-during-rewrite");
    let d = dir.0.to_str().expect("utf-8");
    let mut s = Server::start_with(&["--dir", d]);
    let mut r = s.raw();
    r.cmd(&["SET", "a", "1"]);
    let mut both = common::encode(&[b"BGREWRITEAOF"]);
    both.extend(common::encode(&[b"CONFIG", b"SET", b"appendonly", b"yes"]));
    both.extend(common::encode(&[b"SET", b"b", b"2"]));
    r.send(&both);
    assert_eq!(
        r.read_frame(),
        b"+Background append only file rewriting started\r\n"
    );
    assert_eq!(r.read_frame(), b"+OK\r\n");
    assert_eq!(r.read_frame(), b"+OK\r\n");
    wait_info(&mut r, "aof_enabled", "1");
    wait_info(&mut r, "aof_rewrite_in_progress", "0");
    wait_info(&mut r, "aof_last_bgrewrite_status", "ok");
    drop(r);
    assert!(s.terminate().is_some_and(|st| st.success()));
    let s = ferrokv(&dir.0, &[]);
    let mut r = s.raw();
    assert_eq!(r.cmd(&["MGET", "a", "b"]), b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
}

/// Function libraries are data: FUNCTION LOAD is logged, and a rewrite
/// keeps the libraries in either base form, so FCALL works after restarts.
#[test]
fn function_libraries_survive_restarts_and_rewrites() {
    let lib = "#!lua name=persisted\nredis.register_function('twice', function(keys, args) return args[1] * 2 end)";
    for preamble in ["yes", "no"] {
        let dir = Dir::new(&format!("aof-functions-{preamble}"));
        let flags = ["--aof-use-rdb-preamble", preamble];
        {
            let s = ferrokv(&dir.0, &flags);
            let mut raw = s.raw();
            assert_eq!(
                raw.cmd(&["FUNCTION", "LOAD", lib]),
                b"$9\r\npersisted\r\n".to_vec()
            );
            assert!(std::fs::read_to_string(dir.incr())
                .unwrap()
                .contains("FUNCTION"));
        }
        {
            // Replayed from the incremental file, then compacted.
            let s = ferrokv(&dir.0, &flags);
            let mut raw = s.raw();
            assert_eq!(raw.cmd(&["FCALL", "twice", "0", "21"]), b":42\r\n".to_vec());
            assert_eq!(raw.cmd(&["BGREWRITEAOF"]).first(), Some(&b'+'));
            wait_rewrites(&mut raw, 1);
        }
        // Loaded from the rewritten base alone.
        let s = ferrokv(&dir.0, &flags);
        let mut raw = s.raw();
        assert_eq!(raw.cmd(&["FCALL", "twice", "0", "5"]), b":10\r\n".to_vec());
    }
}
