//! A long soak (RELIABILITY.md): five devices of one vault, each its own process, do random
//! clinical work and sync through a fault-injecting proxy (delays, drops, resets, truncated
//! requests and responses) to a `mend-relay` process on SQLite or on PostgreSQL. The relay is
//! SIGKILLed and restarted, and devices are SIGKILLed and started again, while they work.
//!
//! Afterwards every device syncs straight to the relay until all agree, and the test checks:
//! every device converged to the same records; everything a device acknowledged is there,
//! exactly once, each device's typing in the order it typed; no sync was refused by the relay
//! (a cut connection is a transport failure to retry, a refusal would lock a device out).
//!
//! The device is this test binary run again (`soak_device`, ignored in normal runs); it prints
//! `ack …` after each save returned. `MEND_SOAK_SECS` (default 20, CI) sets the length of each
//! store's run; `scripts/soak.sh` runs ten minutes each in release.
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used, missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mend_core::sync::http::HttpTransport;
use mend_core::sync::SyncOptions;
use mend_core::*;
use mend_testkit::*;

const DEVICES: usize = 5;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn key_of(device: usize) -> [u8; 32] {
    [40 + device as u8; 32]
}

/// One device: random clinical work, syncing through the proxy, until it is killed.
#[test]
#[ignore = "a child process of the soak tests"]
fn soak_device() {
    let (Some(p), Some(url), Some(dev), Some(gen), Some(note), Some(client)) = (
        env("MEND_SOAK_VAULT"),
        env("MEND_SOAK_URL"),
        env("MEND_SOAK_DEVICE"),
        env("MEND_SOAK_GEN"),
        env("MEND_SOAK_NOTE"),
        env("MEND_SOAK_CLIENT"),
    ) else {
        return;
    };
    let (dev, gen): (usize, u64) = (dev.parse().unwrap(), gen.parse().unwrap());
    let (shared, client): (RecordId, RecordId) = (note.parse().unwrap(), client.parse().unwrap());
    let mut rng = SplitMix((dev as u64) << 32 ^ gen);
    let v =
        Vault::open(Path::new(&p), VaultSecret::key(key_of(dev)), opts_with(Durability::Normal))
            .unwrap();
    let t = HttpTransport::new(&url);
    let say = |line: String| report(&line);
    say(String::new()); // ends the test harness's "test soak_device ... " line
    let session = v.create_session(&bare_session(client, gen as i64)).unwrap();
    let mine = v.create_note(&free_note(session)).unwrap();
    say(format!("ack note {mine}"));
    let mut k = 0u64;
    let mut token = || {
        k += 1;
        format!("<{dev}.{gen}.{k}>")
    };
    loop {
        match rng.below(100) {
            0..=34 => {
                for _ in 0..1 + rng.below(6) {
                    let tok = token();
                    type_at_end(&v, shared, &tok);
                    say(format!("ack type {tok}"));
                }
            }
            35..=49 => {
                let tok = token();
                type_at_end(&v, mine, &tok);
                say(format!("ack mine {mine} {tok}"));
            }
            50..=56 => {
                let alias = format!("S-{}", token().trim_matches(['<', '>']));
                let c = v.create_client(&bare_client(&alias, "US")).unwrap();
                say(format!("ack client {c} {alias}"));
            }
            57..=63 => {
                let r = v.create_rupture(&new_rupture(client, Some(session), 1_000), "t").unwrap();
                say(format!("ack rupture {r}"));
            }
            _ => match v.sync(&t, &SyncOptions { page_size: 8, ..Default::default() }) {
                Ok(_) => say("ack sync".into()),
                // The proxy or a relay restart cut the request: local data is intact, go on. A
                // refusal (a 4xx, a page that does not decode) is reported apart: it fails the test.
                Err(Error::RelayRejected(m)) => {
                    say(format!("refused sync {}", m.replace(' ', "_")))
                }
                Err(Error::RelayRefused(r)) => say(format!("refused sync {r}")),
                Err(Error::Transport(_)) => say("fault sync".into()),
                Err(e) => panic!("device {dev}: sync failed with a non-transport error: {e:?}"),
            },
        }
        std::thread::sleep(Duration::from_millis(5 + rng.below(45)));
    }
}

