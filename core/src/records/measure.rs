//! Alliance measures (WAI-SR and relatives): item numbers and scores only — item text is the
//! instrument owner's. Immutable once recorded; a correction is a new measure that supersedes it.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ReadDoc, ROOT};

use super::am::{self, Reader};
use super::enums::Instrument;
use super::model::*;
use crate::error::{Error, Result};
use crate::ids::RecordId;

/// Items and scale of an instrument: `(item count, scale points)`.
fn shape(i: Instrument) -> (u8, i64) {
    match i {
        Instrument::WaiSr | Instrument::WaiSrTherapist => (12, 5),
        Instrument::WaiS => (12, 7),
        Instrument::WaiFull => (36, 7),
        Instrument::PsqRupture => (3, 5),
        Instrument::Other => (60, 10),
    }
}

/// Checks item numbers and scores against the instrument.
pub fn validate(m: &NewMeasure) -> Result<()> {
    let (count, points) = shape(m.instrument);
    let mut seen = std::collections::BTreeSet::new();
    for (item, score) in &m.items {
        if *item < 1 || *item > count {
            return Err(Error::invalid(
                "items",
                format!("item {item} does not exist; {} has items 1–{count}", m.instrument),
            ));
        }
        if *score < 1 || *score > points {
            return Err(Error::invalid("items", format!("item {item} must be scored 1–{points}")));
        }
        if !seen.insert(*item) {
            return Err(Error::invalid("items", format!("item {item} is given twice")));
        }
    }
    Ok(())
}

/// Writes a new measure document.
pub fn create(doc: &mut AutoCommit, id: RecordId, m: &NewMeasure) -> Result<()> {
    validate(m)?;
    doc.put(ROOT, "id", id.to_string())?;
    doc.put(ROOT, "client_id", m.client_id.to_string())?;
    am::put_opt_str(doc, &ROOT, "session_id", m.session_id.map(|s| s.to_string()).as_deref())?;
    doc.put(ROOT, "instrument", m.instrument.as_str())?;
    doc.put(ROOT, "rater", m.rater.as_str())?;
    doc.put(ROOT, "scale_points", shape(m.instrument).1)?;
    doc.put(ROOT, "administered_at", m.administered_at)?;
    let items = doc.put_object(ROOT, "items", ObjType::Map)?;
    for (item, score) in &m.items {
        doc.put(&items, item.to_string(), *score)?;
    }
    am::put_opt_str(doc, &ROOT, "supersedes", m.supersedes.map(|s| s.to_string()).as_deref())?;
    Ok(())
}

/// Reads a measure document; WAI-SR scores are derived, never stored.
pub fn read(doc: &AutoCommit, id: RecordId) -> Result<AllianceMeasure> {
    let r = Reader::new(doc, id);
    let root = r.root();
    let items_obj = r.obj(&root, "items", ObjType::Map)?;
    let mut items = Vec::new();
    for item in doc.map_range(&items_obj, ..) {
        let n: u8 = item.key.parse().map_err(|_| Error::corrupt(id, "field items"))?;
        let v = r.int(&items_obj, &item.key)?;
        items.push((n, v));
    }
    items.sort();
    let instrument: Instrument = r.parse(&root, "instrument")?;
    let scores = match instrument {
        Instrument::WaiSr | Instrument::WaiSrTherapist => WaiScores::from_items(&items),
        _ => WaiScores { incomplete: true, ..WaiScores::default() },
    };
    Ok(AllianceMeasure {
        id: r.id(&root, "id")?,
        client_id: r.id(&root, "client_id")?,
        session_id: r.opt_parse(&root, "session_id")?,
        instrument,
        rater: r.parse(&root, "rater")?,
        scale_points: r.int(&root, "scale_points")?,
        administered_at: r.int(&root, "administered_at")?,
        items,
        supersedes: r.opt_parse(&root, "supersedes")?,
        scores,
    })
}
