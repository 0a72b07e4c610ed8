//! The spool on another filesystem than the state (a network share, stood in by `/dev/shm`,
//! a tmpfs): packages claimed by copy — hidden in inbound, copied, synced, journaled, the
//! original removed at rest — and published by a rename within outbound. A crash at each
//! step of it (named fault points) makes exactly one arrival and sends nothing twice.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::env::{names, Env};

/// Where a spool on another filesystem than the state can be: a tmpfs (`/dev/shm`), and a
/// real SMB share (Samba in a network namespace of its own, mounted through smbnetfs) where
/// this machine can serve one. Each says its name; the guard keeps it while it is used.
struct Place {
    name: &'static str,
    base: PathBuf,
    /// The same folder on the server's own disk (where VipNet on the share's host writes).
    served: Option<PathBuf>,
    _guard: Box<dyn std::any::Any>,
}

fn places() -> Vec<Place> {
    use std::os::unix::fs::MetadataExt;
    let mut found = Vec::new();
    let dev = |p: &Path| fs::metadata(p).map(|m| m.dev()).ok();
    let state_dev = dev(&std::env::temp_dir());
    match tempfile::tempdir_in("/dev/shm") {
        Ok(shm) if dev(shm.path()) != state_dev => found.push(Place {
            name: "tmpfs",
            base: shm.path().to_path_buf(),
            served: None,
            _guard: Box::new(shm),
        }),
        _ => {
            eprintln!("NOTE: no /dev/shm on another filesystem here: the tmpfs spool is not tried")
        }
    }
    if let Some(smb) = common::smb::Smb::start() {
        found.push(Place {
            name: "smb",
            base: smb.path(),
            served: Some(smb.served()),
            _guard: Box::new(smb),
        });
    }
    found
}

/// An environment whose inbound and outbound sit in a folder of its own at `place`.
fn on(place: &Place, folder: &str) -> Env {
    let mut env = Env::new();
    let base = place.base.join(folder);
    fs::create_dir_all(&base).unwrap();
    env.move_spool_to(&base);
    env
}

/// Every folder in inbound, hidden ones too (a claim's leftover is hidden).
fn inbound_left(env: &Env) -> Vec<String> {
    names(&env.inbound)
}

#[test]
fn a_spool_on_another_filesystem_is_claimed_by_copy_and_answered_once() {
    for place in places() {
        claimed_by_copy_and_answered_once(&on(&place, "one"), place.name);
        if let Some(served) = &place.served {
            written_on_the_server(&on(&place, "server"), &served.join("server/in"));
        }
    }
}

/// A package VipNet writes on the share's own host (not through the mount) is seen through
/// SMB — no file events cross the share; the scan finds it — and taken once.
fn written_on_the_server(env: &Env, served_inbound: &Path) {
    common::env::copy_dir(
        &env.samples.join("urog-appeal-2.2"),
        &served_inbound.join("с-сервера"),
    );
    let out = env.once();
    assert!(out.contains("взято 1"), "smb, written on the server: {out}");
    assert_eq!(env.receipts().len(), 1, "{:?}", env.outbound_names());
    let left = names(served_inbound);
    assert!(
        left.is_empty(),
        "nothing left on the server's disk: {left:?}"
    );
    env.verify_all();
}

fn claimed_by_copy_and_answered_once(env: &Env, place: &str) {
    eprintln!("the spool on {place}");
    env.drop_sample("urog-appeal-2.2", "100001");
    env.drop_sample("urog-appeal-2.7.1", "пакет.2");
    let out = env.once();
    assert!(out.contains("взято 2"), "{place}: {out}");
    assert!(
        inbound_left(env).is_empty(),
        "{place}: {:?}",
        inbound_left(env)
    );
    assert_eq!(
        env.receipts().len(),
        2,
        "{place}: {:?}",
        env.outbound_names()
    );
    // the staging folder in outbound is left empty: nothing half-built for VipNet to see
    let staging = env.outbound.join(".medo-tmp");
    assert!(names(&staging).is_empty(), "{:?}", names(&staging));
    let srcs: Vec<String> = env
        .records_of_kind("received")
        .iter()
        .map(|r| r["src"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(srcs, ["100001", "пакет.2"], "{place}");
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
            "{place}: {}",
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
    for place in places() {
        crash_at_each_step(&place);
    }
}

fn crash_at_each_step(place: &Place) {
    let clean = on(place, "clean");
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
        let env = on(place, point);
        let what = format!("{}, {point}", place.name);
        env.drop_sample("urog-appeal-2.2", "100001");
        env.crash_at(point, &["run", "--once"]);
        env.once();
        env.once();
        let received = env.records_of_kind("received");
        assert_eq!(received.len(), 1, "{what}: {received:?}");
        assert_eq!(received[0]["src"], "100001", "{what}");
        assert_eq!(
            env.outbound_names().len(),
            expected,
            "{what}: {:?}",
            env.outbound_names()
        );
        assert!(
            inbound_left(&env).is_empty(),
            "{what}: {:?}",
            inbound_left(&env)
        );
        assert_eq!(env.records_of_kind("archived").len(), 1, "{what}");
        env.verify_all();
    }
}

/// A copy cut short by a crash is never taken for a claim: it waits under a hidden `.part`
/// name, the original hidden in inbound under the claim, nothing journaled — and the next run
/// copies it again and takes it once.
#[test]
fn a_copy_claim_never_leaves_a_part_copy_as_a_claim() {
    for place in places() {
        part_copy_never_a_claim(&on(&place, "part"), place.name);
    }
}

fn part_copy_never_a_claim(env: &Env, place: &str) {
    env.drop_sample("urog-appeal-2.2", "100001");
    env.crash_at("after-claim-copy", &["run", "--once"]);
    // the torn copy is hidden by its name, the original hidden in inbound
    let claimed = names(&env.state.join("claimed"));
    assert!(
        claimed
            .iter()
            .all(|n| n.starts_with('.') && n.ends_with(".part")),
        "{place}: {claimed:?}"
    );
    let left = inbound_left(env);
    assert!(
        left.len() == 1 && left[0].starts_with(".medo-claim.") && left[0].ends_with(".100001"),
        "{place}: {left:?}"
    );
    assert!(env.records_of_kind("received").is_empty());
    env.once();
    assert!(names(&env.state.join("claimed")).is_empty());
    assert_eq!(env.records_of_kind("received").len(), 1);
}
