//! The appeal book: every forwarded appeal as the journal tells it — a pure fold over journal
//! records (`apply`). The service keeps one in memory (rebuilt from the journal at start);
//! operator commands build one read-only from the journal, so they work while the service runs.
//! Holds numbers and states only; the annotation and the applicant stay in the archived package.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Serialize;

use crate::appeals::{normalize_number, SignatureFile};
use crate::control::Step;
use crate::journal::{Event, JournalError, Record};

/// Where an appeal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AppealState {
    /// поступило (waiting for registration: manual mode, or held)
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

/// One forwarded appeal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Appeal {
    /// Internal id: the arrival (journal seq of its `received` record).
    pub id: u64,
    pub key: String,
    pub received_at: String,
    pub urog_number: String,
    pub urog_number_norm: String,
    pub urog_date: Option<String>,
    pub urog_organization: Option<String>,
    pub document_uid: String,
    pub source_uid: String,
    pub format: String,
    pub restricted: bool,
    pub signatures: Vec<SignatureFile>,
    pub held: Option<String>,
    pub state: AppealState,
    pub number: Option<String>,
    pub registered_on: Option<String>,
    pub year: Option<i32>,
    pub seq: Option<u64>,
    #[serde(skip)]
    pub pin_hash: Option<String>,
    pub reason: Option<String>,
    pub comment: Option<String>,
    pub decided_by: Option<String>,
    /// Where its package rests (`archive/…`).
    pub dir: Option<String>,
    /// Steps of consideration reported so far.
    pub steps: u64,
    pub executor: Option<String>,
    pub extended_to: Option<String>,
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
    /// The answer's file name (kept under `state_dir/answers/<id>/`) and date.
    pub answer_file: Option<String>,
    pub answered_on: Option<String>,
    /// Redirect: the receiving body's ССТУ id, the date, our cover letter's number.
    pub transfer: Option<(String, String, String)>,
}

/// One status in the applicant's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelineEntry {
    /// поступило, зарегистрировано, направлено, рассматривается, рассмотрено
    pub status: &'static str,
    pub at: String,
    pub detail: Option<String>,
}

/// All appeals, with lookups.
#[derive(Debug, Default, Clone)]
pub struct AppealBook {
    appeals: BTreeMap<u64, Appeal>,
    by_document: HashMap<String, u64>,
    by_number: HashMap<String, u64>,
    by_urog: HashMap<String, Vec<u64>>,
    max_seq: HashMap<i32, u64>,
    dirs: HashMap<u64, String>,
}

impl AppealBook {
    /// Builds the book from the whole journal (stops with an error at a bad record).
    pub fn load(journal: &Path) -> Result<AppealBook, JournalError> {
        let mut book = AppealBook::default();
        for r in crate::journal::read_all(journal)? {
            book.apply(&r);
        }
        Ok(book)
    }

