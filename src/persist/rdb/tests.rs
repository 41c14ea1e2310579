//! Whole-file tests: hand-built files in the older formats Redis wrote
//! before 7.0, round trips through `save`/`load`, and corrupt input.

use super::save::{write_len, write_string};
use super::*;
use crate::keyspace::{Keyspace, Value};

const NOW: u64 = 1_700_000_000_000;

fn opts() -> LoadOptions {
    LoadOptions {
        now_ms: NOW,
        ..LoadOptions::default()
    }
}

fn string(s: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    write_string(&mut b, s, false);
    b
}

/// A ziplist of small strings and small integers (int8 encoding).
fn ziplist(items: &[&str]) -> Vec<u8> {
    let mut body = Vec::new();
    let mut prev = 0usize;
    for it in items {
        let start = body.len();
        body.push(prev as u8);
        match it.parse::<i8>() {
            Ok(v) => body.extend_from_slice(&[0xfe, v as u8]),
            Err(_) => {
                body.push(it.len() as u8);
                body.extend_from_slice(it.as_bytes());
            }
        }
        prev = body.len() - start;
    }
    let mut zl = Vec::new();
    zl.extend_from_slice(&((10 + body.len() + 1) as u32).to_le_bytes());
    zl.extend_from_slice(&0u32.to_le_bytes());
    zl.extend_from_slice(&(items.len() as u16).to_le_bytes());
    zl.extend_from_slice(&body);
    zl.push(0xff);
    zl
}

fn zipmap(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut zm = vec![pairs.len() as u8];
    for (f, v) in pairs {
        zm.push(f.len() as u8);
        zm.extend_from_slice(f.as_bytes());
        zm.push(v.len() as u8);
        zm.push(0);
        zm.extend_from_slice(v.as_bytes());
    }
    zm.push(0xff);
    zm
}

/// Builds a file of `version` from records, with a checksum when the
/// version has one.
fn file(version: u32, records: &[Vec<u8>]) -> Vec<u8> {
    let mut f = format!("REDIS{version:04}").into_bytes();
    for r in records {
        f.extend_from_slice(r);
    }
    f.push(opcodes::EOF);
    if version >= 5 {
        let crc = crc64(&f);
        f.extend_from_slice(&crc.to_le_bytes());
    }
    f
}

fn record(ty: u8, key: &str, value: &[u8]) -> Vec<u8> {
    let mut r = vec![ty];
    r.extend_from_slice(&string(key.as_bytes()));
    r.extend_from_slice(value);
    r
}

fn blob(b: &[u8]) -> Vec<u8> {
    string(b)
}

fn list_of(strings: &[&str]) -> Vec<u8> {
    let mut v = Vec::new();
    write_len(&mut v, strings.len() as u64);
    for s in strings {
        v.extend_from_slice(&string(s.as_bytes()));
    }
    v
}

/// Renders a value for comparison: strings as-is, collections as their
/// elements joined in a stable order.
fn render(v: &Value) -> String {
    let mut buf = itoa::Buffer::new();
    if let Some(s) = v.as_str(&mut buf) {
        return String::from_utf8_lossy(s).into_owned();
    }
    let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let mut parts: Vec<String> = match v {
        Value::List(l) => return l.iter().map(s).collect::<Vec<_>>().join(","),
        Value::Set(x) => {
            let mut b = itoa::Buffer::new();
            x.iter().map(|e| s(e.bytes(&mut b))).collect()
        }
        Value::Hash(h) => h
            .iter()
            .map(|(f, v)| format!("{}={}", s(f), s(v)))
            .collect(),
        Value::ZSet(z) => {
            return z
                .range(0, z.len())
                .iter()
                .map(|(m, sc)| format!("{}:{sc}", s(m)))
                .collect::<Vec<_>>()
                .join(",")
        }
        _ => unreachable!(),
    };
    parts.sort();
    parts.join(",")
}

fn get(ks: &Keyspace, db: usize, key: &str) -> Option<(String, &'static str, u64)> {
    let mut shard = ks.db(db).lock(key.as_bytes());
    shard
        .peek(key.as_bytes(), NOW)
        .map(|e| (render(&e.value), e.value.encoding(), e.expire_at()))
}

