//! Mend's main job, end to end on one device: create an encrypted vault, record a client, a
//! signed SOAP note with an addendum, a rupture with a repair attempt and a WAI-SR measure; close
//! it, reopen it, and print what a therapist would see.
//!
//! Part two starts a real `mend-relay` on loopback (embedded SQLite store) and syncs a second
//! device through it over HTTP. Part three loses that device: the phone revokes it and writes a
//! new note, and the example, playing the thief, shows that every key in the tablet's vault file
//! opens none of what the relay stored since.
//!
//! Run: `cargo run -p mend-relay --example notebook [-- PATH]` (a temporary folder by default).

use std::error::Error as StdError;
use std::path::PathBuf;

use mend_core::query::TimelineEntry;
use mend_core::*;

fn main() -> Result<(), Box<dyn StdError>> {
    let tmp = std::env::temp_dir().join(format!("mend-notebook-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let path: PathBuf =
        std::env::args().nth(1).map(PathBuf::from).unwrap_or(tmp.join("vault.mend"));
    // In an app this key comes from the iOS Keychain or the Android Keystore.
    let key = [0x5Au8; 32];
    let day = 1_767_600_000_000i64; // 2026-01-05 08:00 UTC, in milliseconds
    let min = 60_000i64;

    let (client_id, note_id) = {
        let vault = Vault::create(&path, VaultSecret::key(key), VaultOptions::default())?;
        let client = vault.create_client(&NewClient {
            alias_code: "C-0142".into(),
            birth_year: Some(1988),
            jurisdiction: "US-CA".into(),
            intake_date: Some("2026-01-05".into()),
        })?;
        vault.add_treatment_goal(client, "Sleep at least six hours on most nights", "sleep")?;
        let session = vault.create_session(&NewSession {
            client_id: client,
            scheduled_start: day,
            actual_start: Some(day + 2 * min),
            actual_end: Some(day + 52 * min),
            status: SessionStatus::Completed,
            modality: Modality::Individual,
            setting: Setting::TelehealthVideo,
            cpt_code: Some("90834".into()),
        })?;

        let note = vault.create_note(&NewNote {
            session_id: session,
            author_id: "dr-rivera".into(),
            format: NoteFormat::Soap,
            sections: vec![],
            created_at: day + 55 * min,
        })?;
        // Live typing arrives as splices.
        let mut typed = 0;
        for word in ["Reports ", "sleeping ", "4-5 hours; ", "worried about work."] {
            vault.splice_note_section(note, "subjective", typed, 0, word)?;
            typed += word.chars().count();
        }
        vault.set_note_section(note, "objective", "Tired, engaged, on time.")?;
        vault.set_note_section(
            note,
            "assessment",
            "Insomnia linked to work stress; alliance strained mid-session.",
        )?;
        vault.set_note_section(
            note,
            "plan",
            "Sleep diary for two weeks; revisit homework pacing.",
        )?;
        vault.set_note_code(note, CodeSet::Diagnoses, "G47.00", true)?;
        vault.set_note_risk(
            note,
            &Risk {
                si: RiskLevel::Denied,
                hi: RiskLevel::Denied,
                note: "No change from intake.".into(),
            },
        )?;
        vault.sign_note(
            note,
            &SignRequest {
                signer_id: "dr-rivera".into(),
                signer_name: "Dr. Sam Rivera, PsyD".into(),
                role: SignerRole::Author,
                meaning: SignatureMeaning::Authored,
                needs_cosign: false,
                signed_at: day + 70 * min,
            },
        )?;
        match vault.set_note_section(note, "plan", "changed after signing") {
            Err(Error::NoteLocked(_)) => {
                println!("(editing the signed note is refused: NoteLocked)")
            }
            other => return Err(format!("expected NoteLocked, got {other:?}").into()),
        }
        let addendum = vault.add_addendum(
            note,
            &NewAddendum {
                kind: AddendumKind::Clarification,
                reason: "Plan detail agreed by phone".into(),
                body: "Client will also log caffeine after 2 pm.".into(),
                targets: vec!["plan".into()],
                author_id: "dr-rivera".into(),
                created_at: day + 24 * 60 * min,
            },
        )?;
        vault.sign_addendum(
            note,
            addendum,
            &SignRequest {
                signer_id: "dr-rivera".into(),
                signer_name: "Dr. Sam Rivera, PsyD".into(),
                role: SignerRole::Author,
                meaning: SignatureMeaning::Authored,
                needs_cosign: false,
                signed_at: day + 24 * 60 * min + 5 * min,
            },
        )?;

        let rupture = vault.create_rupture(
            &NewRupture {
                client_id: client,
                session_id: Some(session),
                occurred_at: day + 30 * min,
                at_minute: Some(28),
                record_class: RecordClass::PsychotherapyNote,
                movement: Movement::Withdrawal,
                initiated_by: InitiatedBy::Client,
                markers: vec![
                    RuptureMarker::WdMinimalResponse,
                    RuptureMarker::WdDeferentialAppeasing,
                ],
                alliance_dimensions: vec![AllianceDimension::Task],
                precipitants: vec![Precipitant::Disagreement],
                detected_by: Some(DetectedBy::TherapistInSession),
                significance: 3,
                therapist_contribution_rating: Some(3),
                therapist_contribution: "I pressed on homework before hearing the week.".into(),
                narrative: "Went quiet and agreed too quickly when homework was reviewed.".into(),
                client_words: "\"Sure, whatever works.\"".into(),
                follow_up_planned: true,
                follow_up_note: "Ask how the homework talk felt next time.".into(),
            },
            "dr-rivera",
        )?;
        vault.add_repair_attempt(
            rupture,
            &NewRepairAttempt {
                session_id: Some(session),
                at: day + 35 * min,
                strategies: vec![
                    RepairStrategy::RsInviteDiscussionOfRelationship,
                    RepairStrategy::RsAcknowledgeOwnContribution,
                ],
                client_response: vec![ClientResponse::AssertedNeedOrDisagreement],
                effect: Some(4),
                note: "Named the shift; client said the homework felt like a test.".into(),
            },
        )?;
        vault.set_rupture_status(
            rupture,
            RuptureStatus::PartiallyResolved,
            day + 40 * min,
            "dr-rivera",
            Some(session),
        )?;

        vault.record_measure(&NewMeasure {
            client_id: client,
            session_id: Some(session),
            instrument: Instrument::WaiSr,
            rater: Rater::Client,
            administered_at: day + 53 * min,
            items: vec![
                (1, 4),
                (2, 3),
                (3, 4),
                (4, 3),
                (5, 4),
                (6, 3),
                (7, 5),
                (8, 3),
                (9, 4),
                (10, 3),
                (11, 3),
                (12, 3),
            ],
            supersedes: None,
        })?;
        (client, note)
    }; // the vault is closed here

    let vault = Vault::open(&path, VaultSecret::key(key), VaultOptions::default())?;
    println!("Vault reopened: {}", path.display());
    println!("\nClients");
    for c in vault.clients()? {
        match c.info {
            Ok((alias, status)) => println!("  {alias}  ({status})"),
            Err(why) => println!("  {}  [{why:?}]", c.id),
        }
    }
    let client = vault.client(client_id)?;
    println!("\n{} — goals:", client.alias_code);
    for g in &client.treatment_goals {
        println!("  • {} [{}]", g.text, g.status);
    }
    println!("\nTimeline");
    for e in vault.timeline(client_id)? {
        match e {
            TimelineEntry::Session { at, status, .. } => {
                println!("  {}  session, {status}", hhmm(at))
            }
            TimelineEntry::Note { at, format, state, .. } => {
                println!("  {}  {} note, {state}", hhmm(at), format.as_str().to_uppercase())
            }
            TimelineEntry::Rupture(r) => println!(
                "  {}  rupture: {} by {}, significance {}/5, {}",
                hhmm(r.occurred_at),
                r.movement,
                r.initiated_by,
                r.significance,
                r.status
            ),
            TimelineEntry::Measure(m) => println!(
                "  {}  {}: task {:?}, bond {:?}, goal {:?}, total {:?}",
                hhmm(m.administered_at),
                m.instrument,
                m.scores.task,
                m.scores.bond,
                m.scores.goal,
                m.scores.total
            ),
            TimelineEntry::Unreadable { id, reason } => println!("  {id}: unreadable ({reason:?})"),
        }
    }

    let note = vault.note(note_id)?;
    let signed = vault.signed_content(note_id)?;
    println!(
        "\nSOAP note — {:?}, signed by {} (content hash {}…, verified)",
        note.state,
        signed.signature.signer_name,
        &signed.signature.content_hash[..12]
    );
    for (section, text) in &signed.sections {
        println!("  {:<11} {text}", format!("{section}:"));
    }
    println!("  diagnoses:  {}", note.diagnoses.join(", "));
    println!("  risk:       SI {}, HI {}", note.risk.si, note.risk.hi);
    for a in &note.addenda {
        println!(
            "  addendum ({}; {}): {} — signed: {}",
            a.kind,
            a.reason,
            a.body,
            if a.signatures.is_empty() { "no" } else { "yes" }
        );
    }
    vault.verify_addenda(note_id)?;

    println!("\nUnresolved ruptures");
    for r in vault.unresolved_ruptures(client_id)? {
        let full = vault.rupture(r.id)?;
        println!(
            "  {} ({}), markers: {}",
            full.movement,
            full.status,
            full.markers.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", ")
        );
        println!("    narrative: {}", full.narrative);
        if full.follow_up_planned {
            println!("    follow-up: {}", full.follow_up_note);
        }
        for a in &full.repair_attempts {
            println!(
                "    repair ({}): {} → effect {}/5",
                if a.is_immediate() { "immediate" } else { "exploratory" },
                a.strategies.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" + "),
                a.effect.unwrap_or(0)
            );
        }
    }
    println!("\nRupture counts by session");
    for c in vault.rupture_counts(client_id)? {
        println!(
            "  session at {:?}: withdrawal {}, confrontation {}, mixed {}",
            c.session_start.map(hhmm),
            c.withdrawal,
            c.confrontation,
            c.mixed
        );
    }
    let size = std::fs::metadata(&path)?.len();
    println!("\nEverything above was read back from {size} encrypted bytes on disk.");

    two_devices(&vault, &tmp, client_id, note_id)?;
    Ok(())
}

