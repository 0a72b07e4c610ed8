//! Forwarded appeals: received, then (in auto mode, not held) refused by the first rule that
//! applies or registered under the next number of the year; re-deliveries get the notice the
//! first delivery got.

use crate::appeals::{self, normalize_number, AppealFacts};
use crate::book::{appeal_id, Appeal, AppealState};
use crate::policy::RegistrationMode;
use medo_model::{Day, DecidedBy, Event, NoticeRef};
use medo_wire::message::RefusalReason;

use super::notice::{self, NoticeCause};
use super::{ArrivalInput, BookView, Context, DocumentInput};

/// The bodies an arrival is for, each with the id of its appeal (the first: the arrival's).
fn bodies_of<'c>(input: &ArrivalInput, ctx: Context<'c>) -> Vec<(u64, Context<'c>)> {
    match input.bodies.as_slice() {
        [] => vec![(input.arrival, ctx)],
        bodies => bodies
            .iter()
            .take(crate::book::APPEALS_PER_ARRIVAL as usize)
            .enumerate()
            .map(|(k, b)| (appeal_id(input.arrival, k as u64), ctx.for_body(b)))
            .collect(),
    }
}

/// A new appeal at each body the arrival is for (a hub's package for several bodies is an
/// appeal at each, its own id, number and notice).
pub(super) fn new_appeals(
    input: &ArrivalInput,
    doc: &DocumentInput,
    cites: Vec<u64>,
    held: Option<String>,
    view: &dyn BookView,
    ctx: Context<'_>,
) -> Vec<Event> {
    bodies_of(input, ctx)
        .into_iter()
        .flat_map(|(id, ctx)| new_appeal(input, id, doc, (cites.clone(), held.clone()), view, ctx))
        .collect()
}

/// A new appeal `id`: `appeal_received`, then its first decision unless it waits for an
/// operator (`held`: an ambiguous classification, an invalid signature, manual mode).
fn new_appeal(
    input: &ArrivalInput,
    id: u64,
    doc: &DocumentInput,
    (cites, held): (Vec<u64>, Option<String>),
    view: &dyn BookView,
    ctx: Context<'_>,
) -> Vec<Event> {
    let Some(facts) = &doc.appeal else {
        return Vec::new();
    };
    let origin = origin(doc, facts, &input.facts.source_uid, ctx);
    let (facts, via) = match &origin {
        Some((urog, via)) => (urog, Some(via)),
        None => (facts, None),
    };
    let invalid = facts
        .signatures
        .iter()
        .find(|s| s.status == medo_model::SignatureCheck::Invalid)
        .map(|s| format!("signature {} did not verify", s.signature));
    let manual = (ctx.policy.mode == RegistrationMode::Manual)
        .then(|| "manual registration mode".to_string());
    let not_theirs = not_the_senders(facts, &input.facts.source_uid, ctx);
    let held = held.or(invalid).or(not_theirs).or(manual);
    let mut events = vec![Event::AppealReceived {
        appeal: id,
        key: input.key.clone(),
        urog_number: facts.urog_number.as_str().into(),
        urog_number_norm: facts.urog_number_norm.as_str().into(),
        urog_date: facts.urog_date.map(Into::into),
        urog_organization: facts.urog_organization.clone(),
        document_uid: facts.document_uid.clone().into(),
        source_uid: input.facts.source_uid.clone().into(),
        format: input.facts.format,
        restricted: facts.restricted,
        signatures: facts.signatures.clone(),
        held: held.clone(),
        cites,
        files: facts.arrived.clone(),
        body: ctx.journaled_body(),
        redirected_from: None,
        via: via.cloned(),
    }];
    if held.is_none() {
        let mut cause = cause_of_facts(input, id, facts);
        if let Some(via) = via {
            cause.foundation = via.clone();
        }
        events.push(first_decision(id, facts, &cause, view, ctx));
    }
    events
}

/// An arrival some of whose records a crash cut off: each of its appeals decided that is
/// not (a further body's not received yet: received now).
pub(super) fn resume(input: &ArrivalInput, view: &dyn BookView, ctx: Context<'_>) -> Vec<Event> {
    let mut events = Vec::new();
    for (id, ctx) in bodies_of(input, ctx) {
        match (view.appeal(id), &input.body) {
            (Some(known), _) => events.extend(resume_one(input, id, &known, view, ctx)),
            (None, super::Incoming::Document(doc)) => {
                let cites = view
                    .appeal(input.arrival)
                    .map(|a| a.cites)
                    .unwrap_or_default();
                let held = view.appeal(input.arrival).and_then(|a| a.held);
                events.extend(new_appeal(input, id, doc, (cites, held), view, ctx));
            }
            (None, _) => {}
        }
    }
    events
}

