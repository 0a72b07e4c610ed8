//! Issue 30 item 4: the applicant. `GET /api/v1/status` adds the due date, the body that
//! registered it (and its contacts), the extension (until, why) and the files — the notice of
//! the extension and the answer — each downloadable with the number and PIN under the same
//! lock; `/status` is a small Russian page (no scripts) rendered in headless Chromium; the
//! public listener serves these and nothing of the operators'.

mod common;

use std::fs;
use std::io::{Read, Write};

use common::env::Env;

/// A GET on `port`: the status, the headers and the body as bytes.
fn get(port: u16, path: &str) -> (u16, String, Vec<u8>) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&out[..split]).into_owned();
    let code = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (code, head, out[split + 4..].to_vec())
}

/// `YYYY-MM-DD` as `DD.MM.YYYY`.
fn ru(day: &str) -> String {
    format!("{}.{}.{}", &day[8..10], &day[5..7], &day[..4])
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn the_applicant_gets_the_dates_the_body_and_the_files() {
    let env = Env::new();
    let public = common::env::free_port();
    env.add_sections(&format!(
        "[documents]\naddress = \"633010, г. Бердск, ул. М. Горького, 13\"\ncontacts = \"тел. (383) 411-00-00\"\nsigner_name = \"И. И. Иванов\"\n[http]\npublic_listen = \"127.0.0.1:{public}\"\n"
    ));
    env.drop_sample("urog-appeal-2.2", "a");
    env.once();
    let shown: serde_json::Value =
        serde_json::from_str(&env.ok(&["appeals", "show", "1", "--json", "--pin"])).unwrap();
    let (number, pin) = (
        shown["number"].as_str().unwrap().to_string(),
        shown["pin"].as_str().unwrap().to_string(),
    );
    let due = shown["due"]["answer_by"].as_str().unwrap();
    let due = time::Date::parse(
        due,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .unwrap();
    let until = (due + time::Duration::days(20)).to_string();
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
    let answer = env.root.path().join("answer.pdf");
    fs::write(&answer, medo_gateway::samples::minimal_pdf("ответ")).unwrap();
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
    // the printable notice of registration, for an applicant without e-mail: number, PIN, how
    let printed = env.root.path().join("registration.pdf");
    env.ok(&[
        "appeals",
        "notice",
        &number,
        "--kind",
        "registration",
        "--out",
        printed.to_str().unwrap(),
    ]);
    for words in [
        "Уведомление о регистрации обращения",
        &number,
        &pin,
        "Статус обращения",
        &format!("не позднее {}", ru(&until)),
    ] {
        common::pdf_text_contains(&printed, words);
    }
    let service = common::env::Service::start(&env);
    common::wait_http(public);
    let q = format!("number={}&pin={pin}", enc(&number));
    let (code, _, body) = get(public, &format!("/api/v1/status?{q}"));
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["due_date"], until, "{v}");
    assert_eq!(v["extended_until"], until);
    assert_eq!(v["extension_reason"], "запрос в другой орган");
    assert_eq!(
        v["body"]["address"],
        "633010, г. Бердск, ул. М. Горького, 13"
    );
    assert!(v["body"]["name"]
        .as_str()
        .unwrap()
        .contains("Федеральное агентство"));
    let files = v["files"].as_array().unwrap();
    let kinds: Vec<&str> = files.iter().map(|f| f["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["answer", "extension"], "{v}");
    // each downloads with the number and PIN, under its Russian name
    let (code, head, pdf) = get(public, &format!("/api/v1/status/files/answer.pdf?{q}"));
    assert_eq!(code, 200, "{head}");
    assert_eq!(
        pdf,
        fs::read(&answer).unwrap(),
        "the answer as it was attached"
    );
    assert!(
        head.to_lowercase().contains(
            "content-disposition: attachment; filename=\"answer.pdf\"; filename*=utf-8''"
        ),
        "{head}"
    );
    let (code, _, notice) = get(
        public,
        &format!("/api/v1/status/files/extension-notice.pdf?{q}"),
    );
    assert_eq!(code, 200);
    assert_eq!(notice.len(), files[1]["size"].as_u64().unwrap() as usize);
    let saved = env.root.path().join("notice.pdf");
    fs::write(&saved, &notice).unwrap();
    let ru_until = format!("{}.{}.{}", &until[8..10], &until[5..7], &until[..4]);
    for words in [
        "Уведомление о продлении срока рассмотрения",
        &ru_until,
        "запрос в другой орган",
        "И. И. Иванов",
    ] {
        common::pdf_text_contains(&saved, words);
    }
    // a wrong PIN, or a name not listed, gets nothing
    assert_eq!(
        get(
            public,
            &format!(
                "/api/v1/status/files/answer.pdf?number={}&pin=0000000000",
                enc(&number)
            )
        )
        .0,
        404
    );
    assert_eq!(
        get(public, &format!("/api/v1/status/files/..%2Fpin.key?{q}")).0,
        404
    );
    // the page: the form, then the status and the files
    let (code, _, form) = get(public, "/status");
    assert_eq!(code, 200);
    let form = String::from_utf8(form).unwrap();
    assert!(
        form.contains("<form") && !form.contains("<script"),
        "{form}"
    );
    let (code, _, page) = get(public, &format!("/status?{q}"));
    assert_eq!(code, 200);
    let page = String::from_utf8(page).unwrap();
    for words in [
        "Срок продлён до",
        &ru_until,
        "Уведомление о продлении срока рассмотрения",
        "Ответ на обращение",
        "ул. М. Горького",
    ] {
        assert!(page.contains(words), "{words}: {page}");
    }
    // the public listener serves nothing of the operators'
    for path in [
        "/",
        "/metrics",
        "/api/v1/appeals",
        "/api/v1/documents?state=pending",
    ] {
        assert_eq!(get(public, path).0, 404, "{path}");
    }
    let url = format!("http://127.0.0.1:{public}/status?{q}");
    screenshot(&env, &url);
    assert!(service.stop().success());
}

/// The page as a phone shows it, in headless Chromium (kept for a look when
/// `MEDO_STATUS_PNG` names a file).
fn screenshot(env: &Env, url: &str) {
    let Some(chromium) = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            std::process::Command::new(c)
                .arg("--version")
                .output()
                .is_ok()
        })
    else {
        assert!(!common::in_ci(), "CI=true: chromium is needed");
        common::skipped("the status page's screenshot: no chromium");
        return;
    };
    let png = env.root.path().join("status.png");
    let out = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--window-size=390,900",
        ])
        .arg(format!("--screenshot={}", png.display()))
        .arg(url)
        .output()
        .unwrap();
    assert!(png.exists(), "{}", String::from_utf8_lossy(&out.stderr));
    let bytes = fs::read(&png).unwrap();
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 5000,
        "a rendered page"
    );
    if let Ok(keep) = std::env::var("MEDO_STATUS_PNG") {
        fs::write(keep, bytes).unwrap();
    }
}
