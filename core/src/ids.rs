//! Opaque random identifiers.
//!
//! Records, keys, vaults and devices are named by random 128-bit ids. These are the only things
//! (with kinds, sequence numbers and sizes) that may appear in plaintext in the vault file or on
//! the wire, so they must never be derived from clinical content.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

macro_rules! random_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; 16]);

        impl $name {
            /// A fresh random id (UUID v4).
            pub fn random() -> Self {
                Self(*uuid::Uuid::new_v4().as_bytes())
            }
            /// The id from its 16 raw bytes.
            pub const fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(bytes)
            }
            /// The id from a stored byte slice; `None` unless it is exactly 16 bytes.
            pub fn from_slice(bytes: &[u8]) -> Option<Self> {
                bytes.try_into().ok().map(Self)
            }
            /// The 16 raw bytes.
            pub fn as_bytes(&self) -> &[u8; 16] {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&uuid::Uuid::from_bytes(self.0), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self)
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                uuid::Uuid::parse_str(s)
                    .map(|u| Self(*u.as_bytes()))
                    .map_err(|_| Error::invalid(stringify!($name), "not a UUID"))
            }
        }

        // Swift and Kotlin see the id as its UUID string; a malformed string is refused when
        // lifted (an error thrown to the caller, never a panic).
        #[cfg(feature = "uniffi")]
        uniffi::custom_type!($name, String, {
            lower: |id| id.to_string(),
            try_lift: |s| Ok(s.parse::<$name>()?),
        });
    };
}

random_id!(
    /// The id of one record (one Automerge document): a client, session, note, rupture or measure.
    RecordId
);
random_id!(
    /// The id of one data key in the vault's key hierarchy.
    KeyId
);
random_id!(
    /// The id of a vault; bound into every envelope so ciphertext cannot move between vaults.
    VaultId
);
random_id!(
    /// The id of a device (one install of the app holding the vault).
    DeviceId
);
