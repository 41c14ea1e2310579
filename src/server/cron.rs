//! Periodic background work: memory accounting and eviction, active
//! expiry, snapshots (reaping the child, save points) and sampled
//! statistics.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Server;
use crate::keyspace::events::{self, KeyEvent};
use crate::keyspace::SHARDS;
use crate::util::time::now_ms;

/// Buckets examined per shard visit.
const BUCKETS_PER_STEP: usize = 20;
/// Keep sweeping a shard while more than this share of sampled keys expired.
const REPEAT_PERCENT: usize = 10;
/// Share of each cron period that active expiry may use (like Redis's 25%).
const EXPIRE_CPU_PERCENT: u32 = 25;

/// Where the active expiry sweep resumes.
#[derive(Default)]
struct ExpireCursor {
    db: usize,
    shard: usize,
}

impl ExpireCursor {
    fn advance(&mut self, dbs: usize) {
        self.shard += 1;
        if self.shard == SHARDS {
            self.shard = 0;
            self.db = (self.db + 1) % dbs;
        }
    }
}

/// Removes expired keys within `budget`, resuming where the last call
/// stopped, so keys nobody reads are still reclaimed.
fn active_expire(server: &Server, cursor: &mut ExpireCursor, budget: Duration) {
    let start = Instant::now();
    let dbs = server.keyspace.db_count();
    for _ in 0..dbs * SHARDS {
        if start.elapsed() > budget {
            return;
        }
        {
            // Never park a runtime worker behind an exclusive holder of the
            // gate (a long script, FLUSHALL): skip this cycle instead.
            let Some(_gate) = server.keyspace.gate.try_read() else {
                return;
            };
            let mut shard = server.keyspace.db(cursor.db).lock_shard(cursor.shard);
            loop {
                let step = shard.expire_step(now_ms(), BUCKETS_PER_STEP);
                let worth_repeating = step.sampled > 0
                    && step.expired * 100 > step.sampled * REPEAT_PERCENT
                    && !step.wrapped;
                if !worth_repeating || start.elapsed() > budget {
                    break;
                }
            }
            // Expired keys propagate as DELs, their place in the stream
            // reserved while the shard is still locked.
            let expired = if server.propagation.enabled() && events::pending() {
                Some((server.propagation.reserve(), events::take()))
            } else {
                None
            };
            drop(shard);
            if let Some((seq, taken)) = expired {
                let dels = taken
                    .iter()
                    .filter(|(event, _)| *event == KeyEvent::Expired)
                    .map(|(_, key)| (cursor.db, vec![b"DEL".to_vec(), key.to_vec()]))
                    .collect();
                server.propagation.publish_each(seq, dels);
                super::notify::flush_events(server, cursor.db, taken);
            }
            if crate::keyspace::events::pending() {
                super::notify::flush_recorded(server, cursor.db);
            }
        }
        cursor.advance(dbs);
    }
}

/// Runs until the process exits.
pub async fn run(server: Arc<Server>) {
    let mut cursor = ExpireCursor::default();
    let mut last_ops = server.stats.commands_processed.load(Ordering::Relaxed);
    let mut last_in = server.stats.net_input_bytes.load(Ordering::Relaxed);
    let mut last_out = server.stats.net_output_bytes.load(Ordering::Relaxed);
    let mut last_sample = Instant::now();
    loop {
        let hz = server.config.read().hz.max(1);
        let period = Duration::from_millis(1000 / hz);
        tokio::time::sleep(period).await;
        let used = super::memory::refresh();
        server
            .stats
            .used_memory_peak
            .fetch_max(used, Ordering::Relaxed);
        // Finishes evictions a command's round left over, one time-limited
        // round after another, yielding in between (Redis's eviction timer).
        while server.evict.over_limit() {
            let outcome = {
                let _gate = server.keyspace.gate.read();
                super::evict::perform(&server)
            };
            if outcome != super::evict::Outcome::Running {
                break;
            }
            tokio::task::yield_now().await;
        }
        active_expire(&server, &mut cursor, period * EXPIRE_CPU_PERCENT / 100);
        crate::persist::snapshot::cron(&server);
        crate::persist::aof::rewrite::cron(&server);
        let ops = server.stats.commands_processed.load(Ordering::Relaxed);
        let bytes_in = server.stats.net_input_bytes.load(Ordering::Relaxed);
        let bytes_out = server.stats.net_output_bytes.load(Ordering::Relaxed);
        let elapsed = last_sample.elapsed().as_secs_f64();
        if elapsed >= 0.1 {
            let rate = |now: u64, last: u64| (now.saturating_sub(last) as f64 / elapsed) as u64;
            let st = &server.stats;
            st.ops_per_sec.store(rate(ops, last_ops), Ordering::Relaxed);
            st.input_bytes_per_sec
                .store(rate(bytes_in, last_in), Ordering::Relaxed);
            st.output_bytes_per_sec
                .store(rate(bytes_out, last_out), Ordering::Relaxed);
            last_ops = ops;
            last_in = bytes_in;
            last_out = bytes_out;
            last_sample = Instant::now();
        }
    }
}
