//! INFO: the server's state in Redis's `field:value` sections.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use crate::command::{CmdResult, Command, Ctx, TableBuilder};
use crate::replication::Replication;
use crate::server::stats::Stats;
use crate::server::{Server, REDIS_VERSION, VERSION};
use crate::util::time::now_us;

/// Registers the family.
pub fn register(t: &mut TableBuilder) {
    t.add("info", info);
}

/// Sections in output order, with whether `INFO` without arguments
/// (`default`) includes them.
const SECTIONS: [(&str, bool); 13] = [
    ("server", true),
    ("clients", true),
    ("memory", true),
    ("persistence", true),
    ("stats", true),
    ("replication", true),
    ("cpu", true),
    ("modules", true),
    ("commandstats", false),
    ("errorstats", true),
    ("latencystats", false),
    ("cluster", true),
    ("keyspace", true),
];

/// Which sections the arguments ask for, as flags parallel to
/// [`SECTIONS`]; unknown names select nothing.
fn selected(args: &[&[u8]]) -> [bool; SECTIONS.len()] {
    let mut on = [false; SECTIONS.len()];
    if args.len() == 1 {
        for (flag, (_, default)) in on.iter_mut().zip(SECTIONS) {
            *flag = default;
        }
        return on;
    }
    for arg in &args[1..] {
        let arg = String::from_utf8_lossy(arg).to_ascii_lowercase();
        for (flag, (name, default)) in on.iter_mut().zip(SECTIONS) {
            *flag |= match arg.as_str() {
                "all" | "everything" => true,
                "default" => default,
                other => other == name,
            };
        }
    }
    on
}

/// Redis's `bytesToHuman`.
fn human(n: u64) -> String {
    const UNITS: [&str; 5] = ["K", "M", "G", "T", "P"];
    if n < 1024 {
        return format!("{n}B");
    }
    let mut v = n as f64 / 1024.0;
    for unit in UNITS {
        if v < 1024.0 || unit == "P" {
            return format!("{v:.2}{unit}");
        }
        v /= 1024.0;
    }
    unreachable!("the loop returns at the last unit")
}

/// A line of `/proc/<file>` starting with `key`, as a number (first word).
fn proc_value(file: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(file).ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

/// Resident set size in bytes.
pub fn rss_bytes() -> u64 {
    proc_value("/proc/self/status", "VmRSS:").unwrap_or(0) * 1024
}

/// Appends `name:value\r\n`.
macro_rules! field {
    ($s:expr, $name:expr, $value:expr) => {{
        let _ = write!($s, "{}:{}\r\n", $name, $value);
    }};
}

/// A stable identifier of this build (Redis hashes its own build
/// parameters the same way): the versions it reports, hashed.
fn build_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        let digest = sha1_smol::Sha1::from(format!("ferrokv-{VERSION}-{REDIS_VERSION}"))
            .digest()
            .to_string();
        digest[..16].to_string()
    })
}

fn server_section(s: &mut String, server: &Server) {
    let (hz, config_file) = {
        let c = server.config.read();
        let file = c
            .config_file
            .as_ref()
            .map(|p| {
                std::fs::canonicalize(p)
                    .unwrap_or_else(|_| p.clone())
                    .display()
                    .to_string()
            })
            .unwrap_or_default();
        (c.hz, file)
    };
    let read = |f: &str| std::fs::read_to_string(f).unwrap_or_default();
    let os = format!(
        "{} {} {}",
        read("/proc/sys/kernel/ostype").trim(),
        read("/proc/sys/kernel/osrelease").trim(),
        std::env::consts::ARCH
    );
    let uptime = server.started.elapsed().as_secs();
    let now = now_us();
    field!(s, "redis_version", REDIS_VERSION);
    field!(s, "ferrokv_version", VERSION);
    field!(s, "redis_git_sha1", "00000000");
    field!(s, "redis_git_dirty", 0);
    field!(s, "redis_build_id", build_id());
    field!(s, "redis_mode", "standalone");
    field!(s, "os", os);
    field!(s, "arch_bits", usize::BITS);
    field!(s, "monotonic_clock", "POSIX clock_gettime");
    field!(s, "multiplexing_api", "epoll");
    // Rust's atomics follow the C11 memory model Redis's builtin API uses.
    field!(s, "atomicvar_api", "c11-builtin");
    field!(s, "process_id", std::process::id());
    field!(s, "process_supervised", "no");
    field!(s, "run_id", server.run_id);
    field!(s, "tcp_port", server.tcp_port.load(Ordering::Relaxed));
    field!(s, "server_time_usec", now);
    field!(s, "uptime_in_seconds", uptime);
    field!(s, "uptime_in_days", uptime / 86400);
    field!(s, "hz", hz);
    field!(s, "configured_hz", hz);
    field!(s, "lru_clock", (now / 1_000_000) & ((1 << 24) - 1));
    field!(
        s,
        "executable",
        std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    );
    field!(s, "config_file", config_file);
    field!(s, "io_threads_active", 0);
}

