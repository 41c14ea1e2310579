//! ACL: users and rules, NOPERM errors, the ACL log, the ACL file across a
//! restart, AUTH/HELLO flows, disconnections on user changes, protected
//! mode. Expected replies were checked against Redis 7.0.15.

mod common;

use std::time::{Duration, Instant};

use common::{Raw, Server};

const NOPERM_KEYS: &str =
    "-NOPERM this user has no permissions to access one of the keys used as arguments\r\n";
const NOPERM_CHANNELS: &str =
    "-NOPERM this user has no permissions to access one of the channels used as arguments\r\n";
const WRONGPASS: &str = "-WRONGPASS invalid username-password pair or user is disabled.\r\n";

fn noperm_cmd(name: &str) -> String {
    format!("-NOPERM this user has no permissions to run the '{name}' command\r\n")
}

/// Connects and authenticates as `user`.
fn login(s: &Server, user: &str, pass: &str) -> Raw {
    let mut r = s.raw();
    assert_eq!(r.cmd_str(&["AUTH", user, pass]), "+OK\r\n");
    r
}

/// Waits (bounded) until `r`'s connection is closed by the server.
fn closed_soon(r: &mut Raw) -> bool {
    r.stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    r.is_closed()
}

#[test]
fn read_only_user_limited_to_a_key_prefix() {
    let s = Server::start();
    let mut admin = s.raw();
    assert_eq!(
        admin.cmd_str(&["ACL", "SETUSER", "app", "on", ">secret", "~app:*", "+@read"]),
        "+OK\r\n"
    );
    admin.cmd(&["SET", "app:1", "v"]);
    admin.cmd(&["SET", "other", "x"]);
    let mut u = login(&s, "app", "secret");
    assert_eq!(u.cmd_str(&["ACL", "WHOAMI"]), noperm_cmd("acl|whoami"));
    assert_eq!(u.cmd_str(&["GET", "app:1"]), "$1\r\nv\r\n");
    assert_eq!(u.cmd_str(&["GET", "other"]), NOPERM_KEYS);
    assert_eq!(u.cmd_str(&["MGET", "app:1", "other"]), NOPERM_KEYS);
    assert_eq!(u.cmd_str(&["SET", "app:1", "w"]), noperm_cmd("set"));
    assert_eq!(
        u.cmd_str(&["CONFIG", "SET", "a", "b"]),
        noperm_cmd("config|set")
    );
    assert_eq!(u.cmd_str(&["PUBLISH", "c", "m"]), noperm_cmd("publish"));
    assert_eq!(admin.cmd_str(&["GET", "app:1"]), "$1\r\nv\r\n");
    // Rule changes apply to connected clients at once.
    admin.cmd(&["ACL", "SETUSER", "app", "+set", "%R~ro:*"]);
    assert_eq!(u.cmd_str(&["SET", "app:1", "w"]), "+OK\r\n");
    assert_eq!(u.cmd_str(&["GET", "ro:1"]), "$-1\r\n");
    assert_eq!(u.cmd_str(&["SET", "ro:1", "w"]), NOPERM_KEYS);
    // Refused commands count as errors and rejected calls.
    let stats = admin.cmd_str(&["INFO", "stats"]);
    assert!(stats.contains("total_error_replies:"), "{stats}");
    let cmdstats = admin.cmd_str(&["INFO", "commandstats"]);
    let set = cmdstats
        .lines()
        .find(|l| l.starts_with("cmdstat_set:"))
        .unwrap_or_default();
    assert!(set.starts_with("cmdstat_set:calls=3,"), "{cmdstats}");
    assert!(set.contains(",rejected_calls=2,"), "{cmdstats}");
}

