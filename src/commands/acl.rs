//! The ACL command: users, rules, the ACL log and the ACL file.

use std::io::Read;
use std::sync::Arc;

use crate::acl::catalog::{catalog, category, CATEGORIES};
use crate::acl::rules::{has_spaces, merge_selector_args, Rules, Selector};
use crate::acl::{self, check_rules, client_user, file, kill_clients_of, Denied, User};
use crate::command::{Action, CmdError, CmdResult, Ctx, TableBuilder};
use crate::commands::args::{int, is};
use crate::commands::introspect::reply_help;
use crate::protocol::reply::Reply;
use crate::util::time::now_ms;

/// Registers the family.
pub fn register(t: &mut TableBuilder) {
    t.add_sub("acl", "setuser", setuser);
    t.add_sub("acl", "getuser", getuser);
    t.add_sub("acl", "deluser", deluser);
    t.add_sub("acl", "list", list);
    t.add_sub("acl", "users", users);
    t.add_sub("acl", "whoami", whoami);
    t.add_sub("acl", "cat", cat);
    t.add_sub("acl", "genpass", genpass);
    t.add_sub("acl", "log", log);
    t.add_sub("acl", "save", save);
    t.add_sub("acl", "load", load);
    t.add_sub("acl", "dryrun", dryrun);
    t.add_sub("acl", "help", help);
}

/// Makes sure a changed `requirepass` shows in the default user.
fn sync(ctx: &Ctx) {
    ctx.server.acl.sync_requirepass(&ctx.server.config.read());
}

fn setuser(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    sync(ctx);
    let name = args[2];
    if has_spaces(name) {
        return Err(CmdError::err(
            "ERR Usernames can't contain spaces or null characters",
        ));
    }
    let ops = merge_selector_args(&args[3..]).map_err(|i| {
        CmdError::with_arg(
            "ERR Unmatched parenthesis in acl selector starting at '",
            args[3 + i],
            "'.",
        )
    })?;
    let existing = ctx.server.acl.user(name);
    let pubsub_all = ctx.server.config.read().acl_pubsub_all;
    let mut rules = existing
        .as_ref()
        .map(|u| u.rules().clone())
        .unwrap_or_else(|| Rules::new(pubsub_all));
    rules.pubsub_all = pubsub_all;
    for op in &ops {
        if let Err(e) = rules.apply(op) {
            let prefix = "ERR Error in ACL SETUSER modifier '";
            return Err(CmdError::with_arg(
                prefix,
                op,
                &format!("': {}", e.message()),
            ));
        }
    }
    let (user, old) = ctx.server.acl.set_user(name, rules);
    if let Some(old) = old {
        acl::kill_revoked_subscribers(ctx.server, &user, &old);
    }
    ctx.out.ok();
    Ok(())
}

fn selector_fields(out: &mut Reply, s: &Selector) {
    out.bulk(b"commands");
    out.bulk(s.describe_commands().as_bytes());
    out.bulk(b"keys");
    out.bulk(s.describe_keys().as_bytes());
    out.bulk(b"channels");
    out.bulk(s.describe_channels().as_bytes());
}

fn getuser(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    sync(ctx);
    let Some(user) = ctx.server.acl.user(args[2]) else {
        ctx.out.null();
        return Ok(());
    };
    let rules = user.rules().clone();
    let out = &mut *ctx.out;
    out.map(6);
    out.bulk(b"flags");
    let flags = rules.flag_names();
    out.set(flags.len());
    for f in flags {
        out.bulk(f.as_bytes());
    }
    out.bulk(b"passwords");
    out.array(rules.passwords.len());
    for p in &rules.passwords {
        out.bulk(p.as_bytes());
    }
    selector_fields(out, &rules.selectors[0]);
    out.bulk(b"selectors");
    out.array(rules.selectors.len() - 1);
    for s in &rules.selectors[1..] {
        out.map(3);
        selector_fields(out, s);
    }
    Ok(())
}