/// A running device process and the lines it printed; killed if dropped (a failing test leaves
/// no device running).
struct Device {
    child: Child,
    reader: Option<std::thread::JoinHandle<()>>,
    stderr: PathBuf,
}

impl Drop for Device {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Fleet {
    dir: PathBuf,
    url: String,
    note: RecordId,
    client: RecordId,
    lines: Arc<Mutex<Vec<(usize, String)>>>,
    gens: [u64; DEVICES],
    kills: u64,
}

impl Fleet {
    fn vault(&self, dev: usize) -> PathBuf {
        self.dir.join(format!("d{dev}.mend"))
    }

    fn spawn(&mut self, dev: usize) -> Device {
        let gen = self.gens[dev];
        self.gens[dev] += 1;
        let stderr = self.dir.join(format!("d{dev}-{gen}.err"));
        let mut child = rerun_ignored("soak_device")
            .env("MEND_SOAK_VAULT", self.vault(dev))
            .env("MEND_SOAK_URL", &self.url)
            .env("MEND_SOAK_DEVICE", dev.to_string())
            .env("MEND_SOAK_GEN", gen.to_string())
            .env("MEND_SOAK_NOTE", self.note.to_string())
            .env("MEND_SOAK_CLIENT", self.client.to_string())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let lines = Arc::clone(&self.lines);
        let reader = std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                lines.lock().unwrap().push((dev, line));
            }
        });
        Device { child, reader: Some(reader), stderr }
    }

    /// SIGKILLs `d` and waits until everything it printed is read; panics if it had died
    /// on its own.
    fn kill(&mut self, mut d: Device) {
        let exited = d.child.try_wait().unwrap();
        let _ = d.child.kill();
        d.child.wait().unwrap();
        if let Some(r) = d.reader.take() {
            r.join().unwrap();
        }
        assert!(
            exited.is_none(),
            "a device exited by itself: {}",
            std::fs::read_to_string(&d.stderr).unwrap_or_default()
        );
        self.kills += 1;
    }
}

/// What every device should show alike: readable clients, the shared client's timeline, the
/// shared note, every device's own notes and every acknowledged rupture.
fn view(v: &Vault, f: &Fleet, mine: &BTreeSet<RecordId>, ruptures: &BTreeSet<RecordId>) -> String {
    let clients: Vec<_> = v
        .clients()
        .unwrap()
        .into_iter()
        .filter_map(|c| c.info.ok().map(|(alias, status)| (c.id, alias, status)))
        .collect();
    let notes: Vec<_> = mine.iter().map(|n| (n, free_text(v, *n))).collect();
    let rs: Vec<_> = ruptures.iter().map(|r| v.rupture(*r).map(|r| r.narrative).ok()).collect();
    format!(
        "{clients:?}\n{:?}\n{}\n{notes:?}\n{rs:?}",
        v.timeline(f.client).unwrap(),
        free_text(v, f.note)
    )
}

