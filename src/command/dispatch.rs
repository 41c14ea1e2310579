//! Runs one parsed request: lookup, checks, locking, the handler, stats.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::ctx::{Action, ReplyMode};
use super::{c_str, flags, ClientState, Command, Ctx};
use crate::acl::log::Context;
use crate::persist::snapshot::MISCONF;
use crate::protocol::reply::Reply;
use crate::scripting::Engine;
use crate::server::{tracking, Server};
use crate::util::time::{now_ms, now_us};

/// Redis quotes at most this much of the arguments in errors.
const ERR_ARGS_MAX: usize = 128;

/// Appends `arg` as Redis's `%.Ns` would: up to a NUL, at most `max` bytes.
fn push_c_str(msg: &mut Vec<u8>, arg: &[u8], max: usize) {
    let s = c_str(arg);
    msg.extend_from_slice(&s[..s.len().min(max)]);
}

fn unknown_command(args: &[&[u8]]) -> Vec<u8> {
    let mut quoted = Vec::new();
    for arg in &args[1..] {
        if quoted.len() >= ERR_ARGS_MAX {
            break;
        }
        let room = ERR_ARGS_MAX - quoted.len();
        quoted.push(b'\'');
        push_c_str(&mut quoted, arg, room);
        quoted.extend_from_slice(b"' ");
    }
    let mut msg = b"ERR unknown command '".to_vec();
    push_c_str(&mut msg, args[0], ERR_ARGS_MAX);
    msg.extend_from_slice(b"', with args beginning with: ");
    msg.extend_from_slice(&quoted);
    msg
}

/// Resolves the command and subcommand, or returns the error to send.
pub fn resolve(server: &Server, args: &[&[u8]]) -> Result<&'static Command, Vec<u8>> {
    let Some(cmd) = server.commands.lookup(args[0]) else {
        return Err(unknown_command(args));
    };
    let cmd = if cmd.subcommands.is_empty() || args.len() < 2 {
        cmd
    } else {
        let sub = String::from_utf8_lossy(args[1]).to_ascii_lowercase();
        match cmd.subcommands.get(&sub) {
            Some(sub) => sub,
            None => {
                let mut msg = b"ERR unknown subcommand '".to_vec();
                push_c_str(&mut msg, args[1], ERR_ARGS_MAX);
                msg.extend_from_slice(
                    format!("'. Try {} HELP.", cmd.name.to_ascii_uppercase()).as_bytes(),
                );
                return Err(msg);
            }
        }
    };
    if !cmd.arity_ok(args.len()) || cmd.handler.is_none() {
        return Err(
            format!("ERR wrong number of arguments for '{}' command", cmd.name).into_bytes(),
        );
    }
    Ok(cmd)
}

