//! Messages of every kind for tests (the wire crate's property tests and the workspace's
//! integration tests include this one file): a sender, a partner, a letter of theirs, a
//! query answer with links and files, and one message of each body.
#![allow(dead_code)]

use medo_wire::message::*;
use medo_wire::time::parse_date;
use time::macros::datetime;

pub const US_UID: &str = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";
pub const US_ORG: &str = "Федеральное агентство по тестированию";
pub const THEM_UID: &str = "11111111-2222-4333-8444-555555555555";
pub const THEM_ORG: &str = "Министерство примеров Российской Федерации";

pub fn outgoing(format: Format, uid: &str) -> Outgoing {
    Outgoing {
        format,
        uid: uid.to_string(),
        created: datetime!(2024-03-15 14:20:00 +03:00),
        sender: Sender {
            uid: US_UID.into(),
            organization: US_ORG.into(),
        },
        recipient: Partner {
            uid: THEM_UID.into(),
            organization: Some(THEM_ORG.into()),
            comment: None,
        },
    }
}

pub fn their_letter() -> DocReference {
    DocReference {
        who: Anyone::organization(THEM_ORG),
        num: DocNumber {
            number: "01-02/345".into(),
            date: parse_date("2024-03-15"),
        },
    }
}

pub const ABOUT: &str = "9c0d7e6f-1a2b-4c3d-8e9f-a0b1c2d3e4f5";

fn person(org: &str, person: &str, post: &str) -> Anyone {
    Anyone {
        organization: Some(org.into()),
        person: Some(person.into()),
        post: Some(post.into()),
        ..Anyone::default()
    }
}

/// A query answer: a Документ with links and files.
pub fn document_with_links(format: Format) -> Message {
    let document = Document {
        uid: "4c2a1e0f-9b8d-4c7e-a6f5-e4d3c2b1a098".into(),
        id: Some("OUT-2024-77".into()),
        kind: Some("Ответ на запрос".into()),
        num: DocNumber {
            number: "ОГ-77/24".into(),
            date: parse_date("2024-03-20"),
        },
        signatories: vec![Signatory {
            who: person(US_ORG, "Сидоров С.С.", "Руководитель"),
            signed: parse_date("2024-03-20"),
        }],
        addressees: vec![Anyone::organization(THEM_ORG)],
        pages: Some(2),
        annotation: Some(
            "Ответ на запрос о ходе рассмотрения обращений (А26-02-1234567) & <прочее>".into(),
        ),
        correspondents: vec![Correspondent {
            who: Anyone::organization(THEM_ORG),
            num: Some(DocNumber {
                number: "А26-05-99".into(),
                date: parse_date("2024-03-18"),
            }),
        }],
        links: vec![
            Link {
                link_type: "В ответ на".into(),
                reference: Some(DocReference {
                    who: Anyone::organization(THEM_ORG),
                    num: DocNumber {
                        number: "А26-05-99".into(),
                        date: parse_date("2024-03-18"),
                    },
                }),
                ..Link::default()
            },
            Link {
                link_type: "Связан с".into(),
                reference: Some(DocReference {
                    who: Anyone::default(),
                    num: DocNumber {
                        number: "А26-02-1234567".into(),
                        date: None,
                    },
                }),
                ..Link::default()
            },
        ],
        ..Document::default()
    };
    let files = vec![
        AssociatedFile {
            local_name: "response.pdf".into(),
            local_id: Some(0),
            file_type: Some("pdf".into()),
            group: Some(GROUP_DOCUMENT_TEXT.into()),
            description: Some("Ответ".into()),
            pages: Some(2),
        },
        AssociatedFile {
            local_name: "response.xml".into(),
            local_id: Some(1),
            file_type: Some("txt".into()),
            group: Some(GROUP_ATTACHMENT_TEXT.into()),
            description: None,
            pages: None,
        },
    ];
    outgoing(format, "5b6c7d8e-9f0a-4b1c-8d2e-3f4a5b6c7d8e").document(document, files)
}

/// Every kind of message the gateway writes, named for golden files.
pub fn all_messages(format: Format) -> Vec<(&'static str, Message)> {
    let o = |uid: &str| outgoing(format, uid);
    let mut v = vec![
        (
            "receipt_accepted",
            o("7b8c9d0e-1f2a-4b3c-9d4e-5f6a7b8c9d0e").receipt(
                "3F2B8C1E-5D4A-4B7E-9A61-0C2D9E8F7A10",
                true,
                None,
            ),
        ),
        (
            "receipt_rejected",
            o("7b8c9d0e-1f2a-4b3c-9d4e-5f6a7b8c9d0f").receipt(
                "3f2b8c1e-5d4a-4b7e-9a61-0c2d9e8f7a10",
                false,
                Some("Пакет неполон: отсутствует файл appeal.pdf".into()),
            ),
        ),
        (
            "registered",
            o("5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b").registered(
                ABOUT,
                their_letter(),
                DocNumber {
                    number: "ОГ-1234/24".into(),
                    date: parse_date("2024-03-15"),
                },
            ),
        ),
        (
            "refused",
            o("0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d").refused(
                ABOUT,
                their_letter(),
                RefusalReason::AddressingError,
                Some("Документ адресован другому ведомству".into()),
            ),
        ),
        (
            "executor_assigned",
            o("1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d").notification(
                ABOUT,
                their_letter(),
                NotificationDetail::ExecutorAssigned {
                    secretary: person(US_ORG, "Смирнова А.А.", "Секретарь"),
                    manager: person(US_ORG, "Кузнецов К.К.", "Заместитель руководителя"),
                    executor: person(US_ORG, "Иванов И.И.", "Начальник отдела"),
                },
                None,
            ),
        ),
        (
            "course_changed",
            o("2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e").notification(
                ABOUT,
                their_letter(),
                NotificationDetail::CourseChanged {
                    course_text:
                        "Срок рассмотрения продлён до 15.01.2025: требуется запрос в другой орган"
                            .into(),
                    reference: None,
                },
                None,
            ),
        ),
        (
            "report_sent",
            o("3c4d5e6f-7a8b-4c9d-8e1f-2a3b4c5d6e7f").notification(
                ABOUT,
                their_letter(),
                NotificationDetail::ReportSent {
                    report: DocReference {
                        who: Anyone::organization(US_ORG),
                        num: DocNumber {
                            number: "ОГ-1234/24-о".into(),
                            date: parse_date("2024-04-10"),
                        },
                    },
                },
                Some("Заявителю дан ответ по существу".into()),
            ),
        ),
        ("document_with_links", document_with_links(format)),
    ];
    if format != Format::V22 {
        v.push((
            "container",
            o("6d7e8f9a-0b1c-4d2e-8f3a-4b5c6d7e8f9a").container(ContainerRef {
                container_type: Some("Документ в электронном виде".into()),
                body: "4c2a1e0f9b8d4c7ea6f5e4d3c2b1a098.edc.zip".into(),
                signature: None,
            }),
        ));
    }
    v
}
