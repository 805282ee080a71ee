//! The workspace's own `uniffi-bindgen`, pinned with the `uniffi` version the bindings use.
//! Library mode: `cargo run -p mend-ffi --bin uniffi-bindgen -- generate --library
//! target/debug/libmend_ffi.so --language kotlin --out-dir OUT`. Unless `--config` is given,
//! `generate` reads `bindings/uniffi-crates.toml`, which places mend-core's types (a second
//! uniffi component in the same library) in the Swift module and a Kotlin package.

use std::ffi::OsString;
use std::process::{exit, Command};

/// Set on the re-run so that it does not add the config again.
const RERUN: &str = "MEND_UNIFFI_BINDGEN_CONFIGURED";

fn main() {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let generating = args.first().is_some_and(|a| a == "generate");
    if generating && !args.iter().any(|a| a == "--config") && std::env::var_os(RERUN).is_none() {
        let config = concat!(env!("CARGO_MANIFEST_DIR"), "/uniffi-crates.toml");
        let status = std::env::current_exe().and_then(|exe| {
            Command::new(exe)
                .arg("generate")
                .arg("--config")
                .arg(config)
                .args(&args[1..])
                .env(RERUN, "1")
                .status()
        });
        match status {
            Ok(s) => exit(s.code().unwrap_or(1)),
            Err(e) => {
                eprintln!("uniffi-bindgen: cannot re-run itself with {config}: {e}");
                exit(1)
            }
        }
    }
    uniffi::uniffi_bindgen_main()
}