fn clients_section(s: &mut String, server: &Server) {
    let clients = server.clients.all();
    let (max_in, max_out) = clients.iter().fold((0, 0), |(i, o), c| {
        let info = c.info.lock();
        (info.qbuf.max(i), c.output.bytes().max(o))
    });
    field!(s, "connected_clients", clients.len());
    field!(s, "cluster_connections", 0);
    field!(s, "maxclients", server.config.read().maxclients);
    field!(s, "client_recent_max_input_buffer", max_in);
    field!(s, "client_recent_max_output_buffer", max_out);
    field!(s, "blocked_clients", server.blocking.count());
    field!(s, "tracking_clients", server.tracking.clients());
    field!(s, "clients_in_timeout_table", 0);
}

/// The scripting lines of the memory section (Redis 7.0's names).
fn scripting_memory(s: &mut String, server: &Server) {
    let engine = &server.scripting;
    let lua = engine.lua_memory() as u64;
    let scripts = engine.scripts_memory() as u64;
    let (functions, libraries) = {
        let libs = engine.libraries.lock();
        (libs.function_count(), libs.libs.len())
    };
    field!(s, "used_memory_lua", lua);
    field!(s, "used_memory_vm_eval", lua);
    field!(s, "used_memory_lua_human", human(lua));
    field!(s, "used_memory_scripts_eval", scripts);
    field!(s, "number_of_cached_scripts", engine.cached_scripts());
    field!(s, "number_of_functions", functions);
    field!(s, "number_of_libraries", libraries);
    // Functions share the one VM: its memory is reported once, as eval's.
    field!(s, "used_memory_vm_functions", 0);
    field!(s, "used_memory_vm_total", lua);
    field!(s, "used_memory_vm_total_human", human(lua));
    field!(s, "used_memory_functions", 0);
    field!(s, "used_memory_scripts", scripts);
    field!(s, "used_memory_scripts_human", human(scripts));
}

fn memory_section(s: &mut String, server: &Server) {
    use tikv_jemalloc_ctl::version;
    let b = crate::commands::memory::breakdown(server);
    let allocated = b.total;
    let (active, resident, rss, peak) = (b.active, b.resident, b.rss, b.peak);
    let jemalloc = version::read()
        .ok()
        .and_then(|v| v.split('-').next())
        .unwrap_or("5");
    let total = proc_value("/proc/meminfo", "MemTotal:").unwrap_or(0) * 1024;
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let maxmemory = server.evict.maxmemory();
    field!(s, "used_memory", allocated);
    field!(s, "used_memory_human", human(allocated));
    field!(s, "used_memory_rss", rss);
    field!(s, "used_memory_rss_human", human(rss));
    field!(s, "used_memory_peak", peak);
    field!(s, "used_memory_peak_human", human(peak));
    field!(
        s,
        "used_memory_peak_perc",
        format!("{:.2}%", ratio(allocated, peak) * 100.0)
    );
    field!(s, "used_memory_overhead", b.overhead);
    field!(s, "used_memory_startup", b.startup);
    field!(s, "used_memory_dataset", b.dataset());
    field!(
        s,
        "used_memory_dataset_perc",
        format!("{:.2}%", b.dataset_perc())
    );
    field!(s, "allocator_allocated", allocated);
    field!(s, "allocator_active", active);
    field!(s, "allocator_resident", resident);
    field!(s, "total_system_memory", total);
    field!(s, "total_system_memory_human", human(total));
    scripting_memory(s, server);
    field!(s, "maxmemory", maxmemory);
    field!(s, "maxmemory_human", human(maxmemory));
    field!(s, "maxmemory_policy", server.evict.policy().name());
    field!(
        s,
        "allocator_frag_ratio",
        format!("{:.2}", ratio(active, allocated))
    );
    field!(s, "allocator_frag_bytes", active.saturating_sub(allocated));
    field!(
        s,
        "allocator_rss_ratio",
        format!("{:.2}", ratio(resident, active))
    );
    field!(s, "allocator_rss_bytes", resident.saturating_sub(active));
    field!(
        s,
        "rss_overhead_ratio",
        format!("{:.2}", ratio(rss, resident))
    );
    field!(s, "rss_overhead_bytes", rss as i64 - resident as i64);
    field!(
        s,
        "mem_fragmentation_ratio",
        format!("{:.2}", ratio(rss, allocated))
    );
    field!(s, "mem_fragmentation_bytes", rss as i64 - allocated as i64);
    field!(s, "mem_not_counted_for_evict", 0);
    field!(s, "mem_replication_backlog", 0);
    field!(s, "mem_total_replication_buffers", 0);
    field!(s, "mem_clients_slaves", 0);
    field!(s, "mem_clients_normal", b.clients);
    field!(s, "mem_cluster_links", 0);
    field!(s, "mem_aof_buffer", 0);
    field!(s, "mem_allocator", format!("jemalloc-{jemalloc}"));
    field!(s, "active_defrag_running", 0);
    field!(s, "lazyfree_pending_objects", 0);
    field!(s, "lazyfreed_objects", 0);
}