/// Executes one command and appends its reply to `out`; returns the
/// command's table entry when it exists.
pub fn execute(
    server: &Server,
    client: &mut ClientState,
    out: &mut Reply,
    args: &[&[u8]],
) -> Option<&'static Command> {
    let reply_start = out.buf.len();
    if client.reply_mode == ReplyMode::Skip {
        client.reply_mode = ReplyMode::Skipping;
    }
    client.stats.commands += 1;
    let resolved = resolve(server, args);
    // As Redis's authRequired(): an unauthenticated client may go on once
    // the default user needs no password any more.
    let needs_auth = !client.authenticated && !server.acl.default_needs_no_auth(server);
    // ACL: checked once authenticated (NOAUTH comes first), logged only
    // when it is the reply; a flag check for users allowed everything.
    let denied = match resolved {
        Ok(cmd) if !needs_auth => {
            crate::acl::check(server, client, cmd, args, Context::of(client)).err()
        }
        _ => None,
    };
    let refused = resolved
        .as_ref()
        .ok()
        .and_then(|cmd| crate::replication::replica::refusal(server, cmd));
    match resolved {
        Err(ref msg) => {
            if let Some(cmd) = server.commands.lookup(args[0]) {
                cmd.stats.rejected_calls.fetch_add(1, Ordering::Relaxed);
            }
            flag_transaction(client);
            reply_error(server, client, out, msg);
        }
        Ok(cmd) if needs_auth && !cmd.has(flags::NO_AUTH) => {
            reject(server, client, out, cmd, b"NOAUTH Authentication required.");
        }
        Ok(cmd) if denied.is_some() => {
            cmd.stats.rejected_calls.fetch_add(1, Ordering::Relaxed);
            flag_transaction(client);
            let msg = denied.map(|e| e.bytes().to_vec()).unwrap_or_default();
            if cmd.name == "exec" {
                // Redis aborts a transaction whose EXEC is refused.
                client.multi = None;
                client.unwatch_all(server);
                let mut abort = b"EXECABORT Transaction discarded because of: ".to_vec();
                abort.extend_from_slice(&msg);
                reply_error(server, client, out, &abort);
            } else {
                reply_error(server, client, out, &msg);
            }
        }
        Ok(cmd) if out_of_memory(server, client, cmd) => {
            let msg = b"OOM command not allowed when used memory > 'maxmemory'.";
            reject(server, client, out, cmd, msg);
        }
        Ok(cmd) if denied_by_disk_error(server, client, cmd) => {
            reject(server, client, out, cmd, MISCONF.as_bytes());
        }
        Ok(cmd) if denied_for_replicas(server, client, cmd) => {
            reject(server, client, out, cmd, NOREPLICAS);
        }
        Ok(cmd) if refused.is_some() => {
            reject(server, client, out, cmd, refused.unwrap_or_default());
        }
        Ok(cmd) if !out.resp3 && client.subs.active() && !allowed_when_subscribed(cmd) => {
            let msg = format!("ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context", cmd.name);
            reply_error(server, client, out, msg.as_bytes());
        }
        Ok(cmd) if client.subs.monitoring && cmd.has(flags::READONLY | flags::WRITE) => {
            reply_error(
                server,
                client,
                out,
                b"ERR Replica can't interact with the keyspace",
            );
        }
        Ok(cmd) if server.scripting.busy() && !Engine::allowed_while_busy(cmd, args) => {
            flag_transaction(client);
            let msg = server.scripting.busy_error().as_bytes();
            reply_error(server, client, out, msg);
        }
        Ok(cmd)
            if client.multi.is_some() && cmd.has(flags::NO_MULTI) && !runs_inside_multi(cmd) =>
        {
            // SYNC, PSYNC, SAVE, SHUTDOWN: refused and the transaction
            // aborted, as Redis rejects `no-multi` commands.
            let msg = b"ERR Command not allowed inside a transaction";
            reject(server, client, out, cmd, msg);
        }
        Ok(cmd) if client.multi.is_some() && !runs_inside_multi(cmd) => {
            if let Some(multi) = client.multi.as_mut() {
                multi.queue(args);
            }
            out.simple(b"QUEUED");
        }
        Ok(cmd) => run(server, client, out, cmd, args),
    }
    let cmd = resolved.ok();
    match client.reply_mode {
        ReplyMode::On => {}
        ReplyMode::Off => out.buf.truncate(reply_start),
        ReplyMode::Skipping => {
            out.buf.truncate(reply_start);
            client.reply_mode = ReplyMode::On;
        }
        // Set by this very command (CLIENT REPLY SKIP): its own reply stays.
        ReplyMode::Skip => {}
    }
    tracking::after_command(server, client, out, cmd);
    cmd
}

/// Runs a command the server issues on a client's behalf (the push half
/// of a BLMOVE served while blocked): Redis performs it internally, so it
/// is neither refused by ACLs nor queued in a transaction.
pub fn execute_internal(
    server: &Server,
    client: &mut ClientState,
    out: &mut Reply,
    args: &[&[u8]],
) {
    if let Ok(cmd) = resolve(server, args) {
        run(server, client, out, cmd, args);
    }
}

