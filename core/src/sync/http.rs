//! The HTTP transport to `mend-relay` (feature `http`; TLS by rustls).
//!
//! Requests are built and signed here, in the core, with the identity the vault binds
//! ([`Transport::bind_identity`]); the bytes are carried by an [`HttpClient`] — `ureq` by default,
//! or the platform's own stack (URLSession, OkHttp) through the bindings, which then never see a
//! key. Status codes map to [`TransportError`]s; response bodies are decoded with bounds.

use std::sync::Mutex;
use std::time::Duration;

use super::transport::{Page, Transport, TransportError};
use super::wire;
use crate::crypto::signing::DeviceKey;
use crate::ids::{DeviceId, KeyId, RecordId, VaultId};

/// Carries one HTTP request. Implementations return the status and body, or a transport-level
/// failure message (which must not contain request bodies).
pub trait HttpClient: Send + Sync {
    /// Sends a request.
    fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> Result<(u16, Vec<u8>), String>;
}

/// `ureq` with rustls (aws-lc-rs as its crypto provider, the webpki root certificates),
/// 30-second timeouts, responses of at most 64 MiB.
pub struct UreqClient(ureq::Agent);

impl Default for UreqClient {
    fn default() -> Self {
        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .unversioned_rustls_crypto_provider(provider)
            .build();
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(30)))
            // Mend maps every status itself; a 4xx is an answer, not a transport failure.
            .http_status_as_error(false)
            // The relay address is the app's to choose: no proxy from the environment.
            .proxy(None)
            .tls_config(tls)
            .build();
        UreqClient(ureq::Agent::new_with_config(config))
    }
}

/// A transport failure in a few words, without the request (no URL, no body).
fn failure(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => "timed out".into(),
        ureq::Error::HostNotFound => "host not found".into(),
        ureq::Error::Io(io) => io.kind().to_string(),
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) => "TLS failure".into(),
        ureq::Error::ConnectionFailed => "connection failed".into(),
        ureq::Error::BodyExceedsLimit(_) => "response too large".into(),
        _ => "request failed".into(),
    }
}

impl HttpClient for UreqClient {
    fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> Result<(u16, Vec<u8>), String> {
        let mut req = ureq::http::Request::builder().method(method).uri(url);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let req = req.body(body).map_err(|_| "malformed request".to_string())?;
        let mut resp = self.0.run(req).map_err(|e| failure(&e))?;
        let status = resp.status().as_u16();
        let out = resp
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_vec()
            .map_err(|e| format!("response read failed: {}", failure(&e)))?;
        Ok((status, out))
    }
}

/// A transport to a relay at a base URL (`https://relay.example`, or `http://127.0.0.1:8787`).
pub struct HttpTransport {
    base: String,
    client: Box<dyn HttpClient>,
    identity: Mutex<Option<(DeviceId, DeviceKey)>>,
    registration: Option<String>,
}

impl HttpTransport {
    /// A transport using `ureq`.
    pub fn new(base_url: &str) -> Self {
        Self::with_client(base_url, Box::new(UreqClient::default()))
    }

    /// A transport over another HTTP client.
    pub fn with_client(base_url: &str, client: Box<dyn HttpClient>) -> Self {
        HttpTransport {
            base: base_url.trim_end_matches('/').to_owned(),
            client,
            identity: Mutex::new(None),
            registration: None,
        }
    }

    /// The registration token the relay's operator issued, sent when this device registers a
    /// new vault (its first sync). A relay in open registration (a solo therapist's own) needs
    /// none; any other refuses a new vault without one (`registration_required`).
    pub fn with_registration_token(mut self, token: &str) -> Self {
        self.registration = Some(token.trim().to_owned());
        self
    }

    fn call(
        &self,
        method: &str,
        vault: &VaultId,
        path: String,
        body: &[u8],
    ) -> Result<Vec<u8>, TransportError> {
        self.call_with(method, vault, path, body, None)
    }

