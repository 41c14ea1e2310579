//! Fixtures shared by the RDB interop and DUMP/RESTORE tests: a data set
//! with every type in its small and large encodings, and a canonical
//! snapshot of a server's or keyspace's content to compare them.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferrokv::keyspace::{Keyspace, Value, SHARDS};

/// A value in a comparable form.
#[derive(Debug, Clone, PartialEq)]
pub enum Canon {
    /// A string.
    Str(Vec<u8>),
    /// List elements in order.
    List(Vec<Vec<u8>>),
    /// Set members.
    Set(BTreeSet<Vec<u8>>),
    /// Hash pairs.
    Hash(BTreeMap<Vec<u8>, Vec<u8>>),
    /// Sorted-set pairs in rank order.
    ZSet(Vec<(Vec<u8>, f64)>),
    /// A stream's entries, counters, groups, PELs and consumers.
    Stream(String),
}

/// What a snapshot knows about one key: value, OBJECT ENCODING, absolute
/// expiry in ms (-1 = none).
pub type KeyState = (Canon, String, i64);

/// Every key of every database: (db, key) -> state.
pub type Snapshot = BTreeMap<(usize, Vec<u8>), KeyState>;

/// Commands that fill a server with every type in both encodings, as
/// (db, argv) pairs.
pub fn fixture_commands() -> Vec<(usize, Vec<Vec<u8>>)> {
    let mut cmds: Vec<(usize, Vec<Vec<u8>>)> = Vec::new();
    let mut add = |db: usize, args: Vec<Vec<u8>>| cmds.push((db, args));
    let s = |x: &str| x.as_bytes().to_vec();
    // Strings: int encodings, big ints, short, long compressible, long
    // incompressible, empty, binary.
    for (k, v) in [
        ("str:int8", "-5"),
        ("str:int16", "12345"),
        ("str:int32", "-2000000000"),
        ("str:int64", "12345678901234"),
        ("str:lead0", "0123"),
        ("str:short", "hello"),
        ("str:empty", ""),
        ("str:float", "3.14"),
    ] {
        add(0, vec![s("SET"), s(k), s(v)]);
    }
    add(
        0,
        vec![s("SET"), s("str:long"), "abc".repeat(400).into_bytes()],
    );
    let mut seed = 7u64;
    let noise: Vec<u8> = (0..300)
        .map(|_| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 56) as u8
        })
        .collect();
    add(0, vec![s("SET"), s("str:noise"), noise.clone()]);
    add(0, vec![s("SET"), s("str:bin"), b"\x00\xff\r\n".to_vec()]);
    add(
        0,
        vec![s("SET"), s("str:ttl"), s("v"), s("PX"), s("100000000")],
    );
    add(0, vec![s("SET"), s("12"), s("integer key")]);
    // Lists: one node, many nodes, a big element.
    add(
        0,
        vec![
            s("RPUSH"),
            s("list:small"),
            s("a"),
            s("1"),
            s("300"),
            s("-70000"),
            s("9999999999"),
            s(""),
        ],
    );
    let mut big = vec![s("RPUSH"), s("list:big")];
    for i in 0..3000 {
        big.push(format!("element-{i}-{}", "x".repeat(i % 50)).into_bytes());
    }
    add(0, big);
    add(
        0,
        vec![
            s("RPUSH"),
            s("list:huge"),
            s("a"),
            vec![b'z'; 20000],
            noise.clone(),
        ],
    );
    add(0, vec![s("RPUSH"), s("list:ttl"), s("a")]);
    add(0, vec![s("PEXPIRE"), s("list:ttl"), s("50000000")]);
    // Sets: intset of each width, hashtable of strings and of many ints.
    add(0, vec![s("SADD"), s("set:int16"), s("1"), s("2"), s("-3")]);
    add(
        0,
        vec![
            s("SADD"),
            s("set:int64"),
            s("1"),
            s("100000"),
            s("1099511627776"),
            s("-9223372036854775808"),
        ],
    );
    add(0, vec![s("SADD"), s("set:str"), s("a"), s("b"), s("1")]);
    let mut many = vec![s("SADD"), s("set:many")];
    many.extend((0..600).map(|i| (i * 3).to_string().into_bytes()));
    add(0, many);
    // Hashes: listpack, too many fields, a long value.
    add(
        0,
        vec![
            s("HSET"),
            s("hash:small"),
            s("a"),
            s("1"),
            s("b"),
            s("hello"),
            s("-7"),
            s(""),
        ],
    );
    let mut hbig = vec![s("HSET"), s("hash:big")];
    for i in 0..600 {
        hbig.push(format!("f{i}").into_bytes());
        hbig.push(format!("{}", i * 7).into_bytes());
    }
    add(0, hbig);
    add(0, vec![s("HSET"), s("hash:long"), s("f"), vec![b'v'; 100]]);
    // Sorted sets: listpack with special scores, skiplist by size and by
    // member length.
    add(
        0,
        vec![
            s("ZADD"),
            s("zset:small"),
            s("1"),
            s("a"),
            s("-inf"),
            s("b"),
            s("inf"),
            s("c"),
            s("0.1"),
            s("d"),
            s("1e300"),
            s("e"),
            s("-0"),
            s("f"),
            s("12345678"),
            s("g"),
        ],
    );
    let mut zbig = vec![s("ZADD"), s("zset:big")];
    for i in 0..300 {
        zbig.push(format!("{}", i as f64 / 3.0).into_bytes());
        zbig.push(format!("m{i}").into_bytes());
    }
    add(0, zbig);
    add(
        0,
        vec![
            s("ZADD"),
            s("zset:long"),
            s("2.5"),
            vec![b'm'; 100],
            s("1"),
            s("x"),
        ],
    );
    // Streams: same-field and new-field entries, a deletion, groups with
    // pending entries and consumers, several nodes, an empty stream.
    for (id, fields) in [
        ("1-1", &["a", "1", "b", "2"][..]),
        ("1-2", &["a", "3", "b", "4"]),
        ("2-0", &["c", "x"]),
        ("3-0", &["a", "5", "b", "6"]),
    ] {
        let mut c = vec![s("XADD"), s("st"), s(id)];
        c.extend(fields.iter().map(|f| s(f)));
        add(0, c);
    }
    for c in [
        &["XDEL", "st", "1-2"][..],
        &["XGROUP", "CREATE", "st", "g1", "0"],
        &["XGROUP", "CREATE", "st", "g2", "$"],
        &[
            "XREADGROUP",
            "GROUP",
            "g1",
            "alice",
            "COUNT",
            "2",
            "STREAMS",
            "st",
            ">",
        ],
        &[
            "XREADGROUP",
            "GROUP",
            "g1",
            "bob",
            "COUNT",
            "1",
            "STREAMS",
            "st",
            ">",
        ],
        &["XACK", "st", "g1", "1-1"],
        &["XGROUP", "CREATECONSUMER", "st", "g2", "carol"],
        &["XADD", "se", "5-5", "a", "b"],
        &["XDEL", "se", "5-5"],
    ] {
        add(0, c.iter().map(|a| s(a)).collect());
    }
    for i in 0..1000 {
        let f = format!("f{}", i / 300);
        add(
            0,
            vec![
                s("XADD"),
                s("stbig"),
                format!("{}-{}", 1000 + i / 2, i % 2).into_bytes(),
                f.into_bytes(),
                format!("v{i}").into_bytes(),
            ],
        );
    }
    for c in [
        &["XGROUP", "CREATE", "stbig", "g", "0"][..],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c1",
            "COUNT",
            "300",
            "STREAMS",
            "stbig",
            ">",
        ],
        &["XDEL", "stbig", "1100-0"],
    ] {
        add(0, c.iter().map(|a| s(a)).collect());
    }
    // A stream whose nodes are cut by size (stream-node-max-bytes).
    for i in 0..60 {
        add(
            0,
            vec![
                s("XADD"),
                s("stbytes"),
                format!("{}-0", i + 1).into_bytes(),
                s("payload"),
                vec![b'a' + (i % 26) as u8; 300],
            ],
        );
    }
    // Another database.
    add(3, vec![s("SET"), s("other"), s("db3")]);
    add(3, vec![s("HSET"), s("h3"), s("k"), s("v")]);
    cmds
}

