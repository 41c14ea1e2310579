//! The CLIENT command family.

use std::time::Instant;

use serde_json::json;

use crate::command::{Action, CmdError, CmdResult, Ctx, ReplyMode, TableBuilder};
use crate::commands::args::is;
use crate::commands::introspect::reply_help;
use crate::server::clients::ClientHandle;
use crate::server::pause::PauseKind;
use crate::server::tracking;
use crate::util::num::parse_i64;

/// Registers the family.
pub fn register(t: &mut TableBuilder) {
    t.add_sub("client", "id", id);
    t.add_sub("client", "unblock", unblock);
    t.add_sub("client", "setname", setname);
    t.add_sub("client", "getname", getname);
    t.add_sub("client", "list", list);
    t.add_sub("client", "info", info);
    t.add_sub("client", "kill", kill);
    t.add_sub("client", "no-evict", no_evict);
    t.add_sub("client", "reply", reply);
    t.add_sub("client", "help", help);
    t.add_sub("client", "tracking", tracking);
    t.add_sub("client", "caching", caching);
    t.add_sub("client", "getredir", getredir);
    t.add_sub("client", "trackinginfo", trackinginfo);
    t.add_sub("client", "pause", pause);
    t.add_sub("client", "unpause", unpause);
    // Redis 7.2's entry: client libraries send it on connect.
    t.add_sub_custom(
        "client",
        "setinfo",
        json!({
            "name": "client|setinfo",
            "arity": 4,
            "flags": ["noscript", "loading", "stale"],
            "first_key": 0,
            "last_key": 0,
            "step": 0,
            "acl_categories": ["@slow", "@connection"],
            "tips": ["request_policy:all_nodes", "response_policy:all_succeeded"],
            "key_specs": [],
            "docs": {
                "summary": "Sets information specific to the client or connection.",
                "since": "7.2.0",
                "group": "connection",
                "complexity": "O(1)",
                "arguments": [{
                    "name": "attr",
                    "type": "oneof",
                    "arguments": [
                        {"name": "libname", "type": "string", "token": "LIB-NAME"},
                        {"name": "libver", "type": "string", "token": "LIB-VER"}
                    ]
                }]
            }
        }),
        setinfo,
    );
}

/// Whether a client name or library attribute is acceptable: printable
/// ASCII without spaces, as Redis requires.
fn valid_attr(value: &[u8]) -> bool {
    value.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

/// Rejects names with spaces or special characters, as Redis does.
pub fn validate_name(name: &[u8]) -> CmdResult {
    if valid_attr(name) {
        Ok(())
    } else {
        Err(CmdError::err(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ))
    }
}

fn id(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.out.int(ctx.client.id as i64);
    Ok(())
}

fn setname(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    validate_name(args[2])?;
    ctx.client.handle.info.lock().name = (!args[2].is_empty()).then(|| args[2].to_vec());
    ctx.out.ok();
    Ok(())
}

fn getname(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    match ctx.client.handle.info.lock().name.clone() {
        Some(name) => ctx.out.bulk(&name),
        None => ctx.out.null(),
    }
    Ok(())
}

fn setinfo(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (attr, value) = (args[2], args[3]);
    let lib_name = if is(attr, "LIB-NAME") {
        true
    } else if is(attr, "LIB-VER") {
        false
    } else {
        return Err(CmdError::with_arg("ERR Unrecognized option '", attr, "'"));
    };
    if !valid_attr(value) {
        return Err(CmdError::with_arg(
            "ERR ",
            attr,
            " cannot contain spaces, newlines or special characters.",
        ));
    }
    let value = (!value.is_empty()).then(|| value.to_vec());
    let mut info = ctx.client.handle.info.lock();
    if lib_name {
        info.lib_name = value;
    } else {
        info.lib_ver = value;
    }
    drop(info);
    ctx.out.ok();
    Ok(())
}

/// Client types of `CLIENT LIST/KILL TYPE`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ClientType {
    Normal,
    Master,
    Replica,
    PubSub,
}

