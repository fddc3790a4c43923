#![no_main]
// Only one of the shared checks is used by each target.
#![allow(dead_code)]

include!("../checks.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| check_memory_path(data));
