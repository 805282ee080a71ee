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
