//! Relay storage: one trait, two implementations (SQLite, PostgreSQL) that pass the same
//! conformance suite (`tests/conformance.rs`).
//!
//! Every table is keyed by vault id first and no query spans vaults (but
//! [`Store::advance_sequences`], run once after a restore), so the PostgreSQL schema can
//! be distributed by vault id (Citus or any compatible distributed SQL). The store holds opaque
//! bundle bytes plus the plaintext header fields the relay needs (record id, key id, device and
//! its sequence number) — never content, client identity or record kinds.

pub mod postgres;
pub mod sqlite;

use async_trait::async_trait;

/// A vault, record, key, device or invite id: 16 random bytes.
pub type Id = [u8; 16];

/// One bundle as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBundle {
    /// Record id (from the bundle header).
    pub doc: Id,
    /// Key id (from the bundle header).
    pub key_id: Id,
    /// Signing device.
    pub device: Id,
    /// The device's sequence number for it.
    pub device_seq: i64,
    /// The bundle bytes.
    pub bytes: Vec<u8>,
}

/// A device as the relay knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceRow {
    /// Ed25519 public key.
    pub public: [u8; 32],
    /// Revoked devices are refused.
    pub revoked: bool,
}

/// A storage failure. Carries no stored content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("storage failed: {0}")]
    Backend(String),
    /// The request conflicts with what is stored (a device enrolled with another key, a vault
    /// registered by another device).
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// A new vault's registration token is unknown or was already used.
    #[error("registration token unknown or already used")]
    BadToken,
}

/// What one vault holds at the relay, for its quota and device cap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Bytes of the bundles and snapshots stored.
    pub bytes: u64,
    /// Devices enrolled, revoked ones included (a revoked device keeps its place).
    pub devices: u64,
}

/// A database connection pool's state, for the relay's metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStatus {
    /// Most connections the pool opens.
    pub max: usize,
    /// Connections open.
    pub open: usize,
    /// Open connections not in use.
    pub idle: usize,
    /// Callers waiting for a connection.
    pub waiting: usize,
}

/// A pulled page: `(seq, bytes)` items, how many remain, the vault's highest sequence number.
pub type Pulled = (Vec<(i64, Vec<u8>)>, u64, i64);

/// Result of store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// The schema version this relay writes. Versions: 1, the first schema (before versioned
/// migrations, a store without a version is at 1 once its tables exist); 2, per-vault byte
/// counts (`vaults.bytes`, filled from the bundles already stored) and registration tokens.
pub const SCHEMA_VERSION: u32 = 2;

/// The key id of bundles no erasure drops (key shares carrying many clients' keys).
pub const NO_LABEL: Id = [0; 16];

/// What the relay stores.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Brings the schema to [`SCHEMA_VERSION`], applying each missing migration in order in one
    /// transaction per step (a store of a newer version than this relay is refused). Safe to
    /// run from several instances at once.
    async fn migrate(&self) -> StoreResult<()>;

    /// The schema version the store is at (0: empty or from before versioned migrations).
    async fn schema_version(&self) -> StoreResult<u32>;

    /// Registers a vault with its first device. Idempotent for the same device and key. With a
    /// token (the SHA-256 of an operator-issued registration token), the token is used up by
    /// this vault in the same transaction; an unknown or used token is [`StoreError::BadToken`]
    /// (the same vault registering again is not a second use).
    async fn register_vault(
        &self,
        vault: Id,
        device: Id,
        public: [u8; 32],
        token: Option<[u8; 32]>,
    ) -> StoreResult<()>;

    /// Records a registration token an operator issued (its SHA-256; the token itself is never
    /// stored), valid for one vault.
    async fn issue_token(&self, hash: [u8; 32], issued_at: i64) -> StoreResult<()>;

    /// What a vault holds (zero for an unknown vault).
    async fn usage(&self, vault: Id) -> StoreResult<Usage>;

    /// Whether the vault is registered.
    async fn vault_exists(&self, vault: Id) -> StoreResult<bool>;

    /// A device of a vault.
    async fn device(&self, vault: Id, device: Id) -> StoreResult<Option<DeviceRow>>;

    /// Adds a device. Idempotent for the same key; a different key is a conflict.
    async fn enroll_device(&self, vault: Id, device: Id, public: [u8; 32]) -> StoreResult<()>;

    /// Revokes a device.
    async fn revoke_device(&self, vault: Id, device: Id) -> StoreResult<()>;

    /// Stores bundles in order, each under the next relay sequence number of the vault. A bundle
    /// whose (device, device_seq) is already stored is skipped, so a retried push after a crash
    /// never stores anything twice. Returns how many were new.
    async fn push(&self, vault: Id, bundles: Vec<NewBundle>) -> StoreResult<u64>;

    /// Up to `limit` bundles after relay sequence `since`, no more than `max_bytes` of them in
    /// all (the first always comes, however large), how many remain after them, and the highest
    /// sequence number ever given in the vault.
    async fn pull(
        &self,
        vault: Id,
        since: i64,
        limit: u32,
        max_bytes: usize,
    ) -> StoreResult<Pulled>;

    /// Stores a snapshot of `doc` and drops the bundles of `doc` up to relay sequence `covers`.
    async fn put_snapshot(&self, vault: Id, covers: i64, snapshot: NewBundle) -> StoreResult<()>;

    /// Drops every bundle labelled with one of the key ids and keeps a tombstone of each id:
    /// bundles and snapshots pushed under it later are refused (a device that had not heard of
    /// the erasure yet). The all-zero id (shares no erasure names) is never dropped. Returns how
    /// many were dropped.
    async fn drop_keys(&self, vault: Id, keys: Vec<Id>) -> StoreResult<u64>;

    /// Which of `keys` the vault already holds a tombstone of, and how many tombstones it holds
    /// in all (a drop request is logged and counted only for keys not dropped before).
    async fn tombstoned(&self, vault: Id, keys: Vec<Id>) -> StoreResult<(Vec<Id>, u64)>;

    /// Moves every vault's next relay sequence number `by` further on; returns how many vaults
    /// there are. Run once after restoring a backup (`mend-relay restored`): devices have pulled
    /// up to sequence numbers the backup never saw, and what is pushed from then on must sort
    /// after all of them (otherwise devices find the gaps in each other's numbering and pull
    /// the whole vault again). The one call that spans vaults.
    async fn advance_sequences(&self, by: i64) -> StoreResult<u64>;

    /// Marks an invite used; `false` if it already was.
    async fn claim_invite(&self, vault: Id, invite: Id) -> StoreResult<bool>;

    /// Marks the registration token with SHA-256 `hash` spent by `vault`, if the store holds it
    /// unspent (re-applying the erasure log after a restore); a token it does not hold stays
    /// unknown.
    async fn spend_token(&self, hash: [u8; 32], vault: Id) -> StoreResult<()>;

    /// Remembers a request signature for replay protection; `false` if it was seen before.
    /// Entries older than `forget_before` (ms) may be discarded.
    async fn remember_request(
        &self,
        vault: Id,
        device: Id,
        signature: [u8; 64],
        at: i64,
        forget_before: i64,
    ) -> StoreResult<bool>;

    /// Every stored byte string of a vault, for tests that prove the relay holds only ciphertext.
    async fn dump(&self, vault: Id) -> StoreResult<Vec<Vec<u8>>>;

    /// The connection pool's state, if the store has a pool.
    fn pool(&self) -> Option<PoolStatus> {
        None
    }
}
