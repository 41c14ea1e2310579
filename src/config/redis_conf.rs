//! Loading a Redis `redis.conf`, for users migrating from Redis.
//!
//! The syntax is Redis's: one directive per line, arguments split like
//! `sdssplitargs` (double quotes with `\n`/`\xHH` escapes, single quotes),
//! `#` comments, `include` files, repeated `save` and
//! `client-output-buffer-limit` lines. Directives ferrokv has go through
//! the same table as `redis.toml`; valid Redis directives ferrokv lacks are
//! skipped and reported back so the caller can log them once. Anything
//! else fails with Redis's error wording.

use std::path::Path;

use super::parse::parse_save;
use super::rewrite::{canonical, write_atomically};
use super::{directive, Config, ConfigError, Directive, DIRECTIVES};

/// Every directive Redis 7.0 accepts in redis.conf: its `CONFIG GET *`
/// names plus the file-only ones (`include`, `rename-command`, …) and the
/// deprecated names it still tolerates.
const REDIS_DIRECTIVES: &[&str] = &[
    "acl-pubsub-default",
    "aclfile",
    "acllog-max-len",
    "active-defrag-cycle-max",
    "active-defrag-cycle-min",
    "active-defrag-ignore-bytes",
    "active-defrag-max-scan-fields",
    "active-defrag-threshold-lower",
    "active-defrag-threshold-upper",
    "active-expire-effort",
    "activedefrag",
    "activerehashing",
    "always-show-logo",
    "aof-disable-auto-gc",
    "aof-load-truncated",
    "aof-rewrite-incremental-fsync",
    "aof-timestamp-enabled",
    "aof-use-rdb-preamble",
    "aof_rewrite_cpulist",
    "appenddirname",
    "appendfilename",
    "appendfsync",
    "appendonly",
    "auto-aof-rewrite-min-size",
    "auto-aof-rewrite-percentage",
    "bgsave_cpulist",
    "bind",
    "bind-source-addr",
    "bio_cpulist",
    "busy-reply-threshold",
    "client-output-buffer-limit",
    "client-query-buffer-limit",
    "cluster-allow-pubsubshard-when-down",
    "cluster-allow-reads-when-down",
    "cluster-allow-replica-migration",
    "cluster-announce-bus-port",
    "cluster-announce-hostname",
    "cluster-announce-ip",
    "cluster-announce-port",
    "cluster-announce-tls-port",
    "cluster-config-file",
    "cluster-enabled",
    "cluster-link-sendbuf-limit",
    "cluster-migration-barrier",
    "cluster-node-timeout",
    "cluster-port",
    "cluster-preferred-endpoint-type",
    "cluster-replica-no-failover",
    "cluster-replica-validity-factor",
    "cluster-require-full-coverage",
    "cluster-slave-no-failover",
    "cluster-slave-validity-factor",
    "crash-log-enabled",
    "crash-memcheck-enabled",
    "daemonize",
    "databases",
    "dbfilename",
    "dir",
    "disable-thp",
    "dynamic-hz",
    "enable-debug-command",
    "enable-module-command",
    "enable-protected-configs",
    "hash-max-listpack-entries",
    "hash-max-listpack-value",
    "hash-max-ziplist-entries",
    "hash-max-ziplist-value",
    "hll-sparse-max-bytes",
    "hz",
    "ignore-warnings",
    "io-threads",
    "io-threads-do-reads",
    "jemalloc-bg-thread",
    "latency-monitor-threshold",
    "latency-tracking",
    "latency-tracking-info-percentiles",
    "lazyfree-lazy-eviction",
    "lazyfree-lazy-expire",
    "lazyfree-lazy-server-del",
    "lazyfree-lazy-user-del",
    "lazyfree-lazy-user-flush",
    "lfu-decay-time",
    "lfu-log-factor",
    "list-compress-depth",
    "list-max-listpack-size",
    "list-max-ziplist-size",
    "logfile",
    "loglevel",
    "lua-time-limit",
    "masterauth",
    "masteruser",
    "maxclients",
    "maxmemory",
    "maxmemory-clients",
    "maxmemory-eviction-tenacity",
    "maxmemory-policy",
    "maxmemory-samples",
    "min-replicas-max-lag",
    "min-replicas-to-write",
    "min-slaves-max-lag",
    "min-slaves-to-write",
    "no-appendfsync-on-rewrite",
    "notify-keyspace-events",
    "oom-score-adj",
    "oom-score-adj-values",
    "pidfile",
    "port",
    "proc-title-template",
    "propagation-error-behavior",
    "protected-mode",
    "proto-max-bulk-len",
    "rdb-del-sync-files",
    "rdb-save-incremental-fsync",
    "rdbchecksum",
    "rdbcompression",
    "repl-backlog-size",
    "repl-backlog-ttl",
    "repl-disable-tcp-nodelay",
    "repl-diskless-load",
    "repl-diskless-sync",
    "repl-diskless-sync-delay",
    "repl-diskless-sync-max-replicas",
    "repl-ping-replica-period",
    "repl-ping-slave-period",
    "repl-timeout",
    "replica-announce-ip",
    "replica-announce-port",
    "replica-announced",
    "replica-ignore-disk-write-errors",
    "replica-ignore-maxmemory",
    "replica-lazy-flush",
    "replica-priority",
    "replica-read-only",
    "replica-serve-stale-data",
    "replicaof",
    "requirepass",
    "sanitize-dump-payload",
    "save",
    "server_cpulist",
    "set-max-intset-entries",
    "set-proc-title",
    "shutdown-on-sigint",
    "shutdown-on-sigterm",
    "shutdown-timeout",
    "slave-announce-ip",
    "slave-announce-port",
    "slave-ignore-maxmemory",
    "slave-lazy-flush",
    "slave-priority",
    "slave-read-only",
    "slave-serve-stale-data",
    "slaveof",
    "slowlog-log-slower-than",
    "slowlog-max-len",
    "socket-mark-id",
    "stop-writes-on-bgsave-error",
    "stream-node-max-bytes",
    "stream-node-max-entries",
    "supervised",
    "syslog-enabled",
    "syslog-facility",
    "syslog-ident",
    "tcp-backlog",
    "tcp-keepalive",
    "timeout",
    "tls-auth-clients",
    "tls-ca-cert-dir",
    "tls-ca-cert-file",
    "tls-cert-file",
    "tls-ciphers",
    "tls-ciphersuites",
    "tls-client-cert-file",
    "tls-client-key-file",
    "tls-client-key-file-pass",
    "tls-cluster",
    "tls-dh-params-file",
    "tls-key-file",
    "tls-key-file-pass",
    "tls-port",
    "tls-prefer-server-ciphers",
    "tls-protocols",
    "tls-replication",
    "tls-session-cache-size",
    "tls-session-cache-timeout",
    "tls-session-caching",
    "tracking-table-max-keys",
    "unixsocket",
    "unixsocketperm",
    "zset-max-listpack-entries",
    "zset-max-listpack-value",
    "zset-max-ziplist-entries",
    "zset-max-ziplist-value",
    // Only valid in a file.
    "include",
    "rename-command",
    "user",
    "loadmodule",
    "sentinel",
    // Deprecated; Redis 7.0 still accepts and ignores them.
    "list-max-ziplist-entries",
    "list-max-ziplist-value",
    "lua-replicate-commands",
];

