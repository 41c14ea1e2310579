//! AOF rewrite (BGREWRITEAOF, automatic rewrites, turning the AOF on): a
//! forked child writes the whole dataset as a new base file while the
//! parent keeps serving and appends to a new incremental file opened at
//! fork time; when the child succeeds the manifest switches to the new
//! base atomically and the superseded files are deleted.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::manifest::{sync_dir, AofFile, FileType, Manifest};
use super::{aof_dir, incr_name, Files};
use crate::config::Config;
use crate::keyspace::{Keyspace, Value, SHARDS};
use crate::persist::rdb;
use crate::persist::snapshot::{self, ChildKind};
use crate::server::propagate::encode;
use crate::server::Server;
use crate::util::time::now_ms;

/// Elements per RPUSH/SADD/ZADD/HMSET command in a rewritten base, as
/// Redis's `AOF_REWRITE_ITEMS_PER_CMD`.
const ITEMS_PER_CMD: usize = 64;

/// A running rewrite child (the process itself is tracked by the
/// snapshot module's child slot).
pub(crate) struct Job {
    temp: PathBuf,
    dir: PathBuf,
    prefix: String,
    base: AofFile,
    /// Files the new base supersedes, deleted once it is in place.
    superseded: Vec<AofFile>,
    /// When the child was forked.
    pub started: Instant,
}

/// Writes one command.
fn cmd(w: &mut impl Write, argv: &[&[u8]]) -> std::io::Result<()> {
    let mut buf = Vec::new();
    encode(&mut buf, argv);
    w.write_all(&buf)
}

/// Writes `name key items…` in batches of [`ITEMS_PER_CMD`] items, each
/// item being `per` arguments.
fn batched(
    w: &mut impl Write,
    name: &[u8],
    key: &[u8],
    per: usize,
    items: impl Iterator<Item = Vec<Vec<u8>>>,
) -> std::io::Result<()> {
    let mut args: Vec<Vec<u8>> = Vec::new();
    let mut count = 0;
    let flush = |args: &mut Vec<Vec<u8>>, w: &mut dyn Write| -> std::io::Result<()> {
        let mut argv: Vec<&[u8]> = vec![name, key];
        argv.extend(args.iter().map(Vec::as_slice));
        let mut buf = Vec::new();
        encode(&mut buf, &argv);
        args.clear();
        w.write_all(&buf)
    };
    for item in items {
        debug_assert_eq!(item.len(), per);
        args.extend(item);
        count += 1;
        if count == ITEMS_PER_CMD {
            flush(&mut args, w)?;
            count = 0;
        }
    }
    if !args.is_empty() {
        flush(&mut args, w)?;
    }
    Ok(())
}

/// Writes the commands that recreate one key.
fn write_key(w: &mut impl Write, key: &[u8], value: &Value, expire_at: u64) -> std::io::Result<()> {
    let mut ibuf = crate::keyspace::value::IntBuf::new();
    match value {
        Value::Hash(h) => batched(
            w,
            b"HMSET",
            key,
            2,
            h.iter().map(|(f, v)| vec![f.to_vec(), v.to_vec()]),
        )?,
        Value::List(l) => batched(w, b"RPUSH", key, 1, l.iter().map(|e| vec![e.to_vec()]))?,
        Value::Set(s) => batched(
            w,
            b"SADD",
            key,
            1,
            s.iter()
                .map(|e| vec![e.bytes(&mut crate::keyspace::value::IntBuf::new()).to_vec()]),
        )?,
        Value::ZSet(z) => batched(
            w,
            b"ZADD",
            key,
            2,
            z.range(0, z.len())
                .into_iter()
                .map(|(m, s)| vec![crate::util::num::format_g17(s).into_bytes(), m.to_vec()]),
        )?,
        other => {
            let Some(bytes) = other.as_str(&mut ibuf) else {
                return Ok(());
            };
            cmd(w, &[b"SET", key, bytes])?;
        }
    }
    if expire_at > 0 {
        cmd(w, &[b"PEXPIREAT", key, expire_at.to_string().as_bytes()])?;
    }
    Ok(())
}

