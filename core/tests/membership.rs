//! Keys that follow membership, played as the attacker: a revoked tablet keeps every key it ever
//! held (taken from its vault file with its vault key) and a full dump of the relay, and opens
//! nothing written after its revocation — not a new note of an old client, not a client created
//! afterwards, not the registry, not a key share. The remaining devices, and a device that joins
//! later, read everything.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use std::collections::HashSet;

use mend_core::crypto::SecretKey;
use mend_core::ids::{DeviceId, KeyId, VaultId};
use mend_core::sync::{MemoryRelay, SyncOptions, Transport};
use mend_core::*;
use mend_testkit::*;

const LAPTOP_KEY: [u8; 32] = [0x4C; 32];
const LATER_KEY: [u8; 32] = [0x55; 32];
const DESK_KEY: [u8; 32] = [0x44; 32];

/// One more device joined by the phone's invite, in file `file` of `dir` under `key`.
fn another(
    phone: &Vault,
    relay: &MemoryRelay,
    dir: &tempfile::TempDir,
    file: &str,
    key: [u8; 32],
) -> Vault {
    pair(phone, relay, &dir.path().join(file), VaultSecret::key(key), opts(), relay)
}

struct Practice {
    dir: tempfile::TempDir,
    relay: MemoryRelay,
    phone: Vault,
    tablet: Vault,
    laptop: Vault,
    client: RecordId,
    session: RecordId,
}

fn practice() -> Practice {
    let dir = tempfile::tempdir().unwrap();
    let relay = MemoryRelay::new();
    let phone = new_vault(&dir);
    let client = phone.create_client(&new_client("C-7001")).unwrap();
    let session = phone.create_session(&new_session(client, 1)).unwrap();
    let tablet = join(&phone, &relay, &dir, "tablet.mend");
    let laptop = pair(
        &phone,
        &relay,
        &dir.path().join("laptop.mend"),
        VaultSecret::key(LAPTOP_KEY),
        opts(),
        &relay,
    );
    for v in [&phone, &tablet, &laptop, &phone, &tablet] {
        sync(v, &relay);
    }
    Practice { dir, relay, phone, tablet, laptop, client, session }
}

fn dump(relay: &MemoryRelay) -> HashSet<Vec<u8>> {
    relay.dump().into_iter().collect()
}