/// Whether `name` is a directive Redis 7.0 accepts (case-insensitive).
pub fn is_redis_directive(name: &str) -> bool {
    REDIS_DIRECTIVES
        .iter()
        .any(|d| d.eq_ignore_ascii_case(name))
}

/// Directives whose value is several arguments on one line.
const MULTI_ARG: &[&str] = &[
    "bind",
    "client-output-buffer-limit",
    "latency-tracking-info-percentiles",
];

/// How deep `include` may nest (a file including itself would recurse).
const MAX_INCLUDE_DEPTH: usize = 16;

/// Splits one line into arguments like Redis's `sdssplitargs`. `None`
/// means unbalanced quotes (or a closing quote not followed by a space).
pub fn split_args(line: &str) -> Option<Vec<String>> {
    let bytes = line.as_bytes();
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == bytes.len() {
            return Some(args);
        }
        let mut current = Vec::new();
        let (mut in_double, mut in_single) = (false, false);
        loop {
            let c = bytes.get(i).copied();
            if in_double {
                match c? {
                    b'\\'
                        if bytes.len() > i + 3
                            && bytes[i + 1] == b'x'
                            && bytes[i + 2].is_ascii_hexdigit()
                            && bytes[i + 3].is_ascii_hexdigit() =>
                    {
                        let hex = std::str::from_utf8(&bytes[i + 2..i + 4]).ok()?;
                        current.push(u8::from_str_radix(hex, 16).ok()?);
                        i += 3;
                    }
                    b'\\' if i + 1 < bytes.len() => {
                        i += 1;
                        current.push(match bytes[i] {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 0x08,
                            b'a' => 0x07,
                            other => other,
                        });
                    }
                    b'"' => {
                        // The closing quote must end the argument.
                        if bytes.get(i + 1).is_some_and(|b| !b.is_ascii_whitespace()) {
                            return None;
                        }
                        i += 1;
                        break;
                    }
                    other => current.push(other),
                }
            } else if in_single {
                match c? {
                    b'\\' if bytes.get(i + 1) == Some(&b'\'') => {
                        i += 1;
                        current.push(b'\'');
                    }
                    b'\'' => {
                        if bytes.get(i + 1).is_some_and(|b| !b.is_ascii_whitespace()) {
                            return None;
                        }
                        i += 1;
                        break;
                    }
                    other => current.push(other),
                }
            } else {
                match c {
                    None => break,
                    Some(b) if b.is_ascii_whitespace() => break,
                    Some(b'"') => in_double = true,
                    Some(b'\'') => in_single = true,
                    Some(other) => current.push(other),
                }
            }
            i += 1;
        }
        args.push(String::from_utf8_lossy(&current).into_owned());
    }
}