/// Part two: a tablet joins the vault; phone and tablet edit the same client offline, then sync
/// through a relay that only ever holds ciphertext.
fn two_devices(
    phone: &Vault,
    dir: &std::path::Path,
    client: RecordId,
    signed_note: RecordId,
) -> Result<(), Box<dyn StdError>> {
    use mend_core::sync::http::HttpTransport;
    use mend_core::sync::{invite, SyncOptions};
    let relay_db = dir.join("relay.db");
    let _ = std::fs::remove_file(&relay_db);
    let (url, token, _relay) = start_relay(&relay_db)?;
    println!(
        "\n=== Two devices ===\nmend-relay listening on {url} (SQLite store {})",
        relay_db.display()
    );
    // The relay's operator issued a registration token for this practice; the phone registers
    // the vault with it, and no one without a token can register vaults there.
    let phone_link = HttpTransport::new(&url).with_registration_token(&token);
    phone.register_at_relay(&phone_link)?;
    println!("The phone registered the vault with the operator's one-time registration token.");
    let tablet_link = HttpTransport::new(&url);
    let code = invite::generate_code();
    let invite = phone.export_invite(&code, i64::MAX)?;
    phone.sync(&phone_link, &SyncOptions::default())?;
    let tablet_path = dir.join("tablet.mend");
    let _ = std::fs::remove_file(&tablet_path);
    let tablet = Vault::join(
        &tablet_path,
        VaultSecret::key([0x7Bu8; 32]),
        VaultOptions::default(),
        &invite,
        &code,
        &tablet_link,
    )?;
    let first = tablet.sync(&tablet_link, &SyncOptions::default())?;
    println!(
        "Tablet joined with one-time code {code}; first sync pulled {} bundles.",
        first.pulled
    );

    // A new draft note both devices will type into while offline.
    let session = phone.create_session(&NewSession {
        client_id: client,
        scheduled_start: 1_768_204_800_000,
        actual_start: Some(1_768_204_800_000),
        actual_end: Some(1_768_207_800_000),
        status: SessionStatus::Completed,
        modality: Modality::Individual,
        setting: Setting::InPerson,
        cpt_code: Some("90837".into()),
    })?;
    let note = phone.create_note(&NewNote {
        session_id: session,
        author_id: "dr-rivera".into(),
        format: NoteFormat::Dap,
        sections: vec![("data".into(), "Slept 6 hours on 4 nights.".into())],
        created_at: 1_768_208_000_000,
    })?;
    let rupture = phone.unresolved_ruptures(client)?.first().map(|r| r.id).ok_or("no rupture")?;
    phone.sync(&phone_link, &SyncOptions::default())?;
    tablet.sync(&tablet_link, &SyncOptions::default())?;

    println!("Both devices go offline and edit the same records:");
    phone.splice_note_section(note, "data", 0, 0, "Phone: ")?;
    phone.set_note_section(note, "assessment", "Sleep improving; work stress persists.")?;
    phone
        .update_rupture(rupture, &RuptureUpdate { significance: Some(2), ..Default::default() })?;
    phone.set_rupture_status(
        rupture,
        RuptureStatus::Resolved,
        1_768_205_000_000,
        "dr-rivera",
        Some(session),
    )?;
    let len = tablet.note(note)?.section("data").map(|t| t.chars().count()).unwrap_or(0);
    tablet.splice_note_section(note, "data", len, 0, " Caffeine log kept daily (tablet).")?;
    tablet.set_note_section(note, "plan", "Continue diary; review homework pacing together.")?;
    tablet
        .update_rupture(rupture, &RuptureUpdate { significance: Some(4), ..Default::default() })?;
    tablet.add_repair_attempt(
        rupture,
        &NewRepairAttempt {
            session_id: Some(session),
            at: 1_768_205_100_000,
            strategies: vec![RepairStrategy::RsLinkPatternInTherapy],
            client_response: vec![ClientResponse::ExpressedVulnerabilityNeed],
            effect: Some(5),
            note: "Linked the homework tension to fear of being judged.".into(),
        },
    )?;
    match tablet.set_note_section(signed_note, "plan", "late edit") {
        Err(Error::NoteLocked(_)) => {
            println!("  (the tablet cannot edit the signed SOAP note either: NoteLocked)")
        }
        other => return Err(format!("expected NoteLocked, got {other:?}").into()),
    }

    for _ in 0..2 {
        let a = phone.sync(&phone_link, &SyncOptions::default())?;
        let b = tablet.sync(&tablet_link, &SyncOptions::default())?;
        println!(
            "  sync: phone pushed {} / applied {}; tablet pushed {} / applied {}",
            a.pushed, a.applied, b.pushed, b.applied
        );
    }
    let (p, t) = (phone.note(note)?, tablet.note(note)?);
    println!("\nMerged DAP note (identical on both devices: {}):", p == t);
    for (section, text) in &p.sections {
        println!("  {:<11} {text}", format!("{section}:"));
    }
    let (p, t) = (phone.rupture(rupture)?, tablet.rupture(rupture)?);
    println!(
        "Merged rupture (identical: {}): status {}, {} repair attempts",
        p == t,
        p.status,
        p.repair_attempts.len()
    );

    println!("\nConflicts surfaced for review:");
    for c in phone.conflicts()? {
        let values: Vec<String> = c
            .values
            .iter()
            .map(|v| {
                let who = if v.device_id == Some(phone.device_id()) { "phone" } else { "tablet" };
                format!("{} (by {who})", v.value)
            })
            .collect();
        println!("  {} of record {}: {}", c.field, c.record_id, values.join(" vs "));
    }
    phone.resolve_conflict(rupture, "significance", "4")?;
    phone.sync(&phone_link, &SyncOptions::default())?;
    tablet.sync(&tablet_link, &SyncOptions::default())?;
    println!(
        "Resolved on the phone (significance 4); conflicts left on the tablet: {}",
        tablet.conflicts()?.len()
    );

    let stored: Vec<Vec<u8>> = {
        let conn = rusqlite::Connection::open(&relay_db)?;
        let mut st = conn.prepare("SELECT data FROM bundles")?;
        let rows = st.query_map([], |r| r.get(0))?.collect::<Result<Vec<Vec<u8>>, _>>()?;
        rows
    };
    let held: Vec<u8> = stored.concat();
    let probes =
        ["C-0142", "Caffeine", "homework", "Sleep", "withdrawal", "Rivera", "dap", "G47.00"];
    let leaked: Vec<&str> = probes
        .iter()
        .copied()
        .filter(|p| held.windows(p.len()).any(|w| w == p.as_bytes()))
        .collect();
    println!(
        "\nThe relay held {} bundles, {} bytes; plaintext probes found in them: {}",
        stored.len(),
        held.len(),
        if leaked.is_empty() { "none".to_string() } else { leaked.join(", ") }
    );
    if !leaked.is_empty() {
        return Err("the relay saw plaintext".into());
    }
    lost_tablet(phone, &phone_link, tablet, &tablet_path, [0x7Bu8; 32], &relay_db, session)
}

