//! Replays the checked-in fuzz corpora (`fuzz/corpus/<target>/`, at the workspace's root)
//! through the same entry points the fuzz targets use, so CI exercises every input the
//! fuzzers ever kept or found — with the parsers' own crate, which builds without the rest.

use std::fs;
use std::path::Path;

use medo_wire::fuzzing;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut count = 0;
    for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let bytes = fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| run(&bytes));
        assert!(outcome.is_ok(), "{} panics", path.display());
        count += 1;
    }
    assert!(count > 0, "empty corpus for {target}");
}

#[test]
fn envelope_corpus() {
    replay("envelope", fuzzing::envelope);
}

#[test]
fn message_corpus() {
    replay("message", fuzzing::message);
}

#[test]
fn container_corpus() {
    replay("container", fuzzing::container);
}

#[test]
fn passport_corpus() {
    replay("passport", fuzzing::passport);
}
