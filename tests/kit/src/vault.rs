//! Vaults with a fast KDF.

use std::path::{Path, PathBuf};

use mend_core::crypto::kdf::KdfParams;
use mend_core::{Durability, Vault, VaultOptions, VaultSecret};

/// The key of the vaults [`new_vault`] creates and [`reopen`] opens.
pub const KEY: [u8; 32] = [7; 32];
/// The key [`crate::join`] gives joined devices.
pub const JOIN_KEY: [u8; 32] = [9; 32];
/// The key of the first device of a [`crate::NotePair`] (the phone).
pub const PHONE_KEY: [u8; 32] = [1; 32];
/// The key of the second device of a [`crate::NotePair`] (the tablet).
pub const TABLET_KEY: [u8; 32] = [2; 32];

/// The cheapest Argon2id parameters the core accepts, so passphrase vaults open fast in tests.
pub fn fast_kdf() -> KdfParams {
    KdfParams::with_cost(256, 1, 1)
}

/// Default options with the fast KDF (`Durability::Full`).
pub fn opts() -> VaultOptions {
    VaultOptions { kdf: fast_kdf(), ..Default::default() }
}

/// [`opts`] with the given durability.
pub fn opts_with(durability: Durability) -> VaultOptions {
    VaultOptions { durability, ..opts() }
}

/// Where [`new_vault`] puts its vault in `dir`.
pub fn path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("vault.mend")
}

/// A new vault in `dir`, under [`KEY`] with [`opts`].
pub fn new_vault(dir: &tempfile::TempDir) -> Vault {
    Vault::create(&path(dir), VaultSecret::key(KEY), opts()).expect("create the vault")
}

/// Opens the vault at `p` again, under [`KEY`] with [`opts`].
pub fn reopen(p: &Path) -> Vault {
    Vault::open(p, VaultSecret::key(KEY), opts()).expect("reopen the vault")
}
