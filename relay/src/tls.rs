//! Built-in TLS (rustls, aws-lc-rs): a solo therapist's relay needs no proxy in front.
//!
//! TLS 1.3 and 1.2 (rustls' safe defaults: AEAD suites with forward secrecy only), ALPN
//! `http/1.1`. The certificate chain and the private key are PEM files, as a certificate
//! authority's client (certbot, acme.sh) writes them. A renewed certificate is taken up without
//! a restart: [`Certificate::reload`] (the binary calls it on `SIGHUP`) reads both files again and
//! new handshakes use them; open connections keep theirs. A reload that fails (a half-written
//! file, a key that does not fit) keeps the certificate in use.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// The relay's certificate and key, read from their files and read again on [`reload`].
///
/// [`reload`]: Certificate::reload
#[derive(Debug)]
pub struct Certificate {
    cert: PathBuf,
    key: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
}

impl Certificate {
    /// Reads a PEM certificate chain (leaf first) and a PEM private key (PKCS#8, PKCS#1 or
    /// SEC1). Errors name the file, never its contents.
    pub fn load(cert: &Path, key: &Path) -> Result<Arc<Certificate>, String> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let current = RwLock::new(Arc::new(read(cert, key, &provider)?));
        Ok(Arc::new(Certificate { cert: cert.into(), key: key.into(), provider, current }))
    }

    /// Reads both files again. On success new handshakes present the new certificate; on an
    /// error the one in use stays.
    pub fn reload(&self) -> Result<(), String> {
        let fresh = Arc::new(read(&self.cert, &self.key, &self.provider)?);
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        Ok(())
    }

    fn current(&self) -> Arc<CertifiedKey> {
        Arc::clone(&self.current.read().unwrap_or_else(|p| p.into_inner()))
    }
}

impl ResolvesServerCert for Certificate {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

fn read(cert: &Path, key: &Path, provider: &CryptoProvider) -> Result<CertifiedKey, String> {
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(cert).and_then(|i| i.collect()).map_err(|_| {
            format!("tls_cert {}: not a readable PEM certificate chain", cert.display())
        })?;
    if certs.is_empty() {
        return Err(format!("tls_cert {}: no certificate in it", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|_| format!("tls_key {}: not a readable PEM private key", key.display()))?;
    CertifiedKey::from_der(certs, key, provider)
        .map_err(|e| format!("tls: the key does not fit the certificate or is unsupported ({e})"))
}

/// A server configuration presenting `cert` (and whatever a later reload of it reads).
pub fn server_config(cert: &Arc<Certificate>) -> Result<Arc<rustls::ServerConfig>, String> {
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::clone(&cert.provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("tls: {e}"))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::clone(cert) as Arc<dyn ResolvesServerCert>);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
