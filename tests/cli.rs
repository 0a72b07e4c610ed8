//! The binary: `--help` on every command, `inspect` output and exit codes, `samples`
//! reproducing the committed sample spool byte for byte.

mod common;

use std::fs;
use std::path::Path;

use common::bin;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn help_is_available_on_every_command() {
    let commands: [&[&str]; 24] = [
        &["--help"],
        &["help"],
        &["inspect", "--help"],
        &["samples", "--help"],
        &["run", "--help"],
        &["journal", "--help"],
        &["journal", "verify", "--help"],
        &["journal", "export", "--help"],
        &["store", "rebuild", "--help"],
        &["store", "verify", "--help"],
        &["spool", "retry", "--help"],
        &["appeals", "list", "--help"],
        &["appeals", "show", "--help"],
        &["appeals", "register", "--help"],
        &["appeals", "refuse", "--help"],
        &["appeals", "--help"],
        &["appeals", "event", "--help"],
        &["appeals", "event", "1", "extended", "--help"],
        &["spool", "status", "--help"],
        &["spool", "list", "--help"],
        &["spool", "show", "--help"],
        &["sstu", "export", "--help"],
        &["journal", "checkpoint", "pubkey", "--help"],
        &["journal", "checkpoint", "verify", "--help"],
    ];
    for args in commands {
        let out = bin().args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Usage: medo-gateway"), "{args:?}: {text}");
    }
    let out = bin().arg("no-such-command").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// Generates the samples into a fresh folder.
fn samples_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let out = bin()
        .current_dir(root())
        .args(["samples", "--out"])
        .arg(d.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    d
}

#[test]
fn inspect_prints_the_summary_of_each_sample() {
    let d = samples_dir();
    let out = bin()
        .current_dir(d.path())
        .args([
            "inspect",
            "--compact",
            "urog-appeal-2.2",
            "urog-appeal-2.7.1",
            "urog-receipt-2.7.1",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    let appeal = &lines[0];
    assert_eq!(appeal["format"], "2.2");
    assert_eq!(appeal["header"]["type"], "Документ");
    assert_eq!(
        appeal["body"]["document"]["num"]["number"],
        "А26-02-1234567"
    );
    assert_eq!(
        appeal["envelope"]["subject"],
        "ЭСД МЭДО (А26-02-1234567 от 19.11.2026)"
    );
    assert_eq!(appeal["files"].as_array().unwrap().len(), 3);
    assert_eq!(appeal["files"][0]["sha256"].as_str().unwrap().len(), 64);
    let container = &lines[1];
    assert_eq!(container["format"], "2.7.1");
    assert_eq!(container["header"]["type"], "Транспортный контейнер");
    assert_eq!(
        container["container"]["passport"]["authors"][0]["registration_number"],
        "А26-02-7654321"
    );
    assert_eq!(
        container["container"]["passport"]["classification"]["id"],
        "DC00000000"
    );
    assert_eq!(container["restricted"], false);
    assert_eq!(
        container["container"]["entries"].as_array().unwrap().len(),
        4
    );
    assert_eq!(lines[2]["body"]["kind"], "acknowledgment");
    assert_eq!(lines[2]["body"]["accepted"], true);
}

#[test]
fn inspect_names_the_file_and_problem_and_exits_1() {
    let d = tempfile::tempdir().unwrap();
    fs::write(
        d.path().join("envelope.ini"),
        "[ПИСЬМО КП ПС СЗИ]\n[ФАЙЛЫ]\n0=document.xml\n",
    )
    .unwrap();
    fs::write(
        d.path().join("document.xml"),
        "<xdms:communication xmlns:xdms=\"http://www.infpres.com/IEDMS\">",
    )
    .unwrap();
    let out = bin().args(["inspect"]).arg(d.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("document.xml: malformed XML"), "{err}");
    assert!(err.contains("[malformed-xml]"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn an_invalid_config_is_a_usage_error() {
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("bad.toml");
    fs::write(&cfg, "[gateway]\nparticipant_uid = \"nope\"\norganization = \"x\"\n[spool]\ninbound=\"i\"\noutbound=\"o\"\nstate_dir=\"s\"\n").unwrap();
    let out = bin()
        .arg("--config")
        .arg(&cfg)
        .args(["inspect", "."])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("participant_uid должен быть GUID"));
}

/// Issue 17, item 7: the spool tools check the transport folders as `run` does (exit 2,
/// naming the key), and take every state they list.
#[test]
fn spool_tools_check_the_folders_and_take_every_state() {
    let env = common::env::Env::new();
    for state in ["vanished", "rejected", "outbound"] {
        env.ok(&["spool", "list", "--state", state]);
    }
    fs::remove_dir(&env.inbound).unwrap();
    for args in [
        &["spool", "status"][..],
        &["spool", "list"],
        &["run", "--once"],
    ] {
        let out = env.cmd(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("[spool] inbound"), "{args:?}: {err}");
    }
}

/// Every file under `dir`, relative path → bytes.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for pkg in fs::read_dir(dir).unwrap() {
        let pkg = pkg.unwrap().path();
        if !pkg.is_dir() {
            continue;
        }
        for f in fs::read_dir(&pkg).unwrap() {
            let f = f.unwrap().path();
            let rel = f.strip_prefix(dir).unwrap().display().to_string();
            out.push((rel, fs::read(&f).unwrap()));
        }
    }
    out.sort();
    out
}

#[test]
fn samples_are_deterministic_and_readable() {
    let (a, b) = (samples_dir(), samples_dir());
    let generated = tree(a.path());
    assert_eq!(generated.len(), 9);
    assert!(generated == tree(b.path()), "two runs of `samples` differ");
    for pkg in fs::read_dir(a.path()).unwrap() {
        let pkg = pkg.unwrap().path();
        let out = bin().arg("inspect").arg(&pkg).output().unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            pkg.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `inspect … | head`: the reader goes away after a line; the command ends quietly, as Unix
/// tools do (killed by SIGPIPE), never with a panic about a broken pipe.
#[test]
fn inspect_into_a_closed_pipe_ends_quietly() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::ExitStatusExt;
    let d = samples_dir();
    let folders = vec!["urog-appeal-2.7.1"; 2000];
    let mut child = bin()
        .current_dir(d.path())
        .arg("inspect")
        .args(&folders)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with('{'), "{first}");
    // the reader is dropped here: the pipe is closed with most of the output unwritten
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        out.status.success() || out.status.signal() == Some(libc::SIGPIPE),
        "{:?}: {stderr}",
        out.status
    );
}

/// Issue 26 item 22: an unknown appeal is a refused request — exit 1, said in Russian — for
/// `show` and for every command about an appeal; `api token NAME` without `--scopes` grants
/// `read` only.
#[test]
fn an_unknown_appeal_exits_1_and_a_new_token_reads_only() {
    let env = common::env::Env::new();
    env.deliver("urog-appeal-2.2", "a");
    for args in [
        &["appeals", "show", "999"][..],
        &[
            "appeals",
            "event",
            "999",
            "executor-assigned",
            "--executor",
            "X",
        ],
        &["appeals", "refuse", "999", "--reason", "Отсутствует текст"],
    ] {
        let out = env.cmd(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("нет обращения"),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = env.ok(&["api", "token", "reader"]);
    assert!(out.contains("scopes = [\"read\"]"), "{out}");
}

/// Issue 26 item 22: under systemd (stderr is journald's stream, `JOURNAL_STREAM` set) every
/// log line starts with its syslog priority, which journald takes for the level — so
/// `journalctl -p warning` finds the warnings; at a terminal or in a pipe otherwise, none.
#[cfg(unix)]
#[test]
fn log_lines_carry_their_level_for_journald() {
    use std::os::unix::fs::PermissionsExt;
    let env = common::env::Env::new();
    fs::create_dir_all(&env.state).unwrap();
    fs::set_permissions(&env.state, fs::Permissions::from_mode(0o755)).unwrap();
    let out = bin()
        .arg("--config")
        .arg(&env.config)
        .args(["--log-format", "json", "run", "--once"])
        .env("JOURNAL_STREAM", "8:12345")
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let warning = err
        .lines()
        .find(|l| l.contains("state_dir was readable"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(warning.starts_with("<4>{"), "{warning}");
    assert!(
        err.lines()
            .filter(|l| !l.is_empty())
            .all(|l| l.starts_with('<')),
        "{err}"
    );
    // not under systemd: plain lines
    fs::set_permissions(&env.state, fs::Permissions::from_mode(0o755)).unwrap();
    let out = env.cmd(&["--log-format", "json", "run", "--once"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.lines().all(|l| l.is_empty() || l.starts_with('{')),
        "{err}"
    );
}
