//! The primary side: serving `SYNC`/`PSYNC` (full resynchronisation with
//! an RDB, or a partial one from the backlog), streaming to replicas,
//! their `REPLCONF ACK`s and `WAIT`.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;

use super::backlog::Backlog;
use crate::config::BufferLimit;
use crate::persist::rdb;
use crate::persist::snapshot::{self, ChildKind};
use crate::protocol::request::{Limits, Parsed, Parser};
use crate::server::clients::ClientHandle;
use crate::server::Server;
use crate::util::num::parse_i64;
use crate::util::time::now_ms;

/// The PING Redis feeds its replicas every `repl-ping-replica-period`,
/// so they can tell a silent primary from a dead one.
const PING: &[u8] = b"*1\r\n$4\r\nPING\r\n";

/// `REPLCONF GETACK *`, asking replicas for their offset.
const GETACK: &[u8] = b"*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n";

/// What a connection told with `REPLCONF` before it asked to sync.
#[derive(Default, Debug, Clone)]
pub struct ReplConf {
    /// `listening-port`.
    pub port: u16,
    /// `ip-address`.
    pub ip: Option<String>,
    /// `capa psync2`: understands `+CONTINUE <replid>`.
    pub psync2: bool,
    /// `capa eof`: takes a diskless RDB ended by a mark.
    pub eof: bool,
}

/// One attached replica as the stream and INFO see it.
pub struct ReplicaLink {
    /// Its connection.
    pub handle: Arc<ClientHandle>,
    /// Address it listens on (for INFO and ROLE).
    pub ip: String,
    /// `listening-port`.
    pub port: u16,
    /// Offset it last acknowledged.
    pub ack: AtomicU64,
    /// Unix ms of its last acknowledgement.
    pub ack_time: AtomicU64,
    /// Its RDB was sent: it follows the stream.
    pub online: AtomicBool,
    /// Read end of the pipe a forked child writes the RDB to, until it
    /// is forwarded, and whether it goes out as it comes (diskless, ended
    /// by a mark) or whole with its length.
    rdb_pipe: Mutex<Option<(OwnedFd, bool)>>,
    queue: Mutex<Vec<u8>>,
    /// Since when the queue has been over the soft limit.
    over_soft: Mutex<Option<Instant>>,
    ready: Notify,
    limit: BufferLimit,
}

impl std::fmt::Debug for ReplicaLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "replica {}:{}", self.ip, self.port)
    }
}

impl ReplicaLink {
    /// Queues stream bytes; a replica past the hard output limit, or over
    /// the soft one for longer than its seconds, is disconnected, as Redis
    /// does.
    pub fn push(&self, bytes: &[u8]) {
        let mut queue = self.queue.lock();
        queue.extend_from_slice(bytes);
        let len = queue.len() as u64;
        let hard = self.limit.hard > 0 && len > self.limit.hard;
        let soft = self.limit.soft > 0 && len > self.limit.soft && {
            let mut since = self.over_soft.lock();
            let since = *since.get_or_insert_with(Instant::now);
            since.elapsed().as_secs() >= self.limit.soft_seconds
        };
        if hard || soft {
            tracing::warn!(
                client = %self.handle.addr,
                "Client closed for overcoming of output buffer limits ({} replica limit)",
                if hard { "hard" } else { "soft" }
            );
            queue.clear();
            self.handle.kill();
        }
        drop(queue);
        self.ready.notify_one();
    }

    fn take(&self) -> Vec<u8> {
        *self.over_soft.lock() = None;
        std::mem::take(&mut *self.queue.lock())
    }
}

/// How `SYNC`/`PSYNC` answered.
pub enum SyncReply {
    /// `+FULLRESYNC` (for PSYNC) and the RDB payload.
    Full(Vec<u8>),
    /// `+CONTINUE`: the backlog tail is already queued.
    Partial(String),
}

