#![no_main]
//! Communication XML (encoding detection, bounded tree, model mapping, write-back): never panics.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    medo_gateway::wire::fuzzing::message(data);
});
