//! Device identity: an Ed25519 key pair (RFC 8032) per device, used to sign notes and addenda.

use ed25519_dalek::Signer;
use zeroize::Zeroizing;

use super::CryptoError;

/// A device's signing key. Zeroized on drop (by `ed25519-dalek`); `Debug` prints nothing secret.
pub struct DeviceKey(ed25519_dalek::SigningKey);

impl DeviceKey {
    /// A fresh key pair.
    pub fn generate() -> Self {
        Self(ed25519_dalek::SigningKey::generate(&mut super::os_rng()))
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

/// A signature to check: public key, message, signature.
pub type Signed<'a> = (&'a [u8; 32], &'a [u8], &'a [u8; 64]);

/// Signatures checked together per batch by [`verify_many`].
const BATCH: usize = 64;

/// Verifies many signatures, returning for each whether it is valid. Signatures are checked in
/// batches (one multiscalar multiplication per batch, about 2.5 times faster than one by one);
/// a batch that fails is re-checked one signature at a time with [`verify`], so a single bad
/// signature costs its own batch, not the whole lot. Weak (small-order) public keys always take
/// the strict path. The batch equation is the cofactored one: a signature whose `R` carries a
/// small torsion component, which only the holder of the signing key can make, can pass in a
/// batch where strict verification refuses it; it grants that signer nothing it could not sign.
pub fn verify_many(items: &[Signed<'_>]) -> Vec<bool> {
    let mut ok = vec![false; items.len()];
    let mut batch: Vec<(usize, ed25519_dalek::VerifyingKey)> = Vec::with_capacity(BATCH);
    let flush = |batch: &mut Vec<(usize, ed25519_dalek::VerifyingKey)>, ok: &mut Vec<bool>| {
        if batch.is_empty() {
            return;
        }
        let msgs: Vec<&[u8]> = batch.iter().map(|(i, _)| items[*i].1).collect();
        let sigs: Vec<ed25519_dalek::Signature> =
            batch.iter().map(|(i, _)| ed25519_dalek::Signature::from_bytes(items[*i].2)).collect();
        let keys: Vec<ed25519_dalek::VerifyingKey> = batch.iter().map(|(_, k)| *k).collect();
        let all = ed25519_dalek::verify_batch(&msgs, &sigs, &keys).is_ok();
        for (i, _) in batch.drain(..) {
            let (public, msg, sig) = items[i];
            ok[i] = all || verify(public, msg, sig).is_ok();
        }
    };
    for (i, (public, msg, sig)) in items.iter().enumerate() {
        match ed25519_dalek::VerifyingKey::from_bytes(public) {
            Ok(k) if !k.is_weak() => {
                batch.push((i, k));
                if batch.len() == BATCH {
                    flush(&mut batch, &mut ok);
                }
            }
            _ => ok[i] = verify(*public, msg, *sig).is_ok(),
        }
    }
    flush(&mut batch, &mut ok);
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_find_exactly_the_bad_signatures() {
        let a = DeviceKey::generate();
        let b = DeviceKey::generate();
        let msgs: Vec<Vec<u8>> = (0..150u32).map(|i| i.to_be_bytes().repeat(10)).collect();
        let mut sigs: Vec<[u8; 64]> = msgs
            .iter()
            .enumerate()
            .map(|(i, m)| if i % 3 == 0 { b.sign(m) } else { a.sign(m) })
            .collect();
        let keys: Vec<[u8; 32]> =
            (0..150).map(|i| if i % 3 == 0 { b.public() } else { a.public() }).collect();
        let bad = [5usize, 64, 65, 149];
        for &i in &bad {
            sigs[i][10] ^= 1;
        }
        let items: Vec<Signed<'_>> =
            (0..150).map(|i| (&keys[i], msgs[i].as_slice(), &sigs[i])).collect();
        let ok = verify_many(&items);
        for (i, v) in ok.iter().enumerate() {
            assert_eq!(*v, !bad.contains(&i), "signature {i}");
        }
        // A signature checked against the wrong key fails too.
        let wrong = [(&b.public(), msgs[1].as_slice(), &sigs[1])];
        assert_eq!(verify_many(&wrong), vec![false]);
        assert!(verify_many(&[]).is_empty());
    }

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
