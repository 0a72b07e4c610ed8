//! Our own documents (answers to queries, reports with their files) packed in the partner's
//! format: a 2.x `Документ` with its files beside the message, or — from 2.7 on — a
//! «Транспортный контейнер»: a flat `<uid>.edc.zip` holding `passport.xml` and the files,
//! the message naming it, as the real federal packages are written. Builds the models; the
//! wire writers make the bytes. Pure.

use crate::policy::Policy;
use medo_wire::container::container_bytes;
use medo_wire::message::{
    AssociatedFile, ContainerRef, Document, Format, Message, Outgoing, GROUP_ATTACHMENT_TEXT,
    GROUP_DOCUMENT_TEXT,
};
use medo_wire::passport::{
    write_passport, Attachment, Author, Coded, DocumentSignature, MainDocument, Organization,
    Passport, PassportAddressee, PassportFormat, PassportLink, Person, Sign, Stamp,
    CLASSIFICATION_ORDINARY, CLASSIFICATION_RESTRICTED,
};
use medo_wire::time::format_date;

/// One file of a document: the main text first, then the attachments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocFile {
    pub name: String,
    pub bytes: Vec<u8>,
    pub description: String,
    /// Pages, when the file is a PDF whose pages are known.
    pub pages: Option<u32>,
    /// A detached signature: the index (among the document's files) of the file it signs —
    /// beside it in a 2.2 package (not listed as a file of its own), listed with it in a
    /// container's passport.
    pub signs: Option<usize>,
}

/// A document of ours ready to pack.
#[derive(Debug, Clone)]
pub struct OwnDocument {
    /// The 2.x description (kind, our number and date, signatory, addressee, annotation,
    /// links to the document it answers).
    pub document: Document,
    /// The uid of the document it answers or carries out (the passport's link).
    pub answers_uid: Option<String>,
    /// ДСП: restricted access, kept from the appeal or query.
    pub restricted: bool,
    /// `files[0]` is the main text.
    pub files: Vec<DocFile>,
    /// The stamp images of a signed document (in a container: the signature's and the
    /// registration's, placed by the passport).
    pub stamps: Vec<StampFile>,
    /// Whose certificate signed it (the passport's signer when `[documents] signer_name` is
    /// not set).
    pub signed_by: Option<String>,
}

/// A stamp image packed in the container and where the passport places it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StampFile {
    pub kind: StampKind,
    pub name: String,
    pub png: Vec<u8>,
    pub place: crate::stamp::Place,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StampKind {
    /// «ДОКУМЕНТ ПОДПИСАН ЭЛЕКТРОННОЙ ПОДПИСЬЮ» (`signatureStamp`).
    Signature,
    /// Our number and date (`registrationStamp`).
    Registration,
}

/// The packed document: the message, the files beside it (a container or the payload) and
/// the envelope's subject.
pub struct Packed {
    pub message: Message,
    pub payload: Vec<(String, Vec<u8>)>,
    pub subject: String,
}

/// The container's file name: our message uid without dashes (as Tessa names it by a GUID,
/// `MedoHelper.ZipName`) — a МЭДО operator's error receipt with a zero uid that names the file
/// ties back to the message by it ([`message_uid_of_file`]).
pub fn container_name(message_uid: &str) -> String {
    format!("{}.edc.zip", message_uid.replace('-', "").to_lowercase())
}

/// The message uid a container name of ours carries (`<32 hex>.edc.zip`, `.zip` or bare).
pub fn message_uid_of_file(file: &str) -> Option<String> {
    let file = file.trim().to_ascii_lowercase();
    let stem = file
        .strip_suffix(".edc.zip")
        .or_else(|| file.strip_suffix(".zip"))
        .unwrap_or(&file);
    let hex = stem.replace('-', "");
    (hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| {
        format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..]
        )
    })
}

/// Packs `doc` for `outgoing.format`, with our signature of its main file when it was
/// signed.
pub fn pack(
    outgoing: &Outgoing,
    mut doc: OwnDocument,
    policy: &Policy,
    signed: Option<&super::Signed>,
) -> Result<Packed, super::Unrenderable> {
    let subject = subject(&doc.document);
    if let Some(signed) = signed {
        add_signature(&mut doc, signed, outgoing.format)?;
    }
    let passport_format = match outgoing.format {
        Format::V22 => {
            let files = associated(&doc.files);
            let payload = doc.files.into_iter().map(|f| (f.name, f.bytes)).collect();
            let message = outgoing.document(doc.document, files);
            return Ok(Packed {
                message,
                payload,
                subject,
            });
        }
        Format::V27 => PassportFormat::V27,
        Format::V271 => PassportFormat::V271,
    };
    let passport = write_passport(&passport(&doc, passport_format, policy)).map_err(|e| {
        super::Unrenderable::Write {
            what: "паспорт",
            why: e.to_string(),
        }
    })?;
    let name = container_name(&outgoing.uid);
    let stamps = doc.stamps.into_iter().map(|s| (s.name, s.png));
    let files: Vec<(String, Vec<u8>)> = doc
        .files
        .into_iter()
        .map(|f| (f.name, f.bytes))
        .chain(stamps)
        .collect();
    let zip = container_bytes(&passport, &files).map_err(|e| super::Unrenderable::Write {
        what: "контейнер",
        why: e.to_string(),
    })?;
    let message = outgoing.container(ContainerRef {
        container_type: None,
        body: name.clone(),
        signature: None,
    });
    Ok(Packed {
        message,
        payload: vec![(name, zip)],
        subject,
    })
}

