//! `automerge07`: Mend's documents through the automerge release that Mend used before 0.12,
//! as a device still running an older app would see them. Built against automerge 0.7.4 only.
//!
//! ```text
//! automerge07 dump FILE...        load FILE (a saved document), then each further FILE as
//!                                   incremental changes; print {"heads": [...], "doc": {...}}
//! automerge07 edit OUT FILE...    load as dump does, append " (0.7)" to every text in the
//!                                   document in one change, write that change alone to OUT
//!                                   (what the old device would sync), then print as dump does
//! automerge07 write DIR           make a document of every kind of value Mend stores (maps,
//!                                   lists, texts typed as splices with emoji and combining
//!                                   marks, deletions, integers, booleans, a counter, a
//!                                   concurrent conflict merged from two actors), write
//!                                   DIR/snapshot.bin (a save part-way), DIR/changes.bin (the
//!                                   rest, incremental) and print the final document as dump does
//! ```
//!
//! The document is printed with `AutoSerde`, so the test compares it with what automerge 0.12
//! prints for the same bytes.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::Path;

use automerge::transaction::Transactable;
use automerge::{AutoCommit, AutoSerde, ObjId, ObjType, ReadDoc, ScalarValue, ROOT};

fn load(files: &[String]) -> AutoCommit {
    let (first, rest) = files.split_first().expect("at least one file");
    let mut doc = AutoCommit::load(&std::fs::read(first).unwrap()).unwrap();
    for f in rest {
        doc.load_incremental(&std::fs::read(f).unwrap()).unwrap();
    }
    doc
}

fn print(doc: &mut AutoCommit) {
    let heads: Vec<String> = doc.get_heads().iter().map(|h| h.to_string()).collect();
    // Concurrent values of a root key (AutoSerde shows only the winner).
    let mut conflicts = serde_json::Map::new();
    for key in doc.keys(ROOT).collect::<Vec<_>>() {
        let all = doc.get_all(ROOT, key.as_str()).unwrap();
        if all.len() > 1 {
            let mut values: Vec<String> = all.iter().map(|(v, _)| v.to_string()).collect();
            values.sort();
            conflicts.insert(key, values.into());
        }
    }
    let out = serde_json::json!({
        "heads": heads,
        "conflicts": conflicts,
        "doc": AutoSerde::from(&*doc),
    });
    println!("{out}");
}

/// Every text object in the document.
fn texts(doc: &AutoCommit, obj: &ObjId, out: &mut Vec<ObjId>) {
    let children: Vec<ObjId> = match doc.object_type(obj) {
        Ok(ObjType::Map) | Ok(ObjType::Table) => doc.map_range(obj, ..).map(|i| i.id()).collect(),
        Ok(ObjType::List) => doc.list_range(obj, ..).map(|i| i.id()).collect(),
        _ => vec![],
    };
    for id in children {
        // A scalar's id names an operation, not an object: it has no object type.
        match doc.object_type(&id) {
            Ok(ObjType::Text) => out.push(id),
            Ok(_) => texts(doc, &id, out),
            Err(_) => {}
        }
    }
}

fn edit(out: &Path, files: &[String]) {
    let mut doc = load(files);
    let heads = doc.get_heads();
    let mut found = vec![];
    texts(&doc, &ROOT, &mut found);
    for t in found {
        let len = doc.length(&t);
        doc.splice_text(&t, len, 0, " (0.7)").unwrap();
    }
    doc.commit();
    std::fs::write(out, doc.save_after(&heads)).unwrap();
    print(&mut doc);
}

fn write(dir: &Path) {
    let mut doc = AutoCommit::new();
    doc.put(ROOT, "id", "0d6f3c1e-7a55-4c6e-9a07-6ac0d0b0c001").unwrap();
    doc.put(ROOT, "created_at", 1_767_600_000_000i64).unwrap();
    doc.put(ROOT, "follow_up_planned", true).unwrap();
    doc.put(ROOT, "visits", ScalarValue::counter(1)).unwrap();
    let sections = doc.put_object(ROOT, "sections", ObjType::Map).unwrap();
    let s = doc.put_object(&sections, "subjective", ObjType::Text).unwrap();
    let mut at = 0;
    for word in ["Reports ", "sleeping ", "4–5 hours 😔; ", "café, 睡眠 ", "worried."] {
        doc.splice_text(&s, at, 0, word).unwrap();
        at += word.chars().count();
    }
    doc.splice_text(&s, 8, 9, "").unwrap();
    let sigs = doc.put_object(ROOT, "signatures", ObjType::List).unwrap();
    let sig = doc.insert_object(&sigs, 0, ObjType::Map).unwrap();
    doc.put(&sig, "meaning", "authored").unwrap();
    doc.put(&sig, "heads", ScalarValue::Bytes(vec![0xAB; 32])).unwrap();
    doc.commit();
    std::fs::write(dir.join("snapshot.bin"), doc.save()).unwrap();
    let heads = doc.get_heads();

    // Two devices set one register concurrently: both values stay visible as a conflict.
    let mut other = doc.fork().with_actor(automerge::ActorId::from(vec![0xEE; 16]));
    doc.put(ROOT, "significance", 4).unwrap();
    other.put(ROOT, "significance", 2).unwrap();
    other.splice_text(&s, 0, 0, "[tablet] ").unwrap();
    doc.merge(&mut other).unwrap();
    doc.increment(ROOT, "visits", 2).unwrap();
    doc.delete(ROOT, "follow_up_planned").unwrap();
    let plan = doc.put_object(&sections, "plan", ObjType::Text).unwrap();
    doc.splice_text(&plan, 0, 0, "Sleep diary e\u{301}tude").unwrap();
    doc.commit();
    std::fs::write(dir.join("changes.bin"), doc.save_after(&heads)).unwrap();
    print(&mut doc);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("dump") => print(&mut load(&args[1..])),
        Some("edit") if args.len() >= 3 => edit(Path::new(&args[1]), &args[2..]),
        Some("write") if args.len() == 2 => write(Path::new(&args[1])),
        _ => {
            eprintln!("usage: automerge07 dump FILE... | edit OUT FILE... | write DIR");
            std::process::exit(2);
        }
    }
}
