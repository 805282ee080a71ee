//! # mend-core
//!
//! Mend keeps a therapist's clinical records — clients, sessions, SOAP/DAP/BIRP/GIRP notes,
//! alliance ruptures and their repair, WAI-SR measures — as Automerge documents, encrypted with
//! XChaCha20-Poly1305 under a per-client key hierarchy, in one local SQLite file.
//!
//! Start with [`Vault`]. The layers: [`crypto`] (keys and envelopes, no storage knowledge),
//! [`store`] (SQLite, no Automerge knowledge), [`records`] (documents, no SQL), the keyring and
//! the outbox, the vault that joins them, and [`sync`] on top. This crate has no HTTP server and
//! no platform code; its only FFI knowledge is the uniffi derives on its own types and ids behind
//! the `uniffi` feature (mend-ffi exports them), and the HTTP client transport behind
//! `http`.
#![forbid(unsafe_code)]

// The Swift/Kotlin shapes of the model types, exported by mend-ffi (`uniffi` feature only).
#[cfg(feature = "uniffi")]
uniffi::setup_scaffolding!();

pub mod crypto;
pub mod error;
// Entry points for the fuzz targets in fuzz/ (feature `fuzzing` only; not an API).
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod ids;
pub(crate) mod keyring;
pub(crate) mod outbox;
pub mod query;
pub mod records;
pub(crate) mod shares;
pub mod store;
pub mod sync;
pub mod vault;

pub use error::{Error, Result};
pub use ids::{DeviceId, KeyId, RecordId, VaultId};
pub use records::conflict::{Conflict, ConflictChoice, ConflictValue};
pub use records::enums::*;
pub use records::model::*;
pub use records::note::{CodeSet, DivergedSection, Divergence, DivergenceChoice};
pub use store::Durability;
pub use vault::{Device, Vault, VaultOptions, VaultSecret};
