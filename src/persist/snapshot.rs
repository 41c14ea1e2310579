//! Point-in-time snapshots of the keyspace, the way Redis takes them: a
//! `fork()`ed child writes the RDB file from its copy-on-write image of
//! memory while the server goes on answering (BGSAVE, save points), or the
//! server writes it itself with every command held off (SAVE, SHUTDOWN,
//! DEBUG RELOAD). Also the RDB file at start-up, the save-point schedule
//! run by the cron, the state `INFO persistence` reports and the
//! `stop-writes-on-bgsave-error` refusal.
//!
//! Fork safety: the parent forks while holding the keyspace gate
//! exclusively, so no command is in the middle of a shard (every path that
//! locks shards — commands, blocking serves, active expiry — does so under
//! the gate held shared). The child only reads the keyspace and data
//! prepared before the fork: no tracing (another thread may have held the
//! stdout lock at fork time), no tokio, no lock other than the shard
//! mutexes, which were all free. What it has to say goes through a pipe,
//! logged by the parent when it reaps the child.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Instant;

use parking_lot::Mutex;

use crate::config::Config;
use crate::keyspace::Keyspace;
use crate::persist::rdb;
use crate::server::Server;
use crate::util::time::now_ms;

/// Seconds before save points may retry after a failed background save
/// (Redis's `CONFIG_BGSAVE_RETRY_DELAY`), so a broken disk is not hammered
/// with a fork per cron tick.
const BGSAVE_RETRY_DELAY: u64 = 5;

/// Bytes of log text a child may send; more is dropped, so a chatty child
/// can never block on a full pipe the parent only drains after its exit.
const CHILD_LOG_ROOM: usize = 4096;

/// The `MISCONF` refusal, worded as Redis's.
pub const MISCONF: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

/// What a forked child is doing. Only one child runs at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildKind {
    /// Writing an RDB snapshot (BGSAVE, save points).
    Rdb,
    /// Rewriting the append-only file (BGREWRITEAOF).
    Aof,
}

/// How a forked child ended, handed to its completion callback.
#[derive(Debug)]
pub struct ChildExit {
    /// Its process id.
    pub pid: i32,
    /// Its exit status, when it exited.
    pub code: Option<i32>,
    /// The signal that killed it, when one did.
    pub signal: Option<i32>,
    /// Whole seconds it ran.
    pub seconds: u64,
}

impl ChildExit {
    /// Whether the child exited with status 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// Called by the reaper once a child has ended.
pub type ChildDone = Box<dyn FnOnce(&Server, &ChildExit) + Send>;

struct Child {
    pid: i32,
    kind: ChildKind,
    started: Instant,
    /// Read end of the pipe the child logs through.
    log: OwnedFd,
    done: ChildDone,
}

/// Log level of a line a child sends to its parent.
#[derive(Clone, Copy)]
enum Level {
    Notice,
    Warning,
}

/// How a forked child reports to the server log: lines written straight
/// to a pipe with `write(2)`, no lock involved. The parent logs them when
/// it reaps the child.
pub struct ChildLog {
    fd: RawFd,
    room: usize,
}

impl ChildLog {
    /// Logs `msg` at notice level.
    pub fn notice(&mut self, msg: &str) {
        self.line(Level::Notice, msg);
    }

    /// Logs `msg` at warning level.
    pub fn warning(&mut self, msg: &str) {
        self.line(Level::Warning, msg);
    }

