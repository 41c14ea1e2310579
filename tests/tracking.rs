//! Client-side caching (CLIENT TRACKING): every scenario runs against
//! ferrokv and against a real redis-server, with the same expected bytes.

mod common;

use std::time::{Duration, Instant};

use common::{Raw, Server};

/// Runs `scenario` on ferrokv and on redis-server.
fn both(scenario: fn(&Server)) {
    scenario(&Server::start());
    scenario(&Server::start_redis());
}

/// A RESP3 connection.
fn resp3(s: &Server) -> Raw {
    let mut r = s.raw();
    r.cmd(&["HELLO", "3"]);
    r
}

fn client_id(r: &mut Raw) -> String {
    let reply = r.cmd_str(&["CLIENT", "ID"]);
    reply.trim_start_matches(':').trim_end().to_string()
}

/// The push a RESP3 client receives when `keys` are invalidated.
fn push(keys: &[&str]) -> Vec<u8> {
    let mut out = format!(">2\r\n$10\r\ninvalidate\r\n*{}\r\n", keys.len());
    for k in keys {
        out.push_str(&format!("${}\r\n{k}\r\n", k.len()));
    }
    out.into_bytes()
}

/// The Pub/Sub message a RESP2 redirect target receives for `keys`.
fn message(keys: &[&str]) -> Vec<u8> {
    let mut out = format!(
        "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*{}\r\n",
        keys.len()
    );
    for k in keys {
        out.push_str(&format!("${}\r\n{k}\r\n", k.len()));
    }
    out.into_bytes()
}

const NULL_PUSH: &[u8] = b">2\r\n$10\r\ninvalidate\r\n_\r\n";

#[test]
fn default_mode_invalidates_once_until_read_again() {
    both(|s| {
        let mut t = resp3(s);
        let mut w = s.raw();
        assert_eq!(t.cmd(&["CLIENT", "TRACKING", "on"]), b"+OK\r\n");
        assert_eq!(t.cmd(&["GET", "k"]), b"_\r\n");
        assert_eq!(t.cmd(&["MGET", "k2", "k3"]), b"*2\r\n_\r\n_\r\n");
        assert_eq!(w.cmd(&["SET", "k", "1"]), b"+OK\r\n");
        assert_eq!(t.read_frame(), push(&["k"]));
        // Forgotten after one invalidation: k's second change sends
        // nothing, so k2's invalidation is the next frame.
        w.cmd(&["SET", "k", "2"]);
        w.cmd(&["LPUSH", "k2", "x"]);
        assert_eq!(t.read_frame(), push(&["k2"]));
        // Read again: tracked again, also for writes from other commands.
        assert_eq!(t.cmd(&["GET", "k"]), b"$1\r\n2\r\n");
        assert_eq!(w.cmd(&["DEL", "k"]), b":1\r\n");
        assert_eq!(t.read_frame(), push(&["k"]));
        // Writes that change nothing don't invalidate.
        assert_eq!(w.cmd(&["DEL", "k3"]), b":0\r\n");
        // The client's own write: the push follows the reply.
        t.send(&common::encode(&[b"SET", b"k3", b"v"]));
        assert_eq!(t.read_frame(), b"+OK\r\n");
        assert_eq!(t.read_frame(), push(&["k3"]));
        // A transaction's pushes come after the whole EXEC reply.
        t.cmd(&["GET", "k3"]);
        t.cmd(&["MULTI"]);
        t.cmd(&["SET", "k3", "a"]);
        t.cmd(&["GET", "k3"]);
        assert_eq!(t.cmd(&["EXEC"]), b"*2\r\n+OK\r\n$1\r\na\r\n");
        assert_eq!(t.read_frame(), push(&["k3"]));
        // Tracking off: no more invalidations.
        t.cmd(&["GET", "k3"]);
        assert_eq!(t.cmd(&["CLIENT", "TRACKING", "off"]), b"+OK\r\n");
        w.cmd(&["SET", "k3", "b"]);
        assert_eq!(t.cmd(&["PING"]), b"+PONG\r\n");
    });
}

