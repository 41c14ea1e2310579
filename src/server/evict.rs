//! `maxmemory`: evicting keys by policy when used memory passes the limit,
//! with Redis's sampled approximations (Redis's `evict.c`).
//!
//! Before each command (and every cron tick) [`perform`] checks the cheap
//! `used_memory` estimate of [`super::memory`]; when over the limit it
//! deletes keys one at a time, re-measuring after each, until memory is
//! back under the limit, nothing can be evicted, or the
//! `maxmemory-eviction-tenacity` time budget is spent (the cron tick then
//! carries on, as Redis's eviction timer does).
//!
//! LRU, LFU and TTL policies sample `maxmemory-samples` keys per database
//! into a pool of the [`POOL_SIZE`] best candidates seen so far and evict
//! the best one; random policies evict any sampled key.

use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::Server;
use crate::config::Config;
use crate::keyspace::{access, Entry, Shard, SHARDS};
use crate::util::rand::random_u64;
use crate::util::time::now_ms;

/// Candidates kept between evictions (Redis's `EVPOOL_SIZE`).
pub const POOL_SIZE: usize = 16;

/// How long a database found empty is skipped by sampling.
const EMPTY_DB_RECHECK: Duration = Duration::from_millis(100);

/// Redis checks the eviction time budget once per this many keys.
const KEYS_PER_TIME_CHECK: usize = 16;

/// `maxmemory-policy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Refuse writes (`-OOM`) instead of evicting.
    NoEviction,
    /// Least recently used among all keys.
    AllkeysLru,
    /// Least recently used among keys with a TTL.
    VolatileLru,
    /// Least frequently used among all keys.
    AllkeysLfu,
    /// Least frequently used among keys with a TTL.
    VolatileLfu,
    /// Any key.
    AllkeysRandom,
    /// Any key with a TTL.
    VolatileRandom,
    /// The key with the nearest expiry.
    VolatileTtl,
}

const POLICIES: [(Policy, &str); 8] = [
    (Policy::VolatileLru, "volatile-lru"),
    (Policy::VolatileLfu, "volatile-lfu"),
    (Policy::VolatileRandom, "volatile-random"),
    (Policy::VolatileTtl, "volatile-ttl"),
    (Policy::AllkeysLru, "allkeys-lru"),
    (Policy::AllkeysLfu, "allkeys-lfu"),
    (Policy::AllkeysRandom, "allkeys-random"),
    (Policy::NoEviction, "noeviction"),
];

impl Policy {
    /// Parses a policy name (case-insensitive), with Redis's error text.
    pub fn parse(name: &str) -> Result<Policy, String> {
        POLICIES
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(name))
            .map(|(p, _)| *p)
            .ok_or_else(|| {
                let names: Vec<&str> = POLICIES.iter().map(|(_, n)| *n).collect();
                format!(
                    "argument(s) must be one of the following: {}",
                    names.join(", ")
                )
            })
    }

    /// The policy's name.
    pub fn name(self) -> &'static str {
        POLICIES
            .iter()
            .find(|(p, _)| *p == self)
            .map(|(_, n)| *n)
            .unwrap_or("noeviction")
    }

    /// Whether keys keep LFU counters rather than LRU clocks.
    pub fn is_lfu(self) -> bool {
        matches!(self, Policy::AllkeysLfu | Policy::VolatileLfu)
    }

    /// Whether keys keep LRU clocks or LFU counters for eviction (Redis
    /// then stops sharing small integer objects).
    pub fn tracks_access(self) -> bool {
        matches!(
            self,
            Policy::AllkeysLru | Policy::VolatileLru | Policy::AllkeysLfu | Policy::VolatileLfu
        )
    }

    fn volatile_only(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }

    fn random(self) -> bool {
        matches!(self, Policy::AllkeysRandom | Policy::VolatileRandom)
    }

    fn index(self) -> u8 {
        POLICIES.iter().position(|(p, _)| *p == self).unwrap_or(7) as u8
    }

    fn from_index(i: u8) -> Policy {
        POLICIES
            .get(i as usize)
            .map(|(p, _)| *p)
            .unwrap_or(Policy::NoEviction)
    }

    /// How strongly `entry` deserves eviction: higher goes first.
    fn score(self, entry: &Entry, now: u64) -> u64 {
        match self {
            Policy::AllkeysLfu | Policy::VolatileLfu => 255 - entry.lfu_freq(now) as u64,
            Policy::VolatileTtl => u64::MAX - entry.expire_at(),
            _ => entry.idle_ms(now),
        }
    }
}

