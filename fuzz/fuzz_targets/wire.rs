#![no_main]
//! See `mend_fuzz::wire`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| mend_fuzz::run(data, mend_fuzz::wire));
