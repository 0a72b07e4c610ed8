//! The public surface: the applicant's status (`GET /api/v1/status?number=…&pin=…`: rate-limited
//! per client address, wrong PINs locking a number for a minute, a wrong PIN answered exactly
//! like an unknown number) and `/healthz` (both surfaces).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::appeals::pin_hash;
use crate::book::{AppealState, TimelineEntry};

use super::{client_address, error, HttpState};

#[derive(Debug, Deserialize)]
pub(super) struct StatusQuery {
    number: String,
    pin: String,
    /// A hub's body (its id), when the applicant knows it: numbers repeat across bodies.
    body: Option<String>,
}

impl StatusQuery {
    pub(super) fn new(number: String, pin: String) -> StatusQuery {
        StatusQuery {
            number,
            pin,
            body: None,
        }
    }
}

/// What an applicant sees.
#[derive(Debug, Serialize)]
pub(super) struct ApplicantStatus {
    pub(super) number: String,
    pub(super) registered_on: Option<String>,
    pub(super) status: &'static str,
    pub(super) timeline: Vec<TimelineEntry>,
    pub(super) answer_available: bool,
    /// The answer is due by (registration + 30 days, or the extended date).
    pub(super) due_date: Option<String>,
    /// Who registered it, and where.
    pub(super) body: BodyShown,
    /// Where it was sent by competence.
    pub(super) redirected_to: Option<String>,
    pub(super) extended_until: Option<String>,
    pub(super) extension_reason: Option<String>,
    /// What the applicant may download (`/api/v1/status/files/{name}`).
    pub(super) files: Vec<FileShown>,
}

#[derive(Debug, Serialize)]
pub(super) struct BodyShown {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) address: Option<String>,
    pub(super) contacts: Option<String>,
}

#[derive(Debug, Serialize)]
pub(super) struct FileShown {
    pub(super) name: String,
    pub(super) kind: &'static str,
    pub(super) size: usize,
}

impl ApplicantStatus {
    /// The status of `a` as its applicant sees it.
    pub(super) fn of(a: &crate::book::Appeal, state: &HttpState) -> ApplicantStatus {
        let config = &state.config;
        let policy = config
            .policy
            .for_body(a.body.as_str())
            .unwrap_or_else(|| config.policy.clone());
        let today = crate::operator::today(config);
        let facts = medo_core::book::DeadlineFacts::from(a);
        let (due, _) = medo_core::due::deadlines(&facts, &policy, today);
        let docs = &policy.documents;
        ApplicantStatus {
            number: a.number.clone().unwrap_or_default(),
            registered_on: a.registered_on.clone(),
            status: a.state.label(),
            timeline: a.timeline.clone(),
            answer_available: a.answer_attached,
            due_date: due.answer_by.map(crate::wire::time::format_date),
            body: BodyShown {
                id: a.body.to_string(),
                name: policy.sender.organization.clone(),
                address: docs.address.clone(),
                contacts: docs.contacts.clone(),
            },
            redirected_to: a.redirected_to.clone(),
            extended_until: a.extended_to.clone(),
            extension_reason: a.extension_reason.clone(),
            files: crate::applicant::files(a, config)
                .into_iter()
                .map(|f| FileShown {
                    name: f.name,
                    kind: f.kind,
                    size: f.bytes.len(),
                })
                .collect(),
        }
    }
}

pub(super) async fn status(
    State(state): State<Arc<HttpState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<StatusQuery>,
) -> Response {
    match looked_up(&state, peer, &headers, &q) {
        Ok(a) => match shown(state, a).await {
            Some(s) => Json(s).into_response(),
            None => error(StatusCode::INTERNAL_SERVER_ERROR, "the status failed"),
        },
        Err(r) => r,
    }
}

/// The status as its applicant sees it, made off the runtime (the notices are PDFs drawn
/// and the answer is read from disk).
pub(super) async fn shown(
    state: Arc<HttpState>,
    a: crate::book::Appeal,
) -> Option<ApplicantStatus> {
    tokio::task::spawn_blocking(move || ApplicantStatus::of(&a, &state))
        .await
        .ok()
}

/// `GET /api/v1/status/files/{name}?number=&pin=`: one of the files the status lists, under
/// the same rate limit and PIN lock; a name not listed is not there (404).
pub(super) async fn status_file(
    State(state): State<Arc<HttpState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    axum::extract::Path(name): axum::extract::Path<String>,
    Query(q): Query<StatusQuery>,
) -> Response {
    let a = match looked_up(&state, peer, &headers, &q) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let config = state.config.clone();
    let found = tokio::task::spawn_blocking(move || {
        crate::applicant::files(&a, &config)
            .into_iter()
            .find(|f| f.name == name)
    })
    .await;
    let Ok(Some(file)) = found else {
        return error(StatusCode::NOT_FOUND, "нет такого файла");
    };
    let kind = match file.name.rsplit_once('.').map(|(_, e)| e) {
        Some("pdf") => "application/pdf",
        _ => "application/octet-stream",
    };
    let disposition = crate::appeal_files::content_disposition_as(&file.name, &file.download_name);
    (
        [
            (axum::http::header::CONTENT_TYPE, kind.to_string()),
            (axum::http::header::CONTENT_DISPOSITION, disposition),
            (axum::http::header::CACHE_CONTROL, "no-store".to_string()),
        ],
        file.bytes,
    )
        .into_response()
}

