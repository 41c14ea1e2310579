//! Replication commands of the primary side: SYNC, PSYNC, REPLCONF, WAIT
//! and ROLE.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::command::{Action, CmdError, CmdResult, Ctx, TableBuilder};
use crate::commands::args::is;
use crate::replication::primary::{self, SyncReply, WaitAcks};
use crate::util::num::parse_i64;

/// Registers the family.
pub fn register(t: &mut TableBuilder) {
    t.add("sync", sync);
    t.add("psync", sync);
    t.add("replconf", replconf);
    t.add("wait", wait);
    t.add("role", role);
    // The RDB is taken and the replica joins the stream at one instant:
    // no command may run in between.
    t.exclusive("sync");
    t.exclusive("psync");
}

/// SYNC and PSYNC replid offset: answers with a full or partial
/// resynchronisation, then the connection only carries the stream.
fn sync(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if ctx.client.handle.info.lock().replica {
        // Redis ignores a sync request from a connection already syncing.
        return Ok(());
    }
    let request = if is(args[0], "psync") {
        parse_i64(args[2]).ok_or(CmdError::NotInteger)?;
        Some((args[1], args[2]))
    } else {
        None
    };
    let (link, reply) = primary::start_sync(
        ctx.server,
        &ctx.client.handle,
        &ctx.client.repl_conf,
        request,
    );
    match reply {
        SyncReply::Full(payload) => ctx.out.buf.extend_from_slice(&payload),
        SyncReply::Partial(line) => ctx.out.buf.extend_from_slice(line.as_bytes()),
    }
    ctx.client.action = Some(Action::Replicate(link));
    Ok(())
}

/// REPLCONF option value ...: what a replica tells about itself before
/// syncing; ACK and GETACK are never answered.
fn replconf(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    let mut conf = ctx.client.repl_conf.clone();
    for pair in args[1..].chunks(2) {
        let (opt, value) = (pair[0], pair[1]);
        if is(opt, "listening-port") {
            let port = parse_i64(value).ok_or(CmdError::NotInteger)?;
            conf.port = port as u16;
        } else if is(opt, "ip-address") {
            // Redis's NET_HOST_STR_LEN.
            if value.len() >= 256 {
                return Err(CmdError::msg(format!(
                    "ERR REPLCONF ip-address provided by replica instance is too long: {} bytes",
                    value.len()
                )));
            }
            conf.ip = Some(String::from_utf8_lossy(value).into_owned());
        } else if is(opt, "capa") {
            if is(value, "psync2") {
                conf.psync2 = true;
            } else if is(value, "eof") {
                conf.eof = true;
            }
        } else if is(opt, "ack") || is(opt, "getack") {
            // Only meaningful on a replica's link, which reads them itself.
            return Ok(());
        } else if !is(opt, "rdb-only") && !is(opt, "rdb-filter-only") {
            return Err(CmdError::with_arg(
                "ERR Unrecognized REPLCONF option: ",
                opt,
                "",
            ));
        }
    }
    ctx.client.repl_conf = conf;
    ctx.out.ok();
    Ok(())
}

/// WAIT numreplicas timeout: how many replicas acknowledged the stream
/// up to now, waiting for `numreplicas` of them at most `timeout` ms.
fn wait(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let wanted = parse_i64(args[1]).ok_or(CmdError::NotInteger)?;
    let timeout = parse_i64(args[2]).ok_or(CmdError::err(
        "ERR timeout is not an integer or out of range",
    ))?;
    if timeout < 0 {
        return Err(CmdError::err("ERR timeout is negative"));
    }
    if ctx.client.in_exec {
        // Inside a transaction nothing can wait: the count so far.
        let offset = ctx.server.replication.state().offset;
        ctx.out.int(primary::acked(ctx.server, offset) as i64);
        return Ok(());
    }
    ctx.client.action = Some(Action::WaitReplicas(WaitAcks {
        replicas: wanted.max(0) as usize,
        seq: ctx.server.propagation.latest(),
        timeout: (timeout > 0).then(|| Duration::from_millis(timeout as u64)),
    }));
    Ok(())
}

/// ROLE: for a replica `slave host port state offset`; for a primary
/// `master`, the offset and each replica's ip, port and offset.
fn role(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    if let Some((host, port, state, offset)) = crate::replication::replica::role(ctx.server) {
        ctx.out.array(5);
        ctx.out.bulk(b"slave");
        ctx.out.bulk(host.as_bytes());
        ctx.out.int(port as i64);
        ctx.out.bulk(state.as_bytes());
        ctx.out.int(offset);
        return Ok(());
    }
    let st = ctx.server.replication.state();
    let online: Vec<_> = st
        .replicas
        .iter()
        .filter(|r| r.online.load(Ordering::Relaxed))
        .collect();
    ctx.out.array(3);
    ctx.out.bulk(b"master");
    ctx.out.int(st.offset as i64);
    ctx.out.array(online.len());
    for r in online {
        ctx.out.array(3);
        ctx.out.bulk(r.ip.as_bytes());
        ctx.out.bulk(r.port.to_string().as_bytes());
        ctx.out
            .bulk(r.ack.load(Ordering::Relaxed).to_string().as_bytes());
    }
    Ok(())
}
