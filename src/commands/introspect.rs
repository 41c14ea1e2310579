//! COMMAND and its subcommands: the command table as Redis 7.0 reports it.
//!
//! Only the commands ferrokv implements are listed. Their metadata comes
//! from the reference entry of each table entry (`Command::info`); the
//! summaries and histories, which the reference lacks (and the one
//! argument list it got wrong, CLIENT KILL's), come from
//! `redis-7.0-docs-extra.json`, taken from `COMMAND DOCS` of Redis 7.0.15;
//! its fields take precedence.
//! `serde_json` maps are sorted by key, so every reply writes its fields in
//! Redis's order explicitly.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value as Json;

use crate::command::{CmdError, CmdResult, Command, Ctx, TableBuilder};
use crate::commands::args::is;
use crate::protocol::reply::Reply;
use crate::util::glob::glob_match;

/// Summaries and histories by full command name.
const DOCS_EXTRA: &str = include_str!("redis-7.0-docs-extra.json");

fn docs_extra() -> &'static HashMap<String, Json> {
    static EXTRA: OnceLock<HashMap<String, Json>> = OnceLock::new();
    EXTRA.get_or_init(|| serde_json::from_str(DOCS_EXTRA).expect("valid docs JSON"))
}

/// Registers the family.
pub fn register(t: &mut TableBuilder) {
    // The bare command first: `add` replaces an existing entry.
    t.add("command", all);
    t.add_sub("command", "count", count);
    t.add_sub("command", "info", info);
    t.add_sub("command", "docs", docs);
    t.add_sub("command", "list", list);
    t.add_sub("command", "getkeys", getkeys);
    t.add_sub("command", "getkeysandflags", getkeysandflags);
    t.add_sub("command", "help", help);
}

fn strings(v: &Json) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Json::as_str).collect())
        .unwrap_or_default()
}

fn status_set(out: &mut Reply, items: &[&str]) {
    out.set(items.len());
    for item in items {
        out.simple(item.as_bytes());
    }
}

fn json_scalar(out: &mut Reply, v: &Json) {
    match v {
        Json::Number(n) => out.int(n.as_i64().unwrap_or(0)),
        Json::String(s) => out.bulk(s.as_bytes()),
        _ => out.null(),
    }
}

/// Subcommands in a stable order (Redis uses its hash table's order).
fn sorted_subs(cmd: &Command) -> Vec<&Command> {
    let mut subs: Vec<&Command> = cmd.subcommands.values().collect();
    subs.sort_by(|a, b| a.name.cmp(&b.name));
    subs
}

/// Every implemented command and subcommand, containers first.
fn all_names(ctx: &Ctx) -> Vec<&'static Command> {
    let mut out = Vec::new();
    let mut top: Vec<&'static Command> = ctx.server.commands.iter().collect();
    top.sort_by(|a, b| a.name.cmp(&b.name));
    for cmd in top {
        out.push(cmd);
        out.extend(sorted_subs(cmd));
    }
    out
}

/// Finds `name` or `parent|sub`; returns the parent too for subcommands.
fn find(ctx: &Ctx, name: &[u8]) -> Option<(Option<&'static Command>, &'static Command)> {
    match name.iter().position(|&c| c == b'|') {
        None => ctx.server.commands.lookup(name).map(|c| (None, c)),
        Some(i) => {
            let parent = ctx.server.commands.lookup(&name[..i])?;
            let sub = String::from_utf8_lossy(&name[i + 1..]).to_ascii_lowercase();
            parent.subcommands.get(&sub).map(|s| (Some(parent), s))
        }
    }
}

