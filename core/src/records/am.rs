//! Small typed helpers over Automerge's generic map/list/text API, shared by every record kind.
//!
//! Reads go through [`Reader`], which turns a missing or mistyped field into `Corrupt` naming the
//! record — never a panic — because a document may have been damaged or written by a buggy peer.
//!
//! Text positions count **UTF-16 code units**, the unit UITextView/NSRange and Compose/Android
//! count: every record document is made and loaded by [`new_doc`] and [`load_doc`] with
//! Automerge's UTF-16 indexing. The encoding is how Automerge reads indices, not part of the saved
//! bytes, so documents saved under any encoding load and read the same.

use automerge::transaction::Transactable;
use automerge::{
    AutoCommit, ChangeHash, LoadOptions, ObjId, ObjType, ReadDoc, ScalarValue, TextEncoding, Value,
    ROOT,
};

use crate::error::{Error, Result};
use crate::ids::{DeviceId, RecordId};
use crate::records::chunks;

/// Who wrote a register value, and when: kept with every clinically meaningful scalar so that
/// concurrent values can be shown side by side with their authors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// The writing device.
    pub device: DeviceId,
    /// Device time of the write, in milliseconds since the Unix epoch.
    pub at: i64,
}

/// One value of a stamped register, with its stamp.
#[derive(Debug, Clone, PartialEq)]
pub struct RegValue {
    /// The value.
    pub value: ScalarValue,
    /// Who wrote it and when (`None` if the stamp is unreadable).
    pub stamp: Option<Stamp>,
}

/// Typed, error-reporting reads of one record's document, at its current state or as it was
/// at given heads (how signed content is read back exactly as signed).
pub struct Reader<'a> {
    /// The document.
    pub doc: &'a AutoCommit,
    /// Its record id, named in errors.
    pub id: RecordId,
    /// Read as of these heads instead of the current state.
    pub heads: Option<&'a [ChangeHash]>,
}

impl<'a> Reader<'a> {
    /// A reader of `doc`, which is record `id`.
    pub fn new(doc: &'a AutoCommit, id: RecordId) -> Self {
        Self { doc, id, heads: None }
    }

    /// A reader of `doc` as it was at `heads`.
    pub fn at(doc: &'a AutoCommit, id: RecordId, heads: &'a [ChangeHash]) -> Self {
        Self { doc, id, heads: Some(heads) }
    }

    fn get(&self, obj: &ObjId, prop: impl Into<automerge::Prop>) -> Option<(Value<'a>, ObjId)> {
        let r = match self.heads {
            Some(h) => self.doc.get_at(obj, prop, h),
            None => self.doc.get(obj, prop),
        };
        r.ok().flatten()
    }

    fn try_get(&self, obj: &ObjId, key: &str) -> Result<Option<(Value<'a>, ObjId)>> {
        let r = match self.heads {
            Some(h) => self.doc.get_at(obj, key, h),
            None => self.doc.get(obj, key),
        };
        r.map_err(|_| self.bad(key))
    }

    fn bad(&self, key: &str) -> Error {
        Error::corrupt(self.id, format!("field {key}"))
    }

    fn scalar(&self, obj: &ObjId, key: &str) -> Result<Option<ScalarValue>> {
        match self.try_get(obj, key)? {
            Some((Value::Scalar(s), _)) => Ok(Some(s.into_owned())),
            Some(_) => Err(self.bad(key)),
            None => Ok(None),
        }
    }

    /// An optional string.
    pub fn opt_str(&self, obj: &ObjId, key: &str) -> Result<Option<String>> {
        match self.scalar(obj, key)? {
            Some(ScalarValue::Str(s)) => Ok(Some(s.to_string())),
            Some(ScalarValue::Null) | None => Ok(None),
            Some(_) => Err(self.bad(key)),
        }
    }

    /// A required string.
    pub fn str(&self, obj: &ObjId, key: &str) -> Result<String> {
        self.opt_str(obj, key)?.ok_or_else(|| self.bad(key))
    }

