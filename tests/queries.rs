//! УРОГ queries (our profile, DESIGN §5): recognised by kind or by the appeals they name,
//! answered with a Документ «Ответ на запрос» linked «В ответ на», carrying response.xml
//! (schemas/urog-response.xsd) and a PDF rendering; unknown numbers are listed as not found.

mod common;

use std::fs;
use std::path::Path;

use common::env::Env;
use common::packages::new_document;

/// Turns a copy of the 2.2 sample into a query: new uids, kind, number, annotation.
fn make_query(dir: &Path, kind: &str, annotation: &str, n: u32) {
    new_document(dir, n, kind, &format!("А26-05-{n}"), annotation);
}

fn response_dir(env: &Env) -> std::path::PathBuf {
    let found: Vec<String> = env
        .outbound_names()
        .into_iter()
        .filter(|n| n.starts_with("response"))
        .collect();
    assert_eq!(found.len(), 1, "{:?}", env.outbound_names());
    env.outbound.join(&found[0])
}

#[test]
fn a_query_is_answered_per_appeal_with_unknown_numbers_listed() {
    let env = Env::new();
    env.drop_sample("urog-appeal-2.2", "appeal");
    env.once();
    let q = env.drop_sample("urog-appeal-2.2", "query");
    make_query(
        &q,
        "Запрос",
        "О ходе рассмотрения обращений A26-02-1234567 и А26-99-0000001",
        777,
    );
    env.once();
    let answered = env.records_of_kind("query_answered");
    assert_eq!(answered.len(), 1);
    assert_eq!(answered[0]["unresolved"][0], "А26-99-0000001");
    assert!(
        env.records_of_kind("appeal_received").len() == 1,
        "a query is not an appeal"
    );
    let dir = response_dir(&env);
    common::xmllint_validate(
        &dir.join("response.xml"),
        &common::schema("urog-response.xsd"),
    );
    common::xmllint_validate(&dir.join("document.xml"), &common::schema("iedms_2x.xsd"));
    let xml = fs::read_to_string(dir.join("response.xml")).unwrap();
    assert!(
        xml.contains("<r:appeal r:found=\"true\">") && xml.contains("<r:registrationNumber>ОГ-1/")
    );
    assert!(
        xml.contains("<r:appeal r:found=\"false\">\n    <r:requested>А26-99-0000001</r:requested>")
    );
    let out = common::bin()
        .args(["inspect", "--compact"])
        .arg(&dir)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["body"]["document"]["kind"], "Ответ на запрос");
    assert_eq!(v["body"]["document"]["links"][0]["link_type"], "В ответ на");
    assert_eq!(
        v["body"]["document"]["links"][0]["reference"]["num"]["number"],
        "А26-05-777"
    );
    let pdf = fs::read(dir.join("response.pdf")).unwrap();
    assert!(pdf.starts_with(b"%PDF-"), "a PDF rendering");
    // the PDF carries readable Cyrillic text (pdftotext from poppler-utils; required in CI)
    match std::process::Command::new("pdftotext")
        .arg(dir.join("response.pdf"))
        .arg("-")
        .output()
    {
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                text.contains("Ответ на запрос № А26-05-777") && text.contains("не найдено"),
                "{text}"
            );
            // and its title, as a viewer shows it (pdfinfo, the same package)
            let info = std::process::Command::new("pdfinfo")
                .arg(dir.join("response.pdf"))
                .output()
                .unwrap();
            let info = String::from_utf8_lossy(&info.stdout);
            assert!(
                info.lines()
                    .any(|l| l.starts_with("Title:") && l.contains(" Ответ на запрос № А26-05-777")),
                "{info}"
            );
        }
        Err(e) => {
            assert!(
                !common::in_ci(),
                "pdftotext is required in CI (apt-get install poppler-utils): {e}"
            );
            common::skipped("PDF text check: pdftotext not available");
        }
    }
    env.verify_all();
}

