//! Lua scripting and functions: the script cache, atomicity, EVAL inside
//! MULTI, blocked clients woken by a script, BUSY / SCRIPT KILL /
//! FUNCTION KILL / SHUTDOWN NOSAVE while a script runs long, and
//! FUNCTION DUMP/RESTORE.

mod common;

use std::time::{Duration, Instant};

use common::{encode, Raw, Server};

const LOOP: &str = "local i = 0 while true do i = i + 1 end";

/// Sends a command without waiting for its reply.
fn send(raw: &mut Raw, args: &[&str]) {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    raw.send(&encode(&args));
}

/// Polls `args` on `raw` until the reply is `want` (bounded).
fn wait_for_reply(raw: &mut Raw, args: &[&str], want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = raw.cmd_str(args);
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "{args:?} kept answering {got:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

const BUSY_EVAL: &str =
    "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";

#[test]
fn script_cache_load_exists_flush() {
    let s = Server::start();
    let mut r = s.raw();
    let sha = "e0e1f9fabfc9d4800c877a703b823ac0578ff8db";
    assert_eq!(
        r.cmd_str(&["SCRIPT", "LOAD", "return 1"]),
        format!("$40\r\n{sha}\r\n")
    );
    assert_eq!(r.cmd_str(&["EVALSHA", sha, "0"]), ":1\r\n");
    assert_eq!(r.cmd_str(&["EVALSHA", &sha.to_uppercase(), "0"]), ":1\r\n");
    assert_eq!(
        r.cmd_str(&["SCRIPT", "EXISTS", sha, "nope"]),
        "*2\r\n:1\r\n:0\r\n"
    );
    assert_eq!(r.cmd_str(&["SCRIPT", "FLUSH"]), "+OK\r\n");
    assert_eq!(
        r.cmd_str(&["EVALSHA", sha, "0"]),
        "-NOSCRIPT No matching script. Please use EVAL.\r\n"
    );
    // EVAL caches what it runs.
    assert_eq!(r.cmd_str(&["EVAL", "return 1", "0"]), ":1\r\n");
    assert_eq!(r.cmd_str(&["EVALSHA", sha, "0"]), ":1\r\n");
}

#[test]
fn scripts_run_atomically() {
    let s = Server::start();
    let port = s.port;
    let writer = std::thread::spawn(move || {
        let mut w = Raw::connect(port);
        for _ in 0..20 {
            let reply = w.cmd_str(&[
                "EVAL",
                "for i = 1, 500 do redis.call('incr', KEYS[1]) end return 1",
                "1",
                "counter",
            ]);
            assert_eq!(reply, ":1\r\n");
        }
    });
    let mut r = s.raw();
    while !writer.is_finished() {
        let reply = r.cmd_str(&["GET", "counter"]);
        if reply != "$-1\r\n" {
            let value: u64 = reply.lines().nth(1).unwrap().parse().unwrap();
            assert_eq!(value % 500, 0, "saw a script half done: {value}");
        }
    }
    writer.join().unwrap();
    assert_eq!(r.cmd_str(&["GET", "counter"]), "$5\r\n10000\r\n");
}

#[test]
fn eval_inside_multi_and_select_stays_in_the_script() {
    let s = Server::start();
    let mut r = s.raw();
    assert_eq!(r.cmd_str(&["MULTI"]), "+OK\r\n");
    assert_eq!(
        r.cmd_str(&["EVAL", "return redis.call('incr', 'n')", "0"]),
        "+QUEUED\r\n"
    );
    assert_eq!(r.cmd_str(&["INCR", "n"]), "+QUEUED\r\n");
    assert_eq!(r.cmd_str(&["EXEC"]), "*2\r\n:1\r\n:2\r\n");
    // A script may use keys it did not declare and other databases; the
    // caller's database does not change.
    assert_eq!(
        r.cmd_str(&[
            "EVAL",
            "redis.call('select', 3) redis.call('set', 'other', 'v') return redis.call('get', 'other')",
            "0"
        ]),
        "$1\r\nv\r\n"
    );
    assert_eq!(r.cmd_str(&["GET", "other"]), "$-1\r\n");
    assert_eq!(r.cmd_str(&["SELECT", "3"]), "+OK\r\n");
    assert_eq!(r.cmd_str(&["GET", "other"]), "$1\r\nv\r\n");
}

#[test]
fn a_script_push_wakes_a_blocked_client() {
    let s = Server::start();
    let mut blocked = s.raw();
    send(&mut blocked, &["BLPOP", "queue", "10"]);
    let mut r = s.raw();
    // The waiter is served once the script has finished: it sees the
    // first element, and the script saw the whole list.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !r
        .cmd_str(&["INFO", "clients"])
        .contains("blocked_clients:1")
    {
        assert!(Instant::now() < deadline, "BLPOP never blocked");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        r.cmd_str(&[
            "EVAL",
            "redis.call('rpush', 'queue', 'a', 'b') return redis.call('llen', 'queue')",
            "0"
        ]),
        ":2\r\n"
    );
    assert_eq!(
        String::from_utf8_lossy(&blocked.read_frame()),
        "*2\r\n$5\r\nqueue\r\n$1\r\na\r\n"
    );
    assert_eq!(
        r.cmd_str(&["LRANGE", "queue", "0", "-1"]),
        "*1\r\n$1\r\nb\r\n"
    );
    // Blocking commands are refused inside scripts.
    assert_eq!(
        r.cmd_str(&[
            "EVAL",
            "return redis.pcall('blpop', 'queue', 0)['err']",
            "0"
        ]),
        "$49\r\nERR This Redis command is not allowed from script\r\n"
    );
}

#[test]
fn busy_script_is_killed_and_the_server_keeps_serving() {
    busy_script_is_killed(&[]);
}

/// With a single worker thread (a one-CPU container) the busy script's
/// worker is handed off too, so the server still answers.
#[test]
fn busy_script_is_killed_with_one_worker_thread() {
    busy_script_is_killed(&["--threads", "1"]);
}

fn busy_script_is_killed(extra: &[&str]) {
    let mut args = vec!["--busy-reply-threshold", "200"];
    args.extend_from_slice(extra);
    let s = Server::start_with(&args);
    let mut runner = s.raw();
    send(&mut runner, &["EVAL", LOOP, "0"]);
    let mut other = s.raw();
    wait_for_reply(&mut other, &["GET", "k"], BUSY_EVAL);
    assert_eq!(other.cmd_str(&["FUNCTION", "KILL"]), BUSY_EVAL);
    // Connections opened meanwhile are served too.
    let mut late = s.raw();
    assert_eq!(late.cmd_str(&["PING"]), BUSY_EVAL);
    assert_eq!(other.cmd_str(&["SCRIPT", "KILL"]), "+OK\r\n");
    let killed = String::from_utf8_lossy(&runner.read_frame()).into_owned();
    assert!(
        killed.starts_with("-ERR Script killed by user with SCRIPT KILL... script: "),
        "{killed}"
    );
    assert!(killed.ends_with(", on @user_script:1.\r\n"), "{killed}");
    assert_eq!(late.cmd_str(&["PING"]), "+PONG\r\n");
    assert_eq!(
        other.cmd_str(&["SCRIPT", "KILL"]),
        "-NOTBUSY No scripts in execution right now.\r\n"
    );
    assert_eq!(runner.cmd_str(&["SET", "k", "v"]), "+OK\r\n");
}

#[test]
fn a_script_that_wrote_is_unkillable_but_shutdown_nosave_exits() {
    let mut s = Server::start_with(&["--busy-reply-threshold", "200"]);
    let mut runner = s.raw();
    let script = format!("redis.call('set', 'x', '1') {LOOP}");
    send(&mut runner, &["EVAL", &script, "0"]);
    let mut other = s.raw();
    wait_for_reply(&mut other, &["GET", "k"], BUSY_EVAL);
    assert_eq!(
        other.cmd_str(&["SCRIPT", "KILL"]),
        "-UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.\r\n"
    );
    assert_eq!(other.cmd_str(&["SHUTDOWN"]), BUSY_EVAL);
    send(&mut other, &["SHUTDOWN", "NOSAVE"]);
    assert!(other.is_closed());
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.is_alive() {
        assert!(Instant::now() < deadline, "server still running");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn busy_function_stats_and_function_kill() {
    let s = Server::start_with(&["--busy-reply-threshold", "200"]);
    let mut r = s.raw();
    let lib = format!("#!lua name=spin\nredis.register_function('spin', function() {LOOP} end)");
    assert_eq!(r.cmd_str(&["FUNCTION", "LOAD", &lib]), "$4\r\nspin\r\n");
    send(&mut r, &["FCALL", "spin", "0"]);
    let mut other = s.raw();
    wait_for_reply(
        &mut other,
        &["GET", "k"],
        "-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n",
    );
    let stats = other.cmd_str(&["FUNCTION", "STATS"]);
    assert!(
        stats.starts_with("*4\r\n$14\r\nrunning_script\r\n*6\r\n$4\r\nname\r\n$4\r\nspin\r\n$7\r\ncommand\r\n*3\r\n$5\r\nFCALL\r\n$4\r\nspin\r\n$1\r\n0\r\n$11\r\nduration_ms\r\n:"),
        "{stats}"
    );
    assert_eq!(
        other.cmd_str(&["SCRIPT", "KILL"]),
        "-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n"
    );
    assert_eq!(other.cmd_str(&["FUNCTION", "KILL"]), "+OK\r\n");
    assert_eq!(
        String::from_utf8_lossy(&r.read_frame()),
        "-ERR Script killed by user with SCRIPT KILL... script: spin, on @user_function:2.\r\n"
    );
    assert_eq!(r.cmd_str(&["PING"]), "+PONG\r\n");
}

#[test]
fn function_dump_restore_round_trip() {
    let s = Server::start();
    let mut r = s.raw();
    let lib = "#!lua name=mylib\nredis.register_function{function_name='hello', callback=function(keys, args) return 'hi ' .. args[1] end, flags={'no-writes'}}";
    assert_eq!(r.cmd_str(&["FUNCTION", "LOAD", lib]), "$5\r\nmylib\r\n");
    let dump = r.cmd(&["FUNCTION", "DUMP"]);
    let payload_len = dump.len() - dump.iter().position(|&c| c == b'\n').unwrap() - 3;
    let start = dump.len() - 2 - payload_len;
    let payload = dump[start..dump.len() - 2].to_vec();
    assert_eq!(r.cmd_str(&["FUNCTION", "FLUSH"]), "+OK\r\n");
    assert_eq!(
        r.cmd_str(&["FCALL", "hello", "0", "you"]),
        "-ERR Function not found\r\n"
    );
    let restore = |r: &mut Raw, extra: &[&[u8]]| {
        let mut args: Vec<&[u8]> = vec![b"FUNCTION", b"RESTORE", &payload];
        args.extend_from_slice(extra);
        r.send(&encode(&args));
        String::from_utf8_lossy(&r.read_frame()).into_owned()
    };
    assert_eq!(restore(&mut r, &[]), "+OK\r\n");
    assert_eq!(
        r.cmd_str(&["FCALL_RO", "hello", "0", "you"]),
        "$6\r\nhi you\r\n"
    );
    assert_eq!(
        restore(&mut r, &[]),
        "-ERR Library mylib already exists\r\n"
    );
    assert_eq!(restore(&mut r, &[b"REPLACE"]), "+OK\r\n");
    assert_eq!(restore(&mut r, &[b"FLUSH"]), "+OK\r\n");
    assert_eq!(
        r.cmd_str(&["FUNCTION", "STATS"]),
        "*4\r\n$14\r\nrunning_script\r\n$-1\r\n$7\r\nengines\r\n*2\r\n$3\r\nLUA\r\n*4\r\n$15\r\nlibraries_count\r\n:1\r\n$15\r\nfunctions_count\r\n:1\r\n"
    );
}

#[test]
fn script_errors_are_counted_once_like_redis() {
    let s = Server::start();
    let mut r = s.raw();
    r.cmd(&["SET", "s", "x"]);
    for script in [
        "return redis.call('nosuch')",
        "return redis.call('incr', 's')",
        "return redis.pcall('incr', 's')",
        "error('x')",
        "return {err='FOO x'}",
        "return {1, redis.pcall('incr', 's')}",
        "return {1, {err='BAR y'}}",
    ] {
        r.cmd(&["EVAL", script, "0"]);
    }
    // Errors of commands run by a script are counted once, by the command.
    let stats = r.cmd_str(&["INFO", "errorstats"]);
    assert!(
        stats.contains(
            "errorstat_BAR:count=1\r\nerrorstat_ERR:count=5\r\nerrorstat_FOO:count=1\r\n"
        ),
        "{stats}"
    );
    let stats = r.cmd_str(&["INFO", "stats"]);
    assert!(stats.contains("total_error_replies:7\r\n"), "{stats}");
    let stats = r.cmd_str(&["INFO", "commandstats"]);
    assert!(
        stats.contains("rejected_calls=0,failed_calls=7\r\n")
            && stats.contains("cmdstat_eval:calls=7,"),
        "{stats}"
    );
}

#[test]
fn monitor_shows_the_script_then_its_commands_as_lua() {
    let s = Server::start();
    let mut monitor = s.raw();
    assert_eq!(monitor.cmd_str(&["MONITOR"]), "+OK\r\n");
    let mut r = s.raw();
    assert_eq!(
        r.cmd_str(&["EVAL", "return redis.call('incr', 'mon')", "0"]),
        ":1\r\n"
    );
    let first = String::from_utf8_lossy(&monitor.read_frame()).into_owned();
    assert!(
        first.ends_with("] \"EVAL\" \"return redis.call('incr', 'mon')\" \"0\"\r\n"),
        "{first}"
    );
    let second = String::from_utf8_lossy(&monitor.read_frame()).into_owned();
    assert!(
        second.ends_with(" [0 lua] \"incr\" \"mon\"\r\n"),
        "{second}"
    );
}

#[test]
fn keys_do_not_expire_while_a_script_runs() {
    let s = Server::start();
    let mut r = s.raw();
    assert_eq!(r.cmd_str(&["SET", "ek", "v", "PX", "100"]), "+OK\r\n");
    // The script waits 300 ms of wall time (TIME is not frozen), then
    // reads the key: its commands share the script's start time.
    let script = "local t0 = redis.call('time') local s0 = t0[1] * 1000000 + t0[2] \
                  while true do local t = redis.call('time') \
                  if t[1] * 1000000 + t[2] - s0 > 300000 then break end end \
                  return {redis.call('get', KEYS[1]), redis.call('exists', KEYS[1])}";
    assert_eq!(
        r.cmd_str(&["EVAL", script, "1", "ek"]),
        "*2\r\n$1\r\nv\r\n:1\r\n"
    );
    assert_eq!(r.cmd_str(&["GET", "ek"]), "$-1\r\n");
}

#[test]
fn pcall_cannot_catch_script_kill() {
    let s = Server::start_with(&["--busy-reply-threshold", "200"]);
    let mut runner = s.raw();
    let script = "while true do pcall(function() while true do end end) \
                  xpcall(function() while true do end end, function(e) return e end) end";
    send(&mut runner, &["EVAL", script, "0"]);
    let mut other = s.raw();
    wait_for_reply(&mut other, &["PING"], BUSY_EVAL);
    assert_eq!(other.cmd_str(&["SCRIPT", "KILL"]), "+OK\r\n");
    let killed = String::from_utf8_lossy(&runner.read_frame()).into_owned();
    assert!(
        killed.starts_with("-ERR Script killed by user with SCRIPT KILL... script: "),
        "{killed}"
    );
    assert_eq!(other.cmd_str(&["PING"]), "+PONG\r\n");
}
