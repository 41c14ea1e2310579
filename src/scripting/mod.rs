//! The scripting engine: one Lua 5.1 VM set up as Redis sets up its own
//! (libraries, the `redis` table, protected globals), the EVAL script cache,
//! the function libraries, and the state other connections consult while a
//! script runs (BUSY replies, SCRIPT KILL / FUNCTION KILL).
//!
//! Scripts run inline on the calling connection's thread with the keyspace
//! gate held exclusively (like EXEC). A count hook checks the clock; once a
//! script passes `busy-reply-threshold` the server is marked busy, other
//! connections answer BUSY instead of waiting for the gate, and the hook
//! hands the runtime's worker core to another thread so they keep being
//! served.

mod call;
pub use call::{in_script, script_time};
mod convert;
pub mod functions;
pub mod lib;
pub mod payload;
mod rand;
mod vm;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mlua::{Function, Value};
use parking_lot::Mutex;

use crate::command::{CmdError, CmdResult, Command, Ctx};
pub use functions::Libraries;
use vm::Vm;

/// The BUSY error while an EVAL script runs too long.
pub const BUSY_EVAL: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
/// The BUSY error while a function runs too long.
pub const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

/// Script flags from a `#!lua flags=…` shebang or `register_function`.
pub mod script_flags {
    /// `no-writes`: the script may not call write commands.
    pub const NO_WRITES: u32 = 1 << 0;
    /// `allow-oom`.
    pub const ALLOW_OOM: u32 = 1 << 1;
    /// `allow-stale`.
    pub const ALLOW_STALE: u32 = 1 << 2;
    /// `no-cluster`.
    pub const NO_CLUSTER: u32 = 1 << 3;
    /// `allow-cross-slot-keys`.
    pub const ALLOW_CROSS_SLOT: u32 = 1 << 4;
    /// No shebang: a pre-7.0 script (Redis's compatibility mode).
    pub const EVAL_COMPAT: u32 = 1 << 5;

    /// Flag names in Redis's order (for FUNCTION LIST).
    pub const NAMES: [(&str, u32); 5] = [
        ("no-writes", NO_WRITES),
        ("allow-oom", ALLOW_OOM),
        ("allow-stale", ALLOW_STALE),
        ("no-cluster", NO_CLUSTER),
        ("allow-cross-slot-keys", ALLOW_CROSS_SLOT),
    ];

    /// The bit of a flag name.
    pub fn parse(name: &[u8]) -> Option<u32> {
        NAMES
            .iter()
            .find(|(n, _)| n.as_bytes() == name)
            .map(|&(_, bit)| bit)
    }
}

/// An error raised inside Lua by ferrokv's own functions.
#[derive(Debug)]
pub(crate) enum ScriptError {
    /// A Redis error table: the text carries its code (`ERR …`).
    Table(String),
    /// The error reply of a command run by `redis.call`: an error table
    /// already counted in the error statistics when the command failed.
    Reply(String),
    /// A plain Lua error message (already prefixed with its position).
    Plain(String),
}