/// Writes the whole dataset as AOF commands. The caller guarantees nobody
/// changes the keyspace meanwhile (a forked child).
pub fn write_base(
    w: &mut impl Write,
    keyspace: &Keyspace,
    functions: &[String],
) -> std::io::Result<()> {
    // Libraries first, as Redis writes them: keys may need them on replay.
    for code in functions {
        cmd(w, &[b"FUNCTION", b"LOAD", code.as_bytes()])?;
    }
    let now = now_ms();
    for db_index in 0..keyspace.db_count() {
        let db = keyspace.db(db_index);
        let mut selected = false;
        for shard_index in 0..SHARDS {
            let shard = db.lock_shard(shard_index);
            for entry in shard.iter_live(now) {
                if !selected {
                    cmd(w, &[b"SELECT", db_index.to_string().as_bytes()])?;
                    selected = true;
                }
                write_key(w, entry.key(), &entry.value, entry.expire_at())?;
            }
        }
    }
    Ok(())
}

/// The child's work: the base into `temp` (RDB preamble or commands),
/// synced. Returns the exit code.
fn child_main(
    keyspace: &Keyspace,
    temp: &Path,
    rdb: Option<&rdb::SaveOptions>,
    functions: &[String],
) -> i32 {
    let result = (|| -> std::io::Result<()> {
        let file = std::fs::File::create(temp)?;
        let mut w = BufWriter::with_capacity(1 << 20, file);
        match rdb {
            Some(opts) => rdb::save(&mut w, keyspace, opts)?,
            None => write_base(&mut w, keyspace, functions)?,
        }
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()
    })();
    i32::from(result.is_err())
}

/// How an RDB-preamble base is written (marked `aof-base` as Redis does).
pub(crate) fn base_rdb_options(config: &Config, functions: Vec<String>) -> rdb::SaveOptions {
    rdb::SaveOptions {
        compression: config.rdbcompression,
        checksum: config.rdbchecksum,
        aof_base: true,
        list_max_listpack_size: config.encodings.list_max_listpack_size,
        functions,
        ..rdb::SaveOptions::default()
    }
}

/// How BGREWRITEAOF went.
#[derive(Debug, PartialEq, Eq)]
pub enum Started {
    /// The child is writing the new base.
    Now,
    /// Another child (a BGSAVE) runs: the rewrite starts after it.
    Scheduled,
}