    /// A required value of a vocabulary enum.
    pub fn parse<T: std::str::FromStr>(&self, obj: &ObjId, key: &str) -> Result<T> {
        self.str(obj, key)?.parse().map_err(|_| self.bad(key))
    }

    /// An optional value of a vocabulary enum.
    pub fn opt_parse<T: std::str::FromStr>(&self, obj: &ObjId, key: &str) -> Result<Option<T>> {
        self.opt_str(obj, key)?.map(|s| s.parse().map_err(|_| self.bad(key))).transpose()
    }

    /// A required id.
    pub fn id(&self, obj: &ObjId, key: &str) -> Result<RecordId> {
        self.parse(obj, key)
    }

    /// An optional integer.
    pub fn opt_int(&self, obj: &ObjId, key: &str) -> Result<Option<i64>> {
        match self.scalar(obj, key)? {
            Some(ScalarValue::Int(i)) => Ok(Some(i)),
            Some(ScalarValue::Uint(u)) => i64::try_from(u).map(Some).map_err(|_| self.bad(key)),
            Some(ScalarValue::Null) | None => Ok(None),
            Some(_) => Err(self.bad(key)),
        }
    }

    /// A required integer.
    pub fn int(&self, obj: &ObjId, key: &str) -> Result<i64> {
        self.opt_int(obj, key)?.ok_or_else(|| self.bad(key))
    }

    /// An optional boolean (absent = false).
    pub fn flag(&self, obj: &ObjId, key: &str) -> Result<bool> {
        match self.scalar(obj, key)? {
            Some(ScalarValue::Boolean(b)) => Ok(b),
            Some(ScalarValue::Null) | None => Ok(false),
            Some(_) => Err(self.bad(key)),
        }
    }

    /// A child object of the expected type.
    pub fn obj(&self, obj: &ObjId, key: &str, ty: ObjType) -> Result<ObjId> {
        match self.try_get(obj, key)? {
            Some((Value::Object(t), id)) if t == ty => Ok(id),
            _ => Err(self.bad(key)),
        }
    }

    /// An optional child object of the expected type.
    pub fn opt_obj(&self, obj: &ObjId, key: &str, ty: ObjType) -> Result<Option<ObjId>> {
        match self.try_get(obj, key)? {
            Some((Value::Object(t), id)) if t == ty => Ok(Some(id)),
            None => Ok(None),
            _ => Err(self.bad(key)),
        }
    }

    /// The content of a Text child (empty if absent).
    pub fn text(&self, obj: &ObjId, key: &str) -> Result<String> {
        match self.opt_obj(obj, key, ObjType::Text)? {
            Some(t) => match self.heads {
                Some(h) => self.doc.text_at(&t, h),
                None => self.doc.text(&t),
            }
            .map_err(|_| self.bad(key)),
            None => Ok(String::new()),
        }
    }

    /// An add-wins set (a map whose keys are members), parsed into a vocabulary.
    pub fn set<T: std::str::FromStr + Ord>(&self, obj: &ObjId, key: &str) -> Result<Vec<T>> {
        let mut out = Vec::new();
        if let Some(m) = self.opt_obj(obj, key, ObjType::Map)? {
            let keys: Vec<String> = match self.heads {
                Some(h) => self.doc.map_range_at(&m, .., h).map(|i| i.key.to_string()).collect(),
                None => self.doc.map_range(&m, ..).map(|i| i.key.to_string()).collect(),
            };
            for k in keys {
                out.push(k.parse().map_err(|_| self.bad(key))?);
            }
        }
        out.sort();
        Ok(out)
    }

