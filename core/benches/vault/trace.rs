//! Workload 5: a real editing trace.

use super::*;

/// The editing trace to replay: `MEND_BENCH_TRACE`, or the repository's copy (CC BY 4.0, Martin
/// Kleppmann and Joseph Gentle; `benchmarks/data/README.md`) found from this crate's folder.
pub(crate) fn trace_path() -> String {
    std::env::var("MEND_BENCH_TRACE").unwrap_or_else(|_| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../benchmarks/data/automerge-paper.json.gz")
            .display()
            .to_string()
    })
}

#[derive(serde::Deserialize)]
pub(crate) struct Trace {
    #[serde(rename = "startContent")]
    pub(crate) start_content: String,
    #[serde(rename = "endContent")]
    pub(crate) end_content: String,
    pub(crate) txns: Vec<Txn>,
}

#[derive(serde::Deserialize)]
pub(crate) struct Txn {
    pub(crate) patches: Vec<(usize, usize, String)>,
}

pub(crate) fn workload_trace(cfg: &Cfg, dir: &Path, r: &mut String) {
    let path = trace_path();
    writeln!(r, "## 5. Real editing trace (automerge-paper)\n").unwrap();
    let out = match std::process::Command::new("gunzip").arg("-c").arg(&path).output() {
        Ok(o) if o.status.success() => o.stdout,
        _ => {
            writeln!(r, "Skipped: could not read `{path}` with `gunzip -c`.\n").unwrap();
            return;
        }
    };
    let trace: Trace = serde_json::from_slice(&out).unwrap();
    let all: Vec<(usize, usize, String)> =
        trace.txns.into_iter().flat_map(|t| t.patches.into_iter()).collect();
    let n = cfg.trace_ops.map_or(all.len(), |k| k.min(all.len()));
    let ops = &all[..n];
    let mut expected = trace.start_content.clone();
    for (p, d, s) in ops {
        expected.replace_range(*p..*p + *d, s);
    }
    if n == all.len() {
        assert_eq!(expected, trace.end_content, "trace replay in a String");
    }
    eprintln!("[5] trace: {n} of {} keystrokes", all.len());

    // Mend.
    let mp = dir.join("trace.mend");
    let v =
        Vault::create(&mp, VaultSecret::key(KEY), opts(Durability::Normal, COMPACT_AFTER)).unwrap();
    let c = v.create_client(&new_client(0)).unwrap();
    let s = v.create_session(&new_session(c, T0)).unwrap();
    let mut nn = soap_note(s, 0);
    nn.sections = vec![(SECTION.into(), trace.start_content.clone())];
    let id = v.create_note(&nn).unwrap();
    let mut m_samples = Vec::with_capacity(n);
    let t = Instant::now();
    for (p, d, s) in ops {
        let t = Instant::now();
        v.splice_note_section(id, SECTION, *p, *d, s).unwrap();
        m_samples.push(t.elapsed());
    }
    let m_total = t.elapsed();
    assert_eq!(v.note(id).unwrap().section(SECTION).unwrap(), expected, "Mend trace text");
    drop(v);
    let (_, m_reopen) = time(|| {
        let v = open_default(&mp);
        assert_eq!(v.note(id).unwrap().section(SECTION).unwrap(), expected, "Mend trace reopened");
    });
    eprintln!("[5] Mend done in {m_total:?}");

    // Plaintext baselines: bare, and with Mend's record layer.
    let mut plain_runs = Vec::new();
    let mut plain_file = None;
    for (layer, file) in [(Layer::Bare, "trace.db"), (Layer::Outbox, "trace-rec.db")] {
        let pp = dir.join(file);
        let mut plain = PlainStore::create(&pp, Durability::Normal, COMPACT_AFTER, layer);
        let len = plain.doc.length(&plain.text);
        plain.splice(0, len, &trace.start_content);
        let mut samples = Vec::with_capacity(n);
        let t = Instant::now();
        for (p, d, s) in ops {
            let t = Instant::now();
            plain.splice(*p, *d, s);
            samples.push(t.elapsed());
        }
        plain_runs.push((t.elapsed(), stats(&samples)));
        assert_eq!(plain.doc.text(&plain.text).unwrap(), expected, "plaintext trace text");
        if layer == Layer::Bare {
            plain_file = Some((pp, plain.id, plain.doc.save()));
        }
        eprintln!("[5] plaintext done");
    }
    let (p_total, ps) = plain_runs[0];
    let (pr_total, prs) = plain_runs[1];

    // Cold load of the final note: Mend (above), plaintext per row and batched, floor.
    let (pp, pid, saved) = plain_file.unwrap();
    let (_, p_load) = time(|| {
        let doc = plain_load(&pp, pid, false);
        assert_eq!(note::read(&doc, pid).unwrap().section(SECTION).unwrap(), expected);
    });
    let (_, p_batched) = time(|| {
        let doc = plain_load(&pp, pid, true);
        assert_eq!(note::read(&doc, pid).unwrap().section(SECTION).unwrap(), expected);
    });
    let (_, f_load) = time(|| {
        let doc = am::load_doc(&saved).unwrap();
        assert_eq!(note::read(&doc, pid).unwrap().section(SECTION).unwrap(), expected);
    });

    // Where the record layer's per-save time goes: the functions the vault calls on every save,
    // timed alone on a fresh note and on the final trace note.
    let mut big = am::load_doc(&saved).unwrap();
    let mut small = am::new_doc();
    let sid = RecordId::random();
    note::create(
        &mut small,
        sid,
        RecordId::random(),
        T0,
        &soap_note(RecordId::random(), 0),
        &stamp(),
    )
    .unwrap();
    let costs_small = record_costs(&mut small, sid);
    let costs_big = record_costs(&mut big, pid);

    // Floor.
    let mut doc = am::new_doc();
    let text = doc.put_object(ROOT, "text", ObjType::Text).unwrap();
    doc.splice_text(&text, 0, 0, &trace.start_content).unwrap();
    doc.commit();
    let mut f_samples = Vec::with_capacity(n);
    let t = Instant::now();
    for (p, d, s) in ops {
        let t = Instant::now();
        doc.splice_text(&text, *p, *d as isize, s).unwrap();
        doc.commit();
        f_samples.push(t.elapsed());
    }
    let f_total = t.elapsed();
    assert_eq!(doc.text(&text).unwrap(), expected, "floor trace text");

    let (ms, fs) = (stats(&m_samples), stats(&f_samples));
    let which = if n == all.len() {
        format!("the whole trace ({n} keystrokes)")
    } else {
        format!("the first {n} of {} keystrokes", all.len())
    };
    writeln!(
        r,
        "Replayed {which} into the `subjective` section of one note, one `splice_note_section` (one \
         acknowledged save, Durability::Normal) per keystroke; the same keystrokes into the \
         plaintext baselines and into raw Automerge (splice + commit per keystroke). The final \
         text was checked equal to the expected result ({} characters{}) in every store, and again \
         after reopening.\n",
        expected.len(),
        if n == all.len() { ", which equals the trace's `endContent`" } else { "" },
    )
    .unwrap();
    writeln!(r, "| store | total | per keystroke median | p99 | max | total vs floor | total vs plaintext |").unwrap();
    writeln!(r, "|---|---:|---:|---:|---:|---:|---:|").unwrap();
    for (name, tot, st) in [
        ("Mend", m_total, ms),
        ("plaintext SQLite (same scheme, no encryption)", p_total, ps),
        ("plaintext SQLite + record layer + outbox (all but encryption)", pr_total, prs),
        ("floor: raw Automerge", f_total, fs),
    ] {
        writeln!(
            r,
            "| {name} | {} | {} | {} | {} | {:.1}× | {:.2}× |",
            fmt_d(tot),
            fmt_d(st.median),
            fmt_d(st.p99),
            fmt_d(st.max),
            ratio(tot, f_total),
            ratio(tot, p_total),
        )
        .unwrap();
    }
    writeln!(
        r,
        "\nCold load of the final note (one run each): Mend reopen + first `note` {}; plaintext \
         open + load, one `load_incremental` per row {}; the same with the rows batched into one \
         `load_incremental` {}; floor `AutoCommit::load(doc.save())` {}.\n",
        fmt_d(m_reopen),
        fmt_d(p_load),
        fmt_d(p_batched),
        fmt_d(f_load),
    )
    .unwrap();
    writeln!(
        r,
        "Per-save record-layer work, timed alone (median of {RECORD_COST_ITERS} calls) on a fresh \
         SOAP note and on the final trace note ({} characters in `subjective`):\n",
        expected.len()
    )
    .unwrap();
    writeln!(r, "| function (on a save) | fresh note | final trace note |").unwrap();
    writeln!(r, "|---|---:|---:|").unwrap();
    for ((name, a), (_, b)) in costs_small.iter().zip(&costs_big) {
        writeln!(r, "| {name} | {} | {} |", fmt_d(*a), fmt_d(*b)).unwrap();
    }
    writeln!(r).unwrap();
}

