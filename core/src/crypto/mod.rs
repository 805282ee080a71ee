//! Keys, key wrapping, envelopes, passphrase derivation and device signatures.
//!
//! This module knows bytes and keys only: it has no SQLite, Automerge or clinical knowledge. Every
//! secret lives in a zeroizing wrapper without a `Debug` that prints it, and every failure is
//! opaque ([`CryptoError`]) so that callers can map it to `WrongKey` or `Corrupt` without a message
//! that could carry key material.

pub mod envelope;
pub mod kdf;
pub mod keys;
pub mod signing;

pub use envelope::{open, seal, Aad, Part, ENVELOPE_VERSION};
pub use keys::SecretKey;

/// A cryptographic operation failed. Deliberately carries no detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The bytes are not a well-formed envelope of a known version.
    #[error("malformed envelope")]
    Malformed,
    /// Authentication failed: wrong key, wrong associated data or tampered bytes.
    #[error("envelope did not authenticate")]
    Open,
    /// Key derivation rejected its parameters.
    #[error("key derivation failed")]
    Kdf,
}
