//! maxmemory and eviction: every policy fills the server past its limit
//! and checks that memory stays near the limit and the right keys go.

mod common;

use std::time::{Duration, Instant};

use common::{encode, Raw, Server};

const OOM: &[u8] = b"-OOM command not allowed when used memory > 'maxmemory'.\r\n";
const MB: u64 = 1024 * 1024;
/// Values are this long: a key costs a little over 1 KB.
const VALUE_LEN: usize = 1000;

fn value() -> String {
    "v".repeat(VALUE_LEN)
}

/// Sends SET for each key (with `extra` arguments such as EX 100) in
/// pipelined batches; returns how many were refused with the OOM error.
fn fill(r: &mut Raw, keys: impl IntoIterator<Item = String>, extra: &[&str]) -> usize {
    let v = value();
    let keys: Vec<String> = keys.into_iter().collect();
    let mut refused = 0;
    for batch in keys.chunks(100) {
        let mut bytes = Vec::new();
        for k in batch {
            let mut args: Vec<&[u8]> = vec![b"SET", k.as_bytes(), v.as_bytes()];
            args.extend(extra.iter().map(|a| a.as_bytes()));
            bytes.extend_from_slice(&encode(&args));
        }
        r.send(&bytes);
        for _ in batch {
            let reply = r.read_frame();
            if reply == OOM {
                refused += 1;
            } else {
                assert_eq!(reply, b"+OK\r\n");
            }
        }
    }
    refused
}

/// Pipelined GETs of `keys`; returns how many exist.
fn present(r: &mut Raw, keys: &[String]) -> usize {
    let mut found = 0;
    for batch in keys.chunks(100) {
        let mut bytes = Vec::new();
        for k in batch {
            bytes.extend_from_slice(&encode(&[b"GET", k.as_bytes()]));
        }
        r.send(&bytes);
        for _ in batch {
            if r.read_frame() != b"$-1\r\n" {
                found += 1;
            }
        }
    }
    found
}

fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}:{i}")).collect()
}

fn info_field(r: &mut Raw, section: &str, name: &str) -> u64 {
    let text = r.cmd_str(&["INFO", section]);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in INFO {section}"));
    line.trim().parse().expect("numeric field")
}

fn used_memory(r: &mut Raw) -> u64 {
    info_field(r, "memory", "used_memory")
}

fn evicted(r: &mut Raw) -> u64 {
    info_field(r, "stats", "evicted_keys")
}

/// Memory must stay within 5 % of the limit once filled past it (plus
/// 64 KB for the buffers of the test's own connections).
fn assert_bounded(r: &mut Raw, limit: u64) {
    let used = used_memory(r);
    assert!(
        used <= limit + limit / 20 + 64 * 1024,
        "used_memory {used} exceeds maxmemory {limit} by more than 5%: {}",
        r.cmd_str(&["INFO", "memory"])
    );
}

fn start(limit_mb: u64, policy: &str, extra: &[&str]) -> Server {
    let limit = format!("{limit_mb}mb");
    let mut args = vec!["--maxmemory", &limit, "--maxmemory-policy", policy];
    args.extend_from_slice(extra);
    Server::start_with(&args)
}

#[test]
fn allkeys_lru_keeps_memory_bounded_and_recently_used_keys() {
    let s = start(8, "allkeys-lru", &[]);
    let mut r = s.raw();
    let cold = names("cold", 2000);
    let hot = names("hot", 500);
    assert_eq!(fill(&mut r, cold.clone(), &[]), 0);
    assert_eq!(fill(&mut r, hot.clone(), &[]), 0);
    // The LRU clock has one-second resolution: let the cold keys age.
    std::thread::sleep(Duration::from_millis(2100));
    let mut written = 0;
    for round in 0..12 {
        // Sampling is approximate: a few hot keys may go now and then.
        let hot_now = present(&mut r, &hot);
        assert!(hot_now * 10 >= hot.len() * 9, "round {round}: {hot_now}");
        let batch: Vec<String> = (written..written + 2000)
            .map(|i| format!("new:{i}"))
            .collect();
        written += batch.len();
        assert_eq!(fill(&mut r, batch, &[]), 0);
        assert_bounded(&mut r, 8 * MB);
    }
    assert!(evicted(&mut r) > 10_000);
    let hot_left = present(&mut r, &hot);
    let cold_left = present(&mut r, &cold);
    assert!(
        hot_left * 10 >= hot.len() * 9,
        "only {hot_left} hot keys left"
    );
    assert!(cold_left * 10 <= cold.len(), "{cold_left} cold keys left");
    // Reads still work, and so do writes (they evict).
    assert_eq!(r.cmd(&["SET", "after", "1"]), b"+OK\r\n");
    assert_eq!(r.cmd(&["GET", "after"]), b"$1\r\n1\r\n");
}