    fn line(&mut self, level: Level, msg: &str) {
        let mut line = Vec::with_capacity(msg.len() + 2);
        line.push(match level {
            Level::Notice => b'N',
            Level::Warning => b'W',
        });
        line.extend(msg.bytes().filter(|&b| b != b'\n'));
        line.push(b'\n');
        if line.len() > self.room {
            return;
        }
        self.room -= line.len();
        let mut rest = &line[..];
        while !rest.is_empty() {
            // SAFETY: writing an initialised buffer to a pipe we own.
            let n = unsafe { libc::write(self.fd, rest.as_ptr().cast(), rest.len()) };
            if n <= 0 {
                return;
            }
            rest = &rest[n as usize..];
        }
    }
}

/// Persistence state: the running child and what `INFO persistence`
/// reports. `Server::lastsave` and the dirty counter in `Stats` complete it.
pub struct Persistence {
    child: Mutex<Option<Child>>,
    /// The last background save (or SAVE) succeeded.
    bgsave_ok: AtomicBool,
    /// Unix time (s) of the last background save attempt.
    last_bgsave_try: AtomicU64,
    /// Duration of the last background save in seconds, -1 before any.
    last_bgsave_secs: AtomicI64,
    /// The dirty counter when the running background save forked.
    dirty_at_fork: AtomicU64,
    /// SAVE and BGSAVE attempts (`rdb_saves`).
    saves: AtomicU64,
    /// `BGSAVE SCHEDULE` (or BGSAVE inside EXEC) waits for its turn.
    bgsave_scheduled: AtomicBool,
    /// Keys loaded and skipped as expired by the last RDB load.
    keys_loaded: AtomicU64,
    keys_expired: AtomicU64,
    /// How long the last `fork()` took in µs (`latest_fork_usec`): the
    /// time the keyspace gate was held for it.
    latest_fork_usec: AtomicU64,
    /// Successful forks (`total_forks`).
    total_forks: AtomicU64,
}

impl Default for Persistence {
    fn default() -> Self {
        Self {
            child: Mutex::new(None),
            bgsave_ok: AtomicBool::new(true),
            last_bgsave_try: AtomicU64::new(0),
            last_bgsave_secs: AtomicI64::new(-1),
            dirty_at_fork: AtomicU64::new(0),
            saves: AtomicU64::new(0),
            bgsave_scheduled: AtomicBool::new(false),
            keys_loaded: AtomicU64::new(0),
            keys_expired: AtomicU64::new(0),
            latest_fork_usec: AtomicU64::new(0),
            total_forks: AtomicU64::new(0),
        }
    }
}

/// Numbers for `INFO persistence`.
pub struct PersistenceInfo {
    /// `rdb_bgsave_in_progress`.
    pub bgsave_in_progress: bool,
    /// `rdb_last_bgsave_status` is `ok`.
    pub bgsave_ok: bool,
    /// `rdb_last_bgsave_time_sec`.
    pub last_bgsave_secs: i64,
    /// `rdb_current_bgsave_time_sec`.
    pub current_bgsave_secs: i64,
    /// `rdb_saves`.
    pub saves: u64,
    /// `rdb_last_load_keys_expired`.
    pub keys_expired: u64,
    /// `rdb_last_load_keys_loaded`.
    pub keys_loaded: u64,
}

impl Persistence {
    /// What the running child does, if one runs.
    pub fn child_kind(&self) -> Option<ChildKind> {
        self.child.lock().as_ref().map(|c| c.kind)
    }

    /// Whether write commands must be refused with [`MISCONF`]: the last
    /// background save failed, save points are configured and
    /// `stop-writes-on-bgsave-error` is on (Redis's
    /// `writeCommandsDeniedByDiskError`).
    pub fn writes_denied(&self, config: &parking_lot::RwLock<Config>) -> bool {
        if self.bgsave_ok.load(Ordering::Relaxed) {
            return false;
        }
        let c = config.read();
        c.stop_writes_on_bgsave_error && !c.save.is_empty()
    }

    /// Asks the cron to start a background save as soon as no child runs.
    pub fn schedule_bgsave(&self) {
        self.bgsave_scheduled.store(true, Ordering::Relaxed);
    }

    /// `latest_fork_usec` and `total_forks` for `INFO stats`.
    pub fn fork_stats(&self) -> (u64, u64) {
        (
            self.latest_fork_usec.load(Ordering::Relaxed),
            self.total_forks.load(Ordering::Relaxed),
        )
    }

    /// Counts a SAVE or BGSAVE attempt.
    pub fn count_save(&self) {
        self.saves.fetch_add(1, Ordering::Relaxed);
    }

