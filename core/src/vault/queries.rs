//! Lists and timelines, read from the records' encrypted summaries without loading a document:
//! clients, a client's timeline and notes, unresolved ruptures, rupture counts per session and
//! the alliance trend. An erased or damaged record is flagged in the results, never an error; a
//! list that reads fewer or more records than the client's sealed counts say (a row lost or
//! moved by damage to the file) is [`Error::Corrupt`] for the client, never a shorter list (see
//! `tallies`).

use super::tallies::ALL_CLIENTS;
use super::Vault;
use crate::error::{Error, Result};
use crate::ids::RecordId;
use crate::query;
use crate::records::Kind;
use crate::store::db;

impl Vault {
    /// Every client, erased and unreadable ones included (flagged), ordered by alias.
    pub fn clients(&self) -> Result<Vec<query::ClientSummary>> {
        let mut g = self.lock();
        let rows = db::summaries_of_kind(&g.conn, Kind::Client as u8)?;
        g.check_list(ALL_CLIENTS, Some(Kind::Client as u8), &rows)?;
        let rows = g.open_summaries(rows)?;
        Ok(query::clients(rows))
    }

    /// A client's timeline: sessions, notes, ruptures and measures by date.
    pub fn timeline(&self, client_id: RecordId) -> Result<Vec<query::TimelineEntry>> {
        let rows = self.client_summaries(client_id, None)?;
        Ok(query::timeline(rows))
    }

    /// A client's notes by date of service.
    pub fn notes_of_client(&self, client_id: RecordId) -> Result<Vec<query::TimelineEntry>> {
        let rows = self.client_summaries(client_id, Some(Kind::Note))?;
        Ok(query::timeline(rows))
    }

    /// A client's unresolved ruptures, oldest first.
    pub fn unresolved_ruptures(&self, client_id: RecordId) -> Result<Vec<query::RuptureSummary>> {
        let rows = self.client_summaries(client_id, Some(Kind::Rupture))?;
        Ok(query::unresolved_ruptures(rows))
    }

    /// Rupture counts by movement for each of a client's sessions, in session order.
    pub fn rupture_counts(&self, client_id: RecordId) -> Result<Vec<query::SessionRuptureCounts>> {
        let rows = self.client_summaries(client_id, None)?;
        Ok(query::rupture_counts(rows))
    }

    /// A client's alliance trend: WAI-SR subscales per administration, superseded ones left out.
    pub fn alliance_trend(&self, client_id: RecordId) -> Result<Vec<query::AlliancePoint>> {
        let rows = self.client_summaries(client_id, Some(Kind::Measure))?;
        Ok(query::alliance_trend(rows))
    }

    fn client_summaries(&self, client_id: RecordId, kind: Option<Kind>) -> Result<Vec<query::Row>> {
        let mut g = self.lock();
        let rows = db::summaries_of_client(&g.conn, &client_id, kind.map(|k| k as u8))?;
        if rows.is_empty() && db::keys_of_client(&g.conn, &client_id)?.is_empty() {
            return Err(Error::NotFound { kind: "client", id: client_id });
        }
        g.check_list(client_id, kind.map(|k| k as u8), &rows)?;
        g.open_summaries(rows)
    }
}
