//! The spec's examples, the two real ministry notifications and the three real 2.7/2.7.1
//! packages (read in place from `../shared/spec/data`, never copied) are read correctly.
//! The real packages' ZIPs were not published, so each test rebuilds a container around the
//! real passport with placeholder files for every name the passport references.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;
use medo_gateway::wire::container::{write_container, ContainerFile};
use medo_gateway::wire::envelope;
use medo_gateway::wire::message::*;
use medo_gateway::wire::package::read_package;
use medo_gateway::wire::passport::{parse_passport, Passport, PassportFormat};
use medo_gateway::wire::read::parse_message;
use medo_gateway::wire::time::parse_date;
use medo_gateway::wire::Limits;

fn data() -> Option<PathBuf> {
    let d = spec_data();
    if d.is_none() {
        assert!(
            !in_ci() || std::env::var_os("MEDO_ALLOW_NO_SPEC").is_some(),
            "spec data is required in CI"
        );
    }
    d
}

fn passport_of(path: &Path) -> Passport {
    let bytes = fs::read(path).unwrap();
    let limits = Limits::default();
    parse_passport(&bytes, &limits).unwrap().0
}

/// Builds `dir/zip_name` holding `passport_file` as passport.xml plus a placeholder for every
/// file the passport names.
fn rebuild_container(dir: &Path, zip_name: &str, passport_file: &Path) {
    let passport = passport_of(passport_file);
    let staging = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for name in passport.referenced_files() {
        let path = staging.path().join(name);
        if !path.exists() {
            fs::write(&path, format!("placeholder for {name}")).unwrap();
            files.push(ContainerFile {
                name: name.to_string(),
                source: path,
            });
        }
    }
    let out = fs::File::create(dir.join(zip_name)).unwrap();
    write_container(
        out,
        "passport.xml",
        &fs::read(passport_file).unwrap(),
        &files,
    )
    .unwrap();
}

fn package_dir(files: &[(&str, &Path)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, src) in files {
        fs::copy(src, dir.path().join(name)).unwrap();
    }
    dir
}

#[test]
#[cfg_attr(
    medo_no_spec_data,
    ignore = "../shared/spec/data not found (the project's shared spec samples; set MEDO_SPEC_DATA)"
)]
fn v22_inbound_document_example() {
    let Some(d) = data() else { return };
    let p = read_package(&d.join("examples/v22_inbound_document"), &Limits::default()).unwrap();
    assert_eq!(p.envelope.encoding, "windows-1251");
    assert_eq!(
        p.envelope.subject.as_deref(),
        Some("ЭСД МЭДО (01-02/345 от 15.03.2024)")
    );
    assert_eq!(p.envelope.addressees, vec!["EXAMPLE_RCPT~MEDO"]);
    assert_eq!(p.envelope.files, vec!["text0000000000.pdf", "document.xml"]);
    assert_eq!(p.message_encoding, "windows-1251");
    let m = &p.message;
    assert_eq!((m.format, m.version.as_str()), (Format::V22, "2.2"));
    assert_eq!(m.header.kind, HeaderType::Document);
    assert_eq!(m.header.uid, "3f2b8c1e-5d4a-4b7e-9a61-0c2d9e8f7a10");
    assert_eq!(m.header.source.uid, THEM_UID);
    assert_eq!(m.header.source.organization.as_deref(), Some(THEM_ORG));
    let Body::Document { document, files } = &m.body else {
        panic!("document")
    };
    assert_eq!(document.uid, ABOUT);
    assert_eq!(document.id.as_deref(), Some("OUT-2024-345"));
    assert_eq!(document.kind.as_deref(), Some("Письмо"));
    assert_eq!(document.num.number, "01-02/345");
    assert_eq!(document.num.date, parse_date("2024-03-15"));
    assert_eq!(
        document.signatories[0].who.person.as_deref(),
        Some("Иванов И.И.")
    );
    assert_eq!(document.signatories[0].signed, parse_date("2024-03-15"));
    assert_eq!(
        document.addressees[0].person.as_deref(),
        Some("Петрову П.П.")
    );
    assert_eq!(document.pages, Some(2));
    assert_eq!(
        document.annotation.as_deref(),
        Some("О предоставлении информации по образцу")
    );
    assert_eq!(
        document.correspondents[0].num.as_ref().unwrap().number,
        "01-02/345"
    );
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].local_name, "text0000000000.pdf");
    assert_eq!(files[0].group.as_deref(), Some(GROUP_DOCUMENT_TEXT));
    assert!(p.missing.is_empty());
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    let pdf = p
        .files
        .iter()
        .find(|f| f.name == "text0000000000.pdf")
        .unwrap();
    assert_eq!(pdf.size, 50);
    assert_eq!(pdf.sha256.len(), 64);
}

