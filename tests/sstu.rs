//! ССТУ.РФ export: one JSON per appeal with status-dependent fields, validated before
//! writing (an invalid appeal is reported, not written), optional ZIP.

mod common;

use std::fs;

use common::env::Env;

fn env_with_department() -> Env {
    let env = Env::new();
    env.add_sections("[sstu]\ndepartment_id = \"00000000-1111-4222-8333-444444444444\"");
    env.drop_sample("urog-appeal-2.2", "a");
    env.drop_sample("urog-appeal-2.7.1", "b");
    env.once();
    env
}

#[test]
fn appeals_without_a_card_or_answer_file_are_reported_not_written() {
    let env = env_with_department();
    let out_dir = env.root.path().join("export");
    let out = env.cmd(&["sstu", "export", "--out", out_dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("нет карточки заявителя"));
    assert!(
        fs::read_dir(&out_dir).unwrap().next().is_none(),
        "nothing written"
    );
}

#[test]
fn valid_appeals_export_with_their_status_fields() {
    let env = env_with_department();
    env.ok(&[
        "appeals",
        "card",
        "1",
        "--name",
        "Иванов Иван Иванович",
        "--code",
        "0003.0008.0086.0567",
        "--email",
        "a@example.invalid",
    ]);
    env.ok(&[
        "appeals",
        "card",
        "2",
        "--name",
        "Петров Пётр",
        "--code",
        "0001.0001.0001.0001",
        "--code",
        "0005.0005.0056.1149",
    ]);
    // card files hold personal data: private, and never in the journal
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(env.state.join("cards/1.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(!env
        .journal_lines()
        .iter()
        .any(|r| r.to_string().contains("Иванов Иван")));
    // 1 answered with a file (Supported, measures taken); 2 redirected
    let answer = env.root.path().join("answer.pdf");
    fs::write(&answer, medo_gateway::samples::minimal_pdf("answer")).unwrap();
    env.ok(&[
        "appeals",
        "event",
        "1",
        "answered",
        "--result",
        "supported-measures",
        "--file",
        answer.to_str().unwrap(),
    ]);
    env.ok(&[
        "appeals",
        "event",
        "2",
        "redirected",
        "--to",
        "Минтруд России",
        "--sstu-id",
        "55555555-6666-4777-8888-999999999999",
        "--number",
        "12-34",
    ]);
    let out_dir = env.root.path().join("export");
    let stdout = env.ok(&[
        "sstu",
        "export",
        "--out",
        out_dir.to_str().unwrap(),
        "--zip",
    ]);
    assert!(stdout.contains("упакован"), "{stdout}");
    // names, addresses, e-mails: only the owner reads them (issue 26 item 15)
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&out_dir), 0o700);
        for e in fs::read_dir(&out_dir).unwrap() {
            let p = e.unwrap().path();
            assert_eq!(mode(&p), 0o600, "{}", p.display());
        }
    }
    let one: serde_json::Value =
        serde_json::from_slice(&fs::read(out_dir.join("appeal-1.json")).unwrap()).unwrap();
    assert_eq!(one["departmentId"], "00000000-1111-4222-8333-444444444444");
    assert_eq!(one["format"], "Electronic");
    assert_eq!(one["isDirect"], false);
    assert_eq!(one["number"], "А26-02-1234567");
    assert_eq!(one["createDate"], "2026-11-19");
    assert_eq!(one["name"], "Иванов Иван Иванович");
    let q = &one["questions"][0];
    assert_eq!(q["status"], "Supported");
    assert_eq!(q["actionsTaken"], true);
    assert_eq!(q["attachment"]["name"], "answer.pdf");
    assert!(q["registrationDate"].as_str().unwrap() >= q["incomingDate"].as_str().unwrap());
    assert!(q["responseDate"].as_str().unwrap() >= q["registrationDate"].as_str().unwrap());
    let two: serde_json::Value =
        serde_json::from_slice(&fs::read(out_dir.join("appeal-2.json")).unwrap()).unwrap();
    assert_eq!(two["questions"].as_array().unwrap().len(), 2);
    assert_eq!(two["questions"][0]["status"], "Transferred");
    assert_eq!(
        two["questions"][0]["transfer"]["departmentId"],
        "55555555-6666-4777-8888-999999999999"
    );
    assert_eq!(two["questions"][0]["transfer"]["transferNumber"], "12-34");
    let z = zip::ZipArchive::new(fs::File::open(out_dir.join("sstu-001.zip")).unwrap()).unwrap();
    assert_eq!(z.len(), 2);
}

#[test]
fn a_result_without_its_answer_file_is_invalid() {
    let env = env_with_department();
    env.ok(&[
        "appeals",
        "card",
        "1",
        "--name",
        "Иванов",
        "--code",
        "0003.0008.0086.0567",
    ]);
    env.ok(&[
        "appeals",
        "card",
        "2",
        "--name",
        "Петров",
        "--code",
        "0003.0008.0086.0567",
    ]);
    env.ok(&["appeals", "event", "1", "answered", "--result", "explained"]);
    let out_dir = env.root.path().join("export");
    let out = env.cmd(&["sstu", "export", "--out", out_dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("нужен файл ответа"));
    assert!(!out_dir.join("appeal-1.json").exists());
    assert!(
        out_dir.join("appeal-2.json").exists(),
        "the valid one is still written"
    );
}
