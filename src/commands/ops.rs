//! Operational diagnostics: SLOWLOG and LATENCY.

use crate::command::{CmdError, CmdResult, Command, Ctx, TableBuilder};
use crate::commands::introspect::reply_help;
use crate::server::latency::Event;
use crate::server::Server;
use crate::util::num::parse_i64;
use crate::util::time::now_ms;

/// Registers the family.
pub fn register(t: &mut TableBuilder) {
    t.add_sub("slowlog", "get", slowlog_get);
    t.add_sub("slowlog", "len", slowlog_len);
    t.add_sub("slowlog", "reset", slowlog_reset);
    t.add_sub("slowlog", "help", slowlog_help);
    t.add_sub("latency", "latest", latency_latest);
    t.add_sub("latency", "history", latency_history);
    t.add_sub("latency", "reset", latency_reset);
    t.add_sub("latency", "doctor", latency_doctor);
    t.add_sub("latency", "histogram", latency_histogram);
    t.add_sub("latency", "help", latency_help);
}

/// Entries SLOWLOG GET returns without a count.
const DEFAULT_GET_COUNT: usize = 10;

fn slowlog_get(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let count = match args.len() {
        2 => DEFAULT_GET_COUNT,
        3 => match parse_i64(args[2]) {
            Some(-1) => usize::MAX,
            Some(n) if n >= 0 => n as usize,
            _ => {
                return Err(CmdError::err(
                    "ERR count should be greater than or equal to -1",
                ))
            }
        },
        _ => {
            return Err(CmdError::with_arg(
                "ERR unknown subcommand or wrong number of arguments for '",
                args[1],
                "'. Try SLOWLOG HELP.",
            ))
        }
    };
    let out = &mut *ctx.out;
    ctx.server.slowlog.with_newest(count, |entries| {
        out.array(entries.len());
        for e in entries {
            out.array(6);
            out.int(e.id as i64);
            out.int(e.time as i64);
            out.int(e.duration_us as i64);
            out.array(e.args.len());
            for a in &e.args {
                out.bulk(a);
            }
            out.bulk(e.addr.as_bytes());
            out.bulk(&e.name);
        }
    });
    Ok(())
}

fn slowlog_len(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.out.int(ctx.server.slowlog.len() as i64);
    Ok(())
}

fn slowlog_reset(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.server.slowlog.reset();
    ctx.out.ok();
    Ok(())
}

fn slowlog_help(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    reply_help(
        ctx.out,
        &[
            "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
            "HELP",
            "    Prints this help.",
        ],
    );
    Ok(())
}

fn latency_latest(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let out = &mut *ctx.out;
    ctx.server.latency.with_events(|events| {
        let with_samples: Vec<&Event> = events.iter().filter(|e| !e.samples.is_empty()).collect();
        out.array(with_samples.len());
        for e in with_samples {
            let last = e.samples[e.samples.len() - 1];
            out.array(4);
            out.bulk(e.name.as_bytes());
            out.int(last.time as i64);
            out.int(last.latency as i64);
            out.int(e.max as i64);
        }
    });
    Ok(())
}

fn latency_history(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let out = &mut *ctx.out;
    ctx.server.latency.with_events(|events| {
        match events.iter().find(|e| e.name.as_bytes() == args[2]) {
            Some(e) => {
                out.array(e.samples.len());
                for s in &e.samples {
                    out.array(2);
                    out.int(s.time as i64);
                    out.int(s.latency as i64);
                }
            }
            None => out.array(0),
        }
    });
    Ok(())
}

fn latency_reset(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let n = ctx.server.latency.reset(&args[2..]);
    ctx.out.int(n as i64);
    Ok(())
}