/// Serves `PSYNC replid offset` (`request` None for `SYNC`); the caller
/// holds the keyspace gate exclusively, so the RDB and the stream meet at
/// exactly the reported offset. Registers the replica and returns its
/// link with what to answer first.
pub fn start_sync(
    server: &Server,
    handle: &Arc<ClientHandle>,
    conf: &ReplConf,
    request: Option<(&[u8], &[u8])>,
) -> (Arc<ReplicaLink>, SyncReply) {
    let repl = &server.replication;
    let (limit, backlog_size) = {
        let c = server.config.read();
        (c.output_limits.replica, c.repl.backlog_size as usize)
    };
    let ip = conf.ip.clone().unwrap_or_else(|| peer_ip(&handle.addr));
    let link = Arc::new(ReplicaLink {
        handle: handle.clone(),
        ip,
        port: conf.port,
        ack: AtomicU64::new(0),
        ack_time: AtomicU64::new(now_ms()),
        online: AtomicBool::new(false),
        rdb_pipe: Mutex::new(None),
        queue: Mutex::new(Vec::new()),
        over_soft: Mutex::new(None),
        ready: Notify::new(),
        limit,
    });
    if let Some((replid, offset)) = request {
        let mut st = repl.state();
        if let Some(tail) = st.continuation(replid, offset) {
            link.push(&tail);
            st.replicas.push(link.clone());
            repl.sync_partial_ok.fetch_add(1, Ordering::Relaxed);
            let reply = if conf.psync2 {
                format!("+CONTINUE {}\r\n", st.replid)
            } else {
                "+CONTINUE\r\n".to_string()
            };
            return (link, SyncReply::Partial(reply));
        }
        if replid != b"?" {
            repl.sync_partial_err.fetch_add(1, Ordering::Relaxed);
        }
    }
    repl.sync_full.fetch_add(1, Ordering::Relaxed);
    let header = {
        let mut st = repl.state();
        if st.backlog.is_none() {
            // A new history starts with the first replica, as Redis.
            st.replid = super::new_replid();
            st.replid2 = "0".repeat(40);
            st.second_offset = -1;
            st.backlog = Some(Backlog::new(backlog_size, st.offset + 1));
        }
        st.replicas.push(link.clone());
        request.map(|_| format!("+FULLRESYNC {} {}\r\n", st.replid, st.offset))
    };
    // The stream restarts with a SELECT for the new replica's sake.
    server.propagation.set_replicating(true);
    let mut payload = header.unwrap_or_default().into_bytes();
    let diskless = conf.eof && server.config.read().repl.diskless_sync;
    match fork_rdb(server) {
        Ok(pipe) => {
            *link.rdb_pipe.lock() = Some((pipe, diskless));
            return (link, SyncReply::Full(payload));
        }
        // Another child runs (BGSAVE, AOF rewrite): the image is written
        // here instead, still at the same instant.
        Err(e) => tracing::info!("Replication fork not possible ({e}): RDB made in memory"),
    }
    let rdb = rdb_image(server);
    payload.extend_from_slice(format!("${}\r\n", rdb.len()).as_bytes());
    payload.extend_from_slice(&rdb);
    (link, SyncReply::Full(payload))
}

/// Forks a child writing the RDB to a pipe (the caller holds the gate
/// exclusively); returns the pipe's read end.
fn fork_rdb(server: &Server) -> std::io::Result<OwnedFd> {
    let opts = save_options(server);
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe2 fills two descriptors we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned only here.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let ks = &server.keyspace;
    let write_fd = write.as_raw_fd();
    snapshot::fork_child_gated(
        server,
        ChildKind::Rdb,
        move |log| {
            // SAFETY: the child owns its copy of the write end.
            let file = unsafe { std::fs::File::from_raw_fd(write_fd) };
            let mut w = std::io::BufWriter::with_capacity(1 << 16, file);
            match rdb::save(&mut w, ks, &opts).and_then(|()| std::io::Write::flush(&mut w)) {
                Ok(()) => {
                    log.notice("RDB sent to replica");
                    0
                }
                Err(e) => {
                    log.warning(&format!("Write error sending RDB to replica: {e}"));
                    1
                }
            }
        },
        Box::new(|_, exit| {
            if exit.success() {
                tracing::info!("Background RDB transfer terminated with success");
            } else {
                tracing::warn!("Background transfer error");
            }
        }),
    )?;
    drop(write);
    Ok(read)
}

fn save_options(server: &Server) -> rdb::SaveOptions {
    let c = server.config.read();
    rdb::SaveOptions {
        compression: c.rdbcompression,
        checksum: c.rdbchecksum,
        list_max_listpack_size: c.encodings.list_max_listpack_size,
        ..rdb::SaveOptions::default()
    }
}