fn reply_search(out: &mut Reply, search: &Json) {
    let kind = search["type"].as_str().unwrap_or("unknown");
    let fields: &[&str] = match kind {
        "index" => &["index"],
        "keyword" => &["keyword", "startfrom"],
        "range" => &["lastkey", "keystep", "limit"],
        "keynum" => &["keynumidx", "firstkey", "keystep"],
        _ => &[],
    };
    out.map(2);
    out.bulk(b"type");
    out.bulk(kind.as_bytes());
    out.bulk(b"spec");
    let spec = &search["spec"];
    let present: Vec<&str> = fields
        .iter()
        .copied()
        .filter(|f| !spec[*f].is_null())
        .collect();
    out.map(present.len());
    for f in present {
        out.bulk(f.as_bytes());
        json_scalar(out, &spec[f]);
    }
}

fn reply_key_spec(out: &mut Reply, spec: &Json) {
    let notes = spec["notes"].as_str();
    out.map(3 + notes.is_some() as usize);
    if let Some(notes) = notes {
        out.bulk(b"notes");
        out.bulk(notes.as_bytes());
    }
    out.bulk(b"flags");
    status_set(out, &strings(&spec["flags"]));
    out.bulk(b"begin_search");
    reply_search(out, &spec["begin_search"]);
    out.bulk(b"find_keys");
    reply_search(out, &spec["find_keys"]);
}

