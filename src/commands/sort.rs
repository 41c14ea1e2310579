//! SORT and SORT_RO.
//!
//! BY and GET patterns name keys derived from the elements being sorted,
//! which no key spec can declare, so SORT runs with the keyspace gate held
//! exclusively: it may then lock shards one at a time in any order.

use crate::server::notify;
use std::cmp::Ordering;

use crate::command::{CmdError, CmdResult, Ctx, TableBuilder};
use crate::commands::args::{int, is};
use crate::keyspace::value::IntBuf;
use crate::keyspace::Value;
use crate::types::List;
use crate::util::num::parse_f64;

/// Registers the family.
pub fn register(t: &mut TableBuilder) {
    t.add("sort", sort);
    t.add("sort_ro", sort_ro);
    t.exclusive("sort");
    t.exclusive("sort_ro");
}

/// Parsed SORT options.
struct Options<'a> {
    by: Option<&'a [u8]>,
    dont_sort: bool,
    limit: Option<(i64, i64)>,
    gets: Vec<&'a [u8]>,
    desc: bool,
    alpha: bool,
    store: Option<&'a [u8]>,
}

fn parse<'a>(args: &[&'a [u8]], read_only: bool) -> Result<Options<'a>, CmdError> {
    let mut o = Options {
        by: None,
        dont_sort: false,
        limit: None,
        gets: Vec::new(),
        desc: false,
        alpha: false,
        store: None,
    };
    let mut i = 2;
    while i < args.len() {
        let left = args.len() - i - 1;
        let a = args[i];
        if is(a, "ASC") {
            o.desc = false;
        } else if is(a, "DESC") {
            o.desc = true;
        } else if is(a, "ALPHA") {
            o.alpha = true;
        } else if is(a, "LIMIT") && left >= 2 {
            o.limit = Some((int(args[i + 1])?, int(args[i + 2])?));
            i += 2;
        } else if is(a, "STORE") && left >= 1 && !read_only {
            o.store = Some(args[i + 1]);
            i += 1;
        } else if is(a, "BY") && left >= 1 {
            let pattern = args[i + 1];
            // A pattern without '*' names the same key for every element:
            // nothing to sort by, so the source order is kept.
            o.dont_sort = !pattern.contains(&b'*');
            o.by = Some(pattern);
            i += 1;
        } else if is(a, "GET") && left >= 1 {
            o.gets.push(args[i + 1]);
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    Ok(o)
}

/// Resolves a BY/GET pattern for `element` like Redis's
/// `lookupKeyByPattern`: `#` is the element itself, the first `*` is
/// replaced by it, and `key->field` reads a hash field.
fn lookup(ctx: &Ctx, pattern: &[u8], element: &[u8]) -> Option<Vec<u8>> {
    if pattern == b"#" {
        return Some(element.to_vec());
    }
    let star = pattern.iter().position(|&c| c == b'*')?;
    let arrow = pattern[star + 1..]
        .windows(2)
        .position(|w| w == b"->")
        .map(|p| star + 1 + p)
        .filter(|&p| p + 2 < pattern.len());
    let key_pattern = arrow.map_or(pattern, |p| &pattern[..p]);
    let mut key = Vec::with_capacity(key_pattern.len() + element.len());
    key.extend_from_slice(&key_pattern[..star]);
    key.extend_from_slice(element);
    key.extend_from_slice(&key_pattern[star + 1..]);
    let mut shard = ctx.lock(&key);
    let Some(entry) = shard.get(&key, ctx.now) else {
        notify::keymiss(ctx.server, ctx.client.db, &key);
        return None;
    };
    match (arrow, &entry.value) {
        (Some(p), Value::Hash(h)) => h.get(&pattern[p + 2..]).map(<[u8]>::to_vec),
        (Some(_), _) => None,
        (None, v) => v.as_str(&mut IntBuf::new()).map(<[u8]>::to_vec),
    }
}

/// The elements of the source key in its natural order (a sorted set's in
/// descending order when `desc_zset`); none for a missing key.
fn source_elements(ctx: &Ctx, key: &[u8], desc_zset: bool) -> Result<Vec<Vec<u8>>, CmdError> {
    let mut shard = ctx.lock(key);
    let Some(entry) = shard.get(key, ctx.now) else {
        notify::keymiss(ctx.server, ctx.client.db, key);
        return Ok(Vec::new());
    };
    Ok(match &entry.value {
        Value::List(l) => l.iter().map(<[u8]>::to_vec).collect(),
        Value::Set(s) => s
            .iter()
            .map(|m| m.bytes(&mut IntBuf::new()).to_vec())
            .collect(),
        Value::ZSet(z) => {
            let mut members: Vec<Vec<u8>> = z
                .range(0, z.len())
                .into_iter()
                .map(|(m, _)| m.to_vec())
                .collect();
            if desc_zset {
                members.reverse();
            }
            members
        }
        _ => return Err(CmdError::WrongType),
    })
}

/// Redis's LIMIT clamping: `(start, end)` inclusive, empty when start > end.
fn clamp_limit(limit: Option<(i64, i64)>, len: usize) -> (usize, usize) {
    let len = len as i64;
    let (offset, count) = limit.unwrap_or((0, -1));
    let start = offset.max(0);
    let end = if count < 0 {
        len - 1
    } else {
        start.saturating_add(count - 1)
    };
    if start >= len || end < start {
        return (1, 0);
    }
    (start as usize, end.min(len - 1) as usize)
}

fn sort_generic(ctx: &mut Ctx, args: &[&[u8]], read_only: bool) -> CmdResult {
    let o = parse(args, read_only)?;
    let key = args[1];
    let (source_is_set, is_zset) = match ctx.lock(key).peek(key, ctx.now).map(|e| &e.value) {
        Some(Value::Set(_)) => (true, false),
        Some(Value::ZSet(_)) => (false, true),
        _ => (false, false),
    };
    let mut dont_sort = o.dont_sort;
    let mut alpha = o.alpha;
    let mut by = o.by;
    // Sets have no order: with STORE Redis sorts them anyway, so the
    // stored list is deterministic.
    if dont_sort && source_is_set && o.store.is_some() {
        dont_sort = false;
        alpha = true;
        by = None;
    }
    let mut elements = source_elements(ctx, key, dont_sort && is_zset && o.desc)?;
    if !dont_sort {
        sort_elements(ctx, &mut elements, by, alpha, o.desc)?;
    }
    let (start, end) = clamp_limit(o.limit, elements.len());
    let chosen: &[Vec<u8>] = if start > end {
        &[]
    } else {
        &elements[start..=end]
    };
    let mut rows: Vec<Option<Vec<u8>>> = Vec::new();
    for element in chosen {
        if o.gets.is_empty() {
            rows.push(Some(element.clone()));
        }
        for pattern in &o.gets {
            rows.push(lookup(ctx, pattern, element));
        }
    }
    match o.store {
        Some(dst) => store(ctx, dst, rows),
        None => {
            ctx.out.array(rows.len());
            for row in rows {
                match row {
                    Some(v) => ctx.out.bulk(&v),
                    None => ctx.out.null(),
                }
            }
        }
    }
    Ok(())
}

fn sort_elements(
    ctx: &Ctx,
    elements: &mut Vec<Vec<u8>>,
    by: Option<&[u8]>,
    alpha: bool,
    desc: bool,
) -> Result<(), CmdError> {
    let keyed: Vec<(Vec<u8>, Option<Vec<u8>>)> = elements
        .drain(..)
        .map(|e| {
            let weight = match by {
                Some(pattern) => lookup(ctx, pattern, &e),
                None => Some(e.clone()),
            };
            (e, weight)
        })
        .collect();
    let mut keyed_sorted: Vec<(Vec<u8>, Option<Vec<u8>>, f64)> = Vec::with_capacity(keyed.len());
    for (e, w) in keyed {
        let score = if alpha {
            0.0
        } else {
            match &w {
                None => 0.0,
                Some(v) => parse_f64(v).ok_or(CmdError::err(
                    "ERR One or more scores can't be converted into double",
                ))?,
            }
        };
        keyed_sorted.push((e, w, score));
    }
    keyed_sorted.sort_by(|a, b| {
        let cmp = if !alpha {
            a.2.partial_cmp(&b.2)
                .unwrap_or(Ordering::Equal)
                .then_with(|| a.0.cmp(&b.0))
        } else if by.is_some() {
            match (&a.1, &b.1) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
                (Some(x), Some(y)) => x.cmp(y),
            }
        } else {
            a.0.cmp(&b.0)
        };
        if desc {
            cmp.reverse()
        } else {
            cmp
        }
    });
    elements.extend(keyed_sorted.into_iter().map(|(e, _, _)| e));
    Ok(())
}

