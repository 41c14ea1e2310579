//! Server and introspection commands: CLIENT, INFO, CONFIG, COMMAND,
//! DEBUG, TIME, LASTSAVE and SHUTDOWN, checked against Redis 7.0's replies.

mod common;

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{encode, Raw, TIMEOUT};

/// The payload of a bulk or verbatim string reply.
fn payload(reply: &[u8]) -> String {
    let text = String::from_utf8_lossy(reply).into_owned();
    assert!(
        text.starts_with('$') || text.starts_with('='),
        "not a string reply: {text:?}"
    );
    let start = text.find("\r\n").expect("header") + 2;
    let body = &text[start..text.len() - 2];
    body.strip_prefix("txt:").unwrap_or(body).to_string()
}

/// `name:value` from an INFO text.
fn info_field(info: &str, name: &str) -> Option<String> {
    let prefix = format!("{name}:");
    info.split("\r\n")
        .find_map(|l| l.strip_prefix(&prefix).map(str::to_string))
}

fn info(r: &mut Raw, args: &[&str]) -> String {
    let mut cmd = vec!["INFO"];
    cmd.extend_from_slice(args);
    payload(&r.cmd(&cmd))
}

fn int_reply(reply: &[u8]) -> i64 {
    let text = String::from_utf8_lossy(reply);
    text.strip_prefix(':')
        .and_then(|t| t.trim_end().parse().ok())
        .unwrap_or_else(|| panic!("not an integer reply: {text:?}"))
}

/// `key=value` fields of one CLIENT LIST line.
fn client_fields(line: &str) -> Vec<(String, String)> {
    line.split(' ')
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("key=value");
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    &fields.iter().find(|(k, _)| k == name).expect(name).1
}

#[test]
fn client_setinfo_setname_list_and_info() {
    let s = common::Server::start();
    let mut r = s.raw();
    assert_eq!(
        r.cmd(&["CLIENT", "SETINFO", "LIB-NAME", "redis-py"]),
        b"+OK\r\n"
    );
    assert_eq!(
        r.cmd(&["CLIENT", "SETINFO", "lib-ver", "5.0.1"]),
        b"+OK\r\n"
    );
    assert_eq!(
        r.cmd(&["CLIENT", "SETINFO", "LIB-NAME", "a b"]),
        b"-ERR LIB-NAME cannot contain spaces, newlines or special characters.\r\n"
    );
    assert_eq!(
        r.cmd(&["CLIENT", "SETINFO", "foo", "x"]),
        b"-ERR Unrecognized option 'foo'\r\n"
    );
    assert_eq!(
        r.cmd(&["CLIENT", "SETINFO", "LIB-NAME"]),
        b"-ERR wrong number of arguments for 'client|setinfo' command\r\n"
    );
    assert_eq!(r.cmd(&["CLIENT", "SETNAME", "worker1"]), b"+OK\r\n");
    assert_eq!(r.cmd(&["CLIENT", "GETNAME"]), b"$7\r\nworker1\r\n");
    assert_eq!(
        r.cmd(&["CLIENT", "SETNAME", "a b"]),
        b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
    );
    let id = int_reply(&r.cmd(&["CLIENT", "ID"]));
    let mut other = s.raw();
    assert_eq!(other.cmd(&["SELECT", "2"]), b"+OK\r\n");

    // The start-up probe connection may still be closing: wait (bounded)
    // until only this test's two clients are listed.
    let deadline = Instant::now() + TIMEOUT;
    let list = loop {
        let list = payload(&r.cmd(&["CLIENT", "LIST"]));
        if list.lines().count() == 2 || Instant::now() > deadline {
            break list;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(list.ends_with('\n'));
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    let mine = lines
        .iter()
        .map(|l| client_fields(l))
        .find(|f| field(f, "id") == id.to_string())
        .expect("own line");
    let names: Vec<&str> = mine.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "id",
            "addr",
            "laddr",
            "fd",
            "name",
            "age",
            "idle",
            "flags",
            "db",
            "sub",
            "psub",
            "ssub",
            "multi",
            "qbuf",
            "qbuf-free",
            "argv-mem",
            "multi-mem",
            "rbs",
            "rbp",
            "obl",
            "oll",
            "omem",
            "tot-mem",
            "events",
            "cmd",
            "user",
            "redir",
            "resp",
            "lib-name",
            "lib-ver"
        ]
    );
    assert_eq!(field(&mine, "name"), "worker1");
    assert_eq!(field(&mine, "cmd"), "client|list");
    assert_eq!(field(&mine, "lib-name"), "redis-py");
    assert_eq!(field(&mine, "lib-ver"), "5.0.1");
    assert_eq!(field(&mine, "flags"), "N");
    let theirs = lines
        .iter()
        .map(|l| client_fields(l))
        .find(|f| field(f, "id") != id.to_string())
        .expect("other line");
    assert_eq!(field(&theirs, "db"), "2");
    assert_eq!(field(&theirs, "cmd"), "select");

    let own = payload(&r.cmd(&["CLIENT", "INFO"]));
    assert!(own.ends_with('\n'));
    assert_eq!(field(&client_fields(own.trim_end()), "cmd"), "client|info");
    let only = payload(&r.cmd(&["CLIENT", "LIST", "ID", &id.to_string(), "999999"]));
    assert_eq!(only.lines().count(), 1);
    assert_eq!(r.cmd(&["CLIENT", "LIST", "TYPE", "pubsub"]), b"$0\r\n\r\n");
    assert_eq!(
        payload(&r.cmd(&["CLIENT", "LIST", "TYPE", "normal"]))
            .lines()
            .count(),
        2
    );
    assert_eq!(
        r.cmd(&["CLIENT", "LIST", "TYPE", "foo"]),
        b"-ERR Unknown client type 'foo'\r\n"
    );
    assert_eq!(
        r.cmd(&["CLIENT", "LIST", "ID", "abc"]),
        b"-ERR Invalid client ID\r\n"
    );
    assert_eq!(r.cmd(&["CLIENT", "NO-EVICT", "on"]), b"+OK\r\n");
    let own = payload(&r.cmd(&["CLIENT", "INFO"]));
    assert_eq!(field(&client_fields(own.trim_end()), "flags"), "e");

    // RESP3: verbatim strings.
    r.cmd(&["HELLO", "3"]);
    let reply = r.cmd(&["CLIENT", "INFO"]);
    assert!(
        reply.starts_with(b"="),
        "{:?}",
        String::from_utf8_lossy(&reply)
    );
    assert!(payload(&reply).contains(" resp=3 "));
}

