//! What the backlog benchmarks share (`spool`, `postgres`): a spool made in the bench folder,
//! its config, the samples, distinct appeals.

use std::fs;
use std::path::{Path, PathBuf};

use crate::hub;

/// Where the benchmark's spools are made: `BENCH_DIR`, else the current folder (not /tmp,
/// which may be tmpfs). Point it at the filesystem the spool will live on.
pub fn bench_dir() -> PathBuf {
    std::env::var_os("BENCH_DIR").map_or_else(|| PathBuf::from("."), PathBuf::from)
}

pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn write_config(root: &Path, settle_ms: u64) -> PathBuf {
    write_config_of(root, settle_ms, 0)
}

/// The bench's config; `bodies` > 0: a region's hub of that many bodies.
pub fn write_config_of(root: &Path, settle_ms: u64, bodies: usize) -> PathBuf {
    let text = fs::read_to_string("config/gateway.toml")
        .unwrap()
        .replace("\"spool/in\"", &format!("{:?}", root.join("in")))
        .replace("\"spool/out\"", &format!("{:?}", root.join("out")))
        .replace("\"spool/state\"", &format!("{:?}", root.join("state")))
        .replace("settle_ms = 1000", &format!("settle_ms = {settle_ms}"));
    for d in ["in", "out", "samples"] {
        fs::create_dir_all(root.join(d)).unwrap();
    }
    let path = root.join("gateway.toml");
    let text = match bodies {
        0 => text,
        n => hub::as_hub(&text, n),
    };
    fs::write(&path, text).unwrap();
    path
}

pub fn bin() -> PathBuf {
    // target/release/deps/spool-… → target/release/medo-gateway
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().join("medo-gateway")
}

pub fn samples(config: &Path, out: &Path) {
    let status = std::process::Command::new(bin())
        .arg("--config")
        .arg(config)
        .args(["samples", "--out"])
        .arg(out)
        .output()
        .unwrap()
        .status;
    assert!(
        status.success(),
        "build the binary first: cargo build --release"
    );
}

/// Makes a distinct copy of the 2.2 sample (its header uid rewritten) at `dst`, addressed to
/// `to` when given (an organisation's name).
pub fn distinct_appeal(sample: &Path, dst: &Path, n: usize, to: Option<&str>) {
    fs::create_dir_all(dst).unwrap();
    for e in fs::read_dir(sample).unwrap() {
        let e = e.unwrap();
        let name = e.file_name();
        if name == "document.xml" {
            let bytes = fs::read(e.path()).unwrap();
            let text = encoding_rs::WINDOWS_1251.decode(&bytes).0.into_owned();
            // a distinct message and a distinct document: a new appeal each
            let mut new = text.clone();
            for (element, tag) in [("<xdms:header ", "0000"), ("<xdms:document ", "1111")] {
                let el = new.find(element).unwrap();
                let at = new[el..].find("xdms:uid=\"").unwrap() + el + 10;
                new.replace_range(
                    at..at + 36,
                    &format!("{n:08x}-{tag}-4000-8000-000000000000"),
                );
            }
            if let Some(to) = to {
                new = new.replace(
                    "<xdms:organization>Федеральное агентство по образцам (пример)</xdms:organization>",
                    &format!("<xdms:organization>{to}</xdms:organization>"),
                );
            }
            fs::write(dst.join(&name), encoding_rs::WINDOWS_1251.encode(&new).0).unwrap();
        } else {
            fs::copy(e.path(), dst.join(&name)).unwrap();
        }
    }
}
