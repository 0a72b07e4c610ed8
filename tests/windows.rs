//! Issue 14: the narrow windows between two durable steps, hit exactly with a named fault
//! point (`MEDO_FAULT_STOP`, `src/fault.rs`) instead of by luck; after the stop, the next run
//! must neither lose nor double anything.

mod common;

use common::env::{names, Env};

/// Item 2: a crash between an operator command's journal commit and the removal of its
/// queue file: the next run sees the command's id in the journal and does not apply it again
/// (one «Назначен исполнитель», not two).
#[test]
fn a_command_journaled_before_a_crash_is_not_applied_again() {
    let env = Env::new();
    env.deliver("urog-appeal-2.2", "appeal");
    env.crash_at(
        "after-command-commit",
        &[
            "appeals",
            "event",
            "1",
            "executor-assigned",
            "--executor",
            "Иванов И.И.",
        ],
    );
    let queued: Vec<String> = names(&env.state.join("control"))
        .into_iter()
        .filter(|n| n.ends_with(".json"))
        .collect();
    assert_eq!(queued.len(), 1, "the command file outlived the crash");
    assert_eq!(env.records_of_kind("appeal_progress").len(), 1, "journaled");
    env.once();
    let progress = env.records_of_kind("appeal_progress");
    assert_eq!(progress.len(), 1, "applied once: {progress:?}");
    assert_eq!(
        progress[0]["command"],
        queued[0].trim_end_matches(".json"),
        "the event names its command"
    );
    let notices: Vec<String> = env
        .outbound_names()
        .into_iter()
        .filter(|n| n.starts_with("executor"))
        .collect();
    assert_eq!(notices.len(), 1, "one notice: {notices:?}");
    assert!(
        names(&env.state.join("control"))
            .iter()
            .all(|n| !n.ends_with(".json")),
        "the file is gone"
    );
    env.verify_all();
}
