//! Text positions count UTF-16 code units, as UITextView/NSRange and Compose/Android count:
//! typing and deleting around emoji with skin-tone modifiers, ZWJ sequences, combining accents,
//! CJK and surrogate pairs in note sections and rupture texts, through the vault's public API.
//! A position that would split a surrogate pair is refused and changes nothing; a document
//! reopened from disk or merged from another device counts the same way.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use mend_core::sync::MemoryRelay;
use mend_core::*;
use mend_testkit::*;
use proptest::prelude::*;

const THUMB: &str = "👍🏽"; // U+1F44D U+1F3FD: two surrogate pairs, 4 units
const FAMILY: &str = "👨\u{200D}👩\u{200D}👧"; // three pairs joined by two ZWJs: 8 units
const ACCENT: &str = "e\u{301}"; // e + COMBINING ACUTE ACCENT: 2 units
const CJK: &str = "漢字"; // two BMP characters: 2 units

fn units(s: &str) -> usize {
    s.encode_utf16().count()
}

/// A vault with a draft free-text note whose `body` holds `text`, and a rupture whose narrative
/// holds it too.
fn with_text(dir: &tempfile::TempDir, text: &str) -> (Vault, RecordId, RecordId) {
    let v = new_vault(dir);
    let c = v.create_client(&new_client("C-0001")).unwrap();
    let s = v.create_session(&new_session(c, 10_000)).unwrap();
    let n = v.create_note(&free_note(s)).unwrap();
    v.splice_note_section(n, "body", 0, 0, text).unwrap();
    let mut r = new_rupture(c, Some(s), 10_500);
    r.narrative = String::new();
    let r = v.create_rupture(&r, "therapist-1").unwrap();
    v.splice_rupture_text(r, RuptureText::Narrative, 0, 0, text).unwrap();
    (v, n, r)
}

fn body(v: &Vault, n: RecordId) -> String {
    v.note(n).unwrap().section("body").unwrap_or("").to_owned()
}

fn narrative(v: &Vault, r: RecordId) -> String {
    v.rupture(r).unwrap().narrative
}

/// Splices both the note's body and the rupture's narrative the same way; both must agree.
fn splice_both(
    v: &Vault,
    n: RecordId,
    r: RecordId,
    pos: usize,
    delete: usize,
    ins: &str,
) -> Result<()> {
    let a = v.splice_note_section(n, "body", pos, delete, ins);
    let b = v.splice_rupture_text(r, RuptureText::Narrative, pos, delete, ins);
    // The same outcome; a refusal names each its own field.
    let reason = |r: &Result<()>| match r {
        Err(Error::Validation { reason, .. }) => Err(reason.clone()),
        Err(e) => panic!("{e:?}"),
        Ok(()) => Ok(()),
    };
    assert_eq!(reason(&a), reason(&b), "note and rupture splices disagree at {pos}+{delete}");
    a
}

fn expect_text(v: &Vault, n: RecordId, r: RecordId, want: &str) {
    assert_eq!(body(v, n), want);
    assert_eq!(narrative(v, r), want);
}

fn refused(v: &Vault, n: RecordId, r: RecordId, pos: usize, delete: usize, ins: &str) {
    let before = body(v, n);
    match splice_both(v, n, r, pos, delete, ins) {
        Err(Error::Validation { reason, .. }) => {
            assert!(reason.contains("UTF-16"), "the message names the unit: {reason}")
        }
        other => panic!(
            "{pos}+{delete} {ins:?} into {before:?}: expected a validation error, got {other:?}"
        ),
    }
    expect_text(v, n, r, &before);
}

#[test]
fn typing_after_an_emoji_with_a_skin_tone_keeps_it_whole() {
    let dir = tempfile::tempdir().unwrap();
    let start = format!("OK {THUMB}");
    let (v, n, r) = with_text(&dir, &start);
    // The case: "!" typed at the end, which UITextView and Compose report as 7, not 5.
    assert_eq!(units(&start), 7);
    splice_both(&v, n, r, 7, 0, "!").unwrap();
    expect_text(&v, n, r, "OK 👍🏽!");
    // Before the emoji, and between the thumb and its modifier (a scalar boundary, a valid
    // UTF-16 position: what an editor sends when the modifier is typed on its own).
    splice_both(&v, n, r, 3, 0, "[").unwrap();
    expect_text(&v, n, r, "OK [👍🏽!");
    splice_both(&v, n, r, 6, 0, "\u{200B}").unwrap();
    expect_text(&v, n, r, "OK [👍\u{200B}🏽!");
    splice_both(&v, n, r, 6, 1, "").unwrap();
    // Backspace over the emoji as a text view does: the whole grapheme, 4 units.
    splice_both(&v, n, r, 4, 4, "").unwrap();
    expect_text(&v, n, r, "OK [!");
}

