//! The append-only file, in Redis 7's multi-part layout: a directory
//! (`appenddirname`) holding a manifest, one base file (a full dataset)
//! and incremental files with the commands applied since.
//!
//! A writer thread takes the propagation stream and appends it to the
//! current incremental file; `appendfsync` decides when it is synced and
//! when replies may leave (see [`Fsync`]). BGREWRITEAOF forks a child
//! that writes a new base while the parent switches to a new incremental
//! file, so the server never stops.

pub mod load;
pub mod manifest;
pub mod rewrite;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::config::Config;
use crate::server::Server;
use manifest::{AofFile, FileType, Manifest};

/// `appendfsync`: when appended commands reach the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Fsync {
    /// fsync before the replies of the commands leave (group commit).
    Always,
    /// Written before the reply, fsync once per second.
    #[default]
    EverySec,
    /// Written before the reply, fsync left to the kernel.
    No,
}

impl Fsync {
    /// Parses the directive value.
    pub fn parse(v: &str) -> Result<Self, String> {
        match v.to_ascii_lowercase().as_str() {
            "always" => Ok(Fsync::Always),
            "everysec" => Ok(Fsync::EverySec),
            "no" => Ok(Fsync::No),
            _ => Err("argument(s) must be one of the following: everysec, always, no".into()),
        }
    }

    /// The directive value.
    pub fn name(self) -> &'static str {
        match self {
            Fsync::Always => "always",
            Fsync::EverySec => "everysec",
            Fsync::No => "no",
        }
    }
}

/// The AOF files in use.
pub(crate) struct Files {
    /// `dir/appenddirname`.
    pub dir: PathBuf,
    /// `appendfilename`, the prefix of every file name.
    pub prefix: String,
    /// What the manifest on disk says.
    pub manifest: Manifest,
    /// The incremental file being appended to.
    pub incr: File,
    /// Size of the incremental file (a failed append is cut back to it).
    pub len: u64,
    /// Bytes appended since the last fsync.
    pub unsynced: bool,
    /// When the last fsync happened.
    pub last_fsync: Instant,
}

impl Files {
    /// The manifest's file name.
    pub fn manifest_name(&self) -> String {
        format!("{}.manifest", self.prefix)
    }

    /// Writes the manifest atomically.
    pub fn store_manifest(&self) -> std::io::Result<()> {
        self.manifest.store(&self.dir, &self.manifest_name())
    }

    /// Appends bytes to the incremental file.
    fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.incr.write_all(bytes)?;
        self.len += bytes.len() as u64;
        self.unsynced = true;
        Ok(())
    }

    fn sync(&mut self) -> std::io::Result<()> {
        if self.unsynced {
            self.incr.sync_data()?;
            self.unsynced = false;
        }
        self.last_fsync = Instant::now();
        Ok(())
    }
}

/// Counters and flags shown by `INFO persistence`.
#[derive(Default)]
pub struct AofStats {
    /// A rewrite child is running.
    pub rewrite_in_progress: AtomicBool,
    /// Completed rewrites.
    pub rewrites: AtomicU64,
    /// Whether the last rewrite failed.
    pub last_rewrite_failed: AtomicBool,
    /// Duration of the last rewrite in seconds (-1 = none yet).
    pub last_rewrite_secs: AtomicI64,
    /// Whether the last write to the file failed.
    pub last_write_failed: AtomicBool,
    /// Size of the base plus incremental files.
    pub current_size: AtomicU64,
    /// Size after the last rewrite or load (auto-rewrite growth baseline).
    pub base_size: AtomicU64,
}

/// The AOF subsystem of a server.
#[derive(Default)]
pub struct Aof {
    files: Arc<Mutex<Option<Files>>>,
    writer: Mutex<Option<(Arc<AtomicBool>, std::thread::JoinHandle<()>)>>,
    pub(crate) job: Mutex<Option<rewrite::Job>>,
    /// A BGREWRITEAOF waits for a BGSAVE child to finish.
    pub(crate) scheduled: AtomicBool,
    /// Files of an earlier run that the next rewrite supersedes (the AOF
    /// was turned on while a BGSAVE ran, so the rewrite waits).
    pub(crate) superseded: Mutex<Vec<AofFile>>,
    /// Statistics for INFO.
    pub stats: Arc<AofStats>,
}

