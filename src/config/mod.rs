//! Server configuration: one table of directives shared by `redis.toml`,
//! the command line and `CONFIG GET/SET`, using Redis's names and value
//! syntax.

mod directives;
mod parse;
mod redis_conf;
mod rewrite;
mod tls;

use std::path::{Path, PathBuf};

pub use directives::{Access, Directive, DIRECTIVES};
pub use parse::{format_memory, parse_bool, parse_memory};
pub use redis_conf::is_redis_directive;
pub use rewrite::rewrite;
pub use tls::{TlsAuthClients, TlsConfig};

/// The running configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Addresses to listen on; a leading `-` makes one optional.
    pub bind: Vec<String>,
    /// TCP port; 0 picks a free one.
    pub port: u16,
    /// Listen backlog.
    pub tcp_backlog: u32,
    /// Seconds of client idleness before it is closed; 0 = never.
    pub timeout: u64,
    /// TCP keepalive interval in seconds; 0 = off.
    pub tcp_keepalive: u64,
    /// Number of logical databases.
    pub databases: usize,
    /// `debug`, `verbose`, `notice`, `warning` or `nothing`.
    pub loglevel: String,
    /// Log file; empty = standard output.
    pub logfile: String,
    /// `log-format`: `text` or `json`.
    pub log_format: String,
    /// `pidfile`; empty = none.
    pub pidfile: String,
    /// `daemonize`: fork into the background at start-up.
    pub daemonize: bool,
    /// `shutdown-timeout` in seconds.
    pub shutdown_timeout: u64,
    /// Working directory for data files.
    pub dir: String,
    /// RDB snapshot file name.
    pub dbfilename: String,
    /// Save points `(seconds, changes)`.
    pub save: Vec<(u64, u64)>,
    /// Whether the append-only file is enabled.
    pub appendonly: bool,
    /// `appendfilename`: prefix of the AOF files.
    pub appendfilename: String,
    /// `appenddirname`: the AOF directory inside `dir`.
    pub appenddirname: String,
    /// `appendfsync`.
    pub appendfsync: crate::persist::aof::Fsync,
    /// `aof-use-rdb-preamble`.
    pub aof_use_rdb_preamble: bool,
    /// `auto-aof-rewrite-percentage` (0 = off).
    pub auto_aof_rewrite_percentage: u64,
    /// `auto-aof-rewrite-min-size` in bytes.
    pub auto_aof_rewrite_min_size: u64,
    /// `aof-load-truncated`.
    pub aof_load_truncated: bool,
    /// `aof-timestamp-enabled` (always no).
    pub aof_timestamp_enabled: bool,
    /// LZF-compress strings in RDB snapshots.
    pub rdbcompression: bool,
    /// Write (and check on load) the RDB CRC64 trailer.
    pub rdbchecksum: bool,
    /// Refuse writes while the last background save failed.
    pub stop_writes_on_bgsave_error: bool,
    /// Delete the RDB a replica received from its primary when neither
    /// save points nor the AOF persist the data.
    pub rdb_del_sync_files: bool,
    /// Primary-side replication settings.
    pub repl: ReplSettings,
    /// Maximum simultaneous clients.
    pub maxclients: u64,
    /// `maxmemory` in bytes; 0 = no limit.
    pub maxmemory: u64,
    /// `maxmemory-policy`.
    pub maxmemory_policy: crate::server::evict::Policy,
    /// `maxmemory-samples`: keys sampled per database per eviction.
    pub maxmemory_samples: usize,
    /// `maxmemory-eviction-tenacity` (0-100): time budget of one eviction.
    pub maxmemory_eviction_tenacity: u64,
    /// `lfu-log-factor`: how slowly LFU counters grow.
    pub lfu_log_factor: u32,
    /// `lfu-decay-time`: minutes per LFU counter decrement (0 = never).
    pub lfu_decay_time: u32,
    /// Largest bulk string a request may carry.
    pub proto_max_bulk_len: u64,
    /// Largest buffered request per client.
    pub client_query_buffer_limit: u64,
    /// Background task frequency (active expiry, statistics).
    pub hz: u64,
    /// Password of the default user; empty = none.
    pub requirepass: String,
    /// Refuse non-loopback clients while the default user has no password.
    pub protected_mode: bool,
    /// ACL file path; empty = none.
    pub aclfile: String,
    /// Entries kept in the ACL log.
    pub acllog_max_len: usize,
    /// `acl-pubsub-default allchannels`.
    pub acl_pubsub_all: bool,
    /// Worker threads; 0 = one per available core.
    pub threads: usize,
    /// Thresholds of the compact collection encodings.
    pub encodings: Encodings,
    /// `client-output-buffer-limit` for the normal, replica and pubsub
    /// classes.
    pub output_limits: OutputLimits,
    /// `notify-keyspace-events` flags (see `server::notify`).
    pub notify_keyspace_events: u32,
    /// `tracking-table-max-keys`: bound of the CLIENT TRACKING key table
    /// (0 = none).
    pub tracking_table_max_keys: u64,
    /// `slowlog-log-slower-than` in µs (negative disables the slow log).
    pub slowlog_log_slower_than: i64,
    /// `slowlog-max-len`.
    pub slowlog_max_len: usize,
    /// `latency-monitor-threshold` in ms (0 = monitor off).
    pub latency_monitor_threshold: u64,
    /// `latency-tracking`: per-command latency histograms.
    pub latency_tracking: bool,
    /// `latency-tracking-info-percentiles` shown by `INFO latencystats`.
    pub latency_tracking_info_percentiles: Vec<f64>,
    /// `busy-reply-threshold` (alias `lua-time-limit`) in ms: how long a
    /// script runs before other clients get BUSY (0 = never).
    pub busy_reply_threshold: u64,
    /// The `tls-*` directives.
    pub tls: TlsConfig,
    /// `replicaof host port` at start-up (None = a primary).
    pub replicaof: Option<(String, u16)>,
    /// Password for the primary's AUTH (`masterauth`).
    pub masterauth: String,
    /// User for the primary's AUTH (`masteruser`; empty = the default user).
    pub masteruser: String,
    /// `replica-read-only`: refuse writes from normal clients on a replica.
    pub replica_read_only: bool,
    /// `replica-serve-stale-data`: answer while the link is down.
    pub replica_serve_stale_data: bool,
    /// `repl-timeout` in seconds.
    pub repl_timeout: u64,
    /// `replica-priority` (`slave_priority` in INFO; Sentinel never
    /// promotes a replica with 0).
    pub replica_priority: u64,
    /// The file the configuration was loaded from, if any.
    pub config_file: Option<PathBuf>,
    /// Whether `config_file` is in redis.conf syntax rather than TOML.
    pub config_file_is_redis_conf: bool,
}