impl std::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScriptError::Table(s) | ScriptError::Reply(s) | ScriptError::Plain(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for ScriptError {}

/// What is running, shared with other connections (SCRIPT KILL,
/// FUNCTION STATS, BUSY checks), so it lives outside the VM lock.
#[derive(Default)]
pub struct RunState {
    running: AtomicBool,
    busy: AtomicBool,
    kill: AtomicBool,
    wrote: AtomicBool,
    eval: AtomicBool,
    threshold_ms: AtomicU64,
    handed_off_at: Mutex<Option<Instant>>,
    /// Start of the running script, Unix ms (the command's clock).
    started_ms: AtomicU64,
    /// The running function's name and command (FUNCTION STATS).
    current: Mutex<Option<Running>>,
    /// When library code started loading (FUNCTION LOAD), if it is.
    loading_since: Mutex<Option<Instant>>,
    rand: rand::Rand48,
}

/// How long FUNCTION LOAD may run library code (Redis's fixed limit).
const LOAD_TIMEOUT: Duration = Duration::from_millis(500);

/// The running function, for FUNCTION STATS.
struct Running {
    name: String,
    argv: Vec<Vec<u8>>,
}

impl RunState {
    /// Marks a script as running from `now_ms`; `function` names the
    /// FCALL being run.
    fn start(&self, now_ms: u64, threshold_ms: u64, function: Option<Running>) {
        self.started_ms.store(now_ms, Ordering::Relaxed);
        let eval = function.is_none();
        if !eval {
            *self.current.lock() = function;
        }
        self.threshold_ms.store(threshold_ms, Ordering::Relaxed);
        self.eval.store(eval, Ordering::Relaxed);
        self.wrote.store(false, Ordering::Relaxed);
        self.kill.store(false, Ordering::Relaxed);
        self.running.store(true, Ordering::Release);
    }

    fn finish(&self) {
        self.running.store(false, Ordering::Release);
        self.busy.store(false, Ordering::Release);
        self.kill.store(false, Ordering::Relaxed);
        if !self.eval.load(Ordering::Relaxed) {
            *self.current.lock() = None;
        }
    }

    /// How long the running script has run.
    fn elapsed_ms(&self) -> u64 {
        crate::util::time::now_ms().saturating_sub(self.started_ms.load(Ordering::Relaxed))
    }

    /// Marks library code as loading (`true`) or done.
    pub(crate) fn loading(&self, on: bool) {
        *self.loading_since.lock() = on.then(Instant::now);
    }

    /// Called by the Lua count hook: detects slow scripts and kill requests.
    fn check(&self) -> mlua::Result<()> {
        if let Some(since) = *self.loading_since.lock() {
            if since.elapsed() > LOAD_TIMEOUT {
                return Err(mlua::Error::external(ScriptError::Table(
                    "ERR FUNCTION LOAD timeout".into(),
                )));
            }
            return Ok(());
        }
        if self.kill.load(Ordering::Relaxed) {
            return Err(mlua::Error::external(ScriptError::Table(
                "ERR Script killed by user with SCRIPT KILL...".into(),
            )));
        }
        if !self.busy.load(Ordering::Relaxed) {
            let limit = self.threshold_ms.load(Ordering::Relaxed);
            let elapsed = self.elapsed_ms();
            if limit == 0 || elapsed < limit {
                return Ok(());
            }
            tracing::warn!(
                "Slow script detected: still in execution after {elapsed} milliseconds. \
                 You can try killing the script using the SCRIPT KILL command."
            );
            self.busy.store(true, Ordering::Release);
        }
        self.hand_off();
        Ok(())
    }

    /// Lets the async runtime move its worker core to another thread while
    /// this one is stuck in a slow script, so other connections are served
    /// (and get BUSY). Retried now and then in case the core came back.
    fn hand_off(&self) {
        use tokio::runtime::{Handle, RuntimeFlavor};
        let mut last = self.handed_off_at.lock();
        if last.is_some_and(|t| t.elapsed() < Duration::from_millis(100)) {
            return;
        }
        *last = Some(Instant::now());
        drop(last);
        let multi_thread =
            Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread);
        if multi_thread {
            // The pause gives the runtime's new worker thread time to take
            // over the core before this thread would reclaim it.
            tokio::task::block_in_place(|| std::thread::sleep(Duration::from_millis(2)));
        }
    }

    /// Whether SCRIPT KILL / FUNCTION KILL asked the script to stop.
    pub(crate) fn killing(&self) -> bool {
        self.kill.load(Ordering::Relaxed)
    }

    /// Next `math.random` draw.
    pub(crate) fn random(&self) -> f64 {
        self.rand.next_f64()
    }

    /// `math.randomseed`.
    pub(crate) fn seed(&self, seed: i32) {
        self.rand.seed(seed);
    }

    /// Records that the running script called a write command (it can no
    /// longer be killed).
    pub(crate) fn mark_written(&self) {
        self.wrote.store(true, Ordering::Relaxed);
    }
}

/// What FUNCTION STATS reports about the running function.
pub struct RunningFunction {
    /// Function name.
    pub name: String,
    /// The FCALL command that runs it.
    pub argv: Vec<Vec<u8>>,
    /// Time it has run so far.
    pub duration_ms: u64,
}

/// A script's SHA1 in lower-case hex, the cache key.
type Sha = [u8; 40];

