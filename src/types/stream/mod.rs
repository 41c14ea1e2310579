//! The stream value type: entries ordered by ID (`ms-seq`), stored in
//! nodes of up to `stream-node-max-entries` entries / `stream-node-max-bytes`
//! listpack bytes ([`node::Node`], one buffer each) indexed by a B-tree on
//! their first ID, plus the consumer groups ([`group::Group`]).
//!
//! Node boundaries follow Redis's exactly, because approximate trimming
//! (`MAXLEN ~`, `MINID ~`) removes whole nodes only, and its observable
//! result depends on where they fall.

pub mod group;
pub mod node;

use std::collections::BTreeMap;
use std::fmt;

pub use group::{Consumer, Group, Pending};
pub use node::{Node, Pairs, RawEntry};

/// A stream entry ID.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    /// Milliseconds part.
    pub ms: u64,
    /// Sequence part.
    pub seq: u64,
}

impl StreamId {
    /// `0-0`.
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    /// The largest ID.
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    /// An ID from its parts.
    pub const fn new(ms: u64, seq: u64) -> Self {
        StreamId { ms, seq }
    }

    /// Whether this is `0-0`.
    pub fn is_zero(&self) -> bool {
        *self == Self::MIN
    }

    /// The next ID, `None` past the maximum.
    pub fn next(&self) -> Option<StreamId> {
        match self.seq.checked_add(1) {
            Some(seq) => Some(StreamId::new(self.ms, seq)),
            None => self.ms.checked_add(1).map(|ms| StreamId::new(ms, 0)),
        }
    }

    /// The previous ID, `None` below `0-0`.
    pub fn prev(&self) -> Option<StreamId> {
        match self.seq.checked_sub(1) {
            Some(seq) => Some(StreamId::new(self.ms, seq)),
            None => self.ms.checked_sub(1).map(|ms| StreamId::new(ms, u64::MAX)),
        }
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// Node size limits (`stream-node-max-bytes`, `stream-node-max-entries`;
/// zero means unlimited).
#[derive(Clone, Copy, Debug)]
pub struct NodeLimits {
    /// Listpack bytes after which a new node starts.
    pub max_bytes: usize,
    /// Entries (tombstones included) after which a new node starts.
    pub max_entries: usize,
}

/// Redis's hard cap on a stream listpack (`STREAM_LISTPACK_MAX_SIZE`).
const LISTPACK_MAX: usize = 1 << 30;

/// What to trim by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trim {
    /// Keep at most this many entries.
    MaxLen(u64),
    /// Remove entries with IDs below this one.
    MinId(StreamId),
}

/// A live entry.
#[derive(Clone)]
pub struct Entry<'a> {
    /// Its ID.
    pub id: StreamId,
    pairs: Pairs<'a>,
}

impl<'a> Entry<'a> {
    /// Its field/value pairs, in insertion order.
    pub fn fields(&self) -> Pairs<'a> {
        self.pairs.clone()
    }

    /// Number of field/value pairs.
    pub fn len(&self) -> usize {
        self.pairs.clone().count()
    }

    /// Whether the entry has no fields (never true for XADD entries).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A stream.
#[derive(Clone, Default)]
pub struct Stream {
    nodes: BTreeMap<StreamId, Node>,
    len: usize,
    /// ID of the last entry ever added (or set by XSETID).
    pub last_id: StreamId,
    /// Highest ID ever deleted (XDEL), for the lag computations.
    pub max_deleted_id: StreamId,
    /// Entries ever added (XADD count, or set by XSETID).
    pub entries_added: u64,
    groups: BTreeMap<Vec<u8>, Group>,
}