#[test]
#[cfg_attr(
    medo_no_spec_data,
    ignore = "../shared/spec/data not found (the project's shared spec samples; set MEDO_SPEC_DATA)"
)]
fn v22_outbound_examples() {
    let Some(d) = data() else { return };
    let limits = Limits::default();
    let ack = read_package(&d.join("examples/v22_out_acknowledgment"), &limits).unwrap();
    let Body::Acknowledgment(a) = &ack.message.body else {
        panic!()
    };
    assert!(a.accepted);
    assert_eq!(a.uid, "3f2b8c1e-5d4a-4b7e-9a61-0c2d9e8f7a10");

    let reg = read_package(&d.join("examples/v22_out_notification_registered"), &limits).unwrap();
    let Body::Notification(n) = &reg.message.body else {
        panic!()
    };
    assert_eq!(n.kind, NotificationType::Registered);
    assert_eq!(n.uid, ABOUT);
    assert_eq!(n.foundation.as_ref().unwrap().num.number, "01-02/345");
    assert_eq!(
        n.correspondent.as_ref().unwrap().organization.as_deref(),
        Some(US_ORG)
    );
    let NotificationDetail::DocumentAccepted { num } = &n.detail else {
        panic!()
    };
    assert_eq!(num.number, "ВХ-1234/24");

    let refused = read_package(&d.join("examples/v22_out_notification_refused"), &limits).unwrap();
    let Body::Notification(n) = &refused.message.body else {
        panic!()
    };
    assert_eq!(n.kind, NotificationType::Refused);
    assert_eq!(
        n.detail,
        NotificationDetail::DocumentRefused {
            reason: Some(RefusalReason::AddressingError),
            reason_text: "Ошибка адресации".into()
        }
    );
    assert_eq!(
        n.comment.as_deref(),
        Some("Документ адресован другому ведомству")
    );
}

#[test]
#[cfg_attr(
    medo_no_spec_data,
    ignore = "../shared/spec/data not found (the project's shared spec samples; set MEDO_SPEC_DATA)"
)]
fn v271_examples() {
    let Some(d) = data() else { return };
    let limits = Limits::default();
    let ack = read_package(&d.join("examples/v271_out_acknowledgment"), &limits).unwrap();
    assert_eq!(ack.message.format, Format::V271);
    assert_eq!(ack.message.delivery_index[0].uid, THEM_UID);
    // the example envelope's first section reads "[[ПИСЬМО КП ПС СЗИ]": matched leniently
    assert_eq!(
        ack.envelope.main_section.as_deref(),
        Some("ПИСЬМО КП ПС СЗИ")
    );
    assert_eq!(ack.envelope.subject.as_deref(), Some("Квитанция о приеме"));

    let reg = read_package(
        &d.join("examples/v271_out_notification_registered"),
        &limits,
    )
    .unwrap();
    let Body::Notification(n) = &reg.message.body else {
        panic!()
    };
    assert_eq!(n.id.as_deref(), Some("IN-2024-1234"));
    assert!(
        matches!(&n.detail, NotificationDetail::DocumentAccepted { num } if num.number == "ВХ-1234/24")
    );

    // the inbound container example ships its ZIP unpacked: rebuild it
    let ex = d.join("examples/v271_inbound_container");
    let dir = package_dir(&[
        ("envelope.ini", &ex.join("envelope.ini")),
        ("message.xml", &ex.join("message.xml")),
    ]);
    rebuild_container(
        dir.path(),
        "9c0d7e6f1a2b4c3d8e9fa0b1c2d3e4f5.edc.zip",
        &ex.join("zip_contents/passport.xml"),
    );
    let p = read_package(dir.path(), &limits).unwrap();
    assert_eq!(p.message.header.kind, HeaderType::Container);
    assert_eq!(p.message.delivery_index[0].uid, US_UID);
    let c = p.container.as_ref().unwrap();
    assert_eq!(c.passport.format, PassportFormat::V271);
    assert_eq!(c.passport.uid.as_deref(), Some(ABOUT));
    assert_eq!(c.passport.kind.text.as_deref(), Some("Письмо"));
    assert!(!c.passport.is_restricted());
    assert_eq!(
        c.passport.authors[0].registration_number.as_deref(),
        Some("01-02/345")
    );
    assert_eq!(c.passport.document_signatures(), vec!["document.pdf.p7s"]);
    assert_eq!(
        c.passport.document.as_ref().unwrap().local_name,
        "document.pdf"
    );
    assert!(c.missing.is_empty());
    assert!(p.missing.is_empty());
}

