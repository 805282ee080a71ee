//! The SQL of the vault. Every function takes a `&Connection`; callers that write pass a
//! `Transaction` (which derefs to one) so that each logical save is one transaction.

use rusqlite::{params, Connection, OptionalExtension};

use crate::crypto::keys::KeyPurpose;
use crate::error::Result;
use crate::ids::{DeviceId, KeyId, RecordId};

/// A record's stored snapshot and its later changes as `(seq, envelope)`, in order.
pub type DocParts = (Vec<u8>, Vec<(u64, Vec<u8>)>);
/// A record's header with its stored summary `(seq, envelope)`, if any.
pub type SummaryRow = (DocHeader, Option<(u64, Vec<u8>)>);

/// The values of the `meta` table: the vault file's header and the sync engine's bookkeeping.
/// Each is stored under [`Meta::name`], which never changes (vault files hold them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meta {
    /// The vault's id (16 bytes).
    VaultId,
    /// Argon2id parameters of a passphrase vault (JSON); absent for a key vault.
    Kdf,
    /// A fixed plaintext sealed under the vault key: opening it proves the key is right.
    Canary,
    /// This device's id (16 bytes).
    DeviceId,
    /// This device's signing key seed, sealed under the vault key.
    DeviceKey,
    /// The id of the vault-wide sync key (16 bytes).
    SyncKeyId,
    /// The id of the shared registry record (16 bytes).
    RegistryId,
    /// The highest sequence number this device has pushed (u64, big-endian).
    DeviceSeq,
    /// Present once the relay has enrolled this device.
    RelayEnrolled,
    /// The relay sequence number pulled up to (u64, big-endian).
    PullCursor,
    /// Full pulls made for the current gaps in other devices' numbers (see `sync::repair`).
    GapsRepaired,
    /// The relay head at the last full pull made for changes waiting on missing dependencies.
    DepsRepairHead,
    /// This device's X25519 receiving key (its private half), sealed under the vault key.
    ReceiveKey,
    /// Present while this device destroyed client keys since it last made a new receiving key:
    /// the next complete sync replaces the key (see `vault::epochs`).
    ReceiveKeyStale,
}

impl Meta {
    /// The name the value is stored under.
    pub fn name(self) -> &'static str {
        match self {
            Meta::VaultId => "vault_id",
            Meta::Kdf => "kdf",
            Meta::Canary => "canary",
            Meta::DeviceId => "device_id",
            Meta::DeviceKey => "device_key",
            Meta::SyncKeyId => "sync_key_id",
            Meta::RegistryId => "registry_id",
            Meta::DeviceSeq => "device_seq",
            Meta::RelayEnrolled => "relay_enrolled",
            Meta::PullCursor => "pull_cursor",
            Meta::GapsRepaired => "gaps_repaired",
            Meta::DepsRepairHead => "deps_repair_head",
            Meta::ReceiveKey => "receive_key",
            Meta::ReceiveKeyStale => "receive_key_stale",
        }
    }
}

/// Reads one header value.
pub fn meta_get(conn: &Connection, key: Meta) -> Result<Option<Vec<u8>>> {
    Ok(conn
        .query_row("SELECT value FROM meta WHERE name = ?1", [key.name()], |r| r.get(0))
        .optional()?)
}

/// Reads a header value stored as a big-endian u64 (0 when absent or malformed).
pub fn meta_u64(conn: &Connection, key: Meta) -> Result<u64> {
    Ok(meta_get(conn, key)?
        .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0))
}

/// Writes one header value.
pub fn meta_put(conn: &Connection, key: Meta, value: &[u8]) -> Result<()> {
    conn.execute(
        "INSERT INTO meta(name, value) VALUES (?1, ?2)
         ON CONFLICT(name) DO UPDATE SET value = excluded.value",
        params![key.name(), value],
    )?;
    Ok(())
}

/// Removes one header value.
pub fn meta_delete(conn: &Connection, key: Meta) -> Result<()> {
    conn.execute("DELETE FROM meta WHERE name = ?1", [key.name()])?;
    Ok(())
}

/// Starts a write transaction on a connection used without a `Transaction` guard (a sync page,
/// which calls back into the vault's own methods while it is open).
pub fn begin_immediate(conn: &Connection) -> Result<()> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    Ok(())
}

/// Commits what [`begin_immediate`] started.
pub fn commit(conn: &Connection) -> Result<()> {
    conn.execute_batch("COMMIT")?;
    Ok(())
}

/// Rolls back an open transaction, if any (best effort: used on paths that already fail).
pub fn rollback(conn: &Connection) {
    if !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
}

/// Copies the write-ahead log into the file and truncates it, so that overwritten bytes (destroyed
/// keys) leave no copy in the log.
/// SQLite reports a checkpoint it could not finish (a reader held an older snapshot) as `busy`
/// rather than an error: that is retried a few times, then reported as
/// [`crate::error::Error::Storage`], never ignored, because the log would still hold the bytes.
pub fn checkpoint_truncate(conn: &Connection) -> Result<()> {
    for attempt in 0..5u64 {
        let (busy, log, done): (i64, i64, i64) =
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?;
        // After TRUNCATE the log is empty (-1/-1 outside WAL mode, which has no log to keep).
        if busy == 0 && (log == done || log <= 0) {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(10 * (attempt + 1)));
    }
    Err(crate::error::Error::Storage("the write-ahead log could not be checkpointed".into()))
}

