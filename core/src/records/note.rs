//! Session notes: format sections merged character by character, structured fields, and the
//! signing lifecycle.
//!
//! Lifecycle (clinical model §4.4) is derived from the append-only signature log, never stored,
//! so a merge cannot turn `signed` back into `draft`. An author signature records the document
//! heads and a SHA-256 of the canonical content at those heads, and is signed with the device's
//! Ed25519 key; afterwards every content edit is refused with `NoteLocked`, and changes go into
//! addenda, which are signed in turn. The signed content is re-read at the signed heads and
//! checked against the hash, so it stays readable exactly as signed.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ChangeHash, ObjId, ObjType, ROOT};
use sha2::{Digest, Sha256};

use super::am::{self, Reader, Stamp};
use super::enums::*;
use super::model::*;
use super::validate;
use crate::crypto::signing::{self, DeviceKey};
use crate::error::{Error, Result};
use crate::ids::{DeviceId, RecordId};

/// Checks a new note's fields against its format.
pub fn validate(n: &NewNote) -> Result<()> {
    validate::label("author_id", &n.author_id, 128)?;
    for (k, v) in &n.sections {
        check_section(n.format, k)?;
        validate::text(&format!("sections.{k}"), v)?;
    }
    Ok(())
}

fn check_section(format: NoteFormat, key: &str) -> Result<()> {
    if format.sections().contains(&key) {
        Ok(())
    } else {
        Err(Error::invalid(
            format!("sections.{key}"),
            format!("a {} note has no such section", format.as_str()),
        ))
    }
}

/// Writes a new note document. `session_start` is copied in so timelines can sort notes by date
/// without opening the session.
pub fn create(
    doc: &mut AutoCommit,
    id: RecordId,
    client_id: RecordId,
    session_start: Timestamp,
    n: &NewNote,
    stamp: &Stamp,
) -> Result<()> {
    validate(n)?;
    doc.put(ROOT, "id", id.to_string())?;
    doc.put(ROOT, "session_id", n.session_id.to_string())?;
    doc.put(ROOT, "client_id", client_id.to_string())?;
    doc.put(ROOT, "session_start", session_start)?;
    doc.put(ROOT, "author_id", n.author_id.as_str())?;
    am::put_reg(doc, &ROOT, "format", n.format.as_str(), stamp)?;
    doc.put(ROOT, "created_at", n.created_at)?;
    let sections = doc.put_object(ROOT, "sections", ObjType::Map)?;
    for key in n.format.sections() {
        let text = n.sections.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
        am::put_text(doc, &sections, key, text.unwrap_or(""))?;
    }
    am::put_set::<String>(doc, &ROOT, "goals_addressed", &[])?;
    am::put_set::<String>(doc, &ROOT, "interventions", &[])?;
    am::put_set::<String>(doc, &ROOT, "diagnoses", &[])?;
    let risk = doc.put_object(ROOT, "risk", ObjType::Map)?;
    am::put_reg(doc, &risk, "si", RiskLevel::NotAssessed.as_str(), stamp)?;
    am::put_reg(doc, &risk, "hi", RiskLevel::NotAssessed.as_str(), stamp)?;
    am::put_text(doc, &risk, "note", "")?;
    doc.put_object(ROOT, "signatures", ObjType::List)?;
    doc.put_object(ROOT, "addenda", ObjType::List)?;
    doc.put_object(ROOT, "resolutions", ObjType::List)?;
    doc.put_object(ROOT, "divergence_resolutions", ObjType::List)?;
    Ok(())
}

fn read_signature(r: &Reader<'_>, s: &ObjId) -> Result<Signature> {
    let heads = r.str(s, "heads")?;
    Ok(Signature {
        id: r.id(s, "id")?,
        signer_id: r.str(s, "signer_id")?,
        signer_name: r.str(s, "signer_name")?,
        role: r.parse(s, "role")?,
        meaning: r.parse(s, "meaning")?,
        signed_at: r.int(s, "signed_at")?,
        device_id: r.parse(s, "device_id")?,
        heads: if heads.is_empty() {
            vec![]
        } else {
            heads.split(',').map(str::to_owned).collect()
        },
        content_hash: r.str(s, "content_hash")?,
        needs_cosign: r.flag(s, "needs_cosign")?,
    })
}

fn read_signatures(r: &Reader<'_>, obj: &ObjId) -> Result<Vec<Signature>> {
    // In list order, which is causal (a co-signature is appended after the signature it saw)
    // and the same on every device; clocks, which may be equal or skewed, do not decide it.
    r.list_maps(obj, "signatures")?.iter().map(|s| read_signature(r, s)).collect()
}