#[test]
fn allkeys_lfu_keeps_frequently_used_keys() {
    // Log factor 0: every access increments the counter, so the hot keys
    // are clearly ahead of keys touched once; no decay, so a minute
    // boundary during the test changes nothing.
    let s = start(
        8,
        "allkeys-lfu",
        &["--lfu-log-factor", "0", "--lfu-decay-time", "0"],
    );
    let mut r = s.raw();
    let hot = names("hot", 500);
    let cold = names("cold", 2000);
    assert_eq!(fill(&mut r, hot.clone(), &[]), 0);
    for _ in 0..20 {
        assert_eq!(present(&mut r, &hot), hot.len());
    }
    assert_eq!(r.cmd(&["OBJECT", "FREQ", "hot:0"]), b":25\r\n");
    assert_eq!(fill(&mut r, cold.clone(), &[]), 0);
    assert_eq!(fill(&mut r, names("new", 20_000), &[]), 0);
    assert_bounded(&mut r, 8 * MB);
    let hot_left = present(&mut r, &hot);
    let cold_left = present(&mut r, &cold);
    assert!(
        hot_left * 10 >= hot.len() * 9,
        "only {hot_left} hot keys left"
    );
    assert!(cold_left * 4 <= cold.len(), "{cold_left} cold keys left");
    assert!(evicted(&mut r) > 10_000);
    assert!(r
        .cmd_str(&["OBJECT", "IDLETIME", "hot:1"])
        .starts_with("-ERR An LFU maxmemory policy is selected"));
}

#[test]
fn allkeys_random_stays_bounded() {
    let s = start(6, "allkeys-random", &[]);
    let mut r = s.raw();
    assert_eq!(fill(&mut r, names("k", 20_000), &[]), 0);
    assert_bounded(&mut r, 6 * MB);
    let keys: u64 = String::from_utf8_lossy(&r.cmd(&["DBSIZE"]))[1..]
        .trim()
        .parse()
        .unwrap();
    let gone = evicted(&mut r);
    assert_eq!(keys + gone, 20_000);
    assert!(gone > 10_000);
}

/// Every volatile policy evicts only keys with a TTL; with none left,
/// writes fail with the OOM error while reads go on.
#[test]
fn volatile_policies_only_evict_keys_with_a_ttl() {
    for policy in [
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    ] {
        let s = start(6, policy, &[]);
        let mut r = s.raw();
        let persistent = names("keep", 1500);
        assert_eq!(fill(&mut r, persistent.clone(), &[]), 0, "{policy}");
        let volatile = names("ttl", 10_000);
        assert_eq!(
            fill(&mut r, volatile.clone(), &["EX", "1000"]),
            0,
            "{policy}"
        );
        assert_bounded(&mut r, 6 * MB);
        assert!(evicted(&mut r) > 3000, "{policy}");
        assert_eq!(present(&mut r, &persistent), persistent.len(), "{policy}");
        // Persistent keys only from now on: once the volatile ones are all
        // gone, writes are refused.
        let refused = fill(&mut r, names("more", 10_000), &[]);
        assert!(refused > 0, "{policy}: no write refused");
        assert_eq!(present(&mut r, &volatile), 0, "{policy}");
        assert_eq!(present(&mut r, &persistent), persistent.len(), "{policy}");
        assert_eq!(r.cmd(&["GET", "keep:1"]).len(), VALUE_LEN + 9, "{policy}");
    }
}

#[test]
fn volatile_ttl_evicts_the_soonest_expiring_keys_first() {
    let s = start(6, "volatile-ttl", &["--maxmemory-samples", "10"]);
    let mut r = s.raw();
    let soon = names("soon", 1500);
    let late = names("late", 1500);
    assert_eq!(fill(&mut r, soon.clone(), &["EX", "1000"]), 0);
    assert_eq!(fill(&mut r, late.clone(), &["EX", "100000"]), 0);
    assert_eq!(fill(&mut r, names("mid", 6000), &["EX", "50000"]), 0);
    assert_bounded(&mut r, 6 * MB);
    let soon_left = present(&mut r, &soon);
    let late_left = present(&mut r, &late);
    assert!(soon_left * 10 <= soon.len(), "{soon_left} soon keys left");
    assert!(
        late_left * 10 >= late.len() * 9,
        "only {late_left} late keys left"
    );
}