#[test]
fn a_position_inside_a_surrogate_pair_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (v, n, r) = with_text(&dir, &format!("OK {THUMB} x"));
    // 3 is before 👍 (U+D83D U+DC4D), 4 between its halves; 5 before 🏽, 6 between its halves.
    for pos in [4, 6] {
        refused(&v, n, r, pos, 0, "!");
        refused(&v, n, r, pos, 1, "");
        refused(&v, n, r, pos, 2, "");
    }
    // A delete that starts well but ends inside a pair.
    refused(&v, n, r, 3, 1, "");
    refused(&v, n, r, 3, 3, "");
    refused(&v, n, r, 2, 2, "y");
    // The whole emoji, or from it to the end, is fine.
    splice_both(&v, n, r, 3, 4, "🙂").unwrap();
    expect_text(&v, n, r, "OK 🙂 x");
}

#[test]
fn zwj_sequences_are_typed_around_and_deleted_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (v, n, r) = with_text(&dir, &format!("A{FAMILY}B"));
    assert_eq!(units(FAMILY), 8);
    splice_both(&v, n, r, 9, 0, ", family").unwrap();
    expect_text(&v, n, r, &format!("A{FAMILY}, familyB"));
    // Inside each of the three pairs: refused.
    for pos in [2, 5, 8] {
        refused(&v, n, r, pos, 0, "x");
    }
    // Between the pairs and the joiners: valid positions (scalar boundaries).
    splice_both(&v, n, r, 3, 0, "|").unwrap();
    splice_both(&v, n, r, 3, 1, "").unwrap();
    splice_both(&v, n, r, 1, 8, "").unwrap();
    expect_text(&v, n, r, "A, familyB");
}

#[test]
fn combining_accents_and_cjk_count_one_unit_each() {
    let dir = tempfile::tempdir().unwrap();
    let start = format!("caf{ACCENT} {CJK}");
    let (v, n, r) = with_text(&dir, &start);
    assert_eq!(units(&start), 8);
    // Between 漢 and 字, then after everything.
    splice_both(&v, n, r, 7, 0, "・").unwrap();
    splice_both(&v, n, r, 9, 0, "!").unwrap();
    expect_text(&v, n, r, "cafe\u{301} 漢・字!");
    // The accent alone (backspace on a decomposed é in some editors), then the whole é.
    splice_both(&v, n, r, 4, 1, "").unwrap();
    expect_text(&v, n, r, "cafe 漢・字!");
    splice_both(&v, n, r, 4, 0, "\u{301}").unwrap();
    splice_both(&v, n, r, 3, 2, "é").unwrap();
    expect_text(&v, n, r, "café 漢・字!");
    // A CJK character replaced by one outside the BMP (a surrogate pair).
    splice_both(&v, n, r, 5, 1, "𠀋").unwrap();
    expect_text(&v, n, r, "café 𠀋・字!");
    refused(&v, n, r, 6, 0, "x");
}

#[test]
fn positions_past_the_end_are_refused_in_utf16_units() {
    let dir = tempfile::tempdir().unwrap();
    let (v, n, r) = with_text(&dir, THUMB);
    // The end is 4 (UTF-16), not 2 (scalars).
    refused(&v, n, r, 5, 0, "x");
    refused(&v, n, r, 0, 5, "");
    refused(&v, n, r, 4, 1, "");
    refused(&v, n, r, usize::MAX, 0, "x");
    refused(&v, n, r, 2, usize::MAX, "");
    splice_both(&v, n, r, 4, 0, "x").unwrap();
    expect_text(&v, n, r, "👍🏽x");
}