/// The AOF directory of a configuration, relative to the working
/// directory (the server runs inside `dir`).
pub fn aof_dir(config: &Config) -> PathBuf {
    PathBuf::from(&config.appenddirname)
}

/// Name of an incremental file.
fn incr_name(prefix: &str, seq: u64) -> String {
    format!("{prefix}.{seq}.incr.aof")
}

/// Opens (creating) a file for appending.
fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl Aof {
    /// Whether the AOF is on (files open, the stream feeding them).
    pub fn is_on(&self) -> bool {
        self.files.lock().is_some()
    }

    /// Start-up with `appendonly yes`: loads the AOF (upgrading an old
    /// single-file AOF), or creates one, then starts appending.
    pub fn start(server: &Arc<Server>) -> Result<(), String> {
        let config = server.config.read().clone();
        let dir = aof_dir(&config);
        let manifest_path = dir.join(format!("{}.manifest", config.appendfilename));
        let old_single = PathBuf::from(&config.appendfilename);
        let manifest = if manifest_path.exists() {
            let text = std::fs::read(&manifest_path).map_err(|e| {
                format!(
                    "Can't read the AOF manifest {}: {e}",
                    manifest_path.display()
                )
            })?;
            Some(Manifest::parse(&text)?)
        } else if old_single.is_file() {
            Some(upgrade_single_file(&config, &dir, &old_single)?)
        } else {
            None
        };
        let Some(mut manifest) = manifest else {
            return server.aof.create_fresh(server, &config);
        };
        let started = Instant::now();
        let loaded = load::load_all(server, &dir, &manifest, config.aof_load_truncated)?;
        tracing::info!(
            "DB loaded from append only file: {:.3} seconds",
            started.elapsed().as_secs_f64()
        );
        if manifest.incr.is_empty() {
            let seq = 1;
            manifest.incr.push(AofFile {
                name: incr_name(&config.appendfilename, seq),
                seq,
                kind: FileType::Incr,
            });
        }
        let current = manifest
            .incr
            .last()
            .map(|f| f.name.clone())
            .unwrap_or_default();
        let incr = open_append(&dir.join(&current))
            .map_err(|e| format!("Can't open the append-only file {current}: {e}"))?;
        let len = incr.metadata().map_or(0, |m| m.len());
        let files = Files {
            dir,
            prefix: config.appendfilename.clone(),
            manifest,
            incr,
            len,
            unsynced: false,
            last_fsync: Instant::now(),
        };
        files
            .store_manifest()
            .map_err(|e| format!("Can't persist the AOF manifest: {e}"))?;
        server
            .aof
            .stats
            .current_size
            .store(loaded, Ordering::Relaxed);
        server.aof.stats.base_size.store(loaded, Ordering::Relaxed);
        *server.aof.files.lock() = Some(files);
        server.propagation.set_enabled(true);
        server.aof.spawn_writer(server);
        Ok(())
    }

    /// First start with the AOF on and no AOF yet: writes the base (the
    /// data is whatever start-up loaded, usually nothing) synchronously,
    /// before clients connect, then opens the first incremental file.
    fn create_fresh(&self, server: &Arc<Server>, config: &Config) -> Result<(), String> {
        let dir = aof_dir(config);
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("Can't create the AOF directory {}: {e}", dir.display()))?;
        let prefix = &config.appendfilename;
        let ext = if config.aof_use_rdb_preamble {
            "rdb"
        } else {
            "aof"
        };
        let base = format!("{prefix}.1.base.{ext}");
        let incr = incr_name(prefix, 1);
        let written = (|| -> std::io::Result<(File, u64)> {
            let mut w = std::io::BufWriter::new(File::create(dir.join(&base))?);
            if config.aof_use_rdb_preamble {
                let opts =
                    rewrite::base_rdb_options(config, crate::persist::function_sources(server));
                crate::persist::rdb::save(&mut w, &server.keyspace, &opts)?;
            } else {
                rewrite::write_base(
                    &mut w,
                    &server.keyspace,
                    &crate::persist::function_sources(server),
                )?;
            }
            let file = w.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()?;
            let size = file.metadata()?.len();
            Ok((File::create(dir.join(&incr))?, size))
        })();
        let (incr_file, size) =
            written.map_err(|e| format!("Can't create the append-only file: {e}"))?;
        let files = Files {
            dir,
            prefix: prefix.clone(),
            manifest: Manifest {
                base: Some(AofFile {
                    name: base,
                    seq: 1,
                    kind: FileType::Base,
                }),
                incr: vec![AofFile {
                    name: incr,
                    seq: 1,
                    kind: FileType::Incr,
                }],
                history: Vec::new(),
            },
            incr: incr_file,
            len: 0,
            unsynced: false,
            last_fsync: Instant::now(),
        };
        files
            .store_manifest()
            .map_err(|e| format!("Can't persist the AOF manifest: {e}"))?;
        tracing::info!("Creating AOF base file {prefix}.1.base.{ext} on server start");
        self.stats.current_size.store(size, Ordering::Relaxed);
        self.stats.base_size.store(size, Ordering::Relaxed);
        *self.files.lock() = Some(files);
        server.propagation.set_enabled(true);
        self.spawn_writer(server);
        Ok(())
    }

    /// Turns the AOF on while running (`CONFIG SET appendonly yes`): a new
    /// incremental file, the stream enabled, and a rewrite that writes the
    /// current data as the new base. The caller holds the keyspace gate
    /// exclusively.
    pub fn enable(&self, server: &Arc<Server>, config: &Config) -> Result<(), String> {
        if self.is_on() {
            return Ok(());
        }
        let dir = aof_dir(config);
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("Can't create the AOF directory {}: {e}", dir.display()))?;
        // Numbering continues from a manifest left by an earlier run; its
        // files are superseded by the rewrite below.
        let manifest_path = dir.join(format!("{}.manifest", config.appendfilename));
        let old = std::fs::read(&manifest_path)
            .ok()
            .and_then(|t| Manifest::parse(&t).ok())
            .unwrap_or_default();
        let seq = old.last_incr_seq() + 1;
        let name = incr_name(&config.appendfilename, seq);
        let incr = File::create(dir.join(&name))
            .map_err(|e| format!("Can't open the append-only file {name}: {e}"))?;
        let mut history = old.history.clone();
        history.extend(old.base.clone());
        history.extend(old.incr.iter().cloned());
        for f in &mut history {
            f.kind = FileType::History;
        }
        let files = Files {
            dir,
            prefix: config.appendfilename.clone(),
            manifest: Manifest {
                base: old.base.clone(),
                incr: vec![AofFile {
                    name,
                    seq,
                    kind: FileType::Incr,
                }],
                history: Vec::new(),
            },
            incr,
            len: 0,
            unsynced: false,
            last_fsync: Instant::now(),
        };
        *self.files.lock() = Some(files);
        server.propagation.set_enabled(true);
        self.spawn_writer(server);
        // A rewrite started while the AOF was off does not cover what the
        // new incremental file misses: Redis stops it and starts anew.
        if server.persistence.child_kind() == Some(crate::persist::snapshot::ChildKind::Aof) {
            tracing::warn!("AOF was enabled but there is already an AOF rewriting in background. Stopping background AOF and starting a rewrite now.");
            rewrite::kill(server);
        }
        rewrite::start_locked(server, config, history, false).map(|_| ())
    }

    /// Turns the AOF off (`CONFIG SET appendonly no`): the stream stops,
    /// pending commands are written and synced, a running rewrite is
    /// abandoned. The caller holds the keyspace gate exclusively.
    pub fn disable(&self, server: &Server) {
        rewrite::kill(server);
        self.scheduled.store(false, Ordering::Relaxed);
        self.superseded.lock().clear();
        self.stop_writer(server);
        server.propagation.set_enabled(false);
        *self.files.lock() = None;
    }

    /// Shutdown: writes and fsyncs everything appended so far.
    pub fn shutdown(&self, server: &Server) {
        if self.is_on() {
            rewrite::kill(server);
            self.stop_writer(server);
            server.propagation.set_enabled(false);
        }
    }

    fn spawn_writer(&self, server: &Arc<Server>) {
        let stop = Arc::new(AtomicBool::new(false));
        let (files, stats, server) = (self.files.clone(), self.stats.clone(), server.clone());
        let stop2 = stop.clone();
        let handle = std::thread::Builder::new()
            .name("aof-writer".into())
            .spawn(move || writer_loop(&server, &files, &stats, &stop2))
            .expect("spawn the AOF writer thread");
        *self.writer.lock() = Some((stop, handle));
    }

    /// Stops the writer thread after it wrote and synced what is pending.
    fn stop_writer(&self, server: &Server) {
        let writer = self.writer.lock().take();
        if let Some((stop, handle)) = writer {
            stop.store(true, Ordering::Relaxed);
            server.propagation.wake();
            let _ = handle.join();
        }
        if let Some(files) = self.files.lock().as_mut() {
            let (bytes, last) = server.propagation.take();
            if let Err(e) = files.append(&bytes).and_then(|_| files.incr.sync_data()) {
                tracing::warn!("Error writing the append-only file on shutdown: {e}");
            }
            server.propagation.set_durable(last);
        }
    }

    /// The AOF state lines of `INFO persistence` (`aof_enabled` …
    /// `aof_last_cow_size`).
    pub fn info(&self, out: &mut String) {
        let s = &self.stats;
        let rewriting = s.rewrite_in_progress.load(Ordering::Relaxed);
        let current_rewrite = self
            .job
            .lock()
            .as_ref()
            .map_or(-1, |j| j.started.elapsed().as_secs() as i64);
        let status = |failed: &AtomicBool| {
            if failed.load(Ordering::Relaxed) {
                "err"
            } else {
                "ok"
            }
        };
        let fields: [(&str, String); 10] = [
            ("aof_enabled", u8::from(self.is_on()).to_string()),
            ("aof_rewrite_in_progress", u8::from(rewriting).to_string()),
            (
                "aof_rewrite_scheduled",
                u8::from(self.scheduled.load(Ordering::Relaxed)).to_string(),
            ),
            (
                "aof_last_rewrite_time_sec",
                s.last_rewrite_secs.load(Ordering::Relaxed).to_string(),
            ),
            ("aof_current_rewrite_time_sec", current_rewrite.to_string()),
            (
                "aof_last_bgrewrite_status",
                status(&s.last_rewrite_failed).into(),
            ),
            (
                "aof_rewrites",
                s.rewrites.load(Ordering::Relaxed).to_string(),
            ),
            (
                "aof_rewrites_consecutive_failures",
                u8::from(s.last_rewrite_failed.load(Ordering::Relaxed)).to_string(),
            ),
            ("aof_last_write_status", status(&s.last_write_failed).into()),
            ("aof_last_cow_size", "0".into()),
        ];
        for (k, v) in fields {
            out.push_str(&format!("{k}:{v}\r\n"));
        }
    }

    /// The size lines Redis adds to `INFO persistence` while the AOF is
    /// on (after the module fork lines).
    pub fn info_sizes(&self, out: &mut String) {
        if !self.is_on() {
            return;
        }
        let s = &self.stats;
        let fields: [(&str, u64); 6] = [
            ("aof_current_size", s.current_size.load(Ordering::Relaxed)),
            ("aof_base_size", s.base_size.load(Ordering::Relaxed)),
            ("aof_pending_rewrite", 0),
            ("aof_buffer_length", 0),
            ("aof_pending_bio_fsync", 0),
            ("aof_delayed_fsync", 0),
        ];
        for (k, v) in fields {
            out.push_str(&format!("{k}:{v}\r\n"));
        }
    }
}