/// Forwards the child's RDB: as Redis's diskless transfer
/// (`$EOF:<mark>\r\n`, the bytes, the mark) or, for replicas without
/// `capa eof` and with `repl-diskless-sync no`, whole once complete as
/// `$<length>\r\n` and the bytes.
async fn send_rdb_pipe<S: AsyncWrite + Unpin>(
    stream: &mut S,
    pipe: OwnedFd,
    diskless: bool,
) -> std::io::Result<()> {
    // SAFETY: F_SETFL on a descriptor we own.
    unsafe {
        let flags = libc::fcntl(pipe.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(pipe.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
    }
    let mut rx = tokio::net::unix::pipe::Receiver::from_owned_fd(pipe)?;
    if !diskless {
        let mut image = Vec::new();
        rx.read_to_end(&mut image).await?;
        stream
            .write_all(format!("${}\r\n", image.len()).as_bytes())
            .await?;
        return stream.write_all(&image).await;
    }
    let mark = super::new_replid();
    stream
        .write_all(format!("$EOF:{mark}\r\n").as_bytes())
        .await?;
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let n = rx.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        stream.write_all(&chunk[..n]).await?;
    }
    stream.write_all(mark.as_bytes()).await
}

/// The whole dataset as an RDB image, written in memory while the gate
/// is held exclusively.
fn rdb_image(server: &Server) -> Vec<u8> {
    let opts = save_options(server);
    let mut image = Vec::new();
    if let Err(e) = rdb::save(&mut image, &server.keyspace, &opts) {
        // Writing to memory only fails on a value the format can't hold;
        // the replica then gets what was written and resyncs.
        tracing::warn!("Replication RDB failed: {e}");
    }
    image
}

fn peer_ip(addr: &str) -> String {
    match addr.rsplit_once(':') {
        Some((ip, _)) => ip.trim_matches(['[', ']']).to_string(),
        None => addr.to_string(),
    }
}

/// Drives a replica's connection after its sync reply was written:
/// forwards the stream and reads its acknowledgements until it goes.
pub async fn serve_replica<S: AsyncRead + AsyncWrite + Unpin>(
    server: Arc<Server>,
    stream: &mut S,
    buf: &mut BytesMut,
    link: Arc<ReplicaLink>,
) {
    link.handle.info.lock().replica = true;
    start_cron(&server);
    let pipe = link.rdb_pipe.lock().take();
    let sent = match pipe {
        Some((pipe, diskless)) => send_rdb_pipe(stream, pipe, diskless).await,
        None => Ok(()),
    };
    if sent.is_ok() {
        link.online.store(true, Ordering::Relaxed);
        link.ack_time.store(now_ms(), Ordering::Relaxed);
        let _ = forward(&server, stream, buf, &link).await;
    }
    let mut st = server.replication.state();
    st.replicas.retain(|r| !Arc::ptr_eq(r, &link));
    if st.replicas.is_empty() {
        st.idle_since = Some(Instant::now());
    }
    tracing::info!("Connection with replica {}:{} lost.", link.ip, link.port);
}

async fn forward<S: AsyncRead + AsyncWrite + Unpin>(
    server: &Server,
    stream: &mut S,
    buf: &mut BytesMut,
    link: &ReplicaLink,
) -> std::io::Result<()> {
    let killed = link.handle.killed();
    tokio::pin!(killed);
    let mut parser = Parser::default();
    loop {
        if !read_acks(&mut parser, buf, link) {
            tracing::warn!(client = %link.handle.addr, "Protocol error from replica: closing its link");
            return Ok(());
        }
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(4096);
        }
        tokio::select! {
            _ = link.ready.notified() => {
                let bytes = link.take();
                if !bytes.is_empty() {
                    stream.write_all(&bytes).await?;
                    server.stats.net_output_bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                }
            }
            r = stream.read_buf(buf) => {
                if r? == 0 {
                    return Ok(());
                }
            }
            _ = &mut killed => return Ok(()),
        }
    }
}

/// Applies the `REPLCONF ACK <offset>` commands in `buf`; a replica's
/// other commands get no reply, as Redis never answers its replicas.
/// Returns false on a protocol error.
fn read_acks(parser: &mut Parser, buf: &mut BytesMut, link: &ReplicaLink) -> bool {
    let limits = Limits {
        max_bulk: 1 << 20,
        unauthenticated: false,
    };
    let mut pos = 0;
    let ok = loop {
        let end = match parser.parse(&mut buf[..], pos, limits) {
            Parsed::Command(end) | Parsed::Skip(end) => end,
            Parsed::Incomplete(_) => break true,
            Parsed::Error(_) => break false,
        };
        let args: Vec<&[u8]> = parser.spans.iter().map(|&(s, e)| &buf[s..e]).collect();
        if args.len() >= 3
            && args[0].eq_ignore_ascii_case(b"replconf")
            && args[1].eq_ignore_ascii_case(b"ack")
        {
            if let Some(offset) = parse_i64(args[2]).filter(|&o| o >= 0) {
                link.ack.fetch_max(offset as u64, Ordering::Relaxed);
                link.ack_time.store(now_ms(), Ordering::Relaxed);
                // CLIENT LIST shows a replica idle only when it stops acking.
                link.handle.info.lock().last_interaction = Some(Instant::now());
            }
        }
        parser.finish_command();
        pos = end;
    };
    buf.advance(pos);
    parser.rebase(pos);
    ok
}

