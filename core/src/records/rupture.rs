//! Rupture events and their repair: 3RS markers as add-wins sets, significance and ratings as
//! registers, narrative as merged text, repair attempts and status changes as append-only logs.
//! The status is derived from the log (latest by time), so a merge never regresses it.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjId, ObjType, ReadDoc, ROOT};

use super::am::{self, Reader, Stamp};
use super::enums::*;
use super::model::*;
use super::validate;
use crate::error::{Error, Result};
use crate::ids::RecordId;

/// Checks a new rupture's fields.
pub fn validate(n: &NewRupture) -> Result<()> {
    validate::rating("significance", n.significance)?;
    validate::opt_rating("therapist_contribution_rating", n.therapist_contribution_rating)?;
    if let Some(m) = n.at_minute {
        if !(0..=600).contains(&m) {
            return Err(Error::invalid("at_minute", "must be between 0 and 600"));
        }
    }
    validate::text("narrative", &n.narrative)?;
    validate::text("client_words", &n.client_words)?;
    validate::text("therapist_contribution", &n.therapist_contribution)?;
    validate::text("follow_up_note", &n.follow_up_note)?;
    Ok(())
}

/// Checks a new repair attempt.
pub fn validate_repair(a: &NewRepairAttempt) -> Result<()> {
    if a.strategies.is_empty() {
        return Err(Error::invalid("strategies", "name at least one repair strategy"));
    }
    validate::opt_rating("effect", a.effect)?;
    validate::text("repair note", &a.note)
}

/// Writes a new rupture document; its status log starts at `unaddressed`.
pub fn create(
    doc: &mut AutoCommit,
    id: RecordId,
    n: &NewRupture,
    by: &str,
    stamp: &Stamp,
) -> Result<()> {
    validate(n)?;
    doc.put(ROOT, "id", id.to_string())?;
    doc.put(ROOT, "client_id", n.client_id.to_string())?;
    am::put_opt_str(doc, &ROOT, "session_id", n.session_id.map(|s| s.to_string()).as_deref())?;
    doc.put(ROOT, "occurred_at", n.occurred_at)?;
    am::put_opt_int(doc, &ROOT, "at_minute", n.at_minute)?;
    doc.put(ROOT, "record_class", n.record_class.as_str())?;
    doc.put(ROOT, "movement", n.movement.as_str())?;
    doc.put(ROOT, "initiated_by", n.initiated_by.as_str())?;
    am::put_set(doc, &ROOT, "markers", &n.markers)?;
    am::put_set(doc, &ROOT, "alliance_dimensions", &n.alliance_dimensions)?;
    am::put_set(doc, &ROOT, "precipitants", &n.precipitants)?;
    am::put_opt_str(doc, &ROOT, "detected_by", n.detected_by.map(|d| d.as_str()))?;
    am::put_reg(doc, &ROOT, "significance", n.significance, stamp)?;
    am::put_opt_int(doc, &ROOT, "client_reported_intensity", None)?;
    am::put_opt_int(doc, &ROOT, "therapist_contribution_rating", n.therapist_contribution_rating)?;
    am::put_text(doc, &ROOT, "therapist_contribution", &n.therapist_contribution)?;
    am::put_text(doc, &ROOT, "narrative", &n.narrative)?;
    am::put_text(doc, &ROOT, "client_words", &n.client_words)?;
    am::put_set::<ClientResponse>(doc, &ROOT, "client_response", &[])?;
    doc.put_object(ROOT, "repair_attempts", ObjType::List)?;
    doc.put_object(ROOT, "status_changes", ObjType::List)?;
    doc.put_object(ROOT, "resolutions", ObjType::List)?;
    am::put_opt_int(doc, &ROOT, "resolution_rating", None)?;
    doc.put(ROOT, "follow_up_planned", n.follow_up_planned)?;
    am::put_text(doc, &ROOT, "follow_up_note", &n.follow_up_note)?;
    push_status(doc, RuptureStatus::Unaddressed, n.occurred_at, by, n.session_id)
}

