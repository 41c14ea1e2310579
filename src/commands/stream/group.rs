//! XGROUP (CREATE, SETID, DESTROY, CREATECONSUMER, DELCONSUMER, HELP) and
//! XACK.

use super::{parse_id, parse_strict_id, stream_mut};
use crate::command::{CmdError, CmdResult, Ctx, TableBuilder};
use crate::commands::args::{int, is};
use crate::keyspace::Value;
use crate::types::stream::{Stream, StreamId};

/// Registers the commands.
pub fn register(t: &mut TableBuilder) {
    t.add_sub("xgroup", "create", create);
    t.add_sub("xgroup", "setid", setid);
    t.add_sub("xgroup", "destroy", destroy);
    t.add_sub("xgroup", "createconsumer", createconsumer);
    t.add_sub("xgroup", "delconsumer", delconsumer);
    t.add_sub("xgroup", "help", help);
    t.add("xack", xack);
}

/// Redis's `addReplySubcommandSyntaxError` for XGROUP.
fn subcommand_error(sub: &[u8]) -> CmdError {
    let mut msg = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
    msg.extend_from_slice(crate::command::c_str(sub));
    msg.extend_from_slice(b"'. Try XGROUP HELP.");
    CmdError::Bytes(msg)
}

/// `ENTRIESREAD` value: non-negative, or -1 for unknown.
fn entries_read(arg: &[u8]) -> Result<Option<u64>, CmdError> {
    let n = int(arg)?;
    if n < -1 {
        return Err(CmdError::err(
            "ERR value for ENTRIESREAD must be positive or -1",
        ));
    }
    Ok(u64::try_from(n).ok())
}

const NO_KEY: &str = "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.";

/// NOGROUP as XGROUP words it.
fn no_group(key: &[u8], group: &[u8]) -> CmdError {
    let mut msg = b"NOGROUP No such consumer group '".to_vec();
    msg.extend_from_slice(crate::command::c_str(group));
    msg.extend_from_slice(b"' for key name '");
    msg.extend_from_slice(crate::command::c_str(key));
    msg.extend_from_slice(b"'");
    CmdError::Bytes(msg)
}

fn create(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut mkstream = false;
    let mut read = None;
    let mut i = 5;
    while i < args.len() {
        if is(args[i], "mkstream") {
            mkstream = true;
            i += 1;
        } else if is(args[i], "entriesread") && i + 1 < args.len() {
            read = entries_read(args[i + 1])?;
            i += 2;
        } else {
            return Err(subcommand_error(args[1]));
        }
    }
    let (key, name) = (args[2], args[3]);
    let now = ctx.now;
    let mut shard = ctx.lock(key);
    let existing = stream_mut(&mut shard, key, now)?.map(|s| s.last_id);
    if existing.is_none() && !mkstream {
        return Err(CmdError::err(NO_KEY));
    }
    if args.len() > 8 {
        return Err(subcommand_error(args[1]));
    }
    let id = if args[4] == b"$" {
        existing.unwrap_or(StreamId::MIN)
    } else {
        parse_strict_id(args[4])?
    };
    let entry = shard.get_or_insert(key, now, || Value::Stream(Box::default()));
    let Value::Stream(s) = &mut entry.value else {
        return Err(CmdError::WrongType);
    };
    if !s.create_group(name, id, read) {
        return Err(CmdError::err(
            "BUSYGROUP Consumer Group name already exists",
        ));
    }
    ctx.out.ok();
    if existing.is_some() {
        super::event_only(ctx, key, "xgroup-create");
    } else {
        // MKSTREAM made a new key: that one is a visible modification.
        ctx.modified(key, "xgroup-create");
    }
    Ok(())
}

/// The stream of an XGROUP subcommand other than CREATE, with its group
/// checked to exist.
fn with_group<'a>(
    shard: &'a mut crate::keyspace::Shard,
    key: &[u8],
    group: &[u8],
    now: u64,
) -> Result<&'a mut Stream, CmdError> {
    let s = stream_mut(shard, key, now)?.ok_or(CmdError::err(NO_KEY))?;
    if s.group(group).is_none() {
        return Err(no_group(key, group));
    }
    Ok(s)
}

fn setid(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (key, name) = (args[2], args[3]);
    let now = ctx.now;
    let mut shard = ctx.lock(key);
    let s = with_group(&mut shard, key, name, now)?;
    if args.len() != 5 && args.len() != 7 {
        return Err(subcommand_error(args[1]));
    }
    let id = if args[4] == b"$" {
        s.last_id
    } else {
        parse_id(args[4], 0)?
    };
    let mut read = None;
    if args.len() == 7 {
        if !is(args[5], "entriesread") {
            return Err(subcommand_error(args[1]));
        }
        read = entries_read(args[6])?;
    }
    if let Some(g) = s.group_mut(name) {
        g.last_id = id;
        g.entries_read = read;
    }
    ctx.out.ok();
    super::event_only(ctx, key, "xgroup-setid");
    Ok(())
}

fn destroy(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (key, name) = (args[2], args[3]);
    let now = ctx.now;
    let mut shard = ctx.lock(key);
    let s = stream_mut(&mut shard, key, now)?.ok_or(CmdError::err(NO_KEY))?;
    if args.len() != 4 {
        return Err(subcommand_error(args[1]));
    }
    if !s.destroy_group(name) {
        ctx.out.int(0);
        return Ok(());
    }
    ctx.out.int(1);
    super::event_only(ctx, key, "xgroup-destroy");
    // Readers blocked on the group get a NOGROUP error.
    ctx.serve_blocked_one(key, &mut shard);
    Ok(())
}

fn createconsumer(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (key, name) = (args[2], args[3]);
    let now = ctx.now;
    let mut shard = ctx.lock(key);
    let s = with_group(&mut shard, key, name, now)?;
    if args.len() != 5 {
        return Err(subcommand_error(args[1]));
    }
    let created = s
        .group_mut(name)
        .is_some_and(|g| g.create_consumer(args[4], now));
    ctx.out.int(created as i64);
    if created {
        super::event_only(ctx, key, "xgroup-createconsumer");
    }
    Ok(())
}

fn delconsumer(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (key, name) = (args[2], args[3]);
    let now = ctx.now;
    let mut shard = ctx.lock(key);
    let s = with_group(&mut shard, key, name, now)?;
    if args.len() != 5 {
        return Err(subcommand_error(args[1]));
    }
    let pending = s.group_mut(name).and_then(|g| g.delete_consumer(args[4]));
    ctx.out.int(pending.unwrap_or(0) as i64);
    if pending.is_some() {
        super::event_only(ctx, key, "xgroup-delconsumer");
    }
    Ok(())
}

const HELP: &[&str] = &[
    "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
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

fn xack(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (key, name) = (args[1], args[2]);
    let now = ctx.now;
    let mut shard = ctx.lock(key);
    let s = stream_mut(&mut shard, key, now)?;
    let Some(g) = s.and_then(|s| s.group_mut(name)) else {
        ctx.out.int(0);
        return Ok(());
    };
    // IDs are validated before anything is acknowledged.
    let ids = args[3..]
        .iter()
        .map(|a| parse_strict_id(a))
        .collect::<Result<Vec<_>, _>>()?;
    let acked = ids.into_iter().filter(|id| g.ack(*id)).count();
    ctx.out.int(acked as i64);
    if acked > 0 {
        ctx.client.stats.dirty += acked as u64;
    }
    Ok(())
}
