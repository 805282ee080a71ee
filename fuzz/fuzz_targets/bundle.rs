#![no_main]
//! See `mend_fuzz::bundle`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| mend_fuzz::run(data, mend_fuzz::bundle));
