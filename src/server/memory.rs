//! `used_memory`: jemalloc's count of allocated bytes, kept cheap enough to
//! consult before every command when `maxmemory` is set.
//!
//! jemalloc's global statistics only change when its epoch is advanced,
//! which merges every arena's counters: about 70 µs per call measured on
//! the 2-core development machine, too slow per command. So the figure is
//! a `base` read from the global statistics (by the cron every tick, INFO
//! and MEMORY) plus a `drift`: each thread adds the change of its own
//! allocated-minus-freed byte counters (which jemalloc keeps per thread,
//! exact and read in about a nanosecond) once it moved by more than
//! [`REPORT_STEP`]. Between refreshes the estimate misses what threads
//! have not reported yet (under a [`REPORT_STEP`] each) and jemalloc's own
//! bookkeeping lag (thread caches are settled lazily: a few hundred KB
//! seen in tests); each refresh corrects both.

use std::cell::Cell;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use tikv_jemalloc_ctl::thread::{allocatedp, deallocatedp, ThreadLocal};
use tikv_jemalloc_ctl::{epoch, stats};

/// A thread reports its allocations once they moved this many bytes.
const REPORT_STEP: i64 = 16 * 1024;

static BASE: AtomicU64 = AtomicU64::new(0);
static DRIFT: AtomicI64 = AtomicI64::new(0);

/// jemalloc's counters of this thread: bytes ever allocated and freed.
type Counters = Option<(ThreadLocal<u64>, ThreadLocal<u64>)>;

thread_local! {
    static COUNTERS: Counters = match (allocatedp::read(), deallocatedp::read()) {
        (Ok(a), Ok(d)) => Some((a, d)),
        _ => None,
    };
    /// This thread's net allocation when it last reported.
    static REPORTED: Cell<i64> = Cell::new(thread_net());
}

/// Bytes this thread allocated minus bytes it freed, since it started.
fn thread_net() -> i64 {
    COUNTERS.with(|c| match c {
        Some((a, d)) => a.get().wrapping_sub(d.get()) as i64,
        None => 0,
    })
}

/// Adds this thread's change since its last report to the drift when it
/// is at least `min` bytes.
fn report(min: i64) {
    let net = thread_net();
    REPORTED.with(|r| {
        let delta = net - r.get();
        if delta.abs() >= min {
            DRIFT.fetch_add(delta, Ordering::Relaxed);
            r.set(net);
        }
    });
}

/// The current `used_memory` estimate in bytes.
pub fn used() -> u64 {
    report(REPORT_STEP);
    let base = BASE.load(Ordering::Relaxed) as i64;
    (base + DRIFT.load(Ordering::Relaxed)).max(0) as u64
}

/// The estimate after counting every byte this thread freed or allocated
/// so far (eviction measures each deletion this way).
pub fn used_exact_here() -> u64 {
    report(1);
    used()
}

/// Re-reads jemalloc's global statistics and restarts the drift from
/// them; returns the allocated bytes.
pub fn refresh() -> u64 {
    // Reports made after this swap describe allocations that may already
    // be in the statistics read below: counted twice until the next
    // refresh, a bounded error.
    DRIFT.swap(0, Ordering::Relaxed);
    REPORTED.with(|r| r.set(thread_net()));
    let _ = epoch::advance();
    let allocated = stats::allocated::read().unwrap_or(0) as u64;
    // jemalloc counts objects parked in thread caches as allocated; the
    // application freed them, and Redis's own counter would not include
    // them, so neither does `used_memory`.
    // SAFETY: a NUL-terminated name of a size_t statistic.
    let cached = unsafe { tikv_jemalloc_ctl::raw::read::<usize>(TCACHE_BYTES) }.unwrap_or(0);
    let used = allocated.saturating_sub(cached as u64);
    BASE.store(used, Ordering::Relaxed);
    used
}

/// Bytes in thread caches, summed over every arena (4096 is jemalloc's
/// `MALLCTL_ARENAS_ALL`).
const TCACHE_BYTES: &[u8] = b"stats.arenas.4096.tcache_bytes\0";