/// SORT … STORE: the rows become a list (missing GET values as empty
/// strings); an empty result deletes the destination.
fn store(ctx: &mut Ctx, dst: &[u8], rows: Vec<Option<Vec<u8>>>) {
    let len = rows.len();
    let fill = ctx.server.config.read().encodings.list_max_listpack_size;
    let now = ctx.now;
    let mut shard = ctx.lock(dst);
    if len == 0 {
        if shard.remove_live(dst, now).is_some() {
            ctx.modified(dst, "del");
        }
    } else {
        let mut list = List::new(fill);
        for row in &rows {
            list.push_back(row.as_deref().unwrap_or(b""));
        }
        shard.set(dst, Value::List(Box::new(list)), 0, now);
        ctx.modified(dst, "sortstore");
        ctx.serve_blocked_one(dst, &mut shard);
    }
    drop(shard);
    ctx.out.int(len as i64);
}

fn sort(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    sort_generic(ctx, args, false)
}

fn sort_ro(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    sort_generic(ctx, args, true)
}

#[cfg(test)]
mod tests {
    use super::clamp_limit;

    #[test]
    fn limit_clamps_like_redis() {
        assert_eq!(clamp_limit(None, 4), (0, 3));
        assert_eq!(clamp_limit(Some((1, 2)), 4), (1, 2));
        assert_eq!(clamp_limit(Some((-5, 2)), 4), (0, 1));
        assert_eq!(clamp_limit(Some((2, -1)), 4), (2, 3));
        let (s, e) = clamp_limit(Some((9, 2)), 4);
        assert!(s > e);
        let (s, e) = clamp_limit(Some((0, 0)), 4);
        assert!(s > e);
    }
}
