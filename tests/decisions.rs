//! Right answers to УРОГ through the binary (issue 13): a query in the same batch as the
//! appeal it names, a repeat appeal citing an earlier number (registered, linked), a
//! re-delivery in a later run (the same notice, no answer), manual registration running the
//! refusal rules as checks, outgoing numbering, a «не найдено» answered again, Cyrillic
//! folder names kept as they are.

mod common;

use common::env::Env;
use common::packages::{address_elsewhere, cp1251_edit, new_document, rewrite_container};

fn yy() -> String {
    let now =
        time::OffsetDateTime::now_utc().to_offset(time::UtcOffset::from_hms(3, 0, 0).unwrap());
    format!("{:02}", now.year() % 100)
}

fn response_items(event: &serde_json::Value) -> Vec<serde_json::Value> {
    serde_json::from_str(event["outputs"][0]["text"].as_str().unwrap()).unwrap()
}

#[test]
fn a_query_in_the_same_batch_as_its_appeal_finds_it() {
    let env = Env::new();
    env.drop_sample("urog-appeal-2.2", "a-appeal");
    let q = env.drop_sample("urog-appeal-2.2", "b-query");
    new_document(
        &q,
        901,
        "Запрос",
        "А26-05-901",
        "О ходе рассмотрения обращения А26-02-1234567",
    );
    env.once();
    let answered = env.records_of_kind("query_answered");
    assert_eq!(answered.len(), 1, "one answer");
    assert!(
        answered[0]["unresolved"].as_array().unwrap().is_empty(),
        "the appeal decided earlier in the same batch is found: {}",
        answered[0]
    );
    let items = response_items(&answered[0]);
    assert_eq!(items[0]["status"], "зарегистрировано");
    assert_eq!(items[0]["registration_number"], format!("ОГ-1/{}", yy()));
    // our own outgoing number, not the arrival
    assert_eq!(answered[0]["number"], format!("ОЗ-1/{}", yy()));
    assert_eq!(
        answered[0]["outputs"][0]["registration"]["number"],
        format!("ОЗ-1/{}", yy())
    );
    env.verify_all();
}

/// The query's folder sorts (and is claimed) before the appeal's: queries are decided after
/// the batch's other arrivals, so the one answer finds the appeal.
#[test]
fn a_query_claimed_before_its_appeal_in_one_batch_still_finds_it() {
    let env = Env::new();
    let q = env.drop_sample("urog-appeal-2.2", "0001-query");
    new_document(
        &q,
        905,
        "Запрос",
        "А26-05-905",
        "О ходе рассмотрения обращения A26-02-1234567",
    );
    env.deliver("urog-appeal-2.2", "0002-appeal");
    let answered = env.records_of_kind("query_answered");
    assert_eq!(
        answered.len(),
        1,
        "one answer, not «не найдено» and a correction"
    );
    assert!(answered[0]["unresolved"].as_array().unwrap().is_empty());
    assert_eq!(
        response_items(&answered[0])[0]["status"],
        "зарегистрировано"
    );
    env.verify_all();
}

