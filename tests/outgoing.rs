//! Our documents as real senders write them (issue 15): from 2.7 on, an answer travels as a
//! «Транспортный контейнер» — a flat `.edc.zip` holding `passport.xml` and the files, the
//! message beside it naming the ZIP — and its shape is compared with the real federal
//! packages in `../shared/spec/data/real_packages/` (read in place).

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use common::env::Env;
use common::packages::{real, rewrite_container, shape, unzip};

/// Makes a copy of the 2.7.1 sample container a УРОГ query: fresh uids, kind «Запрос», its
/// number and an annotation naming `names`; `as_27` rewrites it as a 2.7 package.
fn container_query(dir: &Path, n: u32, number: &str, names: &str, as_27: bool) {
    let header_uid = format!("{n:08x}-0001-4000-8000-000000000000");
    let doc_uid = format!("{n:08x}-0002-4000-8000-000000000000");
    let msg = dir.join("message.xml");
    let mut text = fs::read_to_string(&msg).unwrap();
    let at = text.find("xdms:uid=\"").unwrap() + 10;
    text.replace_range(at..at + 36, &header_uid);
    if as_27 {
        text = text
            .replace("urn:IEDMS:MESSAGE", "http://www.infpres.com/IEDMS")
            .replace("xdms:version=\"2.7.1\"", "xdms:version=\"2.7\"");
        let cut = text.find("  <xdms:deliveryIndex>").unwrap();
        let end = text.find("</xdms:deliveryIndex>").unwrap() + 21;
        text.replace_range(cut..end, "");
        fs::remove_file(&msg).unwrap();
        fs::write(dir.join("document.xml"), &text).unwrap();
        common::packages::cp1251_edit(&dir.join("envelope.ini"), |e| {
            e.replace("message.xml", "document.xml")
        });
    } else {
        fs::write(&msg, &text).unwrap();
    }
    rewrite_container(
        dir,
        |name, bytes| {
            if name != "passport.xml" {
                return bytes;
            }
            let p = String::from_utf8(bytes).unwrap();
            let p = p
                .replace("0e12c1ce-4f39-50b2-a9bd-4a365a5cc024", &doc_uid)
                .replace(">Письмо<", ">Запрос<")
                .replace("А26-02-7654321", number)
                .replace(
                    "О направлении обращения гражданина для рассмотрения по компетенции",
                    &format!("О ходе рассмотрения обращений {names}"),
                );
            let p = if as_27 {
                p.replace("urn:IEDMS:CONTAINER", "http://minsvyaz.ru/container")
            } else {
                p
            };
            p.into_bytes()
        },
        &[],
    );
}

fn response_dir(env: &Env) -> PathBuf {
    let found: Vec<String> = env
        .outbound_names()
        .into_iter()
        .filter(|n| n.starts_with("response"))
        .collect();
    assert_eq!(found.len(), 1, "{:?}", env.outbound_names());
    env.outbound.join(&found[0])
}