    /// The numbers `INFO persistence` shows.
    pub fn info(&self) -> PersistenceInfo {
        let current = self
            .child
            .lock()
            .as_ref()
            .filter(|c| c.kind == ChildKind::Rdb)
            .map(|c| c.started.elapsed().as_secs() as i64);
        PersistenceInfo {
            bgsave_in_progress: current.is_some(),
            bgsave_ok: self.bgsave_ok.load(Ordering::Relaxed),
            last_bgsave_secs: self.last_bgsave_secs.load(Ordering::Relaxed),
            current_bgsave_secs: current.unwrap_or(-1),
            saves: self.saves.load(Ordering::Relaxed),
            keys_expired: self.keys_expired.load(Ordering::Relaxed),
            keys_loaded: self.keys_loaded.load(Ordering::Relaxed),
        }
    }
}

/// `strerror`-style text of an I/O error (without Rust's "(os error N)").
fn strerror(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

fn unix_secs() -> u64 {
    now_ms() / 1000
}

/// Runs `work` in a forked child while the caller holds the keyspace gate
/// exclusively (an `exclusive` command, or [`fork_child`]); returns the
/// child's pid. The child exits with `work`'s return value (1 if it
/// panics) without running any destructor or exit handler. The cron
/// reaps it and then calls `done`. Fails when a child already runs.
pub fn fork_child_gated<F>(
    server: &Server,
    kind: ChildKind,
    work: F,
    done: ChildDone,
) -> std::io::Result<i32>
where
    F: FnOnce(&mut ChildLog) -> i32,
{
    let mut slot = server.persistence.child.lock();
    if slot.is_some() {
        return Err(std::io::Error::other("another child process is active"));
    }
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe2 fills two descriptors we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned only here.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let forking = Instant::now();
    // SAFETY: the child only runs `work` (keyspace reads, file writes,
    // allocation — jemalloc resets its locks across fork) and `_exit`s.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // A signal meant for the server must not reach the parent's
        // handlers through the inherited tokio self-pipe: default actions.
        // SAFETY: signal(2) is async-signal-safe.
        unsafe {
            libc::signal(libc::SIGTERM, libc::SIG_DFL);
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::signal(libc::SIGUSR1, libc::SIG_DFL);
        }
        let mut log = ChildLog {
            fd: write.as_raw_fd(),
            room: CHILD_LOG_ROOM,
        };
        let status = catch_unwind(AssertUnwindSafe(|| work(&mut log))).unwrap_or(1);
        // SAFETY: leaves the child without unwinding into the parent's
        // stack frames or running atexit handlers it shares with it.
        unsafe { libc::_exit(status) };
    }
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    drop(write);
    let p = &server.persistence;
    p.latest_fork_usec
        .store(forking.elapsed().as_micros() as u64, Ordering::Relaxed);
    p.total_forks.fetch_add(1, Ordering::Relaxed);
    *slot = Some(Child {
        pid,
        kind,
        started: Instant::now(),
        log: read,
        done,
    });
    Ok(pid)
}

/// [`fork_child_gated`] for callers that do not hold the gate: takes it
/// exclusively for the fork only.
pub fn fork_child<F>(
    server: &Server,
    kind: ChildKind,
    work: F,
    done: ChildDone,
) -> std::io::Result<i32>
where
    F: FnOnce(&mut ChildLog) -> i32,
{
    let _gate = server.keyspace.gate.write();
    fork_child_gated(server, kind, work, done)
}

/// Logs what a finished child sent through its pipe.
fn relay_child_log(pid: i32, fd: &OwnedFd) {
    let mut text = Vec::new();
    // SAFETY: a duplicate of our descriptor, owned by the File.
    let dup = unsafe { libc::dup(fd.as_raw_fd()) };
    if dup < 0 {
        return;
    }
    // SAFETY: `dup` is a fresh descriptor owned by this File only.
    let mut file = unsafe { File::from_raw_fd(dup) };
    let _ = file.read_to_end(&mut text);
    for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let msg = String::from_utf8_lossy(&line[1..]);
        match line[0] {
            b'W' => tracing::warn!("(child {pid}) {msg}"),
            _ => tracing::info!("(child {pid}) {msg}"),
        }
    }
}