/// Starts a rewrite; the caller holds the keyspace gate exclusively.
/// With the AOF on, the parent first moves to a new incremental file, so
/// everything after the fork lands there and the new base plus it make
/// the whole dataset. `superseded` lists files to delete on success
/// besides the current base and incremental files.
pub(crate) fn start_locked(
    server: &Server,
    config: &Config,
    mut superseded: Vec<AofFile>,
    switch: bool,
) -> Result<Started, String> {
    let aof = &server.aof;
    let mut job = aof.job.lock();
    match server.persistence.child_kind() {
        Some(ChildKind::Aof) => {
            return Err("ERR Background append only file rewriting already in progress".into())
        }
        Some(ChildKind::Rdb) => {
            aof.scheduled.store(true, Ordering::Relaxed);
            aof.superseded.lock().append(&mut superseded);
            return Ok(Started::Scheduled);
        }
        None => {}
    }
    aof.scheduled.store(false, Ordering::Relaxed);
    superseded.append(&mut aof.superseded.lock());
    let mut files = aof.files.lock();
    let (dir, prefix, base_seq) = match files.as_mut() {
        Some(f) => {
            if switch {
                switch_incr(server, f)?;
            }
            let current = f.manifest.incr.last().map(|i| i.seq);
            superseded.extend(f.manifest.base.clone());
            superseded.extend(
                f.manifest
                    .incr
                    .iter()
                    .filter(|i| Some(i.seq) != current)
                    .cloned(),
            );
            let base_seq = f.manifest.base.as_ref().map_or(0, |b| b.seq) + 1;
            (f.dir.clone(), f.prefix.clone(), base_seq)
        }
        None => {
            // AOF off: a new base and a manifest listing just it.
            let dir = aof_dir(config);
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("ERR Can't create the AOF directory: {e}"))?;
            let old = std::fs::read(dir.join(format!("{}.manifest", config.appendfilename)))
                .ok()
                .and_then(|t| Manifest::parse(&t).ok())
                .unwrap_or_default();
            superseded.extend(old.base.clone());
            superseded.extend(old.incr.iter().cloned());
            let base_seq = old.base.as_ref().map_or(0, |b| b.seq) + 1;
            (dir, config.appendfilename.clone(), base_seq)
        }
    };
    drop(files);
    let temp = dir.join(format!("temp-rewriteaof-bg-{}.aof", std::process::id()));
    let functions = crate::persist::function_sources(server);
    let rdb_opts = config
        .aof_use_rdb_preamble
        .then(|| base_rdb_options(config, functions.clone()));
    let keyspace = &server.keyspace;
    let child_temp = temp.clone();
    let work = move |_: &mut snapshot::ChildLog| {
        child_main(keyspace, &child_temp, rdb_opts.as_ref(), &functions)
    };
    let pid = snapshot::fork_child_gated(server, ChildKind::Aof, work, Box::new(done))
        .map_err(|e| format!("ERR Can't rewrite append only file in background: fork: {e}"))?;
    tracing::info!("Background append only file rewriting started by pid {pid}");
    aof.stats.rewrite_in_progress.store(true, Ordering::Relaxed);
    for f in &mut superseded {
        f.kind = FileType::History;
    }
    let ext = if config.aof_use_rdb_preamble {
        "rdb"
    } else {
        "aof"
    };
    *job = Some(Job {
        temp,
        dir,
        base: AofFile {
            name: format!("{prefix}.{base_seq}.base.{ext}"),
            seq: base_seq,
            kind: FileType::Base,
        },
        prefix,
        superseded,
        started: Instant::now(),
    });
    Ok(Started::Now)
}

/// Closes the current incremental file (with what the stream still
/// holds, synced) and opens the next one, recorded in the manifest.
fn switch_incr(server: &Server, f: &mut Files) -> Result<(), String> {
    server.propagation.switch_file(|pending, last| {
        f.append(&pending)
            .and_then(|_| f.sync())
            .map_err(|e| format!("ERR Error writing to the AOF file: {e}"))?;
        server.propagation.set_durable(last);
        let seq = f.manifest.last_incr_seq() + 1;
        let name = incr_name(&f.prefix, seq);
        f.incr = std::fs::File::create(f.dir.join(&name))
            .map_err(|e| format!("ERR Can't open the append-only file {name}: {e}"))?;
        f.len = 0;
        f.manifest.incr.push(AofFile {
            name,
            seq,
            kind: FileType::Incr,
        });
        f.store_manifest()
            .map_err(|e| format!("ERR Can't persist the AOF manifest: {e}"))
    })
}

/// BGREWRITEAOF; the caller holds the keyspace gate exclusively.
pub fn bgrewriteaof(server: &Server) -> Result<Started, String> {
    let config = server.config.read().clone();
    start_locked(server, &config, Vec::new(), true)
}

/// Stops a running rewrite child (AOF turned off, shutdown).
pub(crate) fn kill(server: &Server) {
    if server.persistence.child_kind() == Some(ChildKind::Aof) {
        snapshot::kill_child(server);
    }
}

/// The rewrite child ended (reaped by the snapshot module's cron):
/// installs its base, or cleans up after it.
fn done(server: &Server, exit: &snapshot::ChildExit) {
    let Some(job) = server.aof.job.lock().take() else {
        return;
    };
    let stats = &server.aof.stats;
    stats.rewrite_in_progress.store(false, Ordering::Relaxed);
    stats
        .last_rewrite_secs
        .store(exit.seconds as i64, Ordering::Relaxed);
    let result = if exit.success() {
        install(server, &job)
    } else {
        Err(match exit.signal {
            Some(signal) => format!("terminated by signal {signal}"),
            None => "the child failed".to_string(),
        })
    };
    match result {
        Ok(()) => {
            stats.last_rewrite_failed.store(false, Ordering::Relaxed);
            stats.rewrites.fetch_add(1, Ordering::Relaxed);
            tracing::info!("Background AOF rewrite finished successfully");
        }
        Err(e) => {
            let _ = std::fs::remove_file(&job.temp);
            // Stopping the child ourselves is not a failure.
            if exit.signal != Some(libc::SIGUSR1) {
                stats.last_rewrite_failed.store(true, Ordering::Relaxed);
            }
            tracing::warn!("Background AOF rewrite failed: {e}");
        }
    }
}

