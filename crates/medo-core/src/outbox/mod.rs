//! Renders a journaled [`Output`] into the files of an outbound package (envelope + message,
//! a document's files or container), through the wire writers. Deterministic: the same output,
//! policy and kept files give the same bytes, so re-publishing after a crash rewrites the same
//! package. No I/O of its own: the files a report carries are read through the reader it is
//! given, and checked against their journaled digests.

mod document;

use std::collections::HashSet;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::policy::{PartnerConfig, Policy};
use medo_model::{Notice, NoticeRef, OutFile, Output, ProgressNotice};
use medo_wire::envelope::{self, OutgoingEnvelope};
use medo_wire::message::{Anyone, DocNumber, DocReference, Format, Message, Outgoing, Partner};
use medo_wire::message::{Document, Link, NotificationDetail, Signatory};
use medo_wire::time::{format_date_ru, show_date_ru};
use medo_wire::urog::ResponseItem;
use medo_wire::write::write_message;

pub use document::{container_name, message_uid_of_file, DocFile, OwnDocument, Packed};

/// Why a journaled output cannot be rendered now (it is held, never sent half; the words are
/// shown to the operators).
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("сообщение {name}: получатель {uid} больше не партнёр в настройках")]
    UnknownPartner { name: String, uid: String },
    #[error("сообщение {name}: {why}")]
    Invalid { name: String, why: Unrenderable },
}

/// What in an output, or in the files it carries, cannot be rendered.
#[derive(Debug, thiserror::Error)]
pub enum Unrenderable {
    #[error("время создания {0:?}")]
    Created(String),
    #[error(transparent)]
    Notice(#[from] medo_model::NoticeError),
    /// The message, passport or container could not be written.
    #[error("{what} не записывается: {why}")]
    Write { what: &'static str, why: String },
    #[error(
        "{name}: сохранённый файл не читается: {}",
        medo_stdx::words::io(source)
    )]
    KeptUnreadable {
        name: String,
        source: std::io::Error,
    },
    #[error("{0}: сохранённый файл — не тот, что записан в журнале")]
    KeptChanged(String),
}

/// Our signature of a document's main file, to pack with it (`[signing]`): the journaled
/// facts, the `.p7s` and the main file as signed, read back from where they are kept.
#[derive(Debug, Clone)]
pub struct Signed {
    pub facts: medo_model::OurSignature,
    pub p7s: Vec<u8>,
    pub document: Vec<u8>,
}

/// The file a signer signs for `output`: the main file of its document, as it will be packed
/// (`None`: a receipt or a notice — no document of ours).
pub fn to_sign(
    output: &Output,
    policy: &Policy,
    kept: Kept<'_>,
) -> Result<Option<(String, Vec<u8>)>, RenderError> {
    let partner = partner_of(output, policy)?;
    let doc =
        own_document_of(output, partner, policy, kept).map_err(|why| RenderError::Invalid {
            name: output.name.clone(),
            why,
        })?;
    Ok(doc.and_then(|d| d.files.into_iter().next().map(|f| (f.name, f.bytes))))
}

fn partner_of<'p>(output: &Output, policy: &'p Policy) -> Result<&'p PartnerConfig, RenderError> {
    policy
        .partner(&output.recipient_uid)
        .ok_or_else(|| RenderError::UnknownPartner {
            name: output.name.clone(),
            uid: output.recipient_uid.to_string(),
        })
}

/// A document reference: the organisation, number and date.
fn reference(r: &NoticeRef) -> DocReference {
    DocReference {
        who: Anyone {
            organization: r.organization.clone(),
            ..Anyone::default()
        },
        num: doc_number(r),
    }
}

fn doc_number(r: &NoticeRef) -> DocNumber {
    DocNumber {
        number: r.number.clone(),
        date: r.date.map(|d| d.date()),
    }
}

const NOTICE_SUBJECT: &str = "ЭСД МЭДО (Уведомление)";

/// Reads a kept file of ours (`OutFile::kept`, relative to `state_dir`).
pub type Kept<'a> = &'a dyn Fn(&str) -> std::io::Result<Vec<u8>>;

