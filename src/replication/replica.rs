//! The replica side: the link to our primary (handshake, full or partial
//! resynchronisation, the command stream), the role switch behind
//! REPLICAOF, and what INFO/ROLE/the dispatcher need to know about it.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::AbortHandle;

use super::{new_replid, State};
use crate::command::{flags, Command};
use crate::keyspace::expiry;
use crate::persist::aof::load::{next_command, Loader, Next};
use crate::persist::rdb;
use crate::server::Server;

/// Where the link to the primary stands (`ROLE`'s state names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// Waiting to (re)connect.
    Connect,
    /// TCP connection in progress.
    Connecting,
    /// PING, AUTH, REPLCONF, PSYNC exchange.
    Handshake,
    /// Receiving the primary's RDB.
    Sync,
    /// Applying the command stream.
    Connected,
}

impl LinkState {
    fn name(self) -> &'static str {
        match self {
            LinkState::Connect => "connect",
            LinkState::Connecting => "connecting",
            LinkState::Handshake => "handshake",
            LinkState::Sync => "sync",
            LinkState::Connected => "connected",
        }
    }
}

/// Our primary and the state of the link to it.
pub struct Link {
    /// Primary's host as given to REPLICAOF.
    pub host: String,
    /// Primary's port.
    pub port: u16,
    /// Link state.
    pub state: LinkState,
    /// Last time data arrived from the primary on the current link.
    pub last_io: Option<Instant>,
    /// When the last link was lost (None = never lost).
    pub down_since: Option<Instant>,
    /// Bytes of the stream received (`slave_read_repl_offset`), ahead of
    /// the applied offset by what is buffered.
    pub read_offset: i64,
    /// RDB bytes announced (0 for the diskless form, whose size is not
    /// known) and received so far, while the state is `Sync`.
    pub transfer: (i64, i64),
    /// Identifies the link task, so a replaced task never updates state.
    generation: u64,
    task: Option<AbortHandle>,
}

/// Client id of the primary's client while the stream runs (0 = none),
/// for `CLIENT LIST/KILL TYPE master`.
static PRIMARY_CLIENT: AtomicU64 = AtomicU64::new(0);

/// Whether `id` is the client applying our primary's stream.
pub fn is_primary_client(id: u64) -> bool {
    id != 0 && PRIMARY_CLIENT.load(Ordering::Relaxed) == id
}

/// Source of link task identities.
static GENERATION: AtomicU64 = AtomicU64::new(1);

const READONLY: &[u8] = b"READONLY You can't write against a read only replica.";
const MASTERDOWN: &[u8] =
    b"MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";

/// The error the dispatcher must answer instead of running `cmd` on a
/// replica, if any: writes from our own clients on a read-only replica,
/// data commands while the link is down and stale data is not served.
pub fn refusal(server: &Server, cmd: &Command) -> Option<&'static [u8]> {
    if !expiry::is_replica() || expiry::running_from_primary() {
        return None;
    }
    let (read_only, serve_stale) = {
        let c = server.config.read();
        (c.replica_read_only, c.replica_serve_stale_data)
    };
    if read_only && cmd.has(flags::WRITE) {
        return Some(READONLY);
    }
    if !serve_stale && !cmd.has(flags::STALE) {
        let up = server
            .replication
            .state
            .lock()
            .primary
            .as_ref()
            .is_some_and(|l| l.state == LinkState::Connected);
        if !up {
            return Some(MASTERDOWN);
        }
    }
    None
}

