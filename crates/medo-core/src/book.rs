//! The appeal book: every forwarded appeal as the journal tells it — a pure fold over journal
//! records ([`fold`]) onto a [`Shelf`], read through [`Appeals`]. Two shelves exist: the
//! service keeps the book in the sled store (`Store`, updated in the same transaction as the
//! record's other indexes, so a restart reads nothing back); operator commands fold an
//! in-memory [`AppealBook`] from the journal, so they work while the service runs.
//! Holds numbers and states only; the annotation and the applicant stay in the archived package.
//! No I/O here: the shelf does the storing.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::appeals::{normalize_number, SignatureFile};
use medo_model::Step;
use medo_model::{Event, Record};

/// Where an appeal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppealState {
    /// поступило (waiting for registration: manual mode, or held)
    #[default]
    Received,
    /// зарегистрировано
    Registered,
    /// отказано в регистрации
    Refused,
    /// рассматривается (an executor is assigned, or the term extended)
    InWork,
    /// направлено (по компетенции)
    Redirected,
    /// рассмотрено (with a result)
    Answered,
}

impl AppealState {
    /// The ССТУ.РФ question status that goes with it (`None`: not reported — a technical
    /// refusal never reaches ССТУ).
    pub fn sstu_status(self) -> Option<&'static str> {
        match self {
            AppealState::Received => Some("NotRegistered"),
            AppealState::Registered | AppealState::InWork => Some("InWork"),
            AppealState::Refused => None,
            AppealState::Redirected => Some("Transferred"),
            AppealState::Answered => Some("Answered"),
        }
    }

    /// The status an applicant or operator reads.
    pub fn label(self) -> &'static str {
        match self {
            AppealState::Received => "поступило",
            AppealState::Registered => "зарегистрировано",
            AppealState::Refused => "отказано в регистрации",
            AppealState::InWork => "рассматривается",
            AppealState::Redirected => "направлено",
            AppealState::Answered => "рассмотрено",
        }
    }
}

/// One forwarded appeal. (`pin_hash` is never serialised: shelves keep it apart.) Its
/// `Default` is nothing yet: an appeal starts from what arrived (`fold_received`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Appeal {
    /// Internal id: the arrival (journal seq of its `received` record).
    pub id: u64,
    /// The body it is for (`main` in a one-body node and in books folded before bodies).
    #[serde(default = "medo_model::BodyId::main")]
    pub body: medo_model::BodyId,
    pub key: medo_model::PackageKey,
    pub received_at: String,
    pub urog_number: String,
    pub urog_number_norm: String,
    pub urog_date: Option<String>,
    pub urog_organization: Option<String>,
    pub document_uid: String,
    pub source_uid: String,
    pub format: medo_wire::message::Format,
    pub restricted: bool,
    pub signatures: Vec<SignatureFile>,
    /// The files it arrived with (empty when its journal predates them).
    #[serde(default)]
    pub files: Vec<medo_model::ArrivedFile>,
    pub held: Option<String>,
    /// Our messages about it decided but not yet published (their outbound names; receipts
    /// aside): «уведомление не отправлено» while any is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unsent: Vec<String>,
    pub state: AppealState,
    pub number: Option<String>,
    pub registered_on: Option<String>,
    pub year: Option<i32>,
    pub seq: Option<u64>,
    #[serde(skip)]
    pub pin_hash: Option<medo_model::HexDigest>,
    pub reason: Option<String>,
    pub comment: Option<String>,
    pub decided_by: Option<String>,
    /// Where its package rests (`archive/…`).
    pub dir: Option<String>,
    /// Steps of consideration reported so far.
    pub steps: u64,
    pub executor: Option<String>,
    pub extended_to: Option<String>,
    /// Why it was extended (what the applicant is told).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_reason: Option<String>,
    pub redirected_to: Option<String>,
    /// The answer's result code and ССТУ status.
    pub result: Option<String>,
    pub sstu_result: Option<String>,
    /// Later arrivals of the same appeal.
    pub redeliveries: Vec<u64>,
    /// (time, what) in order.
    pub history: Vec<(String, String)>,
    /// What the applicant sees: one entry per status reached, with its details.
    pub timeline: Vec<TimelineEntry>,
    /// An answer file was attached when it was answered.
    pub answer_attached: bool,
    /// The answer's file name (kept under `state_dir/answers/<id>/`) and when it was answered
    /// (the journal time; `YYYY-MM-DD` in books folded by older versions).
    pub answer_file: Option<String>,
    pub answered_on: Option<String>,
    /// Redirect: the receiving body's ССТУ id, when (as `answered_on`), our cover letter's number.
    pub transfer: Option<(String, String, String)>,
    /// Earlier appeals this one cites (a repeat appeal), and later ones citing it.
    #[serde(default)]
    pub cites: Vec<u64>,
    #[serde(default)]
    pub cited_by: Vec<u64>,
    /// Within a region's hub: the appeal of another body it was redirected from, and the one
    /// it was redirected as (the histories linked both ways).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirected_from: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirected_as: Option<u64>,
    /// Forwarded to us by another body over МЭДО: its cover letter (the `urog_*` fields are
    /// УРОГ's letter it cites); our notices to that body cite it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<medo_model::NoticeRef>,
}

