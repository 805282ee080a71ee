//! The therapeutic alliance: rupture events with their 3RS markers, repair attempts and status
//! history, and WAI-SR alliance measures. A rupture classed as a psychotherapy note is sealed
//! under the client's separate process key. The rules are in [`crate::records::rupture`] and
//! [`crate::records::measure`].

use super::{Inner, Vault};
use crate::crypto::KeyPurpose;
use crate::error::{Error, Result};
use crate::ids::RecordId;
use crate::records::enums::*;
use crate::records::model::*;
use crate::records::{measure, rupture, session, Kind};

impl Vault {
    /// Logs a rupture. Ruptures classed as psychotherapy notes are encrypted under the client's
    /// separate process key.
    pub fn create_rupture(&self, r: &NewRupture, by: &str) -> Result<RecordId> {
        rupture::validate(r)?;
        crate::records::validate::label("by", by, 128)?;
        let mut g = self.lock();
        g.read(r.client_id, Kind::Client, |_| Ok(()))?;
        g.check_session(r.session_id, r.client_id)?;
        let purpose = match r.record_class {
            RecordClass::PsychotherapyNote => KeyPurpose::Process,
            RecordClass::ProgressRecord => KeyPurpose::Record,
        };
        let kid = g.keys.of_client(&g.conn, r.client_id, purpose)?;
        let id = RecordId::random();
        let stamp = g.stamp();
        g.create_doc(id, Kind::Rupture, r.client_id, kid, |doc| {
            rupture::create(doc, id, r, by, &stamp)
        })?;
        Ok(id)
    }

    /// Reads a rupture with its repair attempts and derived status.
    pub fn rupture(&self, id: RecordId) -> Result<RuptureEvent> {
        self.lock().read(id, Kind::Rupture, |doc| rupture::read(doc, id))
    }

    /// Corrects a logged rupture: ratings, sets, texts, session and time. A session of another
    /// client is refused.
    pub fn update_rupture(&self, id: RecordId, u: &RuptureUpdate) -> Result<()> {
        let mut g = self.lock();
        g.check_rupture_session(id, u.session_id)?;
        let stamp = g.stamp();
        g.edit(id, Kind::Rupture, |doc| rupture::update(doc, id, u, &stamp))
    }

    /// Splices one of a rupture's texts, for live typing: delete `delete` UTF-16 code units at
    /// `pos`, then insert `insert`. Positions and lengths are in UTF-16 code units, as
    /// UITextView/NSRange and Compose/Android count; one that splits a surrogate pair or lies
    /// outside the text is a validation error and changes nothing. Concurrent edits on other
    /// devices merge by character.
    pub fn splice_rupture_text(
        &self,
        id: RecordId,
        field: RuptureText,
        pos: usize,
        delete: usize,
        insert: &str,
    ) -> Result<()> {
        self.lock().edit_text(id, Kind::Rupture, |doc| {
            rupture::splice_text(doc, id, field, pos, delete, insert)
        })
    }

    /// Marks a rupture as logged in error. It stays readable (and on the timeline, marked
    /// voided) but leaves the unresolved list and the counts, and takes no further edits.
    pub fn void_rupture(&self, id: RecordId, reason: &str, by: &str, at: Timestamp) -> Result<()> {
        self.lock().edit(id, Kind::Rupture, |doc| rupture::void(doc, id, reason, by, at))
    }

    /// Logs a repair attempt.
    pub fn add_repair_attempt(&self, id: RecordId, a: &NewRepairAttempt) -> Result<RecordId> {
        let mut g = self.lock();
        g.check_rupture_session(id, a.session_id)?;
        g.edit(id, Kind::Rupture, |doc| rupture::add_repair(doc, id, a))
    }

    /// Appends a status change (the status is the latest change by time).
    pub fn set_rupture_status(
        &self,
        id: RecordId,
        to: RuptureStatus,
        at: Timestamp,
        by: &str,
        session_id: Option<RecordId>,
    ) -> Result<()> {
        let mut g = self.lock();
        g.check_rupture_session(id, session_id)?;
        g.edit(id, Kind::Rupture, |doc| rupture::change_status(doc, id, to, at, by, session_id))
    }

    /// Records an alliance measure (immutable afterwards).
    pub fn record_measure(&self, m: &NewMeasure) -> Result<RecordId> {
        measure::validate(m)?;
        let mut g = self.lock();
        g.read(m.client_id, Kind::Client, |_| Ok(()))?;
        let kid = g.keys.of_client(&g.conn, m.client_id, KeyPurpose::Record)?;
        let id = RecordId::random();
        g.create_doc(id, Kind::Measure, m.client_id, kid, |doc| measure::create(doc, id, m))?;
        Ok(id)
    }

    /// Reads an alliance measure with its derived scores.
    pub fn measure(&self, id: RecordId) -> Result<AllianceMeasure> {
        self.lock().read(id, Kind::Measure, |doc| measure::read(doc, id))
    }
}

impl Inner {
    /// Refuses a session that is missing or belongs to another client.
    fn check_session(&mut self, session_id: Option<RecordId>, client: RecordId) -> Result<()> {
        let Some(s) = session_id else { return Ok(()) };
        let owner = self.read(s, Kind::Session, |doc| session::read(doc, s))?.client_id;
        if owner != client {
            return Err(Error::invalid("session_id", "belongs to another client"));
        }
        Ok(())
    }

    /// `check_session` against the client of a logged rupture.
    fn check_rupture_session(&mut self, id: RecordId, session_id: Option<RecordId>) -> Result<()> {
        if session_id.is_none() {
            return Ok(());
        }
        let client = self.read(id, Kind::Rupture, |doc| rupture::client_of(doc, id))?;
        self.check_session(session_id, client)
    }
}
