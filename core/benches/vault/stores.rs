//! The stores under test: Mend and its baselines (floor, plaintext, naive), all behind one `Editor`.

use super::*;

/// Anything that can take one splice into the note's section as one acknowledged save.
pub(crate) trait Editor {
    fn splice(&mut self, pos: usize, del: usize, ins: &str);
}

pub(crate) struct MendEditor {
    pub(crate) vault: Vault,
    pub(crate) id: RecordId,
}

impl Editor for MendEditor {
    fn splice(&mut self, pos: usize, del: usize, ins: &str) {
        self.vault.splice_note_section(self.id, SECTION, pos, del, ins).unwrap();
    }
}

/// The floor: raw Automerge in memory; each splice is committed (one change per save, as in
/// every store) but never encoded or stored.
pub(crate) struct RawEditor {
    pub(crate) doc: AutoCommit,
    pub(crate) text: ObjId,
}

impl RawEditor {
    pub(crate) fn note() -> RawEditor {
        let mut doc = am::new_doc();
        let id = RecordId::random();
        note::create(
            &mut doc,
            id,
            RecordId::random(),
            T0,
            &soap_note(RecordId::random(), 0),
            &stamp(),
        )
        .unwrap();
        doc.commit();
        let text = text_obj(&doc);
        RawEditor { doc, text }
    }
}

impl Editor for RawEditor {
    fn splice(&mut self, pos: usize, del: usize, ins: &str) {
        self.doc.splice_text(&self.text, pos, del as isize, ins).unwrap();
        self.doc.commit();
    }
}

pub(crate) const PLAIN_SCHEMA: &str = "
CREATE TABLE docs (
    doc_id BLOB PRIMARY KEY, next_seq INTEGER NOT NULL, snapshot_seq INTEGER NOT NULL,
    snapshot BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE changes (
    doc_id BLOB NOT NULL REFERENCES docs(doc_id), seq INTEGER NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (doc_id, seq)
) WITHOUT ROWID;
CREATE TABLE summaries (
    doc_id BLOB PRIMARY KEY REFERENCES docs(doc_id), seq INTEGER NOT NULL, data BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, kind INTEGER NOT NULL, doc_id BLOB NOT NULL,
    key_id BLOB NOT NULL, payload BLOB NOT NULL
);";

/// The plaintext baseline: Mend's storage scheme without encryption.
pub(crate) struct PlainStore {
    pub(crate) conn: Connection,
    pub(crate) doc: AutoCommit,
    pub(crate) id: RecordId,
    pub(crate) text: ObjId,
    pub(crate) heads: Vec<ChangeHash>,
    pub(crate) next_seq: u64,
    pub(crate) snapshot_seq: u64,
    pub(crate) compact_after: u64,
    pub(crate) layer: Layer,
    pub(crate) summary: Vec<u8>,
    pub(crate) client: RecordId,
    /// The checks of the last keystroke, kept as the vault keeps them (`Checks` and up).
    pub(crate) typing: Option<note::Typing>,
}

/// How much of Mend's record layer the plaintext baseline runs per save.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Layer {
    /// `splice_text` on the document, nothing else.
    Bare,
    /// The checks of Mend's typing path, by the same code the vault runs per keystroke
    /// (`records::note::Typing`): the draft check and section lookup when the document moved
    /// since the last keystroke, the range and size checks always.
    Checks,
    /// As `Checks`, plus the summary recomputed and re-stored when it changed, as the vault does
    /// for edits that may change it (not for text splices: informational).
    Summary,
    /// As `Checks`, plus the change queued again in an outbox row for sync (kind, client, bytes),
    /// as the vault does: everything the vault does per text splice except encryption.
    Outbox,
}

impl PlainStore {
    pub(crate) fn create(
        path: &Path,
        durability: Durability,
        compact_after: u64,
        layer: Layer,
    ) -> Self {
        let mut conn = open_connection(path, true, durability).unwrap();
        conn.execute_batch(PLAIN_SCHEMA).unwrap();
        let id = RecordId::random();
        let mut doc = am::new_doc();
        let client = RecordId::random();
        note::create(&mut doc, id, client, T0, &soap_note(RecordId::random(), 0), &stamp())
            .unwrap();
        let snapshot = doc.save();
        let summary = summary::encoded(Kind::Note, &doc, id).unwrap();
        let tx = conn.transaction().unwrap();
        tx.execute(
            "INSERT INTO docs(doc_id, next_seq, snapshot_seq, snapshot) VALUES (?1, 1, 0, ?2)",
            params![&id.as_bytes()[..], snapshot],
        )
        .unwrap();
        tx.execute(
            "INSERT INTO summaries(doc_id, seq, data) VALUES (?1, 0, ?2)",
            params![&id.as_bytes()[..], summary],
        )
        .unwrap();
        tx.commit().unwrap();
        let heads = doc.get_heads();
        let text = text_obj(&doc);
        PlainStore {
            conn,
            doc,
            id,
            text,
            heads,
            next_seq: 1,
            snapshot_seq: 0,
            compact_after,
            layer,
            summary,
            client,
            typing: None,
        }
    }

    pub(crate) fn compact(&mut self) {
        let snapshot = self.doc.save();
        let seq = self.next_seq;
        let tx = self.conn.transaction().unwrap();
        tx.execute(
            "UPDATE docs SET snapshot = ?2, snapshot_seq = ?3, next_seq = ?3 + 1 WHERE doc_id = ?1",
            params![&self.id.as_bytes()[..], snapshot, seq as i64],
        )
        .unwrap();
        tx.execute(
            "DELETE FROM changes WHERE doc_id = ?1 AND seq < ?2",
            params![&self.id.as_bytes()[..], seq as i64],
        )
        .unwrap();
        tx.commit().unwrap();
        self.snapshot_seq = seq;
        self.next_seq = seq + 1;
    }