/// The files of the outbound package for `output`: the message (and a document's files or
/// container), then `envelope.ini`. `kept` reads the files a report carries (checked against
/// their journaled digests).
pub fn render(
    output: &Output,
    policy: &Policy,
    kept: Kept<'_>,
    signed: Option<&Signed>,
) -> Result<Vec<(String, Vec<u8>)>, RenderError> {
    let invalid = |why: Unrenderable| RenderError::Invalid {
        name: output.name.clone(),
        why,
    };
    let partner = partner_of(output, policy)?;
    let format = output.format;
    let created = OffsetDateTime::parse(&output.created, &Rfc3339)
        .map_err(|_| invalid(Unrenderable::Created(output.created.clone())))?;
    let outgoing = Outgoing {
        format,
        uid: output.message_uid.to_string(),
        created,
        sender: policy.sender.clone(),
        recipient: Partner {
            uid: partner.uid.clone(),
            organization: Some(partner.name.clone()),
            comment: None,
        },
    };
    let Packed {
        message,
        payload,
        subject,
    } = compose(output, &outgoing, (partner, policy), kept, signed).map_err(invalid)?;
    let xml = write_message(&message).map_err(|e| {
        invalid(Unrenderable::Write {
            what: "сообщение",
            why: e.to_string(),
        })
    })?;
    let message_file = format.message_file().to_string();
    let env = envelope::write(&OutgoingEnvelope {
        subject,
        date: PrimitiveDateTime::new(created.date(), created.time()),
        addressees: vec![partner.transport_address.clone()],
        payload: payload.iter().map(|(name, _)| name.clone()).collect(),
        message_file: message_file.clone(),
        text_file: None,
    });
    let mut files = payload;
    files.push((message_file, xml));
    files.push(("envelope.ini".to_string(), env));
    Ok(files)
}

/// The message, the envelope's subject and the files beside the message, for what `output`
/// says (a document of ours packed with our signature, when it was signed).
fn compose(
    output: &Output,
    outgoing: &Outgoing,
    (partner, policy): (&PartnerConfig, &Policy),
    kept: Kept<'_>,
    signed: Option<&Signed>,
) -> Result<Packed, Unrenderable> {
    if let Some(doc) = own_document_of(output, partner, policy, kept)? {
        return document::pack(outgoing, doc, policy, signed);
    }
    let about = output.about_uid.as_str();
    let format = outgoing.format;
    let notice = |message: Message, subject: &str| Packed {
        message,
        payload: Vec::new(),
        subject: subject.to_string(),
    };
    Ok(match output.notice()? {
        Notice::Receipt { accepted, comment } => {
            let subject = match format {
                Format::V271 => "Квитанция о приеме",
                _ => "ЭСД МЭДО (Квитанция)",
            };
            notice(outgoing.receipt(about, accepted, comment), subject)
        }
        Notice::Registered { foundation, ours } => notice(
            outgoing.registered(about, reference(&foundation), doc_number(&ours)),
            NOTICE_SUBJECT,
        ),
        Notice::Refused {
            foundation,
            reason,
            comment,
        } => notice(
            outgoing.refused(about, reference(&foundation), reason, comment),
            NOTICE_SUBJECT,
        ),
        Notice::Progress { foundation, step } => notice(
            progress_message(outgoing, about, &foundation, step, policy),
            NOTICE_SUBJECT,
        ),
        Notice::ReportDocument { .. } | Notice::Response { .. } | Notice::Forwarded { .. } => {
            unreachable!("a document of ours is composed above")
        }
    })
}

/// The document of ours `output` sends (a report with its files, an answer to a query, an
/// appeal forwarded with our cover letter); `None` for a receipt or a notice.
fn own_document_of(
    output: &Output,
    partner: &PartnerConfig,
    policy: &Policy,
    kept: Kept<'_>,
) -> Result<Option<OwnDocument>, Unrenderable> {
    Ok(Some(match output.notice()? {
        Notice::ReportDocument {
            foundation,
            ours,
            kind,
            text,
            files,
        } => {
            let files = load(&files, kept)?;
            let about = Report {
                foundation: &foundation,
                ours: &ours,
                kind: &kind,
                text,
            };
            report(output, about, files, &partner.name, policy)
        }
        Notice::Response { query, ours, items } => {
            response(output, &query, &ours, &items, &partner.name, policy)
        }
        Notice::Forwarded {
            foundation,
            ours,
            registered,
            comment,
            files,
        } => {
            let about = crate::letters::Redirect {
                from: &policy.sender.organization,
                to: &partner.name,
                ours: &ours,
                foundation: &foundation,
                registered: &registered,
                comment: comment.as_deref(),
            };
            forwarded(output, &about, &files, kept, policy)?
        }
        _ => return Ok(None),
    }))
}

