//! The changes feed for a СЭД (`GET /api/v1/changes?after=<cursor>`): what happened to
//! appeals and our messages, in journal order — gap-free and resumable, because the cursor is
//! a journal position. A page reads at most [`MAX_SCAN`] records of the journal's durable
//! part (up to the store's applied position), so a client that stores the `next` cursor of
//! each page after importing it never misses or repeats an item, whichever side crashes.
//! The mapping from records to items is pure; the page reads the journal (read-only).

use serde::Serialize;

use crate::journal::JournalError;
use crate::model::{Event, Record, Step};
use crate::JournalRead;

/// Journal records one page looks at, at most (a page may hold no item and still advance).
pub const MAX_SCAN: usize = 10_000;
/// Items per page, at most.
pub const MAX_LIMIT: usize = 1_000;

/// One change. Stable English keys; numbers and states only (no personal data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    /// The cursor of this item: `after=<cursor>` resumes right after it.
    pub cursor: String,
    /// The journal record's time (UTC, RFC 3339).
    pub time: String,
    /// `appeal_arrived`, `appeal_registered`, `appeal_refused`, `appeal_step`,
    /// `query_answered`, `message_rejected`.
    pub change: &'static str,
    /// The appeal's id (`appeal_*`), the query's arrival (`query_answered`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub appeal: Option<u64>,
    /// УРОГ's number (arrived), ours (registered), the query's number (answered).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// Refused: the official reason; step: its kind (`executor-assigned`, `extended`,
    /// `redirected`, `answered`); rejected: the МЭДО operator's error code or `partner`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Who: registered, refused and steps — the operator's login, `api:<client>`, or
    /// `auto` for the gateway's own decision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// A page of changes and the cursor to ask for the next one with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page {
    pub items: Vec<Item>,
    pub next: String,
}

/// The cursor after journal position `seq` (opaque to clients).
pub fn cursor(seq: u64) -> String {
    format!("j{seq}")
}

/// The journal position a cursor names; `None` for anything else. An empty cursor is the
/// beginning.
pub fn parse_cursor(text: &str) -> Option<u64> {
    numbered_cursor(text, 'j')
}

