//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod env;
pub mod packages;
pub mod smb;

// the messages of every kind, shared with the wire crate's own tests (one source)
#[path = "../../crates/medo-wire/tests/support/messages.rs"]
mod messages;
#[allow(unused_imports)]
pub use messages::*;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The shared spec data folder (`../shared/spec/data`), or `MEDO_SPEC_DATA`.
pub fn spec_data() -> Option<PathBuf> {
    let dir = std::env::var_os("MEDO_SPEC_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/spec/data"));
    if dir.is_dir() {
        Some(dir)
    } else {
        skipped(format!(
            "(spec data not found at {}; set MEDO_SPEC_DATA)",
            dir.display()
        ));
        None
    }
}

/// Says that a check was skipped, where a person running the tests sees it: straight to the
/// process's stderr (libtest captures `eprintln!` of passing tests, which would hide it).
pub fn skipped(what: impl std::fmt::Display) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED {what}");
}

/// Whether we run in CI (where nothing may be skipped).
pub fn in_ci() -> bool {
    std::env::var("CI")
        .map(|v| v == "true" || v == "1")
        .unwrap_or(false)
}

/// Validates an XML file against a schema with xmllint. Returns false (skipped) only when
/// xmllint is missing outside CI; in CI a missing xmllint fails the test.
pub fn xmllint_validate(file: &Path, schema: &Path) -> bool {
    match Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(schema)
        .arg(file)
        .output()
    {
        Ok(out) => {
            assert!(
                out.status.success(),
                "{} does not validate against {}:\n{}",
                file.display(),
                schema.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            true
        }
        Err(e) => {
            assert!(
                !in_ci(),
                "xmllint is required in CI (apt-get install libxml2-utils): {e}"
            );
            skipped(format!("XSD validation: xmllint not available ({e})"));
            false
        }
    }
}

pub fn schema(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(name)
}

/// Runs the built binary.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_medo-gateway"))
}

/// Waits (at most 10 s) until something listens on the local `port`.
pub fn wait_http(port: u16) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "HTTP did not come up");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// `POST` JSON `body` to the local `port` with the tests' token (`s3cret-token`) and, when
/// given, an `Idempotency-Key`: (status, body).
pub fn post_with_key(port: u16, path: &str, key: Option<&str>, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(15)))
        .unwrap();
    let key = key
        .map(|k| format!("Idempotency-Key: {k}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAuthorization: Bearer s3cret-token\r\n{key}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status: u16 = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    (
        status,
        out.split("\r\n\r\n").nth(1).unwrap_or("").to_string(),
    )
}

/// The name a file of ours gets in an outgoing package: nine digits from its SHA-256 and
/// `.pdf` (`outbox::package_name`), whatever the operator called it.
#[allow(dead_code)]
pub fn package_name(bytes: &[u8]) -> String {
    let digest = medo_gateway::wire::hash::sha256_bytes(bytes);
    let n = u32::from_str_radix(&digest[..8], 16).unwrap() % 1_000_000_000;
    format!("{n:09}.pdf")
}

/// Asserts that the PDF at `path` reads (pdftotext, poppler-utils) as containing `words`,
/// whitespace and line breaks aside; skipped visibly where pdftotext is missing outside CI.
#[allow(dead_code)]
pub fn pdf_text_contains(path: &Path, words: &str) {
    let squeeze = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    match Command::new("pdftotext").arg(path).arg("-").output() {
        Ok(out) => {
            let text = squeeze(&String::from_utf8_lossy(&out.stdout));
            assert!(text.contains(&squeeze(words)), "{words:?} in {text}");
        }
        Err(e) => {
            assert!(
                !in_ci(),
                "pdftotext is required in CI (apt-get install poppler-utils): {e}"
            );
            skipped(format!("PDF text check ({words}): pdftotext not available"));
        }
    }
}

/// A PostgreSQL database's journal as JSON records (what `journal export` gives on files),
/// its chain verified first.
pub fn db_records(url: &str) -> Vec<serde_json::Value> {
    use medo_store::JournalRead;
    let journal = medo_pg::PgJournal::open(url).unwrap();
    let report = journal.verify().unwrap();
    assert_eq!(report.first_bad, None, "the database's chain is whole");
    let records = journal.read_from(0).unwrap();
    records
        .iter()
        .map(|r| serde_json::from_str(&r.line()).unwrap())
        .collect()
}
