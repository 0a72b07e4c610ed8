//! Hostile message XML (the 2.2 sample's document.xml replaced) and encodings.

use std::fs;

use crate::{appeal_22, case, common, From};

fn with_document(name: &'static str, bytes: Vec<u8>) -> impl FnOnce(&common::env::Env) {
    move |env| {
        let dir = appeal_22(env, name);
        fs::write(dir.join("document.xml"), bytes).unwrap();
    }
}

/// The sample's document.xml as text (cp1251 decoded).
fn sample_text(env: &common::env::Env) -> String {
    let bytes = fs::read(env.samples.join("urog-appeal-2.2/document.xml")).unwrap();
    encoding_rs::WINDOWS_1251.decode(&bytes).0.into_owned()
}

#[test]
fn billion_laughs() {
    let mut x = String::from("<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">");
    for i in 1..10 {
        let prev = if i == 1 {
            "lol".to_string()
        } else {
            format!("lol{}", i - 1)
        };
        x.push_str(&format!(
            "<!ENTITY lol{i} \"{}\">",
            format!("&{prev};").repeat(10)
        ));
    }
    x.push_str("]><lolz>&lol9;</lolz>");
    case(
        "billion laughs",
        &["xml-doctype"],
        From::V22,
        with_document("laughs", x.into_bytes()),
    );
}

#[test]
fn an_external_entity() {
    let x = "<?xml version=\"1.0\"?><!DOCTYPE d [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><d>&xxe;</d>";
    case(
        "external entity",
        &["xml-doctype"],
        From::V22,
        with_document("xxe", x.into()),
    );
}

#[test]
fn nesting_ten_thousand_deep() {
    let x = format!(
        "<?xml version=\"1.0\"?>{}{}",
        "<a>".repeat(10_000),
        "</a>".repeat(10_000)
    );
    case(
        "10,000 deep",
        &["xml-too-deep"],
        From::V22,
        with_document("deep", x.into_bytes()),
    );
}

#[test]
fn a_fifty_megabyte_attribute() {
    let x = format!("<?xml version=\"1.0\"?><a b=\"{}\"/>", "x".repeat(50 << 20));
    case(
        "50 MB attribute",
        &["too-large"],
        From::V22,
        with_document("attr", x.into_bytes()),
    );
}

#[test]
fn invalid_bytes_in_a_declared_encoding() {
    // 0x98 is the one byte windows-1251 leaves undefined, and it is not UTF-8 either
    case("invalid bytes", &["bad-encoding"], From::V22, |env| {
        let mut bytes = encoding_rs::WINDOWS_1251
            .encode(&sample_text(env))
            .0
            .into_owned();
        let at = bytes
            .windows(13)
            .position(|w| w == b"<xdms:number>")
            .unwrap()
            + 13;
        bytes.insert(at, 0x98);
        with_document("bad-bytes", bytes)(env);
    });
}

#[test]
fn invalid_bytes_in_declared_utf16() {
    let mut bytes = vec![0xFF, 0xFE]; // UTF-16LE BOM
    for u in "<?xml version=\"1.0\" encoding=\"UTF-16\"?><a>".encode_utf16() {
        bytes.extend(u.to_le_bytes());
    }
    bytes.extend([0x00, 0xD8, 0x41, 0x00]); // an unpaired high surrogate
    case(
        "invalid UTF-16",
        &["bad-encoding"],
        From::V22,
        with_document("bad-utf16", bytes),
    );
}

#[test]
fn a_bom_that_contradicts_the_declaration() {
    case("BOM vs declaration", &["bad-encoding"], From::V22, |env| {
        let mut bytes = b"\xEF\xBB\xBF".to_vec();
        bytes.extend(sample_text(env).as_bytes()); // UTF-8 bytes, still declared windows-1251
        with_document("bom", bytes)(env);
    });
}

#[test]
fn an_empty_message() {
    case(
        "empty message",
        &["malformed-xml", "not-medo"],
        From::V22,
        with_document("empty-xml", Vec::new()),
    );
}

#[test]
fn too_many_elements() {
    let x = format!("<?xml version=\"1.0\"?><a>{}</a>", "<b/>".repeat(300_000));
    case(
        "300,000 elements",
        &["xml-too-many-elements"],
        From::V22,
        with_document("wide", x.into_bytes()),
    );
}
