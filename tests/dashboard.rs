//! The operators' dashboard: served by `run` at `/`, checked over HTTP and in headless
//! Chromium (Debian's `chromium`; required in CI, skipped with a notice elsewhere).

mod common;

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::env::{Env, Service};

fn get(port: u16, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let code = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    (code, out.split("\r\n\r\n").nth(1).unwrap_or("").to_string())
}

fn running_dashboard() -> (Env, Service, u16) {
    let env = Env::new();
    let port = env.listen_http();
    env.drop_sample("urog-appeal-2.2", "54334177");
    // УРОГ delivers the same appeal again: flagged as the CLI flags it
    env.drop_sample("urog-appeal-2.2", "54334178");
    let broken = env.drop_sample("urog-appeal-2.2", "broken-package");
    fs::write(broken.join("document.xml"), "<nope").unwrap();
    let service = Service::start(&env);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.write_all(b"");
            let (_, body) = get(port, "/");
            // registered, and the broken one quarantined (not merely processing)
            if body.contains("ОГ-1/")
                && body.contains("broken-package")
                && body.contains("malformed-xml")
                && body.contains("повторная доставка: 1")
            {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "dashboard did not show the packages"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (env, service, port)
}

#[test]
fn the_dashboard_shows_spool_appeals_and_log() {
    let (_env, service, port) = running_dashboard();
    let (code, page) = get(port, "/");
    assert_eq!(code, 200);
    assert!(page.contains("id=\"spool-status\""));
    // Issue 17, item 4: it says as of when (local time, to the second), which build, and
    // refreshes itself
    assert!(page.contains("<meta http-equiv=\"refresh\" content=\"60\">"));
    let as_of = page.split("по состоянию на ").nth(1).unwrap();
    let stamp: String = as_of.chars().take(23).collect();
    assert!(stamp.ends_with(" МСК"), "{stamp}");
    assert!(page.contains(&format!("версия {}", env!("CARGO_PKG_VERSION"))));
    assert!(page.contains("malformed-xml"), "quarantine reason shown");
    assert!(page.contains("А26-02-1234567"));
    // the exchange log: kinds as people read them, times in the configured zone
    let log = page.split("id=\"log\"").nth(1).unwrap();
    assert!(log.contains("<td>зарегистрировано</td>"), "{log}");
    assert!(log.contains("<td>повторная доставка</td>"), "{log}");
    assert!(
        !log.contains("appeal_registered") && !log.contains("Z</td>"),
        "{log}"
    );
    assert!(!page.contains("<script"), "no scripts");
    let (_, found) = get(port, "/?q=A26-02-1234567");
    assert!(
        found.contains("id=\"history\"") && found.contains("(автоматически)"),
        "search by the УРОГ number (Latin A)"
    );
    let history = found.split("id=\"history\"").nth(1).unwrap();
    assert!(history.contains(" МСК — зарегистрировано"), "{history}");
    let (_, missing) = get(port, "/?q=%3Cb%3Enope");
    assert!(
        missing.contains("&lt;b&gt;nope") && !missing.contains("<b>nope"),
        "escaped"
    );
    assert!(service.stop().success());
}

#[test]
#[cfg_attr(medo_no_chromium, ignore = "no chromium (apt-get install chromium)")]
fn headless_chromium_renders_the_dashboard() {
    let (env, service, port) = running_dashboard();
    let profile = env.root.path().join("chromium-profile");
    let out = std::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("http://127.0.0.1:{port}/"))
        .output();
    drop(service);
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            assert!(
                !common::in_ci(),
                "chromium is required in CI (apt-get install chromium): {e}"
            );
            common::skipped(format!("chromium not available ({e})"));
            return;
        }
    };
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("<table id=\"appeals\">"),
        "no appeals table in the rendered DOM:\n{}",
        &dom[..dom.len().min(2000)]
    );
    assert!(dom.contains("ОГ-1/"), "the registered appeal");
    assert!(
        dom.contains("broken-package") && dom.contains("<td>в карантине</td>"),
        "the quarantined package, its state in Russian"
    );
    assert!(
        dom.contains("повторная доставка: 1"),
        "the re-delivery flagged"
    );
    let stamp = dom.split("по состоянию на ").nth(1).unwrap_or("");
    assert!(
        stamp.chars().take(23).collect::<String>().ends_with(" МСК"),
        "local time: {stamp}"
    );
    for english in ["quarantined", "archived", "appeal_registered"] {
        assert!(
            !dom.contains(&format!(">{english}<")),
            "{english} shown to people"
        );
    }
}

/// The width and height a PNG says it has (its IHDR chunk).
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

/// Issue 28: the page an operator keeps open all day, looked at as a screenshot in headless
/// Chromium at a laptop's 1366×768 and a phone's 390×844 — it renders at each size (the
/// screenshots are kept in `target/screenshots/` for a person to look at), and the page says
/// what makes it readable there: the viewport, the summary first, the wide columns a phone
/// drops, tables that scroll inside their box.
#[test]
#[cfg_attr(medo_no_chromium, ignore = "no chromium (apt-get install chromium)")]
fn the_dashboard_reads_at_a_laptop_and_a_phone_in_headless_chromium() {
    let (env, service, port) = running_dashboard();
    let (_, page) = get(port, "/");
    let at = |what: &str| {
        page.find(what)
            .unwrap_or_else(|| panic!("{what} in the page"))
    };
    assert!(
        at("id=\"summary\"") < at("id=\"appeals\""),
        "the figures first"
    );
    assert!(page.contains("name=\"viewport\" content=\"width=device-width, initial-scale=1\""));
    assert!(page.contains("@media (max-width:700px)") && page.contains(".wide{display:none}"));
    assert!(
        page.contains("class=\"card bad\""),
        "the quarantined package in red"
    );
    assert!(page.matches("<style>").count() == 1 && !page.contains("<script"));
    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    fs::create_dir_all(&shots).unwrap();
    for (w, h) in [(1366, 768), (390, 844)] {
        let png = shots.join(format!("dashboard-{w}x{h}.png"));
        let _ = fs::remove_file(&png);
        let out = std::process::Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ])
            .arg(format!(
                "--user-data-dir={}",
                env.root.path().join(format!("profile-{w}")).display()
            ))
            .arg(format!("--window-size={w},{h}"))
            .arg(format!("--screenshot={}", png.display()))
            .arg(format!("http://127.0.0.1:{port}/"))
            .output();
        if let Err(e) = out {
            assert!(
                !common::in_ci(),
                "chromium is required in CI (apt-get install chromium): {e}"
            );
            common::skipped(format!("chromium not available ({e})"));
            return;
        }
        let bytes = fs::read(&png).unwrap_or_else(|e| panic!("no screenshot at {w}×{h}: {e}"));
        assert_eq!(png_size(&bytes), (w, h), "{}", png.display());
        assert!(
            bytes.len() > 10_000,
            "a page, not a blank: {} bytes",
            bytes.len()
        );
    }
    drop(service);
}
