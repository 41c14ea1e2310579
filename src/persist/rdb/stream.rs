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
use super::{types, RdbError, SaveOptions};
use crate::config::Encodings;
use crate::types::stream::{NodeLimits, StreamId};
use crate::types::Stream;

const FLAG_DELETED: i64 = 1;
const FLAG_SAMEFIELDS: i64 = 2;
/// Redis's cap on one stream listpack (`STREAM_LISTPACK_MAX_SIZE`).
const LISTPACK_MAX: usize = 1 << 30;

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

/// Appends the live entries of one node to `stream`.
fn load_node(
    stream: &mut Stream,
    master: StreamId,
    blob: &[u8],
    limits: NodeLimits,
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
    let mut fields: Vec<Vec<u8>> = Vec::new();
    let mut buf = itoa::Buffer::new();
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
        if flags & FLAG_DELETED != 0 {
            continue;
        }
        if fields.is_empty() {
            return Err(corrupt("entry without fields"));
        }
        let first = stream.is_empty() && stream.entries_added == 0;
        if !first && id <= stream.last_id {
            return Err(corrupt("entry IDs out of order"));
        }
        let refs: Vec<&[u8]> = fields.iter().map(|f| f.as_slice()).collect();
        stream.append(id, &refs, limits);
    }
    Ok(())
}

/// Reads a stream value of RDB type `ty`.
pub(super) fn load(inp: &mut Input, ty: u8, enc: &Encodings) -> Result<Stream, RdbError> {
    let limits = NodeLimits {
        max_bytes: enc.stream_node_max_bytes,
        max_entries: enc.stream_node_max_entries,
    };
    let mut stream = Stream::new();
    let nodes = inp.count(2)?;
    for _ in 0..nodes {
        let key = inp.string()?;
        let master = id_from_key(&key)?;
        let blob = inp.string()?;
        load_node(&mut stream, master, &blob, limits)?;
    }
    let length = inp.len()?;
    if length != stream.len() as u64 {
        return Err(corrupt("length does not match its entries"));
    }
    let last_id = read_len_id(inp)?;
    if !stream.is_empty() && last_id < stream.last_id {
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

/// One node being built: its master ID and fields, and its entries.
struct NodeBuilder {
    master: StreamId,
    master_fields: Vec<Vec<u8>>,
    body: ListpackWriter,
    entries: usize,
}

impl NodeBuilder {
    /// Bytes of the finished listpack if it ended now, which is what
    /// Redis compares with `stream-node-max-bytes` before an append.
    fn lp_bytes(&self) -> usize {
        let mut ib = itoa::Buffer::new();
        let master = packed::entry_size(ib.format(self.entries).as_bytes())
            + packed::entry_size(b"0")
            + packed::entry_size(ib.format(self.master_fields.len()).as_bytes())
            + self
                .master_fields
                .iter()
                .map(|f| packed::entry_size(f))
                .sum::<usize>()
            + packed::entry_size(b"0");
        // The body's writer holds the 6-byte header; add the end byte.
        self.body.len() + master + 1
    }

    fn finish(self) -> (StreamId, Vec<u8>) {
        // The master entry goes first, but its live count is known only
        // now: write it, then the entries' items.
        let mut lp = ListpackWriter::new();
        lp.push_int(self.entries as i64);
        lp.push_int(0);
        lp.push_int(self.master_fields.len() as i64);
        for f in &self.master_fields {
            lp.push(f);
        }
        lp.push_int(0);
        lp.append(self.body);
        (self.master, lp.finish())
    }
}

/// Writes `stream` as type 19 (`STREAM_LISTPACKS_2`), with nodes cut
/// where Redis's `stream-node-max-*` rule cuts them.
pub(super) fn save(buf: &mut Vec<u8>, stream: &Stream, opts: &SaveOptions) {
    let compress = opts.compression;
    let max_entries = opts.stream_node_max_entries;
    let max_bytes = match opts.stream_node_max_bytes {
        0 => LISTPACK_MAX,
        b => b.min(LISTPACK_MAX),
    };
    let mut nodes: Vec<(StreamId, Vec<u8>)> = Vec::new();
    let mut cur: Option<NodeBuilder> = None;
    stream.walk(StreamId::MIN, StreamId::MAX, false, |e| {
        let pairs: Vec<(&[u8], &[u8])> = e.fields().collect();
        let payload: usize = pairs.iter().map(|(f, v)| f.len() + v.len()).sum();
        if let Some(node) = &cur {
            let lp_bytes = node.lp_bytes();
            let full =
                lp_bytes + payload >= max_bytes || (max_entries > 0 && node.entries >= max_entries);
            if full {
                nodes.push(cur.take().expect("checked").finish());
            }
        }
        let node = cur.get_or_insert_with(|| NodeBuilder {
            master: e.id,
            master_fields: pairs.iter().map(|(f, _)| f.to_vec()).collect(),
            body: ListpackWriter::new(),
            entries: 0,
        });
        let same = node.master_fields.len() == pairs.len()
            && node
                .master_fields
                .iter()
                .zip(&pairs)
                .all(|(m, (f, _))| m == f);
        let lp = &mut node.body;
        lp.push_int(if same { FLAG_SAMEFIELDS } else { 0 });
        lp.push_int(e.id.ms.wrapping_sub(node.master.ms) as i64);
        lp.push_int(e.id.seq.wrapping_sub(node.master.seq) as i64);
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
        node.entries += 1;
        true
    });
    if let Some(node) = cur {
        nodes.push(node.finish());
    }
    write_len(buf, nodes.len() as u64);
    for (master, lp) in &nodes {
        write_string(buf, &raw_id(*master), compress);
        write_string(buf, lp, compress);
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
