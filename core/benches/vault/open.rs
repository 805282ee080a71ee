//! Workload 2: open a 10k-note vault and list one client.

use super::*;

pub(crate) fn build_vault(
    path: &Path,
    clients: usize,
    per_client: usize,
) -> (Vec<RecordId>, Vec<Vec<RecordId>>) {
    let v = Vault::create(path, VaultSecret::key(KEY), opts(Durability::Normal, COMPACT_AFTER))
        .unwrap();
    let mut cs = Vec::with_capacity(clients);
    let mut notes = Vec::with_capacity(clients);
    for c in 0..clients {
        let cid = v.create_client(&new_client(c)).unwrap();
        let mut ns = Vec::with_capacity(per_client);
        for k in 0..per_client {
            let s = v.create_session(&new_session(cid, T0 + k as i64 * WEEK)).unwrap();
            ns.push(v.create_note(&soap_note(s, c * per_client + k)).unwrap());
        }
        cs.push(cid);
        notes.push(ns);
    }
    drop(v);
    checkpoint(path);
    (cs, notes)
}

pub(crate) fn open_default(path: &Path) -> Vault {
    Vault::open(path, VaultSecret::key(KEY), VaultOptions::default()).unwrap()
}

pub(crate) fn workload_open(cfg: &Cfg, dir: &Path, r: &mut String) {
    let total = cfg.clients * cfg.notes_per_client;
    eprintln!("[2] building a vault of {} clients x {} notes", cfg.clients, cfg.notes_per_client);
    let big = dir.join("big.mend");
    let ((clients, notes), build) = time(|| build_vault(&big, cfg.clients, cfg.notes_per_client));
    let big_size = size_of(&big);
    let small = dir.join("small.mend");
    let (small_clients, _) = build_vault(&small, 1, cfg.notes_per_client);
    let target = clients[clients.len() / 2];
    let target_notes = &notes[clients.len() / 2];
    eprintln!("[2] built in {build:?}; timing cold opens");

    let iters = cfg.open_iters;
    let mut open_only = Vec::new();
    let mut open_list = Vec::new();
    let mut list_only = Vec::new();
    let mut open_clients = Vec::new();
    let mut small_open_list = Vec::new();
    for _ in 0..iters {
        // Interleave the variants so drift affects them alike.
        let (v, d) = time(|| open_default(&big));
        open_only.push(d);
        drop(v);

        let t = Instant::now();
        let v = open_default(&big);
        let t_open = t.elapsed();
        let list = v.notes_of_client(target).unwrap();
        open_list.push(t.elapsed());
        list_only.push(t.elapsed() - t_open);
        assert_eq!(list.len(), cfg.notes_per_client, "notes_of_client count");
        drop(v);

        let t = Instant::now();
        let v = open_default(&big);
        let cl = v.clients().unwrap();
        open_clients.push(t.elapsed());
        assert_eq!(cl.len(), cfg.clients);
        drop(v);

        let t = Instant::now();
        let v = open_default(&small);
        let list = v.notes_of_client(small_clients[0]).unwrap();
        small_open_list.push(t.elapsed());
        assert_eq!(list.len(), cfg.notes_per_client);
        drop(v);
    }
    // Contrast: actually loading (decrypting + Automerge-loading) every note of the client.
    let mut open_load_client = Vec::new();
    for _ in 0..iters.min(5) {
        let t = Instant::now();
        let v = open_default(&big);
        for id in target_notes {
            let n = v.note(*id).unwrap();
            assert_eq!(n.client_id, target);
        }
        open_load_client.push(t.elapsed());
    }
    eprintln!("[2] loading every note once");
    let (_, load_all) = time(|| {
        let v = open_default(&big);
        for ns in &notes {
            for id in ns {
                v.note(*id).unwrap();
            }
        }
    });

    let s_open = stats(&open_only);
    let s_ol = stats(&open_list);
    let s_l = stats(&list_only);
    let s_oc = stats(&open_clients);
    let s_small = stats(&small_open_list);
    let s_load = stats(&open_load_client);
    writeln!(r, "## 2. Open a {total}-note vault and list one client's notes\n").unwrap();
    writeln!(
        r,
        "Vault: {} clients × {} sessions × 1 SOAP note each (~600 characters per note) = {} records; \
         built with Durability::Normal in {:.1} s; file {:.1} MiB after checkpoint. Each iteration \
         opens a new `Vault` handle (default options) — cold Mend state, fresh SQLite connection; \
         the OS page cache is warm. {} iterations, interleaved.\n",
        cfg.clients,
        cfg.notes_per_client,
        cfg.clients * (1 + 2 * cfg.notes_per_client),
        build.as_secs_f64(),
        big_size.file as f64 / (1024.0 * 1024.0),
        iters,
    )
    .unwrap();
    writeln!(r, "| measure | median | p99 (= max here) | min |").unwrap();
    writeln!(r, "|---|---:|---:|---:|").unwrap();
    let mut row = |name: &str, s: Stats| {
        writeln!(r, "| {name} | {} | {} | {} |", fmt_d(s.median), fmt_d(s.p99), fmt_d(s.min))
            .unwrap();
    };
    row("`Vault::open` alone", s_open);
    row(&format!("`Vault::open` + `notes_of_client` ({} notes)", cfg.notes_per_client), s_ol);
    row("… of which `notes_of_client`", s_l);
    row(&format!("`Vault::open` + `clients()` ({} clients)", cfg.clients), s_oc);
    row(
        &format!(
            "same open + list on a vault of 1 client × {} notes (size independence)",
            cfg.notes_per_client
        ),
        s_small,
    );
    row(
        &format!(
            "contrast: `Vault::open` + `note(id)` for all {} notes of the client",
            cfg.notes_per_client
        ),
        s_load,
    );
    writeln!(
        r,
        "| contrast: `Vault::open` + `note(id)` for all {total} notes (once) | {} | | |",
        fmt_d(load_all)
    )
    .unwrap();
    writeln!(r).unwrap();
    writeln!(
        r,
        "- Open + list one client: median **{}** (target ≤ 100 ms: {}).\n\
         - Listing reads only the {} encrypted summaries of that client: it costs {:.1}% of actually \
         loading those {} notes, and {:.2}% of loading all {} notes; open + list on the {}-note vault \
         is {:.2}× the same on a {}-note vault.\n",
        fmt_d(s_ol.median),
        verdict(s_ol.median <= Duration::from_millis(100)),
        cfg.notes_per_client,
        100.0 * ratio(s_ol.median, s_load.median),
        cfg.notes_per_client,
        100.0 * ratio(s_ol.median, load_all),
        total,
        total,
        ratio(s_ol.median, s_small.median),
        cfg.notes_per_client,
    )
    .unwrap();
}
