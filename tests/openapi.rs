//! Issue 16, item 5: the contract is a file. Schemathesis (PyPI) drives a live instance with
//! `docs/openapi.yaml` as served at `/api/v1/openapi.json`: every response must conform to
//! the document (status, media type, headers, schema), none may be a 5xx, and data the
//! schema calls invalid must be refused. (The routes and the document agree: a unit test in
//! `src/http/mod.rs`.)
//!
//! Schemathesis is looked for in `MEDO_SCHEMATHESIS`, then `.ci/venv/bin/st` (what `.ci/run`
//! installs), then `st` on the PATH. Without it the test says SKIPPED — except under CI=true,
//! where it fails.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::env::{free_port, Env, Service};

/// The Schemathesis CLI, if installed.
pub fn schemathesis() -> Option<PathBuf> {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".ci/venv/bin/st");
    let candidates = [
        std::env::var_os("MEDO_SCHEMATHESIS").map(PathBuf::from),
        Some(venv),
        Some(PathBuf::from("st")),
    ];
    candidates.into_iter().flatten().find(|st| {
        Command::new(st)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

#[test]
#[cfg_attr(
    medo_no_schemathesis,
    ignore = "no Schemathesis (.ci/run makes .ci/venv; or MEDO_SCHEMATHESIS=path/to/st)"
)]
fn every_response_conforms_to_the_openapi_document() {
    let Some(st) = schemathesis() else {
        assert!(
            !common::in_ci(),
            "CI=true: Schemathesis must be installed (.ci/run installs it into .ci/venv)"
        );
        common::skipped("every_response_conforms_to_the_openapi_document: no Schemathesis (pip install schemathesis, or MEDO_SCHEMATHESIS=path/to/st)");
        return;
    };
    let env = Env::new();
    let port = free_port();
    let (token, client_toml) = env.api_client("delo", "read,write,dsp");
    env.add_sections(&format!(
        "[http]\nlisten = \"127.0.0.1:{port}\"\n[api]\n{}\n",
        client_toml
    ));
    env.drop_sample("urog-appeal-2.2", "a");
    env.drop_sample("urog-appeal-2.7.1", "b");
    env.once();
    let service = Service::start(&env);
    common::wait_http(port);
    let examples = std::env::var("MEDO_SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| "40".into());
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/schemathesis.toml");
    let run = Command::new(&st)
        .args(["--config-file", config, "run"])
        .arg(format!("http://127.0.0.1:{port}/api/v1/openapi.json"))
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .args(["--max-examples", &examples, "--no-color"])
        .args(["--seed", "20261203"])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "Schemathesis found failures:\n{report}"
    );
    assert!(report.contains("passed"), "{report}");
    assert!(service.stop().success());
}
