//! MEMORY USAGE, STATS, DOCTOR, MALLOC-STATS, PURGE and HELP, plus the
//! memory breakdown INFO shares.

use std::sync::atomic::Ordering;

use crate::command::{CmdError, CmdResult, Ctx, TableBuilder};
use crate::commands::args::{int, is};
use crate::keyspace::Entry;
use crate::protocol::reply::Reply;
use crate::server::{memory, Server};

/// Registers the family.
pub fn register(t: &mut TableBuilder) {
    t.add_sub("memory", "usage", usage);
    t.add_sub("memory", "stats", stats);
    t.add_sub("memory", "doctor", doctor);
    t.add_sub("memory", "malloc-stats", malloc_stats);
    t.add_sub("memory", "purge", purge);
    t.add_sub("memory", "help", help);
}

/// Below this much allocated memory MEMORY DOCTOR has nothing to say
/// (Redis's threshold).
const DOCTOR_MIN_BYTES: u64 = 5 * 1024 * 1024;

/// Where the allocated memory goes, as INFO memory and MEMORY STATS
/// report it.
pub struct Breakdown {
    /// `used_memory`, freshly read from the allocator.
    pub total: u64,
    /// `used_memory_peak`.
    pub peak: u64,
    /// `used_memory_startup`.
    pub startup: u64,
    /// Query and output buffers of the clients (`mem_clients_normal`).
    pub clients: u64,
    /// Per non-empty database: (index, keys, table overhead in bytes).
    pub dbs: Vec<(usize, usize, u64)>,
    /// `used_memory_overhead`: startup + clients + tables.
    pub overhead: u64,
    /// jemalloc's active and resident bytes.
    pub active: u64,
    /// jemalloc's resident bytes.
    pub resident: u64,
    /// The process's resident set size.
    pub rss: u64,
}

impl Breakdown {
    /// `used_memory_dataset`.
    pub fn dataset(&self) -> u64 {
        self.total.saturating_sub(self.overhead)
    }

    /// `used_memory_dataset_perc`: the data set's share of the memory used
    /// since start.
    pub fn dataset_perc(&self) -> f64 {
        let net = self.total.saturating_sub(self.startup);
        if net == 0 {
            0.0
        } else {
            self.dataset() as f64 * 100.0 / net as f64
        }
    }

    /// Keys in every database.
    pub fn keys(&self) -> usize {
        self.dbs.iter().map(|d| d.1).sum()
    }
}

/// Bytes a key costs in its table besides its own key and value (the
/// entry node and its link).
fn entry_overhead() -> u64 {
    (std::mem::size_of::<Entry>() + 8).next_power_of_two() as u64
}

/// Measures the server's memory now.
pub fn breakdown(server: &Server) -> Breakdown {
    use tikv_jemalloc_ctl::stats;
    let total = memory::refresh();
    let active = stats::active::read().unwrap_or(0) as u64;
    let resident = stats::resident::read().unwrap_or(0) as u64;
    let peak = server
        .stats
        .used_memory_peak
        .fetch_max(total, Ordering::Relaxed)
        .max(total);
    let clients: u64 = server
        .clients
        .all()
        .iter()
        .map(|c| (c.info.lock().qbuf + c.output.bytes()) as u64)
        .sum();
    let ks = &server.keyspace;
    let dbs: Vec<(usize, usize, u64)> = (0..ks.db_count())
        .filter_map(|i| {
            let keys = ks.db(i).len();
            let table = keys as u64 * entry_overhead();
            (keys > 0).then_some((i, keys, table))
        })
        .collect();
    let startup = server.evict.startup_memory.load(Ordering::Relaxed);
    let overhead = startup + clients + dbs.iter().map(|d| d.2).sum::<u64>();
    Breakdown {
        total,
        peak,
        startup,
        clients,
        dbs,
        overhead,
        active,
        resident,
        rss: crate::commands::info::rss_bytes(),
    }
}