#[test]
#[cfg_attr(
    medo_no_spec_data,
    ignore = "../shared/spec/data not found (the project's shared spec samples; set MEDO_SPEC_DATA)"
)]
fn real_ministry_notifications() {
    let Some(d) = data() else { return };
    let limits = Limits::default();
    let accepted = parse_message(
        &fs::read(d.join("public_samples/v22_notification_accepted_minstroy_2018.xml")).unwrap(),
        &limits,
    )
    .unwrap();
    assert_eq!(accepted.encoding, "windows-1251");
    let Body::Notification(n) = &accepted.message.body else {
        panic!()
    };
    assert_eq!(n.kind, NotificationType::Registered);
    assert_eq!(n.uid, "a644d9ca-d2c1-c94e-8373-2f2883696a93");
    assert_eq!(n.foundation.as_ref().unwrap().num.number, "20-02-3/5046-ИЛ");
    assert_eq!(
        n.correspondent.as_ref().unwrap().region.as_deref(),
        Some("г. Москва")
    );
    assert!(
        matches!(&n.detail, NotificationDetail::DocumentAccepted { num } if num.number == "33306/МС" && num.date == parse_date("2018-03-30"))
    );
    assert_eq!(
        accepted.message.header.created.unwrap().to_string(),
        "2018-03-30T10:41:12.502",
        "the milliseconds as sent are kept"
    );

    let refused = parse_message(
        &fs::read(d.join("public_samples/v22_notification_refused_minstroy_2018.xml")).unwrap(),
        &limits,
    )
    .unwrap();
    let Body::Notification(n) = &refused.message.body else {
        panic!()
    };
    assert_eq!(n.kind, NotificationType::Refused);
    assert!(matches!(
        &n.detail,
        NotificationDetail::DocumentRefused {
            reason: Some(RefusalReason::NotSubjectToRegistration),
            ..
        }
    ));
    assert_eq!(n.comment.as_deref(), Some("по договоренности"));
}

#[test]
#[cfg_attr(
    medo_no_spec_data,
    ignore = "../shared/spec/data not found (the project's shared spec samples; set MEDO_SPEC_DATA)"
)]
fn real_envelopes_cp1251_mixed_line_ends() {
    let Some(d) = data() else { return };
    let bytes = fs::read(d.join("real_packages/38773995_envelope.ltr")).unwrap();
    let env = envelope::parse(&bytes, "envelope.ltr", 100).unwrap();
    assert_eq!(env.encoding, "windows-1251");
    assert!(env.subject.as_deref().unwrap().contains("ПВ-00-14/11756"));
    assert_eq!(env.addressees, vec!["M_VOSTOK_S~MEDOGU"]);
    assert_eq!(env.files, vec!["document.xml", "document.edc.zip"]);
    let env = envelope::parse(
        &fs::read(d.join("real_packages/70178878_envelope.ltr")).unwrap(),
        "envelope.ltr",
        100,
    )
    .unwrap();
    assert_eq!(env.files, vec!["container.xml", "container.edc.zip"]);
    assert!(env.subject.as_deref().unwrap().starts_with("№ 299-СФ"));
}

