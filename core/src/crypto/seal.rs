//! Sealing a key to one device: HPKE (RFC 9180) in Base mode with DHKEM(X25519, HKDF-SHA256),
//! HKDF-SHA256 and ChaCha20-Poly1305, from the `hpke` crate.
//!
//! Every device makes its own X25519 key pair ([`ReceiveKey`]) and publishes only the public half
//! in the registry; key shares are sealed to it, so no key that another device or the relay holds
//! opens them. Base mode is enough: the bundle that carries a sealed share is signed with the
//! sender's Ed25519 key, which authenticates the sender (HPKE's Auth mode would only repeat that).
//! The `info` names Mend's share format and the vault; the caller's associated data binds the
//! bundle (record, sequence number), so a sealed box moved to another bundle does not open.

use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};
use zeroize::Zeroizing;

use super::CryptoError;

type Kem = hpke::kem::X25519HkdfSha256;
type Kdf = hpke::kdf::HkdfSha256;
type Aead = hpke::aead::ChaCha20Poly1305;

/// Length of the encapsulated key that precedes each sealed box.
pub const ENC_LEN: usize = 32;

/// A device's X25519 key for receiving sealed keys. The private half never leaves the device
/// (it is stored wrapped under the vault key); `Debug` prints only the public half.
#[derive(Clone)]
pub struct ReceiveKey {
    private: <Kem as hpke::Kem>::PrivateKey,
    public: [u8; 32],
}

impl ReceiveKey {
    /// A fresh key pair from the operating system's CSPRNG.
    pub fn generate() -> ReceiveKey {
        let (private, public) = Kem::gen_keypair_with_rng(&mut super::os_rng());
        let public = public.to_bytes().into();
        ReceiveKey { private, public }
    }

    /// The key from its stored private half.
    pub fn from_private(bytes: &[u8]) -> Result<ReceiveKey, CryptoError> {
        let private = <Kem as hpke::Kem>::PrivateKey::from_bytes(bytes)
            .map_err(|_| CryptoError::Malformed)?;
        let public = Kem::sk_to_pk(&private).to_bytes().into();
        Ok(ReceiveKey { private, public })
    }

    /// The private half, for wrapping under the vault key.
    pub fn private_bytes(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.private.to_bytes().to_vec())
    }

    /// The public half, as the registry lists it.
    pub fn public(&self) -> [u8; 32] {
        self.public
    }

    /// Opens a box sealed by [`seal`] to this key (`enc ‖ ciphertext`).
    pub fn open(
        &self,
        info: &[u8],
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if sealed.len() < ENC_LEN + 16 {
            return Err(CryptoError::Malformed);
        }
        let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(&sealed[..ENC_LEN])
            .map_err(|_| CryptoError::Malformed)?;
        hpke::single_shot_open::<Aead, Kdf, Kem>(
            &OpModeR::Base,
            &self.private,
            &enc,
            info,
            &sealed[ENC_LEN..],
            aad,
        )
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::Open)
    }
}

impl std::fmt::Debug for ReceiveKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReceiveKey(public={})", hex::encode(self.public))
    }
}

/// Seals `plain` to the device whose receiving key is `public`: `enc (32) ‖ ciphertext ‖ tag`.
pub fn seal(
    public: &[u8; 32],
    info: &[u8],
    aad: &[u8],
    plain: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let pk =
        <Kem as hpke::Kem>::PublicKey::from_bytes(public).map_err(|_| CryptoError::Malformed)?;
    let (enc, ct) = hpke::single_shot_seal_with_rng::<Aead, Kdf, Kem>(
        &OpModeS::Base,
        &pk,
        info,
        plain,
        aad,
        &mut super::os_rng(),
    )
    .map_err(|_| CryptoError::Malformed)?;
    let mut out = Vec::with_capacity(ENC_LEN + ct.len());
    out.extend_from_slice(&enc.to_bytes());
    out.extend_from_slice(&ct);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_recipient_opens_and_every_binding_counts() {
        let me = ReceiveKey::generate();
        let other = ReceiveKey::generate();
        let boxed = seal(&me.public(), b"info", b"aad", b"a client key").expect("seals");
        assert_eq!(&me.open(b"info", b"aad", &boxed).expect("opens")[..], b"a client key");
        assert_eq!(other.open(b"info", b"aad", &boxed), Err(CryptoError::Open));
        assert_eq!(me.open(b"infx", b"aad", &boxed), Err(CryptoError::Open));
        assert_eq!(me.open(b"info", b"aax", &boxed), Err(CryptoError::Open));
        for i in 0..boxed.len() {
            let mut t = boxed.clone();
            t[i] ^= 1;
            assert!(me.open(b"info", b"aad", &t).is_err(), "flip at {i}");
        }
        let restored = ReceiveKey::from_private(&me.private_bytes()).expect("32 bytes");
        assert_eq!(restored.public(), me.public());
        assert_eq!(&restored.open(b"info", b"aad", &boxed).expect("opens")[..], b"a client key");
        assert!(!format!("{me:?}").contains(&hex::encode(&me.private_bytes()[..])));
    }
}