/// State carried across a file and its includes.
#[derive(Default)]
struct Loading {
    /// `save` lines seen so far (the first one replaces the defaults).
    save: Option<Vec<String>>,
    /// Redis directives ferrokv skips, first occurrence order.
    ignored: Vec<String>,
}

impl Config {
    /// Applies a redis.conf file. Returns the valid Redis directives it
    /// contained that ferrokv does not support (ignored), for one log line.
    pub fn load_redis_conf(&mut self, path: &Path) -> Result<Vec<String>, ConfigError> {
        let mut state = Loading::default();
        self.load_redis_conf_file(path, 0, &mut state)?;
        if let Some(points) = state.save {
            self.set("save", &points.join(" "))?;
        }
        self.config_file = Some(std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()));
        self.config_file_is_redis_conf = true;
        Ok(state.ignored)
    }

    fn load_redis_conf_file(
        &mut self,
        path: &Path,
        depth: usize,
        state: &mut Loading,
    ) -> Result<(), ConfigError> {
        let text = std::fs::read(path).map_err(|e| {
            ConfigError(format!(
                "Fatal error, can't open config file '{}': {}",
                path.display(),
                io_reason(&e)
            ))
        })?;
        let text = String::from_utf8_lossy(&text);
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim_matches([' ', '\t', '\r', '\n']);
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fail = |why: &str| {
                let place = if depth == 0 {
                    String::new()
                } else {
                    format!(" {}", path.display())
                };
                ConfigError(format!(
                    "Reading the configuration file{place}, at line {}\n>>> '{line}'\n{why}",
                    n + 1
                ))
            };
            let args =
                split_args(line).ok_or_else(|| fail("Unbalanced quotes in configuration line"))?;
            let Some(name) = args.first().map(|a| a.to_ascii_lowercase()) else {
                continue;
            };
            let values = &args[1..];
            if name == "include" && values.len() == 1 {
                if depth >= MAX_INCLUDE_DEPTH {
                    return Err(fail("include nesting too deep"));
                }
                self.load_redis_conf_file(Path::new(&values[0]), depth + 1, state)?;
            } else if name == "save" {
                if values.is_empty() {
                    return Err(fail("wrong number of arguments"));
                }
                let points = state.save.get_or_insert_with(Vec::new);
                if values.len() == 1 && values[0].is_empty() {
                    points.clear();
                } else {
                    parse_save(&values.join(" ")).map_err(|e| fail(&e))?;
                    points.extend(values.iter().cloned());
                }
            } else if let Some(d) = directive(&name) {
                let value = if MULTI_ARG.contains(&d.name) && !values.is_empty() {
                    values.join(" ")
                } else if values.len() == 1 {
                    values[0].clone()
                } else {
                    return Err(fail("wrong number of arguments"));
                };
                (d.set)(self, &value).map_err(|e| fail(&e))?;
            } else if is_redis_directive(&name) {
                if !state.ignored.contains(&name) {
                    state.ignored.push(name);
                }
            } else {
                return Err(fail("Bad directive or wrong number of arguments"));
            }
        }
        Ok(())
    }
}