/// The lifecycle state implied by a signature log (sorted oldest first).
pub fn derive_state(sigs: &[Signature]) -> NoteState {
    let mut state = NoteState::Draft;
    for s in sigs {
        state = match (s.meaning, state) {
            (SignatureMeaning::Authored, NoteState::Draft) => {
                if s.needs_cosign {
                    NoteState::PendingCosign
                } else {
                    NoteState::Signed
                }
            }
            (
                SignatureMeaning::Cosigned | SignatureMeaning::ReviewedApproved,
                NoteState::PendingCosign,
            ) => NoteState::Cosigned,
            (SignatureMeaning::ReturnedForRevision, NoteState::PendingCosign) => NoteState::Draft,
            (_, st) => st,
        };
    }
    state
}

/// The author signature that defines the signed content: the latest `authored` one.
fn signature_in_force(sigs: &[Signature]) -> Option<&Signature> {
    sigs.iter().rev().find(|s| s.meaning == SignatureMeaning::Authored)
}

struct Content {
    format: NoteFormat,
    sections: Vec<(String, String)>,
    goals_addressed: Vec<RecordId>,
    interventions: Vec<String>,
    diagnoses: Vec<String>,
    risk: Risk,
}

fn read_content(r: &Reader<'_>) -> Result<Content> {
    let root = r.root();
    let format: NoteFormat = r.reg_parse(&root, "format")?;
    let sections_obj = r.obj(&root, "sections", ObjType::Map)?;
    let mut sections = Vec::new();
    for key in format.sections() {
        sections.push(((*key).to_owned(), r.text(&sections_obj, key)?));
    }
    let risk_obj = r.obj(&root, "risk", ObjType::Map)?;
    Ok(Content {
        format,
        sections,
        goals_addressed: r.set(&root, "goals_addressed")?,
        interventions: r.set(&root, "interventions")?,
        diagnoses: r.set(&root, "diagnoses")?,
        risk: Risk {
            si: r.reg_parse(&risk_obj, "si")?,
            hi: r.reg_parse(&risk_obj, "hi")?,
            note: r.text(&risk_obj, "note")?,
        },
    })
}

/// SHA-256 over a length-prefixed canonical encoding of the content (format, sections in format
/// order, sorted sets, risk). Returns lowercase hex.
fn content_hash(id: RecordId, c: &Content) -> String {
    let mut t = Transcript::new(b"mend-note-content-v1");
    t.put(id.as_bytes());
    t.put(c.format.as_str().as_bytes());
    for (k, v) in &c.sections {
        t.put(k.as_bytes());
        t.put(v.as_bytes());
    }
    t.put_list(c.goals_addressed.iter().map(|g| g.to_string()));
    t.put_list(c.interventions.iter().cloned());
    t.put_list(c.diagnoses.iter().cloned());
    t.put(c.risk.si.as_str().as_bytes());
    t.put(c.risk.hi.as_str().as_bytes());
    t.put(c.risk.note.as_bytes());
    hex::encode(t.finish())
}

/// Length-prefixed fields under a domain tag, hashed: no two field lists encode alike.
struct Transcript(Sha256);

impl Transcript {
    fn new(domain: &[u8]) -> Self {
        let mut t = Transcript(Sha256::new());
        t.put(domain);
        t
    }
    fn put(&mut self, field: &[u8]) {
        self.0.update((field.len() as u64).to_be_bytes());
        self.0.update(field);
    }
    fn put_list(&mut self, items: impl Iterator<Item = String>) {
        let items: Vec<String> = items.collect();
        self.0.update((items.len() as u64).to_be_bytes());
        for i in items {
            self.put(i.as_bytes());
        }
    }
    fn finish(self) -> [u8; 32] {
        self.0.finalize().into()
    }
}

/// The bytes a signature signs: note id, optional addendum id, heads, content hash, meaning,
/// role, signer, time.
fn signing_message(note: RecordId, addendum: Option<RecordId>, sig: &Signature) -> [u8; 32] {
    let mut t = Transcript::new(b"mend-note-signature-v1");
    t.put(note.as_bytes());
    t.put(addendum.map(|a| a.to_string()).unwrap_or_default().as_bytes());
    t.put_list(sig.heads.iter().cloned());
    t.put(sig.content_hash.as_bytes());
    t.put(sig.meaning.as_str().as_bytes());
    t.put(sig.role.as_str().as_bytes());
    t.put(sig.signer_id.as_bytes());
    t.put(sig.signer_name.as_bytes());
    t.put(&sig.signed_at.to_be_bytes());
    t.put(sig.device_id.as_bytes());
    t.put(&[u8::from(sig.needs_cosign)]);
    t.finish()
}

