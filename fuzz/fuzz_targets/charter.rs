#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rix_fuzz::charter(data));