fn push_status(
    doc: &mut AutoCommit,
    to: RuptureStatus,
    at: Timestamp,
    by: &str,
    session: Option<RecordId>,
) -> Result<()> {
    let s = am::push_map(doc, &ROOT, "status_changes")?;
    doc.put(&s, "to", to.as_str())?;
    doc.put(&s, "at", at)?;
    doc.put(&s, "by", by)?;
    am::put_opt_str(doc, &s, "session_id", session.map(|s| s.to_string()).as_deref())
}

fn read_status_log(r: &Reader<'_>) -> Result<Vec<StatusChange>> {
    let mut log = Vec::new();
    for s in r.list_maps(&ROOT, "status_changes")? {
        log.push(StatusChange {
            to: r.parse(&s, "to")?,
            at: r.int(&s, "at")?,
            by: r.str(&s, "by")?,
            session_id: r.opt_parse(&s, "session_id")?,
        });
    }
    // Latest by time wins; equal times order by status so every device derives the same answer.
    log.sort_by_key(|s| (s.at, s.to));
    Ok(log)
}

fn read_repair(r: &Reader<'_>, o: &ObjId) -> Result<RepairAttempt> {
    Ok(RepairAttempt {
        id: r.id(o, "id")?,
        session_id: r.opt_parse(o, "session_id")?,
        at: r.int(o, "at")?,
        strategies: r.set(o, "strategies")?,
        client_response: r.set(o, "client_response")?,
        effect: r.opt_int(o, "effect")?,
        note: r.text(o, "note")?,
    })
}

/// Reads a rupture document.
pub fn read(doc: &AutoCommit, id: RecordId) -> Result<RuptureEvent> {
    let r = Reader::new(doc, id);
    let root = r.root();
    let status_log = read_status_log(&r)?;
    let mut repairs = r
        .list_maps(&root, "repair_attempts")?
        .iter()
        .map(|o| read_repair(&r, o))
        .collect::<Result<Vec<_>>>()?;
    repairs.sort_by_key(|a| (a.at, a.id));
    Ok(RuptureEvent {
        id: r.id(&root, "id")?,
        client_id: r.id(&root, "client_id")?,
        session_id: r.opt_parse(&root, "session_id")?,
        occurred_at: r.int(&root, "occurred_at")?,
        at_minute: r.opt_int(&root, "at_minute")?,
        record_class: r.parse(&root, "record_class")?,
        movement: r.parse(&root, "movement")?,
        initiated_by: r.parse(&root, "initiated_by")?,
        markers: r.set(&root, "markers")?,
        alliance_dimensions: r.set(&root, "alliance_dimensions")?,
        precipitants: r.set(&root, "precipitants")?,
        detected_by: r.opt_parse(&root, "detected_by")?,
        significance: r.reg_int(&root, "significance")?,
        client_reported_intensity: r.opt_int(&root, "client_reported_intensity")?,
        therapist_contribution_rating: r.opt_int(&root, "therapist_contribution_rating")?,
        therapist_contribution: r.text(&root, "therapist_contribution")?,
        narrative: r.text(&root, "narrative")?,
        client_words: r.text(&root, "client_words")?,
        client_response: r.set(&root, "client_response")?,
        repair_attempts: repairs,
        status: status_log.last().map(|s| s.to).unwrap_or(RuptureStatus::Unaddressed),
        status_log,
        resolution_rating: r.opt_int(&root, "resolution_rating")?,
        follow_up_planned: r.flag(&root, "follow_up_planned")?,
        follow_up_note: r.text(&root, "follow_up_note")?,
        voided: read_voided(&r)?,
    })
}

fn read_voided(r: &Reader<'_>) -> Result<Option<Voided>> {
    let Some(v) = r.opt_obj(&ROOT, "voided", ObjType::Map)? else { return Ok(None) };
    Ok(Some(Voided { by: r.str(&v, "by")?, at: r.int(&v, "at")?, reason: r.text(&v, "reason")? }))
}

/// Whether the rupture was voided; a voided rupture takes no more edits.
fn ensure_not_voided(doc: &AutoCommit, id: RecordId) -> Result<()> {
    match read_voided(&Reader::new(doc, id))? {
        Some(_) => Err(Error::invalid("rupture", "voided ruptures cannot be edited")),
        None => Ok(()),
    }
}

