//! Writing RDB version 10 files and DUMP payloads the way Redis 7.0 does.

use std::io::{self, Write};

use super::packed::{self, ListpackWriter};
use super::{container, crc64, lzf, opcodes, stream, types, SaveOptions, RDB_VERSION};
use crate::keyspace::{Keyspace, Value, SHARDS};
use crate::server::REDIS_VERSION;
use crate::types::set::Elem;
use crate::types::{Hash, List, Set, ZSet};
use crate::util::num::{format_g17, parse_i64};

/// Bytes buffered before a write to the output (and a checksum update).
const FLUSH_AT: usize = 1 << 16;

/// Byte limits of the negative `list-max-listpack-size` levels.
const LIST_SIZE_LEVELS: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
/// Largest node a positive `list-max-listpack-size` may build.
const LIST_SIZE_SAFETY_LIMIT: usize = 8192;

/// Writes a whole RDB file holding every live key of `ks`.
///
/// The caller guarantees nobody mutates the keyspace meanwhile (a forked
/// child, or the gate held exclusively): shards are locked one at a time.
pub fn save(w: &mut impl Write, ks: &Keyspace, opts: &SaveOptions) -> io::Result<()> {
    let mut out = Sink {
        w,
        buf: Vec::with_capacity(FLUSH_AT * 2),
        crc: 0,
    };
    out.buf
        .extend_from_slice(format!("REDIS{RDB_VERSION:04}").as_bytes());
    let buf = &mut out.buf;
    let c = opts.compression;
    aux(buf, b"redis-ver", REDIS_VERSION.as_bytes(), c);
    aux_int(buf, b"redis-bits", 64, c);
    aux_int(buf, b"ctime", (opts.now_ms / 1000) as i64, c);
    aux_int(buf, b"used-mem", opts.used_mem as i64, c);
    aux_int(buf, b"aof-base", opts.aof_base as i64, c);
    for code in &opts.functions {
        buf.push(opcodes::FUNCTION2);
        write_string(buf, code.as_bytes(), c);
    }
    let now = opts.now_ms;
    for db_index in 0..ks.db_count() {
        let db = ks.db(db_index);
        let (mut keys, mut volatile) = (0u64, 0u64);
        for i in 0..SHARDS {
            for e in db.lock_shard(i).iter_live(now) {
                keys += 1;
                volatile += (e.expire_at() != 0) as u64;
            }
        }
        if keys == 0 {
            continue;
        }
        out.buf.push(opcodes::SELECTDB);
        write_len(&mut out.buf, db_index as u64);
        out.buf.push(opcodes::RESIZEDB);
        write_len(&mut out.buf, keys);
        write_len(&mut out.buf, volatile);
        for i in 0..SHARDS {
            let shard = db.lock_shard(i);
            for e in shard.iter_live(now) {
                if e.expire_at() != 0 {
                    out.buf.push(opcodes::EXPIRETIME_MS);
                    out.buf.extend_from_slice(&e.expire_at().to_le_bytes());
                }
                write_object(&mut out.buf, e.key(), &e.value, opts);
                if out.buf.len() >= FLUSH_AT {
                    out.flush()?;
                }
            }
        }
    }
    out.buf.push(opcodes::EOF);
    let crc = crc64::update(out.crc, &out.buf);
    out.buf
        .extend_from_slice(&(if opts.checksum { crc } else { 0 }).to_le_bytes());
    out.w.write_all(&out.buf)?;
    out.w.flush()
}

/// Output buffered in memory, checksummed as it is written out.
struct Sink<'w, W: Write> {
    w: &'w mut W,
    buf: Vec<u8>,
    crc: u64,
}

impl<W: Write> Sink<'_, W> {
    fn flush(&mut self) -> io::Result<()> {
        self.crc = crc64::update(self.crc, &self.buf);
        self.w.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }
}

