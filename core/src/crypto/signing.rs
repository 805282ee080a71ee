//! Device identity: an Ed25519 key pair (RFC 8032) per device, used to sign notes and addenda.

use ed25519_dalek::Signer;
use zeroize::Zeroizing;

use super::CryptoError;

/// A device's signing key. Zeroized on drop (by `ed25519-dalek`); `Debug` prints nothing secret.
pub struct DeviceKey(ed25519_dalek::SigningKey);

impl DeviceKey {
    /// A fresh key pair.
    pub fn generate() -> Self {
        Self(ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng))
    }

    /// The key from its 32-byte seed.
    pub fn from_seed(seed: &[u8]) -> Result<Self, CryptoError> {
        let arr: [u8; 32] = seed.try_into().map_err(|_| CryptoError::Malformed)?;
        Ok(Self(ed25519_dalek::SigningKey::from_bytes(&arr)))
    }

    /// The secret seed, for wrapping under the vault key.
    pub fn seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_bytes())
    }

    /// A copy of this key (for a transport that signs requests as this device).
    pub fn duplicate(&self) -> DeviceKey {
        DeviceKey(ed25519_dalek::SigningKey::from_bytes(&self.0.to_bytes()))
    }

    /// The public key.
    pub fn public(&self) -> [u8; 32] {
        self.0.verifying_key().to_bytes()
    }

    /// Signs a message.
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.0.sign(msg).to_bytes()
    }
}

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeviceKey(public={})", hex::encode(self.public()))
    }
}

/// Verifies an Ed25519 signature (strict verification: rejects malleable and small-order forms).
pub fn verify(public: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), CryptoError> {
    let pk: [u8; 32] = public.try_into().map_err(|_| CryptoError::Malformed)?;
    let sig: [u8; 64] = sig.try_into().map_err(|_| CryptoError::Malformed)?;
    let vk = ed25519_dalek::VerifyingKey::from_bytes(&pk).map_err(|_| CryptoError::Malformed)?;
    vk.verify_strict(msg, &ed25519_dalek::Signature::from_bytes(&sig))
        .map_err(|_| CryptoError::Open)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_reject_tampering() {
        let k = DeviceKey::generate();
        let sig = k.sign(b"note heads and hash");
        assert!(verify(&k.public(), b"note heads and hash", &sig).is_ok());
        assert!(verify(&k.public(), b"note heads and hasH", &sig).is_err());
        let other = DeviceKey::generate();
        assert!(verify(&other.public(), b"note heads and hash", &sig).is_err());
        let restored = DeviceKey::from_seed(&k.seed()[..]).expect("32 bytes");
        assert_eq!(restored.public(), k.public());
    }
}
