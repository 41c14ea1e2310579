//! Cache hit ratio under a Zipf-like workload, ferrokv against the real
//! redis-server with the same maxmemory and policy: a read-through cache
//! (GET, and SET on a miss) over about three times more data than fits.
//! ferrokv must stay within 2 points of Redis. The limit is large enough
//! (32 MB) that the fixed start-up memory, which counts against maxmemory
//! in both servers and is larger in ferrokv, does not dominate.

mod common;

use common::{encode, Raw, Server};

const KEYS: u64 = 80_000;
const REQUESTS: usize = 160_000;
const VALUE_LEN: usize = 1000;
const BATCH: usize = 100;

/// SplitMix64: the same request sequence for both servers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Key ranks drawn from a Zipf distribution with exponent 1 over `KEYS`
/// keys, by inverting the cumulative weights.
fn zipf_requests(n: usize) -> Vec<u64> {
    let weights: Vec<f64> = (1..=KEYS).map(|k| 1.0 / k as f64).collect();
    let total: f64 = weights.iter().sum();
    let mut cumulative = Vec::with_capacity(weights.len());
    let mut acc = 0.0;
    for w in weights {
        acc += w / total;
        cumulative.push(acc);
    }
    let mut rng = Rng(42);
    (0..n)
        .map(|_| {
            let u = (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
            cumulative.partition_point(|&c| c < u) as u64
        })
        .collect()
}

/// Runs the read-through workload; returns the hit ratio in percent over
/// the second half (the first half warms the cache up).
fn hit_ratio(r: &mut Raw, requests: &[u64]) -> f64 {
    let value = "v".repeat(VALUE_LEN);
    let (mut hits, mut counted) = (0usize, 0usize);
    for (i, batch) in requests.chunks(BATCH).enumerate() {
        let keys: Vec<String> = batch.iter().map(|k| format!("key:{k}")).collect();
        let mut bytes = Vec::new();
        for k in &keys {
            bytes.extend_from_slice(&encode(&[b"GET", k.as_bytes()]));
        }
        r.send(&bytes);
        let mut misses = Vec::new();
        for k in &keys {
            if r.read_frame() == b"$-1\r\n" {
                misses.push(k);
            }
        }
        if i * BATCH >= requests.len() / 2 {
            hits += keys.len() - misses.len();
            counted += keys.len();
        }
        let mut sets = Vec::new();
        for k in &misses {
            sets.extend_from_slice(&encode(&[b"SET", k.as_bytes(), value.as_bytes()]));
        }
        r.send(&sets);
        for _ in &misses {
            assert_eq!(r.read_frame(), b"+OK\r\n");
        }
    }
    hits as f64 * 100.0 / counted as f64
}

fn compare(policy: &str) {
    let requests = zipf_requests(REQUESTS);
    let args = ["--maxmemory", "32mb", "--maxmemory-policy", policy];
    let ferrokv = {
        let s = Server::start_with(&args);
        hit_ratio(&mut s.raw(), &requests)
    };
    let redis = {
        let s = Server::start_redis();
        let mut r = s.raw();
        for pair in args.chunks(2) {
            let name = pair[0].trim_start_matches("--");
            assert_eq!(r.cmd(&["CONFIG", "SET", name, pair[1]]), b"+OK\r\n");
        }
        hit_ratio(&mut r, &requests)
    };
    println!("{policy}: ferrokv {ferrokv:.1}% redis {redis:.1}%");
    assert!(
        ferrokv >= redis - 2.0,
        "{policy}: ferrokv hit ratio {ferrokv:.1}% < redis {redis:.1}% - 2"
    );
}

#[test]
fn allkeys_lru_hit_ratio_matches_redis() {
    compare("allkeys-lru");
}

#[test]
fn allkeys_lfu_hit_ratio_matches_redis() {
    compare("allkeys-lfu");
}
