//! Mend's test kit: the fixtures that mend-core's integration tests, the relay's conformance
//! suite, the cross-crate scenarios in `tests/` and the benches share.
//!
//! - vaults with a fast KDF and the keys the tests use ([`opts`], [`new_vault`], [`reopen`]);
//! - the records the tests and benches write ([`new_client`], [`bare_session`], [`soap`], ...),
//!   and typing into a free-text note ([`free_text`], [`type_at_end`]);
//! - a seeded generator for the campaigns ([`SplitMix`]), and their child processes
//!   ([`rerun_ignored`], [`report`]);
//! - devices paired by invite over any transport ([`sync`], [`invite`], [`pair`], [`join`],
//!   [`note_pair`]);
//! - what a vault left on disk ([`raw_bytes`], [`contains`]), and what its keys open of the
//!   relay's bytes ([`key_material`], [`opens`]);
//! - with feature `relay`: a relay on loopback, in-process (`serve`) or the `mend-relay` binary
//!   (`RelayProcess`, `relay_bin`), the relay stores under test (`sqlite`, `postgres`), and a
//!   fault-injecting proxy between devices and a relay (`FaultProxy`).
//!
//! Only for integration tests and benches: mend-core's unit tests (inside `core/src`) must not
//! use it, as it links its own copy of mend-core there.

// Private modules, everything re-exported at the root: tests glob-import the kit beside
// `mend_core::*`, whose modules (`records`, `sync`, ...) these names must not shadow.
mod adversary;
mod bytes;
mod child;
mod devices;
#[cfg(feature = "relay")]
mod proxy;
mod random;
mod records;
#[cfg(feature = "relay")]
mod relay;
mod vault;

pub use adversary::*;
pub use bytes::*;
pub use child::*;
pub use devices::*;
#[cfg(feature = "relay")]
pub use proxy::*;
pub use random::*;
pub use records::*;
#[cfg(feature = "relay")]
pub use relay::*;
pub use vault::*;