#[test]
fn selectors_grant_alternative_permissions() {
    let s = Server::start();
    let mut admin = s.raw();
    admin.cmd(&[
        "ACL",
        "SETUSER",
        "sel",
        "on",
        "nopass",
        "+get",
        "~a*",
        "(+set ~b*)",
    ]);
    let mut u = login(&s, "sel", "x");
    assert_eq!(u.cmd_str(&["SET", "b1", "v"]), "+OK\r\n");
    assert_eq!(u.cmd_str(&["GET", "a1"]), "$-1\r\n");
    // GET is only allowed by the root selector, whose keys are a*.
    assert_eq!(u.cmd_str(&["GET", "b1"]), NOPERM_KEYS);
    assert_eq!(u.cmd_str(&["SET", "a1", "v"]), NOPERM_KEYS);
    assert_eq!(u.cmd_str(&["DEL", "a1"]), noperm_cmd("del"));
    admin.cmd(&["ACL", "SETUSER", "sel", "clearselectors"]);
    assert_eq!(u.cmd_str(&["SET", "b1", "v"]), noperm_cmd("set"));
}

#[test]
fn channels_and_subscribers() {
    let s = Server::start();
    let mut admin = s.raw();
    admin.cmd(&[
        "ACL",
        "SETUSER",
        "sub",
        "on",
        "nopass",
        "+@all",
        "~*",
        "resetchannels",
        "&news*",
        "&logs",
    ]);
    let mut u = login(&s, "sub", "x");
    assert_eq!(u.cmd_str(&["PUBLISH", "other", "m"]), NOPERM_CHANNELS);
    assert_eq!(u.cmd_str(&["PUBLISH", "news1", "m"]), ":0\r\n");
    assert_eq!(u.cmd_str(&["SUBSCRIBE", "news1", "other"]), NOPERM_CHANNELS);
    // Patterns must be granted literally.
    assert_eq!(u.cmd_str(&["PSUBSCRIBE", "news1*"]), NOPERM_CHANNELS);
    assert!(u.cmd_str(&["PSUBSCRIBE", "news*"]).starts_with("*3\r\n"));

    let mut kept = login(&s, "sub", "x");
    assert!(kept.cmd_str(&["SUBSCRIBE", "logs"]).starts_with("*3\r\n"));
    // Revoking news* disconnects the pattern subscriber only.
    assert_eq!(
        admin.cmd_str(&["ACL", "SETUSER", "sub", "resetchannels", "&logs"]),
        "+OK\r\n"
    );
    assert!(closed_soon(&mut u));
    assert_eq!(admin.cmd_str(&["PUBLISH", "logs", "hi"]), ":1\r\n");
    assert_eq!(
        kept.read_frame(),
        b"*3\r\n$7\r\nmessage\r\n$4\r\nlogs\r\n$2\r\nhi\r\n"
    );
}

#[test]
fn deleting_a_user_disconnects_its_clients() {
    let s = Server::start();
    let mut admin = s.raw();
    admin.cmd(&["ACL", "SETUSER", "gone", "on", ">p", "+@all", "~*"]);
    let mut a = login(&s, "gone", "p");
    let mut b = login(&s, "gone", "p");
    let info = b.cmd_str(&["CLIENT", "INFO"]);
    assert!(info.contains(" user=gone "), "{info}");
    let list = admin.cmd_str(&["CLIENT", "LIST"]);
    assert_eq!(list.matches(" user=gone ").count(), 2, "{list}");
    assert_eq!(list.matches(" user=default ").count(), 1, "{list}");
    assert_eq!(
        admin.cmd_str(&["CLIENT", "KILL", "USER", "nosuch"]),
        "-ERR No such user 'nosuch'\r\n"
    );
    assert_eq!(admin.cmd_str(&["CLIENT", "KILL", "USER", "gone"]), ":2\r\n");
    assert!(closed_soon(&mut a));
    assert!(closed_soon(&mut b));

    let mut c = login(&s, "gone", "p");
    // A client deleting its own user gets the reply, then is closed.
    assert_eq!(c.cmd_str(&["ACL", "DELUSER", "gone"]), ":1\r\n");
    assert!(closed_soon(&mut c));
    assert_eq!(admin.cmd_str(&["AUTH", "gone", "p"]), WRONGPASS);
}