/// The cache key for a SHA1 given by a client (any case); None when it
/// cannot be one.
fn sha_key(sha: &[u8]) -> Option<Sha> {
    let mut key: Sha = sha.try_into().ok()?;
    key.make_ascii_lowercase();
    Some(key)
}

/// A cached EVAL script.
struct Script {
    func: Function,
    flags: u32,
}

/// The arguments of one EVAL/FCALL.
pub(crate) struct Invocation<'a, 'b> {
    /// The KEYS.
    pub keys: &'b [&'a [u8]],
    /// The ARGV.
    pub argv: &'b [&'a [u8]],
    /// The whole command (MONITOR, FUNCTION STATS).
    pub args: &'b [&'a [u8]],
}

/// How a script is invoked.
#[derive(Clone, Copy)]
pub struct RunOptions {
    /// EVAL family (else FCALL).
    pub eval: bool,
    /// `EVAL_RO`/`EVALSHA_RO`/`FCALL_RO`.
    pub read_only: bool,
}

/// The scripting engine of a server.
pub struct Engine {
    vm: Mutex<Vm>,
    state: Arc<RunState>,
    scripts: Mutex<HashMap<Sha, Arc<Script>>>,
    /// Bytes of cached script bodies (`used_memory_scripts_eval`).
    scripts_bytes: AtomicUsize,
    /// Bytes the Lua VM used after its last use (`used_memory_lua`); kept
    /// aside because INFO may run from inside a script, VM lock held.
    lua_bytes: AtomicUsize,
    /// Function libraries.
    pub libraries: Mutex<Libraries>,
}

impl Default for Engine {
    fn default() -> Self {
        Self::new()
    }
}

impl Engine {
    /// Creates the VM.
    pub fn new() -> Self {
        let state = Arc::new(RunState::default());
        let vm = Vm::new(state.clone()).expect("the Lua VM initialises");
        let lua_bytes = AtomicUsize::new(vm.lua.used_memory());
        Self {
            vm: Mutex::new(vm),
            state,
            scripts: Mutex::new(HashMap::new()),
            scripts_bytes: AtomicUsize::new(0),
            lua_bytes,
            libraries: Mutex::new(Libraries::default()),
        }
    }

    /// Whether a script passed the busy threshold and still runs.
    #[inline]
    pub fn busy(&self) -> bool {
        self.state.busy.load(Ordering::Acquire)
    }