/// Reads a note document.
pub fn read(doc: &AutoCommit, id: RecordId) -> Result<SessionNote> {
    let r = Reader::new(doc, id);
    let root = r.root();
    // A signed note reads as signed; late edits from other devices surface as a divergence.
    let c = match signed_view(doc, id)? {
        Some((_, c)) => c,
        None => read_content(&r)?,
    };
    let signatures = read_signatures(&r, &root)?;
    let mut addenda = Vec::new();
    for a in r.list_maps(&root, "addenda")? {
        addenda.push(Addendum {
            id: r.id(&a, "id")?,
            kind: r.parse(&a, "kind")?,
            reason: r.text(&a, "reason")?,
            body: r.text(&a, "body")?,
            targets: r.set(&a, "targets")?,
            author_id: r.str(&a, "author_id")?,
            created_at: r.int(&a, "created_at")?,
            signatures: read_signatures(&r, &a)?,
        });
    }
    addenda.sort_by_key(|a| (a.created_at, a.id));
    Ok(SessionNote {
        id: r.id(&root, "id")?,
        session_id: r.id(&root, "session_id")?,
        client_id: r.id(&root, "client_id")?,
        author_id: r.str(&root, "author_id")?,
        format: c.format,
        sections: c.sections,
        goals_addressed: c.goals_addressed,
        interventions: c.interventions,
        diagnoses: c.diagnoses,
        risk: c.risk,
        state: derive_state(&signatures),
        signatures,
        addenda,
        created_at: r.int(&root, "created_at")?,
    })
}

/// The lifecycle state of a note document.
pub fn state(doc: &AutoCommit, id: RecordId) -> Result<NoteState> {
    let r = Reader::new(doc, id);
    Ok(derive_state(&read_signatures(&r, &ROOT)?))
}

/// `NoteLocked` unless the note is a draft.
pub fn ensure_draft(doc: &AutoCommit, id: RecordId) -> Result<()> {
    match state(doc, id)? {
        NoteState::Draft => Ok(()),
        _ => Err(Error::NoteLocked(id)),
    }
}

/// The Text object of a section of the note's format.
pub(crate) fn section_obj(doc: &AutoCommit, id: RecordId, section: &str) -> Result<ObjId> {
    let r = Reader::new(doc, id);
    let format: NoteFormat = r.reg_parse(&ROOT, "format")?;
    check_section(format, section)?;
    let sections = r.obj(&ROOT, "sections", ObjType::Map)?;
    r.obj(&sections, section, ObjType::Text)
}

/// Live typing in a note section: the editor's hot path, used by the vault for every keystroke
/// (and by the benchmarks, which measure this same code).
///
/// The checks of [`splice_section`] (the note is a draft, the section belongs to its format) are
/// made once and kept as a `Typing` with the document's heads after the save; the next keystroke
/// in the same section skips them while the document is still at those heads (a text splice
/// changes neither). Any other change — an edit, a signature, a merged sync — moves the heads and
/// the checks run again. Use: [`Typing::target`], then [`Typing::splice`] and save, then
/// [`Typing::settled`] to keep for the next keystroke.
pub struct Typing {
    heads: Vec<ChangeHash>,
    section: String,
    text: ObjId,
}

impl Typing {
    /// The section's Text object for this keystroke: `last`'s, if it was kept for this section
    /// at the document's current heads, else checked now.
    pub fn target(
        doc: &mut AutoCommit,
        id: RecordId,
        last: Option<Typing>,
        section: &str,
    ) -> Result<ObjId> {
        let heads = doc.get_heads();
        match last.filter(|t| t.section == section && t.heads == heads) {
            Some(t) => Ok(t.text),
            None => {
                ensure_draft(doc, id)?;
                section_obj(doc, id, section)
            }
        }
    }

    /// Deletes `delete` UTF-16 code units at `pos` (in UTF-16 code units, as UITextView/NSRange and
    /// Compose/Android count) of the target, then inserts `insert` (range, surrogate-pair and size
    /// checks only: [`Typing::target`] made the others).
    pub fn splice(
        doc: &mut AutoCommit,
        text: &ObjId,
        section: &str,
        pos: usize,
        delete: usize,
        insert: &str,
    ) -> Result<()> {
        am::splice_text(doc, text, &format!("sections.{section}"), pos, delete, insert)
    }

    /// The checks to keep after the keystroke was saved, valid at the document's new heads.
    pub fn settled(doc: &mut AutoCommit, section: &str, text: ObjId) -> Typing {
        Typing { heads: doc.get_heads(), section: section.to_owned(), text }
    }
}