/// Checks a written container answer in `format` against the real packages of that format.
fn check_container_answer(env: &Env, format: &str, query_number: &str) {
    let dir = response_dir(env);
    let names = common::env::names(&dir);
    let message_file = if format == "2.7.1" {
        "message.xml"
    } else {
        "document.xml"
    };
    let zip_name = names
        .iter()
        .find(|n| n.ends_with(".edc.zip"))
        .unwrap()
        .clone();
    assert_eq!(
        names.len(),
        3,
        "envelope, message and container only: {names:?}"
    );
    assert!(names.contains(&message_file.to_string()), "{names:?}");
    // the envelope lists the ZIP and the message (the XML last)
    let env_text = encoding_rs::WINDOWS_1251
        .decode(&fs::read(dir.join("envelope.ini")).unwrap())
        .0
        .into_owned();
    assert!(
        env_text.contains(&format!("[ФАЙЛЫ]\r\n0={zip_name}\r\n1={message_file}")),
        "{env_text}"
    );
    assert!(env_text.contains("ТЕМА=№ ОЗ-1/"), "{env_text}");
    // the message: a container naming the ZIP
    let message = fs::read(dir.join(message_file)).unwrap();
    let message_shape = shape(&message);
    let text = String::from_utf8_lossy(&message).into_owned();
    if format == "2.7.1" {
        assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"));
        assert!(message_shape.contains("communication/deliveryIndex/destination/destination"));
    }
    let message_schema = match format {
        "2.7.1" => "iedms_271_derived.xsd",
        _ => "iedms_27_derived.xsd",
    };
    common::xmllint_validate(&dir.join(message_file), &common::schema(message_schema));
    // the ZIP: flat, the passport first, then the PDF and the items
    let entries = unzip(&dir.join(&zip_name));
    let entry_names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        entry_names,
        ["passport.xml", "response.pdf", "response.xml"]
    );
    assert!(entries[1].1.starts_with(b"%PDF-"));
    let passport = &entries[0].1;
    let ptext = String::from_utf8(passport.clone()).unwrap();
    let ns = match format {
        "2.7.1" => "urn:IEDMS:CONTAINER",
        _ => "http://minsvyaz.ru/container",
    };
    assert!(ptext.contains(&format!("xmlns:c=\"{ns}\"")), "{ptext}");
    for needle in [
        "<c:documentKind c:id=\"DK00000000\">Ответ на запрос</c:documentKind>",
        "<c:classification c:id=\"DC00000000\">Обычная информация</c:classification>",
        "<c:title>Федеральное агентство по образцам (пример)</c:title>",
        "<c:number>ОЗ-1/",
        "<c:title>УРОГ</c:title>",
        "<c:document c:localName=\"response.pdf\">",
        "<c:attachment c:localName=\"response.xml\">\n      <c:order>1</c:order>",
        "c:type=\"В ответ на\"",
        &format!("<c:number>{query_number}</c:number>"),
    ] {
        assert!(ptext.contains(needle), "{needle} not in\n{ptext}");
    }
    // read back through our own reader
    let v = common::env::inspect(&dir);
    assert_eq!(v["header"]["type"], "Транспортный контейнер");
    assert_eq!(
        v["container"]["passport"]["kind"]["text"],
        "Ответ на запрос"
    );
    assert_eq!(v["container"]["missing"].as_array().unwrap().len(), 0);
    assert_eq!(
        v["container"]["passport"]["links"][0]["number"],
        query_number
    );
    // the real packages' shape: the message has exactly theirs; every passport element we
    // write is one a real sender wrote (links: Tessa's vocabulary, not in these three)
    let real_message = match format {
        "2.7.1" => "70178878_container.xml",
        _ => "38773995_document.xml",
    };
    let Some(theirs) = real(real_message) else {
        common::skipped("comparison with the real packages: spec data not found");
        return;
    };
    assert_eq!(
        message_shape,
        shape(&theirs),
        "message shape differs from {real_message}"
    );
    assert_passport_as_real_senders_write(passport);
}

/// Every element of our passport is one a real sender wrote (the vocabulary is the same in
/// 2.7 and 2.7.1: all three real passports count; links are Tessa's, not in these three).
fn assert_passport_as_real_senders_write(passport: &[u8]) {
    let mut known = BTreeSet::new();
    for p in [
        "70178878_container_passport.xml",
        "38773995_container_passport.xml",
        "gd2_container_passport.xml",
    ] {
        let Some(bytes) = real(p) else { return };
        known.extend(shape(&bytes));
    }
    let ours: BTreeSet<String> = shape(passport)
        .into_iter()
        .filter(|p| !p.starts_with("container/requisites/links"))
        .collect();
    let unknown: Vec<&String> = ours.difference(&known).collect();
    assert!(
        unknown.is_empty(),
        "not written by real senders: {unknown:?}"
    );
}

/// An appeal, then a container query about it in 2.7 or 2.7.1 (`n`: its number's tail),
/// answered under `mirror`; the answer checked.
fn container_query_answered(as_27: bool, n: u32) -> Env {
    let env = Env::new();
    env.drop_sample("urog-appeal-2.2", "appeal");
    env.once();
    let q = env.drop_sample("urog-appeal-2.7.1", "query");
    let number = format!("А26-05-{n}");
    container_query(&q, n, &number, "А26-02-1234567", as_27);
    env.once();
    assert_eq!(env.records_of_kind("query_answered").len(), 1);
    check_container_answer(&env, if as_27 { "2.7" } else { "2.7.1" }, &number);
    env
}

#[test]
fn a_271_container_query_is_answered_with_a_271_container() {
    container_query_answered(false, 901).verify_all();
}

#[test]
fn a_27_container_query_under_mirror_is_answered_with_a_27_container() {
    container_query_answered(true, 902).verify_all();
}

#[test]
fn a_partner_fixed_at_27_gets_a_container_for_a_22_query() {
    let env = Env::new();
    let text = fs::read_to_string(&env.config)
        .unwrap()
        .replace("format = \"mirror\"", "format = \"2.7\"");
    fs::write(&env.config, text).unwrap();
    let q = env.drop_sample("urog-appeal-2.2", "query");
    common::packages::new_document(&q, 903, "Запрос", "А26-05-903", "О ходе А26-02-1234567");
    env.once();
    check_container_answer(&env, "2.7", "А26-05-903");
}