/// A УРОГ query we answered, as the book keeps it: our answer's number and date, what it
/// asked for and what we could not find (re-answered when such an appeal becomes known).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryFacts {
    pub arrival: u64,
    /// The body it was for (answered from that body's appeals).
    #[serde(default = "medo_model::BodyId::main")]
    pub body: medo_model::BodyId,
    /// The query package's key (names our answers).
    pub key: medo_model::PackageKey,
    pub query_number: String,
    pub query_date: Option<medo_model::Day>,
    /// Our answer's outgoing number and date (the latest answer's).
    pub number: Option<String>,
    pub date: Option<String>,
    pub requested: Vec<String>,
    pub unresolved: Vec<String>,
    /// Answers sent so far (1 = the first answer).
    pub answers: u32,
    /// The latest answer as sent (addressing, foundation: what a new answer repeats).
    pub answer: Option<medo_model::Output>,
}

/// The first id beyond any journal position: the ids of a package's further appeals (one
/// per further body of a hub it is for). The first appeal of an arrival is the arrival's
/// seq, as always.
pub const FURTHER_APPEAL_IDS: u64 = 1 << 40;
/// Appeals one arrival gives at most (a hub serves at most 1,000 bodies).
pub const APPEALS_PER_ARRIVAL: u64 = 1024;

/// The id of the `k`-th appeal of `arrival` (0: the arrival's seq; further ones above
/// [`FURTHER_APPEAL_IDS`], `arrival · 1024 + k` beyond it: unique, and the same whenever it
/// is decided again). Below 2^53 (exact in JSON numbers) for any journal under 2^33 records.
pub fn appeal_id(arrival: u64, k: u64) -> u64 {
    assert!(
        k < APPEALS_PER_ARRIVAL,
        "at most {APPEALS_PER_ARRIVAL} appeals an arrival"
    );
    match k {
        0 => arrival,
        k => FURTHER_APPEAL_IDS + arrival * APPEALS_PER_ARRIVAL + k,
    }
}

/// The arrival an appeal came with.
pub fn arrival_of(appeal: u64) -> u64 {
    match appeal.checked_sub(FURTHER_APPEAL_IDS) {
        Some(further) => further / APPEALS_PER_ARRIVAL,
        None => appeal,
    }
}

/// The appeals `arrival` gave, in order: its first, then the further ones while `exists`.
pub fn appeals_of(arrival: u64, exists: impl Fn(u64) -> bool) -> Vec<u64> {
    (0..APPEALS_PER_ARRIVAL)
        .map(|k| appeal_id(arrival, k))
        .take_while(|id| exists(*id))
        .collect()
}

/// A hub's package for no body it serves, held until its operator assigns one
/// (`appeals assign`): what the supervision page and `spool list` show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unrouted {
    pub arrival: u64,
    pub key: medo_model::PackageKey,
    /// The likeliest bodies, best first.
    pub candidates: Vec<medo_model::BodyId>,
    /// When it was held (the journal's time).
    pub at: String,
}

/// One status in the applicant's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// поступило, зарегистрировано, направлено, рассматривается, рассмотрено
    pub status: String,
    pub at: String,
    pub detail: Option<String>,
}

/// Where a fold keeps the appeals: an in-memory [`AppealBook`], or the sled store inside
/// the transaction that applies the record. Each method is one small, typed step.
pub trait Shelf {
    type Error;
    /// The appeal with this id (its `pin_hash` included).
    fn load(&self, id: u64) -> Result<Option<Appeal>, Self::Error>;
    /// Stores the appeal (its `pin_hash` included).
    fn save(&mut self, appeal: &Appeal) -> Result<(), Self::Error>;
    /// Changes the stored appeal with this id, if there is one: load, change, save. A shelf
    /// that holds its appeals in memory changes them where they are (no copy per record).
    fn change(&mut self, id: u64, change: impl FnOnce(&mut Appeal)) -> Result<(), Self::Error>
    where
        Self: Sized,
    {
        if let Some(mut a) = self.load(id)? {
            change(&mut a);
            self.save(&a)?;
        }
        Ok(())
    }
    /// Remembers the first appeal that carried this document uid (later ones do not replace it).
    fn index_document(&mut self, uid: &str, id: u64) -> Result<(), Self::Error>;
    /// Our registration number (normalised) → the appeals (one per body that gave it).
    fn index_number(&mut self, norm: &str, id: u64) -> Result<(), Self::Error>;
    /// The УРОГ number (normalised) → every appeal that carried it.
    fn index_urog(&mut self, norm: &str, id: u64) -> Result<(), Self::Error>;
    /// The highest registration sequence number `body` used in `year` is at least `seq`.
    fn raise_seq(&mut self, body: &str, year: i32, seq: u64) -> Result<(), Self::Error>;
    /// The highest outgoing-document sequence number `body` used in `year` is at least `seq`.
    fn raise_outgoing_seq(&mut self, body: &str, year: i32, seq: u64) -> Result<(), Self::Error>;
    /// A query answered (again): its facts, and the numbers still not found (normalised),
    /// indexed so that the appeal's arrival can trigger a new answer.
    fn note_query(&mut self, q: &QueryFacts, resolved: &[String]) -> Result<(), Self::Error>;
    /// The query answered from this arrival, if any.
    fn load_query(&self, arrival: u64) -> Result<Option<QueryFacts>, Self::Error>;
    /// An operator command (its id) was carried out.
    fn note_command(&mut self, id: &str) -> Result<(), Self::Error>;
    /// A package held for the hub's operator (no body named).
    fn note_unrouted(&mut self, held: &Unrouted) -> Result<(), Self::Error>;
    /// The held package of `arrival` was assigned to a body.
    fn note_assigned(&mut self, arrival: u64) -> Result<(), Self::Error>;
    /// Where an arrival's package rests, if it was archived already.
    fn dir_of(&self, arrival: u64) -> Result<Option<String>, Self::Error>;
    /// An arrival's package came to rest in `dir`.
    fn note_dir(&mut self, arrival: u64, dir: &str) -> Result<(), Self::Error>;
}

