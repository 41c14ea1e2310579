//! The stream family, following Redis 7.0's `t_stream.c`: entry IDs parsed
//! and rejected with Redis's wording, trimming with its node granularity,
//! consumer groups with the 7.0 `entries-read`/`lag` bookkeeping, and
//! blocking XREAD/XREADGROUP served by XADD in arrival order.

mod add;
mod group;
mod info;
mod pending;
mod read;

use crate::command::{CmdError, Ctx, TableBuilder};
use crate::keyspace::{Shard, Value};
use crate::protocol::reply::Reply;
use crate::types::stream::{Entry, NodeLimits, Stream, StreamId};
use crate::util::num::parse_i64;

/// Registers the family.
pub fn register(t: &mut TableBuilder) {
    add::register(t);
    read::register(t);
    group::register(t);
    pending::register(t);
    info::register(t);
}

/// `ERR Invalid stream ID specified as stream command argument`.
fn invalid_id() -> CmdError {
    CmdError::err("ERR Invalid stream ID specified as stream command argument")
}

/// Redis's `string2ull`: a `string2ll` integer that is not negative, or
/// whatever C's `strtoull` accepts in full (leading spaces, a sign, a
/// minus wrapping modulo 2^64), failing on overflow.
fn parse_u64(s: &[u8]) -> Option<u64> {
    if let Some(v) = parse_i64(s) {
        return u64::try_from(v).ok();
    }
    let start = s
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r'))?;
    let mut rest = &s[start..];
    let mut negative = false;
    if let Some((&sign, tail)) = rest.split_first() {
        if sign == b'-' || sign == b'+' {
            negative = sign == b'-';
            rest = tail;
        }
    }
    if rest.is_empty() || !rest.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in rest {
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(if negative { v.wrapping_neg() } else { v })
}

/// A parsed ID argument.
#[derive(Clone, Copy, Debug)]
struct ParsedId {
    id: StreamId,
    /// False for XADD's `<ms>-*` form.
    seq_given: bool,
}

/// Redis's `streamGenericParseIDOrReply`: `-`/`+` (unless `strict`),
/// `<ms>`, `<ms>-<seq>`, and with `allow_star` `<ms>-*`. A missing
/// sequence becomes `missing_seq`.
fn parse_id_generic(
    arg: &[u8],
    missing_seq: u64,
    strict: bool,
    allow_star: bool,
) -> Result<ParsedId, CmdError> {
    if arg.len() > 127 {
        return Err(invalid_id());
    }
    // Redis works on the C string: anything after a NUL byte is ignored.
    let s = crate::command::c_str(arg);
    let given = |id| {
        Ok(ParsedId {
            id,
            seq_given: true,
        })
    };
    if s == b"-" || s == b"+" {
        if strict {
            return Err(invalid_id());
        }
        return given(if s == b"-" {
            StreamId::MIN
        } else {
            StreamId::MAX
        });
    }
    let (ms, seq) = match s.iter().position(|&c| c == b'-') {
        Some(dash) => (&s[..dash], Some(&s[dash + 1..])),
        None => (s, None),
    };
    let ms = parse_u64(ms).ok_or_else(invalid_id)?;
    match seq {
        None => given(StreamId::new(ms, missing_seq)),
        Some(b"*") if allow_star => Ok(ParsedId {
            id: StreamId::new(ms, 0),
            seq_given: false,
        }),
        Some(seq) => given(StreamId::new(ms, parse_u64(seq).ok_or_else(invalid_id)?)),
    }
}

/// An ID where `-` and `+` are allowed, missing sequence = `missing_seq`.
fn parse_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, CmdError> {
    parse_id_generic(arg, missing_seq, false, false).map(|p| p.id)
}

/// An ID where `-` and `+` are not allowed (missing sequence = 0).
fn parse_strict_id(arg: &[u8]) -> Result<StreamId, CmdError> {
    parse_id_generic(arg, 0, true, false).map(|p| p.id)
}

/// The stream at `key`: `None` when absent, `WRONGTYPE` for other types.
fn stream_mut<'a>(
    shard: &'a mut Shard,
    key: &[u8],
    now: u64,
) -> Result<Option<&'a mut Stream>, CmdError> {
    match shard.get_mut(key, now) {
        None => Ok(None),
        Some(entry) => match &mut entry.value {
            Value::Stream(s) => Ok(Some(s)),
            _ => Err(CmdError::WrongType),
        },
    }
}

/// The stream at `key` for reading, counted as a lookup.
fn stream_ref<'a>(
    ctx: &mut Ctx,
    shard: &'a mut Shard,
    key: &[u8],
) -> Result<Option<&'a Stream>, CmdError> {
    let found = stream_mut(shard, key, ctx.now)?;
    ctx.read_lookup(key, found.is_some());
    Ok(found.map(|s| &*s))
}

/// Publishes a change Redis makes without `signalModifiedKey` (consumer
/// group bookkeeping, XSETID, the trim part of XADD): it counts as dirty
/// and raises the keyspace event, but leaves WATCH and client tracking
/// alone, exactly as Redis 7.0 does.
fn event_only(ctx: &mut Ctx, key: &[u8], event: &'static str) {
    ctx.client.stats.dirty += 1;
    crate::server::notify::modified(ctx.server, ctx.client.db, key, event);
}

/// The node limits in force.
fn node_limits(ctx: &Ctx) -> NodeLimits {
    let enc = ctx.server.config.read().encodings;
    NodeLimits {
        max_bytes: enc.stream_node_max_bytes,
        max_entries: enc.stream_node_max_entries,
    }
}

/// Writes an ID as a bulk string (formatted without allocating: XADD and
/// every read reply go through here).
fn reply_id(out: &mut Reply, id: StreamId) {
    let (mut a, mut b) = (itoa::Buffer::new(), itoa::Buffer::new());
    let (ms, seq) = (a.format(id.ms).as_bytes(), b.format(id.seq).as_bytes());
    let mut buf = [0u8; 41];
    buf[..ms.len()].copy_from_slice(ms);
    buf[ms.len()] = b'-';
    let len = ms.len() + 1 + seq.len();
    buf[ms.len() + 1..len].copy_from_slice(seq);
    out.bulk(&buf[..len]);
}

/// Writes an entry as `[id, [field, value, …]]`.
fn reply_entry(out: &mut Reply, e: &Entry<'_>) {
    out.array(2);
    reply_id(out, e.id);
    out.array(e.len() * 2);
    for (f, v) in e.fields() {
        out.bulk(f);
        out.bulk(v);
    }
}

/// Writes entries as an array of [`reply_entry`].
fn reply_entries(out: &mut Reply, entries: &[Entry<'_>]) {
    out.array(entries.len());
    for e in entries {
        reply_entry(out, e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_like_redis() {
        assert_eq!(parse_id(b"5", 0).unwrap(), StreamId::new(5, 0));
        assert_eq!(
            parse_id(b"5", u64::MAX).unwrap(),
            StreamId::new(5, u64::MAX)
        );
        assert_eq!(parse_id(b"+1-1", 0).unwrap(), StreamId::new(1, 1));
        assert_eq!(parse_id(b" 01-2", 0).unwrap(), StreamId::new(1, 2));
        assert_eq!(parse_id(b"-", 0).unwrap(), StreamId::MIN);
        assert!(parse_strict_id(b"+").is_err());
        assert!(parse_id(b"-1", 0).is_err());
        assert!(parse_id(b"1-18446744073709551616", 0).is_err());
        assert!(parse_id(b"1-*", 0).is_err());
        let p = parse_id_generic(b"1-*", 0, true, true).unwrap();
        assert!(!p.seq_given);
    }
}