/// Marks a rupture as logged in error. Nothing is deleted; voiding twice keeps the first.
pub fn void(
    doc: &mut AutoCommit,
    id: RecordId,
    reason: &str,
    by: &str,
    at: Timestamp,
) -> Result<()> {
    validate::label("by", by, 128)?;
    validate::text("void reason", reason)?;
    if reason.trim().is_empty() {
        return Err(Error::invalid("void reason", "say why the rupture is voided"));
    }
    ensure_not_voided(doc, id)?;
    let v = doc.put_object(ROOT, "voided", ObjType::Map)?;
    doc.put(&v, "by", by)?;
    doc.put(&v, "at", at)?;
    am::put_text(doc, &v, "reason", reason)?;
    Ok(())
}

/// Splices one of a rupture's texts (live typing; concurrent edits merge by character): delete
/// `delete` UTF-16 code units at `pos` (in UTF-16 code units, as UITextView/NSRange and
/// Compose/Android count), then insert `insert`.
pub fn splice_text(
    doc: &mut AutoCommit,
    id: RecordId,
    field: RuptureText,
    pos: usize,
    delete: usize,
    insert: &str,
) -> Result<()> {
    ensure_not_voided(doc, id)?;
    let key = field.as_str();
    let t = match doc.get(ROOT, key)? {
        Some((automerge::Value::Object(ObjType::Text), t)) => t,
        // Ruptures logged before this text existed get it on first use.
        _ if doc.get(ROOT, "id")?.is_none() => return Err(Error::invalid(key, "not a rupture")),
        _ => am::put_text(doc, &ROOT, key, "")?,
    };
    am::splice_text(doc, &t, key, pos, delete, insert)
}

/// Every field an update both sets and clears, or both adds to and removes from a set.
fn contradictions(u: &RuptureUpdate) -> Option<&'static str> {
    use RuptureField as F;
    let sets = |f: F| match f {
        F::SessionId => u.session_id.is_some(),
        F::AtMinute => u.at_minute.is_some(),
        F::DetectedBy => u.detected_by.is_some(),
        F::ClientReportedIntensity => u.client_reported_intensity.is_some(),
        F::TherapistContributionRating => u.therapist_contribution_rating.is_some(),
        F::ResolutionRating => u.resolution_rating.is_some(),
    };
    if let Some(f) = u.clear.iter().find(|f| sets(**f)) {
        return Some(f.as_str());
    }
    fn both<T: PartialEq>(a: &[T], b: &[T]) -> bool {
        a.iter().any(|x| b.contains(x))
    }
    if both(&u.add_markers, &u.remove_markers) {
        Some("markers")
    } else if both(&u.add_alliance_dimensions, &u.remove_alliance_dimensions) {
        Some("alliance_dimensions")
    } else if both(&u.add_precipitants, &u.remove_precipitants) {
        Some("precipitants")
    } else if both(&u.add_client_response, &u.remove_client_response) {
        Some("client_response")
    } else {
        None
    }
}

