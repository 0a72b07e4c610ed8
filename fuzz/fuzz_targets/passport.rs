#![no_main]
//! Container passport XML: never panics.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    medo_gateway::wire::fuzzing::passport(data);
});