/// `CONFIG REWRITE` of a redis.conf, Redis style: the first line of each
/// directive ferrokv has is replaced by its running value and its repeats
/// (extra `save` or `client-output-buffer-limit` lines) are dropped;
/// comments, blank lines, `include`s and directives ferrokv ignores stay
/// as they are; non-default directives the file lacks are appended after
/// a marker comment. Directives set in included files are not edited
/// there: when their running value is not the default, the appended line
/// (after the `include`) carries it.
pub fn rewrite(config: &Config, path: &Path) -> Result<(), ConfigError> {
    let text = std::fs::read(path).map_err(|e| ConfigError(io_reason(&e)))?;
    let text = String::from_utf8_lossy(&text);
    let mut out = String::with_capacity(text.len() + 256);
    let mut written: Vec<&'static str> = Vec::new();
    for line in text.lines() {
        let d = split_args(line).and_then(|args| args.first().and_then(|name| directive(name)));
        match d {
            Some(d) if written.contains(&canonical(d)) => {}
            Some(d) => {
                written.push(canonical(d));
                out.push_str(&conf_lines(d, &config.get(d)));
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    let defaults = Config::default();
    let mut marker = false;
    for d in DIRECTIVES {
        let value = config.get(d);
        if canonical(d) != d.name || written.contains(&d.name) || value == defaults.get(d) {
            continue;
        }
        if !marker {
            out.push_str("\n# Generated by CONFIG REWRITE\n");
            marker = true;
        }
        out.push_str(&conf_lines(d, &value));
    }
    write_atomically(path, out.as_bytes()).map_err(|e| ConfigError(io_reason(&e)))
}

/// The redis.conf line(s) setting `d` to `value` (its `CONFIG GET` text).
fn conf_lines(d: &Directive, value: &str) -> String {
    let words: Vec<&str> = value.split_whitespace().collect();
    match d.name {
        "save" if words.is_empty() => "save \"\"\n".to_string(),
        // One line per client class, as Redis writes them.
        "client-output-buffer-limit" => words
            .chunks(4)
            .map(|class| format!("{} {}\n", d.name, class.join(" ")))
            .collect(),
        name if name == "save" || (MULTI_ARG.contains(&name) && !words.is_empty()) => {
            format!("{name} {}\n", words.join(" "))
        }
        name => format!("{name} {}\n", quote(value)),
    }
}

/// `value` as one redis.conf argument: bare when it needs no quoting,
/// otherwise double-quoted with the escapes `split_args` reads back.
fn quote(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\'' | b'\\'));
    if plain {
        return value.to_string();
    }
    let mut out = String::from("\"");
    for b in value.bytes() {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b' ' | b'\'' => out.push(b as char),
            b if b.is_ascii_graphic() => out.push(b as char),
            b => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

/// The OS reason without Rust's "(os error N)" suffix, as `strerror` says.
fn io_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Option<Vec<String>> {
        Some(v.iter().map(|x| x.to_string()).collect())
    }

    #[test]
    fn splits_like_sdssplitargs() {
        assert_eq!(split_args("  save 900 1 "), s(&["save", "900", "1"]));
        assert_eq!(split_args(r#"save """#), s(&["save", ""]));
        assert_eq!(split_args(r#"a "b c" 'd e'"#), s(&["a", "b c", "d e"]));
        assert_eq!(split_args(r#"a "\x41\n\"""#), s(&["a", "A\n\""]));
        assert_eq!(split_args(r"a 'it\'s'"), s(&["a", "it's"]));
        assert_eq!(split_args(r#"a "b"c"#), None);
        assert_eq!(split_args(r#"a "b"#), None);
        assert_eq!(split_args("a 'b"), None);
        assert_eq!(split_args(""), s(&[]));
    }

    fn load(text: &str) -> Result<(Config, Vec<String>), ConfigError> {
        let path = std::env::temp_dir().join(format!(
            "ferrokv-redisconf-{}-{}.conf",
            std::process::id(),
            text.len()
        ));
        std::fs::write(&path, text).unwrap();
        let mut c = Config::default();
        let r = c.load_redis_conf(&path).map(|ignored| (c, ignored));
        std::fs::remove_file(&path).ok();
        r
    }

    #[test]
    fn maps_supported_and_lists_ignored() {
        let (c, ignored) = load(
            "# comment\nport 7001\nsave 900 1\nSAVE 60 100\nactivedefrag yes\n\
             client-output-buffer-limit pubsub 64mb 16mb 90\nproto-max-bulk-len 1gb\n\
             rename-command FLUSHALL \"\"\nactivedefrag no\n",
        )
        .unwrap();
        assert_eq!(c.port, 7001);
        assert_eq!(c.save, vec![(900, 1), (60, 100)]);
        assert_eq!(c.output_limits.pubsub.hard, 64 << 20);
        assert_eq!(c.proto_max_bulk_len, 1 << 30);
        assert_eq!(ignored, vec!["activedefrag", "rename-command"]);
        assert!(c.config_file_is_redis_conf);
        let (c, _) = load("save 900 1\nsave \"\"\n").unwrap();
        assert!(c.save.is_empty());
    }

    #[test]
    fn quoting_round_trips_through_split_args() {
        for v in [
            "plain",
            "",
            "two words",
            "q\"uo'te\\",
            "tab\there\n",
            "caf\u{e9}",
        ] {
            let line = format!("x {}", quote(v));
            assert_eq!(split_args(&line), s(&["x", v]), "{line}");
        }
    }

    #[test]
    fn rewrite_keeps_comments_and_reloads_to_the_same_values() {
        let path = std::env::temp_dir().join(format!("ferrokv-rw-{}.conf", std::process::id()));
        std::fs::write(
            &path,
            "# top comment\nsave 900 1\n\nsave 60 100\n\
             activedefrag yes\nhash-max-ziplist-entries 64\nlogfile \"\"\n",
        )
        .unwrap();
        let mut c = Config::default();
        c.load_redis_conf(&path).unwrap();
        c.set("save", "100 5").unwrap();
        c.set("hash-max-listpack-entries", "99").unwrap();
        c.set("maxclients", "321").unwrap();
        c.set("requirepass", "p w\"d").unwrap();
        rewrite(&c, &path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "# top comment\nsave 100 5\n\nactivedefrag yes\nhash-max-ziplist-entries 99\n\
             logfile \"\"\n\n# Generated by CONFIG REWRITE\nmaxclients 321\n\
             requirepass \"p w\\\"d\"\n"
        );
        let mut reloaded = Config::default();
        reloaded.load_redis_conf(&path).unwrap();
        for d in DIRECTIVES {
            assert_eq!(reloaded.get(d), c.get(d), "{}", d.name);
        }
        std::fs::remove_file(&path).ok();
    }

    #[test]
    fn errors_use_redis_wording() {
        let err = |t: &str| load(t).err().unwrap().0;
        assert_eq!(
            err("port 1\nfoo bar\n"),
            "Reading the configuration file, at line 2\n>>> 'foo bar'\nBad directive or wrong number of arguments"
        );
        assert!(err("port 1 2\n").ends_with("wrong number of arguments"));
        assert!(err("port abc\n").ends_with("argument couldn't be parsed into an integer"));
        assert!(err("save 1\n").ends_with("Invalid save parameters"));
        assert!(err("dir \"x\n").ends_with("Unbalanced quotes in configuration line"));
        assert_eq!(
            err("include /nonexistent/ferrokv.conf\n"),
            "Fatal error, can't open config file '/nonexistent/ferrokv.conf': No such file or directory"
        );
    }
}