fn persistence_section(s: &mut String, server: &Server) {
    let rdb = server.persistence.info();
    field!(s, "loading", 0);
    field!(s, "async_loading", 0);
    // Copy-on-write sizes are not measured: a child shares pages with us.
    field!(s, "current_cow_peak", 0);
    field!(s, "current_cow_size", 0);
    field!(s, "current_cow_size_age", 0);
    field!(s, "current_fork_perc", "0.00");
    field!(s, "current_save_keys_processed", 0);
    field!(s, "current_save_keys_total", 0);
    field!(
        s,
        "rdb_changes_since_last_save",
        Stats::get(&server.stats.dirty)
    );
    field!(s, "rdb_bgsave_in_progress", rdb.bgsave_in_progress as u8);
    field!(
        s,
        "rdb_last_save_time",
        server.lastsave.load(Ordering::Relaxed)
    );
    field!(
        s,
        "rdb_last_bgsave_status",
        if rdb.bgsave_ok { "ok" } else { "err" }
    );
    field!(s, "rdb_last_bgsave_time_sec", rdb.last_bgsave_secs);
    field!(s, "rdb_current_bgsave_time_sec", rdb.current_bgsave_secs);
    field!(s, "rdb_saves", rdb.saves);
    field!(s, "rdb_last_cow_size", 0);
    field!(s, "rdb_last_load_keys_expired", rdb.keys_expired);
    field!(s, "rdb_last_load_keys_loaded", rdb.keys_loaded);
    server.aof.info(s);
    field!(s, "module_fork_in_progress", 0);
    field!(s, "module_fork_last_cow_size", 0);
    server.aof.info_sizes(s);
}