fn old_format_records() -> Vec<Vec<u8>> {
    let mut zset3 = Vec::new();
    write_len(&mut zset3, 2);
    zset3.extend_from_slice(&string(b"a"));
    zset3.extend_from_slice(&[3, b'1', b'.', b'5']);
    zset3.extend_from_slice(&string(b"b"));
    zset3.push(255);
    let mut hash4 = Vec::new();
    write_len(&mut hash4, 1);
    hash4.extend_from_slice(&string(b"f"));
    hash4.extend_from_slice(&string(b"v"));
    let mut quicklist = Vec::new();
    write_len(&mut quicklist, 2);
    quicklist.extend_from_slice(&blob(&ziplist(&["a", "b"])));
    quicklist.extend_from_slice(&blob(&ziplist(&["7", "c"])));
    let mut expire_s = vec![opcodes::EXPIRETIME];
    expire_s.extend_from_slice(&((NOW / 1000 + 100) as u32).to_le_bytes());
    let mut expire_ms = vec![opcodes::EXPIRETIME_MS];
    expire_ms.extend_from_slice(&(NOW + 5).to_le_bytes());
    let mut expired = vec![opcodes::EXPIRETIME_MS];
    expired.extend_from_slice(&(NOW - 5).to_le_bytes());
    let mut aux = vec![opcodes::AUX];
    aux.extend_from_slice(&string(b"redis-ver"));
    aux.extend_from_slice(&string(b"3.2.0"));
    vec![
        aux,
        vec![opcodes::SELECTDB, 0],
        record(types::STRING, "s", &string(b"hello")),
        record(types::LIST, "l1", &list_of(&["x", "y"])),
        record(types::SET, "s2", &list_of(&["m", "1"])),
        record(types::ZSET, "z3", &zset3),
        record(types::HASH, "h4", &hash4),
        record(
            types::HASH_ZIPMAP,
            "h9",
            &blob(&zipmap(&[("a", "1"), ("b", "two")])),
        ),
        record(
            types::LIST_ZIPLIST,
            "l10",
            &blob(&ziplist(&["a", "-3", "b"])),
        ),
        record(
            types::SET_INTSET,
            "s11",
            &blob(&packed::write_intset(&[-1, 2, 300])),
        ),
        record(
            types::ZSET_ZIPLIST,
            "z12",
            &blob(&ziplist(&["m", "2", "n", "3.5"])),
        ),
        record(
            types::HASH_ZIPLIST,
            "h13",
            &blob(&ziplist(&["f", "1", "g", "x"])),
        ),
        record(types::LIST_QUICKLIST, "l14", &quicklist),
        vec![opcodes::SELECTDB, 5],
        [expire_s, record(types::STRING, "es", &string(b"1"))].concat(),
        [expire_ms, record(types::STRING, "ems", &string(b"2"))].concat(),
        [expired, record(types::STRING, "gone", &string(b"3"))].concat(),
    ]
}

#[test]
fn loads_pre_7_formats() {
    for version in [1, 4, 6, 7, 9] {
        let f = file(version, &old_format_records());
        let ks = Keyspace::new(16);
        let stats = load_bytes(&f, &ks, &opts()).expect("loads");
        assert_eq!(stats.keys, 13);
        assert_eq!(stats.expired_skipped, 1);
        assert_eq!(stats.aux_field("redis-ver"), Some(&b"3.2.0"[..]));
        assert_eq!(stats.consumed, f.len());
        let expect: &[(usize, &str, &str, &str, u64)] = &[
            (0, "s", "hello", "embstr", 0),
            (0, "l1", "x,y", "quicklist", 0),
            (0, "s2", "1,m", "hashtable", 0),
            (0, "z3", "b:-inf,a:1.5", "listpack", 0),
            (0, "h4", "f=v", "listpack", 0),
            (0, "h9", "a=1,b=two", "listpack", 0),
            (0, "l10", "a,-3,b", "quicklist", 0),
            (0, "s11", "-1,2,300", "intset", 0),
            (0, "z12", "m:2,n:3.5", "listpack", 0),
            (0, "h13", "f=1,g=x", "listpack", 0),
            (0, "l14", "a,b,7,c", "quicklist", 0),
            (5, "es", "1", "int", (NOW / 1000 + 100) * 1000),
            (5, "ems", "2", "int", NOW + 5),
        ];
        for &(db, key, value, enc, exp) in expect {
            assert_eq!(
                get(&ks, db, key),
                Some((value.to_string(), enc, exp)),
                "{key} v{version}"
            );
        }
        assert_eq!(get(&ks, 5, "gone"), None);
    }
}

