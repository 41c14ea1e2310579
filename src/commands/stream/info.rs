//! XINFO STREAM [FULL [COUNT n]], GROUPS, CONSUMERS and HELP.

use super::{reply_entry, reply_id, stream_mut};
use crate::command::{CmdError, CmdResult, Ctx, TableBuilder};
use crate::commands::args::{int, is};
use crate::protocol::reply::Reply;

/// Registers the subcommands.
pub fn register(t: &mut TableBuilder) {
    t.add_sub("xinfo", "stream", stream);
    t.add_sub("xinfo", "groups", groups);
    t.add_sub("xinfo", "consumers", consumers);
    t.add_sub("xinfo", "help", help);
}

fn subcommand_error(sub: &[u8]) -> CmdError {
    let mut msg = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
    msg.extend_from_slice(crate::command::c_str(sub));
    msg.extend_from_slice(b"'. Try XINFO HELP.");
    CmdError::Bytes(msg)
}

/// Writes a counter that may be unknown (null).
fn maybe_int(out: &mut Reply, v: Option<i64>) {
    match v {
        Some(v) => out.int(v),
        None => out.null(),
    }
}

fn stream(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let full = args.len() > 3;
    let mut count: usize = 10;
    if full {
        let ok_shape = is(args[3], "full") && (args.len() == 4 || args.len() == 6);
        if !ok_shape || (args.len() == 6 && !is(args[4], "count")) {
            return Err(subcommand_error(args[1]));
        }
        if args.len() == 6 {
            count = int(args[5])?.max(0) as usize;
        }
    }
    let key = args[2];
    let now = ctx.now;
    let mut shard = ctx.lock(key);
    let s = stream_mut(&mut shard, key, now)?.ok_or(CmdError::NoSuchKey)?;
    let out = &mut *ctx.out;
    out.map(if full { 9 } else { 10 });
    out.bulk(b"length");
    out.int(s.len() as i64);
    out.bulk(b"radix-tree-keys");
    out.int(s.node_count() as i64);
    out.bulk(b"radix-tree-nodes");
    out.int(s.rax_nodes() as i64);
    out.bulk(b"last-generated-id");
    reply_id(out, s.last_id);
    out.bulk(b"max-deleted-entry-id");
    reply_id(out, s.max_deleted_id);
    out.bulk(b"entries-added");
    out.int(s.entries_added as i64);
    out.bulk(b"recorded-first-entry-id");
    reply_id(out, s.first_id());
    if !full {
        out.bulk(b"groups");
        out.int(s.groups().len() as i64);
        out.bulk(b"first-entry");
        match s.first_entry() {
            Some(e) => reply_entry(out, &e),
            None => out.null(),
        }
        out.bulk(b"last-entry");
        match s.last_entry() {
            Some(e) => reply_entry(out, &e),
            None => out.null(),
        }
        return Ok(());
    }
    let take = if count == 0 { usize::MAX } else { count };
    out.bulk(b"entries");
    let entries = s.range(
        crate::types::stream::StreamId::MIN,
        crate::types::stream::StreamId::MAX,
        false,
        count,
    );
    super::reply_entries(out, &entries);
    out.bulk(b"groups");
    out.array(s.groups().len());
    for (name, g) in s.groups() {
        out.map(7);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"last-delivered-id");
        reply_id(out, g.last_id);
        out.bulk(b"entries-read");
        maybe_int(out, g.entries_read.map(|n| n as i64));
        out.bulk(b"lag");
        maybe_int(out, s.lag(g));
        out.bulk(b"pel-count");
        out.int(g.pel.len() as i64);
        out.bulk(b"pending");
        let pel: Vec<_> = g.pel.iter().take(take).collect();
        out.array(pel.len());
        for (id, p) in pel {
            out.array(4);
            reply_id(out, *id);
            out.bulk(&p.consumer);
            out.int(p.delivery_time as i64);
            out.int(p.delivery_count as i64);
        }
        out.bulk(b"consumers");
        out.array(g.consumers.len());
        for (cname, c) in &g.consumers {
            out.map(4);
            out.bulk(b"name");
            out.bulk(cname);
            out.bulk(b"seen-time");
            out.int(c.seen_time as i64);
            out.bulk(b"pel-count");
            out.int(c.pel.len() as i64);
            out.bulk(b"pending");
            let ids: Vec<_> = c.pel.iter().take(take).collect();
            out.array(ids.len());
            for id in ids {
                let (time, delivered) = g
                    .pel
                    .get(id)
                    .map_or((0, 0), |p| (p.delivery_time, p.delivery_count));
                out.array(3);
                reply_id(out, *id);
                out.int(time as i64);
                out.int(delivered as i64);
            }
        }
    }
    Ok(())
}

fn groups(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len() != 3 {
        return Err(subcommand_error(args[1]));
    }
    let key = args[2];
    let now = ctx.now;
    let mut shard = ctx.lock(key);
    let s = stream_mut(&mut shard, key, now)?.ok_or(CmdError::NoSuchKey)?;
    let out = &mut *ctx.out;
    out.array(s.groups().len());
    for (name, g) in s.groups() {
        out.map(6);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"consumers");
        out.int(g.consumers.len() as i64);
        out.bulk(b"pending");
        out.int(g.pel.len() as i64);
        out.bulk(b"last-delivered-id");
        reply_id(out, g.last_id);
        out.bulk(b"entries-read");
        maybe_int(out, g.entries_read.map(|n| n as i64));
        out.bulk(b"lag");
        maybe_int(out, s.lag(g));
    }
    Ok(())
}

fn consumers(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len() != 4 {
        return Err(subcommand_error(args[1]));
    }
    let (key, name) = (args[2], args[3]);
    let now = ctx.now;
    let mut shard = ctx.lock(key);
    let s = stream_mut(&mut shard, key, now)?.ok_or(CmdError::NoSuchKey)?;
    let Some(g) = s.group(name) else {
        use crate::command::c_str;
        let mut msg = b"NOGROUP No such consumer group '".to_vec();
        msg.extend_from_slice(c_str(name));
        msg.extend_from_slice(b"' for key name '");
        msg.extend_from_slice(c_str(key));
        msg.push(b'\'');
        return Err(CmdError::Bytes(msg));
    };
    let out = &mut *ctx.out;
    out.array(g.consumers.len());
    for (cname, c) in &g.consumers {
        out.map(3);
        out.bulk(b"name");
        out.bulk(cname);
        out.bulk(b"pending");
        out.int(c.pel.len() as i64);
        out.bulk(b"idle");
        out.int((now as i64 - c.seen_time as i64).max(0));
    }
    Ok(())
}

const HELP: &[&str] = &[
    "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
    "HELP",
    "    Prints this help.",
];

fn help(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.out.array(HELP.len());
    for line in HELP {
        ctx.out.simple(line.as_bytes());
    }
    Ok(())
}
