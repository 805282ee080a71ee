//! The HTTP transport to `mend-relay` (feature `http`; Mend's own client, ureq with rustls,
//! with feature `http-client`).
//!
//! Requests are built and signed here, in the core, with the identity the vault binds
//! ([`Transport::bind_identity`]); the bytes are carried by an [`HttpClient`] — `ureq` by default,
//! or the platform's own stack (URLSession, OkHttp) through the bindings, which then never see a
//! key. Status codes map to [`TransportError`]s; response bodies are decoded with bounds.
//!
//! Plain `http://` is refused ([`TransportError::Insecure`], a validation error for the app)
//! unless the relay is on this device's loopback (`127.0.0.0/8`, `[::1]`, `localhost`) or the
//! app allowed it for this transport ([`HttpTransport::allow_insecure_http`]) or for the host
//! ([`allow_cleartext_host`], as Android's network security config does per domain): request
//! signatures authenticate a device, but only TLS hides what a clinic's traffic looks like and
//! keeps a network attacker from withholding or reordering it unseen.

use std::sync::Mutex;
#[cfg(feature = "http-client")]
use std::time::Duration;

use super::transport::{Page, Refusal, Transport, TransportError};
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

#[cfg(feature = "http-client")]
/// `ureq` with rustls (aws-lc-rs as its crypto provider, the webpki root certificates),
/// 30-second timeouts, responses of at most 64 MiB.
pub struct UreqClient(ureq::Agent);

#[cfg(feature = "http-client")]
impl Default for UreqClient {
    fn default() -> Self {
        Self::with_roots(ureq::tls::RootCerts::WebPki)
    }
}

#[cfg(feature = "http-client")]
impl UreqClient {
    /// A client that trusts only the certificates in `pem` as trust anchors: a relay with a
    /// private certificate authority, or a self-signed certificate the app ships. Anything that
    /// chains to them is trusted (this is not pinning one leaf), and a self-signed leaf must not
    /// be marked as a CA (`basicConstraints CA:FALSE`; webpki refuses a CA as end entity).
    /// Errors if `pem` holds no certificate.
    pub fn with_root_certificates(pem: &[u8]) -> Result<Self, String> {
        let certs: Vec<ureq::tls::Certificate<'static>> = ureq::tls::parse_pem(pem)
            .filter_map(|item| match item {
                Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .collect();
        if certs.is_empty() {
            return Err("no PEM certificate given".into());
        }
        Ok(Self::with_roots(ureq::tls::RootCerts::Specific(std::sync::Arc::new(certs))))
    }

    fn with_roots(roots: ureq::tls::RootCerts) -> Self {
        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .unversioned_rustls_crypto_provider(provider)
            .root_certs(roots)
            .build();
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(30)))
            // Mend maps every status itself; a 4xx is an answer, not a transport failure.
            .http_status_as_error(false)
            // The relay address is the app's to choose: no proxy from the environment, and no
            // redirect (which could lead a signed request to plain http:// elsewhere).
            .proxy(None)
            .max_redirects(0)
            .tls_config(tls)
            .build();
        UreqClient(ureq::Agent::new_with_config(config))
    }
}

#[cfg(feature = "http-client")]
/// A transport failure in a few words, without the request (no URL, no body).
fn failure(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => "timed out".into(),
        ureq::Error::HostNotFound => "host not found".into(),
        // rustls reports a certificate it does not trust inside an I/O error.
        ureq::Error::Io(io)
            if io.get_ref().is_some_and(|e| e.downcast_ref::<rustls::Error>().is_some()) =>
        {
            "TLS failure".into()
        }
        ureq::Error::Io(io) => io.kind().to_string(),
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) => "TLS failure".into(),
        ureq::Error::ConnectionFailed => "connection failed".into(),
        ureq::Error::BodyExceedsLimit(_) => "response too large".into(),
        _ => "request failed".into(),
    }
}

#[cfg(feature = "http-client")]
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
    insecure_allowed: bool,
}