/// Every bundle the relay's SQLite store holds.
fn relay_bundles(relay_db: &std::path::Path) -> Result<Vec<Vec<u8>>, Box<dyn StdError>> {
    let conn = rusqlite::Connection::open(relay_db)?;
    let mut st = conn.prepare("SELECT data FROM bundles")?;
    let rows = st.query_map([], |r| r.get(0))?.collect::<Result<Vec<Vec<u8>>, _>>()?;
    Ok(rows)
}

/// Part three: the tablet is lost. The phone revokes it and writes a new note; then, playing
/// the thief, the example takes every key out of the tablet's vault file (with its key) and
/// tries them on everything the relay stored since the revocation.
fn lost_tablet(
    phone: &Vault,
    phone_link: &dyn mend_core::sync::Transport,
    tablet: Vault,
    tablet_path: &std::path::Path,
    tablet_key: [u8; 32],
    relay_db: &std::path::Path,
    session: RecordId,
) -> Result<(), Box<dyn StdError>> {
    use mend_core::sync::SyncOptions;
    use std::collections::HashSet;
    println!("\n=== The tablet is lost ===");
    let before: HashSet<Vec<u8>> = relay_bundles(relay_db)?.into_iter().collect();
    phone.revoke_device(tablet.device_id())?;
    let note = phone.create_note(&NewNote {
        session_id: session,
        author_id: "dr-rivera".into(),
        format: NoteFormat::Soap,
        sections: vec![("subjective".into(), "Reports the tablet was left on a train.".into())],
        created_at: 1_768_300_000_000,
    })?;
    phone.sync(phone_link, &SyncOptions::default())?;
    println!(
        "The phone revoked the tablet and wrote a new note; the relay now refuses the tablet."
    );
    if tablet.note(note).is_ok() {
        return Err("the revoked tablet reads the new note".into());
    }
    drop(tablet);
    let stolen = mend_testkit::key_material(tablet_path, tablet_key);
    let held: Vec<Vec<u8>> = relay_bundles(relay_db)?;
    let opened_before = held
        .iter()
        .filter(|b| before.contains(*b))
        .filter(|b| mend_testkit::opens(&stolen, b))
        .count();
    let after: Vec<&Vec<u8>> = held.iter().filter(|b| !before.contains(*b)).collect();
    let after: Vec<Vec<u8>> = after.into_iter().cloned().collect();
    let opened_after = mend_testkit::opened_content(&stolen, &after).len();
    let registry = mend_testkit::opened_registry_changes(&stolen, &after);
    println!(
        "The tablet's {} keys open {} of the {} bundles stored before the revocation (what it \
         already had) and, of the {} stored since, {} with content (the new note is under a key \
         generation sealed only to the remaining devices) and {} registry change (the one that \
         tells it it was removed).",
        stolen.keys.len(),
        opened_before,
        before.len(),
        after.len(),
        opened_after,
        registry
    );
    if opened_after > 0 || after.is_empty() || registry > 1 {
        return Err("a revoked device opened what was written after its revocation".into());
    }
    Ok(())
}