/// The primary side of replication (Redis's `repl-*` and `min-replicas-*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplSettings {
    /// `repl-diskless-sync`: the forked child's RDB streams to replicas
    /// that accept it (`capa eof`) as it is written.
    pub diskless_sync: bool,
    /// `repl-backlog-size` in bytes.
    pub backlog_size: u64,
    /// `repl-backlog-ttl`: seconds without replicas before the backlog is
    /// freed (0 = never).
    pub backlog_ttl: u64,
    /// `repl-ping-replica-period` in seconds.
    pub ping_period: u64,
    /// `min-replicas-to-write` (0 = no requirement).
    pub min_replicas_to_write: u64,
    /// `min-replicas-max-lag` in seconds.
    pub min_replicas_max_lag: u64,
}

/// Size limits up to which collections keep their compact encoding
/// (Redis's `*-max-listpack-*` / `set-max-intset-entries` directives).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Encodings {
    /// `hash-max-listpack-entries`.
    pub hash_max_listpack_entries: usize,
    /// `hash-max-listpack-value`.
    pub hash_max_listpack_value: usize,
    /// `zset-max-listpack-entries`.
    pub zset_max_listpack_entries: usize,
    /// `zset-max-listpack-value`.
    pub zset_max_listpack_value: usize,
    /// `set-max-intset-entries`.
    pub set_max_intset_entries: usize,
    /// `list-max-listpack-size`: positive = entries per node, negative =
    /// node size class (-1 = 4 KB … -5 = 64 KB).
    pub list_max_listpack_size: i64,
    /// `hll-sparse-max-bytes`: largest sparse HyperLogLog value (header
    /// included) before it turns dense.
    pub hll_sparse_max_bytes: usize,
    /// `stream-node-max-bytes`: listpack bytes per stream node (0 = no
    /// limit).
    pub stream_node_max_bytes: usize,
    /// `stream-node-max-entries`: entries per stream node (0 = no limit).
    pub stream_node_max_entries: usize,
}