/// The notification of a step of consideration.
fn progress_message(
    outgoing: &Outgoing,
    about: &str,
    foundation: &NoticeRef,
    step: ProgressNotice,
    policy: &Policy,
) -> Message {
    let us = || Anyone::organization(policy.sender.organization.clone());
    let (detail, comment) = match step {
        ProgressNotice::Executor { name, post } => (
            NotificationDetail::ExecutorAssigned {
                secretary: us(),
                manager: us(),
                executor: Anyone {
                    organization: Some(policy.sender.organization.clone()),
                    person: Some(name),
                    post,
                    ..Anyone::default()
                },
            },
            None,
        ),
        ProgressNotice::Course { text, document } => (
            NotificationDetail::CourseChanged {
                course_text: text,
                reference: document.map(|d| DocReference {
                    who: us(),
                    num: doc_number(&d),
                }),
            },
            None,
        ),
        ProgressNotice::Report { ours, text } => (
            NotificationDetail::ReportSent {
                report: DocReference {
                    who: us(),
                    num: doc_number(&ours),
                },
            },
            Some(text),
        ),
    };
    outgoing.notification(about, reference(foundation), detail, comment)
}

/// An answer to a query: a document «Ответ на запрос» linked «В ответ на» the query, with
/// `response.pdf` (the text) and `response.xml` (the items), packed for the partner's format.
fn response(
    output: &Output,
    query: &NoticeRef,
    ours: &NoticeRef,
    items: &[ResponseItem],
    partner_name: &str,
    policy: &Policy,
) -> OwnDocument {
    let query_date = query.date.map(|d| d.to_string());
    let query_date = query_date.as_deref();
    let xml = medo_wire::urog::write_response(&query.number, query_date, items);
    let annotation = format!(
        "Ответ на запрос № {}{}",
        query.number,
        query_date
            .map(|d| format!(" от {}", show_date_ru(d)))
            .unwrap_or_default()
    );
    let letter = crate::letter::Letter {
        ours,
        addressee: partner_name,
        subject: &annotation,
        body: &crate::urog::response_text(items),
        created: decided_at(output, policy),
    };
    let pdf = crate::letter::letter_pdf(&letter, policy);
    let pages = crate::pdf::page_count(&pdf);
    let document = own_document(output, "Ответ на запрос", ours, partner_name, policy)
        .annotated(annotation, pages)
        .linked("В ответ на", query);
    OwnDocument {
        document,
        stamps: Vec::new(),
        signed_by: None,
        answers_uid: Some(output.about_uid.to_string()),
        restricted: false,
        files: vec![
            DocFile {
                name: "response.pdf".into(),
                bytes: pdf,
                description: "Ответ на запрос".into(),
                pages,
                signs: None,
            },
            DocFile {
                name: "response.xml".into(),
                bytes: xml,
                description: "Сведения по обращениям (urn:medo-gateway:urog-response:1)".into(),
                pages: None,
                signs: None,
            },
        ],
    }
}

/// The files a report carries, read and checked against their journaled digests, each
/// under its name in the package ([`package_name`]; our files are PDFs).
fn load(files: &[OutFile], kept: Kept<'_>) -> Result<Vec<DocFile>, Unrenderable> {
    let mut taken = HashSet::new();
    files
        .iter()
        .map(|f| {
            let bytes = read_kept(f, kept)?;
            Ok(DocFile {
                name: package_name(&f.sha256, "pdf", &mut taken),
                bytes,
                description: format!("{} ({})", f.description, f.name),
                pages: f.pages,
                signs: None,
            })
        })
        .collect()
}

