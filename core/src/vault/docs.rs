//! The document cache and the save path every edit takes.
//!
//! A record is stored as an encrypted Automerge snapshot plus encrypted incremental changes, and
//! its encrypted summary (what lists and timelines read without loading it). Loading decrypts
//! them into a cached document; an edit runs on the cached document and saves what it changed —
//! the change, the summary if it moved, and the outbox row for the other devices — in one SQLite
//! transaction, or, on any error, drops the cached copy so nothing unsaved lingers. Compaction
//! folds the changes into a new snapshot. Merging what other devices sent goes through
//! [`Inner::merge_changes`] and [`Inner::insert_remote`] so that every stored byte of a record is
//! written here.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ChangeHash};

use super::{now_ms, tallies, Inner, Vault};
use crate::crypto::{envelope, Aad, Part, SecretKey};
use crate::error::{Error, Result};
use crate::ids::{KeyId, RecordId, VaultId};
use crate::keyring;
use crate::outbox::Outbox;
use crate::query;
use crate::records::am::{self, Stamp};
use crate::records::note::Typing;
use crate::records::registry;
use crate::records::summary;
use crate::records::Kind;
use crate::store::db::{self, DocHeader};
use zeroize::Zeroizing;

/// A decrypted record in memory.
pub(crate) struct Cached {
    pub(crate) doc: AutoCommit,
    pub(crate) header: DocHeader,
    pub(crate) saved_heads: Vec<ChangeHash>,
    pub(crate) summary: Vec<u8>,
    /// The note section last typed in, with its checks (see [`Typing`]).
    pub(crate) typing: Option<Typing>,
}

/// Associated data of a record's stored envelope: vault, record, kind, sequence number and part.
pub(crate) fn record_aad(vault: VaultId, h: &DocHeader, seq: u64, part: Part) -> Aad {
    Aad { vault, record: h.doc_id, kind: h.kind, seq, part }
}

