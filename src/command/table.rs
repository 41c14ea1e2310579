//! The static command table, built once at start-up from the Redis 7.0
//! reference data (`redis-7.0-commands.json`, from `COMMAND`/`COMMAND DOCS`)
//! joined with the handlers the command families register.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value as Json;

use super::{CmdResult, Ctx};
use crate::server::latency::Histogram;

/// A command implementation: the arguments include the command name.
pub type Handler = fn(&mut Ctx, &[&[u8]]) -> CmdResult;

/// Command flag bits checked by the dispatcher.
pub mod flags {
    /// Modifies the keyspace.
    pub const WRITE: u32 = 1 << 0;
    /// Only reads.
    pub const READONLY: u32 = 1 << 1;
    /// May grow memory use.
    pub const DENYOOM: u32 = 1 << 2;
    /// Administrative.
    pub const ADMIN: u32 = 1 << 3;
    /// Allowed in RESP2 subscriber mode.
    pub const PUBSUB: u32 = 1 << 4;
    /// Not allowed from scripts.
    pub const NOSCRIPT: u32 = 1 << 5;
    /// Allowed while loading data.
    pub const LOADING: u32 = 1 << 6;
    /// Allowed on a stale replica.
    pub const STALE: u32 = 1 << 7;
    /// O(1) or O(log N).
    pub const FAST: u32 = 1 << 8;
    /// Allowed before authentication.
    pub const NO_AUTH: u32 = 1 << 9;
    /// May block the client.
    pub const BLOCKING: u32 = 1 << 10;
    /// Not allowed inside MULTI.
    pub const NO_MULTI: u32 = 1 << 11;
    /// Not shown to MONITOR.
    pub const SKIP_MONITOR: u32 = 1 << 12;
    /// Not recorded in the slow log.
    pub const SKIP_SLOWLOG: u32 = 1 << 13;
    /// Runs with the keyspace gate held exclusively (ferrokv only).
    pub const EXCLUSIVE: u32 = 1 << 31;

    /// Maps a Redis flag name to its bit (0 when the dispatcher ignores it).
    pub fn from_name(name: &str) -> u32 {
        match name {
            "write" => WRITE,
            "readonly" => READONLY,
            "denyoom" => DENYOOM,
            "admin" => ADMIN,
            "pubsub" => PUBSUB,
            "noscript" => NOSCRIPT,
            "loading" => LOADING,
            "stale" => STALE,
            "fast" => FAST,
            "no_auth" => NO_AUTH,
            "blocking" => BLOCKING,
            "no_multi" => NO_MULTI,
            "skip_monitor" => SKIP_MONITOR,
            "skip_slowlog" => SKIP_SLOWLOG,
            _ => 0,
        }
    }
}

/// Per-command counters for `INFO commandstats`.
#[derive(Default)]
pub struct CommandStats {
    /// Successful and failed executions.
    pub calls: AtomicU64,
    /// Total execution time in microseconds.
    pub usec: AtomicU64,
    /// Calls refused before execution (arity, auth…).
    pub rejected_calls: AtomicU64,
    /// Calls that returned an error.
    pub failed_calls: AtomicU64,
    /// Latency distribution (LATENCY HISTOGRAM, INFO latencystats).
    pub latency: Histogram,
}

impl CommandStats {
    /// Zeroes every counter (`CONFIG RESETSTAT`).
    pub fn reset(&self) {
        for c in [
            &self.calls,
            &self.usec,
            &self.rejected_calls,
            &self.failed_calls,
        ] {
            c.store(0, Ordering::Relaxed);
        }
        self.latency.reset();
    }
}

/// Where a key spec starts looking for keys.
#[derive(Debug, Clone)]
enum BeginSearch {
    Index(usize),
    Keyword { keyword: String, startfrom: i64 },
    Unknown,
}

/// How a key spec finds keys from its start.
#[derive(Debug, Clone)]
enum FindKeys {
    Range {
        lastkey: i64,
        step: usize,
        limit: i64,
    },
    Keynum {
        keynumidx: usize,
        firstkey: usize,
        step: usize,
    },
    Unknown,
}