#[test]
fn thresholds_apply_on_load() {
    let f = file(9, &old_format_records());
    let ks = Keyspace::new(16);
    let mut o = opts();
    o.encodings.hash_max_listpack_entries = 1;
    o.encodings.zset_max_listpack_entries = 1;
    o.encodings.set_max_intset_entries = 2;
    load_bytes(&f, &ks, &o).unwrap();
    assert_eq!(get(&ks, 0, "h9").unwrap().1, "hashtable");
    assert_eq!(get(&ks, 0, "h4").unwrap().1, "listpack");
    assert_eq!(get(&ks, 0, "z12").unwrap().1, "skiplist");
    assert_eq!(get(&ks, 0, "s11").unwrap().1, "hashtable");
    // Expired keys are kept when asked (AOF preamble).
    let ks = Keyspace::new(16);
    o.skip_expired = false;
    assert_eq!(load_bytes(&f, &ks, &o).unwrap().keys, 14);
}

#[test]
fn save_then_load_roundtrip() {
    let f = file(9, &old_format_records());
    let ks = Keyspace::new(16);
    load_bytes(&f, &ks, &opts()).unwrap();
    let mut out = Vec::new();
    let so = SaveOptions {
        now_ms: NOW,
        ..SaveOptions::default()
    };
    save(&mut out, &ks, &so).unwrap();
    let again = Keyspace::new(16);
    let stats = load_bytes(&out, &again, &opts()).unwrap();
    assert_eq!(stats.version, 10);
    assert_eq!(stats.keys, 13);
    for key in [
        "s", "l1", "s2", "z3", "h4", "h9", "l10", "s11", "z12", "h13", "l14",
    ] {
        assert_eq!(get(&again, 0, key), get(&ks, 0, key), "{key}");
    }
    assert_eq!(get(&again, 5, "ems"), get(&ks, 5, "ems"));
}

#[test]
fn rdbchecksum_no_is_accepted() {
    let mut f = file(9, &old_format_records());
    let n = f.len();
    f[n - 8..].fill(0);
    assert!(load_bytes(&f, &Keyspace::new(16), &opts()).is_ok());
}

fn load_err(f: &[u8]) -> RdbError {
    load_bytes(f, &Keyspace::new(16), &opts()).expect_err("must fail")
}

#[test]
fn corrupt_files_give_errors() {
    let good = file(9, &old_format_records());
    // Truncated anywhere.
    for cut in 0..good.len() {
        load_err(&good[..cut]);
    }
    // A flipped checksum byte.
    let mut bad = good.clone();
    *bad.last_mut().unwrap() ^= 0x40;
    assert!(matches!(load_err(&bad), RdbError::Checksum { .. }));
    // A flipped content byte is caught by the checksum if not before.
    let mut bad = good.clone();
    bad[40] ^= 0x01;
    load_err(&bad);
    assert!(matches!(load_err(b"REDIS0013\xff"), RdbError::Version(13)));
    assert!(matches!(load_err(b"REDIS0000\xff"), RdbError::Version(0)));
    assert!(load_err(b"RADIS0009\xff").to_string().contains("signature"));
    // An unknown type byte.
    let e = load_err(&file(9, &[record(8, "k", b"")]));
    assert!(e.to_string().contains("unknown value type 8"), "{e}");
    // A 2^60 length, for a string and for a collection.
    let absurd = [0x81, 0x10, 0, 0, 0, 0, 0, 0, 0];
    load_err(&file(9, &[record(types::STRING, "k", &absurd)]));
    load_err(&file(9, &[record(types::LIST, "k", &absurd)]));
    load_err(&file(9, &[record(types::ZSET_2, "k", &absurd)]));
    // Database out of range, duplicate keys, module and stream values.
    assert!(load_err(&file(9, &[vec![opcodes::SELECTDB, 40]]))
        .to_string()
        .contains("database 40"));
    let dup = record(types::STRING, "k", &string(b"v"));
    assert!(load_err(&file(9, &[dup.clone(), dup]))
        .to_string()
        .contains("duplicate key"));
    assert!(load_err(&file(9, &[record(types::MODULE_2, "k", b"\x01")]))
        .to_string()
        .contains("module"));
    // A stream record cut short.
    load_err(&file(
        11,
        &[record(types::STREAM_LISTPACKS_2, "k", b"\x00")],
    ));
    assert!(
        load_err(&file(12, &[record(types::HASH_LISTPACK_EX, "k", b"\x00")]))
            .to_string()
            .contains("field expiration")
    );
    // A duplicate member inside a set.
    load_err(&file(9, &[record(types::SET, "k", &list_of(&["a", "a"]))]));
}