/// An appeal whose `appeal_received` is journaled but whose decision a crash cut off.
fn resume_one(
    input: &ArrivalInput,
    id: u64,
    known: &Appeal,
    view: &dyn BookView,
    ctx: Context<'_>,
) -> Vec<Event> {
    let ctx = ctx.for_body(&known.body);
    let facts = match &input.body {
        super::Incoming::Document(d) => d.appeal.as_ref(),
        _ => None,
    };
    let undecided = known.state == AppealState::Received
        && known.held.is_none()
        && ctx.policy.mode == RegistrationMode::Auto;
    match (undecided, facts) {
        (true, Some(facts)) => {
            let cause = cause_of_appeal(id, &input.key, known);
            vec![first_decision(id, facts, &cause, view, ctx)]
        }
        _ => Vec::new(),
    }
}

/// The first refusal rule that applies, or the registration.
fn first_decision(
    appeal: u64,
    facts: &AppealFacts,
    cause: &NoticeCause<'_>,
    view: &dyn BookView,
    ctx: Context<'_>,
) -> Event {
    let policy = ctx.policy;
    match appeals::refusal(facts, &policy.sender.uid, policy.require_signature) {
        Some((reason, comment)) => {
            refusal(appeal, reason, Some(comment), DecidedBy::Auto, cause, ctx)
        }
        None => registration(appeal, None, None, cause, DecidedBy::Auto, view, ctx),
    }
}

/// `appeal_refused` with its «Отказано в регистрации» notice.
pub(super) fn refusal(
    appeal: u64,
    reason: RefusalReason,
    comment: Option<String>,
    by: DecidedBy,
    cause: &NoticeCause<'_>,
    ctx: Context<'_>,
) -> Event {
    let outputs = notice::notice(
        ctx.policy,
        cause,
        None,
        Some((reason, comment.clone())),
        ctx.now,
    );
    Event::AppealRefused {
        appeal,
        reason,
        comment,
        by,
        outputs: outputs.into_iter().collect(),
        command: None,
        operator: None,
    }
}

/// A verified signature whose signer is none of the partner's `signer_names` (names or
/// certificate subjects, matched as a part of what the verifier reported, ignoring case):
/// the package says it comes from the partner, the signature says someone else signed —
/// held «подпись не отправителя» (a verifier that names no signer shows nobody: held too).
/// No `signer_names` for the partner: not checked.
fn not_the_senders(facts: &AppealFacts, source_uid: &str, ctx: Context<'_>) -> Option<String> {
    let names = &ctx.policy.partner(source_uid)?.signer_names;
    if names.is_empty() {
        return None;
    }
    facts
        .signatures
        .iter()
        .filter(|s| s.status == medo_model::SignatureCheck::Verified)
        .find_map(|s| {
            let signer = s.signer.as_deref().unwrap_or("");
            let theirs = names
                .iter()
                .any(|n| signer.to_lowercase().contains(&n.to_lowercase()));
            (!theirs).then(|| format!("подпись не отправителя: {} подписан «{signer}»", s.document))
        })
}

/// `appeal_registered` under `number` (an operator's) or the next number of the year — a
/// number never given twice: the sequence skips numbers an operator took by hand.
#[allow(clippy::too_many_arguments)]
pub(super) fn registration(
    appeal: u64,
    number: Option<String>,
    date: Option<time::Date>,
    cause: &NoticeCause<'_>,
    by: DecidedBy,
    view: &dyn BookView,
    ctx: Context<'_>,
) -> Event {
    let date = date.unwrap_or_else(|| ctx.today());
    let year = date.year();
    let body = ctx.body();
    let mut seq = view.next_seq(body, year);
    let template = &ctx.policy.number_template;
    while number.is_none()
        && view
            .id_by_number_in(
                body,
                &normalize_number(&appeals::format_number(template, seq, date)),
            )
            .is_some()
    {
        seq += 1;
    }
    let number = number.unwrap_or_else(|| appeals::format_number(template, seq, date));
    let ours = our_ref(ctx, &number, date);
    let pin = appeals::pin(ctx.pin_secret, appeal);
    let outputs = notice::notice(ctx.policy, cause, Some(ours), None, ctx.now);
    Event::AppealRegistered {
        appeal,
        number: number.into(),
        year,
        year_seq: seq,
        date: date.into(),
        pin_hash: appeals::pin_hash(appeal, &pin),
        by,
        outputs: outputs.into_iter().collect(),
        overrides: None,
        comment: None,
        operator: None,
        command: None,
    }
}

/// A re-delivery of the appeals of `of`'s arrival (one per body it was for): the notice each
/// got on its first delivery (none while it waits).
pub(super) fn redelivery(
    input: &ArrivalInput,
    of: u64,
    view: &dyn BookView,
    ctx: Context<'_>,
) -> Vec<Event> {
    let first = crate::book::arrival_of(of);
    let appeals = crate::book::appeals_of(first, |id| view.appeal(id).is_some());
    let ids = if appeals.contains(&of) {
        appeals
    } else {
        vec![of]
    };
    ids.into_iter()
        .enumerate()
        .filter_map(|(k, id)| {
            let original = view.appeal(id)?;
            let again = appeal_id(input.arrival, k as u64);
            Some(redelivered(input, again, &original, ctx))
        })
        .collect()
}