    /// The map items of a list child, in list order.
    pub fn list_maps(&self, obj: &ObjId, key: &str) -> Result<Vec<ObjId>> {
        let mut out = Vec::new();
        if let Some(l) = self.opt_obj(obj, key, ObjType::List)? {
            let len = match self.heads {
                Some(h) => self.doc.length_at(&l, h),
                None => self.doc.length(&l),
            };
            for i in 0..len {
                match self.get(&l, i) {
                    Some((Value::Object(ObjType::Map), id)) => out.push(id),
                    _ => return Err(self.bad(key)),
                }
            }
        }
        Ok(out)
    }

    /// The root object.
    pub fn root(&self) -> ObjId {
        ROOT
    }

    /// The winning value of a stamped register (see [`put_reg`]).
    pub fn reg_scalar(&self, obj: &ObjId, key: &str) -> Result<Option<ScalarValue>> {
        match self.opt_obj(obj, key, ObjType::Map)? {
            Some(m) => self.scalar(&m, "v"),
            None => Ok(None),
        }
    }

    /// The winning value of a stamped string register, parsed.
    pub fn reg_parse<T: std::str::FromStr>(&self, obj: &ObjId, key: &str) -> Result<T> {
        match self.reg_scalar(obj, key)? {
            Some(ScalarValue::Str(s)) => s.parse().map_err(|_| self.bad(key)),
            _ => Err(self.bad(key)),
        }
    }

    /// The winning value of a stamped integer register.
    pub fn reg_int(&self, obj: &ObjId, key: &str) -> Result<i64> {
        match self.reg_scalar(obj, key)? {
            Some(ScalarValue::Int(i)) => Ok(i),
            _ => Err(self.bad(key)),
        }
    }

    /// Every concurrent value of a stamped register (more than one means a conflict).
    pub fn reg_values(&self, obj: &ObjId, key: &str) -> Result<Vec<RegValue>> {
        let mut out = Vec::new();
        let all = match self.heads {
            Some(h) => self.doc.get_all_at(obj, key, h),
            None => self.doc.get_all(obj, key),
        };
        for (v, id) in all.map_err(|_| self.bad(key))? {
            if let Value::Object(ObjType::Map) = v {
                let value = self.scalar(&id, "v")?.ok_or_else(|| self.bad(key))?;
                let device = self.opt_parse::<DeviceId>(&id, "by")?;
                let at = self.opt_int(&id, "at")?;
                out.push(RegValue {
                    value,
                    stamp: device.zip(at).map(|(device, at)| Stamp { device, at }),
                });
            }
        }
        Ok(out)
    }
}

/// Writes a stamped register: a small map `{v, at, by}` replacing the previous one, so that a
/// concurrent write elsewhere leaves both maps visible (Automerge keeps conflicting values) and
/// each carries its author and time.
pub fn put_reg(
    doc: &mut AutoCommit,
    obj: &ObjId,
    key: &str,
    value: impl Into<ScalarValue>,
    stamp: &Stamp,
) -> Result<()> {
    let m = doc.put_object(obj, key, ObjType::Map)?;
    doc.put(&m, "v", value)?;
    doc.put(&m, "at", stamp.at)?;
    doc.put(&m, "by", stamp.device.to_string())?;
    Ok(())
}

/// How record documents count text positions: UTF-16 code units, as UITextView/NSRange and
/// Compose/Android count (Automerge's default counts Unicode scalars).
pub const TEXT_ENCODING: TextEncoding = TextEncoding::Utf16CodeUnit;

/// A new, empty record document whose text positions count UTF-16 code units.
pub fn new_doc() -> AutoCommit {
    AutoCommit::new_with_encoding(TEXT_ENCODING)
}

/// A record document loaded from saved bytes, its text positions counting UTF-16 code units.
/// Reads the same bytes as `AutoCommit::load` (the encoding is not stored), except those the
/// fence refuses ([`chunks::admissible`]: chunk kinds Mend never writes, or more than
/// [`chunks::MAX_INFLATED`] bytes inflated), which Automerge would load into unbounded memory.
/// Like [`load_incremental_safely`], a panic inside Automerge on hostile or damaged bytes is
/// caught and reported as a failure (`None`): every load of stored or received bytes goes
/// through one of the two.
pub fn load_doc(bytes: &[u8]) -> Option<AutoCommit> {
    if !chunks::admissible(bytes) {
        return None;
    }
    let opts = LoadOptions::new().text_encoding(TEXT_ENCODING);
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        AutoCommit::load_with_options(bytes, opts)
    }))
    .ok()?
    .ok()
}