/// What a URL's query, path segment or an RFC 5987 file name may carry as it is: letters,
/// digits, `-._~`; everything else percent-encoded.
pub(super) const URL_SAFE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The applicant's appeal for `q` (rate-limited per client address; a wrong PIN, an unknown
/// number, one not registered or refused all answer alike, 404), or the answer to give.
#[allow(clippy::result_large_err)]
pub(super) fn looked_up(
    state: &HttpState,
    peer: SocketAddr,
    headers: &HeaderMap,
    q: &StatusQuery,
) -> Result<crate::book::Appeal, Response> {
    let client = client_address(peer.ip(), headers, &state.config.http_limits);
    if let Err(wait) = state.allow(client) {
        state.refused(StatusCode::TOO_MANY_REQUESTS, Some(client));
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let mut r = error(
            StatusCode::TOO_MANY_REQUESTS,
            &format!("too many lookups; try again in {} s", secs.max(1)),
        );
        r.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from(secs.max(1)),
        );
        return Err(r);
    }
    let not_found = || error(StatusCode::NOT_FOUND, "нет обращения с таким номером и PIN");
    let Some(a) = with_pin(state, q, Instant::now()) else {
        return Err(not_found());
    };
    if a.state == AppealState::Received || a.state == AppealState::Refused {
        return Err(not_found());
    }
    Ok(a)
}

/// The appeal numbered `q.number` (only our registration number) whose PIN is `q.pin`
/// (spaces and dashes aside), at `q.body` when given — in a hub several bodies may have given
/// one number, and the PIN tells their appeals apart. Wrong PINs are counted, and lock, per
/// body and number (every appeal of that number the try could have meant); an unknown number
/// counts under the number itself, so both answer alike.
fn with_pin(state: &HttpState, q: &StatusQuery, now: Instant) -> Option<crate::book::Appeal> {
    let number = crate::appeals::normalize_number(&q.number);
    let body = q.body.as_deref().filter(|b| !b.is_empty());
    let candidates: Vec<crate::book::Appeal> = state
        .book
        .ids_by_number(&number)
        .into_iter()
        .filter_map(|id| state.book.appeal(id))
        .filter(|a| a.number.as_deref() == Some(q.number.trim()))
        .filter(|a| body.is_none_or(|b| a.body == b))
        .collect();
    let key = |a: &crate::book::Appeal| format!("{}/{number}", a.body);
    let mut pins = state.pins.lock().expect("pin guard lock");
    if candidates.is_empty() {
        if !pins.locked(&number, now) {
            pins.failed(&number, now);
        }
        return None;
    }
    let open: Vec<&crate::book::Appeal> = candidates
        .iter()
        .filter(|a| !pins.locked(&key(a), now))
        .collect();
    let pin: String = q.pin.chars().filter(char::is_ascii_digit).collect();
    let found = open
        .iter()
        .find(|a| a.pin_hash.as_deref() == Some(pin_hash(a.id, &pin).as_str()));
    match found {
        Some(a) => {
            pins.succeeded(&key(a));
            Some((*a).clone())
        }
        None => {
            open.iter().for_each(|a| pins.failed(&key(a), now));
            None
        }
    }
}

/// Wrong PINs for one number within [`PIN_LOCK`] after which that number answers «not
/// found» to every PIN — the right one too — for [`PIN_LOCK`].
pub const PIN_WRONG_TRIES: usize = 5;

/// The window the wrong tries are counted in, and how long the lock then lasts.
pub const PIN_LOCK: Duration = Duration::from_secs(60);

/// Wrong PINs per appeal number (whatever the addresses they come from): [`PIN_WRONG_TRIES`]
/// within a minute lock the number for [`PIN_LOCK`], counted from the try that locked it.
/// Tries during the lock — wrong, or the applicant's own right one — neither count nor
/// extend it, and one wrong try a minute never locks: an attacker can neither guess on
/// (10^10 PINs at 5 a minute) nor keep the applicant out longer than the attack lasts plus
/// a minute.
#[derive(Debug, Default)]
pub struct PinGuard {
    numbers: HashMap<String, PinTries>,
}

/// One number's recent wrong tries, and the end of its lock if it is locked.
#[derive(Debug, Default)]
pub(super) struct PinTries {
    wrong: std::collections::VecDeque<Instant>,
    locked_until: Option<Instant>,
}

impl PinGuard {
    /// Whether lookups of `number` are locked at `now`.
    pub fn locked(&self, number: &str, now: Instant) -> bool {
        self.numbers
            .get(number)
            .and_then(|t| t.locked_until)
            .is_some_and(|until| now < until)
    }

    /// A wrong PIN for `number` at `now` (tries while locked are not counted).
    pub fn failed(&mut self, number: &str, now: Instant) {
        if self.locked(number, now) {
            return;
        }
        if self.numbers.len() > 100_000 {
            self.numbers.retain(|_, t| {
                t.locked_until.is_some_and(|u| now < u)
                    || t.wrong
                        .back()
                        .is_some_and(|w| now.duration_since(*w) < PIN_LOCK)
            });
        }
        let t = self.numbers.entry(number.to_string()).or_default();
        t.locked_until = None;
        t.wrong.retain(|w| now.duration_since(*w) < PIN_LOCK);
        t.wrong.push_back(now);
        if t.wrong.len() >= PIN_WRONG_TRIES {
            t.wrong.clear();
            t.locked_until = Some(now + PIN_LOCK);
        }
    }

    /// The right PIN (outside a lock): the count starts again.
    pub fn succeeded(&mut self, number: &str) {
        self.numbers.remove(number);
    }
}

/// `GET /healthz`: 200 `{"status":"ok"}` while the loop passes ([`crate::health`]), else
/// 503 with the reason.
pub(super) async fn healthz(State(state): State<Arc<HttpState>>) -> Response {
    match state.health.check() {
        Ok(()) => {
            let mut body = serde_json::json!({ "status": "ok" });
            if let Some(l) = state.health.leadership() {
                body["role"] = l.role.name().into();
            }
            Json(body).into_response()
        }
        Err(why) => error(StatusCode::SERVICE_UNAVAILABLE, &why),
    }
}