/// Splices text into a section for live typing: delete `delete` UTF-16 code units at `pos` (in
/// UTF-16 code units, as UITextView/NSRange and Compose/Android count), then insert `insert`.
/// Refused with `NoteLocked` once the note is signed; a position that splits a surrogate pair or
/// lies outside the text is a validation error.
pub fn splice_section(
    doc: &mut AutoCommit,
    id: RecordId,
    section: &str,
    pos: usize,
    delete: usize,
    insert: &str,
) -> Result<()> {
    ensure_draft(doc, id)?;
    let t = section_obj(doc, id, section)?;
    am::splice_text(doc, &t, &format!("sections.{section}"), pos, delete, insert)
}

/// Replaces a section's text (stored as a minimal diff so concurrent edits still merge).
pub fn set_section(doc: &mut AutoCommit, id: RecordId, section: &str, text: &str) -> Result<()> {
    ensure_draft(doc, id)?;
    validate::text(&format!("sections.{section}"), text)?;
    let t = section_obj(doc, id, section)?;
    doc.update_text(&t, text)?;
    Ok(())
}

/// Sets the risk assessment.
pub fn set_risk(doc: &mut AutoCommit, id: RecordId, risk: &Risk, stamp: &Stamp) -> Result<()> {
    ensure_draft(doc, id)?;
    validate::text("risk.note", &risk.note)?;
    let r = Reader::new(doc, id).obj(&ROOT, "risk", ObjType::Map)?;
    if Reader::new(doc, id).reg_parse::<RiskLevel>(&r, "si")? != risk.si {
        am::put_reg(doc, &r, "si", risk.si.as_str(), stamp)?;
    }
    if Reader::new(doc, id).reg_parse::<RiskLevel>(&r, "hi")? != risk.hi {
        am::put_reg(doc, &r, "hi", risk.hi.as_str(), stamp)?;
    }
    am::update_text(doc, &r, "note", &risk.note)?;
    Ok(())
}

/// Changes the note's format while it has no content yet (clinical model: locked once content
/// exists). Sections the new format needs are created.
pub fn set_format(
    doc: &mut AutoCommit,
    id: RecordId,
    format: NoteFormat,
    stamp: &Stamp,
) -> Result<()> {
    ensure_draft(doc, id)?;
    let c = read_content(&Reader::new(doc, id))?;
    if c.sections.iter().any(|(_, t)| !t.is_empty()) {
        return Err(Error::InvalidState("the format is fixed once a section has content".into()));
    }
    let sections = Reader::new(doc, id).obj(&ROOT, "sections", ObjType::Map)?;
    for key in format.sections() {
        if Reader::new(doc, id).opt_obj(&sections, key, ObjType::Text)?.is_none() {
            am::put_text(doc, &sections, key, "")?;
        }
    }
    am::put_reg(doc, &ROOT, "format", format.as_str(), stamp)
}

/// Which coded set of a note to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeSet {
    /// ICD-10-CM diagnosis codes.
    Diagnoses,
    /// App-defined intervention codes.
    Interventions,
    /// Treatment-goal ids.
    GoalsAddressed,
}

impl CodeSet {
    fn key(&self) -> &'static str {
        match self {
            CodeSet::Diagnoses => "diagnoses",
            CodeSet::Interventions => "interventions",
            CodeSet::GoalsAddressed => "goals_addressed",
        }
    }
}

/// Adds (`present`) or removes a code.
pub fn set_code(
    doc: &mut AutoCommit,
    id: RecordId,
    set: CodeSet,
    code: &str,
    present: bool,
) -> Result<()> {
    ensure_draft(doc, id)?;
    match set {
        CodeSet::Diagnoses => {
            let ok = code.len() >= 3
                && code.len() <= 8
                && code.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '.');
            if !ok {
                return Err(Error::invalid("diagnoses", "not an ICD-10-CM code"));
            }
        }
        CodeSet::Interventions => validate::label("interventions", code, 64)?,
        CodeSet::GoalsAddressed => {
            code.parse::<RecordId>()?;
        }
    }
    am::set_member(doc, &ROOT, set.key(), &code, present)
}

/// Who and what signs (device identity is supplied by the vault).
pub struct Signer<'a> {
    /// The device key.
    pub key: &'a DeviceKey,
    /// The device id.
    pub device_id: DeviceId,
}