/// Handles the end of `child` given its `waitpid` status.
fn finish_child(server: &Server, child: Child, status: Option<libc::c_int>) {
    relay_child_log(child.pid, &child.log);
    let (code, signal) = match status {
        Some(s) if libc::WIFEXITED(s) => (Some(libc::WEXITSTATUS(s)), None),
        Some(s) if libc::WIFSIGNALED(s) => (None, Some(libc::WTERMSIG(s))),
        _ => (Some(-1), None),
    };
    let exit = ChildExit {
        pid: child.pid,
        code,
        signal,
        seconds: child.started.elapsed().as_secs(),
    };
    (child.done)(server, &exit);
}

/// Reaps the child if it has ended (non-blocking), then runs its
/// completion callback.
pub fn reap_child(server: &Server) {
    let (child, status) = {
        let mut slot = server.persistence.child.lock();
        let Some(pid) = slot.as_ref().map(|c| c.pid) else {
            return;
        };
        let mut status: libc::c_int = 0;
        // SAFETY: waitpid on our own child with a valid status pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == 0 {
            return;
        }
        if r < 0 {
            tracing::warn!(
                "waitpid() returned an error: {}. child_pid = {pid}",
                strerror(&std::io::Error::last_os_error())
            );
        }
        let child = slot.take().expect("checked above");
        (child, (r > 0).then_some(status))
    };
    finish_child(server, child, status);
}

/// Kills the running child, if any, and waits for it (shutdown): its
/// completion callback sees the signal and cleans up its temp file.
pub fn kill_child(server: &Server) {
    let Some(child) = server.persistence.child.lock().take() else {
        return;
    };
    if child.kind == ChildKind::Rdb {
        tracing::warn!("There is a child saving an .rdb. Killing it!");
    }
    let mut status: libc::c_int = 0;
    // SAFETY: signalling and waiting for our own child.
    let r = unsafe {
        libc::kill(child.pid, libc::SIGUSR1);
        libc::waitpid(child.pid, &mut status, 0)
    };
    finish_child(server, child, (r > 0).then_some(status));
}

/// RDB writer options from the configuration, taken before a fork (the
/// child reads neither the configuration nor the allocator's statistics).
fn save_options(config: &Config, functions: Vec<String>) -> rdb::SaveOptions {
    use tikv_jemalloc_ctl::{epoch, stats};
    // jemalloc's statistics are a snapshot refreshed by advancing the epoch.
    let _ = epoch::advance();
    rdb::SaveOptions {
        compression: config.rdbcompression,
        checksum: config.rdbchecksum,
        used_mem: stats::allocated::read().unwrap_or(0) as u64,
        now_ms: now_ms(),
        list_max_listpack_size: config.encodings.list_max_listpack_size,
        functions,
        ..rdb::SaveOptions::default()
    }
}

/// Writes the whole keyspace as an RDB file at `path` (relative to the
/// working directory, which is `dir`): into `temp-<pid>.rdb` first,
/// fsynced, then renamed over `path` and the directory fsynced, so a
/// failure at any point leaves the previous file intact. The caller
/// guarantees nobody mutates the keyspace meanwhile. Errors are worded
/// as Redis logs them.
pub fn write_rdb_file(ks: &Keyspace, opts: &rdb::SaveOptions, path: &str) -> Result<(), String> {
    let tmp = format!("temp-{}.rdb", std::process::id());
    let cwd = || {
        std::env::current_dir()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "unknown".into())
    };
    let file = File::create(&tmp).map_err(|e| {
        format!(
            "Failed opening the temp RDB file {tmp} (in server root dir {}) for saving: {}",
            cwd(),
            strerror(&e)
        )
    })?;
    let written = (|| {
        let mut w = BufWriter::with_capacity(1 << 16, file);
        rdb::save(&mut w, ks, opts)?;
        w.flush()?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!("Write error saving DB on disk: {}", strerror(&e)));
    }
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!(
            "Error moving temp DB file {tmp} on the final destination {path} (in server root dir {}): {}",
            cwd(),
            strerror(&e)
        ));
    }
    let dir = Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| {
        format!(
            "Failed to fsync directory while saving DB: {}",
            strerror(&e)
        )
    })
}

