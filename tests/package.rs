//! Whole package folders, good and bad: every bad one gives a typed error naming the file,
//! odd-but-valid ones read with warnings. Fixtures are built in temp folders.

mod common;

use std::fs;
use std::path::Path;

use common::*;
use medo_gateway::wire::envelope::{self, OutgoingEnvelope};
use medo_gateway::wire::message::*;
use medo_gateway::wire::package::read_package;
use medo_gateway::wire::text::encode_cp1251_plain;
use medo_gateway::wire::time::parse_envelope_date;
use medo_gateway::wire::write::write_message;
use medo_gateway::wire::{Limits, WireError};

fn envelope_bytes(files: &[&str]) -> Vec<u8> {
    let (last, payload) = files.split_last().unwrap();
    envelope::write(&OutgoingEnvelope {
        subject: "ЭСД МЭДО (тест)".into(),
        date: parse_envelope_date("15.03.2024 11:02:33").unwrap(),
        addressees: vec!["EXAMPLE_RCPT~MEDO".into()],
        payload: payload.iter().map(|s| s.to_string()).collect(),
        message_file: last.to_string(),
        text_file: None,
    })
}

/// A valid 2.2 document package: response.pdf, response.xml, document.xml.
fn good_package(dir: &Path) {
    let message = document_with_links(Format::V22);
    fs::write(dir.join("document.xml"), write_message(&message).unwrap()).unwrap();
    fs::write(dir.join("response.pdf"), b"%PDF-1.4").unwrap();
    fs::write(dir.join("response.xml"), b"<r/>").unwrap();
    fs::write(
        dir.join("envelope.ini"),
        envelope_bytes(&["response.pdf", "response.xml", "document.xml"]),
    )
    .unwrap();
}

fn read(dir: &Path) -> Result<medo_gateway::wire::package::Package, WireError> {
    read_package(dir, &Limits::default())
}

fn fails_with(dir: &Path, code: &str, file: &str) -> WireError {
    let err = read(dir).expect_err("must fail");
    assert_eq!(err.code(), code, "{err}");
    assert_eq!(err.file, file, "{err}");
    err
}

#[test]
fn a_good_package_reads_without_warnings() {
    let d = tempfile::tempdir().unwrap();
    good_package(d.path());
    let p = read(d.path()).unwrap();
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    assert!(p.missing.is_empty());
    assert_eq!(p.message_file, "document.xml");
    assert_eq!(p.files.len(), 3);
}

#[test]
fn envelope_problems_are_named() {
    let d = tempfile::tempdir().unwrap();
    good_package(d.path());
    fs::remove_file(d.path().join("envelope.ini")).unwrap();
    fails_with(d.path(), "bad-envelope", "-");
    fs::write(d.path().join("a.ini"), envelope_bytes(&["document.xml"])).unwrap();
    fs::write(d.path().join("b.ltr"), envelope_bytes(&["document.xml"])).unwrap();
    let err = fails_with(d.path(), "bad-envelope", "-");
    assert!(err.to_string().contains("2 envelopes"), "{err}");
    fs::remove_file(d.path().join("b.ltr")).unwrap();
    for (text, code) in [
        (
            "[ПИСЬМО КП ПС СЗИ]\n[ФАЙЛЫ]\n0=..\\..\\secret.txt\n1=document.xml\n",
            "unsafe-name",
        ),
        (
            "[ПИСЬМО КП ПС СЗИ]\n[ФАЙЛЫ]\n0=a.ini\n1=document.xml\n",
            "bad-envelope",
        ),
        // two names that differ only in case (the same name twice is read once: issue 26)
        (
            "[ПИСЬМО КП ПС СЗИ]\n[ФАЙЛЫ]\n0=document.xml\n1=DOCUMENT.xml\n",
            "bad-envelope",
        ),
    ] {
        fs::write(d.path().join("a.ini"), encode_cp1251_plain(text)).unwrap();
        fails_with(d.path(), code, "a.ini");
    }
}

#[test]
fn missing_and_extra_files_are_reported_not_fatal() {
    let d = tempfile::tempdir().unwrap();
    good_package(d.path());
    fs::remove_file(d.path().join("response.xml")).unwrap();
    fs::write(d.path().join("stray.txt"), b"?").unwrap();
    let p = read(d.path()).unwrap();
    assert_eq!(p.missing, vec!["response.xml"]);
    assert!(
        p.warnings.iter().any(|w| w.contains("stray.txt")),
        "{:?}",
        p.warnings
    );
}

