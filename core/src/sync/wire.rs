//! Request and response bodies between a device and `mend-relay`, and the request-signing
//! message. Shared by the HTTP transport and the relay so both sides agree byte for byte.
//! Every decoder bounds counts and lengths and never panics.
//!
//! - bundle list (push): `count u32 | (len u32 | bundle)*`
//! - page (pull): `remaining u64 | head u64 | count u32 | (relay seq u64 | len u32 | bundle)*`
//! - key id list (drop): `count u32 | key id 16 *`
//! - device (enroll): `device 16 | Ed25519 public key 32`

use sha2::{Digest, Sha256};

use super::transport::{Page, PageItem};
use crate::ids::{DeviceId, KeyId, VaultId};

/// Most bundles in one push.
pub const MAX_BUNDLES_PER_REQUEST: usize = 500;

/// Most erased key ids in one drop request (the relay refuses more).
pub const MAX_DROPS_PER_REQUEST: usize = 10_000;

/// Most bundle bytes a device puts in one push (at least one bundle is always sent). Half the
/// relay's default body limit, so a push never meets a 413 unless one save alone is that large.
pub const MAX_PUSH_BYTES: usize = 8 << 20;

/// Most bundle bytes the relay puts in one pulled page (at least one bundle is always served),
/// so a page stays far below what a device reads from one response.
pub const MAX_PAGE_BYTES: usize = 8 << 20;

/// Why a body does not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Shorter than it says.
    #[error("truncated body")]
    Truncated,
    /// More items or bytes than allowed.
    #[error("too many items or bytes")]
    TooLarge,
    /// Bytes left over.
    #[error("trailing bytes")]
    Trailing,
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if self.0.len() < n {
            return Err(WireError::Truncated);
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u32(&mut self) -> Result<u32, WireError> {
        let mut b = [0u8; 4];
        b.copy_from_slice(self.take(4)?);
        Ok(u32::from_be_bytes(b))
    }
    fn u64(&mut self) -> Result<u64, WireError> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(b))
    }
    fn end(&self) -> Result<(), WireError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(WireError::Trailing)
        }
    }
}

/// Encodes bundles for a push.
pub fn encode_bundles(bundles: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + bundles.iter().map(|b| b.len() + 4).sum::<usize>());
    out.extend_from_slice(&(bundles.len() as u32).to_be_bytes());
    for b in bundles {
        out.extend_from_slice(&(b.len() as u32).to_be_bytes());
        out.extend_from_slice(b);
    }
    out
}

/// Decodes a push body, refusing more than `max_items` bundles.
pub fn decode_bundles(body: &[u8], max_items: usize) -> Result<Vec<Vec<u8>>, WireError> {
    let mut c = Cursor(body);
    let n = c.u32()? as usize;
    if n > max_items {
        return Err(WireError::TooLarge);
    }
    let mut out = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        let len = c.u32()? as usize;
        out.push(c.take(len)?.to_vec());
    }
    c.end()?;
    Ok(out)
}

/// Encodes a pulled page.
pub fn encode_page(page: &Page) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&page.remaining.to_be_bytes());
    out.extend_from_slice(&page.head.to_be_bytes());
    out.extend_from_slice(&(page.items.len() as u32).to_be_bytes());
    for i in &page.items {
        out.extend_from_slice(&i.seq.to_be_bytes());
        out.extend_from_slice(&(i.bundle.len() as u32).to_be_bytes());
        out.extend_from_slice(&i.bundle);
    }
    out
}

/// Decodes a pulled page, refusing more than `max_items` items.
pub fn decode_page(body: &[u8], max_items: usize) -> Result<Page, WireError> {
    let mut c = Cursor(body);
    let remaining = c.u64()?;
    let head = c.u64()?;
    let n = c.u32()? as usize;
    if n > max_items {
        return Err(WireError::TooLarge);
    }
    let mut items = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        let seq = c.u64()?;
        let len = c.u32()? as usize;
        items.push(PageItem { seq, bundle: c.take(len)?.to_vec() });
    }
    c.end()?;
    Ok(Page { items, remaining, head })
}