/// A DUMP payload: the value's type and serialisation, the RDB version
/// (2 bytes) and a CRC64 of all that (8 bytes), little-endian.
pub fn dump_value(value: &Value, opts: &SaveOptions) -> Vec<u8> {
    let mut buf = Vec::new();
    buf.push(type_of(value));
    write_value(&mut buf, value, opts);
    buf.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64::crc64(&buf);
    buf.extend_from_slice(&crc.to_le_bytes());
    buf
}

fn aux(buf: &mut Vec<u8>, key: &[u8], value: &[u8], compress: bool) {
    buf.push(opcodes::AUX);
    write_string(buf, key, compress);
    write_string(buf, value, compress);
}

fn aux_int(buf: &mut Vec<u8>, key: &[u8], value: i64, compress: bool) {
    aux(
        buf,
        key,
        itoa::Buffer::new().format(value).as_bytes(),
        compress,
    );
}

fn write_object(buf: &mut Vec<u8>, key: &[u8], value: &Value, opts: &SaveOptions) {
    buf.push(type_of(value));
    write_string(buf, key, opts.compression);
    write_value(buf, value, opts);
}

/// The RDB type byte Redis 7.0 uses for the value's encoding.
fn type_of(value: &Value) -> u8 {
    match value {
        Value::Int(_) | Value::Str(_) | Value::Raw(_) => types::STRING,
        Value::List(_) => types::LIST_QUICKLIST_2,
        Value::Set(s) if s.encoding() == "intset" => types::SET_INTSET,
        Value::Set(_) => types::SET,
        Value::Hash(h) if h.encoding() == "listpack" => types::HASH_LISTPACK,
        Value::Hash(_) => types::HASH,
        Value::ZSet(z) if z.encoding() == "listpack" => types::ZSET_LISTPACK,
        Value::ZSet(_) => types::ZSET_2,
        Value::Stream(_) => types::STREAM_LISTPACKS_2,
    }
}

fn write_value(buf: &mut Vec<u8>, value: &Value, opts: &SaveOptions) {
    let c = opts.compression;
    match value {
        Value::Int(v) => write_int_string(buf, *v),
        Value::Str(s) => write_string(buf, s.as_bytes(), c),
        Value::Raw(s) => write_string(buf, s, c),
        Value::List(l) => write_list(buf, l, opts),
        Value::Set(s) => write_set(buf, s, c),
        Value::Hash(h) => write_hash(buf, h, c),
        Value::ZSet(z) => write_zset(buf, z, c),
        Value::Stream(s) => stream::save(buf, s, c),
    }
}

/// An RDB length: 6, 14, 32 or 64 bits.
pub(super) fn write_len(buf: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        buf.push(n as u8);
    } else if n < 1 << 14 {
        buf.extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]);
    } else if n <= u32::MAX as u64 {
        buf.push(0x80);
        buf.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        buf.push(0x81);
        buf.extend_from_slice(&n.to_be_bytes());
    }
}

/// The integer string encodings (8, 16 or 32 bits), if `v` fits.
fn write_int_encoded(buf: &mut Vec<u8>, v: i64) -> bool {
    if let Ok(x) = i8::try_from(v) {
        buf.extend_from_slice(&[0xc0, x as u8]);
    } else if let Ok(x) = i16::try_from(v) {
        buf.push(0xc1);
        buf.extend_from_slice(&x.to_le_bytes());
    } else if let Ok(x) = i32::try_from(v) {
        buf.push(0xc2);
        buf.extend_from_slice(&x.to_le_bytes());
    } else {
        return false;
    }
    true
}

/// An integer-valued string: integer-encoded when it fits 32 bits,
/// its decimal digits otherwise (Redis's `rdbSaveLongLongAsStringObject`).
fn write_int_string(buf: &mut Vec<u8>, v: i64) {
    if !write_int_encoded(buf, v) {
        let mut b = itoa::Buffer::new();
        let s = b.format(v).as_bytes();
        write_len(buf, s.len() as u64);
        buf.extend_from_slice(s);
    }
}