#[test]
fn auth_and_hello_flows() {
    let s = Server::start();
    let mut admin = s.raw();
    admin.cmd(&["ACL", "SETUSER", "u1", "on", ">p1", ">p2", "+@all", "~*"]);
    admin.cmd(&["ACL", "SETUSER", "off1", "off", ">p", "+@all"]);
    let mut r = s.raw();
    assert_eq!(r.cmd_str(&["AUTH", "u1", "bad"]), WRONGPASS);
    assert_eq!(r.cmd_str(&["AUTH", "off1", "p"]), WRONGPASS);
    assert_eq!(r.cmd_str(&["AUTH", "nosuch", "p"]), WRONGPASS);
    assert_eq!(r.cmd_str(&["AUTH", "u1", "p2"]), "+OK\r\n");
    assert_eq!(r.cmd_str(&["ACL", "WHOAMI"]), "$2\r\nu1\r\n");
    let hello = r.cmd_str(&["HELLO", "3", "AUTH", "u1", "bad"]);
    assert_eq!(hello, WRONGPASS);
    assert!(r
        .cmd_str(&["HELLO", "3", "AUTH", "u1", "p1"])
        .starts_with("%7\r\n"));
    assert_eq!(r.cmd_str(&["RESET"]), "+RESET\r\n");
    assert_eq!(r.cmd_str(&["ACL", "WHOAMI"]), "$7\r\ndefault\r\n");
    // Disabled users that were already authenticated keep working.
    let mut on = login(&s, "u1", "p1");
    admin.cmd(&["ACL", "SETUSER", "u1", "off"]);
    assert_eq!(on.cmd_str(&["PING"]), "+PONG\r\n");
    assert_eq!(s.raw().cmd_str(&["AUTH", "u1", "p1"]), WRONGPASS);
}

#[test]
fn requirepass_is_the_default_users_password() {
    let s = Server::start_with(&["--requirepass", "pw"]);
    let mut r = s.raw();
    assert_eq!(r.cmd_str(&["PING"]), "-NOAUTH Authentication required.\r\n");
    assert_eq!(r.cmd_str(&["AUTH", "pw"]), "+OK\r\n");
    let list = r.cmd_str(&["ACL", "LIST"]);
    // SHA256("pw").
    assert!(
        list.contains("user default on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~* &* +@all"),
        "{list}"
    );
    assert_eq!(
        r.cmd_str(&["CONFIG", "SET", "requirepass", "new"]),
        "+OK\r\n"
    );
    assert_eq!(s.raw().cmd_str(&["AUTH", "pw"]), WRONGPASS);
    assert_eq!(s.raw().cmd_str(&["AUTH", "default", "new"]), "+OK\r\n");
    let mut waiting = s.raw();
    assert_eq!(
        waiting.cmd_str(&["PING"]),
        "-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(r.cmd_str(&["CONFIG", "SET", "requirepass", ""]), "+OK\r\n");
    assert_eq!(s.raw().cmd_str(&["PING"]), "+PONG\r\n");
    // Clients that never authenticated need not once no password is set.
    assert_eq!(waiting.cmd_str(&["PING"]), "+PONG\r\n");
}

#[test]
fn acl_log_records_denials_and_auth_failures() {
    let s = Server::start();
    let mut admin = s.raw();
    admin.cmd(&["ACL", "SETUSER", "lg", "on", ">p", "+get", "+multi", "~k*"]);
    let mut u = login(&s, "lg", "p");
    u.cmd(&["GET", "other"]);
    u.cmd(&["GET", "other"]);
    u.cmd(&["SET", "k1", "v"]);
    u.cmd(&["AUTH", "lg", "wrong"]);
    u.cmd(&["MULTI"]);
    u.cmd(&["SET", "k1", "v"]);

    let mut con = s.client();
    let log: Vec<Vec<(String, redis::Value)>> =
        redis::cmd("ACL").arg("LOG").query(&mut con).unwrap();
    assert_eq!(log.len(), 4);
    let field = |e: &Vec<(String, redis::Value)>, name: &str| -> String {
        let v = &e.iter().find(|(k, _)| k == name).unwrap().1;
        match v {
            redis::Value::Int(i) => i.to_string(),
            redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
            other => format!("{other:?}"),
        }
    };
    let names: Vec<&str> = log[0].iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "count",
            "reason",
            "context",
            "object",
            "username",
            "age-seconds",
            "client-info"
        ]
    );
    // Newest first: the command refused while queuing in MULTI.
    assert_eq!(field(&log[0], "context"), "multi");
    assert_eq!(field(&log[0], "object"), "set");
    // The AUTH failure: its object is the command as sent.
    assert_eq!(
        (
            field(&log[1], "reason"),
            field(&log[1], "context"),
            field(&log[1], "object")
        ),
        ("auth".into(), "toplevel".into(), "AUTH".into())
    );
    let info = field(&log[1], "client-info");
    assert!(info.contains(" cmd=auth user=lg "), "{info}");
    assert_eq!(
        (
            field(&log[2], "reason"),
            field(&log[2], "context"),
            field(&log[2], "count")
        ),
        ("command".into(), "toplevel".into(), "1".into())
    );
    // Repeated denials are grouped.
    assert_eq!(
        (
            field(&log[3], "reason"),
            field(&log[3], "object"),
            field(&log[3], "count")
        ),
        ("key".into(), "other".into(), "2".into())
    );
    assert_eq!(field(&log[3], "username"), "lg");
    let info = field(&log[3], "client-info");
    assert!(info.contains(" cmd=get user=lg "), "{info}");
    let age: f64 = field(&log[3], "age-seconds").parse().unwrap();
    assert!((0.0..10.0).contains(&age));
    // EXEC of the poisoned transaction.
    assert_eq!(
        u.cmd_str(&["EXEC"]),
        "-EXECABORT Transaction discarded because of: NOPERM this user has no permissions to run the 'exec' command\r\n"
    );
    let mut r = s.raw();
    assert_eq!(r.cmd_str(&["ACL", "LOG", "1"]).matches("count").count(), 1);
    assert_eq!(r.cmd_str(&["ACL", "LOG", "RESET"]), "+OK\r\n");
    assert_eq!(r.cmd_str(&["ACL", "LOG"]), "*0\r\n");
}

