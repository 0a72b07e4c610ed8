//! The decision core for inbound packages: pure functions from what a package is (and what
//! the index knows) to what must happen — receipts to send, duplicates, quarantine. No I/O;
//! every output is named and identified deterministically from its cause, so replaying a
//! decision after a crash writes the same package again.

use time::OffsetDateTime;
use uuid::Uuid;

use crate::policy::{Policy, ReplyFormat};
use medo_model::{DuplicateBy, NoticeRef, Output, OutputKind};
use medo_wire::message::{Format, HeaderType, RefusalReason};

/// Namespace for the UUIDs of the messages we send.
const UID_NAMESPACE: Uuid = Uuid::from_u128(0x3c1e_7a52_9d4b_4f0e_8a61_5b2c_0d9e_7f14);

/// What the gateway knows about an inbound message's header.
#[derive(Debug, Clone)]
pub struct Facts {
    pub header_uid: String,
    pub header_type: HeaderType,
    pub format: Format,
    pub source_uid: String,
}

/// The outbound folder name for an output caused by `arrival` of package `key`.
pub fn output_name(kind: &str, key: &str, arrival: u64) -> String {
    format!("{kind}-{}-{arrival}", &key[..key.len().min(16)])
}

/// The message uid for an output: UUID v5 of (us, kind, key, arrival) — stable across replays.
pub fn output_uid(our_uid: &str, kind: &str, key: &str, arrival: u64) -> String {
    Uuid::new_v5(
        &UID_NAMESPACE,
        format!("{our_uid}/{kind}/{key}/{arrival}").as_bytes(),
    )
    .to_string()
}

/// Whether a message of this type is acknowledged with a Квитанция.
pub fn wants_receipt(header_type: &HeaderType, policy: &Policy) -> bool {
    match header_type {
        HeaderType::Document | HeaderType::Container => true,
        HeaderType::Notification => policy.acknowledge_notifications,
        HeaderType::Acknowledgment | HeaderType::Other(_) => false,
    }
}

/// The format we answer a partner in.
pub fn reply_format(partner: ReplyFormat, theirs: Format) -> Format {
    match partner {
        ReplyFormat::Fixed(f) => f,
        ReplyFormat::Mirror => theirs,
    }
}

/// Plans a receipt for an arrival, or `None` when the sender is not a configured partner
/// (we have no transport address to answer to).
pub fn receipt(
    policy: &Policy,
    arrival: u64,
    key: &str,
    facts: &Facts,
    accepted: bool,
    comment: Option<String>,
    created: OffsetDateTime,
) -> Option<Output> {
    let to = Addressed {
        source_uid: &facts.source_uid,
        inbound_format: facts.format,
        about_uid: &facts.header_uid,
        key,
        arrival,
    };
    let mut out = addressed(policy, &to, OutputKind::Receipt, "receipt", created)?;
    out.accepted = accepted;
    out.comment = comment;
    Some(out)
}

/// To whom and about what an output goes: the sender of `arrival` (package `key`), about its
/// message or document `about_uid`.
struct Addressed<'a> {
    source_uid: &'a str,
    inbound_format: Format,
    about_uid: &'a str,
    key: &'a str,
    arrival: u64,
}

/// An output of `kind` to a configured partner, in the format it is answered in, named and
/// identified deterministically by `label`; accepted, nothing else said yet. `None` when the
/// sender is not a configured partner.
fn addressed(
    policy: &Policy,
    to: &Addressed<'_>,
    kind: OutputKind,
    label: &str,
    created: OffsetDateTime,
) -> Option<Output> {
    let partner = policy.partner(to.source_uid)?;
    let created = medo_wire::time::XmlDateTime::from_offset(created.to_offset(policy.utc_offset));
    Some(Output {
        name: output_name(label, to.key, to.arrival),
        kind,
        message_uid: output_uid(&policy.sender.uid, label, to.key, to.arrival).into(),
        format: reply_format(partner.format, to.inbound_format),
        created: created.to_string(),
        recipient_uid: partner.uid.as_str().into(),
        about_uid: to.about_uid.into(),
        accepted: true,
        comment: None,
        foundation: None,
        registration: None,
        reason: None,
        text: None,
        post: None,
        files: Vec::new(),
        restricted: false,
        document_kind: None,
        document: None,
        body: policy.hub.then(|| policy.body_in_force().id.clone()),
    })
}

/// What a registration or refusal notice needs to know.
#[derive(Debug, Clone)]
pub struct NoticeCause<'a> {
    /// The arrival the notice answers (the appeal's own, or a re-delivery's).
    pub arrival: u64,
    pub key: &'a str,
    pub source_uid: &'a str,
    pub inbound_format: Format,
    pub document_uid: &'a str,
    /// The sender's document: organisation, number, date.
    pub foundation: NoticeRef,
}

/// The common part of every notice: addressed to the partner that sent the cause, in its
/// format, named and identified deterministically by `label`; `None` when the sender is not a
/// configured partner.
fn notice_base(
    policy: &Policy,
    cause: &NoticeCause<'_>,
    kind: OutputKind,
    label: &str,
    created: OffsetDateTime,
) -> Option<Output> {
    let to = Addressed {
        source_uid: cause.source_uid,
        inbound_format: cause.inbound_format,
        about_uid: cause.document_uid,
        key: cause.key,
        arrival: cause.arrival,
    };
    let mut out = addressed(policy, &to, kind, label, created)?;
    out.foundation = Some(cause.foundation.clone());
    Some(out)
}

