//! The spool on another filesystem than the state (a network share, stood in by `/dev/shm`,
//! a tmpfs): packages claimed by copy — hidden in inbound, copied, synced, journaled, the
//! original removed at rest — and published by a rename within outbound. A crash at each
//! step of it (named fault points) makes exactly one arrival and sends nothing twice.

mod common;

use std::fs;
use std::path::Path;

use common::env::{names, Env};

/// An environment whose inbound and outbound sit on `/dev/shm` (another filesystem than the
/// temp folder holding the state); the share's folder is dropped with it. `None` (said on
/// stderr) where there is no such second filesystem.
fn on_a_share() -> Option<(Env, tempfile::TempDir)> {
    use std::os::unix::fs::MetadataExt;
    let share = tempfile::tempdir_in("/dev/shm").ok();
    let mut env = Env::new();
    let dev = |p: &Path| fs::metadata(p).map(|m| m.dev()).ok();
    match share {
        Some(share) if dev(share.path()) != dev(env.state.parent().unwrap()) => {
            env.move_spool_to(share.path());
            Some((env, share))
        }
        _ => {
            eprintln!(
                "NOTE: no /dev/shm on another filesystem here: the shared-spool test is not run"
            );
            None
        }
    }
}

/// Every folder in inbound, hidden ones too (a claim's leftover is hidden).
fn inbound_left(env: &Env) -> Vec<String> {
    names(&env.inbound)
}

#[test]
fn a_spool_on_another_filesystem_is_claimed_by_copy_and_answered_once() {
    let Some((env, _share)) = on_a_share() else {
        return;
    };
    env.drop_sample("urog-appeal-2.2", "100001");
    env.drop_sample("urog-appeal-2.7.1", "пакет.2");
    let out = env.once();
    assert!(out.contains("взято 2"), "{out}");
    assert!(inbound_left(&env).is_empty(), "{:?}", inbound_left(&env));
    assert_eq!(env.receipts().len(), 2, "{:?}", env.outbound_names());
    // the staging folder in outbound is left empty: nothing half-built for VipNet to see
    let staging = env.outbound.join(".medo-tmp");
    assert!(names(&staging).is_empty(), "{:?}", names(&staging));
    let srcs: Vec<String> = env
        .records_of_kind("received")
        .iter()
        .map(|r| r["src"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(srcs, ["100001", "пакет.2"]);
    // each package rests whole, as it came: the files its sample has
    let archived = env.records_of_kind("archived");
    assert_eq!(archived.len(), 2);
    for (a, sample) in archived
        .iter()
        .zip(["urog-appeal-2.2", "urog-appeal-2.7.1"])
    {
        let dir = env.state.join(a["dir"].as_str().unwrap());
        assert_eq!(
            names(&dir),
            names(&env.samples.join(sample)),
            "{}",
            dir.display()
        );
    }
    assert!(names(&env.state.join("claimed")).is_empty());
    env.verify_all();
    let again = env.once();
    assert!(
        again.contains("взято 0") && again.contains("отправлено 0"),
        "{again}"
    );
}

/// A crash at each step of a claim by copy, of its publishing and of its coming to rest:
/// the next run finishes it — one `received`, the outbound packages of a run without a
/// crash, nothing left in inbound, the journal whole.
#[test]
fn a_crash_at_each_step_of_a_claim_by_copy_makes_one_arrival() {
    let Some((clean, _share)) = on_a_share() else {
        return;
    };
    clean.drop_sample("urog-appeal-2.2", "100001");
    clean.once();
    let expected = clean.outbound_names().len();
    assert!(
        expected >= 2,
        "a receipt and a notice: {:?}",
        clean.outbound_names()
    );
    for point in [
        "after-claim-hide",
        "after-claim-copy",
        "after-claim-sync",
        "after-publish-intents",
        "after-publish",
        "before-original-removed",
    ] {
        let (env, _share) = on_a_share().unwrap();
        env.drop_sample("urog-appeal-2.2", "100001");
        env.crash_at(point, &["run", "--once"]);
        env.once();
        env.once();
        let received = env.records_of_kind("received");
        assert_eq!(received.len(), 1, "{point}: {received:?}");
        assert_eq!(received[0]["src"], "100001", "{point}");
        assert_eq!(
            env.outbound_names().len(),
            expected,
            "{point}: {:?}",
            env.outbound_names()
        );
        assert!(
            inbound_left(&env).is_empty(),
            "{point}: {:?}",
            inbound_left(&env)
        );
        assert_eq!(env.records_of_kind("archived").len(), 1, "{point}");
        env.verify_all();
    }
}

/// A copy cut short by a crash is never taken for a claim: it waits under a hidden `.part`
/// name, the original hidden in inbound under the claim, nothing journaled — and the next run
/// copies it again and takes it once.
#[test]
fn a_copy_claim_never_leaves_a_part_copy_as_a_claim() {
    let Some((env, _share)) = on_a_share() else {
        return;
    };
    env.drop_sample("urog-appeal-2.2", "100001");
    env.crash_at("after-claim-copy", &["run", "--once"]);
    // the torn copy is hidden by its name, the original hidden in inbound
    let claimed = names(&env.state.join("claimed"));
    assert!(
        claimed
            .iter()
            .all(|n| n.starts_with('.') && n.ends_with(".part")),
        "{claimed:?}"
    );
    let left = inbound_left(&env);
    assert!(
        left.len() == 1 && left[0].starts_with(".medo-claim.") && left[0].ends_with(".100001"),
        "{left:?}"
    );
    assert!(env.records_of_kind("received").is_empty());
    env.once();
    assert!(names(&env.state.join("claimed")).is_empty());
    assert_eq!(env.records_of_kind("received").len(), 1);
}