/// Outcome of [`perform`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Memory is under the limit (or there is none).
    Ok,
    /// Still over the limit after the time budget; evictions go on in the
    /// cron. Commands still run.
    Running,
    /// Over the limit and nothing can be evicted: `denyoom` commands fail.
    Fail,
}

/// A sampled key waiting in the pool.
struct Candidate {
    score: u64,
    db: usize,
    key: Box<[u8]>,
}

/// State kept between evictions; its lock also makes evictions run one at
/// a time.
#[derive(Default)]
struct Pool {
    /// Sorted by ascending score: the best victim is last.
    best: Vec<Candidate>,
    /// Per database: skip sampling it until then (found empty).
    empty_until: Vec<Option<Instant>>,
    /// Where random policies continue their round over the databases.
    next_db: usize,
}

impl Pool {
    fn offer(&mut self, score: u64, db: usize, key: &[u8]) {
        if let Some(pos) = self.best.iter().position(|c| c.db == db && &*c.key == key) {
            self.best.remove(pos);
        } else if self.best.len() == POOL_SIZE {
            if score <= self.best[0].score {
                return;
            }
            self.best.remove(0);
        }
        let at = self.best.partition_point(|c| c.score <= score);
        self.best.insert(
            at,
            Candidate {
                score,
                db,
                key: key.into(),
            },
        );
    }
}

/// The `maxmemory` settings and eviction state of a server.
#[derive(Default)]
pub struct Eviction {
    maxmemory: AtomicU64,
    policy: AtomicU8,
    samples: AtomicUsize,
    tenacity: AtomicU64,
    /// `used_memory` when the server started (`used_memory_startup`).
    pub startup_memory: AtomicU64,
    pool: Mutex<Pool>,
}

impl Eviction {
    /// Applies the memory directives of `config`.
    pub fn configure(&self, config: &Config) {
        let policy = config.maxmemory_policy;
        if self.policy() != policy {
            self.pool.lock().best.clear();
        }
        self.maxmemory.store(config.maxmemory, Ordering::Relaxed);
        self.policy.store(policy.index(), Ordering::Relaxed);
        self.samples
            .store(config.maxmemory_samples, Ordering::Relaxed);
        self.tenacity
            .store(config.maxmemory_eviction_tenacity, Ordering::Relaxed);
        access::configure(
            policy.is_lfu(),
            config.lfu_log_factor,
            config.lfu_decay_time,
        );
    }

    /// `maxmemory` in bytes; 0 = no limit.
    pub fn maxmemory(&self) -> u64 {
        self.maxmemory.load(Ordering::Relaxed)
    }

    /// The current policy.
    pub fn policy(&self) -> Policy {
        Policy::from_index(self.policy.load(Ordering::Relaxed))
    }

    /// Whether memory is over the limit right now (cheap).
    pub fn over_limit(&self) -> bool {
        let max = self.maxmemory();
        max > 0 && super::memory::used() > max
    }

    /// The time one eviction call may take (Redis's
    /// `evictionTimeLimitUs`): 50 µs per tenacity step up to 10, then
    /// growing 15 % per step; 100 means no limit.
    fn time_limit(&self) -> Option<Duration> {
        let t = self.tenacity.load(Ordering::Relaxed);
        match t {
            0..=10 => Some(Duration::from_micros(50 * t)),
            11..=99 => Some(Duration::from_micros(
                (500.0 * 1.15f64.powi(t as i32 - 10)) as u64,
            )),
            _ => None,
        }
    }
}