    /// Folds one record in.
    pub fn apply(&mut self, r: &Record) {
        match &r.event {
            Event::AppealReceived {
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
            } => {
                let mut history = vec![(
                    r.ts.clone(),
                    format!(
                        "поступило: {urog_number}{}",
                        urog_date
                            .as_deref()
                            .map(|d| format!(" от {d}"))
                            .unwrap_or_default()
                    ),
                )];
                if let Some(h) = held {
                    history.push((r.ts.clone(), format!("ожидает оператора: {h}")));
                }
                let a = Appeal {
                    id: *appeal,
                    key: key.clone(),
                    received_at: r.ts.clone(),
                    urog_number: urog_number.clone(),
                    urog_number_norm: urog_number_norm.clone(),
                    urog_date: urog_date.clone(),
                    urog_organization: urog_organization.clone(),
                    document_uid: document_uid.clone(),
                    source_uid: source_uid.clone(),
                    format: format.clone(),
                    restricted: *restricted,
                    signatures: signatures.clone(),
                    held: held.clone(),
                    state: AppealState::Received,
                    number: None,
                    registered_on: None,
                    year: None,
                    seq: None,
                    pin_hash: None,
                    reason: None,
                    comment: None,
                    decided_by: None,
                    dir: self.dirs.get(appeal).cloned(),
                    steps: 0,
                    executor: None,
                    extended_to: None,
                    redirected_to: None,
                    result: None,
                    sstu_result: None,
                    redeliveries: Vec::new(),
                    history,
                    timeline: vec![TimelineEntry {
                        status: "поступило",
                        at: r.ts.clone(),
                        detail: None,
                    }],
                    answer_attached: false,
                    answer_file: None,
                    answered_on: None,
                    transfer: None,
                };
                self.by_document
                    .entry(document_uid.clone())
                    .or_insert(*appeal);
                self.by_urog
                    .entry(urog_number_norm.clone())
                    .or_default()
                    .push(*appeal);
                self.appeals.insert(*appeal, a);
            }
            Event::AppealRegistered {
                appeal,
                number,
                year,
                year_seq,
                date,
                pin_hash,
                by,
                ..
            } => {
                let m = self.max_seq.entry(*year).or_default();
                *m = (*m).max(*year_seq);
                self.by_number.insert(normalize_number(number), *appeal);
                if let Some(a) = self.appeals.get_mut(appeal) {
                    a.state = AppealState::Registered;
                    a.number = Some(number.clone());
                    a.registered_on = Some(date.clone());
                    a.year = Some(*year);
                    a.seq = Some(*year_seq);
                    a.pin_hash = Some(pin_hash.clone());
                    a.decided_by = Some(by.clone());
                    a.held = None;
                    a.history.push((
                        r.ts.clone(),
                        format!("зарегистрировано: {number} от {date} ({by})"),
                    ));
                    a.timeline.push(TimelineEntry {
                        status: "зарегистрировано",
                        at: r.ts.clone(),
                        detail: Some(format!("№ {number} от {date}")),
                    });
                }
            }
            Event::AppealRefused {
                appeal,
                reason,
                comment,
                by,
                ..
            } => {
                if let Some(a) = self.appeals.get_mut(appeal) {
                    a.state = AppealState::Refused;
                    a.reason = Some(reason.clone());
                    a.comment = comment.clone();
                    a.decided_by = Some(by.clone());
                    a.held = None;
                    a.history.push((
                        r.ts.clone(),
                        format!("отказано в регистрации: {reason} ({by})"),
                    ));
                }
            }
            Event::AppealProgress { appeal, step, .. } => {
                if let Some(a) = self.appeals.get_mut(appeal) {
                    a.steps += 1;
                    let what = match step {
                        Step::ExecutorAssigned { executor, post } => {
                            a.state = AppealState::InWork;
                            a.executor = Some(executor.clone());
                            format!(
                                "рассматривается: назначен исполнитель {executor}{}",
                                post.as_deref()
                                    .map(|p| format!(", {p}"))
                                    .unwrap_or_default()
                            )
                        }
                        Step::Extended { until, reason } => {
                            a.state = AppealState::InWork;
                            a.extended_to = Some(until.clone());
                            let shown = crate::wire::time::parse_date(until)
                                .and_then(|d| {
                                    d.format(time::macros::format_description!(
                                        "[day].[month].[year]"
                                    ))
                                    .ok()
                                })
                                .unwrap_or_else(|| until.clone());
                            format!("продлено до {shown}: {reason}")
                        }
                        Step::Redirected { to, number, .. } => {
                            a.state = AppealState::Redirected;
                            a.redirected_to = Some(to.clone());
                            format!(
                                "направлено по компетенции: {to}{}",
                                number
                                    .as_deref()
                                    .map(|n| format!(" (исх. № {n})"))
                                    .unwrap_or_default()
                            )
                        }
                        Step::Answered { result, file } => {
                            a.state = AppealState::Answered;
                            a.result = Some(result.clone());
                            a.sstu_result =
                                crate::control::result(result).map(|(_, s)| s.to_string());
                            let label =
                                crate::control::result(result).map_or(result.as_str(), |(l, _)| l);
                            format!(
                                "рассмотрено: {label}{}",
                                if file.is_some() {
                                    " (ответ приложен)"
                                } else {
                                    ""
                                }
                            )
                        }
                    };
                    let (status, detail) = match step {
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
                        } => {
                            a.transfer = Some((
                                sstu_id.clone().unwrap_or_default(),
                                r.ts.get(..10).unwrap_or("").to_string(),
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
                            a.answered_on = r.ts.get(..10).map(str::to_string);
                            (
                                "рассмотрено",
                                crate::control::result(result)
                                    .map_or(result.clone(), |(l, _)| l.to_string()),
                            )
                        }
                    };
                    a.timeline.push(TimelineEntry {
                        status,
                        at: r.ts.clone(),
                        detail: Some(detail),
                    });
                    a.history.push((r.ts.clone(), what));
                }
            }
            Event::AppealRedelivered { appeal, of, .. } => {
                if let Some(a) = self.appeals.get_mut(of) {
                    a.redeliveries.push(*appeal);
                    a.history.push((
                        r.ts.clone(),
                        format!("доставлено повторно (поступление {appeal})"),
                    ));
                }
            }
            Event::Archived { arrival, dir, .. } => {
                self.dirs.insert(*arrival, dir.clone());
                if let Some(a) = self.appeals.get_mut(arrival) {
                    a.dir = Some(dir.clone());
                }
            }
            _ => {}
        }
    }

    /// The next registration sequence number of `year` (never reused, never skipped).
    pub fn next_seq(&self, year: i32) -> u64 {
        self.max_seq.get(&year).copied().unwrap_or(0) + 1
    }

    pub fn get(&self, id: u64) -> Option<&Appeal> {
        self.appeals.get(&id)
    }

    /// The appeal first received with this document uid.
    pub fn by_document(&self, uid: &str) -> Option<&Appeal> {
        self.by_document
            .get(uid)
            .and_then(|id| self.appeals.get(id))
    }

    /// Finds an appeal by our registration number, the УРОГ number (Latin or Cyrillic `А26`),
    /// or the internal id.
    pub fn find(&self, id: &str) -> Result<&Appeal, String> {
        let norm = normalize_number(id);
        if let Some(a) = self.by_number.get(&norm).and_then(|i| self.appeals.get(i)) {
            return Ok(a);
        }
        if let Some(ids) = self.by_urog.get(&norm) {
            return match ids.as_slice() {
                [one] => Ok(&self.appeals[one]),
                many => Err(format!(
                    "{id} is the УРОГ number of {} appeals ({}); use the internal id",
                    many.len(),
                    many.iter()
                        .map(u64::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            };
        }
        if let Ok(n) = id.trim().parse::<u64>() {
            if let Some(a) = self.appeals.get(&n) {
                return Ok(a);
            }
        }
        Err(format!(
            "no appeal {id:?} (give our registration number, the УРОГ number or the internal id)"
        ))
    }

    /// Every appeal, oldest first.
    pub fn all(&self) -> impl Iterator<Item = &Appeal> {
        self.appeals.values()
    }
}
