//! The session record: when it was, whether it happened, and how.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT};

use super::am::{self, Reader};
use super::enums::SessionStatus;
use super::model::{NewSession, Session};
use crate::error::{Error, Result};
use crate::ids::RecordId;

/// Checks a new session's fields.
pub fn validate(s: &NewSession) -> Result<()> {
    if let (Some(a), Some(b)) = (s.actual_start, s.actual_end) {
        if b < a {
            return Err(Error::invalid("actual_end", "must not be before actual_start"));
        }
    }
    if let Some(c) = &s.cpt_code {
        super::validate::label("cpt_code", c, 16)?;
    }
    Ok(())
}

/// Writes a new session document.
pub fn create(doc: &mut AutoCommit, id: RecordId, s: &NewSession) -> Result<()> {
    validate(s)?;
    doc.put(ROOT, "id", id.to_string())?;
    doc.put(ROOT, "client_id", s.client_id.to_string())?;
    doc.put(ROOT, "scheduled_start", s.scheduled_start)?;
    am::put_opt_int(doc, &ROOT, "actual_start", s.actual_start)?;
    am::put_opt_int(doc, &ROOT, "actual_end", s.actual_end)?;
    doc.put(ROOT, "status", s.status.as_str())?;
    doc.put(ROOT, "modality", s.modality.as_str())?;
    doc.put(ROOT, "setting", s.setting.as_str())?;
    am::put_opt_str(doc, &ROOT, "cpt_code", s.cpt_code.as_deref())?;
    Ok(())
}

/// Reads a session document.
pub fn read(doc: &AutoCommit, id: RecordId) -> Result<Session> {
    let r = Reader::new(doc, id);
    let root = r.root();
    Ok(Session {
        id: r.id(&root, "id")?,
        client_id: r.id(&root, "client_id")?,
        scheduled_start: r.int(&root, "scheduled_start")?,
        actual_start: r.opt_int(&root, "actual_start")?,
        actual_end: r.opt_int(&root, "actual_end")?,
        status: r.parse(&root, "status")?,
        modality: r.parse(&root, "modality")?,
        setting: r.parse(&root, "setting")?,
        cpt_code: r.opt_str(&root, "cpt_code")?,
    })
}

/// Records that the session took place (or was cancelled), with its times.
/// A time not given keeps the stored one, and the end may not come before the start.
pub fn set_status(
    doc: &mut AutoCommit,
    id: RecordId,
    status: SessionStatus,
    actual_start: Option<i64>,
    actual_end: Option<i64>,
) -> Result<()> {
    let stored = read(doc, id)?;
    let start = actual_start.or(stored.actual_start);
    let end = actual_end.or(stored.actual_end);
    if let (Some(a), Some(b)) = (start, end) {
        if b < a {
            return Err(Error::invalid("actual_end", "must not be before actual_start"));
        }
    }
    doc.put(ROOT, "status", status.as_str())?;
    if actual_start.is_some() {
        am::put_opt_int(doc, &ROOT, "actual_start", actual_start)?;
    }
    if actual_end.is_some() {
        am::put_opt_int(doc, &ROOT, "actual_end", actual_end)?;
    }
    Ok(())
}