fn push_signature(
    doc: &mut AutoCommit,
    list_owner: &ObjId,
    sig: &Signature,
    device_public: &[u8; 32],
    raw_sig: &[u8; 64],
) -> Result<()> {
    let s = am::push_map(doc, list_owner, "signatures")?;
    doc.put(&s, "id", sig.id.to_string())?;
    doc.put(&s, "signer_id", sig.signer_id.as_str())?;
    doc.put(&s, "signer_name", sig.signer_name.as_str())?;
    doc.put(&s, "role", sig.role.as_str())?;
    doc.put(&s, "meaning", sig.meaning.as_str())?;
    doc.put(&s, "signed_at", sig.signed_at)?;
    doc.put(&s, "device_id", sig.device_id.to_string())?;
    doc.put(&s, "heads", sig.heads.join(","))?;
    doc.put(&s, "content_hash", sig.content_hash.as_str())?;
    doc.put(&s, "needs_cosign", sig.needs_cosign)?;
    doc.put(&s, "device_public", hex::encode(device_public))?;
    doc.put(&s, "sig", hex::encode(raw_sig))?;
    Ok(())
}

fn heads_hex(heads: &[ChangeHash]) -> Vec<String> {
    let mut h: Vec<String> = heads.iter().map(|h| hex::encode(h.0)).collect();
    h.sort();
    h
}

fn parse_heads(id: RecordId, heads: &[String]) -> Result<Vec<ChangeHash>> {
    heads
        .iter()
        .map(|h| {
            let b = hex::decode(h).map_err(|_| Error::corrupt(id, "signature heads"))?;
            ChangeHash::try_from(&b[..]).map_err(|_| Error::corrupt(id, "signature heads"))
        })
        .collect()
}

/// Signs the note. An author signature needs a draft and locks it; a supervisor's co-signature or
/// return needs a note pending co-signature.
pub fn sign(
    doc: &mut AutoCommit,
    id: RecordId,
    signer: &Signer<'_>,
    req: &SignRequest,
) -> Result<()> {
    validate::label("signer_id", &req.signer_id, 128)?;
    validate::label("signer_name", &req.signer_name, 256)?;
    let sigs = read_signatures(&Reader::new(doc, id), &ROOT)?;
    let state = derive_state(&sigs);
    let (heads, content_hash) = match (req.meaning, state) {
        (SignatureMeaning::Authored, NoteState::Draft) => {
            if req.role != SignerRole::Author {
                return Err(Error::invalid("role", "an authored signature needs the author role"));
            }
            let heads = doc.get_heads();
            let c = read_content(&Reader::new(doc, id))?;
            (heads_hex(&heads), content_hash(id, &c))
        }
        (
            SignatureMeaning::Cosigned
            | SignatureMeaning::ReviewedApproved
            | SignatureMeaning::ReturnedForRevision,
            NoteState::PendingCosign,
        ) => {
            if req.role == SignerRole::Author {
                return Err(Error::invalid(
                    "role",
                    "co-signing needs the supervisor or reviewer role",
                ));
            }
            let author = signature_in_force(&sigs)
                .ok_or_else(|| Error::Internal("pending note without author signature".into()))?;
            (author.heads.clone(), author.content_hash.clone())
        }
        (SignatureMeaning::Authored, _) => return Err(Error::NoteLocked(id)),
        (_, _) => {
            return Err(Error::InvalidState(
                "only a note pending co-signature can be co-signed or returned".into(),
            ))
        }
    };
    let sig = Signature {
        id: RecordId::random(),
        signer_id: req.signer_id.clone(),
        signer_name: req.signer_name.clone(),
        role: req.role,
        meaning: req.meaning,
        signed_at: req.signed_at,
        device_id: signer.device_id,
        heads,
        content_hash,
        needs_cosign: req.needs_cosign && req.meaning == SignatureMeaning::Authored,
    };
    let raw = signer.key.sign(&signing_message(id, None, &sig));
    push_signature(doc, &ROOT, &sig, &signer.key.public(), &raw)
}

fn verify_signature(
    r: &Reader<'_>,
    obj: &ObjId,
    note: RecordId,
    addendum: Option<RecordId>,
    sig: &Signature,
) -> Result<()> {
    let public =
        hex::decode(r.str(obj, "device_public")?).map_err(|_| Error::BadSignature(note))?;
    let raw = hex::decode(r.str(obj, "sig")?).map_err(|_| Error::BadSignature(note))?;
    signing::verify(&public, &signing_message(note, addendum, sig), &raw)
        .map_err(|_| Error::BadSignature(note))
}