/// How long a command waits for the keyspace gate before checking again
/// whether the script holding it became busy.
const GATE_POLL: Duration = Duration::from_millis(10);

/// Runs a resolved command under the keyspace gate. While a script is
/// busy (it holds the gate past `busy-reply-threshold`) the command is
/// answered BUSY, or runs without the gate when it is one of the few
/// commands allowed then (SCRIPT KILL, SHUTDOWN NOSAVE, …): never wait
/// for a script that may not end.
fn run(server: &Server, client: &mut ClientState, out: &mut Reply, cmd: &Command, args: &[&[u8]]) {
    let gate = &server.keyspace.gate;
    let exclusive = cmd.has(flags::EXCLUSIVE);
    loop {
        if server.scripting.busy() {
            if Engine::allowed_while_busy(cmd, args) {
                invoke(server, client, out, cmd, args);
            } else {
                let msg = server.scripting.busy_error().as_bytes();
                reply_error(server, client, out, msg);
            }
            return;
        }
        if exclusive {
            if let Some(_exclusive) = gate.try_write_for(GATE_POLL) {
                invoke(server, client, out, cmd, args);
                return;
            }
        } else if let Some(_shared) = gate.try_read_for(GATE_POLL) {
            invoke(server, client, out, cmd, args);
            return;
        }
    }
}

/// Runs a resolved command's handler, the caller holding the gate (EXEC
/// runs its queued commands this way while it holds the gate exclusively):
/// answers errors and panics, and records statistics.
pub fn invoke(
    server: &Server,
    client: &mut ClientState,
    out: &mut Reply,
    cmd: &Command,
    args: &[&[u8]],
) {
    let handler = cmd.handler.expect("resolved commands have handlers");
    let started = Instant::now();
    let (dirty_before, db_before) = (client.stats.dirty, client.db);
    let result = {
        let mut ctx = Ctx {
            server,
            client: &mut *client,
            out: &mut *out,
            cmd,
            // Commands run by a script share its start time.
            now: crate::scripting::script_time().unwrap_or_else(now_ms),
        };
        let result = catch_unwind(AssertUnwindSafe(|| handler(&mut ctx, args)));
        // Serving may change keys again (a waiter popping); repeat until
        // nothing is left, which happens once no waiter was served.
        while !ctx.client.in_exec && !ctx.client.ready_keys.is_empty() {
            crate::commands::transaction::serve_ready_keys(&mut ctx);
        }
        result
    };
    if crate::keyspace::events::pending() {
        crate::server::notify::flush_recorded(server, client.db);
    }
    if client.prop.seq().is_some() {
        crate::server::propagate::after_command(server, client, args, dirty_before, db_before);
    }
    // Counted at once, still under the gate, so a snapshot forked under the
    // exclusive gate knows exactly which changes it covers.
    if client.stats.dirty != 0 {
        let dirty = std::mem::take(&mut client.stats.dirty);
        server.stats.dirty.fetch_add(dirty, Ordering::Relaxed);
    }
    let failed = match result {
        Ok(Ok(())) => false,
        Ok(Err(e)) => {
            reply_error(server, client, out, e.bytes());
            true
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(command = %cmd.name, "command panicked: {what}");
            let msg = format!("ERR internal error while executing '{}'", cmd.name);
            reply_error(server, client, out, msg.as_bytes());
            true
        }
    };
    if client.tracking.on && cmd.has(flags::READONLY) {
        tracking::remember(server, client, cmd, args);
    }
    if server.monitors.active() && !cmd.has(flags::SKIP_MONITOR | flags::ADMIN) {
        // Monitors count as replicas for output buffer limits, as in Redis.
        let limit = server.config.read().output_limits.replica;
        let started_us = now_us().saturating_sub(started.elapsed().as_micros() as u64);
        let addr = if crate::scripting::in_script() {
            "lua"
        } else {
            client.handle.addr.as_str()
        };
        server
            .monitors
            .feed(started_us, client.db, addr, args, limit);
    }
    let stats = &cmd.stats;
    // DEBUG SLEEP pauses the connection after the handler returns; Redis
    // sleeps inside the command, so its duration counts here.
    let pause = match client.action {
        Some(Action::Sleep(d)) => d,
        _ => Duration::ZERO,
    };
    let usec = (started.elapsed() + pause).as_micros() as u64;
    stats.calls.fetch_add(1, Ordering::Relaxed);
    stats.usec.fetch_add(usec, Ordering::Relaxed);
    record_latency(server, client, cmd, args, usec);
    if failed {
        stats.failed_calls.fetch_add(1, Ordering::Relaxed);
    }
}

