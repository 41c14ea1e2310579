//! Server commands: TIME, DEBUG and CONFIG.

use std::time::Duration;

use crate::command::{Action, CmdError, CmdResult, Ctx, TableBuilder};
use crate::commands::args::is;
use crate::commands::introspect::reply_help;
use crate::config::{directive, Access, Directive, DIRECTIVES};
use crate::util::glob::glob_match;
use crate::util::num::parse_f64;
use crate::util::time::now_us;

/// Registers the family.
pub fn register(t: &mut TableBuilder) {
    t.add("monitor", monitor);
    t.add("time", time);
    t.add("debug", debug);
    t.add_sub("config", "get", config_get);
    t.add_sub("config", "set", config_set);
    t.add_sub("config", "resetstat", config_resetstat);
    t.add_sub("config", "rewrite", config_rewrite);
    t.add_sub("config", "help", config_help);
}

fn time(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let us = now_us();
    ctx.out.array(2);
    ctx.out.bulk_int((us / 1_000_000) as i64);
    ctx.out.bulk_int((us % 1_000_000) as i64);
    Ok(())
}

fn debug(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len() == 2 && is(args[1], "HELP") {
        reply_help(
            ctx.out,
            &[
                "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "SLEEP <seconds>",
                "    Stop the server for <seconds>. Decimals allowed.",
                "HELP",
                "    Prints this help.",
            ],
        );
        return Ok(());
    }
    if is(args[1], "RELOAD") {
        return crate::commands::persistence::debug_reload(ctx, args);
    }
    if args.len() == 3 && is(args[1], "SLEEP") {
        // Like Redis's strtod: anything unparsable sleeps 0 seconds.
        let secs = parse_f64(args[2]).unwrap_or(0.0).max(0.0);
        let pause = Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX);
        ctx.client.action = Some(Action::Sleep(pause));
        ctx.out.ok();
        return Ok(());
    }
    Err(CmdError::with_arg(
        "ERR unknown subcommand or wrong number of arguments for '",
        args[1],
        "'. Try DEBUG HELP.",
    ))
}

fn has_glob(pattern: &[u8]) -> bool {
    pattern.iter().any(|c| b"[*?".contains(c))
}

fn config_get(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    // (name as shown, directive): exact names are echoed as given, like
    // Redis; glob matches use the directive's own name.
    let mut found: Vec<(String, &'static Directive)> = Vec::new();
    let seen = |found: &[(String, &Directive)], d: &Directive| {
        found.iter().any(|(_, x)| std::ptr::eq(*x, d))
    };
    for pattern in &args[2..] {
        if !has_glob(pattern) {
            let name = String::from_utf8_lossy(pattern);
            if let Some(d) = directive(&name) {
                if !seen(&found, d) {
                    found.push((name.into_owned(), d));
                }
            }
            continue;
        }
        for d in DIRECTIVES {
            if !seen(&found, d) && glob_match(pattern, d.name.as_bytes(), true) {
                found.push((d.name.to_string(), d));
            }
        }
    }
    let config = ctx.server.config.read();
    ctx.out.map(found.len());
    for (name, d) in found {
        ctx.out.bulk(name.as_bytes());
        ctx.out.bulk(config.get(d).as_bytes());
    }
    Ok(())
}

fn set_failed(name: &[u8], why: &str) -> CmdError {
    CmdError::with_arg(
        "ERR CONFIG SET failed (possibly related to argument '",
        name,
        &format!("') - {why}"),
    )
}

fn config_set(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if !args.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    let pairs: Vec<(&[u8], &[u8])> = args[2..].chunks(2).map(|p| (p[0], p[1])).collect();
    // First every name, then every value: all or nothing.
    let mut targets: Vec<&'static Directive> = Vec::with_capacity(pairs.len());
    for &(name, _) in &pairs {
        let d = directive(&String::from_utf8_lossy(name)).ok_or_else(|| {
            CmdError::with_arg(
                "ERR Unknown option or number of arguments for CONFIG SET - '",
                name,
                "'",
            )
        })?;
        match d.access {
            Access::Mutable => {}
            Access::Immutable => return Err(set_failed(name, "can't set immutable config")),
            Access::Protected => return Err(set_failed(name, "can't set protected config")),
        }
        if targets.iter().any(|t| std::ptr::eq(*t, d)) {
            return Err(set_failed(name, "duplicate parameter"));
        }
        targets.push(d);
    }
    let mut config = ctx.server.config.write();
    let mut updated = config.clone();
    for (d, (name, value)) in targets.into_iter().zip(pairs) {
        (d.set)(&mut updated, &String::from_utf8_lossy(value)).map_err(|e| set_failed(name, &e))?;
    }
    if updated.tls != config.tls {
        if let Err(e) = ctx.server.reconfigure_tls(&updated.tls) {
            tracing::warn!("{e}");
            // Redis names the (last) TLS directive of the command.
            let name = args[2..]
                .chunks(2)
                .rev()
                .map(|pair| pair[0])
                .find(|name| name.len() > 4 && name[..4].eq_ignore_ascii_case(b"tls-"))
                .unwrap_or(b"tls-port");
            return Err(set_failed(
                name,
                "Unable to update TLS configuration. Check server logs.",
            ));
        }
    }
    ctx.server.notify.configure(updated.notify_keyspace_events);
    ctx.server.configure_diagnostics(&updated);
    crate::logging::set_level(&updated.loglevel);
    if updated.appendonly != config.appendonly {
        ctx.client.action = Some(Action::SwitchAof(updated.appendonly));
    }
    *config = updated;
    drop(config);
    // A lower maxmemory takes effect at once (the cron finishes the job
    // if this round runs out of time).
    crate::server::evict::perform(ctx.server);
    ctx.out.ok();
    Ok(())
}

fn config_resetstat(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let server = ctx.server;
    server.stats.reset(server.keyspace.expired_keys());
    for cmd in server.commands.iter() {
        cmd.stats.reset();
        for sub in cmd.subcommands.values() {
            sub.stats.reset();
        }
    }
    ctx.out.ok();
    Ok(())
}

/// CONFIG REWRITE: the running configuration back into the loaded file.
fn config_rewrite(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let config = ctx.server.config.read().clone();
    let Some(path) = config.config_file.as_deref() else {
        return Err(CmdError::err(
            "ERR The server is running without a config file",
        ));
    };
    crate::config::rewrite(&config, path)
        .map_err(|e| CmdError::msg(format!("ERR Rewriting config file: {e}")))?;
    ctx.out.ok();
    Ok(())
}

fn config_help(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    reply_help(
        ctx.out,
        &[
            "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
            "HELP",
            "    Prints this help.",
        ],
    );
    Ok(())
}

/// MONITOR: from now on the client receives every executed command.
fn monitor(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    if !ctx.client.subs.monitoring {
        let queue = ctx.client.subs.queue(&ctx.client.handle, ctx.out.resp3);
        ctx.server.monitors.add(queue);
        ctx.client.subs.monitoring = true;
    }
    ctx.out.ok();
    Ok(())
}
