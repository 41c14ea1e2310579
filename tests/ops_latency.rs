//! SLOWLOG, LATENCY and INFO latencystats.

mod common;

use redis::Value;

fn ints(v: &Value) -> i64 {
    match v {
        Value::Int(n) => *n,
        other => panic!("not an integer: {other:?}"),
    }
}

fn bytes(v: &Value) -> Vec<u8> {
    match v {
        Value::BulkString(b) => b.clone(),
        other => panic!("not a bulk string: {other:?}"),
    }
}

fn items(v: &Value) -> &[Value] {
    match v {
        Value::Array(a) => a,
        other => panic!("not an array: {other:?}"),
    }
}

fn config_set(con: &mut redis::Connection, name: &str, value: &str) {
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg(name)
        .arg(value)
        .query(con)
        .unwrap();
}

#[test]
fn slowlog_records_every_command_with_redis_entry_shape() {
    let s = common::Server::start();
    let mut con = s.client();
    config_set(&mut con, "slowlog-log-slower-than", "0");
    let _: () = redis::cmd("SLOWLOG").arg("RESET").query(&mut con).unwrap();
    let _: () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("me")
        .query(&mut con)
        .unwrap();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut con).unwrap();
    let log: Value = redis::cmd("SLOWLOG").arg("GET").query(&mut con).unwrap();
    let entries = items(&log);
    // SET, CLIENT SETNAME and SLOWLOG RESET itself, newest first.
    assert_eq!(entries.len(), 3);
    let set = items(&entries[0]);
    assert_eq!(set.len(), 6);
    let reset_id = ints(&items(&entries[2])[0]);
    assert_eq!(ints(&set[0]), reset_id + 2);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((ints(&set[1]) - now).abs() <= 2);
    assert!(ints(&set[2]) >= 0);
    let args: Vec<Vec<u8>> = items(&set[3]).iter().map(bytes).collect();
    assert_eq!(args, vec![b"SET".to_vec(), b"k".to_vec(), b"v".to_vec()]);
    assert!(String::from_utf8(bytes(&set[4]))
        .unwrap()
        .starts_with("127.0.0.1:"));
    assert_eq!(bytes(&set[5]), b"me");
    assert_eq!(bytes(&items(&entries[2])[5]), b"");

    // GET count, LEN, RESET (which logs itself afterwards).
    let two: Value = redis::cmd("SLOWLOG")
        .arg("GET")
        .arg(2)
        .query(&mut con)
        .unwrap();
    assert_eq!(items(&two).len(), 2);
    let none: Value = redis::cmd("SLOWLOG")
        .arg("GET")
        .arg(0)
        .query(&mut con)
        .unwrap();
    assert!(items(&none).is_empty());
    let len: i64 = redis::cmd("SLOWLOG").arg("LEN").query(&mut con).unwrap();
    assert_eq!(len, 6);
    let _: () = redis::cmd("SLOWLOG").arg("RESET").query(&mut con).unwrap();
    let len: i64 = redis::cmd("SLOWLOG").arg("LEN").query(&mut con).unwrap();
    assert_eq!(len, 1);
}

#[test]
fn slowlog_truncates_long_arguments_and_argument_lists() {
    let s = common::Server::start();
    let mut con = s.client();
    config_set(&mut con, "slowlog-log-slower-than", "0");
    let long = "x".repeat(200);
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg(&long)
        .query(&mut con)
        .unwrap();
    let mut sadd = redis::cmd("SADD");
    sadd.arg("s");
    for i in 0..50 {
        sadd.arg(i);
    }
    let _: i64 = sadd.query(&mut con).unwrap();
    let log: Value = redis::cmd("SLOWLOG")
        .arg("GET")
        .arg(2)
        .query(&mut con)
        .unwrap();
    let entries = items(&log);
    let sadd_args: Vec<Vec<u8>> = items(&items(&entries[0])[3]).iter().map(bytes).collect();
    assert_eq!(sadd_args.len(), 32);
    assert_eq!(sadd_args[30], b"28");
    assert_eq!(sadd_args[31], b"... (21 more arguments)");
    let set_args: Vec<Vec<u8>> = items(&items(&entries[1])[3]).iter().map(bytes).collect();
    let mut expected = "x".repeat(128).into_bytes();
    expected.extend_from_slice(b"... (72 more bytes)");
    assert_eq!(set_args[2], expected);
}

#[test]
fn slowlog_keeps_at_most_max_len_and_honours_the_threshold() {
    let s = common::Server::start();
    let mut con = s.client();
    config_set(&mut con, "slowlog-max-len", "3");
    config_set(&mut con, "slowlog-log-slower-than", "0");
    for i in 0..10 {
        let _: () = redis::cmd("SET").arg("k").arg(i).query(&mut con).unwrap();
    }
    let len: i64 = redis::cmd("SLOWLOG").arg("LEN").query(&mut con).unwrap();
    assert_eq!(len, 3);
    let log: Value = redis::cmd("SLOWLOG")
        .arg("GET")
        .arg(-1)
        .query(&mut con)
        .unwrap();
    assert_eq!(items(&log).len(), 3);
    // A high threshold logs nothing; EXEC itself is never logged.
    config_set(&mut con, "slowlog-log-slower-than", "100000000");
    let _: () = redis::cmd("SLOWLOG").arg("RESET").query(&mut con).unwrap();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut con).unwrap();
    let len: i64 = redis::cmd("SLOWLOG").arg("LEN").query(&mut con).unwrap();
    assert_eq!(len, 0);
    config_set(&mut con, "slowlog-log-slower-than", "0");
    let _: () = redis::cmd("SLOWLOG").arg("RESET").query(&mut con).unwrap();
    let mut raw = s.raw();
    raw.cmd(&["MULTI"]);
    raw.cmd(&["SET", "k", "v"]);
    raw.cmd(&["EXEC"]);
    let log: Value = redis::cmd("SLOWLOG").arg("GET").query(&mut con).unwrap();
    let names: Vec<Vec<u8>> = items(&log)
        .iter()
        .map(|e| bytes(&items(&items(e)[3])[0]))
        .collect();
    assert_eq!(
        names,
        vec![b"SET".to_vec(), b"MULTI".to_vec(), b"SLOWLOG".to_vec()]
    );
}