/// Runs the fixture against a server.
pub fn populate(con: &mut redis::Connection) {
    for (db, args) in fixture_commands() {
        redis::cmd("SELECT")
            .arg(db)
            .query::<()>(con)
            .expect("select");
        let mut c = redis::cmd(std::str::from_utf8(&args[0]).unwrap());
        for a in &args[1..] {
            c.arg(a.as_slice());
        }
        c.query::<redis::Value>(con).expect("fixture command");
    }
    redis::cmd("SELECT")
        .arg(0)
        .query::<()>(con)
        .expect("select");
}

/// The canonical content of a server, read through commands.
pub fn server_snapshot(con: &mut redis::Connection, dbs: usize) -> Snapshot {
    let mut snap = Snapshot::new();
    for db in 0..dbs {
        redis::cmd("SELECT")
            .arg(db)
            .query::<()>(con)
            .expect("select");
        let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(con).expect("keys");
        for key in keys {
            let ty: String = redis::cmd("TYPE").arg(&key).query(con).unwrap();
            let canon = match ty.as_str() {
                "string" => Canon::Str(redis::cmd("GET").arg(&key).query(con).unwrap()),
                "list" => Canon::List(
                    redis::cmd("LRANGE")
                        .arg(&key)
                        .arg(0)
                        .arg(-1)
                        .query(con)
                        .unwrap(),
                ),
                "set" => Canon::Set(redis::cmd("SMEMBERS").arg(&key).query(con).unwrap()),
                "hash" => Canon::Hash(redis::cmd("HGETALL").arg(&key).query(con).unwrap()),
                "zset" => {
                    let flat: Vec<Vec<u8>> = redis::cmd("ZRANGE")
                        .arg(&key)
                        .arg(0)
                        .arg(-1)
                        .arg("WITHSCORES")
                        .query(con)
                        .unwrap();
                    Canon::ZSet(
                        flat.chunks(2)
                            .map(|p| {
                                let score = std::str::from_utf8(&p[1]).unwrap().parse().unwrap();
                                (p[0].clone(), score)
                            })
                            .collect(),
                    )
                }
                "stream" => Canon::Stream(stream_canon_server(con, &key)),
                other => panic!("unexpected type {other}"),
            };
            let enc: String = redis::cmd("OBJECT")
                .arg("ENCODING")
                .arg(&key)
                .query(con)
                .unwrap();
            let exp: i64 = redis::cmd("PEXPIRETIME").arg(&key).query(con).unwrap();
            snap.insert((db, key), (canon, enc, exp));
        }
    }
    redis::cmd("SELECT")
        .arg(0)
        .query::<()>(con)
        .expect("select");
    snap
}

