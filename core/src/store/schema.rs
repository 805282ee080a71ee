//! Schema and migrations of the vault file.
//!
//! `PRAGMA user_version` holds the schema version. Migrations are numbered `.sql` files applied one
//! step per transaction. A file from a newer build is refused with [`Error::SchemaTooNew`] — never
//! downgraded or wiped.

use rusqlite::Connection;

use crate::error::{Error, Result};

/// Migrations in order; entry `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_initial.sql"),
    include_str!("../../migrations/0002_summaries.sql"),
    include_str!("../../migrations/0003_sync.sql"),
    include_str!("../../migrations/0004_epochs.sql"),
    include_str!("../../migrations/0005_heads.sql"),
];

/// The version that added sealed record heads (`0005_heads.sql`), filled by the step's hook.
pub const HEADS_VERSION: i64 = 5;

/// The schema version this build writes.
pub const CURRENT_VERSION: i64 = MIGRATIONS.len() as i64;

/// The file's schema version (0 for a new, empty file).
pub fn version(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

/// Refuses files written by a newer build.
pub fn check_supported(conn: &Connection) -> Result<i64> {
    let found = version(conn)?;
    if found > CURRENT_VERSION {
        return Err(Error::SchemaTooNew { found, supported: CURRENT_VERSION });
    }
    if found < 0 {
        return Err(Error::NotAVault("negative schema version"));
    }
    Ok(found)
}

/// Applies every missing migration, one transaction per step. `then(tx, version)` runs inside
/// each step's transaction after its SQL, for what SQL cannot do (filling values sealed under the
/// vault key), so a step is never half done.
pub fn migrate(conn: &mut Connection, then: &dyn Fn(&Connection, i64) -> Result<()>) -> Result<()> {
    let mut v = check_supported(conn)?;
    while v < CURRENT_VERSION {
        let tx = conn.transaction()?;
        tx.execute_batch(MIGRATIONS[v as usize])?;
        then(&tx, v + 1)?;
        tx.pragma_update(None, "user_version", v + 1)?;
        tx.commit()?;
        v += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema_of(conn: &Connection) -> Vec<(String, String)> {
        let mut st = conn
            .prepare("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
            .expect("prepare");
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<std::result::Result<Vec<_>, _>>()
            .expect("rows");
        rows
    }

    /// A file frozen at version 1 (schema text copied here, not read from the migration, so that
    /// editing an old migration by mistake makes this test fail) migrates to the fresh schema.
    #[test]
    fn frozen_v1_file_migrates_to_current_schema() {
        let mut old = Connection::open_in_memory().expect("open");
        old.execute_batch(include_str!("../../tests/fixtures/schema_v1.sql")).expect("v1");
        old.pragma_update(None, "user_version", 1).expect("version");
        old.execute("INSERT INTO meta(name, value) VALUES ('vault_id', x'00')", []).expect("row");
        migrate(&mut old, &|_, _| Ok(())).expect("migrates");
        assert_eq!(version(&old).expect("v"), CURRENT_VERSION);
        let kept: i64 =
            old.query_row("SELECT count(*) FROM meta", [], |r| r.get(0)).expect("count");
        assert_eq!(kept, 1, "migration must keep existing rows");

        let mut fresh = Connection::open_in_memory().expect("open");
        migrate(&mut fresh, &|_, _| Ok(())).expect("fresh");
        assert_eq!(schema_of(&old), schema_of(&fresh));
    }

    #[test]
    fn newer_schema_is_refused_not_wiped() {
        let mut conn = Connection::open_in_memory().expect("open");
        migrate(&mut conn, &|_, _| Ok(())).expect("fresh");
        conn.pragma_update(None, "user_version", CURRENT_VERSION + 1).expect("bump");
        assert_eq!(
            migrate(&mut conn, &|_, _| Ok(())),
            Err(Error::SchemaTooNew { found: CURRENT_VERSION + 1, supported: CURRENT_VERSION })
        );
        assert_eq!(version(&conn).expect("v"), CURRENT_VERSION + 1);
    }
}
