//! A gateway environment in a temp folder: config, inbound, outbound, state; helpers to drop
//! packages and run the binary.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use super::bin;

pub const UROG_UID: &str = "2d7c5a1e-8b3f-4e6a-9c0d-1f2e3a4b5c6d";

pub struct Env {
    pub root: tempfile::TempDir,
    pub config: PathBuf,
    pub inbound: PathBuf,
    pub outbound: PathBuf,
    pub state: PathBuf,
    /// Sample packages generated once, to copy from.
    pub samples: PathBuf,
}

impl Env {
    pub fn new() -> Env {
        Env::with(1, 3600, "")
    }

    /// `settle_ms` and `incomplete_after_secs`, plus extra TOML for the [spool] section.
    pub fn with(settle_ms: u64, incomplete_after_secs: u64, extra: &str) -> Env {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        let (inbound, outbound, state, samples) = (
            r.join("in"),
            r.join("out"),
            r.join("state"),
            r.join("samples"),
        );
        for d in [&inbound, &outbound] {
            fs::create_dir_all(d).unwrap();
        }
        let config = r.join("gateway.toml");
        fs::write(
            &config,
            format!(
                r#"[gateway]
participant_uid = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
organization = "Федеральное агентство по образцам (пример)"
transport_address = "SAMPLE_AGENCY~MEDOGU"

[spool]
inbound = "{}"
outbound = "{}"
state_dir = "{}"
settle_ms = {settle_ms}
rescan_secs = 1
incomplete_after_secs = {incomplete_after_secs}
{extra}

[[partners]]
name = "УРОГ"
uid = "{UROG_UID}"
transport_address = "WH-MEDO~APRF"
role = "urog"
format = "mirror"
"#,
                inbound.display(),
                outbound.display(),
                state.display()
            ),
        )
        .unwrap();
        let env = Env {
            root,
            config,
            inbound,
            outbound,
            state,
            samples,
        };
        let out = env.cmd(&["samples", "--out", env.samples.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        env
    }

    pub fn cmd(&self, args: &[&str]) -> Output {
        bin()
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .output()
            .unwrap()
    }

    /// `run --once`, asserting success; returns stdout.
    pub fn once(&self) -> String {
        let out = self.cmd(&["run", "--once"]);
        assert!(
            out.status.success(),
            "run --once failed ({:?}):\n{}\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Copies sample `name` (`urog-appeal-2.2`, `urog-appeal-2.7.1`, `urog-receipt-2.7.1`)
    /// into inbound as `as_name`.
    pub fn drop_sample(&self, name: &str, as_name: &str) -> PathBuf {
        let dst = self.inbound.join(as_name);
        copy_dir(&self.samples.join(name), &dst);
        dst
    }

    /// Folders in outbound.
    pub fn outbound_names(&self) -> Vec<String> {
        names(&self.outbound)
    }

    pub fn journal_lines(&self) -> Vec<serde_json::Value> {
        let out = self.cmd(&["journal", "export", "--format", "jsonl"]);
        assert!(out.status.success());
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    pub fn records_of_kind(&self, kind: &str) -> Vec<serde_json::Value> {
        self.journal_lines()
            .into_iter()
            .filter(|r| r["kind"] == kind)
            .collect()
    }

    pub fn verify_all(&self) {
        let out = self.cmd(&["journal", "verify"]);
        assert!(
            out.status.success(),
            "journal verify: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let out = self.cmd(&["store", "verify"]);
        assert!(
            out.status.success(),
            "store verify: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

pub fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

pub fn copy_dir(src: &Path, dst: &Path) {
    fs::create_dir_all(dst).unwrap();
    for e in fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), dst.join(e.file_name())).unwrap();
    }
}