#[test]
fn noeviction_refuses_writes_with_the_oom_error_and_reads_still_work() {
    let s = start(16, "noeviction", &[]);
    let mut r = s.raw();
    let keys = names("k", 20_000);
    let refused = fill(&mut r, keys.clone(), &[]);
    assert!(refused > 5000, "only {refused} writes refused");
    assert_bounded(&mut r, 16 * MB);
    assert_eq!(evicted(&mut r), 0);
    assert_eq!(r.cmd(&["SET", "x", "1"]), OOM);
    assert_eq!(r.cmd(&["LPUSH", "l", "1"]), OOM);
    // Not denyoom: reads, deletions, introspection.
    assert_eq!(r.cmd(&["GET", "k:0"]).len(), VALUE_LEN + 9);
    assert_eq!(r.cmd(&["EXISTS", "k:1"]), b":1\r\n");
    assert_eq!(r.cmd(&["DEL", "k:1"]), b":1\r\n");
    // Inside MULTI everything but EXEC/DISCARD is refused, and EXEC aborts.
    assert_eq!(r.cmd(&["MULTI"]), b"+OK\r\n");
    assert_eq!(r.cmd(&["GET", "k:0"]), OOM);
    assert_eq!(
        r.cmd(&["EXEC"]),
        b"-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    let rejected = r.cmd_str(&["INFO", "commandstats"]);
    assert!(rejected.contains("cmdstat_set:calls="), "{rejected}");
    assert!(rejected.contains("rejected_calls="), "{rejected}");
    // Freeing memory makes room again.
    assert_eq!(r.cmd(&["FLUSHALL"]), b"+OK\r\n");
    assert_eq!(r.cmd(&["SET", "x", "1"]), b"+OK\r\n");
}

/// Lowering maxmemory at run time evicts at once; each evicted key is
/// counted, notified as `evicted` and makes WATCHers' EXEC fail.
#[test]
fn config_set_maxmemory_evicts_notifies_and_invalidates_watch() {
    let s = Server::start_with(&["--maxmemory-policy", "allkeys-lru"]);
    let mut r = s.raw();
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "notify-keyspace-events", "Ee"]),
        b"+OK\r\n"
    );
    let mut sub = s.raw();
    sub.cmd(&["SUBSCRIBE", "__keyevent@0__:evicted"]);
    let mut watcher = s.raw();
    assert_eq!(watcher.cmd(&["SET", "w", "1"]), b"+OK\r\n");
    assert_eq!(watcher.cmd(&["WATCH", "w"]), b"+OK\r\n");
    assert_eq!(r.cmd(&["SET", "other", "2"]), b"+OK\r\n");
    // Far below what the server itself needs: everything evictable goes.
    assert_eq!(r.cmd(&["CONFIG", "SET", "maxmemory", "1"]), b"+OK\r\n");
    assert_eq!(r.cmd(&["DBSIZE"]), b":0\r\n");
    assert_eq!(r.cmd(&["SET", "x", "1"]), OOM);
    assert_eq!(r.cmd(&["CONFIG", "SET", "maxmemory", "0"]), b"+OK\r\n");
    assert_eq!(evicted(&mut r), 2);
    let mut notified = vec![sub.read_frame(), sub.read_frame()];
    let msg = |key: &str| {
        format!(
            "*3\r\n$7\r\nmessage\r\n$22\r\n__keyevent@0__:evicted\r\n${}\r\n{key}\r\n",
            key.len()
        )
        .into_bytes()
    };
    let mut expected = vec![msg("other"), msg("w")];
    notified.sort();
    expected.sort();
    assert_eq!(notified, expected);
    assert_eq!(watcher.cmd(&["MULTI"]), b"+OK\r\n");
    assert_eq!(watcher.cmd(&["SET", "w", "3"]), b"+QUEUED\r\n");
    assert_eq!(watcher.cmd(&["EXEC"]), b"*-1\r\n");
    assert_eq!(r.cmd(&["CONFIG", "RESETSTAT"]), b"+OK\r\n");
    assert_eq!(evicted(&mut r), 0);
}

/// Client-side caching: an evicted key is invalidated for its readers.
#[test]
fn eviction_invalidates_tracked_keys() {
    let s = Server::start_with(&["--maxmemory-policy", "allkeys-random"]);
    let mut reader = s.raw();
    reader.cmd(&["HELLO", "3"]);
    assert_eq!(reader.cmd(&["CLIENT", "TRACKING", "on"]), b"+OK\r\n");
    let mut r = s.raw();
    assert_eq!(r.cmd(&["SET", "cached", "1"]), b"+OK\r\n");
    assert_eq!(reader.cmd(&["GET", "cached"]), b"$1\r\n1\r\n");
    assert_eq!(r.cmd(&["CONFIG", "SET", "maxmemory", "1"]), b"+OK\r\n");
    assert_eq!(r.cmd(&["CONFIG", "SET", "maxmemory", "0"]), b"+OK\r\n");
    assert_eq!(
        reader.read_frame(),
        b">2\r\n$10\r\ninvalidate\r\n*1\r\n$6\r\ncached\r\n"
    );
}