/// Folds one journal record into the shelf. Records that are not about appeals change
/// nothing (but `archived`, which says where a package rests).
pub fn fold<S: Shelf>(shelf: &mut S, r: &Record) -> Result<(), S::Error> {
    if let Some(id) = r.event.command() {
        shelf.note_command(id)?;
    }
    fold_event(shelf, r)?;
    // our messages about an appeal, until each is published (receipts aside: most of what
    // goes out, and no one waits on them)
    let unsent: Vec<String> = r
        .event
        .outputs()
        .iter()
        .map(|o| o.name.clone())
        .filter(|n| !n.starts_with("receipt"))
        .collect();
    if let (false, Some(id)) = (unsent.is_empty(), r.event.arrival()) {
        shelf.change(id, |a| a.unsent.extend(unsent))?;
    }
    Ok(())
}

/// [`fold`]'s work per kind of record: one named function each.
fn fold_event<S: Shelf>(shelf: &mut S, r: &Record) -> Result<(), S::Error> {
    match &r.event {
        Event::AppealReceived { .. } => fold_received(shelf, r),
        Event::AppealRegistered { .. } => fold_registered(shelf, r),
        Event::AppealRefused { .. } => fold_refused(shelf, r),
        Event::Published { arrival, name, .. } if !name.starts_with("receipt") => {
            shelf.change(*arrival, |a| a.unsent.retain(|n| n != name))
        }
        Event::JournalRecovered { sequences, .. } => {
            // a restore: every number the witness saw stays given
            for s in sequences {
                let body = medo_model::BodyId::or_main(s.body.as_ref());
                shelf.raise_seq(&body, s.year, s.registered)?;
                shelf.raise_outgoing_seq(&body, s.year, s.outgoing)?;
            }
            Ok(())
        }
        Event::AppealProgress { .. } => fold_progress(shelf, r),
        Event::AppealRedelivered { appeal, of, .. } => shelf.change(*of, |a| {
            a.redeliveries.push(*appeal);
            a.history.push((
                r.ts.clone(),
                format!("доставлено повторно (поступление {appeal})"),
            ));
        }),
        Event::QueryAnswered { .. } => fold_query(shelf, &r.event),
        Event::Unrouted {
            arrival,
            key,
            candidates,
        } => shelf.note_unrouted(&Unrouted {
            arrival: *arrival,
            key: key.clone(),
            candidates: candidates.clone(),
            at: r.ts.clone(),
        }),
        Event::Assigned { arrival, .. } => shelf.note_assigned(*arrival),
        Event::Archived { arrival, dir, .. } => {
            shelf.note_dir(*arrival, dir)?;
            // the arrival's appeals: its first, and one per further body it was for
            for k in 0..APPEALS_PER_ARRIVAL {
                let id = appeal_id(*arrival, k);
                if k > 0 && shelf.load(id)?.is_none() {
                    break;
                }
                shelf.change(id, |a| a.dir = Some(dir.clone()))?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// A forwarded appeal arrived: a new appeal on the shelf, indexed by its document uid and
/// УРОГ number; the appeals it cites learn that they are cited.
fn fold_received<S: Shelf>(shelf: &mut S, r: &Record) -> Result<(), S::Error> {
    let Event::AppealReceived {
        appeal,
        document_uid,
        urog_number_norm,
        cites,
        ..
    } = &r.event
    else {
        return Ok(());
    };
    for earlier in cites {
        shelf.change(*earlier, |e| {
            e.cited_by.push(*appeal);
            e.history.push((
                r.ts.clone(),
                format!("на него ссылается обращение {appeal}"),
            ));
        })?;
    }
    let dir = shelf.dir_of(arrival_of(*appeal))?;
    let Some(a) = received_appeal(r, dir) else {
        return Ok(());
    };
    shelf.index_document(document_uid, *appeal)?;
    shelf.index_urog(urog_number_norm, *appeal)?;
    shelf.save(&a)
}

/// The appeal as it stands on arrival (`None` for any other record).
fn received_appeal(r: &Record, dir: Option<String>) -> Option<Appeal> {
    let Event::AppealReceived {
        appeal,
        key,
        urog_number,
        urog_number_norm,
        urog_date,
        urog_organization,
        document_uid,
        source_uid,
        format,
        restricted,
        signatures,
        held,
        cites,
        files,
        body,
        redirected_from,
        via,
    } = &r.event
    else {
        return None;
    };
    let mut history = received_history(
        r,
        urog_number,
        urog_date.map(|d| d.to_string()).as_deref(),
        cites,
        held.as_deref(),
    );
    if let Some(v) = via {
        history.push((
            r.ts.clone(),
            format!(
                "поступило по компетенции от {} (письмо № {})",
                v.organization.as_deref().unwrap_or("другого органа"),
                v.number
            ),
        ));
    }
    if let Some(from) = redirected_from {
        history.push((
            r.ts.clone(),
            format!("поступило по компетенции из другого органа узла (обращение {from})"),
        ));
    }
    Some(Appeal {
        id: *appeal,
        body: medo_model::BodyId::or_main(body.as_ref()),
        key: key.clone(),
        received_at: r.ts.clone(),
        urog_number: urog_number.to_string(),
        urog_number_norm: urog_number_norm.to_string(),
        urog_date: urog_date.map(|d| d.to_string()),
        urog_organization: urog_organization.clone(),
        document_uid: document_uid.to_string(),
        source_uid: source_uid.to_string(),
        format: *format,
        restricted: *restricted,
        signatures: signatures.clone(),
        files: files.clone(),
        held: held.clone(),
        history,
        redirected_from: *redirected_from,
        via: via.clone(),
        timeline: vec![TimelineEntry {
            status: "поступило".into(),
            at: r.ts.clone(),
            detail: None,
        }],
        cites: cites.clone(),
        dir,
        ..Appeal::default()
    })
}

/// An arrival's first lines of history: what came, what it cites, why it waits.
fn received_history(
    r: &Record,
    urog_number: &str,
    urog_date: Option<&str>,
    cites: &[u64],
    held: Option<&str>,
) -> Vec<(String, String)> {
    let date = urog_date.map(|d| format!(" от {d}")).unwrap_or_default();
    let mut history = vec![(r.ts.clone(), format!("поступило: {urog_number}{date}"))];
    if !cites.is_empty() {
        history.push((
            r.ts.clone(),
            format!("повторное обращение: ссылается на {}", ids_text(cites)),
        ));
    }
    if let Some(h) = held {
        history.push((r.ts.clone(), format!("ожидает оператора: {h}")));
    }
    history
}

/// Registered: the year's sequence raised, the number indexed, the appeal's state, history
/// and timeline.
fn fold_registered<S: Shelf>(shelf: &mut S, r: &Record) -> Result<(), S::Error> {
    let Event::AppealRegistered {
        appeal,
        number,
        year,
        year_seq,
        date,
        pin_hash,
        by,
        overrides,
        comment,
        operator,
        ..
    } = &r.event
    else {
        return Ok(());
    };
    let body = shelf
        .load(*appeal)?
        .map_or_else(medo_model::BodyId::main, |a| a.body);
    shelf.raise_seq(&body, *year, *year_seq)?;
    shelf.index_number(&normalize_number(number), *appeal)?;
    shelf.change(*appeal, |a| {
        a.state = AppealState::Registered;
        a.number = Some(number.to_string());
        a.registered_on = Some(date.to_string());
        a.year = Some(*year);
        a.seq = Some(*year_seq);
        a.pin_hash = Some(pin_hash.clone());
        a.decided_by = Some(by.as_str().to_string());
        a.held = None;
        let forced = overrides
            .as_deref()
            .map(|o| {
                format!(
                    " вопреки основанию для отказа «{o}»: {}",
                    comment.as_deref().unwrap_or("")
                )
            })
            .unwrap_or_default();
        a.history.push((
            r.ts.clone(),
            format!(
                "зарегистрировано: {number} от {date} ({}){forced}",
                who(by.as_str(), operator.as_deref())
            ),
        ));
        a.timeline.push(TimelineEntry {
            status: "зарегистрировано".into(),
            at: r.ts.clone(),
            detail: Some(format!("№ {number} от {date}")),
        });
    })
}

/// Refused registration: the state, the reason and who decided.
fn fold_refused<S: Shelf>(shelf: &mut S, r: &Record) -> Result<(), S::Error> {
    let Event::AppealRefused {
        appeal,
        reason,
        comment,
        by,
        operator,
        ..
    } = &r.event
    else {
        return Ok(());
    };
    shelf.change(*appeal, |a| {
        a.state = AppealState::Refused;
        a.reason = Some(reason.as_str().to_string());
        a.comment = comment.clone();
        a.decided_by = Some(by.as_str().to_string());
        a.held = None;
        a.history.push((
            r.ts.clone(),
            format!(
                "отказано в регистрации: {reason} ({})",
                who(by.as_str(), operator.as_deref())
            ),
        ));
    })
}

/// A step of consideration: the outgoing sequence raised when the report went as a
/// document, the appeal's state, history line and timeline entry.
fn fold_progress<S: Shelf>(shelf: &mut S, r: &Record) -> Result<(), S::Error> {
    let Event::AppealProgress {
        appeal,
        step,
        year,
        year_seq,
        operator,
        ..
    } = &r.event
    else {
        return Ok(());
    };
    if let (Some(y), Some(s)) = (year, year_seq) {
        let body = shelf
            .load(*appeal)?
            .map_or_else(medo_model::BodyId::main, |a| a.body);
        shelf.raise_outgoing_seq(&body, *y, *s)?;
    }
    shelf.change(*appeal, |a| {
        a.steps += 1;
        let what = step_taken(a, step);
        let (status, detail) = step_recorded(a, step, &r.ts);
        a.timeline.push(TimelineEntry {
            status: status.into(),
            at: r.ts.clone(),
            detail: Some(detail),
        });
        let what = match operator {
            Some(o) => format!("{what} ({})", who("operator", Some(o))),
            None => what,
        };
        a.history.push((r.ts.clone(), what));
    })
}

/// The appeal's state after `step`, and the history line that says it.
fn step_taken(a: &mut Appeal, step: &Step) -> String {
    match step {
        Step::ExecutorAssigned { executor, post } => {
            a.state = AppealState::InWork;
            a.executor = Some(executor.clone());
            let post = post
                .as_deref()
                .map(|p| format!(", {p}"))
                .unwrap_or_default();
            format!("рассматривается: назначен исполнитель {executor}{post}")
        }
        Step::Extended { until, reason } => {
            a.state = AppealState::InWork;
            a.extended_to = Some(until.clone());
            a.extension_reason = Some(reason.clone());
            let shown = medo_wire::time::show_date_ru(until);
            format!("продлено до {shown}: {reason}")
        }
        Step::Redirected {
            to,
            number,
            as_appeal,
            comment,
            ..
        } => {
            a.state = AppealState::Redirected;
            a.redirected_to = Some(to.clone());
            a.redirected_as = *as_appeal;
            let letter = number
                .as_deref()
                .map(|n| format!(" (исх. № {n})"))
                .unwrap_or_default();
            let within = as_appeal
                .map(|id| format!(", обращение {id} этого узла"))
                .unwrap_or_default();
            let why = comment
                .as_deref()
                .map(|c| format!(": {c}"))
                .unwrap_or_default();
            format!("направлено по компетенции: {to}{letter}{within}{why}")
        }
        Step::Answered { result, file } => {
            a.state = AppealState::Answered;
            a.result = Some(result.clone());
            a.sstu_result = medo_model::result(result).map(|(_, s)| s.to_string());
            let label = medo_model::result(result).map_or(result.as_str(), |(l, _)| l);
            let attached = if file.is_some() {
                " (ответ приложен)"
            } else {
                ""
            };
            format!("рассмотрено: {label}{attached}")
        }
    }
}

/// The timeline's status and detail for `step` at `ts`, and what the applicant's status and
/// ССТУ.РФ need of it (the transfer, the answer file and day).
fn step_recorded(a: &mut Appeal, step: &Step, ts: &str) -> (&'static str, String) {
    match step {
        Step::ExecutorAssigned { executor, .. } => {
            ("рассматривается", format!("исполнитель: {executor}"))
        }
        Step::Extended { until, reason } => (
            "рассматривается",
            format!("срок продлён до {until}: {reason}"),
        ),
        Step::Redirected {
            to,
            sstu_id,
            number,
            ..
        } => {
            // the journal time: readers show its day in the configured zone
            a.transfer = Some((
                sstu_id.clone().unwrap_or_default(),
                ts.to_string(),
                number.clone().unwrap_or_default(),
            ));
            ("направлено", format!("направлено по компетенции: {to}"))
        }
        Step::Answered { result, file } => {
            a.answer_attached = file.is_some();
            a.answer_file = file
                .as_deref()
                .and_then(|f| std::path::Path::new(f).file_name())
                .map(|n| n.to_string_lossy().into_owned());
            a.answered_on = Some(ts.to_string());
            let label = medo_model::result(result).map_or(result.clone(), |(l, _)| l.to_string());
            ("рассмотрено", label)
        }
    }
}

/// A query answered: the outgoing sequence raised, the query's facts kept, the numbers it
/// could not resolve indexed (and those resolved since the last answer unindexed).
fn fold_query<S: Shelf>(shelf: &mut S, event: &Event) -> Result<(), S::Error> {
    let Event::QueryAnswered {
        arrival,
        key,
        query_number,
        query_date,
        requested,
        unresolved,
        outputs,
        number,
        year,
        year_seq,
        reanswer,
        body,
    } = event
    else {
        return Ok(());
    };
    let body = medo_model::BodyId::or_main(body.as_ref());
    if let (Some(y), Some(s)) = (year, year_seq) {
        shelf.raise_outgoing_seq(&body, *y, *s)?;
    }
    let still: std::collections::HashSet<String> =
        unresolved.iter().map(|u| normalize_number(u)).collect();
    let resolved: Vec<String> = shelf
        .load_query(*arrival)?
        .map(|p| p.unresolved)
        .unwrap_or_default()
        .iter()
        .map(|u| normalize_number(u))
        .filter(|u| !still.contains(u))
        .collect();
    let q = QueryFacts {
        arrival: *arrival,
        body,
        key: key.clone(),
        query_number: query_number.to_string(),
        query_date: *query_date,
        number: number.as_ref().map(|n| n.to_string()),
        date: outputs
            .first()
            .and_then(|o| o.registration.as_ref())
            .and_then(|r| r.date)
            .map(|d| d.to_string()),
        requested: requested.iter().map(|n| n.to_string()).collect(),
        unresolved: unresolved.iter().map(|n| n.to_string()).collect(),
        answers: reanswer.map_or(1, |k| k + 1),
        answer: outputs.first().cloned(),
    };
    shelf.note_query(&q, &resolved)
}

fn ids_text(ids: &[u64]) -> String {
    ids.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Read access to the appeals, whichever shelf holds them.
pub trait Appeals {
    /// The appeal with this internal id.
    fn appeal(&self, id: u64) -> Option<Appeal>;
    /// The appeal first received with this document uid.
    fn by_document(&self, uid: &str) -> Option<Appeal>;
    /// By our registration number, the УРОГ number (Latin or Cyrillic `А26`) or the internal
    /// id; an error says why not (unknown, or a УРОГ number shared by several appeals).
    fn find(&self, id: &str) -> Result<Appeal, Lookup>;
    /// As [`Appeals::find`], among `body`'s appeals only when one is given (our numbers
    /// repeat across the bodies of a hub).
    fn find_of(&self, body: Option<&str>, id: &str) -> Result<Appeal, Lookup> {
        let body = body.map(|b| [medo_model::BodyId::from(b)]);
        self.find_among(body.as_ref().map(|b| &b[..]), id)
    }
    /// As [`Appeals::find`], among the appeals of `bodies` only when given (what a hub's
    /// client of some bodies sees: another body's appeal is not there for it).
    fn find_among(
        &self,
        bodies: Option<&[medo_model::BodyId]>,
        id: &str,
    ) -> Result<Appeal, Lookup> {
        let Some(bodies) = bodies else {
            return self.find(id);
        };
        let of_body = |i: u64| self.appeal(i).filter(|a| bodies.contains(&a.body));
        let mine = |ids: Vec<u64>| -> Vec<u64> {
            ids.into_iter().filter(|i| of_body(*i).is_some()).collect()
        };
        find_in(
            id,
            |n| mine(self.ids_by_number(n)),
            |n| mine(self.ids_by_urog(n)),
            of_body,
        )
    }
    /// Our number (normalised) → the appeals carrying it (one per body of a hub).
    fn ids_by_number(&self, norm: &str) -> Vec<u64>;
    /// The appeals that carried this УРОГ number (normalised).
    fn ids_by_urog(&self, norm: &str) -> Vec<u64>;
    /// What an answer to a УРОГ query says of each of `ids` (resolved as [`Appeals::find`]
    /// does), in the same order. A query names up to thousands of appeals: a shelf may read
    /// compact [`StatusFacts`] instead of whole appeals, and resolve them in parallel.
    fn find_status_many(&self, ids: &[String]) -> Vec<Result<StatusFacts, Lookup>> {
        ids.iter()
            .map(|id| self.find(id).map(|a| StatusFacts::from(&a)))
            .collect()
    }
    /// The next registration sequence number of `body` in `year` (never reused, never
    /// skipped).
    fn next_seq(&self, body: &str, year: i32) -> u64;
    /// Every appeal, oldest first (operator commands and exports; the service uses the
    /// bounded walks below).
    fn all(&self) -> Vec<Appeal>;
    /// Up to `max` appeals after the id `after`, in id order (a page of the operator's list).
    fn after(&self, after: u64, max: usize) -> Vec<Appeal> {
        let mut out = Vec::new();
        self.each(&mut |a| {
            if a.id > after && out.len() < max {
                out.push(a.clone());
            }
        });
        out
    }
    /// Up to `max` appeals of `body` after the id `after`, in id order (a hub's page of one
    /// body; a store reads its body index).
    fn after_of(&self, body: &str, after: u64, max: usize) -> Vec<Appeal> {
        let mut out = Vec::new();
        self.each(&mut |a| {
            if a.id > after && a.body == body && out.len() < max {
                out.push(a.clone());
            }
        });
        out
    }
    /// Visits every appeal, oldest first, without collecting copies of them all.
    fn each(&self, visit: &mut dyn FnMut(&Appeal)) {
        for a in self.all() {
            visit(&a);
        }
    }
    /// The query answered from `arrival`.
    fn query_facts(&self, arrival: u64) -> Option<QueryFacts>;
    /// The packages held for the hub's operator (no body named), oldest first. Few by
    /// nature (each waits for a person), so listed whole.
    fn unrouted(&self) -> Vec<Unrouted>;
    /// Visits the deadline facts of every appeal still under consideration (received,
    /// registered, in work), oldest first — a few bytes each, so finding the overdue ones
    /// does not read the appeals.
    fn each_open_deadline(&self, visit: &mut dyn FnMut(u64, &DeadlineFacts));
    /// The `n` most recent appeals, newest first.
    fn recent(&self, n: usize) -> Vec<Appeal>;
}

/// What the answer to a УРОГ query says of an appeal — kept apart in the store (a few hundred
/// bytes, where the appeal with its history is kilobytes) so that a query naming thousands
/// of appeals reads little per appeal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusFacts {
    pub state: AppealState,
    pub received_at: String,
    pub urog_number: String,
    pub urog_date: Option<String>,
    pub number: Option<String>,
    pub registered_on: Option<String>,
    pub executor: Option<String>,
    pub extended_to: Option<String>,
    pub redirected_to: Option<String>,
    pub result: Option<String>,
    pub sstu_result: Option<String>,
}

impl From<&Appeal> for StatusFacts {
    fn from(a: &Appeal) -> Self {
        StatusFacts {
            state: a.state,
            received_at: a.received_at.clone(),
            urog_number: a.urog_number.clone(),
            urog_date: a.urog_date.clone(),
            number: a.number.clone(),
            registered_on: a.registered_on.clone(),
            executor: a.executor.clone(),
            extended_to: a.extended_to.clone(),
            redirected_to: a.redirected_to.clone(),
            result: a.result.clone(),
            sstu_result: a.sstu_result.clone(),
        }
    }
}

/// What an open appeal's deadlines depend on — kept apart in the store's index so that
/// finding the overdue ones reads a few bytes per appeal, not the appeal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadlineFacts {
    pub state: AppealState,
    pub received_at: String,
    pub registered_on: Option<String>,
    pub extended_to: Option<String>,
    /// Its body (a hub's supervision counts per body).
    #[serde(default = "medo_model::BodyId::main")]
    pub body: medo_model::BodyId,
    /// It waits for an operator (manual mode, a signature, an ambiguous classification).
    #[serde(default)]
    pub held: bool,
}

impl From<&Appeal> for DeadlineFacts {
    fn from(a: &Appeal) -> Self {
        DeadlineFacts {
            state: a.state,
            received_at: a.received_at.clone(),
            registered_on: a.registered_on.clone(),
            extended_to: a.extended_to.clone(),
            body: a.body.clone(),
            held: a.held.is_some(),
        }
    }
}

impl AppealState {
    /// Still under consideration: deadlines run.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            AppealState::Received | AppealState::Registered | AppealState::InWork
        )
    }
}

/// Why an appeal was not found by what an operator, a СЭД or УРОГ named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Lookup {
    #[error(
        "нет обращения {0:?} (укажите наш регистрационный номер, номер УРОГ или внутренний id)"
    )]
    Unknown(String),
    #[error("{id} — номер УРОГ у {} обращений ({}): укажите внутренний id", ids.len(), ids.iter().map(u64::to_string).collect::<Vec<_>>().join(", "))]
    Ambiguous { id: String, ids: Vec<u64> },
    /// Our number, given by several bodies of a hub (each numbers its own).
    #[error("номер {id} неоднозначен: его дали {} органа узла (обращения {}) — укажите --body", ids.len(), ids.iter().map(u64::to_string).collect::<Vec<_>>().join(", "))]
    OursInBodies { id: String, ids: Vec<u64> },
    /// The shelf could not be read (the store's error is logged where it happened).
    #[error("хранилище не читается")]
    Unreadable,
}

