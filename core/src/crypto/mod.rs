//! Keys, key wrapping, envelopes, passphrase derivation and device signatures.
//!
//! This module knows bytes and keys only: it has no SQLite, Automerge or clinical knowledge. Every
//! secret lives in a zeroizing wrapper without a `Debug` that prints it, and every failure is
//! opaque ([`CryptoError`]) so that callers can map it to `WrongKey` or `Corrupt` without a message
//! that could carry key material.

pub mod envelope;
pub mod kdf;
pub mod keys;
pub mod seal;
pub mod signing;

pub use envelope::{open, seal, Aad, Part, ENVELOPE_VERSION};
pub use keys::{KeyPurpose, SecretKey};

/// The operating system's CSPRNG (`getrandom`), the one source of every key, nonce, salt and
/// code Mend makes. A failing OS generator is not something to continue past: it panics, as
/// every RustCrypto and dalek key generator does.
pub(crate) fn os_rng() -> rand::rand_core::UnwrapErr<rand::rngs::SysRng> {
    rand::rand_core::UnwrapErr(rand::rngs::SysRng)
}

/// Fills `buf` from the operating system's CSPRNG.
pub(crate) fn fill_random(buf: &mut [u8]) {
    use rand::Rng as _;
    os_rng().fill_bytes(buf);
}

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