/// Applies saved Automerge bytes (changes or a whole document) to `doc`. Bytes the fence
/// refuses ([`chunks::admissible`]) fail without reaching Automerge, `doc` untouched. Automerge
/// can panic on some inputs; the panic is caught and reported as a failure, after which the
/// caller must drop `doc` (its state is unknown). Nothing ever unwinds past this point toward
/// the FFI boundary.
pub fn load_incremental_safely(doc: &mut AutoCommit, bytes: &[u8]) -> bool {
    if !chunks::admissible(bytes) {
        return false;
    }
    matches!(
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| doc.load_incremental(bytes))),
        Ok(Ok(_))
    )
}

/// Puts a string, or deletes the key for `None`.
pub fn put_opt_str(doc: &mut AutoCommit, obj: &ObjId, key: &str, v: Option<&str>) -> Result<()> {
    match v {
        Some(s) => doc.put(obj, key, s)?,
        None => doc.put(obj, key, ScalarValue::Null)?,
    }
    Ok(())
}

/// Puts an integer, or null for `None`.
pub fn put_opt_int(doc: &mut AutoCommit, obj: &ObjId, key: &str, v: Option<i64>) -> Result<()> {
    match v {
        Some(i) => doc.put(obj, key, i)?,
        None => doc.put(obj, key, ScalarValue::Null)?,
    }
    Ok(())
}

/// Creates a Text child holding `text`.
pub fn put_text(doc: &mut AutoCommit, obj: &ObjId, key: &str, text: &str) -> Result<ObjId> {
    let t = doc.put_object(obj, key, ObjType::Text)?;
    if !text.is_empty() {
        doc.splice_text(&t, 0, 0, text)?;
    }
    Ok(t)
}

/// Replaces the content of a Text child with `text` by a minimal diff (so concurrent edits to
/// untouched parts still merge), creating the child if it is missing.
pub fn update_text(doc: &mut AutoCommit, obj: &ObjId, key: &str, text: &str) -> Result<()> {
    match doc.get(obj, key)? {
        Some((Value::Object(ObjType::Text), t)) => doc.update_text(&t, text)?,
        _ => {
            put_text(doc, obj, key, text)?;
        }
    }
    Ok(())
}

/// Splices a Text object: deletes `delete` UTF-16 code units at `pos` (a position in UTF-16 code
/// units, as UITextView/NSRange and Compose/Android count), then inserts `insert` there. A range
/// outside the text, or a `pos` or end (`pos + delete`) between the two halves of a surrogate
/// pair, is a validation error naming `field` and leaves nothing behind.
///
/// Cost per keystroke: a few lookups in Automerge's text index (the length, and the elements on
/// either side of each end), never a scan of the text.
pub fn splice_text(
    doc: &mut AutoCommit,
    t: &ObjId,
    field: &str,
    pos: usize,
    delete: usize,
    insert: &str,
) -> Result<()> {
    debug_assert_eq!(doc.text_encoding(), TEXT_ENCODING, "record documents count UTF-16 units");
    super::validate::text(field, insert)?;
    if delete == 0 && insert.is_empty() {
        // Nothing to do; an empty splice would still record an (empty) operation.
        return Ok(());
    }
    let outside = || {
        Error::invalid(
            field,
            format!("splice range {pos}+{delete} (UTF-16 units) is outside the text"),
        )
    };
    // Automerge shortens a delete that runs past the end (and overflows on a position far past
    // it): check the range first. The length is a sum kept in Automerge's text index, not a scan.
    let len = doc.length(t);
    if pos > len || delete > len - pos {
        return Err(outside());
    }
    // Automerge would move a position inside a character to its end: refuse it instead, so the
    // app learns its position was wrong and nothing lands where it did not mean.
    if splits_a_pair(doc, t, pos) || (delete > 0 && splits_a_pair(doc, t, pos + delete)) {
        return Err(Error::invalid(
            field,
            format!(
                "splice range {pos}+{delete} (UTF-16 units) splits a surrogate pair: \
                 positions must fall between characters"
            ),
        ));
    }
    let delete = isize::try_from(delete).map_err(|_| outside())?;
    let splice = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        doc.splice_text(t, pos, delete, insert)
    }));
    match splice {
        Ok(Ok(())) => Ok(()),
        _ => {
            doc.rollback();
            Err(outside())
        }
    }
}

