#![no_main]
//! Envelope parser (encoding sniffing, lenient sections, [ФАЙЛЫ] name checks): never panics.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    medo_gateway::wire::fuzzing::envelope(data);
});