/// Feeds the latency histogram, the latency monitor and the slow log, as
/// Redis's `call()` does after a command.
fn record_latency(server: &Server, client: &ClientState, cmd: &Command, args: &[&[u8]], usec: u64) {
    let latency = &server.latency;
    if latency.tracking() {
        // Redis measures in µs and feeds the histogram in ns.
        cmd.stats.latency.record(usec * 1000);
    }
    if latency.threshold_ms() > 0 {
        let event = if cmd.has(flags::FAST) {
            "fast-command"
        } else {
            "command"
        };
        latency.add_if_needed(event, usec / 1000, now_ms() / 1000);
    }
    if server.slowlog.wants(usec) && !cmd.has(flags::SKIP_SLOWLOG) {
        let name = client.handle.info.lock().name.clone().unwrap_or_default();
        server
            .slowlog
            .push(args, usec, now_ms() / 1000, &client.handle.addr, &name);
    }
}

/// Whether `stop-writes-on-bgsave-error` refuses this command: writes,
/// EXEC of a transaction holding writes, and PING (as Redis, so a master
/// pinging its replica notices too).
fn denied_by_disk_error(server: &Server, client: &ClientState, cmd: &Command) -> bool {
    if !server.persistence.writes_denied(&server.config) {
        return false;
    }
    is_write(server, client, cmd) || cmd.name == "ping"
}

/// Refuses `cmd` before it runs: counted in `rejected_calls`, and inside
/// MULTI the transaction is flagged to fail.
fn reject(server: &Server, client: &mut ClientState, out: &mut Reply, cmd: &Command, msg: &[u8]) {
    cmd.stats.rejected_calls.fetch_add(1, Ordering::Relaxed);
    flag_transaction(client);
    reply_error(server, client, out, msg);
}

/// The `min-replicas-to-write` refusal.
const NOREPLICAS: &[u8] = b"NOREPLICAS Not enough good replicas to write.";

/// Whether a write is refused for lack of good replicas
/// (`min-replicas-to-write`), EXEC of a transaction holding writes too.
fn denied_for_replicas(server: &Server, client: &ClientState, cmd: &Command) -> bool {
    is_write(server, client, cmd) && !crate::replication::primary::enough_good_replicas(server)
}

/// A write command, or EXEC of a transaction holding one.
fn is_write(server: &Server, client: &ClientState, cmd: &Command) -> bool {
    cmd.has(flags::WRITE) || (cmd.name == "exec" && queued_has(server, client, flags::WRITE))
}

/// Whether a command queued in the client's transaction has `flag`.
fn queued_has(server: &Server, client: &ClientState, flag: u32) -> bool {
    client.multi.as_ref().is_some_and(|multi| {
        multi.queued.iter().any(|q| {
            let args: Vec<&[u8]> = q.iter().map(Vec::as_slice).collect();
            resolve(server, &args).is_ok_and(|c| c.has(flag))
        })
    })
}