#[test]
fn a_letter_carrying_query_xml_is_a_query_and_its_numbers_count() {
    let env = Env::new();
    env.drop_sample("urog-appeal-2.2", "appeal");
    env.once();
    let number = env.records_of_kind("appeal_registered")[0]["number"]
        .as_str()
        .unwrap()
        .to_string();
    let q = env.drop_sample("urog-appeal-2.2", "query");
    make_query(&q, "Письмо", "Прошу сообщить", 778);
    fs::write(
        q.join("query.xml"),
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><query xmlns=\"urn:medo-gateway:urog-query:1\" version=\"1\"><appeal><number>{number}</number></appeal></query>"),
    )
    .unwrap();
    env.once();
    let answered = env.records_of_kind("query_answered");
    assert_eq!(answered.len(), 1, "recognised by its query.xml");
    assert_eq!(answered[0]["requested"][0], number.as_str());
    assert!(answered[0]["unresolved"].as_array().unwrap().is_empty());
}

#[test]
fn a_query_naming_nothing_still_gets_an_answer() {
    let env = Env::new();
    let q = env.drop_sample("urog-appeal-2.2", "query");
    make_query(&q, "Запрос", "Прошу сообщить о ходе рассмотрения", 779);
    env.once();
    let answered = env.records_of_kind("query_answered");
    assert_eq!(answered.len(), 1);
    assert!(answered[0]["requested"].as_array().unwrap().is_empty());
    assert!(fs::read(response_dir(&env).join("response.pdf"))
        .unwrap()
        .starts_with(b"%PDF-"));
    let xml = fs::read_to_string(response_dir(&env).join("response.xml")).unwrap();
    assert!(!xml.contains("<r:appeal"), "nothing to report: {xml}");
}

/// Drops УРОГ's positive Квитанция (the 2.7.1 sample) acknowledging our message `uid`.
fn drop_receipt_for(env: &Env, uid: &str, as_name: &str) {
    let r = env.drop_sample("urog-receipt-2.7.1", as_name);
    let msg = r.join("message.xml");
    let mut xml = fs::read_to_string(&msg).unwrap();
    let at = xml.find("<xdms:acknowledgment xdms:uid=\"").unwrap()
        + "<xdms:acknowledgment xdms:uid=\"".len();
    xml.replace_range(at..at + 36, uid);
    fs::write(&msg, xml).unwrap();
}

/// Issue 26 item 1: after an outage the receipt for our answer already waits in inbound when
/// the re-send falls due; the pass reads it first (the folder is still settling at the first
/// look) and sends nothing again.
#[test]
fn a_receipt_waiting_in_inbound_is_read_before_any_resend() {
    let env = Env::with(300, 3600, "");
    env.add_sections("[receipts]\nresend_after_secs = [1]");
    let q = env.drop_sample("urog-appeal-2.2", "query");
    make_query(&q, "Запрос", "Прошу сообщить", 781);
    env.once();
    let uid = env.records_of_kind("query_answered")[0]["outputs"][0]["message_uid"]
        .as_str()
        .unwrap()
        .to_string();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    drop_receipt_for(&env, &uid, "their-receipt");
    env.once();
    assert_eq!(env.records_of_kind("receipt_received").len(), 1);
    assert!(
        env.records_of_kind("resent").is_empty(),
        "re-sent although its receipt waited in inbound"
    );
    assert!(!env.outbound_names().iter().any(|n| n.ends_with("-r1")));
}

#[test]
fn an_answer_without_a_receipt_is_sent_again_until_one_arrives() {
    let env = Env::new();
    env.add_sections("[receipts]\nresend_after_secs = [1]");
    let q = env.drop_sample("urog-appeal-2.2", "query");
    make_query(&q, "Запрос", "Прошу сообщить", 780);
    env.once();
    let uid = env.records_of_kind("query_answered")[0]["outputs"][0]["message_uid"]
        .as_str()
        .unwrap()
        .to_string();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    env.once();
    let resent = env.records_of_kind("resent");
    assert_eq!(resent.len(), 1, "re-sent once after the wait");
    assert_eq!(resent[0]["message_uid"], uid.as_str());
    assert!(env
        .outbound_names()
        .iter()
        .any(|n| n.starts_with("response") && n.ends_with("-r1")));
    // УРОГ's receipt for it stops the re-sending
    drop_receipt_for(&env, &uid, "their-receipt");
    env.once();
    assert_eq!(env.records_of_kind("receipt_received").len(), 1);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    env.once();
    assert_eq!(
        env.records_of_kind("resent").len(),
        1,
        "no re-send after the receipt"
    );
    env.verify_all();
}