#[test]
fn windows_paths_in_the_envelope_are_reduced_to_names() {
    let d = tempfile::tempdir().unwrap();
    good_package(d.path());
    let text = "[ПИСЬМО КП ПС СЗИ]\r\nТЕМА=т\r\n[ФАЙЛЫ]\r\n0=C:\\MEDO\\OUT\\response.pdf\r\n1=/var/medo/response.xml\r\n2=D:\\x\\document.xml\r\n";
    fs::write(d.path().join("envelope.ini"), encode_cp1251_plain(text)).unwrap();
    let p = read(d.path()).unwrap();
    assert_eq!(
        p.envelope.files,
        vec!["response.pdf", "response.xml", "document.xml"]
    );
    assert!(p.missing.is_empty());
    assert_eq!(
        p.warnings
            .iter()
            .filter(|w| w.contains("carries a path"))
            .count(),
        3
    );
}

#[test]
fn utf8_envelope_with_bom_and_lf() {
    let d = tempfile::tempdir().unwrap();
    good_package(d.path());
    let text = "\u{feff}[ПСИЬМО КП ПС СЗИ]\nТЕМА=Тест UTF-8\n[ФАЙЛЫ]\n0=response.pdf\n1=response.xml\n2=document.xml\n";
    fs::write(d.path().join("envelope.ltr"), text).unwrap();
    fs::remove_file(d.path().join("envelope.ini")).unwrap();
    let p = read(d.path()).unwrap();
    assert_eq!(p.envelope_file, "envelope.ltr");
    assert_eq!(p.envelope.encoding, "UTF-8");
    assert_eq!(p.envelope.subject.as_deref(), Some("Тест UTF-8"));
}

#[cfg(unix)]
#[test]
fn only_regular_files_are_accepted() {
    use std::os::unix::fs::symlink;
    let d = tempfile::tempdir().unwrap();
    good_package(d.path());
    symlink("/etc/passwd", d.path().join("link.pdf")).unwrap();
    fails_with(d.path(), "not-regular-file", "link.pdf");
    fs::remove_file(d.path().join("link.pdf")).unwrap();
    fs::create_dir(d.path().join("sub")).unwrap();
    fails_with(d.path(), "not-regular-file", "sub");
    fs::remove_dir(d.path().join("sub")).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(d.path().join("pipe"))
        .status()
        .unwrap();
    assert!(status.success());
    fails_with(d.path(), "not-regular-file", "pipe");
    fs::remove_file(d.path().join("pipe")).unwrap();
    fs::write(d.path().join("bad\u{7}name.pdf"), b"x").unwrap();
    assert_eq!(read(d.path()).unwrap_err().code(), "unsafe-name");
}

/// Replaces document.xml with `bytes` and expects `code`.
fn with_message(bytes: &[u8], code: &str) {
    let d = tempfile::tempdir().unwrap();
    good_package(d.path());
    fs::write(d.path().join("document.xml"), bytes).unwrap();
    let err = read(d.path()).expect_err("must fail");
    assert_eq!(err.code(), code, "{err}");
    assert_eq!(err.file, "document.xml");
}

#[test]
fn hostile_xml_is_refused() {
    let lol = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><xdms:communication xmlns:xdms="http://www.infpres.com/IEDMS">&lol2;</xdms:communication>"#;
    with_message(lol.as_bytes(), "xml-doctype");
    let xxe =
        r#"<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>"#;
    with_message(xxe.as_bytes(), "xml-doctype");
    let deep = format!(
        "<xdms:communication xmlns:xdms=\"http://www.infpres.com/IEDMS\">{}{}</xdms:communication>",
        "<xdms:a>".repeat(10_000),
        "</xdms:a>".repeat(10_000)
    );
    with_message(deep.as_bytes(), "xml-too-deep");
    let big = format!("<a b=\"{}\"/>", "x".repeat(17 * 1024 * 1024));
    with_message(big.as_bytes(), "too-large");
    with_message(b"", "malformed-xml");
    with_message(
        b"\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"UTF-8\"?><a>\xFF\xFE</a>",
        "bad-encoding",
    );
    with_message(b"<a>&unknown;</a>", "malformed-xml");
}