/// The two soaks run one after the other (each is five devices and a relay on this machine).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn soak(storage: &str, label: &str) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let secs: u64 = env("MEND_SOAK_SECS").map_or(20, |s| s.parse().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let mut relay = RelayProcess::start_storage(storage, free_port());
    let proxy = FaultProxy::start(relay.addr(), 30, 0x50AC);
    let direct = HttpTransport::new(&relay.url);

    // The devices: the first creates the vault, the others join by invite (straight to the relay).
    let vault = |dev: usize| dir.path().join(format!("d{dev}.mend"));
    let (client, note) = {
        let first =
            Vault::create(&vault(0), VaultSecret::key(key_of(0)), opts_with(Durability::Normal))
                .unwrap();
        let client = first.create_client(&bare_client("C-shared", "US")).unwrap();
        let s = first.create_session(&bare_session(client, 0)).unwrap();
        let note = first.create_note(&free_note(s)).unwrap();
        for dev in 1..DEVICES {
            let key = VaultSecret::key(key_of(dev));
            let o = opts_with(Durability::Normal);
            drop(pair(&first, &direct, &vault(dev), key, o, &direct));
        }
        sync(&first, &direct);
        (client, note)
    };
    let mut fleet = Fleet {
        dir: dir.path().to_path_buf(),
        url: proxy.url.clone(),
        note,
        client,
        lines: Arc::default(),
        gens: [0; DEVICES],
        kills: 0,
    };

    let mut rng = SplitMix(0x5EED);
    let mut devices: Vec<Option<Device>> = (0..DEVICES).map(|d| Some(fleet.spawn(d))).collect();
    let started = Instant::now();
    // The relay restarts every twelfth of the run (at least 5 s apart).
    let every = Duration::from_secs((secs / 12).max(5));
    let (mut relay_restarts, mut next_restart) = (0u64, every);
    while started.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_millis(100 + rng.below(400)));
        if started.elapsed() >= next_restart {
            relay.kill();
            std::thread::sleep(Duration::from_millis(200 + rng.below(800)));
            relay.restart();
            relay_restarts += 1;
            next_restart += every;
        }
        if rng.below(4) == 0 {
            let dev = rng.below(DEVICES as u64) as usize;
            let d = devices[dev].take().unwrap();
            fleet.kill(d);
            devices[dev] = Some(fleet.spawn(dev));
        }
    }
    for d in devices.iter_mut() {
        let d = d.take().unwrap();
        fleet.kill(d);
    }
    let soak_time = started.elapsed();

    // What the devices acknowledged.
    let lines = std::mem::take(&mut *fleet.lines.lock().unwrap());
    let mut typed: BTreeSet<String> = BTreeSet::new();
    let mut mine: BTreeMap<RecordId, Vec<String>> = BTreeMap::new();
    let mut clients: BTreeMap<RecordId, String> = BTreeMap::new();
    let mut ruptures = BTreeSet::new();
    let (mut syncs, mut faults) = (0u64, 0u64);
    let mut refused = Vec::new();
    let mut synced = [0u64; DEVICES];
    for (dev, line) in &lines {
        let w: Vec<&str> = line.split(' ').collect();
        match w.as_slice() {
            ["ack", "type", tok] => {
                typed.insert((*tok).to_owned());
            }
            ["ack", "note", n] => {
                mine.insert(n.parse().unwrap(), Vec::new());
            }
            ["ack", "mine", n, tok] => {
                mine.get_mut(&n.parse().unwrap()).unwrap().push((*tok).into())
            }
            ["ack", "client", c, alias] => {
                clients.insert(c.parse().unwrap(), (*alias).to_owned());
            }
            ["ack", "rupture", r] => {
                ruptures.insert(r.parse::<RecordId>().unwrap());
            }
            ["ack", "sync"] => {
                syncs += 1;
                synced[*dev] += 1;
            }
            ["fault", "sync"] => faults += 1,
            ["refused", "sync", why] => refused.push(format!("device {dev}: {why}")),
            ["ack" | "fault" | "refused", ..] => panic!("unexpected line from a device: {line}"),
            _ => {} // the test harness's own lines
        }
    }
    assert!(faults > 0, "{label}: the proxy and the restarts cut no sync");
    assert!(synced.iter().all(|n| *n > 0), "{label}: a device never synced: {synced:?}");
    assert!(refused.is_empty(), "{label}: the relay refused syncs: {refused:?}");

    // Every device syncs straight to the relay until all agree.
    let vaults: Vec<Vault> = (0..DEVICES)
        .map(|d| {
            Vault::open(&fleet.vault(d), VaultSecret::key(key_of(d)), opts_with(Durability::Normal))
                .unwrap_or_else(|e| panic!("{label}: device {d} does not open: {e}"))
        })
        .collect();
    let ids: BTreeSet<RecordId> = mine.keys().copied().collect();
    let mut passes = 0;
    let views = loop {
        passes += 1;
        for v in &vaults {
            v.sync(&direct, &SyncOptions::default()).unwrap();
        }
        let views: Vec<String> = vaults.iter().map(|v| view(v, &fleet, &ids, &ruptures)).collect();
        if views.iter().all(|x| x == &views[0]) || passes == 6 {
            break views;
        }
    };
    for (d, v) in views.iter().enumerate() {
        // Which parts differ (0 clients, 1 timeline, 2 shared note, 3 own notes, 4 ruptures).
        let parts = v.lines().zip(views[0].lines()).enumerate();
        let diff: Vec<_> = parts.filter(|(_, (a, b))| a != b).map(|(i, _)| i).collect();
        assert!(
            v == &views[0],
            "{label}: device {d} did not converge in {passes} passes: {diff:?}"
        );
    }

    // Everything acknowledged is there, once, in order.
    let v = &vaults[0];
    let shared = free_text(v, fleet.note);
    let found: Vec<&str> = shared.split_inclusive('>').collect();
    let set: BTreeSet<&str> = found.iter().copied().collect();
    assert_eq!(set.len(), found.len(), "{label}: a keystroke duplicated");
    for tok in &typed {
        assert!(set.contains(tok.as_str()), "{label}: acknowledged keystroke {tok} lost");
    }
    let order = |t: &str| -> (u64, u64, u64) {
        let p: Vec<u64> =
            t.trim_matches(['<', '>']).split('.').map(|x| x.parse().unwrap()).collect();
        (p[0], p[1], p[2])
    };
    for dev in 0..DEVICES as u64 {
        let seq: Vec<_> = found.iter().map(|t| order(t)).filter(|t| t.0 == dev).collect();
        assert!(seq.windows(2).all(|w| w[0] < w[1]), "{label}: device {dev}'s typing reordered");
    }
    for (n, toks) in &mine {
        let b = free_text(v, *n);
        let at: Vec<_> = toks.iter().map(|t| b.find(t.as_str())).collect();
        assert!(at.iter().all(Option::is_some), "{label}: a keystroke of note {n} lost");
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{label}: note {n} reordered");
        for t in toks {
            assert_eq!(b.matches(t.as_str()).count(), 1, "{label}: {t} in {n} once");
        }
    }
    let listed = v.clients().unwrap();
    for (c, alias) in &clients {
        let rows: Vec<_> = listed.iter().filter(|r| r.id == *c).collect();
        assert_eq!(rows.len(), 1, "{label}: client {alias} listed once");
        assert_eq!(rows[0].info.as_ref().map(|i| i.0.as_str()), Ok(alias.as_str()));
    }
    for r in &ruptures {
        v.rupture(*r).unwrap_or_else(|e| panic!("{label}: rupture {r}: {e}"));
    }
    drop(vaults);
    relay.kill();
    println!(
        "soak ({label}): {DEVICES} devices for {:.0} s; {} keystrokes, {} own-note keystrokes, {} \
         clients, {} ruptures acknowledged; syncs {syncs} completed, {faults} cut off; proxy \
         fates {:?}, {} while the relay was down; {relay_restarts} relay restarts, {} device kills; converged after {passes} \
         passes; 0 lost, 0 duplicated",
        soak_time.as_secs_f64(),
        typed.len(),
        mine.values().map(Vec::len).sum::<usize>(),
        clients.len(),
        ruptures.len(),
        proxy.fates(),
        proxy.relay_down(),
        fleet.kills,
    );
}

#[test]
fn soak_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    soak(&format!("sqlite://{}", dir.path().join("relay.db").display()), "SQLite");
}

#[test]
fn soak_on_postgres() {
    let url = env("MEND_TEST_POSTGRES_URL").expect(
        "MEND_TEST_POSTGRES_URL is not set: run the tests with scripts/test.sh, which starts a throwaway PostgreSQL",
    );
    soak(&postgres_database(&url, "mend_soak"), "PostgreSQL");
}