    fn call_with(
        &self,
        method: &str,
        vault: &VaultId,
        path: String,
        body: &[u8],
        registration: Option<&str>,
    ) -> Result<Vec<u8>, TransportError> {
        let (device, sig, time) = {
            let id = self.identity.lock().unwrap_or_else(|p| p.into_inner());
            let Some((device, key)) = id.as_ref() else {
                return Err(TransportError::Refused("no device identity bound".into()));
            };
            let time = crate::vault::now_ms();
            let msg = wire::request_message(method, &path, body, time, device, vault);
            (*device, key.sign(&msg), time)
        };
        let mut headers = vec![
            (wire::HEADER_DEVICE, device.to_string()),
            (wire::HEADER_TIME, time.to_string()),
            (wire::HEADER_SIGNATURE, hex::encode(sig)),
            ("content-type", "application/octet-stream".to_string()),
        ];
        if let Some(token) = registration {
            headers.push((wire::HEADER_REGISTRATION, token.to_owned()));
        }
        let url = format!("{}{}", self.base, path);
        let (status, resp) =
            self.client.send(method, &url, &headers, body).map_err(TransportError::Unavailable)?;
        match status {
            200..=299 => Ok(resp),
            410 => Err(TransportError::InviteAlreadyClaimed),
            429 | 500..=599 => Err(TransportError::Unavailable(format!("relay answered {status}"))),
            _ => Err(TransportError::Refused(format!(
                "relay answered {status}: {}",
                error_message(&resp)
            ))),
        }
    }
}

/// The `message` of a relay error body (short, content-free by construction), bounded.
fn error_message(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("message").and_then(|m| m.as_str()).map(|m| m.chars().take(120).collect())
        })
        .unwrap_or_default()
}

impl Transport for HttpTransport {
    fn bind_identity(&self, device: DeviceId, key: &DeviceKey) {
        *self.identity.lock().unwrap_or_else(|p| p.into_inner()) = Some((device, key.duplicate()));
    }

    fn push(&self, vault: &VaultId, bundles: Vec<Vec<u8>>) -> Result<(), TransportError> {
        self.call(
            "POST",
            vault,
            format!("/v1/vaults/{vault}/bundles"),
            &wire::encode_bundles(&bundles),
        )?;
        Ok(())
    }

    fn pull(&self, vault: &VaultId, since: u64, limit: u32) -> Result<Page, TransportError> {
        let body = self.call(
            "GET",
            vault,
            format!("/v1/vaults/{vault}/bundles?since={since}&limit={limit}"),
            &[],
        )?;
        wire::decode_page(&body, 10_000)
            .map_err(|e| TransportError::Refused(format!("bad page: {e}")))
    }

    fn upload_snapshot(
        &self,
        vault: &VaultId,
        doc: &RecordId,
        covers: u64,
        bundle: Vec<u8>,
    ) -> Result<(), TransportError> {
        self.call(
            "PUT",
            vault,
            format!("/v1/vaults/{vault}/snapshots/{doc}?covers={covers}"),
            &bundle,
        )?;
        Ok(())
    }

    fn drop_key_ids(&self, vault: &VaultId, key_ids: &[KeyId]) -> Result<(), TransportError> {
        self.call(
            "POST",
            vault,
            format!("/v1/vaults/{vault}/drops"),
            &wire::encode_key_ids(key_ids),
        )?;
        Ok(())
    }

    fn claim_invite(&self, vault: &VaultId, invite_id: &[u8; 16]) -> Result<(), TransportError> {
        let invite = RecordId::from_bytes(*invite_id);
        self.call("POST", vault, format!("/v1/vaults/{vault}/invites/{invite}/claim"), &[])?;
        Ok(())
    }

    fn enroll(
        &self,
        vault: &VaultId,
        device: &DeviceId,
        public: &[u8; 32],
    ) -> Result<(), TransportError> {
        self.call_with(
            "POST",
            vault,
            format!("/v1/vaults/{vault}/devices"),
            &wire::encode_device(device, public),
            self.registration.as_deref(),
        )?;
        Ok(())
    }

    fn revoke(&self, vault: &VaultId, device: &DeviceId) -> Result<(), TransportError> {
        self.call("DELETE", vault, format!("/v1/vaults/{vault}/devices/{device}"), &[])?;
        Ok(())
    }
}