/// One `COMMAND INFO` entry.
fn reply_info(out: &mut Reply, cmd: &Command) {
    let info = &cmd.info;
    out.array(10);
    out.bulk(cmd.name.as_bytes());
    out.int(cmd.arity as i64);
    status_set(out, &strings(&info["flags"]));
    for field in ["first_key", "last_key", "step"] {
        out.int(info[field].as_i64().unwrap_or(0));
    }
    status_set(out, &strings(&info["acl_categories"]));
    let tips = strings(&info["tips"]);
    out.set(tips.len());
    for tip in tips {
        out.bulk(tip.as_bytes());
    }
    let specs = info["key_specs"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    out.set(specs.len());
    for spec in specs {
        reply_key_spec(out, spec);
    }
    if cmd.subcommands.is_empty() {
        out.set(0);
    } else {
        out.array(cmd.subcommands.len());
        for sub in sorted_subs(cmd) {
            reply_info(out, sub);
        }
    }
}

/// Fields of an argument description, in Redis's order.
const ARG_FIELDS: [&str; 9] = [
    "name",
    "type",
    "key_spec_index",
    "token",
    "summary",
    "since",
    "deprecated_since",
    "flags",
    "arguments",
];

fn reply_arg(out: &mut Reply, arg: &Json) {
    let present: Vec<&str> = ARG_FIELDS
        .iter()
        .copied()
        .filter(|f| !arg[*f].is_null())
        .collect();
    out.map(present.len());
    for f in present {
        out.bulk(f.as_bytes());
        match f {
            "flags" => status_set(out, &strings(&arg[f])),
            "arguments" => reply_args(out, &arg[f]),
            _ => json_scalar(out, &arg[f]),
        }
    }
}

fn reply_args(out: &mut Reply, args: &Json) {
    let args = args.as_array().map(Vec::as_slice).unwrap_or(&[]);
    out.array(args.len());
    for arg in args {
        reply_arg(out, arg);
    }
}

/// Fields of a command's documentation, in Redis's order.
const DOC_FIELDS: [&str; 9] = [
    "summary",
    "since",
    "group",
    "complexity",
    "doc_flags",
    "deprecated_since",
    "replaced_by",
    "history",
    "arguments",
];

/// The documentation of `cmd` (subcommands' live in their parent's).
fn docs_of<'a>(parent: Option<&'a Command>, cmd: &'a Command) -> &'a Json {
    match (&cmd.info["docs"], parent) {
        (Json::Null, Some(p)) => &p.info["docs"]["subcommands"][&cmd.name],
        (docs, _) => docs,
    }
}

fn reply_docs(out: &mut Reply, parent: Option<&Command>, cmd: &Command) {
    let docs = docs_of(parent, cmd);
    let extra = docs_extra().get(&cmd.name);
    let field = |f: &str| -> Option<&Json> {
        extra
            .map(|e| &e[f])
            .filter(|v| !v.is_null())
            .or_else(|| Some(&docs[f]).filter(|v| !v.is_null()))
    };
    let present: Vec<(&str, &Json)> = DOC_FIELDS
        .iter()
        .filter_map(|f| field(f).map(|v| (*f, v)))
        .collect();
    let has_subs = !cmd.subcommands.is_empty();
    out.map(present.len() + has_subs as usize);
    for (f, v) in present {
        out.bulk(f.as_bytes());
        match f {
            "doc_flags" => status_set(out, &strings(v)),
            "history" => {
                let entries = v.as_array().map(Vec::as_slice).unwrap_or(&[]);
                out.set(entries.len());
                for entry in entries {
                    let pair = strings(entry);
                    out.bulk_array(pair.iter().map(|s| s.as_bytes()));
                }
            }
            "arguments" => reply_args(out, v),
            _ => json_scalar(out, v),
        }
    }
    if has_subs {
        out.bulk(b"subcommands");
        out.map(cmd.subcommands.len());
        for sub in sorted_subs(cmd) {
            out.bulk(sub.name.as_bytes());
            reply_docs(out, Some(cmd), sub);
        }
    }
}

fn all(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let commands = ctx.server.commands;
    ctx.out.array(commands.len());
    for cmd in commands.iter() {
        reply_info(ctx.out, cmd);
    }
    Ok(())
}

fn count(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.out.int(ctx.server.commands.len() as i64);
    Ok(())
}

fn info(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len() == 2 {
        return all(ctx, args);
    }
    ctx.out.array(args.len() - 2);
    for name in &args[2..] {
        match find(ctx, name) {
            Some((_, cmd)) => reply_info(ctx.out, cmd),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn docs(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let found: Vec<(Option<&Command>, &Command)> = if args.len() == 2 {
        ctx.server.commands.iter().map(|c| (None, c)).collect()
    } else {
        args[2..]
            .iter()
            .filter_map(|name| find(ctx, name))
            .collect()
    };
    ctx.out.map(found.len());
    for (parent, cmd) in found {
        ctx.out.bulk(cmd.name.as_bytes());
        reply_docs(ctx.out, parent, cmd);
    }
    Ok(())
}

fn list(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let keep: Box<dyn Fn(&Command) -> bool> = match args.len() {
        2 => Box::new(|_| true),
        5 if is(args[2], "FILTERBY") => {
            let value = args[4];
            if is(args[3], "MODULE") {
                // No modules: nothing belongs to one.
                Box::new(|_| false)
            } else if is(args[3], "ACLCAT") {
                let cat = format!("@{}", String::from_utf8_lossy(value));
                Box::new(move |c: &Command| {
                    strings(&c.info["acl_categories"])
                        .iter()
                        .any(|a| a.eq_ignore_ascii_case(&cat))
                })
            } else if is(args[3], "PATTERN") {
                let pattern = value.to_vec();
                Box::new(move |c: &Command| glob_match(&pattern, c.name.as_bytes(), true))
            } else {
                return Err(CmdError::Syntax);
            }
        }
        _ => return Err(CmdError::Syntax),
    };
    let names: Vec<&[u8]> = all_names(ctx)
        .into_iter()
        .filter(|c| keep(c))
        .map(|c| c.name.as_bytes())
        .collect();
    ctx.out.bulk_array(names);
    Ok(())
}

/// Resolves the command of `COMMAND GETKEYS*` and the key positions its
/// key specs find, grouped by spec, with Redis's errors.
fn keys_of(ctx: &Ctx, full: &[&[u8]]) -> Result<(&'static Command, Vec<Vec<usize>>), CmdError> {
    let invalid = || CmdError::err("ERR Invalid command specified");
    let top = ctx.server.commands.lookup(full[0]).ok_or_else(invalid)?;
    let cmd = if top.subcommands.is_empty() || full.len() < 2 {
        top
    } else {
        let sub = String::from_utf8_lossy(full[1]).to_ascii_lowercase();
        top.subcommands.get(&sub).ok_or_else(invalid)?
    };
    let has_specs = cmd.info["key_specs"]
        .as_array()
        .is_some_and(|s| !s.is_empty());
    if !has_specs {
        return Err(CmdError::err("ERR The command has no key arguments"));
    }
    if !cmd.arity_ok(full.len()) {
        return Err(CmdError::err(
            "ERR Invalid number of arguments specified for command",
        ));
    }
    let by_spec = cmd.key_positions_by_spec(full);
    let no_mandatory = strings(&cmd.info["flags"]).contains(&"no_mandatory_keys");
    if by_spec.iter().all(Vec::is_empty) && !no_mandatory {
        return Err(CmdError::err("ERR Invalid arguments specified for command"));
    }
    Ok((cmd, by_spec))
}

fn getkeys(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let full = &args[2..];
    let (_, by_spec) = keys_of(ctx, full)?;
    let keys: Vec<&[u8]> = by_spec.iter().flatten().map(|&i| full[i]).collect();
    ctx.out.bulk_array(keys);
    Ok(())
}

/// The actual key flags of the commands whose key spec says
/// `variable_flags`: Redis computes them from the arguments.
fn variable_flags(cmd: &Command, full: &[&[u8]]) -> Option<&'static [&'static str]> {
    const READ: &[&str] = &["RO", "access"];
    const UPDATE: &[&str] = &["RW", "access", "update"];
    match cmd.name.as_str() {
        "set" => Some(if full.iter().skip(3).any(|a| is(a, "GET")) {
            UPDATE
        } else {
            &["OW", "update"]
        }),
        "bitfield" => {
            let mut i = 2;
            while i < full.len() {
                let more = full.len() - i - 1;
                if is(full[i], "GET") && more >= 2 {
                    i += 3;
                } else if is(full[i], "OVERFLOW") && more >= 1 {
                    i += 2;
                } else {
                    // A write subcommand, or a syntax error: assume writes.
                    return Some(UPDATE);
                }
            }
            Some(READ)
        }
        _ => None,
    }
}

fn getkeysandflags(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let full = &args[2..];
    let (cmd, by_spec) = keys_of(ctx, full)?;
    let specs = cmd.info["key_specs"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    ctx.out.array(by_spec.iter().map(Vec::len).sum());
    for (spec, positions) in specs.iter().zip(&by_spec) {
        let mut flags = strings(&spec["flags"]);
        if flags.contains(&"variable_flags") {
            if let Some(actual) = variable_flags(cmd, full) {
                flags = actual.to_vec();
            }
        }
        for &i in positions {
            ctx.out.array(2);
            ctx.out.bulk(full[i]);
            status_set(ctx.out, &flags);
        }
    }
    Ok(())
}

/// Writes a `HELP` reply: one status line per entry.
pub fn reply_help(out: &mut Reply, lines: &[&str]) {
    out.array(lines.len());
    for line in lines {
        out.simple(line.as_bytes());
    }
}

fn help(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    reply_help(
        ctx.out,
        &[
            "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
            "HELP",
            "    Prints this help.",
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `COMMAND DOCS` needs a summary for every registered command,
    /// including the ones added with `add_sub_custom`.
    #[test]
    fn every_command_has_a_summary() {
        let table = crate::server::command_table();
        for cmd in table.iter() {
            let mut entries: Vec<(Option<&Command>, &Command)> = vec![(None, cmd)];
            entries.extend(cmd.subcommands.values().map(|s| (Some(cmd), s)));
            for (parent, c) in entries {
                let docs = docs_of(parent, c);
                let summary = docs_extra()
                    .get(&c.name)
                    .map(|e| &e["summary"])
                    .filter(|v| !v.is_null())
                    .unwrap_or(&docs["summary"]);
                assert!(summary.is_string(), "{} has no summary", c.name);
                assert!(docs["group"].is_string(), "{} has no group", c.name);
            }
        }
    }
}