/// Makes us a replica of `host:port` (REPLICAOF, `replicaof` at start-up):
/// drops any current link and starts a new link task. Our data stays
/// until the primary sends its own, and the PSYNC offers our history so
/// a primary that shares it can continue partially.
pub fn become_replica(server: &Server, host: String, port: u16) {
    let Some(shared) = server.replication.server.get().and_then(Weak::upgrade) else {
        tracing::warn!("REPLICAOF before the server started");
        return;
    };
    let mut st = server.replication.state.lock();
    let down_since = st.primary.take().and_then(|old| {
        if let Some(task) = old.task {
            task.abort();
        }
        old.down_since
    });
    // Never reused, so an aborted task still finishing a synchronous step
    // can't update the new link's state.
    let generation = GENERATION.fetch_add(1, Ordering::Relaxed);
    if !expiry::is_replica() {
        server.blocking.unblock_all(
            b"-UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)\r\n",
        );
    }
    expiry::set_replica(true);
    // CONFIG GET/REWRITE show the current primary, as Redis's do.
    server.config.write().replicaof = Some((host.clone(), port));
    tracing::info!("Connecting to MASTER {host}:{port}");
    let task = tokio::spawn(run_link(shared, host.clone(), port, generation));
    st.primary = Some(Link {
        host,
        port,
        state: LinkState::Connect,
        last_io: None,
        down_since,
        read_offset: st.offset as i64,
        transfer: (0, 0),
        generation,
        task: Some(task.abort_handle()),
    });
}

/// REPLICAOF NO ONE: drops the link and starts a new history, keeping the
/// old id as `master_replid2` so our own replicas may continue partially.
pub fn become_primary(server: &Server) {
    let mut st = server.replication.state.lock();
    let Some(link) = st.primary.take() else {
        return;
    };
    if let Some(task) = link.task {
        task.abort();
    }
    expiry::set_replica(false);
    server.config.write().replicaof = None;
    let old = std::mem::replace(&mut st.replid, new_replid());
    st.replid2 = old;
    st.second_offset = st.offset as i64 + 1;
    tracing::info!("MASTER MODE enabled (user request from client)");
}

/// Called once the server is shared: lets REPLICAOF start link tasks,
/// and starts replicating when `replicaof` was configured.
pub fn init(server: &Arc<Server>) {
    let _ = server.replication.server.set(Arc::downgrade(server));
    let start = server.config.read().replicaof.clone();
    if let Some((host, port)) = start {
        become_replica(server, host, port);
    }
}

/// Whether we currently replicate from `host:port`.
pub fn is_replica_of(server: &Server, host: &str, port: u16) -> bool {
    server
        .replication
        .state
        .lock()
        .primary
        .as_ref()
        .is_some_and(|l| l.port == port && l.host.eq_ignore_ascii_case(host))
}

/// Updates the link's state, unless the link was replaced meanwhile.
fn with_link(server: &Server, generation: u64, f: impl FnOnce(&mut Link, &mut u64)) {
    let mut st = server.replication.state.lock();
    let State {
        primary, offset, ..
    } = &mut *st;
    if let Some(link) = primary.as_mut().filter(|l| l.generation == generation) {
        f(link, offset);
    }
}

/// The link task: connects, synchronises and applies the stream, and
/// reconnects after a second whenever the link breaks.
async fn run_link(server: Arc<Server>, host: String, port: u16, generation: u64) {
    loop {
        if let Err(e) = session(&server, &host, port, generation).await {
            tracing::warn!("Replication link with MASTER {host}:{port}: {e}");
        }
        with_link(&server, generation, |link, _| {
            if link.state == LinkState::Connected {
                link.down_since = Some(Instant::now());
            }
            link.state = LinkState::Connect;
            link.last_io = None;
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// One connection to the primary, from the handshake until it breaks.
struct Session<'a> {
    server: &'a Server,
    stream: TcpStream,
    buf: Vec<u8>,
    timeout: Duration,
    generation: u64,
    /// When data last arrived, for `repl-timeout` while streaming.
    last_io: Instant,
}

impl Session<'_> {
    /// Reads more bytes into the buffer, failing after `repl-timeout`.
    async fn fill(&mut self) -> Result<usize, String> {
        let mut chunk = [0u8; 64 * 1024];
        let n = tokio::time::timeout(self.timeout, self.stream.read(&mut chunk))
            .await
            .map_err(|_| "MASTER timeout: no data nor PING received...".to_string())?
            .map_err(|e| format!("Error reading from MASTER: {e}"))?;
        if n == 0 {
            return Err("Connection with master lost.".into());
        }
        self.buf.extend_from_slice(&chunk[..n]);
        self.last_io = Instant::now();
        with_link(self.server, self.generation, |l, _| {
            l.last_io = Some(Instant::now())
        });
        Ok(n)
    }

    /// Reads one reply line, skipping the bare newlines a primary sends
    /// as keep-alives while it prepares the RDB.
    async fn line(&mut self) -> Result<Vec<u8>, String> {
        loop {
            if let Some(nl) = self.buf.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=nl).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if line.is_empty() {
                    continue;
                }
                return Ok(line);
            }
            self.fill().await?;
        }
    }

    async fn send(&mut self, args: &[&[u8]]) -> Result<(), String> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.stream
            .write_all(&out)
            .await
            .map_err(|e| format!("Error writing to MASTER: {e}"))
    }

    /// Sends a command and returns its reply line.
    async fn call(&mut self, args: &[&[u8]]) -> Result<Vec<u8>, String> {
        self.send(args).await?;
        self.line().await
    }
}

