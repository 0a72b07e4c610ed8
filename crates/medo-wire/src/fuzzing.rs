//! Entry points shared by the fuzz targets (`fuzz/`) and the corpus replay test
//! (`crates/medo-wire/tests/fuzz_corpus.rs`), so both exercise exactly the same code. Each takes arbitrary
//! bytes, must never panic, and checks the invariants that must hold whatever the input.

use std::io::Cursor;

use super::container::read_container;
use super::envelope;
use super::limits::Limits;
use super::passport::parse_passport;
use super::read::parse_message;
use super::write::write_message;

/// Limits small enough that a fuzz iteration stays fast.
fn fuzz_limits() -> Limits {
    Limits {
        max_zip_total_bytes: 4 << 20,
        max_zip_entry_bytes: 4 << 20,
        max_xml_elements: 10_000,
        ..Limits::default()
    }
}

pub fn envelope(data: &[u8]) {
    if let Ok(env) = envelope::parse(data, "envelope.ini", 1000) {
        for f in &env.files {
            assert!(
                !f.contains('/') && !f.contains('\\') && f != ".." && !f.is_empty(),
                "unsafe name {f:?}"
            );
        }
    }
}

pub fn message(data: &[u8]) {
    if let Ok(parsed) = parse_message(data, &fuzz_limits()) {
        // whatever we accept, writing it back must not panic (it may refuse)
        let _ = write_message(&parsed.message);
    }
}

pub fn container(data: &[u8]) {
    let limits = fuzz_limits();
    if let Ok(info) = read_container(Cursor::new(data), &limits, None) {
        assert!(info.entries.len() <= limits.max_zip_entries);
        let total: u64 = info.entries.iter().map(|e| e.size).sum();
        assert!(total <= limits.max_zip_total_bytes);
    }
}

pub fn passport(data: &[u8]) {
    let limits = fuzz_limits();
    let _ = parse_passport(data, &limits);
}
