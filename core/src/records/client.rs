//! The client record: a pseudonymous alias, status, and an append-only log of treatment goals.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT};

use super::am::{self, Reader, Stamp};
use super::enums::{ClientStatus, GoalStatus};
use super::model::{Client, NewClient, TreatmentGoal};
use super::validate;
use crate::error::Result;
use crate::ids::RecordId;

/// Checks a new client's fields.
pub fn validate(c: &NewClient) -> Result<()> {
    validate::label("alias_code", &c.alias_code, 64)?;
    validate::label("jurisdiction", &c.jurisdiction, 16)?;
    if let Some(y) = c.birth_year {
        if !(1900..=2200).contains(&y) {
            return Err(crate::error::Error::invalid("birth_year", "must be a plausible year"));
        }
    }
    if let Some(d) = &c.intake_date {
        validate::date("intake_date", d)?;
    }
    Ok(())
}

/// Writes a new client document (every container is created here, once, so concurrent appends
/// on several devices land in the same list).
pub fn create(doc: &mut AutoCommit, id: RecordId, c: &NewClient, stamp: &Stamp) -> Result<()> {
    validate(c)?;
    doc.put(ROOT, "id", id.to_string())?;
    doc.put(ROOT, "alias_code", c.alias_code.as_str())?;
    am::put_opt_int(doc, &ROOT, "birth_year", c.birth_year)?;
    doc.put(ROOT, "jurisdiction", c.jurisdiction.as_str())?;
    am::put_reg(doc, &ROOT, "status", ClientStatus::Active.as_str(), stamp)?;
    am::put_opt_str(doc, &ROOT, "intake_date", c.intake_date.as_deref())?;
    doc.put_object(ROOT, "treatment_goals", automerge::ObjType::List)?;
    doc.put_object(ROOT, "resolutions", automerge::ObjType::List)?;
    Ok(())
}

/// Reads a client document.
pub fn read(doc: &AutoCommit, id: RecordId) -> Result<Client> {
    let r = Reader::new(doc, id);
    let root = r.root();
    let mut goals = Vec::new();
    for g in r.list_maps(&root, "treatment_goals")? {
        goals.push(TreatmentGoal {
            id: r.id(&g, "id")?,
            text: r.text(&g, "text")?,
            domain: r.str(&g, "domain")?,
            status: r.parse(&g, "status")?,
        });
    }
    Ok(Client {
        id: r.id(&root, "id")?,
        alias_code: r.str(&root, "alias_code")?,
        birth_year: r.opt_int(&root, "birth_year")?,
        jurisdiction: r.str(&root, "jurisdiction")?,
        status: r.reg_parse(&root, "status")?,
        intake_date: r.opt_str(&root, "intake_date")?,
        treatment_goals: goals,
    })
}

/// Sets the treatment status (a register whose concurrent values are surfaced as conflicts).
pub fn set_status(doc: &mut AutoCommit, status: ClientStatus, stamp: &Stamp) -> Result<()> {
    am::put_reg(doc, &ROOT, "status", status.as_str(), stamp)
}

/// Appends a treatment goal; returns its id.
pub fn add_goal(doc: &mut AutoCommit, text: &str, domain: &str) -> Result<RecordId> {
    validate::text("goal text", text)?;
    validate::label("goal domain", domain, 64)?;
    let id = RecordId::random();
    let g = am::push_map(doc, &ROOT, "treatment_goals")?;
    doc.put(&g, "id", id.to_string())?;
    am::put_text(doc, &g, "text", text)?;
    doc.put(&g, "domain", domain)?;
    doc.put(&g, "status", GoalStatus::Active.as_str())?;
    Ok(id)
}
