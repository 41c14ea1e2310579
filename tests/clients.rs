//! Real client libraries against ferrokv: node-redis and ioredis (Node),
//! redis-py 5.x and the current redis-py (Python), each in its default
//! protocol mode and in the other one. The programs live in
//! `tests/clients/`; `tests/clients/install.sh` (run by `.ci/run`)
//! installs the libraries under `target/clients/`.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::Server;

/// Longest a client program may run.
const PROGRAM_TIMEOUT: Duration = Duration::from_secs(60);

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A client program and the library install it needs.
struct Program {
    interpreter: &'static str,
    script: &'static str,
    /// Where its library is installed, relative to `target/clients`.
    libs: &'static str,
    /// Environment variable that points the interpreter at `libs`.
    path_var: &'static str,
    /// The flag that selects the protocol mode.
    mode_flag: &'static str,
}

const NODE_REDIS: Program = Program {
    interpreter: "node",
    script: "node_redis.cjs",
    libs: "node/node_modules",
    path_var: "NODE_PATH",
    mode_flag: "--resp",
};

const IOREDIS: Program = Program {
    interpreter: "node",
    script: "ioredis.cjs",
    libs: "node/node_modules",
    path_var: "NODE_PATH",
    mode_flag: "--resp",
};

const REDIS_PY5: Program = Program {
    interpreter: "python3",
    script: "redis_py.py",
    libs: "py-redis5",
    path_var: "PYTHONPATH",
    mode_flag: "--protocol",
};

const REDIS_PY_LATEST: Program = Program {
    interpreter: "python3",
    script: "redis_py.py",
    libs: "py-redis-latest",
    path_var: "PYTHONPATH",
    mode_flag: "--protocol",
};

/// Runs `program` against `port` in protocol `mode`; panics with its
/// output unless it exits 0 within [`PROGRAM_TIMEOUT`].
fn run(program: &Program, mode: &str, port: u16) {
    let libs: PathBuf = root().join("target/clients").join(program.libs);
    assert!(
        libs.is_dir(),
        "client library missing: {} does not exist. Install the client libraries with \
         `bash tests/clients/install.sh` (.ci/run does this).",
        libs.display()
    );
    let script = root().join("tests/clients").join(program.script);
    let mut child = Command::new(program.interpreter)
        .arg(&script)
        .args(["--port", &port.to_string(), program.mode_flag, mode])
        .env(program.path_var, &libs)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.interpreter));
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
    let what = format!("{} {} {mode}", program.interpreter, program.script);
    match status {
        Some(s) if s.success() => print!("{out}"),
        Some(s) => panic!("{what} failed ({s}):\n{out}{err}"),
        None => panic!("{what} did not finish within {PROGRAM_TIMEOUT:?}:\n{out}{err}"),
    }
}

/// Runs `program` against a fresh ferrokv.
fn against_ferrokv(program: &Program, mode: &str) {
    let server = Server::start();
    run(program, mode, server.port);
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["PING"]), b"+PONG\r\n", "server unwell afterwards");
}

#[test]
fn node_redis_default_resp3() {
    against_ferrokv(&NODE_REDIS, "default");
}

#[test]
fn node_redis_resp2() {
    against_ferrokv(&NODE_REDIS, "2");
}

#[test]
fn ioredis_default_resp3() {
    against_ferrokv(&IOREDIS, "default");
}

#[test]
fn ioredis_resp2() {
    against_ferrokv(&IOREDIS, "2");
}

#[test]
fn redis_py5_default_resp2() {
    against_ferrokv(&REDIS_PY5, "default");
}

#[test]
fn redis_py5_resp3() {
    against_ferrokv(&REDIS_PY5, "3");
}

#[test]
fn redis_py_latest_default_resp3() {
    against_ferrokv(&REDIS_PY_LATEST, "default");
}

#[test]
fn redis_py_latest_resp2() {
    against_ferrokv(&REDIS_PY_LATEST, "2");
}

/// The control: the same programs pass against the real redis-server, so
/// a failure above is ferrokv's.
#[test]
fn programs_pass_against_redis_server() {
    let redis = Server::start_redis();
    for program in [&NODE_REDIS, &IOREDIS, &REDIS_PY5, &REDIS_PY_LATEST] {
        for mode in ["default", "2", "3"] {
            run(program, mode, redis.port);
        }
    }
}
