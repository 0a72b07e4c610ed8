//! УРОГ queries: answered with what the book knows as of the decision (the appeals decided
//! earlier in the same pass included), under our own outgoing number; answered again when
//! an appeal the answer reported as not found becomes known; re-sent re-rendered as of the
//! re-send.

use std::collections::HashSet;

use crate::appeals;
use crate::book::QueryFacts;
use crate::resend::Waiting;
use crate::urog;
use medo_model::{Event, NoticeRef, Output, OutputKind};
use medo_wire::urog::ResponseItem;

use super::appeal::our_ref;
use super::classify::referenced;
use super::notice::{self, NoticeCause, Progress};
use super::{ArrivalInput, BookView, Context, DocumentInput};

/// What one answer is about: the query and the numbers it asks for.
struct Asked<'a> {
    arrival: u64,
    key: &'a str,
    cause: NoticeCause<'a>,
    query_number: String,
    query_date: Option<medo_model::Day>,
    requested: Vec<String>,
    /// `Some(k)`: the k-th later answer to the same query.
    reanswer: Option<u32>,
}

/// The first answer to a query.
pub(super) fn answer(
    input: &ArrivalInput,
    doc: &DocumentInput,
    view: &dyn BookView,
    ctx: Context<'_>,
) -> Vec<Event> {
    let query_date = doc.date.map(medo_model::Day::from);
    let asked = Asked {
        arrival: input.arrival,
        key: &input.key,
        cause: NoticeCause {
            arrival: input.arrival,
            key: &input.key,
            source_uid: &input.facts.source_uid,
            inbound_format: input.facts.format,
            document_uid: &doc.uid,
            foundation: NoticeRef {
                organization: doc.organization.clone(),
                number: doc.number.clone(),
                date: query_date,
            },
        },
        query_number: doc.number.clone(),
        query_date,
        requested: referenced(doc),
        reanswer: None,
    };
    vec![answered(asked, view, ctx, 0)]
}

/// `query_answered`: the items as of now, our next outgoing number (`earlier`: numbers
/// taken by answers decided with it, not yet in the view), the answer document.
fn answered(asked: Asked<'_>, view: &dyn BookView, ctx: Context<'_>, earlier: u64) -> Event {
    let items = urog::response_items(
        &asked.requested,
        view.status_many_of(&ctx, &asked.requested),
        &ctx.policy.calendar,
        ctx.policy.utc_offset,
    );
    let unresolved: Vec<String> = items
        .iter()
        .filter(|i| !i.found)
        .map(|i| i.requested.clone())
        .collect();
    let date = ctx.today();
    let year = date.year();
    let seq = view.next_outgoing_seq(ctx.body(), year) + earlier;
    let number = appeals::format_number(&ctx.policy.outgoing_template, seq, date);
    let progress = Progress {
        kind: OutputKind::Response,
        step: u64::from(asked.reanswer.unwrap_or(0)),
        text: serde_json::to_string(&items).expect("items serialise"),
        post: None,
    };
    let ours = our_ref(ctx, &number, date);
    let output = notice::progress_notice(ctx.policy, &asked.cause, progress, ours, ctx.now);
    Event::QueryAnswered {
        arrival: asked.arrival,
        key: asked.key.into(),
        query_number: asked.query_number.into(),
        query_date: asked.query_date,
        requested: asked.requested.into_iter().map(Into::into).collect(),
        unresolved: unresolved.into_iter().map(Into::into).collect(),
        outputs: output.into_iter().collect(),
        number: Some(number.into()),
        year: Some(year),
        year_seq: Some(seq),
        reanswer: asked.reanswer,
        body: ctx.journaled_body(),
    }
}