/// Saves synchronously in this process (SAVE, SHUTDOWN, DEBUG RELOAD);
/// the caller holds the keyspace gate exclusively. On success the dirty
/// counter restarts from zero and LASTSAVE moves; on failure the reason
/// is logged and returned.
pub fn save_sync(server: &Server) -> Result<(), String> {
    let (opts, path) = {
        let c = server.config.read();
        (
            save_options(&c, super::function_sources(server)),
            c.dbfilename.clone(),
        )
    };
    match write_rdb_file(&server.keyspace, &opts, &path) {
        Ok(()) => {
            tracing::info!("DB saved on disk");
            server.stats.dirty.store(0, Ordering::Relaxed);
            server.lastsave.store(unix_secs(), Ordering::Relaxed);
            server.persistence.bgsave_ok.store(true, Ordering::Relaxed);
            Ok(())
        }
        Err(msg) => {
            tracing::warn!("{msg}");
            Err(msg)
        }
    }
}

/// Why a background save did not start.
#[derive(Debug, PartialEq, Eq)]
pub enum BgsaveError {
    /// A child process already runs.
    ChildActive,
    /// `fork()` failed (logged).
    Fork,
}

/// Starts a background save (BGSAVE, save points); the caller holds the
/// keyspace gate exclusively. Returns the child's pid.
pub fn bgsave_gated(server: &Server) -> Result<i32, BgsaveError> {
    let p = &server.persistence;
    if p.child_kind().is_some() {
        return Err(BgsaveError::ChildActive);
    }
    p.count_save();
    p.dirty_at_fork.store(
        server.stats.dirty.load(Ordering::Relaxed),
        Ordering::Relaxed,
    );
    p.last_bgsave_try.store(unix_secs(), Ordering::Relaxed);
    let (opts, path) = {
        let c = server.config.read();
        (
            save_options(&c, super::function_sources(server)),
            c.dbfilename.clone(),
        )
    };
    let keyspace = &server.keyspace;
    let work = |log: &mut ChildLog| match write_rdb_file(keyspace, &opts, &path) {
        Ok(()) => {
            log.notice("DB saved on disk");
            0
        }
        Err(msg) => {
            log.warning(&msg);
            1
        }
    };
    match fork_child_gated(server, ChildKind::Rdb, work, Box::new(bgsave_done)) {
        Ok(pid) => {
            tracing::info!("Background saving started by pid {pid}");
            Ok(pid)
        }
        Err(e) => {
            p.bgsave_ok.store(false, Ordering::Relaxed);
            tracing::warn!("Can't save in background: fork: {}", strerror(&e));
            Err(BgsaveError::Fork)
        }
    }
}

/// Completion of a background save (Redis's
/// `backgroundSaveDoneHandlerDisk`).
fn bgsave_done(server: &Server, exit: &ChildExit) {
    let p = &server.persistence;
    if exit.success() {
        tracing::info!("Background saving terminated with success");
        // Changes made while the child wrote are not in the file.
        let covered = p.dirty_at_fork.load(Ordering::Relaxed);
        let _ = server
            .stats
            .dirty
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |d| {
                Some(d.saturating_sub(covered))
            });
        server.lastsave.store(unix_secs(), Ordering::Relaxed);
        p.bgsave_ok.store(true, Ordering::Relaxed);
    } else if let Some(signal) = exit.signal {
        tracing::warn!("Background saving terminated by signal {signal}");
        let _ = std::fs::remove_file(format!("temp-{}.rdb", exit.pid));
        // SIGUSR1 is how the server itself stops a child: not a failure.
        if signal != libc::SIGUSR1 {
            p.bgsave_ok.store(false, Ordering::Relaxed);
        }
    } else {
        tracing::warn!("Background saving error");
        p.bgsave_ok.store(false, Ordering::Relaxed);
    }
    p.last_bgsave_secs
        .store(exit.seconds as i64, Ordering::Relaxed);
}

