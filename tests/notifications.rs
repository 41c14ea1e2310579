//! Keyspace notifications (`notify-keyspace-events`): the exact events a
//! sequence of commands publishes, compared with a real redis-server, plus
//! active expiry, class filtering and the directive itself.

mod common;

use std::time::{Duration, Instant};

use common::{Raw, Server};

/// The bulk strings of a push frame (`*N` of `$len` items).
fn bulks(frame: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(frame);
    let mut lines = text.split("\r\n");
    let mut items = Vec::new();
    lines.next();
    while let Some(header) = lines.next() {
        if header.starts_with('$') {
            items.push(lines.next().unwrap_or_default().to_string());
        }
    }
    items
}

/// A command connection plus a subscriber to every keyspace channel and
/// to a sentinel channel that marks the end of each command's events.
struct Watcher {
    cmd: Raw,
    sub: Raw,
    marks: u64,
}

impl Watcher {
    fn new(port: u16, flags: &str) -> Watcher {
        let mut cmd = Raw::connect(port);
        assert_eq!(cmd.cmd(&["FLUSHALL"]), b"+OK\r\n");
        let set = cmd.cmd(&["CONFIG", "SET", "notify-keyspace-events", flags]);
        assert_eq!(set, b"+OK\r\n");
        let mut sub = Raw::connect(port);
        sub.cmd(&["PSUBSCRIBE", "__key*__:*"]);
        sub.cmd(&["SUBSCRIBE", "zz-sentinel"]);
        Watcher { cmd, sub, marks: 0 }
    }

    /// Runs a command; returns its reply and the `(channel, message)`
    /// pairs it published.
    fn run(&mut self, args: &[&str]) -> (Vec<u8>, Vec<(String, String)>) {
        let reply = self.cmd.cmd(args);
        (reply, self.events())
    }

    /// The events published since the last call.
    fn events(&mut self) -> Vec<(String, String)> {
        self.marks += 1;
        let mark = self.marks.to_string();
        self.cmd.cmd(&["PUBLISH", "zz-sentinel", &mark]);
        let mut events = Vec::new();
        loop {
            let items = bulks(&self.sub.read_frame());
            match items.first().map(String::as_str) {
                Some("pmessage") => events.push((items[2].clone(), items[3].clone())),
                Some("message") if items[2] == mark => return events,
                _ => panic!("unexpected frame {items:?}"),
            }
        }
    }
}

/// Commands across the types, with Redis's event names to reproduce:
/// `new` before the command's event, `expired` and `keymiss` from
/// lookups, deletions of emptied keys, RENAME/COPY/MOVE.
const SCRIPT: &str = "
SET a 1
SET a 2
SET a 3 GET
SET b 1 EX 100
SETEX c 100 x
SETNX d 1
SETNX d 2
MSET e 1 f 2
MSETNX g 1 h 2
GETSET a 5
GETDEL a
GETDEL a
GET nokey
MGET nokey b
GETEX b EX 200
GETEX b PERSIST
GETEX b PX 1
@sleep 10
GET b
EXISTS b
APPEND s x
SETRANGE s 5 z
SETRANGE s2 0 \"\"
INCR i
DECRBY i 2
INCRBYFLOAT fl 1.5
STRLEN nokey
SET t 1
EXPIRE t 100
EXPIREAT t 1
SET t 1 EX 100
PERSIST t
TTL nokey
TYPE nokey
RENAME t t2
SET t3 x
RENAME t2 t3
RENAMENX t3 t4
COPY t4 t5
COPY t4 t5 REPLACE
MOVE t5 1
DEL t4 t5 nokey
LPUSH l a b c
RPUSHX nol x
LPOP l 2
LINSERT l BEFORE a x
LSET l 0 y
LREM l 1 y
LTRIM l 0 0
LPOP l
RPUSH l a b c
LMOVE l l2 LEFT RIGHT
RPOPLPUSH l l2
LMOVE l l2 LEFT LEFT
LMPOP 1 l2 LEFT COUNT 1
LRANGE nokey 0 -1
SADD s1 a b c
SREM s1 a
SMOVE s1 s2 b
SMOVE s1 s2 c
SADD s3 1 2 3
SINTERSTORE s4 s3 s3
SUNIONSTORE s5 s3 nokey
SDIFFSTORE s5 s3 s3
SINTERSTORE s9 nokey s4
SMEMBERS nokey
HSET h a 1 b 2
HSETNX h d 9
HINCRBY h a 1
HINCRBYFLOAT h a 1.5
HDEL h a b d
HGET nokey a
ZADD z 1 a 2 b 3 c
ZINCRBY z 1 a
ZADD z INCR 1 b
ZREM z a
ZREMRANGEBYSCORE z 0 0
ZREMRANGEBYRANK z 5 6
ZPOPMIN z
ZMPOP 1 z MAX
ZADD z1 1 a 2 b
ZUNIONSTORE z2 1 z1
ZINTERSTORE z3 2 z1 nokey
ZDIFFSTORE z4 1 z1
ZRANGESTORE z5 z1 0 -1
ZRANGESTORE z5 z1 5 6
ZSCORE nokey a
ZRANGE nokey 0 -1
RPUSH srt 3 1 2
SORT srt STORE srt2
SORT nokey STORE srt2
SORT srt BY nosuch_* GET nosuch_*
LCS nokey srt
SET e1 1 PX 1
@sleep 5
SET e1 2
SET e3 1 PX 1
@sleep 5
EXPIRE e3 10
";