/// Our signature of the main file beside it: checked against what was journaled (the `.p7s`
/// and the main file as it was signed, both kept — the main file sent is that one), named
/// as real senders name theirs — `sign<digits>.p7s` in a container (the passport lists it as
/// the author's `documentSignature`), `<main file>.p7s` beside a 2.2 message (in the
/// envelope's list, out of the message's).
fn add_signature(
    doc: &mut OwnDocument,
    signed: &super::Signed,
    format: Format,
) -> Result<(), super::Unrenderable> {
    use medo_wire::hash::sha256_bytes;
    let facts = &signed.facts;
    if facts.sha256 != sha256_bytes(&signed.p7s) {
        return Err(super::Unrenderable::KeptChanged(facts.kept.clone()));
    }
    if facts.document_sha256 != sha256_bytes(&signed.document) {
        return Err(super::Unrenderable::KeptChanged(
            facts.document_kept.clone(),
        ));
    }
    // the main file as it was signed (a render now may differ byte for byte)
    let main = doc.files.first_mut().expect("a document has a main file");
    main.bytes = signed.document.clone();
    let name = match format {
        Format::V22 => format!("{}.p7s", main.name),
        Format::V27 | Format::V271 => {
            let n = u32::from_str_radix(&facts.sha256[..8], 16).unwrap_or(0) % 1_000_000_000;
            format!("sign{n:09}.p7s")
        }
    };
    doc.files.push(DocFile {
        name,
        bytes: signed.p7s.clone(),
        description: "Электронная подпись".into(),
        pages: None,
        signs: Some(0),
    });
    doc.signed_by = facts.certificate.as_ref().map(|c| c.owner.clone());
    if format != Format::V22 {
        add_stamps(doc, facts);
    }
    Ok(())
}

/// The stamps a signed container carries, named as real senders name theirs (`eds_` and
/// `regnum_` with 32 hex digits — here from the signature's digest): the signature's (when
/// the certificate's facts are known) on the last page, our registration on the first.
fn add_stamps(doc: &mut OwnDocument, facts: &medo_model::OurSignature) {
    use crate::stamp;
    let hex = &facts.sha256[..32.min(facts.sha256.len())];
    let pages = doc.files.first().and_then(|f| f.pages).unwrap_or(1);
    if let Some(cert) = &facts.certificate {
        doc.stamps.push(StampFile {
            kind: StampKind::Signature,
            name: format!("eds_{hex}.png"),
            png: stamp::signature_stamp(cert),
            place: stamp::signature_place(pages),
        });
    }
    let num = &doc.document.num;
    doc.stamps.push(StampFile {
        kind: StampKind::Registration,
        name: format!("regnum_{hex}.png"),
        png: stamp::registration_stamp(&num.number, num.date),
        place: stamp::registration_place(),
    });
}

/// The passport's stamp element for a stamp file.
fn stamp_of(s: &StampFile) -> Stamp {
    Stamp {
        local_name: s.name.clone(),
        page: Some(s.place.page),
        x: Some(s.place.x),
        y: Some(s.place.y),
        w: Some(s.place.w),
        h: Some(s.place.h),
    }
}

/// The envelope's subject as real senders write it: `№ 299-СФ от 21/06/2023 Постановление СФ`.
fn subject(d: &Document) -> String {
    let date = d
        .num
        .date
        .map(|d| {
            let iso = format_date(d);
            format!(" от {}/{}/{}", &iso[8..10], &iso[5..7], &iso[..4])
        })
        .unwrap_or_default();
    let kind = d.kind.as_deref().unwrap_or("Документ");
    format!("№ {}{date} {kind}", d.num.number)
}

/// The 2.x `files` list: the main text, then the attachments (their detached signatures
/// travel beside them, named after them).
fn associated(files: &[DocFile]) -> Vec<AssociatedFile> {
    files
        .iter()
        .filter(|f| f.signs.is_none())
        .enumerate()
        .map(|(i, f)| AssociatedFile {
            local_name: f.name.clone(),
            local_id: Some(i as u32),
            file_type: extension(&f.name),
            group: Some(
                if i == 0 {
                    GROUP_DOCUMENT_TEXT
                } else {
                    GROUP_ATTACHMENT_TEXT
                }
                .into(),
            ),
            description: Some(f.description.clone()),
            pages: f.pages,
        })
        .collect()
}

fn extension(name: &str) -> Option<String> {
    let (_, ext) = name.rsplit_once('.')?;
    matches!(
        ext.to_ascii_lowercase().as_str(),
        "pdf" | "tif" | "doc" | "txt" | "docx"
    )
    .then(|| ext.to_ascii_lowercase())
}