fn addr_of(r: &mut Raw) -> String {
    let own = payload(&r.cmd(&["CLIENT", "INFO"]));
    field(&client_fields(own.trim_end()), "addr").to_string()
}

#[test]
fn client_kill_closes_connections() {
    let s = common::Server::start();
    let mut a = s.raw();
    let mut b = s.raw();
    let a_id = int_reply(&a.cmd(&["CLIENT", "ID"])).to_string();
    let b_id = int_reply(&b.cmd(&["CLIENT", "ID"])).to_string();
    assert_eq!(a.cmd(&["CLIENT", "KILL", "ID", &b_id]), b":1\r\n");
    assert!(b.is_closed(), "killed client must be disconnected");
    assert_eq!(a.cmd(&["CLIENT", "KILL", "ID", &b_id]), b":0\r\n");

    // Old form: address.
    let mut c = s.raw();
    let c_addr = addr_of(&mut c);
    assert_eq!(a.cmd(&["CLIENT", "KILL", &c_addr]), b"+OK\r\n");
    assert!(c.is_closed());
    assert_eq!(
        a.cmd(&["CLIENT", "KILL", "1.2.3.4:5"]),
        b"-ERR No such client\r\n"
    );

    // Filters.
    let mut d = s.raw();
    let d_addr = addr_of(&mut d);
    assert_eq!(
        a.cmd(&["CLIENT", "KILL", "ADDR", &d_addr, "TYPE", "master"]),
        b":0\r\n"
    );
    assert_eq!(
        a.cmd(&["CLIENT", "KILL", "ADDR", &d_addr, "USER", "default"]),
        b":1\r\n"
    );
    assert!(d.is_closed());
    assert_eq!(
        a.cmd(&["CLIENT", "KILL", "ID", "0"]),
        b"-ERR client-id should be greater than 0\r\n"
    );
    assert_eq!(
        a.cmd(&["CLIENT", "KILL", "TYPE", "foo"]),
        b"-ERR Unknown client type 'foo'\r\n"
    );
    assert_eq!(
        a.cmd(&["CLIENT", "KILL", "USER", "nobody"]),
        b"-ERR No such user 'nobody'\r\n"
    );
    assert_eq!(
        a.cmd(&["CLIENT", "KILL", "ID", "5", "SKIPME"]),
        b"-ERR syntax error\r\n"
    );

    // SKIPME yes (the default) spares the caller; SKIPME no kills it
    // after its reply.
    assert_eq!(a.cmd(&["CLIENT", "KILL", "ID", &a_id]), b":0\r\n");
    assert_eq!(
        a.cmd(&["CLIENT", "KILL", "ID", &a_id, "SKIPME", "no"]),
        b":1\r\n"
    );
    assert!(a.is_closed());
    let mut e = s.raw();
    assert_eq!(e.cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn client_reply_modes() {
    let s = common::Server::start();
    let mut r = s.raw();
    r.send(&encode(&[b"CLIENT", b"REPLY", b"OFF"]));
    r.send(&encode(&[b"SET", b"k", b"v"]));
    r.send(&encode(&[b"PING"]));
    r.send(&encode(&[b"CLIENT", b"REPLY", b"ON"]));
    assert_eq!(r.read_frame(), b"+OK\r\n");
    assert_eq!(r.cmd(&["GET", "k"]), b"$1\r\nv\r\n");
    r.send(&encode(&[b"CLIENT", b"REPLY", b"SKIP"]));
    r.send(&encode(&[b"PING", b"skipped"]));
    r.send(&encode(&[b"PING", b"seen"]));
    assert_eq!(r.read_frame(), b"$4\r\nseen\r\n");
    assert_eq!(
        r.cmd(&["CLIENT", "REPLY", "maybe"]),
        b"-ERR syntax error\r\n"
    );
}

#[test]
fn info_sections_and_fields() {
    let s = common::Server::start();
    let mut r = s.raw();
    let text = info(&mut r, &[]);
    assert!(text.starts_with("# Server\r\n"));
    assert!(
        !text.replace("\r\n", "").contains('\n'),
        "lines end with CRLF"
    );
    assert_eq!(
        info_field(&text, "redis_version").as_deref(),
        Some("7.0.15")
    );
    assert_eq!(info_field(&text, "loading").as_deref(), Some("0"));
    assert_eq!(info_field(&text, "role").as_deref(), Some("master"));
    assert_eq!(
        info_field(&text, "redis_mode").as_deref(),
        Some("standalone")
    );
    assert_eq!(
        info_field(&text, "tcp_port"),
        Some(s.port.to_string()),
        "{text}"
    );
    assert_eq!(
        info_field(&text, "maxmemory_policy").as_deref(),
        Some("noeviction")
    );
    assert!(info_field(&text, "mem_allocator")
        .unwrap()
        .starts_with("jemalloc-"));
    let used: u64 = info_field(&text, "used_memory").unwrap().parse().unwrap();
    assert!(used > 0);
    assert!(text.contains("# Keyspace\r\n"));
    assert!(!text.contains("# Commandstats"));
    assert!(info_field(&text, "db0").is_none());

    for k in ["a", "b", "c"] {
        assert_eq!(r.cmd(&["SET", k, "1"]), b"+OK\r\n");
    }
    assert_eq!(r.cmd(&["SET", "t", "1", "EX", "100"]), b"+OK\r\n");
    assert_eq!(r.cmd(&["GET", "a"]), b"$1\r\n1\r\n");
    assert_eq!(r.cmd(&["GET", "missing"]), b"$-1\r\n");
    assert_eq!(r.cmd(&["SELECT", "3"]), b"+OK\r\n");
    assert_eq!(r.cmd(&["SET", "x", "1"]), b"+OK\r\n");
    let ks = info(&mut r, &["keyspace"]);
    assert_eq!(
        ks,
        "# Keyspace\r\ndb0:keys=4,expires=1,avg_ttl=0\r\ndb3:keys=1,expires=0,avg_ttl=0\r\n"
    );

    let stats = info(&mut r, &["STATS"]);
    assert_eq!(info_field(&stats, "keyspace_hits").as_deref(), Some("1"));
    assert_eq!(info_field(&stats, "keyspace_misses").as_deref(), Some("1"));
    let processed: u64 = info_field(&stats, "total_commands_processed")
        .unwrap()
        .parse()
        .unwrap();
    assert!(processed >= 10, "{stats}");

    let cs = info(&mut r, &["commandstats"]);
    assert!(cs.starts_with("# Commandstats\r\n"));
    let set_line = info_field(&cs, "cmdstat_set").expect("cmdstat_set");
    assert!(set_line.starts_with("calls=5,usec="), "{set_line}");
    assert!(set_line.ends_with(",rejected_calls=0,failed_calls=0"));
    assert!(info_field(&cs, "cmdstat_get")
        .unwrap()
        .starts_with("calls=2,"));

    // Several sections, in Redis's order whatever the argument order.
    let two = info(&mut r, &["clients", "server"]);
    let headers: Vec<&str> = two.split("\r\n").filter(|l| l.starts_with('#')).collect();
    assert_eq!(headers, ["# Server", "# Clients"]);
    assert!(two.contains("\r\n\r\n# Clients\r\n"));
    assert_eq!(info_field(&two, "connected_clients").as_deref(), Some("1"));
    assert_eq!(r.cmd(&["INFO", "nosuch"]), b"$0\r\n\r\n");
    let every = info(&mut r, &["everything"]);
    for h in [
        "# Server",
        "# Memory",
        "# Persistence",
        "# Replication",
        "# CPU",
        "# Commandstats",
        "# Errorstats",
        "# Keyspace",
    ] {
        assert!(every.contains(&format!("{h}\r\n")), "{h} missing");
    }
    assert_eq!(info(&mut r, &["all"]).matches("# ").count(), 13);

    r.cmd(&["HELLO", "3"]);
    let reply = r.cmd(&["INFO", "server"]);
    assert!(reply.starts_with(b"="));
    assert!(payload(&reply).starts_with("# Server\r\nredis_version:7.0.15\r\n"));
}

#[test]
fn config_get_set_resetstat() {
    let s = common::Server::start();
    let mut r = s.raw();
    assert_eq!(
        r.cmd(&["CONFIG", "GET", "databases"]),
        b"*2\r\n$9\r\ndatabases\r\n$2\r\n16\r\n"
    );
    assert_eq!(r.cmd(&["CONFIG", "GET", "nosuch*"]), b"*0\r\n");
    let mut con = s.client();
    let got: HashMap<String, String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("*max-*")
        .arg("timeout")
        .arg("HZ")
        .query(&mut con)
        .unwrap();
    assert_eq!(
        got.get("proto-max-bulk-len").map(String::as_str),
        Some("536870912")
    );
    assert_eq!(got.get("timeout").map(String::as_str), Some("0"));
    assert_eq!(got.get("HZ").map(String::as_str), Some("10"));

    assert_eq!(
        r.cmd(&["CONFIG", "SET", "timeout", "100", "hz", "20"]),
        b"+OK\r\n"
    );
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "timeout", "5", "hz", "abc"]),
        b"-ERR CONFIG SET failed (possibly related to argument 'hz') - argument couldn't be parsed into an integer\r\n"
    );
    // All or nothing: timeout kept its value.
    assert_eq!(
        r.cmd(&["CONFIG", "GET", "timeout"]),
        b"*2\r\n$7\r\ntimeout\r\n$3\r\n100\r\n"
    );
    assert_eq!(
        r.cmd(&["CONFIG", "GET", "hz"]),
        b"*2\r\n$2\r\nhz\r\n$2\r\n20\r\n"
    );
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "databases", "3"]),
        b"-ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config\r\n"
    );
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "nosuch", "1"]),
        b"-ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'\r\n"
    );
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "timeout", "1", "Timeout", "2"]),
        b"-ERR CONFIG SET failed (possibly related to argument 'Timeout') - duplicate parameter\r\n"
    );
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "timeout", "1", "hz"]),
        b"-ERR syntax error\r\n"
    );
    assert_eq!(r.cmd(&["CONFIG", "SET", "timeout", "0"]), b"+OK\r\n");

    assert_eq!(r.cmd(&["SET", "k", "v"]), b"+OK\r\n");
    assert!(info(&mut r, &["commandstats"]).contains("cmdstat_set:"));
    assert_eq!(r.cmd(&["CONFIG", "RESETSTAT"]), b"+OK\r\n");
    let cs = info(&mut r, &["commandstats"]);
    assert!(!cs.contains("cmdstat_set:"), "{cs}");
    let stats = info(&mut r, &["stats"]);
    let processed: u64 = info_field(&stats, "total_commands_processed")
        .unwrap()
        .parse()
        .unwrap();
    assert!(processed <= 3, "{stats}");
}

