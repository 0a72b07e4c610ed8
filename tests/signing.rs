//! Issue 30 item 1: our documents go out signed (`[signing]`). The signer here is `openssl cms
//! -sign` with a certificate the test makes (CryptoPro's `cryptcp` in production); every
//! signature is checked back with `openssl cms -verify` against the signed file as sent, and
//! our passport's signature elements against the real federal passports'.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::env::Env;
use common::packages::{real, shape, unzip};

/// A signing certificate and its key (self-signed, made by the test).
struct Keys {
    _dir: tempfile::TempDir,
    cert: PathBuf,
    key: PathBuf,
}

fn keys() -> Option<Keys> {
    if Command::new("openssl").arg("version").output().is_err() {
        assert!(!common::in_ci(), "CI=true: the openssl CLI is needed");
        common::skipped("the signing tests: no openssl");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "365", "-utf8",
        ])
        .args(["-subj", "/CN=Иванов Иван Иванович/O=Тестовый орган"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    Some(Keys {
        _dir: dir,
        cert,
        key,
    })
}

/// The signing command: a detached DER CMS of `{file}`.
fn openssl_sign(k: &Keys) -> String {
    format!(
        "openssl cms -sign -binary -in {{file}} -signer {} -inkey {} -outform DER -out {{signature}}",
        k.cert.display(),
        k.key.display()
    )
}

/// An environment answering queries in `format`, our documents signed by `command`.
fn env_signing(format: &str, command: &str, k: &Keys) -> Env {
    let env = Env::new();
    let text = fs::read_to_string(&env.config)
        .unwrap()
        .replace("format = \"mirror\"", &format!("format = \"{format}\""));
    fs::write(&env.config, text).unwrap();
    env.add_sections(
        "[documents]\nsigner_post = \"Руководитель\"\nsigner_name = \"Иванов И.И.\"\n",
    );
    env.add_sections(&signing_section(command, k, 5));
    env
}

fn signing_section(command: &str, k: &Keys, timeout: u64) -> String {
    format!(
        "[signing]\ncommand = {command:?}\ntimeout_secs = {timeout}\ncertificate = {:?}\n",
        k.cert.display().to_string()
    )
}

fn drop_query(env: &Env, n: u32) {
    let q = env.drop_sample("urog-appeal-2.2", &format!("query-{n}"));
    common::packages::new_document(
        &q,
        n,
        "Запрос",
        &format!("А26-05-{n}"),
        "О ходе А26-02-1234567",
    );
}

fn response_dir(env: &Env) -> Option<PathBuf> {
    let found: Vec<String> = env
        .outbound_names()
        .into_iter()
        .filter(|n| n.starts_with("response"))
        .collect();
    assert!(found.len() <= 1, "{found:?}");
    found.first().map(|n| env.outbound.join(n))
}

/// `openssl cms -verify` of a detached signature over `content`, the chain to `cert`.
fn verifies(signature: &Path, content: &Path, cert: &Path) -> Result<(), String> {
    let out = Command::new("openssl")
        .args([
            "cms", "-verify", "-binary", "-inform", "DER", "-purpose", "any",
        ])
        .arg("-in")
        .arg(signature)
        .arg("-content")
        .arg(content)
        .arg("-CAfile")
        .arg(cert)
        .args(["-out", "/dev/null"])
        .output()
        .unwrap();
    match out.status.success() {
        true => Ok(()),
        false => Err(String::from_utf8_lossy(&out.stderr).into_owned()),
    }
}

/// An answer to a УРОГ query in a 2.7.1 container: the container holds `sign<digits>.p7s`, a
/// detached CMS of the PDF as sent (openssl verifies it), the passport names it as the
/// author's «Заверяющая» signature under the signer — element paths all among the real
/// passports' —, the journal keeps the signature's facts (the certificate's serial and owner)
/// and a second run neither signs nor sends it again.
#[test]
fn a_query_answer_goes_out_signed_in_its_container() {
    let Some(k) = keys() else { return };
    let env = env_signing("2.7.1", &openssl_sign(&k), &k);
    drop_query(&env, 301);
    env.once();
    let signed = env.records_of_kind("document_signed");
    assert_eq!(signed.len(), 1, "{:?}", env.journal_lines().len());
    let facts = &signed[0]["signature"];
    assert_eq!(facts["certificate"]["owner"], "Иванов Иван Иванович");
    let serial = Command::new("openssl")
        .args(["x509", "-noout", "-serial", "-in"])
        .arg(&k.cert)
        .output()
        .unwrap();
    let serial = String::from_utf8_lossy(&serial.stdout)
        .trim()
        .replace("serial=", "");
    assert_eq!(facts["certificate"]["serial"].as_str().unwrap(), serial);
    let dir = response_dir(&env).unwrap_or_else(|| {
        let again = env.cmd(&["run", "--once"]);
        panic!(
            "not sent: {:?} {}",
            env.outbound_names(),
            String::from_utf8_lossy(&again.stderr)
        )
    });
    let zip = common::env::names(&dir)
        .into_iter()
        .find(|n| n.ends_with(".edc.zip"))
        .unwrap();
    let entries = unzip(&dir.join(zip));
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    let p7s = names
        .iter()
        .find(|n| n.starts_with("sign") && n.ends_with(".p7s"))
        .unwrap_or_else(|| panic!("no signature in {names:?}"));
    assert!(p7s.len() == "sign000000000.p7s".len(), "{p7s}");
    let scratch = tempfile::tempdir().unwrap();
    for (name, bytes) in &entries {
        fs::write(scratch.path().join(name), bytes).unwrap();
    }
    let (sig, pdf) = (
        scratch.path().join(p7s),
        scratch.path().join("response.pdf"),
    );
    let kept_pdf = env.state.join(facts["document_kept"].as_str().unwrap());
    assert_eq!(
        fs::read(&kept_pdf).unwrap(),
        fs::read(&pdf).unwrap(),
        "the PDF sent is the one signed"
    );
    assert_eq!(
        fs::read(env.state.join(facts["kept"].as_str().unwrap())).unwrap(),
        fs::read(&sig).unwrap()
    );
    verifies(&sig, &pdf, &k.cert).unwrap();
    // the signature signs this PDF only
    fs::write(&pdf, b"%PDF-1.4 another document").unwrap();
    assert!(
        verifies(&sig, &pdf, &k.cert).is_err(),
        "a wrong file verified"
    );
    let passport = &entries.iter().find(|(n, _)| n == "passport.xml").unwrap().1;
    let text = String::from_utf8_lossy(passport);
    assert!(
        text.contains(&format!(
            "c:documentSignature c:localName=\"{p7s}\" c:type=\"Заверяющая\""
        )),
        "{text}"
    );
    assert!(text.contains("<c:name>Иванов И.И.</c:name>"), "{text}");
    let ours = shape(passport);
    for must in [
        "container/authors/author/sign/person/name",
        "container/authors/author/sign/documentSignature",
        "container/authors/author/sign/documentSignature/signatureStamp/position/dimension/w",
        "container/authors/author/registration/registrationStamp/position/topLeft/x",
    ] {
        assert!(ours.contains(must), "{must}: {ours:?}");
    }
    // the stamps travel in the ZIP under the names the passport gives them, as PNGs
    for prefix in ["eds_", "regnum_"] {
        let (name, png) = entries
            .iter()
            .find(|(n, _)| n.starts_with(prefix) && n.ends_with(".png"))
            .unwrap_or_else(|| panic!("no {prefix}*.png in {names:?}"));
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{name}");
        assert!(
            text.contains(&format!("c:localName=\"{name}\"")),
            "{name}: {text}"
        );
    }
    match real_passport_paths() {
        Some(theirs) => {
            // who signed and registered it: the authors' part, path for path as real senders
            let strange: Vec<&String> = ours
                .difference(&theirs)
                .filter(|p| p.starts_with("container/authors"))
                .collect();
            assert!(strange.is_empty(), "not in the real passports: {strange:?}");
        }
        None => common::skipped("the real passports (spec data) for the signature's paths"),
    }
    // kept where every node reaches it, and never signed or sent twice
    assert!(env.state.join(facts["kept"].as_str().unwrap()).exists());
    env.once();
    assert_eq!(env.records_of_kind("document_signed").len(), 1);
    assert_eq!(
        env.records_of_kind("published").len(),
        2,
        "a receipt and the answer"
    );
    env.verify_all();
}

/// Every element path of the three real federal passports (their union).
fn real_passport_paths() -> Option<std::collections::BTreeSet<String>> {
    let mut all = std::collections::BTreeSet::new();
    for name in [
        "70178878_container_passport.xml",
        "38773995_container_passport.xml",
        "gd2_container_passport.xml",
    ] {
        all.extend(shape(&real(name)?));
    }
    Some(all)
}

/// A signer that fails, then one that never answers in time, hold the 2.2 answer — it is
/// never sent unsigned, the reason is said («не подписан: …») — and once the signer works the
/// next run sends it once, `response.pdf.p7s` beside the PDF and listed in the envelope.
#[test]
fn a_failing_signer_holds_the_document_until_it_works() {
    let Some(k) = keys() else { return };
    let env = env_signing("2.2", "false {file} {signature}", &k);
    drop_query(&env, 302);
    let out = env.cmd(&["run", "--once"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("не подписан: false завершилась с ошибкой"),
        "{said}"
    );
    assert!(
        response_dir(&env).is_none(),
        "sent unsigned: {:?}",
        env.outbound_names()
    );
    assert_eq!(
        env.receipts().len(),
        1,
        "the receipt does not wait for the answer"
    );
    assert!(env.records_of_kind("document_signed").is_empty());
    // a signer past its time is stopped and said so
    let slow = env.root.path().join("slow-signer");
    fs::write(&slow, "#!/bin/sh\nsleep 30\n").unwrap();
    fs::set_permissions(&slow, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    set_signing(
        &env,
        &signing_section(&format!("{} {{file}} {{signature}}", slow.display()), &k, 1),
    );
    let out = env.cmd(&["run", "--once"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("не ответила за 1 с"), "{said}");
    assert!(
        response_dir(&env).is_none(),
        "sent unsigned: {:?}",
        env.outbound_names()
    );
    // the signer works again: sent once, signed
    set_signing(&env, &signing_section(&openssl_sign(&k), &k, 5));
    env.once();
    let dir = response_dir(&env).expect("the answer was sent");
    let names = common::env::names(&dir);
    assert!(names.contains(&"response.pdf.p7s".to_string()), "{names:?}");
    verifies(
        &dir.join("response.pdf.p7s"),
        &dir.join("response.pdf"),
        &k.cert,
    )
    .unwrap();
    let envelope = encoding_rs::WINDOWS_1251
        .decode(&fs::read(dir.join("envelope.ini")).unwrap())
        .0
        .into_owned();
    assert!(envelope.contains("=response.pdf.p7s\r\n"), "{envelope}");
    assert!(envelope.contains("ЭЦП=1"), "{envelope}");
    assert_eq!(env.records_of_kind("document_signed").len(), 1);
    env.verify_all();
}

/// Replaces the `[signing]` section of the test's config.
fn set_signing(env: &Env, section: &str) {
    let text = fs::read_to_string(&env.config).unwrap();
    let start = text.find("[signing]").unwrap();
    let end = text[start + 1..]
        .find("\n[")
        .map_or(text.len(), |i| start + 2 + i);
    fs::write(
        &env.config,
        format!("{}{section}{}", &text[..start], &text[end..]),
    )
    .unwrap();
}

/// Issue 30 item 2: with `[queries] approval = "operator"` the answer waits «ждёт утверждения»
/// — its receipt goes out, the answer is neither signed nor sent —, `documents list --pending`
/// shows it, `documents approve <our number>` releases it: signed after the approval, sent
/// once; a second approval is refused.
#[test]
fn an_answer_waits_for_approval_then_is_signed_and_sent() {
    let Some(k) = keys() else { return };
    let env = env_signing("2.2", &openssl_sign(&k), &k);
    env.add_sections("[queries]\napproval = \"operator\"\napproval_alert_secs = 60\n");
    drop_query(&env, 303);
    env.once();
    env.once();
    assert!(
        response_dir(&env).is_none(),
        "sent unapproved: {:?}",
        env.outbound_names()
    );
    assert_eq!(
        env.receipts().len(),
        1,
        "the receipt does not wait: {:?}",
        env.outbound_names()
    );
    assert!(
        env.records_of_kind("document_signed").is_empty(),
        "signed before approval"
    );
    let listed = env.ok(&["documents", "list", "--pending", "--json"]);
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let pending = listed.as_array().unwrap();
    assert_eq!(pending.len(), 1, "{listed}");
    assert_eq!(pending[0]["state"], "awaiting_approval");
    assert_eq!(pending[0]["kind"], "response");
    let number = pending[0]["number"].as_str().unwrap().to_string();
    let words = env.ok(&["documents", "list", "--pending"]);
    assert!(
        words.contains(&number) && words.contains("ответ на запрос"),
        "{words}"
    );
    // a wrong id is refused in words; the right one releases it
    let wrong = env.cmd(&["documents", "approve", "ОЗ-999/26"]);
    assert_eq!(wrong.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("нет документа, ждущего утверждения"));
    env.ok(&["documents", "approve", &number]);
    let approved = env.records_of_kind("document_approved");
    assert_eq!(approved.len(), 1);
    assert!(approved[0]["command"].is_string());
    env.once();
    let dir = response_dir(&env).expect("sent once approved");
    verifies(
        &dir.join("response.pdf.p7s"),
        &dir.join("response.pdf"),
        &k.cert,
    )
    .unwrap();
    let kinds: Vec<String> = env
        .journal_lines()
        .iter()
        .map(|r| r["kind"].as_str().unwrap().to_string())
        .collect();
    let at = |k: &str| kinds.iter().position(|x| x == k).unwrap();
    assert!(at("document_approved") < at("document_signed"), "{kinds:?}");
    let again = env.cmd(&["documents", "approve", &number]);
    assert_eq!(again.status.code(), Some(1), "approved twice");
    let listed = env.ok(&["documents", "list", "--pending", "--json"]);
    assert_eq!(listed.trim(), "[]");
    env.verify_all();
}

/// Item 2 over the API, with the service running: `GET /api/v1/documents?state=pending`
/// lists the answer waiting for approval (read scope), `POST /api/v1/documents/{uid}/approval`
/// approves it (200 once journaled) and it is sent; a retry under the same key is the same
/// request; an unknown document is not there (404).
#[test]
fn the_sed_approves_a_waiting_answer_over_the_api() {
    let env = Env::new();
    let port = common::env::free_port();
    let token = env.root.path().join("token");
    fs::write(&token, "s3cret-token\n").unwrap();
    env.add_sections(&format!(
        "[queries]\napproval = \"operator\"\n[http]\nlisten = \"127.0.0.1:{port}\"\napi_token_file = {token:?}\n"
    ));
    let service = common::env::Service::start(&env);
    common::wait_http(port);
    drop_query(&env, 304);
    let get = |path: &str| -> (u16, String) {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAuthorization: Bearer s3cret-token\r\n\r\n");
        s.write_all(req.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let code = out.split_whitespace().nth(1).unwrap().parse().unwrap();
        (code, out.split("\r\n\r\n").nth(1).unwrap_or("").to_string())
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let listed = loop {
        let (code, body) = get("/api/v1/documents?state=pending");
        assert_eq!(code, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        if v["documents"].as_array().is_some_and(|d| !d.is_empty()) {
            break v;
        }
        assert!(std::time::Instant::now() < deadline, "never listed: {body}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(
        get("/api/v1/documents").0,
        400,
        "state=pending is the list there is"
    );
    let (_, page) = get("/");
    let number = listed["documents"][0]["number"].as_str().unwrap();
    assert!(
        page.contains("Ждут утверждения") && page.contains(number),
        "{page}"
    );
    let uid = listed["documents"][0]["uid"].as_str().unwrap().to_string();
    let path = format!("/api/v1/documents/{uid}/approval");
    let (code, body) = common::post_with_key(port, &path, Some("approve-1"), "");
    assert_eq!(code, 200, "{body}");
    let (again, body) = common::post_with_key(port, &path, Some("approve-1"), "");
    assert_eq!(again, 200, "the same request: {body}");
    let unknown = "/api/v1/documents/00000000-0000-0000-0000-000000000000/approval";
    assert_eq!(common::post_with_key(port, unknown, None, "").0, 404);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while response_dir(&env).is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "not sent after approval"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(service.stop().success());
    let approved = env.records_of_kind("document_approved");
    assert_eq!(approved.len(), 1, "approved once");
    assert_eq!(approved[0]["operator"], "api:api");
}
