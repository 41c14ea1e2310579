//! Scripts real libraries run, against ferrokv and (as the control that the
//! programs themselves are right) against the real redis-server:
//! - BullMQ (Node, `tests/clients/bullmq.cjs`): its Lua scripts add,
//!   process, retry and delay jobs; installed by `tests/clients/install.sh`.
//! - The standard Redlock release script, through the redis crate's
//!   `Script` (EVALSHA with the NOSCRIPT fallback to EVAL).
//! - A sliding-window rate limiter (ZREMRANGEBYSCORE/ZCARD/ZADD/PEXPIRE).

mod common;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::Server;

/// Longest the BullMQ program may run.
const PROGRAM_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `tests/clients/bullmq.cjs` against `port`; panics with its output
/// unless it exits 0 in time.
fn run_bullmq(port: u16) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let libs = root.join("target/clients/node/node_modules");
    assert!(
        libs.join("bullmq").is_dir(),
        "BullMQ missing under {}. Install the client libraries with \
         `bash tests/clients/install.sh` (.ci/run does this).",
        libs.display()
    );
    let mut child = Command::new("node")
        .arg(root.join("tests/clients/bullmq.cjs"))
        .args(["--port", &port.to_string()])
        .env("NODE_PATH", &libs)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run node: {e}"));
    let drain = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
    let deadline = Instant::now() + PROGRAM_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(50));
    };
    let out = stdout.join().unwrap_or_default();
    let err = stderr.join().unwrap_or_default();
    match status {
        Some(s) if s.success() => print!("{out}"),
        Some(s) => panic!("bullmq.cjs failed ({s}):\n{out}{err}"),
        None => panic!("bullmq.cjs did not finish within {PROGRAM_TIMEOUT:?}:\n{out}{err}"),
    }
}

#[test]
fn bullmq_against_ferrokv() {
    let server = Server::start();
    run_bullmq(server.port);
    assert_eq!(
        server.raw().cmd(&["PING"]),
        b"+PONG\r\n",
        "server unwell afterwards"
    );
}

#[test]
fn bullmq_against_redis_server() {
    let redis = Server::start_redis();
    run_bullmq(redis.port);
}

/// The release script from the Redlock algorithm description: delete the
/// lock only if it still holds our token.
const REDLOCK_RELEASE: &str = r#"if redis.call("get",KEYS[1]) == ARGV[1] then
    return redis.call("del",KEYS[1])
else
    return 0
end"#;

fn redlock(server: &Server) {
    let mut con = server.client();
    let release = redis::Script::new(REDLOCK_RELEASE);
    // The cache may hold the script from an earlier run: start without it
    // so the first call takes the NOSCRIPT -> EVAL path.
    redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query::<()>(&mut con)
        .expect("SCRIPT FLUSH");
    let acquired: Option<String> = redis::cmd("SET")
        .arg("resource")
        .arg("token-a")
        .arg("NX")
        .arg("PX")
        .arg(10_000)
        .query(&mut con)
        .expect("SET NX PX");
    assert_eq!(acquired.as_deref(), Some("OK"));
    let again: Option<String> = redis::cmd("SET")
        .arg("resource")
        .arg("token-b")
        .arg("NX")
        .arg("PX")
        .arg(10_000)
        .query(&mut con)
        .expect("second SET NX");
    assert_eq!(again, None, "the lock is held");

    let wrong: i64 = release
        .key("resource")
        .arg("token-b")
        .invoke(&mut con)
        .expect("release with the wrong token");
    assert_eq!(wrong, 0);
    let holder: Option<String> = redis::cmd("GET")
        .arg("resource")
        .query(&mut con)
        .expect("GET");
    assert_eq!(
        holder.as_deref(),
        Some("token-a"),
        "a wrong token keeps the lock"
    );

    let right: i64 = release
        .key("resource")
        .arg("token-a")
        .invoke(&mut con)
        .expect("release with the right token");
    assert_eq!(right, 1);
    let exists: i64 = redis::cmd("EXISTS")
        .arg("resource")
        .query(&mut con)
        .expect("EXISTS");
    assert_eq!(exists, 0, "released");
    let twice: i64 = release
        .key("resource")
        .arg("token-a")
        .invoke(&mut con)
        .expect("release twice");
    assert_eq!(twice, 0);

    // The cached script answers EVALSHA by its SHA1 directly.
    let by_sha: i64 = redis::cmd("EVALSHA")
        .arg(release.get_hash())
        .arg(1)
        .arg("resource")
        .arg("token-a")
        .query(&mut con)
        .expect("EVALSHA");
    assert_eq!(by_sha, 0);
    let exists: Vec<i64> = redis::cmd("SCRIPT")
        .arg("EXISTS")
        .arg(release.get_hash())
        .query(&mut con)
        .expect("SCRIPT EXISTS");
    assert_eq!(exists, vec![1]);
}

#[test]
fn redlock_release_against_ferrokv() {
    redlock(&Server::start());
}

#[test]
fn redlock_release_against_redis_server() {
    redlock(&Server::start_redis());
}

/// Sliding-window limiter: drop entries older than the window, count the
/// rest, admit while under the limit (recording the request and keeping
/// the key alive for one window). Returns {allowed, remaining}.
const RATE_LIMIT: &str = r#"
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
if count < limit then
    redis.call('ZADD', key, now, ARGV[4])
    redis.call('PEXPIRE', key, window)
    return {1, limit - count - 1}
end
return {0, 0}
"#;

fn rate_limiter(server: &Server) {
    let mut con = server.client();
    let limiter = redis::Script::new(RATE_LIMIT);
    let mut request = |now: i64, id: &str| -> Vec<i64> {
        limiter
            .key("rate:user:1")
            .arg(now)
            .arg(1000)
            .arg(3)
            .arg(id)
            .invoke(&mut con)
            .expect("rate limiter")
    };
    // Three requests fit in the window, the fourth and fifth do not.
    assert_eq!(request(10, "r1"), vec![1, 2]);
    assert_eq!(request(20, "r2"), vec![1, 1]);
    assert_eq!(request(30, "r3"), vec![1, 0]);
    assert_eq!(request(40, "r4"), vec![0, 0]);
    assert_eq!(request(1009, "r5"), vec![0, 0]);
    // At 1010 the request from 10 has left the window.
    assert_eq!(request(1010, "r6"), vec![1, 0]);
    assert_eq!(request(1015, "r7"), vec![0, 0]);
    // Much later everything has expired from the window.
    assert_eq!(request(5000, "r8"), vec![1, 2]);

    let mut con = server.client();
    let members: Vec<String> = redis::cmd("ZRANGE")
        .arg("rate:user:1")
        .arg(0)
        .arg(-1)
        .query(&mut con)
        .expect("ZRANGE");
    assert_eq!(members, vec!["r8".to_string()]);
    let pttl: i64 = redis::cmd("PTTL")
        .arg("rate:user:1")
        .query(&mut con)
        .expect("PTTL");
    assert!((1..=1000).contains(&pttl), "PEXPIRE set one window: {pttl}");
}

#[test]
fn rate_limiter_against_ferrokv() {
    rate_limiter(&Server::start());
}

#[test]
fn rate_limiter_against_redis_server() {
    rate_limiter(&Server::start_redis());
}