    /// The BUSY error for the script running now.
    pub fn busy_error(&self) -> &'static str {
        if self.state.eval.load(Ordering::Relaxed) {
            BUSY_EVAL
        } else {
            BUSY_FUNCTION
        }
    }

    /// Whether `cmd` may run while a script is busy (Redis's `allow-busy`
    /// commands; SHUTDOWN only with NOSAVE).
    pub fn allowed_while_busy(cmd: &Command, args: &[&[u8]]) -> bool {
        match cmd.name.as_str() {
            "auth" | "hello" | "quit" | "reset" | "replconf" | "discard" | "multi" | "unwatch"
            | "watch" | "script|kill" | "function|kill" | "function|stats" => true,
            "shutdown" => args[1..].iter().any(|a| a.eq_ignore_ascii_case(b"nosave")),
            _ => false,
        }
    }

    /// SCRIPT KILL (`eval`) or FUNCTION KILL.
    pub fn kill(&self, eval: bool) -> CmdResult {
        let st = &self.state;
        if !st.running.load(Ordering::Acquire) || !st.busy.load(Ordering::Acquire) {
            return Err(CmdError::err("NOTBUSY No scripts in execution right now."));
        }
        if st.wrote.load(Ordering::Relaxed) {
            return Err(CmdError::err("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command."));
        }
        if st.eval.load(Ordering::Relaxed) != eval {
            return Err(CmdError::err(self.busy_error()));
        }
        st.kill.store(true, Ordering::Release);
        Ok(())
    }

    /// The running function for FUNCTION STATS. `Err` when an EVAL
    /// script runs (FUNCTION STATS is refused then, as in Redis).
    pub fn running_function(&self) -> Result<Option<RunningFunction>, CmdError> {
        let st = &self.state;
        if !st.running.load(Ordering::Acquire) {
            return Ok(None);
        }
        if st.eval.load(Ordering::Relaxed) {
            return Err(CmdError::err(BUSY_EVAL));
        }
        Ok(st.current.lock().as_ref().map(|r| RunningFunction {
            name: r.name.clone(),
            argv: r.argv.clone(),
            duration_ms: st.elapsed_ms(),
        }))
    }

    /// Bytes used by the Lua VM (`used_memory_lua`).
    pub fn lua_memory(&self) -> usize {
        self.lua_bytes.load(Ordering::Relaxed)
    }

    /// Number of cached EVAL scripts.
    pub fn cached_scripts(&self) -> usize {
        self.scripts.lock().len()
    }

    /// Bytes of cached EVAL script bodies.
    pub fn scripts_memory(&self) -> usize {
        self.scripts_bytes.load(Ordering::Relaxed)
    }

    /// Compiles `body` into the cache unless present; returns its SHA1.
    pub fn load_script(&self, body: &[u8]) -> Result<String, CmdError> {
        let sha = sha1_smol::Sha1::from(body).digest().to_string();
        let key = sha_key(sha.as_bytes()).expect("SHA1 hex digests are 40 bytes");
        if self.scripts.lock().contains_key(&key) {
            return Ok(sha);
        }
        let flags = parse_shebang(body)?;
        let func = self.with_vm(|vm| vm.compile_eval(body)).map_err(|msg| {
            CmdError::msg(format!("ERR Error compiling script (new function): {msg}"))
        })?;
        self.scripts_bytes.fetch_add(body.len(), Ordering::Relaxed);
        self.scripts
            .lock()
            .insert(key, Arc::new(Script { func, flags }));
        Ok(sha)
    }

    /// Whether the cache holds `sha` (SCRIPT EXISTS).
    pub fn script_exists(&self, sha: &[u8]) -> bool {
        sha_key(sha).is_some_and(|key| self.scripts.lock().contains_key(&key))
    }

    /// Empties the script cache (SCRIPT FLUSH).
    pub fn flush_scripts(&self) {
        self.scripts.lock().clear();
        self.scripts_bytes.store(0, Ordering::Relaxed);
        self.with_vm(|vm| vm.lua.gc_collect().ok());
    }

    /// EVAL / EVALSHA: `script` is the body, or the SHA1 when `by_sha`.
    pub fn eval(
        &self,
        ctx: &mut Ctx,
        script: &[u8],
        by_sha: bool,
        read_only: bool,
        args: &[&[u8]],
    ) -> CmdResult {
        // Redis looks an EVALSHA script up before it parses numkeys, and
        // compiles an EVAL body after.
        let lookup = |sha: &[u8]| {
            let key = sha_key(sha)?;
            self.scripts.lock().get(&key).cloned()
        };
        let noscript = || CmdError::err("NOSCRIPT No matching script. Please use EVAL.");
        let cached = if by_sha {
            Some(lookup(script).ok_or_else(noscript)?)
        } else {
            None
        };
        let (keys, argv) = split_keys(args)?;
        let (name, found) = match cached {
            Some(found) => {
                let mut key = [0; 40];
                key.copy_from_slice(script);
                key.make_ascii_lowercase();
                (key, found)
            }
            None => {
                let sha = self.load_script(script)?;
                let found = lookup(sha.as_bytes()).ok_or_else(noscript)?;
                (sha_key(sha.as_bytes()).unwrap_or([b'0'; 40]), found)
            }
        };
        let sha = std::str::from_utf8(&name).unwrap_or_default();
        let sflags = found.flags;
        let no_writes = sflags & script_flags::NO_WRITES != 0;
        if read_only && sflags & script_flags::EVAL_COMPAT == 0 && !no_writes {
            return Err(CmdError::err(
                "ERR Can not execute a script with write flag using *_ro command.",
            ));
        }
        let opts = RunOptions {
            eval: true,
            read_only: read_only || no_writes,
        };
        let call = Invocation { keys, argv, args };
        self.run(ctx, &found.func, sha, opts, call)
    }

    /// Runs a compiled script or function and writes its reply.
    pub(crate) fn run(
        &self,
        ctx: &mut Ctx,
        func: &Function,
        name: &str,
        opts: RunOptions,
        call: Invocation<'_, '_>,
    ) -> CmdResult {
        let Invocation {
            keys,
            argv,
            args: full_args,
        } = call;
        let (threshold, monitor_limit) = {
            let config = ctx.server.config.read();
            (config.busy_reply_threshold, config.output_limits.replica)
        };
        // EVAL and FCALL skip the usual after-the-fact MONITOR feed: like
        // Redis, they show before the commands they run.
        if ctx.server.monitors.active() {
            ctx.server.monitors.feed(
                crate::util::time::now_us(),
                ctx.client.db,
                &ctx.client.handle.addr,
                full_args,
                monitor_limit,
            );
        }
        let mut vm = self.vm.lock();
        let was_in_exec = ctx.client.in_exec;
        let saved_db = ctx.client.db;
        ctx.client.in_exec = true;
        // Only FUNCTION STATS shows what runs: EVAL skips the copies.
        let function = (!opts.eval).then(|| Running {
            name: name.to_string(),
            argv: full_args.iter().map(|a| a.to_vec()).collect(),
        });
        self.state.start(ctx.now, threshold, function);
        let mut call = call::Call {
            server: ctx.server,
            client: &mut *ctx.client,
            resp3: false,
            read_only: opts.read_only,
            state: &self.state,
            now: ctx.now,
        };
        let result = call::enter(&mut call, || vm.invoke(opts.eval, func, keys, argv));
        let script_resp3 = call.resp3;
        self.state.finish();
        ctx.client.db = saved_db;
        ctx.client.in_exec = was_in_exec;
        let outcome = match result {
            Ok((true, value)) => match top_level_error(&value) {
                Some(err) => Err(err),
                None => {
                    let mut errors = Vec::new();
                    convert::lua_to_reply(ctx.out, &value, script_resp3, &mut errors);
                    // Errors inside the result make the call failed, and
                    // count unless a failing command counted them.
                    if !errors.is_empty() {
                        ctx.cmd.stats.failed_calls.fetch_add(1, Ordering::Relaxed);
                    }
                    for (msg, counted) in errors {
                        if !counted {
                            ctx.client.stats.errors += 1;
                            ctx.server.stats.count_error(&msg);
                        }
                    }
                    Ok(())
                }
            },
            Ok((false, err)) => Err(error_reply(&err, name)),
            Err(e) => Err(ScriptFailure::New(format!(
                "ERR Error running script {name}, {:.100}",
                e.to_string()
            ))),
        };
        let outcome = outcome.or_else(|failure| match failure {
            ScriptFailure::New(msg) => Err(CmdError::Bytes(msg.into_bytes())),
            ScriptFailure::Counted(msg) => {
                // The failing command already counted this error: send
                // it without counting it again, but the script failed.
                ctx.out.error_bytes(msg.as_bytes());
                ctx.cmd.stats.failed_calls.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
        });
        vm.step_gc();
        self.lua_bytes
            .store(vm.lua.used_memory(), Ordering::Relaxed);
        drop(vm);
        if !was_in_exec {
            crate::commands::transaction::serve_ready_keys(ctx);
        }
        // Effects replication: the script's write commands propagated
        // themselves (wrapped in MULTI/EXEC); the script call itself is not.
        ctx.propagate_as(Vec::new());
        outcome
    }

    /// The state shared with the count hook.
    pub(crate) fn run_state(&self) -> &RunState {
        &self.state
    }

    /// Runs `f` with the VM (function libraries compile into it).
    pub(crate) fn with_vm<R>(&self, f: impl FnOnce(&mut Vm) -> R) -> R {
        let mut vm = self.vm.lock();
        let result = f(&mut vm);
        self.lua_bytes
            .store(vm.lua.used_memory(), Ordering::Relaxed);
        result
    }
}

