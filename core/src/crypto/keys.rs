//! Secret keys: 32 random bytes, zeroized on drop, never printed.

use zeroize::{Zeroize, ZeroizeOnDrop};

/// A 256-bit symmetric key (vault key or data key). Zeroized on drop; `Debug` prints no bytes.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretKey([u8; 32]);

impl SecretKey {
    /// A fresh key from the operating system's CSPRNG.
    pub fn random() -> Self {
        let mut k = [0u8; 32];
        super::fill_random(&mut k);
        Self(k)
    }

    /// Takes ownership of 32 key bytes (the caller's copy should be zeroized by the caller).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The key from a slice; `None` unless it is exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        let arr: [u8; 32] = bytes.try_into().ok()?;
        Some(Self(arr))
    }

    /// Borrow the key bytes (for a cipher or for wrapping).
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

/// What a data key encrypts; stored with the wrapped key by its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum KeyPurpose {
    /// A client's record, sessions, notes and measures.
    Record = 1,
    /// Psychotherapy-note content (ruptures classed as psychotherapy notes).
    Process = 2,
    /// The vault sync key (registry and key shares); never erased.
    Sync = 3,
}

impl KeyPurpose {
    /// The purpose of a stored code.
    pub fn from_code(code: u8) -> Option<KeyPurpose> {
        match code {
            1 => Some(KeyPurpose::Record),
            2 => Some(KeyPurpose::Process),
            3 => Some(KeyPurpose::Sync),
            _ => None,
        }
    }

    /// A client's data key (record or process), the only purposes that travel in key shares and
    /// invites.
    pub fn from_client_code(code: u8) -> Option<KeyPurpose> {
        Self::from_code(code).filter(|p| *p != KeyPurpose::Sync)
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_key_bytes() {
        let k = SecretKey::from_bytes([0xAB; 32]);
        let shown = format!("{k:?}");
        assert!(!shown.to_lowercase().contains("ab"), "{shown}");
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn random_keys_differ() {
        assert_ne!(SecretKey::random().expose(), SecretKey::random().expose());
    }
}