/// Whether UTF-16 position `at` falls between the high and low surrogate of one character. Text
/// elements are Unicode scalars (one Automerge element each, one or two UTF-16 units wide), so
/// `at` is inside a character exactly when the units before and at it belong to the same element.
/// One lookup when the unit before `at` is a whole character (one unit wide: all typing outside
/// emoji and other astral characters), two otherwise.
fn splits_a_pair(doc: &AutoCommit, t: &ObjId, at: usize) -> bool {
    if at == 0 {
        return false;
    }
    let before = match doc.get(t, at - 1) {
        Ok(Some((Value::Scalar(s), id))) => match s.as_ref() {
            ScalarValue::Str(c) if c.chars().all(|c| c.len_utf16() == 1) => return false,
            _ => id,
        },
        Ok(Some((_, id))) => id,
        _ => return false,
    };
    matches!(doc.get(t, at), Ok(Some((_, here))) if here == before)
}

/// Creates an add-wins set child holding `items`.
pub fn put_set<T: std::fmt::Display>(
    doc: &mut AutoCommit,
    obj: &ObjId,
    key: &str,
    items: &[T],
) -> Result<ObjId> {
    let m = doc.put_object(obj, key, ObjType::Map)?;
    for i in items {
        doc.put(&m, i.to_string(), true)?;
    }
    Ok(m)
}

/// Adds to or removes from an add-wins set child (creating it when missing).
pub fn set_member<T: std::fmt::Display>(
    doc: &mut AutoCommit,
    obj: &ObjId,
    key: &str,
    item: &T,
    present: bool,
) -> Result<()> {
    let m = match doc.get(obj, key)? {
        Some((Value::Object(ObjType::Map), m)) => m,
        _ => doc.put_object(obj, key, ObjType::Map)?,
    };
    // Writing what is already there would only add a no-op to the history.
    let member = item.to_string();
    let is_member = doc.get(&m, member.as_str())?.is_some();
    if present && !is_member {
        doc.put(&m, member, true)?;
    } else if !present && is_member {
        doc.delete(&m, member)?;
    }
    Ok(())
}

