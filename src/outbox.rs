//! Renders a journaled [`Output`] into the files of an outbound package (envelope + message),
//! through the wire writers. Deterministic: the same output and config give the same bytes,
//! so re-publishing after a crash rewrites the same package. No I/O.

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::config::Config;
use crate::model::{NoticeRef, Output};
use crate::wire::envelope::{self, OutgoingEnvelope};
use crate::wire::message::{
    Anyone, DocNumber, DocReference, Format, Outgoing, Partner, RefusalReason,
};
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

/// The sender's document a notice refers to.
fn foundation_of(output: &Output) -> Option<DocReference> {
    let f = output.foundation.as_ref()?;
    Some(DocReference {
        who: Anyone {
            organization: f.organization.clone(),
            ..Anyone::default()
        },
        num: doc_number(f),
    })
}

fn doc_number(r: &NoticeRef) -> DocNumber {
    DocNumber {
        number: r.number.clone(),
        date: r.date.as_deref().and_then(parse_date),
    }
}

/// The files of the outbound package for `output`: the message, then `envelope.ini`.
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
    let (message, subject) = match output.kind.as_str() {
        "receipt" => (
            outgoing.receipt(&output.about_uid, output.accepted, output.comment.clone()),
            match format {
                Format::V271 => "Квитанция о приеме".to_string(),
                _ => "ЭСД МЭДО (Квитанция)".to_string(),
            },
        ),
        "registered" | "refused" => {
            let foundation = foundation_of(output)
                .ok_or_else(|| invalid("a notice needs its foundation".into()))?;
            let message = match (&output.registration, &output.reason) {
                (Some(ours), _) => {
                    outgoing.registered(&output.about_uid, foundation, doc_number(ours))
                }
                (None, Some(reason)) => {
                    let reason = RefusalReason::parse(reason).ok_or_else(|| {
                        invalid(format!(
                            "{reason:?} is not one of the nine official reasons"
                        ))
                    })?;
                    outgoing.refused(
                        &output.about_uid,
                        foundation,
                        reason,
                        output.comment.clone(),
                    )
                }
                (None, None) => {
                    return Err(invalid("a notice needs a registration or a reason".into()))
                }
            };
            (message, "ЭСД МЭДО (Уведомление)".to_string())
        }
        "response" => {
            let foundation = output
                .foundation
                .as_ref()
                .ok_or_else(|| invalid("a response needs the query's number".into()))?;
            let ours = output
                .registration
                .as_ref()
                .ok_or_else(|| invalid("a response needs its own number".into()))?;
            let items: Vec<ResponseItem> =
                serde_json::from_str(output.text.as_deref().unwrap_or("[]"))
                    .map_err(|e| invalid(format!("response items: {e}")))?;
            let xml = crate::wire::urog::write_response(
                &foundation.number,
                foundation.date.as_deref(),
                &items,
            );
            let text = crate::urog::response_text(
                &config.sender.organization,
                &foundation.number,
                foundation.date.as_deref(),
                &items,
            );
            let pdf = crate::pdf::text_pdf("Ответ на запрос", &text);
            let date = ours.date.as_deref().and_then(parse_date);
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
                    signed: date,
                }],
                addressees: vec![Anyone::organization(partner.name.clone())],
                pages: Some(1),
                annotation: Some(format!(
                    "Ответ на запрос № {}{}",
                    foundation.number,
                    foundation
                        .date
                        .as_deref()
                        .map(|d| format!(" от {d}"))
                        .unwrap_or_default()
                )),
                links: vec![Link {
                    link_type: "В ответ на".into(),
                    reference: Some(DocReference {
                        who: Anyone {
                            organization: foundation.organization.clone(),
                            ..Anyone::default()
                        },
                        num: doc_number(foundation),
                    }),
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
                    description: Some(
                        "Сведения по обращениям (urn:medo-gateway:urog-response:1)".into(),
                    ),
                    pages: None,
                },
            ];
            let message = outgoing.document(document, files);
            let xml_msg = write_message(&message).map_err(|e| invalid(e.to_string()))?;
            let message_file = format.message_file().to_string();
            let env = envelope::write(&OutgoingEnvelope {
                subject: format!("ЭСД МЭДО (Ответ на запрос № {})", foundation.number),
                date: PrimitiveDateTime::new(created.date(), created.time()),
                addressees: vec![partner.transport_address.clone()],
                payload: vec!["response.pdf".into(), "response.xml".into()],
                message_file: message_file.clone(),
                text_file: None,
            });
            return Ok(vec![
                ("response.pdf".into(), pdf),
                ("response.xml".into(), xml),
                (message_file, xml_msg),
                ("envelope.ini".into(), env),
            ]);
        }
        "executor" | "course" | "report" => {
            let foundation = foundation_of(output)
                .ok_or_else(|| invalid("a notice needs its foundation".into()))?;
            let text = output.text.clone().unwrap_or_default();
            let us = || Anyone::organization(config.sender.organization.clone());
            let detail = match output.kind.as_str() {
                "executor" => NotificationDetail::ExecutorAssigned {
                    secretary: us(),
                    manager: us(),
                    executor: Anyone {
                        organization: Some(config.sender.organization.clone()),
                        person: Some(text),
                        post: output.post.clone(),
                        ..Anyone::default()
                    },
                },
                "course" => NotificationDetail::CourseChanged {
                    course_text: text,
                    reference: None,
                },
                _ => NotificationDetail::ReportSent {
                    report: DocReference {
                        who: us(),
                        num: doc_number(output.registration.as_ref().ok_or_else(|| {
                            invalid("a report refers to our registration".into())
                        })?),
                    },
                },
            };
            let comment = (output.kind == "report")
                .then(|| output.text.clone())
                .flatten();
            (
                outgoing.notification(&output.about_uid, foundation, detail, comment),
                "ЭСД МЭДО (Уведомление)".to_string(),
            )
        }
        other => return Err(invalid(format!("unknown output kind {other:?}"))),
    };
    let xml = write_message(&message).map_err(|e| invalid(e.to_string()))?;
    let message_file = format.message_file().to_string();
    let env = envelope::write(&OutgoingEnvelope {
        subject,
        date: PrimitiveDateTime::new(created.date(), created.time()),
        addressees: vec![partner.transport_address.clone()],
        payload: Vec::new(),
        message_file: message_file.clone(),
        text_file: None,
    });
    Ok(vec![(message_file, xml), ("envelope.ini".to_string(), env)])
}
