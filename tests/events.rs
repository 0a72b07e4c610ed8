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
        "at most 30 days",
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
        "already extended once",
    );

    // answered, with the answer file kept
    let answer = env.root.path().join("answer.pdf");
    fs::write(&answer, b"%PDF-1.4 answer").unwrap();
    fails(
        &env,
        &["appeals", "event", &number, "answered", "--result", "maybe"],
        "--result",
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
    assert_eq!(d["files"][0]["name"], "answer.pdf");
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
    fs::write(&small, b"%PDF-1.4 answer").unwrap();
    let out = answered(small.to_str().unwrap());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let kept = env.state.join("answers/1/answer.pdf");
    assert_eq!(fs::read(kept).unwrap(), b"%PDF-1.4 answer");
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