/// Resolves `id` through the three lookups every shelf offers.
pub fn find_in<T>(
    id: &str,
    by_number: impl FnOnce(&str) -> Vec<u64>,
    by_urog: impl FnOnce(&str) -> Vec<u64>,
    get: impl Fn(u64) -> Option<T>,
) -> Result<T, Lookup> {
    let norm = normalize_number(id);
    match by_number(&norm).as_slice() {
        [] => {}
        [one] => {
            if let Some(a) = get(*one) {
                return Ok(a);
            }
        }
        many => {
            return Err(Lookup::OursInBodies {
                id: id.to_string(),
                ids: many.to_vec(),
            })
        }
    }
    match by_urog(&norm).as_slice() {
        [] => {}
        [one] => {
            if let Some(a) = get(*one) {
                return Ok(a);
            }
        }
        many => {
            return Err(Lookup::Ambiguous {
                id: id.to_string(),
                ids: many.to_vec(),
            })
        }
    }
    if let Some(a) = id.trim().parse::<u64>().ok().and_then(&get) {
        return Ok(a);
    }
    Err(Lookup::Unknown(id.to_string()))
}

/// The in-memory shelf: all appeals, with lookups (operator commands fold one from the
/// journal).
#[derive(Debug, Default, Clone)]
pub struct AppealBook {
    appeals: BTreeMap<u64, Appeal>,
    by_document: HashMap<String, u64>,
    by_number: HashMap<String, Vec<u64>>,
    by_urog: HashMap<String, Vec<u64>>,
    /// (body, year) → the highest sequence number given.
    max_seq: HashMap<(String, i32), u64>,
    max_outgoing: HashMap<(String, i32), u64>,
    queries: HashMap<u64, QueryFacts>,
    /// Normalised numbers a query could not resolve → the queries.
    unresolved: HashMap<String, std::collections::BTreeSet<u64>>,
    /// Operator commands carried out (their ids).
    commands: std::collections::HashSet<String>,
    /// Packages held for the hub's operator, by arrival.
    unrouted: BTreeMap<u64, Unrouted>,
    dirs: HashMap<u64, String>,
}

