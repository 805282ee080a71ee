//! The PostgreSQL store: what a clinic group runs. Relay instances are stateless and share one
//! database. Relay sequence numbers are allocated per vault under that vault's row lock, so they
//! commit in order and a puller never skips a bundle that commits late.

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

use super::NO_LABEL;
use super::{
    DeviceRow, Id, NewBundle, PoolStatus, Pulled, Store, StoreError, StoreResult, Usage,
    SCHEMA_VERSION,
};

/// PostgreSQL-backed relay storage.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
}

fn backend<E: std::fmt::Display>(e: E) -> StoreError {
    // Database errors name statements and constraints, never bound values.
    StoreError::Backend(e.to_string().chars().take(200).collect())
}

/// One push in one statement: the bundles arrive as arrays; those the vault holds already (by
/// device and device sequence number, also twice in the same push) or whose key is tombstoned
/// are left out, and the rest take relay sequence numbers from `$2` on in the order they came.
/// Answers how many were stored and their bytes.
const PUSH: &str = "
WITH input AS (
    SELECT * FROM unnest($3::bytea[], $4::bytea[], $5::bytea[], $6::bigint[], $7::bytea[])
        WITH ORDINALITY AS i(doc, key_id, device, device_seq, data, ord)
), fresh AS (
    SELECT DISTINCT ON (device, device_seq) * FROM input i
    WHERE NOT EXISTS (SELECT 1 FROM tombstones t WHERE t.vault = $1 AND t.key_id = i.key_id)
      AND NOT EXISTS (SELECT 1 FROM bundles b
                      WHERE b.vault = $1 AND b.device = i.device AND b.device_seq = i.device_seq)
    ORDER BY device, device_seq, ord
), stored AS (
    INSERT INTO bundles(vault, seq, doc, key_id, device, device_seq, data)
    SELECT $1, $2::bigint + row_number() OVER (ORDER BY ord) - 1,
           doc, key_id, device, device_seq, data
    FROM fresh
    RETURNING octet_length(data) AS size
)
SELECT count(*), coalesce(sum(size), 0)::bigint FROM stored";