/// The cron's persistence work: reap a finished child, then start a
/// background save when one is scheduled or a save point is reached
/// (Redis's `serverCron`: at least `changes` changes and more than
/// `seconds` since the last save; after a failure, not before
/// [`BGSAVE_RETRY_DELAY`] seconds).
pub fn cron(server: &Server) {
    reap_child(server);
    let p = &server.persistence;
    if p.child_kind().is_some() {
        return;
    }
    let now = unix_secs();
    let may_retry = p.bgsave_ok.load(Ordering::Relaxed)
        || now.saturating_sub(p.last_bgsave_try.load(Ordering::Relaxed)) > BGSAVE_RETRY_DELAY;
    if !may_retry {
        return;
    }
    if p.bgsave_scheduled.load(Ordering::Relaxed) {
        let _gate = server.keyspace.gate.write();
        if bgsave_gated(server).is_ok() {
            p.bgsave_scheduled.store(false, Ordering::Relaxed);
        }
        return;
    }
    let points = server.config.read().save.clone();
    let dirty = server.stats.dirty.load(Ordering::Relaxed);
    let since = now.saturating_sub(server.lastsave.load(Ordering::Relaxed));
    if let Some((secs, changes)) = points
        .into_iter()
        .find(|&(secs, changes)| dirty >= changes && since > secs)
    {
        tracing::info!("{changes} changes in {secs} seconds. Saving...");
        let _gate = server.keyspace.gate.write();
        let _ = bgsave_gated(server);
    }
}

/// FLUSHALL's persistence part (Redis's `flushAllDataAndResetRDB`): a
/// background save of the old data is abandoned and, with save points
/// configured, the emptied dataset is saved at once, so a crash cannot
/// bring the flushed keys back. The caller holds the gate exclusively.
pub fn after_flushall(server: &Server) {
    if server.persistence.child_kind() == Some(ChildKind::Rdb) {
        kill_child(server);
    }
    if !server.config.read().save.is_empty() {
        // A failure is logged; FLUSHALL itself still succeeded.
        let _ = save_sync(server);
    }
}

/// Options of a final save before exiting (SHUTDOWN's flags; a signal
/// uses the defaults).
#[derive(Clone, Copy, Debug, Default)]
pub struct ShutdownFlags {
    /// SHUTDOWN NOSAVE: no final save even with save points.
    pub nosave: bool,
    /// SHUTDOWN SAVE: a final save even without save points.
    pub save: bool,
    /// SHUTDOWN FORCE: exit even when the final save fails.
    pub force: bool,
}

/// Everything to do before the process may exit (Redis's
/// `finishShutdown`): stop a running child, then write the final
/// snapshot when save points are configured or SAVE was given. The caller
/// holds the keyspace gate exclusively. Fails — the server must keep
/// running — when that save fails without FORCE (the reason is logged).
pub fn prepare_shutdown(server: &Server, flags: ShutdownFlags) -> Result<(), String> {
    kill_child(server);
    let save_points = !server.config.read().save.is_empty();
    if (save_points && !flags.nosave) || flags.save {
        tracing::info!("Saving the final RDB snapshot before exiting.");
        if let Err(why) = save_sync(server) {
            if flags.force {
                tracing::warn!("Error trying to save the DB. Exit anyway.");
            } else {
                tracing::warn!("Error trying to save the DB, can't exit.");
                tracing::warn!(
                    "Errors trying to shut down the server. Check the logs for more information."
                );
                return Err(why);
            }
        }
    }
    Ok(())
}