/// Disconnects the clients of `gone`; the caller itself closes once its
/// reply is written, as Redis does.
fn disconnect(ctx: &mut Ctx, gone: &[Arc<User>]) {
    kill_clients_of(ctx.server, gone, Some(ctx.client.id));
    if let Some(me) = &ctx.client.user {
        if gone.iter().any(|u| Arc::ptr_eq(u, me)) {
            acl::set_client_user(ctx.client, None);
            ctx.client.authenticated = false;
            ctx.client.action = Some(Action::Close);
        }
    }
}

fn deluser(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args[2..].iter().any(|n| *n == b"default") {
        return Err(CmdError::err("ERR The 'default' user cannot be removed"));
    }
    let gone = ctx.server.acl.delete_users(&args[2..]);
    disconnect(ctx, &gone);
    ctx.out.int(gone.len() as i64);
    Ok(())
}

fn list(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    sync(ctx);
    let users = ctx.server.acl.users();
    ctx.out.array(users.len());
    for u in users {
        let mut line = b"user ".to_vec();
        line.extend_from_slice(&u.name);
        line.push(b' ');
        line.extend_from_slice(u.rules().describe().as_bytes());
        ctx.out.bulk(&line);
    }
    Ok(())
}

fn users(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let users = ctx.server.acl.users();
    ctx.out.array(users.len());
    for u in users {
        ctx.out.bulk(&u.name);
    }
    Ok(())
}

fn whoami(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let name = client_user(ctx.server, ctx.client).name.clone();
    ctx.out.bulk(&name);
    Ok(())
}

fn cat(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    match args.len() {
        2 => {
            ctx.out.array(CATEGORIES.len());
            for c in CATEGORIES {
                ctx.out.bulk(c.as_bytes());
            }
        }
        3 => {
            let found = std::str::from_utf8(args[2]).ok().and_then(category);
            let Some(cat) = found else {
                let arg = &args[2][..args[2].len().min(128)];
                return Err(CmdError::with_arg("ERR Unknown category '", arg, "'"));
            };
            let names: Vec<&str> = catalog()
                .entries
                .iter()
                .filter(|e| e.categories & (1 << cat) != 0)
                .map(|e| e.name.as_str())
                .collect();
            ctx.out.array(names.len());
            for n in names {
                ctx.out.bulk(n.as_bytes());
            }
        }
        _ => return Err(subcommand_syntax(args)),
    }
    Ok(())
}

/// Redis's error for a known subcommand used with the wrong arguments.
fn subcommand_syntax(args: &[&[u8]]) -> CmdError {
    CmdError::with_arg(
        "ERR unknown subcommand or wrong number of arguments for '",
        args[1],
        "'. Try ACL HELP.",
    )
}

/// Most bits ACL GENPASS produces.
const GENPASS_MAX_BITS: i64 = 4096;

fn genpass(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let bits = match args.len() {
        2 => 256,
        3 => int(args[2])?,
        _ => return Err(subcommand_syntax(args)),
    };
    if bits <= 0 || bits > GENPASS_MAX_BITS {
        return Err(CmdError::msg(format!("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to {GENPASS_MAX_BITS}")));
    }
    let chars = ((bits + 3) / 4) as usize;
    let mut bytes = vec![0u8; chars.div_ceil(2)];
    // Passwords need a cryptographic source, not the sampling PRNG.
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|_| CmdError::err("ERR failed to read random bytes"))?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    ctx.out.bulk(&hex.as_bytes()[..chars]);
    Ok(())
}

fn log(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let count = match args.len() {
        2 => 10,
        3 if is(args[2], "RESET") => {
            ctx.server.acl.log.reset();
            ctx.out.ok();
            return Ok(());
        }
        3 => int(args[2])?.max(0) as usize,
        _ => return Err(subcommand_syntax(args)),
    };
    let entries = ctx.server.acl.log.newest(count);
    let now = now_ms();
    let out = &mut *ctx.out;
    out.array(entries.len());
    for e in entries {
        out.map(7);
        out.bulk(b"count");
        out.int(e.count as i64);
        out.bulk(b"reason");
        out.bulk(e.reason.name().as_bytes());
        out.bulk(b"context");
        out.bulk(e.context.name().as_bytes());
        out.bulk(b"object");
        out.bulk(&e.object);
        out.bulk(b"username");
        out.bulk(&e.username);
        out.bulk(b"age-seconds");
        let age = now.saturating_sub(e.time_ms) as f64 / 1000.0;
        out.double(age);
        out.bulk(b"client-info");
        out.bulk(e.client_info.as_bytes());
    }
    Ok(())
}

