//! Issue 28, a region's hub: bodies on one МЭДО node. What a one-body node wrote before
//! bodies keeps working unchanged.

mod common;

use std::fs;
use std::path::Path;

use common::env::{copy_dir, Env};
use common::packages::new_document;

/// The fixture (a state folder written before bodies), copied into `state`.
fn restore_before_bodies(state: &Path) {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/before-bodies");
    fs::create_dir_all(state).unwrap();
    copy_dir(&fixture.join("journal"), &state.join("journal"));
    for key in ["checkpoint.key", "pin.key", "anchor.note"] {
        fs::copy(fixture.join(key), state.join(key)).unwrap();
    }
}

/// The year as our numbers write it (Moscow time).
fn yy() -> i32 {
    let msk = time::UtcOffset::from_hms(3, 0, 0).unwrap();
    time::OffsetDateTime::now_utc().to_offset(msk).year() % 100
}

#[test]
fn a_state_written_before_bodies_opens_and_numbering_goes_on() {
    let env = Env::new();
    restore_before_bodies(&env.state);
    let before = fs::read(env.state.join("journal/00000000000000000000.jsonl")).unwrap();
    let dir = env.drop_sample("urog-appeal-2.2", "new-appeal");
    new_document(&dir, 77, "Письмо", "А26-02-7777777", "Обращение");
    env.once();

    // the old records are where they were, byte for byte, and the whole chain verifies
    let after = fs::read(env.state.join("journal/00000000000000000000.jsonl")).unwrap();
    assert_eq!(&after[..before.len()], &before[..], "old lines untouched");
    env.ok(&["journal", "verify"]);
    // nothing written for the one body names a body
    assert!(env.journal_lines().iter().all(|l| l.get("body").is_none()));

    let list: serde_json::Value =
        serde_json::from_str(&env.ok(&["appeals", "list", "--json"])).unwrap();
    let rows = list.as_array().unwrap();
    let numbers: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["urog_number"].as_str().unwrap(),
                r["number"].as_str().unwrap(),
            )
        })
        .collect();
    let next = if yy() == 26 {
        "ОГ-3/26".to_string()
    } else {
        format!("ОГ-1/{:02}", yy())
    };
    assert_eq!(
        numbers,
        [
            ("А26-02-7654321", "ОГ-1/26"),
            ("А26-02-1234567", "ОГ-2/26"),
            ("А26-02-7777777", next.as_str()),
        ],
        "the old appeals as they were, the new one numbered after them"
    );
    let shown: serde_json::Value =
        serde_json::from_str(&env.ok(&["appeals", "show", "ОГ-1/26", "--json"])).unwrap();
    assert_eq!(
        shown["body"], "main",
        "an old appeal belongs to the one body"
    );
}
