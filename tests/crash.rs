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

/// Rewrites a uid attribute in a windows-1251 document.xml.
fn replace_attr_uid(path: &Path, element: &str, new_uid: &str) {
    let bytes = fs::read(path).unwrap();
    let mut text = encoding_rs::WINDOWS_1251.decode(&bytes).0.into_owned();
    let at = text.find(&format!("<xdms:{element} ")).unwrap();
    let uid_at = text[at..].find("xdms:uid=\"").unwrap() + at + 10;
    text.replace_range(uid_at..uid_at + 36, new_uid);
    fs::write(path, encoding_rs::WINDOWS_1251.encode(&text).0).unwrap();
}

/// Drops one package of a random kind; returns its key and how many outbound packages it
/// must cause (receipt, notice).
fn drop_one(env: &Env, rng: &mut Rng, n: u64) -> (String, usize) {
    let staging = env.root.path().join("staging").join(n.to_string());
    let outputs = match rng.below(5) {
        0 => {
            // a new appeal: new header and document uids → registered
            copy_dir(&env.samples.join("urog-appeal-2.2"), &staging);
            replace_attr_uid(
                &staging.join("document.xml"),
                "header",
                &format!("{n:08x}-0000-4000-8000-{n:012x}"),
            );
            replace_attr_uid(
                &staging.join("document.xml"),
                "document",
                &format!("{n:08x}-3333-4000-8000-{n:012x}"),
            );
            2
        }
        1 => {
            // the same 2.2 appeal again and again: registered once, then re-delivered
            copy_dir(&env.samples.join("urog-appeal-2.2"), &staging);
            2
        }
        2 => {
            // malformed: quarantined, no receipt (no readable header)
            copy_dir(&env.samples.join("urog-appeal-2.2"), &staging);
            fs::write(staging.join("document.xml"), format!("<broken n='{n}'>")).unwrap();
            0
        }
        3 => {
            // a receipt from УРОГ: archived, not acknowledged
            copy_dir(&env.samples.join("urog-receipt-2.7.1"), &staging);
            let uid = header_uid(&staging);
            replace_in(
                &staging.join("message.xml"),
                &uid,
                &format!("{:08x}-1111-4000-8000-{:012x}", n, n),
            );
            0
        }
        _ => {
            // the container re-sent under a fresh header uid (same document): re-delivery
            copy_dir(&env.samples.join("urog-appeal-2.7.1"), &staging);
            let uid = header_uid(&staging);
            replace_in(
                &staging.join("message.xml"),
                &uid,
                &format!("{:08x}-2222-4000-8000-{:012x}", n, n),
            );
            2
        }
    };
    let (key, _, _) = package_key(&staging, 1000).unwrap();
    // land it atomically, as VipNet's final rename would (the slow-arrival case has its own test)
    fs::rename(&staging, env.inbound.join(format!("pkg{n:05}"))).unwrap();
    (key, outputs)
}

#[test]
fn sigkill_at_random_points_loses_nothing_and_does_nothing_twice() {
    let iterations = env_u64("MEDO_CRASH_ITERATIONS", 100);
    let seed = env_u64("MEDO_CRASH_SEED", 0x5eed_1234_abcd_0001) | 1;
    eprintln!("crash harness: {iterations} iterations, MEDO_CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    let env = Env::with(1, 3600, "");
    fs::create_dir_all(env.root.path().join("staging")).unwrap();
    let mut dropped: Vec<(String, usize)> = Vec::new();
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
    // outputs: exactly those decided (receipts and notices), all published, nothing else
    let outputs: BTreeSet<String> = records
        .iter()
        .flat_map(|r| r["outputs"].as_array().cloned().unwrap_or_default())
        .map(|o| o["name"].as_str().unwrap().to_string())
        .collect();
    let expected_outputs: usize = dropped.iter().map(|(_, n)| n).sum();
    assert_eq!(
        outputs.len(),
        expected_outputs,
        "outputs decided (seed {seed})"
    );
    let outbound: BTreeSet<String> = env.outbound_names().into_iter().collect();
    assert_eq!(
        outbound, outputs,
        "outbound ≠ decided outputs (seed {seed})"
    );
    let published: BTreeSet<String> = of_kind("published")
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(published, outputs, "published ≠ decided (seed {seed})");
    // appeals: each document registered exactly once, numbers unique and without gaps
    let registered: Vec<&serde_json::Value> = of_kind("appeal_registered").collect();
    let received_docs: BTreeSet<&str> = of_kind("appeal_received")
        .map(|r| r["document_uid"].as_str().unwrap())
        .collect();
    assert_eq!(
        registered.len(),
        received_docs.len(),
        "one registration per appeal (seed {seed})"
    );
    assert_eq!(
        of_kind("appeal_received").count(),
        received_docs.len(),
        "an appeal received twice (seed {seed})"
    );
    let numbers: BTreeSet<&str> = registered
        .iter()
        .map(|r| r["number"].as_str().unwrap())
        .collect();
    assert_eq!(
        numbers.len(),
        registered.len(),
        "duplicate registration numbers (seed {seed})"
    );
    let mut seqs: Vec<u64> = registered
        .iter()
        .map(|r| r["year_seq"].as_u64().unwrap())
        .collect();
    seqs.sort();
    assert_eq!(
        seqs,
        (1..=registered.len() as u64).collect::<Vec<_>>(),
        "numbers skip or repeat (seed {seed})"
    );
}
