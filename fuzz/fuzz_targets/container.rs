#![no_main]
//! ZIP container reader under limits: never panics, never exceeds the limits.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    medo_gateway::wire::fuzzing::container(data);
});