fn stats_section(s: &mut String, server: &Server) {
    let st = &server.stats;
    let expired = st.expired_keys(server.keyspace.expired_keys());
    field!(
        s,
        "total_connections_received",
        Stats::get(&st.connections_received)
    );
    field!(
        s,
        "total_commands_processed",
        Stats::get(&st.commands_processed)
    );
    field!(s, "instantaneous_ops_per_sec", Stats::get(&st.ops_per_sec));
    field!(s, "total_net_input_bytes", Stats::get(&st.net_input_bytes));
    field!(
        s,
        "total_net_output_bytes",
        Stats::get(&st.net_output_bytes)
    );
    // No replication yet: its traffic is zero.
    field!(s, "total_net_repl_input_bytes", 0);
    field!(s, "total_net_repl_output_bytes", 0);
    let kbps = |c: &std::sync::atomic::AtomicU64| format!("{:.2}", Stats::get(c) as f64 / 1024.0);
    field!(s, "instantaneous_input_kbps", kbps(&st.input_bytes_per_sec));
    field!(
        s,
        "instantaneous_output_kbps",
        kbps(&st.output_bytes_per_sec)
    );
    field!(s, "instantaneous_input_repl_kbps", "0.00");
    field!(s, "instantaneous_output_repl_kbps", "0.00");
    field!(
        s,
        "rejected_connections",
        Stats::get(&st.rejected_connections)
    );
    let repl = &server.replication;
    field!(s, "sync_full", Replication::stat(&repl.sync_full));
    field!(
        s,
        "sync_partial_ok",
        Replication::stat(&repl.sync_partial_ok)
    );
    field!(
        s,
        "sync_partial_err",
        Replication::stat(&repl.sync_partial_err)
    );
    field!(s, "expired_keys", expired);
    field!(s, "evicted_keys", Stats::get(&st.evicted_keys));
    field!(s, "evicted_clients", 0);
    field!(s, "keyspace_hits", Stats::get(&st.keyspace_hits));
    field!(s, "keyspace_misses", Stats::get(&st.keyspace_misses));
    field!(s, "pubsub_channels", 0);
    field!(s, "pubsub_patterns", 0);
    field!(s, "pubsubshard_channels", 0);
    let (fork_usec, forks) = server.persistence.fork_stats();
    field!(s, "latest_fork_usec", fork_usec);
    field!(s, "total_forks", forks);
    // No MIGRATE, no writable replicas and no active defragmentation:
    // these counters exist for dashboards and stay at zero.
    field!(s, "migrate_cached_sockets", 0);
    field!(s, "slave_expires_tracked_keys", 0);
    for name in [
        "active_defrag_hits",
        "active_defrag_misses",
        "active_defrag_key_hits",
        "active_defrag_key_misses",
        "total_active_defrag_time",
        "current_active_defrag_time",
    ] {
        field!(s, name, 0);
    }
    let (keys, items, prefixes) = server.tracking.totals();
    field!(s, "tracking_total_keys", keys);
    field!(s, "tracking_total_items", items);
    field!(s, "tracking_total_prefixes", prefixes);
    field!(s, "unexpected_error_replies", 0);
    field!(s, "total_error_replies", Stats::get(&st.error_replies));
    // Redis's io-threads are not used: the tokio workers do all I/O.
    field!(s, "io_threaded_reads_processed", 0);
    field!(s, "io_threaded_writes_processed", 0);
}

fn replication_section(s: &mut String, server: &Server) {
    if !crate::replication::replica::info_fields(server, s) {
        field!(s, "role", "master");
    }
    let st = server.replication.state();
    let now = crate::util::time::now_ms();
    field!(s, "connected_slaves", st.replicas.len());
    for (i, r) in st.replicas.iter().enumerate() {
        let state = if r.online.load(Ordering::Relaxed) {
            "online"
        } else {
            "wait_bgsave"
        };
        let lag = now.saturating_sub(r.ack_time.load(Ordering::Relaxed)) / 1000;
        let _ = write!(
            s,
            "slave{i}:ip={},port={},state={state},offset={},lag={lag}\r\n",
            r.ip,
            r.port,
            r.ack.load(Ordering::Relaxed)
        );
    }
    field!(s, "master_failover_state", "no-failover");
    field!(s, "master_replid", st.replid);
    field!(s, "master_replid2", st.replid2);
    field!(s, "master_repl_offset", st.offset);
    field!(s, "second_repl_offset", st.second_offset);
    let backlog = st.backlog.as_ref();
    field!(s, "repl_backlog_active", u8::from(backlog.is_some()));
    field!(
        s,
        "repl_backlog_size",
        backlog.map_or(server.config.read().repl.backlog_size as usize, |b| b
            .size())
    );
    field!(
        s,
        "repl_backlog_first_byte_offset",
        backlog.map_or(0, |b| b.first_byte_offset())
    );
    field!(
        s,
        "repl_backlog_histlen",
        backlog.map_or(0, |b| b.histlen())
    );
}

fn cpu_section(s: &mut String) {
    // Fields 14-17 of /proc/self/stat: utime, stime, cutime, cstime in
    // USER_HZ ticks (100 per second on Linux); the command name (field 2)
    // may contain spaces, so count from the closing parenthesis.
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let ticks: Vec<u64> = after
        .split_whitespace()
        .skip(11)
        .take(4)
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    let secs = |i: usize| {
        let t = ticks.get(i).copied().unwrap_or(0);
        format!("{}.{:06}", t / 100, (t % 100) * 10_000)
    };
    field!(s, "used_cpu_sys", secs(1));
    field!(s, "used_cpu_user", secs(0));
    field!(s, "used_cpu_sys_children", secs(3));
    field!(s, "used_cpu_user_children", secs(2));
}

