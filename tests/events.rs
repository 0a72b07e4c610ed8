//! Steps of consideration reported by the SED (`appeals event …`): each is validated, journaled,
//! changes the status and sends its notice to УРОГ — with or without a running service.

mod common;

use std::fs;
use std::time::{Duration, Instant};

use common::env::{Env, Service};

fn fails(env: &Env, args: &[&str], expect: &str) {
    let out = env.cmd(args);
    assert_eq!(out.status.code(), Some(1), "{args:?} should be rejected");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(expect), "{args:?}: {err}");
}

fn show(env: &Env, id: &str) -> serde_json::Value {
    serde_json::from_str(&env.ok(&["appeals", "show", id, "--json"])).unwrap()
}

fn registered_env() -> Env {
    let env = Env::new();
    env.drop_sample("urog-appeal-2.2", "a");
    env.once();
    env
}

#[test]
fn executor_extension_and_answer_follow_the_lifecycle() {
    let env = registered_env();
    let number = show(&env, "1")["number"].as_str().unwrap().to_string();
    env.ok(&[
        "appeals",
        "event",
        &number,
        "executor-assigned",
        "--executor",
        "Иванов И.И.",
        "--post",
        "Начальник отдела",
    ]);
    let v = show(&env, &number);
    assert_eq!(v["status"], "рассматривается");
    let n = env.notice("executor1-");
    assert_eq!(n["body"]["type"], "Назначен исполнитель");
    assert_eq!(n["body"]["detail"]["executor"]["person"], "Иванов И.И.");
    common::xmllint_validate(
        &env.outbound
            .join(
                env.outbound_names()
                    .into_iter()
                    .find(|x| x.starts_with("executor1-"))
                    .unwrap(),
            )
            .join("document.xml"),
        &common::schema("iedms_2x.xsd"),
    );

    // one extension, at most 30 days past the due date
    let due = v["due"]["answer_by"].as_str().unwrap().to_string();
    let due_date = time::Date::parse(
        &due,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .unwrap();
    let too_far = (due_date + time::Duration::days(31)).to_string();
    fails(
        &env,
        &[
            "appeals", "event", &number, "extended", "--until", &too_far, "--reason", "x",
        ],
        "не более чем на 30 дней",
    );
    let until = (due_date + time::Duration::days(30)).to_string();
    env.ok(&[
        "appeals",
        "event",
        &number,
        "extended",
        "--until",
        &until,
        "--reason",
        "запрос в другой орган",
    ]);
    let v = show(&env, &number);
    assert_eq!(v["due"]["answer_by"], until);
    let n = env.notice("course2-");
    assert_eq!(n["body"]["type"], "Исполнение");
    assert!(n["body"]["detail"]["course_text"]
        .as_str()
        .unwrap()
        .contains("продлён"));
    assert!(v["history"].to_string().contains("продлено до"));
    fails(
        &env,
        &[
            "appeals", "event", &number, "extended", "--until", &until, "--reason", "again",
        ],
        "срок уже продлевался",
    );

    // answered, with the answer file kept
    let answer = env.root.path().join("answer.pdf");
    fs::write(&answer, medo_gateway::samples::minimal_pdf("answer")).unwrap();
    fails(
        &env,
        &["appeals", "event", &number, "answered", "--result", "maybe"],
        "результат (result)",
    );
    env.ok(&[
        "appeals",
        "event",
        &number,
        "answered",
        "--result",
        "explained",
        "--file",
        answer.to_str().unwrap(),
    ]);
    let v = show(&env, &number);
    assert_eq!(v["status"], "рассмотрено");
    assert_eq!(v["sstu_status"], "Explained");
    assert!(env.state.join("answers/1/answer.pdf").exists());
    // the answer went to УРОГ as our document (numbered from the outgoing sequence) with the
    // file, and «Доклад направлен» names that document
    let n = env.notice("report3-");
    assert_eq!(n["body"]["type"], "Доклад направлен");
    let ours = n["body"]["detail"]["report"]["num"]["number"]
        .as_str()
        .unwrap();
    assert!(ours.starts_with("ОЗ-1/"), "{ours}");
    let d = env.notice("report-document3-");
    assert_eq!(d["body"]["document"]["num"]["number"], ours);
    assert_eq!(
        d["body"]["document"]["links"][0]["link_type"],
        "Во исполнение"
    );
    // sent under a name of ours (outbox::package_name), whatever the operator called it
    let pdf = medo_gateway::samples::minimal_pdf("answer");
    assert_eq!(d["files"][0]["name"], common::package_name(&pdf));
    // nothing more once answered
    fails(
        &env,
        &[
            "appeals",
            "event",
            &number,
            "executor-assigned",
            "--executor",
            "X",
        ],
        "не применим",
    );
    env.verify_all();
}

#[test]
fn a_redirect_marks_the_appeal_sent_on() {
    let env = registered_env();
    fails(
        &env,
        &[
            "appeals",
            "event",
            "1",
            "redirected",
            "--to",
            "Минтруд России",
            "--sstu-id",
            "not-a-guid",
        ],
        "не GUID",
    );
    env.ok(&[
        "appeals",
        "event",
        "1",
        "redirected",
        "--to",
        "Минтруд России",
        "--sstu-id",
        "11111111-2222-4333-8444-555555555555",
        "--number",
        "12-34",
    ]);
    let v = show(&env, "1");
    assert_eq!(v["status"], "направлено");
    assert_eq!(v["sstu_status"], "Transferred");
    let n = env.notice("course1-");
    assert!(n["body"]["detail"]["course_text"]
        .as_str()
        .unwrap()
        .contains("Минтруд России (исх. № 12-34)"));
}

#[test]
fn steps_need_a_registered_appeal() {
    let env = Env::new();
    env.add_sections("[registration]\nmode = \"manual\"");
    env.drop_sample("urog-appeal-2.2", "a");
    env.once();
    fails(
        &env,
        &[
            "appeals",
            "event",
            "1",
            "executor-assigned",
            "--executor",
            "X",
        ],
        "поступило",
    );
}

#[test]
fn a_running_service_applies_the_step() {
    let env = registered_env();
    let service = Service::start(&env);
    let out = env.ok(&[
        "appeals",
        "event",
        "1",
        "executor-assigned",
        "--executor",
        "Петров П.П.",
    ]);
    assert!(
        out.contains("рассматривается") || out.contains("поставлено в очередь"),
        "{out}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !env
        .outbound_names()
        .iter()
        .any(|n| n.starts_with("executor1-"))
    {
        assert!(
            Instant::now() < deadline,
            "the service did not apply the step"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(service.stop().success());
    assert_eq!(show(&env, "1")["executor"], "Петров П.П.");
    env.verify_all();
}

/// Issue 14, item 8: an answer file is read by the CLI with the operator's rights and copied
/// into the queue (at most `limits.max_answer_bytes`); the service never opens a path it is
/// given — a command file naming a host path is refused, nothing is copied.
#[test]
fn answer_files_travel_as_copies_never_as_paths() {
    let env = registered_env();
    env.add_sections("[limits]\nmax_answer_bytes = 1000");
    let big = env.root.path().join("big.pdf");
    fs::write(&big, vec![b'x'; 1001]).unwrap();
    let big = big.to_str().unwrap().to_string();
    let answered = |file: &str| {
        env.cmd(&[
            "appeals",
            "event",
            "1",
            "answered",
            "--result",
            "explained",
            "--file",
            file,
        ])
    };
    let out = answered(&big);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("max_answer_bytes"));
    let out = answered("/dev/zero");
    assert_eq!(out.status.code(), Some(1), "not a regular file");
    // a command file written by hand that names a host path: refused by the service
    let control = env.state.join("control");
    fs::create_dir_all(&control).unwrap();
    fs::write(
        control.join("00000000000000000001-1.json"),
        r#"{"op":"progress","id":"1","step":{"step":"answered","result":"explained","file":"/etc/hostname"}}"#,
    )
    .unwrap();
    env.once();
    assert!(env.records_of_kind("appeal_progress").is_empty());
    let why =
        fs::read_to_string(control.join("rejected/00000000000000000001-1.error.txt")).unwrap();
    assert!(why.contains("путь не принимается"), "{why}");
    assert!(!env.state.join("answers").exists(), "nothing copied");
    // the CLI's copy of a small file is kept, the queue's copy removed
    let small = env.root.path().join("answer.pdf");
    fs::write(&small, medo_gateway::samples::minimal_pdf("answer")).unwrap();
    let out = answered(small.to_str().unwrap());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let kept = env.state.join("answers/1/answer.pdf");
    assert_eq!(
        fs::read(kept).unwrap(),
        medo_gateway::samples::minimal_pdf("answer")
    );
    let left: Vec<_> = fs::read_dir(control.join("files"))
        .map(|rd| rd.collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "the attachment is removed: {left:?}");
    let step = &env.records_of_kind("appeal_progress")[0]["step"];
    assert!(
        !step["file"].as_str().unwrap().starts_with('/'),
        "no host path journaled: {step}"
    );
}

/// The 21 KB "PDF" of issue 26 item 2: 3,000 nested dictionaries (lopdf 0.35 overflowed its
/// stack on it: the service aborted at every start).
fn nested_pdf() -> Vec<u8> {
    let nested = format!("{}1{}", "<< /A ".repeat(3000), " >>".repeat(3000));
    medo_gateway::samples::minimal_pdf_with("x", &nested)
}

/// Issue 26 items 2 and 3: the CLI refuses what does not read as a PDF (exit 1, «не PDF»),
/// and queues nothing.
#[test]
fn the_cli_refuses_an_answer_file_that_is_not_a_pdf() {
    let env = registered_env();
    let number = show(&env, "1")["number"].as_str().unwrap().to_string();
    let html = b"<html><!-- %PDF-1.4 --><script>alert(1)</script></html>".to_vec();
    for (name, bytes) in [("nested.pdf", nested_pdf()), ("page.pdf", html)] {
        let file = env.root.path().join(name);
        fs::write(&file, bytes).unwrap();
        let f = file.to_str().unwrap();
        fails(
            &env,
            &[
                "appeals",
                "event",
                &number,
                "answered",
                "--result",
                "explained",
                "--file",
                f,
            ],
            "не PDF",
        );
    }
    assert!(env.records_of_kind("appeal_progress").is_empty());
    let queued = fs::read_dir(env.state.join("control"))
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .count();
    assert_eq!(queued, 0, "nothing queued");
}

/// Queues by hand (as an earlier version would have) an answer with `file` attached.
fn queue_answer(env: &Env, number: &str, file: &[u8]) -> std::path::PathBuf {
    let files = env.state.join("control/files/0001");
    fs::create_dir_all(&files).unwrap();
    fs::write(files.join("answer.pdf"), file).unwrap();
    let command = serde_json::json!({
        "op": "progress", "id": number,
        "step": {"step": "answered", "result": "explained", "file": "0001/answer.pdf"}
    });
    let path = env.state.join("control/00000000000000000001-1.json");
    fs::write(&path, command.to_string()).unwrap();
    path
}

/// A second appeal, dropped into inbound.
fn drop_second_appeal(env: &Env) {
    let dir = env.drop_sample("urog-appeal-2.2", "b");
    common::packages::new_document(&dir, 2, "Обращение", "А26-02-7654321", "второе");
}

/// Issue 26 item 2: a hostile file already in the queue is refused with its reason (never
/// a crash), and an appeal that arrived after it is answered in the same run.
#[test]
fn a_hostile_file_in_the_queue_is_refused_and_intake_goes_on() {
    let env = registered_env();
    let number = show(&env, "1")["number"].as_str().unwrap().to_string();
    let command = queue_answer(&env, &number, &nested_pdf());
    drop_second_appeal(&env);
    env.once();
    assert_eq!(env.records_of_kind("appeal_registered").len(), 2);
    assert!(env.records_of_kind("appeal_progress").is_empty());
    let why = fs::read_to_string(
        env.state
            .join("control/rejected")
            .join(command.file_name().unwrap())
            .with_extension("error.txt"),
    )
    .unwrap();
    assert!(why.contains("не PDF"), "{why}");
}

/// Issue 26 item 2: a command the process keeps dying on (a named fault point stands for
/// whatever crashed it) is tried `POISON_AFTER` times, then set aside as poisoned —
/// journaled, counted — and the service goes on: the appeal that arrived after it is
/// registered.
#[test]
fn a_command_that_keeps_crashing_the_service_is_set_aside() {
    let env = registered_env();
    let number = show(&env, "1")["number"].as_str().unwrap().to_string();
    let command = queue_answer(&env, &number, &medo_gateway::samples::minimal_pdf("a"));
    drop_second_appeal(&env);
    for _ in 0..medo_gateway::control::POISON_AFTER {
        env.crash_at("in-command", &["run", "--once"]);
    }
    env.once();
    let poisoned = env.records_of_kind("command_poisoned");
    assert_eq!(poisoned.len(), 1, "journaled once");
    assert_eq!(poisoned[0]["command"], "00000000000000000001-1");
    assert_eq!(poisoned[0]["about"], number.as_str());
    assert_eq!(poisoned[0]["op"], "progress");
    assert!(env.records_of_kind("appeal_progress").is_empty());
    assert_eq!(env.records_of_kind("appeal_registered").len(), 2);
    let aside = env
        .state
        .join("control/poisoned")
        .join(command.file_name().unwrap());
    assert!(aside.exists() && !command.exists());
    assert!(fs::read_to_string(aside.with_extension("error.txt"))
        .unwrap()
        .contains("аварийно"));
    assert!(!env.state.join("control/files/0001").exists());
    // never tried again
    env.once();
    assert_eq!(env.records_of_kind("command_poisoned").len(), 1);
    // shown on the dashboard, with why
    let port = env.listen_http();
    let service = Service::start(&env);
    let page = (0..100)
        .find_map(|_| {
            use std::io::{Read, Write};
            std::thread::sleep(Duration::from_millis(50));
            let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
            s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .ok()?;
            let mut out = String::new();
            s.read_to_string(&mut out).ok()?;
            Some(out)
        })
        .expect("the dashboard");
    assert!(
        page.contains("команда отложена") && page.contains("аварийно"),
        "{page}"
    );
    drop(service);
    env.verify_all();
}

/// Runs the CLI as the login `who` (no `sudo`).
fn as_user(env: &Env, who: &str, args: &[&str]) -> std::process::Output {
    common::bin()
        .arg("--config")
        .arg(&env.config)
        .args(args)
        .env("USER", who)
        .env_remove("SUDO_USER")
        .output()
        .unwrap()
}

/// Issue 26 item 6: who refused and who reported a step is journaled (`operator`, as
/// registration journals it), shown by `appeals show` and carried by the feed.
#[test]
fn who_refused_and_who_reported_a_step_is_journaled_and_shown() {
    let env = Env::new();
    env.add_sections("[registration]\nmode = \"manual\"");
    env.drop_sample("urog-appeal-2.2", "a");
    drop_second_appeal(&env);
    env.once();
    let out = as_user(
        &env,
        "petrova",
        &["appeals", "refuse", "2", "--reason", "Отсутствует текст"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = as_user(&env, "ivanova", &["appeals", "register", "1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let args = [
        "appeals",
        "event",
        "1",
        "executor-assigned",
        "--executor",
        "Иванов И.И.",
    ];
    let out = as_user(&env, "sidorov", &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        env.records_of_kind("appeal_refused")[0]["operator"],
        "petrova"
    );
    assert_eq!(
        env.records_of_kind("appeal_registered")[0]["operator"],
        "ivanova"
    );
    assert_eq!(
        env.records_of_kind("appeal_progress")[0]["operator"],
        "sidorov"
    );
    let shown = env.ok(&["appeals", "show", "2"]);
    assert!(shown.contains("оператором petrova"), "{shown}");
    let shown = env.ok(&["appeals", "show", "1"]);
    assert!(shown.contains("оператором ivanova"), "{shown}");
    assert!(shown.contains("(оператором sidorov)"), "{shown}");
    env.verify_all();
}
