//! The table of supported directives.

use super::parse::{format_memory, parse_bool, parse_int, parse_memory, parse_save};
use super::Config;

/// What `CONFIG SET` may do with a directive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Settable at run time.
    Mutable,
    /// Only at start-up.
    Immutable,
    /// Refused at run time like Redis's protected configs (`dir`,
    /// `dbfilename`), which could otherwise write files anywhere.
    Protected,
}

/// One configuration directive.
pub struct Directive {
    /// Redis's name for it.
    pub name: &'static str,
    /// Default value, in directive syntax.
    pub default: &'static str,
    /// Whether and how `CONFIG SET` may change it while running.
    pub access: Access,
    /// One-line meaning, used in `redis.toml` and `--help`.
    pub doc: &'static str,
    /// Renders the current value.
    pub get: fn(&Config) -> String,
    /// Parses and applies a value.
    pub set: fn(&mut Config, &str) -> Result<(), String>,
}

fn yes_no(b: bool) -> String {
    (if b { "yes" } else { "no" }).to_string()
}

/// Every directive ferrokv understands.
pub static DIRECTIVES: &[Directive] = &[
    Directive {
        name: "bind",
        default: "127.0.0.1 -::1",
        access: Access::Immutable,
        doc: "Addresses to listen on, space separated; '-' before one makes it optional, '*' means all IPv4, '::*' all IPv6.",
        get: |c| c.bind.join(" "),
        set: |c, v| {
            let addrs: Vec<String> = v.split_whitespace().map(str::to_string).collect();
            if addrs.is_empty() {
                return Err("needs at least one address".into());
            }
            c.bind = addrs;
            Ok(())
        },
    },
    Directive {
        name: "port",
        default: "6379",
        access: Access::Immutable,
        doc: "TCP port to accept connections on (0 picks a free port).",
        get: |c| c.port.to_string(),
        set: |c, v| {
            c.port = parse_int(v, 0, 65535)? as u16;
            Ok(())
        },
    },
    Directive {
        name: "tcp-backlog",
        default: "511",
        access: Access::Immutable,
        doc: "Backlog of the listening socket.",
        get: |c| c.tcp_backlog.to_string(),
        set: |c, v| {
            c.tcp_backlog = parse_int(v, 0, i32::MAX as i64)? as u32;
            Ok(())
        },
    },
    Directive {
        name: "timeout",
        default: "0",
        access: Access::Mutable,
        doc: "Close a client after this many idle seconds (0 = never).",
        get: |c| c.timeout.to_string(),
        set: |c, v| {
            c.timeout = parse_int(v, 0, i32::MAX as i64)? as u64;
            Ok(())
        },
    },
    Directive {
        name: "tcp-keepalive",
        default: "300",
        access: Access::Mutable,
        doc: "Send TCP keepalives to idle clients every this many seconds (0 = off).",
        get: |c| c.tcp_keepalive.to_string(),
        set: |c, v| {
            c.tcp_keepalive = parse_int(v, 0, i32::MAX as i64)? as u64;
            Ok(())
        },
    },
    Directive {
        name: "databases",
        default: "16",
        access: Access::Immutable,
        doc: "Number of logical databases (SELECT 0 .. databases-1).",
        get: |c| c.databases.to_string(),
        set: |c, v| {
            c.databases = parse_int(v, 1, i32::MAX as i64)? as usize;
            Ok(())
        },
    },
    Directive {
        name: "loglevel",
        default: "notice",
        access: Access::Mutable,
        doc: "Log verbosity: debug, verbose, notice, warning or nothing.",
        get: |c| c.loglevel.clone(),
        set: |c, v| {
            let v = v.to_ascii_lowercase();
            if !["debug", "verbose", "notice", "warning", "nothing"].contains(&v.as_str()) {
                return Err("argument(s) must be one of the following: debug, verbose, notice, warning".into());
            }
            c.loglevel = v;
            Ok(())
        },
    },
    Directive {
        name: "logfile",
        default: "",
        access: Access::Immutable,
        doc: "File to log to; empty logs to standard output.",
        get: |c| c.logfile.clone(),
        set: |c, v| {
            c.logfile = v.to_string();
            Ok(())
        },
    },
    Directive {
        name: "dir",
        default: ".",
        access: Access::Protected,
        doc: "Working directory; data files are written here.",
        get: |c| {
            std::fs::canonicalize(&c.dir)
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| c.dir.clone())
        },
        set: |c, v| {
            c.dir = v.to_string();
            Ok(())
        },
    },
    Directive {
        name: "dbfilename",
        default: "dump.rdb",
        access: Access::Protected,
        doc: "Name of the RDB snapshot file inside 'dir'.",
        get: |c| c.dbfilename.clone(),
        set: |c, v| {
            if v.contains('/') {
                return Err("dbfilename can't be a path, just a filename".into());
            }
            c.dbfilename = v.to_string();
            Ok(())
        },
    },
    Directive {
        name: "save",
        default: "3600 1 300 100 60 10000",
        access: Access::Mutable,
        doc: "RDB save points as 'seconds changes' pairs; \"\" disables snapshots.",
        get: |c| {
            c.save
                .iter()
                .map(|(s, n)| format!("{s} {n}"))
                .collect::<Vec<_>>()
                .join(" ")
        },
        set: |c, v| {
            c.save = parse_save(v)?;
            Ok(())
        },
    },
    Directive {
        name: "rdbcompression",
        default: "yes",
        access: Access::Mutable,
        doc: "Compress strings with LZF in RDB snapshots.",
        get: |c| yes_no(c.rdbcompression),
        set: |c, v| {
            c.rdbcompression = parse_bool(v)?;
            Ok(())
        },
    },
    Directive {
        name: "rdbchecksum",
        default: "yes",
        access: Access::Immutable,
        doc: "Write a CRC64 checksum at the end of RDB snapshots and verify it when loading.",
        get: |c| yes_no(c.rdbchecksum),
        set: |c, v| {
            c.rdbchecksum = parse_bool(v)?;
            Ok(())
        },
    },
    Directive {
        name: "stop-writes-on-bgsave-error",
        default: "yes",
        access: Access::Mutable,
        doc: "Refuse write commands (MISCONF) while the last background save failed and save points are set.",
        get: |c| yes_no(c.stop_writes_on_bgsave_error),
        set: |c, v| {
            c.stop_writes_on_bgsave_error = parse_bool(v)?;
            Ok(())
        },
    },
    Directive {
        name: "rdb-del-sync-files",
        default: "no",
        access: Access::Mutable,
        doc: "Delete RDB files made only for replication (accepted for compatibility; ferrokv makes none).",
        get: |c| yes_no(c.rdb_del_sync_files),
        set: |c, v| {
            c.rdb_del_sync_files = parse_bool(v)?;
            Ok(())
        },
    },
    Directive {
        name: "appendonly",
        default: "no",
        access: Access::Mutable,
        doc: "Append-only file persistence: every write is logged to the AOF in 'appenddirname' (turning it on at run time first writes the whole dataset).",
        get: |c| yes_no(c.appendonly),
        set: |c, v| {
            c.appendonly = parse_bool(v)?;
            Ok(())
        },
    },
    Directive {
        name: "appendfilename",
        default: "appendonly.aof",
        access: Access::Immutable,
        doc: "Prefix of the AOF file names (base, incremental files and manifest) inside 'appenddirname'.",
        get: |c| c.appendfilename.clone(),
        set: |c, v| {
            if v.is_empty() || v.contains('/') {
                return Err("appendfilename can't be a path, just a filename".into());
            }
            c.appendfilename = v.to_string();
            Ok(())
        },
    },
    Directive {
        name: "appenddirname",
        default: "appendonlydir",
        access: Access::Immutable,
        doc: "Directory inside 'dir' holding the AOF files and their manifest.",
        get: |c| c.appenddirname.clone(),
        set: |c, v| {
            if v.is_empty() || v.contains('/') {
                return Err("appenddirname can't be a path, just a dirname".into());
            }
            c.appenddirname = v.to_string();
            Ok(())
        },
    },
    Directive {
        name: "appendfsync",
        default: "everysec",
        access: Access::Mutable,
        doc: "When the AOF reaches the disk: always (fsync before replying), everysec (written before replying, fsync every second), no (fsync left to the OS).",
        get: |c| c.appendfsync.name().to_string(),
        set: |c, v| {
            c.appendfsync = crate::persist::aof::Fsync::parse(v)?;
            Ok(())
        },
    },
    Directive {
        name: "aof-use-rdb-preamble",
        default: "yes",
        access: Access::Mutable,
        doc: "Write rewritten AOF bases in RDB format (faster to load) instead of commands.",
        get: |c| yes_no(c.aof_use_rdb_preamble),
        set: |c, v| {
            c.aof_use_rdb_preamble = parse_bool(v)?;
            Ok(())
        },
    },
    Directive {
        name: "auto-aof-rewrite-percentage",
        default: "100",
        access: Access::Mutable,
        doc: "Rewrite the AOF when it grew by this percentage over its size after the last rewrite (0 = never automatically).",
        get: |c| c.auto_aof_rewrite_percentage.to_string(),
        set: |c, v| {
            c.auto_aof_rewrite_percentage = parse_int(v, 0, i32::MAX as i64)? as u64;
            Ok(())
        },
    },
    Directive {
        name: "auto-aof-rewrite-min-size",
        default: "64mb",
        access: Access::Mutable,
        doc: "Never rewrite the AOF automatically while it is smaller than this.",
        get: |c| c.auto_aof_rewrite_min_size.to_string(),
        set: |c, v| {
            c.auto_aof_rewrite_min_size = parse_memory(v)?;
            Ok(())
        },
    },
    Directive {
        name: "aof-load-truncated",
        default: "yes",
        access: Access::Mutable,
        doc: "At start-up, load an AOF whose last command was cut short (a crash mid-write), dropping that command, instead of refusing to start.",
        get: |c| yes_no(c.aof_load_truncated),
        set: |c, v| {
            c.aof_load_truncated = parse_bool(v)?;
            Ok(())
        },
    },
    Directive {
        name: "aof-timestamp-enabled",
        default: "no",
        access: Access::Mutable,
        doc: "Redis's timestamp annotations in the AOF; accepted for compatibility, only 'no' is supported.",
        get: |c| yes_no(c.aof_timestamp_enabled),
        set: |c, v| {
            if parse_bool(v)? {
                return Err("AOF timestamp annotations are not supported".into());
            }
            c.aof_timestamp_enabled = false;
            Ok(())
        },
    },
    Directive {
        name: "maxclients",
        default: "10000",
        access: Access::Mutable,
        doc: "Maximum number of simultaneous clients.",
        get: |c| c.maxclients.to_string(),
        set: |c, v| {
            c.maxclients = parse_int(v, 1, u32::MAX as i64)? as u64;
            Ok(())
        },
    },
    Directive {
        name: "proto-max-bulk-len",
        default: "512mb",
        access: Access::Mutable,
        doc: "Largest bulk string a request may carry (also caps string values).",
        get: |c| format_memory(c.proto_max_bulk_len),
        set: |c, v| {
            let n = parse_memory(v)?;
            if n < 1024 * 1024 {
                return Err("argument must be between 1048576 and 9223372036854775807 inclusive".into());
            }
            c.proto_max_bulk_len = n;
            Ok(())
        },
    },
    Directive {
        name: "client-query-buffer-limit",
        default: "1gb",
        access: Access::Mutable,
        doc: "Largest request buffer a client may accumulate before it is closed.",
        get: |c| format_memory(c.client_query_buffer_limit),
        set: |c, v| {
            let n = parse_memory(v)?;
            if n < 1024 * 1024 {
                return Err("argument must be between 1048576 and 9223372036854775807 inclusive".into());
            }
            c.client_query_buffer_limit = n;
            Ok(())
        },
    },
    Directive {
        name: "repl-diskless-sync",
        default: "yes",
        access: Access::Mutable,
        doc: "Full resyncs stream the RDB from a forked child straight to the replica's socket (no: sent whole with its length once the child is done).",
        get: |c| yes_no(c.repl.diskless_sync),
        set: |c, v| {
            c.repl.diskless_sync = parse_bool(v)?;
            Ok(())
        },
    },
    Directive {
        name: "repl-backlog-size",
        default: "1mb",
        access: Access::Mutable,
        doc: "Bytes of replication stream kept so a replica that lost its link can resume with a partial resync.",
        get: |c| format_memory(c.repl.backlog_size),
        set: |c, v| {
            let n = parse_memory(v)?;
            if n < 1 || n > i64::MAX as u64 {
                return Err("argument must be between 1 and 9223372036854775807 inclusive".into());
            }
            c.repl.backlog_size = n;
            Ok(())
        },
    },
    Directive {
        name: "repl-backlog-ttl",
        default: "3600",
        access: Access::Mutable,
        doc: "Seconds without any replica after which the replication backlog is freed (0 = keep it).",
        get: |c| c.repl.backlog_ttl.to_string(),
        set: |c, v| {
            c.repl.backlog_ttl = parse_int(v, 0, i64::MAX)? as u64;
            Ok(())
        },
    },
    Directive {
        name: "repl-ping-replica-period",
        default: "10",
        access: Access::Mutable,
        doc: "Seconds between the PINGs a primary sends down the replication stream.",
        get: |c| c.repl.ping_period.to_string(),
        set: |c, v| {
            c.repl.ping_period = parse_int(v, 1, i32::MAX as i64)? as u64;
            Ok(())
        },
    },
    Directive {
        name: "min-replicas-to-write",
        default: "0",
        access: Access::Mutable,
        doc: "Refuse writes unless this many replicas acknowledged within min-replicas-max-lag seconds (0 = off).",
        get: |c| c.repl.min_replicas_to_write.to_string(),
        set: |c, v| {
            c.repl.min_replicas_to_write = parse_int(v, 0, i32::MAX as i64)? as u64;
            Ok(())
        },
    },
    Directive {
        name: "min-replicas-max-lag",
        default: "10",
        access: Access::Mutable,
        doc: "Seconds since its last acknowledgement within which a replica counts for min-replicas-to-write.",
        get: |c| c.repl.min_replicas_max_lag.to_string(),
        set: |c, v| {
            c.repl.min_replicas_max_lag = parse_int(v, 0, i32::MAX as i64)? as u64;
            Ok(())
        },
    },
    Directive {
        name: "hz",
        default: "10",
        access: Access::Mutable,
        doc: "Frequency of background tasks such as active expiry (1-500).",
        get: |c| c.hz.to_string(),
        set: |c, v| {
            c.hz = parse_int(v, 0, i32::MAX as i64)?.clamp(1, 500) as u64;
            Ok(())
        },
    },
    Directive {
        name: "requirepass",
        default: "",
        access: Access::Mutable,
        doc: "Password clients must send with AUTH; empty disables authentication.",
        get: |c| c.requirepass.clone(),
        set: |c, v| {
            c.requirepass = v.to_string();
            Ok(())
        },
    },
    Directive {
        name: "threads",
        default: "0",
        access: Access::Immutable,
        doc: "Worker threads executing commands (ferrokv only); 0 = one per available core.",
        get: |c| c.threads.to_string(),
        set: |c, v| {
            c.threads = parse_int(v, 0, 1024)? as usize;
            Ok(())
        },
    },
    Directive {
        name: "hash-max-listpack-entries",
        default: "512",
        access: Access::Mutable,
        doc: "Hashes with at most this many fields use the compact listpack encoding.",
        get: |c| c.encodings.hash_max_listpack_entries.to_string(),
        set: |c, v| {
            c.encodings.hash_max_listpack_entries = parse_int(v, 0, i64::MAX)? as usize;
            Ok(())
        },
    },
    Directive {
        name: "hash-max-ziplist-entries",
        default: "512",
        access: Access::Mutable,
        doc: "Alias of hash-max-listpack-entries.",
        get: |c| c.encodings.hash_max_listpack_entries.to_string(),
        set: |c, v| {
            c.encodings.hash_max_listpack_entries = parse_int(v, 0, i64::MAX)? as usize;
            Ok(())
        },
    },
    Directive {
        name: "hash-max-listpack-value",
        default: "64",
        access: Access::Mutable,
        doc: "Hashes whose fields and values are at most this long use the listpack encoding.",
        get: |c| c.encodings.hash_max_listpack_value.to_string(),
        set: |c, v| {
            c.encodings.hash_max_listpack_value = parse_int(v, 0, i64::MAX)? as usize;
            Ok(())
        },
    },
    Directive {
        name: "hash-max-ziplist-value",
        default: "64",
        access: Access::Mutable,
        doc: "Alias of hash-max-listpack-value.",
        get: |c| c.encodings.hash_max_listpack_value.to_string(),
        set: |c, v| {
            c.encodings.hash_max_listpack_value = parse_int(v, 0, i64::MAX)? as usize;
            Ok(())
        },
    },
    Directive {
        name: "zset-max-listpack-entries",
        default: "128",
        access: Access::Mutable,
        doc: "Sorted sets with at most this many members use the compact listpack encoding.",
        get: |c| c.encodings.zset_max_listpack_entries.to_string(),
        set: |c, v| {
            c.encodings.zset_max_listpack_entries = parse_int(v, 0, i64::MAX)? as usize;
            Ok(())
        },
    },
    Directive {
        name: "zset-max-ziplist-entries",
        default: "128",
        access: Access::Mutable,
        doc: "Alias of zset-max-listpack-entries.",
        get: |c| c.encodings.zset_max_listpack_entries.to_string(),
        set: |c, v| {
            c.encodings.zset_max_listpack_entries = parse_int(v, 0, i64::MAX)? as usize;
            Ok(())
        },
    },
    Directive {
        name: "zset-max-listpack-value",
        default: "64",
        access: Access::Mutable,
        doc: "Sorted sets whose members are at most this long use the listpack encoding.",
        get: |c| c.encodings.zset_max_listpack_value.to_string(),
        set: |c, v| {
            c.encodings.zset_max_listpack_value = parse_int(v, 0, i64::MAX)? as usize;
            Ok(())
        },
    },
    Directive {
        name: "zset-max-ziplist-value",
        default: "64",
        access: Access::Mutable,
        doc: "Alias of zset-max-listpack-value.",
        get: |c| c.encodings.zset_max_listpack_value.to_string(),
        set: |c, v| {
            c.encodings.zset_max_listpack_value = parse_int(v, 0, i64::MAX)? as usize;
            Ok(())
        },
    },
    Directive {
        name: "set-max-intset-entries",
        default: "512",
        access: Access::Mutable,
        doc: "Sets of integers with at most this many members use the compact intset encoding.",
        get: |c| c.encodings.set_max_intset_entries.to_string(),
        set: |c, v| {
            c.encodings.set_max_intset_entries = parse_int(v, 0, i64::MAX)? as usize;
            Ok(())
        },
    },
    Directive {
        name: "list-max-listpack-size",
        default: "-2",
        access: Access::Mutable,
        doc: "Size of each list node: positive = entries, -1..-5 = 4/8/16/32/64 KB.",
        get: |c| c.encodings.list_max_listpack_size.to_string(),
        set: |c, v| {
            c.encodings.list_max_listpack_size = parse_int(v, i64::MIN, i64::MAX)?;
            Ok(())
        },
    },
    Directive {
        name: "list-max-ziplist-size",
        default: "-2",
        access: Access::Mutable,
        doc: "Alias of list-max-listpack-size.",
        get: |c| c.encodings.list_max_listpack_size.to_string(),
        set: |c, v| {
            c.encodings.list_max_listpack_size = parse_int(v, i64::MIN, i64::MAX)?;
            Ok(())
        },
    },
    Directive {
        name: "client-output-buffer-limit",
        default: "normal 0 0 0 replica 256mb 64mb 60 pubsub 32mb 8mb 60",
        access: Access::Mutable,
        doc: "Close clients whose pending output passes 'class hard soft seconds' limits (classes normal, replica, pubsub).",
        get: |c| {
            let l = &c.output_limits;
            let f = |name: &str, b: &super::BufferLimit| format!("{name} {} {} {}", b.hard, b.soft, b.soft_seconds);
            format!("{} {} {}", f("normal", &l.normal), f("slave", &l.replica), f("pubsub", &l.pubsub))
        },
        set: |c, v| {
            let words: Vec<&str> = v.split_whitespace().collect();
            if words.is_empty() || !words.len().is_multiple_of(4) {
                return Err("Wrong number of arguments in buffer limit configuration.".into());
            }
            let mut limits = c.output_limits;
            for w in words.chunks(4) {
                let limit = super::BufferLimit {
                    hard: parse_memory(w[1]).map_err(|_| "Error in hard, soft or soft_seconds setting in buffer limit configuration.")?,
                    soft: parse_memory(w[2]).map_err(|_| "Error in hard, soft or soft_seconds setting in buffer limit configuration.")?,
                    soft_seconds: w[3].parse().map_err(|_| "Error in hard, soft or soft_seconds setting in buffer limit configuration.")?,
                };
                match w[0].to_ascii_lowercase().as_str() {
                    "normal" => limits.normal = limit,
                    "replica" | "slave" => limits.replica = limit,
                    "pubsub" => limits.pubsub = limit,
                    _ => return Err("Invalid client class specified in buffer limit configuration.".into()),
                }
            }
            c.output_limits = limits;
            Ok(())
        },
    },
    Directive {
        name: "notify-keyspace-events",
        default: "",
        access: Access::Mutable,
        doc: "Keyspace notifications to publish: K (__keyspace@<db>__ channels) and/or E (__keyevent@<db>__ channels), plus event classes g generic, $ string, l list, s set, h hash, z zset, x expired, e evicted, t stream, m key miss, d module, n new key; A = g$lshzxetd. Empty = off.",
        get: |c| crate::server::notify::render(c.notify_keyspace_events),
        set: |c, v| {
            c.notify_keyspace_events = crate::server::notify::parse(v)?;
            Ok(())
        },
    },
    Directive {
        name: "tracking-table-max-keys",
        default: "1000000",
        access: Access::Mutable,
        doc: "Most keys remembered for CLIENT TRACKING; past it, keys are forgotten (their readers invalidated). 0 = no limit.",
        get: |c| c.tracking_table_max_keys.to_string(),
        set: |c, v| {
            c.tracking_table_max_keys = parse_int(v, 0, i64::MAX)? as u64;
            Ok(())
        },
    },
    Directive {
        name: "slowlog-log-slower-than",
        default: "10000",
        access: Access::Mutable,
        doc: "Commands running at least this many microseconds go to the SLOWLOG; negative disables it, 0 logs every command.",
        get: |c| c.slowlog_log_slower_than.to_string(),
        set: |c, v| {
            c.slowlog_log_slower_than = parse_int(v, i64::MIN, i64::MAX)?;
            Ok(())
        },
    },
    Directive {
        name: "slowlog-max-len",
        default: "128",
        access: Access::Mutable,
        doc: "Most entries the SLOWLOG keeps (oldest dropped first).",
        get: |c| c.slowlog_max_len.to_string(),
        set: |c, v| {
            c.slowlog_max_len = parse_int(v, 0, i64::MAX)? as usize;
            Ok(())
        },
    },
    Directive {
        name: "latency-monitor-threshold",
        default: "0",
        access: Access::Mutable,
        doc: "LATENCY monitor: record events lasting at least this many milliseconds; 0 turns the monitor off.",
        get: |c| c.latency_monitor_threshold.to_string(),
        set: |c, v| {
            c.latency_monitor_threshold = parse_int(v, 0, i64::MAX)? as u64;
            Ok(())
        },
    },
    Directive {
        name: "latency-tracking",
        default: "yes",
        access: Access::Mutable,
        doc: "Keep per-command latency histograms (LATENCY HISTOGRAM, INFO latencystats).",
        get: |c| yes_no(c.latency_tracking),
        set: |c, v| {
            c.latency_tracking = parse_bool(v)?;
            Ok(())
        },
    },
    Directive {
        name: "latency-tracking-info-percentiles",
        default: "50 99 99.9",
        access: Access::Mutable,
        doc: "Percentiles INFO latencystats reports, space separated, each between 0 and 100.",
        get: |c| {
            let p: Vec<String> = c.latency_tracking_info_percentiles.iter().map(f64::to_string).collect();
            p.join(" ")
        },
        set: |c, v| {
            let mut p = Vec::new();
            for word in v.split_whitespace() {
                let f: f64 = word
                    .parse()
                    .map_err(|_| "Invalid latency-tracking-info-percentiles parameters".to_string())?;
                if !(0.0..=100.0).contains(&f) {
                    return Err("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]".into());
                }
                p.push(f);
            }
            c.latency_tracking_info_percentiles = p;
            Ok(())
        },
    },
];
