//! Devices paired by invite, over any transport (the in-memory relay or HTTP).

use std::path::Path;

use mend_core::sync::{invite as code, SyncOptions, SyncReport, Transport};
use mend_core::*;

use crate::records::{bare_client, bare_session, free_note};
use crate::vault::{opts, JOIN_KEY, PHONE_KEY, TABLET_KEY};

/// Syncs a vault with default options.
pub fn sync(v: &Vault, t: &dyn Transport) -> SyncReport {
    v.sync(t, &SyncOptions::default()).expect("sync")
}

/// An invite to `first`'s vault with a fresh code (never expiring), synced through `t` so the
/// relay knows it: `(invite, code)`.
pub fn invite(first: &Vault, t: &dyn Transport) -> (Vec<u8>, String) {
    let code = code::generate_code();
    let invite = first.export_invite(&code, i64::MAX).expect("export an invite");
    sync(first, t);
    (invite, code)
}

/// A second device at `path` joined to `first`'s vault by an invite (sent through `first_t`),
/// joining and then syncing through its own transport `t`.
pub fn pair(
    first: &Vault,
    first_t: &dyn Transport,
    path: &Path,
    secret: VaultSecret,
    opts: VaultOptions,
    t: &dyn Transport,
) -> Vault {
    let (invite, code) = invite(first, first_t);
    let v = Vault::join(path, secret, opts, &invite, &code, t).expect("join by invite");
    sync(&v, t);
    v
}

/// A second device joined to `first`'s vault through `relay`, in `dir` (key [`JOIN_KEY`],
/// [`opts`]).
pub fn join(first: &Vault, relay: &dyn Transport, dir: &tempfile::TempDir, name: &str) -> Vault {
    pair(first, relay, &dir.path().join(name), VaultSecret::key(JOIN_KEY), opts(), relay)
}

/// Two devices of one vault sharing one free-text note: a phone that created the vault (client,
/// session, empty note) and a tablet joined to it by invite.
pub struct NotePair {
    /// The first device, key [`PHONE_KEY`].
    pub phone: Vault,
    /// The second device, key [`TABLET_KEY`].
    pub tablet: Vault,
    /// The client the note's session belongs to.
    pub client: RecordId,
    /// The shared note.
    pub note: RecordId,
}

/// A [`NotePair`]: the phone at `phone` (client `alias` in the US, a session at 0, an empty
/// free-text note) syncing through `phone_t`, the tablet joined at `tablet` through `tablet_t`.
pub fn note_pair(
    phone: &Path,
    tablet: &Path,
    alias: &str,
    opts: VaultOptions,
    phone_t: &dyn Transport,
    tablet_t: &dyn Transport,
) -> NotePair {
    let first = Vault::create(phone, VaultSecret::key(PHONE_KEY), opts.clone()).expect("create");
    let client = first.create_client(&bare_client(alias, "US")).expect("create the client");
    let s = first.create_session(&bare_session(client, 0)).expect("create the session");
    let note = first.create_note(&free_note(s)).expect("create the note");
    let second = pair(&first, phone_t, tablet, VaultSecret::key(TABLET_KEY), opts, tablet_t);
    NotePair { phone: first, tablet: second, client, note }
}

/// The `i`-th of several [`NotePair`]s in `dir`: the phone at `p{i}`, the tablet at `t{i}`,
/// client `C-{i}`.
pub fn note_pair_in(
    dir: &Path,
    i: usize,
    opts: VaultOptions,
    phone_t: &dyn Transport,
    tablet_t: &dyn Transport,
) -> NotePair {
    let (phone, tablet) = (dir.join(format!("p{i}")), dir.join(format!("t{i}")));
    note_pair(&phone, &tablet, &format!("C-{i}"), opts, phone_t, tablet_t)
}