/// `CONFIG SET appendonly yes|no`, after the command (takes the keyspace
/// gate exclusively).
pub fn switch(server: &Arc<Server>, on: bool) {
    let _gate = server.keyspace.gate.write();
    if on {
        let config = server.config.read().clone();
        if let Err(e) = server.aof.enable(server, &config) {
            tracing::warn!("Can't turn the append only file on: {e}");
            server.aof.disable(server);
            server.config.write().appendonly = false;
        }
    } else {
        server.aof.disable(server);
    }
}

/// Appends the stream to the current incremental file until stopped.
/// `always` syncs before the commands count as durable; `everysec` syncs
/// once a second on a duplicate descriptor in a helper thread, so a slow
/// disk does not hold up appends (and the replies waiting for them).
fn writer_loop(server: &Server, files: &Mutex<Option<Files>>, stats: &AofStats, stop: &AtomicBool) {
    let fsync_running = Arc::new(AtomicBool::new(false));
    loop {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        server.propagation.wait_ready(Duration::from_millis(100));
        let fsync = server.config.read().appendfsync;
        let mut guard = files.lock();
        let Some(files) = guard.as_mut() else { return };
        // Taken under the files lock, so a rewrite switching files never
        // sees bytes in flight between the stream and a file.
        let (bytes, last) = server.propagation.take();
        if let Err(e) = files.append(&bytes) {
            // Nothing of it counts: cut a partial write off and put the
            // bytes back, to be retried; the replies keep waiting.
            let _ = files.incr.set_len(files.len);
            server.propagation.requeue(bytes);
            tracing::error!("Error writing to the AOF file: {e}");
            stats.last_write_failed.store(true, Ordering::Relaxed);
            drop(guard);
            std::thread::sleep(Duration::from_secs(1));
            continue;
        }
        stats.last_write_failed.store(false, Ordering::Relaxed);
        stats
            .current_size
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        match fsync {
            Fsync::Always => match files.sync() {
                Ok(()) => server.propagation.set_durable(last),
                Err(e) => {
                    // Retried on the next round before anything counts.
                    tracing::error!("Can't fsync the AOF file: {e}");
                    stats.last_write_failed.store(true, Ordering::Relaxed);
                }
            },
            Fsync::EverySec => {
                server.propagation.set_durable(last);
                let due = files.last_fsync.elapsed() >= Duration::from_secs(1);
                if due && files.unsynced && !fsync_running.swap(true, Ordering::Relaxed) {
                    match files.incr.try_clone() {
                        Ok(dup) => {
                            files.unsynced = false;
                            files.last_fsync = Instant::now();
                            let running = fsync_running.clone();
                            std::thread::spawn(move || {
                                if let Err(e) = dup.sync_data() {
                                    tracing::warn!("Background AOF fsync failed: {e}");
                                }
                                running.store(false, Ordering::Relaxed);
                            });
                        }
                        Err(_) => fsync_running.store(false, Ordering::Relaxed),
                    }
                }
            }
            Fsync::No => server.propagation.set_durable(last),
        }
    }
}

/// Moves an old single-file AOF into the directory as the base of a new
/// manifest, as Redis 7 does when it first starts on a Redis 6 data dir.
fn upgrade_single_file(config: &Config, dir: &Path, old: &Path) -> Result<Manifest, String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("Can't create the AOF directory {}: {e}", dir.display()))?;
    let manifest = Manifest {
        base: Some(AofFile {
            name: config.appendfilename.clone(),
            seq: 1,
            kind: FileType::Base,
        }),
        incr: Vec::new(),
        history: Vec::new(),
    };
    std::fs::rename(old, dir.join(&config.appendfilename))
        .map_err(|e| format!("Error moving the old AOF file into the AOF directory: {e}"))?;
    manifest
        .store(dir, &format!("{}.manifest", config.appendfilename))
        .map_err(|e| format!("Can't persist the AOF manifest: {e}"))?;
    tracing::info!("Successfully migrated an old-style AOF into the AOF directory");
    Ok(manifest)
}