/// The passport as real senders write it: kind with its code, classification, annotation,
/// links, us as the first author (our number and date, the signer), the addressee, the main
/// document and the attachments in order.
fn passport(doc: &OwnDocument, format: PassportFormat, policy: &Policy) -> Passport {
    let d = &doc.document;
    let kind = d.kind.clone().unwrap_or_else(|| "Документ".into());
    let (code, label) = match doc.restricted {
        true => (
            CLASSIFICATION_RESTRICTED,
            "Информация ограниченного распространения",
        ),
        false => (CLASSIFICATION_ORDINARY, "Обычная информация"),
    };
    let docs = &policy.documents;
    // our signature of the main file: the signer's (who signs our documents), «Заверяющая»
    let signatures: Vec<DocumentSignature> = doc
        .files
        .iter()
        .filter(|f| f.signs == Some(0))
        .map(|f| DocumentSignature {
            local_name: f.name.clone(),
            signature_type: Some("Заверяющая".into()),
            stamp: doc
                .stamps
                .iter()
                .find(|s| s.kind == StampKind::Signature)
                .map(stamp_of),
        })
        .collect();
    let signer = (docs.signer_post.is_some()
        || docs.signer_name.is_some()
        || !signatures.is_empty())
    .then(|| Sign {
        person: Person {
            post: docs.signer_post.clone(),
            name: docs.signer_name.clone().or_else(|| doc.signed_by.clone()),
            ..Person::default()
        },
        signatures,
    });
    let (main, attachments) = doc.files.split_first().expect("a document has a main file");
    Passport {
        format,
        uid: Some(d.uid.to_lowercase()),
        version: None,
        kind: Coded {
            id: Some(docs.kind_id(&kind).to_string()),
            text: Some(kind),
        },
        place: docs.place.clone().map(|p| Coded {
            id: None,
            text: Some(p),
        }),
        classification: Some(Coded {
            id: Some(code.into()),
            text: Some(label.into()),
        }),
        annotation: d.annotation.clone(),
        links: links(doc),
        authors: vec![Author {
            organization: title(&policy.sender.organization),
            registration_number: Some(d.num.number.clone()),
            registration_date: d.num.date,
            registration_stamp: doc
                .stamps
                .iter()
                .find(|s| s.kind == StampKind::Registration)
                .map(stamp_of),
            signs: signer.into_iter().collect(),
            executor: (docs.executor_name.is_some() || docs.executor_phone.is_some()).then(|| {
                Person {
                    name: docs.executor_name.clone(),
                    phone: docs.executor_phone.clone(),
                    ..Person::default()
                }
            }),
        }],
        addressees: d
            .addressees
            .iter()
            .filter_map(|a| a.organization.as_deref())
            .map(|o| PassportAddressee {
                organization: title(o),
                person: None,
            })
            .collect(),
        document: Some(MainDocument {
            local_name: main.name.clone(),
            pages: Some(main.pages.unwrap_or(1)),
            enclosure_pages: None,
            description: Some(main.description.clone()),
        }),
        attachments: attachments
            .iter()
            .enumerate()
            .filter(|(_, a)| a.signs.is_none())
            .enumerate()
            .map(|(order, (i, a))| Attachment {
                local_name: a.name.clone(),
                order: Some(order as u32 + 1),
                description: Some(a.description.clone()),
                signatures: doc
                    .files
                    .iter()
                    .filter(|s| s.signs == Some(i + 1))
                    .map(|s| s.name.clone())
                    .collect(),
            })
            .collect(),
    }
}

fn title(organization: &str) -> Organization {
    Organization {
        title: Some(organization.to_string()),
        ..Organization::default()
    }
}

/// The document's links (`В ответ на` the query, `Во исполнение` the appeal's letter).
fn links(doc: &OwnDocument) -> Vec<PassportLink> {
    doc.document
        .links
        .iter()
        .filter_map(|l| {
            let r = l.reference.as_ref()?;
            Some(PassportLink {
                uid: doc.answers_uid.clone(),
                link_type: Some(l.link_type.clone()),
                organization: r.who.organization.clone(),
                number: Some(r.num.number.clone()),
                date: r.num.date,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_container_name_gives_back_its_message_uid() {
        let uid = "5b0c8f7e-1d2a-5c3b-9e4f-6a7b8c9d0e1f";
        let name = container_name(uid);
        assert_eq!(name, "5b0c8f7e1d2a5c3b9e4f6a7b8c9d0e1f.edc.zip");
        for cited in [name.as_str(), "5B0C8F7E1D2A5C3B9E4F6A7B8C9D0E1F.zip", uid] {
            assert_eq!(message_uid_of_file(cited).as_deref(), Some(uid), "{cited}");
        }
        for other in [
            "originalMessage.zip",
            "container.edc.zip",
            "5b0c8f7e.edc.zip",
            "",
        ] {
            assert_eq!(message_uid_of_file(other), None, "{other}");
        }
    }
}
