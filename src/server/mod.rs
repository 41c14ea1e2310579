//! The server: shared state, listeners, background tasks and shutdown.

pub mod blocking;
pub mod clients;
mod connection;
mod cron;
pub mod evict;
pub mod latency;
pub mod memory;
pub mod monitor;
pub mod notify;
pub mod pause;
pub mod propagate;
pub mod pubsub;
pub mod slowlog;
pub mod stats;
mod tls;
pub mod tracking;
pub mod watch;

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::RwLock;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio_rustls::TlsAcceptor;

use crate::command::{CommandTable, TableBuilder};
use crate::config::Config;
use crate::keyspace::Keyspace;
use crate::util::time::now_ms;
use clients::Clients;
use stats::Stats;

/// The version of Redis whose behaviour ferrokv matches (reported as
/// `redis_version`, so clients' feature checks take the right paths).
pub const REDIS_VERSION: &str = "7.0.15";

/// ferrokv's own version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Everything the connections share.
pub struct Server {
    /// Running configuration.
    pub config: RwLock<Config>,
    /// The data.
    pub keyspace: Keyspace,
    /// The command table (lives for the whole process).
    pub commands: &'static CommandTable,
    /// Connected clients.
    pub clients: Clients,
    /// Clients blocked on keys.
    pub blocking: blocking::Blocking,
    /// Keys watched for transactions.
    pub watches: watch::Watches,
    /// Pub/Sub subscriptions.
    pub pubsub: pubsub::PubSub,
    /// Client-side caching (CLIENT TRACKING).
    pub tracking: tracking::Tracking,
    /// Clients in MONITOR mode.
    pub monitors: monitor::Monitors,
    /// Enabled keyspace notifications.
    pub notify: notify::Notifier,
    /// `CLIENT PAUSE` state.
    pub pause: pause::ClientPause,
    /// Counters for `INFO`.
    pub stats: Stats,
    /// `maxmemory` and eviction.
    pub evict: evict::Eviction,
    /// SLOWLOG.
    pub slowlog: slowlog::SlowLog,
    /// LATENCY monitor.
    pub latency: latency::Latency,
    /// The stream of changes for the AOF.
    pub propagation: propagate::Propagation,
    /// The append-only file.
    pub aof: crate::persist::aof::Aof,
    /// Replication state: ids, offset, backlog, attached replicas, the
    /// link to our primary.
    pub replication: Arc<crate::replication::Replication>,
    /// Process start.
    pub started: Instant,
    /// Random 40-hex-digit id of this run.
    pub run_id: String,
    /// Lua scripts and functions.
    pub scripting: crate::scripting::Engine,
    /// The TCP port actually listened on.
    pub tcp_port: AtomicU16,
    /// Unix time (s) of the last successful save (start time until then).
    pub lastsave: AtomicU64,
    /// Snapshot state: the forked child, save outcomes, load counts.
    pub persistence: crate::persist::snapshot::Persistence,
    /// Users and the ACL log.
    pub acl: crate::acl::Acl,
    /// The TLS listener's handshake settings (None: no `tls-port`);
    /// replaced when `CONFIG SET` changes a `tls-*` directive.
    tls: RwLock<Option<TlsAcceptor>>,
    shutdown: Notify,
}

/// Registers every command family.
pub fn command_table() -> CommandTable {
    let mut t = TableBuilder::new();
    crate::commands::register_all(&mut t);
    t.build()
}

fn new_run_id() -> String {
    let mut id = String::with_capacity(40);
    while id.len() < 40 {
        id.push_str(&format!("{:016x}", crate::util::rand::random_u64()));
    }
    id.truncate(40);
    id
}

/// Applies the slow log and latency directives of `config`.
fn configure_diagnostics(slowlog: &slowlog::SlowLog, latency: &latency::Latency, config: &Config) {
    slowlog.configure(config.slowlog_log_slower_than, config.slowlog_max_len);
    latency.configure(config.latency_monitor_threshold, config.latency_tracking);
}

impl Server {
    /// Applies the slow log, latency and memory directives after
    /// `CONFIG SET`.
    pub fn configure_diagnostics(&self, config: &Config) {
        configure_diagnostics(&self.slowlog, &self.latency, config);
        self.evict.configure(config);
    }

    /// Builds the server state from a configuration.
    pub fn new(config: Config) -> Self {
        Self::with_commands(config, command_table())
    }