/// One key specification of a command (Redis 7 key specs).
#[derive(Debug, Clone)]
struct KeySpec {
    begin: BeginSearch,
    find: FindKeys,
    /// ACL permissions its keys need (`access` reads; `insert`, `delete`,
    /// `update` write).
    acl: u8,
}

/// A command (or subcommand) of the table.
pub struct Command {
    /// Lower-case full name (`get`, `client|list`).
    pub name: String,
    /// Redis arity: exact count if positive, minimum count if negative.
    pub arity: i32,
    /// [`flags`] bits.
    pub flags: u32,
    /// Implementation; `None` for containers such as `CLIENT`.
    pub handler: Option<Handler>,
    /// Subcommands by lower-case name (`list` for `client|list`).
    pub subcommands: HashMap<String, Command>,
    /// The reference entry (for `COMMAND INFO` and `COMMAND DOCS`).
    pub info: Json,
    /// Execution statistics.
    pub stats: CommandStats,
    key_specs: Vec<KeySpec>,
}

impl Command {
    /// Whether `argc` arguments (name included) satisfy the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        if self.arity >= 0 {
            argc == self.arity as usize
        } else {
            argc >= (-self.arity) as usize
        }
    }

    /// Whether the command has flag bit `f`.
    pub fn has(&self, f: u32) -> bool {
        self.flags & f != 0
    }

    /// Positions of the key arguments, from the command's key specs.
    pub fn key_positions(&self, args: &[&[u8]]) -> Vec<usize> {
        let mut out = Vec::new();
        for spec in &self.key_specs {
            spec.positions(args, &mut out);
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Positions of the key arguments found by each key spec, in spec
    /// order (`COMMAND GETKEYSANDFLAGS` reports each spec's flags).
    pub fn key_positions_by_spec(&self, args: &[&[u8]]) -> Vec<Vec<usize>> {
        self.key_specs
            .iter()
            .map(|spec| {
                let mut out = Vec::new();
                spec.positions(args, &mut out);
                out
            })
            .collect()
    }

    /// Key argument positions with the ACL permissions each needs (one
    /// entry per key spec match, as Redis checks them).
    pub fn key_access(&self, args: &[&[u8]]) -> Vec<(usize, u8)> {
        let mut out = Vec::new();
        let mut found = Vec::new();
        for spec in &self.key_specs {
            found.clear();
            spec.positions(args, &mut found);
            out.extend(found.iter().map(|&pos| (pos, spec.acl)));
        }
        out
    }

    /// The key arguments themselves.
    pub fn keys<'a>(&self, args: &[&'a [u8]]) -> Vec<&'a [u8]> {
        self.key_positions(args)
            .into_iter()
            .map(|i| args[i])
            .collect()
    }
}

impl KeySpec {
    fn parse(spec: &Json) -> KeySpec {
        let num = |v: &Json, k: &str| v.get(k).and_then(Json::as_i64).unwrap_or(0);
        let bs = &spec["begin_search"];
        let begin = match bs["type"].as_str() {
            Some("index") => BeginSearch::Index(num(&bs["spec"], "index") as usize),
            Some("keyword") => BeginSearch::Keyword {
                keyword: bs["spec"]["keyword"].as_str().unwrap_or("").to_string(),
                startfrom: num(&bs["spec"], "startfrom"),
            },
            _ => BeginSearch::Unknown,
        };
        let fk = &spec["find_keys"];
        let find = match fk["type"].as_str() {
            Some("range") => FindKeys::Range {
                lastkey: num(&fk["spec"], "lastkey"),
                step: num(&fk["spec"], "keystep").max(1) as usize,
                limit: num(&fk["spec"], "limit"),
            },
            Some("keynum") => FindKeys::Keynum {
                keynumidx: num(&fk["spec"], "keynumidx") as usize,
                firstkey: num(&fk["spec"], "firstkey") as usize,
                step: num(&fk["spec"], "keystep").max(1) as usize,
            },
            _ => FindKeys::Unknown,
        };
        let flag = |name: &str| {
            spec["flags"]
                .as_array()
                .is_some_and(|f| f.iter().any(|v| v.as_str() == Some(name)))
        };
        let write = flag("insert") || flag("delete") || flag("update");
        let acl = crate::acl::key_permissions(flag("access"), write);
        KeySpec { begin, find, acl }
    }