impl Stream {
    /// An empty stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Live entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no live entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `OBJECT ENCODING` name.
    pub fn encoding(&self) -> &'static str {
        "stream"
    }

    /// Approximate heap bytes held.
    pub fn heap_size(&self) -> usize {
        let nodes: usize = self
            .nodes
            .values()
            .map(|n| n.heap_size() + std::mem::size_of::<Node>() + 16)
            .sum();
        nodes + self.groups.values().map(Group::heap_size).sum::<usize>()
    }

    /// Number of nodes, i.e. listpacks (`radix-tree-keys` in XINFO).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Nodes of the radix tree Redis would keep for this stream's node
    /// keys (`radix-tree-nodes` in XINFO STREAM): the root, every
    /// branching point, every child of a branching point, and every leaf
    /// of the trie of 16-byte big-endian keys with single-child chains
    /// compressed.
    pub fn rax_nodes(&self) -> usize {
        fn count(keys: &[[u8; 16]], depth: usize, starts_node: bool) -> usize {
            if depth == 16 {
                return 1;
            }
            let mut groups = Vec::new();
            let mut from = 0;
            for i in 1..=keys.len() {
                if i == keys.len() || keys[i][depth] != keys[from][depth] {
                    groups.push(&keys[from..i]);
                    from = i;
                }
            }
            match groups.len() {
                0 => 1,
                1 => starts_node as usize + count(groups[0], depth + 1, false),
                _ => {
                    1 + groups
                        .iter()
                        .map(|g| count(g, depth + 1, true))
                        .sum::<usize>()
                }
            }
        }
        let keys: Vec<[u8; 16]> = self
            .nodes
            .keys()
            .map(|id| {
                let mut k = [0u8; 16];
                k[..8].copy_from_slice(&id.ms.to_be_bytes());
                k[8..].copy_from_slice(&id.seq.to_be_bytes());
                k
            })
            .collect();
        count(&keys, 0, true)
    }

    /// ID of the first live entry, `0-0` when empty.
    pub fn first_id(&self) -> StreamId {
        self.first_entry().map_or(StreamId::MIN, |e| e.id)
    }

    /// The first live entry.
    pub fn first_entry(&self) -> Option<Entry<'_>> {
        let mut found = None;
        self.walk(StreamId::MIN, StreamId::MAX, false, |e| {
            found = Some(e);
            false
        });
        found
    }

    /// The last live entry.
    pub fn last_entry(&self) -> Option<Entry<'_>> {
        let mut found = None;
        self.walk(StreamId::MIN, StreamId::MAX, true, |e| {
            found = Some(e);
            false
        });
        found
    }

    /// Calls `f` on live entries with IDs in `start..=end`, ascending (or
    /// descending when `rev`), until it returns false.
    pub fn walk<'a>(
        &'a self,
        start: StreamId,
        end: StreamId,
        rev: bool,
        mut f: impl FnMut(Entry<'a>) -> bool,
    ) {
        if start > end {
            return;
        }
        if !rev {
            // The node holding `start` begins at or before it.
            let from = self
                .nodes
                .range(..=start)
                .next_back()
                .map_or(start, |(k, _)| *k);
            for (key, node) in self.nodes.range(from..) {
                if *key > end {
                    return;
                }
                for slot in node.slots() {
                    if slot.id > end {
                        return;
                    }
                    if slot.deleted || slot.id < start {
                        continue;
                    }
                    let entry = Entry {
                        id: slot.id,
                        pairs: node.pairs(&slot),
                    };
                    if !f(entry) {
                        return;
                    }
                }
            }
        } else {
            for (_, node) in self.nodes.range(..=end).rev() {
                if node.last < start {
                    return;
                }
                let slots: Vec<_> = node.slots().collect();
                for slot in slots.iter().rev() {
                    if slot.id < start {
                        return;
                    }
                    if slot.deleted || slot.id > end {
                        continue;
                    }
                    let entry = Entry {
                        id: slot.id,
                        pairs: node.pairs(slot),
                    };
                    if !f(entry) {
                        return;
                    }
                }
            }
        }
    }

    /// Up to `count` (0 = all) live entries in `start..=end`.
    pub fn range(&self, start: StreamId, end: StreamId, rev: bool, count: usize) -> Vec<Entry<'_>> {
        let mut out = Vec::new();
        self.walk(start, end, rev, |e| {
            out.push(e);
            count == 0 || out.len() < count
        });
        out
    }

    /// The live entry `id`.
    pub fn get(&self, id: StreamId) -> Option<Entry<'_>> {
        self.range(id, id, false, 1).pop()
    }

    /// Appends an entry; `id` must be greater than [`Stream::last_id`] and
    /// `fields` a non-empty flat list of field/value pairs.
    pub fn append(&mut self, id: StreamId, fields: &[&[u8]], limits: NodeLimits) {
        debug_assert!(id > self.last_id || (self.last_id.is_zero() && self.entries_added == 0));
        let payload: usize = fields.iter().map(|f| f.len()).sum();
        let max_bytes = match limits.max_bytes {
            0 => LISTPACK_MAX,
            b => b.min(LISTPACK_MAX),
        };
        let tail = self
            .nodes
            .iter_mut()
            .next_back()
            .and_then(|(master, node)| {
                // Redis starts a new node when the tail's listpack plus the new
                // payload would reach the byte limit, or it holds the maximum
                // number of entries (tombstones count).
                let full = node.lp_bytes() + payload >= max_bytes
                    || (limits.max_entries > 0 && node.total() >= limits.max_entries);
                if full {
                    // A sealed node never grows again: drop spare capacity.
                    node.shrink();
                    return None;
                }
                Some((*master, node))
            });
        match tail {
            Some((master, node)) => node.append(master, id, fields),
            None => {
                self.nodes.insert(id, Node::new(id, fields));
            }
        }
        self.len += 1;
        self.entries_added += 1;
        self.last_id = id;
    }

    /// Deletes the live entry `id` (XDEL), recording it as the highest
    /// deleted ID when it is. Returns whether it existed.
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some((&master, node)) = self.nodes.range_mut(..=id).next_back() else {
            return false;
        };
        let Some(slot) = node.slots().find(|s| s.id == id && !s.deleted) else {
            return false;
        };
        node.delete_at(slot.pos);
        if node.live == 0 {
            self.nodes.remove(&master);
        }
        self.len -= 1;
        if id > self.max_deleted_id {
            self.max_deleted_id = id;
        }
        true
    }

    /// Trims from the head as Redis's `streamTrim`: whole nodes while they
    /// fit the goal; then, unless `approx`, tombstones inside the next node.
    /// `limit` (0 = none) caps the entries removed, in whole nodes.
    /// Returns the number of entries removed.
    pub fn trim(&mut self, how: Trim, approx: bool, limit: u64) -> u64 {
        let mut deleted: u64 = 0;
        loop {
            if let Trim::MaxLen(max) = how {
                if self.len as u64 <= max {
                    break;
                }
            }
            let Some((&master, node)) = self.nodes.iter_mut().next() else {
                break;
            };
            let entries = node.live as u64;
            if limit > 0 && deleted + entries > limit {
                break;
            }
            let remove = match how {
                Trim::MaxLen(max) => self.len as u64 - entries >= max,
                Trim::MinId(min) => node.last < min,
            };
            if remove {
                self.nodes.remove(&master);
                self.len -= entries as usize;
                deleted += entries;
                continue;
            }
            if approx {
                break;
            }
            let slots: Vec<_> = node.slots().collect();
            for slot in slots {
                let stop = match how {
                    Trim::MaxLen(max) => self.len as u64 <= max,
                    Trim::MinId(min) => slot.id >= min,
                };
                if stop {
                    break;
                }
                if node.delete_at(slot.pos) {
                    self.len -= 1;
                    deleted += 1;
                }
            }
            break;
        }
        deleted
    }

    /// The nodes with their first (master) IDs, in order: the layout
    /// Redis's RDB format stores, one listpack per node.
    pub fn raw_nodes(&self) -> impl Iterator<Item = (StreamId, &Node)> + '_ {
        self.nodes.iter().map(|(k, n)| (*k, n))
    }

    /// Rebuilds a stream node by node (RDB loading): appends entry `id`
    /// to the node whose master ID is `master`, starting that node when it
    /// is new, and marks it deleted when `deleted`. IDs must ascend;
    /// [`Stream::last_id`], [`Stream::entries_added`] and
    /// [`Stream::max_deleted_id`] are left for the caller to set.
    pub fn load_entry(&mut self, master: StreamId, id: StreamId, deleted: bool, fields: &[&[u8]]) {
        let node = match self.nodes.get_mut(&master) {
            Some(node) => {
                node.append(master, id, fields);
                node
            }
            None => self.nodes.entry(master).or_insert(Node::new(id, fields)),
        };
        self.len += 1;
        if deleted {
            if let Some(slot) = node.slots().last() {
                node.delete_at(slot.pos);
                self.len -= 1;
            }
        }
    }

    /// The consumer groups, by name.
    pub fn groups(&self) -> &BTreeMap<Vec<u8>, Group> {
        &self.groups
    }

    /// The group `name`.
    pub fn group(&self, name: &[u8]) -> Option<&Group> {
        self.groups.get(name)
    }

    /// The group `name`, mutable.
    pub fn group_mut(&mut self, name: &[u8]) -> Option<&mut Group> {
        self.groups.get_mut(name)
    }

    /// Adds a group; false if one with that name exists.
    pub fn create_group(
        &mut self,
        name: &[u8],
        last_id: StreamId,
        entries_read: Option<u64>,
    ) -> bool {
        if self.groups.contains_key(name) {
            return false;
        }
        self.groups
            .insert(name.to_vec(), Group::new(last_id, entries_read));
        true
    }

    /// Removes a group; false if absent.
    pub fn destroy_group(&mut self, name: &[u8]) -> bool {
        self.groups.remove(name).is_some()
    }

    /// Whether a tombstone may lie at or after `from` (Redis's
    /// `streamRangeHasTombstones` with an open end).
    fn has_tombstones_from(&self, from: StreamId) -> bool {
        if self.len == 0 || self.max_deleted_id.is_zero() {
            return false;
        }
        if self.first_id() > self.max_deleted_id {
            return false;
        }
        from <= self.max_deleted_id
    }

    /// The logical read counter of `id` (its distance from the first entry
    /// ever added) when it can be known, as Redis 7.0's
    /// `streamEstimateDistanceFromFirstEverEntry`.
    pub fn estimate_entries_read(&self, id: StreamId) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if self.len == 0 && id <= self.last_id {
            return Some(self.entries_added);
        }
        if id == self.last_id {
            return Some(self.entries_added);
        }
        if id > self.last_id {
            return None;
        }
        let first = self.first_id();
        if self.max_deleted_id.is_zero() || self.max_deleted_id < first {
            let base = self.entries_added - self.len as u64;
            if id < first {
                return Some(base);
            }
            if id == first {
                return Some(base + 1);
            }
        }
        None
    }

    /// The group's lag (entries not yet delivered), when known; negative
    /// when ENTRIESREAD was set past the entries added, as in Redis.
    pub fn lag(&self, group: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        let added = self.entries_added as i64;
        if let Some(read) = group.entries_read {
            if !self.has_tombstones_from(group.last_id) {
                return Some(added.wrapping_sub(read as i64));
            }
        }
        self.estimate_entries_read(group.last_id)
            .map(|read| added.wrapping_sub(read as i64))
    }

    /// Records that `group` delivered `id` (beyond its last ID) with `>`:
    /// advances its read counter as Redis 7.0 does.
    pub fn advance_group(&mut self, name: &[u8], id: StreamId) {
        let Some(g) = self.groups.get(name) else {
            return;
        };
        if id <= g.last_id {
            return;
        }
        let read = match g.entries_read {
            Some(n) if !self.has_tombstones_from(id) => Some(n + 1),
            // The counter is unknown or a tombstone lies ahead: estimate.
            _ if self.entries_added > 0 => self.estimate_entries_read(id),
            current => current,
        };
        if let Some(g) = self.groups.get_mut(name) {
            g.entries_read = read;
            g.last_id = id;
        }
    }
}

#[cfg(test)]
mod tests;