#[test]
#[cfg_attr(
    medo_no_spec_data,
    ignore = "../shared/spec/data not found (the project's shared spec samples; set MEDO_SPEC_DATA)"
)]
fn real_package_2_7_ministry() {
    let Some(d) = data() else { return };
    let r = d.join("real_packages");
    let dir = package_dir(&[
        ("envelope.ltr", &r.join("38773995_envelope.ltr")),
        ("document.xml", &r.join("38773995_document.xml")),
    ]);
    rebuild_container(
        dir.path(),
        "document.edc.zip",
        &r.join("38773995_container_passport.xml"),
    );
    let p = read_package(dir.path(), &Limits::default()).unwrap();
    assert_eq!(p.message.format, Format::V27);
    assert_eq!(p.message.header.kind, HeaderType::Container);
    assert_eq!(
        p.message.header.source.uid,
        "db617a7c-bd8f-4159-afda-aabdbbcdba18"
    );
    let c = p.container.as_ref().unwrap();
    assert_eq!(c.passport.format, PassportFormat::V27);
    let a = &c.passport.authors[0];
    assert_eq!(a.registration_number.as_deref(), Some("ПВ-00-14/11756"));
    assert_eq!(a.registration_date, parse_date("2022-08-16"));
    assert_eq!(
        a.signs[0].person.name.as_deref(),
        Some("Волков Павел Михайлович")
    );
    assert_eq!(a.signs[0].signatures[0].local_name, "visa1.sig");
    assert_eq!(
        a.signs[0].signatures[0].signature_type.as_deref(),
        Some("Утверждающая")
    );
    assert_eq!(a.registration_stamp.as_ref().unwrap().local_name, "reg.png");
    let doc = c.passport.document.as_ref().unwrap();
    assert_eq!(
        (doc.local_name.as_str(), doc.pages, doc.enclosure_pages),
        ("874070.pdf", Some(1), Some(0))
    );
    assert!(p.missing.is_empty());
}

#[test]
#[cfg_attr(
    medo_no_spec_data,
    ignore = "../shared/spec/data not found (the project's shared spec samples; set MEDO_SPEC_DATA)"
)]
fn real_package_2_7_1_federation_council() {
    let Some(d) = data() else { return };
    let r = d.join("real_packages");
    let dir = package_dir(&[
        ("envelope.ltr", &r.join("70178878_envelope.ltr")),
        ("container.xml", &r.join("70178878_container.xml")),
    ]);
    rebuild_container(
        dir.path(),
        "container.edc.zip",
        &r.join("70178878_container_passport.xml"),
    );
    let p = read_package(dir.path(), &Limits::default()).unwrap();
    assert_eq!(p.message.format, Format::V271);
    assert_eq!(p.message_encoding, "UTF-8");
    assert_eq!(
        p.message.delivery_index[0].uid,
        "1953a86e-e35e-45cc-b031-556ca72c4080"
    );
    let c = p.container.as_ref().unwrap();
    assert_eq!(c.passport.format, PassportFormat::V271);
    assert_eq!(c.passport.kind.id.as_deref(), Some("DK00000035"));
    assert_eq!(
        c.passport.classification.as_ref().unwrap().id.as_deref(),
        Some("DC00000000")
    );
    assert!(!c.passport.is_restricted());
    assert_eq!(
        c.passport.authors[0].registration_number.as_deref(),
        Some("299-СФ")
    );
    assert!(c.passport.addressees.len() > 50);
    // the pretty-printed variant of the same passport reads the same
    let pretty = passport_of(&r.join("70178878_container_passport_pretty.xml"));
    assert_eq!(
        pretty.authors[0].registration_number,
        c.passport.authors[0].registration_number
    );
    assert_eq!(pretty.kind.text, c.passport.kind.text);
}

#[test]
#[cfg_attr(
    medo_no_spec_data,
    ignore = "../shared/spec/data not found (the project's shared spec samples; set MEDO_SPEC_DATA)"
)]
fn real_package_2_7_state_duma_with_root_named_passport() {
    let Some(d) = data() else { return };
    let r = d.join("real_packages");
    let dir = package_dir(&[
        ("envelope.ltr", &r.join("gd2_envelope.ltr")),
        ("passport.xml", &r.join("gd2_passport.xml")),
    ]);
    rebuild_container(
        dir.path(),
        "container.edc.zip",
        &r.join("gd2_container_passport.xml"),
    );
    let p = read_package(dir.path(), &Limits::default()).unwrap();
    assert_eq!(p.message_file, "passport.xml");
    assert_eq!(
        p.message.header.created.unwrap().to_string(),
        "2023-06-22T18:45:51.267",
        "the milliseconds as sent are kept"
    );
    let c = p.container.as_ref().unwrap();
    assert_eq!(c.passport.attachments.len(), 4);
    assert_eq!(
        c.passport.attachments[3].signatures,
        vec!["sign250061635.p7s", "sign250061636.p7s"]
    );
    assert_eq!(
        c.passport.authors[0]
            .executor
            .as_ref()
            .unwrap()
            .name
            .as_deref(),
        Some("Тимонин А.Б.")
    );
    assert_eq!(
        c.passport.document.as_ref().unwrap().enclosure_pages,
        Some(4)
    );
}

