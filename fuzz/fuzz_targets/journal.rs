#![no_main]
//! One journal line through the fast (raw bytes) and the decoding check: never panics, and
//! the fast check never accepts what the decoding check refuses.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    medo_gateway::journal::fuzz_line(data);
});
