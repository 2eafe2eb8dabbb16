//! Native HTTPS: the rustls server configuration built from the `[server.tls]` settings
//! ([`TlsSettings`]).
//!
//! The configuration lives in an [`ArcSwap`], and every TLS handshake takes the current one,
//! so a reload (SIGHUP) installs a renewed certificate without touching open connections.
//! ALPN offers `h2` then `http/1.1`: clients that speak HTTP/2 get it.

use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::{ConfigError, TlsSettings, read_bounded_file, read_secret_file};

/// The server configuration every new TLS handshake uses; replaced on reload.
pub type SharedTlsConfig = Arc<ArcSwap<ServerConfig>>;

/// Largest certificate chain read: a chain of a few certificates is a few KiB.
const CERT_FILE_MAX_BYTES: u64 = 1024 * 1024;

fn read(key: &str, path: &Path) -> Result<Vec<u8>, ConfigError> {
    if key.ends_with("key_file") {
        read_secret_file(key, path)
    } else {
        read_bounded_file(key, path, CERT_FILE_MAX_BYTES)
    }
}

/// Reads the certificate chain and key and builds the rustls configuration (ring provider,
/// TLS 1.2 and 1.3, ALPN `h2` and `http/1.1`).
pub fn load(settings: &TlsSettings) -> Result<Arc<ServerConfig>, ConfigError> {
    let cert_pem = read("server.tls.cert_file", &settings.cert_file)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            ConfigError::key(
                "server.tls.cert_file",
                format!("is not a valid PEM certificate chain ({e})"),
            )
        })?;
    if chain.is_empty() {
        return Err(ConfigError::key(
            "server.tls.cert_file",
            "holds no CERTIFICATE block; point it at the PEM certificate chain",
        ));
    }
    let key_pem = read("server.tls.key_file", &settings.key_file)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        ConfigError::key(
            "server.tls.key_file",
            format!("holds no usable PEM private key ({e}); use PKCS#8, PKCS#1 or SEC1"),
        )
    })?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError::key("server.tls", format!("unsupported TLS setup: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| {
            ConfigError::key(
                "server.tls",
                format!("the certificate and key do not work together ({e}); check that key_file is the key of cert_file"),
            )
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
