//! Sync between a therapist's devices through an untrusted relay.
//!
//! Local changes become bundles when they are saved: the change bytes are encrypted under the
//! record's data key and queued in the outbox in the same transaction as the save. `sync` pushes
//! the outbox, tells the relay to drop erased key ids, then pulls pages of other devices' bundles
//! after a cursor and applies each page in one SQLite transaction. Applying is idempotent (a
//! `(device, seq)` table) and order-independent (incoming change bytes are stored as they came
//! and Automerge queues changes whose dependencies are missing). Every bundle is checked before
//! anything is written: vault, signer in the registry and not revoked, Ed25519 signature, AEAD,
//! and that it names the same record kind, client and key as the local copy. A rejected bundle is
//! counted in the report with a typed reason and never touches the store; one that cannot be
//! applied yet (unknown signer or key) is kept encrypted in `pending` and retried.
//!
//! For speed, a push coalesces a run of consecutive saves of one record into one bundle that
//! covers their sequence numbers, a page's signatures are verified in batches, and a page's
//! change bundles are merged per record (one Automerge load, one stored change, one summary).
//!
//! Files: [`engine`] runs a sync, `apply` checks and applies pulled pages, `repair`
//! notices withheld bundles, [`report`] is what a sync is asked and answers, [`bundle`] and
//! [`wire`] are the formats, [`invite`] adds a device, [`transport`] is the seam to a relay
//! ([`memory`] in-process, `http` for `mend-relay`). Sync builds on the vault and the outbox
//! ([`crate::outbox`], where local saves are queued); neither of them knows sync.

mod apply;
pub mod bundle;
pub mod engine;
#[cfg(feature = "http")]
pub mod http;
pub mod invite;
pub mod memory;
mod repair;
pub mod report;
pub mod transport;
pub mod wire;

pub use memory::MemoryRelay;
pub use report::{RejectReason, Rejection, SyncOptions, SyncProgress, SyncReport};
pub use transport::{Page, PageItem, Refusal, Transport, TransportError};