#[test]
fn a_repeat_appeal_citing_an_earlier_number_is_registered_and_linked() {
    let env = Env::new();
    env.deliver("urog-appeal-2.2", "first");
    let repeat = env.drop_sample("urog-appeal-2.2", "repeat");
    new_document(
        &repeat,
        902,
        "Письмо",
        "А26-02-7777777",
        "Повторное обращение гражданина, ранее А26-02-1234567",
    );
    env.once();
    assert!(
        env.records_of_kind("query_answered").is_empty(),
        "a citizen's appeal is not a query"
    );
    let registered = env.records_of_kind("appeal_registered");
    assert_eq!(registered.len(), 2, "both appeals registered");
    assert_eq!(registered[1]["number"], format!("ОГ-2/{}", yy()));
    let received = env.records_of_kind("appeal_received");
    let first = received[0]["appeal"].as_u64().unwrap();
    assert_eq!(received[1]["cites"], serde_json::json!([first]));
    let out = env.ok(&["appeals", "show", &format!("ОГ-2/{}", yy()), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["cites"][0]["number"], format!("ОГ-1/{}", yy()), "{v}");
    let text = env.ok(&["appeals", "show", &format!("ОГ-2/{}", yy())]);
    assert!(text.contains("Повторное обращение к"), "{text}");
    env.verify_all();
}

#[test]
fn a_redelivery_in_a_later_run_gets_its_notice_not_an_answer() {
    let env = Env::new();
    env.deliver("urog-appeal-2.2", "first");
    let again = env.drop_sample("urog-appeal-2.2", "again");
    // the same document under a new header uid (VipNet re-delivered it re-wrapped)
    cp1251_edit(&again.join("document.xml"), |mut t| {
        let el = t.find("<xdms:header ").unwrap();
        let at = t[el..].find("xdms:uid=\"").unwrap() + el + 10;
        t.replace_range(at..at + 36, "00000903-0001-4000-8000-000000000000");
        t
    });
    env.once();
    assert!(env.records_of_kind("query_answered").is_empty());
    assert_eq!(env.records_of_kind("appeal_registered").len(), 1);
    let redelivered = env.records_of_kind("appeal_redelivered");
    assert_eq!(redelivered.len(), 1);
    assert_eq!(
        redelivered[0]["outputs"][0]["registration"]["number"],
        format!("ОГ-1/{}", yy())
    );
    assert!(env
        .outbound_names()
        .iter()
        .all(|n| !n.starts_with("response")));
}

#[test]
fn manual_registration_checks_the_refusal_rules_and_force_is_journaled() {
    let env = Env::new();
    env.add_sections("[registration]\nmode = \"manual\"");
    address_elsewhere(&env.drop_sample("urog-appeal-2.7.1", "elsewhere"));
    env.once();
    let out = env.cmd(&["appeals", "register", "1"]);
    assert_eq!(out.status.code(), Some(1), "refused: exit 1");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("«Ошибка адресации»"), "{err}");
    assert!(env.records_of_kind("appeal_registered").is_empty());
    // --force without a comment is a usage error
    let out = env.cmd(&["appeals", "register", "1", "--force"]);
    assert_eq!(out.status.code(), Some(2));
    let out = env.cmd(&[
        "appeals",
        "register",
        "1",
        "--force",
        "--comment",
        "адресат подтвердил по телефону",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let registered = env.records_of_kind("appeal_registered");
    assert_eq!(registered.len(), 1);
    assert_eq!(registered[0]["by"], "operator");
    assert_eq!(registered[0]["overrides"], "Ошибка адресации");
    assert_eq!(registered[0]["comment"], "адресат подтвердил по телефону");
    env.verify_all();
}

#[test]
fn a_not_found_answer_is_answered_again_when_the_appeal_arrives() {
    let env = Env::new();
    let q = env.drop_sample("urog-appeal-2.2", "query");
    new_document(
        &q,
        904,
        "Запрос",
        "А26-05-904",
        "О ходе рассмотрения А26-02-1234567",
    );
    env.once();
    let first = env.records_of_kind("query_answered");
    assert_eq!(first[0]["unresolved"][0], "А26-02-1234567");
    env.deliver("urog-appeal-2.2", "appeal");
    let answers = env.records_of_kind("query_answered");
    assert_eq!(answers.len(), 2, "answered again");
    assert_eq!(answers[1]["arrival"], first[0]["arrival"]);
    assert_eq!(answers[1]["reanswer"], 1);
    assert!(answers[1]["unresolved"].as_array().unwrap().is_empty());
    assert_eq!(answers[1]["number"], format!("ОЗ-2/{}", yy()));
    let items = response_items(&answers[1]);
    assert_eq!(items[0]["status"], "зарегистрировано");
    let responses: Vec<String> = env
        .outbound_names()
        .into_iter()
        .filter(|n| n.starts_with("response"))
        .collect();
    assert_eq!(responses.len(), 2, "{responses:?}");
    env.verify_all();
}

#[test]
fn cyrillic_folder_names_are_kept_as_they_are() {
    let env = Env::new();
    env.deliver("urog-appeal-2.2", "П-У-738-обращение");
    let received = env.records_of_kind("received");
    assert_eq!(received[0]["src"], "П-У-738-обращение");
    let listed = env.ok(&["spool", "list"]);
    assert!(listed.contains("П-У-738-обращение"), "{listed}");
}

/// A re-send after no receipt carries what the gateway knows at the re-send, not what it knew
/// when it first answered (same message uid: the same document, brought up to date).
#[test]
fn a_resent_answer_says_what_is_known_at_the_resend() {
    let env = Env::new();
    env.add_sections("[receipts]\nresend_after_secs = [1]");
    env.deliver("urog-appeal-2.2", "appeal");
    let q = env.drop_sample("urog-appeal-2.2", "query");
    new_document(
        &q,
        906,
        "Запрос",
        "А26-05-906",
        "О ходе рассмотрения А26-02-1234567",
    );
    env.once();
    let first = &env.records_of_kind("query_answered")[0];
    assert_eq!(response_items(first)[0]["status"], "зарегистрировано");
    env.ok(&[
        "appeals",
        "event",
        &format!("ОГ-1/{}", yy()),
        "executor-assigned",
        "--executor",
        "Иванова А.А.",
    ]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    env.once();
    let resent = env.records_of_kind("resent");
    assert_eq!(resent.len(), 1);
    assert_eq!(resent[0]["message_uid"], first["outputs"][0]["message_uid"]);
    let items = response_items(&resent[0]);
    assert_eq!(items[0]["status"], "рассматривается");
    assert_eq!(items[0]["executor"], "Иванова А.А.");
    env.verify_all();
}

/// A 2.7.1 transport container whose passport says «Запрос информации» and whose ZIP carries
/// `query.xml` is a query; what it names is found.
#[test]
fn a_container_query_is_answered() {
    let env = Env::new();
    env.deliver("urog-appeal-2.2", "a-appeal");
    let q = env.drop_sample("urog-appeal-2.7.1", "b-query");
    let query_xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><query xmlns=\"urn:medo-gateway:urog-query:1\" version=\"1\"><appeal><number>ОГ-1/{}</number></appeal></query>",
        yy()
    );
    rewrite_container(
        &q,
        |name, bytes| match name {
            "passport.xml" => String::from_utf8(bytes)
                .unwrap()
                .replace(">Письмо<", ">Запрос информации<")
                .replace("А26-02-7654321", "А26-05-907")
                .replace(
                    "О направлении обращения гражданина для рассмотрения по компетенции",
                    "О ходе рассмотрения обращения А26-02-1234567",
                )
                .into_bytes(),
            _ => bytes,
        },
        &[("query.xml", query_xml.as_bytes())],
    );
    env.once();
    assert_eq!(
        env.records_of_kind("appeal_received").len(),
        1,
        "not an appeal"
    );
    let answered = env.records_of_kind("query_answered");
    assert_eq!(answered.len(), 1);
    assert_eq!(answered[0]["query_number"], "А26-05-907");
    assert!(
        answered[0]["unresolved"].as_array().unwrap().is_empty(),
        "{}",
        answered[0]
    );
    assert_eq!(answered[0]["requested"].as_array().unwrap().len(), 2);
    env.verify_all();
}
