//! Built-in TLS (rustls, aws-lc-rs): a solo therapist's relay needs no proxy in front.
//!
//! TLS 1.3 and 1.2 (rustls' safe defaults: AEAD suites with forward secrecy only), ALPN
//! `http/1.1`. The certificate chain and the private key are PEM files, as a certificate
//! authority's client (certbot, acme.sh) writes them; a renewed certificate is read when the
//! relay starts again (a graceful restart: open requests finish).

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A server configuration from a PEM certificate chain (leaf first) and a PEM private key
/// (PKCS#8, PKCS#1 or SEC1). Errors name the file, never its contents.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, String> {
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(cert).and_then(|i| i.collect()).map_err(|_| {
            format!("tls_cert {}: not a readable PEM certificate chain", cert.display())
        })?;
    if certs.is_empty() {
        return Err(format!("tls_cert {}: no certificate in it", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|_| format!("tls_key {}: not a readable PEM private key", key.display()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("tls: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            format!("tls: the key does not fit the certificate or is unsupported ({e})")
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
