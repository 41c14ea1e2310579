//! XADD, XTRIM, XDEL, XLEN, XSETID.

use super::{node_limits, parse_id_generic, parse_strict_id, stream_mut, stream_ref, ParsedId};
use crate::command::{CmdError, CmdResult, Ctx, TableBuilder};
use crate::commands::args::{int, is};
use crate::keyspace::Value;
use crate::types::stream::{Stream, StreamId, Trim};

/// Registers the commands.
pub fn register(t: &mut TableBuilder) {
    t.add("xadd", xadd);
    t.add("xtrim", xtrim);
    t.add("xdel", xdel);
    t.add("xlen", xlen);
    t.add("xsetid", xsetid);
}

/// Trimming options of XADD/XTRIM.
#[derive(Default)]
struct TrimArgs {
    how: Option<Trim>,
    approx: bool,
    /// Entries removed at most (0 = no limit).
    limit: u64,
}

impl TrimArgs {
    /// Applies the trim; returns the entries removed.
    fn apply(&self, s: &mut Stream) -> u64 {
        match self.how {
            Some(how) => s.trim(how, self.approx, self.limit),
            None => 0,
        }
    }
}

/// What XADD/XTRIM's option parser found.
struct Parsed {
    trim: TrimArgs,
    nomkstream: bool,
    /// XADD's ID (`None` = `*`) and the index of the first field.
    id: Option<ParsedId>,
    fields_at: usize,
}

