//! Appeals end to end through the binary: automatic registration and every refusal rule,
//! manual mode with operator commands, re-deliveries, signatures and the verifier, ДСП,
//! deadlines in listings, lookups by any number.

mod common;

use std::fs;

use common::env::{names, Env};
use common::packages::{address_elsewhere, cp1251_edit};

fn list_json(env: &Env, args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = vec!["appeals", "list", "--json"];
    all.extend_from_slice(args);
    let out = env.cmd(&all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout).unwrap()
}

fn year_suffix() -> String {
    let now =
        time::OffsetDateTime::now_utc().to_offset(time::UtcOffset::from_hms(3, 0, 0).unwrap());
    format!("{:02}", now.year() % 100)
}

#[test]
fn valid_appeals_are_registered_with_consecutive_numbers_and_notified() {
    let env = Env::new();
    env.drop_sample("urog-appeal-2.2", "a");
    env.drop_sample("urog-appeal-2.7.1", "b");
    env.once();
    let rows = list_json(&env, &[]);
    assert_eq!(rows.len(), 2);
    let yy = year_suffix();
    assert_eq!(rows[0]["number"], format!("ОГ-1/{yy}"));
    assert_eq!(rows[1]["number"], format!("ОГ-2/{yy}"));
    assert_eq!(rows[0]["status"], "зарегистрировано");
    // the 2.2 notice: «Зарегистрирован», foundation = УРОГ's letter, correspondent = us, num = ours
    let regs: Vec<String> = env
        .outbound_names()
        .into_iter()
        .filter(|n| n.starts_with("registered-"))
        .collect();
    assert_eq!(regs.len(), 2);
    for r in &regs {
        let out = common::bin()
            .args(["inspect", "--compact"])
            .arg(env.outbound.join(r))
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["header"]["type"], "Уведомление");
        assert_eq!(v["body"]["type"], "Зарегистрирован");
        assert_eq!(
            v["body"]["correspondent"]["organization"],
            "Федеральное агентство по образцам (пример)"
        );
        assert!(v["body"]["foundation"]["num"]["number"]
            .as_str()
            .unwrap()
            .starts_with("А26-02-"));
        assert!(v["body"]["detail"]["num"]["number"]
            .as_str()
            .unwrap()
            .starts_with("ОГ-"));
        let xml = env.outbound.join(r).join(if v["format"] == "2.2" {
            "document.xml"
        } else {
            "message.xml"
        });
        let schema = if v["format"] == "2.2" {
            common::schema("iedms_2x.xsd")
        } else {
            common::schema("iedms_271_derived.xsd")
        };
        common::xmllint_validate(&xml, &schema);
    }
    env.verify_all();
}

#[test]
fn a_redelivered_appeal_gets_the_same_notice_and_no_second_registration() {
    let env = Env::new();
    env.drop_sample("urog-appeal-2.2", "first");
    env.once();
    env.drop_sample("urog-appeal-2.2", "again");
    env.once();
    assert_eq!(env.records_of_kind("appeal_registered").len(), 1);
    let redelivered = env.records_of_kind("appeal_redelivered");
    assert_eq!(redelivered.len(), 1);
    let number = env.records_of_kind("appeal_registered")[0]["number"].clone();
    assert_eq!(
        redelivered[0]["outputs"][0]["registration"]["number"],
        number
    );
    let regs: Vec<String> = env
        .outbound_names()
        .into_iter()
        .filter(|n| n.starts_with("registered-"))
        .collect();
    assert_eq!(regs.len(), 2, "the notice is sent again");
}

#[test]
fn not_addressed_to_us_is_refused_with_addressing_error() {
    let env = Env::new();
    address_elsewhere(&env.drop_sample("urog-appeal-2.7.1", "elsewhere"));
    env.once();
    let refused = env.records_of_kind("appeal_refused");
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["reason"], "Ошибка адресации");
    let v = env.notice("refused-");
    assert_eq!(v["body"]["type"], "Отказано в регистрации");
    assert_eq!(v["body"]["detail"]["reason"], "Ошибка адресации");
    assert!(env.records_of_kind("appeal_registered").is_empty());
}

#[test]
fn no_document_text_is_refused() {
    let env = Env::new();
    let dir = env.drop_sample("urog-appeal-2.2", "notext");
    cp1251_edit(&dir.join("document.xml"), |t| {
        t.replace("Текст документа", "Текст приложения")
    });
    env.once();
    let refused = env.records_of_kind("appeal_refused");
    assert_eq!(refused[0]["reason"], "Отсутствует текст");
    assert_eq!(
        env.notice("refused-")["body"]["detail"]["reason_text"],
        "Отсутствует текст"
    );
}