/// Plans a «Зарегистрирован» (`registration` = our number and date) or an «Отказано в
/// регистрации» (`refusal` = reason and comment) notice; `None` when the sender is not a
/// configured partner.
pub fn notice(
    policy: &Policy,
    cause: &NoticeCause<'_>,
    registration: Option<NoticeRef>,
    refusal: Option<(RefusalReason, Option<String>)>,
    created: OffsetDateTime,
) -> Option<Output> {
    let kind = if registration.is_some() {
        OutputKind::Registered
    } else {
        OutputKind::Refused
    };
    let mut out = notice_base(policy, cause, kind, kind.as_str(), created)?;
    out.accepted = registration.is_some();
    out.registration = registration;
    if let Some((reason, comment)) = refusal {
        out.reason = Some(reason.as_str().to_string());
        out.comment = comment;
    }
    Some(out)
}

/// What a progress notice says: `executor` («Назначен исполнитель»: `text` = name, `post`),
/// `course` («Исполнение»: `text` = course text), `report` («Доклад направлен»: `text` = the
/// result) or `response` (the answer to a query: `text` = its items). `step` makes the name
/// unique among the appeal's notices.
#[derive(Debug, Clone)]
pub struct Progress {
    pub kind: OutputKind,
    pub step: u64,
    pub text: String,
    pub post: Option<String>,
}

/// Plans a progress notice; `registration` is our number and date (the report refers to it).
pub fn progress_notice(
    policy: &Policy,
    cause: &NoticeCause<'_>,
    progress: Progress,
    registration: NoticeRef,
    created: OffsetDateTime,
) -> Option<Output> {
    let label = format!("{}{}", progress.kind, progress.step);
    let mut out = notice_base(policy, cause, progress.kind, &label, created)?;
    out.registration = Some(registration);
    out.text = Some(progress.text);
    out.post = progress.post;
    Some(out)
}

/// What an appeal forwarded by competence carries: our cover letter's number (`ours`), our
/// registration of the appeal (`registered`), the operator's words, the appeal's files.
#[derive(Debug, Clone)]
pub struct Forwarding {
    pub step: u64,
    pub ours: NoticeRef,
    pub registered: NoticeRef,
    pub comment: Option<String>,
    pub files: Vec<medo_model::OutFile>,
    pub restricted: bool,
}

/// Plans the appeal of `cause` sent to the body `partner_uid` over МЭДО («Сопроводительное
/// письмо» with the appeal's files), in the partner's format (one that mirrors gets the
/// appeal's own); `None` when it is not a configured partner.
pub fn forwarded(
    policy: &Policy,
    partner_uid: &str,
    cause: &NoticeCause<'_>,
    forwarding: Forwarding,
    created: OffsetDateTime,
) -> Option<Output> {
    let to = Addressed {
        source_uid: partner_uid,
        inbound_format: cause.inbound_format,
        about_uid: cause.document_uid,
        key: cause.key,
        arrival: cause.arrival,
    };
    let label = format!("{}{}", OutputKind::Forwarded, forwarding.step);
    let mut out = addressed(policy, &to, OutputKind::Forwarded, &label, created)?;
    out.foundation = Some(cause.foundation.clone());
    out.registration = Some(forwarding.ours);
    out.document = Some(forwarding.registered);
    out.comment = forwarding.comment;
    out.files = forwarding.files;
    out.restricted = forwarding.restricted;
    out.document_kind = Some(FORWARDED_KIND.into());
    Some(out)
}

/// The kind of our cover letter of an appeal forwarded by competence.
pub const FORWARDED_KIND: &str = "Сопроводительное письмо";

/// Why an arrival repeats an earlier one, if it does: same key first, then same header uid.
pub fn duplicate_of(
    arrival: u64,
    by_key: Option<u64>,
    by_uid: Option<u64>,
) -> Option<(u64, DuplicateBy)> {
    match (by_key, by_uid) {
        (Some(k), _) if k != arrival => Some((k, DuplicateBy::Key)),
        (_, Some(u)) if u != arrival => Some((u, DuplicateBy::Uid)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_uids_are_deterministic() {
        let key = "ab".repeat(32);
        assert_eq!(
            output_name("receipt", &key, 7),
            "receipt-abababababababab-7"
        );
        assert_eq!(
            output_uid("u", "receipt", &key, 7),
            output_uid("u", "receipt", &key, 7)
        );
        assert_ne!(
            output_uid("u", "receipt", &key, 7),
            output_uid("u", "receipt", &key, 8)
        );
    }

    #[test]
    fn duplicates_by_key_then_uid() {
        assert_eq!(duplicate_of(5, Some(5), Some(5)), None);
        assert_eq!(duplicate_of(5, Some(2), None), Some((2, DuplicateBy::Key)));
        assert_eq!(
            duplicate_of(5, Some(5), Some(3)),
            Some((3, DuplicateBy::Uid))
        );
        assert_eq!(duplicate_of(5, None, None), None);
    }
}
