//! Renders a journaled [`Output`] into the files of an outbound package (envelope + message),
//! through the wire writers. Deterministic: the same output and config give the same bytes,
//! so re-publishing after a crash rewrites the same package. No I/O.

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::config::Config;
use crate::model::{Notice, NoticeRef, Output, ProgressNotice};
use crate::wire::envelope::{self, OutgoingEnvelope};
use crate::wire::message::{Anyone, DocNumber, DocReference, Format, Message, Outgoing, Partner};
use crate::wire::message::{
    AssociatedFile, Document, Link, NotificationDetail, Signatory, GROUP_ATTACHMENT_TEXT,
    GROUP_DOCUMENT_TEXT,
};
use crate::wire::time::parse_date;
use crate::wire::urog::ResponseItem;
use crate::wire::write::write_message;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("output {name}: recipient {uid} is no longer a configured partner")]
    UnknownPartner { name: String, uid: String },
    #[error("output {name}: {what}")]
    Invalid { name: String, what: String },
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
        date: r.date.as_deref().and_then(parse_date),
    }
}

const NOTICE_SUBJECT: &str = "ЭСД МЭДО (Уведомление)";

/// The files of the outbound package for `output`: the message (and a response's files),
/// then `envelope.ini`.
pub fn render(output: &Output, config: &Config) -> Result<Vec<(String, Vec<u8>)>, RenderError> {
    let invalid = |what: String| RenderError::Invalid {
        name: output.name.clone(),
        what,
    };
    let partner =
        config
            .partner(&output.recipient_uid)
            .ok_or_else(|| RenderError::UnknownPartner {
                name: output.name.clone(),
                uid: output.recipient_uid.clone(),
            })?;
    let format = Format::parse(&output.format)
        .ok_or_else(|| invalid(format!("format {:?}", output.format)))?;
    let created = OffsetDateTime::parse(&output.created, &Rfc3339)
        .map_err(|e| invalid(format!("created: {e}")))?;
    let outgoing = Outgoing {
        format,
        uid: output.message_uid.clone(),
        created,
        sender: config.sender.clone(),
        recipient: Partner {
            uid: partner.uid.clone(),
            organization: Some(partner.name.clone()),
            comment: None,
        },
    };
    let about = output.about_uid.as_str();
    let (message, subject, payload) = match output.notice().map_err(invalid)? {
        Notice::Receipt { accepted, comment } => {
            let subject = match format {
                Format::V271 => "Квитанция о приеме",
                _ => "ЭСД МЭДО (Квитанция)",
            };
            (
                outgoing.receipt(about, accepted, comment),
                subject.to_string(),
                Vec::new(),
            )
        }
        Notice::Registered { foundation, ours } => (
            outgoing.registered(about, reference(&foundation), doc_number(&ours)),
            NOTICE_SUBJECT.to_string(),
            Vec::new(),
        ),
        Notice::Refused {
            foundation,
            reason,
            comment,
        } => (
            outgoing.refused(about, reference(&foundation), reason, comment),
            NOTICE_SUBJECT.to_string(),
            Vec::new(),
        ),
        Notice::Progress { foundation, step } => (
            progress_message(&outgoing, about, &foundation, step, config),
            NOTICE_SUBJECT.to_string(),
            Vec::new(),
        ),
        Notice::Response { query, ours, items } => {
            let (message, files) = response(
                &outgoing,
                output,
                &query,
                &ours,
                &items,
                &partner.name,
                config,
            );
            let subject = format!("ЭСД МЭДО (Ответ на запрос № {})", query.number);
            (message, subject, files)
        }
    };
    let xml = write_message(&message).map_err(|e| invalid(e.to_string()))?;
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

/// The notification of a step of consideration.
fn progress_message(
    outgoing: &Outgoing,
    about: &str,
    foundation: &NoticeRef,
    step: ProgressNotice,
    config: &Config,
) -> Message {
    let us = || Anyone::organization(config.sender.organization.clone());
    let (detail, comment) = match step {
        ProgressNotice::Executor { name, post } => (
            NotificationDetail::ExecutorAssigned {
                secretary: us(),
                manager: us(),
                executor: Anyone {
                    organization: Some(config.sender.organization.clone()),
                    person: Some(name),
                    post,
                    ..Anyone::default()
                },
            },
            None,
        ),
        ProgressNotice::Course { text } => (
            NotificationDetail::CourseChanged {
                course_text: text,
                reference: None,
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

/// An answer to a query: a Документ «Ответ на запрос» linked «В ответ на» the query, with
/// `response.pdf` (the text) and `response.xml` (the items).
fn response(
    outgoing: &Outgoing,
    output: &Output,
    query: &NoticeRef,
    ours: &NoticeRef,
    items: &[ResponseItem],
    partner_name: &str,
    config: &Config,
) -> (Message, Vec<(String, Vec<u8>)>) {
    let query_date = query.date.as_deref();
    let xml = crate::wire::urog::write_response(&query.number, query_date, items);
    let text = crate::urog::response_text(
        &config.sender.organization,
        &query.number,
        query_date,
        items,
    );
    let pdf = crate::pdf::text_pdf("Ответ на запрос", &text);
    let doc_uid = uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_OID,
        format!("{}/document", output.message_uid).as_bytes(),
    )
    .to_string();
    let document = Document {
        uid: doc_uid,
        kind: Some("Ответ на запрос".into()),
        num: doc_number(ours),
        signatories: vec![Signatory {
            who: Anyone::organization(config.sender.organization.clone()),
            signed: ours.date.as_deref().and_then(parse_date),
        }],
        addressees: vec![Anyone::organization(partner_name.to_string())],
        pages: Some(1),
        annotation: Some(format!(
            "Ответ на запрос № {}{}",
            query.number,
            query_date.map(|d| format!(" от {d}")).unwrap_or_default()
        )),
        links: vec![Link {
            link_type: "В ответ на".into(),
            reference: Some(reference(query)),
            ..Link::default()
        }],
        ..Document::default()
    };
    let files = vec![
        AssociatedFile {
            local_name: "response.pdf".into(),
            local_id: Some(0),
            file_type: Some("pdf".into()),
            group: Some(GROUP_DOCUMENT_TEXT.into()),
            description: Some("Ответ на запрос".into()),
            pages: Some(1),
        },
        AssociatedFile {
            local_name: "response.xml".into(),
            local_id: Some(1),
            file_type: None,
            group: Some(GROUP_ATTACHMENT_TEXT.into()),
            description: Some("Сведения по обращениям (urn:medo-gateway:urog-response:1)".into()),
            pages: None,
        },
    ];
    let message = outgoing.document(document, files);
    (
        message,
        vec![("response.pdf".into(), pdf), ("response.xml".into(), xml)],
    )
}