#[test]
fn wrong_namespace_is_not_medo() {
    let text = r#"<?xml version="1.0" encoding="UTF-8"?><communication xmlns="urn:other"><header/></communication>"#;
    with_message(text.as_bytes(), "not-medo");
}

#[test]
fn default_namespace_and_unprefixed_attributes_are_read() {
    let d = tempfile::tempdir().unwrap();
    good_package(d.path());
    let text = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<communication xmlns="{NS_XDMS_2X}" version="2.2"><header type="Квитанция" uid="{ABOUT}" created="2024-03-15T11:02:30"><source uid="{THEM_UID}"><organization>Орг</organization></source></header>
<acknowledgment uid="{ABOUT}"><time>2024-03-15T11:02:30</time><accepted>false</accepted><comment>нет</comment><hashCodes><item><name>a</name><code>00</code></item></hashCodes></acknowledgment><unknownElement/></communication>"#
    );
    fs::write(d.path().join("document.xml"), text).unwrap();
    let p = read(d.path()).unwrap();
    let Body::Acknowledgment(a) = &p.message.body else {
        panic!()
    };
    assert!(!a.accepted);
    assert_eq!(a.comment.as_deref(), Some("нет"));
}

#[test]
fn mislabelled_encodings_are_read_with_a_warning() {
    let d = tempfile::tempdir().unwrap();
    good_package(d.path());
    // windows-1251 bytes declared UTF-8
    let cp = write_message(&document_with_links(Format::V22)).unwrap();
    let text = encoding_rs::WINDOWS_1251
        .decode(&cp)
        .0
        .replace("windows-1251", "UTF-8");
    fs::write(d.path().join("document.xml"), encode_cp1251_plain(&text)).unwrap();
    let p = read(d.path()).unwrap();
    assert_eq!(p.message_encoding, "windows-1251");
    assert!(
        p.warnings.iter().any(|w| w.contains("not valid UTF-8")),
        "{:?}",
        p.warnings
    );
    // UTF-8 bytes declared windows-1251
    fs::write(
        d.path().join("document.xml"),
        text.replace("UTF-8", "windows-1251"),
    )
    .unwrap();
    let p = read(d.path()).unwrap();
    assert_eq!(p.message_encoding, "UTF-8");
    assert_eq!(p.message, document_with_links(Format::V22));
    // a UTF-8 BOM contradicting a windows-1251 declaration: a fatal error (XML 1.0 §4.3.3)
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend(text.replace("UTF-8", "windows-1251").as_bytes());
    fs::write(d.path().join("document.xml"), bom).unwrap();
    let e = read(d.path()).unwrap_err();
    assert_eq!(e.kind.code(), "bad-encoding", "{e}");
}

#[test]
fn unknown_notification_kinds_are_kept() {
    let d = tempfile::tempdir().unwrap();
    good_package(d.path());
    let text = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<x:communication xmlns:x="{NS_XDMS_2X}" x:version="2.5"><x:header x:type="Уведомление" x:uid="{ABOUT}"><x:source x:uid="{THEM_UID}"><x:organization>Орг</x:organization></x:source></x:header>
<x:notification x:type="Опубликование" x:uid="{ABOUT}"><x:documentPublished><x:time>2024-03-15T11:02:30+03:00</x:time><x:url>http://pravo.gov.ru</x:url></x:documentPublished></x:notification></x:communication>"#
    );
    fs::write(d.path().join("document.xml"), text).unwrap();
    let p = read(d.path()).unwrap();
    let Body::Notification(n) = &p.message.body else {
        panic!()
    };
    assert_eq!(n.kind, NotificationType::Other("Опубликование".into()));
    assert_eq!(
        n.detail,
        NotificationDetail::Unknown {
            name: "documentPublished".into()
        }
    );
    assert!(n.time.is_some());
}

#[test]
fn limits_on_folder_size_hold() {
    let d = tempfile::tempdir().unwrap();
    good_package(d.path());
    for i in 0..20 {
        fs::write(d.path().join(format!("f{i}")), b"").unwrap();
    }
    let limits = Limits {
        max_package_files: 10,
        ..Limits::default()
    };
    assert_eq!(
        read_package(d.path(), &limits).unwrap_err().code(),
        "too-large"
    );
}