/// A value in canonical form.
pub fn canon_of(value: &Value) -> Canon {
    let mut buf = itoa::Buffer::new();
    if let Some(s) = value.as_str(&mut buf) {
        return Canon::Str(s.to_vec());
    }
    match value {
        Value::List(l) => Canon::List(l.iter().map(|e| e.to_vec()).collect()),
        Value::Set(s) => {
            let mut b = itoa::Buffer::new();
            Canon::Set(s.iter().map(|e| e.bytes(&mut b).to_vec()).collect())
        }
        Value::Hash(h) => Canon::Hash(h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect()),
        Value::ZSet(z) => Canon::ZSet(
            z.range(0, z.len())
                .into_iter()
                .map(|(m, s)| (m.to_vec(), s))
                .collect(),
        ),
        Value::Stream(s) => Canon::Stream(stream_canon_value(s)),
        _ => unreachable!("strings handled above"),
    }
}

/// A stream's observable state from a server: entries, counters, groups
/// with their PEL (owner and delivery count) and consumers.
fn stream_canon_server(con: &mut redis::Connection, key: &[u8]) -> String {
    use redis::Value as V;
    fn show(v: &V) -> String {
        match v {
            V::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
            V::SimpleString(s) => s.clone(),
            V::Int(i) => i.to_string(),
            V::Nil => "nil".into(),
            V::Array(a) => format!("[{}]", a.iter().map(show).collect::<Vec<_>>().join(" ")),
            V::Okay => "OK".into(),
            other => format!("{other:?}"),
        }
    }
    fn field<'a>(flat: &'a [V], name: &str) -> &'a V {
        let i = flat
            .chunks(2)
            .position(|p| show(&p[0]) == name)
            .unwrap_or_else(|| panic!("no {name}"));
        &flat[i * 2 + 1]
    }
    let entries: V = redis::cmd("XRANGE")
        .arg(key)
        .arg("-")
        .arg("+")
        .query(con)
        .unwrap();
    let info: Vec<V> = redis::cmd("XINFO")
        .arg("STREAM")
        .arg(key)
        .query(con)
        .unwrap();
    let mut out = format!(
        "entries={} length={} last={} maxdel={} added={}",
        show(&entries),
        show(field(&info, "length")),
        show(field(&info, "last-generated-id")),
        show(field(&info, "max-deleted-entry-id")),
        show(field(&info, "entries-added")),
    );
    let groups: Vec<Vec<V>> = redis::cmd("XINFO")
        .arg("GROUPS")
        .arg(key)
        .query(con)
        .unwrap();
    for g in groups {
        let name = show(field(&g, "name"));
        let pel: Vec<Vec<V>> = redis::cmd("XPENDING")
            .arg(key)
            .arg(&name)
            .arg("-")
            .arg("+")
            .arg(100000)
            .query(con)
            .unwrap();
        let pel: Vec<String> = pel
            .iter()
            .map(|p| format!("{}/{}/{}", show(&p[0]), show(&p[1]), show(&p[3])))
            .collect();
        let consumers: Vec<Vec<V>> = redis::cmd("XINFO")
            .arg("CONSUMERS")
            .arg(key)
            .arg(&name)
            .query(con)
            .unwrap();
        let consumers: Vec<String> = consumers
            .iter()
            .map(|c| format!("{}/{}", show(field(c, "name")), show(field(c, "pending"))))
            .collect();
        out += &format!(
            " group={name} last={} read={} lag={} pel={pel:?} consumers={consumers:?}",
            show(field(&g, "last-delivered-id")),
            show(field(&g, "entries-read")),
            show(field(&g, "lag")),
        );
    }
    out
}

