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
        name: "tls-port",
        default: "0",
        access: Access::Immutable,
        doc: "TLS port to accept connections on, beside 'port' (0 = no TLS listener); start-up only.",
        get: |c| c.tls.port.to_string(),
        set: |c, v| {
            c.tls.port = parse_int(v, 0, 65535)? as u16;
            Ok(())
        },
    },
    Directive {
        name: "tls-cert-file",
        default: "",
        access: Access::Mutable,
        doc: "Server certificate chain (PEM) presented to TLS clients.",
        get: |c| c.tls.cert_file.clone(),
        set: |c, v| {
            c.tls.cert_file = v.to_string();
            Ok(())
        },
    },
    Directive {
        name: "tls-key-file",
        default: "",
        access: Access::Mutable,
        doc: "Private key (PEM, unencrypted: PKCS#8, PKCS#1 or SEC1) of tls-cert-file.",
        get: |c| c.tls.key_file.clone(),
        set: |c, v| {
            c.tls.key_file = v.to_string();
            Ok(())
        },
    },
    Directive {
        name: "tls-key-file-pass",
        default: "",
        access: Access::Mutable,
        doc: "Passphrase of an encrypted tls-key-file: not supported, decrypt the key instead (start-up fails if set).",
        get: |c| c.tls.key_file_pass.clone(),
        set: |c, v| {
            c.tls.key_file_pass = v.to_string();
            Ok(())
        },
    },
    Directive {
        name: "tls-client-cert-file",
        default: "",
        access: Access::Mutable,
        doc: "Certificate for outgoing TLS connections (replication/cluster: accepted, unused).",
        get: |c| c.tls.client_cert_file.clone(),
        set: |c, v| {
            c.tls.client_cert_file = v.to_string();
            Ok(())
        },
    },
    Directive {
        name: "tls-client-key-file",
        default: "",
        access: Access::Mutable,
        doc: "Key of tls-client-cert-file (accepted, unused).",
        get: |c| c.tls.client_key_file.clone(),
        set: |c, v| {
            c.tls.client_key_file = v.to_string();
            Ok(())
        },
    },
    Directive {
        name: "tls-client-key-file-pass",
        default: "",
        access: Access::Mutable,
        doc: "Passphrase of tls-client-key-file (accepted, unused).",
        get: |c| c.tls.client_key_file_pass.clone(),
        set: |c, v| {
            c.tls.client_key_file_pass = v.to_string();
            Ok(())
        },
    },
    Directive {
        name: "tls-dh-params-file",
        default: "",
        access: Access::Mutable,
        doc: "DH parameters file (accepted, unused: rustls offers no DHE cipher suites).",
        get: |c| c.tls.dh_params_file.clone(),
        set: |c, v| {
            c.tls.dh_params_file = v.to_string();
            Ok(())
        },
    },
    Directive {
        name: "tls-ca-cert-file",
        default: "",
        access: Access::Mutable,
        doc: "CA certificates (PEM) that client certificates must chain to; this or tls-ca-cert-dir is required with tls-port.",
        get: |c| c.tls.ca_cert_file.clone(),
        set: |c, v| {
            c.tls.ca_cert_file = v.to_string();
            Ok(())
        },
    },
    Directive {
        name: "tls-ca-cert-dir",
        default: "",
        access: Access::Mutable,
        doc: "Directory whose PEM files are all loaded as CA certificates.",
        get: |c| c.tls.ca_cert_dir.clone(),
        set: |c, v| {
            c.tls.ca_cert_dir = v.to_string();
            Ok(())
        },
    },
    Directive {
        name: "tls-auth-clients",
        default: "yes",
        access: Access::Mutable,
        doc: "TLS clients must present a certificate signed by the CA: yes, no, or optional (verified when sent).",
        get: |c| c.tls.auth_clients.name().to_string(),
        set: |c, v| {
            c.tls.auth_clients = super::TlsAuthClients::parse(v)?;
            Ok(())
        },
    },
    Directive {
        name: "tls-protocols",
        default: "",
        access: Access::Mutable,
        doc: "TLS versions to accept, space separated (TLSv1.2, TLSv1.3); empty = both. TLSv1 and TLSv1.1 are not available.",
        get: |c| c.tls.protocols.clone(),
        set: |c, v| {
            c.tls.protocols = v.to_string();
            Ok(())
        },
    },
    Directive {
        name: "tls-ciphers",
        default: "",
        access: Access::Mutable,
        doc: "TLSv1.2 cipher suites, colon separated OpenSSL names (ECDHE-ECDSA/RSA with AES-GCM or CHACHA20-POLY1305); empty = all of them.",
        get: |c| c.tls.ciphers.clone(),
        set: |c, v| {
            c.tls.ciphers = v.to_string();
            Ok(())
        },
    },
    Directive {
        name: "tls-ciphersuites",
        default: "",
        access: Access::Mutable,
        doc: "TLSv1.3 cipher suites, colon separated (TLS_AES_256_GCM_SHA384, TLS_AES_128_GCM_SHA256, TLS_CHACHA20_POLY1305_SHA256); empty = all.",
        get: |c| c.tls.ciphersuites.clone(),
        set: |c, v| {
            c.tls.ciphersuites = v.to_string();
            Ok(())
        },
    },
    Directive {
        name: "tls-prefer-server-ciphers",
        default: "no",
        access: Access::Mutable,
        doc: "Choose the cipher suite by the server's order rather than the client's.",
        get: |c| yes_no(c.tls.prefer_server_ciphers),
        set: |c, v| {
            c.tls.prefer_server_ciphers = parse_bool(v)?;
            Ok(())
        },
    },
    Directive {
        name: "tls-session-caching",
        default: "yes",
        access: Access::Mutable,
        doc: "Let TLS clients resume sessions (session cache and TLSv1.3 tickets).",
        get: |c| yes_no(c.tls.session_caching),
        set: |c, v| {
            c.tls.session_caching = parse_bool(v)?;
            Ok(())
        },
    },
    Directive {
        name: "tls-session-cache-size",
        default: "20480",
        access: Access::Mutable,
        doc: "Most TLS sessions kept for resumption.",
        get: |c| c.tls.session_cache_size.to_string(),
        set: |c, v| {
            c.tls.session_cache_size = parse_int(v, 0, i32::MAX as i64)? as u64;
            Ok(())
        },
    },
    Directive {
        name: "tls-session-cache-timeout",
        default: "300",
        access: Access::Mutable,
        doc: "Seconds a cached TLS session stays valid (accepted; rustls evicts by size only).",
        get: |c| c.tls.session_cache_timeout.to_string(),
        set: |c, v| {
            c.tls.session_cache_timeout = parse_int(v, 0, i32::MAX as i64)? as u64;
            Ok(())
        },
    },
    Directive {
        name: "tls-replication",
        default: "no",
        access: Access::Mutable,
        doc: "TLS for replication links (accepted, unused: no replication).",
        get: |c| yes_no(c.tls.replication),
        set: |c, v| {
            c.tls.replication = parse_bool(v)?;
            Ok(())
        },
    },
    Directive {
        name: "tls-cluster",
        default: "no",
        access: Access::Mutable,
        doc: "TLS for the cluster bus (accepted, unused: no cluster mode).",
        get: |c| yes_no(c.tls.cluster),
        set: |c, v| {
            c.tls.cluster = parse_bool(v)?;
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
        name: "log-format",
        default: "text",
        access: Access::Immutable,
        doc: "Log line format: 'text' (human readable) or 'json' (one JSON object per line with timestamp, level, message and fields, for log collectors).",
        get: |c| c.log_format.clone(),
        set: |c, v| {
            let v = v.to_ascii_lowercase();
            if v != "text" && v != "json" {
                return Err("argument(s) must be one of the following: text, json".into());
            }
            c.log_format = v;
            Ok(())
        },
    },
    Directive {
        name: "pidfile",
        default: "",
        access: Access::Immutable,
        doc: "Write the process id to this file at start-up and remove it at exit; empty = no file (unless daemonized: then /var/run/ferrokv.pid).",
        get: |c| c.pidfile.clone(),
        set: |c, v| {
            c.pidfile = v.to_string();
            Ok(())
        },
    },
    Directive {
        name: "daemonize",
        default: "no",
        access: Access::Immutable,
        doc: "Detach into the background at start-up (not needed under systemd or in containers).",
        get: |c| yes_no(c.daemonize),
        set: |c, v| {
            c.daemonize = parse_bool(v)?;
            Ok(())
        },
    },
    Directive {
        name: "shutdown-timeout",
        default: "10",
        access: Access::Mutable,
        doc: "Seconds SHUTDOWN and SIGTERM wait for lagging replicas before exiting.",
        get: |c| c.shutdown_timeout.to_string(),
        set: |c, v| {
            c.shutdown_timeout = parse_int(v, 0, i32::MAX as i64)? as u64;
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
        doc: "A replica deletes the RDB received from its primary when neither save points nor the AOF persist the data.",
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
        name: "maxmemory",
        default: "0",
        access: Access::Mutable,
        doc: "Memory limit for the data set (bytes or units like 100mb); past it, maxmemory-policy applies. 0 = no limit.",
        get: |c| format_memory(c.maxmemory),
        set: |c, v| {
            c.maxmemory = parse_memory(v)?;
            Ok(())
        },
    },
    Directive {
        name: "maxmemory-policy",
        default: "noeviction",
        access: Access::Mutable,
        doc: "What to do past maxmemory: noeviction (refuse writes), allkeys-lru, volatile-lru, allkeys-lfu, volatile-lfu, allkeys-random, volatile-random, volatile-ttl (volatile-* evict only keys with a TTL).",
        get: |c| c.maxmemory_policy.name().to_string(),
        set: |c, v| {
            c.maxmemory_policy = crate::server::evict::Policy::parse(v)?;
            Ok(())
        },
    },
    Directive {
        name: "maxmemory-samples",
        default: "5",
        access: Access::Mutable,
        doc: "Keys sampled per database to pick each LRU/LFU/TTL victim: more is more precise and slower.",
        get: |c| c.maxmemory_samples.to_string(),
        set: |c, v| {
            c.maxmemory_samples = parse_int(v, 1, i32::MAX as i64)? as usize;
            Ok(())
        },
    },
    Directive {
        name: "maxmemory-eviction-tenacity",
        default: "10",
        access: Access::Mutable,
        doc: "Time one eviction round may take before the rest is left to the background (0-100; 10 = 500 microseconds, 100 = unlimited).",
        get: |c| c.maxmemory_eviction_tenacity.to_string(),
        set: |c, v| {
            c.maxmemory_eviction_tenacity = parse_int(v, 0, 100)? as u64;
            Ok(())
        },
    },
    Directive {
        name: "lfu-log-factor",
        default: "10",
        access: Access::Mutable,
        doc: "LFU counter growth: higher makes the 0-255 counter grow more slowly with accesses.",
        get: |c| c.lfu_log_factor.to_string(),
        set: |c, v| {
            c.lfu_log_factor = parse_int(v, 0, i32::MAX as i64)? as u32;
            Ok(())
        },
    },
    Directive {
        name: "lfu-decay-time",
        default: "1",
        access: Access::Mutable,
        doc: "Minutes after which an idle key's LFU counter is decremented (0 = never decays).",
        get: |c| c.lfu_decay_time.to_string(),
        set: |c, v| {
            c.lfu_decay_time = parse_int(v, 0, i32::MAX as i64)? as u32;
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
        name: "protected-mode",
        default: "yes",
        access: Access::Mutable,
        doc: "Refuse clients from non-loopback addresses while the default user has no password.",
        get: |c| yes_no(c.protected_mode),
        set: |c, v| {
            c.protected_mode = parse_bool(v)?;
            Ok(())
        },
    },
    Directive {
        name: "acllog-max-len",
        default: "128",
        access: Access::Mutable,
        doc: "Entries kept in the ACL log (ACL LOG).",
        get: |c| c.acllog_max_len.to_string(),
        set: |c, v| {
            c.acllog_max_len = parse_int(v, 0, i64::MAX)? as usize;
            Ok(())
        },
    },
    Directive {
        name: "acl-pubsub-default",
        default: "resetchannels",
        access: Access::Mutable,
        doc: "Channels a new ACL user or selector starts with: allchannels or resetchannels.",
        get: |c| {
            (if c.acl_pubsub_all {
                "allchannels"
            } else {
                "resetchannels"
            })
            .to_string()
        },
        set: |c, v| {
            c.acl_pubsub_all = match v.to_ascii_lowercase().as_str() {
                "allchannels" => true,
                "resetchannels" => false,
                _ => {
                    return Err("argument(s) must be one of the following: allchannels, resetchannels".into())
                }
            };
            Ok(())
        },
    },
    Directive {
        name: "aclfile",
        default: "",
        access: Access::Immutable,
        doc: "File of ACL users, loaded at start-up and by ACL LOAD, written by ACL SAVE; empty = none.",
        get: |c| c.aclfile.clone(),
        set: |c, v| {
            c.aclfile = v.to_string();
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
        name: "hll-sparse-max-bytes",
        default: "3000",
        access: Access::Mutable,
        doc: "HyperLogLog values use the sparse encoding up to this many bytes, then turn dense.",
        get: |c| format_memory(c.encodings.hll_sparse_max_bytes as u64),
        set: |c, v| {
            c.encodings.hll_sparse_max_bytes = parse_memory(v)? as usize;
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
        name: "stream-node-max-bytes",
        default: "4096",
        access: Access::Mutable,
        doc: "A stream node (listpack) takes no more entries once it holds this many bytes (0 = no limit).",
        get: |c| c.encodings.stream_node_max_bytes.to_string(),
        set: |c, v| {
            c.encodings.stream_node_max_bytes = parse_memory(v)? as usize;
            Ok(())
        },
    },
    Directive {
        name: "stream-node-max-entries",
        default: "100",
        access: Access::Mutable,
        doc: "A stream node takes at most this many entries, deleted ones included (0 = no limit).",
        get: |c| c.encodings.stream_node_max_entries.to_string(),
        set: |c, v| {
            c.encodings.stream_node_max_entries = parse_int(v, 0, i64::MAX)? as usize;
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
    Directive {
        name: "busy-reply-threshold",
        default: "5000",
        access: Access::Mutable,
        doc: "Milliseconds a script may run before other clients get BUSY replies and SCRIPT KILL / FUNCTION KILL may stop it; 0 never.",
        get: |c| c.busy_reply_threshold.to_string(),
        set: |c, v| {
            c.busy_reply_threshold = parse_int(v, 0, i64::MAX)? as u64;
            Ok(())
        },
    },
    Directive {
        name: "lua-time-limit",
        default: "5000",
        access: Access::Mutable,
        doc: "Alias of busy-reply-threshold.",
        get: |c| c.busy_reply_threshold.to_string(),
        set: |c, v| {
            c.busy_reply_threshold = parse_int(v, 0, i64::MAX)? as u64;
            Ok(())
        },
    },
    Directive {
        name: "replicaof",
        default: "",
        access: Access::Immutable,
        doc: "Start as a replica of this primary: 'host port' (empty = start as a primary).",
        get: |c| {
            c.replicaof
                .as_ref()
                .map(|(h, p)| format!("{h} {p}"))
                .unwrap_or_default()
        },
        set: set_replicaof,
    },
    Directive {
        name: "masterauth",
        default: "",
        access: Access::Mutable,
        doc: "Password a replica sends to its primary with AUTH (empty = none).",
        get: |c| c.masterauth.clone(),
        set: |c, v| {
            c.masterauth = v.to_string();
            Ok(())
        },
    },
    Directive {
        name: "masteruser",
        default: "",
        access: Access::Mutable,
        doc: "User a replica authenticates as with its primary (empty = the default user).",
        get: |c| c.masteruser.clone(),
        set: |c, v| {
            c.masteruser = v.to_string();
            Ok(())
        },
    },
    Directive {
        name: "replica-read-only",
        default: "yes",
        access: Access::Mutable,
        doc: "A replica refuses writes from its own clients (only its primary writes).",
        get: |c| yes_no(c.replica_read_only),
        set: |c, v| {
            c.replica_read_only = parse_bool(v)?;
            Ok(())
        },
    },
    Directive {
        name: "replica-serve-stale-data",
        default: "yes",
        access: Access::Mutable,
        doc: "A replica whose link to its primary is down still answers (no = -MASTERDOWN for data commands).",
        get: |c| yes_no(c.replica_serve_stale_data),
        set: |c, v| {
            c.replica_serve_stale_data = parse_bool(v)?;
            Ok(())
        },
    },
    Directive {
        name: "repl-timeout",
        default: "60",
        access: Access::Mutable,
        doc: "Seconds without data from the primary after which a replica drops the link and reconnects.",
        get: |c| c.repl_timeout.to_string(),
        set: |c, v| {
            c.repl_timeout = parse_int(v, 1, i32::MAX as i64)? as u64;
            Ok(())
        },
    },
    Directive {
        name: "slaveof",
        default: "",
        access: Access::Immutable,
        doc: "Alias of replicaof.",
        get: |c| {
            c.replicaof
                .as_ref()
                .map(|(h, p)| format!("{h} {p}"))
                .unwrap_or_default()
        },
        set: |c, v| set_replicaof(c, v),
    },
    Directive {
        name: "slave-read-only",
        default: "yes",
        access: Access::Mutable,
        doc: "Alias of replica-read-only.",
        get: |c| yes_no(c.replica_read_only),
        set: |c, v| {
            c.replica_read_only = parse_bool(v)?;
            Ok(())
        },
    },
    Directive {
        name: "slave-serve-stale-data",
        default: "yes",
        access: Access::Mutable,
        doc: "Alias of replica-serve-stale-data.",
        get: |c| yes_no(c.replica_serve_stale_data),
        set: |c, v| {
            c.replica_serve_stale_data = parse_bool(v)?;
            Ok(())
        },
    },
    Directive {
        name: "replica-priority",
        default: "100",
        access: Access::Mutable,
        doc: "Priority Sentinel uses to pick the replica to promote (lower first; 0 = never).",
        get: |c| c.replica_priority.to_string(),
        set: |c, v| {
            c.replica_priority = parse_int(v, 0, i32::MAX as i64)? as u64;
            Ok(())
        },
    },
    Directive {
        name: "slave-priority",
        default: "100",
        access: Access::Mutable,
        doc: "Alias of replica-priority.",
        get: |c| c.replica_priority.to_string(),
        set: |c, v| {
            c.replica_priority = parse_int(v, 0, i32::MAX as i64)? as u64;
            Ok(())
        },
    },
];

/// `replicaof host port`; empty = a primary.
fn set_replicaof(c: &mut Config, v: &str) -> Result<(), String> {
    let words: Vec<&str> = v.split_whitespace().collect();
    c.replicaof = match words[..] {
        [] => None,
        [host, port] => Some((host.to_string(), parse_int(port, 0, 65535)? as u16)),
        _ => return Err("needs 'host port'".into()),
    };
    Ok(())
}