/// Hosts the app allowed plain `http://` to, process-wide ([`allow_cleartext_host`]).
static CLEARTEXT_HOSTS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Allows plain `http://` relays at `host` (a name or an address, no port) for every transport
/// in this process: a test network, or the Android emulator's alias of the computer's loopback
/// (`10.0.2.2`). Call it only for a host the app's own configuration names; production relays
/// are `https://`.
pub fn allow_cleartext_host(host: &str) {
    let host = host.trim().trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    let mut hosts = CLEARTEXT_HOSTS.lock().unwrap_or_else(|p| p.into_inner());
    if !hosts.contains(&host) {
        hosts.push(host);
    }
}

/// The host of an `http://` URL (lowercase, IPv6 without brackets), or `None` if it is not one.
/// A URL whose host different parsers could read differently (a backslash, which WHATWG parsers
/// take for `/`; whitespace or control characters; user info or percent-escapes in the
/// authority) has the empty host, which is never allowed.
fn cleartext_host(url: &str) -> Option<String> {
    let rest = url.get(..7).filter(|s| s.eq_ignore_ascii_case("http://")).map(|_| &url[7..])?;
    if rest.chars().any(|c| c == '\\' || c.is_whitespace() || c.is_control()) {
        return Some(String::new());
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains(['@', '%']) {
        return Some(String::new());
    }
    let host_port = authority;
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    Some(host.to_ascii_lowercase())
}

/// Whether a request to `url` may go out: `https://`, or `http://` to loopback or to a host the
/// app allowed.
fn allowed_url(url: &str, allowed_here: bool) -> bool {
    let Some(host) = cleartext_host(url) else {
        return url.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("https://"));
    };
    if host.is_empty() {
        return false;
    }
    if allowed_here || host == "localhost" {
        return true;
    }
    if host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback()) {
        return true;
    }
    CLEARTEXT_HOSTS.lock().unwrap_or_else(|p| p.into_inner()).contains(&host)
}

impl HttpTransport {
    /// A transport using Mend's own client, `ureq` (feature `http-client`).
    #[cfg(feature = "http-client")]
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
            insecure_allowed: false,
        }
    }

    /// Allows plain `http://` to a relay off this device's loopback, for this transport (a
    /// test network). Without it such a relay is refused with [`TransportError::Insecure`].
    pub fn allow_insecure_http(mut self) -> Self {
        self.insecure_allowed = true;
        self
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
        if !allowed_url(&self.base, self.insecure_allowed) {
            return Err(TransportError::Insecure);
        }
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
            // 408: the relay timed out reading a slow upload (a weak cellular link): retry later.
            408 | 429 | 500..=599 => {
                Err(TransportError::Unavailable(format!("relay answered {status}")))
            }
            _ => match error_code(&resp).and_then(|c| Refusal::from_code(&c)) {
                Some(r) if status == r.status() => Err(TransportError::Denied(r)),
                _ => Err(TransportError::Refused(format!(
                    "relay answered {status}: {}",
                    error_message(&resp)
                ))),
            },
        }
    }
}