/// The cron finishes evicting what a command's time budget left over.
#[test]
fn background_eviction_catches_up() {
    let s = Server::start_with(&[
        "--maxmemory-policy",
        "allkeys-random",
        "--maxmemory-eviction-tenacity",
        "0",
    ]);
    let mut r = s.raw();
    assert_eq!(fill(&mut r, names("k", 6000), &[]), 0);
    assert_eq!(r.cmd(&["CONFIG", "SET", "maxmemory", "3mb"]), b"+OK\r\n");
    let deadline = Instant::now() + Duration::from_secs(10);
    while used_memory(&mut r) > 3 * MB + 3 * MB / 20 {
        assert!(Instant::now() < deadline, "eviction never caught up");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(evicted(&mut r) > 1000);
}

#[test]
fn info_and_memory_stats_report_the_limits() {
    let s = start(100, "volatile-lfu", &[]);
    let mut r = s.raw();
    let text = r.cmd_str(&["INFO", "memory"]);
    for line in [
        "maxmemory:104857600\r\n",
        "maxmemory_human:100.00M\r\n",
        "maxmemory_policy:volatile-lfu\r\n",
    ] {
        assert!(text.contains(line), "{line} missing in {text}");
    }
    for field in [
        "used_memory_overhead:",
        "used_memory_startup:",
        "used_memory_dataset:",
        "mem_fragmentation_ratio:",
        "mem_clients_normal:",
    ] {
        assert!(text.contains(field), "{field} missing");
    }
    assert_eq!(fill(&mut r, names("k", 100), &[]), 0);
    let stats = r.cmd_str(&["MEMORY", "STATS"]);
    assert!(
        stats.starts_with("*56\r\n$14\r\npeak.allocated\r\n:"),
        "{stats}"
    );
    assert!(stats.contains("$10\r\nkeys.count\r\n:100\r\n"), "{stats}");
    assert!(stats.contains("$4\r\ndb.0\r\n*6\r\n"), "{stats}");
    assert_eq!(r.cmd(&["MEMORY", "PURGE"]), b"+OK\r\n");
    assert!(r.cmd_str(&["MEMORY", "MALLOC-STATS"]).contains("jemalloc"));
    assert!(r.cmd_str(&["MEMORY", "DOCTOR"]).contains("Sam"));
}

/// A database that just became empty is sampled again as soon as keys
/// arrive: evictions right after a full eviction still find them.
#[test]
fn keys_written_right_after_a_full_eviction_are_evictable() {
    let s = Server::start_with(&["--maxmemory-policy", "allkeys-lru"]);
    let mut r = s.raw();
    for round in 0..3 {
        assert_eq!(r.cmd(&["SET", "a", "1"]), b"+OK\r\n");
        assert_eq!(r.cmd(&["SELECT", "3"]), b"+OK\r\n");
        assert_eq!(r.cmd(&["SET", "b", "1"]), b"+OK\r\n");
        assert_eq!(r.cmd(&["SELECT", "0"]), b"+OK\r\n");
        assert_eq!(r.cmd(&["CONFIG", "SET", "maxmemory", "1"]), b"+OK\r\n");
        assert_eq!(r.cmd(&["CONFIG", "SET", "maxmemory", "0"]), b"+OK\r\n");
        assert_eq!(r.cmd(&["DBSIZE"]), b":0\r\n", "round {round}");
        assert_eq!(evicted(&mut r), 2 * (round + 1), "round {round}");
    }
}

/// Issue 8's scale: `maxmemory 50mb` with `allkeys-lru` while 500 MB of
/// 1 KB values are written; `used_memory` stays within 5 % of the limit
/// and keys read continuously survive while the cold ones go.
#[test]
fn fifty_megabytes_hold_while_five_hundred_are_written() {
    let s = start(50, "allkeys-lru", &[]);
    let mut r = s.raw();
    let hot = names("hot", 1000);
    assert_eq!(fill(&mut r, hot.clone(), &[]), 0);
    let total = 500 * 1024;
    let mut written = 0;
    while written < total {
        let batch: Vec<String> = (written..written + 10_000)
            .map(|i| format!("bulk:{i}"))
            .collect();
        written += batch.len();
        assert_eq!(fill(&mut r, batch, &[]), 0);
        // Touching the hot keys keeps their access clock fresh.
        let hot_now = present(&mut r, &hot);
        assert!(
            hot_now * 10 >= hot.len() * 9,
            "{written}: {hot_now} hot left"
        );
        assert_bounded(&mut r, 50 * MB);
    }
    assert!(evicted(&mut r) > 400_000);
    let early = names("bulk", 10_000);
    assert!(
        present(&mut r, &early) * 100 <= early.len(),
        "cold keys kept"
    );
}