/// Loads `dbfilename` into the keyspace (start-up, DEBUG RELOAD). `Ok(None)`
/// when the file does not exist.
pub fn load_rdb_file(server: &Server) -> Result<Option<rdb::LoadStats>, String> {
    let (path, encodings) = {
        let c = server.config.read();
        (c.dbfilename.clone(), c.encodings)
    };
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{path}: {}", strerror(&e))),
    };
    let opts = rdb::LoadOptions {
        encodings,
        ..rdb::LoadOptions::default()
    };
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let stats =
        rdb::load(&mut reader, &server.keyspace, &opts).map_err(|e| format!("{path}: {e}"))?;
    super::restore_functions(server, &stats.functions)?;
    if let Some(version) = stats.aux_field("redis-ver") {
        let version = String::from_utf8_lossy(version);
        tracing::info!("Loading RDB produced by version {version}");
    }
    if let Some(ctime) = stats
        .aux_field("ctime")
        .and_then(|c| std::str::from_utf8(c).ok()?.parse::<u64>().ok())
    {
        let age = unix_secs().saturating_sub(ctime);
        tracing::info!("RDB age {age} seconds");
    }
    let p = &server.persistence;
    p.keys_loaded.store(stats.keys, Ordering::Relaxed);
    p.keys_expired
        .store(stats.expired_skipped, Ordering::Relaxed);
    tracing::info!(
        "Done loading RDB, keys loaded: {}, keys expired: {}.",
        stats.keys,
        stats.expired_skipped
    );
    Ok(Some(stats))
}

/// Loads the data files before the server accepts connections (Redis's
/// `loadDataFromDisk`): the RDB file when it exists. The AOF, when it is
/// enabled, takes precedence over the RDB file; its loader hooks in here.
/// An unreadable or corrupt file is fatal: the error says why.
pub fn load_at_startup(server: &Server) -> Result<(), String> {
    let start = Instant::now();
    let dbfilename = server.config.read().dbfilename.clone();
    if Path::new(&dbfilename).exists() {
        tracing::info!("Loading RDB {dbfilename}...");
    }
    match load_rdb_file(server) {
        Ok(Some(_)) => {
            tracing::info!(
                "DB loaded from disk: {:.3} seconds",
                start.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Ok(None) => Ok(()),
        Err(e) => Err(format!("Fatal error loading the DB: {e}. Exiting.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// Where a test's completion callback records the child's exit.
    type Seen<T> = Arc<Mutex<Option<T>>>;

    #[test]
    fn a_forked_child_reports_its_status_and_log_to_the_reaper() {
        let server = Server::new(Config::default());
        let seen: Seen<(Option<i32>, Option<i32>)> = Arc::default();
        let record = seen.clone();
        let pid = fork_child(
            &server,
            ChildKind::Aof,
            |log| {
                log.notice("hello from the child");
                log.warning(&"x".repeat(CHILD_LOG_ROOM * 2));
                7
            },
            Box::new(move |_, exit| *record.lock() = Some((exit.code, exit.signal))),
        )
        .expect("fork");
        assert!(pid > 0);
        assert_eq!(server.persistence.child_kind(), Some(ChildKind::Aof));
        assert_eq!(server.persistence.fork_stats().1, 1);
        // Only one child at a time.
        let second = fork_child(&server, ChildKind::Rdb, |_| 0, Box::new(|_, _| {}));
        assert!(second.is_err());
        let deadline = Instant::now() + std::time::Duration::from_secs(10);
        while seen.lock().is_none() {
            assert!(Instant::now() < deadline, "child not reaped");
            reap_child(&server);
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(*seen.lock(), Some((Some(7), None)));
        assert_eq!(server.persistence.child_kind(), None);
    }

    #[test]
    fn a_killed_child_is_reported_with_its_signal() {
        let server = Server::new(Config::default());
        let seen: Seen<Option<i32>> = Arc::default();
        let record = seen.clone();
        fork_child(
            &server,
            ChildKind::Aof,
            |_| {
                std::thread::sleep(std::time::Duration::from_secs(30));
                0
            },
            Box::new(move |_, exit| *record.lock() = Some(exit.signal)),
        )
        .expect("fork");
        kill_child(&server);
        assert_eq!(*seen.lock(), Some(Some(libc::SIGUSR1)));
        assert_eq!(server.persistence.child_kind(), None);
    }

    #[test]
    fn io_errors_read_like_strerror() {
        let e = std::io::Error::from_raw_os_error(libc::EACCES);
        assert_eq!(strerror(&e), "Permission denied");
    }
}
