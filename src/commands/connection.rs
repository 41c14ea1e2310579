//! Connection commands: PING, ECHO, QUIT, SELECT, HELLO, AUTH, RESET.

use crate::command::{Action, CmdError, CmdResult, Ctx, ReplyMode, TableBuilder};
use crate::commands::args::{db_index, is};
use crate::server::REDIS_VERSION;

/// Registers the family.
pub fn register(t: &mut TableBuilder) {
    t.add("ping", ping);
    t.add("echo", echo);
    t.add("quit", quit);
    t.add("select", select);
    t.add("hello", hello);
    t.add("auth", auth);
    t.add("reset", reset);
}

fn ping(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if !ctx.out.resp3 && ctx.client.subs.active() && args.len() <= 2 {
        // RESP2 subscribers get PING's answer in the shape of a message.
        ctx.out.array(2);
        ctx.out.bulk(b"pong");
        ctx.out.bulk(args.get(1).copied().unwrap_or(b""));
        return Ok(());
    }
    match args.len() {
        1 => ctx.out.simple(b"PONG"),
        2 => ctx.out.bulk(args[1]),
        _ => {
            return Err(CmdError::err(
                "ERR wrong number of arguments for 'ping' command",
            ))
        }
    }
    Ok(())
}

fn echo(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    ctx.out.bulk(args[1]);
    Ok(())
}

fn quit(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.out.ok();
    ctx.client.action = Some(Action::Close);
    Ok(())
}

fn select(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    ctx.client.db = db_index(args[1], ctx.server.keyspace.db_count())?;
    ctx.out.ok();
    Ok(())
}

fn auth(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (user, pass): (&[u8], &[u8]) = match args.len() {
        2 => {
            ctx.server.acl.sync_requirepass(&ctx.server.config.read());
            if ctx.server.acl.default.rules().nopass() {
                return Err(CmdError::err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"));
            }
            (b"default", args[1])
        }
        3 => (args[1], args[2]),
        _ => return Err(CmdError::Syntax),
    };
    crate::acl::auth(ctx.server, ctx.client, user, pass, args[0])?;
    ctx.out.ok();
    Ok(())
}

fn hello(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut proto = None;
    let mut i = 1;
    if args.len() > 1 {
        let v = crate::util::num::parse_i64(args[1]).ok_or(CmdError::err(
            "ERR Protocol version is not an integer or out of range",
        ))?;
        if !(2..=3).contains(&v) {
            return Err(CmdError::err("NOPROTO unsupported protocol version"));
        }
        proto = Some(v);
        i = 2;
    }
    let mut name = None;
    let mut credentials = None;
    while i < args.len() {
        let more = args.len() - i - 1;
        if is(args[i], "AUTH") && more >= 2 {
            credentials = Some((args[i + 1], args[i + 2]));
            i += 3;
        } else if is(args[i], "SETNAME") && more >= 1 {
            name = Some(args[i + 1]);
            i += 2;
        } else {
            return Err(CmdError::with_arg(
                "ERR Syntax error in HELLO option '",
                args[i],
                "'",
            ));
        }
    }
    if let Some((user, pass)) = credentials {
        crate::acl::auth(ctx.server, ctx.client, user, pass, args[0])?;
    }
    if !ctx.client.authenticated {
        return Err(CmdError::err(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
        ));
    }
    if let Some(name) = name {
        super::client::validate_name(name)?;
        ctx.client.handle.info.lock().name = (!name.is_empty()).then(|| name.to_vec());
    }
    if let Some(p) = proto {
        ctx.out.resp3 = p == 3;
        if let Some(sub) = &ctx.client.subs.subscriber {
            sub.set_resp3(ctx.out.resp3);
        } else if ctx.out.resp3 {
            // RESP3 clients can receive pushes from others at any time
            // (redirected tracking invalidations): give them a queue.
            ctx.client.subs.queue(&ctx.client.handle, true);
        }
    }
    let out = &mut *ctx.out;
    out.map(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(if out.resp3 { 3 } else { 2 });
    out.bulk(b"id");
    out.int(ctx.client.id as i64);
    out.bulk(b"mode");
    out.bulk(b"standalone");
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array(0);
    Ok(())
}

fn reset(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.client.multi = None;
    ctx.client.unwatch_all(ctx.server);
    ctx.client.unsubscribe_all(ctx.server);
    crate::server::tracking::disable(ctx.server, ctx.client);
    ctx.client.db = 0;
    ctx.out.resp3 = false;
    ctx.client.reply_mode = ReplyMode::On;
    crate::acl::set_client_user(ctx.client, None);
    ctx.client.authenticated = ctx.server.acl.default_needs_no_auth(ctx.server);
    ctx.client.handle.info.lock().name = None;
    ctx.out.simple(b"RESET");
    Ok(())
}