/// Day-relative clock time for display (the example keeps to one day).
fn hhmm(ms: i64) -> String {
    let mins = (ms / 60_000).rem_euclid(24 * 60);
    format!("{:02}:{:02}", mins / 60, mins % 60)
}

/// A relay running on a background thread; stopped when dropped.
struct RelayHandle {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for RelayHandle {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts `mend-relay` on 127.0.0.1 (a free port) over an SQLite store at `db`, and issues one
/// registration token there (what `mend-relay issue-token` does).
fn start_relay(db: &std::path::Path) -> Result<(String, String, RelayHandle), Box<dyn StdError>> {
    use std::sync::Arc;
    let store: Arc<dyn mend_relay::store::Store> =
        Arc::new(mend_relay::store::sqlite::SqliteStore::open(db)?);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let token = mend_relay::new_token();
    let listener = rt.block_on(async {
        store.migrate().await?;
        store.issue_token(mend_relay::token_hash(&token), 0).await?;
        Ok::<_, Box<dyn StdError>>(tokio::net::TcpListener::bind("127.0.0.1:0").await?)
    })?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let relay = mend_relay::Relay::new(store, mend_relay::Limits::default());
    let thread = std::thread::spawn(move || {
        rt.block_on(async move {
            let _ = mend_relay::serve(listener, relay, async {
                let _ = stopped.await;
            })
            .await;
        });
    });
    Ok((format!("http://{addr}"), token, RelayHandle { stop: Some(stop), thread: Some(thread) }))
}