#[test]
fn aclfile_survives_a_restart_and_reloads() {
    let dir = common::scratch_dir("aclfile");
    let path = dir.join("users.acl");
    std::fs::write(&path, "user boot on nopass ~* &* +@all\n").unwrap();
    let path_str = path.to_str().unwrap();
    let mut s = Server::start_with(&["--aclfile", path_str]);
    let mut r = s.raw();
    assert_eq!(
        r.cmd_str(&["ACL", "USERS"]),
        "*2\r\n$4\r\nboot\r\n$7\r\ndefault\r\n"
    );
    r.cmd(&[
        "ACL",
        "SETUSER",
        "saved",
        "on",
        ">pw",
        "~k*",
        "&c",
        "-@all",
        "+get",
        "(+set ~s*)",
    ]);
    assert_eq!(r.cmd_str(&["ACL", "SAVE"]), "+OK\r\n");
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        text,
        "user boot on nopass ~* &* +@all\n\
         user default on nopass ~* &* +@all\n\
         user saved on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~k* resetchannels &c -@all +get (~s* resetchannels -@all +set)\n"
    );
    let before = r.cmd_str(&["ACL", "LIST"]);
    s.terminate();

    let s = Server::start_with(&["--aclfile", path_str]);
    let mut r = s.raw();
    assert_eq!(r.cmd_str(&["ACL", "LIST"]), before);
    let mut saved = login(&s, "saved", "pw");
    assert_eq!(saved.cmd_str(&["SET", "s1", "v"]), "+OK\r\n");

    // A broken file changes nothing and names every problem.
    std::fs::write(&path, "user a on\nuser a off\nbogus line\nuser b +nosuch\n").unwrap();
    let err = r.cmd_str(&["ACL", "LOAD"]);
    assert_eq!(
        err,
        format!("-ERR WARNING: Duplicate user 'a' found on line 2. {path_str}:3 should start with user keyword followed by the username. {path_str}:4: Error in applying operation '+nosuch': Unknown command or category name in ACL. WARNING: ACL errors detected, no change to the previously active ACL rules was performed\r\n")
    );
    assert_eq!(r.cmd_str(&["ACL", "LIST"]), before);
    // A good file replaces the users; clients of replaced users are closed.
    std::fs::write(&path, "user fresh on nopass -@all\n").unwrap();
    assert_eq!(r.cmd_str(&["ACL", "LOAD"]), "+OK\r\n");
    assert_eq!(
        r.cmd_str(&["ACL", "LIST"]),
        "*2\r\n$34\r\nuser default on nopass ~* &* +@all\r\n$40\r\nuser fresh on nopass resetchannels -@all\r\n"
    );
    assert!(closed_soon(&mut saved));
    std::fs::remove_file(&path).unwrap();
    assert_eq!(
        r.cmd_str(&["ACL", "LOAD"]),
        format!(
            "-ERR Error loading ACLs, opening file '{path_str}': No such file or directory\r\n"
        )
    );
}

