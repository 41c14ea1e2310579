//! Streams in RDB: types 15, 19 and 21 (Redis 5, 7.0 and 7.2) load, and
//! we write type 19 as Redis 7.0 does.
//!
//! Entries are stored in listpack nodes keyed by their master ID (16
//! bytes, big-endian ms and seq). A node's listpack starts with the master
//! entry: live count, deleted count, the master field names and a 0. Each
//! entry follows as flags, ms and seq deltas from the master ID, then
//! either only the values (flag SAMEFIELDS: same fields as the master) or
//! a field count and the pairs, and finally its own element count so the
//! listpack can be walked backwards.

use std::collections::BTreeMap;

use super::input::Input;
use super::packed::{self, Item, ListpackWriter};
use super::save::{write_len, write_string};
use super::{types, RdbError};
use crate::types::stream::StreamId;
use crate::types::Stream;

const FLAG_DELETED: i64 = 1;
const FLAG_SAMEFIELDS: i64 = 2;

fn corrupt(what: &str) -> RdbError {
    RdbError::corrupt(format!("invalid stream: {what}"))
}

fn id_from_key(key: &[u8]) -> Result<StreamId, RdbError> {
    let key: [u8; 16] = key
        .try_into()
        .map_err(|_| corrupt("node key is not 16 bytes"))?;
    let (ms, seq) = key.split_at(8);
    Ok(StreamId::new(
        u64::from_be_bytes(ms.try_into().expect("8 bytes")),
        u64::from_be_bytes(seq.try_into().expect("8 bytes")),
    ))
}

fn read_raw_id(inp: &mut Input) -> Result<StreamId, RdbError> {
    id_from_key(&inp.array::<16>()?)
}

fn read_len_id(inp: &mut Input) -> Result<StreamId, RdbError> {
    Ok(StreamId::new(inp.len()?, inp.len()?))
}

/// Walks the items of one node's listpack.
struct Items<'a> {
    items: Vec<Item<'a>>,
    at: usize,
}

impl<'a> Items<'a> {
    fn next(&mut self) -> Result<Item<'a>, RdbError> {
        let item = *self
            .items
            .get(self.at)
            .ok_or_else(|| corrupt("listpack ends early"))?;
        self.at += 1;
        Ok(item)
    }

    fn int(&mut self) -> Result<i64, RdbError> {
        match self.next()? {
            Item::Int(v) => Ok(v),
            Item::Bytes(_) => Err(corrupt("integer expected in listpack")),
        }
    }

    fn count(&mut self) -> Result<usize, RdbError> {
        let n = self.int()?;
        if n < 0 || n as usize > self.items.len() {
            return Err(corrupt("count out of range"));
        }
        Ok(n as usize)
    }

    fn done(&self) -> bool {
        self.at == self.items.len()
    }
}