/// Applies an update. Every value is checked before anything is written.
pub fn update(doc: &mut AutoCommit, id: RecordId, u: &RuptureUpdate, stamp: &Stamp) -> Result<()> {
    ensure_not_voided(doc, id)?;
    if let Some(field) = contradictions(u) {
        return Err(Error::invalid(
            field,
            "an update cannot both set and clear (or add and remove) it",
        ));
    }
    if let Some(s) = u.significance {
        validate::rating("significance", s)?;
    }
    validate::opt_rating("client_reported_intensity", u.client_reported_intensity)?;
    validate::opt_rating("therapist_contribution_rating", u.therapist_contribution_rating)?;
    validate::opt_rating("resolution_rating", u.resolution_rating)?;
    if u.at_minute.is_some_and(|m| !(0..=600).contains(&m)) {
        return Err(Error::invalid("at_minute", "must be between 0 and 600"));
    }
    for (field, text) in [
        ("narrative", &u.narrative),
        ("client_words", &u.client_words),
        ("therapist_contribution", &u.therapist_contribution),
        ("follow_up_note", &u.follow_up_note),
    ] {
        if let Some(t) = text {
            validate::text(field, t)?;
        }
    }

    if let Some(at) = u.occurred_at {
        doc.put(ROOT, "occurred_at", at)?;
    }
    if let Some(s) = u.session_id {
        doc.put(ROOT, "session_id", s.to_string())?;
    }
    if let Some(m) = u.at_minute {
        doc.put(ROOT, "at_minute", m)?;
    }
    if let Some(m) = u.movement {
        doc.put(ROOT, "movement", m.as_str())?;
    }
    if let Some(i) = u.initiated_by {
        doc.put(ROOT, "initiated_by", i.as_str())?;
    }
    if let Some(d) = u.detected_by {
        doc.put(ROOT, "detected_by", d.as_str())?;
    }
    if let Some(s) = u.significance {
        am::put_reg(doc, &ROOT, "significance", s, stamp)?;
    }
    for (key, v) in [
        ("client_reported_intensity", u.client_reported_intensity),
        ("therapist_contribution_rating", u.therapist_contribution_rating),
        ("resolution_rating", u.resolution_rating),
    ] {
        if let Some(v) = v {
            doc.put(ROOT, key, v)?;
        }
    }
    for f in &u.clear {
        doc.put(ROOT, f.as_str(), automerge::ScalarValue::Null)?;
    }
    if let Some(p) = u.follow_up_planned {
        doc.put(ROOT, "follow_up_planned", p)?;
    }
    for (items, present) in [(&u.add_markers, true), (&u.remove_markers, false)] {
        for m in items {
            am::set_member(doc, &ROOT, "markers", m, present)?;
        }
    }
    for (items, present) in
        [(&u.add_alliance_dimensions, true), (&u.remove_alliance_dimensions, false)]
    {
        for d in items {
            am::set_member(doc, &ROOT, "alliance_dimensions", d, present)?;
        }
    }
    for (items, present) in [(&u.add_precipitants, true), (&u.remove_precipitants, false)] {
        for p in items {
            am::set_member(doc, &ROOT, "precipitants", p, present)?;
        }
    }
    for (items, present) in [(&u.add_client_response, true), (&u.remove_client_response, false)] {
        for c in items {
            am::set_member(doc, &ROOT, "client_response", c, present)?;
        }
    }
    for (field, text) in [
        (RuptureText::Narrative, &u.narrative),
        (RuptureText::ClientWords, &u.client_words),
        (RuptureText::TherapistContribution, &u.therapist_contribution),
        (RuptureText::FollowUpNote, &u.follow_up_note),
    ] {
        if let Some(t) = text {
            am::update_text(doc, &ROOT, field.as_str(), t)?;
        }
    }
    Ok(())
}

/// Appends a repair attempt; returns its id.
pub fn add_repair(
    doc: &mut AutoCommit,
    rupture: RecordId,
    a: &NewRepairAttempt,
) -> Result<RecordId> {
    ensure_not_voided(doc, rupture)?;
    validate_repair(a)?;
    let id = RecordId::random();
    let o = am::push_map(doc, &ROOT, "repair_attempts")?;
    doc.put(&o, "id", id.to_string())?;
    am::put_opt_str(doc, &o, "session_id", a.session_id.map(|s| s.to_string()).as_deref())?;
    doc.put(&o, "at", a.at)?;
    am::put_set(doc, &o, "strategies", &a.strategies)?;
    am::put_set(doc, &o, "client_response", &a.client_response)?;
    am::put_opt_int(doc, &o, "effect", a.effect)?;
    am::put_text(doc, &o, "note", &a.note)?;
    Ok(id)
}

/// Appends a status change.
pub fn change_status(
    doc: &mut AutoCommit,
    id: RecordId,
    to: RuptureStatus,
    at: Timestamp,
    by: &str,
    session: Option<RecordId>,
) -> Result<()> {
    ensure_not_voided(doc, id)?;
    validate::label("by", by, 128)?;
    push_status(doc, to, at, by, session)
}

/// The client a rupture belongs to.
pub fn client_of(doc: &AutoCommit, id: RecordId) -> Result<RecordId> {
    Reader::new(doc, id).parse(&ROOT, "client_id")
}

/// The record class a rupture was created with (decides its key).
pub fn record_class(doc: &AutoCommit, id: RecordId) -> Result<RecordClass> {
    Reader::new(doc, id).parse(&ROOT, "record_class")
}