#[test]
fn optin_and_optout_follow_client_caching() {
    both(|s| {
        let mut t = resp3(s);
        let mut w = s.raw();
        assert_eq!(t.cmd(&["CLIENT", "TRACKING", "on", "OPTIN"]), b"+OK\r\n");
        t.cmd(&["GET", "a"]);
        assert_eq!(t.cmd(&["CLIENT", "CACHING", "yes"]), b"+OK\r\n");
        // Other CLIENT subcommands keep the flag for the next command.
        t.cmd(&["CLIENT", "ID"]);
        t.cmd(&["GET", "b"]);
        // Any other command consumes it.
        t.cmd(&["CLIENT", "CACHING", "yes"]);
        t.cmd(&["PING"]);
        t.cmd(&["GET", "c"]);
        w.cmd(&["MSET", "a", "1", "c", "1", "b", "1"]);
        assert_eq!(t.read_frame(), push(&["b"]));
        // In a transaction the flag covers every queued command.
        t.cmd(&["CLIENT", "CACHING", "yes"]);
        t.cmd(&["MULTI"]);
        t.cmd(&["GET", "d"]);
        t.cmd(&["GET", "e"]);
        t.cmd(&["EXEC"]);
        t.cmd(&["GET", "f"]);
        w.cmd(&["MSET", "f", "1", "d", "1", "e", "1"]);
        assert_eq!(t.read_frame(), push(&["d"]));
        assert_eq!(t.read_frame(), push(&["e"]));

        let mut o = resp3(s);
        assert_eq!(o.cmd(&["CLIENT", "TRACKING", "on", "OPTOUT"]), b"+OK\r\n");
        assert_eq!(o.cmd(&["CLIENT", "CACHING", "no"]), b"+OK\r\n");
        o.cmd(&["GET", "x"]);
        o.cmd(&["GET", "y"]);
        w.cmd(&["MSET", "x", "1", "y", "1"]);
        assert_eq!(o.read_frame(), push(&["y"]));
    });
}

#[test]
fn noloop_skips_the_clients_own_writes() {
    both(|s| {
        let mut t = resp3(s);
        let mut w = s.raw();
        assert_eq!(t.cmd(&["CLIENT", "TRACKING", "on", "NOLOOP"]), b"+OK\r\n");
        t.cmd(&["MGET", "k", "s"]);
        assert_eq!(t.cmd(&["SET", "k", "1"]), b"+OK\r\n");
        // k was forgotten by the own write: only s is reported.
        w.cmd(&["SET", "k", "2"]);
        w.cmd(&["SET", "s", "2"]);
        assert_eq!(t.read_frame(), push(&["s"]));
    });
}

