//! Issue 16, item 7: the example СЭД client (`docs/examples/sed_client.py`, Python's standard
//! library only) against a live instance in manual mode: it imports the appeals with their
//! files, registers them under its own numbers, names an executor and answers with a PDF —
//! and being killed (SIGKILL) three times along the way doubles nothing and loses nothing.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use common::env::{free_port, Env, Service};
use sha2::{Digest, Sha256};

fn python() -> Option<&'static str> {
    let found = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    found.then_some("python3")
}

/// The client, as an operator would start it.
fn client(env: &Env, port: u16, token: &str, until_idle: Option<&str>) -> Command {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/examples/sed_client.py");
    let r = env.root.path();
    let mut c = Command::new("python3");
    c.arg(script)
        .args(["--url", &format!("http://127.0.0.1:{port}")])
        .args(["--state", r.join("sed-state.json").to_str().unwrap()])
        .args(["--out", r.join("sed").to_str().unwrap()])
        .args(["--answer", r.join("answer.pdf").to_str().unwrap()])
        .args(["--interval", "0.2"])
        .env("MEDO_TOKEN", token);
    if let Some(s) = until_idle {
        c.args(["--until-idle", s]);
    }
    c
}

/// Each appeal's steps as journaled: appeal → kinds in order.
fn steps(env: &Env) -> BTreeMap<u64, Vec<String>> {
    let mut by = BTreeMap::<u64, Vec<String>>::new();
    for r in env.records_of_kind("appeal_progress") {
        let kind = r["step"]["step"].as_str().unwrap().to_string();
        by.entry(r["appeal"].as_u64().unwrap())
            .or_default()
            .push(kind);
    }
    by
}

/// Every imported file is the one the appeal lists (by SHA-256).
fn check_imports(out: &Path, appeals: &[u64]) {
    for id in appeals {
        let dir = out.join(id.to_string());
        let card: serde_json::Value =
            serde_json::from_slice(&fs::read(dir.join("appeal.json")).unwrap()).unwrap();
        let files = card["appeal"]["files"].as_array().unwrap();
        assert!(files.len() >= 3, "{card}");
        for f in files {
            let bytes = fs::read(dir.join(f["name"].as_str().unwrap())).unwrap();
            assert_eq!(hex::encode(Sha256::digest(&bytes)), f["sha256"]);
        }
    }
}

#[test]
#[cfg_attr(medo_no_python3, ignore = "no python3")]
fn the_example_client_imports_registers_answers_and_survives_kills() {
    if python().is_none() {
        assert!(
            !common::in_ci(),
            "CI=true: python3 is needed for the example client"
        );
        common::skipped("the example СЭД client test: no python3");
        return;
    }
    let env = Env::new();
    let port = free_port();
    let (token, client_toml) = env.api_client("delo", "read,write");
    env.add_sections(&format!(
        "[registration]\nmode = \"manual\"\n[http]\nlisten = \"127.0.0.1:{port}\"\n[api]\n{}\n",
        client_toml
    ));
    let pdf = medo_gateway::samples::minimal_pdf("Answer to the applicant");
    fs::write(env.root.path().join("answer.pdf"), &pdf).unwrap();
    env.drop_sample("urog-appeal-2.2", "a");
    env.drop_sample("urog-appeal-2.7.1", "b");
    env.once();
    let service = Service::start(&env);
    common::wait_http(port);

    // killed right after it reports an item — before or after it kept the cursor: the item
    // comes again, and its writes replay
    let mut handled = Vec::new();
    for lines in [1, 1, 2] {
        let mut c = client(&env, port, &token, None)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut reader = std::io::BufReader::new(c.stdout.take().unwrap());
        for _ in 0..lines {
            let mut line = String::new();
            std::io::BufRead::read_line(&mut reader, &mut line).unwrap();
            handled.push(line);
        }
        c.kill().unwrap(); // SIGKILL
        c.wait().unwrap();
    }
    let run = client(&env, port, &token, Some("3")).output().unwrap();
    let log = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{log}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    handled.extend(log.lines().map(String::from));
    let handled: Vec<&str> = handled.iter().map(|l| l.trim_end()).collect();
    eprintln!(
        "the client reported, across three kills:\n{}",
        handled.join("\n")
    );

    let registered = env.records_of_kind("appeal_registered");
    let appeals: Vec<u64> = registered
        .iter()
        .map(|r| r["appeal"].as_u64().unwrap())
        .collect();
    assert_eq!(
        appeals.len(),
        2,
        "each appeal registered once: {registered:?}"
    );
    for r in &registered {
        assert_eq!(
            r["number"],
            format!("СЭД-{}", r["appeal"]),
            "the СЭД's own number"
        );
        assert_eq!(r["operator"], "api:delo");
    }
    for id in &appeals {
        assert_eq!(
            steps(&env)[id],
            ["executor-assigned", "answered"],
            "appeal {id}: one executor, one answer"
        );
    }
    check_imports(&env.root.path().join("sed"), &appeals);
    // УРОГ is told: our report with the PDF, «Доклад направлен», the executor's «Исполнение»
    let out = env.outbound_names();
    let reports: Vec<&String> = out
        .iter()
        .filter(|n| n.starts_with("report-document"))
        .collect();
    assert_eq!(reports.len(), 2, "{out:?}");
    for r in reports {
        let dir = env.outbound.join(r);
        let sent = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "pdf" || x == "zip"))
            .count();
        assert_eq!(
            sent,
            1,
            "{}: the answer travels with the report",
            dir.display()
        );
    }

    // started again: the cursor was kept — nothing imported or applied again
    let again = client(&env, port, &token, Some("1")).output().unwrap();
    assert!(again.status.success());
    assert_eq!(String::from_utf8_lossy(&again.stdout), "", "nothing new");
    assert_eq!(env.records_of_kind("appeal_registered").len(), 2);
    assert_eq!(env.records_of_kind("appeal_progress").len(), 4);
    assert!(service.stop().success());
    env.verify_all();
}