    /// Builds the server state with a given command table.
    pub fn with_commands(config: Config, commands: CommandTable) -> Self {
        let databases = config.databases;
        let notify = notify::Notifier::default();
        notify.configure(config.notify_keyspace_events);
        let slowlog = slowlog::SlowLog::default();
        let latency = latency::Latency::default();
        configure_diagnostics(&slowlog, &latency, &config);
        let evict = evict::Eviction::default();
        evict.configure(&config);
        evict
            .startup_memory
            .store(memory::refresh(), Ordering::Relaxed);
        let replication = Arc::new(crate::replication::Replication::default());
        Self {
            config: RwLock::new(config),
            keyspace: Keyspace::new(databases),
            commands: Box::leak(Box::new(commands)),
            clients: Clients::default(),
            blocking: blocking::Blocking::default(),
            watches: watch::Watches::default(),
            pubsub: pubsub::PubSub::default(),
            tracking: tracking::Tracking::default(),
            monitors: monitor::Monitors::default(),
            notify,
            pause: pause::ClientPause::default(),
            stats: Stats::default(),
            evict,
            slowlog,
            latency,
            propagation: propagate::Propagation::new(replication.clone()),
            replication,
            aof: crate::persist::aof::Aof::default(),
            started: Instant::now(),
            run_id: new_run_id(),
            scripting: crate::scripting::Engine::new(),
            tcp_port: AtomicU16::new(0),
            lastsave: AtomicU64::new(now_ms() / 1000),
            persistence: Default::default(),
            acl: crate::acl::Acl::default(),
            tls: RwLock::new(None),
            shutdown: Notify::new(),
        }
    }

    /// Applies changed `tls-*` directives to new TLS connections. Without
    /// a TLS listener there is nothing to check, as in Redis; an invalid
    /// configuration is refused and the running one kept.
    pub fn reconfigure_tls(&self, tls: &crate::config::TlsConfig) -> Result<(), String> {
        let mut current = self.tls.write();
        if current.is_some() {
            *current = Some(tls::acceptor(tls)?);
        }
        Ok(())
    }

    /// Asks the server to shut down (SHUTDOWN, signals).
    pub fn request_shutdown(&self) {
        self.shutdown.notify_one();
    }
}

/// Resolves the `bind` list into socket addresses; the bool says whether
/// the address is optional (`-` prefix).
fn bind_addrs(bind: &[String], port: u16) -> Result<Vec<(SocketAddr, bool)>, String> {
    bind.iter()
        .map(|spec| {
            let (optional, host) = match spec.strip_prefix('-') {
                Some(h) => (true, h),
                None => (false, spec.as_str()),
            };
            let ip: IpAddr = match host {
                "*" => "0.0.0.0".parse().expect("valid"),
                "::*" => "::".parse().expect("valid"),
                h => h
                    .parse()
                    .map_err(|_| format!("Invalid bind address '{h}'"))?,
            };
            Ok((SocketAddr::new(ip, port), optional))
        })
        .collect()
}

fn listen(addr: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => {
            let s = socket2::Socket::new(socket2::Domain::IPV6, socket2::Type::STREAM, None)?;
            s.set_only_v6(true)?;
            s.set_nonblocking(true)?;
            tokio::net::TcpSocket::from_std_stream(s.into())
        }
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog.max(1))
}

/// Binds every configured address on `port`. Fails if a mandatory one
/// cannot be bound or none could.
fn open_listeners(config: &Config, mut port: u16) -> Result<Vec<TcpListener>, String> {
    let mut listeners = Vec::new();
    for (addr, optional) in bind_addrs(&config.bind, port)? {
        let addr = SocketAddr::new(addr.ip(), port);
        match listen(addr, config.tcp_backlog) {
            Ok(l) => {
                if port == 0 {
                    port = l.local_addr().map(|a| a.port()).unwrap_or(0);
                }
                listeners.push(l);
            }
            Err(e) if optional => {
                tracing::debug!("skipping optional bind address {addr}: {e}");
            }
            Err(e) => {
                return Err(format!(
                    "Could not create server TCP listening socket {addr}: {e}"
                ))
            }
        }
    }
    if listeners.is_empty() {
        return Err("Failed listening on any configured address".into());
    }
    Ok(listeners)
}

fn configure_stream(stream: &TcpStream, keepalive: u64) {
    let _ = stream.set_nodelay(true);
    if keepalive > 0 {
        let ka = socket2::TcpKeepalive::new().with_time(std::time::Duration::from_secs(keepalive));
        let _ = socket2::SockRef::from(stream).set_tcp_keepalive(&ka);
    }
}