/// One appeal delivered again (`again`: the re-delivery's id for it): its notice as it
/// stands.
fn redelivered(input: &ArrivalInput, again: u64, original: &Appeal, ctx: Context<'_>) -> Event {
    let of = original.id;
    let ctx = ctx.for_body(&original.body);
    let cause = cause_of_appeal(again, &input.key, original);
    let outputs = match (original.state, original.number.as_deref()) {
        (AppealState::Refused, _) => original
            .reason
            .as_deref()
            .and_then(RefusalReason::parse)
            .and_then(|r| {
                notice::notice(
                    ctx.policy,
                    &cause,
                    None,
                    Some((r, original.comment.clone())),
                    ctx.now,
                )
            }),
        (_, Some(n)) => {
            let date = original.registered_on.as_deref().and_then(Day::parse);
            let ours = NoticeRef {
                organization: Some(ctx.policy.sender.organization.clone()),
                number: n.to_string(),
                date,
            };
            notice::notice(ctx.policy, &cause, Some(ours), None, ctx.now)
        }
        _ => None,
    };
    Event::AppealRedelivered {
        appeal: again,
        of,
        outputs: outputs.into_iter().collect(),
    }
}

/// Our registration (or outgoing) number and date as a notice reference.
pub(super) fn our_ref(ctx: Context<'_>, number: &str, date: time::Date) -> NoticeRef {
    NoticeRef {
        organization: Some(ctx.policy.sender.organization.clone()),
        number: number.to_string(),
        date: Some(date.into()),
    }
}

/// An appeal another body forwarded to us over МЭДО (its source a partner of role `body`)
/// keeps the УРОГ letter its cover letter cites — a link to an `А26-…` number, «Документ-
/// основание» first: the appeal's facts with that letter's number, date and author, and the
/// sender's cover letter (`via`), which our notices to the sender cite. `None` otherwise.
fn origin(
    doc: &DocumentInput,
    facts: &AppealFacts,
    source_uid: &str,
    ctx: Context<'_>,
) -> Option<(AppealFacts, NoticeRef)> {
    let from_a_body = ctx
        .policy
        .partner(source_uid)
        .is_some_and(|p| p.role == "body");
    let is_urog = |l: &&super::LinkInput| {
        l.number
            .as_deref()
            .is_some_and(|n| crate::urog::numbers_in_text(n).len() == 1)
    };
    let link = doc
        .links
        .iter()
        .filter(is_urog)
        .min_by_key(|l| l.link_type != "Документ-основание")
        .filter(|_| from_a_body)?;
    let number = link.number.clone().unwrap_or_default();
    let via = NoticeRef {
        organization: facts.urog_organization.clone(),
        number: facts.urog_number.clone(),
        date: facts.urog_date.map(Into::into),
    };
    let urog = AppealFacts {
        urog_number_norm: normalize_number(&number),
        urog_number: number,
        urog_date: link.date,
        urog_organization: link.organization.clone(),
        ..facts.clone()
    };
    Some((urog, via))
}

/// Our registration of `appeal`: our organisation, its number and day.
pub(super) fn registered_ref(appeal: &Appeal, ctx: Context<'_>) -> NoticeRef {
    NoticeRef {
        organization: Some(ctx.policy.sender.organization.clone()),
        number: appeal.number.clone().unwrap_or_default(),
        date: appeal.registered_on.as_deref().and_then(Day::parse),
    }
}

/// The notice cause of an appeal from the facts of its package.
fn cause_of_facts<'a>(input: &'a ArrivalInput, id: u64, facts: &'a AppealFacts) -> NoticeCause<'a> {
    NoticeCause {
        arrival: id,
        key: &input.key,
        source_uid: &input.facts.source_uid,
        inbound_format: input.facts.format,
        document_uid: &facts.document_uid,
        foundation: NoticeRef {
            organization: facts.urog_organization.clone(),
            number: facts.urog_number.clone(),
            date: facts.urog_date.map(Into::into),
        },
    }
}

/// The notice cause of an appeal in the book, answering `arrival` (its own or a
/// re-delivery's, whose package `key` names the output).
pub(super) fn cause_of_appeal<'a>(arrival: u64, key: &'a str, a: &'a Appeal) -> NoticeCause<'a> {
    NoticeCause {
        arrival,
        key,
        source_uid: &a.source_uid,
        inbound_format: a.format,
        document_uid: &a.document_uid,
        // forwarded by another body: the notices to it cite its letter
        foundation: a.via.clone().unwrap_or_else(|| NoticeRef {
            organization: a.urog_organization.clone(),
            number: a.urog_number.clone(),
            date: a.urog_date.as_deref().and_then(Day::parse),
        }),
    }
}