/// Encodes key ids for a drop.
pub fn encode_key_ids(keys: &[KeyId]) -> Vec<u8> {
    let mut out = (keys.len() as u32).to_be_bytes().to_vec();
    for k in keys {
        out.extend_from_slice(k.as_bytes());
    }
    out
}

/// Decodes key ids, refusing more than `max_items`.
pub fn decode_key_ids(body: &[u8], max_items: usize) -> Result<Vec<KeyId>, WireError> {
    let mut c = Cursor(body);
    let n = c.u32()? as usize;
    if n > max_items {
        return Err(WireError::TooLarge);
    }
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let mut b = [0u8; 16];
        b.copy_from_slice(c.take(16)?);
        out.push(KeyId::from_bytes(b));
    }
    c.end()?;
    Ok(out)
}

/// Encodes a device and its public key (enrollment).
pub fn encode_device(device: &DeviceId, public: &[u8; 32]) -> Vec<u8> {
    let mut out = device.as_bytes().to_vec();
    out.extend_from_slice(public);
    out
}

/// Decodes a device and its public key.
pub fn decode_device(body: &[u8]) -> Result<(DeviceId, [u8; 32]), WireError> {
    let mut c = Cursor(body);
    let mut d = [0u8; 16];
    d.copy_from_slice(c.take(16)?);
    let mut p = [0u8; 32];
    p.copy_from_slice(c.take(32)?);
    c.end()?;
    Ok((DeviceId::from_bytes(d), p))
}

/// Request headers: the signing device, the time (ms since the epoch) and the signature.
pub const HEADER_DEVICE: &str = "x-mend-device";
/// See [`HEADER_DEVICE`].
pub const HEADER_TIME: &str = "x-mend-time";
/// See [`HEADER_DEVICE`].
pub const HEADER_SIGNATURE: &str = "x-mend-signature";
/// The operator-issued registration token a device sends when it registers a new vault at a
/// relay that does not allow open registration. Not part of the signed message: it is used
/// once, and the signature of the request it travels with cannot be replayed.
pub const HEADER_REGISTRATION: &str = "x-mend-registration";

/// What a device signs to authenticate a request: method, path with query, SHA-256 of the body,
/// time, device and vault, under a domain tag.
pub fn request_message(
    method: &str,
    path_and_query: &str,
    body: &[u8],
    time_ms: i64,
    device: &DeviceId,
    vault: &VaultId,
) -> Vec<u8> {
    let body_hash = hex::encode(Sha256::digest(body));
    format!("mend-relay-v1\n{method}\n{path_and_query}\n{body_hash}\n{time_ms}\n{device}\n{vault}")
        .into_bytes()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trips() {
        let b = vec![vec![1, 2, 3], vec![], vec![9; 300]];
        assert_eq!(decode_bundles(&encode_bundles(&b), 10).unwrap(), b);
        assert_eq!(decode_bundles(&encode_bundles(&b), 2), Err(WireError::TooLarge));
        let p =
            Page { items: vec![PageItem { seq: 7, bundle: vec![4; 10] }], remaining: 3, head: 9 };
        assert_eq!(decode_page(&encode_page(&p), 10).unwrap(), p);
        let k = vec![KeyId::random(), KeyId::random()];
        assert_eq!(decode_key_ids(&encode_key_ids(&k), 10).unwrap(), k);
        let d = DeviceId::random();
        assert_eq!(decode_device(&encode_device(&d, &[5; 32])).unwrap(), (d, [5; 32]));
    }

    proptest! {
        #[test]
        fn decoders_never_panic(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode_bundles(&body, 500);
            let _ = decode_page(&body, 500);
            let _ = decode_key_ids(&body, 500);
            let _ = decode_device(&body);
        }
    }
}
