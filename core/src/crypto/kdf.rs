//! Passphrase → vault key, with Argon2id (RFC 9106).
//!
//! The parameters and salt are stored with the vault so a vault created with stronger settings
//! still opens on a device whose defaults changed.

use argon2::{Algorithm, Argon2, Params, Version};
use zeroize::Zeroizing;

use super::{CryptoError, SecretKey};

/// Argon2id parameters as stored in the vault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KdfParams {
    /// Memory cost in KiB.
    pub m_cost_kib: u32,
    /// Number of passes.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
    /// 16-byte random salt.
    pub salt: [u8; 16],
}

impl KdfParams {
    /// Defaults for a phone: 64 MiB, 3 passes, 1 lane (RFC 9106 §4's second recommended option),
    /// with a fresh salt.
    pub fn recommended() -> Self {
        Self::with_cost(64 * 1024, 3, 1)
    }

    /// Explicit costs with a fresh salt (tests use small costs to stay fast).
    pub fn with_cost(m_cost_kib: u32, t_cost: u32, p_cost: u32) -> Self {
        let mut salt = [0u8; 16];
        super::fill_random(&mut salt);
        Self { m_cost_kib, t_cost, p_cost, salt }
    }
}

/// Derives the 32-byte vault key from a passphrase.
pub fn derive_key(passphrase: &str, params: &KdfParams) -> Result<SecretKey, CryptoError> {
    let p = Params::new(params.m_cost_kib, params.t_cost, params.p_cost, Some(32))
        .map_err(|_| CryptoError::Kdf)?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, p);
    let mut out = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(passphrase.as_bytes(), &params.salt, out.as_mut())
        .map_err(|_| CryptoError::Kdf)?;
    Ok(SecretKey::from_bytes(*out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_passphrase_same_salt_same_key() {
        let p = KdfParams::with_cost(256, 1, 1);
        let a = derive_key("correct horse", &p).expect("derives");
        let b = derive_key("correct horse", &p).expect("derives");
        let c = derive_key("correct horsf", &p).expect("derives");
        assert_eq!(a.expose(), b.expose());
        assert_ne!(a.expose(), c.expose());
    }

    #[test]
    fn absurd_params_are_an_error_not_a_panic() {
        let mut p = KdfParams::with_cost(1, 0, 0);
        p.p_cost = 0;
        assert_eq!(derive_key("x", &p).err(), Some(CryptoError::Kdf));
    }
}