/// MEMORY USAGE key [SAMPLES count]: bytes used by the key, its value and
/// its table slot (whole values are measured, so SAMPLES only validates).
fn usage(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    match &args[3..] {
        [] => {}
        [opt, count] if is(opt, "SAMPLES") => {
            let n = int(count)?;
            if n < 0 {
                return Err(CmdError::Syntax);
            }
        }
        _ => return Err(CmdError::Syntax),
    }
    let key = args[2];
    let size = ctx
        .lock(key)
        .peek(key, ctx.now)
        .map(|e| e.memory_usage() + std::mem::size_of::<usize>());
    match size {
        Some(n) => ctx.out.int(n as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

/// Ratio `a / b` as Redis computes it: in single precision.
fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        (a as f32 / b as f32) as f64
    }
}

/// One `name: integer` pair of MEMORY STATS.
fn num(out: &mut Reply, name: &str, v: u64) {
    out.bulk(name.as_bytes());
    out.int(v as i64);
}

/// MEMORY STATS: Redis's field list; ferrokv has no replication backlog,
/// replicas, cluster links or AOF buffer, so those are 0, and script
/// caches are not measured separately.
fn stats(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let b = breakdown(ctx.server);
    let out = &mut *ctx.out;
    out.map(27 + b.dbs.len());
    num(out, "peak.allocated", b.peak);
    num(out, "total.allocated", b.total);
    num(out, "startup.allocated", b.startup);
    num(out, "replication.backlog", 0);
    num(out, "clients.slaves", 0);
    num(out, "clients.normal", b.clients);
    num(out, "cluster.links", 0);
    num(out, "aof.buffer", 0);
    num(out, "lua.caches", 0);
    num(out, "functions.caches", 0);
    for &(db, _, table) in &b.dbs {
        out.bulk(format!("db.{db}").as_bytes());
        out.map(3);
        num(out, "overhead.hashtable.main", table);
        // TTLs live inside the entries: no separate expires table.
        num(out, "overhead.hashtable.expires", 0);
        num(out, "overhead.hashtable.slot-to-keys", 0);
    }
    num(out, "overhead.total", b.overhead);
    let keys = b.keys() as u64;
    num(out, "keys.count", keys);
    let net = b.total.saturating_sub(b.startup);
    num(
        out,
        "keys.bytes-per-key",
        net.checked_div(keys).unwrap_or(0),
    );
    num(out, "dataset.bytes", b.dataset());
    out.bulk(b"dataset.percentage");
    out.double(b.dataset_perc() as f32 as f64);
    out.bulk(b"peak.percentage");
    out.double(ratio(b.total * 100, b.peak));
    num(out, "allocator.allocated", b.total);
    num(out, "allocator.active", b.active);
    num(out, "allocator.resident", b.resident);
    out.bulk(b"allocator-fragmentation.ratio");
    out.double(ratio(b.active, b.total));
    num(
        out,
        "allocator-fragmentation.bytes",
        b.active.saturating_sub(b.total),
    );
    out.bulk(b"allocator-rss.ratio");
    out.double(ratio(b.resident, b.active));
    num(
        out,
        "allocator-rss.bytes",
        b.resident.saturating_sub(b.active),
    );
    out.bulk(b"rss-overhead.ratio");
    out.double(ratio(b.rss, b.resident));
    num(out, "rss-overhead.bytes", b.rss.saturating_sub(b.resident));
    out.bulk(b"fragmentation");
    out.double(ratio(b.rss, b.total));
    num(out, "fragmentation.bytes", b.rss.saturating_sub(b.total));
    Ok(())
}

/// MEMORY DOCTOR: Redis's report texts for an empty instance and a
/// healthy one; otherwise the issues found (peak far above current use,
/// a resident size far above the allocations, big client buffers).
fn doctor(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let b = breakdown(ctx.server);
    let report = if b.total < DOCTOR_MIN_BYTES {
        "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.".to_string()
    } else {
        let mut issues = Vec::new();
        if b.peak as f64 / b.total as f64 > 1.5 {
            issues.push(" * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.");
        }
        if ratio(b.rss, b.total) > 1.4 {
            issues.push(" * High total RSS: This instance has a memory fragmentation and RSS overhead greater than 1.4 (this means that the Resident Set Size of the process is much larger than the sum of the logical allocations it performed). This is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or to a workload that fragments memory a lot.");
        }
        let clients = ctx.server.clients.len().max(1) as u64;
        if b.clients / clients > 200 * 1024 {
            issues.push(" * Big client buffers: The clients output buffers are in general very big, this is often caused by clients that pipeline huge replies without reading them, or by slow Pub/Sub subscribers. Consider setting client-output-buffer-limit.");
        }
        if issues.is_empty() {
            "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.".to_string()
        } else {
            let mut s = String::from(
                "Sam, I detected a few issues in this Redis instance memory implants:\n\n",
            );
            for issue in issues {
                s.push_str(issue);
                s.push_str("\n\n");
            }
            s.push_str("I'm here to keep you safe, Sam. I want to help you.\n");
            s
        }
    };
    ctx.out.verbatim(report.as_bytes());
    Ok(())
}

/// Appends one chunk of jemalloc's statistics report to the `Vec<u8>`
/// behind `opaque`.
extern "C" fn collect_stats(opaque: *mut std::ffi::c_void, text: *const std::ffi::c_char) {
    if opaque.is_null() || text.is_null() {
        return;
    }
    // SAFETY: `opaque` is the `Vec<u8>` malloc_stats_print was given by
    // `malloc_stats` below, alive and unaliased during the call; `text` is
    // a NUL-terminated string from jemalloc.
    let (out, text) = unsafe {
        (
            &mut *(opaque as *mut Vec<u8>),
            std::ffi::CStr::from_ptr(text),
        )
    };
    out.extend_from_slice(text.to_bytes());
}

/// MEMORY MALLOC-STATS: jemalloc's own statistics report.
fn malloc_stats(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let mut text: Vec<u8> = Vec::new();
    // SAFETY: the callback only appends to `text`, which outlives the call.
    unsafe {
        tikv_jemalloc_sys::malloc_stats_print(
            Some(collect_stats),
            &mut text as *mut Vec<u8> as *mut std::ffi::c_void,
            std::ptr::null(),
        );
    }
    ctx.out.verbatim(&text);
    Ok(())
}

/// MEMORY PURGE: returns jemalloc's dirty pages of every arena to the
/// system.
fn purge(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    // "arena.<MALLCTL_ARENAS_ALL>.purge": every arena at once.
    let name = c"arena.4096.purge";
    // SAFETY: a NUL-terminated control name; this control neither reads
    // nor writes a value, so every pointer is null and the length 0.
    unsafe {
        tikv_jemalloc_sys::mallctl(
            name.as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        );
    }
    memory::refresh();
    ctx.out.ok();
    Ok(())
}

fn help(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    crate::commands::introspect::reply_help(
        ctx.out,
        &[
            "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DOCTOR",
            "    Return memory problems reports.",
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
            "HELP",
            "    Prints this help.",
        ],
    );
    Ok(())
}