#[test]
fn a_revoked_device_with_all_its_keys_and_the_relay_dump_opens_nothing_written_after() {
    let p = practice();
    // Written before the revocation: the tablet could read it, and can.
    let before_note = p.phone.create_note(&soap(p.session)).unwrap();
    sync(&p.phone, &p.relay);
    sync(&p.tablet, &p.relay);
    assert!(p.tablet.note(before_note).is_ok());
    let held_before = dump(&p.relay);
    let tablet_path = p.dir.path().join("tablet.mend");
    let stolen = key_material(&tablet_path, JOIN_KEY);
    assert!(
        held_before.iter().any(|b| opens(&stolen, b)),
        "control: the tablet's keys open what was written while it belonged"
    );

    p.phone.revoke_device(p.tablet.device_id()).unwrap();
    // After the revocation: a new note of the old client, a new client with a session and a
    // note, edits on two devices.
    let new_note = p.phone.create_note(&soap(p.session)).unwrap();
    p.phone.splice_note_section(new_note, "plan", 0, 0, "Written after the revocation. ").unwrap();
    let newcomer = p.phone.create_client(&new_client("C-7002")).unwrap();
    let s2 = p.phone.create_session(&new_session(newcomer, 2)).unwrap();
    let n2 = p.phone.create_note(&soap(s2)).unwrap();
    sync(&p.phone, &p.relay);
    let report = sync(&p.laptop, &p.relay);
    assert!(report.rejected.is_empty(), "{report:?}");
    p.laptop.splice_note_section(n2, "assessment", 0, 0, "Laptop, later. ").unwrap();
    sync(&p.laptop, &p.relay);
    sync(&p.phone, &p.relay);
    // Everything pushed since, before snapshots let the relay drop what they cover (a backup
    // taken now keeps it), and the snapshots too.
    let mut after_all = dump(&p.relay);
    p.phone.upload_snapshots(&p.relay).unwrap();
    after_all.extend(dump(&p.relay));
    // The revoked tablet keeps pulling (a relay that has not heard, or a backup) and takes
    // whatever it can, then is robbed of everything it holds.
    sync(&p.tablet, &p.relay);
    assert!(p.tablet.note(new_note).is_err());
    assert!(p.tablet.client(newcomer).is_err());
    drop(p.tablet);
    let stolen = key_material(&tablet_path, JOIN_KEY);

    let after: Vec<Vec<u8>> = after_all.difference(&held_before).cloned().collect();
    assert!(after.len() >= 8, "the relay holds what was written after: {}", after.len());
    let opened = opened_content(&stolen, &after);
    assert!(opened.is_empty(), "{} of {} later bundles opened", opened.len(), after.len());
    // Of the registry, the tablet reads the one change that revokes it, nothing later.
    assert_eq!(opened_registry_changes(&stolen, &after), 1);
    // The attack itself works: the phone's keys open the same bundles.
    let phone_keys = key_material(&p.dir.path().join("vault.mend"), KEY);
    assert!(after.iter().filter(|b| opens(&phone_keys, b)).count() >= after.len() / 2);

    // The remaining devices read everything, and so does a device that joins afterwards.
    for v in [&p.phone, &p.laptop] {
        assert!(v
            .note(new_note)
            .unwrap()
            .section("plan")
            .unwrap()
            .contains("Written after the revocation."));
        assert!(v.note(n2).unwrap().section("assessment").unwrap().contains("Laptop, later."));
        assert_eq!(v.client(newcomer).unwrap().alias_code, "C-7002");
        assert!(v.note(before_note).is_ok());
    }
    // What the laptop merged from the new generations is stored under its records' own keys:
    // it reads back after a reopen.
    drop(p.laptop);
    let laptop =
        Vault::open(&p.dir.path().join("laptop.mend"), VaultSecret::key(LAPTOP_KEY), opts())
            .unwrap();
    assert!(laptop.note(new_note).unwrap().section("plan").unwrap().contains("revocation."));
    assert_eq!(laptop.client(newcomer).unwrap().alias_code, "C-7002");
    let later = another(&p.phone, &p.relay, &p.dir, "later.mend", LATER_KEY);
    sync(&later, &p.relay);
    assert!(later.note(n2).unwrap().section("assessment").unwrap().contains("Laptop, later."));
    assert!(later.note(before_note).is_ok());
    assert_eq!(later.client(p.client).unwrap().alias_code, "C-7001");
}

#[test]
fn a_device_that_made_a_client_before_hearing_of_a_revocation_renews_its_keys() {
    let p = practice();
    // The laptop is offline when the phone revokes the tablet, and creates a client: its keys
    // are sealed to the tablet too, as the laptop knows no better.
    let early = p.laptop.create_client(&new_client("C-7003")).unwrap();
    let s = p.laptop.create_session(&new_session(early, 3)).unwrap();
    let n = p.laptop.create_note(&soap(s)).unwrap();
    p.phone.revoke_device(p.tablet.device_id()).unwrap();
    sync(&p.phone, &p.relay);
    let held = dump(&p.relay);
    // Its first sync pushes what it wrote offline, learns of the revocation and renews the
    // client's keys (and the sync key), sealed to the phone only.
    let report = sync(&p.laptop, &p.relay);
    assert!(report.keys_renewed >= 2, "{report:?}");
    p.laptop.splice_note_section(n, "plan", 0, 0, "After the laptop heard. ").unwrap();
    sync(&p.laptop, &p.relay);
    sync(&p.phone, &p.relay);
    assert!(p.phone.note(n).unwrap().section("plan").unwrap().contains("After the laptop heard."));

    drop(p.phone);
    let phone = reopen(&p.dir.path().join("vault.mend"));
    assert!(phone.note(n).unwrap().section("plan").unwrap().contains("After the laptop heard."));
    sync(&p.tablet, &p.relay);
    drop(p.tablet);
    let stolen = key_material(&p.dir.path().join("tablet.mend"), JOIN_KEY);
    let later: Vec<Vec<u8>> = dump(&p.relay).difference(&held).cloned().collect();
    // What the laptop wrote before it heard is readable to the tablet (documented); the edit
    // made after is not: find the bundle of note `n` pushed last.
    let edits: Vec<&Vec<u8>> = later
        .iter()
        .filter(|b| mend_core::sync::bundle::Bundle::decode(b).is_ok_and(|d| d.doc == n))
        .collect();
    assert!(!edits.is_empty());
    let newest = edits
        .iter()
        .max_by_key(|b| mend_core::sync::bundle::Bundle::decode(b).unwrap().seq)
        .unwrap();
    assert!(!opens(&stolen, newest), "the edit after the renewal opened with the tablet's keys");
}

