//! How many records each client has of each kind, sealed under the vault key (see
//! `migrations/0005_heads.sql`), so that a list never comes back silently short.
//!
//! Which rows a list reads is decided by plaintext columns (a record's client id and kind) and
//! by the file's indexes; a flipped byte in either can make a record vanish from its client's
//! timeline or move it to another client, with every envelope still opening. Records are never
//! deleted (erasure destroys keys, the rows stay), so the counts only grow: one more in the same
//! transaction that stores a new record, and a list that reads a different number of rows than
//! its counts say is [`Error::Corrupt`] for the client. The all-ones client id counts each kind
//! across the vault, for the lists that are not per client.

use std::collections::BTreeMap;

use rusqlite::Connection;

use crate::crypto::{Part, SecretKey};
use crate::error::{Error, Result};
use crate::ids::{RecordId, VaultId};
use crate::keyring;
use crate::store::db::{self, SummaryRow};

/// The "client" whose counts are vault-wide.
pub(crate) const ALL_CLIENTS: RecordId = RecordId::from_bytes([0xff; 16]);

/// The stored count of `client`'s records of `kind` (0 if none is stored yet).
fn get(
    conn: &Connection,
    (vault_key, vault): (&SecretKey, VaultId),
    client: RecordId,
    kind: u8,
) -> Result<u64> {
    match db::tally_get(conn, &client, kind)? {
        None => Ok(0),
        Some(sealed) => keyring::open_count(vault_key, vault, (client, kind, Part::Tally), &sealed)
            .ok_or_else(|| Error::corrupt(client, "record count")),
    }
}

/// Sets the count of `client`'s records of `kind` to `n`.
pub(crate) fn put(
    conn: &Connection,
    (vault_key, vault): (&SecretKey, VaultId),
    client: RecordId,
    kind: u8,
    n: u64,
) -> Result<()> {
    db::tally_put(
        conn,
        &client,
        kind,
        &keyring::seal_count(vault_key, vault, (client, kind, Part::Tally), n),
    )
}

/// Counts one new record of `kind` for `client`, and across the vault (inside the transaction
/// that stores it).
pub(crate) fn count_new(
    conn: &Connection,
    vault: (&SecretKey, VaultId),
    client: RecordId,
    kind: u8,
) -> Result<()> {
    for c in [client, ALL_CLIENTS] {
        let n = get(conn, vault, c, kind)?;
        put(conn, vault, c, kind, n + 1)?;
    }
    Ok(())
}

/// Seals the counts of the records stored now (the migration step that adds them).
pub(crate) fn count_existing(conn: &Connection, vault: (&SecretKey, VaultId)) -> Result<()> {
    let mut all: BTreeMap<u8, u64> = BTreeMap::new();
    for (client, kind, n) in db::doc_counts(conn)? {
        put(conn, vault, client, kind, n)?;
        *all.entry(kind).or_default() += n;
    }
    for (kind, n) in all {
        put(conn, vault, ALL_CLIENTS, kind, n)?;
    }
    Ok(())
}

/// Checks that `rows`, read for `client` (or [`ALL_CLIENTS`]) and `kind` (or every kind), are as
/// many as its counts say.
pub(crate) fn check(
    conn: &Connection,
    vault: (&SecretKey, VaultId),
    client: RecordId,
    kind: Option<u8>,
    rows: &[SummaryRow],
) -> Result<()> {
    let mut read: BTreeMap<u8, u64> = BTreeMap::new();
    for (h, _) in rows {
        *read.entry(h.kind).or_default() += 1;
    }
    let mut counted: BTreeMap<u8, u64> = BTreeMap::new();
    match kind {
        Some(k) => {
            counted.insert(k, get(conn, vault, client, k)?);
        }
        None => {
            for (k, sealed) in db::tallies_of(conn, &client)? {
                let n = keyring::open_count(vault.0, vault.1, (client, k, Part::Tally), &sealed)
                    .ok_or_else(|| Error::corrupt(client, "record count"))?;
                counted.insert(k, n);
            }
        }
    }
    read.retain(|_, n| *n > 0);
    counted.retain(|_, n| *n > 0);
    if read != counted {
        let (r, c): (u64, u64) = (read.values().sum(), counted.values().sum());
        return Err(Error::corrupt(client, format!("list: {r} records read, {c} stored")));
    }
    Ok(())
}