/// One class of `client-output-buffer-limit`: a client is closed when its
/// pending output exceeds `hard` bytes, or stays above `soft` bytes for
/// `soft_seconds`. Zero disables a limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BufferLimit {
    /// Hard limit in bytes.
    pub hard: u64,
    /// Soft limit in bytes.
    pub soft: u64,
    /// How long the soft limit may be exceeded.
    pub soft_seconds: u64,
}

/// `client-output-buffer-limit` per client class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutputLimits {
    /// Ordinary clients.
    pub normal: BufferLimit,
    /// Replicas (`replica`/`slave`).
    pub replica: BufferLimit,
    /// Pub/Sub subscribers.
    pub pubsub: BufferLimit,
}

/// A configuration problem, worded for the user.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Default for Config {
    fn default() -> Self {
        let mut config = Config {
            bind: Vec::new(),
            port: 0,
            tcp_backlog: 0,
            timeout: 0,
            tcp_keepalive: 0,
            databases: 0,
            loglevel: String::new(),
            logfile: String::new(),
            log_format: String::new(),
            pidfile: String::new(),
            daemonize: false,
            shutdown_timeout: 0,
            dir: String::new(),
            dbfilename: String::new(),
            save: Vec::new(),
            appendonly: false,
            appendfilename: String::new(),
            appenddirname: String::new(),
            appendfsync: Default::default(),
            aof_use_rdb_preamble: false,
            auto_aof_rewrite_percentage: 0,
            auto_aof_rewrite_min_size: 0,
            aof_load_truncated: false,
            aof_timestamp_enabled: false,
            rdbcompression: false,
            rdbchecksum: false,
            stop_writes_on_bgsave_error: false,
            rdb_del_sync_files: false,
            repl: ReplSettings::default(),
            maxclients: 0,
            maxmemory: 0,
            maxmemory_policy: crate::server::evict::Policy::NoEviction,
            maxmemory_samples: 0,
            maxmemory_eviction_tenacity: 0,
            lfu_log_factor: 0,
            lfu_decay_time: 0,
            proto_max_bulk_len: 0,
            client_query_buffer_limit: 0,
            hz: 0,
            requirepass: String::new(),
            protected_mode: false,
            aclfile: String::new(),
            acllog_max_len: 0,
            acl_pubsub_all: false,
            threads: 0,
            encodings: Encodings::default(),
            output_limits: OutputLimits::default(),
            notify_keyspace_events: 0,
            tracking_table_max_keys: 0,
            slowlog_log_slower_than: 0,
            slowlog_max_len: 0,
            latency_monitor_threshold: 0,
            latency_tracking: false,
            latency_tracking_info_percentiles: Vec::new(),
            busy_reply_threshold: 0,
            tls: TlsConfig::default(),
            replicaof: None,
            masterauth: String::new(),
            masteruser: String::new(),
            replica_read_only: true,
            replica_serve_stale_data: true,
            repl_timeout: 0,
            replica_priority: 0,
            config_file: None,
            config_file_is_redis_conf: false,
        };
        for d in DIRECTIVES {
            (d.set)(&mut config, d.default).expect("built-in default is valid");
        }
        config
    }
}

