//! The per-key access clock (`Entry`'s 32-bit access field), read either as
//! an LRU clock or as an LFU counter depending on `maxmemory-policy`, as
//! Redis shares its 24-bit `lru` object field between the two.
//!
//! - LRU: time of the last access in [`LRU_TICK_MS`] units (idle time =
//!   now - it). Redis ticks once a second; a finer clock tells apart keys
//!   touched within the same second, which sharpens LRU eviction, and
//!   still wraps only after 497 days.
//! - LFU: the last decrement time in minutes (16 bits, wrapping) shifted
//!   left by 8, plus an 8-bit logarithmic access counter.
//!
//! The interpretation is process-wide (one server per process), kept in
//! atomics so every key access reads it without taking a lock. Switching
//! policy at run time does not convert existing keys: like Redis, their
//! fields take a while to become meaningful again.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// Counter given to new keys under LFU, so they are not evicted before
/// they had a chance to be used (Redis's `LFU_INIT_VAL`).
pub const LFU_INIT_VAL: u8 = 5;

static LFU: AtomicBool = AtomicBool::new(false);
static LOG_FACTOR: AtomicU32 = AtomicU32::new(10);
static DECAY_MINUTES: AtomicU32 = AtomicU32::new(1);

/// Selects how access fields are maintained: LFU counters when `lfu`,
/// else LRU clocks; `log_factor` and `decay_minutes` are `lfu-log-factor`
/// and `lfu-decay-time`.
pub fn configure(lfu: bool, log_factor: u32, decay_minutes: u32) {
    LFU.store(lfu, Ordering::Relaxed);
    LOG_FACTOR.store(log_factor, Ordering::Relaxed);
    DECAY_MINUTES.store(decay_minutes, Ordering::Relaxed);
}

/// Whether the access fields hold LFU counters.
pub fn lfu_mode() -> bool {
    LFU.load(Ordering::Relaxed)
}

/// Resolution of the LRU clock.
pub const LRU_TICK_MS: u64 = 10;

/// The LRU clock: Unix time in ticks, wrapping.
fn lru_clock(now_ms: u64) -> u32 {
    (now_ms / LRU_TICK_MS) as u32
}

/// Minutes on 16 bits, the LFU decrement clock.
fn lfu_minutes(now_ms: u64) -> u32 {
    ((now_ms / 60_000) & 0xffff) as u32
}

/// The field of a key created at `now_ms`.
pub fn fresh(now_ms: u64) -> u32 {
    if lfu_mode() {
        (lfu_minutes(now_ms) << 8) | LFU_INIT_VAL as u32
    } else {
        lru_clock(now_ms)
    }
}

/// The field after an access at `now_ms`: the LRU clock is reset; the LFU
/// counter first decays for the elapsed periods, then is incremented with
/// a probability that falls as it grows (so 255 means roughly a million
/// accesses with the default log factor).
pub fn touch(field: u32, now_ms: u64) -> u32 {
    if !lfu_mode() {
        return lru_clock(now_ms);
    }
    let counter = log_incr(decayed(field, now_ms));
    (lfu_minutes(now_ms) << 8) | counter as u32
}

fn log_incr(counter: u8) -> u8 {
    if counter == u8::MAX {
        return counter;
    }
    let base = counter.saturating_sub(LFU_INIT_VAL) as f64;
    let p = 1.0 / (base * LOG_FACTOR.load(Ordering::Relaxed) as f64 + 1.0);
    // 53 random bits give a uniform float in [0, 1).
    let r = (crate::util::rand::random_u64() >> 11) as f64 / (1u64 << 53) as f64;
    if r < p {
        counter + 1
    } else {
        counter
    }
}

/// The LFU counter of `field` after decaying one step per `lfu-decay-time`
/// minutes elapsed since its last decrement (Redis's `LFUDecrAndReturn`).
pub fn decayed(field: u32, now_ms: u64) -> u8 {
    let last = field >> 8;
    let counter = (field & 0xff) as u8;
    let now = lfu_minutes(now_ms);
    let elapsed = if now >= last {
        now - last
    } else {
        0xffff - last + now
    };
    let periods = match DECAY_MINUTES.load(Ordering::Relaxed) {
        0 => 0,
        d => elapsed / d,
    };
    counter.saturating_sub(periods.min(255) as u8)
}

/// Milliseconds since the last access for an LRU field.
pub fn idle_ms(field: u32, now_ms: u64) -> u64 {
    lru_clock(now_ms).wrapping_sub(field) as u64 * LRU_TICK_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lfu_counter_decays_per_period() {
        let field = (lfu_minutes(0) << 8) | LFU_INIT_VAL as u32;
        // Ten minutes later with one-minute periods: decayed by ten.
        let later = (20u32 << 8) | 15;
        assert_eq!(decayed(later, 30 * 60_000), 5);
        assert_eq!(decayed(later, 20 * 60_000), 15);
        assert_eq!(decayed(field, 1000 * 60_000), 0);
        // The minutes clock wraps at 16 bits.
        let wrapped = (0xfff0u32 << 8) | 100;
        assert_eq!(decayed(wrapped, 0x10_005 * 60_000), 100 - 20);
    }

    #[test]
    fn log_incr_saturates_and_slows_down() {
        LOG_FACTOR.store(10, Ordering::Relaxed);
        assert_eq!(log_incr(255), 255);
        assert_eq!(log_incr(LFU_INIT_VAL), LFU_INIT_VAL + 1);
        let mut c = LFU_INIT_VAL;
        for _ in 0..1000 {
            c = log_incr(c);
        }
        // log-factor 10: a thousand hits land around 15-20, far below 255.
        assert!((10..40).contains(&c), "{c}");
    }

    #[test]
    fn lru_idle_time() {
        assert_eq!(idle_ms(lru_clock(10_000), 25_505), 15_500);
        // Wrapping around the 32-bit clock.
        let wrap_ms = (1u64 << 32) * LRU_TICK_MS;
        assert_eq!(idle_ms(lru_clock(wrap_ms - 20), wrap_ms + 30), 50);
    }
}