pub(crate) const RECORD_COST_ITERS: usize = 200;

/// Median time of each record-layer function the vault runs per save of a note.
pub(crate) fn record_costs(doc: &mut AutoCommit, id: RecordId) -> Vec<(&'static str, Duration)> {
    fn med(mut f: impl FnMut()) -> Duration {
        let mut v = Vec::with_capacity(RECORD_COST_ITERS);
        for _ in 0..RECORD_COST_ITERS {
            let t = Instant::now();
            f();
            v.push(t.elapsed());
        }
        stats(&v).median
    }
    let text = text_obj(doc);
    let heads = doc.get_heads();
    // An empty splice passes every check and changes nothing: the cost of the checks alone.
    let checks = med(|| {
        note::splice_section(doc, id, SECTION, 0, 0, "").unwrap();
    });
    assert_eq!(doc.get_heads(), heads, "an empty splice must not change the note");
    let doc: &AutoCommit = doc;
    vec![
        (
            "`note::splice_section` with an empty splice (all its checks: the first keystroke in \
             a section, or after any other change; later keystrokes run only the range and \
             surrogate-pair checks)",
            checks,
        ),
        (
            "… `AutoCommit::length` of the section",
            med(|| {
                assert!(doc.length(&text) < usize::MAX);
            }),
        ),
        (
            "`note::state` (draft check in `splice_section`)",
            med(|| {
                note::state(doc, id).unwrap();
            }),
        ),
        (
            "`note::summary_fields`",
            med(|| {
                note::summary_fields(doc, id).unwrap();
            }),
        ),
        (
            "`note::divergence`",
            med(|| {
                note::divergence(doc, id).unwrap();
            }),
        ),
        (
            "`records::conflict::of`",
            med(|| {
                mend_core::records::conflict::of(Kind::Note, doc, id).unwrap();
            }),
        ),
        (
            "`summary::encoded` (all of the summary)",
            med(|| {
                summary::encoded(Kind::Note, doc, id).unwrap();
            }),
        ),
    ]
}
