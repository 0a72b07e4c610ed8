//! Build metadata: the commit that `--version` and `medo_build_info` report (`unknown`
//! outside a git checkout, e.g. a source package).

use std::path::Path;
use std::process::Command;

fn main() {
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=MEDO_COMMIT={commit}");
    // a new commit moves a ref: build again then (only paths that exist, or cargo reruns always)
    for watched in [".git/HEAD", ".git/refs/heads", ".git/packed-refs"] {
        if Path::new(watched).exists() {
            println!("cargo:rerun-if-changed={watched}");
        }
    }
    what_the_tests_can_use();
}

/// Tests that need what this machine lacks — the spec samples in `../shared`, a tool — are
/// *ignored* (counted as such in `cargo test`'s summary), not passed: `cfg(medo_no_…)` for
/// each missing thing. Under `CI=true` nothing is ignored: a missing tool fails its test.
fn what_the_tests_can_use() {
    for name in [
        "spec_data",
        "promtool",
        "chromium",
        "python3",
        "schemathesis",
    ] {
        println!("cargo:rustc-check-cfg=cfg(medo_no_{name})");
    }
    println!("cargo:rerun-if-env-changed=CI");
    println!("cargo:rerun-if-env-changed=MEDO_SPEC_DATA");
    println!("cargo:rerun-if-env-changed=MEDO_SCHEMATHESIS");
    println!("cargo:rerun-if-env-changed=PATH");
    // where the samples and the venv would appear (existing folders only: cargo reruns a
    // script that watches a missing path at every build)
    for watched in ["..", ".ci"] {
        if Path::new(watched).exists() {
            println!("cargo:rerun-if-changed={watched}");
        }
    }
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        return;
    }
    let spec = std::env::var_os("MEDO_SPEC_DATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new("../shared/spec/data").to_path_buf());
    let on_path = |tool: &str| {
        std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
    };
    let schemathesis =
        std::env::var_os("MEDO_SCHEMATHESIS").is_some() || Path::new(".ci/venv/bin/st").exists();
    let missing = [
        ("spec_data", !spec.is_dir()),
        ("promtool", !on_path("promtool")),
        ("chromium", !on_path("chromium")),
        ("python3", !on_path("python3")),
        ("schemathesis", !schemathesis),
    ];
    for (name, gone) in missing {
        if gone {
            println!("cargo:rustc-cfg=medo_no_{name}");
        }
    }
}
