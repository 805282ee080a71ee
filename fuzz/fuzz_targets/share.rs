#![no_main]
//! See `mend_fuzz::share`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| mend_fuzz::run(data, mend_fuzz::share));