/// Looks a directive up by its (case-insensitive) name.
pub fn directive(name: &str) -> Option<&'static Directive> {
    DIRECTIVES
        .iter()
        .find(|d| d.name.eq_ignore_ascii_case(name))
}

impl Config {
    /// Sets one directive from its textual value.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let d =
            directive(name).ok_or_else(|| ConfigError(format!("unknown directive '{name}'")))?;
        (d.set)(self, value).map_err(|e| ConfigError(format!("'{}' {e}", d.name)))
    }

    /// Reads one directive as text, the way `CONFIG GET` shows it.
    pub fn get(&self, d: &Directive) -> String {
        (d.get)(self)
    }

    /// Applies a TOML configuration file.
    pub fn load_toml(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
        let table: toml::Table = text
            .parse()
            .map_err(|e| ConfigError(format!("{}: {e}", path.display())))?;
        for (key, value) in &table {
            let text = toml_value_text(value).ok_or_else(|| {
                ConfigError(format!(
                    "{}: directive '{key}' has an unsupported value type",
                    path.display()
                ))
            })?;
            self.set(key, &text)
                .map_err(|e| ConfigError(format!("{}: {e}", path.display())))?;
        }
        // Absolute: the server changes directory to `dir` after loading,
        // and CONFIG REWRITE must still find the file.
        self.config_file = Some(std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()));
        Ok(())
    }
}

fn toml_value_text(value: &toml::Value) -> Option<String> {
    Some(match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => (if *b { "yes" } else { "no" }).to_string(),
        toml::Value::Array(items) => items
            .iter()
            .map(toml_value_text)
            .collect::<Option<Vec<_>>>()?
            .join(" "),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_redis() {
        let c = Config::default();
        assert_eq!(c.port, 6379);
        assert_eq!(c.databases, 16);
        assert_eq!(c.save, vec![(3600, 1), (300, 100), (60, 10000)]);
        assert_eq!(c.proto_max_bulk_len, 512 * 1024 * 1024);
        assert_eq!(c.bind, vec!["127.0.0.1".to_string(), "-::1".to_string()]);
    }

    #[test]
    fn set_uses_redis_syntax() {
        let mut c = Config::default();
        c.set("proto-max-bulk-len", "1mb").unwrap();
        assert_eq!(c.proto_max_bulk_len, 1024 * 1024);
        c.set("save", "").unwrap();
        assert!(c.save.is_empty());
        assert!(c.set("appendonly", "maybe").is_err());
        assert!(c.set("no-such-thing", "1").is_err());
        assert!(c.set("databases", "0").is_err());
    }

    #[test]
    fn shipped_redis_toml_documents_every_directive_with_its_default() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("redis.toml");
        let mut loaded = Config::default();
        loaded.load_toml(&path).expect("redis.toml loads");
        let defaults = Config::default();
        let text = std::fs::read_to_string(&path).unwrap();
        for d in DIRECTIVES {
            assert!(
                text.lines()
                    .any(|l| l.starts_with(&format!("{} = ", d.name))),
                "redis.toml lacks '{}'",
                d.name
            );
            assert_eq!(
                loaded.get(d),
                defaults.get(d),
                "redis.toml changes the default of '{}'",
                d.name
            );
        }
    }

    #[test]
    fn toml_values_map_to_directives() {
        let dir = std::env::temp_dir().join(format!("ferrokv-conf-{}", std::process::id()));
        std::fs::write(
            &dir,
            "port = 7001\nbind = [\"127.0.0.1\"]\nappendonly = false\nsave = \"\"\n",
        )
        .unwrap();
        let mut c = Config::default();
        c.load_toml(&dir).unwrap();
        assert_eq!(c.port, 7001);
        assert_eq!(c.bind, vec!["127.0.0.1".to_string()]);
        assert!(c.save.is_empty());
        std::fs::write(&dir, "nonsense = 1\n").unwrap();
        assert!(Config::default().load_toml(&dir).is_err());
        std::fs::remove_file(&dir).ok();
    }
}