/// Cron: starts a rewrite that was scheduled behind a BGSAVE, or an
/// automatic one when the AOF grew past `auto-aof-rewrite-percentage` of
/// its size after the last rewrite and is at least
/// `auto-aof-rewrite-min-size`.
pub fn cron(server: &Server) {
    if server.persistence.child_kind().is_some() {
        return;
    }
    let scheduled = server.aof.scheduled.load(Ordering::Relaxed);
    if !scheduled && !auto_rewrite_due(server) {
        return;
    }
    let _gate = server.keyspace.gate.write();
    if !scheduled {
        tracing::info!("Starting automatic rewriting of AOF");
    }
    if let Err(e) = bgrewriteaof(server) {
        tracing::warn!("Background AOF rewrite failed to start: {e}");
    }
}

/// Puts the child's base in place, switches the manifest, deletes what it
/// supersedes.
fn install(server: &Server, job: &Job) -> Result<(), String> {
    let io = |e: std::io::Error| e.to_string();
    std::fs::rename(&job.temp, job.dir.join(&job.base.name)).map_err(io)?;
    sync_dir(&job.dir).map_err(io)?;
    let size_of = |name: &str| std::fs::metadata(job.dir.join(name)).map_or(0, |m| m.len());
    let mut files = server.aof.files.lock();
    let manifest = match files.as_mut() {
        Some(f) => {
            f.manifest.base = Some(job.base.clone());
            f.manifest
                .incr
                .retain(|i| !job.superseded.iter().any(|s| s.name == i.name));
            f.store_manifest().map_err(io)?;
            f.manifest.clone()
        }
        None => {
            let m = Manifest {
                base: Some(job.base.clone()),
                incr: Vec::new(),
                history: Vec::new(),
            };
            m.store(&job.dir, &format!("{}.manifest", job.prefix))
                .map_err(io)?;
            m
        }
    };
    drop(files);
    for old in &job.superseded {
        if manifest.base.as_ref().is_some_and(|b| b.name == old.name)
            || manifest.incr.iter().any(|i| i.name == old.name)
        {
            continue;
        }
        let _ = std::fs::remove_file(job.dir.join(&old.name));
    }
    let size: u64 = manifest
        .base
        .iter()
        .chain(&manifest.incr)
        .map(|f| size_of(&f.name))
        .sum();
    let stats = &server.aof.stats;
    stats.current_size.store(size, Ordering::Relaxed);
    stats.base_size.store(size, Ordering::Relaxed);
    Ok(())
}

/// Whether the AOF grew enough for an automatic rewrite.
fn auto_rewrite_due(server: &Server) -> bool {
    if !server.aof.is_on() || server.aof.job.lock().is_some() {
        return false;
    }
    let (pct, min) = {
        let c = server.config.read();
        (c.auto_aof_rewrite_percentage, c.auto_aof_rewrite_min_size)
    };
    let stats = &server.aof.stats;
    let current = stats.current_size.load(Ordering::Relaxed);
    let base = stats.base_size.load(Ordering::Relaxed).max(1);
    pct > 0 && current > min && (current - base.min(current)) * 100 / base >= pct
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_items_like_redis() {
        let mut out = Vec::new();
        let items = (0..65).map(|i: i32| vec![i.to_string().into_bytes()]);
        batched(&mut out, b"RPUSH", b"l", 1, items).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("*66\r\n$5\r\nRPUSH\r\n$1\r\nl\r\n$1\r\n0\r\n"));
        assert!(text.ends_with("*3\r\n$5\r\nRPUSH\r\n$1\r\nl\r\n$2\r\n64\r\n"));
    }
}