#[test]
fn a_revoked_device_renews_nothing_and_its_later_shares_are_refused() {
    let p = practice();
    p.phone.revoke_device(p.tablet.device_id()).unwrap();
    sync(&p.phone, &p.relay);
    let r = sync(&p.tablet, &p.relay);
    assert_eq!(r.keys_renewed, 0, "{r:?}");
    // Whatever the tablet creates now is refused by the others, key shares included.
    let c = p.tablet.create_client(&new_client("C-STOLEN")).unwrap();
    sync(&p.tablet, &p.relay);
    let r = sync(&p.laptop, &p.relay);
    assert!(p.laptop.client(c).is_err());
    assert!(!r.rejected.is_empty(), "{r:?}");
    assert!(
        r.rejected.iter().all(|x| x.reason == mend_core::sync::RejectReason::RevokedDevice),
        "{r:?}"
    );
}

#[test]
fn two_revocations_made_at_once_on_two_devices_lock_both_out() {
    let p = practice();
    let desk = another(&p.phone, &p.relay, &p.dir, "desk.mend", DESK_KEY);
    for v in [&p.phone, &p.laptop, &p.tablet, &desk, &p.phone, &p.laptop] {
        sync(v, &p.relay);
    }
    // Offline from each other, the phone revokes the tablet and the laptop revokes the desk:
    // each seals its new generation to the device the other revoked.
    p.phone.revoke_device(p.tablet.device_id()).unwrap();
    p.laptop.revoke_device(desk.device_id()).unwrap();
    sync(&p.phone, &p.relay);
    sync(&p.laptop, &p.relay);
    sync(&p.phone, &p.relay);
    let held = dump(&p.relay);
    // Once both revocations are known, the next writes open for neither.
    let n = p.phone.create_note(&soap(p.session)).unwrap();
    p.laptop.set_client_status(p.client, ClientStatus::OnHold).unwrap();
    sync(&p.phone, &p.relay);
    sync(&p.laptop, &p.relay);
    sync(&p.phone, &p.relay);
    assert_eq!(p.laptop.note(n).unwrap().id, n);
    assert_eq!(p.phone.client(p.client).unwrap().status, ClientStatus::OnHold);
    drop((p.tablet, desk));
    let after: Vec<Vec<u8>> = dump(&p.relay).difference(&held).cloned().collect();
    assert!(after.len() >= 2);
    for (file, key) in [("tablet.mend", JOIN_KEY), ("desk.mend", DESK_KEY)] {
        let stolen = key_material(&p.dir.path().join(file), key);
        let opened = after.iter().filter(|b| opens(&stolen, b)).count();
        assert_eq!(opened, 0, "{file} opened {opened} of {} later bundles", after.len());
    }
}

fn all_keys_after(p: &Practice, more: &[(&str, [u8; 32])]) -> Vec<KeyMaterial> {
    let mut files =
        vec![("vault.mend", KEY), ("tablet.mend", JOIN_KEY), ("laptop.mend", LAPTOP_KEY)];
    files.extend_from_slice(more);
    files.iter().map(|(f, k)| key_material(&p.dir.path().join(f), *k)).collect()
}

