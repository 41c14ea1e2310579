use super::*;
use proptest::prelude::*;

const LIMITS: NodeLimits = NodeLimits {
    max_bytes: 4096,
    max_entries: 100,
};

fn add(s: &mut Stream, ms: u64, seq: u64) {
    let v = format!("v{ms}");
    s.append(StreamId::new(ms, seq), &[b"f", v.as_bytes()], LIMITS);
}

fn ids(s: &Stream) -> Vec<StreamId> {
    s.range(StreamId::MIN, StreamId::MAX, false, 0)
        .iter()
        .map(|e| e.id)
        .collect()
}

#[test]
fn nodes_split_at_max_entries() {
    let mut s = Stream::new();
    for i in 1..=250 {
        add(&mut s, i, 0);
    }
    assert_eq!(s.node_count(), 3);
    // MAXLEN ~ 120 can only drop the first whole node of 100.
    assert_eq!(s.trim(Trim::MaxLen(120), true, 0), 100);
    assert_eq!(s.len(), 150);
    assert_eq!(s.first_id(), StreamId::new(101, 0));
    // Exact trimming marks tombstones inside the next node.
    assert_eq!(s.trim(Trim::MaxLen(120), false, 0), 30);
    assert_eq!(s.first_id(), StreamId::new(131, 0));
    assert_eq!(s.trim(Trim::MinId(StreamId::new(201, 0)), false, 0), 70);
    assert_eq!(ids(&s).len(), 50);
}

#[test]
fn node_layout_survives_a_raw_copy() {
    let mut s = Stream::new();
    for i in 1..=230 {
        let v = format!("{i}");
        let fields: &[&[u8]] = if i % 7 == 0 {
            &[b"other", v.as_bytes()]
        } else {
            &[b"f", v.as_bytes()]
        };
        s.append(StreamId::new(i, 0), fields, LIMITS);
    }
    s.delete(StreamId::new(5, 0));
    s.trim(Trim::MaxLen(200), false, 0);
    let mut copy = Stream::new();
    for (master, node) in s.raw_nodes() {
        for e in node.raw_entries() {
            let flat: Vec<&[u8]> = e.fields.flat_map(|(f, v)| [f, v]).collect();
            copy.load_entry(master, e.id, e.deleted, &flat);
        }
    }
    assert_eq!(copy.len(), s.len());
    assert_eq!(ids(&copy), ids(&s));
    let layout = |s: &Stream| -> Vec<(StreamId, usize, usize, usize)> {
        s.raw_nodes()
            .map(|(m, n)| (m, n.live_count(), n.deleted_count(), n.lp_bytes()))
            .collect()
    };
    assert_eq!(layout(&copy), layout(&s));
}

#[test]
fn entries_keep_fields_and_reverse_order() {
    let mut s = Stream::new();
    s.append(StreamId::new(1, 0), &[b"a", b"1", b"b", b"2"], LIMITS);
    s.append(StreamId::new(1, 1), &[b"a", b"3", b"b", b"4"], LIMITS);
    s.append(StreamId::new(2, 0), &[b"x", b""], LIMITS);
    let rev = s.range(StreamId::MIN, StreamId::MAX, true, 2);
    assert_eq!(rev[0].id, StreamId::new(2, 0));
    assert_eq!(
        rev[1].fields().collect::<Vec<_>>(),
        vec![(&b"a"[..], &b"3"[..]), (&b"b"[..], &b"4"[..])]
    );
    assert!(s.delete(StreamId::new(1, 1)));
    assert!(!s.delete(StreamId::new(1, 1)));
    assert_eq!(s.max_deleted_id, StreamId::new(1, 1));
    assert_eq!(s.len(), 2);
    assert_eq!(s.last_entry().unwrap().id, StreamId::new(2, 0));
}

#[test]
fn lag_bookkeeping() {
    let mut s = Stream::new();
    for i in 1..=5 {
        add(&mut s, i, 0);
    }
    s.create_group(b"g", StreamId::MIN, None);
    assert_eq!(s.lag(s.group(b"g").unwrap()), Some(5));
    s.advance_group(b"g", StreamId::new(1, 0));
    assert_eq!(s.group(b"g").unwrap().entries_read, Some(1));
    s.delete(StreamId::new(3, 0));
    assert_eq!(s.lag(s.group(b"g").unwrap()), None);
    s.advance_group(b"g", StreamId::new(2, 0));
    assert_eq!(s.group(b"g").unwrap().entries_read, None);
    s.advance_group(b"g", StreamId::new(4, 0));
    s.advance_group(b"g", StreamId::new(5, 0));
    assert_eq!(s.group(b"g").unwrap().entries_read, Some(5));
    assert_eq!(s.lag(s.group(b"g").unwrap()), Some(0));
}

#[derive(Debug, Clone)]
enum Op {
    Add(u8),
    Del(u8),
    TrimLen(u8, bool),
    TrimId(u8, bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (1u8..8).prop_map(Op::Add),
        2 => any::<u8>().prop_map(Op::Del),
        1 => (any::<u8>(), any::<bool>()).prop_map(|(n, a)| Op::TrimLen(n, a)),
        1 => (any::<u8>(), any::<bool>()).prop_map(|(n, a)| Op::TrimId(n, a)),
    ]
}

