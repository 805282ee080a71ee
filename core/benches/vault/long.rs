//! Workloads 3 and 4: load a long note; bytes on disk per edit.

use super::*;

/// A deterministic typing session: a cursor that mostly moves forward, a backspace every 8th
/// keystroke, and a jump to another place every 100 keystrokes.
pub(crate) struct Typist {
    pub(crate) rng: u64,
    pub(crate) cursor: usize,
    pub(crate) text: String,
}

impl Typist {
    pub(crate) fn new(text: String) -> Typist {
        let cursor = text.len();
        Typist { rng: 0x9E37_79B9_7F4A_7C15, cursor, text }
    }

    pub(crate) fn next_rand(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    /// The next edit `(pos, delete, insert)`, applied to the expected text.
    pub(crate) fn next(&mut self, i: usize) -> (usize, usize, String) {
        if i % 100 == 99 {
            self.cursor = (self.next_rand() % (self.text.len() as u64 + 1)) as usize;
        }
        if i % 8 == 7 && self.cursor > 0 {
            self.cursor -= 1;
            self.text.remove(self.cursor);
            return (self.cursor, 1, String::new());
        }
        let c = (b'a' + (self.next_rand() % 26) as u8) as char;
        let c = if i % 6 == 5 { ' ' } else { c };
        self.text.insert(self.cursor, c);
        self.cursor += 1;
        (self.cursor - 1, 0, c.to_string())
    }
}

pub(crate) struct LongRow {
    pub(crate) variant: &'static str,
    pub(crate) mend_open_note: Stats,
    pub(crate) mend_note: Stats,
    pub(crate) plain_load: Stats,
    pub(crate) plain_batched: Stats,
    pub(crate) floor_load: Stats,
    pub(crate) mend_size: (Size, Size),
    pub(crate) plain_size: (Size, Size),
    pub(crate) mend_payload: Stored,
    pub(crate) plain_payload: Stored,
    pub(crate) automerge_save: usize,
    pub(crate) mend_setup: Duration,
    pub(crate) plain_setup: Duration,
}

pub(crate) fn long_note(
    cfg: &Cfg,
    dir: &Path,
    variant: &'static str,
    compact_after: u64,
) -> LongRow {
    let n = cfg.long_edits;
    eprintln!("[3] long note, {variant}: {n} edits");
    let mp = dir.join(format!("long-{compact_after}.mend"));
    let (v, id) = vault_with_note(&mp, opts(Durability::Normal, compact_after));
    let start = v.note(id).unwrap().section(SECTION).unwrap().to_string();
    drop(v);
    checkpoint(&mp);
    let m0 = size_of(&mp);
    let v =
        Vault::open(&mp, VaultSecret::key(KEY), opts(Durability::Normal, compact_after)).unwrap();
    let mut typist = Typist::new(start.clone());
    let (_, mend_setup) = time(|| {
        for i in 0..n {
            let (p, d, s) = typist.next(i);
            v.splice_note_section(id, SECTION, p, d, &s).unwrap();
        }
    });
    let expected = typist.text.clone();
    drop(v);
    checkpoint(&mp);
    let m1 = size_of(&mp);
    let mend_payload = payload_of(&mp, id);

    let pp = dir.join(format!("long-{compact_after}.db"));
    let mut plain = PlainStore::create(&pp, Durability::Normal, compact_after, Layer::Bare);
    plain.checkpoint();
    let p0 = size_of(&pp);
    let mut typist = Typist::new(start);
    let (_, plain_setup) = time(|| {
        for i in 0..n {
            let (p, d, s) = typist.next(i);
            plain.splice(p, d, &s);
        }
    });
    assert_eq!(typist.text, expected);
    let plain_id = plain.id;
    let snapshot = plain.doc.save();
    plain.checkpoint();
    drop(plain);
    let p1 = size_of(&pp);
    let plain_payload = payload_of(&pp, plain_id);

    let iters = cfg.load_iters;
    let (mut m_on, mut m_n, mut p_l, mut p_b, mut f_l) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..iters {
        let t = Instant::now();
        let v = open_default(&mp);
        let t_open = t.elapsed();
        let note = v.note(id).unwrap();
        m_on.push(t.elapsed());
        m_n.push(t.elapsed() - t_open);
        assert_eq!(note.section(SECTION).unwrap(), expected, "Mend long note text");
        drop(v);

        let t = Instant::now();
        let doc = plain_load(&pp, plain_id, false);
        let note = note::read(&doc, plain_id).unwrap();
        p_l.push(t.elapsed());
        assert_eq!(note.section(SECTION).unwrap(), expected, "plaintext long note text");

        let t = Instant::now();
        let doc = plain_load(&pp, plain_id, true);
        let note = note::read(&doc, plain_id).unwrap();
        p_b.push(t.elapsed());
        assert_eq!(note.section(SECTION).unwrap(), expected, "plaintext batched long note text");

        let t = Instant::now();
        let doc = am::load_doc(&snapshot).unwrap();
        let note = note::read(&doc, plain_id).unwrap();
        f_l.push(t.elapsed());
        assert_eq!(note.section(SECTION).unwrap(), expected, "floor long note text");
    }
    LongRow {
        variant,
        mend_open_note: stats(&m_on),
        mend_note: stats(&m_n),
        plain_load: stats(&p_l),
        plain_batched: stats(&p_b),
        floor_load: stats(&f_l),
        mend_size: (m0, m1),
        plain_size: (p0, p1),
        mend_payload,
        plain_payload,
        automerge_save: snapshot.len(),
        mend_setup,
        plain_setup,
    }
}

pub(crate) fn workload_long(cfg: &Cfg, dir: &Path, r: &mut String) {
    let n = cfg.long_edits;
    let rows = [
        long_note(cfg, dir, "default compaction (every 256 changes)", COMPACT_AFTER),
        long_note(cfg, dir, "no compaction (all changes kept as rows)", u64::MAX),
    ];
    writeln!(r, "## 3. Load a note with {n} edits (cold: first `note(id)` after reopening)\n")
        .unwrap();
    writeln!(
        r,
        "Setup: one SOAP note, {n} single-character splices into `subjective` (typing with a \
         backspace every 8th keystroke and a cursor jump every 100), Durability::Normal, one save \
         each. Mend: new `Vault` handle (default options) then `note(id)` = read snapshot + change \
         rows, decrypt, `AutoCommit::load` + `load_incremental`, summary, `note::read`. Plaintext: \
         new connection, the same kind of rows unencrypted, `AutoCommit::load` + one \
         `load_incremental` per change row (as the vault does) + `note::read`; *rows batched* = the \
         same but one `load_incremental` of all change rows concatenated. Floor: `AutoCommit::load` \
         of the in-memory `doc.save()` + `note::read`. Ratio = Mend open + first `note` over \
         plaintext open + load. {} iterations each, interleaved.\n",
        cfg.load_iters
    )
    .unwrap();
    writeln!(
        r,
        "| storage | rows at rest | Mend open + first `note` | … of which first `note` | plaintext open + load | plaintext, rows batched | floor load | Mend / plaintext |"
    )
    .unwrap();
    writeln!(r, "|---|---|---:|---:|---:|---:|---:|---:|").unwrap();
    for x in &rows {
        writeln!(
            r,
            "| {} | 1 snapshot + {} changes | {} | {} | {} | {} | {} | {:.2}× |",
            x.variant,
            x.mend_payload.rows,
            fmt_d(x.mend_open_note.median),
            fmt_d(x.mend_note.median),
            fmt_d(x.plain_load.median),
            fmt_d(x.plain_batched.median),
            fmt_d(x.floor_load.median),
            ratio(x.mend_open_note.median, x.plain_load.median),
        )
        .unwrap();
    }
    writeln!(r).unwrap();
    writeln!(
        r,
        "(Medians. Setup time for the {n} saves at Durability::Normal: Mend {} / plaintext {} with \
         compaction; Mend {} / plaintext {} without.)\n",
        fmt_d(rows[0].mend_setup),
        fmt_d(rows[0].plain_setup),
        fmt_d(rows[1].mend_setup),
        fmt_d(rows[1].plain_setup),
    )
    .unwrap();

    writeln!(r, "## 4. Bytes on disk per edit ({n} edits, same note and edits as §3)\n").unwrap();
    writeln!(
        r,
        "Files measured after `PRAGMA wal_checkpoint(TRUNCATE)` (the WAL is then empty), before and \
         after the {n} edits; Δ/edit = (after − before) / {n}. *File* = .db + -wal bytes; *live* = \
         pages in use (SQLite keeps pages freed by compaction in its free list, so the file does not \
         shrink). *Payload* = the note's own stored bytes at the end (snapshot + change rows). \
         *Outbox* = Mend's copies of the changes queued for sync (no device is paired and nothing is \
         pushed in this bench, so nothing leaves the queue; they are included in the file and live \
         sizes). A compaction also folds the record's queued run into one row holding the whole \
         note once the saves queued since the last fold outweigh the note, so with compaction the \
         queue holds one such row plus the saves since; without compaction nothing folds.\n"
    )
    .unwrap();
    writeln!(r, "| storage | store | file Δ/edit | live Δ/edit | payload at end | payload/edit | change rows (bytes) | outbox rows (bytes) |").unwrap();
    writeln!(r, "|---|---|---:|---:|---:|---:|---:|---:|").unwrap();
    for x in &rows {
        for (store, (s0, s1), p) in
            [("Mend", &x.mend_size, x.mend_payload), ("plaintext", &x.plain_size, x.plain_payload)]
        {
            let nf = n as f64;
            let payload = p.snapshot + p.row_bytes;
            writeln!(
                r,
                "| {} | {store} | {:.1} B | {:.1} B | {payload} B | {:.1} B | {} ({} B) | {} ({} B) |",
                x.variant,
                (s1.file as f64 - s0.file as f64) / nf,
                (s1.live as f64 - s0.live as f64) / nf,
                payload as f64 / nf,
                p.rows,
                p.row_bytes,
                p.outbox_rows,
                p.outbox_bytes,
            )
            .unwrap();
        }
    }
    writeln!(
        r,
        "\nFor reference, `doc.save()` of the final document (compressed, full history) is {} B = \
         {:.1} B/edit. Each Mend envelope adds 57 B (1 version + 16 key id + 24 nonce + 16 tag).\n",
        rows[0].automerge_save,
        rows[0].automerge_save as f64 / n as f64
    )
    .unwrap();
}
