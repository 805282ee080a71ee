//! Conflicts on clinically meaningful scalars (client status, a note's format and risk levels,
//! a rupture's significance). Automerge settles concurrent writes with an arbitrary winner; Mend
//! keeps every concurrent value visible, with the device that wrote it and when, until a clinician
//! resolves it. Resolving writes the chosen value after all of them and logs the choice; both sync.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjId, ObjType, ScalarValue, ROOT};

use super::am::{self, Reader, Stamp};
use super::enums::{ClientStatus, NoteFormat, RiskLevel};
use super::{validate, Kind};
use crate::error::{Error, Result};
use crate::ids::{DeviceId, RecordId};

/// A value a conflicted field can be resolved to, typed by its field: what an inbox offers and
/// what [`crate::Vault::resolve_conflict_with`] takes (no number or enum name in a string).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum ConflictChoice {
    /// A client's status.
    ClientStatus {
        /// The status chosen.
        status: ClientStatus,
    },
    /// A note's format.
    NoteFormat {
        /// The format chosen.
        format: NoteFormat,
    },
    /// A note's suicide risk (`risk.si`).
    SuicideRisk {
        /// The level chosen.
        level: RiskLevel,
    },
    /// A note's homicide risk (`risk.hi`).
    HomicideRisk {
        /// The level chosen.
        level: RiskLevel,
    },
    /// A rupture's significance (1–5).
    Significance {
        /// The significance chosen.
        value: i64,
    },
}

impl ConflictChoice {
    /// The field it sets and its value as stored.
    fn field_and_value(&self) -> (&'static str, String) {
        match self {
            ConflictChoice::ClientStatus { status } => ("status", status.as_str().to_owned()),
            ConflictChoice::NoteFormat { format } => ("format", format.as_str().to_owned()),
            ConflictChoice::SuicideRisk { level } => ("risk.si", level.as_str().to_owned()),
            ConflictChoice::HomicideRisk { level } => ("risk.hi", level.as_str().to_owned()),
            ConflictChoice::Significance { value } => ("significance", value.to_string()),
        }
    }

    /// The stored `value` of `field` as a choice, if it is one.
    fn parse(field: &str, value: &str) -> Option<ConflictChoice> {
        Some(match field {
            "status" => ConflictChoice::ClientStatus { status: value.parse().ok()? },
            "format" => ConflictChoice::NoteFormat { format: value.parse().ok()? },
            "risk.si" => ConflictChoice::SuicideRisk { level: value.parse().ok()? },
            "risk.hi" => ConflictChoice::HomicideRisk { level: value.parse().ok()? },
            "significance" => ConflictChoice::Significance { value: value.parse().ok()? },
            _ => return None,
        })
    }
}

/// One of the competing values of a conflicted field.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct ConflictValue {
    /// The value as stored (an enum name or a number).
    pub value: String,
    /// The same value typed, to offer and to resolve with (`None` if what is stored is not a
    /// valid value of the field: a damaged or foreign write, which cannot be chosen).
    pub choice: Option<ConflictChoice>,
    /// The device that wrote it.
    pub device_id: Option<DeviceId>,
    /// When (device time, ms since the epoch).
    pub at: Option<i64>,
}

/// A field with more than one concurrent value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The record.
    pub record_id: RecordId,
    /// The record's kind (client, note or rupture).
    pub kind: Kind,
    /// The client the record belongs to (for a client record, itself), so an inbox can name the
    /// client without opening the record.
    pub client_id: RecordId,
    /// The field, e.g. `significance` or `risk.si`.
    pub field: String,
    /// The competing values, ordered by time.
    pub values: Vec<ConflictValue>,
}

/// The surfaced fields of a record kind: `(field name, parent object path, key)`.
fn fields(kind: Kind) -> &'static [(&'static str, Option<&'static str>, &'static str)] {
    match kind {
        Kind::Client => &[("status", None, "status")],
        Kind::Note => &[
            ("format", None, "format"),
            ("risk.si", Some("risk"), "si"),
            ("risk.hi", Some("risk"), "hi"),
        ],
        Kind::Rupture => &[("significance", None, "significance")],
        _ => &[],
    }
}

fn parent(r: &Reader<'_>, path: Option<&str>) -> Result<ObjId> {
    match path {
        None => Ok(ROOT),
        Some(p) => r.obj(&ROOT, p, ObjType::Map),
    }
}

fn show(v: &ScalarValue) -> String {
    match v {
        ScalarValue::Str(s) => s.to_string(),
        ScalarValue::Int(i) => i.to_string(),
        other => other.to_string(),
    }
}

/// The open conflicts of one record, each named with the client its document says it belongs
/// to.
pub fn of(kind: Kind, doc: &AutoCommit, id: RecordId) -> Result<Vec<Conflict>> {
    let r = Reader::new(doc, id);
    let mut out = Vec::new();
    for (field, path, key) in fields(kind) {
        let obj = parent(&r, *path)?;
        let vals = r.reg_values(&obj, key)?;
        if vals.len() > 1 {
            // The client from the authenticated document, never from a plaintext column.
            let client = if kind == Kind::Client { id } else { r.id(&ROOT, "client_id")? };
            let mut values: Vec<ConflictValue> = vals
                .into_iter()
                .map(|v| ConflictValue {
                    choice: ConflictChoice::parse(field, &show(&v.value)),
                    value: show(&v.value),
                    device_id: v.stamp.map(|s| s.device),
                    at: v.stamp.map(|s| s.at),
                })
                .collect();
            values.sort_by_key(|v| (v.at, v.value.clone()));
            out.push(Conflict {
                record_id: id,
                kind,
                client_id: client,
                field: (*field).to_owned(),
                values,
            });
        }
    }
    Ok(out)
}

/// Resolves a conflict with a typed choice (its field follows from it).
pub fn resolve_with(
    kind: Kind,
    doc: &mut AutoCommit,
    id: RecordId,
    choice: &ConflictChoice,
    stamp: &Stamp,
) -> Result<()> {
    let (field, value) = choice.field_and_value();
    resolve(kind, doc, id, field, &value, stamp)
}

/// Resolves a conflict on `field` by choosing `value`, which must be valid for the field.
pub fn resolve(
    kind: Kind,
    doc: &mut AutoCommit,
    id: RecordId,
    field: &str,
    value: &str,
    stamp: &Stamp,
) -> Result<()> {
    let Some((_, path, key)) = fields(kind).iter().find(|(f, _, _)| *f == field) else {
        return Err(Error::invalid("field", "this field never holds a surfaced conflict"));
    };
    let scalar: ScalarValue = match field {
        "status" => value.parse::<ClientStatus>()?.as_str().into(),
        "format" => value.parse::<NoteFormat>()?.as_str().into(),
        "risk.si" | "risk.hi" => value.parse::<RiskLevel>()?.as_str().into(),
        "significance" => {
            let n: i64 =
                value.parse().map_err(|_| Error::invalid("significance", "not a number"))?;
            validate::rating("significance", n)?;
            n.into()
        }
        _ => return Err(Error::invalid("field", "unknown field")),
    };
    let obj = parent(&Reader::new(doc, id), *path)?;
    am::put_reg(doc, &obj, key, scalar, stamp)?;
    let log = am::push_map(doc, &ROOT, "resolutions")?;
    doc.put(&log, "field", field)?;
    doc.put(&log, "chosen", value)?;
    doc.put(&log, "at", stamp.at)?;
    doc.put(&log, "by", stamp.device.to_string())?;
    Ok(())
}