/// Starts the once-a-second replication cron unless it runs: PINGs down
/// the stream every `repl-ping-replica-period`, the backlog resized to
/// `repl-backlog-size`, and freed after `repl-backlog-ttl` seconds without
/// replicas (a new history then starts with the next replica, as Redis).
fn start_cron(server: &Arc<Server>) {
    if server.replication.cron.swap(true, Ordering::AcqRel) {
        return;
    }
    let server = server.clone();
    tokio::spawn(async move {
        let mut loops: u64 = 0;
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            loops += 1;
            if !replication_cron(&server, loops) {
                return;
            }
        }
    });
}

/// One cron tick; returns whether the cron goes on.
fn replication_cron(server: &Server, loops: u64) -> bool {
    let repl = server.config.read().repl;
    let expired = {
        let mut st = server.replication.state();
        if let Some(backlog) = &mut st.backlog {
            backlog.resize(repl.backlog_size as usize);
        }
        let idle_for = st.idle_since.map_or(0, |t| t.elapsed().as_secs());
        st.replicas.is_empty() && repl.backlog_ttl > 0 && idle_for > repl.backlog_ttl
    };
    if expired {
        let _gate = server.keyspace.gate.write();
        server.propagation.set_replicating(false);
        let mut st = server.replication.state();
        if !st.replicas.is_empty() {
            // A replica attached meanwhile: keep the stream.
            drop(st);
            server.propagation.set_replicating(true);
            return true;
        }
        st.backlog = None;
        st.replid = super::new_replid();
        st.replid2 = "0".repeat(40);
        st.second_offset = -1;
        server.replication.cron.store(false, Ordering::Release);
        tracing::info!(
            "Replication backlog freed after {} seconds without connected replicas.",
            repl.backlog_ttl
        );
        return false;
    }
    if loops.is_multiple_of(repl.ping_period.max(1))
        && !server.replication.state().replicas.is_empty()
    {
        server.propagation.feed_replicas(PING);
    }
    true
}

/// Whether `min-replicas-to-write` is met: enough online replicas
/// acknowledged within `min-replicas-max-lag` seconds (always, when
/// either setting is 0).
pub fn enough_good_replicas(server: &Server) -> bool {
    let (wanted, max_lag) = {
        let c = server.config.read();
        (c.repl.min_replicas_to_write, c.repl.min_replicas_max_lag)
    };
    if wanted == 0 || max_lag == 0 {
        return true;
    }
    let now = now_ms();
    let st = server.replication.state();
    let good = st
        .replicas
        .iter()
        .filter(|r| {
            r.online.load(Ordering::Relaxed)
                && now.saturating_sub(r.ack_time.load(Ordering::Relaxed)) / 1000 <= max_lag
        })
        .count();
    good as u64 >= wanted
}

/// Replicas whose acknowledged offset reached `offset`.
pub fn acked(server: &Server, offset: u64) -> usize {
    let st = server.replication.state();
    st.replicas
        .iter()
        .filter(|r| r.online.load(Ordering::Relaxed) && r.ack.load(Ordering::Relaxed) >= offset)
        .count()
}

/// A `WAIT`: how many replicas, the newest write it covers, for how long
/// (None: forever).
#[derive(Debug)]
pub struct WaitAcks {
    /// Replicas wanted.
    pub replicas: usize,
    /// Propagation sequence number of the newest write reserved when WAIT
    /// ran: the client's own writes are at or before it.
    pub seq: u64,
    /// Timeout.
    pub timeout: Option<Duration>,
}

/// Waits until the writes up to `w.seq` are in the replication stream
/// (a write may still be parked behind an earlier one), asks replicas for
/// their offset and waits until enough acknowledged it or the timeout
/// passes; returns how many did.
pub async fn wait_acks(server: &Server, w: &WaitAcks) -> usize {
    let deadline = w.timeout.map(|t| tokio::time::Instant::now() + t);
    let encoded = server.propagation.wait_durable(w.seq);
    match deadline {
        Some(at) => {
            let _ = tokio::time::timeout_at(at, encoded).await;
        }
        None => encoded.await,
    }
    let offset = server.replication.state().offset;
    if acked(server, offset) < w.replicas {
        server.propagation.feed_replicas(GETACK);
    }
    loop {
        let n = acked(server, offset);
        if n >= w.replicas || deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
            return n;
        }
        // Acks arrive on the replicas' connections: poll briefly.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
