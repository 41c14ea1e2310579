//! INFO parity with Redis 7.0: every field name real redis-server prints
//! in `INFO everything` is printed by ferrokv too, unless README's
//! compatibility section lists it (table `| INFO field | why absent |`)
//! with a reason.

mod common;

use std::collections::BTreeSet;

/// The same traffic on both servers, so the per-command, per-error and
/// per-database fields (cmdstat_*, errorstat_*, db0…) line up.
fn exercise(raw: &mut common::Raw) {
    for cmd in [
        &["SET", "k", "v"][..],
        &["GET", "k"],
        &["GET", "missing"],
        &["LPUSH", "k", "x"],
        &["SELECT", "1"],
        &["SET", "k2", "v"],
        &["CONFIG", "GET", "port"],
        &["SELECT", "0"],
    ] {
        raw.cmd(cmd);
    }
}

fn info_fields(s: &common::Server) -> BTreeSet<String> {
    let mut raw = s.raw();
    exercise(&mut raw);
    let reply = raw.cmd_str(&["INFO", "everything"]);
    reply
        .split("\r\n")
        .filter(|l| !l.starts_with('#') && !l.starts_with('$'))
        .filter_map(|l| l.split_once(':').map(|(k, _)| k.to_string()))
        .collect()
}

/// Field names of README's `| INFO field | why absent |` table, with
/// their reasons.
fn documented_absent() -> Vec<(String, String)> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let mut lines = readme
        .lines()
        .skip_while(|l| !l.replace(' ', "").starts_with("|INFOfield|whyabsent|"));
    assert!(
        lines.next().is_some(),
        "README has no `| INFO field | why absent |` table"
    );
    lines
        .skip(1) // the |---|---| separator
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            assert_eq!(cells.len(), 2, "bad table row: {l}");
            (cells[0].trim_matches('`').to_string(), cells[1].to_string())
        })
        .collect()
}

#[test]
fn every_redis_info_field_is_present_or_documented() {
    let redis = common::Server::start_redis();
    let ferrokv = common::Server::start();
    let theirs = info_fields(&redis);
    let ours = info_fields(&ferrokv);
    let absent = documented_absent();
    for (name, why) in &absent {
        assert!(!why.is_empty(), "README gives no reason for {name}");
    }
    let listed: BTreeSet<&str> = absent.iter().map(|(n, _)| n.as_str()).collect();
    let missing: Vec<&String> = theirs
        .iter()
        .filter(|f| !ours.contains(*f) && !listed.contains(f.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "INFO fields Redis prints that ferrokv lacks and README doesn't list: {missing:?}"
    );
    // A listed field that ferrokv now prints is a stale README row.
    let stale: Vec<&&str> = listed.iter().filter(|f| ours.contains(**f)).collect();
    assert!(
        stale.is_empty(),
        "README lists these INFO fields as absent but ferrokv prints them: {stale:?}"
    );
    // Sanity: the comparison saw real data on both sides.
    for f in ["redis_version", "cmdstat_set", "errorstat_WRONGTYPE", "db1"] {
        assert!(theirs.contains(f) && ours.contains(f), "{f}");
    }
}