#[test]
fn empty_collections_are_skipped() {
    let f = file(
        9,
        &[
            record(types::LIST, "k", &list_of(&[])),
            record(types::STRING, "s", &string(b"x")),
        ],
    );
    let ks = Keyspace::new(16);
    let stats = load_bytes(&f, &ks, &opts()).unwrap();
    assert_eq!((stats.keys, stats.empty_skipped), (1, 1));
}

#[test]
fn listpack_types_of_7_2() {
    let mut lp = packed::ListpackWriter::new();
    for m in ["a", "1", "b"] {
        lp.push(m.as_bytes());
    }
    let mut quick2 = Vec::new();
    write_len(&mut quick2, 2);
    write_len(&mut quick2, container::PLAIN);
    quick2.extend_from_slice(&string(b"plain node"));
    write_len(&mut quick2, container::PACKED);
    let lp = lp.finish();
    quick2.extend_from_slice(&blob(&lp));
    let f = file(
        11,
        &[
            record(types::SET_LISTPACK, "s", &blob(&lp)),
            record(types::LIST_QUICKLIST_2, "l", &quick2),
        ],
    );
    let ks = Keyspace::new(16);
    load_bytes(&f, &ks, &opts()).unwrap();
    assert_eq!(get(&ks, 0, "s").unwrap().0, "1,a,b");
    assert_eq!(get(&ks, 0, "l").unwrap().0, "plain node,a,1,b");
}

/// `DUMP st` from Redis 7.0 after: XADD st 1-1 a 1 b 2, XADD st 1-2 a 3 b 4,
/// XADD st 2-0 c x, XDEL st 1-2, XGROUP CREATE st g1 0, XREADGROUP GROUP g1
/// alice COUNT 1 STREAMS st >, XGROUP CREATECONSUMER st g1 bob.
const REDIS_STREAM_DUMP: &str = "13011000000000000000010000000000000001c3393e123e000000190002010101020181610281620200200900002001401102050103600902030104200b401301dfff202b088163028178020601ff020200010101020301026731010181ffffffffffffffff0100000000000000010000000000000001fe1fa301a2010000010205616c696365fe1fa301a2010000010000000000000001000000000000000103626f621020a301a2010000000a00d1d165e74d001fbe";

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn stream_of(v: Value) -> Box<crate::types::Stream> {
    match v {
        Value::Stream(s) => s,
        _ => panic!("not a stream"),
    }
}

#[test]
fn redis_stream_payload_restores_and_roundtrips() {
    use crate::types::stream::StreamId;
    let enc = opts().encodings;
    let s = stream_of(restore_value(&unhex(REDIS_STREAM_DUMP), &enc).unwrap());
    let ids: Vec<String> = s
        .range(StreamId::MIN, StreamId::MAX, false, 0)
        .iter()
        .map(|e| e.id.to_string())
        .collect();
    assert_eq!(ids, ["1-1", "2-0"]);
    let e = s.get(StreamId::new(2, 0)).unwrap();
    assert_eq!(e.fields().collect::<Vec<_>>(), vec![(&b"c"[..], &b"x"[..])]);
    assert_eq!(
        (s.last_id, s.max_deleted_id, s.entries_added),
        (StreamId::new(2, 0), StreamId::new(1, 2), 3)
    );
    let g = s.group(b"g1").unwrap();
    assert_eq!(g.last_id, StreamId::new(1, 1));
    assert_eq!(g.entries_read, None);
    assert_eq!(&*g.pel[&StreamId::new(1, 1)].consumer, b"alice");
    assert_eq!(g.pel[&StreamId::new(1, 1)].delivery_count, 1);
    assert_eq!(g.consumers[&b"bob"[..]].pel.len(), 0);
    // Our own payload of it decodes to the same stream.
    let again = stream_of(
        restore_value(
            &dump_value(&Value::Stream(s.clone()), &SaveOptions::default()),
            &enc,
        )
        .unwrap(),
    );
    assert_eq!(again.len(), s.len());
    assert_eq!(again.last_id, s.last_id);
    assert_eq!(again.max_deleted_id, s.max_deleted_id);
    assert_eq!(again.entries_added, s.entries_added);
    assert_eq!(again.group(b"g1").unwrap().pel, g.pel);
}