#[test]
fn command_introspection() {
    let s = common::Server::start();
    let mut r = s.raw();
    let mut con = s.client();
    let count: usize = redis::cmd("COMMAND").arg("COUNT").query(&mut con).unwrap();
    let all: Vec<redis::Value> = redis::cmd("COMMAND").query(&mut con).unwrap();
    assert_eq!(all.len(), count);
    let names: Vec<String> = redis::cmd("COMMAND").arg("LIST").query(&mut con).unwrap();
    assert_eq!(names.iter().filter(|n| !n.contains('|')).count(), count);
    assert!(names.iter().any(|n| n == "client|setinfo"));
    let client_cmds: Vec<String> = redis::cmd("COMMAND")
        .arg("LIST")
        .arg("FILTERBY")
        .arg("PATTERN")
        .arg("CLIENT*")
        .query(&mut con)
        .unwrap();
    assert!(client_cmds.iter().all(|n| n.starts_with("client")));
    assert!(client_cmds.contains(&"client|kill".to_string()));

    assert_eq!(
        r.cmd(&["COMMAND", "INFO", "get", "nosuch"]),
        b"*2\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n$-1\r\n".to_vec()
    );
    assert_eq!(
        r.cmd(&["COMMAND", "DOCS", "get", "nosuch"]),
        b"*2\r\n$3\r\nget\r\n*10\r\n$7\r\nsummary\r\n$22\r\nGet the value of a key\r\n$5\r\nsince\r\n$5\r\n1.0.0\r\n$5\r\ngroup\r\n$6\r\nstring\r\n$10\r\ncomplexity\r\n$4\r\nO(1)\r\n$9\r\narguments\r\n*1\r\n*6\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:0\r\n".to_vec()
    );
    let docs = String::from_utf8_lossy(&r.cmd(&["COMMAND", "DOCS", "set"])).into_owned();
    assert!(docs.contains("Set the string value of a key"));
    assert!(docs.contains("Allowed the `NX` and `GET` options to be used together."));

    assert_eq!(
        r.cmd(&["COMMAND", "GETKEYS", "set", "a", "b"]),
        b"*1\r\n$1\r\na\r\n"
    );
    assert_eq!(
        r.cmd(&["COMMAND", "GETKEYS", "config", "get", "x"]),
        b"-ERR The command has no key arguments\r\n"
    );
    assert_eq!(
        r.cmd(&["COMMAND", "GETKEYS", "nosuch", "a"]),
        b"-ERR Invalid command specified\r\n"
    );
    assert_eq!(
        r.cmd(&["COMMAND", "GETKEYS", "set", "a"]),
        b"-ERR Invalid number of arguments specified for command\r\n"
    );
    assert_eq!(
        r.cmd(&["COMMAND", "GETKEYSANDFLAGS", "set", "k", "v", "GET"]),
        b"*1\r\n*2\r\n$1\r\nk\r\n*3\r\n+RW\r\n+access\r\n+update\r\n"
    );
    assert_eq!(
        r.cmd(&["COMMAND", "GETKEYSANDFLAGS", "set", "k", "v"]),
        b"*1\r\n*2\r\n$1\r\nk\r\n*2\r\n+OW\r\n+update\r\n"
    );
    assert_eq!(
        r.cmd(&["COMMAND", "LIST", "FILTERBY", "PATTERN"]),
        b"-ERR syntax error\r\n"
    );
}