/// A row of the `keys` table.
#[derive(Debug, Clone)]
pub struct KeyRow {
    /// Key id.
    pub key_id: KeyId,
    /// Owning client record.
    pub client_id: RecordId,
    /// What the key encrypts; `None` for a code this build does not know (a damaged file, or one
    /// a newer Mend wrote): such a key is never chosen for a purpose, but reading it fails nothing.
    pub purpose: Option<KeyPurpose>,
    /// The wrapped key, or `None` once destroyed.
    pub wrapped: Option<Vec<u8>>,
    /// The key's generation: the epoch it was made in (0 before epochs existed).
    pub epoch: u32,
    /// The device that made it, as far as this device knows (the signer of the share that
    /// brought it, the inviting device's word for an invite's keys); `None` before epochs.
    pub maker: Option<DeviceId>,
}

/// Stores a new wrapped data key.
#[allow(clippy::too_many_arguments)]
pub fn key_insert(
    conn: &Connection,
    key_id: &KeyId,
    client: &RecordId,
    purpose: KeyPurpose,
    epoch: u32,
    mine: bool,
    maker: Option<&DeviceId>,
    wrapped: Option<&[u8]>,
) -> Result<()> {
    conn.execute(
        "INSERT INTO keys(key_id, client_id, purpose, wrapped, epoch, mine, maker, added)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, (SELECT coalesce(max(added), 0) + 1 FROM keys))",
        params![
            &key_id.as_bytes()[..],
            &client.as_bytes()[..],
            purpose as u8,
            wrapped,
            epoch,
            mine,
            maker.map(|d| d.as_bytes().to_vec())
        ],
    )?;
    Ok(())
}