/// Adds the entries of one node, tombstones included, to `stream` as
/// one node keyed by `master`, so the node layout Redis had is kept
/// (approximate trimming works on whole nodes). `prev` is the last ID
/// seen so far: IDs must ascend across the whole stream.
fn load_node(
    stream: &mut Stream,
    master: StreamId,
    blob: &[u8],
    prev: &mut Option<StreamId>,
) -> Result<(), RdbError> {
    let mut it = Items {
        items: packed::listpack(blob)?,
        at: 0,
    };
    if it.items.is_empty() {
        return Err(corrupt("empty node listpack"));
    }
    let _live = it.count()?;
    let _deleted = it.count()?;
    let nmaster = it.count()?;
    let mut master_fields = Vec::with_capacity(nmaster);
    for _ in 0..nmaster {
        master_fields.push(it.next()?);
    }
    if it.int()? != 0 {
        return Err(corrupt("master entry terminator missing"));
    }
    if it.done() {
        return Err(corrupt("node without entries"));
    }
    let mut fields: Vec<Vec<u8>> = Vec::new();
    let mut buf = itoa::Buffer::new();
    let mut first = true;
    while !it.done() {
        let flags = it.int()?;
        let id = StreamId::new(
            master.ms.wrapping_add(it.int()? as u64),
            master.seq.wrapping_add(it.int()? as u64),
        );
        fields.clear();
        if flags & FLAG_SAMEFIELDS != 0 {
            for f in &master_fields {
                fields.push(f.bytes(&mut buf).to_vec());
                fields.push(it.next()?.bytes(&mut buf).to_vec());
            }
        } else {
            let n = it.count()?;
            for _ in 0..n * 2 {
                fields.push(it.next()?.bytes(&mut buf).to_vec());
            }
        }
        it.int()?;
        if fields.is_empty() {
            return Err(corrupt("entry without fields"));
        }
        // The node's key is its first entry's ID, and the master fields
        // are that entry's field names.
        if first && id != master {
            return Err(corrupt("node key differs from its first entry"));
        }
        first = false;
        if prev.is_some_and(|p| id <= p) {
            return Err(corrupt("entry IDs out of order"));
        }
        *prev = Some(id);
        let refs: Vec<&[u8]> = fields.iter().map(|f| f.as_slice()).collect();
        stream.load_entry(master, id, flags & FLAG_DELETED != 0, &refs);
    }
    Ok(())
}

/// Reads a stream value of RDB type `ty`.
pub(super) fn load(inp: &mut Input, ty: u8) -> Result<Stream, RdbError> {
    let mut stream = Stream::new();
    let nodes = inp.count(2)?;
    let mut prev = None;
    for _ in 0..nodes {
        let key = inp.string()?;
        let master = id_from_key(&key)?;
        let blob = inp.string()?;
        load_node(&mut stream, master, &blob, &mut prev)?;
    }
    let length = inp.len()?;
    if length != stream.len() as u64 {
        return Err(corrupt("length does not match its entries"));
    }
    let last_id = read_len_id(inp)?;
    if prev.is_some_and(|p| last_id < p) {
        return Err(corrupt("last ID below an entry's ID"));
    }
    stream.last_id = last_id;
    if ty == types::STREAM_LISTPACKS {
        // Before 7.0 nothing was deleted as far as the counters know.
        stream.entries_added = stream.len() as u64;
    } else {
        read_len_id(inp)?;
        stream.max_deleted_id = read_len_id(inp)?;
        stream.entries_added = inp.len()?;
        if stream.entries_added < stream.len() as u64 {
            return Err(corrupt("fewer entries added than present"));
        }
    }
    let groups = inp.count(3)?;
    for _ in 0..groups {
        let name = inp.string()?.into_owned();
        let last = read_len_id(inp)?;
        let entries_read = if ty == types::STREAM_LISTPACKS {
            stream.estimate_entries_read(last)
        } else {
            // A stored -1 (all bits set) means "unknown".
            Some(inp.len()?).filter(|&n| n != u64::MAX)
        };
        if !stream.create_group(&name, last, entries_read) {
            return Err(corrupt("duplicate consumer group"));
        }
        let pel_len = inp.count(17)?;
        let mut pel = BTreeMap::new();
        for _ in 0..pel_len {
            let id = read_raw_id(inp)?;
            let time = u64::from_le_bytes(inp.array()?);
            let count = inp.len()?;
            if pel.insert(id, (time, count)).is_some() {
                return Err(corrupt("duplicate pending entry"));
            }
        }
        let group = stream.group_mut(&name).expect("just created");
        let consumers = inp.count(9)?;
        for _ in 0..consumers {
            let cname = inp.string()?.into_owned();
            let seen = u64::from_le_bytes(inp.array()?);
            if ty == types::STREAM_LISTPACKS_3 {
                // Redis 7.2's separate "active time"; we keep one time.
                inp.array::<8>()?;
            }
            if !group.create_consumer(&cname, seen) {
                return Err(corrupt("duplicate consumer"));
            }
            let owned = inp.count(16)?;
            for _ in 0..owned {
                let id = read_raw_id(inp)?;
                let (time, count) = pel
                    .remove(&id)
                    .ok_or_else(|| corrupt("consumer owns an entry not pending in its group"))?;
                group.assign(id, &cname, time, count);
            }
        }
        if !pel.is_empty() {
            return Err(corrupt("pending entry without a consumer"));
        }
    }
    Ok(stream)
}

