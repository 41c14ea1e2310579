//! Criterion benches of the per-command hot paths: request parsing, reply
//! encoding and keyspace GET/SET.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ferrokv::keyspace::{Keyspace, Value};
use ferrokv::protocol::reply::Reply;
use ferrokv::protocol::request::{Limits, Parsed, Parser};

const LIMITS: Limits = Limits {
    max_bulk: 512 * 1024 * 1024,
    unauthenticated: false,
};

fn pipeline(n: usize) -> Vec<u8> {
    let mut buf = Vec::new();
    for i in 0..n {
        let key = format!("key:{i:012}");
        buf.extend_from_slice(
            format!(
                "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n$3\r\nxyz\r\n",
                key.len()
            )
            .as_bytes(),
        );
    }
    buf
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    let input = pipeline(16);
    group.throughput(Throughput::Elements(16));
    group.bench_function("multibulk_set_x16", |b| {
        let mut buf = input.clone();
        let mut parser = Parser::default();
        b.iter(|| {
            let mut pos = 0;
            while let Parsed::Command(end) = parser.parse(&mut buf, pos, LIMITS) {
                black_box(&parser.spans);
                parser.finish_command();
                pos = end;
            }
            pos
        })
    });
    group.throughput(Throughput::Elements(1));
    group.bench_function("inline_ping", |b| {
        let mut buf = b"PING\r\n".to_vec();
        let mut parser = Parser::default();
        b.iter(|| {
            let r = parser.parse(&mut buf, 0, LIMITS);
            parser.finish_command();
            r
        })
    });
    group.finish();
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Elements(1));
    let mut out = Reply::new();
    group.bench_function("bulk_3_bytes", |b| {
        b.iter(|| {
            out.buf.clear();
            out.bulk(black_box(b"xyz"));
        })
    });
    group.bench_function("int", |b| {
        b.iter(|| {
            out.buf.clear();
            out.int(black_box(123_456));
        })
    });
    group.finish();
}

fn keyspace(c: &mut Criterion) {
    let mut group = c.benchmark_group("keyspace");
    let ks = Keyspace::new(1);
    let keys: Vec<Vec<u8>> = (0..100_000)
        .map(|i| format!("key:{i:012}").into_bytes())
        .collect();
    for k in &keys {
        ks.db(0).lock(k).set(k, Value::string(b"xyz"), 0, 0);
    }
    group.throughput(Throughput::Elements(1));
    let mut i = 0;
    group.bench_function("get_hit", |b| {
        b.iter(|| {
            i = (i + 7919) % keys.len();
            let key = &keys[i];
            let mut shard = ks.db(0).lock(key);
            black_box(shard.get(key, 1).is_some())
        })
    });
    group.bench_function("set_overwrite", |b| {
        b.iter(|| {
            i = (i + 7919) % keys.len();
            let key = &keys[i];
            ks.db(0).lock(key).set(key, Value::string(b"abc"), 0, 1);
        })
    });
    group.finish();
}

criterion_group!(benches, parse, encode, keyspace);
criterion_main!(benches);