/// Redis's statistics of one event for the doctor's report.
fn event_line(i: usize, e: &Event, now_secs: u64) -> String {
    let n = e.samples.len().max(1) as u64;
    let sum: u64 = e.samples.iter().map(|s| s.latency).sum();
    let avg = sum / n;
    let mad = e
        .samples
        .iter()
        .map(|s| s.latency.abs_diff(avg))
        .sum::<u64>()
        / n;
    let first = e.samples.first().map_or(now_secs, |s| s.time);
    let period = now_secs.saturating_sub(first).max(1);
    format!(
        "{}. {}: {} latency spikes (average {}ms, mean deviation {}ms, period {:.2} sec). Worst all time event {}ms.\n",
        i + 1,
        e.name,
        e.samples.len(),
        avg,
        mad,
        period as f64 / n as f64,
        e.max
    )
}

/// LATENCY DOCTOR: Redis's human-readable report (its event analysis and
/// the advice for command events).
fn doctor_report(server: &Server) -> String {
    let threshold = server.latency.threshold_ms();
    let now_secs = now_ms() / 1000;
    server.latency.with_events(|events| {
        if events.is_empty() && threshold == 0 {
            return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n".to_string();
        }
        let events: Vec<&Event> = events.iter().filter(|e| !e.samples.is_empty()).collect();
        if events.is_empty() {
            return "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n".to_string();
        }
        let mut report = "Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n".to_string();
        for (i, e) in events.iter().enumerate() {
            report.push_str(&event_line(i, e, now_secs));
        }
        report.push_str("\nI have a few advices for you:\n\n");
        report.push_str("- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n");
        report.push_str("- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n");
        report
    })
}

fn latency_doctor(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let report = doctor_report(ctx.server);
    ctx.out.verbatim(report.as_bytes());
    Ok(())
}

/// Finds `name` or `container|sub` in the table.
fn find_command<'a>(server: &'a Server, name: &[u8]) -> Option<&'a Command> {
    match name.iter().position(|&b| b == b'|') {
        None => server.commands.lookup(name),
        Some(bar) => {
            let parent = server.commands.lookup(&name[..bar])?;
            let sub = String::from_utf8_lossy(&name[bar + 1..]).to_ascii_lowercase();
            parent.subcommands.get(&sub)
        }
    }
}

/// Commands with recorded latency: `cmd` itself and its subcommands.
fn with_latency<'a>(cmd: &'a Command, into: &mut Vec<&'a Command>) {
    if cmd.stats.latency.total() > 0 {
        into.push(cmd);
    }
    let mut subs: Vec<&Command> = cmd
        .subcommands
        .values()
        .filter(|s| s.stats.latency.total() > 0)
        .collect();
    subs.sort_by(|a, b| a.name.cmp(&b.name));
    into.extend(subs);
}

/// Every command (and subcommand) with latency data, by name.
pub fn commands_with_latency(server: &Server) -> Vec<&Command> {
    let mut all: Vec<&Command> = server.commands.iter().collect();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = Vec::new();
    for cmd in all {
        with_latency(cmd, &mut out);
    }
    out
}

fn latency_histogram(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let server = ctx.server;
    let cmds = if args.len() == 2 {
        commands_with_latency(server)
    } else {
        let mut cmds = Vec::new();
        for name in &args[2..] {
            if let Some(cmd) = find_command(server, name) {
                with_latency(cmd, &mut cmds);
            }
        }
        cmds
    };
    let out = &mut *ctx.out;
    out.map(cmds.len());
    for cmd in cmds {
        let buckets = cmd.stats.latency.cumulative_usec();
        out.bulk(cmd.name.as_bytes());
        out.map(2);
        out.bulk(b"calls");
        out.int(cmd.stats.latency.total() as i64);
        out.bulk(b"histogram_usec");
        out.map(buckets.len());
        for (usec, count) in buckets {
            out.int(usec as i64);
            out.int(count as i64);
        }
    }
    Ok(())
}

fn latency_help(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    reply_help(
        ctx.out,
        &[
            "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
            "HELP",
            "    Prints this help.",
        ],
    );
    Ok(())
}
