//! A tiny non-cryptographic random source for sampling (RANDOMKEY, active
//! expiry), seeded per process.

use std::cell::Cell;

/// One step of SplitMix64 from `state`.
pub fn next_u64(state: u64) -> u64 {
    let mut z = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

thread_local! {
    static STATE: Cell<u64> = Cell::new(
        crate::util::time::now_us() ^ (std::process::id() as u64) << 32
    );
}

/// A fresh pseudo-random number from the calling thread's generator.
pub fn random_u64() -> u64 {
    STATE.with(|s| {
        let v = next_u64(s.get());
        s.set(v);
        v
    })
}
