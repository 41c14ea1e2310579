//! One client connection: read a batch, run every complete command in it,
//! answer with one write.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::blocking::{Block, Wakeup};
use super::clients::ClientHandle;
use super::pause::is_may_replicate;
use super::pubsub::Inbox;
use super::Server;
use crate::command::{execute, flags, resolve, Action, ClientState, Command};
use crate::config::BufferLimit;
use crate::protocol::reply::Reply;
use crate::protocol::request::{Limits, Parsed, Parser};

/// Spare room kept for each socket read.
const READ_CHUNK: usize = 16 * 1024;
/// Output is flushed mid-batch once it grows past this.
const FLUSH_AT: usize = 1024 * 1024;
/// Arguments up to this count are passed without allocating.
const STACK_ARGS: usize = 8;

/// Runs `f` on the argument slices of one command.
fn with_args<R>(buf: &[u8], spans: &[(usize, usize)], f: impl FnOnce(&[&[u8]]) -> R) -> R {
    if spans.len() <= STACK_ARGS {
        let mut args: [&[u8]; STACK_ARGS] = [&[]; STACK_ARGS];
        for (slot, &(s, e)) in args.iter_mut().zip(spans) {
            *slot = &buf[s..e];
        }
        f(&args[..spans.len()])
    } else {
        let args: Vec<&[u8]> = spans.iter().map(|&(s, e)| &buf[s..e]).collect();
        f(&args)
    }
}

/// The next published message for this client; never resolves for a
/// client without subscriptions.
async fn next_message(inbox: &mut Option<Inbox>) -> Vec<u8> {
    match inbox {
        Some(rx) => match rx.recv().await {
            Some(msg) => msg,
            None => std::future::pending().await,
        },
        None => std::future::pending().await,
    }
}

/// Whether `CLIENT PAUSE` may hold this command back: None when it is
/// refused before that point (unknown, wrong arity, not authenticated),
/// else whether it writes or may replicate (for EXEC: whether any queued
/// command does), as Redis 7.0 decides in `processCommand`.
fn pause_class(server: &Server, client: &ClientState, args: &[&[u8]]) -> Option<bool> {
    let cmd = resolve(server, args).ok()?;
    if !client.authenticated && !cmd.has(flags::NO_AUTH) {
        return None;
    }
    let queued_writes = || {
        client.multi.as_ref().is_some_and(|multi| {
            multi.queued.iter().any(|q| {
                let args: Vec<&[u8]> = q.iter().map(Vec::as_slice).collect();
                resolve(server, &args).is_ok_and(is_may_replicate)
            })
        })
    };
    Some(is_may_replicate(cmd) || (cmd.name == "exec" && queued_writes()))
}

/// Why a connection ended.
enum Close {
    Peer,
    Now,
}

/// `S` is the client's byte stream: a TCP socket, or TLS over one.
struct Connection<S> {
    server: Arc<Server>,
    stream: S,
    buf: BytesMut,
    parser: Parser,
    out: Reply,
    client: ClientState,
    last_cmd: Option<&'static Command>,
    /// `client-output-buffer-limit normal`, refreshed per batch.
    out_limit: BufferLimit,
}