/// A kept file's bytes, checked against its journaled digest.
fn read_kept(f: &OutFile, kept: Kept<'_>) -> Result<Vec<u8>, Unrenderable> {
    let bytes = kept(&f.kept).map_err(|source| Unrenderable::KeptUnreadable {
        name: f.name.clone(),
        source,
    })?;
    if f.sha256 != medo_wire::hash::sha256_bytes(&bytes) {
        return Err(Unrenderable::KeptChanged(f.name.clone()));
    }
    Ok(bytes)
}

/// The files of a forwarded appeal, after `first` (our cover letter), as they arrived: each
/// under a package name of digits and its own extension, a detached signature under its
/// file's name and its own ending (`000123456.pdf.p7s`) — as a 2.2 reader pairs them.
fn load_arrived(
    files: &[OutFile],
    kept: Kept<'_>,
    taken: &mut HashSet<String>,
) -> Result<Vec<DocFile>, Unrenderable> {
    let mut out: Vec<DocFile> = Vec::with_capacity(files.len());
    for f in files.iter().filter(|f| f.signs.is_none()) {
        out.push(DocFile {
            name: package_name(&f.sha256, &extension_of(&f.name), taken),
            bytes: read_kept(f, kept)?,
            description: format!("{} ({})", f.description, f.name),
            pages: f.pages,
            signs: None,
        });
    }
    for f in files.iter().filter(|f| f.signs.is_some()) {
        let signed = files
            .iter()
            .filter(|s| s.signs.is_none())
            .position(|s| Some(&s.name) == f.signs.as_ref());
        let Some(i) = signed else { continue };
        let name = format!("{}.{}", out[i].name, extension_of(&f.name));
        taken.insert(name.clone());
        out.push(DocFile {
            name,
            bytes: read_kept(f, kept)?,
            description: format!("{} ({})", f.description, f.name),
            pages: None,
            signs: Some(i + 1),
        });
    }
    Ok(out)
}

/// A file name's extension as a package name may carry it: ASCII letters and digits, at most
/// eight, lower case; `bin` otherwise.
fn extension_of(name: &str) -> String {
    name.rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .filter(|e| !e.is_empty() && e.len() <= 8 && e.bytes().all(|b| b.is_ascii_alphanumeric()))
        .unwrap_or_else(|| "bin".into())
}

/// The name a file of ours gets in the package: nine digits from its digest and `.ext`,
/// ASCII as real containers name theirs (`177911665.pdf`) — so whatever the operator or the
/// applicant called it (`document.xml`, `ENVELOPE.INI`, `passport.xml`, a name in Cyrillic),
/// it can never clash, in any case, with a file the package itself needs; the original name
/// stays in the description. Two files with one digest get the next free number.
fn package_name(sha256: &str, ext: &str, taken: &mut HashSet<String>) -> String {
    let start = sha256
        .get(..8)
        .and_then(|h| u32::from_str_radix(h, 16).ok())
        .unwrap_or(0)
        % 1_000_000_000;
    let mut n = start;
    loop {
        let name = format!("{n:09}.{ext}");
        if taken.insert(name.clone()) {
            return name;
        }
        n = (n + 1) % 1_000_000_000;
    }
}

/// What a report document says: about the appeal's letter (`foundation`), under our
/// number, its kind and the step in words.
struct Report<'a> {
    foundation: &'a NoticeRef,
    ours: &'a NoticeRef,
    kind: &'a str,
    text: String,
}

/// A report on an appeal as a document of ours («Доклад», the extension or redirect letter):
/// «Во исполнение» the appeal's cover letter, with its file.
fn report(
    output: &Output,
    about: Report<'_>,
    files: Vec<DocFile>,
    partner_name: &str,
    policy: &Policy,
) -> OwnDocument {
    let pages = files.first().and_then(|f| f.pages);
    let f = about.foundation;
    let annotation = format!(
        "{} по обращению (№ {}{}): {}",
        about.kind,
        f.number,
        f.date
            .map(|d| format!(" от {}", format_date_ru(d.date())))
            .unwrap_or_default(),
        about.text
    );
    let document = own_document(output, about.kind, about.ours, partner_name, policy)
        .annotated(annotation, pages)
        .linked("Во исполнение", f);
    OwnDocument {
        document,
        stamps: Vec::new(),
        signed_by: None,
        answers_uid: Some(output.about_uid.to_string()),
        restricted: output.restricted,
        files,
    }
}