/// How a script failed.
enum ScriptFailure {
    /// An error to count in the error statistics.
    New(String),
    /// An error a command run by the script returned (already counted).
    Counted(String),
}

/// Reads a table's string field (numbers converted like `lua_tostring`).
fn field_text(t: &mlua::Table, field: &str) -> Option<String> {
    match t.raw_get::<Value>(field) {
        Ok(Value::String(s)) => Some(s.to_string_lossy()),
        Ok(Value::Integer(i)) => Some(i.to_string()),
        Ok(Value::Number(n)) => Some(crate::util::num::format_g17(n)),
        _ => None,
    }
}

fn counted(t: &mlua::Table) -> bool {
    matches!(
        t.raw_get::<Value>("ignore_error_stats_update"),
        Ok(Value::Boolean(true))
    )
}

/// An error table returned (not raised) by a script is its error reply.
fn top_level_error(v: &Value) -> Option<ScriptFailure> {
    let Value::Table(t) = v else {
        return None;
    };
    let Ok(Value::String(err)) = t.raw_get::<Value>("err") else {
        return None;
    };
    let msg = err.to_string_lossy();
    Some(if counted(t) {
        ScriptFailure::Counted(msg)
    } else {
        ScriptFailure::New(msg)
    })
}

/// Formats the error a failed script returns, as Redis 7.0 does:
/// `<err> script: <name>, on <source>:<line>.`
fn error_reply(err: &Value, name: &str) -> ScriptFailure {
    let Value::Table(t) = err else {
        return ScriptFailure::New(format!(
            "ERR Error running script {name}, execution failure"
        ));
    };
    let msg = field_text(t, "err").unwrap_or_default();
    let text = match (field_text(t, "source"), field_text(t, "line")) {
        (Some(source), Some(line)) => format!("{msg} script: {name}, on {source}:{line}."),
        _ => msg,
    };
    if counted(t) {
        ScriptFailure::Counted(text)
    } else {
        ScriptFailure::New(text)
    }
}