/// The same description of a stream value held in a keyspace.
fn stream_canon_value(s: &ferrokv::types::Stream) -> String {
    use ferrokv::types::stream::StreamId;
    let entries: Vec<String> = s
        .range(StreamId::MIN, StreamId::MAX, false, 0)
        .iter()
        .map(|e| {
            let f: Vec<String> = e
                .fields()
                .flat_map(|(f, v)| [f, v])
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .collect();
            format!("[{} [{}]]", e.id, f.join(" "))
        })
        .collect();
    let mut out = format!(
        "entries=[{}] length={} last={} maxdel={} added={}",
        entries.join(" "),
        s.len(),
        s.last_id,
        s.max_deleted_id,
        s.entries_added
    );
    let opt = |v: Option<String>| v.unwrap_or_else(|| "nil".into());
    for (name, g) in s.groups() {
        let pel: Vec<String> = g
            .pel
            .iter()
            .map(|(id, p)| {
                format!(
                    "{id}/{}/{}",
                    String::from_utf8_lossy(&p.consumer),
                    p.delivery_count
                )
            })
            .collect();
        let consumers: Vec<String> = g
            .consumers
            .iter()
            .map(|(n, c)| format!("{}/{}", String::from_utf8_lossy(n), c.pel.len()))
            .collect();
        out += &format!(
            " group={} last={} read={} lag={} pel={pel:?} consumers={consumers:?}",
            String::from_utf8_lossy(name),
            g.last_id,
            opt(g.entries_read.map(|v| v.to_string())),
            opt(s.lag(g).map(|v| v.to_string())),
        );
    }
    out
}

/// The canonical content of an in-process keyspace.
pub fn keyspace_snapshot(ks: &Keyspace, now: u64) -> Snapshot {
    let mut snap = Snapshot::new();
    for db in 0..ks.db_count() {
        for i in 0..SHARDS {
            let shard = ks.db(db).lock_shard(i);
            for e in shard.iter_live(now) {
                let exp = if e.expire_at() == 0 {
                    -1
                } else {
                    e.expire_at() as i64
                };
                snap.insert(
                    (db, e.key().to_vec()),
                    (canon_of(&e.value), e.value.encoding().to_string(), exp),
                );
            }
        }
    }
    snap
}

/// Asserts two snapshots are equal, naming the first differing key.
pub fn assert_same(a: &Snapshot, b: &Snapshot) {
    let ka: Vec<_> = a.keys().collect();
    let kb: Vec<_> = b.keys().collect();
    assert_eq!(ka, kb, "key sets differ");
    for (k, va) in a {
        let vb = &b[k];
        assert_eq!(va.0, vb.0, "value of {k:?}");
        assert_eq!(va.1, vb.1, "encoding of {k:?}");
        assert_eq!(va.2, vb.2, "expiry of {k:?}");
    }
}

/// A `redis-server` started on a given data directory (to load a dump
/// from it), killed on drop.
pub struct RedisIn {
    child: Child,
    /// Its port.
    pub port: u16,
}

impl RedisIn {
    /// Starts redis-server with `dir` as its working directory and
    /// `dbfilename dump.rdb`, waiting (bounded) until it answers.
    pub fn start(dir: &Path) -> RedisIn {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(dir)
            .args(["--dbfilename", "dump.rdb"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        let server = RedisIn { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut con) = server.try_client() {
                let loading: Result<String, _> = redis::cmd("PING").query(&mut con);
                if loading.is_ok() {
                    return server;
                }
            }
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn try_client(&self) -> redis::RedisResult<redis::Connection> {
        let client = redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))?;
        let con = client.get_connection_with_timeout(Duration::from_secs(10))?;
        con.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(con)
    }

    /// A connection.
    pub fn client(&self) -> redis::Connection {
        self.try_client().expect("connect")
    }
}

impl Drop for RedisIn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