impl AppealBook {
    /// Our registration number (normalised) → the appeals (one per body that gave it).
    pub fn number_index(&self, norm: &str) -> Vec<u64> {
        self.by_number.get(norm).cloned().unwrap_or_default()
    }

    /// The appeals that carried this УРОГ number (normalised).
    pub fn urog_index(&self, norm: &str) -> Vec<u64> {
        self.by_urog.get(norm).cloned().unwrap_or_default()
    }

    /// The highest outgoing-document sequence number `body` used in `year` (0: none).
    pub fn outgoing_seq(&self, body: &str, year: i32) -> u64 {
        let key = (body.to_string(), year);
        self.max_outgoing.get(&key).copied().unwrap_or(0)
    }

    /// Whether the operator command with this id was carried out.
    pub fn command_done(&self, id: &str) -> bool {
        self.commands.contains(id)
    }

    /// Queries that reported this (normalised) number as not found.
    pub fn awaiting_index(&self, norm: &str) -> Vec<u64> {
        self.unresolved
            .get(norm)
            .map(|ids| ids.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Folds one record in.
    pub fn apply(&mut self, r: &Record) {
        match fold(self, r) {
            Ok(()) => {}
            Err(never) => match never {},
        }
    }
}

impl Shelf for AppealBook {
    type Error = std::convert::Infallible;

    fn load(&self, id: u64) -> Result<Option<Appeal>, Self::Error> {
        Ok(self.appeals.get(&id).cloned())
    }
    fn save(&mut self, appeal: &Appeal) -> Result<(), Self::Error> {
        self.appeals.insert(appeal.id, appeal.clone());
        Ok(())
    }
    fn change(&mut self, id: u64, change: impl FnOnce(&mut Appeal)) -> Result<(), Self::Error> {
        if let Some(a) = self.appeals.get_mut(&id) {
            change(a);
        }
        Ok(())
    }
    fn index_document(&mut self, uid: &str, id: u64) -> Result<(), Self::Error> {
        self.by_document.entry(uid.to_string()).or_insert(id);
        Ok(())
    }
    fn index_number(&mut self, norm: &str, id: u64) -> Result<(), Self::Error> {
        // in id order, as a store's index lists them
        let ids = self.by_number.entry(norm.to_string()).or_default();
        if let Err(at) = ids.binary_search(&id) {
            ids.insert(at, id);
        }
        Ok(())
    }
    fn index_urog(&mut self, norm: &str, id: u64) -> Result<(), Self::Error> {
        let ids = self.by_urog.entry(norm.to_string()).or_default();
        if !ids.contains(&id) {
            ids.push(id);
        }
        Ok(())
    }
    fn raise_seq(&mut self, body: &str, year: i32, seq: u64) -> Result<(), Self::Error> {
        let m = self.max_seq.entry((body.to_string(), year)).or_default();
        *m = (*m).max(seq);
        Ok(())
    }
    fn raise_outgoing_seq(&mut self, body: &str, year: i32, seq: u64) -> Result<(), Self::Error> {
        let m = self
            .max_outgoing
            .entry((body.to_string(), year))
            .or_default();
        *m = (*m).max(seq);
        Ok(())
    }
    fn note_query(&mut self, q: &QueryFacts, resolved: &[String]) -> Result<(), Self::Error> {
        for n in resolved {
            if let Some(ids) = self.unresolved.get_mut(n) {
                ids.remove(&q.arrival);
            }
        }
        for n in &q.unresolved {
            self.unresolved
                .entry(normalize_number(n))
                .or_default()
                .insert(q.arrival);
        }
        self.queries.insert(q.arrival, q.clone());
        Ok(())
    }
    fn load_query(&self, arrival: u64) -> Result<Option<QueryFacts>, Self::Error> {
        Ok(self.queries.get(&arrival).cloned())
    }
    fn note_command(&mut self, id: &str) -> Result<(), Self::Error> {
        self.commands.insert(id.to_string());
        Ok(())
    }
    fn note_unrouted(&mut self, held: &Unrouted) -> Result<(), Self::Error> {
        self.unrouted.insert(held.arrival, held.clone());
        Ok(())
    }
    fn note_assigned(&mut self, arrival: u64) -> Result<(), Self::Error> {
        self.unrouted.remove(&arrival);
        Ok(())
    }
    fn dir_of(&self, arrival: u64) -> Result<Option<String>, Self::Error> {
        Ok(self.dirs.get(&arrival).cloned())
    }
    fn note_dir(&mut self, arrival: u64, dir: &str) -> Result<(), Self::Error> {
        self.dirs.insert(arrival, dir.to_string());
        Ok(())
    }
}

impl Appeals for AppealBook {
    fn appeal(&self, id: u64) -> Option<Appeal> {
        self.appeals.get(&id).cloned()
    }
    fn by_document(&self, uid: &str) -> Option<Appeal> {
        self.by_document
            .get(uid)
            .and_then(|id| self.appeals.get(id))
            .cloned()
    }
    fn ids_by_number(&self, norm: &str) -> Vec<u64> {
        self.number_index(norm)
    }
    fn ids_by_urog(&self, norm: &str) -> Vec<u64> {
        self.urog_index(norm)
    }
    fn find(&self, id: &str) -> Result<Appeal, Lookup> {
        find_in(
            id,
            |n| self.number_index(n),
            |n| self.by_urog.get(n).cloned().unwrap_or_default(),
            |i| self.appeals.get(&i).cloned(),
        )
    }
    fn next_seq(&self, body: &str, year: i32) -> u64 {
        let key = (body.to_string(), year);
        self.max_seq.get(&key).copied().unwrap_or(0) + 1
    }
    fn all(&self) -> Vec<Appeal> {
        self.appeals.values().cloned().collect()
    }
    fn each(&self, visit: &mut dyn FnMut(&Appeal)) {
        self.appeals.values().for_each(visit);
    }
    fn after(&self, after: u64, max: usize) -> Vec<Appeal> {
        let from = after.saturating_add(1);
        let range = self.appeals.range(from..).take(max);
        range.map(|(_, a)| a.clone()).collect()
    }
    fn recent(&self, n: usize) -> Vec<Appeal> {
        self.appeals.values().rev().take(n).cloned().collect()
    }
    fn unrouted(&self) -> Vec<Unrouted> {
        self.unrouted.values().cloned().collect()
    }
    fn query_facts(&self, arrival: u64) -> Option<QueryFacts> {
        self.queries.get(&arrival).cloned()
    }
    fn each_open_deadline(&self, visit: &mut dyn FnMut(u64, &DeadlineFacts)) {
        for a in self.appeals.values().filter(|a| a.state.is_open()) {
            visit(a.id, &DeadlineFacts::from(a));
        }
    }
}
/// Who took a decision, as the history says it: the person or СЭД client journaled in
/// `operator` when there is one (`ivanova` → «оператором ivanova», `api:delo` → «СЭД
/// delo»), else [`by_whom`].
fn who(by: &str, operator: Option<&str>) -> String {
    match operator {
        Some(o) if o.starts_with("api:") => by_whom(o),
        Some(o) => format!("оператором {o}"),
        None => by_whom(by),
    }
}

/// Who took a decision, as the history says it: `auto` → «автоматически», `operator` →
/// «оператором», `api:delo` → «СЭД delo»; anything else as journaled.
fn by_whom(by: &str) -> String {
    match by {
        "auto" => "автоматически".into(),
        "operator" => "оператором".into(),
        _ => by
            .strip_prefix("api:")
            .map_or_else(|| by.to_string(), |client| format!("СЭД {client}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (arrival, k) → id → (arrival): the first appeal is the arrival, the further ones lie
    /// beyond any journal position, none collide, and each knows its arrival.
    #[test]
    fn appeal_ids_of_an_arrival_are_unique_and_lead_back_to_it() {
        let mut seen = std::collections::HashSet::new();
        for arrival in [0, 1, 7, 1_000_000, (1 << 33) - 1] {
            for k in [0, 1, 2, APPEALS_PER_ARRIVAL - 1] {
                let id = appeal_id(arrival, k);
                assert!(seen.insert(id), "{arrival}/{k} twice");
                assert_eq!(arrival_of(id), arrival, "{arrival}/{k}");
                assert_eq!(id == arrival, k == 0);
                assert!(k == 0 || id >= FURTHER_APPEAL_IDS);
                assert!(id < 1 << 53, "exact in JSON");
            }
        }
        let book = [5, appeal_id(5, 1), appeal_id(5, 2)];
        assert_eq!(appeals_of(5, |id| book.contains(&id)), book);
        assert_eq!(appeals_of(6, |id| book.contains(&id)), Vec::<u64>::new());
    }
}