#[test]
#[cfg_attr(
    medo_no_spec_data,
    ignore = "../shared/spec/data not found (the project's shared spec samples; set MEDO_SPEC_DATA)"
)]
fn hand_edited_real_variants_warn_about_type_and_body_mismatch() {
    let Some(d) = data() else { return };
    let r = d.join("real_packages");
    for f in [
        "38773995_document_type_kvitancia_edited.xml",
        "70178878_container_type_kvitancia_edited.xml",
    ] {
        let m = parse_message(&fs::read(r.join(f)).unwrap(), &Limits::default()).unwrap();
        assert_eq!(m.message.header.kind, HeaderType::Acknowledgment, "{f}");
        assert!(matches!(m.message.body, Body::Container(_)));
        assert!(
            m.warnings
                .iter()
                .any(|w| w.contains("does not match the body")),
            "{f}: {:?}",
            m.warnings
        );
    }
    let m = parse_message(
        &fs::read(r.join("38773995_document_body_container_zip.xml")).unwrap(),
        &Limits::default(),
    )
    .unwrap();
    assert!(matches!(&m.message.body, Body::Container(c) if c.body == "container.zip"));
}

/// The receipts quoted in public code (`public_fragments/`): what real receipts carry is kept —
/// the МЭДО operator's error fields, `@content`, `time` with milliseconds, upper-case GUIDs
/// normalised — and a header of an old producer without `created` still reads.
#[test]
#[cfg_attr(
    medo_no_spec_data,
    ignore = "../shared/spec/data not found (the project's shared spec samples; set MEDO_SPEC_DATA)"
)]
fn real_receipts_keep_what_they_carry() {
    let Some(d) = data() else { return };
    let frags = d.join("public_fragments");
    let ack = |folder: &str| {
        let p = read_package(&frags.join(folder), &Limits::default()).unwrap();
        match p.message.body {
            Body::Acknowledgment(a) => (p.message.header, a),
            other => panic!("{folder}: {other:?}"),
        }
    };
    let (_, error) = ack("frag_medo_error_ack");
    assert!(!error.accepted && error.is_operator_error());
    assert_eq!(error.uid, "00000000-0000-0000-0000-000000000000");
    assert_eq!(error.content.as_deref(), Some("MEDOErrorAcknowledgment"));
    assert_eq!(error.error_code.as_deref(), Some("248"));
    assert_eq!(error.error_file.as_deref(), Some("originalMessage.zip"));
    assert!(error.comment.unwrap().contains("communication:header:@uid"));
    let (_, upper) = ack("frag_ack_content_upperguid");
    assert_eq!(upper.uid, "4a45cd60-5ad4-487c-acb9-85c5be055b43");
    assert!(upper
        .content
        .as_deref()
        .unwrap()
        .starts_with("Квитанция на сообщение типа \"Уведомление\""));
    assert_eq!(upper.time.unwrap().to_string(), "2023-01-03T18:05:04.917");
    assert!(upper.accepted && !upper.is_operator_error());
    let (header, c271) = ack("frag_ack_271_cprefix");
    assert_eq!(
        header.created.unwrap().to_string(),
        "2023-01-10T20:57:02+03:00"
    );
    assert_eq!(c271.uid, "8084c1c4-db4d-4a0a-b0f0-2711ab0c073c");
    // an old 2.0 producer's header without `created`
    let text = fs::read_to_string(frags.join("frag_medo_error_ack/document.xml")).unwrap();
    let text = text.replace(" xdms:created=\"2023-01-03T13:34:06+03:00\"", "");
    let parsed = parse_message(text.as_bytes(), &Limits::default()).unwrap();
    assert!(parsed.message.header.created.is_none());
    assert!(matches!(parsed.message.body, Body::Acknowledgment(_)));
}