#[test]
fn a_reopened_vault_still_counts_utf16_units() {
    let dir = tempfile::tempdir().unwrap();
    let (n, r) = {
        let (_v, n, r) = with_text(&dir, &format!("{FAMILY} {THUMB}"));
        (n, r)
    };
    let v = reopen(&path(&dir));
    splice_both(&v, n, r, 13, 0, "!").unwrap();
    refused(&v, n, r, 12, 0, "x");
    splice_both(&v, n, r, 8, 0, ":").unwrap();
    expect_text(&v, n, r, &format!("{FAMILY}: {THUMB}!"));
}

#[test]
fn two_devices_typing_around_emoji_merge_without_splitting_them() {
    let dir = tempfile::tempdir().unwrap();
    let relay = MemoryRelay::new();
    let p = note_pair(
        &dir.path().join("phone"),
        &dir.path().join("tablet"),
        "C-0002",
        opts(),
        &relay,
        &relay,
    );
    p.phone.splice_note_section(p.note, "body", 0, 0, &format!("{THUMB}{FAMILY}")).unwrap();
    sync(&p.phone, &relay);
    sync(&p.tablet, &relay);
    // Concurrently: the phone types after the thumb (4), the tablet after the family (12).
    p.phone.splice_note_section(p.note, "body", 4, 0, "a").unwrap();
    p.tablet.splice_note_section(p.note, "body", 12, 0, "b").unwrap();
    for _ in 0..2 {
        sync(&p.phone, &relay);
        sync(&p.tablet, &relay);
    }
    let want = format!("{THUMB}a{FAMILY}b");
    assert_eq!(body(&p.phone, p.note), want);
    assert_eq!(body(&p.tablet, p.note), want);
    // The merged document counts UTF-16 units on both devices.
    p.tablet.splice_note_section(p.note, "body", 14, 0, "c").unwrap();
    assert_eq!(body(&p.tablet, p.note), format!("{THUMB}a{FAMILY}bc"));
    refused_note(&p.tablet, p.note, 6);
}

fn refused_note(v: &Vault, n: RecordId, pos: usize) {
    let before = body(v, n);
    assert!(matches!(v.splice_note_section(n, "body", pos, 0, "x"), Err(Error::Validation { .. })));
    assert_eq!(body(v, n), before);
}

/// An editor's model of the text as UTF-16 units, the way UITextView and Android's EditText keep
/// it.
fn splice_model(model: &mut Vec<u16>, pos: usize, delete: usize, ins: &str) {
    model.splice(pos..pos + delete, ins.encode_utf16());
}

fn inside_a_pair(model: &[u16], at: usize) -> bool {
    at > 0 && at < model.len() && (0xDC00..0xE000).contains(&model[at])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Random splices at random UTF-16 positions: those at character boundaries give exactly the
    /// text an editor's UTF-16 buffer holds; those inside a pair are refused and change nothing.
    #[test]
    fn random_splices_match_a_utf16_buffer(
        ops in proptest::collection::vec(
            (any::<u16>(), 0..4usize, proptest::sample::select(vec![
                "", "a", "é", "e\u{301}", "漢", "👍", "👍🏽", "👨\u{200D}👩\u{200D}👧", "𠀋x", " ",
            ])),
            1..25,
        )
    ) {
        let dir = tempfile::tempdir().unwrap();
        let (v, n, r) = with_text(&dir, "");
        let mut model: Vec<u16> = Vec::new();
        for (pos, delete, ins) in ops {
            let pos = pos as usize % (model.len() + 1);
            let delete = delete.min(model.len() - pos);
            let result = splice_both(&v, n, r, pos, delete, ins);
            // An empty splice changes nothing and is accepted anywhere, as before.
            let empty = delete == 0 && ins.is_empty();
            let splits = inside_a_pair(&model, pos) || (delete > 0 && inside_a_pair(&model, pos + delete));
            if splits && !empty {
                prop_assert!(matches!(result, Err(Error::Validation { .. })), "{:?}", result);
            } else {
                prop_assert_eq!(result, Ok(()));
                splice_model(&mut model, pos, delete, ins);
            }
            let want = String::from_utf16(&model).unwrap();
            prop_assert_eq!(body(&v, n), want.clone());
            prop_assert_eq!(narrative(&v, r), want);
        }
    }
}
