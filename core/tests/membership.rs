//! Keys that follow membership, played as the attacker: a revoked tablet keeps every key it ever
//! held (taken from its vault file with its vault key) and a full dump of the relay, and opens
//! nothing written after its revocation — not a new note of an old client, not a client created
//! afterwards, not the registry, not a key share. The remaining devices, and a device that joins
//! later, read everything.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use std::collections::HashSet;

use mend_core::sync::MemoryRelay;
use mend_core::*;
use mend_testkit::*;

const LAPTOP_KEY: [u8; 32] = [0x4C; 32];

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
    let opened: Vec<_> = after.iter().filter(|b| opens(&stolen, b)).collect();
    assert!(opened.is_empty(), "{} of {} later bundles opened", opened.len(), after.len());
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
    let later = pair(
        &p.phone,
        &p.relay,
        &p.dir.path().join("later.mend"),
        VaultSecret::key([0x55; 32]),
        opts(),
        &p.relay,
    );
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
    assert!(
        r.rejected.iter().all(|x| x.reason == mend_core::sync::RejectReason::RevokedDevice),
        "{r:?}"
    );
}

#[test]
fn two_revocations_made_at_once_on_two_devices_lock_both_out() {
    let p = practice();
    let desk = pair(
        &p.phone,
        &p.relay,
        &p.dir.path().join("desk.mend"),
        VaultSecret::key([0x44; 32]),
        opts(),
        &p.relay,
    );
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
    for (file, key) in [("tablet.mend", JOIN_KEY), ("desk.mend", [0x44; 32])] {
        let stolen = key_material(&p.dir.path().join(file), key);
        let opened = after.iter().filter(|b| opens(&stolen, b)).count();
        assert_eq!(opened, 0, "{file} opened {opened} of {} later bundles", after.len());
    }
}