/// The signature in force and the content at its heads, verified (signature and hash); `None`
/// for a draft.
fn signed_view(doc: &AutoCommit, id: RecordId) -> Result<Option<(Signature, Content)>> {
    let r = Reader::new(doc, id);
    let mut sigs = Vec::new();
    for o in r.list_maps(&ROOT, "signatures")? {
        sigs.push((read_signature(&r, &o)?, o));
    }
    let plain: Vec<Signature> = sigs.iter().map(|(s, _)| s.clone()).collect();
    if derive_state(&plain) == NoteState::Draft {
        return Ok(None);
    }
    let (sig, obj) = sigs
        .iter()
        .rev()
        .find(|(s, _)| s.meaning == SignatureMeaning::Authored)
        .ok_or_else(|| Error::Internal("signed note without author signature".into()))?;
    verify_signature(&r, obj, id, None, sig)?;
    let heads = parse_heads(id, &sig.heads)?;
    let c = read_content(&Reader::at(doc, id, &heads)).map_err(|_| Error::BadSignature(id))?;
    if content_hash(id, &c) != sig.content_hash {
        return Err(Error::BadSignature(id));
    }
    Ok(Some((sig.clone(), c)))
}

/// The note's content exactly as signed: read at the signed heads, its hash and the Ed25519
/// signature checked. `InvalidState` for an unsigned note, `BadSignature` if anything differs.
pub fn signed_content(doc: &AutoCommit, id: RecordId) -> Result<SignedContent> {
    let (signature, c) = signed_view(doc, id)?
        .ok_or_else(|| Error::InvalidState("the note is not signed".into()))?;
    Ok(SignedContent { signature, sections: c.sections, diagnoses: c.diagnoses, risk: c.risk })
}

/// Edits that reached a signed note from a device that had not seen the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Divergence {
    /// Sections whose merged text differs from the signed text.
    pub sections: Vec<DivergedSection>,
    /// Structured fields (diagnoses, risk, codes, format) differ too.
    pub other_fields: bool,
    /// Hash of the diverged content, recorded when it is resolved.
    pub content_hash: String,
}

/// One section of a divergence.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct DivergedSection {
    /// Section key.
    pub section: String,
    /// The text as signed.
    pub signed: String,
    /// The text including the late edits.
    pub current: String,
}

/// What the clinician does with a divergence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DivergenceChoice {
    /// Keep the late edits as a (draft) addendum, to be reviewed and signed.
    Addendum {
        /// Addendum author.
        author_id: String,
        /// When.
        created_at: Timestamp,
    },
    /// Discard them (they stay in history, never in the signed record).
    Discard,
}

/// The unresolved divergence of a signed note, if any.
pub fn divergence(doc: &AutoCommit, id: RecordId) -> Result<Option<Divergence>> {
    let Some((_, signed)) = signed_view(doc, id)? else { return Ok(None) };
    let r = Reader::new(doc, id);
    let current = read_content(&r)?;
    let hash = content_hash(id, &current);
    if hash == content_hash(id, &signed) {
        return Ok(None);
    }
    for o in r.list_maps(&ROOT, "divergence_resolutions")? {
        if r.str(&o, "content_hash")? == hash {
            return Ok(None);
        }
    }
    let sections = current
        .sections
        .iter()
        .filter_map(|(k, v)| {
            let before = signed.sections.iter().find(|(sk, _)| sk == k).map(|(_, t)| t.as_str());
            (before != Some(v.as_str())).then(|| DivergedSection {
                section: k.clone(),
                signed: before.unwrap_or("").to_owned(),
                current: v.clone(),
            })
        })
        .collect();
    let other_fields = current.format != signed.format
        || current.diagnoses != signed.diagnoses
        || current.interventions != signed.interventions
        || current.goals_addressed != signed.goals_addressed
        || current.risk != signed.risk;
    Ok(Some(Divergence { sections, other_fields, content_hash: hash }))
}

/// Resolves a divergence; returns the new addendum's id when the late edits become one. The
/// signed content never changes.
pub fn resolve_divergence(
    doc: &mut AutoCommit,
    id: RecordId,
    choice: &DivergenceChoice,
    stamp: &Stamp,
) -> Result<Option<RecordId>> {
    let d = divergence(doc, id)?
        .ok_or_else(|| Error::InvalidState("no divergence to resolve".into()))?;
    let addendum = match choice {
        DivergenceChoice::Addendum { author_id, created_at } => {
            let mut body: Vec<String> =
                d.sections.iter().map(|s| format!("{}: {}", s.section, s.current)).collect();
            if d.other_fields {
                body.push("(structured fields were also changed)".into());
            }
            Some(add_addendum(
                doc,
                id,
                &NewAddendum {
                    kind: AddendumKind::Addendum,
                    reason: "Edits made on another device after the note was signed".into(),
                    body: body.join("\n\n"),
                    targets: d.sections.iter().map(|s| s.section.clone()).collect(),
                    author_id: author_id.clone(),
                    created_at: *created_at,
                },
            )?)
        }
        DivergenceChoice::Discard => None,
    };
    let o = am::push_map(doc, &ROOT, "divergence_resolutions")?;
    doc.put(&o, "content_hash", d.content_hash.as_str())?;
    doc.put(&o, "choice", if addendum.is_some() { "addendum" } else { "discard" })?;
    doc.put(&o, "at", stamp.at)?;
    doc.put(&o, "by", stamp.device.to_string())?;
    Ok(addendum)
}