/// The МЭДО operator's real error receipt (public fragment), copied into inbound with its
/// acknowledgment uid and rejected file name replaced.
fn operator_error(env: &Env, as_name: &str, uid: &str, file: &str) -> bool {
    let Some(data) = common::spec_data() else {
        common::skipped("spec data (public_fragments) not found");
        return false;
    };
    // made beside inbound and moved in whole (a running service may be watching)
    let dir = env.root.path().join(format!("staging-{as_name}"));
    common::env::copy_dir(&data.join("public_fragments/frag_medo_error_ack"), &dir);
    let msg = dir.join("document.xml");
    let xml = fs::read_to_string(&msg)
        .unwrap()
        .replace(
            "xdms:acknowledgment xdms:uid=\"00000000-0000-0000-0000-000000000000\"",
            &format!("xdms:acknowledgment xdms:uid=\"{uid}\""),
        )
        .replace("originalMessage.zip", file)
        .replace(
            "9f0e8a52-1c3b-4f6e-9d2a-7b5c4e3f2a12",
            &format!("9f0e8a52-1c3b-4f6e-9d2a-{:012}", as_name.len()),
        );
    let _ = fs::set_permissions(&msg, std::os::unix::fs::PermissionsExt::from_mode(0o644));
    fs::write(&msg, xml).unwrap();
    fs::rename(&dir, env.inbound.join(as_name)).unwrap();
    true
}

/// An answer waiting for its receipt, with its message uid and container name.
fn answered_271(env: &Env) -> (String, String) {
    env.add_sections("[receipts]\nresend_after_secs = [1]");
    let q = env.drop_sample("urog-appeal-2.7.1", "query");
    container_query(&q, 904, "А26-05-904", "А26-02-1234567", false);
    env.once();
    let uid = env.records_of_kind("query_answered")[0]["outputs"][0]["message_uid"]
        .as_str()
        .unwrap()
        .to_string();
    let zip = common::env::names(&response_dir(env))
        .into_iter()
        .find(|n| n.ends_with(".edc.zip"))
        .unwrap();
    (uid, zip)
}

/// The rejection is journaled, listed, and the answer is not sent again.
fn check_rejected(env: &Env, uid: &str) {
    let got = env.records_of_kind("receipt_received");
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["about_uid"], uid);
    assert_eq!(got[0]["by_operator"], true);
    assert_eq!(got[0]["error_code"], "248");
    assert!(got[0]["output"].as_str().unwrap().starts_with("response"));
    assert!(
        env.records_of_kind("quarantined").is_empty(),
        "not quarantined"
    );
    let list = env.ok(&["spool", "list"]);
    assert!(
        list.contains("отклонено оператором МЭДО (код 248"),
        "{list}"
    );
    std::thread::sleep(std::time::Duration::from_millis(1100));
    env.once();
    assert!(
        env.records_of_kind("resent").is_empty(),
        "a rejected message is not re-sent"
    );
    env.verify_all();
}

/// An answer, then the МЭДО operator's error receipt naming `uid` (`None`: ours) and `file`
/// (`None`: our container) processed; false when the spec data is missing (skipped).
fn answered_then_rejected(env: &Env, uid: Option<&str>, file: Option<&str>) -> Option<String> {
    let (ours, zip) = answered_271(env);
    let uid = uid.unwrap_or(&ours);
    let file = file.unwrap_or(&zip);
    operator_error(env, "medo-error", uid, file).then(|| {
        env.once();
        ours
    })
}

const ZERO_UID: &str = "00000000-0000-0000-0000-000000000000";

#[test]
#[cfg_attr(
    medo_no_spec_data,
    ignore = "../shared/spec/data not found (the real МЭДО operator receipt)"
)]
fn an_operator_error_receipt_about_our_answer_is_journaled_listed_and_stops_resends() {
    let env = Env::new();
    if let Some(uid) = answered_then_rejected(&env, None, Some("originalMessage.zip")) {
        check_rejected(&env, &uid);
    }
}

#[test]
#[cfg_attr(
    medo_no_spec_data,
    ignore = "../shared/spec/data not found (the real МЭДО operator receipt)"
)]
fn a_zero_uid_operator_rejection_is_tied_by_the_file_it_names() {
    let env = Env::new();
    if let Some(uid) = answered_then_rejected(&env, Some(ZERO_UID), None) {
        check_rejected(&env, &uid);
    }
}