/// Redis's `streamParseAddOrTrimArgsOrReply`, options from `args[2]`.
fn parse_add_or_trim(ctx: &Ctx, args: &[&[u8]], xadd: bool) -> Result<Parsed, CmdError> {
    let mut trim = TrimArgs::default();
    let mut nomkstream = false;
    let mut id = None;
    let mut limit_given = false;
    let mut limit: i64 = 0;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let opt = args[i];
        if xadd && opt == b"*" {
            break;
        } else if (is(opt, "maxlen") || is(opt, "minid")) && more > 0 {
            if trim.how.is_some() {
                return Err(CmdError::err(
                    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
                ));
            }
            trim.approx = false;
            let next = args[i + 1];
            if more >= 2 && (next == b"~" || next == b"=") {
                trim.approx = next == b"~";
                i += 1;
            }
            let value = args[i + 1];
            trim.how = Some(if is(opt, "maxlen") {
                let max = int(value)?;
                if max < 0 {
                    return Err(CmdError::err("ERR The MAXLEN argument must be >= 0."));
                }
                Trim::MaxLen(max as u64)
            } else {
                Trim::MinId(parse_strict_id(value)?)
            });
            i += 1;
        } else if is(opt, "limit") && more > 0 {
            limit = int(args[i + 1])?;
            if limit < 0 {
                return Err(CmdError::err("ERR The LIMIT argument must be >= 0."));
            }
            limit_given = true;
            i += 1;
        } else if xadd && is(opt, "nomkstream") {
            nomkstream = true;
        } else if xadd {
            id = Some(parse_id_generic(opt, 0, true, true)?);
            break;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if limit != 0 && trim.how.is_none() {
        return Err(CmdError::err(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && trim.how.is_none() {
        return Err(CmdError::err(
            "ERR syntax error, XTRIM must be called with a trimming strategy",
        ));
    }
    if limit_given {
        if !trim.approx {
            return Err(CmdError::err(
                "ERR syntax error, LIMIT cannot be used without the special ~ option",
            ));
        }
        trim.limit = limit as u64;
    } else if trim.approx {
        // Approximate trimming without LIMIT does a bounded amount of work:
        // 100 nodes' worth, clamped as Redis clamps it.
        let entries = ctx.server.config.read().encodings.stream_node_max_entries as u64;
        trim.limit = match entries.saturating_mul(100) {
            0 => 10_000,
            n => n.min(1_000_000),
        };
    }
    Ok(Parsed {
        trim,
        nomkstream,
        id,
        fields_at: i + 1,
    })
}

/// The ID XADD assigns: the given one (with `<ms>-*` completed), or the
/// next one after `last` by the clock. `None`: not greater than `last`.
fn next_id(s: &Stream, given: Option<ParsedId>, now: u64) -> Option<StreamId> {
    let last = s.last_id;
    let id = match given {
        Some(ParsedId {
            id,
            seq_given: true,
        }) => id,
        Some(ParsedId { id, .. }) if id.ms == last.ms => {
            StreamId::new(id.ms, last.seq.checked_add(1)?)
        }
        Some(p) => p.id,
        None if now > last.ms => StreamId::new(now, 0),
        None => last.next()?,
    };
    (id > last).then_some(id)
}

fn xadd(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let p = parse_add_or_trim(ctx, args, true)?;
    let fields = args.get(p.fields_at..).unwrap_or(&[]);
    if fields.len() < 2 || fields.len() % 2 == 1 {
        return Err(CmdError::msg(format!(
            "ERR wrong number of arguments for '{}' command",
            ctx.cmd.name
        )));
    }
    if let Some(ParsedId {
        id,
        seq_given: true,
    }) = p.id
    {
        if id.is_zero() {
            return Err(CmdError::err(
                "ERR The ID specified in XADD must be greater than 0-0",
            ));
        }
    }
    let key = args[1];
    let now = ctx.now;
    let limits = node_limits(ctx);
    let mut shard = ctx.lock(key);
    let exists = stream_mut(&mut shard, key, now)?.is_some();
    if !exists && p.nomkstream {
        ctx.out.null();
        return Ok(());
    }
    let entry = shard.get_or_insert(key, now, || Value::Stream(Box::default()));
    let Value::Stream(s) = &mut entry.value else {
        return Err(CmdError::WrongType);
    };
    if s.last_id == StreamId::MAX {
        return Err(CmdError::err(
            "ERR The stream has exhausted the last possible ID, unable to add more items",
        ));
    }
    let Some(id) = next_id(s, p.id, now) else {
        return Err(CmdError::err(
            "ERR The ID specified in XADD is equal or smaller than the target stream top item",
        ));
    };
    s.append(id, fields, limits);
    let trimmed = p.trim.apply(s);
    super::reply_id(ctx.out, id);
    ctx.modified(key, "xadd");
    if trimmed > 0 {
        crate::server::notify::modified(ctx.server, ctx.client.db, key, "xtrim");
    }
    ctx.serve_blocked_one(key, &mut shard);
    Ok(())
}

fn xtrim(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let p = parse_add_or_trim(ctx, args, false)?;
    let key = args[1];
    let now = ctx.now;
    let mut shard = ctx.lock(key);
    let Some(s) = stream_mut(&mut shard, key, now)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let deleted = p.trim.apply(s);
    ctx.out.int(deleted as i64);
    if deleted > 0 {
        ctx.modified(key, "xtrim");
        // Redis counts every removed entry as a change.
        ctx.client.stats.dirty += deleted - 1;
    }
    Ok(())
}

fn xdel(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let now = ctx.now;
    let mut shard = ctx.lock(key);
    let Some(s) = stream_mut(&mut shard, key, now)? else {
        ctx.out.int(0);
        return Ok(());
    };
    // All IDs are checked first so the command is never half done.
    let ids = args[2..]
        .iter()
        .map(|a| parse_strict_id(a))
        .collect::<Result<Vec<_>, _>>()?;
    let deleted = ids.into_iter().filter(|id| s.delete(*id)).count();
    ctx.out.int(deleted as i64);
    if deleted > 0 {
        ctx.modified(key, "xdel");
        ctx.client.stats.dirty += deleted as u64 - 1;
    }
    Ok(())
}

fn xlen(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let mut shard = ctx.lock(key);
    let len = stream_ref(ctx, &mut shard, key)?.map_or(0, Stream::len);
    ctx.out.int(len as i64);
    Ok(())
}

fn xsetid(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let id = parse_strict_id(args[2])?;
    let mut entries_added = None;
    let mut max_deleted = StreamId::MIN;
    let mut i = 3;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if is(args[i], "entriesadded") && more > 0 {
            let n = int(args[i + 1])?;
            if n < 0 {
                return Err(CmdError::err("ERR entries_added must be positive"));
            }
            entries_added = Some(n as u64);
        } else if is(args[i], "maxdeletedid") && more > 0 {
            max_deleted = parse_strict_id(args[i + 1])?;
            if id < max_deleted {
                return Err(CmdError::err(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    let key = args[1];
    let now = ctx.now;
    let mut shard = ctx.lock(key);
    let s = stream_mut(&mut shard, key, now)?.ok_or(CmdError::NoSuchKey)?;
    if let Some(last) = s.last_entry().map(|e| e.id) {
        if id < last {
            return Err(CmdError::err(
                "ERR The ID specified in XSETID is smaller than the target stream top item",
            ));
        }
        if entries_added.is_some_and(|n| (s.len() as u64) > n) {
            return Err(CmdError::err(
                "ERR The entries_added specified in XSETID is smaller than the target stream length",
            ));
        }
    }
    s.last_id = id;
    if let Some(n) = entries_added {
        s.entries_added = n;
    }
    if !max_deleted.is_zero() {
        s.max_deleted_id = max_deleted;
    }
    ctx.out.ok();
    super::event_only(ctx, key, "xsetid");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_ids_complete_the_sequence() {
        let mut s = Stream::new();
        s.last_id = StreamId::new(5, 3);
        let star = |ms| {
            Some(ParsedId {
                id: StreamId::new(ms, 0),
                seq_given: false,
            })
        };
        assert_eq!(next_id(&s, star(5), 0), Some(StreamId::new(5, 4)));
        assert_eq!(next_id(&s, star(6), 0), Some(StreamId::new(6, 0)));
        assert_eq!(next_id(&s, star(4), 0), None);
        assert_eq!(next_id(&s, None, 3), Some(StreamId::new(5, 4)));
        assert_eq!(next_id(&s, None, 9), Some(StreamId::new(9, 0)));
    }
}