/// When `output` was decided (its journaled `created`), in the configured zone: our letter's
/// `CreationDate`.
fn decided_at(output: &Output, policy: &Policy) -> OffsetDateTime {
    crate::letter::local_time(&output.created, policy)
}

/// An appeal forwarded by competence as a document of ours: the cover letter «О направлении
/// обращения по компетенции» (a PDF we write) with the appeal's files as they arrived,
/// «Документ-основание» the appeal's letter.
fn forwarded(
    output: &Output,
    about: &crate::letters::Redirect<'_>,
    files: &[OutFile],
    kept: Kept<'_>,
    policy: &Policy,
) -> Result<OwnDocument, Unrenderable> {
    let mut taken = HashSet::from(["cover.pdf".to_string()]);
    let arrived = load_arrived(files, kept, &mut taken)?;
    let listed: Vec<String> = files
        .iter()
        .map(|f| format!("{} — {}", f.name, f.description))
        .collect();
    let letter = crate::letter::Letter {
        ours: about.ours,
        addressee: about.to,
        subject: crate::letters::COVER_TITLE,
        body: &crate::letters::cover_letter(about, &listed),
        created: decided_at(output, policy),
    };
    let pdf = crate::letter::letter_pdf(&letter, policy);
    let pages = crate::pdf::page_count(&pdf);
    let f = about.foundation;
    let annotation = format!(
        "{} (обращение № {}{}, рег. № {})",
        crate::letters::COVER_TITLE,
        f.number,
        f.date
            .map(|d| format!(" от {}", format_date_ru(d.date())))
            .unwrap_or_default(),
        about.registered.number
    );
    let kind = output
        .document_kind
        .as_deref()
        .unwrap_or("Сопроводительное письмо");
    let document = own_document(output, kind, about.ours, about.to, policy)
        .annotated(annotation, pages)
        .linked("Документ-основание", f);
    let cover = DocFile {
        name: "cover.pdf".into(),
        bytes: pdf,
        description: crate::letters::COVER_TITLE.into(),
        pages,
        signs: None,
    };
    Ok(OwnDocument {
        document,
        stamps: Vec::new(),
        signed_by: None,
        answers_uid: Some(output.about_uid.to_string()),
        restricted: output.restricted,
        files: std::iter::once(cover).chain(arrived).collect(),
    })
}

/// The uid of the document our message `message_uid` carries (stable: derived from it).
pub fn document_uid(message_uid: &str) -> String {
    uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_OID,
        format!("{message_uid}/document").as_bytes(),
    )
    .to_string()
}

/// The 2.x description of a document of ours: its uid (derived from the message uid), kind,
/// our number and date, us as signatory, the partner as addressee.
fn own_document(
    output: &Output,
    kind: &str,
    ours: &NoticeRef,
    partner_name: &str,
    policy: &Policy,
) -> Document {
    let signer = &policy.documents;
    Document {
        uid: document_uid(&output.message_uid),
        kind: Some(kind.into()),
        num: doc_number(ours),
        signatories: vec![Signatory {
            who: Anyone {
                organization: Some(policy.sender.organization.clone()),
                person: signer.signer_name.clone(),
                post: signer.signer_post.clone(),
                ..Anyone::default()
            },
            signed: ours.date.map(|d| d.date()),
        }],
        addressees: vec![Anyone::organization(partner_name.to_string())],
        ..Document::default()
    }
}

/// Finishing touches of a [`Document`] under construction.
trait DocumentExt {
    fn annotated(self, annotation: String, pages: Option<u32>) -> Self;
    fn linked(self, link_type: &str, to: &NoticeRef) -> Self;
}

impl DocumentExt for Document {
    fn annotated(mut self, annotation: String, pages: Option<u32>) -> Self {
        self.annotation = Some(annotation);
        self.pages = Some(pages.unwrap_or(1));
        self
    }
    fn linked(mut self, link_type: &str, to: &NoticeRef) -> Self {
        self.links.push(Link {
            link_type: link_type.into(),
            reference: Some(reference(to)),
            ..Link::default()
        });
        self
    }
}