/// A TLS handshake not finished by then is abandoned, so a client that
/// connects to the TLS port and stays silent does not hold a task forever.
const TLS_HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Accepts clients on one listener; with `tls`, each one is served once
/// its TLS handshake succeeds.
async fn accept_loop(server: Arc<Server>, listener: TcpListener, tls: bool) {
    use std::os::fd::AsRawFd;
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        server
            .stats
            .connections_received
            .fetch_add(1, Ordering::Relaxed);
        let (maxclients, keepalive) = {
            let c = server.config.read();
            (c.maxclients, c.tcp_keepalive)
        };
        if server.clients.len() as u64 >= maxclients {
            server
                .stats
                .rejected_connections
                .fetch_add(1, Ordering::Relaxed);
            // On the TLS port the client expects a handshake, not text: just
            // close the connection there.
            if tls {
                continue;
            }
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                let mut stream = stream;
                let _ = stream
                    .write_all(b"-ERR max number of clients reached\r\n")
                    .await;
            });
            continue;
        }
        if crate::acl::refuses_connection(&server, peer.ip()) {
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                let mut stream = stream;
                let _ = stream
                    .write_all(crate::acl::PROTECTED_MODE_ERROR.as_bytes())
                    .await;
            });
            continue;
        }
        configure_stream(&stream, keepalive);
        let laddr = stream
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let fd = stream.as_raw_fd();
        let server = server.clone();
        let acceptor = if tls { server.tls.read().clone() } else { None };
        match acceptor {
            None => {
                let handle = server.clients.register(peer.to_string(), laddr, fd);
                tokio::spawn(connection::serve(server, stream, handle));
            }
            Some(acceptor) => {
                let accept = acceptor.accept(stream);
                tokio::spawn(async move {
                    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, accept).await {
                        Ok(Ok(stream)) => {
                            let handle = server.clients.register(peer.to_string(), laddr, fd);
                            connection::serve(server, stream, handle).await;
                        }
                        Ok(Err(e)) => tracing::debug!(
                            "Error accepting a client connection: {e} (addr={peer} laddr={laddr})"
                        ),
                        Err(_) => {
                            tracing::debug!("TLS handshake timed out (addr={peer} laddr={laddr})")
                        }
                    }
                });
            }
        }
    }
}

/// Number of worker threads for a configuration (`threads 0` = one per
/// core available to this process).
pub fn worker_threads(config: &Config) -> usize {
    if config.threads > 0 {
        config.threads
    } else {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    }
}

/// Runs the server until shutdown. Must be called inside a tokio runtime.
pub async fn run(config: Config) -> Result<(), String> {
    use tokio::signal::unix::{signal, SignalKind};
    let listeners = open_listeners(&config, config.port)?;
    let (acceptor, tls_listeners) = match config.tls.port {
        0 => (None, Vec::new()),
        port => (
            Some(tls::acceptor(&config.tls)?),
            open_listeners(&config, port)?,
        ),
    };
    let server = Arc::new(Server::new(config));
    crate::acl::load_at_startup(&server)?;
    let port = listeners[0].local_addr().map(|a| a.port()).unwrap_or(0);
    server.tcp_port.store(port, Ordering::Relaxed);
    // The data is in place before the first client can see the keyspace.
    // With the AOF on, only the AOF is loaded, as Redis does.
    if server.config.read().appendonly {
        crate::persist::aof::Aof::start(&server)?;
    } else {
        crate::persist::snapshot::load_at_startup(&server)?;
    }
    crate::replication::replica::init(&server);
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    *server.tls.write() = acceptor;
    for listener in listeners {
        tokio::spawn(accept_loop(server.clone(), listener, false));
    }
    for listener in tls_listeners {
        tokio::spawn(accept_loop(server.clone(), listener, true));
    }
    tokio::spawn(cron::run(server.clone()));
    tracing::info!("Ready to accept connections tcp");
    loop {
        let signalled = tokio::select! {
            _ = term.recv() => Some("SIGTERM"),
            _ = int.recv() => Some("SIGINT"),
            // SHUTDOWN already did the final save before asking.
            _ = server.shutdown.notified() => None,
        };
        let Some(name) = signalled else {
            break;
        };
        tracing::info!("Received {name} scheduling shutdown...");
        // Wait for every in-flight command to finish, then save.
        let _gate = server.keyspace.gate.write();
        let flags = crate::persist::snapshot::ShutdownFlags::default();
        if crate::persist::snapshot::prepare_shutdown(&server, flags).is_ok() {
            break;
        }
        tracing::warn!(
            "{name} received but errors trying to shut down the server, check the logs for more information"
        );
    }
    // Wait for every in-flight command to finish before exiting, except a
    // script stuck past its busy threshold (SHUTDOWN NOSAVE abandons it).
    let _gate = loop {
        if server.scripting.busy() {
            break None;
        }
        if let Some(g) = server
            .keyspace
            .gate
            .try_write_for(std::time::Duration::from_millis(10))
        {
            break Some(g);
        }
    };
    server.aof.shutdown(&server);
    tracing::info!("ferrokv is now ready to exit, bye bye...");
    Ok(())
}
