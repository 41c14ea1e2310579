//! Reading RDB files and DUMP payloads into keyspace values.

use std::io::Read;

use super::input::Input;
use super::packed::{self, Item};
use super::{
    container, crc64, opcodes, stream, types, LoadOptions, LoadStats, RdbError, MAX_LOAD_VERSION,
};
use crate::config::Encodings;
use crate::keyspace::{Keyspace, Shard, Value};
use crate::types::set::Elem;
use crate::types::{hash, zset, Hash, List, Set, ZSet};
use crate::util::num::parse_f64;

/// Loads a whole RDB file from `r` (read to its end) into `ks`.
///
/// Keys go into the databases the file names; a key already present is
/// an error, as two copies of a key in one file are. Keys holding empty
/// collections are skipped (as Redis does) and counted in the stats.
pub fn load(r: &mut impl Read, ks: &Keyspace, opts: &LoadOptions) -> Result<LoadStats, RdbError> {
    let mut data = Vec::new();
    r.read_to_end(&mut data)?;
    load_bytes(&data, ks, opts)
}

/// Loads the RDB file at the start of `data` into `ks`; the file may be
/// followed by other bytes (an AOF tail after an RDB preamble), left
/// unread: [`LoadStats::consumed`] tells where the RDB part ended.
pub fn load_bytes(data: &[u8], ks: &Keyspace, opts: &LoadOptions) -> Result<LoadStats, RdbError> {
    let mut inp = Input::new(data);
    let header = inp.take(9)?;
    if &header[..5] != b"REDIS" {
        return Err(RdbError::corrupt("wrong signature (not an RDB file)"));
    }
    let version = std::str::from_utf8(&header[5..])
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .ok_or_else(|| RdbError::corrupt("invalid version number"))?;
    if !(1..=MAX_LOAD_VERSION as u32).contains(&version) {
        return Err(RdbError::Version(version));
    }
    let mut stats = LoadStats {
        version: version as u16,
        ..LoadStats::default()
    };
    let mut db = 0usize;
    let mut expire_at = 0u64;
    loop {
        match inp.u8()? {
            opcodes::EXPIRETIME => {
                expire_at = u32::from_le_bytes(inp.array()?) as u64 * 1000;
                continue;
            }
            opcodes::EXPIRETIME_MS => {
                expire_at = u64::from_le_bytes(inp.array()?);
                continue;
            }
            // Eviction metadata: we keep no LFU counter, and loaded keys
            // start with a fresh access time.
            opcodes::FREQ => {
                inp.u8()?;
                continue;
            }
            opcodes::IDLE => {
                inp.len()?;
                continue;
            }
            opcodes::AUX => {
                let k = inp.string()?.into_owned();
                let v = inp.string()?.into_owned();
                stats.aux.push((k, v));
            }
            opcodes::RESIZEDB => {
                inp.len()?;
                inp.len()?;
            }
            opcodes::SLOT_INFO => {
                for _ in 0..3 {
                    inp.len()?;
                }
            }
            opcodes::SELECTDB => {
                let n = inp.len()?;
                if n >= ks.db_count() as u64 {
                    return Err(RdbError::Unsupported(format!(
                        "the file uses database {n} but only {} databases are configured",
                        ks.db_count()
                    )));
                }
                db = n as usize;
            }
            opcodes::FUNCTION2 => {
                let code = inp.string()?;
                let code = String::from_utf8(code.into_owned())
                    .map_err(|_| RdbError::corrupt("function library code is not valid UTF-8"))?;
                stats.functions.push(code);
            }
            opcodes::FUNCTION_PRE_GA => {
                return Err(RdbError::Unsupported(
                    "function libraries in the Redis 7.0 release-candidate format".into(),
                ))
            }
            opcodes::MODULE_AUX => {
                return Err(RdbError::Unsupported("module auxiliary data".into()))
            }
            opcodes::EOF => break,
            ty => {
                let key = inp.string()?;
                let expire = std::mem::take(&mut expire_at);
                let value = match read_value(&mut inp, ty, &opts.encodings) {
                    Ok(v) => v,
                    Err(RdbError::EmptyValue) => {
                        stats.empty_skipped += 1;
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                if opts.skip_expired && expire != 0 && expire < opts.now_ms {
                    stats.expired_skipped += 1;
                    continue;
                }
                let mut shard = ks.db(db).lock(&key);
                // Inserting without a prior lookup: a duplicate replaces
                // the first copy, which shows as an unchanged key count.
                let before = shard.len();
                shard.put_entry(Shard::make_entry(&key, value, expire, opts.now_ms));
                if shard.len() == before {
                    return Err(RdbError::corrupt(format!(
                        "duplicate key '{}' in database {db}",
                        String::from_utf8_lossy(&key)
                    )));
                }
                stats.keys += 1;
            }
        }
        expire_at = 0;
    }
    // Version 5 added the CRC64 trailer; zero means `rdbchecksum no`.
    if version >= 5 {
        let end = inp.pos();
        let stored = u64::from_le_bytes(inp.array()?);
        let computed = crc64(&data[..end]);
        if stored != 0 && stored != computed {
            return Err(RdbError::Checksum { stored, computed });
        }
    }
    stats.consumed = inp.pos();
    Ok(stats)
}

/// Decodes a DUMP payload (value, 2-byte RDB version, CRC64) into a value
/// with the encoding Redis would give it under `enc`.
pub fn restore_value(payload: &[u8], enc: &Encodings) -> Result<Value, RdbError> {
    if payload.len() < 10 {
        return Err(RdbError::Truncated);
    }
    let (body, footer) = payload.split_at(payload.len() - 10);
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    if version > MAX_LOAD_VERSION {
        return Err(RdbError::Version(version as u32));
    }
    let stored = u64::from_le_bytes(footer[2..].try_into().expect("8 bytes"));
    let computed = crc64(&payload[..payload.len() - 8]);
    if stored != computed {
        return Err(RdbError::Checksum { stored, computed });
    }
    let mut inp = Input::new(body);
    let ty = inp.u8()?;
    read_value(&mut inp, ty, enc)
}

fn duplicate(what: &str) -> RdbError {
    RdbError::corrupt(format!("duplicate {what} detected"))
}

/// Reads one value of RDB type `ty`.
fn read_value(inp: &mut Input, ty: u8, enc: &Encodings) -> Result<Value, RdbError> {
    let hash_limits = hash::Limits {
        max_entries: enc.hash_max_listpack_entries,
        max_value: enc.hash_max_listpack_value,
    };
    let zset_limits = zset::Limits {
        max_entries: enc.zset_max_listpack_entries,
        max_value: enc.zset_max_listpack_value,
    };
    let hash_count_only = hash::Limits {
        max_value: usize::MAX,
        ..hash_limits
    };
    let zset_count_only = zset::Limits {
        max_value: usize::MAX,
        ..zset_limits
    };
    let max_intset = enc.set_max_intset_entries;
    let fill = enc.list_max_listpack_size;
    let value = match ty {
        types::STRING => return Ok(Value::string(&inp.string()?)),
        types::LIST => {
            let n = inp.count(1)?;
            let mut list = List::new(fill);
            for _ in 0..n {
                list.push_back(&inp.string()?);
            }
            Value::List(Box::new(list))
        }
        types::SET => {
            let n = inp.count(1)?;
            let mut set = Set::new();
            for _ in 0..n {
                if !set.add(&inp.string()?, max_intset) {
                    return Err(duplicate("set members"));
                }
            }
            Value::Set(Box::new(set))
        }
        types::ZSET | types::ZSET_2 => {
            let n = inp.count(2)?;
            let mut z = ZSet::new();
            for _ in 0..n {
                let member = inp.string()?;
                let score = if ty == types::ZSET {
                    inp.text_double()?
                } else {
                    inp.binary_double()?
                };
                if score.is_nan() {
                    return Err(RdbError::corrupt("zset with NaN score"));
                }
                if !z.set(&member, score, zset_limits) {
                    return Err(duplicate("zset members"));
                }
            }
            Value::ZSet(Box::new(z))
        }
        types::HASH => {
            let n = inp.count(2)?;
            let mut h = Hash::new();
            for _ in 0..n {
                let field = inp.string()?;
                let value = inp.string()?;
                if !h.set(&field, &value, hash_limits) {
                    return Err(duplicate("hash fields"));
                }
            }
            Value::Hash(Box::new(h))
        }
        types::HASH_ZIPMAP => {
            let blob = inp.string()?;
            let items: Vec<Item> = packed::zipmap(&blob)?
                .into_iter()
                .map(Item::Bytes)
                .collect();
            hash_from_items(&items, hash_limits)?
        }
        // Redis 7.0 converts a loaded ziplist or listpack hash or zset for
        // its length only: long strings keep the compact encoding.
        types::HASH_ZIPLIST => hash_from_items(&packed::ziplist(&inp.string()?)?, hash_count_only)?,
        types::HASH_LISTPACK => {
            hash_from_items(&packed::listpack(&inp.string()?)?, hash_count_only)?
        }
        types::LIST_ZIPLIST => {
            let mut list = List::new(fill);
            push_items(&mut list, &packed::ziplist(&inp.string()?)?);
            Value::List(Box::new(list))
        }
        types::LIST_QUICKLIST | types::LIST_QUICKLIST_2 => {
            let nodes = inp.count(2)?;
            let mut list = List::new(fill);
            for _ in 0..nodes {
                let container = if ty == types::LIST_QUICKLIST_2 {
                    inp.len()?
                } else {
                    container::PACKED
                };
                let blob = inp.string()?;
                match container {
                    container::PLAIN => list.push_back(&blob),
                    container::PACKED if ty == types::LIST_QUICKLIST => {
                        push_items(&mut list, &packed::ziplist(&blob)?)
                    }
                    container::PACKED => push_items(&mut list, &packed::listpack(&blob)?),
                    c => {
                        return Err(RdbError::corrupt(format!(
                            "unknown quicklist container {c}"
                        )))
                    }
                }
            }
            Value::List(Box::new(list))
        }
        types::SET_INTSET => {
            let mut set = Set::new();
            for v in packed::intset(&inp.string()?)? {
                set.add_elem(Elem::Int(v), max_intset);
            }
            Value::Set(Box::new(set))
        }
        types::SET_LISTPACK => {
            let mut set = Set::new();
            for item in packed::listpack(&inp.string()?)? {
                let elem = match item {
                    Item::Int(v) => Elem::Int(v),
                    Item::Bytes(b) => Elem::Bytes(b),
                };
                if !set.add_elem(elem, max_intset) {
                    return Err(duplicate("set members"));
                }
            }
            Value::Set(Box::new(set))
        }
        types::ZSET_ZIPLIST => zset_from_items(&packed::ziplist(&inp.string()?)?, zset_count_only)?,
        types::ZSET_LISTPACK => {
            zset_from_items(&packed::listpack(&inp.string()?)?, zset_count_only)?
        }
        types::MODULE_PRE_GA | types::MODULE_2 => {
            return Err(RdbError::Unsupported("module data type values".into()))
        }
        types::STREAM_LISTPACKS | types::STREAM_LISTPACKS_2 | types::STREAM_LISTPACKS_3 => {
            // An empty stream is a valid value (entries deleted, or
            // created by XGROUP CREATE … MKSTREAM).
            return Ok(Value::Stream(Box::new(stream::load(inp, ty)?)));
        }
        types::HASH_METADATA_PRE_GA..=types::HASH_LISTPACK_EX => {
            return Err(RdbError::Unsupported(
                "hashes with field expiration (Redis 7.4)".into(),
            ))
        }
        other => return Err(RdbError::corrupt(format!("unknown value type {other}"))),
    };
    let empty = match &value {
        Value::List(l) => l.is_empty(),
        Value::Set(s) => s.is_empty(),
        Value::ZSet(z) => z.is_empty(),
        Value::Hash(h) => h.is_empty(),
        _ => false,
    };
    if empty {
        return Err(RdbError::EmptyValue);
    }
    Ok(value)
}

fn push_items(list: &mut List, items: &[Item]) {
    let mut buf = itoa::Buffer::new();
    for item in items {
        list.push_back(item.bytes(&mut buf));
    }
}

fn hash_from_items(items: &[Item], limits: hash::Limits) -> Result<Value, RdbError> {
    if !items.len().is_multiple_of(2) {
        return Err(RdbError::corrupt("hash with an odd number of elements"));
    }
    let mut h = Hash::new();
    let (mut fb, mut vb) = (itoa::Buffer::new(), itoa::Buffer::new());
    for pair in items.chunks_exact(2) {
        if !h.set(pair[0].bytes(&mut fb), pair[1].bytes(&mut vb), limits) {
            return Err(duplicate("hash fields"));
        }
    }
    Ok(Value::Hash(Box::new(h)))
}

fn zset_from_items(items: &[Item], limits: zset::Limits) -> Result<Value, RdbError> {
    if !items.len().is_multiple_of(2) {
        return Err(RdbError::corrupt("zset with an odd number of elements"));
    }
    let mut z = ZSet::new();
    let mut buf = itoa::Buffer::new();
    for pair in items.chunks_exact(2) {
        let score = match pair[1] {
            Item::Int(v) => v as f64,
            Item::Bytes(b) => {
                parse_f64(b).ok_or_else(|| RdbError::corrupt("invalid zset score"))?
            }
        };
        if !z.set(pair[0].bytes(&mut buf), score, limits) {
            return Err(duplicate("zset members"));
        }
    }
    Ok(Value::ZSet(Box::new(z)))
}
