//! A bounded, seeded version of the fuzz targets in fuzz/: thousands of
//! mutated RDB files and RESTORE payloads go through the loaders, which
//! must return an error or a value, never panic, and never make an
//! allocation sized by an unchecked length.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use ferrokv::config::Config;
use ferrokv::keyspace::{Keyspace, Value};
use ferrokv::persist::rdb::{self, crc64, LoadOptions, SaveOptions};
use ferrokv::types::stream::{NodeLimits, StreamId};
use ferrokv::types::{hash, zset, Hash, List, Set, Stream, ZSet};

/// Any single allocation above this (inputs here are < 1 MB) means a
/// length from the input was trusted.
const ALLOC_LIMIT: usize = 256 << 20;

struct Guard;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Guard {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        if layout.size() > ALLOC_LIMIT {
            return std::ptr::null_mut();
        }
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        if new_size > ALLOC_LIMIT {
            return std::ptr::null_mut();
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Guard = Guard;

/// xorshift64*: reproducible randomness without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Values of every type in both encodings.
fn values() -> Vec<Value> {
    let enc = Config::default().encodings;
    let hl = hash::Limits {
        max_entries: enc.hash_max_listpack_entries,
        max_value: enc.hash_max_listpack_value,
    };
    let zl = zset::Limits {
        max_entries: enc.zset_max_listpack_entries,
        max_value: enc.zset_max_listpack_value,
    };
    let mut out = vec![
        Value::string(b"12345"),
        Value::string(b"-70000"),
        Value::string(b"hello"),
        Value::string("abcdefgh".repeat(40).as_bytes()),
    ];
    for n in [5usize, 700] {
        let mut l = List::new(enc.list_max_listpack_size);
        let mut s = Set::new();
        let mut t = Set::new();
        let mut h = Hash::new();
        let mut z = ZSet::new();
        for i in 0..n {
            let m = format!("m{i}");
            l.push_back(m.as_bytes());
            l.push_back(i.to_string().as_bytes());
            s.add(i.to_string().as_bytes(), enc.set_max_intset_entries);
            t.add(m.as_bytes(), enc.set_max_intset_entries);
            h.set(m.as_bytes(), i.to_string().as_bytes(), hl);
            z.set(m.as_bytes(), i as f64 / 7.0, zl);
        }
        out.push(Value::List(Box::new(l)));
        out.push(Value::Set(Box::new(s)));
        out.push(Value::Set(Box::new(t)));
        out.push(Value::Hash(Box::new(h)));
        out.push(Value::ZSet(Box::new(z)));
    }
    out.push(Value::Stream(Box::new(stream())));
    out
}

/// A stream over several nodes, with a group, pending entries and
/// consumers.
fn stream() -> Stream {
    let limits = NodeLimits {
        max_bytes: 4096,
        max_entries: 100,
    };
    let mut s = Stream::new();
    for i in 0..250u64 {
        let v = i.to_string();
        let fields: [&[u8]; 4] = [
            b"field",
            v.as_bytes(),
            if i % 7 == 0 { b"other" } else { b"f2" },
            b"x",
        ];
        s.append(StreamId::new(1000 + i, i % 3), &fields, limits);
    }
    s.delete(StreamId::new(1010, 1));
    s.create_group(b"g", StreamId::new(1100, 0), Some(100));
    let g = s.group_mut(b"g").expect("created");
    g.create_consumer(b"alice", 5);
    g.create_consumer(b"bob", 6);
    for i in 0..20u64 {
        let who: &[u8] = if i % 2 == 0 { b"alice" } else { b"bob" };
        g.assign(StreamId::new(1000 + i, i % 3), who, 77, i + 1);
    }
    s
}

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut d = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        if d.is_empty() {
            d.push(0);
        }
        let at = rng.below(d.len());
        match rng.below(7) {
            0 => d[at] ^= 1 << rng.below(8),
            1 => d[at] = [0x00, 0xff, 0x80, 0x81, 0xc0, 0xc3, 0x7f, 0xfe][rng.below(8)],
            2 => d.truncate(at),
            3 => {
                // A 64-bit length of 2^60.
                let huge = [0x81, 0x10, 0, 0, 0, 0, 0, 0, 0];
                let end = (at + huge.len()).min(d.len());
                d.splice(at..end, huge);
            }
            4 => {
                let len = rng.below(16);
                let chunk: Vec<u8> = d[at..(at + len).min(d.len())].to_vec();
                d.splice(at..at, chunk);
            }
            5 => {
                let end = (at + rng.below(16)).min(d.len());
                d.drain(at..end);
            }
            _ => d[at] = rng.next() as u8,
        }
    }
    d
}

fn check_allocations() {
    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(largest <= ALLOC_LIMIT, "an allocation of {largest} bytes");
}

#[test]
fn mutated_rdb_files_never_panic() {
    let ks = Keyspace::new(16);
    for (i, v) in values().into_iter().enumerate() {
        let key = format!("key{i}");
        let expire = if i % 3 == 0 { 4_102_444_800_000 } else { 0 };
        ks.db(i % 4)
            .lock(key.as_bytes())
            .set(key.as_bytes(), v, expire, 1);
    }
    let mut file = Vec::new();
    rdb::save(&mut file, &ks, &SaveOptions::default()).unwrap();
    let opts = LoadOptions::default();
    assert!(rdb::load_bytes(&file, &Keyspace::new(16), &opts).is_ok());
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..300 {
        let m = mutate(&mut rng, &file);
        let _ = rdb::load_bytes(&m, &Keyspace::new(16), &opts);
    }
    check_allocations();
}

#[test]
fn mutated_restore_payloads_never_panic() {
    let enc = Config::default().encodings;
    let payloads: Vec<Vec<u8>> = values()
        .iter()
        .map(|v| rdb::dump_value(v, &SaveOptions::default()))
        .collect();
    for p in &payloads {
        assert!(rdb::restore_value(p, &enc).is_ok());
    }
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    for i in 0..6_000 {
        let base = &payloads[i % payloads.len()];
        let mut m = mutate(&mut rng, &base[..base.len() - 10]);
        // Re-seal most payloads so the decoder, not the checksum, sees
        // the damage.
        if i % 8 != 0 {
            m.extend_from_slice(&10u16.to_le_bytes());
            let crc = crc64(&m);
            m.extend_from_slice(&crc.to_le_bytes());
        }
        let _ = rdb::restore_value(&m, &enc);
    }
    check_allocations();
}