fn text(line: &[u8]) -> String {
    String::from_utf8_lossy(line).into_owned()
}

async fn session(server: &Server, host: &str, port: u16, generation: u64) -> Result<(), String> {
    let timeout = Duration::from_secs(server.config.read().repl_timeout.max(1));
    with_link(server, generation, |l, _| l.state = LinkState::Connecting);
    let stream = tokio::time::timeout(timeout, TcpStream::connect((host, port)))
        .await
        .map_err(|_| "Timeout connecting to the MASTER...".to_string())?
        .map_err(|e| format!("Error condition on socket for SYNC: {e}"))?;
    let _ = stream.set_nodelay(true);
    let mut s = Session {
        server,
        stream,
        buf: Vec::new(),
        timeout,
        generation,
        last_io: Instant::now(),
    };
    with_link(server, generation, |l, _| l.state = LinkState::Handshake);
    let pong = s.call(&[b"PING"]).await?;
    // A primary requiring a password answers PING with NOAUTH: AUTH follows.
    if pong.starts_with(b"-") && !pong.starts_with(b"-NOAUTH") && !pong.starts_with(b"-NOPERM") {
        return Err(format!(
            "Error reply to PING from master: '{}'",
            text(&pong)
        ));
    }
    let (user, pass) = {
        let c = server.config.read();
        (c.masteruser.clone(), c.masterauth.clone())
    };
    if !pass.is_empty() {
        let reply = if user.is_empty() {
            s.call(&[b"AUTH", pass.as_bytes()]).await?
        } else {
            s.call(&[b"AUTH", user.as_bytes(), pass.as_bytes()]).await?
        };
        if reply.starts_with(b"-") {
            return Err(format!("Unable to AUTH to MASTER: {}", text(&reply)));
        }
    }
    let our_port = server.tcp_port.load(Ordering::Relaxed);
    // Errors are tolerated, as Redis does: old primaries don't know these.
    s.call(&[
        b"REPLCONF",
        b"listening-port",
        our_port.to_string().as_bytes(),
    ])
    .await?;
    s.call(&[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"])
        .await?;
    let (replid, offset) = {
        let st = server.replication.state.lock();
        (st.replid.clone(), st.offset)
    };
    let reply = s
        .call(&[
            b"PSYNC",
            replid.as_bytes(),
            (offset + 1).to_string().as_bytes(),
        ])
        .await?;
    let words: Vec<&[u8]> = reply.split(|&b| b == b' ').collect();
    match words[0] {
        b"+FULLRESYNC" if words.len() == 3 => {
            let id = text(words[1]);
            let off = crate::util::num::parse_i64(words[2])
                .ok_or_else(|| format!("Bad FULLRESYNC reply '{}'", text(&reply)))?;
            tracing::info!("Full resync from master: {id}:{off}");
            full_sync(&mut s, &id, off).await?;
        }
        b"+CONTINUE" => {
            tracing::info!("Successful partial resynchronization with master.");
            let mut st = server.replication.state.lock();
            if let Some(new) = words.get(1).filter(|w| w.len() == 40) {
                let new = text(new);
                if new != st.replid {
                    // The primary was promoted: our history so far is
                    // also valid under its previous id.
                    let old = std::mem::replace(&mut st.replid, new);
                    st.replid2 = old;
                    st.second_offset = st.offset as i64 + 1;
                }
            }
        }
        _ => {
            return Err(format!(
                "Unexpected reply to PSYNC from master: {}",
                text(&reply)
            ))
        }
    }
    with_link(server, generation, |l, off| {
        l.state = LinkState::Connected;
        l.read_offset = *off as i64;
    });
    tracing::info!("MASTER <-> REPLICA sync: Finished with success");
    stream_commands(&mut s).await
}

/// Receives the RDB (`$<len>` or diskless `$EOF:<mark>`) into a temporary
/// file in `dir`, then replaces our dataset with it.
async fn full_sync(s: &mut Session<'_>, replid: &str, offset: i64) -> Result<(), String> {
    with_link(s.server, s.generation, |l, _| l.state = LinkState::Sync);
    let header = s.line().await?;
    let header = header
        .strip_prefix(b"$")
        .ok_or_else(|| {
            format!(
                "Bad protocol from MASTER, the first byte is not '$': {}",
                text(&header)
            )
        })?
        .to_vec();
    let tmp = format!(
        "temp-{}.{}.rdb",
        std::process::id(),
        crate::util::time::now_ms()
    );
    // Removed however the transfer ends early (error, link replaced).
    struct Temp<'a>(Option<&'a str>);
    impl Drop for Temp<'_> {
        fn drop(&mut self) {
            if let Some(path) = self.0 {
                let _ = std::fs::remove_file(path);
            }
        }
    }
    let mut temp = Temp(Some(&tmp));
    let mut file = std::fs::File::create(&tmp).map_err(|e| {
        format!("Opening the temp file needed for MASTER <-> REPLICA synchronization: {e}")
    })?;
    receive_rdb(s, &header, &mut file).await?;
    drop(file);
    let data = std::fs::read(&tmp).map_err(|e| format!("Can't read the received RDB: {e}"))?;
    load_dataset(s.server, &data)?;
    temp.0 = None;
    keep_sync_file(s.server, &tmp);
    let mut st = s.server.replication.state.lock();
    st.replid = replid.to_string();
    st.replid2 = "0".repeat(40);
    st.second_offset = -1;
    st.offset = offset.max(0) as u64;
    Ok(())
}

