//! Workload 1: save one edit.

use super::*;

pub(crate) struct SaveRow {
    pub(crate) durability: &'static str,
    pub(crate) name: &'static str,
    pub(crate) st: Stats,
}

pub(crate) fn bench_save(
    cfg: &Cfg,
    dir: &Path,
    durability: Durability,
    n: usize,
    out: &mut Vec<SaveRow>,
) {
    let dname = match durability {
        Durability::Full => "Full",
        Durability::Normal => "Normal",
    };
    eprintln!("[1] save one edit, Durability::{dname}: {n} saves per store");
    let sub = dir.join(format!("save-{dname}"));
    std::fs::create_dir_all(&sub).unwrap();
    let (vault, id) = vault_with_note(&sub.join("mend.mend"), opts(durability, COMPACT_AFTER));
    let start_len = section_len(&vault, id);
    let mut stores: Vec<(&'static str, Box<dyn Editor>)> = vec![
        ("Mend (encrypted, incremental)", Box::new(MendEditor { vault, id })),
        (
            "plaintext SQLite (same scheme, no encryption)",
            Box::new(PlainStore::create(
                &sub.join("plain.db"),
                durability,
                COMPACT_AFTER,
                Layer::Bare,
            )),
        ),
        (
            "plaintext SQLite + `note::splice_section` checks",
            Box::new(PlainStore::create(
                &sub.join("plainchk.db"),
                durability,
                COMPACT_AFTER,
                Layer::Checks,
            )),
        ),
        (
            "plaintext SQLite + checks + summary per save (not on Mend's text path)",
            Box::new(PlainStore::create(
                &sub.join("plainrec.db"),
                durability,
                COMPACT_AFTER,
                Layer::Summary,
            )),
        ),
        (
            "plaintext SQLite + checks + outbox row (all but encryption)",
            Box::new(PlainStore::create(
                &sub.join("plainout.db"),
                durability,
                COMPACT_AFTER,
                Layer::Outbox,
            )),
        ),
        (
            "naive (re-encrypt whole doc per save)",
            Box::new(NaiveStore::create(&sub.join("naive.db"), durability)),
        ),
        ("floor: raw Automerge in memory", Box::new(RawEditor::note())),
    ];
    let mut samples: Vec<Vec<Duration>> = vec![Vec::with_capacity(n); stores.len()];
    let mut lens = vec![start_len; stores.len()];
    let typed = b"the client described feeling calmer after practising the exercise ";
    // Warm-up (not recorded): caches, prepared statements, page cache.
    for (i, (_, s)) in stores.iter_mut().enumerate() {
        for k in 0..10 {
            let c = (typed[k % typed.len()] as char).to_string();
            s.splice(lens[i], 0, &c);
            lens[i] += 1;
        }
    }
    let block = cfg.block.max(1);
    let mut k = 0;
    while k < n {
        let b = block.min(n - k);
        for (i, (_, s)) in stores.iter_mut().enumerate() {
            for j in 0..b {
                let c = (typed[(k + j) % typed.len()] as char).to_string();
                let t = Instant::now();
                s.splice(lens[i], 0, &c);
                samples[i].push(t.elapsed());
                lens[i] += 1;
            }
        }
        k += b;
    }
    for ((name, _), smp) in stores.iter().zip(&samples) {
        out.push(SaveRow { durability: dname, name, st: stats(smp) });
    }
}

pub(crate) fn workload_save(cfg: &Cfg, dir: &Path, r: &mut String) {
    let mut rows = Vec::new();
    bench_save(cfg, dir, Durability::Full, cfg.save_edits_full, &mut rows);
    bench_save(cfg, dir, Durability::Normal, cfg.save_edits_normal, &mut rows);
    writeln!(
        r,
        "## 1. Save one edit (1-character splice into a SOAP section, one acknowledged save)\n"
    )
    .unwrap();
    writeln!(
        r,
        "Stores interleaved in blocks of {} saves; 10 warm-up saves per store not recorded.\n",
        cfg.block
    )
    .unwrap();
    writeln!(r, "| durability | store | saves | median | p99 | mean | max | median vs plaintext |")
        .unwrap();
    writeln!(r, "|---|---|---:|---:|---:|---:|---:|---:|").unwrap();
    for d in ["Full", "Normal"] {
        let base = rows
            .iter()
            .find(|x| x.durability == d && x.name.starts_with("plaintext SQLite (same"))
            .map(|x| x.st.median)
            .unwrap();
        for x in rows.iter().filter(|x| x.durability == d) {
            writeln!(
                r,
                "| {} | {} | {} | {} | {} | {} | {} | {:.2}× |",
                d,
                x.name,
                x.st.n,
                fmt_d(x.st.median),
                fmt_d(x.st.p99),
                fmt_d(x.st.mean),
                fmt_d(x.st.max),
                ratio(x.st.median, base)
            )
            .unwrap();
        }
    }
    writeln!(r).unwrap();
    for d in ["Full", "Normal"] {
        let get =
            |p: &str| rows.iter().find(|x| x.durability == d && x.name.starts_with(p)).unwrap().st;
        let mend = get("Mend");
        let plain = get("plaintext SQLite (same");
        let rec = get("plaintext SQLite + checks + summary");
        let chk = get("plaintext SQLite + `note");
        let outb = get("plaintext SQLite + checks + outbox");
        let naive = get("naive");
        let floor = get("floor");
        let rm = ratio(mend.median, plain.median);
        let rp = ratio(mend.p99, plain.p99);
        writeln!(
            r,
            "- Durability::{d}: Mend/plaintext = **{rm:.2}×** median, {rp:.2}× p99 \
             (target ≤ 1.3×: {}); Mend median {} (target < 1 ms: {}). \
             Of Mend's extra {} over plaintext (differences of medians, so only indicative), \
             the record layer's checks account for {}, the sync outbox row for {}, and \
             encryption (two seals per save: stored change and outbox bundle) + key handling for \
             the remaining {} (Mend/(plaintext + all but encryption) = {:.2}×); recomputing the \
             summary, which a text splice skips, would add {}. Mend/naive = {:.2}× median, {:.2}× p99; Mend/floor = {:.1}× median.",
            verdict(rm <= 1.3),
            fmt_d(mend.median),
            verdict(mend.median < Duration::from_millis(1)),
            fmt_signed(mend.median, plain.median),
            fmt_signed(chk.median, plain.median),
            fmt_signed(outb.median, chk.median),
            fmt_signed(mend.median, outb.median),
            ratio(mend.median, outb.median),
            fmt_signed(rec.median, chk.median),
            ratio(mend.median, naive.median),
            ratio(mend.p99, naive.p99),
            ratio(mend.median, floor.median),
        )
        .unwrap();
    }
    writeln!(r).unwrap();
}