fn addendum_obj(doc: &AutoCommit, id: RecordId, addendum: RecordId) -> Result<ObjId> {
    let r = Reader::new(doc, id);
    for a in r.list_maps(&ROOT, "addenda")? {
        if r.id(&a, "id")? == addendum {
            return Ok(a);
        }
    }
    Err(Error::NotFound { kind: "addendum", id: addendum })
}

/// Starts an addendum on a signed note; returns its id.
pub fn add_addendum(doc: &mut AutoCommit, id: RecordId, a: &NewAddendum) -> Result<RecordId> {
    if state(doc, id)? == NoteState::Draft {
        return Err(Error::InvalidState("a draft note is edited directly, not by addendum".into()));
    }
    validate::text("addendum.reason", &a.reason)?;
    validate::text("addendum.body", &a.body)?;
    validate::label("addendum.author_id", &a.author_id, 128)?;
    let format: NoteFormat = Reader::new(doc, id).reg_parse(&ROOT, "format")?;
    for t in &a.targets {
        check_section(format, t)?;
    }
    let aid = RecordId::random();
    let o = am::push_map(doc, &ROOT, "addenda")?;
    doc.put(&o, "id", aid.to_string())?;
    doc.put(&o, "kind", a.kind.as_str())?;
    am::put_text(doc, &o, "reason", &a.reason)?;
    am::put_text(doc, &o, "body", &a.body)?;
    am::put_set(doc, &o, "targets", &a.targets)?;
    doc.put(&o, "author_id", a.author_id.as_str())?;
    doc.put(&o, "created_at", a.created_at)?;
    doc.put_object(&o, "signatures", ObjType::List)?;
    Ok(aid)
}

/// Replaces a draft addendum's body; refused once the addendum is signed.
pub fn set_addendum_body(
    doc: &mut AutoCommit,
    id: RecordId,
    addendum: RecordId,
    body: &str,
) -> Result<()> {
    validate::text("addendum.body", body)?;
    let o = addendum_obj(doc, id, addendum)?;
    if !read_signatures(&Reader::new(doc, id), &o)?.is_empty() {
        return Err(Error::NoteLocked(id));
    }
    am::update_text(doc, &o, "body", body)
}

fn addendum_hash(r: &Reader<'_>, o: &ObjId) -> Result<String> {
    let mut t = Transcript::new(b"mend-addendum-content-v1");
    t.put(r.str(o, "id")?.as_bytes());
    t.put(r.str(o, "kind")?.as_bytes());
    t.put(r.text(o, "reason")?.as_bytes());
    t.put(r.text(o, "body")?.as_bytes());
    t.put_list(r.set::<String>(o, "targets")?.into_iter());
    t.put(r.str(o, "author_id")?.as_bytes());
    Ok(hex::encode(t.finish()))
}

/// Signs an addendum (once); it is then immutable.
pub fn sign_addendum(
    doc: &mut AutoCommit,
    id: RecordId,
    addendum: RecordId,
    signer: &Signer<'_>,
    req: &SignRequest,
) -> Result<()> {
    validate::label("signer_id", &req.signer_id, 128)?;
    validate::label("signer_name", &req.signer_name, 256)?;
    let heads = heads_hex(&doc.get_heads());
    let o = addendum_obj(doc, id, addendum)?;
    let r = Reader::new(doc, id);
    if !read_signatures(&r, &o)?.is_empty() {
        return Err(Error::InvalidState("the addendum is already signed".into()));
    }
    let sig = Signature {
        id: RecordId::random(),
        signer_id: req.signer_id.clone(),
        signer_name: req.signer_name.clone(),
        role: req.role,
        meaning: req.meaning,
        signed_at: req.signed_at,
        device_id: signer.device_id,
        heads,
        content_hash: addendum_hash(&r, &o)?,
        needs_cosign: false,
    };
    let raw = signer.key.sign(&signing_message(id, Some(addendum), &sig));
    push_signature(doc, &o, &sig, &signer.key.public(), &raw)
}

