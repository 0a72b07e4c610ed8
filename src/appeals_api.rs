//! The read side of the СЭД API over the appeal book: `GET /api/v1/appeals` (a page of
//! compact appeals after an opaque cursor, filtered by status and last change) and
//! `GET /api/v1/appeals/{id}` (one appeal with its history). Numbers, dates and states only —
//! the applicant's data stays in the archived package. Pure over the appeals it is given.

use serde::Serialize;
use time::Date;

use crate::book::{Appeal, AppealState};
use crate::config::Config;
use crate::deadlines::DueDates;
use crate::operator;

/// Appeals one page looks at, at most (a page may hold fewer items and still advance).
pub const MAX_SCAN: usize = 10_000;
/// Items per page, at most.
pub const MAX_LIMIT: usize = 500;
/// A page's JSON, at most about this many bytes: a page of appeals with long file lists
/// ends early (its `next` says where to go on), so one response never holds megabytes.
pub const PAGE_BYTES: usize = 1 << 20;

/// An appeal as a list shows it.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub id: u64,
    pub urog_number: String,
    pub urog_date: Option<String>,
    pub number: Option<String>,
    pub registered_on: Option<String>,
    /// `received`, `registered`, `refused`, `in_work`, `redirected`, `answered`.
    pub status: AppealState,
    pub status_label: &'static str,
    pub sstu_status: Option<&'static str>,
    pub due: DueDates,
    pub overdue: bool,
    /// ДСП: its files need the `dsp` scope.
    pub restricted: bool,
    /// Each signature file and its check (`verified`, `invalid`, `not checked`).
    pub signatures: Vec<(String, medo_model::SignatureCheck)>,
    /// The files it arrived with (name, role, size, SHA-256; `GET …/files/{name}` serves
    /// each). Appeals journaled before files were have an empty list here; `GET
    /// /api/v1/appeals/{id}` lists theirs from the archived package.
    pub files: Vec<crate::model::ArrivedFile>,
    /// When it last changed (UTC, RFC 3339).
    pub updated: String,
}

/// What a page of appeals is asked for.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub status: Option<AppealState>,
    /// Only appeals changed at or after this time (RFC 3339, compared as UTC text).
    pub updated_since: Option<String>,
}

/// A page and the cursor to ask for the next one with (the same cursor when nothing more is
/// there now: ask again later).
#[derive(Debug, Serialize)]
pub struct Page {
    pub items: Vec<Summary>,
    pub next: String,
}

pub fn cursor(id: u64) -> String {
    format!("a{id}")
}

/// The appeal id a cursor names; an empty cursor is the beginning.
pub fn parse_cursor(text: &str) -> Option<u64> {
    crate::feed::numbered_cursor(text, 'a')
}

/// A status as the API names it.
pub fn parse_status(text: &str) -> Option<AppealState> {
    serde_json::from_value(serde_json::Value::String(text.to_string())).ok()
}

fn updated(a: &Appeal) -> String {
    a.history
        .last()
        .map_or_else(|| a.received_at.clone(), |(t, _)| t.clone())
}

pub fn summary(a: &Appeal, config: &Config, today: Date) -> Summary {
    let row = operator::row(a, config, today);
    Summary {
        id: a.id,
        urog_number: a.urog_number.clone(),
        urog_date: a.urog_date.clone(),
        number: a.number.clone(),
        registered_on: a.registered_on.clone(),
        status: a.state,
        status_label: row.status,
        sstu_status: row.sstu_status,
        due: row.due,
        overdue: row.overdue,
        restricted: a.restricted,
        signatures: a
            .signatures
            .iter()
            .map(|s| (s.signature.clone(), s.status))
            .collect(),
        files: a.files.clone(),
        updated: updated(a),
    }
}

/// What a client without the `dsp` scope sees of a ДСП appeal: its numbers, dates and
/// state — no file names, sizes, digests or signatures (its history is left out by the
/// caller).
pub fn for_scope(mut s: Summary, dsp: bool) -> Summary {
    if s.restricted && !dsp {
        s.files.clear();
        s.signatures.clear();
    }
    s
}