    pub(crate) fn checkpoint(&self) {
        self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap();
    }
}

impl Editor for PlainStore {
    fn splice(&mut self, pos: usize, del: usize, ins: &str) {
        let mut target = None;
        if self.layer >= Layer::Checks {
            let last = self.typing.take();
            let text = note::Typing::target(&mut self.doc, self.id, last, SECTION).unwrap();
            note::Typing::splice(&mut self.doc, &text, SECTION, pos, del, ins).unwrap();
            target = Some(text);
        } else {
            self.doc.splice_text(&self.text, pos, del as isize, ins).unwrap();
        }
        let bytes = self.doc.save_after(&self.heads);
        if bytes.is_empty() {
            return;
        }
        let new_summary = if self.layer == Layer::Summary {
            let s = summary::encoded(Kind::Note, &self.doc, self.id).unwrap();
            (s != self.summary).then_some(s)
        } else {
            None
        };
        let seq = self.next_seq;
        let tx = self.conn.transaction().unwrap();
        tx.prepare_cached("INSERT INTO changes(doc_id, seq, data) VALUES (?1, ?2, ?3)")
            .unwrap()
            .execute(params![&self.id.as_bytes()[..], seq as i64, bytes])
            .unwrap();
        if let Some(s) = &new_summary {
            tx.prepare_cached(
                "INSERT INTO summaries(doc_id, seq, data) VALUES (?1, ?2, ?3)
                 ON CONFLICT(doc_id) DO UPDATE SET seq = excluded.seq, data = excluded.data",
            )
            .unwrap()
            .execute(params![&self.id.as_bytes()[..], seq as i64, s])
            .unwrap();
        }
        if self.layer == Layer::Outbox {
            let mut payload = Vec::with_capacity(17 + bytes.len());
            payload.push(Kind::Note as u8);
            payload.extend_from_slice(self.client.as_bytes());
            payload.extend_from_slice(&bytes);
            tx.prepare_cached(
                "INSERT INTO outbox(kind, doc_id, key_id, payload) VALUES (0, ?1, ?2, ?3)",
            )
            .unwrap()
            .execute(params![&self.id.as_bytes()[..], &[0u8; 16][..], payload])
            .unwrap();
        }
        tx.commit().unwrap();
        self.heads = self.doc.get_heads();
        if let Some(text) = target {
            self.typing = Some(note::Typing::settled(&mut self.doc, SECTION, text));
        }
        self.next_seq = seq + 1;
        if let Some(s) = new_summary {
            self.summary = s;
        }
        if seq - self.snapshot_seq >= self.compact_after {
            self.compact();
        }
    }
}

/// Loads a record's document from a plaintext store file, as a fresh process would: one
/// `load_incremental` per change row (as the vault does), or one for all rows concatenated.
pub(crate) fn plain_load(path: &Path, id: RecordId, batched: bool) -> AutoCommit {
    let conn = open_connection(path, false, Durability::Full).unwrap();
    let snapshot: Vec<u8> = conn
        .query_row("SELECT snapshot FROM docs WHERE doc_id = ?1", [&id.as_bytes()[..]], |r| {
            r.get(0)
        })
        .unwrap();
    let mut st = conn.prepare("SELECT data FROM changes WHERE doc_id = ?1 ORDER BY seq").unwrap();
    let changes = st
        .query_map([&id.as_bytes()[..]], |r| r.get::<_, Vec<u8>>(0))
        .unwrap()
        .collect::<rusqlite::Result<Vec<_>>>()
        .unwrap();
    let mut doc = am::load_doc(&snapshot).unwrap();
    if batched {
        doc.load_incremental(&changes.concat()).unwrap();
    } else {
        for c in changes {
            doc.load_incremental(&c).unwrap();
        }
    }
    doc
}

/// The naive store: every save re-encrypts and rewrites the whole document.
pub(crate) struct NaiveStore {
    pub(crate) conn: Connection,
    pub(crate) doc: AutoCommit,
    pub(crate) id: RecordId,
    pub(crate) text: ObjId,
    pub(crate) cipher: XChaCha20Poly1305,
}

impl NaiveStore {
    pub(crate) fn create(path: &Path, durability: Durability) -> Self {
        let conn = open_connection(path, true, durability).unwrap();
        conn.execute_batch(
            "CREATE TABLE docs (doc_id BLOB PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID",
        )
        .unwrap();
        let RawEditor { doc, text } = RawEditor::note();
        let cipher = XChaCha20Poly1305::new_from_slice(&KEY).unwrap();
        let mut s = NaiveStore { conn, doc, id: RecordId::random(), text, cipher };
        let blob = s.seal();
        s.conn
            .execute(
                "INSERT INTO docs(doc_id, data) VALUES (?1, ?2)",
                params![&s.id.as_bytes()[..], blob],
            )
            .unwrap();
        s
    }

    pub(crate) fn seal(&mut self) -> Vec<u8> {
        let plain = self.doc.save();
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let ct = self
            .cipher
            .encrypt(&XNonce::from(nonce), Payload { msg: &plain, aad: &self.id.as_bytes()[..] })
            .unwrap();
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ct);
        blob
    }
}

impl Editor for NaiveStore {
    fn splice(&mut self, pos: usize, del: usize, ins: &str) {
        self.doc.splice_text(&self.text, pos, del as isize, ins).unwrap();
        let blob = self.seal();
        let tx = self.conn.transaction().unwrap();
        tx.prepare_cached("UPDATE docs SET data = ?2 WHERE doc_id = ?1")
            .unwrap()
            .execute(params![&self.id.as_bytes()[..], blob])
            .unwrap();
        tx.commit().unwrap();
    }
}
