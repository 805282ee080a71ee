//! Applying pulled pages: every bundle is checked before anything is written (vault, signer in
//! the registry and not revoked, Ed25519 signature, AEAD, and that it names the same record
//! kind, client and key as the local copy), then applied inside one SQLite transaction per page
//! with the new cursor. Registry changes and key shares go first, as they decide what the rest
//! may do; a page's change bundles are merged per record (one Automerge load, one stored change,
//! one summary). A refused bundle is counted with its reason and changes nothing; one that
//! cannot be applied yet (unknown signer or key) waits, encrypted, in `pending`.

use std::collections::{HashMap, HashSet};

use super::bundle::{Bundle, BundleKind};
use super::report::{RejectReason, Rejection, SyncReport};
use super::transport::PageItem;
use crate::crypto::{envelope, signing, KeyPurpose, Part};
use crate::error::{Error, Result};
use crate::ids::{DeviceId, RecordId};
use crate::keyring::VAULT_OWNER;
use crate::outbox::{bundle_aad, parse_doc_plain, parse_key_share, DocPlain};
use crate::records::registry::SignerState;
use crate::records::Kind;
use crate::shares::{self, Opened, ShareError};
use crate::store::db::{self, Meta};
use crate::vault::Inner;

enum Outcome {
    Applied {
        registry: bool,
    },
    /// Checked and decrypted, merged with the rest of its record's page when the page ends.
    Staged,
    Duplicate,
    /// Nothing for this device in it (a key share sealed to others, or keys it holds already):
    /// accounted for, counted nowhere.
    Skipped,
    Erased,
    Deferred,
    Rejected(RejectReason),
}

/// A merge's outcome: applied, or refused because the bytes are not Automerge changes.
fn merged(loaded: bool, kind: Kind) -> Outcome {
    if loaded {
        Outcome::Applied { registry: kind == Kind::Registry }
    } else {
        Outcome::Rejected(RejectReason::BadChanges)
    }
}

/// A checked, decrypted change bundle waiting for the end of its page.
struct Staged {
    relay_seq: u64,
    device: DeviceId,
    first: u64,
    seq: u64,
    bytes: zeroize::Zeroizing<Vec<u8>>,
}

/// The change bundles of one page, grouped by record in the order records first appear.
#[derive(Default)]
struct Stage {
    /// The public key the bundle being applied was already verified under, if any.
    verified: Option<[u8; 32]>,
    seen: HashSet<(DeviceId, u64)>,
    index: HashMap<RecordId, usize>,
    docs: Vec<(RecordId, Kind, Vec<Staged>)>,
}

impl Stage {
    fn add(&mut self, id: RecordId, kind: Kind, s: Staged) {
        self.seen.insert((s.device, s.seq));
        match self.index.get(&id) {
            Some(&i) => self.docs[i].2.push(s),
            None => {
                self.index.insert(id, self.docs.len());
                self.docs.push((id, kind, vec![s]));
            }
        }
    }
}

/// Applies pulled bundles to a vault, under its lock.
pub(crate) struct Applier<'a> {
    v: &'a mut Inner,
}

impl<'a> Applier<'a> {
    pub(crate) fn new(v: &'a mut Inner) -> Self {
        Applier { v }
    }