/// Checks every addendum signature against the addendum's current content.
pub fn verify_addenda(doc: &AutoCommit, id: RecordId) -> Result<()> {
    let r = Reader::new(doc, id);
    for o in r.list_maps(&ROOT, "addenda")? {
        let aid = r.id(&o, "id")?;
        for so in r.list_maps(&o, "signatures")? {
            let sig = read_signature(&r, &so)?;
            if sig.content_hash != addendum_hash(&r, &o)? {
                return Err(Error::BadSignature(id));
            }
            verify_signature(&r, &so, id, Some(aid), &sig)?;
        }
    }
    Ok(())
}

/// Whether the document holds signature maps at all (cheap check for summaries).
pub fn summary_fields(
    doc: &AutoCommit,
    id: RecordId,
) -> Result<(RecordId, Timestamp, NoteFormat, NoteState, bool)> {
    let r = Reader::new(doc, id);
    let root = r.root();
    let sigs = read_signatures(&r, &root)?;
    let mut addendum_draft = false;
    for a in r.list_maps(&root, "addenda")? {
        if r.list_maps(&a, "signatures")?.is_empty() {
            addendum_draft = true;
        }
    }
    Ok((
        r.id(&root, "session_id")?,
        r.int(&root, "session_start")?,
        r.reg_parse(&root, "format")?,
        derive_state(&sigs),
        addendum_draft,
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn signed_doc() -> (AutoCommit, RecordId, DeviceKey) {
        let mut doc = am::new_doc();
        let id = RecordId::random();
        let n = NewNote {
            session_id: RecordId::random(),
            author_id: "t".into(),
            format: NoteFormat::Birp,
            sections: vec![("behavior".into(), "Restless".into())],
            created_at: 1,
        };
        let stamp = Stamp { device: DeviceId::random(), at: 1 };
        create(&mut doc, id, RecordId::random(), 1, &n, &stamp).unwrap();
        let key = DeviceKey::generate();
        let req = SignRequest {
            signer_id: "t".into(),
            signer_name: "T".into(),
            role: SignerRole::Author,
            meaning: SignatureMeaning::Authored,
            needs_cosign: false,
            signed_at: 5,
        };
        sign(&mut doc, id, &Signer { key: &key, device_id: DeviceId::random() }, &req).unwrap();
        (doc, id, key)
    }

    #[test]
    fn edits_below_the_api_do_not_change_the_signed_content() {
        let (mut doc, id, _) = signed_doc();
        // Bypass the lock, as a buggy or hostile peer could.
        let t = section_obj(&doc, id, "behavior").unwrap();
        doc.update_text(&t, "Calm").unwrap();
        let signed = signed_content(&doc, id).unwrap();
        assert_eq!(signed.sections[0].1, "Restless");
        assert_eq!(read(&doc, id).unwrap().sections[0].1, "Restless");
        let d = divergence(&doc, id).unwrap().unwrap();
        assert_eq!(d.sections[0].current, "Calm");
    }

    #[test]
    fn a_forged_hash_or_signature_is_detected() {
        let (mut doc, id, _) = signed_doc();
        let sigs = Reader::new(&doc, id).list_maps(&ROOT, "signatures").unwrap();
        doc.put(&sigs[0], "content_hash", "00".repeat(32)).unwrap();
        assert_eq!(signed_content(&doc, id).unwrap_err(), Error::BadSignature(id));

        let (mut doc, id, _) = signed_doc();
        let sigs = Reader::new(&doc, id).list_maps(&ROOT, "signatures").unwrap();
        let other = DeviceKey::generate();
        doc.put(&sigs[0], "device_public", hex::encode(other.public())).unwrap();
        assert_eq!(signed_content(&doc, id).unwrap_err(), Error::BadSignature(id));
    }

    #[test]
    fn state_is_monotonic_under_any_signature_order() {
        let mk = |m: SignatureMeaning, at: i64, cos: bool| Signature {
            id: RecordId::random(),
            signer_id: "x".into(),
            signer_name: "x".into(),
            role: SignerRole::Author,
            meaning: m,
            signed_at: at,
            device_id: DeviceId::random(),
            heads: vec![],
            content_hash: String::new(),
            needs_cosign: cos,
        };
        assert_eq!(derive_state(&[]), NoteState::Draft);
        assert_eq!(derive_state(&[mk(SignatureMeaning::Authored, 1, false)]), NoteState::Signed);
        assert_eq!(
            derive_state(&[
                mk(SignatureMeaning::Authored, 1, true),
                mk(SignatureMeaning::Cosigned, 2, false)
            ]),
            NoteState::Cosigned
        );
        // A stray co-signature on a signed note changes nothing.
        assert_eq!(
            derive_state(&[
                mk(SignatureMeaning::Authored, 1, false),
                mk(SignatureMeaning::ReturnedForRevision, 2, false)
            ]),
            NoteState::Signed
        );
    }
}