/// A string as Redis's `rdbSaveRawString` writes it: integer-encoded
/// when it is a short canonical integer, LZF-compressed when compression
/// is on, it is longer than 20 bytes and that saves at least 4 bytes,
/// raw otherwise.
pub(super) fn write_string(buf: &mut Vec<u8>, s: &[u8], compress: bool) {
    if s.len() <= 11 {
        if let Some(v) = parse_i64(s) {
            if write_int_encoded(buf, v) {
                return;
            }
        }
    }
    if compress && s.len() > 20 {
        if let Some(c) = lzf::compress(s, s.len() - 4) {
            buf.push(0xc3);
            write_len(buf, c.len() as u64);
            write_len(buf, s.len() as u64);
            buf.extend_from_slice(&c);
            return;
        }
    }
    write_len(buf, s.len() as u64);
    buf.extend_from_slice(s);
}

/// Quicklist 2: listpack nodes filled like Redis's quicklist under
/// `list-max-listpack-size`.
fn write_list(buf: &mut Vec<u8>, list: &List, opts: &SaveOptions) {
    let fill = opts.list_max_listpack_size.clamp(-5, 1 << 15);
    let mut nodes = Vec::new();
    let mut node = ListpackWriter::new();
    for elem in list.iter() {
        let new_size = node.len() + packed::entry_size(elem) + 1;
        let fits = if fill < 0 {
            new_size <= LIST_SIZE_LEVELS[(-fill - 1) as usize]
        } else {
            new_size <= LIST_SIZE_SAFETY_LIMIT && (node.count() as i64) < fill
        };
        if !fits && node.count() > 0 {
            nodes.push(std::mem::replace(&mut node, ListpackWriter::new()).finish());
        }
        node.push(elem);
    }
    if node.count() > 0 {
        nodes.push(node.finish());
    }
    write_len(buf, nodes.len() as u64);
    for lp in nodes {
        write_len(buf, container::PACKED);
        write_string(buf, &lp, opts.compression);
    }
}

fn write_set(buf: &mut Vec<u8>, set: &Set, compress: bool) {
    if set.encoding() == "intset" {
        let ints: Vec<i64> = set
            .iter()
            .filter_map(|e| match e {
                Elem::Int(v) => Some(v),
                Elem::Bytes(_) => None,
            })
            .collect();
        write_string(buf, &packed::write_intset(&ints), compress);
        return;
    }
    write_len(buf, set.len() as u64);
    let mut ib = itoa::Buffer::new();
    for e in set.iter() {
        write_string(buf, e.bytes(&mut ib), compress);
    }
}

fn write_hash(buf: &mut Vec<u8>, hash: &Hash, compress: bool) {
    if hash.encoding() == "listpack" {
        let mut lp = ListpackWriter::new();
        for (f, v) in hash.iter() {
            lp.push(f);
            lp.push(v);
        }
        write_string(buf, &lp.finish(), compress);
        return;
    }
    write_len(buf, hash.len() as u64);
    for (f, v) in hash.iter() {
        write_string(buf, f, compress);
        write_string(buf, v, compress);
    }
}

fn write_zset(buf: &mut Vec<u8>, z: &ZSet, compress: bool) {
    let pairs = z.range(0, z.len());
    if z.encoding() == "listpack" {
        let mut lp = ListpackWriter::new();
        for (m, s) in pairs {
            lp.push(m);
            lp.push(format_g17(s).as_bytes());
        }
        write_string(buf, &lp.finish(), compress);
        return;
    }
    // Highest first, as Redis walks its skiplist from the tail so that
    // loading inserts every element at the head.
    write_len(buf, pairs.len() as u64);
    for (m, s) in pairs.into_iter().rev() {
        write_string(buf, m, compress);
        buf.extend_from_slice(&s.to_le_bytes());
    }
}