    /// Applies one page inside one transaction, then records the new cursor in it.
    pub(crate) fn apply_page(
        &mut self,
        items: &[&PageItem],
        cursor: u64,
        report: &mut SyncReport,
    ) -> Result<()> {
        let mut decoded = Vec::with_capacity(items.len());
        for item in items {
            match Bundle::decode(&item.bundle) {
                Ok(b) => decoded.push((item.seq, b, &item.bundle)),
                Err(_) => report
                    .rejected
                    .push(Rejection { relay_seq: item.seq, reason: RejectReason::Malformed }),
            }
        }
        // Registry changes and key shares first: they decide what the rest may do.
        let registry = self.v.registry_id;
        decoded
            .sort_by_key(|(seq, b, _)| (b.doc != registry && b.kind != BundleKind::KeyShare, *seq));
        // Signatures of known signers are checked together up front; the registry may still
        // change within the page, so each bundle's signer is looked up again when it is applied.
        let verified = {
            let signers: Vec<Option<[u8; 32]>> = decoded
                .iter()
                .map(|(_, b, _)| {
                    let theirs = b.vault == self.v.vault_id && b.device != self.v.device_id;
                    theirs.then(|| self.v.registry.signer(&b.device, b.seq).ok().copied()).flatten()
                })
                .collect();
            let inputs: Vec<Vec<u8>> = decoded.iter().map(|(_, b, _)| b.signing_input()).collect();
            let (mut at, mut items) = (Vec::new(), Vec::<signing::Signed<'_>>::new());
            for (i, signer) in signers.iter().enumerate() {
                if let Some(k) = signer {
                    at.push(i);
                    items.push((k, inputs[i].as_slice(), &decoded[i].1.signature));
                }
            }
            let mut verified = vec![None; decoded.len()];
            for (i, good) in at.into_iter().zip(signing::verify_many(&items)) {
                if good {
                    verified[i] = signers[i];
                }
            }
            verified
        };
        db::begin_immediate(&self.v.conn)?;
        let result = (|| -> Result<bool> {
            let mut registry_changed = false;
            let mut stage = Stage::default();
            for (i, (seq, b, raw)) in decoded.iter().enumerate() {
                stage.verified = verified[i];
                if let Outcome::Applied { registry: true } =
                    self.apply_one(*seq, b, raw, report, Some(&mut stage))?
                {
                    registry_changed = true;
                    self.v.refresh_registry();
                }
            }
            self.merge_staged(stage, report)?;
            db::meta_put(&self.v.conn, Meta::PullCursor, &cursor.to_be_bytes())?;
            Ok(registry_changed)
        })();
        match result {
            Ok(_) => {
                if let Err(e) = db::commit(&self.v.conn) {
                    db::rollback(&self.v.conn);
                    self.forget_caches();
                    return Err(e);
                }
                Ok(())
            }
            Err(e) => {
                db::rollback(&self.v.conn);
                self.forget_caches();
                Err(e)
            }
        }
    }

    fn forget_caches(&mut self) {
        self.v.docs.clear();
        self.v.keys.forget_all();
        self.v.refresh_registry();
    }

    /// Retries pending bundles until no more can be applied.
    pub(crate) fn retry_pending(&mut self, report: &mut SyncReport) -> Result<()> {
        loop {
            let mut progressed = false;
            let mut cursor: db::PendingCursor = None;
            loop {
                let (page, next) = db::pending_page(&self.v.conn, &cursor)?;
                if page.is_empty() {
                    break;
                }
                cursor = next;
                for (relay_seq, id, raw) in page {
                    // Forgotten by the id its row is stored under (a damaged row's bytes may no
                    // longer hash to it), so a bundle that is settled is never met again.
                    let Ok(b) = Bundle::decode(&raw) else {
                        db::pending_delete_id(&self.v.conn, &id)?;
                        continue;
                    };
                    db::begin_immediate(&self.v.conn)?;
                    let outcome = self.apply_one(relay_seq, &b, &raw, report, None);
                    let settled = match outcome {
                        Ok(Outcome::Deferred) => db::commit(&self.v.conn).map(|()| None),
                        Ok(o) => db::pending_delete_id(&self.v.conn, &id)
                            .and_then(|()| db::commit(&self.v.conn))
                            .map(|()| Some(o)),
                        Err(e) => Err(e),
                    };
                    match settled {
                        Ok(None) => {}
                        Ok(Some(o)) => {
                            // Only an applied bundle can unlock another waiting one.
                            if let Outcome::Applied { registry } = o {
                                progressed = true;
                                if registry {
                                    self.v.refresh_registry();
                                }
                            }
                        }
                        Err(e) => {
                            // Whatever the transaction wrote is gone: so must the cached
                            // documents that saw it be.
                            db::rollback(&self.v.conn);
                            self.forget_caches();
                            return Err(e);
                        }
                    }
                }
            }
            if !progressed {
                return Ok(());
            }
        }
    }

    fn apply_one(
        &mut self,
        relay_seq: u64,
        b: &Bundle,
        raw: &[u8],
        report: &mut SyncReport,
        stage: Option<&mut Stage>,
    ) -> Result<Outcome> {
        let outcome = self.check_and_apply(relay_seq, b, stage)?;
        match &outcome {
            Outcome::Staged => {}
            Outcome::Applied { .. } => {
                db::applied_insert(&self.v.conn, &b.device, b.seq)?;
                report.applied += 1;
                if b.kind != BundleKind::KeyShare && !report.changed.contains(&b.doc) {
                    report.changed.push(b.doc);
                }
            }
            Outcome::Duplicate => report.duplicates += 1,
            Outcome::Skipped => {
                db::applied_insert(&self.v.conn, &b.device, b.seq)?;
            }
            Outcome::Erased => {
                db::applied_insert(&self.v.conn, &b.device, b.seq)?;
                report.erased += 1;
            }
            Outcome::Deferred => {
                if !db::pending_put(&self.v.conn, relay_seq, raw)? {
                    report
                        .rejected
                        .push(Rejection { relay_seq, reason: RejectReason::PendingFull });
                }
            }
            Outcome::Rejected(reason) => {
                report.rejected.push(Rejection { relay_seq, reason: *reason })
            }
        }
        Ok(outcome)
    }

    fn check_and_apply(
        &mut self,
        relay_seq: u64,
        b: &Bundle,
        stage: Option<&mut Stage>,
    ) -> Result<Outcome> {
        if b.vault != self.v.vault_id {
            return Ok(Outcome::Rejected(RejectReason::OtherVault));
        }
        if b.device == self.v.device_id {
            return Ok(Outcome::Duplicate);
        }
        let public = match self.v.registry.signer(&b.device, b.seq) {
            Ok(p) => *p,
            Err(SignerState::Unknown) => return Ok(Outcome::Deferred),
            Err(SignerState::Revoked) => return Ok(Outcome::Rejected(RejectReason::RevokedDevice)),
        };
        let pre_verified = stage.as_ref().is_some_and(|s| s.verified == Some(public));
        if !pre_verified && b.verify(&public).is_err() {
            return Ok(Outcome::Rejected(RejectReason::BadSignature));
        }
        if db::applied_contains(&self.v.conn, &b.device, b.seq)?
            || stage.as_ref().is_some_and(|s| s.seen.contains(&(b.device, b.seq)))
        {
            return Ok(Outcome::Duplicate);
        }
        match b.kind {
            BundleKind::KeyShare => self.apply_key_share(b),
            BundleKind::Change | BundleKind::Snapshot => self.apply_doc(relay_seq, b, stage),
        }
    }

    fn apply_key_share(&mut self, b: &Bundle) -> Result<Outcome> {
        if !shares::is_v2(&b.payload) {
            return self.apply_key_share_v1(b);
        }
        let v = &mut *self.v;
        let at = shares::Slot { vault: v.vault_id, doc: b.doc, sender: b.device, seq: b.seq };
        let opened = shares::open_share(at, v.device_id, &v.receive_key, &b.payload);
        let keys = match opened {
            Ok(Opened::Keys(keys)) => keys,
            // Sealed to the other devices only (a new device catching up, say): nothing to do.
            Ok(Opened::NotForUs) => return Ok(Outcome::Skipped),
            // Sealed to this device's previous receiving key: the sender seals again to the
            // new one once it learns it (`vault::epochs`), so nothing is lost.
            Ok(Opened::Stale) => return Ok(Outcome::Skipped),
            Err(ShareError::Malformed) => return Ok(Outcome::Rejected(RejectReason::Malformed)),
            Err(ShareError::Undecryptable) => {
                return Ok(Outcome::Rejected(RejectReason::Undecryptable))
            }
        };
        let mut stored = false;
        for k in keys {
            if db::key_get(&v.conn, &k.key_id)?.is_some() {
                continue;
            }
            if v.registry.erased.contains_key(&k.client) {
                // Kept as destroyed: what was sent under it then reads as erased, instead of
                // waiting in `pending` for a key that will never come.
                v.keys.store_destroyed(&v.conn, k.key_id, k.client, k.purpose, k.epoch)?;
                continue;
            }
            // The signer is the maker: a generation a device planted before it was revoked is
            // never sent under afterwards (`Keyring::trusted`).
            let maker = Some(b.device);
            v.keys.store(&v.conn, k.key_id, k.client, k.purpose, k.epoch, maker, &k.key)?;
            v.keys.remember(k.key_id, k.key);
            stored = true;
        }
        Ok(if stored { Outcome::Applied { registry: false } } else { Outcome::Skipped })
    }

    /// A share written before epochs: one client key under the vault-wide sync key.
    fn apply_key_share_v1(&mut self, b: &Bundle) -> Result<Outcome> {
        if b.doc.as_bytes() != b.key_id.as_bytes() {
            return Ok(Outcome::Rejected(RejectReason::Mismatch));
        }
        let Ok(sync_key_id) = envelope::key_id_of(&b.payload) else {
            return Ok(Outcome::Rejected(RejectReason::Malformed));
        };
        let is_sync = db::key_get(&self.v.conn, &sync_key_id)?
            .is_some_and(|r| r.purpose == Some(KeyPurpose::Sync) && r.wrapped.is_some());
        if !is_sync {
            return Ok(Outcome::Rejected(RejectReason::Undecryptable));
        }
        let sync_key = self.v.key_of(sync_key_id, VAULT_OWNER)?;
        let aad = bundle_aad(self.v.vault_id, b.doc, b.seq, Part::KeyShare);
        let Ok(plain) = envelope::open(&sync_key, &sync_key_id, &aad, &b.payload) else {
            return Ok(Outcome::Rejected(RejectReason::Undecryptable));
        };
        let Some((client, purpose, key)) = parse_key_share(&plain) else {
            return Ok(Outcome::Rejected(RejectReason::Malformed));
        };
        if self.v.registry.erased.contains_key(&client) {
            return Ok(Outcome::Erased);
        }
        if db::key_get(&self.v.conn, &b.key_id)?.is_some() {
            // Known already (from an invite): nothing to do, but the sequence number is
            // accounted for, so that it does not look like a withheld bundle.
            db::applied_insert(&self.v.conn, &b.device, b.seq)?;
            return Ok(Outcome::Duplicate);
        }
        self.v.keys.store(&self.v.conn, b.key_id, client, purpose, 0, Some(b.device), &key)?;
        self.v.keys.remember(b.key_id, key);
        Ok(Outcome::Applied { registry: false })
    }

    fn apply_doc(
        &mut self,
        relay_seq: u64,
        b: &Bundle,
        stage: Option<&mut Stage>,
    ) -> Result<Outcome> {
        let row = match db::key_get(&self.v.conn, &b.key_id)? {
            None => return Ok(Outcome::Deferred),
            Some(r) if r.wrapped.is_none() => return Ok(Outcome::Erased),
            Some(r) => r,
        };
        let key = self.v.key_of(b.key_id, b.doc)?;
        let aad = bundle_aad(self.v.vault_id, b.doc, b.seq, Part::Bundle);
        let Ok(plain) = envelope::open(&key, &b.key_id, &aad, &b.payload) else {
            return Ok(Outcome::Rejected(RejectReason::Undecryptable));
        };
        let Some(DocPlain { kind, client, first, bytes }) = parse_doc_plain(&plain, b.seq) else {
            return Ok(Outcome::Rejected(RejectReason::Malformed));
        };
        let is_registry = kind == Kind::Registry;
        // Clinical content never rides under the never-erased sync key, and the registry only
        // under it; the key must belong to the client the payload names.
        if client != row.client_id || is_registry != (row.purpose == Some(KeyPurpose::Sync)) {
            return Ok(Outcome::Rejected(RejectReason::Mismatch));
        }
        if is_registry && b.doc != self.v.registry_id {
            return Ok(Outcome::Rejected(RejectReason::Mismatch));
        }
        // The vault-wide counts' client id is never a record's client (`vault::tallies`).
        if client == crate::vault::tallies::ALL_CLIENTS {
            return Ok(Outcome::Rejected(RejectReason::Mismatch));
        }
        let outcome = match db::doc_header(&self.v.conn, &b.doc)? {
            Some(h) => {
                if h.kind != kind as u8 || h.client_id != client {
                    return Ok(Outcome::Rejected(RejectReason::Mismatch));
                }
                // Another generation of the record's key is fine, of the same purpose: a
                // psychotherapy note never arrives under the client's record key. What arrived
                // is stored under the record's own key (`merge_changes`).
                if h.key_id != b.key_id {
                    let stored = db::key_get(&self.v.conn, &h.key_id)?;
                    if stored.is_none_or(|s| s.purpose != row.purpose) {
                        return Ok(Outcome::Rejected(RejectReason::Mismatch));
                    }
                }
                if let Err(e) = self.v.load(b.doc) {
                    return match e {
                        // A damaged local copy: keep the bundle for when it is restored.
                        Error::Corrupt { .. } => Ok(Outcome::Deferred),
                        other => Err(other),
                    };
                }
                // Changes to a record are merged together at the end of the page: one
                // Automerge load, one stored change and one summary per record, not per bundle.
                if let (Some(stage), BundleKind::Change, false) = (stage, b.kind, is_registry) {
                    stage.add(
                        b.doc,
                        kind,
                        Staged {
                            relay_seq,
                            device: b.device,
                            first,
                            seq: b.seq,
                            bytes: zeroize::Zeroizing::new(bytes.to_vec()),
                        },
                    );
                    return Ok(Outcome::Staged);
                }
                merged(
                    self.v.merge_changes(b.doc, kind, bytes, b.kind == BundleKind::Snapshot)?,
                    kind,
                )
            }
            None => {
                merged(self.v.insert_remote(b.doc, kind, client, (b.key_id, &key), bytes)?, kind)
            }
        };
        // A bundle covering several saves marks all their sequence numbers applied (the
        // caller marks `b.seq`).
        if matches!(outcome, Outcome::Applied { .. }) && first < b.seq {
            db::applied_insert_range(&self.v.conn, &b.device, first, b.seq - 1)?;
        }
        Ok(outcome)
    }

    /// Merges the staged changes of a page, one Automerge load per record. If a record's
    /// combined changes do not load, its bundles are merged one by one so that only the bad ones
    /// are refused.
    fn merge_staged(&mut self, stage: Stage, report: &mut SyncReport) -> Result<()> {
        for (id, kind, members) in stage.docs {
            let together = members.len() > 1;
            if together {
                let all = zeroize::Zeroizing::new(
                    members.iter().flat_map(|m| m.bytes.iter().copied()).collect::<Vec<u8>>(),
                );
                self.v.cached_any(id)?;
                if let Outcome::Applied { .. } =
                    merged(self.v.merge_changes(id, kind, &all, false)?, kind)
                {
                    for m in &members {
                        staged_applied(&self.v.conn, id, m, report)?;
                    }
                    continue;
                }
            }
            for m in &members {
                self.v.cached_any(id)?;
                match merged(self.v.merge_changes(id, kind, &m.bytes, false)?, kind) {
                    Outcome::Applied { .. } => staged_applied(&self.v.conn, id, m, report)?,
                    Outcome::Rejected(reason) => {
                        report.rejected.push(Rejection { relay_seq: m.relay_seq, reason })
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }
}

fn staged_applied(
    conn: &rusqlite::Connection,
    id: RecordId,
    m: &Staged,
    report: &mut SyncReport,
) -> Result<()> {
    db::applied_insert_range(conn, &m.device, m.first, m.seq)?;
    report.applied += 1;
    if !report.changed.contains(&id) {
        report.changed.push(id);
    }
    Ok(())
}
