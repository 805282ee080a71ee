//! The PostgreSQL store: what a clinic group runs. Relay instances are stateless and share one
//! database. Relay sequence numbers are allocated per vault under that vault's row lock, so they
//! commit in order and a puller never skips a bundle that commits late.

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

use super::NO_LABEL;
use super::{DeviceRow, Id, NewBundle, Pulled, Store, StoreError, StoreResult};

/// PostgreSQL-backed relay storage.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
}

fn backend<E: std::fmt::Display>(e: E) -> StoreError {
    // Database errors name statements and constraints, never bound values.
    StoreError::Backend(e.to_string().chars().take(200).collect())
}

const SCHEMA: &str = "
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
    let row = tx
        .query_opt("SELECT next_seq FROM vaults WHERE vault = $1 FOR UPDATE", &[&&vault[..]])
        .await
        .map_err(backend)?
        .ok_or(StoreError::Conflict("unknown vault"))?;
    Ok(row.get(0))
}

#[async_trait]
impl Store for PostgresStore {
    async fn migrate(&self) -> StoreResult<()> {
        let c = self.client().await?;
        // Serialise concurrent instances creating the schema.
        c.batch_execute(&format!(
            "SELECT pg_advisory_lock(4242); {SCHEMA} SELECT pg_advisory_unlock(4242);"
        ))
        .await
        .map_err(backend)
    }

    async fn register_vault(&self, vault: Id, device: Id, public: [u8; 32]) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(backend)?;
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
        let row = c
            .query_opt(
                "SELECT public, revoked FROM devices WHERE vault = $1 AND device = $2",
                &[&&vault[..], &&device[..]],
            )
            .await
            .map_err(backend)?;
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
        let mut seq = lock_next_seq(&tx, vault).await?;
        let mut new = 0;
        for b in bundles {
            let inserted = tx
                .execute(
                    "INSERT INTO bundles(vault, seq, doc, key_id, device, device_seq, data)
                     SELECT $1, $2, $3, $4, $5, $6, $7 WHERE NOT EXISTS
                        (SELECT 1 FROM tombstones WHERE vault = $1 AND key_id = $4)
                     ON CONFLICT DO NOTHING",
                    &[
                        &&vault[..],
                        &seq,
                        &&b.doc[..],
                        &&b.key_id[..],
                        &&b.device[..],
                        &b.device_seq,
                        &b.bytes,
                    ],
                )
                .await
                .map_err(backend)?;
            if inserted == 1 {
                seq += 1;
                new += 1;
            }
        }
        tx.execute("UPDATE vaults SET next_seq = $2 WHERE vault = $1", &[&&vault[..], &seq])
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(new)
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
        let rows = c
            .query(
                "SELECT seq, data FROM (
                    SELECT seq, data,
                        coalesce(sum(octet_length(data)) OVER (ORDER BY seq
                            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
                    FROM (SELECT seq, data FROM bundles WHERE vault = $1 AND seq > $2
                          ORDER BY seq LIMIT $3) AS page
                ) AS sized
                WHERE before + octet_length(data) <= $4::bigint OR before = 0
                ORDER BY seq",
                &[&&vault[..], &since, &(limit as i64), &(max_bytes.min(i64::MAX as usize) as i64)],
            )
            .await
            .map_err(backend)?;
        let items: Vec<(i64, Vec<u8>)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        let last = items.last().map(|i| i.0).unwrap_or(since);
        let remaining: i64 = c
            .query_one(
                "SELECT count(*) FROM bundles WHERE vault = $1 AND seq > $2",
                &[&&vault[..], &last],
            )
            .await
            .map_err(backend)?
            .get(0);
        let head: i64 = c
            .query_opt("SELECT next_seq - 1 FROM vaults WHERE vault = $1", &[&&vault[..]])
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
        tx.execute(
            "DELETE FROM bundles WHERE vault = $1 AND doc = $2 AND seq <= $3",
            &[&&vault[..], &&s.doc[..], &covers],
        )
        .await
        .map_err(backend)?;
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
            "UPDATE vaults SET next_seq = $2 WHERE vault = $1",
            &[&&vault[..], &(seq + inserted as i64)],
        )
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn drop_keys(&self, vault: Id, keys: Vec<Id>) -> StoreResult<u64> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(backend)?;
        let mut n = 0;
        for k in keys.iter().filter(|k| **k != NO_LABEL) {
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
        tx.commit().await.map_err(backend)?;
        Ok(n)
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

    async fn remember_request(
        &self,
        vault: Id,
        device: Id,
        signature: [u8; 64],
        at: i64,
        forget_before: i64,
    ) -> StoreResult<bool> {
        let c = self.client().await?;
        c.execute(
            "DELETE FROM requests WHERE vault = $1 AND device = $2 AND at < $3",
            &[&&vault[..], &&device[..], &forget_before],
        )
        .await
        .map_err(backend)?;
        Ok(c.execute(
            "INSERT INTO requests(vault, device, signature, at) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
            &[&&vault[..], &&device[..], &&signature[..], &at],
        )
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
}