/// Evicts keys until memory is under `maxmemory`, nothing is evictable or
/// the time budget is spent. The caller holds the keyspace gate (shared or
/// exclusive) and no shard lock.
pub fn perform(server: &Server) -> Outcome {
    let ev = &server.evict;
    if !ev.over_limit() {
        return Outcome::Ok;
    }
    let policy = ev.policy();
    if policy == Policy::NoEviction {
        return Outcome::Fail;
    }
    let max = ev.maxmemory();
    let limit = ev.time_limit();
    let started = Instant::now();
    let mut pool = ev.pool.lock();
    let dbs = server.keyspace.db_count();
    pool.empty_until.resize(dbs, None);
    let mut freed = 0usize;
    let outcome = loop {
        if super::memory::used_exact_here() <= max {
            break Outcome::Ok;
        }
        let pick = |pool: &mut Pool| {
            if policy.random() {
                pick_random(server, pool, policy)
            } else {
                pick_from_pool(server, pool, policy)
            }
        };
        // Before concluding that nothing is evictable, look again at the
        // databases recently found empty: keys may have arrived since.
        let victim = pick(&mut pool).or_else(|| {
            pool.empty_until.fill(None);
            pick(&mut pool)
        });
        let Some((db, key)) = victim else {
            break Outcome::Fail;
        };
        if evict_key(server, db, &key) {
            freed += 1;
        }
        let out_of_time = limit.is_some_and(|l| started.elapsed() > l);
        if freed.is_multiple_of(KEYS_PER_TIME_CHECK) && out_of_time {
            break Outcome::Running;
        }
    };
    drop(pool);
    let ms = started.elapsed().as_millis() as u64;
    server
        .latency
        .add_if_needed("eviction-cycle", ms, now_ms() / 1000);
    outcome
}

/// Deletes `key` of database `db` because of `maxmemory`, with what Redis
/// does for an evicted key: `evicted_keys`, WATCH invalidation, client
/// tracking invalidation, the `evicted` keyspace event and a `DEL` in the
/// propagation stream (AOF, replicas). Returns whether the key was still
/// there.
pub fn evict_key(server: &Server, db: usize, key: &[u8]) -> bool {
    let (entry, seq) = {
        let mut shard = server.keyspace.db(db).lock(key);
        let entry = shard.remove(key);
        // The DEL's place in the stream is taken while the key is locked.
        let seq =
            (entry.is_some() && server.propagation.enabled()).then(|| server.propagation.reserve());
        (entry, seq)
    };
    let Some(entry) = entry else {
        return false;
    };
    if let Some(seq) = seq {
        server
            .propagation
            .publish_each(seq, vec![(db, vec![b"DEL".to_vec(), key.to_vec()])]);
    }
    // Freed outside the shard lock, before memory is measured again.
    drop(entry);
    server.stats.evicted_keys.fetch_add(1, Ordering::Relaxed);
    server.watches.touch(db, key);
    super::tracking::expired(server, key);
    super::notify::notify(server, db, key, "evicted");
    true
}

/// Finds a shard of `db` holding candidates (any key, or keys with a TTL)
/// starting from a random one, and runs `f` on it locked.
fn with_random_shard<R>(
    server: &Server,
    db: usize,
    volatile: bool,
    f: impl FnOnce(&mut Shard) -> R,
) -> Option<R> {
    let database = server.keyspace.db(db);
    let start = random_u64() as usize;
    for i in 0..SHARDS {
        let mut shard = database.lock_shard((start + i) % SHARDS);
        let usable = if volatile {
            shard.volatile() > 0
        } else {
            !shard.is_empty()
        };
        if usable {
            return Some(f(&mut shard));
        }
    }
    None
}

/// Up to `n` sampled entries of `shard` (only keys with a TTL when
/// `volatile`), passed to `visit`. Returns how many were visited.
fn sample(shard: &Shard, n: usize, volatile: bool, mut visit: impl FnMut(&Entry)) -> usize {
    let mut seen = 0;
    // Keys with a TTL may be a small share of the shard: a few more random
    // draws, then a walk so that a shard with one such key still yields it.
    let draws = if volatile { n * 3 } else { n };
    for _ in 0..draws {
        let Some(e) = shard.sample(random_u64()) else {
            break;
        };
        if volatile && e.expire_at() == 0 {
            continue;
        }
        visit(e);
        seen += 1;
        if seen == n {
            return seen;
        }
    }
    if seen == 0 && volatile {
        for e in shard.iter_all().filter(|e| e.expire_at() != 0).take(n) {
            visit(e);
            seen += 1;
        }
    }
    seen
}

