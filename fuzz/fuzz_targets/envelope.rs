#![no_main]
//! See `mend_fuzz::envelope`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| mend_fuzz::run(data, mend_fuzz::envelope));