/// Appends a new map to a list child (creating the list when missing) and returns it.
pub fn push_map(doc: &mut AutoCommit, obj: &ObjId, key: &str) -> Result<ObjId> {
    let l = match doc.get(obj, key)? {
        Some((Value::Object(ObjType::List), l)) => l,
        _ => doc.put_object(obj, key, ObjType::List)?,
    };
    let n = doc.length(&l);
    Ok(doc.insert_object(&l, n, ObjType::Map)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `stored_doc` fuzz target (RELIABILITY.md): saved-document bytes on which
    /// Automerge 0.12's loader panics (an `unwrap` in its column decoder) instead of returning
    /// an error. A damaged snapshot must read as corrupt, never unwind toward the app.
    const PANICS_AUTOMERGE: &[u8] = &[
        0x85, 0x6f, 0x4a, 0x83, 0x60, 0xb8, 0x89, 0x94, 0x03, 0x88, 0x01, 0x00, 0x02, 0x01, 0x96,
        0x03, 0x01, 0x02, 0x03, 0x02, 0x13, 0x02, 0x23, 0x02, 0x40, 0x02, 0x56, 0x02, 0x04, 0x15,
        0x57, 0x21, 0x02, 0x23, 0x0a, 0x34, 0x01, 0x42, 0x02, 0x56, 0x0e, 0x57, 0x7b, 0x80, 0x01,
        0x0b, 0x62, 0x2d, 0x66, 0x39, 0x39, 0x31, 0x33, 0x65, 0x65, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0x83, 0x54, 0x7c, 0xc4, 0xf7, 0x00, 0xe3, 0x0b, 0x62, 0x2d, 0x66, 0x39, 0x39,
        0x31, 0x33, 0x65, 0x66, 0x39, 0x39, 0x31, 0x33, 0x65, 0xe3, 0x0b, 0x62, 0x2d, 0x66, 0x39,
        0x39, 0x31, 0x33, 0x65, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x83, 0x54, 0x7c, 0xc4,
        0xf7, 0x00, 0xe3, 0x0b, 0x62, 0x2d, 0x66, 0x39, 0x39, 0x31, 0x33, 0x65, 0x65, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0x83, 0x54, 0x7c, 0xc4, 0xf7, 0x00, 0xe3, 0x0b, 0x62, 0x2d,
        0x66, 0x39, 0x39, 0x31, 0x33, 0x65, 0x66, 0x39, 0x39, 0x31, 0x33, 0x65,
    ];

    /// Found by the `registry` fuzz target (RELIABILITY.md): a 127-byte Automerge bundle chunk
    /// whose run-length-encoded column Automerge 0.12 expands into gigabytes before any check.
    /// The fence refuses it before Automerge sees it; without the fence this test dies of
    /// memory exhaustion.
    const ALLOCATES_GIGABYTES: &[u8] = &[
        0x85, 0x6f, 0x4a, 0x83, 0x9e, 0x0f, 0x04, 0x43, 0x03, 0x56, 0x02, 0x0a, 0x01, 0x04, 0x02,
        0x08, 0x15, 0xd2, 0x01, 0x20, 0x0f, 0x85, 0xff, 0x6f, 0x4a, 0x83, 0x33, 0x9e, 0x87, 0x03,
        0xe0, 0xe0, 0x02, 0x6f, 0x76, 0x6b, 0x65, 0x72, 0x65, 0x64, 0x00, 0x02, 0x60, 0x7f, 0x7f,
        0x7f, 0xc9, 0xc9, 0x2f, 0x36, 0xc9, 0xc9, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03,
        0x03, 0x03, 0x03, 0x83, 0x03, 0xa1, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0x0a, 0x00,
        0x00, 0x00, 0x03, 0x03, 0x03, 0x23, 0x07, 0xd1, 0x2c, 0x00, 0x23, 0x23, 0x61, 0xba, 0xc5,
        0xce, 0xf5, 0x12, 0xc4, 0x31, 0x4c, 0x23, 0x14, 0xa6, 0x2d, 0xda, 0x57, 0xf6, 0x8e, 0x58,
        0xfc, 0x6c, 0x34, 0x03, 0x03, 0x03, 0x83, 0x03, 0xa1, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
        0xaa, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];

    #[test]
    fn a_small_bundle_that_would_exhaust_memory_is_refused() {
        assert!(load_doc(ALLOCATES_GIGABYTES).is_none());
        let mut doc = new_doc();
        assert!(!load_incremental_safely(&mut doc, ALLOCATES_GIGABYTES));
        assert!(doc.get_heads().is_empty(), "the document is untouched");
    }

    #[test]
    fn load_doc_refuses_bytes_automerge_panics_on() {
        assert!(load_doc(PANICS_AUTOMERGE).is_none());
        // The same bytes as incremental changes are refused too (caught the same way).
        assert!(!load_incremental_safely(&mut new_doc(), PANICS_AUTOMERGE));
    }
}