fn write_len_id(buf: &mut Vec<u8>, id: StreamId) {
    write_len(buf, id.ms);
    write_len(buf, id.seq);
}

fn raw_id(id: StreamId) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&id.ms.to_be_bytes());
    k[8..].copy_from_slice(&id.seq.to_be_bytes());
    k
}

/// Writes `stream` as type 19 (`STREAM_LISTPACKS_2`): one listpack per
/// node, tombstones included, exactly as Redis 7.0 lays them out.
pub(super) fn save(buf: &mut Vec<u8>, stream: &Stream, compress: bool) {
    let nodes: Vec<_> = stream.raw_nodes().collect();
    write_len(buf, nodes.len() as u64);
    for (master, node) in nodes {
        let mut entries = node.raw_entries().peekable();
        let master_fields: Vec<&[u8]> = entries
            .peek()
            .map(|e| e.fields.clone().map(|(f, _)| f).collect())
            .unwrap_or_default();
        let mut lp = ListpackWriter::new();
        lp.push_int(node.live_count() as i64);
        lp.push_int(node.deleted_count() as i64);
        lp.push_int(master_fields.len() as i64);
        for f in &master_fields {
            lp.push(f);
        }
        lp.push_int(0);
        for e in entries {
            let pairs: Vec<(&[u8], &[u8])> = e.fields.collect();
            let same = master_fields.len() == pairs.len()
                && master_fields.iter().zip(&pairs).all(|(m, (f, _))| m == f);
            let mut flags = if same { FLAG_SAMEFIELDS } else { 0 };
            if e.deleted {
                flags |= FLAG_DELETED;
            }
            lp.push_int(flags);
            lp.push_int(e.id.ms.wrapping_sub(master.ms) as i64);
            lp.push_int(e.id.seq.wrapping_sub(master.seq) as i64);
            if same {
                for (_, v) in &pairs {
                    lp.push(v);
                }
                lp.push_int(pairs.len() as i64 + 3);
            } else {
                lp.push_int(pairs.len() as i64);
                for (f, v) in &pairs {
                    lp.push(f);
                    lp.push(v);
                }
                lp.push_int(pairs.len() as i64 * 2 + 4);
            }
        }
        write_string(buf, &raw_id(master), compress);
        write_string(buf, &lp.finish(), compress);
    }
    write_len(buf, stream.len() as u64);
    write_len_id(buf, stream.last_id);
    write_len_id(buf, stream.first_id());
    write_len_id(buf, stream.max_deleted_id);
    write_len(buf, stream.entries_added);
    write_len(buf, stream.groups().len() as u64);
    for (name, g) in stream.groups() {
        write_string(buf, name, compress);
        write_len_id(buf, g.last_id);
        write_len(buf, g.entries_read.unwrap_or(u64::MAX));
        write_len(buf, g.pel.len() as u64);
        for (id, p) in &g.pel {
            buf.extend_from_slice(&raw_id(*id));
            buf.extend_from_slice(&p.delivery_time.to_le_bytes());
            write_len(buf, p.delivery_count);
        }
        write_len(buf, g.consumers.len() as u64);
        for (cname, c) in &g.consumers {
            write_string(buf, cname, compress);
            buf.extend_from_slice(&c.seen_time.to_le_bytes());
            write_len(buf, c.pel.len() as u64);
            for id in &c.pel {
                buf.extend_from_slice(&raw_id(*id));
            }
        }
    }
}