/// A stream record body with no entries and one group holding one
/// consumer, in the layout of `ty`.
fn empty_stream_with_group(ty: u8) -> Vec<u8> {
    let mut b = vec![ty, 0, 0, 5, 1];
    if ty != types::STREAM_LISTPACKS {
        b.extend_from_slice(&[0, 0, 4, 0, 9]);
    }
    b.push(1);
    b.extend_from_slice(&string(b"grp"));
    b.extend_from_slice(&[3, 0]);
    if ty != types::STREAM_LISTPACKS {
        b.push(7);
    }
    b.push(0);
    b.push(1);
    b.extend_from_slice(&string(b"c"));
    b.extend_from_slice(&1234u64.to_le_bytes());
    if ty == types::STREAM_LISTPACKS_3 {
        b.extend_from_slice(&1200u64.to_le_bytes());
    }
    b.push(0);
    b
}

fn payload(body: &[u8]) -> Vec<u8> {
    let mut p = body.to_vec();
    p.extend_from_slice(&10u16.to_le_bytes());
    let crc = crc64(&p);
    p.extend_from_slice(&crc.to_le_bytes());
    p
}

#[test]
fn stream_layouts_of_5_0_and_7_2() {
    use crate::types::stream::StreamId;
    let enc = opts().encodings;
    for ty in [
        types::STREAM_LISTPACKS,
        types::STREAM_LISTPACKS_2,
        types::STREAM_LISTPACKS_3,
    ] {
        let s = stream_of(restore_value(&payload(&empty_stream_with_group(ty)), &enc).unwrap());
        assert_eq!(s.len(), 0);
        assert_eq!(s.last_id, StreamId::new(5, 1));
        let g = s.group(b"grp").unwrap();
        assert_eq!(g.last_id, StreamId::new(3, 0));
        assert_eq!(g.consumers[&b"c"[..]].seen_time, 1234);
        let expect_read = if ty == types::STREAM_LISTPACKS {
            Some(0)
        } else {
            Some(7)
        };
        assert_eq!(g.entries_read, expect_read, "type {ty}");
    }
}

#[test]
fn corrupt_streams_are_rejected() {
    let enc = opts().encodings;
    let good = unhex(REDIS_STREAM_DUMP);
    let body = &good[..good.len() - 10];
    // A consumer owning an ID missing from its group's PEL: alice's raw
    // ID is the second copy of 1-1 in the payload.
    let mut owner = body.to_vec();
    let alice = owner.windows(5).position(|w| w == b"alice").unwrap();
    owner[alice + 5 + 8 + 1 + 15] = 9;
    assert!(restore_value(&payload(&owner), &enc).is_err());
    // Every truncation fails cleanly.
    for cut in 1..body.len() {
        assert!(restore_value(&payload(&body[..cut]), &enc).is_err());
    }
    // Entries out of order: the same node twice.
    let mut node = super::input::Input::new(&body[2..]);
    node.string().unwrap();
    node.string().unwrap();
    let node_end = 2 + node.pos();
    let mut twice = vec![body[0], 2];
    twice.extend_from_slice(&body[2..node_end]);
    twice.extend_from_slice(&body[2..]);
    let Err(e) = restore_value(&payload(&twice), &enc) else {
        panic!("accepted a repeated node");
    };
    assert!(e.to_string().contains("out of order"), "{e}");
}

#[test]
fn stream_nodes_are_written_byte_for_byte_as_redis() {
    let enc = opts().encodings;
    let redis = unhex(REDIS_STREAM_DUMP);
    let s = restore_value(&redis, &enc).unwrap();
    let ours = dump_value(
        &s,
        &SaveOptions {
            compression: false,
            ..SaveOptions::default()
        },
    );
    // Type, node count, node key, node listpack (decompressed), and the
    // whole tail after it.
    let parts = |p: &[u8]| {
        let mut inp = super::input::Input::new(&p[..p.len() - 10]);
        let head = inp.take(2).unwrap().to_vec();
        let key = inp.string().unwrap().into_owned();
        let lp = inp.string().unwrap().into_owned();
        let rest = inp.take(inp.remaining() as u64).unwrap().to_vec();
        (head, key, lp, rest)
    };
    assert_eq!(parts(&ours), parts(&redis));
}
