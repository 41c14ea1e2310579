//! TLS for the `tls-port` listener: turns the `tls-*` directives into a
//! rustls server configuration (certificates, client verification,
//! protocol versions, cipher suites, session resumption).

use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;

use tokio_rustls::rustls::crypto::{ring, CryptoProvider};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::{
    NoServerSessionStorage, ServerSessionMemoryCache, WebPkiClientVerifier,
};
use tokio_rustls::rustls::{version, RootCertStore, ServerConfig, SupportedProtocolVersion};
use tokio_rustls::TlsAcceptor;

use crate::config::{TlsAuthClients, TlsConfig};

/// TLSv1.2 suites by their OpenSSL names (the syntax of `tls-ciphers`),
/// paired with rustls's names for them.
const TLS12_NAMES: &[(&str, &str)] = &[
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    ),
    (
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    ),
    (
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    ),
    (
        "ECDHE-RSA-AES128-GCM-SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    ),
    (
        "ECDHE-RSA-AES256-GCM-SHA384",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    ),
    (
        "ECDHE-RSA-CHACHA20-POLY1305",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    ),
];

/// Builds the acceptor for the TLS listener from the `tls-*` directives.
/// Errors are one line, worded for the operator.
pub fn acceptor(tls: &TlsConfig) -> Result<TlsAcceptor, String> {
    server_config(tls)
        .map(|c| TlsAcceptor::from(Arc::new(c)))
        .map_err(|e| format!("Failed to configure TLS: {e}"))
}

fn server_config(tls: &TlsConfig) -> Result<ServerConfig, String> {
    if tls.cert_file.is_empty() || tls.key_file.is_empty() {
        return Err("tls-cert-file and tls-key-file must be specified".into());
    }
    // Redis's rule, kept so a redis.conf valid there is valid here: a CA
    // is needed as soon as anything verifies peer certificates.
    let needs_ca = tls.auth_clients != TlsAuthClients::No || tls.replication || tls.cluster;
    if needs_ca && tls.ca_cert_file.is_empty() && tls.ca_cert_dir.is_empty() {
        return Err("Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or tls-auth-clients are enabled!".into());
    }
    let provider = Arc::new(provider(tls)?);
    let certs = load_certs(Path::new(&tls.cert_file))?;
    if certs.is_empty() {
        return Err(format!("no certificate found in {}", tls.cert_file));
    }
    let key = load_key(Path::new(&tls.key_file), &tls.key_file_pass)?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&protocols(&tls.protocols)?)
        .map_err(|e| e.to_string())?;
    let builder = match tls.auth_clients {
        TlsAuthClients::No => builder.with_no_client_auth(),
        TlsAuthClients::Yes | TlsAuthClients::Optional => {
            let roots = Arc::new(load_roots(tls)?);
            let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider);
            let verifier = if tls.auth_clients == TlsAuthClients::Optional {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            let verifier = verifier.build().map_err(|e| e.to_string())?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("{}: {e}", tls.key_file))?;
    config.ignore_client_order = tls.prefer_server_ciphers;
    if tls.session_caching && tls.session_cache_size > 0 {
        config.session_storage = ServerSessionMemoryCache::new(tls.session_cache_size as usize);
    } else {
        config.session_storage = Arc::new(NoServerSessionStorage {});
        config.send_tls13_tickets = 0;
    }
    Ok(config)
}