    fn positions(&self, args: &[&[u8]], out: &mut Vec<usize>) {
        let argc = args.len();
        let start = match &self.begin {
            BeginSearch::Index(i) => *i,
            BeginSearch::Keyword { keyword, startfrom } => {
                let found = if *startfrom >= 0 {
                    (*startfrom as usize..argc)
                        .find(|&i| args[i].eq_ignore_ascii_case(keyword.as_bytes()))
                } else {
                    let from = argc as i64 + startfrom;
                    (1..=from.max(0) as usize)
                        .rev()
                        .find(|&i| i < argc && args[i].eq_ignore_ascii_case(keyword.as_bytes()))
                };
                match found {
                    Some(i) => i + 1,
                    None => return,
                }
            }
            BeginSearch::Unknown => return,
        };
        if start >= argc {
            return;
        }
        match &self.find {
            FindKeys::Range {
                lastkey,
                step,
                limit,
            } => {
                let last = if *lastkey >= 0 {
                    start + *lastkey as usize
                } else if *limit > 1 {
                    start + (argc - start) / *limit as usize - 1
                } else {
                    let l = argc as i64 + lastkey;
                    if l < start as i64 {
                        return;
                    }
                    l as usize
                };
                let mut i = start;
                while i <= last && i < argc {
                    out.push(i);
                    i += step;
                }
            }
            FindKeys::Keynum {
                keynumidx,
                firstkey,
                step,
            } => {
                let Some(n) = args
                    .get(start + keynumidx)
                    .and_then(|a| crate::util::num::parse_i64(a))
                else {
                    return;
                };
                let mut i = start + firstkey;
                for _ in 0..n.max(0) {
                    if i >= argc {
                        break;
                    }
                    out.push(i);
                    i += step;
                }
            }
            FindKeys::Unknown => {}
        }
    }
}

/// The reference data shipped with the source.
const REFERENCE: &str = include_str!("redis-7.0-commands.json");

/// Collects handlers from the families and joins them with the reference.
pub struct TableBuilder {
    reference: HashMap<String, Json>,
    commands: HashMap<String, Command>,
}

fn build_command(entry: &Json, handler: Option<Handler>) -> Command {
    let flag_names = entry["flags"].as_array().cloned().unwrap_or_default();
    let flags = flag_names
        .iter()
        .filter_map(Json::as_str)
        .map(flags::from_name)
        .fold(0, |a, b| a | b);
    let key_specs = entry["key_specs"]
        .as_array()
        .map(|specs| specs.iter().map(KeySpec::parse).collect())
        .unwrap_or_default();
    let mut info = entry.clone();
    if let Some(obj) = info.as_object_mut() {
        obj.remove("subcommands");
    }
    Command {
        name: entry["name"].as_str().unwrap_or_default().to_string(),
        arity: entry["arity"].as_i64().unwrap_or(0) as i32,
        flags,
        handler,
        subcommands: HashMap::new(),
        info,
        stats: CommandStats::default(),
        key_specs,
    }
}

impl Default for TableBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl TableBuilder {
    /// Loads the reference table.
    pub fn new() -> Self {
        let list: Vec<Json> = serde_json::from_str(REFERENCE).expect("valid reference JSON");
        let mut reference = HashMap::new();
        for entry in list {
            if let Some(subs) = entry["subcommands"].as_array() {
                for sub in subs {
                    reference.insert(
                        sub["name"].as_str().unwrap_or_default().to_string(),
                        sub.clone(),
                    );
                }
            }
            reference.insert(
                entry["name"].as_str().unwrap_or_default().to_string(),
                entry,
            );
        }
        Self {
            reference,
            commands: HashMap::new(),
        }
    }

    fn entry(&self, name: &str) -> &Json {
        self.reference
            .get(name)
            .unwrap_or_else(|| panic!("'{name}' is not in the Redis 7.0 command reference"))
    }

