//! The latency monitor (LATENCY LATEST/HISTORY/RESET/DOCTOR) and the
//! per-command latency histograms behind LATENCY HISTOGRAM and
//! `INFO latencystats`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::Mutex;

/// Samples kept per event, as Redis's `LATENCY_TS_LEN`.
const HISTORY_LEN: usize = 160;

/// Power-of-two buckets: bucket `k` holds durations up to about
/// `1024 << k` ns; Redis's histograms stop at one second.
const BUCKETS: usize = 21;

/// The largest duration (ns) of bucket `k`: Redis's HDR histogram
/// (2 significant digits) reports `v + v/128 - 1` for `v = 1024 << k`.
fn bucket_top_ns(k: usize) -> u64 {
    let v = 1024u64 << k;
    v + v / 128 - 1
}

/// A command's latency distribution, in power-of-two buckets.
pub struct Histogram {
    counts: [AtomicU64; BUCKETS],
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl Histogram {
    /// Counts one execution of `ns` nanoseconds.
    pub fn record(&self, ns: u64) {
        let mut k = (ns >> 10).checked_ilog2().unwrap_or(0).saturating_sub(1) as usize;
        while k < BUCKETS - 1 && ns > bucket_top_ns(k) {
            k += 1;
        }
        self.counts[k].fetch_add(1, Ordering::Relaxed);
    }

    /// Zeroes the histogram.
    pub fn reset(&self) {
        for c in &self.counts {
            c.store(0, Ordering::Relaxed);
        }
    }

    /// Total of recorded executions.
    pub fn total(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// Non-empty buckets as (top in µs, cumulative count), ascending, the
    /// way LATENCY HISTOGRAM reports them.
    pub fn cumulative_usec(&self) -> Vec<(u64, u64)> {
        let mut acc = 0;
        let mut out = Vec::new();
        for (k, c) in self.counts.iter().enumerate() {
            let n = c.load(Ordering::Relaxed);
            if n > 0 {
                acc += n;
                out.push((bucket_top_ns(k) / 1000, acc));
            }
        }
        out
    }

    /// The duration (ns) at percentile `p` (0–100), as HDR's
    /// `value_at_percentile`: the top of the bucket reaching it.
    pub fn percentile_ns(&self, p: f64) -> u64 {
        let counts: Vec<u64> = self
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        let wanted = ((p.clamp(0.0, 100.0) / 100.0 * total as f64).ceil() as u64).max(1);
        let mut acc = 0;
        for (k, n) in counts.iter().enumerate() {
            acc += n;
            if acc >= wanted {
                return bucket_top_ns(k);
            }
        }
        0
    }
}

/// One latency sample: the worst latency (ms) seen in a second.
#[derive(Clone, Copy)]
pub struct Sample {
    /// Unix time in seconds.
    pub time: u64,
    /// Milliseconds.
    pub latency: u64,
}

/// The history of one event.
pub struct Event {
    /// The event name (`command`, `fast-command`).
    pub name: &'static str,
    /// Samples, oldest first, at most [`HISTORY_LEN`].
    pub samples: Vec<Sample>,
    /// Worst latency ever recorded.
    pub max: u64,
}

/// The latency monitor with its settings.
#[derive(Default)]
pub struct Latency {
    /// `latency-monitor-threshold` in ms; 0 disables the monitor.
    threshold_ms: AtomicU64,
    /// `latency-tracking`: whether command histograms are kept.
    tracking: AtomicBool,
    events: Mutex<Vec<Event>>,
}

impl Latency {
    /// Applies `latency-monitor-threshold` and `latency-tracking`.
    pub fn configure(&self, threshold_ms: u64, tracking: bool) {
        self.threshold_ms.store(threshold_ms, Ordering::Relaxed);
        self.tracking.store(tracking, Ordering::Relaxed);
    }

    /// The current `latency-monitor-threshold`.
    pub fn threshold_ms(&self) -> u64 {
        self.threshold_ms.load(Ordering::Relaxed)
    }

    /// Whether per-command histograms are kept.
    pub fn tracking(&self) -> bool {
        self.tracking.load(Ordering::Relaxed)
    }

    /// Records `ms` for `event` when the monitor is on and `ms` reaches the
    /// threshold (Redis's `latencyAddSampleIfNeeded`): one sample per
    /// second, keeping that second's worst.
    pub fn add_if_needed(&self, event: &'static str, ms: u64, now_secs: u64) {
        let threshold = self.threshold_ms();
        if threshold == 0 || ms < threshold {
            return;
        }
        let mut events = self.events.lock();
        let i = match events.iter().position(|e| e.name == event) {
            Some(i) => i,
            None => {
                events.push(Event {
                    name: event,
                    samples: Vec::new(),
                    max: 0,
                });
                events.len() - 1
            }
        };
        let e = &mut events[i];
        e.max = e.max.max(ms);
        match e.samples.last_mut() {
            Some(last) if last.time == now_secs => last.latency = last.latency.max(ms),
            _ => {
                if e.samples.len() == HISTORY_LEN {
                    e.samples.remove(0);
                }
                e.samples.push(Sample {
                    time: now_secs,
                    latency: ms,
                });
            }
        }
    }

    /// Forgets the named events (all of them when `names` is empty);
    /// returns how many existed.
    pub fn reset(&self, names: &[&[u8]]) -> usize {
        let mut events = self.events.lock();
        let before = events.len();
        if names.is_empty() {
            events.clear();
        } else {
            events.retain(|e| {
                !names
                    .iter()
                    .any(|n| n.eq_ignore_ascii_case(e.name.as_bytes()))
            });
        }
        before - events.len()
    }

    /// Calls `f` with the recorded events.
    pub fn with_events<R>(&self, f: impl FnOnce(&[Event]) -> R) -> R {
        f(&self.events.lock())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_match_redis_labels() {
        let h = Histogram::default();
        h.record(6000);
        h.record(50_097_000);
        assert_eq!(h.cumulative_usec(), vec![(8, 1), (67633, 2)]);
        assert_eq!(h.percentile_ns(50.0), 8255);
        assert_eq!(h.percentile_ns(99.0), 67_633_151);
        h.record(0);
        assert_eq!(h.cumulative_usec()[0], (1, 1));
    }

    #[test]
    fn one_sample_per_second_keeps_the_worst() {
        let l = Latency::default();
        l.add_if_needed("command", 50, 1);
        l.configure(10, true);
        l.add_if_needed("command", 5, 1);
        l.add_if_needed("command", 50, 1);
        l.add_if_needed("command", 70, 1);
        l.add_if_needed("command", 20, 2);
        l.with_events(|e| {
            assert_eq!(e.len(), 1);
            assert_eq!(e[0].max, 70);
            let s: Vec<(u64, u64)> = e[0].samples.iter().map(|s| (s.time, s.latency)).collect();
            assert_eq!(s, vec![(1, 70), (2, 20)]);
        });
        assert_eq!(l.reset(&[b"nosuch"]), 0);
        assert_eq!(l.reset(&[]), 1);
    }
}