proptest! {
    #[test]
    fn matches_btreemap(ops in prop::collection::vec(op(), 1..300), max_entries in 1usize..8) {
        let limits = NodeLimits { max_bytes: 200, max_entries };
        let mut s = Stream::new();
        let mut model: BTreeMap<StreamId, Vec<u8>> = BTreeMap::new();
        let mut next = 0u64;
        for op in ops {
            match op {
                Op::Add(width) => {
                    next += 1;
                    let id = StreamId::new(next / 3, next % 3);
                    let v = vec![b'x'; width as usize * 10];
                    s.append(id, &[b"f", &v], limits);
                    model.insert(id, v);
                }
                Op::Del(n) => {
                    let id = StreamId::new(n as u64 / 3, n as u64 % 3);
                    prop_assert_eq!(s.delete(id), model.remove(&id).is_some());
                }
                Op::TrimLen(n, approx) => {
                    let removed = s.trim(Trim::MaxLen(n as u64), approx, 0);
                    let expect = model.len().saturating_sub(n as usize) as u64;
                    if approx {
                        prop_assert!(removed <= expect);
                    } else {
                        prop_assert_eq!(removed, expect);
                    }
                    for _ in 0..removed {
                        let first = *model.keys().next().unwrap();
                        model.remove(&first);
                    }
                }
                Op::TrimId(n, approx) => {
                    let min = StreamId::new(n as u64 / 3, n as u64 % 3);
                    let removed = s.trim(Trim::MinId(min), approx, 0);
                    let below = model.range(..min).count() as u64;
                    if approx {
                        prop_assert!(removed <= below);
                    } else {
                        prop_assert_eq!(removed, below);
                    }
                    for _ in 0..removed {
                        let first = *model.keys().next().unwrap();
                        model.remove(&first);
                    }
                }
            }
            prop_assert_eq!(s.len(), model.len());
            let got: Vec<(StreamId, Vec<u8>)> = s
                .range(StreamId::MIN, StreamId::MAX, false, 0)
                .iter()
                .map(|e| (e.id, e.fields().next().unwrap().1.to_vec()))
                .collect();
            let want: Vec<(StreamId, Vec<u8>)> = model.iter().map(|(k, v)| (*k, v.clone())).collect();
            prop_assert_eq!(&got, &want);
            let mut rev: Vec<StreamId> = s.range(StreamId::MIN, StreamId::MAX, true, 0).iter().map(|e| e.id).collect();
            rev.reverse();
            prop_assert_eq!(rev, model.keys().copied().collect::<Vec<_>>());
        }
    }
}

#[derive(Debug, Clone)]
enum GroupOp {
    Deliver(u8, u8),
    Ack(u8),
    DropConsumer(u8),
}

fn group_op() -> impl Strategy<Value = GroupOp> {
    prop_oneof![
        4 => (0u8..20, 0u8..3).prop_map(|(id, c)| GroupOp::Deliver(id, c)),
        2 => (0u8..20).prop_map(GroupOp::Ack),
        1 => (0u8..3).prop_map(GroupOp::DropConsumer),
    ]
}

proptest! {
    /// The group PEL and the consumers' PELs stay consistent with a
    /// simple map from ID to owner.
    #[test]
    fn group_pel_matches_model(ops in prop::collection::vec(group_op(), 1..200)) {
        let mut g = Group::new(StreamId::MIN, None);
        let mut model: BTreeMap<StreamId, u8> = BTreeMap::new();
        for op in ops {
            match op {
                GroupOp::Deliver(id, c) => {
                    let id = StreamId::new(id as u64, 0);
                    g.touch_consumer(&[c], 1);
                    let count = g.pel.get(&id).map_or(1, |p| p.delivery_count + 1);
                    g.assign(id, &[c], 5, count);
                    model.insert(id, c);
                }
                GroupOp::Ack(id) => {
                    let id = StreamId::new(id as u64, 0);
                    prop_assert_eq!(g.ack(id), model.remove(&id).is_some());
                }
                GroupOp::DropConsumer(c) => {
                    let owned = model.values().filter(|o| **o == c).count();
                    match g.delete_consumer(&[c]) {
                        Some(n) => prop_assert_eq!(n, owned),
                        None => prop_assert_eq!(owned, 0),
                    }
                    model.retain(|_, o| *o != c);
                }
            }
            let owners: BTreeMap<StreamId, u8> =
                g.pel.iter().map(|(id, p)| (*id, p.consumer[0])).collect();
            prop_assert_eq!(&owners, &model);
            for (name, consumer) in &g.consumers {
                let mine: Vec<StreamId> =
                    model.iter().filter(|(_, o)| **o == name[0]).map(|(id, _)| *id).collect();
                prop_assert_eq!(consumer.pel.iter().copied().collect::<Vec<_>>(), mine);
            }
        }
    }
}
