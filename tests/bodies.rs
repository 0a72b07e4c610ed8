//! Issue 28, a region's hub: bodies on one МЭДО node. What a one-body node wrote before
//! bodies keeps working unchanged.

mod common;

use std::fs;
use std::path::Path;

use common::env::{copy_dir, Env};
use common::packages::new_document;

/// The fixture (a state folder written before bodies), copied into `state`.
fn restore_before_bodies(state: &Path) {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/before-bodies");
    fs::create_dir_all(state).unwrap();
    copy_dir(&fixture.join("journal"), &state.join("journal"));
    for key in ["checkpoint.key", "pin.key", "anchor.note"] {
        fs::copy(fixture.join(key), state.join(key)).unwrap();
    }
}

/// The year as our numbers write it (Moscow time).
fn yy() -> i32 {
    let msk = time::UtcOffset::from_hms(3, 0, 0).unwrap();
    time::OffsetDateTime::now_utc().to_offset(msk).year() % 100
}

#[test]
fn a_state_written_before_bodies_opens_and_numbering_goes_on() {
    let env = Env::new();
    restore_before_bodies(&env.state);
    let before = fs::read(env.state.join("journal/00000000000000000000.jsonl")).unwrap();
    let dir = env.drop_sample("urog-appeal-2.2", "new-appeal");
    new_document(&dir, 77, "Письмо", "А26-02-7777777", "Обращение");
    env.once();

    // the old records are where they were, byte for byte, and the whole chain verifies
    let after = fs::read(env.state.join("journal/00000000000000000000.jsonl")).unwrap();
    assert_eq!(&after[..before.len()], &before[..], "old lines untouched");
    env.ok(&["journal", "verify"]);
    // nothing written for the one body names a body
    assert!(env.journal_lines().iter().all(|l| l.get("body").is_none()));

    let list: serde_json::Value =
        serde_json::from_str(&env.ok(&["appeals", "list", "--json"])).unwrap();
    let rows = list.as_array().unwrap();
    let numbers: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["urog_number"].as_str().unwrap(),
                r["number"].as_str().unwrap(),
            )
        })
        .collect();
    let next = if yy() == 26 {
        "ОГ-3/26".to_string()
    } else {
        format!("ОГ-1/{:02}", yy())
    };
    assert_eq!(
        numbers,
        [
            ("А26-02-7654321", "ОГ-1/26"),
            ("А26-02-1234567", "ОГ-2/26"),
            ("А26-02-7777777", next.as_str()),
        ],
        "the old appeals as they were, the new one numbered after them"
    );
    let shown: serde_json::Value =
        serde_json::from_str(&env.ok(&["appeals", "show", "ОГ-1/26", "--json"])).unwrap();
    assert_eq!(
        shown["body"], "main",
        "an old appeal belongs to the one body"
    );
}

const MO_A: &str = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"; // the samples' addressee
const MO_B: &str = "bbbbbbbb-0000-4000-8000-000000000002";
const MO_C: &str = "cccccccc-0000-4000-8000-000000000003";

/// The test's config as a hub of three bodies: `[gateway]` keeps only the node's keys.
fn make_hub(env: &Env) {
    let text = fs::read_to_string(&env.config).unwrap();
    let node: String = text
        .lines()
        .filter(|l| !l.starts_with("participant_uid") && !l.starts_with("organization"))
        .map(|l| format!("{l}\n"))
        .collect();
    let bodies = format!(
        r#"
[[bodies]]
id = "mo-a"
uid = "{MO_A}"
organization = "Администрация Адского района"

[[bodies]]
id = "mo-b"
uid = "{MO_B}"
organization = "Администрация города Бердска"
aliases = ["ФЕДЕРАЛЬНОЕ агентство по «образцам» (пример)"]
number_template = "Б-{{seq}}/{{yy}}"

[[bodies]]
id = "mo-c"
uid = "{MO_C}"
organization = "Администрация Искитимского района"
transport_address = "ISKITIM~MEDO"
"#
    );
    fs::write(&env.config, node + &bodies).unwrap();
}

/// A copy of the 2.2 sample as a new appeal (`n`, `number`), addressed to `organization`
/// with `address` in the envelope's `[АДРЕСАТЫ]`.
fn appeal_22(env: &Env, name: &str, n: u32, number: &str, organization: &str, address: &str) {
    let dir = env.drop_sample("urog-appeal-2.2", name);
    new_document(&dir, n, "Письмо", number, "Обращение");
    common::packages::cp1251_edit(&dir.join("document.xml"), |t| {
        t.replace(
            "<xdms:organization>Федеральное агентство по образцам (пример)</xdms:organization>",
            &format!("<xdms:organization>{organization}</xdms:organization>"),
        )
    });
    common::packages::cp1251_edit(&dir.join("envelope.ini"), |t| {
        t.replace("0=SAMPLE_AGENCY~MEDOGU", &format!("0={address}"))
    });
}

/// The 2.2 sample as the new appeal А26-02-2100000, addressed to mo-b by one of its aliases.
fn appeal_to_mo_b(env: &Env, name: &str) {
    appeal_22(
        env,
        name,
        21,
        "А26-02-2100000",
        "Федеральное агентство по образцам (пример)",
        "SAMPLE_AGENCY~MEDOGU",
    );
}

