//! Hostile input, each case through the binary (`run --once`, or the running service for
//! the cases that need time). Every case drops one hostile package beside a good appeal and
//! checks that: the hostile one ends quarantined with the expected machine-readable code (or,
//! for things that are not packages at all, is left alone); the good one is still registered
//! (the service kept working); nothing was written outside `state_dir` and `outbound`; the
//! journal and the store verify; the binary's peak memory stayed bounded.
//!
//! The cases are data: `zip.rs` (containers), `xml.rs` (message XML and encodings),
//! `folder.rs` (envelopes, folders, special files, growth and sheer numbers).

#[path = "../common/mod.rs"]
mod common;

mod folder;
mod xml;
mod zip;

use std::fs;
use std::path::{Path, PathBuf};

use common::env::Env;

/// Peak RSS allowed to any binary these tests ran (MiB).
pub const MAX_RSS_MIB: i64 = 128;

/// The 2.2 sample copied to inbound as `name`, ready to be made hostile.
pub fn appeal_22(env: &Env, name: &str) -> PathBuf {
    env.drop_sample("urog-appeal-2.2", name)
}

/// The 2.7.1 sample copied to inbound as `name`; returns the folder and its ZIP's name.
pub fn appeal_271(env: &Env, name: &str) -> (PathBuf, String) {
    let dir = env.drop_sample("urog-appeal-2.7.1", name);
    let zip = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .find(|n| n.ends_with(".zip"))
        .unwrap();
    (dir, zip)
}

/// Rewrites the envelope of `dir` (cp1251) with `edit` applied to its text.
pub fn edit_envelope(dir: &Path, edit: impl FnOnce(String) -> String) {
    let path = dir.join("envelope.ini");
    let text = encoding_rs::WINDOWS_1251
        .decode(&fs::read(&path).unwrap())
        .0
        .into_owned();
    fs::write(&path, encoding_rs::WINDOWS_1251.encode(&edit(text)).0).unwrap();
}

/// Adds `name` to the envelope's [ФАЙЛЫ] list.
pub fn list_in_envelope(dir: &Path, name: &str) {
    edit_envelope(dir, |t| {
        let at = t.find("[ФАЙЛЫ]").unwrap();
        let n = t[at..].lines().skip(1).filter(|l| l.contains('=')).count();
        format!("{}\r\n{n}={name}\r\n", t.trim_end())
    });
}

/// The codes of every quarantined package (from `reason.json`).
pub fn quarantine_codes(env: &Env) -> Vec<String> {
    let q = env.state.join("quarantine");
    let mut codes = Vec::new();
    for e in fs::read_dir(&q).into_iter().flatten() {
        let p = e.unwrap().path().join("reason.json");
        if let Ok(bytes) = fs::read(&p) {
            let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            codes.push(v["code"].as_str().unwrap_or("").to_string());
        }
    }
    codes
}

/// Every path under the environment's root outside inbound, outbound, state and samples.
fn written_outside(env: &Env) -> Vec<PathBuf> {
    let root = env.root.path();
    let allowed = [
        env.inbound.clone(),
        env.outbound.clone(),
        env.state.clone(),
        env.samples.clone(),
        env.config.clone(),
        // the test harness's copy of a running service's log (tests/common/env.rs)
        root.join("service.log"),
    ];
    let mut bad = Vec::new();
    for e in fs::read_dir(root).unwrap() {
        let p = e.unwrap().path();
        if !allowed.contains(&p) && !p.starts_with(root.join("outside")) {
            bad.push(p);
        }
    }
    bad
}

/// `run --once` (must succeed); returns the peak RSS it reports for itself (MiB).
pub fn once_measured(env: &Env) -> i64 {
    let out = env.once();
    let kib: i64 = out
        .split("пиковая память ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no «пиковая память» in {out:?}"));
    kib / 1024
}

/// The checks every case ends with; `expected`: acceptable quarantine codes (empty: the
/// hostile thing is not a package and must be left alone, nothing quarantined).
pub fn assert_outcome(env: &Env, case: &str, expected: &[&str]) {
    let codes = quarantine_codes(env);
    if expected.is_empty() {
        assert!(codes.is_empty(), "{case}: quarantined {codes:?}");
    } else {
        assert!(
            codes.len() == 1 && expected.contains(&codes[0].as_str()),
            "{case}: quarantine codes {codes:?}, expected one of {expected:?}"
        );
    }
    assert_eq!(
        env.records_of_kind("appeal_registered").len(),
        1,
        "{case}: the good appeal beside it was not registered"
    );
    let outside = written_outside(env);
    assert!(outside.is_empty(), "{case}: written outside: {outside:?}");
    env.verify_all();
}

/// A folder that looks unfinished (unreadable envelope, ZIP without its central directory)
/// may still be being written: it waits, and is quarantined as `incomplete` once over the
/// limit — here set to 0, so at once.
pub fn overdue_at_once(env: &Env) {
    fs::write(
        &env.config,
        fs::read_to_string(&env.config)
            .unwrap()
            .replace("incomplete_after_secs = 3600", "incomplete_after_secs = 0"),
    )
    .unwrap();
}

/// Which sample a hostile package was made from: the good appeal beside it is the other one
/// (so it cannot be taken for a duplicate of the hostile one).
#[derive(Clone, Copy)]
pub enum From {
    V22,
    V271,
}

/// Drops the good appeal that must still be registered.
pub fn good_beside(env: &Env, from: From) {
    match from {
        From::V22 => env.drop_sample("urog-appeal-2.7.1", "zz-good"),
        From::V271 => env.drop_sample("urog-appeal-2.2", "zz-good"),
    };
}

/// One case: build the hostile package, add a good appeal, `run --once`, check.
pub fn case(name: &str, expected: &[&str], from: From, build: impl FnOnce(&Env)) {
    let env = Env::new();
    build(&env);
    good_beside(&env, from);
    let rss = once_measured(&env);
    assert!(rss <= MAX_RSS_MIB, "{name}: peak RSS {rss} MiB");
    assert_outcome(&env, name, expected);
}
