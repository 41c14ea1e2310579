//! The PRNG behind `math.random` in scripts: the 48-bit linear congruential
//! generator of `drand48`, as Redis ships it, so scripts see the same
//! sequence as on Redis for the same seed.

use std::sync::atomic::{AtomicU64, Ordering};

const A: u64 = 0x5_DEEC_E66D;
const C: u64 = 0xB;
const MASK: u64 = (1 << 48) - 1;
/// The `drand48` state before any seeding.
const INITIAL: u64 = 0x1234_ABCD_330E;
/// Redis divides by `INT32_MAX`.
const LRAND48_MAX: u64 = i32::MAX as u64;

/// Generator state, shared by every script of the process as in Redis
/// (it is not reseeded per script).
pub struct Rand48(AtomicU64);

impl Default for Rand48 {
    fn default() -> Self {
        Self(AtomicU64::new(INITIAL))
    }
}

impl Rand48 {
    /// `math.randomseed(seed)`.
    pub fn seed(&self, seed: i32) {
        let x = ((seed as u32 as u64) << 16) | 0x330E;
        self.0.store(x & MASK, Ordering::Relaxed);
    }

    /// Next value in [0, 1), as Redis's `math.random()` computes it.
    pub fn next_f64(&self) -> f64 {
        // Only the script holding the VM lock draws numbers: no race.
        let x = self.0.load(Ordering::Relaxed);
        let next = (A.wrapping_mul(x).wrapping_add(C)) & MASK;
        self.0.store(next, Ordering::Relaxed);
        let r = next >> 17;
        (r % LRAND48_MAX) as f64 / LRAND48_MAX as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_redis_first_values() {
        let r = Rand48::default();
        assert_eq!(format!("{:.14}", r.next_f64()), "0.39646477363839");
        assert_eq!(format!("{:.14}", r.next_f64()), "0.84048536971234");
        r.seed(1);
        assert_eq!(format!("{:.15}", r.next_f64()), "0.041630344484761");
    }
}