/// The outbound package of `kind` for `arrival`: its header's source uid and organisation.
fn source_of(env: &Env, kind: &str, arrival: u64) -> (String, String) {
    let name = env
        .outbound_names()
        .into_iter()
        .find(|n| n.starts_with(kind) && n.ends_with(&format!("-{arrival}")))
        .unwrap_or_else(|| panic!("no {kind} for {arrival}: {:?}", env.outbound_names()));
    let v = common::env::inspect(&env.outbound.join(name));
    let source = &v["header"]["source"];
    (
        source["uid"].as_str().unwrap().to_string(),
        source["organization"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

#[test]
fn a_hub_routes_each_package_to_its_body_and_holds_one_for_nobody() {
    let env = Env::new();
    make_hub(&env);
    env.drop_sample("urog-appeal-2.7.1", "to-a-by-uid");
    appeal_to_mo_b(&env, "to-b-by-alias");
    appeal_22(
        &env,
        "to-c-by-address",
        31,
        "А26-02-3100000",
        "Глава района",
        "iskitim~medo",
    );
    // a УРОГ query to mo-b (by its alias) about its appeal and mo-a's
    let q = env.drop_sample("urog-appeal-2.2", "query-to-b");
    new_document(
        &q,
        51,
        "Запрос",
        "А26-05-5100000",
        "О ходе рассмотрения обращений А26-02-2100000 и А26-02-7654321",
    );
    appeal_22(
        &env,
        "to-nobody",
        41,
        "А26-02-4100000",
        "Администрация Искитимского муниципального района",
        "NOWHERE~MEDO",
    );
    env.once();

    let list: serde_json::Value =
        serde_json::from_str(&env.ok(&["appeals", "list", "--json"])).unwrap();
    let mut got: Vec<(String, String, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let shown: serde_json::Value =
                serde_json::from_str(&env.ok(&["appeals", "show", &r["id"].to_string(), "--json"]))
                    .unwrap();
            (
                r["urog_number"].as_str().unwrap().to_string(),
                shown["body"].as_str().unwrap().to_string(),
                r["number"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    got.sort();
    let yy = format!("{:02}", yy());
    let expected: Vec<(String, String, String)> = vec![
        ("А26-02-2100000".into(), "mo-b".into(), format!("Б-1/{yy}")),
        ("А26-02-3100000".into(), "mo-c".into(), format!("ОГ-1/{yy}")),
        ("А26-02-7654321".into(), "mo-a".into(), format!("ОГ-1/{yy}")),
    ];
    assert_eq!(got, expected, "each body its appeal, each its own sequence");

    // every answer goes out from its body
    for (urog, uid, org) in [
        ("А26-02-7654321", MO_A, "Администрация Адского района"),
        ("А26-02-2100000", MO_B, "Администрация города Бердска"),
        ("А26-02-3100000", MO_C, "Администрация Искитимского района"),
    ] {
        let received = env.records_of_kind("appeal_received");
        let r = received.iter().find(|r| r["urog_number"] == urog).unwrap();
        let arrival = r["appeal"].as_u64().unwrap();
        for kind in ["receipt", "registered"] {
            assert_eq!(
                source_of(&env, kind, arrival),
                (uid.to_string(), org.to_string()),
                "{kind} of {urog}"
            );
        }
    }

    // the query to mo-b is answered by mo-b from its own appeals: mo-a's is not its to tell
    let answered = env.records_of_kind("query_answered");
    assert_eq!(answered.len(), 1, "{answered:?}");
    assert_eq!(answered[0]["body"], "mo-b");
    assert_eq!(
        answered[0]["unresolved"],
        serde_json::json!(["А26-02-7654321"])
    );
    assert_eq!(answered[0]["number"], format!("ОЗ-1/{yy}"));
    let query_arrival = answered[0]["arrival"].as_u64().unwrap();
    assert_eq!(source_of(&env, "response", query_arrival).0, MO_B);

    // the one for nobody: held, nothing answered, the likeliest body suggested
    let unrouted = env.records_of_kind("unrouted");
    assert_eq!(unrouted.len(), 1, "{unrouted:?}");
    assert_eq!(unrouted[0]["candidates"], serde_json::json!(["mo-c"]));
    let held = unrouted[0]["arrival"].as_u64().unwrap();
    assert!(
        !env.outbound_names()
            .iter()
            .any(|n| n.ends_with(&format!("-{held}"))),
        "nothing sent for a package held for the operator: {:?}",
        env.outbound_names()
    );
    assert_eq!(
        env.outbound_names().len(),
        8,
        "a receipt and a notice for each of three appeals, a receipt and an answer for the query"
    );

    // the operator sees it waiting, with the body suggested
    let held_items = |env: &Env| -> Vec<serde_json::Value> {
        let list: serde_json::Value =
            serde_json::from_str(&env.ok(&["spool", "list", "--json"])).unwrap();
        list.as_array()
            .unwrap()
            .iter()
            .filter(|i| i["state"] == "held")
            .cloned()
            .collect()
    };
    let waiting = held_items(&env);
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert_eq!(waiting[0]["id"], held.to_string());
    assert!(waiting[0]["detail"]
        .as_str()
        .unwrap()
        .contains("возможно: mo-c"));
    let table = env.ok(&["spool", "list"]);
    assert!(table.contains("ждёт органа"), "{table}");

    // the hub's operator assigns it: decided as that body's, answered from it
    let unknown = env.cmd(&["appeals", "assign", &held.to_string(), "--body", "mo-x"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("нет органа \"mo-x\""));
    let said = env.ok(&["appeals", "assign", &held.to_string(), "--body", "mo-c"]);
    assert!(said.contains(&format!("под номером ОГ-2/{yy}")), "{said}");
    for kind in ["receipt", "registered"] {
        assert_eq!(
            source_of(&env, kind, held),
            (
                MO_C.to_string(),
                "Администрация Искитимского района".to_string()
            ),
            "{kind} of the assigned one"
        );
    }
    let assigned = env.records_of_kind("assigned");
    assert_eq!(assigned.len(), 1);
    assert_eq!(
        (
            assigned[0]["arrival"].as_u64(),
            assigned[0]["body"].as_str()
        ),
        (Some(held), Some("mo-c"))
    );
    let again = env.cmd(&["appeals", "assign", &held.to_string(), "--body", "mo-b"]);
    assert_eq!(again.status.code(), Some(1), "assigned once only");
    assert!(String::from_utf8_lossy(&again.stderr).contains("не ждёт назначения"));
    assert_eq!(env.records_of_kind("assigned").len(), 1);
    assert!(held_items(&env).is_empty(), "no longer waiting");
    env.ok(&["journal", "verify"]);
    numbers_per_body(&env, &yy);
}

/// Our numbers repeat across bodies: without `--body` a number two bodies gave is a
/// question (exit 2); with it, that body's appeal — to show, to list, to act on.
fn numbers_per_body(env: &Env, yy: &str) {
    let first = format!("ОГ-1/{yy}");
    let ambiguous = env.cmd(&["appeals", "show", &first]);
    assert_eq!(ambiguous.status.code(), Some(2));
    let said = String::from_utf8_lossy(&ambiguous.stderr);
    assert!(
        said.contains("неоднозначен") && said.contains("--body"),
        "{said}"
    );
    let shown: serde_json::Value =
        serde_json::from_str(&env.ok(&["appeals", "show", &first, "--body", "mo-c", "--json"]))
            .unwrap();
    assert_eq!(
        (shown["urog_number"].as_str(), shown["body"].as_str()),
        (Some("А26-02-3100000"), Some("mo-c"))
    );
    let listed: serde_json::Value =
        serde_json::from_str(&env.ok(&["appeals", "list", "--body", "mo-b", "--json"])).unwrap();
    let urog: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["urog_number"].as_str().unwrap())
        .collect();
    assert_eq!(urog, ["А26-02-2100000"]);
    assert_eq!(
        env.cmd(&["appeals", "list", "--body", "nobody"])
            .status
            .code(),
        Some(2)
    );
    // a step reported on mo-c's ОГ-1 goes out from mo-c
    env.ok(&[
        "appeals",
        "event",
        &first,
        "--body",
        "mo-c",
        "executor-assigned",
        "--executor",
        "Петров П.П.",
    ]);
    let id = shown["id"].as_u64().unwrap();
    let progress = env.records_of_kind("appeal_progress");
    assert_eq!(progress.len(), 1);
    assert_eq!(progress[0]["appeal"].as_u64(), Some(id));
    let body = progress[0]["outputs"][0]["body"].as_str();
    assert_eq!(
        body,
        Some("mo-c"),
        "the notice goes out from the appeal's body"
    );
}

/// A minimal HTTP/1.1 request: (status, body).
fn http(port: u16, method: &str, path: &str, token: &str, body: Option<&str>) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n"
    );
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body.unwrap_or(""));
    s.write_all(req.as_bytes()).unwrap();
    let mut bytes = Vec::new();
    s.read_to_end(&mut bytes).unwrap();
    let out = String::from_utf8_lossy(&bytes);
    let status = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    (
        status,
        out.split("\r\n\r\n").nth(1).unwrap_or("").to_string(),
    )
}

#[test]
fn an_api_client_of_one_body_sees_and_acts_on_its_appeals_alone() {
    let env = Env::new();
    make_hub(&env);
    env.drop_sample("urog-appeal-2.7.1", "to-a-by-uid");
    appeal_to_mo_b(&env, "to-b-by-alias");
    appeal_22(
        &env,
        "to-nobody",
        41,
        "А26-02-4100000",
        "Кому-то",
        "NOWHERE~MEDO",
    );
    env.once();
    let held = env.records_of_kind("unrouted")[0]["arrival"]
        .as_u64()
        .unwrap();
    let port = env.listen_http();
    let (berdsk, lines) = env.api_client("berdsk", "read,write");
    env.add_sections(&lines.replace("[[api.clients]]", "[[api.clients]]\nbodies = [\"mo-b\"]"));
    let (region, lines) = env.api_client("region", "read");
    env.add_sections(&lines);
    let ids: std::collections::HashMap<String, u64> = env
        .records_of_kind("appeal_received")
        .iter()
        .map(|r| {
            (
                r["body"].as_str().unwrap().to_string(),
                r["appeal"].as_u64().unwrap(),
            )
        })
        .collect();
    let (mo_a, mo_b) = (ids["mo-a"], ids["mo-b"]);
    let service = common::env::Service::start(&env);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "HTTP did not come up");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }

    let listed = |token: &str| -> Vec<u64> {
        let (status, body) = http(port, "GET", "/api/v1/appeals", token, None);
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(listed(&berdsk), [mo_b], "its body's appeals only");
    let mut all = listed(&region);
    all.sort();
    let mut both = vec![mo_a, mo_b];
    both.sort();
    assert_eq!(all, both, "a client of every body sees every appeal");

    // another body's appeal is not there for it: not shown, its files not served, not acted on
    let other = |path: String| http(port, "GET", &path, &berdsk, None).0;
    assert_eq!(other(format!("/api/v1/appeals/{mo_a}")), 404);
    assert_eq!(
        other(format!("/api/v1/appeals/{mo_a}/files/appeal.pdf")),
        404
    );
    assert_eq!(other(format!("/api/v1/appeals/{mo_b}")), 200);
    let step = r#"{"step":"executor-assigned","executor":"Петров П.П."}"#;
    let path = format!("/api/v1/appeals/{mo_a}/events");
    assert_eq!(http(port, "POST", &path, &berdsk, Some(step)).0, 404);
    // the feed: only items of its body's appeals
    let (status, body) = http(port, "GET", "/api/v1/changes", &berdsk, None);
    assert_eq!(status, 200, "{body}");
    let feed: serde_json::Value = serde_json::from_str(&body).unwrap();
    let items = feed["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(
        items.iter().all(|i| i["appeal"].as_u64() == Some(mo_b)),
        "{items:?}"
    );
    let (_, body) = http(port, "GET", "/api/v1/changes", &region, None);
    let feed: serde_json::Value = serde_json::from_str(&body).unwrap();
    let seen: std::collections::HashSet<u64> = feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["appeal"].as_u64())
        .collect();
    assert!(seen.contains(&mo_a) && seen.contains(&mo_b), "{seen:?}");

    // the hub's appeal gauges are per body; the held package counted
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let metrics = loop {
        let (status, text) = http(port, "GET", "/metrics", &region, None);
        assert_eq!(status, 200, "{text}");
        if text.contains("medo_arrivals_held 1") || std::time::Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    for line in [
        "medo_arrivals_held 1",
        "medo_appeals_open{body=\"mo-a\"} 1",
        "medo_appeals_open{body=\"mo-b\"} 1",
        "medo_appeals_open{body=\"mo-c\"} 0",
        "medo_appeals_overdue{body=\"mo-b\"} 0",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in:\n{metrics}");
    }
    assert!(
        !metrics
            .lines()
            .any(|l| l.starts_with("medo_appeals_overdue ")),
        "a hub's appeal series carry their body"
    );

    // the supervision page: every body's row for the region, its own for a body's client
    let (status, page) = http(port, "GET", "/supervision?sort=open", &region, None);
    assert_eq!(status, 200, "{page}");
    for id in [
        "id=\"mo-a\"",
        "id=\"mo-b\"",
        "id=\"mo-c\"",
        &format!("id=\"arrival-{held}\""),
    ] {
        assert!(page.contains(id), "{id} in the page:\n{page}");
    }
    assert!(page.contains("Администрация города Бердска"));
    let (_, own) = http(port, "GET", "/supervision", &berdsk, None);
    assert!(
        own.contains("id=\"mo-b\"") && !own.contains("id=\"mo-a\""),
        "{own}"
    );
    assert!(
        !own.contains(&format!("arrival-{held}")),
        "held packages are the hub's"
    );

    // the dashboard: the hub's body selector; one body's page lists its appeals alone; a
    // client of one body gets that body's page whatever it asks
    let (status, hub) = http(port, "GET", "/", &region, None);
    assert_eq!(status, 200, "{hub}");
    assert!(hub.contains("узел региона, органов: 3"), "{hub}");
    assert!(hub.contains("<option value=\"mo-c\">"), "{hub}");
    let (_, of_a) = http(port, "GET", "/?body=mo-a&list=all", &region, None);
    assert!(of_a.contains("<option value=\"mo-a\" selected>"), "{of_a}");
    assert!(of_a.contains(&format!("?q={mo_a}\"")) && !of_a.contains(&format!("?q={mo_b}\"")));
    let (_, theirs) = http(port, "GET", "/?body=mo-a", &berdsk, None);
    assert!(
        theirs.contains("МЭДО-шлюз — Администрация города Бердска"),
        "{theirs}"
    );
    assert!(
        !theirs.contains(&format!("?q={mo_a}\"")),
        "another body's appeal"
    );

    // the held package: a client of mo-b assigns it to its own body only
    let path = format!("/api/v1/arrivals/{held}/assignment");
    let to = |body: &str| format!(r#"{{"body":"{body}"}}"#);
    assert_eq!(http(port, "POST", &path, &berdsk, Some(&to("mo-c"))).0, 404);
    assert_eq!(http(port, "POST", &path, &berdsk, Some(&to("mo-x"))).0, 404);
    let (status, body) = http(port, "POST", &path, &berdsk, Some(&to("mo-b")));
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["appeal"].as_u64(), Some(held), "{v}");
    assert_eq!(v["status"], "registered", "{v}");
    let assigned = env.records_of_kind("assigned");
    assert_eq!(
        (assigned.len(), assigned[0]["body"].as_str()),
        (1, Some("mo-b"))
    );
    assert_eq!(assigned[0]["operator"], "api:berdsk");
    assert_eq!(
        http(port, "POST", &path, &berdsk, Some(&to("mo-b"))).0,
        404,
        "held no more"
    );
    assert_eq!(
        listed(&berdsk).len(),
        2,
        "its body's appeals: the assigned one too"
    );

    // it redirects one of its appeals to another body of the hub
    let path = format!("/api/v1/appeals/{mo_b}/redirect");
    let asked = r#"{"to":"mo-c","comment":"по компетенции"}"#;
    let (status, body) = http(port, "POST", &path, &berdsk, Some(asked));
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "redirected", "{v}");
    let (status, _) = http(port, "POST", &path, &berdsk, Some(r#"{"to":"mo-c"}"#));
    assert_eq!(status, 422, "not twice");
    // the applicant's notice of it, for the СЭД to deliver
    let notice = format!("/api/v1/appeals/{mo_b}/notices/redirect");
    let (status, pdf) = http(port, "GET", &notice, &berdsk, None);
    assert_eq!((status, &pdf[..5]), (200, "%PDF-"), "{pdf}");
    let (status, _) = http(
        port,
        "GET",
        &notice.replace(&mo_b.to_string(), "999999"),
        &berdsk,
        None,
    );
    assert_eq!(status, 404);
    service.stop();
}

#[test]
fn a_package_for_two_bodies_is_an_appeal_at_each_with_one_receipt() {
    let env = Env::new();
    make_hub(&env);
    let both = |name: &str| {
        appeal_22(
            &env,
            name,
            61,
            "А26-02-6100000",
            "Федеральное агентство по образцам (пример)</xdms:organization>\n      </xdms:addressee>\n      <xdms:addressee>\n        <xdms:organization>Администрация Искитимского района",
            "SAMPLE_AGENCY~MEDOGU",
        )
    };
    both("to-b-and-c");
    env.once();
    let received = env.records_of_kind("appeal_received");
    let got: Vec<(u64, &str)> = received
        .iter()
        .map(|r| (r["appeal"].as_u64().unwrap(), r["body"].as_str().unwrap()))
        .collect();
    let arrival = got[0].0;
    let further = (1u64 << 40) + arrival * 1024 + 1;
    assert_eq!(
        got,
        [(arrival, "mo-b"), (further, "mo-c")],
        "an appeal at each, in the order named"
    );
    let yy = format!("{:02}", yy());
    let numbers: Vec<(u64, String)> = env
        .records_of_kind("appeal_registered")
        .iter()
        .map(|r| {
            (
                r["appeal"].as_u64().unwrap(),
                r["number"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        numbers,
        [
            (arrival, format!("Б-1/{yy}")),
            (further, format!("ОГ-1/{yy}"))
        ]
    );
    let receipts: Vec<String> = env
        .outbound_names()
        .into_iter()
        .filter(|n| n.starts_with("receipt"))
        .collect();
    assert_eq!(receipts.len(), 1, "one receipt: {receipts:?}");
    assert_eq!(
        source_of(&env, "receipt", arrival).0,
        MO_B,
        "from the first body named"
    );
    assert_eq!(source_of(&env, "registered", arrival).0, MO_B);
    assert_eq!(source_of(&env, "registered", further).0, MO_C);
    let shown: serde_json::Value =
        serde_json::from_str(&env.ok(&["appeals", "show", &further.to_string(), "--json"]))
            .unwrap();
    assert_eq!(shown["body"], "mo-c");
    assert!(
        shown["dir"]
            .as_str()
            .is_some_and(|d| d.starts_with("archive/")),
        "{shown}"
    );

    // delivered again: each body's notice again, one receipt, no new appeal
    both("to-b-and-c-again");
    env.once();
    let redelivered = env.records_of_kind("appeal_redelivered");
    let of: Vec<u64> = redelivered
        .iter()
        .map(|r| r["of"].as_u64().unwrap())
        .collect();
    assert_eq!(of, [arrival, further], "{redelivered:?}");
    assert_eq!(env.records_of_kind("appeal_received").len(), 2);
    env.ok(&["journal", "verify"]);
}

#[test]
fn an_appeal_redirected_within_the_hub_is_registered_anew_at_the_receiving_body() {
    let env = Env::new();
    make_hub(&env);
    appeal_to_mo_b(&env, "to-b");
    env.once();
    let sent = env.records_of_kind("appeal_received")[0]["appeal"]
        .as_u64()
        .unwrap();
    let said = env.ok(&[
        "appeals",
        "redirect",
        &sent.to_string(),
        "--to",
        "mo-c",
        "--comment",
        "вопрос района",
    ]);
    assert!(said.contains("направлено"), "{said}");
    let new_id = (1u64 << 40) + sent * 1024 + 1;
    let yy = format!("{:02}", yy());
    let there: serde_json::Value =
        serde_json::from_str(&env.ok(&["appeals", "show", &new_id.to_string(), "--json"])).unwrap();
    assert_eq!(there["body"], "mo-c");
    assert_eq!(
        there["number"],
        format!("ОГ-1/{yy}"),
        "the receiving body's own number"
    );
    assert_eq!(there["redirected_from"].as_u64(), Some(sent));
    let from: serde_json::Value =
        serde_json::from_str(&env.ok(&["appeals", "show", &sent.to_string(), "--json"])).unwrap();
    assert_eq!(
        from["redirected_as"].as_u64(),
        Some(new_id),
        "linked both ways"
    );
    let history = from["history"].to_string();
    assert!(history.contains("вопрос района"), "{history}");
    // УРОГ hears it from the sending body, naming the receiving one; nothing between bodies
    let progress = env.records_of_kind("appeal_progress");
    assert_eq!(progress.len(), 1);
    assert_eq!(
        progress[0]["step"]["to"],
        "Администрация Искитимского района"
    );
    let outputs = progress[0]["outputs"].as_array().unwrap();
    assert_eq!(outputs.len(), 1);
    assert_eq!(outputs[0]["body"], "mo-b");
    assert_eq!(outputs[0]["recipient_uid"], common::env::UROG_UID);
    // not twice, not back
    let again = env.cmd(&["appeals", "redirect", &sent.to_string(), "--to", "mo-c"]);
    assert_eq!(again.status.code(), Some(1));
    let back = env.cmd(&["appeals", "redirect", &new_id.to_string(), "--to", "mo-b"]);
    assert_eq!(back.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&back.stderr).contains("уже было у органа mo-b"));
    env.ok(&["journal", "verify"]);
}

#[test]
fn an_appeal_another_body_redirects_to_us_over_medo_is_registered_as_forwarded() {
    let env = Env::new();
    make_hub(&env);
    const MINSTROY: &str = "dddddddd-0000-4000-8000-000000000004";
    env.add_sections(&format!(
        "[[partners]]\nname = \"Минстрой области\"\nuid = \"{MINSTROY}\"\ntransport_address = \"MINSTROY~MEDO\"\nrole = \"body\"\nformat = \"mirror\"\n"
    ));
    let dir = env.drop_sample("urog-appeal-2.2", "from-minstroy");
    new_document(
        &dir,
        71,
        "Письмо",
        "М-7100000",
        "О направлении обращения по компетенции",
    );
    common::packages::cp1251_edit(&dir.join("document.xml"), |t| {
        t.replace(common::env::UROG_UID, MINSTROY)
    });
    env.once();
    let received = env.records_of_kind("appeal_received");
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0]["source_uid"], MINSTROY);
    assert_eq!(
        received[0]["body"], "mo-b",
        "routed by the addressee as any package"
    );
    let arrival = received[0]["appeal"].as_u64().unwrap();
    assert_eq!(env.records_of_kind("appeal_registered").len(), 1);
    for kind in ["receipt", "registered"] {
        let name = env
            .outbound_names()
            .into_iter()
            .find(|n| n.starts_with(kind) && n.ends_with(&format!("-{arrival}")))
            .unwrap();
        let v = common::env::inspect(&env.outbound.join(name));
        assert_eq!(v["header"]["source"]["uid"], MO_B, "{kind} from mo-b");
        assert_eq!(
            v["envelope"]["addressees"][0], "MINSTROY~MEDO",
            "{kind} to the sender: {v}"
        );
    }
}

/// A crash at each fault point of a redirect (inside the command, after its commit): the
/// next run carries it out exactly once — one step, one appeal at the receiving body, one
/// number, one notice to УРОГ.
#[test]
fn a_redirect_a_crash_cut_short_is_carried_out_exactly_once() {
    for point in ["in-command", "after-command-commit"] {
        let env = Env::new();
        make_hub(&env);
        appeal_to_mo_b(&env, "to-b");
        env.once();
        let sent = env.records_of_kind("appeal_received")[0]["appeal"]
            .as_u64()
            .unwrap()
            .to_string();
        env.crash_at(point, &["appeals", "redirect", &sent, "--to", "mo-c"]);
        env.once();
        env.once();
        let progress = env.records_of_kind("appeal_progress");
        assert_eq!(progress.len(), 1, "{point}: one step: {progress:?}");
        let there: Vec<_> = env
            .records_of_kind("appeal_received")
            .into_iter()
            .filter(|r| r["body"] == "mo-c")
            .collect();
        assert_eq!(there.len(), 1, "{point}: one appeal at mo-c");
        let registered = env.records_of_kind("appeal_registered");
        assert_eq!(registered.len(), 2, "{point}: the first and the receiver's");
        let notices: Vec<String> = env
            .outbound_names()
            .into_iter()
            .filter(|n| {
                n.contains(&format!("-{sent}"))
                    && !n.starts_with("receipt")
                    && !n.starts_with("registered")
            })
            .collect();
        assert_eq!(
            notices.len(),
            1,
            "{point}: one notice of the redirect: {notices:?}"
        );
        env.ok(&["journal", "verify"]);
    }
}

/// A hub's witness notes carry every body's numbering: after an older `state_dir` is
/// restored and the operator continues from the witness, no body gives a number twice.
#[test]
fn after_a_restore_from_the_witness_no_body_of_a_hub_gives_a_number_twice() {
    let env = Env::new();
    make_hub(&env);
    let worm = env.root.path().join("worm");
    fs::create_dir(&worm).unwrap();
    env.add_sections(&format!("[audit]\nwitness_dir = {worm:?}"));
    let to_b = |name: &str, n: u32| {
        appeal_22(
            &env,
            name,
            n,
            &format!("А26-02-{n:07}"),
            "Федеральное агентство по образцам (пример)",
            "SAMPLE_AGENCY~MEDOGU",
        )
    };
    to_b("b1", 81);
    env.once();
    let backup = env.root.path().join("state-backup");
    let cp = common::env::copy_preserving;
    cp(&env.state, &backup);
    to_b("b2", 82); // Б-2 given, then lost with the restore
    env.once();
    let given: Vec<String> = env
        .records_of_kind("appeal_registered")
        .iter()
        .map(|r| r["number"].as_str().unwrap().to_string())
        .collect();
    let newest = fs::read_dir(&worm).unwrap().count();
    assert!(newest > 0);
    let notes: String = fs::read_dir(&worm)
        .unwrap()
        .map(|e| fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert!(
        notes.contains(" mo-b\n") && notes.contains(" mo-c\n"),
        "a line a body: {notes}"
    );
    fs::remove_dir_all(&env.state).unwrap();
    cp(&backup, &env.state);
    env.ok(&[
        "journal",
        "recover",
        "--from-witness",
        worm.to_str().unwrap(),
    ]);
    to_b("b3", 83);
    env.once();
    let after: Vec<String> = env
        .records_of_kind("appeal_registered")
        .iter()
        .map(|r| r["number"].as_str().unwrap().to_string())
        .collect();
    let newest = after.last().unwrap();
    assert!(
        !given.contains(newest),
        "{newest} was given before the restore: {given:?}"
    );
    assert!(
        newest.starts_with("Б-3/"),
        "mo-b goes on past Б-2: {after:?}"
    );
}

const MINSTROY: &str = "dddddddd-0000-4000-8000-000000000004";
const MINZDRAV: &str = "eeeeeeee-0000-4000-8000-000000000005";

/// Two bodies outside the hub the appeals may be sent to: one written to in 2.7
/// (containers), one in 2.2.
fn partner_bodies(env: &Env) {
    env.add_sections(&format!(
        "[[partners]]\nname = \"Минстрой области\"\nuid = \"{MINSTROY}\"\ntransport_address = \"MINSTROY~MEDO\"\nrole = \"body\"\nformat = \"2.7\"\n\n\
         [[partners]]\nname = \"Минздрав области\"\nuid = \"{MINZDRAV}\"\ntransport_address = \"MINZDRAV~MEDO\"\nrole = \"body\"\nformat = \"2.2\"\n"
    ));
}

/// The files (name → SHA-256) of the forwarded package `dir`: beside the message (2.2), or
/// in its container (2.7) — with the passport's text.
fn forwarded_files(dir: &Path) -> (std::collections::BTreeMap<String, String>, String) {
    let hex = medo_gateway::wire::hash::sha256_bytes;
    let mut files = std::collections::BTreeMap::new();
    let mut passport = String::new();
    for e in fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".zip") {
            let mut z = zip::ZipArchive::new(fs::File::open(&path).unwrap()).unwrap();
            for i in 0..z.len() {
                let mut entry = z.by_index(i).unwrap();
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
                let entry_name = entry.name().unwrap().to_string();
                if entry_name == "passport.xml" {
                    passport = String::from_utf8(bytes).unwrap();
                } else {
                    files.insert(entry_name, hex(&bytes));
                }
            }
        } else if !matches!(
            name.as_str(),
            "envelope.ini" | "document.xml" | "communication.xml"
        ) {
            files.insert(name, hex(&fs::read(&path).unwrap()));
        }
    }
    (files, passport)
}

/// Redirect to a body outside the hub (59-ФЗ ст. 8 ч. 3): the appeal itself goes to it over
/// МЭДО — in its format, our cover letter first, then every file of the appeal's document
/// with the digest it arrived with (from a folder or from a container) —, УРОГ is told where
/// and under which number of ours, and the appeal is «направлено».
#[test]
fn an_appeal_redirected_to_a_body_outside_the_hub_goes_there_with_its_files() {
    let env = Env::new();
    make_hub(&env);
    partner_bodies(&env);
    appeal_to_mo_b(&env, "a-22");
    env.drop_sample("urog-appeal-2.7.1", "a-271");
    env.once();
    let received = env.records_of_kind("appeal_received");
    assert_eq!(received.len(), 2, "{received:?}");
    for (appeal, to, partner, address) in [
        (
            &received[0],
            "partner:Минстрой области",
            MINSTROY,
            "MINSTROY~MEDO",
        ),
        (&received[1], MINZDRAV, MINZDRAV, "MINZDRAV~MEDO"),
    ] {
        let id = appeal["appeal"].as_u64().unwrap();
        let said = env.ok(&[
            "appeals",
            "redirect",
            &id.to_string(),
            "--to",
            to,
            "--comment",
            "не наш вопрос",
        ]);
        assert!(said.contains("направлено"), "{said}");
        let step = env
            .records_of_kind("appeal_progress")
            .into_iter()
            .find(|r| r["appeal"] == id)
            .expect("the step");
        let ours = step["number"].as_str().unwrap().to_string();
        let outputs = step["outputs"].as_array().unwrap();
        let notice = outputs.iter().find(|o| o["kind"] == "course").unwrap();
        assert_eq!(notice["recipient_uid"], common::env::UROG_UID);
        assert!(notice["text"]
            .as_str()
            .unwrap()
            .contains(&format!("(исх. № {ours})")));
        let sent = outputs.iter().find(|o| o["kind"] == "forwarded").unwrap();
        assert_eq!(sent["recipient_uid"], partner);
        let name = sent["name"].as_str().unwrap();
        let dir = env.outbound.join(name);
        let v = common::env::inspect(&dir);
        assert_eq!(v["envelope"]["addressees"][0], address, "{v}");
        let from = if appeal["body"] == "mo-b" { MO_B } else { MO_A };
        assert_eq!(v["header"]["source"]["uid"], from, "from the appeal's body");
        // every file of the appeal's document, byte for byte, and our letter
        let (files, passport) = forwarded_files(&dir);
        let mut arrived: Vec<String> = appeal["files"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| {
                f["role"] != "message" && f["role"] != "passport" && f["role"] != "unlisted"
            })
            .map(|f| f["sha256"].as_str().unwrap().to_string())
            .collect();
        let mut digests: Vec<String> = files
            .iter()
            .filter(|(n, _)| n.as_str() != "cover.pdf")
            .map(|(_, d)| d.clone())
            .collect();
        arrived.sort();
        digests.sort();
        assert!(!arrived.is_empty());
        assert_eq!(digests, arrived, "{files:?}");
        assert!(files.contains_key("cover.pdf"), "{files:?}");
        if partner == MINSTROY {
            assert!(passport.contains("Документ-основание"), "{passport}");
            assert!(
                passport.contains(appeal["urog_number"].as_str().unwrap()),
                "{passport}"
            );
        }
        let shown: serde_json::Value =
            serde_json::from_str(&env.ok(&["appeals", "show", &id.to_string(), "--json"])).unwrap();
        assert_eq!(shown["status"], "направлено", "{shown}");
        // the applicant's notice: where, when, under which number of ours
        let pdf = env.root.path().join(format!("notice-{id}.pdf"));
        env.ok(&[
            "appeals",
            "notice",
            &id.to_string(),
            "--out",
            pdf.to_str().unwrap(),
        ]);
        let name = if partner == MINSTROY {
            "Минстрой области"
        } else {
            "Минздрав области"
        };
        for words in ["Уважаемый заявитель", name, &ours, "статьи 8"] {
            common::pdf_text_contains(&pdf, words);
        }
        if partner == MINSTROY {
            received_over_there(
                &env,
                &dir,
                appeal,
                &ours,
                sent["message_uid"].as_str().unwrap(),
            );
        }
    }
    env.ok(&["journal", "verify"]);
}

/// The forwarded package `dir` as the receiving body's gateway (a one-body node whose
/// partner is our body mo-b, role `body`) takes it: a forwarded appeal under УРОГ's number,
/// its files, our letter cited in its notices to us; its receipt, back with us, is the one
/// our document waited for.
fn received_over_there(env: &Env, dir: &Path, appeal: &serde_json::Value, ours: &str, uid: &str) {
    let theirs = Env::new();
    let text = fs::read_to_string(&theirs.config)
        .unwrap()
        .replace(MO_A, MINSTROY)
        .replace(
            "organization = \"Федеральное агентство по образцам (пример)\"",
            "organization = \"Минстрой области\"",
        );
    fs::write(&theirs.config, text).unwrap();
    theirs.add_sections(&format!(
        "[[partners]]\nname = \"Администрация города Бердска\"\nuid = \"{MO_B}\"\ntransport_address = \"SAMPLE_AGENCY~MEDOGU\"\nrole = \"body\"\nformat = \"mirror\"\n"
    ));
    copy_dir(dir, &theirs.inbound.join("from-berdsk"));
    theirs.once();
    let got = theirs.records_of_kind("appeal_received");
    assert_eq!(got.len(), 1, "{:?}", theirs.journal_lines());
    assert_eq!(
        got[0]["urog_number"], appeal["urog_number"],
        "УРОГ's number kept"
    );
    assert_eq!(got[0]["via"]["number"], ours, "our letter: {}", got[0]);
    let files = got[0]["files"].as_array().unwrap();
    for f in appeal["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["role"] == "attachment")
    {
        assert!(
            files.iter().any(|g| g["sha256"] == f["sha256"]),
            "{f} over there: {files:?}"
        );
    }
    let registered = theirs.records_of_kind("appeal_registered");
    assert_eq!(registered.len(), 1, "{:?}", theirs.journal_lines());
    let notice = &registered[0]["outputs"][0];
    assert_eq!(notice["recipient_uid"], MO_B);
    assert_eq!(
        notice["foundation"]["number"], ours,
        "their notice cites our letter"
    );
    let receipt = theirs.receipts().pop().expect("their receipt");
    copy_dir(
        &theirs.outbound.join(&receipt),
        &env.inbound.join("receipt-from-minstroy"),
    );
    env.once();
    let back = env.records_of_kind("receipt_received");
    assert!(
        back.iter()
            .any(|r| r["about_uid"] == uid && r["accepted"] == true),
        "our document's receipt: {back:?}"
    );
}

/// A redirect over МЭДО cut by a crash at each of its fault points (inside the command, once
/// the files are kept, after its commit): carried out exactly once — one step, one outgoing
/// number, one forwarded package, its files whole.
#[test]
fn a_redirect_over_medo_a_crash_cut_short_is_carried_out_exactly_once() {
    let never = Env::new();
    never.drop_sample("urog-appeal-2.2", "a");
    never.once();
    let out = never.root.path().join("n.pdf");
    let said = never.cmd(&["appeals", "notice", "1", "--out", out.to_str().unwrap()]);
    assert_eq!(
        said.status.code(),
        Some(1),
        "not redirected: nothing to tell"
    );
    for point in ["in-command", "after-forwarded-kept", "after-command-commit"] {
        let env = Env::new();
        make_hub(&env);
        partner_bodies(&env);
        appeal_to_mo_b(&env, "to-b");
        env.once();
        let appeal = env.records_of_kind("appeal_received").remove(0);
        let id = appeal["appeal"].as_u64().unwrap().to_string();
        env.crash_at(
            point,
            &["appeals", "redirect", &id, "--to", "Минздрав области"],
        );
        env.once();
        env.once();
        let steps = env.records_of_kind("appeal_progress");
        assert_eq!(steps.len(), 1, "{point}: one step: {steps:?}");
        assert_eq!(steps[0]["year_seq"], 1, "{point}: one outgoing number");
        let sent: Vec<String> = env
            .outbound_names()
            .into_iter()
            .filter(|n| n.starts_with("forwarded"))
            .collect();
        assert_eq!(sent.len(), 1, "{point}: {:?}", env.outbound_names());
        let (files, _) = forwarded_files(&env.outbound.join(&sent[0]));
        assert_eq!(files.len(), 3, "{point}: cover, letter, appeal: {files:?}");
        env.ok(&["journal", "verify"]);
    }
}

/// `appeals list` under libfaketime, the clock moved by `offset` (e.g. `+12d`).
fn list_at(env: &Env, offset: &str, args: &[&str]) -> String {
    let mut all = vec!["appeals", "list"];
    all.extend_from_slice(args);
    let out = env.cmd_at(offset, &all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The 7-day redirect period (59-ФЗ ст. 8 ч. 3): a registered appeal nobody took into work
/// nor redirected is listed `--undecided` once its redirect date has passed — and no longer
/// once an executor is named.
#[test]
fn an_appeal_left_without_a_step_for_seven_days_is_listed_undecided() {
    let env = Env::new();
    env.drop_sample("urog-appeal-2.2", "a");
    env.once();
    let rows = |offset: &str| -> Vec<serde_json::Value> {
        serde_json::from_str(&list_at(&env, offset, &["--undecided", "--json"])).unwrap()
    };
    assert!(rows("+0d").is_empty(), "registered today: not yet");
    let late = rows("+12d");
    assert_eq!(late.len(), 1, "{late:?}");
    assert_eq!(late[0]["undecided"], true);
    let table = list_at(&env, "+12d", &[]);
    assert!(table.contains("7 дней без решения"), "{table}");
    env.ok(&[
        "appeals",
        "event",
        "1",
        "executor-assigned",
        "--executor",
        "Иванова И. И.",
    ]);
    assert!(rows("+12d").is_empty(), "in work: decided");
}

/// The applicant's status in a hub: two bodies gave the same number, the PIN tells their
/// appeals apart (or `body` names one); wrong PINs lock that number at that body only.
#[test]
fn the_applicants_status_in_a_hub_tells_bodies_apart_and_locks_per_body() {
    let env = Env::new();
    make_hub(&env);
    env.drop_sample("urog-appeal-2.7.1", "to-a-by-uid");
    appeal_22(
        &env,
        "to-c",
        31,
        "А26-02-3100000",
        "Кому-то",
        "ISKITIM~MEDO",
    );
    env.once();
    let yy = format!("{:02}", yy());
    let number = format!("ОГ-1/{yy}");
    let pin_of = |body: &str| -> String {
        let shown = env.ok(&[
            "appeals", "show", &number, "--body", body, "--json", "--pin",
        ]);
        let v: serde_json::Value = serde_json::from_str(&shown).unwrap();
        v["pin"].as_str().unwrap().to_string()
    };
    let (pin_a, pin_c) = (pin_of("mo-a"), pin_of("mo-c"));
    let port = env.listen_http();
    let service = common::env::Service::start(&env);
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'0'..=b'9' | b'A'..=b'Z' | b'a'..=b'z' | b'-' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    let status = |pin: &str, body: Option<&str>| {
        let mut path = format!("/api/v1/status?number={}&pin={pin}", enc(&number));
        if let Some(b) = body {
            path.push_str(&format!("&body={b}"));
        }
        http(port, "GET", &path, "", None).0
    };
    assert_eq!(status(&pin_a, None), 200, "mo-a's by its PIN");
    assert_eq!(status(&pin_c, None), 200, "mo-c's by its PIN");
    assert_eq!(status(&pin_a, Some("mo-c")), 404, "not mo-c's PIN");
    assert_eq!(status(&pin_c, Some("mo-c")), 200);
    for _ in 0..5 {
        assert_eq!(status("000000", Some("mo-a")), 404);
    }
    assert_eq!(status(&pin_a, Some("mo-a")), 404, "mo-a's number locked");
    assert_eq!(status(&pin_a, None), 404, "locked without the body too");
    assert_eq!(status(&pin_c, None), 200, "mo-c's same number is not");
    service.stop();
}
