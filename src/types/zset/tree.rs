//! The large `skiplist` encoding: an order-statistics tree (a treap whose
//! nodes count their subtree) ordered by (score, member) for O(log n) rank
//! and range queries, plus a member -> score [`Dict`] for O(1) lookups and
//! ZSCAN's cursor guarantee, like Redis's skiplist + dict pair.

use std::cmp::Ordering;

use super::pack::cmp_entry;
use crate::keyspace::dict::{Dict, Keyed};

const NIL: u32 = u32::MAX;

struct Node {
    member: Box<[u8]>,
    score: f64,
    left: u32,
    right: u32,
    size: u32,
    prio: u32,
}

/// A member and its score, as stored in the lookup table.
pub struct Scored {
    member: Box<[u8]>,
    /// The member's score.
    pub score: f64,
}

impl Keyed for Scored {
    fn key(&self) -> &[u8] {
        &self.member
    }
}

impl Scored {
    /// The member.
    pub fn member(&self) -> &[u8] {
        &self.member
    }
}

/// Order-statistics tree plus member index.
pub struct Tree {
    nodes: Vec<Node>,
    free: Vec<u32>,
    root: u32,
    seed: u64,
    dict: Dict<Scored>,
}

impl Clone for Tree {
    fn clone(&self) -> Self {
        let mut t = Tree::new();
        for (m, s) in self.range(0, self.len()) {
            t.insert_new(m, s);
        }
        t
    }
}

impl Default for Tree {
    fn default() -> Self {
        Self::new()
    }
}

impl Tree {
    /// An empty tree.
    pub fn new() -> Self {
        Tree {
            nodes: Vec::new(),
            free: Vec::new(),
            root: NIL,
            seed: 0x9E37_79B9_7F4A_7C15,
            dict: Dict::new(),
        }
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.dict.len()
    }

    /// Whether it holds no member.
    pub fn is_empty(&self) -> bool {
        self.dict.is_empty()
    }

    /// Approximate heap bytes used.
    pub fn heap_size(&self) -> usize {
        let members: usize = self.dict.iter().map(|s| 2 * s.member.len()).sum();
        self.nodes.capacity() * std::mem::size_of::<Node>()
            + self.free.capacity() * 4
            + self.dict.buckets() * 8
            + self.dict.len() * 48
            + members
    }

    /// The member index (for ZSCAN).
    pub fn dict(&self) -> &Dict<Scored> {
        &self.dict
    }

    fn size(&self, t: u32) -> u32 {
        if t == NIL {
            0
        } else {
            self.nodes[t as usize].size
        }
    }

    fn update(&mut self, t: u32) {
        let n = &self.nodes[t as usize];
        let size = 1 + self.size(n.left) + self.size(n.right);
        self.nodes[t as usize].size = size;
    }

    fn next_prio(&mut self) -> u32 {
        // xorshift64*: cheap, good enough to keep the treap balanced.
        self.seed ^= self.seed >> 12;
        self.seed ^= self.seed << 25;
        self.seed ^= self.seed >> 27;
        (self.seed.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as u32
    }

    fn merge(&mut self, a: u32, b: u32) -> u32 {
        if a == NIL {
            return b;
        }
        if b == NIL {
            return a;
        }
        if self.nodes[a as usize].prio > self.nodes[b as usize].prio {
            let r = self.nodes[a as usize].right;
            let m = self.merge(r, b);
            self.nodes[a as usize].right = m;
            self.update(a);
            a
        } else {
            let l = self.nodes[b as usize].left;
            let m = self.merge(a, l);
            self.nodes[b as usize].left = m;
            self.update(b);
            b
        }
    }

    /// Splits `t` into (nodes for which `before` holds, the rest);
    /// `before` must be monotone over the order.
    fn split_by(&mut self, t: u32, before: &impl Fn(f64, &[u8]) -> bool) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        let n = &self.nodes[t as usize];
        let (left, right) = (n.left, n.right);
        if before(n.score, &n.member) {
            let (l, r) = self.split_by(right, before);
            self.nodes[t as usize].right = l;
            self.update(t);
            (t, r)
        } else {
            let (l, r) = self.split_by(left, before);
            self.nodes[t as usize].left = r;
            self.update(t);
            (l, t)
        }
    }