fn client_type(arg: &[u8]) -> Result<ClientType, CmdError> {
    if is(arg, "normal") {
        Ok(ClientType::Normal)
    } else if is(arg, "master") {
        Ok(ClientType::Master)
    } else if is(arg, "replica") || is(arg, "slave") {
        Ok(ClientType::Replica)
    } else if is(arg, "pubsub") {
        Ok(ClientType::PubSub)
    } else {
        Err(CmdError::with_arg("ERR Unknown client type '", arg, "'"))
    }
}

/// The type of a connected client: our primary's is `master`, replica
/// links are `replica`, subscribers `pubsub`, everyone else `normal`.
fn type_of(client: &ClientHandle) -> ClientType {
    let info = client.info.lock();
    if crate::replication::replica::is_primary_client(client.id) {
        ClientType::Master
    } else if info.replica {
        ClientType::Replica
    } else if info.subscriptions.iter().any(|&n| n > 0) {
        ClientType::PubSub
    } else {
        ClientType::Normal
    }
}

/// Makes the caller's own `CLIENT LIST` line current: the connection
/// publishes its details once per batch, after the replies.
fn refresh_self(ctx: &Ctx) {
    let mut info = ctx.client.handle.info.lock();
    info.db = ctx.client.db;
    info.resp = if ctx.out.resp3 { 3 } else { 2 };
    info.last_interaction = Some(Instant::now());
    if info.last_cmd != ctx.cmd.name {
        info.last_cmd.clear();
        info.last_cmd.push_str(&ctx.cmd.name);
    }
}