#[test]
fn a_relay_backup_from_before_an_erasure_opens_nothing_of_the_client_with_any_key_left() {
    let p = practice();
    let gone = p.phone.create_client(&new_client("C-GONE")).unwrap();
    let s = p.phone.create_session(&new_session(gone, 5)).unwrap();
    let n = p.phone.create_note(&soap(s)).unwrap();
    for v in [&p.phone, &p.laptop, &p.tablet] {
        sync(v, &p.relay);
    }
    p.laptop.splice_note_section(n, "plan", 0, 0, "Erase me. ").unwrap();
    for v in [&p.laptop, &p.phone, &p.tablet] {
        sync(v, &p.relay);
    }
    // The thief's copy of the relay, taken before the erasure.
    let backup = p.relay.dump();
    let before = all_keys_after(&p, &[]);
    assert!(
        backup.iter().any(|b| before.iter().any(|m| revealed_clients(m, b).contains(&gone))),
        "control: before the erasure, the devices' keys open the client's bundles in the backup"
    );

    p.phone.erase_client(gone).unwrap();
    for _ in 0..2 {
        for v in [&p.phone, &p.laptop, &p.tablet] {
            let r = sync(v, &p.relay);
            assert!(r.rejected.is_empty(), "{r:?}");
        }
    }
    let later = another(&p.phone, &p.relay, &p.dir, "later.mend", LATER_KEY);
    sync(&later, &p.relay);
    // Every key any device holds after the erasure, a device that joined later included.
    let after = all_keys_after(&p, &[("later.mend", LATER_KEY)]);
    for (i, m) in after.iter().enumerate() {
        let found = backup.iter().filter(|b| revealed_clients(m, b).contains(&gone)).count();
        assert_eq!(
            found, 0,
            "device {i} recovered the erased client from {found} backed-up bundles"
        );
    }
    // The other clients are untouched, everywhere; the device that joined later never knew it.
    for v in [&p.phone, &p.laptop, &p.tablet] {
        assert_eq!(v.client(p.client).unwrap().alias_code, "C-7001");
        assert_eq!(v.client(gone).unwrap_err(), Error::Erased(gone));
    }
    assert_eq!(later.client(p.client).unwrap().alias_code, "C-7001");
    assert!(later.client(gone).is_err());
}

#[test]
fn keys_sealed_to_a_receiving_key_that_was_replaced_are_sealed_again() {
    let p = practice();
    let gone = p.phone.create_client(&new_client("C-GONE")).unwrap();
    for v in [&p.phone, &p.laptop, &p.tablet] {
        sync(v, &p.relay);
    }
    // The laptop, offline, creates a client: its keys are sealed to the phone's current
    // receiving key, which the phone replaces after erasing another client.
    let fresh = p.laptop.create_client(&new_client("C-7010")).unwrap();
    p.phone.erase_client(gone).unwrap();
    sync(&p.phone, &p.relay);
    let r = sync(&p.laptop, &p.relay);
    assert!(r.rejected.is_empty(), "{r:?}");
    let r = sync(&p.phone, &p.relay);
    assert!(r.rejected.is_empty(), "{r:?}");
    sync(&p.laptop, &p.relay);
    sync(&p.phone, &p.relay);
    assert_eq!(p.phone.client(fresh).unwrap().alias_code, "C-7010");
    drop(p.phone);
    let phone = reopen(&p.dir.path().join("vault.mend"));
    assert_eq!(phone.client(fresh).unwrap().alias_code, "C-7010");
}

