//! The `tls-*` directives' values (applied by `server::tls`).

/// `tls-auth-clients`: whether TLS clients must present a certificate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TlsAuthClients {
    /// No certificate is asked for.
    No,
    /// A certificate signed by the configured CA is required (Redis's default).
    #[default]
    Yes,
    /// A certificate is asked for and verified if sent, but not required.
    Optional,
}

impl TlsAuthClients {
    /// Parses Redis's `no`/`yes`/`optional` (any case).
    pub fn parse(v: &str) -> Result<Self, String> {
        match v.to_ascii_lowercase().as_str() {
            "no" => Ok(Self::No),
            "yes" => Ok(Self::Yes),
            "optional" => Ok(Self::Optional),
            _ => Err("argument(s) must be one of the following: no, yes, optional".into()),
        }
    }

    /// Redis's name for the value.
    pub fn name(self) -> &'static str {
        match self {
            Self::No => "no",
            Self::Yes => "yes",
            Self::Optional => "optional",
        }
    }
}

/// Everything the `tls-*` directives set. Paths and lists are kept as
/// written so `CONFIG GET` returns them unchanged, as Redis does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsConfig {
    /// `tls-port`: TLS listener port; 0 = no TLS listener.
    pub port: u16,
    /// `tls-cert-file`: the server's certificate chain (PEM).
    pub cert_file: String,
    /// `tls-key-file`: the server's private key (PEM).
    pub key_file: String,
    /// `tls-key-file-pass`: passphrase of an encrypted key file.
    pub key_file_pass: String,
    /// `tls-client-cert-file`: certificate for outgoing connections
    /// (replication, cluster; unused by ferrokv).
    pub client_cert_file: String,
    /// `tls-client-key-file`: key for outgoing connections (unused).
    pub client_key_file: String,
    /// `tls-client-key-file-pass` (unused).
    pub client_key_file_pass: String,
    /// `tls-dh-params-file`: DH parameters (rustls has no DHE suites).
    pub dh_params_file: String,
    /// `tls-ca-cert-file`: CA bundle that client certificates must chain to.
    pub ca_cert_file: String,
    /// `tls-ca-cert-dir`: directory of CA certificates (every PEM file in it).
    pub ca_cert_dir: String,
    /// `tls-auth-clients`.
    pub auth_clients: TlsAuthClients,
    /// `tls-protocols`: space-separated versions; empty = TLSv1.2 and TLSv1.3.
    pub protocols: String,
    /// `tls-ciphers`: TLSv1.2 cipher list in OpenSSL syntax.
    pub ciphers: String,
    /// `tls-ciphersuites`: TLSv1.3 suites, colon separated.
    pub ciphersuites: String,
    /// `tls-prefer-server-ciphers`: pick the suite by the server's order.
    pub prefer_server_ciphers: bool,
    /// `tls-session-caching`: allow session resumption.
    pub session_caching: bool,
    /// `tls-session-cache-size`: sessions kept for resumption.
    pub session_cache_size: u64,
    /// `tls-session-cache-timeout` in seconds (rustls's cache does not expire
    /// entries by age).
    pub session_cache_timeout: u64,
    /// `tls-replication` (no replication in ferrokv).
    pub replication: bool,
    /// `tls-cluster` (no cluster mode in ferrokv).
    pub cluster: bool,
}