/// The `error` code of a relay error body, bounded.
fn error_code(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()?
        .get("error")?
        .as_str()
        .filter(|c| c.len() <= 40)
        .map(str::to_owned)
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// Counts the requests that go out.
    struct Counting(Arc<AtomicUsize>);

    impl HttpClient for Counting {
        fn send(
            &self,
            _: &str,
            _: &str,
            _: &[(&str, String)],
            _: &[u8],
        ) -> Result<(u16, Vec<u8>), String> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok((204, Vec::new()))
        }
    }

    #[test]
    fn plain_http_goes_only_to_loopback_or_where_the_app_allowed_it() {
        for ok in [
            "https://relay.example",
            "HTTPS://relay.example:8443/base",
            "http://127.0.0.1:8787",
            "http://127.3.4.5",
            "http://[::1]:8787/",
            "http://localhost:8787",
            "http://LOCALHOST",
        ] {
            assert!(allowed_url(ok, false), "{ok}");
        }
        for refused in [
            "http://relay.example",
            "http://10.0.0.7:8787",
            "http://127.0.0.1.evil.example",
            "http://localhost.evil.example",
            "http://127.0.0.1@relay.example",
            "http://evil.example\\@127.0.0.1:8787",
            "http://127.0.0.1\\.evil.example/",
            "http://user@127.0.0.1:8787",
            "http://127.0.0.1%2eevil.example",
            "http://127.0.0.1 .evil.example",
            "http://\t127.0.0.1",
            "http://[::2]:8787",
            "ftp://127.0.0.1",
            "relay.example",
        ] {
            assert!(!allowed_url(refused, false), "{refused}");
        }
        assert!(allowed_url("http://relay.example", true));
        allow_cleartext_host("[fd00::7]");
        assert!(allowed_url("http://[fd00::7]:8787", false));
        assert!(!allowed_url("http://[fd00::8]:8787", false));
    }

    #[test]
    fn an_insecure_relay_gets_no_request_and_a_validation_error() {
        let sent = Arc::new(AtomicUsize::new(0));
        let key = DeviceKey::generate();
        let (vault, device) = (VaultId::random(), DeviceId::random());
        let t =
            HttpTransport::with_client("http://relay.example", Box::new(Counting(sent.clone())));
        t.bind_identity(device, &key);
        assert_eq!(t.pull(&vault, 0, 10).unwrap_err(), TransportError::Insecure);
        let err: crate::Error = TransportError::Insecure.into();
        assert!(matches!(err, crate::Error::Validation { ref field, .. } if field == "relay_url"));
        assert_eq!(sent.load(Ordering::SeqCst), 0, "a request went out in clear text");
        let t =
            HttpTransport::with_client("http://relay.example", Box::new(Counting(sent.clone())))
                .allow_insecure_http();
        t.bind_identity(device, &key);
        let _ = t.pull(&vault, 0, 10);
        assert_eq!(sent.load(Ordering::SeqCst), 1);
    }

    /// Answers every request with one status and body.
    struct Answers(u16, String);

    impl HttpClient for Answers {
        fn send(
            &self,
            _: &str,
            _: &str,
            _: &[(&str, String)],
            _: &[u8],
        ) -> Result<(u16, Vec<u8>), String> {
            Ok((self.0, self.1.as_bytes().to_vec()))
        }
    }

    #[test]
    fn refusals_an_app_acts_on_are_typed_and_others_are_not() {
        use crate::Error;
        let answer = |status, body: &str| {
            let client = Answers(status, body.to_owned());
            let t = HttpTransport::with_client("http://127.0.0.1:1", Box::new(client));
            t.bind_identity(DeviceId::random(), &DeviceKey::generate());
            t.pull(&VaultId::random(), 0, 10).unwrap_err()
        };
        for (code, refusal) in [
            ("registration_required", Refusal::RegistrationRequired),
            ("quota_exceeded", Refusal::QuotaExceeded),
            ("device_limit", Refusal::DeviceLimit),
            ("tombstone_limit", Refusal::TombstoneLimit),
            ("revoked", Refusal::Revoked),
            ("unknown", Refusal::Unknown),
        ] {
            let body = format!("{{\"error\":\"{code}\",\"message\":\"m\"}}");
            let body = body.as_str();
            assert_eq!(answer(refusal.status(), body), TransportError::Denied(refusal));
            assert_eq!(refusal.code(), code);
            assert_eq!(Error::from(TransportError::Denied(refusal)), Error::RelayRefused(refusal));
            // The same code under another status is not trusted as one.
            assert!(matches!(answer(400, body), TransportError::Refused(_)));
        }
        let other = r#"{"error":"bad_request","message":"m"}"#;
        assert!(matches!(answer(403, other), TransportError::Refused(_)));
        assert!(matches!(answer(403, "not json"), TransportError::Refused(_)));
        assert!(matches!(answer(503, other), TransportError::Unavailable(_)));
        // Retryable, not rejected: an overloaded relay, or one that timed out a slow upload.
        let timeout = r#"{"error":"timeout","message":"m"}"#;
        assert!(matches!(answer(408, timeout), TransportError::Unavailable(_)));
        assert!(matches!(answer(429, other), TransportError::Unavailable(_)));
        assert!(matches!(Error::from(answer(400, other)), Error::RelayRejected(_)));
    }
}