/// Version 1, the first schema, as relays before versioned migrations created it (a store
/// from then has these tables and no `schema_version` table).
const V1: &str = "
CREATE TABLE IF NOT EXISTS vaults (
    vault BYTEA PRIMARY KEY, next_seq BIGINT NOT NULL, first_device BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS devices (
    vault BYTEA NOT NULL, device BYTEA NOT NULL, public BYTEA NOT NULL, revoked BOOLEAN NOT NULL,
    PRIMARY KEY (vault, device)
);
CREATE TABLE IF NOT EXISTS bundles (
    vault BYTEA NOT NULL, seq BIGINT NOT NULL, doc BYTEA NOT NULL, key_id BYTEA NOT NULL,
    device BYTEA NOT NULL, device_seq BIGINT NOT NULL, data BYTEA NOT NULL,
    PRIMARY KEY (vault, seq)
);
CREATE UNIQUE INDEX IF NOT EXISTS bundles_by_device ON bundles(vault, device, device_seq);
CREATE INDEX IF NOT EXISTS bundles_by_doc ON bundles(vault, doc, seq);
CREATE INDEX IF NOT EXISTS bundles_by_key ON bundles(vault, key_id);
CREATE TABLE IF NOT EXISTS tombstones (
    vault BYTEA NOT NULL, key_id BYTEA NOT NULL, PRIMARY KEY (vault, key_id)
);
CREATE TABLE IF NOT EXISTS invites (
    vault BYTEA NOT NULL, invite BYTEA NOT NULL, PRIMARY KEY (vault, invite)
);
CREATE TABLE IF NOT EXISTS requests (
    vault BYTEA NOT NULL, device BYTEA NOT NULL, signature BYTEA NOT NULL, at BIGINT NOT NULL,
    PRIMARY KEY (vault, device, signature)
);
";

/// Version 2: each vault's stored bytes (for its quota), counted once from what is stored, and
/// operator-issued registration tokens (SHA-256 of the token; the vault that used it). The
/// token table is the one table not keyed by vault (a reference table when distributed).
const V2: &str = "
ALTER TABLE vaults ADD COLUMN bytes BIGINT NOT NULL DEFAULT 0;
UPDATE vaults SET bytes = (SELECT coalesce(sum(octet_length(data)), 0) FROM bundles
                           WHERE bundles.vault = vaults.vault);
CREATE TABLE registration_tokens (
    hash BYTEA PRIMARY KEY, issued_at BIGINT NOT NULL, vault BYTEA
);
";

/// The migrations, in order: `MIGRATIONS[i]` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [V1, V2];

/// Bytes of the bundles a `WHERE` clause over `bundles` selects.
async fn bytes_where(
    tx: &deadpool_postgres::Transaction<'_>,
    clause: &str,
    p: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> StoreResult<i64> {
    let row = tx
        .query_one(
            &format!(
                "SELECT coalesce(sum(octet_length(data)), 0)::bigint FROM bundles WHERE {clause}"
            ),
            p,
        )
        .await
        .map_err(backend)?;
    Ok(row.get(0))
}
impl PostgresStore {
    /// Connects a pool to `url` (`postgres://user:pass@host:port/db`).
    pub fn connect(url: &str, max_connections: usize) -> StoreResult<Self> {
        let config: tokio_postgres::Config = url.parse().map_err(backend)?;
        let mgr = Manager::from_config(
            config,
            NoTls,
            ManagerConfig { recycling_method: RecyclingMethod::Fast },
        );
        let pool = Pool::builder(mgr).max_size(max_connections).build().map_err(backend)?;
        Ok(Self { pool })
    }

    async fn client(&self) -> StoreResult<deadpool_postgres::Object> {
        self.pool.get().await.map_err(backend)
    }
}

fn arr32(v: Vec<u8>) -> StoreResult<[u8; 32]> {
    v.try_into().map_err(|_| StoreError::Backend("stored key has the wrong length".into()))
}

async fn enroll(
    c: &impl deadpool_postgres::GenericClient,
    vault: Id,
    device: Id,
    public: [u8; 32],
) -> StoreResult<()> {
    let existing = c
        .query_opt(
            "SELECT public FROM devices WHERE vault = $1 AND device = $2",
            &[&&vault[..], &&device[..]],
        )
        .await
        .map_err(backend)?;
    match existing {
        Some(row) => {
            let p: Vec<u8> = row.get(0);
            if p != public {
                return Err(StoreError::Conflict("device enrolled with another key"));
            }
            Ok(())
        }
        None => {
            c.execute(
                "INSERT INTO devices(vault, device, public, revoked) VALUES ($1, $2, $3, false)
                 ON CONFLICT DO NOTHING",
                &[&&vault[..], &&device[..], &&public[..]],
            )
            .await
            .map_err(backend)?;
            Ok(())
        }
    }
}

async fn lock_next_seq(tx: &deadpool_postgres::Transaction<'_>, vault: Id) -> StoreResult<i64> {
    let st = tx
        .prepare_cached("SELECT next_seq FROM vaults WHERE vault = $1 FOR UPDATE")
        .await
        .map_err(backend)?;
    let row = tx
        .query_opt(&st, &[&&vault[..]])
        .await
        .map_err(backend)?
        .ok_or(StoreError::Conflict("unknown vault"))?;
    Ok(row.get(0))
}

#[async_trait]
impl Store for PostgresStore {
    async fn migrate(&self) -> StoreResult<()> {
        let mut c = self.client().await?;
        loop {
            let tx = c.transaction().await.map_err(backend)?;
            // Serialise concurrent instances migrating (released at commit).
            tx.batch_execute(
                "SELECT pg_advisory_xact_lock(4242);
                 CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);",
            )
            .await
            .map_err(backend)?;
            let at = tx
                .query_opt("SELECT version FROM schema_version", &[])
                .await
                .map_err(backend)?
                .map(|r| r.get::<_, i32>(0).max(0) as u32)
                .unwrap_or(0);
            if at > SCHEMA_VERSION {
                return Err(StoreError::Backend(format!(
                    "store schema version {at} is newer than this relay's ({SCHEMA_VERSION})"
                )));
            }
            if at == SCHEMA_VERSION {
                return Ok(());
            }
            tx.batch_execute(MIGRATIONS[at as usize]).await.map_err(backend)?;
            tx.batch_execute(&format!(
                "DELETE FROM schema_version; INSERT INTO schema_version VALUES ({});",
                at + 1
            ))
            .await
            .map_err(backend)?;
            tx.commit().await.map_err(backend)?;
            tracing::info!(version = at + 1, "relay store migrated");
        }
    }

    async fn schema_version(&self) -> StoreResult<u32> {
        let c = self.client().await?;
        let exists: bool = c
            .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])
            .await
            .map_err(backend)?
            .get(0);
        if !exists {
            return Ok(0);
        }
        Ok(c.query_opt("SELECT version FROM schema_version", &[])
            .await
            .map_err(backend)?
            .map(|r| r.get::<_, i32>(0).max(0) as u32)
            .unwrap_or(0))
    }

    async fn issue_token(&self, hash: [u8; 32], issued_at: i64) -> StoreResult<()> {
        let c = self.client().await?;
        let n = c
            .execute(
                "INSERT INTO registration_tokens(hash, issued_at) VALUES ($1, $2)
                 ON CONFLICT DO NOTHING",
                &[&&hash[..], &issued_at],
            )
            .await
            .map_err(backend)?;
        if n == 0 {
            return Err(StoreError::Conflict("token already issued"));
        }
        Ok(())
    }

    async fn usage(&self, vault: Id) -> StoreResult<Usage> {
        let c = self.client().await?;
        let st = c
            .prepare_cached(
                "SELECT bytes, (SELECT count(*) FROM devices WHERE vault = $1)
                 FROM vaults WHERE vault = $1",
            )
            .await
            .map_err(backend)?;
        let row = c.query_opt(&st, &[&&vault[..]]).await.map_err(backend)?;
        Ok(row
            .map(|r| Usage {
                bytes: r.get::<_, i64>(0).max(0) as u64,
                devices: r.get::<_, i64>(1).max(0) as u64,
            })
            .unwrap_or_default())
    }

    async fn register_vault(
        &self,
        vault: Id,
        device: Id,
        public: [u8; 32],
        token: Option<[u8; 32]>,
    ) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(backend)?;
        let first = tx
            .query_opt("SELECT first_device FROM vaults WHERE vault = $1", &[&&vault[..]])
            .await
            .map_err(backend)?;
        if first.is_none() {
            if let Some(hash) = token {
                let used = tx
                    .execute(
                        "UPDATE registration_tokens SET vault = $2
                         WHERE hash = $1 AND (vault IS NULL OR vault = $2)",
                        &[&&hash[..], &&vault[..]],
                    )
                    .await
                    .map_err(backend)?;
                if used == 0 {
                    return Err(StoreError::BadToken);
                }
            }
        }
        tx.execute(
            "INSERT INTO vaults(vault, next_seq, first_device) VALUES ($1, 1, $2) ON CONFLICT DO NOTHING",
            &[&&vault[..], &&device[..]],
        )
        .await
        .map_err(backend)?;
        let first: Vec<u8> = tx
            .query_one("SELECT first_device FROM vaults WHERE vault = $1", &[&&vault[..]])
            .await
            .map_err(backend)?
            .get(0);
        if first != device {
            return Err(StoreError::Conflict("vault already registered"));
        }
        enroll(&tx, vault, device, public).await?;
        tx.commit().await.map_err(backend)
    }

    async fn vault_exists(&self, vault: Id) -> StoreResult<bool> {
        let c = self.client().await?;
        Ok(c.query_opt("SELECT 1 FROM vaults WHERE vault = $1", &[&&vault[..]])
            .await
            .map_err(backend)?
            .is_some())
    }

    async fn device(&self, vault: Id, device: Id) -> StoreResult<Option<DeviceRow>> {
        let c = self.client().await?;
        let st = c
            .prepare_cached("SELECT public, revoked FROM devices WHERE vault = $1 AND device = $2")
            .await
            .map_err(backend)?;
        let row = c.query_opt(&st, &[&&vault[..], &&device[..]]).await.map_err(backend)?;
        row.map(|r| Ok(DeviceRow { public: arr32(r.get(0))?, revoked: r.get(1) })).transpose()
    }

    async fn enroll_device(&self, vault: Id, device: Id, public: [u8; 32]) -> StoreResult<()> {
        let c = self.client().await?;
        enroll(&c, vault, device, public).await
    }

    async fn revoke_device(&self, vault: Id, device: Id) -> StoreResult<()> {
        let c = self.client().await?;
        c.execute(
            "UPDATE devices SET revoked = true WHERE vault = $1 AND device = $2",
            &[&&vault[..], &&device[..]],
        )
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn push(&self, vault: Id, bundles: Vec<NewBundle>) -> StoreResult<u64> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(backend)?;
        // Under the vault's row lock, so this statement's snapshot sees every push before it.
        let seq = lock_next_seq(&tx, vault).await?;
        let insert = tx.prepare_cached(PUSH).await.map_err(backend)?;
        let column = |f: fn(&NewBundle) -> &[u8]| bundles.iter().map(f).collect::<Vec<_>>();
        let device_seqs: Vec<i64> = bundles.iter().map(|b| b.device_seq).collect();
        let row = tx
            .query_one(
                &insert,
                &[
                    &&vault[..],
                    &seq,
                    &column(|b| &b.doc[..]),
                    &column(|b| &b.key_id[..]),
                    &column(|b| &b.device[..]),
                    &device_seqs,
                    &column(|b| &b.bytes[..]),
                ],
            )
            .await
            .map_err(backend)?;
        let (new, added): (i64, i64) = (row.get(0), row.get(1));
        let update = tx
            .prepare_cached("UPDATE vaults SET next_seq = $2, bytes = bytes + $3 WHERE vault = $1")
            .await
            .map_err(backend)?;
        tx.execute(&update, &[&&vault[..], &(seq + new), &added]).await.map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(new.max(0) as u64)
    }

    async fn pull(
        &self,
        vault: Id,
        since: i64,
        limit: u32,
        max_bytes: usize,
    ) -> StoreResult<Pulled> {
        let c = self.client().await?;
        // `before` is the size of the bundles ahead of a row in this page: a row comes while
        // that is under the bound, so the first always comes.
        let page = c
            .prepare_cached(
                "SELECT seq, data FROM (
                    SELECT seq, data,
                        coalesce(sum(octet_length(data)) OVER (ORDER BY seq
                            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
                    FROM (SELECT seq, data FROM bundles WHERE vault = $1 AND seq > $2
                          ORDER BY seq LIMIT $3) AS page
                ) AS sized
                WHERE before + octet_length(data) <= $4::bigint OR before = 0
                ORDER BY seq",
            )
            .await
            .map_err(backend)?;
        let rows = c
            .query(
                &page,
                &[&&vault[..], &since, &(limit as i64), &(max_bytes.min(i64::MAX as usize) as i64)],
            )
            .await
            .map_err(backend)?;
        let items: Vec<(i64, Vec<u8>)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        let last = items.last().map(|i| i.0).unwrap_or(since);
        let count = c
            .prepare_cached("SELECT count(*) FROM bundles WHERE vault = $1 AND seq > $2")
            .await
            .map_err(backend)?;
        let remaining: i64 =
            c.query_one(&count, &[&&vault[..], &last]).await.map_err(backend)?.get(0);
        let head = c
            .prepare_cached("SELECT next_seq - 1 FROM vaults WHERE vault = $1")
            .await
            .map_err(backend)?;
        let head: i64 = c
            .query_opt(&head, &[&&vault[..]])
            .await
            .map_err(backend)?
            .map(|r| r.get(0))
            .unwrap_or(0);
        Ok((items, remaining as u64, head))
    }

    async fn put_snapshot(&self, vault: Id, covers: i64, s: NewBundle) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(backend)?;
        let seq = lock_next_seq(&tx, vault).await?;
        let clause = "vault = $1 AND doc = $2 AND seq <= $3";
        let freed = bytes_where(&tx, clause, &[&&vault[..], &&s.doc[..], &covers]).await?;
        tx.execute(
            &format!("DELETE FROM bundles WHERE {clause}"),
            &[&&vault[..], &&s.doc[..], &covers],
        )
        .await
        .map_err(backend)?;
        let size = s.bytes.len() as i64;
        let inserted = tx
            .execute(
                "INSERT INTO bundles(vault, seq, doc, key_id, device, device_seq, data)
                 SELECT $1, $2, $3, $4, $5, $6, $7 WHERE NOT EXISTS
                    (SELECT 1 FROM tombstones WHERE vault = $1 AND key_id = $4)
                 ON CONFLICT DO NOTHING",
                &[
                    &&vault[..],
                    &seq,
                    &&s.doc[..],
                    &&s.key_id[..],
                    &&s.device[..],
                    &s.device_seq,
                    &s.bytes,
                ],
            )
            .await
            .map_err(backend)?;
        tx.execute(
            "UPDATE vaults SET next_seq = $2, bytes = greatest(0, bytes + $3) WHERE vault = $1",
            &[&&vault[..], &(seq + inserted as i64), &(size * inserted as i64 - freed)],
        )
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn drop_keys(&self, vault: Id, keys: Vec<Id>) -> StoreResult<u64> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(backend)?;
        // The vault's row lock, as pushes and snapshots take it: a push under one of these keys
        // either committed before (and is deleted here) or runs after (and sees the tombstone).
        // A vault the store does not know (re-applying the log to an older backup) has no row.
        tx.query_opt("SELECT 1 FROM vaults WHERE vault = $1 FOR UPDATE", &[&&vault[..]])
            .await
            .map_err(backend)?;
        let mut n = 0;
        let mut freed = 0i64;
        for k in keys.iter().filter(|k| **k != NO_LABEL) {
            freed +=
                bytes_where(&tx, "vault = $1 AND key_id = $2", &[&&vault[..], &&k[..]]).await?;
            n += tx
                .execute(
                    "DELETE FROM bundles WHERE vault = $1 AND key_id = $2",
                    &[&&vault[..], &&k[..]],
                )
                .await
                .map_err(backend)?;
            tx.execute(
                "INSERT INTO tombstones(vault, key_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&&vault[..], &&k[..]],
            )
            .await
            .map_err(backend)?;
        }
        tx.execute(
            "UPDATE vaults SET bytes = greatest(0, bytes - $2) WHERE vault = $1",
            &[&&vault[..], &freed],
        )
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(n)
    }

    async fn advance_sequences(&self, by: i64) -> StoreResult<u64> {
        let c = self.client().await?;
        // The one statement that spans vaults (a multi-shard update on a distributed database).
        c.execute("UPDATE vaults SET next_seq = next_seq + $1", &[&by.max(0)])
            .await
            .map_err(backend)
    }

    async fn claim_invite(&self, vault: Id, invite: Id) -> StoreResult<bool> {
        let c = self.client().await?;
        Ok(c.execute(
            "INSERT INTO invites(vault, invite) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&&vault[..], &&invite[..]],
        )
        .await
        .map_err(backend)?
            == 1)
    }

    async fn tombstoned(&self, vault: Id, keys: Vec<Id>) -> StoreResult<(Vec<Id>, u64)> {
        let c = self.client().await?;
        let wanted: Vec<&[u8]> = keys.iter().map(|k| &k[..]).collect();
        let rows = c
            .query(
                "SELECT key_id FROM tombstones WHERE vault = $1 AND key_id = ANY($2::bytea[])",
                &[&&vault[..], &wanted],
            )
            .await
            .map_err(backend)?;
        let held: std::collections::HashSet<Vec<u8>> = rows.iter().map(|r| r.get(0)).collect();
        let held = keys.into_iter().filter(|k| held.contains(&k[..])).collect();
        let all: i64 = c
            .query_one("SELECT count(*) FROM tombstones WHERE vault = $1", &[&&vault[..]])
            .await
            .map_err(backend)?
            .get(0);
        Ok((held, all.max(0) as u64))
    }

    async fn spend_token(&self, hash: [u8; 32], vault: Id) -> StoreResult<()> {
        let c = self.client().await?;
        c.execute(
            "UPDATE registration_tokens SET vault = $2 WHERE hash = $1 AND vault IS NULL",
            &[&&hash[..], &&vault[..]],
        )
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn remember_request(
        &self,
        vault: Id,
        device: Id,
        signature: [u8; 64],
        at: i64,
        forget_before: i64,
    ) -> StoreResult<bool> {
        let c = self.client().await?;
        let forget = c
            .prepare_cached("DELETE FROM requests WHERE vault = $1 AND device = $2 AND at < $3")
            .await
            .map_err(backend)?;
        c.execute(&forget, &[&&vault[..], &&device[..], &forget_before]).await.map_err(backend)?;
        let remember = c
            .prepare_cached(
                "INSERT INTO requests(vault, device, signature, at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING",
            )
            .await
            .map_err(backend)?;
        Ok(c.execute(&remember, &[&&vault[..], &&device[..], &&signature[..], &at])
            .await
            .map_err(backend)?
            == 1)
    }

    async fn dump(&self, vault: Id) -> StoreResult<Vec<Vec<u8>>> {
        let c = self.client().await?;
        let rows = c
            .query("SELECT data FROM bundles WHERE vault = $1 ORDER BY seq", &[&&vault[..]])
            .await
            .map_err(backend)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn pool(&self) -> Option<PoolStatus> {
        let s = self.pool.status();
        Some(PoolStatus { max: s.max_size, open: s.size, idle: s.available, waiting: s.waiting })
    }
}
