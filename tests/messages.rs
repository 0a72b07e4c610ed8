//! Every message the gateway writes, in 2.2, 2.7 and 2.7.1: round trip (write → read → equal),
//! byte-exact golden files, and XSD validation with xmllint.
//!
//! Regenerate golden files after an intended format change with `UPDATE_GOLDEN=1 cargo test`.

mod common;

use std::fs;
use std::path::Path;

use common::*;
use medo_gateway::wire::message::*;
use medo_gateway::wire::read::parse_message;
use medo_gateway::wire::write::write_message;
use medo_gateway::wire::Limits;

const FORMATS: [Format; 3] = [Format::V22, Format::V27, Format::V271];

fn golden_name(format: Format, name: &str) -> String {
    format!("{}_{name}.xml", format.version().replace('.', ""))
}

#[test]
fn every_message_round_trips() {
    for format in FORMATS {
        for (name, message) in all_messages(format) {
            let bytes = write_message(&message).unwrap_or_else(|e| panic!("{name}: {e}"));
            let parsed =
                parse_message(&bytes, &Limits::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(parsed.message, message, "{format:?} {name}");
            assert!(
                parsed.warnings.is_empty(),
                "{format:?} {name}: {:?}",
                parsed.warnings
            );
            let expected = if format == Format::V271 {
                "UTF-8"
            } else {
                "windows-1251"
            };
            assert_eq!(parsed.encoding, expected, "{name}");
        }
    }
}

#[test]
fn golden_files_match() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    for format in FORMATS {
        for (name, message) in all_messages(format) {
            let bytes = write_message(&message).unwrap();
            let path = dir.join(golden_name(format, name));
            if update {
                fs::write(&path, &bytes).unwrap();
            }
            let golden = fs::read(&path)
                .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 to create)", path.display()));
            assert!(
                golden == bytes,
                "{} differs from the writer's output",
                path.display()
            );
        }
    }
}

#[test]
fn generated_xml_validates_against_the_schemas() {
    let tmp = tempfile::tempdir().unwrap();
    for format in FORMATS {
        let schema = match format {
            Format::V22 => schema("iedms_2x.xsd"),
            Format::V27 => schema("iedms_27_derived.xsd"),
            Format::V271 => schema("iedms_271_derived.xsd"),
        };
        for (name, message) in all_messages(format) {
            let path = tmp.path().join(golden_name(format, name));
            fs::write(&path, write_message(&message).unwrap()).unwrap();
            if !xmllint_validate(&path, &schema) {
                return;
            }
        }
    }
}