async fn receive_rdb(
    s: &mut Session<'_>,
    header: &[u8],
    file: &mut std::fs::File,
) -> Result<(), String> {
    let write_err = |e: std::io::Error| format!("Write error writing to the RDB file: {e}");
    let mut save = |s: &Session<'_>, bytes: &[u8]| {
        file.write_all(bytes).map_err(write_err)?;
        let n = bytes.len() as i64;
        with_link(s.server, s.generation, |l, _| l.transfer.1 += n);
        Ok::<(), String>(())
    };
    if let Some(mark) = header.strip_prefix(b"EOF:") {
        if mark.len() != 40 {
            return Err("Bad EOF mark from MASTER".into());
        }
        with_link(s.server, s.generation, |l, _| l.transfer = (0, 0));
        // Everything up to the mark is the RDB (a random 40-byte mark does
        // not occur inside it); whatever follows it is the command stream.
        loop {
            if let Some(at) = s.buf.windows(40).position(|w| w == mark) {
                save(s, &s.buf[..at])?;
                s.buf.drain(..at + 40);
                return Ok(());
            }
            // The tail may hold the start of the mark: keep it back.
            let body = s.buf.len().saturating_sub(39);
            save(s, &s.buf[..body])?;
            s.buf.drain(..body);
            s.fill().await?;
        }
    }
    let len = crate::util::num::parse_i64(header)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| format!("Bad RDB length from MASTER: {}", text(header)))?;
    with_link(s.server, s.generation, |l, _| l.transfer = (len as i64, 0));
    let mut left = len;
    loop {
        let take = left.min(s.buf.len());
        save(s, &s.buf[..take])?;
        s.buf.drain(..take);
        left -= take;
        if left == 0 {
            return Ok(());
        }
        s.fill().await?;
    }
}

