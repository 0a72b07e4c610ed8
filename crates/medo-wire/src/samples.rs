//! `medo-gateway samples`: writes a deterministic set of sample inbound packages (as УРОГ
//! would send them) with the gateway's own writers, so a newcomer has real work for the
//! gateway and tests have realistic fixtures. Writes only into the folder it is given.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use time::macros::datetime;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::container::{write_container, ContainerFile};
use crate::envelope::{self, OutgoingEnvelope};
use crate::message::*;
use crate::passport::*;
use crate::time::parse_date;
use crate::write::write_message;

/// A stable GUID derived from a label (so samples are byte-identical run after run).
pub fn sample_uid(label: &str) -> String {
    Uuid::new_v5(
        &Uuid::NAMESPACE_URL,
        format!("urn:medo-gateway:sample:{label}").as_bytes(),
    )
    .to_string()
}

/// The moment all samples claim to have been created.
const CREATED: OffsetDateTime = datetime!(2026-11-20 10:00:00 +03:00);

/// A minimal, valid one-page PDF showing `line` (ASCII) — a stand-in for real documents.
pub fn minimal_pdf(line: &str) -> Vec<u8> {
    minimal_pdf_with(line, "")
}

/// [`minimal_pdf`] whose catalog also holds `/X <extra>` (an object of the caller's — the
/// tests' hostile nesting), the cross-reference table right for it.
pub fn minimal_pdf_with(line: &str, extra: &str) -> Vec<u8> {
    let text: String = line
        .chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .collect();
    let stream = format!("BT /F1 12 Tf 72 720 Td ({text}) Tj ET");
    let objects = [
        match extra {
            "" => "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
            x => format!("<< /Type /Catalog /Pages 2 0 R /X {x} >>"),
        },
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_string(),
        format!("<< /Length {} >>\nstream\n{stream}\nendstream", stream.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for off in offsets {
        pdf.extend(format!("{off:010} 00000 n \n").as_bytes());
    }
    pdf.extend(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

/// A placeholder detached signature: base64 text, as some producers send (not a real CMS).
fn placeholder_signature(of: &str) -> Vec<u8> {
    use base64::Engine;
    let body =
        base64::engine::general_purpose::STANDARD.encode(format!("SAMPLE SIGNATURE OF {of}"));
    body.into_bytes()
}

/// The parties of the samples.
pub struct Parties<'a> {
    /// The sender (УРОГ).
    pub urog: &'a Sender,
    pub urog_address: &'a str,
    /// The recipient (us).
    pub us: &'a Sender,
    pub our_address: &'a str,
}

fn outgoing(p: &Parties<'_>, format: Format, label: &str) -> Outgoing {
    Outgoing {
        format,
        uid: sample_uid(label),
        created: CREATED,
        sender: p.urog.clone(),
        recipient: p.us.partner(),
    }
}

fn write_folder(dir: &Path, files: &[(&str, Vec<u8>)], env: &OutgoingEnvelope) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    for (name, bytes) in files {
        fs::write(dir.join(name), bytes)?;
    }
    fs::write(dir.join("envelope.ini"), envelope::write(env))
}

fn envelope_for(
    p: &Parties<'_>,
    subject: String,
    payload: &[&str],
    message_file: &str,
) -> OutgoingEnvelope {
    OutgoingEnvelope {
        subject,
        date: time::PrimitiveDateTime::new(CREATED.date(), CREATED.time()),
        addressees: vec![p.our_address.to_string()],
        payload: payload.iter().map(|s| s.to_string()).collect(),
        message_file: message_file.to_string(),
        text_file: None,
    }
}

fn invalid_data(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

/// A 2.2 forwarded appeal: cover letter + appeal text, windows-1251 `document.xml`.
fn appeal_22(out: &Path, p: &Parties<'_>) -> io::Result<PathBuf> {
    let dir = out.join("urog-appeal-2.2");
    let number = "А26-02-1234567";
    let document = appeal_22_document(p, number);
    let files = vec![
        AssociatedFile {
            local_name: "cover-letter.pdf".into(),
            local_id: Some(0),
            file_type: Some("pdf".into()),
            group: Some(GROUP_DOCUMENT_TEXT.into()),
            description: Some("Сопроводительное письмо".into()),
            pages: Some(1),
        },
        AssociatedFile {
            local_name: "appeal.pdf".into(),
            local_id: Some(1),
            file_type: Some("pdf".into()),
            group: Some(GROUP_ATTACHMENT_TEXT.into()),
            description: Some("Обращение".into()),
            pages: Some(1),
        },
    ];
    let message = outgoing(p, Format::V22, "appeal-22").document(document, files);
    let xml = write_message(&message).map_err(invalid_data)?;
    let env = envelope_for(
        p,
        format!("ЭСД МЭДО ({number} от 19.11.2026)"),
        &["cover-letter.pdf", "appeal.pdf"],
        "document.xml",
    );
    write_folder(
        &dir,
        &[
            (
                "cover-letter.pdf",
                minimal_pdf("Cover letter A26-02-1234567 (sample)"),
            ),
            ("appeal.pdf", minimal_pdf("Citizen's appeal (sample text)")),
            ("document.xml", xml),
        ],
        &env,
    )?;
    Ok(dir)
}

/// The 2.2 sample's document: УРОГ's cover letter forwarding the appeal.
fn appeal_22_document(p: &Parties<'_>, number: &str) -> Document {
    let date = parse_date("2026-11-19");
    Document {
        uid: sample_uid("appeal-22-document"),
        kind: Some("Письмо".into()),
        num: DocNumber {
            number: number.into(),
            date,
        },
        signatories: vec![Signatory {
            who: Anyone {
                organization: p.urog.organization.clone().into(),
                person: Some("Петров П.П.".into()),
                post: Some("Консультант".into()),
                ..Anyone::default()
            },
            signed: date,
        }],
        addressees: vec![Anyone::organization(p.us.organization.clone())],
        pages: Some(1),
        enclosures_pages: Some(1),
        annotation: Some(
            "О направлении обращения гражданина для рассмотрения по компетенции".into(),
        ),
        correspondents: vec![Correspondent {
            who: Anyone::organization(p.urog.organization.clone()),
            num: Some(DocNumber {
                number: number.into(),
                date,
            }),
        }],
        ..Document::default()
    }
}

/// A 2.7.1 forwarded appeal in a transport container with passport, PDF and signature.
fn appeal_271(out: &Path, p: &Parties<'_>) -> io::Result<PathBuf> {
    let dir = out.join("urog-appeal-2.7.1");
    let number = "А26-02-7654321";
    let doc_uid = sample_uid("appeal-271-document");
    let zip_name = format!("{}.edc.zip", doc_uid.replace('-', ""));
    let passport = appeal_271_passport(p, number, &doc_uid);
    let staging = tempdir_in(out)?;
    let files = [
        (
            "cover-letter.pdf",
            minimal_pdf("Cover letter A26-02-7654321 (sample)"),
        ),
        (
            "cover-letter.pdf.p7s",
            placeholder_signature("cover-letter.pdf"),
        ),
        ("appeal.pdf", minimal_pdf("Citizen's appeal (sample text)")),
    ];
    let mut entries = Vec::new();
    for (name, bytes) in &files {
        let path = staging.join(name);
        fs::write(&path, bytes)?;
        entries.push(ContainerFile {
            name: name.to_string(),
            source: path,
        });
    }
    fs::create_dir_all(&dir)?;
    let passport_bytes = write_passport(&passport).map_err(invalid_data)?;
    write_container(
        File::create(dir.join(&zip_name))?,
        "passport.xml",
        &passport_bytes,
        &entries,
    )
    .map_err(invalid_data)?;
    fs::remove_dir_all(&staging)?;
    let message = outgoing(p, Format::V271, "appeal-271").container(ContainerRef {
        container_type: Some("Документ в электронном виде".into()),
        body: zip_name.clone(),
        signature: None,
    });
    let xml = write_message(&message).map_err(invalid_data)?;
    let env = envelope_for(
        p,
        format!("ЭСД МЭДО ({number} от 20.11.2026)"),
        &[&zip_name],
        "message.xml",
    );
    write_folder(&dir, &[("message.xml", xml)], &env)?;
    Ok(dir)
}

/// The 2.7.1 sample's passport: УРОГ's cover letter (signed) with the citizen's appeal.
fn appeal_271_passport(p: &Parties<'_>, number: &str, doc_uid: &str) -> Passport {
    let date = parse_date("2026-11-20");
    Passport {
        format: PassportFormat::V271,
        uid: Some(doc_uid.to_string()),
        version: None,
        kind: Coded {
            id: Some("DK00000000".into()),
            text: Some("Письмо".into()),
        },
        place: None,
        links: Vec::new(),
        classification: Some(Coded {
            id: Some(CLASSIFICATION_ORDINARY.into()),
            text: Some("Обычная информация".into()),
        }),
        annotation: Some(
            "О направлении обращения гражданина для рассмотрения по компетенции".into(),
        ),
        authors: vec![Author {
            organization: Organization {
                title: p.urog.organization.clone().into(),
                ..Organization::default()
            },
            registration_number: Some(number.into()),
            registration_date: date,
            registration_stamp: None,
            signs: vec![Sign {
                person: Person {
                    post: Some("Консультант".into()),
                    name: Some("Петров Пётр Петрович".into()),
                    ..Person::default()
                },
                signatures: vec![DocumentSignature {
                    local_name: "cover-letter.pdf.p7s".into(),
                    signature_type: Some("Утверждающая".into()),
                    stamp: None,
                }],
            }],
            executor: None,
        }],
        addressees: vec![PassportAddressee {
            organization: Organization {
                title: Some(p.us.organization.clone()),
                ..Organization::default()
            },
            person: None,
        }],
        document: Some(MainDocument {
            local_name: "cover-letter.pdf".into(),
            pages: Some(1),
            enclosure_pages: Some(1),
            description: Some("Сопроводительное письмо".into()),
        }),
        attachments: vec![Attachment {
            local_name: "appeal.pdf".into(),
            order: Some(0),
            description: Some("Обращение".into()),
            signatures: Vec::new(),
        }],
    }
}

/// A 2.7.1 receipt from УРОГ for a message of ours.
fn receipt_271(out: &Path, p: &Parties<'_>) -> io::Result<PathBuf> {
    let dir = out.join("urog-receipt-2.7.1");
    let message = outgoing(p, Format::V271, "receipt-271").receipt(
        &sample_uid("our-earlier-message"),
        true,
        None,
    );
    let xml = write_message(&message).map_err(invalid_data)?;
    let env = envelope_for(p, "Квитанция о приеме".into(), &[], "message.xml");
    write_folder(&dir, &[("message.xml", xml)], &env)?;
    Ok(dir)
}

fn tempdir_in(parent: &Path) -> io::Result<PathBuf> {
    let dir = parent.join(".samples-staging");
    if dir.exists() {
        fs::remove_dir_all(&dir)?;
    }
    fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Writes every sample package into `out` (created if needed); returns their folders.
/// Existing sample folders of the same names are replaced.
/// The samples between made-up parties, for unit tests that need real package folders
/// (of this crate and the others).
pub fn generate_for_test(out: &Path) -> Vec<PathBuf> {
    let sender = |uid: &str| Sender {
        uid: uid.into(),
        organization: "Орган".into(),
    };
    let (urog, us) = (sender("u"), sender("w"));
    let parties = Parties {
        urog: &urog,
        urog_address: "A~B",
        us: &us,
        our_address: "C~D",
    };
    generate(out, &parties).expect("samples are written")
}

pub fn generate(out: &Path, parties: &Parties<'_>) -> io::Result<Vec<PathBuf>> {
    fs::create_dir_all(out)?;
    for name in ["urog-appeal-2.2", "urog-appeal-2.7.1", "urog-receipt-2.7.1"] {
        let d = out.join(name);
        if d.exists() {
            fs::remove_dir_all(&d)?;
        }
    }
    Ok(vec![
        appeal_22(out, parties)?,
        appeal_271(out, parties)?,
        receipt_271(out, parties)?,
    ])
}