/// Before it is lost, the tablet (still listed) plants a generation of its own choosing, with the
/// highest epoch there is, of the client's keys and of the sync key, sealed to the other devices.
/// Once it is revoked, nothing is sent under what it planted.
#[test]
fn a_generation_planted_before_the_revocation_is_never_sent_under_after_it() {
    let p = practice();
    let thief = key_material(&p.dir.path().join("tablet.mend"), JOIN_KEY);
    let phone = key_material(&p.dir.path().join("vault.mend"), KEY);
    let laptop = key_material(&p.dir.path().join("laptop.mend"), LAPTOP_KEY);
    let planted: Vec<(KeyId, RecordId, u8, u32, [u8; 32])> = vec![
        (KeyId::random(), p.client, 1, u32::MAX, [0xA1; 32]),
        (KeyId::random(), p.client, 2, u32::MAX, [0xA2; 32]),
        (KeyId::random(), RecordId::from_bytes([0; 16]), 3, u32::MAX, [0xA3; 32]),
    ];
    let to = [(phone.device, phone.receive.public()), (laptop.device, laptop.receive.public())];
    let share = forged_share(&thief, 900, &planted, &to);
    p.relay.push(&thief.vault, vec![share]).unwrap();
    for v in [&p.phone, &p.laptop] {
        let r = sync(v, &p.relay);
        assert!(r.rejected.is_empty(), "the planted share is accepted while listed: {r:?}");
    }
    p.phone.revoke_device(p.tablet.device_id()).unwrap();
    let n = p.phone.create_note(&soap(p.session)).unwrap();
    sync(&p.phone, &p.relay);
    let held = dump(&p.relay);
    sync(&p.laptop, &p.relay);
    p.laptop.set_note_section(n, "plan", "After the revocation, on the laptop.").unwrap();
    sync(&p.laptop, &p.relay);
    sync(&p.phone, &p.relay);
    assert!(p.phone.note(n).unwrap().section("plan").unwrap().contains("on the laptop"));

    let mut stolen = key_material(&p.dir.path().join("tablet.mend"), JOIN_KEY);
    for (id, _, _, _, key) in &planted {
        stolen.keys.push((*id, SecretKey::from_bytes(*key)));
    }
    let later: Vec<Vec<u8>> = dump(&p.relay).difference(&held).cloned().collect();
    assert!(!later.is_empty());
    let opened = later.iter().filter(|b| opens(&stolen, b)).count();
    assert_eq!(opened, 0, "{opened} of {} later bundles opened with the planted keys", later.len());
}

/// A transport that serves one page saying more remain, then fails: the sync applies the page
/// (here, with the revocation) and stops before its end.
struct StopsAfterOnePage<'a> {
    inner: &'a MemoryRelay,
    pulls: std::sync::atomic::AtomicU32,
}

impl mend_core::sync::Transport for StopsAfterOnePage<'_> {
    fn push(&self, v: &VaultId, b: Vec<Vec<u8>>) -> Result<(), mend_core::sync::TransportError> {
        self.inner.push(v, b)
    }
    fn pull(
        &self,
        v: &VaultId,
        since: u64,
        limit: u32,
    ) -> Result<mend_core::sync::Page, mend_core::sync::TransportError> {
        if self.pulls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) > 0 {
            return Err(mend_core::sync::TransportError::Unavailable("gone".into()));
        }
        let mut page = self.inner.pull(v, since, limit)?;
        page.remaining = 1;
        Ok(page)
    }
    fn upload_snapshot(
        &self,
        v: &VaultId,
        d: &RecordId,
        c: u64,
        b: Vec<u8>,
    ) -> Result<(), mend_core::sync::TransportError> {
        self.inner.upload_snapshot(v, d, c, b)
    }
    fn drop_key_ids(
        &self,
        v: &VaultId,
        k: &[KeyId],
    ) -> Result<(), mend_core::sync::TransportError> {
        self.inner.drop_key_ids(v, k)
    }
    fn claim_invite(
        &self,
        v: &VaultId,
        i: &[u8; 16],
    ) -> Result<(), mend_core::sync::TransportError> {
        self.inner.claim_invite(v, i)
    }
    fn enroll(
        &self,
        v: &VaultId,
        d: &DeviceId,
        k: &[u8; 32],
    ) -> Result<(), mend_core::sync::TransportError> {
        self.inner.enroll(v, d, k)
    }
    fn revoke(&self, v: &VaultId, d: &DeviceId) -> Result<(), mend_core::sync::TransportError> {
        self.inner.revoke(v, d)
    }
}