impl Vault {
    /// Folds every record's incremental changes into a fresh snapshot.
    pub fn compact_all(&self) -> Result<()> {
        let mut g = self.lock();
        for id in db::doc_ids(&g.conn)? {
            match g.load(id) {
                Ok(()) => g.compact(id)?,
                Err(Error::Erased(_)) | Err(Error::Corrupt { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl Inner {
    /// Re-reads the registry document into memory (an unreadable registry trusts no one).
    pub(crate) fn refresh_registry(&mut self) {
        let id = self.registry_id;
        // A registry that does not read (a damaged local copy) keeps the last one read: an
        // empty one would look like a vault without devices or revocations, and keys would be
        // sealed to nobody or under generations a revoked device made.
        if let Ok(r) = self.read(id, Kind::Registry, |doc| registry::read(doc, id)) {
            self.registry = r;
        }
        self.keys.set_untrusted(self.registry.revoked.keys().copied().collect());
    }

    pub(crate) fn kind_of(&self, id: RecordId) -> Result<Kind> {
        let h = db::doc_header(&self.conn, &id)?.ok_or(Error::NotFound { kind: "record", id })?;
        Kind::from_code(h.kind).ok_or_else(|| Error::corrupt(id, "kind"))
    }

    /// This device and the current time, for stamped registers.
    pub(crate) fn stamp(&self) -> Stamp {
        Stamp { device: self.device_id, at: now_ms() }
    }

    pub(crate) fn aad(&self, h: &DocHeader, seq: u64, part: Part) -> Aad {
        record_aad(self.vault_id, h, seq, part)
    }

    /// The record's head saying its newest stored part is `seq` (written with that part).
    pub(crate) fn head(&self, h: &DocHeader, seq: u64) -> Vec<u8> {
        keyring::seal_count(
            self.keys.vault_key(),
            self.vault_id,
            (h.doc_id, h.kind, Part::Head),
            seq,
        )
    }

    /// The data key `key_id` of `for_record`, or [`Error::Erased`] once destroyed.
    pub(crate) fn key_of(&mut self, key_id: KeyId, for_record: RecordId) -> Result<SecretKey> {
        self.keys.get(&self.conn, key_id, for_record)?.ok_or(Error::Erased(for_record))
    }

    /// Creates a record: its snapshot, summary and outbox row in one transaction.
    pub(crate) fn create_doc(
        &mut self,
        id: RecordId,
        kind: Kind,
        client_id: RecordId,
        key_id: KeyId,
        write: impl FnOnce(&mut AutoCommit) -> Result<()>,
    ) -> Result<()> {
        let key = self.keys.get(&self.conn, key_id, id)?.ok_or(Error::Erased(client_id))?;
        let mut doc = am::new_doc();
        write(&mut doc)?;
        let header = DocHeader {
            doc_id: id,
            kind: kind as u8,
            client_id,
            key_id,
            next_seq: 1,
            snapshot_seq: 0,
        };
        let snapshot = Zeroizing::new(doc.save());
        let summary = summary::encoded(kind, &doc, id)?;
        let sealed =
            envelope::seal(&key, &key_id, &self.aad(&header, 0, Part::Snapshot), &snapshot);
        let sealed_summary =
            envelope::seal(&key, &key_id, &self.aad(&header, 0, Part::Summary), &summary);
        let (send_id, send_key) = self.send_key(key_id, id)?;
        let seq = self.outbox.next_seq();
        let entry = self.outbox.change(seq, &send_key, send_id, id, kind, client_id, &snapshot);
        let head = self.head(&header, 0);
        let tx = self.conn.transaction()?;
        db::doc_insert(&tx, &header, &sealed)?;
        db::head_put(&tx, &id, &head)?;
        tallies::count_new(&tx, (self.keys.vault_key(), self.vault_id), client_id, kind as u8)?;
        db::summary_put(&tx, &id, 0, &sealed_summary)?;
        Outbox::put(&tx, &entry)?;
        tx.commit()?;
        self.outbox.committed(seq);
        let saved_heads = doc.get_heads();
        self.cache(id, Cached { doc, header, saved_heads, summary, typing: None });
        Ok(())
    }

    pub(crate) fn cache(&mut self, id: RecordId, c: Cached) {
        if self.docs.len() >= self.opts.cache_docs.max(1) {
            // Simple bound: drop everything but keep the record being worked on.
            self.docs.clear();
        }
        self.docs.insert(id, c);
    }

    /// Loads a record into the cache (decrypting its snapshot and changes).
    pub(crate) fn load(&mut self, id: RecordId) -> Result<()> {
        if self.docs.contains_key(&id) {
            return Ok(());
        }
        let mut header =
            db::doc_header(&self.conn, &id)?.ok_or(Error::NotFound { kind: "record", id })?;
        let key = self.key_of(header.key_id, id)?;
        let (snapshot, changes) = db::doc_parts(&self.conn, &id)?;
        // The next number comes from the sealed head, not from the plaintext `next_seq` (which
        // damage could move, so that the next save would leave a gap and lose the record).
        let head = self.check_parts(&header, &changes)?;
        header.next_seq = head.checked_add(1).ok_or_else(|| Error::corrupt(id, "head"))?;
        let bytes = envelope::open(
            &key,
            &header.key_id,
            &self.aad(&header, header.snapshot_seq, Part::Snapshot),
            &snapshot,
        )
        .map_err(|_| Error::corrupt(id, "snapshot"))?;
        let mut doc = am::load_doc(&bytes).ok_or_else(|| Error::corrupt(id, "snapshot"))?;
        // Decrypt every change, then hand them to Automerge in one call (one call per row is
        // much slower on long notes); if that fails, apply row by row to name the bad one.
        let mut all = zeroize::Zeroizing::new(Vec::new());
        let mut parts = Vec::with_capacity(changes.len());
        for (seq, data) in changes {
            let bytes =
                envelope::open(&key, &header.key_id, &self.aad(&header, seq, Part::Change), &data)
                    .map_err(|_| Error::corrupt(id, format!("change {seq}")))?;
            all.extend_from_slice(&bytes);
            parts.push((seq, bytes));
        }
        if !all.is_empty() {
            let mut joined = doc.clone();
            if am::load_incremental_safely(&mut joined, &all) {
                doc = joined;
            } else {
                for (seq, bytes) in parts {
                    if !am::load_incremental_safely(&mut doc, &bytes) {
                        return Err(Error::corrupt(id, format!("change {seq}")));
                    }
                }
            }
        }
        let saved_heads = doc.get_heads();
        let kind = Kind::from_code(header.kind).ok_or_else(|| Error::corrupt(id, "kind"))?;
        let summary = summary::encoded(kind, &doc, id)?;
        self.cache(id, Cached { doc, header, saved_heads, summary, typing: None });
        Ok(())
    }

    /// Checks that the stored parts are the whole record: its changes follow the snapshot without
    /// a gap, and the newest of them is the one its sealed head names. What decides which rows
    /// make up a record (their ids and numbers) is plaintext in the file; this makes a row lost
    /// or moved by damage an error instead of an older value.
    /// Returns the head.
    fn check_parts(&self, h: &DocHeader, changes: &[(u64, Vec<u8>)]) -> Result<u64> {
        let id = h.doc_id;
        let sealed = db::head_get(&self.conn, &id)?.ok_or_else(|| Error::corrupt(id, "head"))?;
        let head = keyring::open_count(
            self.keys.vault_key(),
            self.vault_id,
            (id, h.kind, Part::Head),
            &sealed,
        )
        .ok_or_else(|| Error::corrupt(id, "head"))?;
        let mut top = h.snapshot_seq;
        for (seq, _) in changes {
            let expect = top.checked_add(1).ok_or_else(|| Error::corrupt(id, "sequence"))?;
            if *seq != expect {
                return Err(Error::corrupt(id, format!("change {expect} missing")));
            }
            top = expect;
        }
        if top != head {
            return Err(Error::corrupt(id, format!("stored up to {top}, head says {head}")));
        }
        Ok(head)
    }

    /// The cached record, loaded if need be, whatever its kind.
    pub(crate) fn cached_any(&mut self, id: RecordId) -> Result<&mut Cached> {
        self.load(id)?;
        self.docs.get_mut(&id).ok_or_else(|| Error::Internal("cache".into()))
    }

    /// The cached record, refused as not found unless it is of `kind`.
    pub(crate) fn cached(&mut self, id: RecordId, kind: Kind) -> Result<&mut Cached> {
        let c = self.cached_any(id)?;
        if c.header.kind != kind as u8 {
            return Err(Error::NotFound { kind: kind.name(), id });
        }
        Ok(c)
    }

    pub(crate) fn read<T>(
        &mut self,
        id: RecordId,
        kind: Kind,
        f: impl FnOnce(&AutoCommit) -> Result<T>,
    ) -> Result<T> {
        f(&self.cached(id, kind)?.doc)
    }

    pub(crate) fn read_mut<T>(
        &mut self,
        id: RecordId,
        kind: Kind,
        f: impl FnOnce(&mut AutoCommit) -> Result<T>,
    ) -> Result<T> {
        f(&mut self.cached(id, kind)?.doc)
    }

    /// Runs an edit and saves what it changed as one encrypted incremental change (plus the
    /// summary if it changed), in one transaction. On any error the in-memory copy is dropped,
    /// so nothing unsaved lingers.
    pub(crate) fn edit<T>(
        &mut self,
        id: RecordId,
        kind: Kind,
        f: impl FnOnce(&mut AutoCommit) -> Result<T>,
    ) -> Result<T> {
        let result = self.edit_inner(id, kind, true, f);
        if result.is_err() {
            self.docs.remove(&id);
        }
        result
    }

    /// An edit of free text only (note sections): it cannot change the record's summary or its
    /// conflicts, so the summary is not recomputed — the hot path of live typing.
    pub(crate) fn edit_text<T>(
        &mut self,
        id: RecordId,
        kind: Kind,
        f: impl FnOnce(&mut AutoCommit) -> Result<T>,
    ) -> Result<T> {
        let result = self.edit_inner(id, kind, false, f);
        if result.is_err() {
            self.docs.remove(&id);
        }
        result
    }

    /// Live typing in a note section, with the checks kept between keystrokes ([`Typing`]).
    pub(crate) fn type_in_note(
        &mut self,
        id: RecordId,
        section: &str,
        pos: usize,
        delete: usize,
        insert: &str,
    ) -> Result<()> {
        let c = self.cached(id, Kind::Note)?;
        let last = c.typing.take();
        let text = Typing::target(&mut c.doc, id, last, section)?;
        self.edit_text(id, Kind::Note, |doc| {
            Typing::splice(doc, &text, section, pos, delete, insert)
        })?;
        if let Some(c) = self.docs.get_mut(&id) {
            c.typing = Some(Typing::settled(&mut c.doc, section, text));
        }
        Ok(())
    }

    fn edit_inner<T>(
        &mut self,
        id: RecordId,
        kind: Kind,
        summary_may_change: bool,
        f: impl FnOnce(&mut AutoCommit) -> Result<T>,
    ) -> Result<T> {
        let c = self.cached(id, kind)?;
        let out = f(&mut c.doc)?;
        if c.doc.pending_ops() == 0 {
            // Nothing changed: close the empty transaction without a change (committing an
            // empty one leaves Automerge unable to merge later changes).
            c.doc.rollback();
            return Ok(out);
        }
        let bytes = Zeroizing::new(c.doc.save_after(&c.saved_heads));
        if bytes.is_empty() {
            return Ok(out);
        }
        let header = c.header.clone();
        let summary = if summary_may_change {
            summary::encoded(kind, &c.doc, id)?
        } else {
            c.summary.clone()
        };
        let summary_changed = summary != c.summary;
        let key = self.key_of(header.key_id, id)?;
        let seq = header.next_seq;
        let sealed =
            envelope::seal(&key, &header.key_id, &self.aad(&header, seq, Part::Change), &bytes);
        let sealed_summary = summary_changed.then(|| {
            envelope::seal(&key, &header.key_id, &self.aad(&header, seq, Part::Summary), &summary)
        });
        let kind_of = Kind::from_code(header.kind).ok_or_else(|| Error::corrupt(id, "kind"))?;
        // Stored under the record's own key; sent under the newest generation of its client's
        // (renewing keys first may take sequence numbers: the save's number comes after).
        let (send_id, send_key) = self.send_key(header.key_id, id)?;
        let out_seq = self.outbox.next_seq();
        let entry =
            self.outbox.change(out_seq, &send_key, send_id, id, kind_of, header.client_id, &bytes);
        let head = self.head(&header, seq);
        let tx = self.conn.transaction()?;
        db::change_append(&tx, &id, seq, &sealed)?;
        db::head_put(&tx, &id, &head)?;
        if let Some(s) = &sealed_summary {
            db::summary_put(&tx, &id, seq, s)?;
        }
        Outbox::put(&tx, &entry)?;
        tx.commit()?;
        self.outbox.committed(out_seq);
        let c = self.docs.get_mut(&id).ok_or_else(|| Error::Internal("cache".into()))?;
        c.saved_heads = c.doc.get_heads();
        c.header.next_seq = seq + 1;
        if summary_changed {
            c.summary = summary;
        }
        if seq.saturating_sub(c.header.snapshot_seq) >= self.opts.compact_after {
            // The edit is already durable; a failed compaction only means it is retried after
            // the next save, so it must not turn this acknowledged save into an error.
            let _ = self.compact(id);
        }
        Ok(out)
    }

    /// Folds the record's changes into a new snapshot, keeping the full history inside it, and,
    /// once the saves queued since the last fold outweigh the record, the newest run of them into
    /// one outbox row holding that snapshot (see [`Outbox::fold`]). Skipped while changes wait
    /// for missing dependencies (a snapshot would not contain them).
    pub(crate) fn compact(&mut self, id: RecordId) -> Result<()> {
        let c = self.docs.get_mut(&id).ok_or_else(|| Error::Internal("cache".into()))?;
        if !c.doc.get_missing_deps(&[]).is_empty() {
            return Ok(());
        }
        let snapshot = Zeroizing::new(c.doc.save());
        let header = c.header.clone();
        let seq = header.next_seq;
        let key = self.key_of(header.key_id, id)?;
        let sealed = envelope::seal(
            &key,
            &header.key_id,
            &self.aad(&header, seq, Part::Snapshot),
            &snapshot,
        );
        let (send_id, send_key) = self.send_key(header.key_id, id)?;
        let fold = self.outbox.fold(&self.conn, &header, (send_id, &send_key), &snapshot)?;
        let head = self.head(&header, seq);
        let tx = self.conn.transaction()?;
        db::snapshot_replace(&tx, &id, seq, &sealed)?;
        db::head_put(&tx, &id, &head)?;
        if let Some(fold) = &fold {
            Outbox::replace_run(&tx, &header, send_id, fold)?;
        }
        tx.commit()?;
        if let Some(c) = self.docs.get_mut(&id) {
            c.header.snapshot_seq = seq;
            c.header.next_seq = seq + 1;
        }
        Ok(())
    }

    /// Merges changes another device made into the cached record `id` (loaded by the caller) and
    /// stores them as one change, with the summary if it moved. `whole`: the bytes are a whole
    /// document, not stored if they bring nothing new. Returns `false` (nothing stored, the
    /// cached copy dropped) if the bytes do not load as Automerge changes. They are stored under
    /// the record's own key, whatever generation they were sent under.
    pub(crate) fn merge_changes(
        &mut self,
        id: RecordId,
        kind: Kind,
        bytes: &[u8],
        whole: bool,
    ) -> Result<bool> {
        let vault = self.vault_id;
        let key_id =
            self.docs.get(&id).ok_or_else(|| Error::Internal("cache".into()))?.header.key_id;
        let key = &self.key_of(key_id, id)?;
        let c = self.docs.get_mut(&id).ok_or_else(|| Error::Internal("cache".into()))?;
        let heads = c.doc.get_heads();
        let missing = c.doc.get_missing_deps(&[]);
        if !am::load_incremental_safely(&mut c.doc, bytes) {
            self.docs.remove(&id);
            return Ok(false);
        }
        // A whole-document snapshot that brought nothing new need not be stored. Change bundles
        // always are: one may wait on the same missing dependency as another, leaving heads and
        // missing dependencies unchanged, and must still survive a restart.
        if whole && c.doc.get_heads() == heads && c.doc.get_missing_deps(&[]) == missing {
            return Ok(true);
        }
        let seq = c.header.next_seq;
        let aad = record_aad(vault, &c.header, seq, Part::Change);
        let sealed = envelope::seal(key, &c.header.key_id, &aad, bytes);
        let head =
            keyring::seal_count(self.keys.vault_key(), vault, (id, c.header.kind, Part::Head), seq);
        // Inside the sync page's transaction: the change and its head land together.
        db::change_append(&self.conn, &id, seq, &sealed)?;
        db::head_put(&self.conn, &id, &head)?;
        c.header.next_seq = seq + 1;
        c.saved_heads = c.doc.get_heads();
        if let Ok(s) = summary::encoded(kind, &c.doc, id) {
            if s != c.summary {
                let aad = record_aad(vault, &c.header, seq, Part::Summary);
                db::summary_put(
                    &self.conn,
                    &id,
                    seq,
                    &envelope::seal(key, &c.header.key_id, &aad, &s),
                )?;
                c.summary = s;
            }
        }
        Ok(true)
    }

    /// Stores a record first seen in another device's bundle: an empty snapshot and the bundle's
    /// bytes as its first change. Returns `false` (nothing stored) if they do not load.
    pub(crate) fn insert_remote(
        &mut self,
        id: RecordId,
        kind: Kind,
        client: RecordId,
        (key_id, key): (KeyId, &SecretKey),
        bytes: &[u8],
    ) -> Result<bool> {
        let mut doc = am::new_doc();
        if !am::load_incremental_safely(&mut doc, bytes) {
            return Ok(false);
        }
        let header = DocHeader {
            doc_id: id,
            kind: kind as u8,
            client_id: client,
            key_id,
            next_seq: 2,
            snapshot_seq: 0,
        };
        let empty = AutoCommit::new().save();
        let snap = envelope::seal(key, &key_id, &self.aad(&header, 0, Part::Snapshot), &empty);
        let change = envelope::seal(key, &key_id, &self.aad(&header, 1, Part::Change), bytes);
        db::doc_insert(&self.conn, &header, &snap)?;
        db::change_append(&self.conn, &id, 1, &change)?;
        db::head_put(&self.conn, &id, &self.head(&header, 1))?;
        tallies::count_new(&self.conn, (self.keys.vault_key(), self.vault_id), client, kind as u8)?;
        let summary = summary::encoded(kind, &doc, id).unwrap_or_default();
        if !summary.is_empty() {
            let s = envelope::seal(key, &key_id, &self.aad(&header, 1, Part::Summary), &summary);
            db::summary_put(&self.conn, &id, 1, &s)?;
        }
        let saved_heads = doc.get_heads();
        self.cache(id, Cached { doc, header, saved_heads, summary, typing: None });
        Ok(true)
    }

    /// Checks that a list read as many records as `client`'s sealed counts say (see `tallies`).
    pub(crate) fn check_list(
        &self,
        client: RecordId,
        kind: Option<u8>,
        rows: &[db::SummaryRow],
    ) -> Result<()> {
        tallies::check(&self.conn, (self.keys.vault_key(), self.vault_id), client, kind, rows)
    }

    /// Decrypts the summaries of `rows`; an erased or damaged one is flagged, not an error.
    pub(crate) fn open_summaries(&mut self, rows: Vec<db::SummaryRow>) -> Result<Vec<query::Row>> {
        let mut out = Vec::with_capacity(rows.len());
        for (h, data) in rows {
            let summary = match self.keys.get(&self.conn, h.key_id, h.doc_id) {
                Ok(None) => Err(query::Unreadable::Erased),
                Err(Error::Corrupt { .. }) => Err(query::Unreadable::Corrupt),
                Err(e) => return Err(e),
                Ok(Some(key)) => match data {
                    None => Err(query::Unreadable::Corrupt),
                    Some((seq, bytes)) => {
                        envelope::open(&key, &h.key_id, &self.aad(&h, seq, Part::Summary), &bytes)
                            .map_err(|_| query::Unreadable::Corrupt)
                            .and_then(|b| {
                                summary::decode(h.doc_id, &b)
                                    .map_err(|_| query::Unreadable::Corrupt)
                            })
                    }
                },
            };
            let conflicted = matches!(summary, Ok((_, true)));
            out.push(query::Row { header: h, summary: summary.map(|(s, _)| s), conflicted });
        }
        Ok(out)
    }
}
