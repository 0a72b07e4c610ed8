//! Crash harness: `run --once` is killed with SIGKILL at random moments, over and over, while
//! new packages (valid, duplicate, malformed) keep arriving; then one clean run. Afterwards:
//! every package was received exactly once and ended archived or quarantined exactly once,
//! every document has exactly its receipt in outbound, the journal verifies and the store
//! agrees with it.
//!
//! `MEDO_CRASH_ITERATIONS` (default 100) and `MEDO_CRASH_SEED` tune it; the seed is printed
//! so a failure can be replayed.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::time::Duration;

use common::env::{copy_dir, names, Env};
use medo_gateway::spool::package_key;

/// A tiny deterministic generator (xorshift), so failures replay from the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Replaces `from` with `to` in a UTF-8 file.
fn replace_in(path: &Path, from: &str, to: &str) {
    let text = fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} lacks {from}", path.display());
    fs::write(path, text.replace(from, to)).unwrap();
}

/// The header uid of a sample's message.xml.
fn header_uid(dir: &Path) -> String {
    let text = fs::read_to_string(dir.join("message.xml")).unwrap();
    let at = text.find("xdms:uid=\"").unwrap() + 10;
    text[at..at + 36].to_string()
}

/// Drops one package of a random kind; returns its key and whether it expects a receipt.
fn drop_one(env: &Env, rng: &mut Rng, n: u64) -> (String, bool) {
    let staging = env.root.path().join("staging").join(n.to_string());
    let expects_receipt = match rng.below(4) {
        0 => {
            // a new container (fresh header uid)
            copy_dir(&env.samples.join("urog-appeal-2.7.1"), &staging);
            let uid = header_uid(&staging);
            replace_in(
                &staging.join("message.xml"),
                &uid,
                &format!("{:08x}-0000-4000-8000-{:012x}", n, n),
            );
            true
        }
        1 => {
            // the same 2.2 appeal again and again: duplicates after the first
            copy_dir(&env.samples.join("urog-appeal-2.2"), &staging);
            true
        }
        2 => {
            // malformed: quarantined, no receipt (no readable header)
            copy_dir(&env.samples.join("urog-appeal-2.2"), &staging);
            fs::write(staging.join("document.xml"), format!("<broken n='{n}'>")).unwrap();
            false
        }
        _ => {
            // a receipt from УРОГ: archived, not acknowledged
            copy_dir(&env.samples.join("urog-receipt-2.7.1"), &staging);
            let uid = header_uid(&staging);
            replace_in(
                &staging.join("message.xml"),
                &uid,
                &format!("{:08x}-1111-4000-8000-{:012x}", n, n),
            );
            false
        }
    };
    let (key, _, _) = package_key(&staging, 1000).unwrap();
    // land it atomically, as VipNet's final rename would (the slow-arrival case has its own test)
    fs::rename(&staging, env.inbound.join(format!("pkg{n:05}"))).unwrap();
    (key, expects_receipt)
}

#[test]
fn sigkill_at_random_points_loses_nothing_and_does_nothing_twice() {
    let iterations = env_u64("MEDO_CRASH_ITERATIONS", 100);
    let seed = env_u64("MEDO_CRASH_SEED", 0x5eed_1234_abcd_0001) | 1;
    eprintln!("crash harness: {iterations} iterations, MEDO_CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    let env = Env::with(1, 3600, "");
    fs::create_dir_all(env.root.path().join("staging")).unwrap();
    let mut dropped: Vec<(String, bool)> = Vec::new();
    let mut kills = 0;
    for i in 0..iterations {
        for _ in 0..rng.below(3) {
            let n = dropped.len() as u64;
            dropped.push(drop_one(&env, &mut rng, n));
        }
        let mut child = common::bin()
            .arg("--config")
            .arg(&env.config)
            .args(["run", "--once"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(rng.below(120)));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        let status = child.wait().unwrap();
        assert!(
            status.success() || status.code().is_none(),
            "iteration {i}: run --once failed with {status:?} (seed {seed})"
        );
    }
    eprintln!("crash harness: {} packages, {kills} kills", dropped.len());
    env.once();

    // nothing left behind
    assert!(
        names(&env.inbound).is_empty(),
        "inbound: {:?}",
        names(&env.inbound)
    );
    assert!(
        names(&env.state.join("claimed")).is_empty(),
        "claimed not empty (seed {seed})"
    );
    assert!(
        names(&env.state.join("tmp")).is_empty(),
        "tmp not empty (seed {seed})"
    );
    env.verify_all();

    let records = env.journal_lines();
    let of_kind = |k: &'static str| records.iter().filter(move |r| r["kind"] == k);
    // every package received exactly once (by key, as a multiset)
    let mut expected: BTreeMap<&str, usize> = BTreeMap::new();
    for (k, _) in &dropped {
        *expected.entry(k.as_str()).or_default() += 1;
    }
    let mut received: BTreeMap<&str, usize> = BTreeMap::new();
    for r in of_kind("received") {
        *received.entry(r["key"].as_str().unwrap()).or_default() += 1;
    }
    assert_eq!(received, expected, "received ≠ dropped (seed {seed})");
    // every arrival decided once and filed away once
    let arrivals: BTreeSet<u64> = of_kind("received")
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    for kind in ["decided", "archived"] {
        let mut per: BTreeMap<u64, usize> = BTreeMap::new();
        for r in of_kind(kind) {
            *per.entry(r["arrival"].as_u64().unwrap()).or_default() += 1;
        }
        assert_eq!(
            per.keys().copied().collect::<BTreeSet<_>>(),
            arrivals,
            "{kind} (seed {seed})"
        );
        assert!(
            per.values().all(|n| *n == 1),
            "{kind} twice for an arrival (seed {seed})"
        );
    }
    // receipts: one per package that expects one, all in outbound, nothing else there
    let outputs: BTreeSet<String> = of_kind("decided")
        .flat_map(|r| {
            r["outputs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["name"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    let receipts_expected = dropped.iter().filter(|(_, r)| *r).count();
    assert_eq!(
        outputs.len(),
        receipts_expected,
        "receipts decided (seed {seed})"
    );
    let outbound: BTreeSet<String> = env.outbound_names().into_iter().collect();
    assert_eq!(
        outbound, outputs,
        "outbound ≠ decided receipts (seed {seed})"
    );
    let published: BTreeSet<String> = of_kind("published")
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(published, outputs, "published ≠ decided (seed {seed})");
}