/// The laptop made a client before it heard of the revocation; its sync stops right after the
/// page that brings the revocation. What it writes next (and a snapshot it uploads) still goes
/// under keys renewed first.
#[test]
fn a_save_after_a_sync_that_stopped_early_goes_under_renewed_keys() {
    let p = practice();
    let early = p.laptop.create_client(&new_client("C-7020")).unwrap();
    let s = p.laptop.create_session(&new_session(early, 6)).unwrap();
    let n = p.laptop.create_note(&soap(s)).unwrap();
    // The tablet takes the client's keys while it still belongs, through a relay the phone
    // does not see before it revokes the tablet (so the phone renews nothing of that client).
    let side = MemoryRelay::new();
    sync(&p.laptop, &side);
    sync(&p.tablet, &side);
    assert!(p.tablet.note(n).is_ok());
    p.phone.revoke_device(p.tablet.device_id()).unwrap();
    sync(&p.phone, &p.relay);
    p.relay.push(&p.laptop.id(), side.dump()).unwrap();
    let broken = StopsAfterOnePage { inner: &p.relay, pulls: Default::default() };
    let o = SyncOptions { page_size: 10_000, ..Default::default() };
    assert!(p.laptop.sync(&broken, &o).is_err(), "the sync stops after one page");
    assert!(p.laptop.devices().iter().any(|d| d.revoked), "the page brought the revocation");
    let held = dump(&p.relay);
    p.laptop.set_note_section(n, "plan", "Written after a sync that stopped early.").unwrap();
    let r = sync(&p.laptop, &p.relay);
    assert!(r.rejected.is_empty(), "{r:?}");
    sync(&p.phone, &p.relay);
    assert!(p.phone.note(n).unwrap().section("plan").unwrap().contains("stopped early"));
    drop(p.tablet);
    let stolen = key_material(&p.dir.path().join("tablet.mend"), JOIN_KEY);
    let edits: Vec<Vec<u8>> = dump(&p.relay)
        .difference(&held)
        .filter(|b| mend_core::sync::bundle::Bundle::decode(b).is_ok_and(|d| d.doc == n))
        .cloned()
        .collect();
    assert!(!edits.is_empty());
    assert!(edits.iter().all(|b| !opens(&stolen, b)), "the tablet opens the later edit");
}

/// The phone invites a desk; before the desk has published its receiving key, the tablet creates
/// a client (sealed to the phone and laptop only) and is never seen again. The phone, which
/// invited the desk, passes the client's keys on.
#[test]
fn keys_made_by_a_device_that_went_away_still_reach_a_device_invited_before() {
    let p = practice();
    let (invite_bytes, code) = invite(&p.phone, &p.relay);
    let z = p.tablet.create_client(&new_client("C-7030")).unwrap();
    sync(&p.tablet, &p.relay);
    drop(p.tablet);
    sync(&p.phone, &p.relay);
    let desk = Vault::join(
        &p.dir.path().join("desk.mend"),
        VaultSecret::key(DESK_KEY),
        opts(),
        &invite_bytes,
        &code,
        &p.relay,
    )
    .unwrap();
    sync(&desk, &p.relay);
    sync(&p.phone, &p.relay);
    let r = sync(&desk, &p.relay);
    assert_eq!(desk.client(z).unwrap().alias_code, "C-7030", "{r:?}");
    assert_eq!(r.pending, 0, "{r:?}");
}

/// The phone erases a client while the laptop, offline, renews its keys (it revoked the
/// tablet) and writes under the new generation: the phone reads those as erased, and nothing
/// waits for a key forever.
#[test]
fn an_erasure_concurrent_with_a_renewal_leaves_nothing_waiting() {
    let p = practice();
    let gone = p.phone.create_client(&new_client("C-GONE")).unwrap();
    let s = p.phone.create_session(&new_session(gone, 7)).unwrap();
    let n = p.phone.create_note(&soap(s)).unwrap();
    for v in [&p.phone, &p.laptop] {
        sync(v, &p.relay);
    }
    p.laptop.revoke_device(p.tablet.device_id()).unwrap();
    p.laptop.set_note_section(n, "plan", "Renewed, then erased elsewhere.").unwrap();
    p.phone.erase_client(gone).unwrap();
    sync(&p.phone, &p.relay);
    sync(&p.laptop, &p.relay);
    let r = sync(&p.phone, &p.relay);
    assert_eq!(r.pending, 0, "{r:?}");
    assert!(r.rejected.is_empty(), "{r:?}");
    assert_eq!(p.phone.note(n).unwrap_err(), Error::Erased(n));
    let r = sync(&p.laptop, &p.relay);
    assert_eq!(r.pending, 0, "{r:?}");
    assert_eq!(p.laptop.note(n).unwrap_err(), Error::Erased(n));
}