fn list(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let clients = if args.len() == 2 {
        ctx.server.clients.all()
    } else if args.len() == 4 && is(args[2], "TYPE") {
        let wanted = client_type(args[3])?;
        let mut all = ctx.server.clients.all();
        all.retain(|c| type_of(c) == wanted);
        all
    } else if args.len() > 3 && is(args[2], "ID") {
        let ids = args[3..]
            .iter()
            .map(|a| parse_i64(a))
            .collect::<Option<Vec<i64>>>()
            .ok_or(CmdError::err("ERR Invalid client ID"))?;
        ids.into_iter()
            .filter_map(|id| u64::try_from(id).ok())
            .filter_map(|id| ctx.server.clients.get(id))
            .collect()
    } else {
        return Err(CmdError::Syntax);
    };
    refresh_self(ctx);
    let mut text = String::new();
    for c in clients {
        text.push_str(&c.describe());
        text.push('\n');
    }
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

fn info(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    refresh_self(ctx);
    let mut text = ctx.client.handle.describe();
    text.push('\n');
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

/// The filters of the `CLIENT KILL <option> <value> ...` form.
#[derive(Default)]
struct KillFilter<'a> {
    id: Option<u64>,
    kind: Option<ClientType>,
    addr: Option<&'a [u8]>,
    laddr: Option<&'a [u8]>,
    user: Option<&'a [u8]>,
    max_age: Option<u64>,
    skip_me: bool,
}

impl<'a> KillFilter<'a> {
    fn parse(args: &[&'a [u8]], acl: &crate::acl::Acl) -> Result<Self, CmdError> {
        let mut f = KillFilter {
            skip_me: true,
            ..KillFilter::default()
        };
        let mut i = 2;
        while i < args.len() {
            let (opt, value) = match args.get(i + 1) {
                Some(v) => (args[i], *v),
                None => return Err(CmdError::Syntax),
            };
            if is(opt, "ID") {
                match parse_i64(value) {
                    Some(id) if id > 0 => f.id = Some(id as u64),
                    _ => return Err(CmdError::err("ERR client-id should be greater than 0")),
                }
            } else if is(opt, "TYPE") {
                f.kind = Some(client_type(value)?);
            } else if is(opt, "ADDR") {
                f.addr = Some(value);
            } else if is(opt, "LADDR") {
                f.laddr = Some(value);
            } else if is(opt, "USER") {
                if acl.user(value).is_none() {
                    return Err(CmdError::with_arg("ERR No such user '", value, "'"));
                }
                f.user = Some(value);
            } else if is(opt, "SKIPME") {
                f.skip_me = if is(value, "yes") {
                    true
                } else if is(value, "no") {
                    false
                } else {
                    return Err(CmdError::Syntax);
                };
            } else if is(opt, "MAXAGE") {
                let age = parse_i64(value).ok_or(CmdError::NotInteger)?;
                f.max_age = Some(age.max(0) as u64);
            } else {
                return Err(CmdError::Syntax);
            }
            i += 2;
        }
        Ok(f)
    }

    fn matches(&self, c: &ClientHandle, me: u64) -> bool {
        (!self.skip_me || c.id != me)
            && self.id.is_none_or(|id| c.id == id)
            && self.kind.is_none_or(|k| type_of(c) == k)
            && self.addr.is_none_or(|a| c.addr.as_bytes() == a)
            && self.laddr.is_none_or(|a| c.laddr.as_bytes() == a)
            && self
                .user
                .is_none_or(|u| c.info.lock().user.as_deref().unwrap_or(b"default") == u)
            && self
                .max_age
                .is_none_or(|age| c.created.elapsed().as_secs() >= age)
    }
}

/// Closes `victim`; the caller itself closes after its reply is written.
fn kill_client(ctx: &mut Ctx, victim: &ClientHandle) {
    if victim.id == ctx.client.id {
        ctx.client.action = Some(Action::Close);
    } else {
        victim.kill();
    }
}

fn kill(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len() == 3 {
        // Old form: CLIENT KILL ip:port.
        let victim = ctx
            .server
            .clients
            .all()
            .into_iter()
            .find(|c| c.addr.as_bytes() == args[2])
            .ok_or(CmdError::err("ERR No such client"))?;
        kill_client(ctx, &victim);
        ctx.out.ok();
        return Ok(());
    }
    let filter = KillFilter::parse(args, &ctx.server.acl)?;
    let me = ctx.client.id;
    let mut killed = 0;
    for c in ctx.server.clients.all() {
        if filter.matches(&c, me) {
            kill_client(ctx, &c);
            killed += 1;
        }
    }
    ctx.out.int(killed);
    Ok(())
}

fn on_off(arg: &[u8]) -> Result<bool, CmdError> {
    if is(arg, "on") {
        Ok(true)
    } else if is(arg, "off") {
        Ok(false)
    } else {
        Err(CmdError::Syntax)
    }
}

fn no_evict(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    ctx.client.handle.info.lock().no_evict = on_off(args[2])?;
    ctx.out.ok();
    Ok(())
}

fn reply(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if is(args[2], "ON") {
        ctx.client.reply_mode = ReplyMode::On;
        ctx.out.ok();
    } else if is(args[2], "OFF") {
        ctx.client.reply_mode = ReplyMode::Off;
    } else if is(args[2], "SKIP") {
        // Only the next command's reply is dropped, unless replies are off.
        if ctx.client.reply_mode != ReplyMode::Off {
            ctx.client.reply_mode = ReplyMode::Skip;
        }
    } else {
        return Err(CmdError::Syntax);
    }
    Ok(())
}

/// `CLIENT PAUSE timeout [WRITE|ALL]`: the mode is checked before the
/// timeout, as in Redis.
fn pause(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len() > 4 {
        return Err(CmdError::with_arg(
            "ERR unknown subcommand or wrong number of arguments for '",
            args[1],
            "'. Try CLIENT HELP.",
        ));
    }
    let kind = match args.get(3) {
        None => PauseKind::All,
        Some(mode) if is(mode, "WRITE") => PauseKind::Write,
        Some(mode) if is(mode, "ALL") => PauseKind::All,
        Some(_) => return Err(CmdError::err("ERR CLIENT PAUSE mode must be WRITE or ALL")),
    };
    let timeout = parse_i64(args[2]).ok_or(CmdError::err(
        "ERR timeout is not an integer or out of range",
    ))?;
    if timeout < 0 {
        return Err(CmdError::err("ERR timeout is negative"));
    }
    // Redis 7.0 adds the current time to a positive timeout without an
    // overflow check: a sum that wraps negative is a pause already over.
    let end = if timeout > 0 {
        timeout.wrapping_add(ctx.now as i64).max(0) as u64
    } else {
        0
    };
    ctx.server.pause.pause(kind, end);
    ctx.out.ok();
    Ok(())
}

fn unpause(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.server.pause.unpause();
    ctx.out.ok();
    Ok(())
}

fn help(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    reply_help(
        ctx.out,
        &[
            "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CACHING (YES|NO)",
            "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
            "GETREDIR",
            "    Return the client ID we are redirecting to when tracking is enabled.",
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are:",
            "    * ADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made from the specified address",
            "    * LADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made to specified local address",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Kill connections by type.",
            "    * USER <username>",
            "      Kill connections authenticated by <username>.",
            "    * SKIPME (YES|NO)",
            "      Skip killing current connection (default: yes).",
            "LIST [options ...]",
            "    Return information about client connections. Options:",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Return clients of specified type.",
            "UNPAUSE",
            "    Stop the current client pause, resuming traffic.",
            "PAUSE <timeout> [WRITE|ALL]",
            "    Suspend all, or just write, clients for <timeout> milliseconds.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "UNBLOCK <clientid> [TIMEOUT|ERROR]",
            "    Unblock the specified blocked client.",
            "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
            "         [OPTIN] [OPTOUT] [NOLOOP]",
            "    Control server assisted client side caching.",
            "TRACKINGINFO",
            "    Report tracking status for the current connection.",
            "NO-EVICT (ON|OFF)",
            "    Protect current client connection from eviction.",
            "HELP",
            "    Prints this help.",
        ],
    );
    Ok(())
}

/// CLIENT UNBLOCK id [TIMEOUT|ERROR]: 1 if the client was blocked.
fn unblock(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let id = crate::commands::args::int(args[2])?;
    let with_error = match args.get(3) {
        None => false,
        Some(a) if is(a, "TIMEOUT") => false,
        Some(a) if is(a, "ERROR") => true,
        Some(_) => {
            return Err(CmdError::err(
                "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
            ))
        }
    };
    let done = id > 0 && ctx.server.blocking.unblock(id as u64, with_error);
    ctx.out.int(done as i64);
    Ok(())
}

/// CLIENT TRACKING on|off [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN]
/// [OPTOUT] [NOLOOP], validated in Redis's order.
fn tracking(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut redirect: i64 = 0;
    let mut opts = tracking::Options::default();
    let mut prefixes: Vec<&[u8]> = Vec::new();
    let mut j = 3;
    while j < args.len() {
        let more = j + 1 < args.len();
        let arg = args[j];
        if is(arg, "redirect") && more {
            j += 1;
            if redirect != 0 {
                return Err(CmdError::err(
                    "ERR A client can only redirect to a single other client",
                ));
            }
            redirect = crate::commands::args::int(args[j])?;
            let exists = u64::try_from(redirect)
                .ok()
                .and_then(|id| ctx.server.clients.get(id))
                .is_some();
            if !exists {
                return Err(CmdError::err(
                    "ERR The client ID you want redirect to does not exist",
                ));
            }
        } else if is(arg, "bcast") {
            opts.bcast = true;
        } else if is(arg, "optin") {
            opts.optin = true;
        } else if is(arg, "optout") {
            opts.optout = true;
        } else if is(arg, "noloop") {
            opts.noloop = true;
        } else if is(arg, "prefix") && more {
            j += 1;
            prefixes.push(args[j]);
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    if is(args[2], "off") {
        tracking::disable(ctx.server, ctx.client);
        ctx.out.ok();
        return Ok(());
    }
    if !is(args[2], "on") {
        return Err(CmdError::Syntax);
    }
    let current = &ctx.client.tracking;
    if !opts.bcast && !prefixes.is_empty() {
        return Err(CmdError::err(
            "ERR PREFIX option requires BCAST mode to be enabled",
        ));
    }
    if current.on && current.opts.bcast != opts.bcast {
        return Err(CmdError::err("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode."));
    }
    if opts.bcast && (opts.optin || opts.optout) {
        return Err(CmdError::err(
            "ERR OPTIN and OPTOUT are not compatible with BCAST",
        ));
    }
    if opts.optin && opts.optout {
        return Err(CmdError::err(
            "ERR You can't specify both OPTIN mode and OPTOUT mode",
        ));
    }
    if (opts.optin && current.opts.optout) || (opts.optout && current.opts.optin) {
        return Err(CmdError::err("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode."));
    }
    if opts.bcast {
        if let Some((msg, enable_anyway)) = ctx
            .server
            .tracking
            .prefix_collision(ctx.client.id, &prefixes)
        {
            if !enable_anyway {
                return Err(CmdError::Bytes(msg));
            }
            // Redis 7.0 replies the error and then goes on (a known bug
            // reproduced for byte compatibility).
            ctx.out.error_bytes(&msg);
        }
    }
    let resp3 = ctx.out.resp3;
    tracking::enable(
        ctx.server,
        ctx.client,
        resp3,
        redirect as u64,
        opts,
        &prefixes,
    );
    ctx.out.ok();
    Ok(())
}

/// CLIENT CACHING yes|no: tracks (OPTIN) or skips (OPTOUT) the next
/// command's keys.
fn caching(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let t = &mut ctx.client.tracking;
    if !t.on {
        return Err(CmdError::err("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled"));
    }
    if is(args[2], "yes") {
        if !t.opts.optin {
            return Err(CmdError::err(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            ));
        }
    } else if is(args[2], "no") {
        if !t.opts.optout {
            return Err(CmdError::err(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            ));
        }
    } else {
        return Err(CmdError::Syntax);
    }
    t.caching = true;
    ctx.out.ok();
    Ok(())
}

/// The redirect id of a tracking client (0 = none), -1 when not tracking.
fn redirect_of(ctx: &Ctx) -> (i64, Option<tracking::Info>) {
    if !ctx.client.tracking.on {
        return (-1, None);
    }
    let info = ctx.server.tracking.info(ctx.client.id);
    (info.as_ref().map_or(0, |i| i.redirect as i64), info)
}

fn getredir(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let (redirect, _) = redirect_of(ctx);
    ctx.out.int(redirect);
    Ok(())
}

fn trackinginfo(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let (redirect, info) = redirect_of(ctx);
    let t = &ctx.client.tracking;
    let mut flags: Vec<&[u8]> = vec![if t.on { b"on" } else { b"off" }];
    if t.opts.bcast {
        flags.push(b"bcast");
    }
    if t.opts.optin {
        flags.push(b"optin");
        if t.caching {
            flags.push(b"caching-yes");
        }
    }
    if t.opts.optout {
        flags.push(b"optout");
        if t.caching {
            flags.push(b"caching-no");
        }
    }
    if t.opts.noloop {
        flags.push(b"noloop");
    }
    if info.as_ref().is_some_and(|i| i.broken) {
        flags.push(b"broken_redirect");
    }
    let out = &mut *ctx.out;
    out.map(3);
    out.bulk(b"flags");
    out.set(flags.len());
    for f in flags {
        out.bulk(f);
    }
    out.bulk(b"redirect");
    out.int(redirect);
    out.bulk(b"prefixes");
    let prefixes = info.map(|i| i.prefixes).unwrap_or_default();
    out.array(prefixes.len());
    for p in &prefixes {
        out.bulk(p);
    }
    Ok(())
}