#[test]
fn a_file_named_by_the_message_but_absent_is_refused_as_attachment_missing() {
    let env = Env::new();
    let dir = env.drop_sample("urog-appeal-2.2", "noattachment");
    fs::remove_file(dir.join("appeal.pdf")).unwrap();
    // the envelope no longer lists it (the transport is complete), the message still names it
    cp1251_edit(&dir.join("envelope.ini"), |t| {
        t.replace("1=appeal.pdf\r\n2=document.xml", "1=document.xml")
    });
    env.once();
    let refused = env.records_of_kind("appeal_refused");
    assert_eq!(refused.len(), 1, "{:?}", env.journal_lines());
    assert_eq!(refused[0]["reason"], "Приложение отсутствует");
    assert!(refused[0]["comment"]
        .as_str()
        .unwrap()
        .contains("appeal.pdf"));
}

#[test]
fn a_required_signature_that_is_absent_is_refused_and_a_present_one_recorded() {
    let env = Env::with(1, 3600, "");
    // without a verifier the setting is refused at start (issue 26 item 14)
    env.add_sections("[registration]\nrequire_signature = true");
    let out = env.cmd(&["run", "--once"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("требует signature_verifier"), "{err}");
    env.add_sections("signature_verifier = \"true {file} {signature}\"");
    env.drop_sample("urog-appeal-2.2", "unsigned");
    env.drop_sample("urog-appeal-2.7.1", "signed");
    env.once();
    let refused = env.records_of_kind("appeal_refused");
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["reason"], "Нет подписи");
    let received = env.records_of_kind("appeal_received");
    let signed = received.iter().find(|r| r["format"] == "2.7.1").unwrap();
    assert_eq!(signed["signatures"][0]["signature"], "cover-letter.pdf.p7s");
    assert_eq!(signed["signatures"][0]["encoding"], "base64");
    assert_eq!(signed["signatures"][0]["status"], "verified");
    assert_eq!(env.records_of_kind("appeal_registered").len(), 1);
}

#[test]
fn the_signature_verifier_decides_verified_or_held() {
    for (cmd, registered, status) in [
        ("true {file} {signature}", 1, "verified"),
        ("false {file} {signature}", 0, "invalid"),
    ] {
        let env = Env::new();
        env.add_sections(&format!("[registration]\nsignature_verifier = \"{cmd}\""));
        env.drop_sample("urog-appeal-2.7.1", "signed");
        env.once();
        let received = env.records_of_kind("appeal_received");
        assert_eq!(received[0]["signatures"][0]["status"], status, "{cmd}");
        assert_eq!(
            env.records_of_kind("appeal_registered").len(),
            registered,
            "{cmd}"
        );
        if registered == 0 {
            assert!(received[0]["held"]
                .as_str()
                .unwrap()
                .contains("did not verify"));
            assert!(
                env.outbound_names()
                    .iter()
                    .all(|n| n.starts_with("receipt-")),
                "no notice while held"
            );
        }
    }
}

