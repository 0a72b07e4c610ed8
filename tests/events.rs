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
    let n = env.notice("report3-");
    assert_eq!(n["body"]["type"], "Доклад направлен");
    assert_eq!(
        n["body"]["detail"]["report"]["num"]["number"],
        number.as_str()
    );
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
        out.contains("рассматривается") || out.contains("queued"),
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