/// The keys and the arguments of a script invocation.
type KeysAndArgs<'a, 'b> = (&'b [&'a [u8]], &'b [&'a [u8]]);

/// Splits `numkeys key… arg…` (from `args[2]` on) into keys and arguments.
pub fn split_keys<'a, 'b>(args: &'b [&'a [u8]]) -> Result<KeysAndArgs<'a, 'b>, CmdError> {
    let n = crate::commands::args::int(args[2])?;
    if n < 0 {
        return Err(CmdError::err("ERR Number of keys can't be negative"));
    }
    let rest = &args[3..];
    if n as u64 > rest.len() as u64 {
        return Err(CmdError::err(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    Ok(rest.split_at(n as usize))
}

/// Reads the flags of an EVAL script's `#!lua` shebang line.
fn parse_shebang(body: &[u8]) -> Result<u32, CmdError> {
    if !body.starts_with(b"#!") {
        return Ok(script_flags::EVAL_COMPAT);
    }
    let Some(end) = body.iter().position(|&c| c == b'\n') else {
        return Err(CmdError::err("ERR Invalid script shebang"));
    };
    let line = String::from_utf8_lossy(&body[..end]);
    let mut parts = line.split_whitespace();
    let engine = parts.next().unwrap_or("");
    if engine != "#!lua" {
        return Err(CmdError::msg(format!(
            "ERR Unexpected engine in script shebang: {engine}"
        )));
    }
    let mut flags = 0;
    for part in parts {
        let Some(list) = part.strip_prefix("flags=") else {
            return Err(CmdError::msg(format!(
                "ERR Unknown lua shebang option: {part}"
            )));
        };
        for name in list.split(',').filter(|n| !n.is_empty()) {
            flags |= script_flags::parse(name.as_bytes()).ok_or_else(|| {
                CmdError::msg(format!("ERR Unexpected flag in script shebang: {name}"))
            })?;
        }
    }
    Ok(flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebang_flags() {
        assert_eq!(
            parse_shebang(b"return 1").unwrap(),
            script_flags::EVAL_COMPAT
        );
        assert_eq!(
            parse_shebang(b"#!lua flags=no-writes,allow-oom\nreturn 1").unwrap(),
            script_flags::NO_WRITES | script_flags::ALLOW_OOM
        );
        assert!(parse_shebang(b"#!lua flags=nope\n").is_err());
        assert!(parse_shebang(b"#!py\n").is_err());
        assert!(parse_shebang(b"#!lua").is_err());
    }
}