#[test]
fn startup_fails_on_a_broken_aclfile() {
    let dir = common::scratch_dir("aclbad");
    let path = dir.join("bad.acl");
    std::fs::write(&path, "user x +nosuch\n").unwrap();
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_ferrokv"))
        .args(["--port", "0", "--aclfile", path.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut child = status;
    let deadline = Instant::now() + common::TIMEOUT;
    loop {
        if let Some(code) = child.try_wait().unwrap() {
            assert!(!code.success());
            break;
        }
        assert!(Instant::now() < deadline, "server kept running");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn constant_time_password_compare() {
    use ferrokv::acl::rules::{constant_time_eq, hash_password};
    assert!(constant_time_eq(b"same", b"same"));
    assert!(!constant_time_eq(b"same", b"sane"));
    assert!(!constant_time_eq(b"same", b"same!"));
    assert_eq!(
        hash_password(b"pw"),
        "30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4"
    );
}

/// A non-loopback IPv4 address of this machine, if it has one.
fn external_ip() -> Option<std::net::IpAddr> {
    let sock = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    // Connecting a UDP socket sends nothing; it picks the outgoing address.
    sock.connect("192.0.2.1:9")
        .or_else(|_| sock.connect("10.255.255.1:9"))
        .ok()?;
    let ip = sock.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[test]
fn protected_mode_refuses_remote_clients_without_password() {
    use ferrokv::acl::protected_mode_refuses;
    let remote: std::net::IpAddr = "192.0.2.9".parse().unwrap();
    assert!(protected_mode_refuses(true, true, remote));
    assert!(!protected_mode_refuses(true, false, remote));
    assert!(!protected_mode_refuses(
        true,
        true,
        "127.0.0.1".parse().unwrap()
    ));

    // Without another interface only the decision above can be checked.
    let Some(ip) = external_ip() else { return };
    let s = Server::start_with(&["--bind", "*"]);
    // Sends PING from the external address; returns everything read
    // until the server closes or a line ends.
    let remote_ping = || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect((ip, s.port)).unwrap();
        stream.set_read_timeout(Some(common::TIMEOUT)).unwrap();
        let _ = stream.write_all(b"PING\r\n");
        let mut out = Vec::new();
        let mut chunk = [0u8; 4096];
        while !out.ends_with(b"\r\n") {
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&chunk[..n]),
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    let reply = remote_ping();
    assert!(reply.starts_with("-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user."), "{reply}");
    assert!(reply.ends_with("NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n"));
    // Loopback clients are served; turning the mode off lets remote ones in.
    let mut local = s.raw();
    assert_eq!(
        local.cmd_str(&["CONFIG", "SET", "protected-mode", "no"]),
        "+OK\r\n"
    );
    assert_eq!(remote_ping(), "+PONG\r\n");
    local.cmd(&["CONFIG", "SET", "protected-mode", "yes"]);
    local.cmd(&["CONFIG", "SET", "requirepass", "pw"]);
    assert_eq!(remote_ping(), "-NOAUTH Authentication required.\r\n");
}

#[test]
fn exec_rechecks_permissions_changed_after_queuing() {
    let s = Server::start();
    let mut admin = s.raw();
    admin.cmd(&["ACL", "SETUSER", "ex", "on", "nopass", "+@all", "~*"]);
    let mut u = login(&s, "ex", "x");
    for cmd in [
        &["MULTI"][..],
        &["SET", "k", "v"],
        &["GET", "k"],
        &["SET", "other", "v"],
    ] {
        u.cmd(cmd);
    }
    admin.cmd(&["ACL", "SETUSER", "ex", "-get", "resetkeys", "~o*"]);
    let prefix = "-NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: ";
    assert_eq!(
        u.cmd_str(&["EXEC"]),
        format!("*3\r\n{prefix}no permission to touch the specified keys\r\n{prefix}no permission to execute the command or subcommand\r\n+OK\r\n")
    );
    let log = admin.cmd_str(&["ACL", "LOG"]);
    assert_eq!(log.matches("$5\r\nmulti\r\n").count(), 2, "{log}");
}

#[test]
fn secrets_are_redacted_in_the_slow_log() {
    let s = Server::start_with(&["--slowlog-log-slower-than", "0"]);
    let mut r = s.raw();
    r.cmd(&["ACL", "SETUSER", "sl", "on", ">topsecret", "+@all"]);
    r.cmd(&["AUTH", "sl", "topsecret"]);
    let log = r.cmd_str(&["SLOWLOG", "GET", "2"]);
    assert!(!log.contains("topsecret"), "{log}");
    assert!(
        log.contains("$4\r\nAUTH\r\n$10\r\n(redacted)\r\n$10\r\n(redacted)\r\n"),
        "{log}"
    );
    assert!(log.contains("$3\r\nACL\r\n$7\r\nSETUSER\r\n$10\r\n(redacted)\r\n$10\r\n(redacted)\r\n$10\r\n(redacted)\r\n"), "{log}");
}

#[test]
fn acl_log_length_is_configurable() {
    let s = Server::start();
    let mut r = s.raw();
    assert_eq!(
        r.cmd_str(&["CONFIG", "GET", "acllog-max-len"]),
        "*2\r\n$14\r\nacllog-max-len\r\n$3\r\n128\r\n"
    );
    assert_eq!(
        r.cmd_str(&["CONFIG", "SET", "acllog-max-len", "2"]),
        "+OK\r\n"
    );
    for user in ["a", "b", "c"] {
        r.cmd(&["AUTH", user, "x"]);
    }
    let log = r.cmd_str(&["ACL", "LOG"]);
    assert!(log.starts_with("*2\r\n"), "{log}");
    assert!(
        log.contains("$1\r\nc\r\n") && !log.contains("$1\r\na\r\n"),
        "{log}"
    );
}

#[test]
fn blmove_of_a_user_without_push_permission_is_served() {
    let s = Server::start();
    let mut admin = s.raw();
    admin.cmd(&[
        "ACL", "SETUSER", "mover", "on", "nopass", "~*", "-@all", "+blmove",
    ]);
    let mut u = login(&s, "mover", "x");
    u.send(
        b"*6\r\n$6\r\nBLMOVE\r\n$3\r\nsrc\r\n$3\r\ndst\r\n$4\r\nLEFT\r\n$5\r\nRIGHT\r\n$1\r\n5\r\n",
    );
    // Serving moves the element even though the user may not LPUSH/RPUSH
    // (Redis pushes internally). Wait until the client is blocked first.
    let deadline = Instant::now() + common::TIMEOUT;
    while !admin
        .cmd_str(&["INFO", "clients"])
        .contains("blocked_clients:1")
    {
        assert!(Instant::now() < deadline, "client never blocked");
        std::thread::sleep(Duration::from_millis(10));
    }
    admin.cmd(&["RPUSH", "src", "a", "b"]);
    assert_eq!(u.read_frame(), b"$1\r\na\r\n");
    assert_eq!(
        admin.cmd_str(&["LRANGE", "dst", "0", "-1"]),
        "*1\r\n$1\r\na\r\n"
    );
}
