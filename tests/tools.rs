//! Redis's own command-line tools against ferrokv: redis-cli (commands,
//! `--scan`, `--stat`, `--latency`, `--pipe`, `--bigkeys`, `--memkeys`, `info`)
//! and redis-benchmark.

mod common;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Runs a tool with a bounded wait; panics with a clear message when the
/// tool is missing (`.ci/run` installs redis-tools).
fn run(program: &str, args: &[String]) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e} (install redis-tools)"));
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{program} did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

fn cli(port: u16, args: &[&str]) -> String {
    let mut all = vec!["-p".to_string(), port.to_string()];
    all.extend(args.iter().map(|s| s.to_string()));
    let out = run("redis-cli", &all);
    assert!(out.status.success(), "redis-cli {args:?} failed: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn redis_cli_commands_scan_and_info() {
    let s = common::Server::start();
    assert_eq!(cli(s.port, &["PING"]), "PONG\n");
    assert_eq!(cli(s.port, &["SET", "greeting", "hello world"]), "OK\n");
    assert_eq!(cli(s.port, &["GET", "greeting"]), "hello world\n");
    assert_eq!(cli(s.port, &["INCRBY", "n", "41"]), "41\n");
    let mut con = s.client();
    for i in 0..2500 {
        let _: () = redis::cmd("SET")
            .arg(format!("user:{i}"))
            .arg(i)
            .query(&mut con)
            .unwrap();
    }
    let scanned = cli(s.port, &["--scan", "--pattern", "user:*"]);
    let mut keys: Vec<&str> = scanned.lines().collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), 2500);
    let info = cli(s.port, &["info"]);
    assert!(info.contains("redis_version:7.0.15"), "{info}");
    assert!(info.contains("db0:keys=2502,expires=0"), "{info}");
    let stdin_cmds = run(
        "bash",
        &[
            "-c".into(),
            format!(
                "printf 'SET a 1\\nINCR a\\nGET a\\n' | redis-cli -p {}",
                s.port
            ),
        ],
    );
    assert_eq!(String::from_utf8_lossy(&stdin_cmds.stdout), "OK\n2\n2\n");
}

#[test]
fn redis_benchmark_runs_without_errors() {
    let s = common::Server::start();
    let out = run(
        "redis-benchmark",
        &[
            "-p",
            &s.port.to_string(),
            "-t",
            "set,get,incr,mset",
            "-P",
            "16",
            "-n",
            "20000",
            "--csv",
        ]
        .map(String::from),
    );
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    for test in ["\"SET\"", "\"GET\"", "\"INCR\"", "\"MSET (10 keys)\""] {
        assert!(
            text.lines().any(|l| l.starts_with(test)),
            "no {test} result in: {text}"
        );
    }
    assert!(!text.to_lowercase().contains("error"), "{text}");
    let mut con = s.client();
    let counter: i64 = redis::cmd("GET")
        .arg("counter:__rand_int__")
        .query(&mut con)
        .unwrap();
    assert_eq!(counter, 20000);
}

#[test]
fn redis_cli_pipe_bigkeys_and_memkeys() {
    let s = common::Server::start();
    let mut input = Vec::new();
    for i in 0..100_000 {
        let key = format!("key:{i:07}");
        input.extend(common::encode(&[b"SET", key.as_bytes(), b"value"]));
    }
    for i in 0..50 {
        input.extend(common::encode(&[
            b"RPUSH",
            b"biglist",
            format!("item{i}").as_bytes(),
        ]));
        input.extend(common::encode(&[
            b"HSET",
            b"bighash",
            format!("f{i}").as_bytes(),
            b"v",
        ]));
    }
    let path = s.dir.join("mass.resp");
    std::fs::write(&path, &input).unwrap();
    let piped = run(
        "bash",
        &[
            "-c".into(),
            format!("redis-cli -p {} --pipe < {}", s.port, path.display()),
        ],
    );
    let text = String::from_utf8_lossy(&piped.stdout);
    assert!(text.contains("errors: 0, replies: 100100"), "{text}");
    assert_eq!(cli(s.port, &["DBSIZE"]), "100002\n");
    let big = cli(s.port, &["--bigkeys"]);
    assert!(
        big.contains("Biggest   list found '\"biglist\"' has 50 items"),
        "{big}"
    );
    assert!(big.contains("100000 strings with"), "{big}");
    let mem = cli(s.port, &["--memkeys"]);
    assert!(
        mem.contains("Biggest   hash found '\"bighash\"' has"),
        "{mem}"
    );
    assert!(mem.contains("1 lists with"), "{mem}");
}

/// `redis-cli --stat` prints its header and one line per interval from
/// INFO; `--latency --raw` prints one "min max avg samples" line.
#[test]
fn redis_cli_stat_and_latency_modes() {
    let s = common::Server::start();
    let mut con = s.client();
    for i in 0..100 {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(i)
            .query(&mut con)
            .unwrap();
    }
    // --stat never exits by itself: line-buffer it and stop it after a while.
    let stat = run(
        "bash",
        &[
            "-c".into(),
            format!(
                "timeout 2 stdbuf -oL redis-cli -p {} --stat -i 0.3 || true",
                s.port
            ),
        ],
    );
    let stat = String::from_utf8_lossy(&stat.stdout);
    let lines: Vec<&str> = stat.lines().collect();
    assert!(lines.len() >= 4, "{stat}");
    assert!(
        lines[0].contains("data") && lines[0].contains("load"),
        "{stat}"
    );
    assert!(lines[1].starts_with("keys"), "{stat}");
    assert!(lines[2].starts_with("100 "), "{stat}");
    let latency = cli(s.port, &["--latency", "--raw", "-i", "1"]);
    let fields: Vec<f64> = latency
        .split_whitespace()
        .map(|f| f.parse().expect("a number"))
        .collect();
    assert_eq!(fields.len(), 4, "{latency}");
    assert!(fields[3] > 0.0, "no samples: {latency}");
    assert!(
        fields[0] <= fields[2] && fields[2] <= fields[1],
        "{latency}"
    );
}