/// Evicts keys when memory is over `maxmemory` (before every command, as
/// Redis does) and says whether `cmd` must be refused because memory could
/// not be brought under the limit: commands flagged `denyoom`, EXEC of a
/// transaction holding one, and anything queued inside MULTI (queuing
/// itself consumes memory).
fn out_of_memory(server: &Server, client: &ClientState, cmd: &Command) -> bool {
    if !server.evict.over_limit() {
        return false;
    }
    let outcome = {
        let _shared = server.keyspace.gate.read();
        crate::server::evict::perform(server)
    };
    if outcome != crate::server::evict::Outcome::Fail {
        return false;
    }
    if client.multi.is_none() {
        return cmd.has(flags::DENYOOM);
    }
    match cmd.name.as_str() {
        "exec" => queued_has(server, client, flags::DENYOOM),
        "discard" | "quit" | "reset" => false,
        _ => true,
    }
}

/// Commands that act at once even between MULTI and EXEC.
fn runs_inside_multi(cmd: &Command) -> bool {
    matches!(
        cmd.name.as_str(),
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

/// Commands a RESP2 client may send while subscribed.
fn allowed_when_subscribed(cmd: &Command) -> bool {
    matches!(
        cmd.name.as_str(),
        "subscribe"
            | "unsubscribe"
            | "psubscribe"
            | "punsubscribe"
            | "ssubscribe"
            | "sunsubscribe"
            | "ping"
            | "quit"
            | "reset"
    )
}

/// A command refused while queuing makes the whole transaction fail.
fn flag_transaction(client: &mut ClientState) {
    if let Some(multi) = client.multi.as_mut() {
        multi.failed = true;
    }
}

/// Sends an error reply and counts it for `INFO stats`/`errorstats`.
fn reply_error(server: &Server, client: &mut ClientState, out: &mut Reply, msg: &[u8]) {
    client.stats.errors += 1;
    server.stats.count_error(msg);
    out.error_bytes(msg);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{CmdResult, TableBuilder};
    use crate::config::Config;

    fn boom(_: &mut Ctx, _: &[&[u8]]) -> CmdResult {
        panic!("deliberate");
    }

    fn pong(ctx: &mut Ctx, _: &[&[u8]]) -> CmdResult {
        ctx.out.simple(b"PONG");
        Ok(())
    }

    #[test]
    fn a_panicking_command_answers_an_error_and_the_client_goes_on() {
        let mut t = TableBuilder::new();
        t.add("get", boom);
        t.add("ping", pong);
        let server = Server::with_commands(Config::default(), t.build());
        let handle = server.clients.register("a".into(), "b".into(), 0);
        let mut client = ClientState::new(handle, true);
        let mut out = Reply::new();
        execute(&server, &mut client, &mut out, &[b"GET", b"k"]);
        execute(&server, &mut client, &mut out, &[b"PING"]);
        assert_eq!(
            out.buf,
            b"-ERR internal error while executing 'get'\r\n+PONG\r\n"
        );
        // The gate was released during unwinding.
        assert!(server.keyspace.gate.try_write().is_some());
    }

    #[test]
    fn unknown_commands_and_arity_errors_use_redis_wording() {
        let server = Server::new(Config::default());
        let handle = server.clients.register("a".into(), "b".into(), 0);
        let mut client = ClientState::new(handle, true);
        let mut out = Reply::new();
        execute(&server, &mut client, &mut out, &[b"NOPE", b"a", b"b"]);
        execute(&server, &mut client, &mut out, &[b"get"]);
        execute(&server, &mut client, &mut out, &[b"client", b"nosuch"]);
        assert_eq!(
            String::from_utf8_lossy(&out.buf),
            "-ERR unknown command 'NOPE', with args beginning with: 'a' 'b' \r\n\
             -ERR wrong number of arguments for 'get' command\r\n\
             -ERR unknown subcommand 'nosuch'. Try CLIENT HELP.\r\n"
        );
    }
}