#[test]
fn time_lastsave_and_debug_sleep() {
    let s = common::Server::start();
    let mut con = s.client();
    let (secs, micros): (u64, u64) = redis::cmd("TIME").query(&mut con).unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(secs.abs_diff(now) <= 2);
    assert!(micros < 1_000_000);
    let lastsave: u64 = redis::cmd("LASTSAVE").query(&mut con).unwrap();
    assert!(lastsave <= now && now - lastsave < 60);

    let mut r = s.raw();
    assert_eq!(r.cmd(&["DEBUG", "SLEEP", "0"]), b"+OK\r\n");
    let start = Instant::now();
    assert_eq!(r.cmd(&["DEBUG", "SLEEP", "0.3"]), b"+OK\r\n");
    // The pause applies before the next command of this client.
    assert_eq!(r.cmd(&["PING"]), b"+PONG\r\n");
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert_eq!(
        r.cmd(&["DEBUG", "nosuch"]),
        b"-ERR unknown subcommand or wrong number of arguments for 'nosuch'. Try DEBUG HELP.\r\n"
    );
    assert_eq!(
        r.cmd(&["SHUTDOWN", "ABORT"]),
        b"-ERR No shutdown in progress.\r\n"
    );
    assert_eq!(
        r.cmd(&["SHUTDOWN", "NOSAVE", "SAVE"]),
        b"-ERR syntax error\r\n"
    );
}