    /// Registers a top-level command.
    pub fn add(&mut self, name: &str, handler: Handler) {
        let cmd = build_command(self.entry(name), Some(handler));
        self.commands.insert(name.to_string(), cmd);
    }

    /// Registers a subcommand (`parent|sub`), creating the container.
    pub fn add_sub(&mut self, parent: &str, sub: &str, handler: Handler) {
        let full = format!("{parent}|{sub}");
        let cmd = build_command(self.entry(&full), Some(handler));
        self.insert_sub(parent, sub, cmd);
    }

    /// Registers a subcommand that the 7.0 reference lacks (newer Redis),
    /// described by `entry` in the reference's format.
    pub fn add_sub_custom(&mut self, parent: &str, sub: &str, entry: Json, handler: Handler) {
        let cmd = build_command(&entry, Some(handler));
        self.insert_sub(parent, sub, cmd);
    }

    fn insert_sub(&mut self, parent: &str, sub: &str, cmd: Command) {
        if !self.commands.contains_key(parent) {
            let container = build_command(self.entry(parent), None);
            self.commands.insert(parent.to_string(), container);
        }
        self.commands
            .get_mut(parent)
            .expect("inserted")
            .subcommands
            .insert(sub.to_string(), cmd);
    }

    /// Marks a registered command as needing the exclusive gate.
    pub fn exclusive(&mut self, name: &str) {
        self.commands
            .get_mut(name)
            .unwrap_or_else(|| panic!("'{name}' not registered"))
            .flags |= flags::EXCLUSIVE;
    }

    /// Finishes the table.
    pub fn build(self) -> CommandTable {
        CommandTable {
            commands: self
                .commands
                .into_iter()
                .map(|(k, v)| (k.into_bytes(), v))
                .collect(),
        }
    }
}

/// Longest command name looked up (longer names are unknown commands).
const MAX_NAME: usize = 32;

/// The finished, immutable command table.
pub struct CommandTable {
    // Looked up once per command: a fast hasher matters here.
    commands: HashMap<Vec<u8>, Command, foldhash::fast::RandomState>,
}

impl CommandTable {
    /// Finds a command by name, case-insensitively, without allocating.
    pub fn lookup(&self, name: &[u8]) -> Option<&Command> {
        if name.len() > MAX_NAME {
            return None;
        }
        let mut buf = [0u8; MAX_NAME];
        let lower = &mut buf[..name.len()];
        lower.copy_from_slice(name);
        lower.make_ascii_lowercase();
        self.commands.get(&lower[..])
    }

    /// Every top-level command.
    pub fn iter(&self) -> impl Iterator<Item = &Command> {
        self.commands.values()
    }

    /// Number of top-level commands.
    pub fn len(&self) -> usize {
        self.commands.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noop(_: &mut Ctx, _: &[&[u8]]) -> CmdResult {
        Ok(())
    }

    #[test]
    fn key_specs_find_keys() {
        let mut b = TableBuilder::new();
        for name in ["mset", "zunionstore", "eval", "get", "migrate"] {
            b.add(name, noop);
        }
        let t = b.build();
        let args: Vec<&[u8]> = vec![b"MSET", b"a", b"1", b"b", b"2"];
        assert_eq!(t.lookup(b"MsEt").unwrap().key_positions(&args), vec![1, 3]);
        let args: Vec<&[u8]> = vec![
            b"ZUNIONSTORE",
            b"d",
            b"2",
            b"x",
            b"y",
            b"WEIGHTS",
            b"1",
            b"2",
        ];
        assert_eq!(
            t.lookup(b"zunionstore").unwrap().key_positions(&args),
            vec![1, 3, 4]
        );
        let args: Vec<&[u8]> = vec![b"EVAL", b"s", b"1", b"k", b"arg"];
        assert_eq!(t.lookup(b"eval").unwrap().key_positions(&args), vec![3]);
        let args: Vec<&[u8]> = vec![b"MIGRATE", b"h", b"p", b"", b"0", b"5", b"KEYS", b"a", b"b"];
        assert_eq!(
            t.lookup(b"migrate").unwrap().key_positions(&args),
            vec![3, 7, 8]
        );
        assert!(t.lookup(b"nope").is_none());
    }
}