#[test]
#[cfg_attr(
    medo_no_spec_data,
    ignore = "../shared/spec/data not found (the real МЭДО operator receipt)"
)]
fn an_operator_receipt_about_nothing_of_ours_stays_quarantined() {
    let env = Env::new();
    if answered_then_rejected(&env, Some(ZERO_UID), Some("unknown.zip")).is_none() {
        return;
    }
    assert!(env.records_of_kind("receipt_received").is_empty());
    let q = env.records_of_kind("quarantined");
    assert_eq!(q.len(), 1);
    // with its own reason (issue 26 item 15), not «add the sender under [[partners]]»
    assert_eq!(q[0]["code"], "operator-receipt-not-ours");
    let message = q[0]["message"].as_str().unwrap();
    assert!(
        message.contains("не относится ни к одному нашему"),
        "{message}"
    );
    assert!(!message.contains("[[partners]]"), "{message}");
}

#[test]
fn a_report_with_a_pdf_goes_as_a_container_and_the_notice_names_it() {
    let env = Env::new();
    env.add_sections(
        "[documents]\nsigner_post = \"Руководитель\"\nsigner_name = \"Иванов И.И.\"\nexecutor_name = \"Петрова А.А.\"\nexecutor_phone = \"+7 495 000-00-00\"\nplace = \"г. Москва\"\n",
    );
    env.drop_sample("urog-appeal-2.7.1", "appeal");
    env.once();
    let number = env.records_of_kind("appeal_registered")[0]["number"]
        .as_str()
        .unwrap()
        .to_string();
    let answer = env.root.path().join("answer.pdf");
    let pdf = medo_gateway::pdf::text_pdf("Ответ", &"Текст ответа заявителю.\n".repeat(80));
    let pages = medo_gateway::pdf::page_count(&pdf).unwrap();
    assert!(pages > 1);
    fs::write(&answer, &pdf).unwrap();
    let not_pdf = env.root.path().join("answer.docx");
    fs::write(&not_pdf, b"PK\x03\x04 not a pdf").unwrap();
    let refused = env.cmd(&[
        "appeals",
        "event",
        &number,
        "answered",
        "--result",
        "explained",
        "--file",
        not_pdf.to_str().unwrap(),
    ]);
    assert!(
        !refused.status.success(),
        "a file that is not a PDF is refused"
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
    let found: Vec<String> = env
        .outbound_names()
        .into_iter()
        .filter(|n| n.starts_with("report-document"))
        .collect();
    assert_eq!(found.len(), 1, "{:?}", env.outbound_names());
    let dir = env.outbound.join(&found[0]);
    let zip = common::env::names(&dir)
        .into_iter()
        .find(|n| n.ends_with(".edc.zip"))
        .expect("a container");
    let entries = unzip(&dir.join(zip));
    assert_eq!(entries[0].0, "passport.xml");
    assert!(
        entries[1] == (common::package_name(&pdf), pdf.clone()),
        "the PDF under our name"
    );
    let passport = String::from_utf8(entries[0].1.clone()).unwrap();
    for needle in [
        "<c:documentKind c:id=\"DK00000000\">Доклад</c:documentKind>",
        "c:type=\"Во исполнение\"",
        "<c:number>А26-02-7654321</c:number>",
        &format!("<c:document c:localName=\"{}\">", common::package_name(&pdf)),
        &format!("<c:pagesQuantity>{pages}</c:pagesQuantity>"),
        "<c:number>ОЗ-1/",
        "<c:documentPlace>г. Москва</c:documentPlace>",
        "<c:post>Руководитель</c:post>\n          <c:name>Иванов И.И.</c:name>",
        "<c:executor>\n        <c:name>Петрова А.А.</c:name>\n        <c:phone>+7 495 000-00-00</c:phone>",
    ] {
        assert!(passport.contains(needle), "{needle} not in\n{passport}");
    }
    assert_passport_as_real_senders_write(passport.as_bytes());
    let file = env.root.path().join("passport.xml");
    fs::write(&file, &passport).unwrap();
    common::xmllint_validate(&file, &common::schema("passport_271_derived.xsd"));
    let n = env.notice("report1-");
    assert_eq!(n["body"]["type"], "Доклад направлен");
    let ours = n["body"]["detail"]["report"]["num"]["number"]
        .as_str()
        .unwrap();
    assert!(
        passport.contains(&format!("<c:number>{ours}</c:number>")),
        "{ours}"
    );
    env.verify_all();
}

#[test]
fn an_extension_and_a_redirect_with_letters_go_as_documents_the_notices_refer_to() {
    let env = Env::new();
    env.drop_sample("urog-appeal-2.2", "appeal");
    env.once();
    let number = env.records_of_kind("appeal_registered")[0]["number"]
        .as_str()
        .unwrap()
        .to_string();
    let show = env.ok(&["appeals", "show", &number, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&show).unwrap();
    let due = v["due"]["answer_by"].as_str().unwrap();
    let due = time::Date::parse(
        due,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .unwrap();
    let letter = env.root.path().join("letter.pdf");
    fs::write(
        &letter,
        medo_gateway::pdf::text_pdf("Письмо", "Срок продлён"),
    )
    .unwrap();
    let until = (due + time::Duration::days(10)).to_string();
    env.ok(&[
        "appeals",
        "event",
        &number,
        "extended",
        "--until",
        &until,
        "--reason",
        "запрос в орган",
        "--file",
        letter.to_str().unwrap(),
    ]);
    // 2.2: our document «Уведомление о продлении срока рассмотрения» with the letter beside it
    let d = env.notice("report-document1-");
    assert_eq!(d["header"]["type"], "Документ");
    let doc = &d["body"]["document"];
    assert_eq!(doc["kind"], "Уведомление о продлении срока рассмотрения");
    assert_eq!(doc["links"][0]["link_type"], "Во исполнение");
    assert_eq!(
        doc["links"][0]["reference"]["num"]["number"],
        "А26-02-1234567"
    );
    let ours = doc["num"]["number"].as_str().unwrap().to_string();
    assert!(ours.starts_with("ОЗ-1/"), "{ours}");
    let letter_name = common::package_name(&fs::read(&letter).unwrap());
    assert_eq!(d["body"]["files"][0]["local_name"], letter_name.as_str());
    // «Исполнение» refers to it
    let n = env.notice("course1-");
    assert_eq!(
        n["body"]["detail"]["reference"]["num"]["number"],
        ours.as_str()
    );
    assert!(env.state.join("answers/1/extension-letter.pdf").exists());
    // the redirect letter: the next outgoing number
    env.ok(&[
        "appeals",
        "event",
        &number,
        "redirected",
        "--to",
        "Минтруд России",
        "--file",
        letter.to_str().unwrap(),
    ]);
    let d = env.notice("report-document2-");
    assert_eq!(
        d["body"]["document"]["kind"],
        "Письмо о переадресации обращения"
    );
    let second = d["body"]["document"]["num"]["number"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(second.starts_with("ОЗ-2/"), "{second}");
    let n = env.notice("course2-");
    assert_eq!(
        n["body"]["detail"]["reference"]["num"]["number"],
        second.as_str()
    );
    common::xmllint_validate(
        &env.outbound
            .join(
                env.outbound_names()
                    .into_iter()
                    .find(|n| n.starts_with("report-document2-"))
                    .unwrap(),
            )
            .join("document.xml"),
        &common::schema("iedms_2x.xsd"),
    );
    env.verify_all();
}

/// A УРОГ query answer as journaled, in `format`.
fn response_output(format: &str) -> medo_gateway::model::Output {
    let items = r#"[{"requested":"А26-02-1234567","found":true,"registration_number":"ОГ-1/26","registration_date":"2026-11-20","status":"зарегистрировано"}]"#;
    medo_gateway::model::Output {
        name: "response-0123456789abcdef-7".into(),
        kind: medo_gateway::model::OutputKind::Response,
        message_uid: "5b0c8f7e-1d2a-5c3b-9e4f-6a7b8c9d0e1f".into(),
        format: medo_gateway::model::Format::parse(format).expect("a format"),
        created: "2026-12-02T10:00:00+03:00".into(),
        recipient_uid: common::env::UROG_UID.into(),
        about_uid: "00000384-0002-4000-8000-000000000000".into(),
        accepted: true,
        comment: None,
        foundation: Some(medo_gateway::model::NoticeRef {
            organization: Some("УРОГ".into()),
            number: "А26-05-900".into(),
            date: medo_gateway::model::Day::parse("2026-12-01"),
        }),
        registration: Some(medo_gateway::model::NoticeRef {
            organization: Some("Федеральное агентство по образцам (пример)".into()),
            number: "ОЗ-7/26".into(),
            date: medo_gateway::model::Day::parse("2026-12-02"),
        }),
        reason: None,
        text: Some(items.into()),
        post: None,
        files: Vec::new(),
        restricted: false,
        document_kind: None,
        document: None,
        body: None,
    }
}

/// The golden container answers (passport and message, 2.7 and 2.7.1): byte for byte, and
/// valid against our derived schemas — which the three real passports satisfy too, and a
/// passport out of order does not. The 2.2 answer checks against the independent br4j schema.
#[test]
fn container_answers_match_golden_files_and_validate() {
    let env = Env::new();
    let config = medo_gateway::config::Config::load(&env.config).unwrap();
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let no_files =
        |_: &str| -> std::io::Result<Vec<u8>> { unreachable!("an answer keeps no files") };
    let tmp = tempfile::tempdir().unwrap();
    for (format, message_file, passport_schema, message_schema) in [
        (
            "2.7",
            "document.xml",
            "passport_27_derived.xsd",
            "iedms_27_derived.xsd",
        ),
        (
            "2.7.1",
            "message.xml",
            "passport_271_derived.xsd",
            "iedms_271_derived.xsd",
        ),
    ] {
        let files =
            medo_gateway::outbox::render(&response_output(format), &config.policy, &no_files, None)
                .unwrap();
        let get = |name: &str| files.iter().find(|(n, _)| n == name).unwrap().1.clone();
        let zip = files.iter().find(|(n, _)| n.ends_with(".edc.zip")).unwrap();
        let path = tmp.path().join(&zip.0);
        fs::write(&path, &zip.1).unwrap();
        let passport = unzip(&path).remove(0).1;
        let tag = format.replace('.', "");
        for (name, bytes, schema) in [
            (
                format!("answer_{tag}_passport.xml"),
                passport,
                passport_schema,
            ),
            (
                format!("answer_{tag}_{message_file}"),
                get(message_file),
                message_schema,
            ),
        ] {
            let file = golden.join(&name);
            if std::env::var_os("UPDATE_GOLDEN").is_some() {
                fs::write(&file, &bytes).unwrap();
            }
            assert!(
                fs::read(&file).unwrap() == bytes,
                "{} differs",
                file.display()
            );
            common::xmllint_validate(&file, &common::schema(schema));
        }
    }
    // the derived passport schemas accept the real passports, refuse one out of order
    if let Some(data) = common::spec_data() {
        let real = data.join("real_packages");
        common::xmllint_validate(
            &real.join("70178878_container_passport.xml"),
            &common::schema("passport_271_derived.xsd"),
        );
        for p in [
            "38773995_container_passport.xml",
            "gd2_container_passport.xml",
        ] {
            common::xmllint_validate(&real.join(p), &common::schema("passport_27_derived.xsd"));
        }
    }
    let text = fs::read_to_string(golden.join("answer_271_passport.xml")).unwrap();
    let (head, rest) = text.split_at(text.find("  <c:authors>").unwrap());
    let (authors, tail) = rest.split_at(rest.find("  <c:addressees>").unwrap());
    let (addressees, tail) = tail.split_at(tail.find("  <c:document ").unwrap());
    let swapped = tmp.path().join("swapped.xml");
    fs::write(&swapped, format!("{head}{addressees}{authors}{tail}")).unwrap();
    if let Ok(out) = std::process::Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(common::schema("passport_271_derived.xsd"))
        .arg(&swapped)
        .output()
    {
        assert!(
            !out.status.success(),
            "a passport out of order must not validate"
        );
    }
    // the 2.2 answer, a Документ, against the independent 2.x schema (structure)
    let files =
        medo_gateway::outbox::render(&response_output("2.2"), &config.policy, &no_files, None)
            .unwrap();
    let doc = tmp.path().join("document.xml");
    fs::write(
        &doc,
        &files.iter().find(|(n, _)| n == "document.xml").unwrap().1,
    )
    .unwrap();
    if let Some(data) = common::spec_data() {
        let br4j = data.join("xsd-br4j-fixed/br4j_ExchangeAgent_fixed.xsd");
        common::xmllint_validate(&doc, &br4j);
    }
}

/// A container is staged and published atomically like any package: a crash after the
/// publish intents leaves, after the restart, one whole container answer (sent once).
#[test]
fn a_crash_while_publishing_a_container_answer_leaves_one_whole_container() {
    let env = Env::new();
    let q = env.drop_sample("urog-appeal-2.7.1", "query");
    container_query(&q, 905, "А26-05-905", "А26-02-1234567", false);
    env.crash_at("after-publish-intents", &["run", "--once"]);
    env.once();
    let dir = response_dir(&env);
    let v = common::env::inspect(&dir);
    assert_eq!(v["container"]["missing"].as_array().unwrap().len(), 0);
    let published: Vec<_> = env
        .records_of_kind("published")
        .into_iter()
        .filter(|r| r["name"].as_str().unwrap().starts_with("response"))
        .collect();
    assert_eq!(published.len(), 1, "published once: {published:?}");
    env.verify_all();
}

/// The window between journaling a report with its file and keeping that file: after the
/// crash the file is kept from the queued attachment and the document goes out with it.
#[test]
fn a_crash_right_after_the_report_is_journaled_still_sends_its_file() {
    let env = Env::new();
    env.deliver("urog-appeal-2.7.1", "appeal");
    let answer = env.root.path().join("answer.pdf");
    let pdf = medo_gateway::pdf::text_pdf("Ответ", "Текст ответа");
    fs::write(&answer, &pdf).unwrap();
    env.crash_at(
        "after-command-commit",
        &[
            "appeals",
            "event",
            "1",
            "answered",
            "--result",
            "explained",
            "--file",
            answer.to_str().unwrap(),
        ],
    );
    assert_eq!(env.records_of_kind("appeal_progress").len(), 1, "journaled");
    env.once();
    assert_eq!(
        env.records_of_kind("appeal_progress").len(),
        1,
        "applied once"
    );
    let dir = env.outbound.join(
        env.outbound_names()
            .into_iter()
            .find(|n| n.starts_with("report-document"))
            .expect("the report document went out"),
    );
    let zip = common::env::names(&dir)
        .into_iter()
        .find(|n| n.ends_with(".edc.zip"))
        .unwrap();
    assert!(unzip(&dir.join(zip))[1] == (common::package_name(&pdf), pdf));
    env.verify_all();
}

/// Polls until `cond` holds (the running service works on its own schedule).
fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn http_get(port: u16, path: &str) -> String {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// The running service shows a rejection on the dashboard and counts it in /metrics.
#[test]
fn a_rejection_shows_on_the_dashboard_and_in_metrics() {
    let env = Env::new();
    let port = env.listen_http();
    let service = common::env::Service::start(&env);
    let q = env.drop_sample("urog-appeal-2.7.1", "query");
    container_query(&q, 906, "А26-05-906", "А26-02-1234567", false);
    wait_for("the answer", || {
        !env.records_of_kind("query_answered").is_empty()
    });
    let uid = env.records_of_kind("query_answered")[0]["outputs"][0]["message_uid"]
        .as_str()
        .unwrap()
        .to_string();
    if !operator_error(&env, "medo-error", &uid, "originalMessage.zip") {
        return;
    }
    wait_for("the rejection", || {
        !env.records_of_kind("receipt_received").is_empty()
    });
    let page = http_get(port, "/");
    assert!(
        page.contains("отклонено оператором МЭДО (код 248"),
        "{page}"
    );
    // the metrics are published at the end of the pass that journaled it: waited for
    wait_for("the rejection in /metrics", || {
        http_get(port, "/metrics").contains("\nmedo_outbound_rejected_total 1\n")
    });
    assert!(service.stop().success());
}

/// A report document waits for its receipt like an answer: re-sent (same message uid, the
/// same file) when none comes.
#[test]
fn a_report_document_without_a_receipt_is_sent_again() {
    let env = Env::new();
    env.add_sections("[receipts]\nresend_after_secs = [1]");
    env.deliver("urog-appeal-2.7.1", "appeal");
    let answer = env.root.path().join("answer.pdf");
    fs::write(&answer, medo_gateway::pdf::text_pdf("Ответ", "Текст")).unwrap();
    env.ok(&[
        "appeals",
        "event",
        "1",
        "answered",
        "--result",
        "explained",
        "--file",
        answer.to_str().unwrap(),
    ]);
    let progress = env.records_of_kind("appeal_progress");
    let doc_uid = progress[0]["outputs"][0]["message_uid"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(progress[0]["outputs"][0]["kind"], "report-document");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    env.once();
    let resent = env.records_of_kind("resent");
    assert_eq!(resent.len(), 1, "{resent:?}");
    assert_eq!(resent[0]["message_uid"], doc_uid.as_str());
    let again = env
        .outbound_names()
        .into_iter()
        .find(|n| n.starts_with("report-document") && n.ends_with("-r1"))
        .expect("the re-sent document");
    let zip = common::env::names(&env.outbound.join(&again))
        .into_iter()
        .find(|n| n.ends_with(".edc.zip"))
        .unwrap();
    assert_eq!(zip, medo_gateway::outbox::container_name(&doc_uid));
    env.verify_all();
}

/// Issue 26 item 4: an answer file named like a file of the package — `document.xml` and
/// `ENVELOPE.INI` for a 2.2 partner, `passport.xml` for a 2.7.1 one — goes under a name of
/// ours (nine digits, `.pdf`), each package file once; the operator's name stays in the
/// description; the report is published, nothing stays pending.
#[test]
fn an_answer_file_named_like_a_package_file_is_renamed_not_lost() {
    for (sample, file_name) in [
        ("urog-appeal-2.2", "document.xml"),
        ("urog-appeal-2.2", "ENVELOPE.INI"),
        ("urog-appeal-2.7.1", "passport.xml"),
    ] {
        let env = Env::new();
        env.drop_sample(sample, "appeal");
        env.once();
        let number = env.records_of_kind("appeal_registered")[0]["number"]
            .as_str()
            .unwrap()
            .to_string();
        let pdf = medo_gateway::samples::minimal_pdf("answer");
        let file = env.root.path().join(file_name);
        fs::write(&file, &pdf).unwrap();
        let f = file.to_str().unwrap();
        env.ok(&[
            "appeals",
            "event",
            &number,
            "answered",
            "--result",
            "explained",
            "--file",
            f,
        ]);
        assert_eq!(
            env.records_of_kind("published").len(),
            4,
            "{file_name}: receipt, registered, report, notice"
        );
        let report = env
            .outbound_names()
            .into_iter()
            .find(|n| n.starts_with("report"))
            .unwrap_or_else(|| panic!("{file_name}: no report in {:?}", env.outbound_names()));
        let dir = env.outbound.join(report);
        let mut names = common::env::names(&dir);
        let pdf_name = common::package_name(&pdf);
        if sample.ends_with("2.2") {
            names.sort();
            assert_eq!(
                names,
                [
                    pdf_name.clone(),
                    "document.xml".into(),
                    "envelope.ini".into()
                ],
                "{file_name}"
            );
            assert_eq!(fs::read(dir.join(&pdf_name)).unwrap(), pdf);
            let envelope = encoding_rs::WINDOWS_1251
                .decode(&fs::read(dir.join("envelope.ini")).unwrap())
                .0
                .into_owned();
            assert_eq!(envelope.matches("document.xml").count(), 1, "{envelope}");
            let xml = encoding_rs::WINDOWS_1251
                .decode(&fs::read(dir.join("document.xml")).unwrap())
                .0
                .into_owned();
            assert!(
                xml.contains(&format!("({file_name})")),
                "the operator's name in the description: {xml}"
            );
        } else {
            let zip = names.iter().find(|n| n.ends_with(".edc.zip")).unwrap();
            let entries = unzip(&dir.join(zip));
            let entry_names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(entry_names, ["passport.xml", pdf_name.as_str()]);
            assert_eq!(entries[1].1, pdf);
        }
    }
}

/// Issue 26 item 4: an output that cannot be rendered (here: its kept answer file is not
/// the one journaled) is held — logged once, not at every pass, and counted in
/// `medo_outputs_held` — never a hot ERROR loop behind a green health.
#[test]
fn an_output_that_cannot_be_rendered_is_held_and_counted_once() {
    let env = Env::new();
    env.drop_sample("urog-appeal-2.2", "appeal");
    env.once();
    let number = env.records_of_kind("appeal_registered")[0]["number"]
        .as_str()
        .unwrap()
        .to_string();
    let file = env.root.path().join("answer.pdf");
    fs::write(&file, medo_gateway::samples::minimal_pdf("answer")).unwrap();
    let f = file.to_str().unwrap();
    let args = [
        "appeals",
        "event",
        &number,
        "answered",
        "--result",
        "explained",
        "--file",
        f,
    ];
    env.crash_at("after-command-commit", &args);
    // the queue's copy changes before the service keeps it: the digest journaled no longer
    // matches what would be sent
    let files = env.state.join("control/files");
    let stem = fs::read_dir(&files)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    fs::write(
        stem.join("answer.pdf"),
        medo_gateway::samples::minimal_pdf("other"),
    )
    .unwrap();
    let port = env.listen_http();
    let service = common::env::Service::start(&env);
    wait_for("the listener", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    // held: the document, and the notice that names it (never sent without it)
    wait_for("a few passes", || {
        http_get(port, "/metrics").contains("medo_outputs_held 2")
    });
    let logged = service.log().matches("cannot render an output").count();
    std::thread::sleep(std::time::Duration::from_millis(2500)); // more passes (rescan_secs = 1)
    assert!(http_get(port, "/metrics").contains("medo_outputs_held 2"));
    // shown where operators look, with why
    let page = http_get(port, "/");
    assert!(
        page.contains("Требует внимания") && page.contains("сообщение не отправлено"),
        "{page}"
    );
    assert!(page.contains("не тот, что записан в журнале"), "{page}");
    let log = service.log();
    assert!(service.stop().success());
    // an error for the document that does not render, once; the notice waiting for it is
    // held without one (it is not broken)
    assert_eq!(logged, 1, "{log}");
    assert_eq!(
        log.matches("cannot render an output").count(),
        1,
        "once: {log}"
    );
    assert!(log.contains("не тот, что записан в журнале"), "{log}");
    let published = env.records_of_kind("published").len();
    assert_eq!(
        published,
        2,
        "only the receipt and «Зарегистрировано»: {:?}",
        env.outbound_names()
    );
}