/// An opaque cursor `<tag><decimal>`, or empty (0): strict, so a wrong one is an error, not
/// the beginning.
pub fn numbered_cursor(text: &str, tag: char) -> Option<u64> {
    if text.is_empty() {
        return Some(0);
    }
    let digits = text.strip_prefix(tag)?;
    // at most 19 digits: always a u64, so the cursor's syntax alone says whether it is one
    if digits.is_empty() || digits.len() > 19 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The change a journal record is, if it is one a СЭД imports.
pub fn item(r: &Record) -> Option<Item> {
    let (change, appeal, number, detail) = match &r.event {
        Event::AppealReceived {
            appeal,
            urog_number,
            ..
        } => (
            "appeal_arrived",
            Some(*appeal),
            Some(urog_number.to_string()),
            None,
        ),
        Event::AppealRegistered { appeal, number, .. } => (
            "appeal_registered",
            Some(*appeal),
            Some(number.to_string()),
            None,
        ),
        Event::AppealRefused { appeal, reason, .. } => (
            "appeal_refused",
            Some(*appeal),
            None,
            Some(reason.as_str().to_string()),
        ),
        Event::AppealProgress { appeal, step, .. } => (
            "appeal_step",
            Some(*appeal),
            None,
            Some(step_name(step).into()),
        ),
        Event::QueryAnswered {
            arrival,
            query_number,
            ..
        } => (
            "query_answered",
            Some(*arrival),
            Some(query_number.to_string()),
            None,
        ),
        Event::ReceiptReceived {
            accepted: false,
            by_operator,
            error_code,
            output,
            ..
        } => {
            let by = match by_operator {
                true => error_code.clone().unwrap_or_else(|| "operator".into()),
                false => "partner".into(),
            };
            ("message_rejected", None, output.clone(), Some(by))
        }
        _ => return None,
    };
    Some(Item {
        cursor: cursor(r.seq + 1),
        time: r.ts.clone(),
        change,
        appeal,
        number,
        detail,
        by: by_of(&r.event),
    })
}

/// What a client without the `dsp` scope sees of the changes of ДСП appeals
/// (`restricted(id)`): the change, its appeal and number — not its detail or who.
pub fn for_scope(page: &mut Page, dsp: bool, restricted: impl Fn(u64) -> bool) {
    if dsp {
        return;
    }
    for item in &mut page.items {
        if item.appeal.is_some_and(&restricted) && item.change != "query_answered" {
            item.detail = None;
            item.by = None;
        }
    }
}

/// What a hub's client of some bodies (`bodies`) sees of the feed: the items of their
/// appeals and queries; an item no body can be told of (a rejection of our message) is not
/// shown to it. `None`: everything.
pub fn of_bodies(
    page: &mut Page,
    bodies: Option<&[medo_model::BodyId]>,
    book: &dyn crate::book::Appeals,
) {
    let Some(bodies) = bodies else { return };
    page.items.retain(|item| {
        let body = match (item.change, item.appeal) {
            ("query_answered", Some(q)) => book.query_facts(q).map(|q| q.body),
            (_, Some(id)) => book.appeal(id).map(|a| a.body),
            (_, None) => None,
        };
        body.is_some_and(|b| bodies.contains(&b))
    });
}

/// Gives each `appeal_step` item its appeal's registration number (`number_of(id)`): a step
/// record names the appeal by id only.
pub fn with_numbers(page: &mut Page, number_of: impl Fn(u64) -> Option<String>) {
    for item in &mut page.items {
        if item.change == "appeal_step" && item.number.is_none() {
            item.number = item.appeal.and_then(&number_of);
        }
    }
}

/// Who did what an event records (see [`Item::by`]).
fn by_of(event: &Event) -> Option<String> {
    match event {
        Event::AppealRegistered { by, operator, .. }
        | Event::AppealRefused { by, operator, .. } => {
            Some(operator.clone().unwrap_or_else(|| by.as_str().to_string()))
        }
        Event::AppealProgress { operator, .. } => operator.clone(),
        _ => None,
    }
}

fn step_name(step: &Step) -> &'static str {
    match step {
        Step::ExecutorAssigned { .. } => "executor-assigned",
        Step::Extended { .. } => "extended",
        Step::Redirected { .. } => "redirected",
        Step::Answered { .. } => "answered",
    }
}

/// The changes after journal position `from`, up to `durable` (exclusive: the records the
/// store has applied), at most `limit` items.
pub fn page(
    journal: &dyn JournalRead,
    from: u64,
    durable: u64,
    limit: usize,
) -> Result<Page, JournalError> {
    let limit = limit.clamp(1, MAX_LIMIT);
    let records = journal.read_range(from, durable, MAX_SCAN)?;
    let mut items = Vec::new();
    let mut next = from;
    for r in &records {
        if let Some(i) = item(r) {
            if items.len() == limit {
                break;
            }
            items.push(i);
        }
        next = r.seq + 1;
    }
    Ok(Page {
        items,
        next: cursor(next),
    })
}

/// [`page`] over where the journal is ([`crate::postgres::JournalSource`]); nothing new
/// (`from` at or past `durable`: an idle webhook's poll) opens nothing.
pub fn page_in(
    source: &crate::postgres::JournalSource,
    from: u64,
    durable: u64,
    limit: usize,
) -> Result<Page, String> {
    if from >= durable {
        return Ok(Page {
            items: Vec::new(),
            next: cursor(from),
        });
    }
    source.read(|j| page(j, from, durable, limit).map_err(|e| e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_strict() {
        for (text, seq) in [("", Some(0)), ("j0", Some(0)), ("j42", Some(42))] {
            assert_eq!(parse_cursor(text), seq, "{text:?}");
        }
        for bad in ["42", "j", "j-1", "j4a", "j999999999999999999999", "k1"] {
            assert_eq!(parse_cursor(bad), None, "{bad:?}");
        }
        assert_eq!(parse_cursor(&cursor(7)), Some(7));
    }
}