#[test]
fn manual_mode_waits_for_the_operator() {
    let env = Env::new();
    env.add_sections("[registration]\nmode = \"manual\"\nnumber_template = \"{yyyy}/П-{seq:4}\"");
    env.drop_sample("urog-appeal-2.2", "a");
    env.drop_sample("urog-appeal-2.7.1", "b");
    env.once();
    let rows = list_json(&env, &[]);
    assert!(rows.iter().all(|r| r["status"] == "поступило"), "{rows:?}");
    assert!(env
        .outbound_names()
        .iter()
        .all(|n| n.starts_with("receipt-")));
    // due within 3 days (registration), nothing overdue yet
    assert_eq!(list_json(&env, &["--due-within", "3"]).len(), 2);
    assert_eq!(list_json(&env, &["--due-within", "2"]).len(), 0);
    assert_eq!(list_json(&env, &["--overdue"]).len(), 0);
    // register by the УРОГ number written with a Latin A, under the template
    let out = env.cmd(&["appeals", "register", "A26-02-1234567"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let year = time::OffsetDateTime::now_utc()
        .to_offset(time::UtcOffset::from_hms(3, 0, 0).unwrap())
        .year();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("{year}/П-0001")),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // a reason outside the nine is refused, nothing sent
    let out = env.cmd(&[
        "appeals",
        "refuse",
        "А26-02-7654321",
        "--reason",
        "Не нравится",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("не одно из девяти"));
    let out = env.cmd(&[
        "appeals",
        "refuse",
        "А26-02-7654321",
        "--reason",
        "Не подлежит регистрации",
        "--comment",
        "по договоренности",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        env.notice("refused-")["body"]["comment"],
        "по договоренности"
    );
    env.notice("registered-");
    // an appeal already decided cannot be decided again
    let out = env.cmd(&["appeals", "register", "А26-02-7654321"]);
    assert_eq!(out.status.code(), Some(1));
    // show by our number
    let out = env.cmd(&[
        "appeals",
        "show",
        &format!("{year}/П-0001"),
        "--json",
        "--pin",
    ]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "зарегистрировано");
    assert_eq!(v["decided_by"], "operator");
    assert_eq!(v["pin"].as_str().unwrap().len(), 10);
    assert_eq!(
        v["annotation"],
        "О направлении обращения гражданина для рассмотрения по компетенции"
    );
    assert!(!v.to_string().contains("pin_hash"));
    env.verify_all();
    assert!(names(&env.state.join("control"))
        .iter()
        .all(|n| n == "rejected" || n == "attempts"));
    assert!(
        names(&env.state.join("control/attempts")).is_empty(),
        "no attempt left noted"
    );
}

#[test]
fn an_operator_number_must_be_free() {
    let env = Env::new();
    env.add_sections("[registration]\nmode = \"manual\"");
    env.drop_sample("urog-appeal-2.2", "a");
    env.drop_sample("urog-appeal-2.7.1", "b");
    env.once();
    let ok = env.cmd(&["appeals", "register", "1", "--number", "ВХ-100"]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let taken = env.cmd(&["appeals", "register", "2", "--number", "ВХ-100"]);
    assert_eq!(taken.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&taken.stderr).contains("уже присвоен"));
}

/// Issue 14, item 4: a number an operator took by hand is never given again by the sequence.
#[test]
fn the_sequence_skips_a_number_taken_by_hand() {
    let env = Env::new();
    env.add_sections("[registration]\nmode = \"manual\"");
    env.drop_sample("urog-appeal-2.2", "a");
    env.drop_sample("urog-appeal-2.7.1", "b");
    env.once();
    let yy = year_suffix();
    env.ok(&[
        "appeals",
        "register",
        "1",
        "--number",
        &format!("ОГ-2/{yy}"),
    ]);
    env.ok(&["appeals", "register", "2"]);
    let numbers: Vec<String> = env
        .records_of_kind("appeal_registered")
        .iter()
        .map(|r| r["number"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(numbers, [format!("ОГ-2/{yy}"), format!("ОГ-3/{yy}")]);
}

#[test]
fn a_restricted_container_is_registered_and_flagged() {
    let env = Env::new();
    let dir = env.drop_sample("urog-appeal-2.7.1", "dsp");
    common::packages::make_restricted(&dir);
    env.once();
    let rows = list_json(&env, &[]);
    assert_eq!(rows[0]["restricted"], true);
    assert_eq!(rows[0]["status"], "зарегистрировано");
    let out = env.cmd(&["appeals", "list"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("ДСП"));
}

/// Issue 26 item 11: a slow signature verifier holds only the appeal it checks — the loop
/// runs on beside it (another appeal is registered meanwhile, `/healthz` stays 200), and the
/// signed appeal is decided with the verifier's answer once it comes.
#[cfg(unix)]
#[test]
fn a_slow_verifier_holds_only_its_own_appeal() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let script = env.root.path().join("slow-verifier.sh");
    fs::write(&script, "#!/bin/sh\nsleep 3\nexit 0\n").unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let port = env.listen_http();
    env.add_sections(&format!(
        "[registration]\nsignature_verifier = \"{} {{file}} {{signature}}\"\nsignature_timeout_secs = 30",
        script.display()
    ));
    let service = common::env::Service::start(&env);
    env.drop_sample("urog-appeal-2.7.1", "signed");
    env.drop_sample("urog-appeal-2.2", "unsigned");
    let started = std::time::Instant::now();
    while env.records_of_kind("appeal_registered").is_empty() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{}",
            service.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let first = env.records_of_kind("appeal_registered");
    assert_eq!(first.len(), 1);
    assert!(
        started.elapsed() < std::time::Duration::from_millis(2500),
        "the unsigned appeal waited for the verifier: {:?}",
        started.elapsed()
    );
    let health = {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    while env.records_of_kind("appeal_registered").len() < 2 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "{}",
            service.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let signed = env
        .records_of_kind("appeal_received")
        .into_iter()
        .find(|r| r["format"] == "2.7.1")
        .unwrap();
    assert_eq!(signed["signatures"][0]["status"], "verified");
    assert!(service.stop().success());
    env.verify_all();
}

/// Issue 26 item 14: where a verifier is configured it names the signer (its first line);
/// a signer that is none of the partner's `signer_names` is held «подпись не отправителя»
/// — the message XML alone does not say who sent it.
#[test]
fn a_signature_not_by_the_partner_is_held() {
    for (names, registered) in [
        ("[\"cn=ivanov\"]", 1),
        ("[\"Администрация Президента\"]", 0),
    ] {
        let env = Env::new();
        env.add_sections("[registration]\nsignature_verifier = \"echo CN=Ivanov {file}\"");
        let text = fs::read_to_string(&env.config).unwrap().replace(
            "format = \"mirror\"",
            &format!("format = \"mirror\"\nsigner_names = {names}"),
        );
        fs::write(&env.config, text).unwrap();
        env.drop_sample("urog-appeal-2.7.1", "signed");
        env.once();
        let received = env.records_of_kind("appeal_received");
        let sig = &received[0]["signatures"][0];
        assert_eq!(sig["status"], "verified", "{names}");
        assert!(
            sig["signer"].as_str().unwrap().starts_with("CN=Ivanov"),
            "{sig}"
        );
        assert_eq!(
            env.records_of_kind("appeal_registered").len(),
            registered,
            "{names}"
        );
        if registered == 0 {
            let held = received[0]["held"].as_str().unwrap();
            assert!(held.contains("подпись не отправителя"), "{held}");
        }
    }
}