/// The received RDB becomes our snapshot file, as Redis renames it over
/// `dbfilename`; with `rdb-del-sync-files` and no persistence it goes.
fn keep_sync_file(server: &Server, tmp: &str) {
    let (name, delete) = {
        let c = server.config.read();
        let persistent = c.appendonly || !c.save.is_empty();
        (c.dbfilename.clone(), c.rdb_del_sync_files && !persistent)
    };
    if delete {
        let _ = std::fs::remove_file(tmp);
    } else if let Err(e) = std::fs::rename(tmp, &name) {
        tracing::warn!("Failed trying to rename the temp DB into {name} in MASTER <-> REPLICA synchronization: {e}");
        let _ = std::fs::remove_file(tmp);
    }
}

/// Flushes every database and loads the primary's RDB, with the keyspace
/// gate held so no client sees a half-loaded dataset.
fn load_dataset(server: &Server, data: &[u8]) -> Result<(), String> {
    let opts = rdb::LoadOptions {
        encodings: server.config.read().encodings,
        // Expired keys stay: the primary's DELs remove them.
        skip_expired: false,
        ..rdb::LoadOptions::default()
    };
    let _gate = server.keyspace.gate.write();
    let ks = &server.keyspace;
    // WATCHed keys that exist before or after the swap are touched, as
    // a flush followed by a load would touch them.
    let now = crate::util::time::now_ms();
    let exists = |db: usize, key: &[u8]| ks.db(db).lock(key).peek(key, now).is_some();
    let watched: Vec<(usize, Vec<u8>, bool)> = (0..ks.db_count())
        .flat_map(|db| server.watches.keys_in(db).into_iter().map(move |k| (db, k)))
        .map(|(db, key)| {
            let existed = exists(db, &key);
            (db, key, existed)
        })
        .collect();
    let old: Vec<_> = (0..ks.db_count()).map(|db| ks.take_db(db)).collect();
    drop(old);
    tracing::info!("MASTER <-> REPLICA sync: Loading DB in memory");
    let loaded = rdb::load_bytes(data, ks, &opts).map_err(|e| {
        format!("Failed trying to load the MASTER synchronization DB from socket: {e}")
    });
    for (db, key, existed) in watched {
        if existed || exists(db, &key) {
            server.watches.touch(db, &key);
        }
    }
    loaded?;
    // The AOF must start again from the new dataset, which no command
    // produced: a rewrite gives it a base holding it.
    if server.config.read().appendonly {
        if let Err(e) = crate::persist::aof::rewrite::bgrewriteaof(server) {
            tracing::warn!("Failed to restart the AOF after the synchronization: {e}");
        }
    }
    Ok(())
}