/// `(channel, message)` pairs published by one command.
type Events = Vec<(String, String)>;

fn run_script(port: u16) -> Vec<(String, Vec<u8>, Events)> {
    let mut w = Watcher::new(port, "KEAmn");
    let mut out = Vec::new();
    for line in SCRIPT.lines().filter(|l| !l.is_empty()) {
        if let Some(ms) = line.strip_prefix("@sleep ") {
            std::thread::sleep(Duration::from_millis(ms.parse().unwrap()));
            continue;
        }
        let args: Vec<&str> = line
            .split_whitespace()
            .map(|a| if a == "\"\"" { "" } else { a })
            .collect();
        let (reply, events) = w.run(&args);
        out.push((line.to_string(), reply, events));
    }
    out
}

#[test]
fn events_match_redis() {
    let ferro = Server::start();
    let redis = Server::start_redis();
    let ours = run_script(ferro.port);
    let theirs = run_script(redis.port);
    let mut diffs = Vec::new();
    for ((line, r1, e1), (_, r2, e2)) in ours.iter().zip(&theirs) {
        if r1 != r2 || e1 != e2 {
            diffs.push(format!(
                "{line}\n  ferrokv: {:?} {e1:?}\n  redis:   {:?} {e2:?}",
                String::from_utf8_lossy(r1),
                String::from_utf8_lossy(r2)
            ));
        }
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(c, m)| (c.to_string(), m.to_string()))
        .collect()
}

#[test]
fn new_key_then_set_on_both_channels() {
    let s = Server::start();
    let mut w = Watcher::new(s.port, "KEAn");
    let (reply, events) = w.run(&["SET", "k", "v"]);
    assert_eq!(reply, b"+OK\r\n");
    assert_eq!(
        events,
        pairs(&[
            ("__keyspace@0__:k", "new"),
            ("__keyevent@0__:new", "k"),
            ("__keyspace@0__:k", "set"),
            ("__keyevent@0__:set", "k"),
        ])
    );
    w.cmd.cmd(&["SELECT", "3"]);
    let (_, events) = w.run(&["LPUSH", "k", "v"]);
    assert_eq!(
        events,
        pairs(&[
            ("__keyspace@3__:k", "new"),
            ("__keyevent@3__:new", "k"),
            ("__keyspace@3__:k", "lpush"),
            ("__keyevent@3__:lpush", "k"),
        ])
    );
}