/// Serves one accepted connection until it closes.
pub async fn serve<S>(server: Arc<Server>, stream: S, handle: Arc<ClientHandle>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let authenticated = server.acl.default_needs_no_auth(&server);
    let id = handle.id;
    let mut conn = Connection {
        client: ClientState::new(handle, authenticated),
        server: server.clone(),
        stream,
        buf: BytesMut::with_capacity(READ_CHUNK),
        parser: Parser::default(),
        out: Reply::new(),
        last_cmd: None,
        out_limit: BufferLimit::default(),
    };
    let _ = conn.run().await;
    conn.client.unwatch_all(&server);
    conn.client.unsubscribe_all(&server);
    super::tracking::disable(&server, &mut conn.client);
    server.clients.unregister(id);
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    async fn run(&mut self) -> std::io::Result<Close> {
        // One kill-notification future for the connection's whole life, so
        // a read does not re-register a waiter each time.
        let handle = self.client.handle.clone();
        let killed = handle.killed();
        tokio::pin!(killed);
        loop {
            if self.buf.capacity() - self.buf.len() < READ_CHUNK {
                self.buf.reserve(READ_CHUNK);
            }
            let (timeout, query_limit, max_bulk) = {
                let c = self.server.config.read();
                self.out_limit = c.output_limits.normal;
                (c.timeout, c.client_query_buffer_limit, c.proto_max_bulk_len)
            };
            let idle_limit = timeout > 0 && !self.client.subs.active();
            let n = tokio::select! {
                r = self.stream.read_buf(&mut self.buf) => r?,
                msg = next_message(&mut self.client.subs.inbox) => {
                    self.deliver_messages(msg).await?;
                    continue;
                }
                _ = &mut killed => return Ok(Close::Now),
                _ = tokio::time::sleep(Duration::from_secs(timeout)), if idle_limit => {
                    return Ok(Close::Now);
                }
            };
            if n == 0 {
                return Ok(Close::Peer);
            }
            self.server
                .stats
                .net_input_bytes
                .fetch_add(n as u64, Ordering::Relaxed);
            let close = self.process_batch(max_bulk as usize).await?;
            self.flush().await?;
            self.publish_info();
            if close {
                return Ok(Close::Now);
            }
            // What is left is the unparsed tail of a command still being
            // received (arguments already parsed don't count, as Redis
            // moves them out of its query buffer).
            let unparsed = self.buf.len() - self.parser.parsed_len().min(self.buf.len());
            if unparsed as u64 > query_limit {
                tracing::warn!(
                    client = %self.client.handle.addr,
                    "closing client that reached max query buffer length"
                );
                return Ok(Close::Now);
            }
        }
    }

    /// Runs every complete command in the buffer. Returns whether the
    /// connection must close once the replies are written.
    async fn process_batch(&mut self, max_bulk: usize) -> std::io::Result<bool> {
        let limits = Limits {
            max_bulk,
            // Tiny limits only while authentication is still required.
            unauthenticated: !self.client.authenticated
                && !self.server.acl.default_needs_no_auth(&self.server),
        };
        let mut pos = 0;
        let mut close = false;
        loop {
            match self.parser.parse(&mut self.buf[..], pos, limits) {
                Parsed::Command(end) => {
                    if self.server.pause.maybe_active() {
                        let (server, client) = (&*self.server, &self.client);
                        let class = with_args(&self.buf, &self.parser.spans, |args| {
                            pause_class(server, client, args)
                        });
                        if let Some(writes) = class {
                            if self.wait_unpaused(writes).await? {
                                close = true;
                                break;
                            }
                        }
                    }
                    let server = &*self.server;
                    let client = &mut self.client;
                    let out = &mut self.out;
                    let cmd = with_args(&self.buf, &self.parser.spans, |args| {
                        execute(server, client, out, args)
                    });
                    self.last_cmd = cmd.or(self.last_cmd);
                    self.parser.finish_command();
                    pos = end;
                    match self.client.action.take() {
                        None => {}
                        Some(Action::Close) => {
                            close = true;
                            break;
                        }
                        Some(Action::Sleep(d)) => {
                            self.flush().await?;
                            tokio::time::sleep(d).await;
                        }
                        Some(Action::Block(block)) => {
                            close = self.wait_blocked(block).await?;
                            if close {
                                break;
                            }
                        }
                        Some(Action::SwitchAof(on)) => {
                            crate::persist::aof::switch(&self.server, on);
                        }
                        Some(Action::Replicate(link)) => {
                            self.buf.advance(pos);
                            self.parser.rebase(pos);
                            self.server.stats.absorb(&mut self.client);
                            self.flush().await?;
                            let server = self.server.clone();
                            crate::replication::primary::serve_replica(
                                server,
                                &mut self.stream,
                                &mut self.buf,
                                link,
                            )
                            .await;
                            return Ok(true);
                        }
                        Some(Action::WaitReplicas(wait)) => {
                            self.flush().await?;
                            let server = self.server.clone();
                            let handle = self.client.handle.clone();
                            let acked = tokio::select! {
                                n = crate::replication::primary::wait_acks(&server, &wait) => n,
                                _ = handle.killed() => return Ok(true),
                            };
                            self.out.int(acked as i64);
                        }
                        Some(Action::Shutdown) => {
                            self.server.request_shutdown();
                            close = true;
                            break;
                        }
                    }
                    let hard = self.out_limit.hard;
                    if hard > 0 && self.out.buf.len() as u64 > hard {
                        tracing::warn!(
                            client = %self.client.handle.addr,
                            "Client closed for overcoming of output buffer limits (hard normal limit)"
                        );
                        self.out.buf.clear();
                        close = true;
                        break;
                    }
                    if self.out.buf.len() >= FLUSH_AT {
                        self.flush().await?;
                    }
                }
                Parsed::Skip(end) => pos = end,
                Parsed::Incomplete(need) => {
                    let missing = need.saturating_sub(self.buf.len());
                    if missing > READ_CHUNK {
                        // Grow with the data actually received (doubling),
                        // never by what a header merely announces: idle
                        // clients announcing huge bulks must not hold
                        // memory (it counts against maxmemory).
                        let step = self.buf.len().max(READ_CHUNK * 4);
                        self.buf.reserve(missing.min(step));
                    }
                    break;
                }
                Parsed::Error(msg) => {
                    tracing::debug!(client = %self.client.handle.addr, "{msg}");
                    self.out.error(&format!("ERR {msg}"));
                    close = true;
                    break;
                }
            }
        }
        self.buf.advance(pos);
        self.parser.rebase(pos);
        self.server.stats.absorb(&mut self.client);
        Ok(close)
    }

    /// Holds the next command back while `CLIENT PAUSE` applies to it,
    /// answering what came before it first. Returns whether the client
    /// was killed meanwhile.
    async fn wait_unpaused(&mut self, writes: bool) -> std::io::Result<bool> {
        self.flush().await?;
        let server = self.server.clone();
        let handle = self.client.handle.clone();
        tokio::select! {
            _ = server.pause.wait(writes) => Ok(false),
            _ = handle.killed() => Ok(true),
        }
    }

    /// Writes a published message and whatever else is already queued.
    async fn deliver_messages(&mut self, first: Vec<u8>) -> std::io::Result<()> {
        let mut total = first.len();
        let mut items = 1;
        self.out.buf.extend_from_slice(&first);
        while self.out.buf.len() < FLUSH_AT {
            let Some(msg) = self
                .client
                .subs
                .inbox
                .as_mut()
                .and_then(|rx| rx.try_recv().ok())
            else {
                break;
            };
            total += msg.len();
            items += 1;
            self.out.buf.extend_from_slice(&msg);
        }
        self.flush().await?;
        if let Some(sub) = &self.client.subs.subscriber {
            sub.written(total, items);
        }
        Ok(())
    }

    /// Waits for a blocked command's outcome while watching the socket for
    /// a disconnect. Returns whether the connection must close.
    async fn wait_blocked(&mut self, mut block: Block) -> std::io::Result<bool> {
        self.flush().await?;
        let server = self.server.clone();
        let handle = self.client.handle.clone();
        let deadline = block.deadline;
        let expired = async move {
            match deadline {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(expired);
        let wakeup = loop {
            if self.buf.capacity() - self.buf.len() < READ_CHUNK {
                self.buf.reserve(READ_CHUNK);
            }
            tokio::select! {
                w = &mut block.rx => break w.ok(),
                _ = &mut expired => {
                    if server.blocking.cancel(&block.waiter) {
                        self.out.buf.extend_from_slice(&block.waiter.timeout_reply());
                        return Ok(false);
                    }
                    // Served in the meantime: the reply is on its way.
                    break (&mut block.rx).await.ok();
                }
                _ = handle.killed() => {
                    server.blocking.cancel(&block.waiter);
                    return Ok(true);
                }
                // RESP3 pushes (messages, invalidations) still flow.
                msg = next_message(&mut self.client.subs.inbox) => {
                    self.deliver_messages(msg).await?;
                }
                r = self.stream.read_buf(&mut self.buf) => match r {
                    Ok(0) | Err(_) => {
                        server.blocking.cancel(&block.waiter);
                        return Ok(true);
                    }
                    Ok(n) => {
                        server.stats.net_input_bytes.fetch_add(n as u64, Ordering::Relaxed);
                    }
                },
            }
        };
        match wakeup {
            Some(Wakeup::Served(reply, then)) => {
                // The pop was logged by the pushing client: the reply
                // leaves once that is durable too.
                if server.propagation.enabled() {
                    self.client.prop.wait = Some(server.propagation.latest());
                }
                self.out.buf.extend_from_slice(&reply);
                if let Some(cmd) = then {
                    let args: Vec<&[u8]> = cmd.iter().map(Vec::as_slice).collect();
                    let mut discarded = Reply {
                        resp3: self.out.resp3,
                        ..Reply::default()
                    };
                    crate::command::execute_internal(
                        &server,
                        &mut self.client,
                        &mut discarded,
                        &args,
                    );
                }
            }
            Some(Wakeup::Unblocked(reply)) => self.out.buf.extend_from_slice(&reply),
            None => {}
        }
        Ok(false)
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        if self.out.buf.is_empty() {
            return Ok(());
        }
        // Replies to writes leave once the AOF has them (on disk with
        // appendfsync always).
        if let Some(seq) = self.client.prop.wait.take() {
            self.server.propagation.wait_durable(seq).await;
        }
        // A client that stops reading must not pin its task forever: a
        // kill (CLIENT KILL, output buffer limits) interrupts the write.
        let handle = self.client.handle.clone();
        // Output over the soft limit may take at most soft_seconds to drain.
        let limit = self.out_limit;
        let over_soft = limit.soft > 0 && self.out.buf.len() as u64 > limit.soft;
        let drain_deadline = Duration::from_secs(limit.soft_seconds);
        let (stream, buf) = (&mut self.stream, &self.out.buf);
        // The flush matters for TLS: rustls may keep the last records
        // buffered when the socket is full, and the client waits for them.
        let write = async move {
            stream.write_all(buf).await?;
            stream.flush().await
        };
        tokio::select! {
            r = write => r?,
            _ = handle.killed() => {
                return Err(std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "client killed"));
            }
            _ = tokio::time::sleep(drain_deadline), if over_soft => {
                tracing::warn!(
                    client = %self.client.handle.addr,
                    "Client closed for overcoming of output buffer limits (soft normal limit)"
                );
                return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "output buffer soft limit"));
            }
        }
        self.server
            .stats
            .net_output_bytes
            .fetch_add(self.out.buf.len() as u64, Ordering::Relaxed);
        self.out.buf.clear();
        if self.out.buf.capacity() > FLUSH_AT * 4 {
            self.out.buf.shrink_to(READ_CHUNK);
        }
        Ok(())
    }

    /// Shares what `CLIENT LIST` shows, once per batch.
    fn publish_info(&self) {
        let mut info = self.client.handle.info.lock();
        info.db = self.client.db;
        info.resp = if self.out.resp3 { 3 } else { 2 };
        info.qbuf = self.buf.len();
        info.last_interaction = Some(Instant::now());
        if let Some(cmd) = self.last_cmd {
            if info.last_cmd != cmd.name {
                info.last_cmd.clear();
                info.last_cmd.push_str(&cmd.name);
            }
        }
    }
}
