//! Snapshots end to end: SAVE/BGSAVE files survive restarts, BGSAVE is a
//! point-in-time copy while the server keeps answering, save points,
//! SHUTDOWN and SIGTERM final saves, DEBUG RELOAD, a failed save (MISCONF,
//! previous dump intact), a corrupt dump refusing start-up, and dump files
//! exchanged with a real redis-server both ways.

mod common;

use std::io::Read;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Raw, Server, TIMEOUT};

const MISCONF: &str = "-MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.\r\n";

/// A scratch data directory removed at the end of the test.
struct DataDir(PathBuf);

impl DataDir {
    fn new(tag: &str) -> Self {
        DataDir(common::scratch_dir(tag))
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("utf-8 temp path")
    }

    fn dump(&self) -> PathBuf {
        self.0.join("dump.rdb")
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// ferrokv with its data in `dir` (the later `--dir`/`--save` win over
/// the harness's defaults).
fn start_in(dir: &DataDir, extra: &[&str]) -> Server {
    let mut args = vec!["--dir", dir.path()];
    args.extend_from_slice(extra);
    Server::start_with(&args)
}

/// A real redis-server with its data in `dir`, shut down on drop.
struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    fn start_in(dir: &DataDir) -> Redis {
        let port = common::free_port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--dir", dir.path()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (.ci/run installs it)");
        let redis = Redis { child, port };
        wait_until("redis-server answers", || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        let mut raw = redis.raw();
        wait_until("redis-server finished loading", || {
            raw.cmd_str(&["PING"]) == "+PONG\r\n"
        });
        redis
    }

    fn raw(&self) -> Raw {
        Raw::connect(self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `cond` until it holds, failing the test after [`TIMEOUT`].
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One `INFO persistence` field.
fn info_field(raw: &mut Raw, name: &str) -> String {
    let info = raw.cmd_str(&["INFO", "persistence"]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("INFO persistence lacks {name}: {info}"))
        .to_string()
}

fn wait_bgsave_done(raw: &mut Raw) {
    wait_until("the background save ends", || {
        info_field(raw, "rdb_bgsave_in_progress") == "0"
    });
}

fn bulk(s: &str) -> String {
    format!("${}\r\n{s}\r\n", s.len())
}

/// Waits for the process to exit (bounded) and returns its status.
fn wait_exit(server: &mut Server) -> std::process::ExitStatus {
    wait_until("the server exits", || !server.is_alive());
    // Already gone: the SIGTERM is a no-op and the status is collected.
    server.terminate().expect("exit status")
}

/// Sets one key of every type, two with TTLs.
fn populate(raw: &mut Raw) {
    assert_eq!(raw.cmd_str(&["SET", "str", "hello"]), "+OK\r\n");
    assert_eq!(raw.cmd_str(&["SET", "num", "12345"]), "+OK\r\n");
    assert_eq!(raw.cmd_str(&["RPUSH", "list", "a", "b", "c"]), ":3\r\n");
    assert_eq!(raw.cmd_str(&["HSET", "hash", "f", "v", "g", "w"]), ":2\r\n");
    assert_eq!(raw.cmd_str(&["SADD", "set", "x", "y", "7"]), ":3\r\n");
    assert_eq!(
        raw.cmd_str(&["ZADD", "zset", "1.5", "a", "-2", "b"]),
        ":2\r\n"
    );
    assert_eq!(raw.cmd_str(&["SET", "ttl", "v", "PX", "100000"]), "+OK\r\n");
    assert_eq!(raw.cmd_str(&["EXPIRE", "list", "5000"]), ":1\r\n");
    assert_eq!(raw.cmd_str(&["SELECT", "5"]), "+OK\r\n");
    assert_eq!(raw.cmd_str(&["SET", "in5", "five"]), "+OK\r\n");
    assert_eq!(raw.cmd_str(&["SELECT", "0"]), "+OK\r\n");
}

/// Checks what [`populate`] wrote, TTLs included.
fn check_populated(raw: &mut Raw) {
    assert_eq!(raw.cmd_str(&["GET", "str"]), bulk("hello"));
    assert_eq!(raw.cmd_str(&["GET", "num"]), bulk("12345"));
    assert_eq!(raw.cmd_str(&["OBJECT", "ENCODING", "num"]), bulk("int"));
    assert_eq!(
        raw.cmd_str(&["LRANGE", "list", "0", "-1"]),
        "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"
    );
    assert_eq!(raw.cmd_str(&["HGET", "hash", "g"]), bulk("w"));
    assert_eq!(raw.cmd_str(&["SCARD", "set"]), ":3\r\n");
    assert_eq!(raw.cmd_str(&["SISMEMBER", "set", "7"]), ":1\r\n");
    assert_eq!(
        raw.cmd_str(&["ZRANGE", "zset", "0", "-1", "WITHSCORES"]),
        "*4\r\n$1\r\nb\r\n$2\r\n-2\r\n$1\r\na\r\n$3\r\n1.5\r\n"
    );
    let pttl: i64 = raw.cmd_str(&["PTTL", "ttl"])[1..].trim().parse().unwrap();
    assert!((90_000..=100_000).contains(&pttl), "pttl {pttl}");
    let ttl: i64 = raw.cmd_str(&["TTL", "list"])[1..].trim().parse().unwrap();
    assert!((4_990..=5_000).contains(&ttl), "ttl {ttl}");
    assert_eq!(raw.cmd_str(&["TTL", "str"]), ":-1\r\n");
    assert_eq!(raw.cmd_str(&["SELECT", "5"]), "+OK\r\n");
    assert_eq!(raw.cmd_str(&["GET", "in5"]), bulk("five"));
    assert_eq!(raw.cmd_str(&["SELECT", "0"]), "+OK\r\n");
    assert_eq!(raw.cmd_str(&["DBSIZE"]), ":7\r\n");
}

#[test]
fn save_then_restart_restores_data_and_ttls() {
    let dir = DataDir::new("save");
    {
        let s = start_in(&dir, &[]);
        let mut raw = s.raw();
        populate(&mut raw);
        assert_ne!(info_field(&mut raw, "rdb_changes_since_last_save"), "0");
        let before: u64 = raw.cmd_str(&["LASTSAVE"])[1..].trim().parse().unwrap();
        assert_eq!(raw.cmd_str(&["SAVE"]), "+OK\r\n");
        let after: u64 = raw.cmd_str(&["LASTSAVE"])[1..].trim().parse().unwrap();
        assert!(after >= before);
        assert_eq!(info_field(&mut raw, "rdb_changes_since_last_save"), "0");
        assert_eq!(info_field(&mut raw, "rdb_saves"), "1");
        assert_eq!(info_field(&mut raw, "rdb_last_bgsave_status"), "ok");
        assert_eq!(
            raw.cmd_str(&["SAVE", "x"]),
            "-ERR wrong number of arguments for 'save' command\r\n"
        );
        assert_eq!(
            raw.cmd_str(&["LASTSAVE", "x"]),
            "-ERR wrong number of arguments for 'lastsave' command\r\n"
        );
        // No temp file is left behind.
        let names: Vec<String> = std::fs::read_dir(&dir.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["dump.rdb".to_string()]);
    }
    let s = start_in(&dir, &[]);
    let mut raw = s.raw();
    check_populated(&mut raw);
    assert_eq!(info_field(&mut raw, "rdb_last_load_keys_loaded"), "8");
    assert_eq!(info_field(&mut raw, "rdb_changes_since_last_save"), "0");
}

#[test]
fn bgsave_writes_the_state_at_fork_while_the_server_keeps_answering() {
    let dir = DataDir::new("bgsave");
    let s = start_in(&dir, &[]);
    let mut raw = s.raw();
    // Enough data that the child takes a while.
    const KEYS: usize = 100_000;
    let mut batch = Vec::new();
    for i in 0..KEYS {
        let (k, v) = (format!("key:{i}"), format!("value-{i}-{}", "x".repeat(32)));
        batch.extend_from_slice(&common::encode(&[b"SET", k.as_bytes(), v.as_bytes()]));
        if i % 5000 == 4999 {
            raw.send(&batch);
            batch.clear();
            for _ in 0..5000 {
                assert_eq!(raw.read_frame(), b"+OK\r\n");
            }
        }
    }
    assert_eq!(raw.cmd_str(&["BGSAVE", "foo"]), "-ERR syntax error\r\n");
    assert_eq!(
        raw.cmd_str(&["BGSAVE", "SCHEDULE", "x"]),
        "-ERR syntax error\r\n"
    );
    // The fork happened before the reply; a second BGSAVE and a SAVE in
    // the same batch find the child still registered.
    raw.send(b"BGSAVE\r\nBGSAVE\r\nSAVE\r\nBGSAVE SCHEDULE\r\n");
    assert_eq!(raw.read_frame(), b"+Background saving started\r\n");
    for _ in 0..3 {
        assert_eq!(
            raw.read_frame(),
            b"-ERR Background save already in progress\r\n"
        );
    }
    // Changes after the fork: not in the file.
    let mut other = s.raw();
    assert_eq!(other.cmd_str(&["SET", "after", "1"]), "+OK\r\n");
    assert_eq!(other.cmd_str(&["SET", "key:7", "changed"]), "+OK\r\n");
    assert_eq!(other.cmd_str(&["DEL", "key:8"]), ":1\r\n");
    // The server answers while the child writes.
    let mut answered = 0;
    while info_field(&mut raw, "rdb_bgsave_in_progress") == "1" {
        assert_eq!(other.cmd_str(&["GET", "after"]), bulk("1"));
        answered += 1;
    }
    assert!(answered > 0 || dir.dump().exists());
    wait_bgsave_done(&mut raw);
    assert_eq!(info_field(&mut raw, "rdb_last_bgsave_status"), "ok");
    // Only the 3 changes made after the fork remain unsaved.
    assert_eq!(info_field(&mut raw, "rdb_changes_since_last_save"), "3");
    assert_ne!(info_field(&mut raw, "rdb_last_bgsave_time_sec"), "-1");
    drop(s);

    let copy = DataDir::new("bgsave-copy");
    std::fs::copy(dir.dump(), copy.dump()).unwrap();
    let s2 = start_in(&copy, &[]);
    let mut raw = s2.raw();
    assert_eq!(raw.cmd_str(&["DBSIZE"]), format!(":{KEYS}\r\n"));
    assert_eq!(raw.cmd_str(&["EXISTS", "after"]), ":0\r\n");
    assert_eq!(
        raw.cmd_str(&["GET", "key:7"]),
        bulk(&format!("value-7-{}", "x".repeat(32)))
    );
    assert_eq!(raw.cmd_str(&["EXISTS", "key:8"]), ":1\r\n");
}

#[test]
fn bgsave_inside_exec_is_scheduled_and_runs() {
    let dir = DataDir::new("schedule");
    let s = start_in(&dir, &[]);
    let mut raw = s.raw();
    raw.send(b"MULTI\r\nSET a 1\r\nBGSAVE\r\nEXEC\r\n");
    assert_eq!(raw.read_frame(), b"+OK\r\n");
    assert_eq!(raw.read_frame(), b"+QUEUED\r\n");
    assert_eq!(raw.read_frame(), b"+QUEUED\r\n");
    assert_eq!(
        raw.read_frame(),
        b"*2\r\n+OK\r\n+Background saving scheduled\r\n"
    );
    wait_until("the scheduled save ran", || {
        info_field(&mut raw, "rdb_saves") == "1"
            && info_field(&mut raw, "rdb_bgsave_in_progress") == "0"
    });
    assert_eq!(info_field(&mut raw, "rdb_last_bgsave_status"), "ok");
    assert!(dir.dump().exists());
}

#[test]
fn save_points_start_a_background_save() {
    let dir = DataDir::new("savepoints");
    let s = start_in(&dir, &["--save", "1 2"]);
    let mut raw = s.raw();
    assert_eq!(
        raw.cmd_str(&["CONFIG", "GET", "save"]),
        "*2\r\n$4\r\nsave\r\n$3\r\n1 2\r\n"
    );
    let started: u64 = raw.cmd_str(&["LASTSAVE"])[1..].trim().parse().unwrap();
    // One change is below the threshold.
    assert_eq!(raw.cmd_str(&["SET", "a", "1"]), "+OK\r\n");
    std::thread::sleep(Duration::from_millis(2500));
    assert!(!dir.dump().exists());
    assert_eq!(raw.cmd_str(&["SET", "b", "2"]), "+OK\r\n");
    wait_until("the save point fires", || {
        info_field(&mut raw, "rdb_changes_since_last_save") == "0"
    });
    wait_bgsave_done(&mut raw);
    assert!(dir.dump().exists());
    let last: u64 = raw.cmd_str(&["LASTSAVE"])[1..].trim().parse().unwrap();
    assert!(last > started);
    assert_eq!(info_field(&mut raw, "rdb_saves"), "1");
}

#[test]
fn shutdown_saves_unless_nosave() {
    let dir = DataDir::new("shutdown");
    {
        let mut s = start_in(&dir, &["--save", "3600 1"]);
        let mut raw = s.raw();
        assert_eq!(raw.cmd_str(&["SET", "kept", "1"]), "+OK\r\n");
        assert_eq!(
            raw.cmd_str(&["SHUTDOWN", "SAVE", "NOSAVE"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            raw.cmd_str(&["SHUTDOWN", "ABORT", "NOW"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            raw.cmd_str(&["SHUTDOWN", "ABORT"]),
            "-ERR No shutdown in progress.\r\n"
        );
        raw.send(b"SHUTDOWN\r\n");
        assert!(raw.is_closed());
        assert!(wait_exit(&mut s).success());
    }
    {
        let mut s = start_in(&dir, &["--save", "3600 1"]);
        let mut raw = s.raw();
        assert_eq!(raw.cmd_str(&["GET", "kept"]), bulk("1"));
        assert_eq!(raw.cmd_str(&["SET", "lost", "1"]), "+OK\r\n");
        raw.send(b"SHUTDOWN NOSAVE\r\n");
        assert!(raw.is_closed());
        assert!(wait_exit(&mut s).success());
    }
    {
        // No save points: a plain SHUTDOWN does not save, SAVE forces it.
        let mut s = start_in(&dir, &[]);
        let mut raw = s.raw();
        assert_eq!(raw.cmd_str(&["EXISTS", "lost"]), ":0\r\n");
        assert_eq!(raw.cmd_str(&["SET", "forced", "1"]), "+OK\r\n");
        raw.send(b"SHUTDOWN SAVE NOW FORCE\r\n");
        assert!(raw.is_closed());
        assert!(wait_exit(&mut s).success());
    }
    let s = start_in(&dir, &[]);
    let mut raw = s.raw();
    assert_eq!(
        raw.cmd_str(&["MGET", "kept", "forced"]),
        "*2\r\n$1\r\n1\r\n$1\r\n1\r\n"
    );
}

#[test]
fn flushall_saves_the_empty_dataset_with_save_points() {
    let dir = DataDir::new("flushall");
    {
        let s = start_in(&dir, &["--save", "3600 1"]);
        let mut raw = s.raw();
        assert_eq!(raw.cmd_str(&["SET", "k", "v"]), "+OK\r\n");
        assert_eq!(raw.cmd_str(&["SAVE"]), "+OK\r\n");
        assert_eq!(raw.cmd_str(&["SET", "k2", "v"]), "+OK\r\n");
        assert_eq!(raw.cmd_str(&["FLUSHALL"]), "+OK\r\n");
        // Killed without a chance to save at exit (SIGKILL on drop).
    }
    let s = start_in(&dir, &["--save", "3600 1"]);
    let mut raw = s.raw();
    assert_eq!(raw.cmd_str(&["DBSIZE"]), ":0\r\n");
    // Without save points FLUSHALL leaves the file alone.
    assert_eq!(raw.cmd_str(&["SET", "k", "v"]), "+OK\r\n");
    assert_eq!(raw.cmd_str(&["SAVE"]), "+OK\r\n");
    assert_eq!(raw.cmd_str(&["CONFIG", "SET", "save", ""]), "+OK\r\n");
    assert_eq!(raw.cmd_str(&["FLUSHALL"]), "+OK\r\n");
    drop(s);
    let s = start_in(&dir, &[]);
    assert_eq!(s.raw().cmd_str(&["DBSIZE"]), ":1\r\n");
}

#[test]
fn sigterm_saves_with_save_points_only() {
    let dir = DataDir::new("sigterm");
    {
        let mut s = start_in(&dir, &[]);
        assert_eq!(s.raw().cmd_str(&["SET", "k", "v"]), "+OK\r\n");
        assert!(s.terminate().expect("exits").success());
        assert!(!dir.dump().exists(), "save \"\" must not save at exit");
    }
    {
        // The built-in default save points apply without a --save.
        let mut s = Server::start_with(&["--save", "3600 1 300 100 60 10000", "--dir", dir.path()]);
        assert_eq!(s.raw().cmd_str(&["SET", "k", "v"]), "+OK\r\n");
        assert!(s.terminate().expect("exits").success());
        assert!(dir.dump().exists());
    }
    let s = start_in(&dir, &[]);
    assert_eq!(s.raw().cmd_str(&["GET", "k"]), bulk("v"));
}

#[test]
fn default_save_points_are_redis_defaults() {
    let dir = DataDir::new("defaults");
    // No --save at all: spawn directly, without the harness's `--save ""`.
    let port = common::free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrokv"))
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--dir",
            dir.path(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("ferrokv answers", || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let mut raw = Raw::connect(port);
    assert_eq!(
        raw.cmd_str(&["CONFIG", "GET", "save"]),
        "*2\r\n$4\r\nsave\r\n$23\r\n3600 1 300 100 60 10000\r\n"
    );
    assert_eq!(raw.cmd_str(&["SET", "k", "v"]), "+OK\r\n");
    raw.send(b"SHUTDOWN\r\n");
    assert!(raw.is_closed());
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "ferrokv did not exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
    assert!(dir.dump().exists());
}

#[test]
fn debug_reload_keeps_the_data() {
    let dir = DataDir::new("reload");
    let s = start_in(&dir, &[]);
    let mut raw = s.raw();
    populate(&mut raw);
    assert_eq!(raw.cmd_str(&["DEBUG", "RELOAD"]), "+OK\r\n");
    check_populated(&mut raw);
    assert_eq!(info_field(&mut raw, "rdb_changes_since_last_save"), "0");
    assert_eq!(
        raw.cmd_str(&["DEBUG", "RELOAD", "MERGE", "NOFLUSH", "x"]),
        "-ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.\r\n"
    );
    // NOSAVE loads the file as it is: later changes are dropped.
    assert_eq!(raw.cmd_str(&["SET", "str", "changed"]), "+OK\r\n");
    assert_eq!(raw.cmd_str(&["DEBUG", "RELOAD", "NOSAVE"]), "+OK\r\n");
    assert_eq!(raw.cmd_str(&["GET", "str"]), bulk("hello"));
    // Without a file to load, the data is gone and the reply says so.
    std::fs::remove_file(dir.dump()).unwrap();
    assert_eq!(
        raw.cmd_str(&["DEBUG", "RELOAD", "NOSAVE"]),
        "-ERR Error trying to load the RDB dump, check server logs.\r\n"
    );
    assert_eq!(raw.cmd_str(&["DBSIZE"]), ":0\r\n");
}

/// Makes `dir` refuse new files, even to root (immutable attribute).
fn make_unwritable(dir: &DataDir) {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let ok = if root {
        Command::new("chattr")
            .args(["+i", dir.path()])
            .status()
            .is_ok_and(|s| s.success())
    } else {
        Command::new("chmod")
            .args(["555", dir.path()])
            .status()
            .is_ok_and(|s| s.success())
    };
    assert!(ok, "cannot make {} unwritable (chattr/chmod)", dir.path());
    let probe = dir.0.join("probe");
    assert!(
        std::fs::write(&probe, b"x").is_err(),
        "{} is still writable",
        dir.path()
    );
}

fn make_writable(dir: &DataDir) {
    let _ = Command::new("chattr").args(["-i", dir.path()]).status();
    let _ = Command::new("chmod").args(["755", dir.path()]).status();
}

#[test]
fn failed_bgsave_keeps_the_old_dump_and_refuses_writes() {
    let dir = DataDir::new("misconf");
    let s = start_in(&dir, &["--save", "3600 1"]);
    let mut raw = s.raw();
    assert_eq!(raw.cmd_str(&["SET", "a", "old"]), "+OK\r\n");
    assert_eq!(raw.cmd_str(&["SAVE"]), "+OK\r\n");
    let old = std::fs::read(dir.dump()).unwrap();
    assert_eq!(raw.cmd_str(&["SET", "a", "new"]), "+OK\r\n");
    make_unwritable(&dir);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        assert_eq!(raw.cmd_str(&["BGSAVE"]), "+Background saving started\r\n");
        wait_bgsave_done(&mut raw);
        assert_eq!(info_field(&mut raw, "rdb_last_bgsave_status"), "err");
        assert_eq!(raw.cmd_str(&["SET", "a", "x"]), MISCONF);
        assert_eq!(raw.cmd_str(&["PING"]), MISCONF);
        assert_eq!(raw.cmd_str(&["GET", "a"]), bulk("new"));
        raw.send(b"MULTI\r\nSET a y\r\nEXEC\r\n");
        assert_eq!(raw.read_frame(), b"+OK\r\n");
        assert_eq!(raw.read_frame(), MISCONF.as_bytes());
        assert_eq!(
            raw.read_frame(),
            b"-EXECABORT Transaction discarded because of previous errors.\r\n"
        );
        assert_eq!(raw.cmd_str(&["SAVE"]), "-ERR\r\n");
        assert_eq!(
            raw.cmd_str(&["SHUTDOWN"]),
            "-ERR Errors trying to SHUTDOWN. Check logs.\r\n"
        );
        // Without save points nothing is refused.
        assert_eq!(raw.cmd_str(&["CONFIG", "SET", "save", ""]), "+OK\r\n");
        assert_eq!(raw.cmd_str(&["SET", "b", "1"]), "+OK\r\n");
        assert_eq!(raw.cmd_str(&["CONFIG", "SET", "save", "3600 1"]), "+OK\r\n");
        assert_eq!(raw.cmd_str(&["SET", "b", "1"]), MISCONF);
        assert_eq!(
            raw.cmd_str(&["CONFIG", "SET", "stop-writes-on-bgsave-error", "no"]),
            "+OK\r\n"
        );
        assert_eq!(raw.cmd_str(&["SET", "b", "2"]), "+OK\r\n");
        assert_eq!(
            raw.cmd_str(&["CONFIG", "SET", "stop-writes-on-bgsave-error", "yes"]),
            "+OK\r\n"
        );
    }));
    make_writable(&dir);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
    // The failed saves left the previous dump untouched, and no temp file.
    assert_eq!(std::fs::read(dir.dump()).unwrap(), old);
    assert_eq!(std::fs::read_dir(&dir.0).unwrap().count(), 1);
    // A successful save clears the error.
    assert_eq!(raw.cmd_str(&["SAVE"]), "+OK\r\n");
    assert_eq!(info_field(&mut raw, "rdb_last_bgsave_status"), "ok");
    assert_eq!(raw.cmd_str(&["SET", "c", "1"]), "+OK\r\n");
}

/// Starts ferrokv on `dir` expecting it to fail; returns its output.
fn failed_start(dir: &DataDir) -> String {
    let port = common::free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrokv"))
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .args(["--dir", dir.path()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("ferrokv started on a corrupt dump");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!status.success());
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    out
}

#[test]
fn a_corrupt_dump_stops_start_up() {
    let dir = DataDir::new("corrupt");
    {
        let s = start_in(&dir, &[]);
        let mut raw = s.raw();
        populate(&mut raw);
        assert_eq!(raw.cmd_str(&["SAVE"]), "+OK\r\n");
    }
    let good = std::fs::read(dir.dump()).unwrap();
    // A flipped byte in the middle: the checksum catches it.
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x55;
    std::fs::write(dir.dump(), &flipped).unwrap();
    let out = failed_start(&dir);
    assert!(out.contains("Fatal error loading the DB"), "{out}");
    // Truncated.
    std::fs::write(dir.dump(), &good[..good.len() - 20]).unwrap();
    let out = failed_start(&dir);
    assert!(out.contains("Fatal error loading the DB"), "{out}");
    // Not an RDB file at all.
    std::fs::write(dir.dump(), b"hello world").unwrap();
    let out = failed_start(&dir);
    assert!(out.contains("Fatal error loading the DB"), "{out}");
    // The file is left as it was.
    assert_eq!(std::fs::read(dir.dump()).unwrap(), b"hello world");
}

#[test]
fn redis_loads_our_dump() {
    let dir = DataDir::new("to-redis");
    {
        let s = start_in(&dir, &[]);
        let mut raw = s.raw();
        populate(&mut raw);
        assert_eq!(raw.cmd_str(&["BGSAVE"]), "+Background saving started\r\n");
        wait_bgsave_done(&mut raw);
        assert_eq!(info_field(&mut raw, "rdb_last_bgsave_status"), "ok");
    }
    let redis = Redis::start_in(&dir);
    check_populated(&mut redis.raw());
}

#[test]
fn we_load_a_redis_dump() {
    let dir = DataDir::new("from-redis");
    {
        let redis = Redis::start_in(&dir);
        let mut raw = redis.raw();
        populate(&mut raw);
        // Large encodings too.
        for i in 0..600 {
            let v = i.to_string();
            raw.cmd(&["RPUSH", "biglist", &v]);
            raw.cmd(&["HSET", "bighash", &v, &v]);
            raw.cmd(&["SADD", "bigset", &format!("m{v}")]);
            raw.cmd(&["ZADD", "bigzset", &v, &v]);
        }
        assert_eq!(raw.cmd_str(&["SAVE"]), "+OK\r\n");
    }
    let s = start_in(&dir, &[]);
    let mut raw = s.raw();
    for (cmd, key, encoding) in [
        ("LLEN", "biglist", "quicklist"),
        ("HLEN", "bighash", "hashtable"),
        ("SCARD", "bigset", "hashtable"),
        ("ZCARD", "bigzset", "skiplist"),
    ] {
        assert_eq!(raw.cmd_str(&[cmd, key]), ":600\r\n");
        assert_eq!(raw.cmd_str(&["OBJECT", "ENCODING", key]), bulk(encoding));
    }
    assert_eq!(raw.cmd_str(&["LINDEX", "biglist", "299"]), bulk("299"));
    assert_eq!(raw.cmd_str(&["HGET", "bighash", "150"]), bulk("150"));
    assert_eq!(raw.cmd_str(&["SISMEMBER", "bigset", "m42"]), ":1\r\n");
    assert_eq!(raw.cmd_str(&["ZSCORE", "bigzset", "77"]), bulk("77"));
    assert_eq!(
        raw.cmd_str(&["DEL", "biglist", "bighash", "bigset", "bigzset"]),
        ":4\r\n"
    );
    check_populated(&mut raw);
}

#[test]
fn save_points_retry_a_failed_save_after_five_seconds() {
    let dir = DataDir::new("retry");
    let s = start_in(&dir, &["--save", "1 1"]);
    let mut raw = s.raw();
    make_unwritable(&dir);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        assert_eq!(raw.cmd_str(&["SET", "a", "1"]), "+OK\r\n");
        wait_until("the save point's first attempt fails", || {
            info_field(&mut raw, "rdb_saves") == "1"
                && info_field(&mut raw, "rdb_last_bgsave_status") == "err"
        });
        let failed_at = Instant::now();
        std::thread::sleep(Duration::from_secs(3));
        assert_eq!(info_field(&mut raw, "rdb_saves"), "1", "retried too early");
        wait_until("the save point retries", || {
            info_field(&mut raw, "rdb_saves") == "2"
        });
        assert!(failed_at.elapsed() >= Duration::from_secs(4));
    }));
    make_writable(&dir);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
    // Once the disk works again, the next retry succeeds.
    wait_until("a retry succeeds", || {
        info_field(&mut raw, "rdb_last_bgsave_status") == "ok"
    });
    assert!(dir.dump().exists());
}

/// Function libraries travel in the dump (`FUNCTION2` records): after a
/// restart FCALL works, and a real redis-server loads them from our file.
#[test]
fn function_libraries_are_saved_in_the_dump() {
    let dir = DataDir::new("functions");
    let lib = "#!lua name=kept\nredis.register_function('add', function(keys, args) return args[1] + args[2] end)";
    {
        let s = start_in(&dir, &[]);
        let mut raw = s.raw();
        assert_eq!(raw.cmd_str(&["FUNCTION", "LOAD", lib]), "$4\r\nkept\r\n");
        assert_eq!(info_field(&mut raw, "rdb_changes_since_last_save"), "1");
        assert_eq!(raw.cmd_str(&["SAVE"]), "+OK\r\n");
    }
    {
        let s = start_in(&dir, &[]);
        let mut raw = s.raw();
        assert_eq!(raw.cmd_str(&["FCALL", "add", "0", "2", "3"]), ":5\r\n");
    }
    let redis = Redis::start_in(&dir);
    let mut raw = redis.raw();
    assert_eq!(raw.cmd_str(&["FCALL", "add", "0", "20", "22"]), ":42\r\n");
}
