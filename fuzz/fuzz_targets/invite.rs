#![no_main]
//! See `mend_fuzz::invite`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| mend_fuzz::run(data, mend_fuzz::invite));