/// Applies the primary's commands as they come, counting their bytes into
/// our offset, and acknowledges the offset every second and on GETACK.
async fn stream_commands(s: &mut Session<'_>) -> Result<(), String> {
    let server = s.server;
    let addr = s
        .stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let mut client = Loader::new(server, &addr);
    let handle = client.handle();
    PRIMARY_CLIENT.store(handle.id, Ordering::Relaxed);
    // Cleared however the stream ends (error, or the task aborted).
    struct Forget(u64);
    impl Drop for Forget {
        fn drop(&mut self) {
            let _ =
                PRIMARY_CLIENT.compare_exchange(self.0, 0, Ordering::Relaxed, Ordering::Relaxed);
        }
    }
    let _forget = Forget(handle.id);
    let mut ack = tokio::time::interval(Duration::from_secs(1));
    loop {
        let mut pos = 0;
        let mut getacks = Vec::new();
        loop {
            match next_command(&s.buf, pos) {
                Next::Command(args, end) => {
                    let getack = args.len() == 3
                        && args[0].eq_ignore_ascii_case(b"REPLCONF")
                        && args[1].eq_ignore_ascii_case(b"GETACK");
                    if getack {
                        // The acknowledged offset excludes the GETACK itself.
                        getacks.push(server.replication.state.lock().offset);
                    } else if let Err(e) = expiry::from_primary(|| client.run(&args)) {
                        tracing::warn!("{e} (from the MASTER stream)");
                    }
                    server.replication.state.lock().offset += (end - pos) as u64;
                    pos = end;
                }
                Next::End | Next::Truncated => break,
                Next::Annotation(_) | Next::Bad => {
                    return Err("Protocol error from MASTER".into());
                }
            }
        }
        s.buf.drain(..pos);
        for off in getacks {
            s.send(&[b"REPLCONF", b"ACK", off.to_string().as_bytes()])
                .await?;
        }
        tokio::select! {
            read = s.fill() => {
                let n = read? as i64;
                with_link(server, s.generation, |l, _| l.read_offset += n);
            }
            _ = handle.killed() => return Err("Connection with master lost (CLIENT KILL).".into()),
            _ = ack.tick() => {
                // The read above restarts its timeout at every tick, so
                // silence is measured here (the primary PINGs every 10 s).
                if s.last_io.elapsed() > s.timeout {
                    return Err("MASTER timeout: no data nor PING received...".into());
                }
                let off = server.replication.state.lock().offset;
                s.send(&[b"REPLCONF", b"ACK", off.to_string().as_bytes()]).await?;
            }
        }
    }
}

/// Appends the `# Replication` fields of a replica, from `role` to
/// `replica_announced` (the caller adds the rest); false, appending
/// nothing, when we are a primary.
pub fn info_fields(server: &Server, out: &mut String) -> bool {
    let st = server.replication.state.lock();
    let Some(link) = st.primary.as_ref() else {
        return false;
    };
    let up = link.state == LinkState::Connected;
    let (read_only, priority) = {
        let c = server.config.read();
        (c.replica_read_only, c.replica_priority)
    };
    let _ = write!(
        out,
        "role:slave\r\nmaster_host:{}\r\nmaster_port:{}\r\nmaster_link_status:{}\r\n\
         master_last_io_seconds_ago:{}\r\nmaster_sync_in_progress:{}\r\n\
         slave_read_repl_offset:{}\r\nslave_repl_offset:{}\r\n",
        link.host,
        link.port,
        if up { "up" } else { "down" },
        link.last_io
            .filter(|_| up)
            .map_or(-1, |t| t.elapsed().as_secs() as i64),
        (link.state == LinkState::Sync) as u8,
        link.read_offset.max(st.offset as i64),
        st.offset,
    );
    if link.state == LinkState::Sync {
        let (size, read) = link.transfer;
        let perc = if size > 0 {
            read as f64 * 100.0 / size as f64
        } else {
            0.0
        };
        let _ = write!(
            out,
            "master_sync_total_bytes:{size}\r\nmaster_sync_read_bytes:{read}\r\n\
             master_sync_left_bytes:{}\r\nmaster_sync_perc:{perc:.2}\r\n\
             master_sync_last_io_seconds_ago:{}\r\n",
            size - read,
            link.last_io.map_or(0, |t| t.elapsed().as_secs())
        );
    }
    if !up {
        let _ = write!(
            out,
            "master_link_down_since_seconds:{}\r\n",
            link.down_since.map_or(-1, |t| t.elapsed().as_secs() as i64)
        );
    }
    let _ = write!(
        out,
        "slave_priority:{priority}\r\nslave_read_only:{}\r\nreplica_announced:1\r\n",
        read_only as u8
    );
    true
}

/// ROLE for a replica: `slave`, host, port, link state, offset; None for
/// a primary.
pub fn role(server: &Server) -> Option<(String, u16, &'static str, i64)> {
    let st = server.replication.state.lock();
    let link = st.primary.as_ref()?;
    let offset = if link.state == LinkState::Connected {
        st.offset as i64
    } else {
        -1
    };
    Some((link.host.clone(), link.port, link.state.name(), offset))
}