/// A stored byte string, read leniently (a value damaged into TEXT is still returned as bytes, so
/// the caller reports the record as corrupt instead of failing the whole query).
fn bytes(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Vec<u8>> {
    match r.get_ref(i)? {
        rusqlite::types::ValueRef::Blob(b) | rusqlite::types::ValueRef::Text(b) => Ok(b.to_vec()),
        _ => Ok(Vec::new()),
    }
}

fn key_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<KeyRow> {
    let kid: Vec<u8> = r.get(0)?;
    let cid: Vec<u8> = r.get(1)?;
    let bad = || rusqlite::Error::InvalidColumnType(0, "id".into(), rusqlite::types::Type::Blob);
    Ok(KeyRow {
        key_id: KeyId::from_slice(&kid).ok_or_else(bad)?,
        client_id: RecordId::from_slice(&cid).ok_or_else(bad)?,
        purpose: KeyPurpose::from_code(r.get(2)?),
        wrapped: match r.get_ref(3)? {
            rusqlite::types::ValueRef::Null => None,
            _ => Some(bytes(r, 3)?),
        },
        epoch: r.get::<_, i64>(4)?.clamp(0, u32::MAX as i64) as u32,
        maker: r.get::<_, Option<Vec<u8>>>(5)?.and_then(|b| DeviceId::from_slice(&b)),
    })
}

/// One key by id.
pub fn key_get(conn: &Connection, key_id: &KeyId) -> Result<Option<KeyRow>> {
    Ok(conn
        .query_row(
            "SELECT key_id, client_id, purpose, wrapped, epoch, maker FROM keys WHERE key_id = ?1",
            [&key_id.as_bytes()[..]],
            key_from_row,
        )
        .optional()?)
}

/// A client's keys.
pub fn keys_of_client(conn: &Connection, client: &RecordId) -> Result<Vec<KeyRow>> {
    let mut st = conn.prepare_cached(
        "SELECT key_id, client_id, purpose, wrapped, epoch, maker FROM keys WHERE client_id = ?1
         ORDER BY purpose, epoch, key_id",
    )?;
    let rows = st.query_map([&client.as_bytes()[..]], key_from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// The clients that hold at least one wrapped (not destroyed) key, in one pass over `keys`.
pub fn clients_holding_keys(conn: &Connection) -> Result<std::collections::HashSet<RecordId>> {
    let mut st =
        conn.prepare_cached("SELECT DISTINCT client_id FROM keys WHERE wrapped IS NOT NULL")?;
    let rows = st.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
    let mut out = std::collections::HashSet::new();
    for id in rows {
        // A damaged id names no client the registry erased; leave it to the reads that use it.
        if let Some(id) = RecordId::from_slice(&id?) {
            out.insert(id);
        }
    }
    Ok(out)
}

/// Every live key of any purpose (the sync key generations included), oldest generation first.
pub fn live_keys(conn: &Connection) -> Result<Vec<KeyRow>> {
    let mut st = conn.prepare_cached(
        "SELECT key_id, client_id, purpose, wrapped, epoch, maker FROM keys
         WHERE wrapped IS NOT NULL ORDER BY client_id, purpose, epoch, key_id",
    )?;
    let rows = st.query_map([], key_from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// The live keys this device made itself, added after number `after` (see [`invited_put`]).
pub fn own_keys_after(conn: &Connection, after: i64) -> Result<Vec<KeyRow>> {
    let mut st = conn.prepare_cached(
        "SELECT key_id, client_id, purpose, wrapped, epoch, maker FROM keys
         WHERE wrapped IS NOT NULL AND mine = 1 AND added > ?1
         ORDER BY client_id, purpose, epoch, key_id",
    )?;
    let rows = st.query_map([after], key_from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// The live keys added after number `after`, whoever made them.
pub fn live_keys_after(conn: &Connection, after: i64) -> Result<Vec<KeyRow>> {
    let mut st = conn.prepare_cached(
        "SELECT key_id, client_id, purpose, wrapped, epoch, maker FROM keys
         WHERE wrapped IS NOT NULL AND added > ?1
         ORDER BY client_id, purpose, epoch, key_id",
    )?;
    let rows = st.query_map([after], key_from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Records that an invite for `device` carried every key up to the newest added now.
pub fn invited_put(conn: &Connection, device: &DeviceId) -> Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO invited(device_id, upto)
         VALUES (?1, (SELECT coalesce(max(added), 0) FROM keys))",
        [&device.as_bytes()[..]],
    )?;
    Ok(())
}

/// The `added` number of the last key an invite for `device` carried (0: none was exported).
pub fn invited_upto(conn: &Connection, device: &DeviceId) -> Result<i64> {
    Ok(conn
        .query_row("SELECT upto FROM invited WHERE device_id = ?1", [&device.as_bytes()[..]], |r| {
            r.get(0)
        })
        .optional()?
        .unwrap_or(0))
}

/// Whether every key this device holds was sealed to `device`'s receiving key `public`.
pub fn sealed_for_contains(
    conn: &Connection,
    device: &DeviceId,
    public: &[u8; 32],
) -> Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM sealed_for WHERE device_id = ?1 AND public = ?2",
            params![&device.as_bytes()[..], &public[..]],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Records that every key this device holds was sealed to `device`'s receiving key `public`.
pub fn sealed_for_put(conn: &Connection, device: &DeviceId, public: &[u8; 32]) -> Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO sealed_for(device_id, public) VALUES (?1, ?2)",
        params![&device.as_bytes()[..], &public[..]],
    )?;
    Ok(())
}

/// Destroys a client's keys: the wrapped bytes are overwritten (secure_delete) and set to NULL.
pub fn keys_destroy(conn: &Connection, client: &RecordId) -> Result<usize> {
    Ok(conn
        .execute("UPDATE keys SET wrapped = NULL WHERE client_id = ?1", [&client.as_bytes()[..]])?)
}

/// The plaintext header of one stored record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocHeader {
    /// Record id.
    pub doc_id: RecordId,
    /// Kind code.
    pub kind: u8,
    /// Owning client.
    pub client_id: RecordId,
    /// Key the record is encrypted under.
    pub key_id: KeyId,
    /// The next sequence number to use.
    pub next_seq: u64,
    /// Sequence number of the stored snapshot.
    pub snapshot_seq: u64,
}

fn header_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DocHeader> {
    let d: Vec<u8> = r.get(0)?;
    let c: Vec<u8> = r.get(2)?;
    let k: Vec<u8> = r.get(3)?;
    let bad = || rusqlite::Error::InvalidColumnType(0, "id".into(), rusqlite::types::Type::Blob);
    Ok(DocHeader {
        doc_id: RecordId::from_slice(&d).ok_or_else(bad)?,
        kind: r.get(1)?,
        client_id: RecordId::from_slice(&c).ok_or_else(bad)?,
        key_id: KeyId::from_slice(&k).ok_or_else(bad)?,
        next_seq: r.get::<_, i64>(4)? as u64,
        snapshot_seq: r.get::<_, i64>(5)? as u64,
    })
}

const HEADER_COLS: &str = "doc_id, kind, client_id, key_id, next_seq, snapshot_seq";

/// Inserts a new record with its first snapshot.
pub fn doc_insert(conn: &Connection, h: &DocHeader, snapshot: &[u8]) -> Result<()> {
    conn.execute(
        "INSERT INTO docs(doc_id, kind, client_id, key_id, next_seq, snapshot_seq, snapshot)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            &h.doc_id.as_bytes()[..],
            h.kind,
            &h.client_id.as_bytes()[..],
            &h.key_id.as_bytes()[..],
            h.next_seq as i64,
            h.snapshot_seq as i64,
            snapshot
        ],
    )?;
    Ok(())
}

/// The header of one record.
pub fn doc_header(conn: &Connection, id: &RecordId) -> Result<Option<DocHeader>> {
    let mut st =
        conn.prepare_cached(&format!("SELECT {HEADER_COLS} FROM docs WHERE doc_id = ?1"))?;
    Ok(st.query_row([&id.as_bytes()[..]], header_from_row).optional()?)
}

/// Headers of a client's records of one kind (or of every kind with `None`).
pub fn doc_headers_of_client(
    conn: &Connection,
    client: &RecordId,
    kind: Option<u8>,
) -> Result<Vec<DocHeader>> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT {HEADER_COLS} FROM docs WHERE client_id = ?1 AND (?2 IS NULL OR kind = ?2)"
    ))?;
    let rows = st.query_map(params![&client.as_bytes()[..], kind], header_from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Headers of every record of one kind.
pub fn doc_headers_of_kind(conn: &Connection, kind: u8) -> Result<Vec<DocHeader>> {
    let mut st = conn.prepare_cached(&format!("SELECT {HEADER_COLS} FROM docs WHERE kind = ?1"))?;
    let rows = st.query_map([kind], header_from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// The stored snapshot and the changes after it, in sequence order.
pub fn doc_parts(conn: &Connection, id: &RecordId) -> Result<DocParts> {
    let snapshot: Vec<u8> = conn
        .prepare_cached("SELECT snapshot FROM docs WHERE doc_id = ?1")?
        .query_row([&id.as_bytes()[..]], |r| bytes(r, 0))?;
    let mut st = conn.prepare_cached(
        "SELECT seq, data FROM changes WHERE doc_id = ?1 AND seq < ?2 ORDER BY seq",
    )?;
    let changes = st
        .query_map(params![&id.as_bytes()[..], HEAD_SEQ], |r| {
            Ok((r.get::<_, i64>(0)? as u64, bytes(r, 1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((snapshot, changes))
}

/// Appends one change at `seq`. (`docs.next_seq` is only a floor: the next sequence number is
/// one past the larger of it and the last stored change, which saves a write per edit.)
pub fn change_append(conn: &Connection, id: &RecordId, seq: u64, data: &[u8]) -> Result<()> {
    conn.prepare_cached("INSERT INTO changes(doc_id, seq, data) VALUES (?1, ?2, ?3)")?
        .execute(params![&id.as_bytes()[..], seq as i64, data])?;
    Ok(())
}

/// Number of changes stored after the snapshot.
pub fn change_count(conn: &Connection, id: &RecordId) -> Result<u64> {
    let n: i64 = conn
        .prepare_cached("SELECT count(*) FROM changes WHERE doc_id = ?1 AND seq < ?2")?
        .query_row(params![&id.as_bytes()[..], HEAD_SEQ], |r| r.get(0))?;
    Ok(n as u64)
}

/// Replaces the snapshot with one taken at `seq` and drops the changes it folds in (`< seq`).
pub fn snapshot_replace(conn: &Connection, id: &RecordId, seq: u64, snapshot: &[u8]) -> Result<()> {
    conn.execute(
        "UPDATE docs SET snapshot = ?2, snapshot_seq = ?3, next_seq = ?3 + 1 WHERE doc_id = ?1",
        params![&id.as_bytes()[..], snapshot, seq as i64],
    )?;
    conn.execute(
        "DELETE FROM changes WHERE doc_id = ?1 AND seq < ?2",
        params![&id.as_bytes()[..], seq as i64],
    )?;
    Ok(())
}

/// The sequence number under which a record's sealed head is kept in `changes` (see
/// `migrations/0005_heads.sql`): the largest key of the record, so the row sits beside the newest
/// change in the same B-tree page and rewriting it with a save touches no other page.
pub const HEAD_SEQ: i64 = i64::MAX;

/// Writes (or replaces) a record's sealed head.
pub fn head_put(conn: &Connection, id: &RecordId, sealed: &[u8]) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO changes(doc_id, seq, data) VALUES (?1, ?2, ?3)
         ON CONFLICT(doc_id, seq) DO UPDATE SET data = excluded.data",
    )?
    .execute(params![&id.as_bytes()[..], HEAD_SEQ, sealed])?;
    Ok(())
}

/// A record's sealed head, if it has one.
pub fn head_get(conn: &Connection, id: &RecordId) -> Result<Option<Vec<u8>>> {
    let mut st = conn.prepare_cached("SELECT data FROM changes WHERE doc_id = ?1 AND seq = ?2")?;
    Ok(st.query_row(params![&id.as_bytes()[..], HEAD_SEQ], |r| bytes(r, 0)).optional()?)
}

/// Every record with the sequence number of its newest stored part (the larger of its snapshot's
/// and its last change's), for the migration that seals heads.
pub fn doc_tops(conn: &Connection) -> Result<Vec<(RecordId, u8, u64)>> {
    let mut st = conn.prepare(
        "SELECT d.doc_id, d.kind, max(d.snapshot_seq, coalesce(max(c.seq), 0))
         FROM docs d LEFT JOIN changes c ON c.doc_id = d.doc_id AND c.seq < ?1
         GROUP BY d.doc_id",
    )?;
    // A row already damaged in the old file is left out (its record then reads as corrupt, for
    // want of a head) rather than keeping the whole file from opening.
    let rows = st.query_map([HEAD_SEQ], |r| {
        Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
    })?;
    let mut out = Vec::new();
    for (id, kind, top) in rows.flatten() {
        if let (Some(id), Ok(kind), Ok(top)) =
            (RecordId::from_slice(&id), u8::try_from(kind), u64::try_from(top))
        {
            out.push((id, kind, top));
        }
    }
    Ok(out)
}

/// Writes (or replaces) the sealed count of a client's records of one kind.
pub fn tally_put(conn: &Connection, client: &RecordId, kind: u8, sealed: &[u8]) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO tallies(client_id, kind, sealed) VALUES (?1, ?2, ?3)
         ON CONFLICT(client_id, kind) DO UPDATE SET sealed = excluded.sealed",
    )?
    .execute(params![&client.as_bytes()[..], kind, sealed])?;
    Ok(())
}

/// The sealed count of a client's records of one kind, if any.
pub fn tally_get(conn: &Connection, client: &RecordId, kind: u8) -> Result<Option<Vec<u8>>> {
    let mut st =
        conn.prepare_cached("SELECT sealed FROM tallies WHERE client_id = ?1 AND kind = ?2")?;
    Ok(st.query_row(params![&client.as_bytes()[..], kind], |r| bytes(r, 0)).optional()?)
}

/// Every sealed count of one client, as `(kind, sealed)`.
pub fn tallies_of(conn: &Connection, client: &RecordId) -> Result<Vec<(u8, Vec<u8>)>> {
    let mut st = conn.prepare_cached("SELECT kind, sealed FROM tallies WHERE client_id = ?1")?;
    let rows = st.query_map([&client.as_bytes()[..]], |r| Ok((r.get(0)?, bytes(r, 1)?)))?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// How many records each client has of each kind, as stored now (for the migration that seals
/// the counts).
pub fn doc_counts(conn: &Connection) -> Result<Vec<(RecordId, u8, u64)>> {
    let mut st =
        conn.prepare("SELECT client_id, kind, count(*) FROM docs GROUP BY client_id, kind")?;
    // As in `doc_tops`, rows already damaged are left out (their lists then read as corrupt).
    let rows = st.query_map([], |r| {
        Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
    })?;
    let mut out = Vec::new();
    for (id, kind, n) in rows.flatten() {
        if let (Some(id), Ok(kind)) = (RecordId::from_slice(&id), u8::try_from(kind)) {
            out.push((id, kind, n as u64));
        }
    }
    Ok(out)
}

/// Writes (or replaces) a record's summary.
pub fn summary_put(conn: &Connection, id: &RecordId, seq: u64, data: &[u8]) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO summaries(doc_id, seq, data) VALUES (?1, ?2, ?3)
         ON CONFLICT(doc_id) DO UPDATE SET seq = excluded.seq, data = excluded.data",
    )?
    .execute(params![&id.as_bytes()[..], seq as i64, data])?;
    Ok(())
}

/// Summaries (with their sequence numbers) of the given records' headers, in one query per
/// client and kind.
pub fn summaries_of_client(
    conn: &Connection,
    client: &RecordId,
    kind: Option<u8>,
) -> Result<Vec<SummaryRow>> {
    let mut st = conn.prepare_cached(
        "SELECT d.doc_id, d.kind, d.client_id, d.key_id, d.next_seq, d.snapshot_seq, s.seq, s.data
         FROM docs d LEFT JOIN summaries s ON s.doc_id = d.doc_id
         WHERE d.client_id = ?1 AND (?2 IS NULL OR d.kind = ?2)",
    )?;
    let rows = st.query_map(params![&client.as_bytes()[..], kind], summary_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Summaries of every record of one kind.
pub fn summaries_of_kind(conn: &Connection, kind: u8) -> Result<Vec<SummaryRow>> {
    let mut st = conn.prepare_cached(
        "SELECT d.doc_id, d.kind, d.client_id, d.key_id, d.next_seq, d.snapshot_seq, s.seq, s.data
         FROM docs d LEFT JOIN summaries s ON s.doc_id = d.doc_id WHERE d.kind = ?1",
    )?;
    let rows = st.query_map([kind], summary_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

fn summary_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SummaryRow> {
    let h = header_from_row(r)?;
    let seq: Option<i64> = r.get(6)?;
    let data: Option<Vec<u8>> = match r.get_ref(7)? {
        rusqlite::types::ValueRef::Null => None,
        _ => Some(bytes(r, 7)?),
    };
    Ok((h, seq.zip(data).map(|(s, d)| (s as u64, d))))
}

/// One unpushed local change, already encrypted: `(device seq, bundle kind, doc, key id, payload)`.
pub type OutboxRow = (u64, u8, RecordId, KeyId, Vec<u8>);

/// Queues a local change for push.
pub fn outbox_put(
    conn: &Connection,
    seq: u64,
    kind: u8,
    doc: &RecordId,
    key: &KeyId,
    payload: &[u8],
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO outbox(seq, kind, doc_id, key_id, payload) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![seq as i64, kind, &doc.as_bytes()[..], &key.as_bytes()[..], payload])?;
    Ok(())
}

/// The oldest unpushed changes, at most `limit`.
pub fn outbox_batch(conn: &Connection, limit: u32) -> Result<Vec<OutboxRow>> {
    let mut st = conn.prepare_cached(
        "SELECT seq, kind, doc_id, key_id, payload FROM outbox ORDER BY seq LIMIT ?1",
    )?;
    let bad = || rusqlite::Error::InvalidColumnType(0, "id".into(), rusqlite::types::Type::Blob);
    let rows = st.query_map([limit], |r| {
        let d: Vec<u8> = r.get(2)?;
        let k: Vec<u8> = r.get(3)?;
        Ok((
            r.get::<_, i64>(0)? as u64,
            r.get(1)?,
            RecordId::from_slice(&d).ok_or_else(bad)?,
            KeyId::from_slice(&k).ok_or_else(bad)?,
            bytes(r, 4)?,
        ))
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// The newest unbroken run of queued saves of one record, as `(device seq, payload bytes)`:
/// record changes (kind 0) under one key with consecutive numbers, all above `above`, newest
/// first, at most `limit`. Empty unless the newest queued row belongs to the record.
pub fn outbox_tail_run(
    conn: &Connection,
    doc: &RecordId,
    key: &KeyId,
    above: u64,
    limit: usize,
) -> Result<Vec<(u64, usize)>> {
    let mut st = conn.prepare_cached(
        "SELECT seq, kind, doc_id, key_id, length(payload) FROM outbox WHERE seq > ?1 ORDER BY seq DESC",
    )?;
    let mut rows = st.query([above as i64])?;
    let mut run: Vec<(u64, usize)> = Vec::new();
    while let Some(r) = rows.next()? {
        let seq = r.get::<_, i64>(0)? as u64;
        let kind: u8 = r.get(1)?;
        let d: Vec<u8> = r.get(2)?;
        let k: Vec<u8> = r.get(3)?;
        let joins = kind == 0
            && d == doc.as_bytes()[..]
            && k == key.as_bytes()[..]
            && run.last().is_none_or(|&(newer, _)| newer == seq + 1);
        if !joins || run.len() >= limit {
            break;
        }
        run.push((seq, r.get::<_, i64>(4)? as usize));
    }
    Ok(run)
}

/// The payload of one queued row.
pub fn outbox_payload(conn: &Connection, seq: u64) -> Result<Option<Vec<u8>>> {
    Ok(conn
        .prepare_cached("SELECT payload FROM outbox WHERE seq = ?1")?
        .query_row([seq as i64], |r| r.get(0))
        .optional()?)
}

/// Replaces the queued rows numbered `from..=to` with one row numbered `to`.
pub fn outbox_replace_run(
    conn: &Connection,
    from: u64,
    to: u64,
    doc: &RecordId,
    key: &KeyId,
    payload: &[u8],
) -> Result<()> {
    conn.prepare_cached("DELETE FROM outbox WHERE seq BETWEEN ?1 AND ?2")?
        .execute([from as i64, to as i64])?;
    outbox_put(conn, to, 0, doc, key, payload)
}

/// Forgets pushed changes up to `seq`.
pub fn outbox_delete_upto(conn: &Connection, seq: u64) -> Result<()> {
    conn.execute("DELETE FROM outbox WHERE seq <= ?1", [seq as i64])?;
    Ok(())
}

/// Unpushed changes of one record's key (dropped when its client is erased).
pub fn outbox_delete_keys(conn: &Connection, keys: &[KeyId]) -> Result<()> {
    for k in keys {
        conn.execute("DELETE FROM outbox WHERE key_id = ?1", [&k.as_bytes()[..]])?;
    }
    Ok(())
}

/// Number of unpushed changes.
pub fn outbox_len(conn: &Connection) -> Result<u64> {
    let n: i64 = conn.query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))?;
    Ok(n as u64)
}

/// Highest queued device sequence number (0 if none).
pub fn outbox_max_seq(conn: &Connection) -> Result<u64> {
    let n: Option<i64> = conn.query_row("SELECT max(seq) FROM outbox", [], |r| r.get(0))?;
    Ok(n.unwrap_or(0) as u64)
}

/// Records that a bundle was applied; `false` if it already was.
pub fn applied_insert(conn: &Connection, device: &DeviceId, seq: u64) -> Result<bool> {
    Ok(conn
        .prepare_cached("INSERT OR IGNORE INTO applied(device_id, seq) VALUES (?1, ?2)")?
        .execute(params![&device.as_bytes()[..], seq as i64])?
        == 1)
}

/// Records the sequence numbers `first..=last` of a device as applied (one bundle covering a
/// run of saves).
pub fn applied_insert_range(
    conn: &Connection,
    device: &DeviceId,
    first: u64,
    last: u64,
) -> Result<()> {
    let mut st =
        conn.prepare_cached("INSERT OR IGNORE INTO applied(device_id, seq) VALUES (?1, ?2)")?;
    for seq in first..=last {
        st.execute(params![&device.as_bytes()[..], seq as i64])?;
    }
    Ok(())
}

/// The highest sequence number applied from a device (0 if none).
pub fn applied_max(conn: &Connection, device: &DeviceId) -> Result<u64> {
    let n: Option<i64> = conn.query_row(
        "SELECT max(seq) FROM applied WHERE device_id = ?1",
        [&device.as_bytes()[..]],
        |r| r.get(0),
    )?;
    Ok(n.unwrap_or(0) as u64)
}

/// Whether a bundle was applied.
pub fn applied_contains(conn: &Connection, device: &DeviceId, seq: u64) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM applied WHERE device_id = ?1 AND seq = ?2")?
        .query_row(params![&device.as_bytes()[..], seq as i64], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Most bundles kept pending; beyond it new ones are refused (a relay cannot fill the disk).
pub const MAX_PENDING: u64 = 10_000;
/// Most bytes of bundles kept pending (64 MiB), for the same reason: a few huge bundles from a
/// signer not known yet must not fill the disk either.
pub const MAX_PENDING_BYTES: u64 = 64 << 20;
/// Pending bundles read at a time: the queue is walked page by page, never loaded whole.
pub const PENDING_PAGE: u32 = 64;

fn pending_id(bundle: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(bundle)[..16].to_vec()
}

/// Keeps a bundle that cannot be applied yet, keyed by its content (so one bundle can never
/// displace another). `false` if the pending store is full (in count or in bytes).
pub fn pending_put(conn: &Connection, relay_seq: u64, bundle: &[u8]) -> Result<bool> {
    let id = pending_id(bundle);
    let known =
        conn.query_row("SELECT 1 FROM pending WHERE id = ?1", [&id], |_| Ok(())).optional()?;
    if known.is_some() {
        return Ok(true);
    }
    let (n, size) = pending_size(conn)?;
    if n >= MAX_PENDING || size + bundle.len() as u64 > MAX_PENDING_BYTES {
        return Ok(false);
    }
    conn.execute(
        "INSERT OR IGNORE INTO pending(id, relay_seq, bundle) VALUES (?1, ?2, ?3)",
        params![id, relay_seq as i64, bundle],
    )?;
    Ok(true)
}

/// How many bundles are pending, and their bytes.
pub fn pending_size(conn: &Connection) -> Result<(u64, u64)> {
    Ok(conn.query_row(
        "SELECT count(*), coalesce(sum(length(bundle)), 0) FROM pending",
        [],
        |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
    )?)
}

/// Where a walk of the pending queue stands: the `(relay seq, id)` of the last bundle read.
pub type PendingCursor = Option<(u64, Vec<u8>)>;
/// Pending bundles as `(relay seq, id, bundle)` (`id`: the key of the bundle's row).
pub type PendingBundles = Vec<(u64, Vec<u8>, Vec<u8>)>;

/// The next [`PENDING_PAGE`] pending bundles after `after`, in relay order, with the cursor to
/// pass next (keyset paging: bundles deleted or added meanwhile do not shift the walk).
pub fn pending_page(
    conn: &Connection,
    after: &PendingCursor,
) -> Result<(PendingBundles, PendingCursor)> {
    let (seq, id) = match after {
        Some((s, id)) => (*s as i64, id.clone()),
        // Below every stored row (a relay seq past 2^63 is stored negative; ids are 16 bytes).
        None => (i64::MIN, Vec::new()),
    };
    let mut st = conn.prepare_cached(
        "SELECT relay_seq, id, bundle FROM pending WHERE (relay_seq, id) > (?1, ?2)
         ORDER BY relay_seq, id LIMIT ?3",
    )?;
    let mut next = None;
    let rows = st.query_map(params![seq, id, PENDING_PAGE], |r| {
        Ok((r.get::<_, i64>(0)? as u64, bytes(r, 1)?, bytes(r, 2)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (s, id, bundle) = row?;
        next = Some((s, id.clone()));
        out.push((s, id, bundle));
    }
    Ok((out, next))
}

/// Forgets the pending bundle stored under `id` (as [`pending_page`] gives it).
pub fn pending_delete_id(conn: &Connection, id: &[u8]) -> Result<()> {
    conn.execute("DELETE FROM pending WHERE id = ?1", [id])?;
    Ok(())
}

/// Queues key ids the relay must drop.
pub fn relay_drops_add(conn: &Connection, keys: &[KeyId]) -> Result<()> {
    for k in keys {
        conn.execute("INSERT OR IGNORE INTO relay_drops(key_id) VALUES (?1)", [&k.as_bytes()[..]])?;
    }
    Ok(())
}

/// Key ids the relay has not yet been told to drop.
pub fn relay_drops_all(conn: &Connection) -> Result<Vec<KeyId>> {
    let mut st = conn.prepare_cached("SELECT key_id FROM relay_drops")?;
    let rows = st.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
    Ok(rows
        .collect::<rusqlite::Result<Vec<_>>>()?
        .into_iter()
        .filter_map(|b| KeyId::from_slice(&b))
        .collect())
}

/// Clears the drop queue.
pub fn relay_drops_clear(conn: &Connection) -> Result<()> {
    conn.execute("DELETE FROM relay_drops", [])?;
    Ok(())
}

/// A device change the relay still has to be told of (stored by its code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum RelayOp {
    /// Let a newly invited device push and pull (with its public key).
    Enroll = 1,
    /// Refuse a revoked device from now on.
    Revoke = 2,
}

impl RelayOp {
    fn from_code(code: u8) -> Option<RelayOp> {
        match code {
            1 => Some(RelayOp::Enroll),
            2 => Some(RelayOp::Revoke),
            _ => None,
        }
    }
}

/// Queues a device change for the relay (a revocation carries no key: zeros).
pub fn relay_queue_put(
    conn: &Connection,
    op: RelayOp,
    device: &DeviceId,
    public: &[u8; 32],
) -> Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO relay_queue(op, device_id, public) VALUES (?1, ?2, ?3)",
        params![op as u8, &device.as_bytes()[..], &public[..]],
    )?;
    Ok(())
}

/// Queued relay operations, enrollments first.
pub fn relay_queue_all(conn: &Connection) -> Result<Vec<(RelayOp, DeviceId, [u8; 32])>> {
    let mut st =
        conn.prepare_cached("SELECT op, device_id, public FROM relay_queue ORDER BY op")?;
    let rows = st.query_map([], |r| {
        Ok((r.get::<_, u8>(0)?, r.get::<_, Vec<u8>>(1)?, r.get::<_, Vec<u8>>(2)?))
    })?;
    Ok(rows
        .collect::<rusqlite::Result<Vec<_>>>()?
        .into_iter()
        .filter_map(|(op, d, p)| {
            Some((
                RelayOp::from_code(op)?,
                DeviceId::from_slice(&d)?,
                <[u8; 32]>::try_from(p.as_slice()).ok()?,
            ))
        })
        .collect())
}

/// Forgets a queued relay operation.
pub fn relay_queue_delete(conn: &Connection, op: RelayOp, device: &DeviceId) -> Result<()> {
    conn.execute(
        "DELETE FROM relay_queue WHERE op = ?1 AND device_id = ?2",
        params![op as u8, &device.as_bytes()[..]],
    )?;
    Ok(())
}

/// Ids of every record.
pub fn doc_ids(conn: &Connection) -> Result<Vec<RecordId>> {
    let mut st = conn.prepare_cached("SELECT doc_id FROM docs")?;
    let rows = st.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
    Ok(rows
        .collect::<rusqlite::Result<Vec<_>>>()?
        .into_iter()
        .filter_map(|b| RecordId::from_slice(&b))
        .collect())
}

/// Each device whose applied sequence numbers have holes, with how many are missing, in device
/// order: `(device id bytes, missing count)`.
pub fn applied_gaps(conn: &Connection) -> Result<Vec<(Vec<u8>, i64)>> {
    let mut st = conn.prepare_cached(
        "SELECT device_id, max(seq) - min(seq) + 1 - count(*) FROM applied GROUP BY device_id ORDER BY device_id",
    )?;
    let rows = st.query_map([], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?.into_iter().filter(|(_, n)| *n > 0).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh() -> Connection {
        let mut conn = Connection::open_in_memory().expect("open");
        crate::store::schema::migrate(&mut conn, &|_, _| Ok(())).expect("schema");
        conn
    }

    #[test]
    fn the_pending_queue_is_bounded_in_bytes() {
        let conn = fresh();
        // 1 MiB bundles, each different: 64 fit in 64 MiB, the 65th is refused.
        let mut kept = 0u64;
        for i in 0u32.. {
            let mut b = vec![0u8; 1 << 20];
            b[..4].copy_from_slice(&i.to_be_bytes());
            if !pending_put(&conn, u64::from(i), &b).expect("put") {
                break;
            }
            kept += 1;
        }
        assert_eq!(kept, MAX_PENDING_BYTES >> 20);
        assert_eq!(pending_size(&conn).expect("size"), (kept, MAX_PENDING_BYTES));
        // A bundle already kept is still accepted (it is not stored twice), a small new one is
        // not: the bound is on bytes, whatever their number.
        let mut first = vec![0u8; 1 << 20];
        first[..4].copy_from_slice(&0u32.to_be_bytes());
        assert!(pending_put(&conn, 0, &first).expect("again"));
        assert!(!pending_put(&conn, 999, b"small").expect("small"));
    }

    #[test]
    fn the_pending_queue_is_walked_a_page_at_a_time_in_relay_order() {
        let conn = fresh();
        // Relay sequence numbers out of order, several bundles under one (their ids differ).
        let n = PENDING_PAGE as u64 * 3 + 5;
        for i in 0..n {
            let seq = (i * 7) % 50;
            pending_put(&conn, seq, format!("bundle {i}").as_bytes()).expect("put");
        }
        let (mut cursor, mut seen, mut pages) = (None, Vec::new(), 0);
        loop {
            let (page, next) = pending_page(&conn, &cursor).expect("page");
            if page.is_empty() {
                break;
            }
            assert!(page.len() <= PENDING_PAGE as usize);
            pages += 1;
            // Deleting what was read does not shift the walk.
            for (_, id, _) in &page {
                pending_delete_id(&conn, id).expect("delete");
            }
            seen.extend(page.into_iter().map(|(s, _, _)| s));
            cursor = next;
        }
        assert_eq!(seen.len() as u64, n);
        assert_eq!(pages, 4);
        assert!(seen.windows(2).all(|w| w[0] <= w[1]), "relay order");
        assert_eq!(pending_size(&conn).expect("size"), (0, 0));
    }
}