#[test]
fn bcast_reports_every_change_under_the_prefixes() {
    both(|s| {
        let mut t = resp3(s);
        let mut w = s.raw();
        assert_eq!(
            t.cmd(&["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "user:", "PREFIX", "obj:"]),
            b"+OK\r\n"
        );
        // One message per prefix (in prefix order), keys sorted, no reads needed.
        w.cmd(&[
            "MSET", "user:2", "a", "user:1", "b", "other", "x", "obj:9", "c",
        ]);
        assert_eq!(t.read_frame(), push(&["obj:9"]));
        assert_eq!(t.read_frame(), push(&["user:1", "user:2"]));
        w.cmd(&["SET", "user:1", "again"]);
        assert_eq!(t.read_frame(), push(&["user:1"]));
        w.cmd(&["SET", "nothing", "x"]);
        w.cmd(&["DEL", "obj:9"]);
        assert_eq!(t.read_frame(), push(&["obj:9"]));

        // No prefix: everything; NOLOOP hides the client's own writes.
        let mut all = resp3(s);
        assert_eq!(
            all.cmd(&["CLIENT", "TRACKING", "on", "BCAST", "NOLOOP"]),
            b"+OK\r\n"
        );
        assert_eq!(all.cmd(&["SET", "mine", "1"]), b"+OK\r\n");
        w.cmd(&["INCR", "counter"]);
        assert_eq!(all.read_frame(), push(&["counter"]));
        assert_eq!(
            all.cmd(&["CLIENT", "TRACKINGINFO"]),
            b"%3\r\n$5\r\nflags\r\n~3\r\n$2\r\non\r\n$5\r\nbcast\r\n$6\r\nnoloop\r\n$8\r\nredirect\r\n:0\r\n$8\r\nprefixes\r\n*1\r\n$0\r\n\r\n"
        );
    });
}

#[test]
fn redirect_reaches_a_resp2_subscriber() {
    both(|s| {
        let mut sub = s.raw();
        let sub_id = client_id(&mut sub);
        assert_eq!(
            sub.cmd(&["SUBSCRIBE", "__redis__:invalidate"]),
            b"*3\r\n$9\r\nsubscribe\r\n$20\r\n__redis__:invalidate\r\n:1\r\n"
        );
        let mut t = s.raw();
        let mut w = s.raw();
        assert_eq!(
            t.cmd(&["CLIENT", "TRACKING", "on", "REDIRECT", &sub_id]),
            b"+OK\r\n"
        );
        assert_eq!(
            t.cmd(&["CLIENT", "GETREDIR"]),
            format!(":{sub_id}\r\n").as_bytes()
        );
        t.cmd(&["GET", "k"]);
        w.cmd(&["SET", "k", "v"]);
        assert_eq!(sub.read_frame(), message(&["k"]));
        // A flush: the null of the tracking client's protocol (RESP2).
        w.cmd(&["FLUSHALL"]);
        assert_eq!(
            sub.read_frame(),
            b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n$-1\r\n"
        );
        // A RESP3 redirect target gets pushes, subscribed or not.
        let mut target = resp3(s);
        let target_id = client_id(&mut target);
        t.cmd(&["CLIENT", "TRACKING", "on", "REDIRECT", &target_id]);
        t.cmd(&["GET", "k"]);
        w.cmd(&["SET", "k", "v"]);
        assert_eq!(target.read_frame(), push(&["k"]));
    });
}

#[test]
fn flushes_send_a_null_invalidation_to_every_tracking_client() {
    both(|s| {
        let mut t = resp3(s);
        let mut b = resp3(s);
        let mut w = s.raw();
        t.cmd(&["CLIENT", "TRACKING", "on"]);
        b.cmd(&["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "zz"]);
        t.send(&common::encode(&[b"FLUSHALL"]));
        assert_eq!(t.read_frame(), b"+OK\r\n");
        assert_eq!(t.read_frame(), NULL_PUSH);
        assert_eq!(b.read_frame(), NULL_PUSH);
        // Even when nothing was read; FLUSHDB too.
        w.cmd(&["FLUSHDB"]);
        assert_eq!(t.read_frame(), NULL_PUSH);
        assert_eq!(b.read_frame(), NULL_PUSH);
        // The table was emptied: an old read no longer invalidates.
        t.cmd(&["GET", "old"]);
        w.cmd(&["FLUSHALL"]);
        assert_eq!(t.read_frame(), NULL_PUSH);
        w.cmd(&["SET", "old", "1"]);
        w.cmd(&["SET", "zzz", "1"]);
        assert_eq!(b.read_frame(), NULL_PUSH);
        assert_eq!(b.read_frame(), push(&["zzz"]));
        assert_eq!(t.cmd(&["PING"]), b"+PONG\r\n");
    });
}

/// Waits (bounded) until client `id` is gone from CLIENT LIST.
fn wait_gone(r: &mut Raw, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !r
        .cmd_str(&["CLIENT", "LIST", "ID", id])
        .ends_with("\r\n\r\n")
    {
        assert!(Instant::now() < deadline, "client {id} still listed");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_vanished_redirect_client_is_reported() {
    both(|s| {
        let mut t = resp3(s);
        let mut w = s.raw();
        let mut gone = s.raw();
        let gone_id = client_id(&mut gone);
        t.cmd(&["CLIENT", "TRACKING", "on", "REDIRECT", &gone_id]);
        t.cmd(&["GET", "k"]);
        drop(gone);
        let mut probe = s.raw();
        wait_gone(&mut probe, &gone_id);
        w.cmd(&["SET", "k", "1"]);
        let broken = format!(">2\r\n$21\r\ntracking-redir-broken\r\n:{gone_id}\r\n");
        assert_eq!(t.read_frame(), broken.as_bytes());
        let info = format!(
            "%3\r\n$5\r\nflags\r\n~2\r\n$2\r\non\r\n$15\r\nbroken_redirect\r\n$8\r\nredirect\r\n:{gone_id}\r\n$8\r\nprefixes\r\n*0\r\n"
        );
        assert_eq!(t.cmd(&["CLIENT", "TRACKINGINFO"]), info.as_bytes());
    });
}

#[test]
fn trackinginfo_getredir_and_option_errors() {
    both(|s| {
        let mut t = s.raw();
        assert_eq!(t.cmd(&["CLIENT", "GETREDIR"]), b":-1\r\n");
        assert_eq!(
            t.cmd(&["CLIENT", "TRACKING", "on", "OPTOUT", "NOLOOP"]),
            b"+OK\r\n"
        );
        t.cmd(&["CLIENT", "CACHING", "no"]);
        assert_eq!(
            t.cmd(&["CLIENT", "TRACKINGINFO"]),
            b"*6\r\n$5\r\nflags\r\n*4\r\n$2\r\non\r\n$6\r\noptout\r\n$10\r\ncaching-no\r\n$6\r\nnoloop\r\n$8\r\nredirect\r\n:0\r\n$8\r\nprefixes\r\n*0\r\n"
        );
        assert_eq!(t.cmd(&["CLIENT", "GETREDIR"]), b":0\r\n");
        assert_eq!(
            t.cmd(&["CLIENT", "TRACKING", "on", "OPTIN"]),
            b"-ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.\r\n"
        );
        assert_eq!(
            t.cmd(&["CLIENT", "TRACKING", "on", "BCAST"]),
            b"-ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.\r\n"
        );
        assert_eq!(
            t.cmd(&["CLIENT", "TRACKING", "on", "REDIRECT", "999999"]),
            b"-ERR The client ID you want redirect to does not exist\r\n"
        );
        let me = client_id(&mut t);
        assert_eq!(
            t.cmd(&["CLIENT", "TRACKING", "on", "REDIRECT", &me, "REDIRECT", &me]),
            b"-ERR A client can only redirect to a single other client\r\n"
        );
        // RESET turns tracking off.
        assert_eq!(t.cmd(&["RESET"]), b"+RESET\r\n");
        assert_eq!(t.cmd(&["CLIENT", "GETREDIR"]), b":-1\r\n");
        // BCAST prefixes accumulate; an overlap past the first prefix is
        // reported and tracking is enabled anyway (Redis 7.0 behaviour).
        t.send(&common::encode(&[
            b"CLIENT",
            b"TRACKING",
            b"on",
            b"BCAST",
            b"PREFIX",
            b"b",
            b"PREFIX",
            b"c",
            b"PREFIX",
            b"cd",
        ]));
        assert_eq!(
            t.read_frame(),
            b"-ERR Prefix 'c' overlaps with another provided prefix 'cd'. Prefixes for a single client must not overlap.\r\n"
        );
        assert_eq!(t.read_frame(), b"+OK\r\n");
        assert_eq!(
            t.cmd(&["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "bx"]),
            b"-ERR Prefix 'bx' overlaps with an existing prefix 'b'. Prefixes for a single client must not overlap.\r\n"
        );
        assert_eq!(
            t.cmd(&["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "x"]),
            b"+OK\r\n"
        );
        assert_eq!(
            t.cmd(&["CLIENT", "TRACKINGINFO"]),
            b"*6\r\n$5\r\nflags\r\n*2\r\n$2\r\non\r\n$5\r\nbcast\r\n$8\r\nredirect\r\n:0\r\n$8\r\nprefixes\r\n*4\r\n$1\r\nb\r\n$1\r\nc\r\n$2\r\ncd\r\n$1\r\nx\r\n"
        );
        let info = t.cmd_str(&["INFO", "clients"]);
        assert!(info.contains("tracking_clients:1\r\n"), "{info}");
        drop(t);
        let mut other = s.raw();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !other
            .cmd_str(&["INFO", "clients"])
            .contains("tracking_clients:0\r\n")
        {
            assert!(Instant::now() < deadline, "tracking client not released");
            std::thread::sleep(Duration::from_millis(20));
        }
    });
}

#[test]
fn expired_keys_are_invalidated() {
    both(|s| {
        let mut t = resp3(s);
        let mut b = resp3(s);
        let mut w = s.raw();
        t.cmd(&["CLIENT", "TRACKING", "on"]);
        b.cmd(&["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "tmp:"]);
        w.cmd(&["SET", "tmp:k", "v", "PX", "100"]);
        assert_eq!(b.read_frame(), push(&["tmp:k"]));
        assert_eq!(t.cmd(&["GET", "tmp:k"]), b"$1\r\nv\r\n");
        std::thread::sleep(Duration::from_millis(150));
        // Expired by the active cycle or by this lookup, whichever is first.
        assert_eq!(w.cmd(&["GET", "tmp:k"]), b"$-1\r\n");
        assert_eq!(t.read_frame(), push(&["tmp:k"]));
        assert_eq!(b.read_frame(), push(&["tmp:k"]));
        assert_eq!(t.cmd(&["PING"]), b"+PONG\r\n");
    });
}

#[test]
fn the_key_table_is_bounded_by_tracking_table_max_keys() {
    both(|s| {
        let mut t = resp3(s);
        let mut w = s.raw();
        assert_eq!(
            w.cmd(&["CONFIG", "SET", "tracking-table-max-keys", "2"]),
            b"+OK\r\n"
        );
        t.cmd(&["CLIENT", "TRACKING", "on"]);
        t.cmd(&["MGET", "a", "b"]);
        t.cmd(&["GET", "c"]);
        let info = w.cmd_str(&["INFO", "stats"]);
        assert!(info.contains("tracking_total_keys:2\r\n"), "{info}");
        // One of the three was forgotten and its reader told so.
        let evicted = t.read_frame();
        assert!(
            ["a", "b", "c"].iter().any(|k| evicted == push(&[k])),
            "{}",
            String::from_utf8_lossy(&evicted)
        );
    });
}

#[test]
fn a_blocked_client_still_receives_invalidations() {
    both(|s| {
        let mut t = resp3(s);
        let mut w = s.raw();
        t.cmd(&["CLIENT", "TRACKING", "on"]);
        t.cmd(&["GET", "k"]);
        t.send(&common::encode(&[b"BLPOP", b"list", b"0"]));
        // Wait (bounded) until the client is blocked.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !w
            .cmd_str(&["INFO", "clients"])
            .contains("blocked_clients:1\r\n")
        {
            assert!(Instant::now() < deadline, "BLPOP did not block");
            std::thread::sleep(Duration::from_millis(10));
        }
        w.cmd(&["SET", "k", "v"]);
        assert_eq!(t.read_frame(), push(&["k"]));
        w.cmd(&["RPUSH", "list", "x"]);
        assert_eq!(t.read_frame(), b"*2\r\n$4\r\nlist\r\n$1\r\nx\r\n");
    });
}
