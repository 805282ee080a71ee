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

    /// Whether the costs are ones Mend would ever write: at most 1 GiB of memory, 10 passes and
    /// 4 lanes (and at least what Argon2 needs). Parameters read from outside (a vault file's
    /// header, an invite) are checked against these before any memory is taken, so a forged
    /// value cannot exhaust a phone.
    pub fn within_limits(&self) -> bool {
        (8..=MAX_M_COST_KIB).contains(&self.m_cost_kib)
            && (1..=MAX_T_COST).contains(&self.t_cost)
            && (1..=MAX_P_COST).contains(&self.p_cost)
    }
}

/// Most memory a stored or received Argon2id cost may ask for, in KiB (1 GiB).
pub const MAX_M_COST_KIB: u32 = 1 << 20;
/// Most passes a stored or received Argon2id cost may ask for.
pub const MAX_T_COST: u32 = 10;
/// Most lanes a stored or received Argon2id cost may ask for.
pub const MAX_P_COST: u32 = 4;

/// Derives the 32-byte vault key from a passphrase. Costs outside [`KdfParams::within_limits`]
/// are refused with [`CryptoError::Kdf`] before any memory is allocated.
pub fn derive_key(passphrase: &str, params: &KdfParams) -> Result<SecretKey, CryptoError> {
    if !params.within_limits() {
        return Err(CryptoError::Kdf);
    }
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
    fn costs_beyond_the_limits_are_refused_before_any_work() {
        for (m, t, p) in [
            (MAX_M_COST_KIB + 1, 1, 1),
            (256, MAX_T_COST + 1, 1),
            (256, 1, 5),
            (u32::MAX, u32::MAX, u32::MAX),
        ] {
            let params = KdfParams::with_cost(m, t, p);
            assert!(!params.within_limits());
            // Refused at once: 4 TiB of memory would abort the process, not return.
            assert_eq!(derive_key("x", &params).err(), Some(CryptoError::Kdf));
        }
        assert!(KdfParams::recommended().within_limits());
    }

    #[test]
    fn absurd_params_are_an_error_not_a_panic() {
        let mut p = KdfParams::with_cost(1, 0, 0);
        p.p_cost = 0;
        assert_eq!(derive_key("x", &p).err(), Some(CryptoError::Kdf));
    }
}
