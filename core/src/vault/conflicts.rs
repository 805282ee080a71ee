//! Conflicts on clinically meaningful values (two devices set a rupture's significance, a
//! client's status … differently while offline): listed with device and time, and resolved by a
//! choice that syncs. Only records whose encrypted summary is flagged are loaded.

use super::Vault;
use crate::error::{Error, Result};
use crate::ids::RecordId;
use crate::records::conflict::{self, Conflict};
use crate::records::{note, Kind};
use crate::store::db;

impl Vault {
    /// Every open conflict in the vault. Only records whose (encrypted) summary is flagged as
    /// conflicted are loaded.
    pub fn conflicts(&self) -> Result<Vec<Conflict>> {
        let mut g = self.lock();
        let mut rows = Vec::new();
        for kind in [Kind::Client, Kind::Note, Kind::Rupture] {
            let of_kind = db::summaries_of_kind(&g.conn, kind as u8)?;
            g.check_list(super::tallies::ALL_CLIENTS, Some(kind as u8), &of_kind)?;
            rows.extend(of_kind);
        }
        let rows = g.open_summaries(rows)?;
        let mut out = Vec::new();
        for row in rows.iter().filter(|r| r.conflicted) {
            let id = row.header.doc_id;
            let Some(kind) = Kind::from_code(row.header.kind) else { continue };
            match g.read(id, kind, |doc| conflict::of(kind, doc, id)) {
                Ok(c) => out.extend(c),
                Err(Error::Corrupt { .. }) | Err(Error::Erased(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// The open conflicts of one record.
    pub fn conflicts_of(&self, id: RecordId) -> Result<Vec<Conflict>> {
        let mut g = self.lock();
        let h = db::doc_header(&g.conn, &id)?.ok_or(Error::NotFound { kind: "record", id })?;
        let kind = Kind::from_code(h.kind).ok_or_else(|| Error::corrupt(id, "kind"))?;
        g.read(id, kind, |doc| conflict::of(kind, doc, id))
    }

    /// Resolves a conflict with a typed choice, as an inbox offers it from
    /// [`ConflictValue::choice`](crate::records::conflict::ConflictValue): the field follows from
    /// the choice; a choice for a field the record kind does not have is a validation error.
    pub fn resolve_conflict_with(
        &self,
        id: RecordId,
        choice: &conflict::ConflictChoice,
    ) -> Result<()> {
        let mut g = self.lock();
        let kind = g.kind_of(id)?;
        let stamp = g.stamp();
        if kind == Kind::Note {
            g.read(id, kind, |doc| note::ensure_draft(doc, id))?;
        }
        g.edit(id, kind, |doc| conflict::resolve_with(kind, doc, id, choice, &stamp))
    }

    /// Resolves a conflict by choosing a value; the choice is recorded and syncs.
    pub fn resolve_conflict(&self, id: RecordId, field: &str, value: &str) -> Result<()> {
        let mut g = self.lock();
        let kind = g.kind_of(id)?;
        let stamp = g.stamp();
        if kind == Kind::Note {
            g.read(id, kind, |doc| note::ensure_draft(doc, id))?;
        }
        g.edit(id, kind, |doc| conflict::resolve(kind, doc, id, field, value, &stamp))
    }
}
