//! The HTTP API of `run`: SED events with a bearer token (401 without, 403 when no token is
//! configured), the applicant's status by registration number and PIN (a wrong PIN answers like
//! an unknown number; lookups rate-limited), `/healthz`.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::env::{Env, Service};
use common::post_with_key;

/// A minimal HTTP/1.1 client: (status, body).
fn request(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    if let Some(b) = body {
        req.push_str(b);
    }
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status: u16 = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = out.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

/// `POST /api/v1/appeals/1/events` with the tests' token.
fn post_event(port: u16, body: &str) -> (u16, String) {
    request(
        port,
        "POST",
        "/api/v1/appeals/1/events",
        Some("s3cret-token"),
        Some(body),
    )
}

use common::env::free_port;

/// The answer file the tests send: a real one-page PDF.
fn answer_pdf() -> Vec<u8> {
    medo_gateway::samples::minimal_pdf("answer")
}

/// Issue 16, item 4: clients with hashed tokens and scopes; errors as problem details.
#[test]
fn clients_have_hashed_tokens_and_scopes() {
    let (env, port) = env_with_http(Some("s3cret-token"));
    let (reader, reader_toml) = env.api_client("reader", "read");
    let (writer, writer_toml) = env.api_client("delo", "read,write,dsp");
    assert_eq!(reader.len(), 64);
    assert_ne!(reader, writer, "a fresh token each time");
    env.add_sections(&format!("[api]\n{reader_toml}\n{writer_toml}"));
    let config = fs::read_to_string(&env.config).unwrap();
    assert!(
        !config.contains(&reader) && !config.contains(&writer),
        "tokens are not stored"
    );
    let service = Service::start(&env);
    wait_http(port);
    let body = r#"{"step":"executor-assigned","executor":"Иванов"}"#;
    let post =
        |token: Option<&str>| request(port, "POST", "/api/v1/appeals/1/events", token, Some(body));
    let (code, text) = post(Some(&reader));
    assert_eq!(code, 403, "{text}");
    let problem: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(problem["status"], 403);
    assert_eq!(problem["title"], "Forbidden");
    assert!(
        problem["detail"].as_str().unwrap().contains("\"write\""),
        "{text}"
    );
    let (code, text) = post(Some("not-a-token"));
    assert_eq!(code, 401, "{text}");
    wait_log(&service, "HTTP requests refused status=401");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&text).unwrap()["status"],
        401
    );
    let (code, text) = post(Some(&writer));
    assert_eq!(code, 200, "{text}");
    // the api_token_file still works, as the client `api` (read and write)
    let (code, text) = post_event(port, r#"{"step":"executor-assigned","executor":"Петров"}"#);
    assert_eq!(code, 200, "{text}");
    assert!(service.stop().success());
    // a malformed digest or an unknown scope is a config error
    let text = fs::read_to_string(&env.config).unwrap();
    fs::write(
        &env.config,
        text.replace("scopes = [\"read\"]", "scopes = [\"admin\"]"),
    )
    .unwrap();
    let out = env.cmd(&["run", "--once"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("область \"admin\""));
}

fn env_with_http(token: Option<&str>) -> (Env, u16) {
    let env = Env::new();
    let port = free_port();
    let mut http = format!("[http]\nlisten = \"127.0.0.1:{port}\"\n");
    if let Some(t) = token {
        let f = env.root.path().join("token");
        fs::write(&f, format!("{t}\n")).unwrap();
        http.push_str(&format!("api_token_file = {:?}\n", f));
    }
    env.add_sections(&http);
    env.drop_sample("urog-appeal-2.2", "a");
    env.once();
    (env, port)
}

/// The outbound folders starting with `prefix`, once the running service has published one
/// (at most 10 s); empty if none came.
fn published(env: &Env, prefix: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found: Vec<String> = env
            .outbound_names()
            .into_iter()
            .filter(|n| n.starts_with(prefix))
            .collect();
        if !found.is_empty() || Instant::now() >= deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_http(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "HTTP did not come up");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn events_need_the_token_and_status_needs_the_pin() {
    let (env, port) = env_with_http(Some("s3cret-token"));
    let service = Service::start(&env);
    wait_http(port);
    assert_eq!(request(port, "GET", "/healthz", None, None).0, 200);
    let number = env.records_of_kind("appeal_registered")[0]["number"]
        .as_str()
        .unwrap()
        .to_string();
    let enc = |s: &str| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    let body = r#"{"step":"executor-assigned","executor":"Иванов И.И."}"#;
    assert_eq!(
        request(port, "POST", "/api/v1/appeals/1/events", None, Some(body)).0,
        401
    );
    // a 401 says how to authenticate (RFC 6750): WWW-Authenticate: Bearer
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"GET /api/v1/appeals HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    assert!(raw.starts_with("HTTP/1.1 401"), "{raw}");
    assert!(
        raw.to_ascii_lowercase()
            .contains("\r\nwww-authenticate: bearer"),
        "{raw}"
    );
    assert_eq!(
        request(
            port,
            "POST",
            "/api/v1/appeals/1/events",
            Some("wrong"),
            Some(body)
        )
        .0,
        401
    );
    let (code, text) = request(
        port,
        "POST",
        "/api/v1/appeals/1/events",
        Some("s3cret-token"),
        Some(body),
    );
    assert_eq!(code, 200, "{text}");
    let (code, text) = request(
        port,
        "POST",
        "/api/v1/appeals/1/events",
        Some("s3cret-token"),
        Some(r#"{"step":"extended","until":"1999-01-01","reason":"x"}"#),
    );
    assert_eq!(code, 422, "{text}");
    assert_eq!(
        request(
            port,
            "POST",
            "/api/v1/appeals/999/events",
            Some("s3cret-token"),
            Some(body)
        )
        .0,
        404
    );
    assert_eq!(
        request(
            port,
            "POST",
            "/api/v1/appeals/1/events",
            Some("s3cret-token"),
            Some("{not json")
        )
        .0,
        400
    );
    // no host path crosses the API: an answer naming a file is refused, nothing is copied
    let (code, text) = request(
        port,
        "POST",
        "/api/v1/appeals/1/events",
        Some("s3cret-token"),
        Some(r#"{"step":"answered","result":"explained","file":"/etc/passwd"}"#),
    );
    assert_eq!(code, 400, "{text}");
    assert!(
        text.contains("file_base64"),
        "the body says how to send a file: {text}"
    );
    assert!(!env.state.join("answers").exists(), "no file kept");

    // the applicant's view: the PIN from `appeals show --pin`
    let out = env.cmd(&["appeals", "show", &number, "--json", "--pin"]);
    let pin = serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["pin"]
        .as_str()
        .unwrap()
        .to_string();
    let lookup = |number: &str, pin: &str| {
        let url = format!("/api/v1/status?number={}&pin={pin}", enc(number));
        request(port, "GET", &url, None, None)
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    let (code, text) = loop {
        let r = lookup(&number, &pin);
        if r.1.contains("рассматривается") || Instant::now() > deadline {
            break r;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(code, 200, "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["status"], "рассматривается");
    let statuses: Vec<&str> = v["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["поступило", "зарегистрировано", "рассматривается"]
    );
    assert!(v["timeline"][2]["detail"]
        .as_str()
        .unwrap()
        .contains("Иванов"));
    // a wrong PIN answers exactly like an unknown number
    let wrong = lookup(&number, "000000");
    let unknown = lookup("ОГ-999/99", &pin);
    assert_eq!(wrong.0, 404);
    assert_eq!(wrong, unknown);
    // issue 14, item 9: after five wrong PINs the number is locked — even the right PIN gets
    // the same «not found» (a lock lasts a minute after the last wrong try: unit-tested)
    for _ in 0..4 {
        assert_eq!(lookup(&number, "0000000000").0, 404);
    }
    let locked = lookup(&number, &pin);
    assert_eq!(
        locked, unknown,
        "locked: the right PIN answers like an unknown number"
    );
    // rate limit per client
    let mut limited = None;
    for _ in 0..40 {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(
            b"GET /api/v1/status?number=x&pin=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        if out.starts_with("HTTP/1.1 429") {
            limited = Some(out);
            break;
        }
    }
    let refused = limited.expect("status lookups are not rate-limited");
    // Issue 17, item 6: the client is told when to come back
    let retry = refused
        .lines()
        .find_map(|l| l.strip_prefix("retry-after: "))
        .expect("Retry-After on 429");
    assert!(
        (1..=60).contains(&retry.trim().parse::<u64>().unwrap()),
        "{refused}"
    );
    // and the operator learns of it: a WARN (throttled to one per 10 s per status)
    wait_log(&service, "HTTP requests refused status=429");
    assert!(service.stop().success());
    env.verify_all();
}

#[test]
fn without_a_token_file_write_endpoints_are_forbidden() {
    let (env, port) = env_with_http(None);
    let service = Service::start(&env);
    wait_http(port);
    let body = r#"{"step":"executor-assigned","executor":"X"}"#;
    assert_eq!(
        request(
            port,
            "POST",
            "/api/v1/appeals/1/events",
            Some("anything"),
            Some(body)
        )
        .0,
        403
    );
    assert_eq!(request(port, "GET", "/healthz", None, None).0, 200);
    drop(service);
}

#[test]
fn metrics_are_served_in_prometheus_text() {
    let (env, port) = env_with_http(None);
    let service = Service::start(&env);
    wait_http(port);
    env.drop_sample("urog-appeal-2.7.1", "b");
    let deadline = Instant::now() + Duration::from_secs(10);
    let text = loop {
        let (head, text) = get_accepting(
            port,
            "/metrics",
            "application/openmetrics-text; version=1.0.0",
        );
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: application/openmetrics-text"),
            "{head}"
        );
        if text.contains("medo_packages_received_total 1")
            && text.contains("medo_outbound_waiting 4")
        {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "metrics never showed the package:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    // OpenMetrics (prometheus-client): a counter's family is named without `_total`, its
    // sample with it; the build is an info metric
    for (name, kind) in [
        ("medo_packages_received", "counter"),
        ("medo_packages_archived", "counter"),
        ("medo_packages_quarantined", "counter"),
        ("medo_packages_in_flight", "gauge"),
        ("medo_inbound_waiting", "gauge"),
        ("medo_outbound_waiting", "gauge"),
        ("medo_appeals_overdue", "gauge"),
        ("medo_journal_records", "gauge"),
        ("medo_last_scan_timestamp_seconds", "gauge"),
        ("medo_processing_latency_seconds", "histogram"),
        ("medo_packages", "gauge"),
        ("medo_outbound_oldest_seconds", "gauge"),
        ("medo_build", "info"),
        // (a labelled family without samples — medo_quarantined_by_code before any
        // quarantine — is not described: tests/alerts.rs checks it with one)
    ] {
        assert!(
            text.contains(&format!("# TYPE {name} {kind}\n")),
            "{name} {kind} missing:\n{text}"
        );
    }
    assert!(
        text.contains("medo_processing_latency_seconds_count 1"),
        "{text}"
    );
    let build = format!(
        "medo_build_info{{version=\"{}\",commit=\"",
        env!("CARGO_PKG_VERSION")
    );
    assert!(text.contains(&build), "{text}");
    // every series once (no name and label set twice)
    let series: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.rsplit_once(' ').unwrap().0)
        .collect();
    let unique: std::collections::BTreeSet<&&str> = series.iter().collect();
    assert_eq!(unique.len(), series.len(), "a series repeated:\n{text}");
    assert!(text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .all(|l| l.starts_with("medo_")));
    assert!(text.ends_with("# EOF\n"), "OpenMetrics ends with EOF");
    // without asking for OpenMetrics: the 0.0.4 text (issue 26 item 15), which promtool and
    // other scrapers read
    let (head, plain) = get_accepting(port, "/metrics", "text/plain");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    assert!(
        plain.contains("# TYPE medo_packages_received_total counter\n"),
        "{plain}"
    );
    assert!(plain.contains("# TYPE medo_build_info gauge\n"), "{plain}");
    assert!(
        !plain.contains("# EOF") && !plain.contains("_created"),
        "{plain}"
    );
    let checked = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    match checked {
        Ok(mut child) => {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(plain.as_bytes())
                .unwrap();
            let out = child.wait_with_output().unwrap();
            let said = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            // promtool's lint complaints (exit 3) are advice; a parse error is exit 1
            assert_ne!(
                out.status.code(),
                Some(1),
                "promtool cannot read it: {said}"
            );
            assert!(!said.contains("error while linting"), "{said}");
        }
        Err(_) => {
            assert!(!common::in_ci(), "CI=true: promtool is needed");
            common::skipped("promtool check metrics: no promtool");
        }
    }
    drop(service);
}

/// A GET with an `Accept` header: the response's head and body.
fn get_accepting(port: u16, path: &str, accept: &str) -> (String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let req =
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nAccept: {accept}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    (head.to_string(), body.to_string())
}

/// Issue 14, item 10: a flood of half-sent requests (more than the service's descriptors)
/// neither stops intake nor keeps the API down: connections beyond the cap are closed, idle
/// ones time out after the header-read timeout (10 s), and an appeal dropped meanwhile is
/// answered.
#[cfg(unix)]
#[test]
fn idle_connections_never_starve_intake() {
    const FLOOD: usize = 600;
    // the test itself holds FLOOD sockets
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain getrlimit/setrlimit on this process
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    if lim.rlim_max < FLOOD as u64 + 200 {
        common::skipped(format!(
            "idle-connection flood: hard descriptor limit {} too low",
            lim.rlim_max
        ));
        return;
    }
    lim.rlim_cur = lim.rlim_max;
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
    let (env, port) = env_with_http(None);
    let service = Service::start_with(&env, Some(512));
    wait_http(port);
    let mut held = Vec::new();
    for _ in 0..FLOOD {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n");
            held.push(s);
        }
    }
    env.drop_sample("urog-appeal-2.7.1", "during-flood");
    let deadline = Instant::now() + Duration::from_secs(20);
    while env.receipts().len() < 2 {
        assert!(
            Instant::now() < deadline,
            "intake starved: {:?}",
            env.outbound_names()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // the idle ones are closed after the header-read timeout; the API answers again
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (code, _) = std::panic::catch_unwind(|| request(port, "GET", "/healthz", None, None))
            .unwrap_or((0, String::new()));
        if code == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "/healthz stayed down");
        std::thread::sleep(Duration::from_millis(500));
    }
    drop(held);
    assert!(service.stop().success());
}

/// Issue 14, item 11: the public listener serves the applicant's status and /healthz only;
/// the operators' listener, bound off loopback, wants the token for the dashboard and
/// /metrics too.
#[test]
fn public_and_operator_surfaces_are_separate() {
    let env = Env::new();
    let (operators, public) = (free_port(), free_port());
    let token = env.root.path().join("token");
    fs::write(&token, "s3cret-token\n").unwrap();
    env.add_sections(&format!(
        "[http]\nlisten = \"0.0.0.0:{operators}\"\npublic_listen = \"127.0.0.1:{public}\"\napi_token_file = {token:?}\n"
    ));
    env.deliver("urog-appeal-2.2", "a");
    let service = Service::start(&env);
    wait_http(public);
    wait_http(operators);
    let get = |port, path: &str, token| request(port, "GET", path, token, None).0;
    assert_eq!(get(public, "/healthz", None), 200);
    assert_eq!(get(public, "/api/v1/status?number=x&pin=1", None), 404);
    for path in ["/", "/metrics", "/?q=%D0%9E%D0%93"] {
        assert_eq!(get(public, path, None), 404, "{path} is not public");
    }
    let body = r#"{"step":"executor-assigned","executor":"X"}"#;
    let post = |port| post_event(port, body).0;
    assert_eq!(post(public), 404, "no write API on the public listener");
    assert_eq!(
        get(operators, "/", None),
        401,
        "off loopback the dashboard needs the token"
    );
    assert_eq!(get(operators, "/metrics", None), 401);
    assert_eq!(get(operators, "/", Some("s3cret-token")), 200);
    assert_eq!(get(operators, "/metrics", Some("s3cret-token")), 200);
    assert_eq!(post(operators), 200);
    assert!(service.stop().success());
}

/// Issue 14, item 8: an answer file comes in the request body (base64, at most
/// `limits.max_answer_bytes`) and is kept with the answer; a larger one is refused.
#[test]
fn an_answer_file_comes_in_the_body() {
    let (env, port) = env_with_http(Some("s3cret-token"));
    env.add_sections("[limits]\nmax_answer_bytes = 2048");
    let service = Service::start(&env);
    wait_http(port);
    let post = |body: &str| post_event(port, body);
    let (code, text) = post(r#"{"step":"executor-assigned","executor":"Иванов"}"#);
    assert_eq!(code, 200, "{text}");
    let big = "QUFB".repeat(700); // 2,100 bytes decoded
    let (code, text) = post(&format!(
        r#"{{"step":"answered","result":"explained","file_name":"a.pdf","file_base64":"{big}"}}"#
    ));
    assert_eq!(code, 400, "{text}");
    assert!(text.contains("max_answer_bytes"), "{text}");
    // the executor step takes no file; a redirect letter must be a PDF
    let (code, text) = post(
        r#"{"step":"executor-assigned","executor":"Петров","file_name":"a.pdf","file_base64":"JVBERi0xLjQgYW5zd2Vy"}"#,
    );
    assert_eq!(code, 422, "{text}");
    let (code, text) = post(
        r#"{"step":"redirected","to":"Минтруд России","file_name":"letter.docx","file_base64":"UEsDBA=="}"#,
    );
    assert_ne!(code, 200, "a file that is not a PDF is refused: {text}");
    assert!(text.contains("не PDF"), "{text}");
    // magic bytes alone are not a PDF (issue 26 item 3)
    let (code, text) = post(
        r#"{"step":"answered","result":"explained","file_name":"answer.pdf","file_base64":"JVBERi0xLjQgYW5zd2Vy"}"#,
    );
    assert_eq!(code, 422, "{text}");
    assert!(text.contains("не PDF"), "{text}");
    let pdf = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, answer_pdf());
    // a name the filesystem cannot take: refused, and no host path in the answer (issue 26
    // item 15)
    let long = format!("{}.pdf", "а".repeat(200));
    let (code, text) = post(&format!(
        r#"{{"step":"answered","result":"explained","file_name":"{long}","file_base64":"{pdf}"}}"#
    ));
    assert_eq!(code, 400, "{text}");
    let state = env.state.to_str().unwrap();
    assert!(
        !text.contains(state) && !text.contains("control/files"),
        "{text}"
    );
    let (code, text) = post(&format!(
        r#"{{"step":"answered","result":"explained","file_name":"answer.pdf","file_base64":"{pdf}"}}"#
    ));
    assert_eq!(code, 200, "{text}");
    assert_eq!(
        fs::read(env.state.join("answers/1/answer.pdf")).unwrap(),
        answer_pdf()
    );
    // sent to УРОГ as our document with that file (published right after the command's
    // commit, in the same pass: waited for)
    let doc = published(&env, "report-document")
        .pop()
        .expect("the report document");
    assert_eq!(
        fs::read(
            env.outbound
                .join(doc)
                .join(common::package_name(&answer_pdf()))
        )
        .unwrap(),
        answer_pdf()
    );
    assert!(service.stop().success());
    env.verify_all();
}

/// `GET /api/v1/changes` with the tests' token: the page as JSON.
fn changes(port: u16, after: &str, limit: u32) -> serde_json::Value {
    let (code, text) = request(
        port,
        "GET",
        &format!("/api/v1/changes?after={after}&limit={limit}"),
        Some("s3cret-token"),
        None,
    );
    assert_eq!(code, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

/// Polls the feed from `cursor` to its end in pages of 2; the items and the last cursor.
fn drain(port: u16, mut cursor: String) -> (Vec<serde_json::Value>, String) {
    let mut items = Vec::new();
    loop {
        let page = changes(port, &cursor, 2);
        let got = page["items"].as_array().unwrap().clone();
        let next = page["next"].as_str().unwrap().to_string();
        if got.is_empty() && next == cursor {
            return (items, cursor);
        }
        items.extend(got);
        cursor = next;
    }
}

/// Issue 16, item 1 (the feed): in journal order, gap-free and resumable — a client that
/// stores each page's cursor sees every change once across a `kill -9` of the service, and a
/// client that lost its cursor gets the same page again.
#[test]
fn the_changes_feed_neither_skips_nor_repeats_across_a_kill() {
    let (env, port) = env_with_http(Some("s3cret-token"));
    let mut service = Service::start(&env);
    wait_http(port);
    let settle = |n: usize| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while env.records_of_kind("appeal_registered").len() < n {
            assert!(Instant::now() < deadline, "appeals not registered");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    for n in 1..=2u32 {
        let d = env.drop_sample("urog-appeal-2.2", &format!("more-{n}"));
        common::packages::new_document(&d, 100 + n, "Письмо", &format!("А26-02-10{n}"), "x");
    }
    settle(3);
    let (first, cursor) = drain(port, String::new());
    // a client that crashed before storing its cursor asks again: the same page
    assert_eq!(changes(port, "", 2), changes(port, "", 2));
    let (code, text) = request(
        port,
        "GET",
        "/api/v1/changes?after=nonsense",
        Some("s3cret-token"),
        None,
    );
    assert_eq!(code, 400, "{text}");
    let (code, _) = request(port, "GET", "/api/v1/changes", None, None);
    assert_eq!(code, 401, "the feed needs a token");
    service.0.kill().unwrap();
    service.0.wait().unwrap();
    std::mem::forget(service);
    let service = Service::start(&env);
    wait_http(port);
    let d = env.drop_sample("urog-appeal-2.2", "after-kill");
    common::packages::new_document(&d, 200, "Письмо", "А26-02-200", "x");
    settle(4);
    let (code, text) = post_event(port, r#"{"step":"executor-assigned","executor":"Иванов"}"#);
    assert_eq!(code, 200, "{text}");
    let (second, _) = drain(port, cursor);
    let all: Vec<serde_json::Value> = first.into_iter().chain(second).collect();
    let cursors: Vec<&str> = all.iter().map(|i| i["cursor"].as_str().unwrap()).collect();
    let mut unique = cursors.clone();
    unique.dedup();
    assert_eq!(unique.len(), cursors.len(), "no change twice: {cursors:?}");
    let count = |change: &str| all.iter().filter(|i| i["change"] == change).count();
    assert_eq!(
        count("appeal_arrived"),
        env.records_of_kind("appeal_received").len()
    );
    assert_eq!(count("appeal_registered"), 4);
    assert_eq!(count("appeal_step"), 1);
    let journal_order: Vec<u64> = cursors
        .iter()
        .map(|c| c.trim_start_matches('j').parse().unwrap())
        .collect();
    assert!(
        journal_order.windows(2).all(|w| w[0] < w[1]),
        "journal order"
    );
    assert!(service.stop().success());
}

fn get_json(port: u16, path: &str) -> (u16, serde_json::Value) {
    let (code, text) = request(port, "GET", path, Some("s3cret-token"), None);
    (
        code,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

/// Issue 16, item 1 (the list): pages after an opaque cursor, filtered by status; one
/// appeal with its history.
#[test]
fn appeals_are_listed_in_pages_and_shown_one_by_one() {
    let (env, port) = env_with_http(Some("s3cret-token"));
    for n in 1..=2u32 {
        let d = env.drop_sample("urog-appeal-2.2", &format!("more-{n}"));
        common::packages::new_document(&d, 300 + n, "Письмо", &format!("А26-02-30{n}"), "x");
    }
    env.once();
    let service = Service::start(&env);
    wait_http(port);
    let (code, first) = get_json(port, "/api/v1/appeals?limit=2");
    assert_eq!(code, 200, "{first}");
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    assert_eq!(first["items"][0]["status"], "registered");
    assert_eq!(first["items"][0]["status_label"], "зарегистрировано");
    assert!(first["items"][0]["due"]["answer_by"].is_string());
    let next = first["next"].as_str().unwrap();
    let (_, second) = get_json(port, &format!("/api/v1/appeals?limit=2&cursor={next}"));
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    let last = second["next"].as_str().unwrap();
    let (_, empty) = get_json(port, &format!("/api/v1/appeals?cursor={last}"));
    assert_eq!(empty["items"].as_array().unwrap().len(), 0);
    assert_eq!(empty["next"], last, "nothing more now: the same cursor");
    let (_, refused) = get_json(port, "/api/v1/appeals?status=refused");
    assert_eq!(refused["items"].as_array().unwrap().len(), 0);
    let (code, _) = get_json(port, "/api/v1/appeals?status=lost");
    assert_eq!(code, 400);
    let (code, _) = get_json(port, "/api/v1/appeals?cursor=x1");
    assert_eq!(code, 400);
    let number = first["items"][0]["number"].as_str().unwrap().to_string();
    let (code, one) = get_json(port, "/api/v1/appeals/1");
    assert_eq!(code, 200, "{one}");
    assert_eq!(one["appeal"]["number"], number.as_str());
    assert!(!one["history"].as_array().unwrap().is_empty());
    let (code, missing) = get_json(port, "/api/v1/appeals/999");
    assert_eq!(code, 404, "{missing}");
    assert_eq!(missing["status"], 404);
    let (code, _) = request(port, "GET", "/api/v1/appeals", None, None);
    assert_eq!(code, 401);
    assert!(service.stop().success());
}

/// `POST /api/v1/appeals/1/events` with an `Idempotency-Key`.
fn post_keyed(port: u16, key: &str, body: &str) -> (u16, String) {
    post_with_key(port, "/api/v1/appeals/1/events", Some(key), body)
}

/// Issue 16, item 2 (idempotency): a retried request with the same key and body answers the
/// first result and applies nothing again (one step, one notice); the key with another body
/// is refused (409); a new key is a new request.
#[test]
fn retries_with_an_idempotency_key_apply_once() {
    let (env, port) = env_with_http(Some("s3cret-token"));
    let service = Service::start(&env);
    wait_http(port);
    let body = r#"{"step":"executor-assigned","executor":"Иванов"}"#;
    let (code, text) = post_keyed(port, "sed-42", body);
    assert_eq!(code, 200, "{text}");
    for _ in 0..3 {
        let (code, text) = post_keyed(port, "sed-42", body);
        assert_eq!(code, 200, "{text}");
        assert!(text.contains("\"replayed\":true"), "{text}");
    }
    let (code, text) = post_keyed(
        port,
        "sed-42",
        r#"{"step":"executor-assigned","executor":"Петров"}"#,
    );
    assert_eq!(code, 409, "{text}");
    let (code, text) = post_keyed(port, "ключ", body);
    assert_eq!(code, 400, "{text}");
    assert_eq!(
        env.records_of_kind("appeal_progress").len(),
        1,
        "applied once"
    );
    assert_eq!(published(&env, "executor").len(), 1, "one notice");
    let (code, text) = post_keyed(port, "sed-43", body);
    assert_eq!(code, 200, "{text}");
    assert_eq!(
        env.records_of_kind("appeal_progress").len(),
        2,
        "a new key is a new request"
    );
    let progress = env.records_of_kind("appeal_progress");
    assert!(
        progress[0]["command"].as_str().unwrap().starts_with('k'),
        "the key's id journaled"
    );
    assert!(service.stop().success());
}

/// Issue 16, item 2: the СЭД registers under its own number and date (the rules apply as in
/// manual mode), refuses with one of the nine reasons; retries are idempotent.
#[test]
fn the_sed_registers_under_its_own_number_and_refuses_over_http() {
    let env = Env::new();
    let port = free_port();
    let token = env.root.path().join("token");
    fs::write(&token, "s3cret-token\n").unwrap();
    env.add_sections(&format!(
        "[registration]\nmode = \"manual\"\n[http]\nlisten = \"127.0.0.1:{port}\"\napi_token_file = {token:?}\n"
    ));
    env.drop_sample("urog-appeal-2.2", "a");
    let d = env.drop_sample("urog-appeal-2.2", "b");
    common::packages::new_document(&d, 400, "Письмо", "А26-02-400", "x");
    env.once();
    let service = Service::start(&env);
    wait_http(port);
    let today = time::OffsetDateTime::now_utc()
        .to_offset(time::UtcOffset::from_hms(3, 0, 0).unwrap())
        .date();
    let tomorrow = (today + time::Duration::days(1)).to_string();
    let path = "/api/v1/appeals/1/registration";
    let (code, text) = post_with_key(
        port,
        path,
        None,
        &format!(r#"{{"number":"СЭД-77","date":"{tomorrow}"}}"#),
    );
    assert_eq!(code, 422, "a date after today is refused: {text}");
    // a number with a control character is refused before it is queued (issue 26 item 15),
    // and does not burn the key: the corrected retry under the same key goes through
    let (code, text) = post_with_key(port, path, Some("reg-1"), r#"{"number":"A\nB"}"#);
    assert_eq!(code, 422, "{text}");
    assert!(text.contains("управляющие"), "{text}");
    let body = format!(r#"{{"number":"СЭД-77","date":"{today}"}}"#);
    let (code, text) = post_with_key(port, path, Some("reg-1"), &body);
    assert_eq!(code, 200, "{text}");
    let (code, text) = post_with_key(port, path, Some("reg-1"), &body);
    assert_eq!(code, 200, "{text}");
    assert!(text.contains("replayed"), "{text}");
    // the same request written otherwise (a JSON escape, spacing, a default spelled out) is
    // the same request, and its replay says which number was given (issue 26 item 19)
    let escaped = format!(r#"{{ "date": "{today}", "number": "\u0421ЭД-77", "force": false }}"#);
    let (code, text) = post_with_key(port, path, Some("reg-1"), &escaped);
    assert_eq!(code, 200, "{text}");
    let replayed: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(replayed["replayed"], true, "{text}");
    assert_eq!(replayed["number"], "СЭД-77", "{text}");
    assert_eq!(replayed["status"], "registered", "{text}");
    let registered = env.records_of_kind("appeal_registered");
    assert_eq!(registered.len(), 1, "registered once");
    assert_eq!(registered[0]["number"], "СЭД-77");
    assert_eq!(registered[0]["date"], today.to_string());
    assert_eq!(registered[0]["operator"], "api:api");
    // the CLI refuses it too (exit 1)
    let out = env.cmd(&["appeals", "register", "2", "--number", "X\tY"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("управляющие"));
    let refuse = "/api/v1/appeals/2/refusal";
    let (code, text) = post_with_key(port, refuse, None, r#"{"reason":"Не нравится"}"#);
    assert_eq!(code, 422, "{text}");
    let (code, text) = post_with_key(
        port,
        refuse,
        None,
        r#"{"reason":"Отсутствует текст","comment":"пусто"}"#,
    );
    assert_eq!(code, 200, "{text}");
    assert_eq!(env.records_of_kind("appeal_refused").len(), 1);
    let (code, _) = post_with_key(
        port,
        "/api/v1/appeals/99/refusal",
        None,
        r#"{"reason":"x"}"#,
    );
    assert_eq!(code, 404);
    let (code, _) = post_with_key(port, refuse, None, r#"{"reason":"x","extra":1}"#);
    assert_eq!(code, 400, "unknown fields are refused");
    assert!(service.stop().success());
}

/// systemd's notifications, as a unit with `Type=notify` and `WatchdogSec` would get them.
struct Notifications(std::os::unix::net::UnixDatagram);

impl Notifications {
    fn new(path: &std::path::Path) -> Notifications {
        let socket = std::os::unix::net::UnixDatagram::bind(path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        Notifications(socket)
    }

    /// What came within `wait`.
    fn within(&self, wait: Duration) -> Vec<String> {
        let deadline = Instant::now() + wait;
        let mut got = Vec::new();
        let mut buf = [0u8; 512];
        while Instant::now() < deadline {
            if let Ok(n) = self.0.recv(&mut buf) {
                got.push(String::from_utf8_lossy(&buf[..n]).trim().to_string());
            }
        }
        got
    }
}

/// Issue 17, items 2 and 3: `/healthz` says 503 with the reason while the processing loop is
/// stuck (held before its pass by the `MEDO_FAULT_STALL` hook), and 200 again once it passes;
/// systemd hears READY=1, and WATCHDOG=1 only while healthy.
#[test]
fn health_goes_503_while_the_loop_is_stalled_and_back() {
    let env = Env::new();
    let port = free_port();
    env.add_sections(&format!(
        "[http]\nlisten = \"127.0.0.1:{port}\"\nhealth_stale_secs = 2\n"
    ));
    let flag = env.root.path().join("stall");
    let notify_path = env.root.path().join("notify.sock");
    let systemd = Notifications::new(&notify_path);
    let vars = [
        ("MEDO_FAULT_STALL", flag.as_os_str()),
        ("NOTIFY_SOCKET", notify_path.as_os_str()),
        ("WATCHDOG_USEC", std::ffi::OsStr::new("600000")),
    ];
    let service = Service::start_env(&env, None, &vars);
    wait_http(port);
    let health = || request(port, "GET", "/healthz", None, None);
    let until = |code: u16| {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let (got, body) = health();
            if got == code {
                return body;
            }
            assert!(Instant::now() < deadline, "/healthz stayed {got}: {body}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    assert!(until(200).contains("\"ok\""));
    let heard = systemd.within(Duration::from_secs(1));
    assert_eq!(
        heard.first().map(String::as_str),
        Some("READY=1"),
        "{heard:?}"
    );
    assert!(
        heard.iter().any(|m| m == "WATCHDOG=1"),
        "pinged while healthy: {heard:?}"
    );
    fs::write(&flag, b"").unwrap();
    let body = until(503);
    let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("no pass completed"),
        "{body}"
    );
    systemd.within(Duration::from_millis(400)); // pings sent before it went stale
    let heard = systemd.within(Duration::from_secs(1));
    assert!(
        !heard.iter().any(|m| m == "WATCHDOG=1"),
        "no ping while stuck: {heard:?}"
    );
    fs::remove_file(&flag).unwrap();
    env.drop_sample("urog-appeal-2.2", "a"); // a nudge: the loop passes at once
    until(200);
    assert!(systemd
        .within(Duration::from_secs(1))
        .iter()
        .any(|m| m == "WATCHDOG=1"));
    assert!(service.stop().success());
}

/// Waits (5 s at most) until the service's log has a line containing `wanted`, without the
/// personal data or token of the request in it.
fn wait_log(service: &Service, wanted: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let log = service.log();
        if let Some(line) = log.lines().find(|l| l.contains(wanted)) {
            assert!(line.contains(" WARN "), "{line}");
            assert!(
                !line.contains("not-a-token") && !line.contains("pin="),
                "{line}"
            );
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no {wanted:?} in the log:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Issue 26 item 8: inbound gone for a moment while running (a VipNet reinstall, an admin's
/// `mv`) is transient — `/healthz` 503 with the reason, the service stays up and resumes by
/// itself; at start a missing folder is still exit 2.
#[test]
fn a_transport_folder_gone_for_a_moment_is_waited_for() {
    let env = Env::new();
    let port = env.listen_http();
    let service = Service::start(&env);
    wait_http(port);
    let until = |code: u16, what: &str| {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (got, body) = request(port, "GET", "/healthz", None, None);
            if got == code && body.contains(what) {
                return;
            }
            assert!(Instant::now() < deadline, "/healthz stayed {got}: {body}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    until(200, "ok");
    let away = env.root.path().join("in.away");
    fs::rename(&env.inbound, &away).unwrap();
    until(503, "missing");
    fs::rename(&away, &env.inbound).unwrap();
    env.drop_sample("urog-appeal-2.2", "after");
    let deadline = Instant::now() + Duration::from_secs(20);
    while env.records_of_kind("appeal_registered").is_empty() {
        assert!(Instant::now() < deadline, "not resumed: {}", service.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    until(200, "ok");
    assert!(service.stop().success(), "a clean stop, not exit 2");
    // at start, a missing folder is a set-up error
    fs::rename(&env.inbound, &away).unwrap();
    let out = env.cmd(&["run", "--once"]);
    assert_eq!(out.status.code(), Some(2));
}

/// Issue 26 item 12: one address cannot take the public listener (idle connections past
/// `max_connections_per_address` are closed, everyone else is served), and behind a trusted
/// proxy the status limit counts each client by its forwarded address, not the proxy's.
#[test]
fn one_address_cannot_take_the_listener_and_a_proxy_is_not_one_client() {
    let env = Env::new();
    let public = free_port();
    env.add_sections(&format!(
        "[http]\npublic_listen = \"127.0.0.1:{public}\"\nmax_connections_per_address = 4\nstatus_lookups_per_minute = 3\ntrusted_proxies = [\"127.0.0.3\"]\n"
    ));
    let service = Service::start(&env);
    wait_http(public);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let connect_from = |from: &str| {
        rt.block_on(async {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
            socket
                .connect(format!("127.0.0.1:{public}").parse().unwrap())
                .await
                .unwrap()
                .into_std()
                .unwrap()
        })
    };
    let connect_from = |from: &str| {
        let s = connect_from(from);
        s.set_nonblocking(false).unwrap();
        s
    };
    // 127.0.0.2 holds 10 idle connections: the ones past 4 are closed at once
    let idle: Vec<TcpStream> = (0..10).map(|_| connect_from("127.0.0.2")).collect();
    std::thread::sleep(Duration::from_millis(300));
    let closed = idle
        .iter()
        .filter(|s| {
            s.set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            let mut b = [0u8; 1];
            matches!((&**s).read(&mut b), Ok(0))
        })
        .count();
    assert_eq!(closed, 6, "past the per-address cap");
    assert_eq!(
        request(public, "GET", "/healthz", None, None).0,
        200,
        "others are served"
    );
    // through the trusted proxy 127.0.0.3, two clients each get their own 3 lookups
    let lookup = |client: &str| {
        let mut s = connect_from("127.0.0.3");
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let req = format!("GET /api/v1/status?number=x&pin=1 HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: {client}\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out.split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<u16>()
            .unwrap()
    };
    for _ in 0..3 {
        assert_eq!(lookup("198.51.100.1"), 404);
    }
    assert_eq!(lookup("198.51.100.1"), 429, "the fourth from one client");
    assert_eq!(
        lookup("198.51.100.2"),
        404,
        "another client behind the same proxy"
    );
    drop(idle);
    assert!(service.stop().success());
}

/// Issue 26 item 13: the operators' surface on a Unix socket, mode 0660 — the service's
/// user and group read the dashboard and `/metrics` through it; another local user cannot
/// (tried as `nobody` when the tests run as root).
#[cfg(unix)]
#[test]
fn the_operators_surface_can_be_a_unix_socket_others_cannot_open() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let dir = env.root.path().join("run");
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    let socket = dir.join("operators.sock");
    env.add_sections(&format!("[http]\noperators_socket = {socket:?}\n"));
    let service = Service::start(&env);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !socket.exists() {
        assert!(Instant::now() < deadline, "no socket: {}", service.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    let mode = fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660);
    let mut s = std::os::unix::net::UnixStream::connect(&socket).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(out.contains("medo_journal_records"), "{out}");
    // another local user: refused by the socket's mode
    let root = unsafe { libc::geteuid() } == 0;
    let tried = root
        .then(|| {
            std::process::Command::new("runuser")
                .args(["-u", "nobody", "--", "python3", "-c"])
                .arg(format!(
                    "import socket; s = socket.socket(socket.AF_UNIX); s.connect({:?})",
                    socket.to_str().unwrap()
                ))
                .output()
                .ok()
        })
        .flatten();
    match tried {
        Some(out) => {
            assert!(!out.status.success(), "nobody opened the operators' socket");
            assert!(String::from_utf8_lossy(&out.stderr).contains("Permission denied"));
        }
        None => common::skipped(
            "the operators' socket as another user: not root, or no runuser/python3",
        ),
    }
    assert!(service.stop().success());
}
