//! Sessions and their notes: scheduling and attendance; SOAP/DAP/BIRP/GIRP notes typed live,
//! signed (which locks them), co-signed, amended by signed addenda, and their late divergent
//! edits turned into addenda or discarded. The rules are in [`crate::records::note`]; this file
//! only finds the records and keys and saves.

use super::Vault;
use crate::crypto::signing::DeviceKey;
use crate::crypto::KeyPurpose;
use crate::error::{Error, Result};
use crate::ids::RecordId;
use crate::records::enums::*;
use crate::records::model::*;
use crate::records::note::{self, CodeSet, Divergence, DivergenceChoice, Signer};
use crate::records::{session, Kind};

impl Vault {
    /// Adds a session for a client.
    pub fn create_session(&self, s: &NewSession) -> Result<RecordId> {
        session::validate(s)?;
        let mut g = self.lock();
        g.read(s.client_id, Kind::Client, |_| Ok(()))?;
        let kid = g.keys.of_client(&g.conn, s.client_id, KeyPurpose::Record)?;
        let id = RecordId::random();
        g.create_doc(id, Kind::Session, s.client_id, kid, |doc| session::create(doc, id, s))?;
        Ok(id)
    }

    /// Reads a session.
    pub fn session(&self, id: RecordId) -> Result<Session> {
        self.lock().read(id, Kind::Session, |doc| session::read(doc, id))
    }

    /// Records whether a session took place, with its actual times.
    pub fn set_session_status(
        &self,
        id: RecordId,
        status: SessionStatus,
        actual_start: Option<Timestamp>,
        actual_end: Option<Timestamp>,
    ) -> Result<()> {
        self.lock().edit(id, Kind::Session, |doc| {
            session::set_status(doc, id, status, actual_start, actual_end)
        })
    }

    /// Starts a note for a session.
    pub fn create_note(&self, n: &NewNote) -> Result<RecordId> {
        note::validate(n)?;
        let mut g = self.lock();
        let s = g.read(n.session_id, Kind::Session, |doc| session::read(doc, n.session_id))?;
        let kid = g.keys.of_client(&g.conn, s.client_id, KeyPurpose::Record)?;
        let id = RecordId::random();
        let stamp = g.stamp();
        g.create_doc(id, Kind::Note, s.client_id, kid, |doc| {
            note::create(doc, id, s.client_id, s.scheduled_start, n, &stamp)
        })?;
        Ok(id)
    }

    /// Reads a note (current content, signatures, addenda and derived state).
    pub fn note(&self, id: RecordId) -> Result<SessionNote> {
        self.lock().read(id, Kind::Note, |doc| note::read(doc, id))
    }

    /// Live typing: delete `delete` UTF-16 code units at `pos` in a section, then insert `insert`.
    /// Positions and lengths are in UTF-16 code units, as UITextView/NSRange and Compose/Android
    /// count; one that splits a surrogate pair or lies outside the text is a validation error and
    /// changes nothing.
    pub fn splice_note_section(
        &self,
        id: RecordId,
        section: &str,
        pos: usize,
        delete: usize,
        insert: &str,
    ) -> Result<()> {
        self.lock().type_in_note(id, section, pos, delete, insert)
    }

    /// Replaces a section's text (stored as a minimal diff).
    pub fn set_note_section(&self, id: RecordId, section: &str, text: &str) -> Result<()> {
        self.lock().edit_text(id, Kind::Note, |doc| note::set_section(doc, id, section, text))
    }

    /// Sets the note's risk assessment.
    pub fn set_note_risk(&self, id: RecordId, risk: &Risk) -> Result<()> {
        let mut g = self.lock();
        let stamp = g.stamp();
        g.edit(id, Kind::Note, |doc| note::set_risk(doc, id, risk, &stamp))
    }

    /// Changes a note's format while it has no content yet.
    pub fn set_note_format(&self, id: RecordId, format: NoteFormat) -> Result<()> {
        let mut g = self.lock();
        let stamp = g.stamp();
        g.edit(id, Kind::Note, |doc| note::set_format(doc, id, format, &stamp))
    }

    /// Adds or removes a diagnosis, intervention or addressed goal.
    pub fn set_note_code(
        &self,
        id: RecordId,
        set: CodeSet,
        code: &str,
        present: bool,
    ) -> Result<()> {
        self.lock().edit(id, Kind::Note, |doc| note::set_code(doc, id, set, code, present))
    }

    /// Signs a note with this device's key (author signature, co-signature or return).
    pub fn sign_note(&self, id: RecordId, req: &SignRequest) -> Result<()> {
        let mut g = self.lock();
        let signer_key = DeviceKey::from_seed(&g.device_key.seed()[..])
            .map_err(|_| Error::Internal("device key".into()))?;
        let device_id = g.device_id;
        g.edit(id, Kind::Note, |doc| {
            note::sign(doc, id, &Signer { key: &signer_key, device_id }, req)
        })
    }

    /// The note's content exactly as signed, verified against its signature.
    pub fn signed_content(&self, id: RecordId) -> Result<SignedContent> {
        self.lock().read(id, Kind::Note, |doc| note::signed_content(doc, id))
    }

    /// Late edits to a signed note made on a device that had not yet seen the signature, if
    /// any are unresolved. The signed content is unaffected.
    pub fn note_divergence(&self, id: RecordId) -> Result<Option<Divergence>> {
        self.lock().read(id, Kind::Note, |doc| note::divergence(doc, id))
    }

    /// Turns a divergence into a draft addendum (returned) or discards it; the choice syncs.
    pub fn resolve_divergence(
        &self,
        id: RecordId,
        choice: &DivergenceChoice,
    ) -> Result<Option<RecordId>> {
        let mut g = self.lock();
        let stamp = g.stamp();
        g.edit(id, Kind::Note, |doc| note::resolve_divergence(doc, id, choice, &stamp))
    }

    /// Starts an addendum on a signed note.
    pub fn add_addendum(&self, id: RecordId, a: &NewAddendum) -> Result<RecordId> {
        self.lock().edit(id, Kind::Note, |doc| note::add_addendum(doc, id, a))
    }

    /// Replaces a draft addendum's body.
    pub fn set_addendum_body(&self, id: RecordId, addendum: RecordId, body: &str) -> Result<()> {
        self.lock().edit(id, Kind::Note, |doc| note::set_addendum_body(doc, id, addendum, body))
    }

    /// Signs an addendum, which locks it.
    pub fn sign_addendum(&self, id: RecordId, addendum: RecordId, req: &SignRequest) -> Result<()> {
        let mut g = self.lock();
        let signer_key = DeviceKey::from_seed(&g.device_key.seed()[..])
            .map_err(|_| Error::Internal("device key".into()))?;
        let device_id = g.device_id;
        g.edit(id, Kind::Note, |doc| {
            note::sign_addendum(doc, id, addendum, &Signer { key: &signer_key, device_id }, req)
        })
    }

    /// Checks every addendum signature of a note.
    pub fn verify_addenda(&self, id: RecordId) -> Result<()> {
        self.lock().read(id, Kind::Note, |doc| note::verify_addenda(doc, id))
    }
}