#[test]
fn shutdown_exits_with_status_zero() {
    let port = common::free_port();
    let dir = common::scratch_dir("shutdown");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrokv"))
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .arg("--dir")
        .arg(&dir)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ferrokv");
    let deadline = Instant::now() + TIMEOUT;
    let mut raw = loop {
        if let Ok(stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            drop(stream);
            break Raw::connect(port);
        }
        assert!(Instant::now() < deadline, "ferrokv did not start");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(raw.cmd(&["PING"]), b"+PONG\r\n");
    raw.send(&encode(&[b"SHUTDOWN", b"NOSAVE"]));
    assert!(raw.is_closed(), "SHUTDOWN sends no reply and closes");
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("ferrokv did not exit after SHUTDOWN");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn errorstats_count_error_replies_by_code() {
    let s = common::Server::start();
    let mut r = s.raw();
    r.cmd(&["SET", "s", "text"]);
    r.cmd(&["INCR", "s"]);
    r.cmd(&["GET"]);
    r.cmd(&["NOSUCHCOMMAND"]);
    r.cmd(&["HELLO", "9"]);
    let text = info(&mut r, &["errorstats"]);
    assert_eq!(
        info_field(&text, "errorstat_ERR").as_deref(),
        Some("count=3")
    );
    assert_eq!(
        info_field(&text, "errorstat_NOPROTO").as_deref(),
        Some("count=1")
    );
    let stats = info(&mut r, &["stats"]);
    assert_eq!(
        info_field(&stats, "total_error_replies").as_deref(),
        Some("4")
    );
    r.cmd(&["CONFIG", "RESETSTAT"]);
    let text = info(&mut r, &["errorstats"]);
    assert_eq!(info_field(&text, "errorstat_ERR"), None);
}

#[test]
fn rdb_changes_count_every_write() {
    let s = common::Server::start();
    let mut r = s.raw();
    let changes = |r: &mut Raw| {
        info_field(&info(r, &["persistence"]), "rdb_changes_since_last_save").unwrap()
    };
    assert_eq!(changes(&mut r), "0");
    r.cmd(&["SET", "a", "1"]);
    r.cmd(&["GET", "a"]);
    r.cmd(&["INCR", "n"]);
    r.cmd(&["SET", "b", "x", "NX"]);
    r.cmd(&["SET", "b", "y", "NX"]);
    r.cmd(&["DEL", "a", "missing"]);
    r.cmd(&["EXPIRE", "b", "100"]);
    assert_eq!(changes(&mut r), "5");
    r.cmd(&["FLUSHALL"]);
    assert_eq!(changes(&mut r), "7");
}

#[test]
fn memory_usage_grows_with_the_value() {
    let s = common::Server::start();
    let mut r = s.raw();
    let usage = |r: &mut Raw, key: &str| int_reply(&r.cmd(&["MEMORY", "USAGE", key]));
    r.cmd(&["SET", "small", "1"]);
    r.cmd(&["SET", "big", &"x".repeat(10_000)]);
    let small = usage(&mut r, "small");
    let big = usage(&mut r, "big");
    assert!((1..200).contains(&small), "{small}");
    assert!((10_000..11_000).contains(&big), "{big}");
    r.cmd(&["HSET", "h", "f", "v"]);
    let before = usage(&mut r, "h");
    for i in 0..1000 {
        r.cmd(&["HSET", "h", &format!("field{i}"), &"v".repeat(100)]);
    }
    assert!(usage(&mut r, "h") > before + 100_000);
    assert_eq!(r.cmd(&["MEMORY", "USAGE", "missing"]), b"$-1\r\n");
    assert_eq!(
        r.cmd(&["MEMORY", "USAGE", "small", "SAMPLES", "0"]),
        r.cmd(&["MEMORY", "USAGE", "small"])
    );
    assert_eq!(
        r.cmd(&["MEMORY", "USAGE", "small", "SAMPLES", "x"]),
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        r.cmd(&["MEMORY", "USAGE", "small", "foo"]),
        b"-ERR syntax error\r\n"
    );
}