#[test]
fn latency_monitor_records_slow_commands() {
    let s = common::Server::start();
    let mut raw = s.raw();
    assert_eq!(raw.cmd(&["LATENCY", "LATEST"]), b"*0\r\n");
    assert_eq!(
        raw.cmd(&["CONFIG", "SET", "latency-monitor-threshold", "10"]),
        b"+OK\r\n"
    );
    raw.cmd(&["DEBUG", "SLEEP", "0.05"]);
    let mut con = s.client();
    let latest: Value = redis::cmd("LATENCY").arg("LATEST").query(&mut con).unwrap();
    let latest = items(&latest);
    assert_eq!(latest.len(), 1);
    let event = items(&latest[0]);
    assert_eq!(bytes(&event[0]), b"command");
    assert!(ints(&event[2]) >= 50);
    assert!(ints(&event[3]) >= 50);
    let history: Value = redis::cmd("LATENCY")
        .arg("HISTORY")
        .arg("command")
        .query(&mut con)
        .unwrap();
    let history = items(&history);
    assert_eq!(history.len(), 1);
    assert_eq!(ints(&items(&history[0])[0]), ints(&event[1]));
    assert!(ints(&items(&history[0])[1]) >= 50);
    let doctor = raw.cmd_str(&["LATENCY", "DOCTOR"]);
    assert!(doctor.contains("1. command: 1 latency spikes"), "{doctor}");
    assert_eq!(raw.cmd(&["LATENCY", "RESET", "command"]), b":1\r\n");
    assert_eq!(raw.cmd(&["LATENCY", "LATEST"]), b"*0\r\n");
    assert_eq!(raw.cmd(&["LATENCY", "HISTORY", "command"]), b"*0\r\n");
}

#[test]
fn latency_histogram_shape() {
    let s = common::Server::start();
    let mut raw = s.raw();
    raw.cmd(&["SET", "a", "b"]);
    raw.cmd(&["SET", "a", "c"]);
    raw.cmd(&["CONFIG", "SET", "latency-tracking", "yes"]);
    let reply = raw.cmd(&["LATENCY", "HISTOGRAM", "set", "nosuch"]);
    let text = String::from_utf8_lossy(&reply).to_string();
    assert!(
        text.starts_with(
            "*2\r\n$3\r\nset\r\n*4\r\n$5\r\ncalls\r\n:2\r\n$14\r\nhistogram_usec\r\n*"
        ),
        "{text}"
    );
    // Buckets are powers of two with cumulative counts ending at calls.
    assert!(text.ends_with(":2\r\n"), "{text}");
    let reply = raw.cmd(&["LATENCY", "HISTOGRAM", "config"]);
    assert!(String::from_utf8_lossy(&reply).starts_with("*2\r\n$10\r\nconfig|set\r\n"));
    raw.cmd(&["HELLO", "3"]);
    let reply = raw.cmd_str(&["LATENCY", "HISTOGRAM", "set"]);
    assert!(
        reply.starts_with(
            "%1\r\n$3\r\nset\r\n%2\r\n$5\r\ncalls\r\n:2\r\n$14\r\nhistogram_usec\r\n%"
        ),
        "{reply}"
    );
    // Without tracking nothing more is recorded.
    raw.cmd(&["CONFIG", "SET", "latency-tracking", "no"]);
    raw.cmd(&["SET", "a", "d"]);
    let reply = raw.cmd_str(&["LATENCY", "HISTOGRAM", "set"]);
    assert!(reply.contains(":2\r\n"), "{reply}");
}

#[test]
fn info_latencystats_reports_percentiles() {
    let s = common::Server::start();
    let mut con = s.client();
    for _ in 0..20 {
        let _: () = redis::cmd("SET").arg("a").arg("b").query(&mut con).unwrap();
    }
    let default: String = redis::cmd("INFO").query(&mut con).unwrap();
    assert!(!default.contains("# Latencystats"));
    let all: String = redis::cmd("INFO").arg("all").query(&mut con).unwrap();
    assert!(all.contains("# Latencystats"));
    let info: String = redis::cmd("INFO")
        .arg("latencystats")
        .query(&mut con)
        .unwrap();
    let line = info
        .lines()
        .find(|l| l.starts_with("latency_percentiles_usec_set:"))
        .unwrap_or_else(|| panic!("{info}"));
    let values: Vec<(String, f64)> = line["latency_percentiles_usec_set:".len()..]
        .split(',')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect();
    let names: Vec<&str> = values.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, vec!["p50", "p99", "p99.9"]);
    assert!(values[0].1 > 0.0 && values[0].1 <= values[1].1 && values[1].1 <= values[2].1);
    config_set(&mut con, "latency-tracking-info-percentiles", "90");
    let info: String = redis::cmd("INFO")
        .arg("latencystats")
        .query(&mut con)
        .unwrap();
    assert!(info.contains("latency_percentiles_usec_set:p90="), "{info}");
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query(&mut con)
        .unwrap();
    let info: String = redis::cmd("INFO")
        .arg("latencystats")
        .query(&mut con)
        .unwrap();
    assert!(!info.contains("latency_percentiles_usec_set:"), "{info}");
}
