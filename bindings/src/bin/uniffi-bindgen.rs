//! The workspace's own `uniffi-bindgen`, pinned with the `uniffi` version the bindings use.
//! Library mode: `cargo run -p mend-ffi --bin uniffi-bindgen -- generate --library
//! target/debug/libmend_ffi.so --language kotlin --out-dir OUT`.

fn main() {
    uniffi::uniffi_bindgen_main()
}
