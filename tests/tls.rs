//! TLS listener (`tls-port`): redis-cli and a rustls client against it,
//! client certificate checks for each `tls-auth-clients` mode, plain-text
//! clients on the TLS port, start-up errors. Certificates are made at test
//! time with the `openssl` command.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{free_port, scratch_dir, Server, TIMEOUT};
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{
    version, ClientConfig, ClientConnection, RootCertStore, StreamOwned, SupportedProtocolVersion,
};

/// Runs `openssl` with `args` in `dir`, panicking with its output on failure.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("the openssl command is needed to make test certificates");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA plus a server and a client certificate it signed, and a second CA
/// whose client certificate the server must not trust.
struct Certs {
    dir: PathBuf,
}

impl Certs {
    fn new() -> Certs {
        let dir = scratch_dir("tls");
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
        for ca in ["ca", "other-ca"] {
            openssl(&dir, &["genrsa", "-out", &format!("{ca}.key"), "2048"]);
            openssl(
                &dir,
                &[
                    "req",
                    "-x509",
                    "-new",
                    "-nodes",
                    "-sha256",
                    "-days",
                    "2",
                    "-key",
                    &format!("{ca}.key"),
                    "-subj",
                    &format!("/CN={ca}"),
                    "-out",
                    &format!("{ca}.crt"),
                ],
            );
        }
        for (name, ca, ext) in [
            ("server", "ca", "server.ext"),
            ("client", "ca", "client.ext"),
            ("stranger", "other-ca", "client.ext"),
        ] {
            openssl(&dir, &["genrsa", "-out", &format!("{name}.key"), "2048"]);
            openssl(
                &dir,
                &[
                    "req",
                    "-new",
                    "-sha256",
                    "-key",
                    &format!("{name}.key"),
                    "-subj",
                    &format!("/CN={name}"),
                    "-out",
                    &format!("{name}.csr"),
                ],
            );
            openssl(
                &dir,
                &[
                    "x509",
                    "-req",
                    "-sha256",
                    "-days",
                    "2",
                    "-in",
                    &format!("{name}.csr"),
                    "-CA",
                    &format!("{ca}.crt"),
                    "-CAkey",
                    &format!("{ca}.key"),
                    "-CAcreateserial",
                    "-extfile",
                    ext,
                    "-out",
                    &format!("{name}.crt"),
                ],
            );
        }
        Certs { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// Starts ferrokv with a TLS listener on a free port plus `extra`
    /// flags; returns the server and its TLS port.
    fn start(&self, extra: &[&str]) -> (Server, u16) {
        let tls_port = free_port();
        let (port, cert, key, ca) = (
            tls_port.to_string(),
            self.path("server.crt"),
            self.path("server.key"),
            self.path("ca.crt"),
        );
        let mut args = vec![
            "--tls-port",
            &port,
            "--tls-cert-file",
            &cert,
            "--tls-key-file",
            &key,
            "--tls-ca-cert-file",
            &ca,
        ];
        args.extend_from_slice(extra);
        let server = Server::start_with(&args);
        wait_listening(tls_port);
        (server, tls_port)
    }

    /// Runs redis-cli over TLS; `client` names the certificate to present
    /// (None = none). Returns (success, stdout + stderr).
    fn cli(&self, port: u16, client: Option<&str>, args: &[&str]) -> (bool, String) {
        let mut cmd = Command::new("timeout");
        cmd.args(["10", "redis-cli", "--tls", "--cacert"])
            .arg(self.path("ca.crt"))
            .args(["-p", &port.to_string()]);
        if let Some(name) = client {
            cmd.arg("--cert")
                .arg(self.path(&format!("{name}.crt")))
                .arg("--key")
                .arg(self.path(&format!("{name}.key")));
        }
        let out = cmd
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("redis-cli is needed for the TLS tests");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success() && !text.contains("Error"), text)
    }

    /// A rustls client trusting the test CA, presenting `client`'s
    /// certificate when given.
    fn rustls_client(
        &self,
        port: u16,
        client: Option<&str>,
    ) -> StreamOwned<ClientConnection, TcpStream> {
        self.rustls_client_with(port, client, &[&version::TLS12, &version::TLS13])
    }

    /// Like [`Certs::rustls_client`], offering only `versions`.
    fn rustls_client_with(
        &self,
        port: u16,
        client: Option<&str>,
        versions: &[&'static SupportedProtocolVersion],
    ) -> StreamOwned<ClientConnection, TcpStream> {
        let mut roots = RootCertStore::empty();
        let ca = std::fs::read(self.path("ca.crt")).unwrap();
        for cert in rustls_pemfile::certs(&mut ca.as_slice()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let builder = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots);
        let config = match client {
            None => builder.with_no_client_auth(),
            Some(name) => {
                let pem = std::fs::read(self.path(&format!("{name}.crt"))).unwrap();
                let certs = rustls_pemfile::certs(&mut pem.as_slice())
                    .collect::<Result<Vec<_>, _>>()
                    .unwrap();
                let pem = std::fs::read(self.path(&format!("{name}.key"))).unwrap();
                let key = rustls_pemfile::private_key(&mut pem.as_slice())
                    .unwrap()
                    .unwrap();
                builder.with_client_auth_cert(certs, key).unwrap()
            }
        };
        let name = ServerName::try_from("localhost").unwrap();
        let conn = ClientConnection::new(Arc::new(config), name).unwrap();
        let sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
        sock.set_read_timeout(Some(TIMEOUT)).unwrap();
        sock.set_write_timeout(Some(TIMEOUT)).unwrap();
        StreamOwned::new(conn, sock)
    }
}

fn wait_listening(port: u16) {
    let deadline = Instant::now() + TIMEOUT;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "TLS port {port} never opened");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends one command over any stream and reads until a full reply frame.
fn roundtrip(stream: &mut impl ReadWrite, args: &[&str]) -> std::io::Result<Vec<u8>> {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    stream.write_all(&common::encode(&args))?;
    let mut buf = Vec::new();
    let deadline = Instant::now() + TIMEOUT;
    while common::frame_len(&buf).is_none() {
        if Instant::now() >= deadline {
            return Err(std::io::Error::other("no reply in time"));
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(buf)
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

#[test]
fn redis_cli_over_tls_with_client_certificate() {
    let certs = Certs::new();
    let (s, tls) = certs.start(&[]);
    assert_eq!(
        certs.cli(tls, Some("client"), &["PING"]),
        (true, "PONG\n".into())
    );
    assert_eq!(
        certs.cli(tls, Some("client"), &["SET", "k", "over tls"]),
        (true, "OK\n".into())
    );
    assert_eq!(
        certs.cli(tls, Some("client"), &["GET", "k"]),
        (true, "over tls\n".into())
    );
    // Same data on the plain port, which keeps working beside the TLS one.
    let mut raw = s.raw();
    assert_eq!(raw.cmd(&["GET", "k"]), b"$8\r\nover tls\r\n");
    // CLIENT LIST shows the TLS listener's address as laddr.
    let (ok, list) = certs.cli(tls, Some("client"), &["CLIENT", "LIST"]);
    assert!(ok, "{list}");
    assert!(list.contains(&format!(" laddr=127.0.0.1:{tls} ")), "{list}");
    assert!(list.contains(" flags=N "), "{list}");
    let (ok, cfg) = certs.cli(tls, Some("client"), &["CONFIG", "GET", "tls-port"]);
    assert!(ok);
    assert_eq!(cfg, format!("tls-port\n{tls}\n"));
}

#[test]
fn rustls_client_runs_commands() {
    let certs = Certs::new();
    let (_s, tls) = certs.start(&[]);
    let mut c = certs.rustls_client(tls, Some("client"));
    assert_eq!(roundtrip(&mut c, &["HELLO", "3"]).unwrap()[..1], *b"%");
    assert_eq!(
        roundtrip(&mut c, &["RPUSH", "l", "a", "b"]).unwrap(),
        b":2\r\n"
    );
    assert_eq!(
        roundtrip(&mut c, &["LRANGE", "l", "0", "-1"]).unwrap(),
        b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"
    );
    // A reply larger than one TLS record (16 KB) arrives whole.
    let big = "x".repeat(100_000);
    assert_eq!(
        roundtrip(&mut c, &["SET", "big", &big]).unwrap(),
        b"+OK\r\n"
    );
    let reply = roundtrip(&mut c, &["GET", "big"]).unwrap();
    assert_eq!(reply, format!("$100000\r\n{big}\r\n").into_bytes());
}

#[test]
fn large_reply_to_a_slow_reader_arrives_whole() {
    let certs = Certs::new();
    let (_s, tls) = certs.start(&[]);
    let mut c = certs.rustls_client(tls, Some("client"));
    let size = 4 * 1024 * 1024;
    assert_eq!(
        roundtrip(&mut c, &["SETRANGE", "huge", &(size - 1).to_string(), "z"]).unwrap(),
        format!(":{size}\r\n").into_bytes()
    );
    // Far more than the socket buffers, read late and slowly: the server's
    // writes stall many times and must resume up to the last byte.
    c.write_all(&common::encode(&[b"GET", b"huge"])).unwrap();
    c.write_all(&common::encode(&[b"PING"])).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let header = format!("${size}\r\n");
    let want = header.len() + size + 2 + b"+PONG\r\n".len();
    let mut got = Vec::with_capacity(want);
    let mut chunk = vec![0u8; 16 * 1024];
    let deadline = Instant::now() + TIMEOUT;
    while got.len() < want {
        assert!(
            Instant::now() < deadline,
            "only {} of {want} bytes",
            got.len()
        );
        std::thread::sleep(Duration::from_millis(2));
        let n = c.read(&mut chunk).expect("reply bytes");
        assert!(n > 0, "closed after {} of {want} bytes", got.len());
        got.extend_from_slice(&chunk[..n]);
    }
    assert!(got.starts_with(header.as_bytes()));
    assert!(got.ends_with(b"z\r\n+PONG\r\n"));
}

#[test]
fn auth_clients_yes_refuses_clients_without_a_trusted_certificate() {
    let certs = Certs::new();
    let (mut s, tls) = certs.start(&[]);
    let (ok, out) = certs.cli(tls, None, &["PING"]);
    assert!(!ok, "no certificate was accepted: {out}");
    let (ok, out) = certs.cli(tls, Some("stranger"), &["PING"]);
    assert!(!ok, "a certificate from another CA was accepted: {out}");
    let mut c = certs.rustls_client(tls, None);
    assert!(roundtrip(&mut c, &["PING"]).is_err());
    assert!(s.is_alive());
    assert_eq!(
        certs.cli(tls, Some("client"), &["PING"]),
        (true, "PONG\n".into())
    );
}

#[test]
fn auth_clients_optional_accepts_clients_without_certificate() {
    let certs = Certs::new();
    let (_s, tls) = certs.start(&["--tls-auth-clients", "optional"]);
    assert_eq!(certs.cli(tls, None, &["PING"]), (true, "PONG\n".into()));
    assert_eq!(
        certs.cli(tls, Some("client"), &["PING"]),
        (true, "PONG\n".into())
    );
    // A certificate that is sent is still verified.
    let (ok, out) = certs.cli(tls, Some("stranger"), &["PING"]);
    assert!(!ok, "{out}");
    let (ok, cfg) = certs.cli(tls, None, &["CONFIG", "GET", "tls-auth-clients"]);
    assert!(ok);
    assert_eq!(cfg, "tls-auth-clients\noptional\n");
}

#[test]
fn auth_clients_no_needs_no_ca() {
    let certs = Certs::new();
    let tls_port = free_port();
    let (port, cert, key) = (
        tls_port.to_string(),
        certs.path("server.crt"),
        certs.path("server.key"),
    );
    let _s = Server::start_with(&[
        "--tls-port",
        &port,
        "--tls-cert-file",
        &cert,
        "--tls-key-file",
        &key,
        "--tls-auth-clients",
        "no",
    ]);
    wait_listening(tls_port);
    assert_eq!(
        certs.cli(tls_port, None, &["PING"]),
        (true, "PONG\n".into())
    );
}

#[test]
fn plain_text_client_on_tls_port_is_disconnected() {
    let certs = Certs::new();
    let (mut s, tls) = certs.start(&[]);
    // A connection that never starts its handshake holds nobody up.
    let _silent = TcpStream::connect(("127.0.0.1", tls)).unwrap();
    assert_eq!(
        certs.cli(tls, Some("client"), &["PING"]),
        (true, "PONG\n".into())
    );
    let mut sock = TcpStream::connect(("127.0.0.1", tls)).unwrap();
    sock.set_read_timeout(Some(TIMEOUT)).unwrap();
    sock.write_all(b"*1\r\n$4\r\nPING\r\n").unwrap();
    let mut got = Vec::new();
    let _ = sock.read_to_end(&mut got);
    assert!(!got.windows(5).any(|w| w == b"+PONG"), "{got:?}");
    // The server stays up on both ports.
    assert!(s.is_alive());
    assert_eq!(s.raw().cmd(&["PING"]), b"+PONG\r\n");
    assert_eq!(
        certs.cli(tls, Some("client"), &["PING"]),
        (true, "PONG\n".into())
    );
}

#[test]
fn tls_protocols_and_ciphers_restrict_the_handshake() {
    let certs = Certs::new();
    let (_s, tls) = certs.start(&[
        "--tls-protocols",
        "TLSv1.3",
        "--tls-ciphersuites",
        "TLS_CHACHA20_POLY1305_SHA256",
    ]);
    let mut c = certs.rustls_client(tls, Some("client"));
    assert_eq!(roundtrip(&mut c, &["PING"]).unwrap(), b"+PONG\r\n");
    let suite = c.conn.negotiated_cipher_suite().unwrap().suite();
    assert_eq!(suite.as_str(), Some("TLS13_CHACHA20_POLY1305_SHA256"));
    let (ok, out) = certs.cli(tls, Some("client"), &["PING"]);
    assert!(ok, "redis-cli offers TLSv1.3: {out}");
    // A TLSv1.2-only client gets no handshake.
    let mut old = certs.rustls_client_with(tls, Some("client"), &[&version::TLS12]);
    assert!(roundtrip(&mut old, &["PING"]).is_err());

    let certs12 = Certs {
        dir: certs.dir.clone(),
    };
    let (_s, tls) = certs12.start(&[
        "--tls-protocols",
        "TLSv1.2",
        "--tls-ciphers",
        "ECDHE-RSA-AES128-GCM-SHA256",
    ]);
    let mut c = certs.rustls_client(tls, Some("client"));
    assert_eq!(roundtrip(&mut c, &["PING"]).unwrap(), b"+PONG\r\n");
    assert_eq!(c.conn.protocol_version(), Some(version::TLS12.version));
    let suite = c.conn.negotiated_cipher_suite().unwrap().suite();
    assert_eq!(
        suite.as_str(),
        Some("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
    );
}

#[test]
fn redis_crate_over_tls() {
    let certs = Certs::new();
    let (_s, tls) = certs.start(&[]);
    let read = |name: &str| std::fs::read(certs.path(name)).unwrap();
    let client = redis::Client::build_with_tls(
        format!("rediss://127.0.0.1:{tls}/"),
        redis::TlsCertificates {
            client_tls: Some(redis::ClientTlsConfig {
                client_cert: read("client.crt"),
                client_key: read("client.key"),
            }),
            root_cert: Some(read("ca.crt")),
        },
    )
    .unwrap();
    let mut con = client.get_connection_with_timeout(TIMEOUT).unwrap();
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
    let _: () = redis::cmd("SET").arg("n").arg(41).query(&mut con).unwrap();
    let n: i64 = redis::cmd("INCR").arg("n").query(&mut con).unwrap();
    assert_eq!(n, 42);
    let err = redis::cmd("INCR")
        .arg("n")
        .arg("x")
        .query::<i64>(&mut con)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "An error was signalled by the server - ResponseError: wrong number of arguments for 'incr' command"
    );
}

/// Runs the binary with TLS flags that must stop start-up; returns stderr
/// + stdout.
fn start_fails(args: &[&str]) -> String {
    let port = free_port().to_string();
    let out = Command::new("timeout")
        .arg("10")
        .arg(env!("CARGO_BIN_EXE_ferrokv"))
        .args(["--port", &port, "--save", "", "--bind", "127.0.0.1"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    )
}

#[test]
fn bad_tls_configuration_stops_start_up_with_a_clear_error() {
    let certs = Certs::new();
    let tls = free_port().to_string();
    let (cert, key, ca) = (
        certs.path("server.crt"),
        certs.path("server.key"),
        certs.path("ca.crt"),
    );
    let err = start_fails(&[
        "--tls-port",
        &tls,
        "--tls-cert-file",
        &cert,
        "--tls-key-file",
        &key,
    ]);
    assert!(
        err.contains("Either tls-ca-cert-file or tls-ca-cert-dir must be specified"),
        "{err}"
    );
    let err = start_fails(&["--tls-port", &tls, "--tls-ca-cert-file", &ca]);
    assert!(
        err.contains("tls-cert-file and tls-key-file must be specified"),
        "{err}"
    );
    let missing = certs.path("missing.crt");
    let err = start_fails(&[
        "--tls-port",
        &tls,
        "--tls-cert-file",
        &missing,
        "--tls-key-file",
        &key,
        "--tls-ca-cert-file",
        &ca,
    ]);
    assert!(err.contains("missing.crt"), "{err}");
    // Encrypted keys are refused by name.
    openssl(
        &certs.dir,
        &[
            "pkey",
            "-in",
            "server.key",
            "-aes256",
            "-passout",
            "pass:secret",
            "-out",
            "encrypted.key",
        ],
    );
    let enc = certs.path("encrypted.key");
    let err = start_fails(&[
        "--tls-port",
        &tls,
        "--tls-cert-file",
        &cert,
        "--tls-key-file",
        &enc,
        "--tls-ca-cert-file",
        &ca,
        "--tls-key-file-pass",
        "secret",
    ]);
    assert!(err.contains("encrypted private keys"), "{err}");
    let err = start_fails(&[
        "--tls-port",
        &tls,
        "--tls-cert-file",
        &cert,
        "--tls-key-file",
        &key,
        "--tls-ca-cert-file",
        &ca,
        "--tls-protocols",
        "SSLv3",
    ]);
    assert!(err.contains("Invalid tls-protocols specified"), "{err}");
    let err = start_fails(&["--tls-auth-clients", "maybe"]);
    assert!(
        err.contains("argument(s) must be one of the following: no, yes, optional"),
        "{err}"
    );
}

#[test]
fn ca_cert_dir_is_loaded() {
    let certs = Certs::new();
    let cadir = certs.dir.join("cadir");
    std::fs::create_dir_all(&cadir).unwrap();
    std::fs::copy(certs.dir.join("ca.crt"), cadir.join("ca.pem")).unwrap();
    let tls_port = free_port();
    let (port, cert, key, dir) = (
        tls_port.to_string(),
        certs.path("server.crt"),
        certs.path("server.key"),
        cadir.display().to_string(),
    );
    let _s = Server::start_with(&[
        "--tls-port",
        &port,
        "--tls-cert-file",
        &cert,
        "--tls-key-file",
        &key,
        "--tls-ca-cert-dir",
        &dir,
    ]);
    wait_listening(tls_port);
    assert_eq!(
        certs.cli(tls_port, Some("client"), &["PING"]),
        (true, "PONG\n".into())
    );
    let (ok, out) = certs.cli(tls_port, Some("stranger"), &["PING"]);
    assert!(!ok, "{out}");
}

#[test]
fn pubsub_and_blocking_commands_over_tls() {
    let certs = Certs::new();
    let (s, tls) = certs.start(&[]);
    let mut sub = certs.rustls_client(tls, Some("client"));
    assert_eq!(
        roundtrip(&mut sub, &["SUBSCRIBE", "news"]).unwrap(),
        b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n"
    );
    let mut plain = s.raw();
    assert_eq!(plain.cmd(&["PUBLISH", "news", "hello"]), b":1\r\n");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while common::frame_len(&buf).is_none() {
        let n = sub.read(&mut chunk).expect("published message");
        assert!(n > 0, "subscriber closed");
        buf.extend_from_slice(&chunk[..n]);
    }
    assert_eq!(buf, b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n");

    // A blocked TLS client is woken by a push on the plain port.
    let mut waiter = certs.rustls_client(tls, Some("client"));
    let pusher = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        plain.cmd(&["RPUSH", "queue", "job"])
    });
    assert_eq!(
        roundtrip(&mut waiter, &["BLPOP", "queue", "5"]).unwrap(),
        b"*2\r\n$5\r\nqueue\r\n$3\r\njob\r\n"
    );
    assert_eq!(pusher.join().unwrap(), b":1\r\n");
}

#[test]
fn config_set_applies_tls_changes_to_new_connections() {
    let certs = Certs::new();
    let (s, tls) = certs.start(&[]);
    let mut raw = s.raw();
    let (ok, _) = certs.cli(tls, None, &["PING"]);
    assert!(!ok);
    assert_eq!(
        raw.cmd(&["CONFIG", "SET", "tls-auth-clients", "optional"]),
        b"+OK\r\n"
    );
    assert_eq!(certs.cli(tls, None, &["PING"]), (true, "PONG\n".into()));
    // An invalid change is refused whole, as Redis does, and TLS keeps
    // running with the previous settings.
    assert_eq!(
        raw.cmd(&["CONFIG", "SET", "tls-cert-file", "/nonexistent.crt"]),
        b"-ERR CONFIG SET failed (possibly related to argument 'tls-cert-file') - Unable to update TLS configuration. Check server logs.\r\n"
    );
    assert_eq!(
        raw.cmd(&["CONFIG", "SET", "tls-auth-clients", "yes", "tls-protocols", "bogus"]),
        b"-ERR CONFIG SET failed (possibly related to argument 'tls-protocols') - Unable to update TLS configuration. Check server logs.\r\n"
    );
    let cert = certs.path("server.crt");
    assert_eq!(
        raw.cmd(&["CONFIG", "GET", "tls-cert-file"]),
        format!(
            "*2\r\n$13\r\ntls-cert-file\r\n${}\r\n{cert}\r\n",
            cert.len()
        )
        .into_bytes()
    );
    assert_eq!(
        raw.cmd(&["CONFIG", "GET", "tls-auth-clients"]),
        b"*2\r\n$16\r\ntls-auth-clients\r\n$8\r\noptional\r\n"
    );
    assert_eq!(certs.cli(tls, None, &["PING"]), (true, "PONG\n".into()));
    assert_eq!(
        raw.cmd(&["CONFIG", "SET", "tls-auth-clients", "yes"]),
        b"+OK\r\n"
    );
    let (ok, _) = certs.cli(tls, None, &["PING"]);
    assert!(!ok);
    assert_eq!(
        certs.cli(tls, Some("client"), &["PING"]),
        (true, "PONG\n".into())
    );
}