#[test]
fn flags_select_channels_and_classes() {
    let s = Server::start();
    // Keyspace channel only, strings only.
    let mut w = Watcher::new(s.port, "K$");
    assert_eq!(
        w.run(&["SET", "k", "v"]).1,
        pairs(&[("__keyspace@0__:k", "set")])
    );
    assert!(w.run(&["DEL", "k"]).1.is_empty());
    assert!(w.run(&["GET", "k"]).1.is_empty());
    // Keyevent channel only, generic and key misses.
    let mut w = Watcher::new(s.port, "Egm");
    assert!(w.run(&["SET", "k", "v"]).1.is_empty());
    assert_eq!(
        w.run(&["EXPIRE", "k", "100"]).1,
        pairs(&[("__keyevent@0__:expire", "k")])
    );
    assert_eq!(
        w.run(&["DEL", "k"]).1,
        pairs(&[("__keyevent@0__:del", "k")])
    );
    assert_eq!(
        w.run(&["GET", "k"]).1,
        pairs(&[("__keyevent@0__:keymiss", "k")])
    );
    // Classes without K or E publish nothing.
    let mut w = Watcher::new(s.port, "A");
    assert!(w.run(&["SET", "k", "v"]).1.is_empty());
    // Off again.
    let mut w = Watcher::new(s.port, "");
    assert!(w.run(&["SET", "k", "v"]).1.is_empty());
    assert!(w.run(&["GET", "nokey"]).1.is_empty());
}

#[test]
fn active_expiry_publishes_expired_for_keys_nobody_reads() {
    let s = Server::start_with(&["--notify-keyspace-events", "Ex", "--hz", "100"]);
    let mut sub = Raw::connect(s.port);
    sub.cmd(&["SUBSCRIBE", "__keyevent@5__:expired"]);
    let mut c = Raw::connect(s.port);
    c.cmd(&["SELECT", "5"]);
    for i in 0..20 {
        c.cmd(&["SET", &format!("k{i}"), "v", "PX", "30"]);
    }
    let started = Instant::now();
    let mut expired: Vec<String> = (0..20)
        .map(|_| bulks(&sub.read_frame())[2].clone())
        .collect();
    assert!(started.elapsed() < Duration::from_secs(10));
    expired.sort();
    let mut want: Vec<String> = (0..20).map(|i| format!("k{i}")).collect();
    want.sort();
    assert_eq!(expired, want);
    assert_eq!(c.cmd(&["DBSIZE"]), b":0\r\n");
}

#[test]
fn expiry_makes_exec_fail_for_watchers() {
    let s = Server::start_with(&["--notify-keyspace-events", "KEx"]);
    let mut c = Raw::connect(s.port);
    c.cmd(&["SET", "k", "v", "PX", "50"]);
    c.cmd(&["WATCH", "k"]);
    std::thread::sleep(Duration::from_millis(300));
    c.cmd(&["MULTI"]);
    c.cmd(&["SET", "k", "w"]);
    assert_eq!(c.cmd(&["EXEC"]), b"*-1\r\n");
}

#[test]
fn config_round_trip_and_errors() {
    let s = Server::start();
    let mut c = Raw::connect(s.port);
    for (given, shown) in [
        ("KEA", "AKE"),
        ("Kz$g", "g$zK"),
        ("gmKEd", "gdKEm"),
        ("An", "A"),
        ("", ""),
    ] {
        assert_eq!(
            c.cmd(&["CONFIG", "SET", "notify-keyspace-events", given]),
            b"+OK\r\n"
        );
        let want = format!(
            "*2\r\n$22\r\nnotify-keyspace-events\r\n${}\r\n{shown}\r\n",
            shown.len()
        );
        assert_eq!(
            c.cmd_str(&["CONFIG", "GET", "notify-keyspace-events"]),
            want
        );
    }
    assert_eq!(
        c.cmd_str(&["CONFIG", "SET", "notify-keyspace-events", "KEq"]),
        "-ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - \
         Invalid event class character. Use 'Ag$lshzxeKEtmdn'.\r\n"
    );
}