/// The ring provider restricted to the suites `tls-ciphers` and
/// `tls-ciphersuites` name (all of a version's suites when its list is
/// empty or names none rustls has).
fn provider(tls: &TlsConfig) -> Result<CryptoProvider, String> {
    let mut provider = ring::default_provider();
    let tls13: Vec<String> = tls
        .ciphersuites
        .split(':')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| match s.strip_prefix("TLS_") {
            Some(rest) => format!("TLS13_{rest}"),
            None => s.to_string(),
        })
        .collect();
    let tls12: Vec<&str> = tls
        .ciphers
        .split(':')
        .filter_map(|s| {
            TLS12_NAMES
                .iter()
                .find(|(openssl, _)| openssl.eq_ignore_ascii_case(s.trim()))
                .map(|(_, rustls)| *rustls)
        })
        .collect();
    let chosen = |name: &str, is13: bool| {
        if is13 {
            tls13.is_empty() || tls13.iter().any(|n| n.eq_ignore_ascii_case(name))
        } else {
            tls12.is_empty() || tls12.contains(&name)
        }
    };
    provider.cipher_suites.retain(|s| {
        let is13 = s.version() == &version::TLS13;
        s.suite().as_str().is_some_and(|name| chosen(name, is13))
    });
    if !tls.ciphers.trim().is_empty() && tls12.is_empty() {
        tracing::warn!("tls-ciphers names no TLSv1.2 suite ferrokv supports; using all of them");
    }
    if provider
        .cipher_suites
        .iter()
        .all(|s| s.version() != &version::TLS13)
    {
        return Err("tls-ciphersuites names no TLSv1.3 suite ferrokv supports".into());
    }
    Ok(provider)
}

/// Parses `tls-protocols` as Redis does (case-insensitive words); versions
/// rustls lacks (TLSv1, TLSv1.1) are skipped with a warning.
fn protocols(spec: &str) -> Result<Vec<&'static SupportedProtocolVersion>, String> {
    if spec.trim().is_empty() {
        return Ok(vec![&version::TLS12, &version::TLS13]);
    }
    let mut versions = Vec::new();
    for word in spec.split_whitespace() {
        match word.to_ascii_lowercase().as_str() {
            "tlsv1.2" => versions.push(&version::TLS12),
            "tlsv1.3" => versions.push(&version::TLS13),
            "tlsv1" | "tlsv1.1" => tracing::warn!("tls-protocols: {word} is not available"),
            _ => return Err(format!("Invalid tls-protocols specified: {word}")),
        }
    }
    if versions.is_empty() {
        return Err(
            "tls-protocols names no TLS version ferrokv supports (TLSv1.2, TLSv1.3)".into(),
        );
    }
    Ok(versions)
}

fn open(path: &Path) -> Result<BufReader<std::fs::File>, String> {
    std::fs::File::open(path)
        .map(BufReader::new)
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    rustls_pemfile::certs(&mut open(path)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn load_key(path: &Path, pass: &str) -> Result<PrivateKeyDer<'static>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // rustls only reads unencrypted keys; name the problem instead of
    // reporting a missing key.
    if !pass.is_empty() || text.contains("ENCRYPTED") {
        return Err(format!(
            "{}: encrypted private keys (tls-key-file-pass) are not supported; decrypt it, e.g. openssl pkey -in key.pem -out plain.pem",
            path.display()
        ));
    }
    rustls_pemfile::private_key(&mut text.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))?
        .ok_or_else(|| format!("{}: no private key found", path.display()))
}

/// The CA certificates of `tls-ca-cert-file` and every file of
/// `tls-ca-cert-dir`.
fn load_roots(tls: &TlsConfig) -> Result<RootCertStore, String> {
    let mut files = Vec::new();
    if !tls.ca_cert_file.is_empty() {
        files.push(Path::new(&tls.ca_cert_file).to_path_buf());
    }
    if !tls.ca_cert_dir.is_empty() {
        let dir =
            std::fs::read_dir(&tls.ca_cert_dir).map_err(|e| format!("{}: {e}", tls.ca_cert_dir))?;
        let mut entries: Vec<_> = dir
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        entries.sort();
        files.extend(entries);
    }
    let mut roots = RootCertStore::empty();
    for file in files {
        for cert in load_certs(&file)? {
            roots
                .add(cert)
                .map_err(|e| format!("{}: {e}", file.display()))?;
        }
    }
    if roots.is_empty() {
        return Err("no CA certificate found in tls-ca-cert-file / tls-ca-cert-dir".into());
    }
    Ok(roots)
}