/// The configured ACL file, or Redis's error when there is none.
fn acl_file(ctx: &Ctx) -> Result<String, CmdError> {
    let path = ctx.server.config.read().aclfile.clone();
    if path.is_empty() {
        return Err(CmdError::err("ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration."));
    }
    Ok(path)
}

fn save(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    sync(ctx);
    let path = acl_file(ctx)?;
    if let Err(e) = file::save(&ctx.server.acl, &path) {
        tracing::warn!("Writing ACL file for ACL SAVE: {e}");
        return Err(CmdError::err("ERR There was an error trying to save the ACLs. Please check the server logs for more information"));
    }
    ctx.out.ok();
    Ok(())
}

fn load(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    sync(ctx);
    let path = acl_file(ctx)?;
    let pubsub_all = ctx.server.config.read().acl_pubsub_all;
    let users = file::read(&path, pubsub_all).map_err(|e| CmdError::msg(format!("ERR {e}")))?;
    let gone = ctx.server.acl.replace_all(users);
    disconnect(ctx, &gone);
    ctx.out.ok();
    Ok(())
}

fn dryrun(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    sync(ctx);
    let Some(user) = ctx.server.acl.user(args[2]) else {
        return Err(CmdError::with_arg("ERR User '", args[2], "' not found"));
    };
    let target = &args[3..];
    let cmd = match crate::command::resolve(ctx.server, target) {
        Ok(cmd) => cmd,
        Err(msg) if msg.starts_with(b"ERR wrong number") => return Err(CmdError::Bytes(msg)),
        Err(_) => return Err(CmdError::with_arg("ERR Command '", args[3], "' not found")),
    };
    let verdict = check_rules(&user.rules(), cmd, target);
    match verdict {
        Ok(()) => ctx.out.ok(),
        Err(Denied::Command) => ctx.out.bulk(
            format!(
                "This user has no permissions to run the '{}' command",
                cmd.name
            )
            .as_bytes(),
        ),
        Err(Denied::Key(i)) | Err(Denied::Channel(i)) => {
            let what = if matches!(verdict, Err(Denied::Key(_))) {
                "key"
            } else {
                "channel"
            };
            let mut msg = b"This user has no permissions to access the '".to_vec();
            msg.extend_from_slice(crate::command::c_str(target[i]));
            msg.extend_from_slice(format!("' {what}").as_bytes());
            ctx.out.bulk(&msg);
        }
    }
    Ok(())
}

fn help(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    reply_help(
        ctx.out,
        &[
            "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CAT [<category>]",
            "    List all commands that belong to <category>, or all command categories",
            "    when no category is specified.",
            "DELUSER <username> [<username> ...]",
            "    Delete a list of users.",
            "DRYRUN <username> <command> [<arg> ...]",
            "    Returns whether the user can execute the given command without executing the command.",
            "GETUSER <username>",
            "    Get the user's details.",
            "GENPASS [<bits>]",
            "    Generate a secure 256-bit user password. The optional `bits` argument can",
            "    be used to specify a different size.",
            "LIST",
            "    Show users details in config file format.",
            "LOAD",
            "    Reload users from the ACL file.",
            "LOG [<count> | RESET]",
            "    Show the ACL log entries.",
            "SAVE",
            "    Save the current config to the ACL file.",
            "SETUSER <username> <attribute> [<attribute> ...]",
            "    Create or modify a user with the specified attributes.",
            "USERS",
            "    List all the registered usernames.",
            "WHOAMI",
            "    Return the current connection username.",
            "HELP",
            "    Prints this help.",
        ],
    );
    Ok(())
}