/// Whether database `db` was recently found without candidates.
fn skip_db(pool: &mut Pool, db: usize, now: Instant) -> bool {
    match pool.empty_until[db] {
        Some(until) if until > now => true,
        _ => {
            pool.empty_until[db] = None;
            false
        }
    }
}

/// LRU/LFU/TTL: refills the pool from every database and takes its best
/// candidate that still exists.
fn pick_from_pool(server: &Server, pool: &mut Pool, policy: Policy) -> Option<(usize, Box<[u8]>)> {
    let samples = server.evict.samples.load(Ordering::Relaxed).max(1);
    let volatile = policy.volatile_only();
    loop {
        let now = now_ms();
        let clock = Instant::now();
        let mut sampled = 0;
        for db in 0..server.keyspace.db_count() {
            if skip_db(pool, db, clock) {
                continue;
            }
            let mut found: Vec<(u64, Box<[u8]>)> = Vec::with_capacity(samples);
            let got = with_random_shard(server, db, volatile, |shard| {
                sample(shard, samples, volatile, |e| {
                    found.push((policy.score(e, now), e.key().into()))
                })
            });
            match got {
                Some(n) if n > 0 => {
                    sampled += n;
                    for (score, key) in found {
                        pool.offer(score, db, &key);
                    }
                }
                _ => pool.empty_until[db] = Some(clock + EMPTY_DB_RECHECK),
            }
        }
        if sampled == 0 && pool.best.is_empty() {
            return None;
        }
        // Best first; candidates deleted meanwhile are dropped.
        while let Some(c) = pool.best.pop() {
            let present = server
                .keyspace
                .db(c.db)
                .lock(&c.key)
                .get_raw(&c.key)
                .is_some_and(|e| !volatile || e.expire_at() != 0);
            if present {
                return Some((c.db, c.key));
            }
        }
        if sampled == 0 {
            return None;
        }
    }
}

/// Random policies: a random key of the next database that has one.
fn pick_random(server: &Server, pool: &mut Pool, policy: Policy) -> Option<(usize, Box<[u8]>)> {
    let volatile = policy.volatile_only();
    let dbs = server.keyspace.db_count();
    let clock = Instant::now();
    for i in 0..dbs {
        let db = (pool.next_db + i) % dbs;
        if skip_db(pool, db, clock) {
            continue;
        }
        let mut key = None;
        with_random_shard(server, db, volatile, |shard| {
            sample(shard, 1, volatile, |e| key = Some(Box::from(e.key())))
        });
        match key {
            Some(k) => {
                pool.next_db = db + 1;
                return Some((db, k));
            }
            None => pool.empty_until[db] = Some(clock + EMPTY_DB_RECHECK),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_names_round_trip() {
        for (p, name) in POLICIES {
            assert_eq!(Policy::parse(name), Ok(p));
            assert_eq!(p.name(), name);
            assert_eq!(Policy::from_index(p.index()), p);
        }
        assert_eq!(Policy::parse("ALLKEYS-LRU"), Ok(Policy::AllkeysLru));
        assert!(Policy::parse("lru").is_err());
    }

    #[test]
    fn pool_keeps_the_best_sixteen_sorted() {
        let mut pool = Pool::default();
        for i in 0..40u64 {
            pool.offer((i * 7) % 40, 0, &i.to_be_bytes());
        }
        assert_eq!(pool.best.len(), POOL_SIZE);
        let scores: Vec<u64> = pool.best.iter().map(|c| c.score).collect();
        assert_eq!(scores, (24..40).collect::<Vec<_>>());
        // Re-offering a key updates it instead of duplicating it.
        let key = pool.best[0].key.clone();
        pool.offer(100, 0, &key);
        assert_eq!(pool.best.len(), POOL_SIZE);
        assert_eq!(&*pool.best.last().unwrap().key, &*key);
    }

    #[test]
    fn tenacity_time_limits() {
        let ev = Eviction::default();
        ev.tenacity.store(10, Ordering::Relaxed);
        assert_eq!(ev.time_limit(), Some(Duration::from_micros(500)));
        ev.tenacity.store(0, Ordering::Relaxed);
        assert_eq!(ev.time_limit(), Some(Duration::ZERO));
        ev.tenacity.store(100, Ordering::Relaxed);
        assert_eq!(ev.time_limit(), None);
    }
}