/// A page out of `scanned` (the appeals after the cursor `after`, in id order, as read): the
/// matching ones up to `limit`; `next` is the cursor after the last appeal looked at.
pub fn page(
    scanned: impl IntoIterator<Item = Appeal>,
    after: u64,
    (filter, dsp): (&Filter, bool),
    limit: usize,
    config: &Config,
) -> Page {
    let today = operator::today(config);
    let limit = limit.clamp(1, MAX_LIMIT);
    let mut items = Vec::new();
    let mut last = after;
    let mut bytes = 0usize;
    for a in scanned.into_iter().take(MAX_SCAN) {
        let wanted = filter.status.is_none_or(|s| s == a.state)
            && filter
                .updated_since
                .as_deref()
                .is_none_or(|since| updated(&a).as_str() >= since);
        if wanted {
            if items.len() == limit {
                break;
            }
            let item = for_scope(summary(&a, config, today), dsp);
            let size = serde_json::to_vec(&item).map_or(0, |v| v.len());
            // the byte budget: at least one item, then no more than PAGE_BYTES
            if !items.is_empty() && bytes + size > PAGE_BYTES {
                break;
            }
            bytes += size;
            items.push(item);
        }
        last = a.id;
    }
    Page {
        items,
        next: cursor(last),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 26 item 9: a page stops at its byte budget (at least one item), and `next`
    /// goes on from the last appeal it holds — nothing skipped.
    #[test]
    fn a_page_stops_at_its_byte_budget_and_goes_on_where_it_stopped() {
        use crate::book::AppealBook;
        use crate::model::{ArrivedFile, Event, FileRole, Record};
        let config = crate::config::Config::parse(
            include_str!("../config/gateway.toml"),
            std::path::Path::new("gateway.toml"),
        )
        .unwrap();
        let mut book = AppealBook::default();
        // each appeal lists 3,000 files: ~300 KB of JSON
        let files: Vec<ArrivedFile> = (0..3000)
            .map(|i| ArrivedFile {
                name: format!("file-{i:05}.pdf"),
                role: FileRole::Attachment,
                size: 1,
                sha256: "0".repeat(64).into(),
                container: None,
            })
            .collect();
        for id in 1..=10u64 {
            let received = Event::AppealReceived {
                appeal: id,
                key: format!("k{id}").into(),
                urog_number: format!("А26-02-{id}").into(),
                urog_number_norm: format!("А26-02-{id}").into(),
                urog_date: None,
                urog_organization: None,
                document_uid: format!("d{id}").into(),
                source_uid: "s".into(),
                format: crate::wire::message::Format::V22,
                restricted: false,
                signatures: Vec::new(),
                held: None,
                cites: Vec::new(),
                files: files.clone(),
                body: None,
                redirected_from: None,
                via: None,
            };
            book.apply(&Record {
                seq: id,
                ts: "2026-12-01T10:00:00Z".into(),
                prev: String::new(),
                event: received,
                hash: String::new(),
            });
        }
        let all = crate::book::Appeals::all(&book);
        let first = page(all.clone(), 0, (&Filter::default(), true), 500, &config);
        let json = serde_json::to_vec(&first).unwrap().len();
        assert!(
            first.items.len() < 10,
            "stopped early: {}",
            first.items.len()
        );
        assert!(!first.items.is_empty());
        assert!(json <= PAGE_BYTES + 400_000, "{json} bytes");
        let after = parse_cursor(&first.next).unwrap();
        assert_eq!(
            after,
            first.items.last().unwrap().id,
            "goes on where it stopped"
        );
        let rest: Vec<_> = all.into_iter().filter(|a| a.id > after).collect();
        let second = page(rest, after, (&Filter::default(), true), 500, &config);
        assert_eq!(
            second.items.first().unwrap().id,
            after + 1,
            "nothing skipped"
        );
    }

    #[test]
    fn cursors_and_statuses_are_strict() {
        assert_eq!(parse_cursor(""), Some(0));
        assert_eq!(parse_cursor(&cursor(17)), Some(17));
        for bad in ["17", "a", "a1x", "j17", "a-1"] {
            assert_eq!(parse_cursor(bad), None, "{bad:?}");
        }
        assert_eq!(parse_status("in_work"), Some(AppealState::InWork));
        assert_eq!(parse_status("answered"), Some(AppealState::Answered));
        assert_eq!(parse_status("InWork"), None);
    }
}