    /// Splits `t` into its first `k` nodes and the rest.
    fn split_at(&mut self, t: u32, k: u32) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        let left = self.nodes[t as usize].left;
        let ls = self.size(left);
        if k <= ls {
            let (l, r) = self.split_at(left, k);
            self.nodes[t as usize].left = r;
            self.update(t);
            (l, t)
        } else {
            let right = self.nodes[t as usize].right;
            let (l, r) = self.split_at(right, k - ls - 1);
            self.nodes[t as usize].right = l;
            self.update(t);
            (t, r)
        }
    }

    fn alloc(&mut self, member: &[u8], score: f64) -> u32 {
        let node = Node {
            member: member.into(),
            score,
            left: NIL,
            right: NIL,
            size: 1,
            prio: self.next_prio(),
        };
        match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        }
    }

    /// Frees the nodes of subtree `t`, appending its pairs in order.
    fn release(&mut self, t: u32, out: &mut Vec<(Box<[u8]>, f64)>) {
        if t == NIL {
            return;
        }
        let (l, r) = (self.nodes[t as usize].left, self.nodes[t as usize].right);
        self.release(l, out);
        let member = std::mem::take(&mut self.nodes[t as usize].member);
        self.dict.remove(&member);
        out.push((member, self.nodes[t as usize].score));
        self.free.push(t);
        self.release(r, out);
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.dict.get(member).map(|s| s.score)
    }

    /// Inserts a member known to be absent.
    pub fn insert_new(&mut self, member: &[u8], score: f64) {
        let n = self.alloc(member, score);
        self.root = self.insert_node(self.root, n);
        self.dict.insert_new(Scored {
            member: member.into(),
            score,
        });
    }

    /// Inserts node `n` into subtree `t`: one descent to where `n`'s
    /// priority belongs, then a split of the (small, on average) subtree
    /// below it.
    fn insert_node(&mut self, t: u32, n: u32) -> u32 {
        if t == NIL {
            return n;
        }
        let (score, prio) = (self.nodes[n as usize].score, self.nodes[n as usize].prio);
        if prio > self.nodes[t as usize].prio {
            let member = std::mem::take(&mut self.nodes[n as usize].member);
            let (l, r) = self.split_by(t, &|s, m| {
                cmp_entry((s, m), (score, &member)) == Ordering::Less
            });
            let node = &mut self.nodes[n as usize];
            node.member = member;
            node.left = l;
            node.right = r;
            self.update(n);
            return n;
        }
        let goes_left = {
            let (tn, nn) = (&self.nodes[t as usize], &self.nodes[n as usize]);
            cmp_entry((nn.score, &nn.member), (tn.score, &tn.member)) == Ordering::Less
        };
        if goes_left {
            let l = self.nodes[t as usize].left;
            let child = self.insert_node(l, n);
            self.nodes[t as usize].left = child;
        } else {
            let r = self.nodes[t as usize].right;
            let child = self.insert_node(r, n);
            self.nodes[t as usize].right = child;
        }
        self.update(t);
        t
    }

    /// Removes the node ordered at (`score`, `member`) from subtree `t`,
    /// replacing it by the merge of its children; returns the new root.
    fn erase(&mut self, t: u32, score: f64, member: &[u8]) -> u32 {
        if t == NIL {
            return NIL;
        }
        let order = {
            let tn = &self.nodes[t as usize];
            cmp_entry((score, member), (tn.score, &tn.member))
        };
        match order {
            Ordering::Equal => {
                let (l, r) = (self.nodes[t as usize].left, self.nodes[t as usize].right);
                self.nodes[t as usize].member = Box::default();
                self.free.push(t);
                self.merge(l, r)
            }
            Ordering::Less => {
                let l = self.nodes[t as usize].left;
                let child = self.erase(l, score, member);
                self.nodes[t as usize].left = child;
                self.update(t);
                t
            }
            Ordering::Greater => {
                let r = self.nodes[t as usize].right;
                let child = self.erase(r, score, member);
                self.nodes[t as usize].right = child;
                self.update(t);
                t
            }
        }
    }

    /// Removes `member`, returning its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let score = self.dict.remove(member)?.score;
        self.root = self.erase(self.root, score, member);
        if self.dict.is_empty() {
            self.nodes = Vec::new();
            self.free = Vec::new();
        }
        Some(score)
    }

    /// Number of members for which `before` holds (a monotone predicate
    /// over the order: true for a prefix).
    pub fn partition_point(&self, before: impl Fn(f64, &[u8]) -> bool) -> usize {
        let mut t = self.root;
        let mut count = 0;
        while t != NIL {
            let n = &self.nodes[t as usize];
            if before(n.score, &n.member) {
                count += self.size(n.left) as usize + 1;
                t = n.right;
            } else {
                t = n.left;
            }
        }
        count
    }

    fn rank_of(&self, member: &[u8], score: f64) -> usize {
        self.partition_point(|s, m| cmp_entry((s, m), (score, member)) == Ordering::Less)
    }

    /// The 0-based ascending rank of `member`.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        Some(self.rank_of(member, score))
    }

    /// The pair at rank `rank`.
    pub fn get(&self, mut rank: usize) -> Option<(&[u8], f64)> {
        let mut t = self.root;
        while t != NIL {
            let n = &self.nodes[t as usize];
            let ls = self.size(n.left) as usize;
            match rank.cmp(&ls) {
                Ordering::Less => t = n.left,
                Ordering::Equal => return Some((&n.member, n.score)),
                Ordering::Greater => {
                    rank -= ls + 1;
                    t = n.right;
                }
            }
        }
        None
    }

    /// The pairs of ranks `start..end` in order.
    pub fn range(&self, start: usize, end: usize) -> Vec<(&[u8], f64)> {
        let mut out = Vec::with_capacity(end.saturating_sub(start));
        self.collect(self.root, 0, start, end, &mut out);
        out
    }

    fn collect<'a>(
        &'a self,
        t: u32,
        base: usize,
        start: usize,
        end: usize,
        out: &mut Vec<(&'a [u8], f64)>,
    ) {
        if t == NIL || start >= end {
            return;
        }
        let n = &self.nodes[t as usize];
        let here = base + self.size(n.left) as usize;
        if start < here {
            self.collect(n.left, base, start, end, out);
        }
        if start <= here && here < end {
            out.push((&n.member, n.score));
        }
        if here + 1 < end {
            self.collect(n.right, here + 1, start, end, out);
        }
    }

    /// Removes ranks `start..end`, returning the removed pairs in order.
    pub fn remove_ranks(&mut self, start: usize, end: usize) -> Vec<(Box<[u8]>, f64)> {
        let (l, rest) = self.split_at(self.root, start as u32);
        let (mid, r) = self.split_at(rest, (end - start) as u32);
        let mut out = Vec::with_capacity(end - start);
        self.release(mid, &mut out);
        self.root = self.merge(l, r);
        if self.dict.is_empty() {
            self.nodes = Vec::new();
            self.free = Vec::new();
        }
        out
    }
}