/// A query delivered again: our latest answer to it sent again, as of now (same document,
/// same message uid; the partner can de-duplicate).
pub(super) fn again(
    input: &ArrivalInput,
    of: u64,
    view: &dyn BookView,
    ctx: Context<'_>,
) -> Vec<Event> {
    let Some(answer) = view.query(of).and_then(|q| q.answer) else {
        return Vec::new();
    };
    let mut output = rerendered(&answer, view, ctx);
    output.name = format!("{}-d{}", answer.name, input.arrival);
    vec![Event::Resent {
        arrival: of,
        message_uid: answer.message_uid.clone(),
        attempt: 0,
        outputs: vec![output],
    }]
}

/// Queries answered «не найдено» for an appeal received in `decided`, answered again now
/// that the book knows it (`view` must include `decided`).
pub fn reanswers(decided: &[Event], view: &dyn BookView, ctx: Context<'_>) -> Vec<Event> {
    let mut done = HashSet::new();
    let mut out = Vec::new();
    for event in decided {
        let Event::AppealReceived {
            urog_number_norm,
            body,
            ..
        } = event
        else {
            continue;
        };
        // a query is answered from its own body's appeals
        let body = medo_model::BodyId::or_main(body.as_ref());
        for q in view.queries_awaiting(urog_number_norm) {
            let Some(facts) = view.query(q).filter(|f| f.body == body) else {
                continue;
            };
            if done.insert(q) {
                // numbers this batch's answers of the same body took
                let earlier = out
                    .iter()
                    .filter(|e| matches!(e, Event::QueryAnswered { body: b, .. } if medo_model::BodyId::or_main(b.as_ref()) == facts.body))
                    .count() as u64;
                out.extend(reanswer(&facts, view, ctx.for_body(&facts.body), earlier));
            }
        }
    }
    out
}

/// The next answer to a query, when it now resolves a number it could not.
fn reanswer(q: &QueryFacts, view: &dyn BookView, ctx: Context<'_>, earlier: u64) -> Option<Event> {
    let answer = q.answer.as_ref()?;
    let now_found = view
        .status_many_of(&ctx, &q.unresolved)
        .iter()
        .any(|found| found.is_ok());
    if !now_found {
        return None;
    }
    let asked = Asked {
        arrival: q.arrival,
        key: &q.key,
        cause: NoticeCause {
            arrival: q.arrival,
            key: &q.key,
            source_uid: &answer.recipient_uid,
            inbound_format: answer.format,
            document_uid: &answer.about_uid,
            foundation: answer.foundation.clone()?,
        },
        query_number: q.query_number.clone(),
        query_date: q.query_date,
        requested: q.requested.clone(),
        reanswer: Some(q.answers),
    };
    Some(answered(asked, view, ctx, earlier))
}

/// Our document sent again after no receipt came (`resend_after_secs`): same message uid, a
/// new folder, an answer's content as the book knows it now.
pub fn resend(w: &Waiting, view: &dyn BookView, ctx: Context<'_>) -> Event {
    let ctx = ctx.for_body(&medo_model::BodyId::or_main(w.output.body.as_ref()));
    let attempt = w.resends + 1;
    let mut output = rerendered(&w.output, view, ctx);
    output.name = format!("{}-r{attempt}", w.output.name);
    Event::Resent {
        arrival: w.arrival,
        message_uid: w.output.message_uid.clone(),
        attempt,
        outputs: vec![output],
    }
}

/// An output with an answer's items computed again from the book.
fn rerendered(o: &Output, view: &dyn BookView, ctx: Context<'_>) -> Output {
    let mut o = o.clone();
    if o.kind != OutputKind::Response {
        return o;
    }
    let Ok(items) = serde_json::from_str::<Vec<ResponseItem>>(o.text.as_deref().unwrap_or("[]"))
    else {
        return o;
    };
    let requested: Vec<String> = items.into_iter().map(|i| i.requested).collect();
    let fresh = urog::response_items(
        &requested,
        view.status_many_of(&ctx, &requested),
        &ctx.policy.calendar,
        ctx.policy.utc_offset,
    );
    o.text = Some(serde_json::to_string(&fresh).expect("items serialise"));
    o
}
