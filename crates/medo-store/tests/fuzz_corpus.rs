//! Replays the journal's checked-in fuzz corpus (`fuzz/corpus/journal/`, at the workspace's
//! root) through the journal line checks, as the fuzz target does.

use std::fs;
use std::path::Path;

#[test]
fn journal_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/journal");
    let mut count = 0;
    for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let bytes = fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| medo_store::journal::fuzz_line(&bytes));
        assert!(outcome.is_ok(), "{} panics", path.display());
        count += 1;
    }
    assert!(count > 0, "empty corpus for journal");
}
