#![no_main]
//! See `mend_fuzz::stored_doc`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| mend_fuzz::run(data, mend_fuzz::stored_doc));