/// `cmdstat_` lines of every command (and subcommand) ever called.
fn commandstats_section(s: &mut String, server: &Server) {
    let mut all: Vec<&Command> = Vec::new();
    for cmd in server.commands.iter() {
        all.push(cmd);
        all.extend(cmd.subcommands.values());
    }
    all.sort_by(|a, b| a.name.cmp(&b.name));
    for cmd in all {
        let st = &cmd.stats;
        let calls = st.calls.load(Ordering::Relaxed);
        let usec = st.usec.load(Ordering::Relaxed);
        let rejected = st.rejected_calls.load(Ordering::Relaxed);
        let failed = st.failed_calls.load(Ordering::Relaxed);
        if calls == 0 && rejected == 0 && failed == 0 {
            continue;
        }
        let per_call = if calls == 0 {
            0.0
        } else {
            usec as f64 / calls as f64
        };
        let _ = write!(
            s,
            "cmdstat_{}:calls={calls},usec={usec},usec_per_call={per_call:.2},rejected_calls={rejected},failed_calls={failed}\r\n",
            cmd.name
        );
    }
}

fn keyspace_section(s: &mut String, server: &Server) {
    let ks = &server.keyspace;
    for i in 0..ks.db_count() {
        let db = ks.db(i);
        let keys = db.len();
        if keys > 0 {
            let _ = write!(
                s,
                "db{i}:keys={keys},expires={},avg_ttl=0\r\n",
                db.volatile_len()
            );
        }
    }
}

/// The text of the requested sections.
pub fn render(server: &Server, args: &[&[u8]]) -> String {
    let on = selected(args);
    let mut s = String::new();
    for ((name, _), wanted) in SECTIONS.iter().zip(on) {
        if !wanted {
            continue;
        }
        if !s.is_empty() {
            s.push_str("\r\n");
        }
        let title = match *name {
            "cpu" => "CPU".to_string(),
            other => {
                let mut t = other.to_string();
                t[..1].make_ascii_uppercase();
                t
            }
        };
        let _ = write!(s, "# {title}\r\n");
        match *name {
            "server" => server_section(&mut s, server),
            "clients" => clients_section(&mut s, server),
            "memory" => memory_section(&mut s, server),
            "persistence" => persistence_section(&mut s, server),
            "stats" => stats_section(&mut s, server),
            "replication" => replication_section(&mut s, server),
            "cpu" => cpu_section(&mut s),
            "commandstats" => commandstats_section(&mut s, server),
            "cluster" => field!(s, "cluster_enabled", 0),
            "keyspace" => keyspace_section(&mut s, server),
            "errorstats" => errorstats_section(&mut s, server),
            "latencystats" => latencystats_section(&mut s, server),
            // No modules.
            _ => {}
        }
    }
    s
}

fn errorstats_section(s: &mut String, server: &Server) {
    for (code, count) in server.stats.error_codes() {
        let _ = write!(s, "errorstat_{code}:count={count}\r\n");
    }
}

/// `latency_percentiles_usec_<cmd>:p50=…` per command with latency data.
fn latencystats_section(s: &mut String, server: &Server) {
    let percentiles = server
        .config
        .read()
        .latency_tracking_info_percentiles
        .clone();
    for cmd in crate::commands::ops::commands_with_latency(server) {
        let values: Vec<String> = percentiles
            .iter()
            .map(|p| {
                let ns = cmd.stats.latency.percentile_ns(*p);
                format!("p{p}={:.3}", ns as f64 / 1000.0)
            })
            .collect();
        let _ = write!(
            s,
            "latency_percentiles_usec_{}:{}\r\n",
            cmd.name,
            values.join(",")
        );
    }
}

fn info(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let text = render(ctx.server, args);
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_matches_redis() {
        assert_eq!(human(200), "200B");
        assert_eq!(human(1237296), "1.18M");
        assert_eq!(human(33792), "33.00K");
        assert_eq!(human(25276502016), "23.54G");
    }

    #[test]
    fn section_selection() {
        let pick = |args: &[&[u8]]| -> Vec<&str> {
            selected(args)
                .iter()
                .zip(SECTIONS)
                .filter(|(on, _)| **on)
                .map(|(_, (n, _))| n)
                .collect()
        };
        assert!(!pick(&[b"info"]).contains(&"commandstats"));
        assert_eq!(pick(&[b"info"]).len(), 11);
        assert_eq!(pick(&[b"info", b"all"]).len(), 13);
        assert_eq!(
            pick(&[b"info", b"KEYSPACE", b"server"]),
            vec!["server", "keyspace"]
        );
        assert!(pick(&[b"info", b"nosuch"]).is_empty());
    }
}
