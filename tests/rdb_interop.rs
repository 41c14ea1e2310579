//! RDB interoperability with a real Redis 7.0: its dumps load into a
//! keyspace with every key, value, encoding and TTL intact, and our dumps
//! load into Redis just as intact.

mod common;
mod rdb_common;

use ferrokv::keyspace::Keyspace;
use ferrokv::persist::rdb::{self, LoadOptions, SaveOptions};
use rdb_common::*;

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Has a real Redis write a dump of the fixture, with `rdbcompression`
/// as given; returns the file and Redis's view of the data.
fn redis_dump(compression: bool) -> (Vec<u8>, Snapshot) {
    let s = common::Server::start_redis();
    let mut con = s.client();
    redis::cmd("CONFIG")
        .arg("SET")
        .arg("rdbcompression")
        .arg(if compression { "yes" } else { "no" })
        .query::<()>(&mut con)
        .unwrap();
    populate(&mut con);
    redis::cmd("FUNCTION")
        .arg("LOAD")
        .arg(LIBRARY)
        .query::<()>(&mut con)
        .unwrap();
    let snap = server_snapshot(&mut con, 16);
    redis::cmd("SAVE").query::<()>(&mut con).unwrap();
    let file = std::fs::read(s.dir.join("dump.rdb")).expect("dump written");
    (file, snap)
}

/// XINFO STREAM's `radix-tree-keys`: the stream's node count.
fn radix_keys(con: &mut redis::Connection, key: &str) -> i64 {
    let info: Vec<redis::Value> = redis::cmd("XINFO")
        .arg("STREAM")
        .arg(key)
        .query(con)
        .unwrap();
    let i = info
        .iter()
        .position(|v| matches!(v, redis::Value::BulkString(b) if b == b"radix-tree-keys"))
        .expect("radix-tree-keys");
    match info[i + 1] {
        redis::Value::Int(n) => n,
        ref other => panic!("{other:?}"),
    }
}

const LIBRARY: &str = "#!lua name=mylib\nredis.register_function('f', function() return 1 end)";

fn load(file: &[u8]) -> (Keyspace, rdb::LoadStats) {
    let ks = Keyspace::new(16);
    let stats = rdb::load(&mut &file[..], &ks, &LoadOptions::default()).expect("loads");
    (ks, stats)
}

#[test]
fn redis_dump_loads_with_every_key_intact() {
    for compression in [true, false] {
        let (file, expected) = redis_dump(compression);
        // The stream fixture really has groups, owners and a deletion.
        let Canon::Stream(st) = &expected[&(0, b"st".to_vec())].0 else {
            panic!("st is a stream");
        };
        assert!(
            st.contains("group=g1") && st.contains("3-0/bob/1") && st.contains("maxdel=1-2"),
            "{st}"
        );
        let (ks, stats) = load(&file);
        assert_eq!(stats.version, 10);
        assert_eq!(stats.keys as usize, expected.len());
        assert_eq!(stats.aux_field("redis-ver"), Some(&b"7.0.15"[..]));
        assert_eq!(stats.functions, vec![LIBRARY.to_string()]);
        assert_same(&keyspace_snapshot(&ks, now_ms()), &expected);
    }
}

#[test]
fn our_dump_loads_into_redis_intact() {
    let (file, expected) = redis_dump(true);
    let (ks, _) = load(&file);
    let orig_dir = common::scratch_dir("rdb-orig");
    std::fs::write(orig_dir.join("dump.rdb"), &file).unwrap();
    let original = RedisIn::start(&orig_dir);
    let nodes_in_original = [
        radix_keys(&mut original.client(), "stbig"),
        radix_keys(&mut original.client(), "stbytes"),
    ];
    assert!(
        nodes_in_original.iter().all(|&n| n > 3),
        "{nodes_in_original:?}"
    );
    drop(original);
    let _ = std::fs::remove_dir_all(&orig_dir);
    for compression in [true, false] {
        let dir = common::scratch_dir("rdb-out");
        let mut out = Vec::new();
        let opts = SaveOptions {
            compression,
            functions: vec![LIBRARY.to_string()],
            ..SaveOptions::default()
        };
        rdb::save(&mut out, &ks, &opts).unwrap();
        std::fs::write(dir.join("dump.rdb"), &out).unwrap();
        let r = RedisIn::start(&dir);
        let got = server_snapshot(&mut r.client(), 16);
        assert_same(&got, &expected);
        // Stream nodes are cut where Redis cut them.
        let nodes = [
            radix_keys(&mut r.client(), "stbig"),
            radix_keys(&mut r.client(), "stbytes"),
        ];
        assert_eq!(nodes, nodes_in_original);
        let f: redis::Value = redis::cmd("FCALL")
            .arg("f")
            .arg(0)
            .query(&mut r.client())
            .unwrap();
        assert_eq!(f, redis::Value::Int(1));
        // And back: our own file loads to the same keyspace.
        let (again, _) = load(&out);
        assert_same(&keyspace_snapshot(&again, now_ms()), &expected);
        drop(r);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn save_matches_redis_layout() {
    let ks = Keyspace::new(16);
    let now = now_ms();
    ks.db(2)
        .lock(b"k")
        .set(b"k", ferrokv::keyspace::Value::string(b"v"), 0, now);
    let mut out = Vec::new();
    let opts = SaveOptions {
        functions: vec![
            "#!lua name=lib\nredis.register_function('f', function() return 1 end)".into(),
        ],
        now_ms: now,
        ..SaveOptions::default()
    };
    rdb::save(&mut out, &ks, &opts).unwrap();
    assert_eq!(&out[..9], b"REDIS0010");
    let (_, stats) = load(&out);
    assert_eq!(stats.functions, opts.functions);
    assert_eq!(stats.aux_field("redis-bits"), Some(&b"64"[..]));
    assert_eq!(stats.aux_field("aof-base"), Some(&b"0"[..]));
    assert_eq!(stats.consumed, out.len());
    // SELECTDB 2, RESIZEDB 1 0, the key, EOF, then the checksum.
    let n = out.len();
    assert_eq!(
        &out[n - 19..n - 8],
        b"\xfe\x02\xfb\x01\x00\x00\x01k\x01v\xff"
    );
    assert_eq!(out[n - 8..], rdb::crc64(&out[..n - 8]).to_le_bytes());
    let unchecked = SaveOptions {
        checksum: false,
        ..opts
    };
    let mut out = Vec::new();
    rdb::save(&mut out, &ks, &unchecked).unwrap();
    assert_eq!(out[out.len() - 8..], [0; 8]);
    load(&out);
}