#[test]
fn writer_rules_hold_for_every_message() {
    for format in FORMATS {
        for (name, message) in all_messages(format) {
            let bytes = write_message(&message).unwrap();
            let text = match format {
                Format::V271 => String::from_utf8(bytes.clone()).unwrap(),
                _ => encoding_rs::WINDOWS_1251.decode(&bytes).0.into_owned(),
            };
            let first_line = text.lines().next().unwrap();
            match format {
                Format::V271 => {
                    assert_eq!(first_line, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
                    assert!(!bytes.starts_with(b"\xEF\xBB\xBF"), "no BOM");
                    assert!(
                        text.contains("<xdms:deliveryIndex>"),
                        "{name}: deliveryIndex"
                    );
                }
                _ => assert_eq!(
                    first_line,
                    r#"<?xml version="1.0" encoding="windows-1251"?>"#
                ),
            }
            // no empty elements, every attribute prefixed, GUIDs lower case
            assert!(
                !text.contains("></xdms:"),
                "{name}: empty element in\n{text}"
            );
            assert!(!text.contains("/>"), "{name}: self-closed element");
            for attr in text.split_whitespace().filter(|w| w.contains("=\"")) {
                assert!(
                    attr.starts_with("xdms:")
                        || attr.starts_with("xmlns:xdms")
                        || attr.starts_with("version=")
                        || attr.starts_with("encoding="),
                    "{name}: unprefixed attribute {attr}"
                );
            }
            for uid in text.split("uid=\"").skip(1).map(|s| &s[..36]) {
                assert_eq!(uid, uid.to_lowercase(), "{name}: GUID case");
            }
        }
    }
}

#[test]
fn a_refusal_with_a_reason_outside_the_nine_is_not_written() {
    let mut m = outgoing(Format::V22, "0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d").refused(
        ABOUT,
        their_letter(),
        RefusalReason::NoText,
        None,
    );
    if let Body::Notification(n) = &mut m.body {
        n.detail = NotificationDetail::DocumentRefused {
            reason: None,
            reason_text: "Не понравилось".into(),
        };
    }
    assert!(write_message(&m).is_err());
}

#[test]
fn every_official_reason_round_trips() {
    for reason in RefusalReason::ALL {
        for format in [Format::V22, Format::V271] {
            let m = outgoing(format, "0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d").refused(
                ABOUT,
                their_letter(),
                reason,
                None,
            );
            let parsed = parse_message(&write_message(&m).unwrap(), &Limits::default()).unwrap();
            assert_eq!(parsed.message, m);
        }
    }
}

#[test]
fn required_content_missing_is_an_error_not_an_empty_element() {
    let mut m = document_with_links(Format::V22);
    if let Body::Document { document, .. } = &mut m.body {
        document.annotation = Some("   ".into());
    }
    assert!(write_message(&m).is_err());
    let mut m = document_with_links(Format::V22);
    if let Body::Document { files, .. } = &mut m.body {
        files.clear();
    }
    assert!(write_message(&m).is_err());
    let mut m =
        outgoing(Format::V271, "7b8c9d0e-1f2a-4b3c-9d4e-5f6a7b8c9d0e").receipt(ABOUT, true, None);
    m.delivery_index.clear();
    assert!(write_message(&m).is_err(), "2.7.1 needs deliveryIndex");
}

fn sample_passport(
    format: medo_gateway::wire::passport::PassportFormat,
) -> medo_gateway::wire::passport::Passport {
    use medo_gateway::wire::passport::*;
    use medo_gateway::wire::time::parse_date;
    Passport {
        format,
        uid: Some(ABOUT.into()),
        version: Some(match format {
            PassportFormat::V27 => "1.0".into(),
            PassportFormat::V271 => "2.7.1".into(),
        }),
        kind: Coded {
            id: Some("DK00000000".into()),
            text: Some("Ответ на запрос".into()),
        },
        place: Some(Coded {
            id: None,
            text: Some("г. Москва".into()),
        }),
        classification: Some(Coded {
            id: Some(CLASSIFICATION_RESTRICTED.into()),
            text: Some("Информация ограниченного распространения".into()),
        }),
        annotation: Some("Ответ на запрос & <прочее>".into()),
        links: vec![PassportLink {
            uid: Some(THEM_UID.into()),
            link_type: Some("В ответ на".into()),
            organization: Some(THEM_ORG.into()),
            number: Some("А26-05-1".into()),
            date: parse_date("2024-03-01"),
        }],
        authors: vec![Author {
            organization: Organization {
                title: Some(US_ORG.into()),
                address: Some("ул. Примерная, 1".into()),
                ..Organization::default()
            },
            registration_number: Some("ОГ-77/24".into()),
            registration_date: parse_date("2024-03-20"),
            registration_stamp: Some(Stamp {
                local_name: "reg.png".into(),
                page: Some(1),
                x: Some(20),
                y: Some(60),
                w: Some(70),
                h: Some(8),
            }),
            signs: vec![Sign {
                person: Person {
                    post: Some("Руководитель".into()),
                    name: Some("Сидоров С.С.".into()),
                    ..Person::default()
                },
                signatures: vec![DocumentSignature {
                    local_name: "response.pdf.p7s".into(),
                    signature_type: Some("Утверждающая".into()),
                    stamp: None,
                }],
            }],
            executor: Some(Person {
                name: Some("Иванов И.И.".into()),
                phone: Some("+7 495 000-00-00".into()),
                ..Person::default()
            }),
        }],
        addressees: vec![PassportAddressee {
            organization: Organization {
                title: Some(THEM_ORG.into()),
                ..Organization::default()
            },
            person: None,
        }],
        document: Some(MainDocument {
            local_name: "response.pdf".into(),
            pages: Some(2),
            enclosure_pages: Some(1),
            description: None,
        }),
        attachments: vec![Attachment {
            local_name: "response.xml".into(),
            order: Some(0),
            description: Some("Сведения".into()),
            signatures: vec!["response.xml.p7s".into()],
        }],
    }
}

#[test]
fn passports_round_trip_and_match_golden_files() {
    use medo_gateway::wire::passport::{parse_passport, write_passport, PassportFormat};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    for (format, file) in [
        (PassportFormat::V27, "passport_27.xml"),
        (PassportFormat::V271, "passport_271.xml"),
    ] {
        let p = sample_passport(format);
        let bytes = write_passport(&p).unwrap();
        let limits = Limits::default();
        let (parsed, warnings) = parse_passport(&bytes, &limits).unwrap();
        assert_eq!(parsed, p);
        assert!(warnings.is_empty(), "{warnings:?}");
        let path = dir.join(file);
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            fs::write(&path, &bytes).unwrap();
        }
        assert!(
            fs::read(&path).unwrap() == bytes,
            "{} differs",
            path.display()
        );
        let text = String::from_utf8(bytes).unwrap();
        assert!(!text.contains("></c:"), "empty element in\n{text}");
    }
}

#[test]
fn envelope_matches_golden_file() {
    use medo_gateway::wire::envelope::{write, OutgoingEnvelope};
    use medo_gateway::wire::time::parse_envelope_date;
    let bytes = write(&OutgoingEnvelope {
        subject: "ЭСД МЭДО (Уведомление)".into(),
        date: parse_envelope_date("15.03.2024 14:20:05").unwrap(),
        addressees: vec!["EXAMPLE_SNDR~MEDO".into()],
        payload: vec!["response.pdf".into(), "response.xml".into()],
        message_file: "document.xml".into(),
        text_file: Some("annotation.txt".into()),
    });
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/envelope.ini");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        fs::write(&path, &bytes).unwrap();
    }
    assert!(
        fs::read(&path).unwrap() == bytes,
        "{} differs",
        path.display()
    );
}
