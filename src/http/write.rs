//! The operators' write side: registration, refusal and steps of consideration, each queued as
//! an operator command (`control`), with `Idempotency-Key` replays; a step's file in the body
//! (JSON base64 or multipart), never a host path.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::control;
use crate::idempotency::{Keys, Seen};
use crate::wire::hash::Sha256;

use super::{authorize, error, refusal, HttpState, Need};

/// The body of `POST /api/v1/appeals/{id}/events`: a step of consideration, as a command
/// file carries it (its own type: not the journal's). It never names a path — no host path
/// crosses the HTTP API; a file (the answer, the extension or redirect letter) comes in the
/// request itself, at most `limits.max_answer_bytes`: as `file_name` + `file_base64` in the
/// JSON, or as `multipart/form-data` with the part `event` (the step as JSON) and the part
/// `file` (its `filename` the file's name).
pub(super) struct EventBody {
    step: control::Step,
    file: Option<(String, Vec<u8>)>,
}

impl EventBody {
    /// The body again when its file (if any) reads as a PDF (`pdf::inspect`, on a blocking
    /// thread), else why not.
    async fn with_pdf_checked(self) -> Result<Self, String> {
        let Some((name, bytes)) = self.file else {
            return Ok(self);
        };
        let checked = tokio::task::spawn_blocking(move || {
            let facts = crate::pdf::inspect(&bytes);
            (bytes, facts)
        })
        .await;
        match checked {
            Ok((bytes, Ok(_))) => Ok(EventBody {
                step: self.step,
                file: Some((name, bytes)),
            }),
            Ok((_, Err(e))) => Err(format!("{name}: {e}")),
            Err(_) => Err(format!("{name}: не PDF: файл не читается")),
        }
    }

    /// The body by its content type.
    async fn read(headers: &HeaderMap, raw: axum::body::Bytes, max: u64) -> Result<Self, String> {
        let kind = headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/json");
        match kind.starts_with("multipart/form-data") {
            true => Self::from_form(kind, raw, max).await,
            false => Self::parse(&raw, max),
        }
    }

    fn parse(bytes: &[u8], max: u64) -> Result<EventBody, String> {
        let mut v: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
        let object = v.as_object_mut().ok_or("the body is a JSON object")?;
        let (name, content) = (object.remove("file_name"), object.remove("file_base64"));
        let file = match (name, content) {
            (None, None) => None,
            (Some(serde_json::Value::String(n)), Some(serde_json::Value::String(b64))) => {
                Some((n, decode_file(&b64, max)?))
            }
            _ => {
                return Err("файлу ответа нужны оба поля: file_name и file_base64 (строки)".into())
            }
        };
        Self::checked(v, file)
    }

    async fn from_form(kind: &str, raw: axum::body::Bytes, max: u64) -> Result<Self, String> {
        use axum::extract::{FromRequest, Multipart};
        let request = axum::http::Request::builder()
            .header(axum::http::header::CONTENT_TYPE, kind)
            .body(axum::body::Body::from(raw))
            .map_err(|e| e.to_string())?;
        let mut form = Multipart::from_request(request, &())
            .await
            .map_err(|e| e.body_text())?;
        let bad = |e: axum::extract::multipart::MultipartError| {
            format!("multipart: тело не читается: {e}")
        };
        let (mut step, mut file) = (None, None);
        while let Some(part) = form.next_field().await.map_err(bad)? {
            match part.name() {
                Some("event") => step = Some(part.bytes().await.map_err(bad)?),
                Some("file") => {
                    let name = part.file_name().unwrap_or(UNNAMED).to_string();
                    let bytes = part.bytes().await.map_err(bad)?;
                    if bytes.len() as u64 > max {
                        return Err(too_large(max));
                    }
                    file = Some((name, bytes.to_vec()));
                }
                other => {
                    return Err(format!(
                        "неизвестная часть {other:?}: части — \"event\" (шаг в JSON) и \"file\""
                    ))
                }
            }
        }
        let step = step.ok_or("нет части \"event\" (шаг в JSON)")?;
        let v = serde_json::from_slice(&step).map_err(|e| format!("event: не JSON: {e}"))?;
        Self::checked(v, file)
    }

    /// The step (no path in it).
    fn checked(v: serde_json::Value, file: Option<(String, Vec<u8>)>) -> Result<Self, String> {
        let step: control::Step =
            serde_json::from_value(v).map_err(|e| format!("не шаг рассмотрения: {e}"))?;
        if step.file().is_some() {
            return Err(NO_PATHS.into());
        }
        Ok(EventBody { step, file })
    }

    /// What the idempotency key binds, whatever the form it came in: the step, the file's
    /// name and digest.
    fn canonical(&self) -> Vec<u8> {
        let file = self
            .file
            .as_ref()
            .map(|(name, bytes)| (name, hex::encode(Sha256::digest(bytes))));
        serde_json::to_vec(&(&self.step, file)).unwrap_or_default()
    }
}

/// The name a `file` part without a `filename` is sent under.
pub(super) const UNNAMED: &str = "document.pdf";

pub(super) fn too_large(max: u64) -> String {
    format!("the file is larger than limits.max_answer_bytes ({max} bytes)")
}

/// A file sent as base64, at most `max` bytes once decoded.
pub(super) fn decode_file(b64: &str, max: u64) -> Result<Vec<u8>, String> {
    if (b64.len() as u64) > max.saturating_mul(4) / 3 + 4 {
        return Err(too_large(max));
    }
    // standard alphabet and padding; the unused bits of the last symbol are not judged
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
    );
    let bytes = base64::Engine::decode(&engine, b64).map_err(|e| format!("file_base64: {e}"))?;
    match bytes.len() as u64 > max {
        true => Err(too_large(max)),
        false => Ok(bytes),
    }
}

/// What a body naming a path is told.
pub(super) const NO_PATHS: &str = "API не принимает путь к файлу: передайте файл в теле запроса — \"file_name\" и \"file_base64\" или часть \"file\" тела multipart/form-data (не больше limits.max_answer_bytes)";

pub(super) async fn event(
    State(state): State<Arc<HttpState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    raw: axum::body::Bytes,
) -> Response {
    if let Some(r) = refusal(&state, &headers, Need::Write) {
        return r;
    }
    let max = state.config.limits.max_answer_bytes;
    let body = match EventBody::read(&headers, raw, max).await {
        Ok(b) => b,
        Err(why) => return error(StatusCode::BAD_REQUEST, &why),
    };
    if body.file.is_some() && matches!(body.step, control::Step::ExecutorAssigned { .. }) {
        let why = "файл принимают только «answered», «extended» и «redirected» (ответ, письмо о продлении или о переадресации)";
        return error(StatusCode::UNPROCESSABLE_ENTITY, why);
    }
    // a file that does not read as a PDF is refused before anything is remembered or queued
    let body = match body.with_pdf_checked().await {
        Ok(b) => b,
        Err(why) => return error(StatusCode::UNPROCESSABLE_ENTITY, &why),
    };
    let (operator, keyed, id) =
        match write_access(&state, &headers, b"events", &id, &body.canonical()) {
            Ok(x) => x,
            Err(r) => return r,
        };
    let state_dir = state.config.spool.shared_root().to_path_buf();
    let about = id.clone();
    queue(&state, keyed, &about, move || {
        let step = match body.file {
            Some((name, bytes)) => {
                let reference = control::attach_bytes(&state_dir, &name, &bytes, max)
                    .map_err(|e| e.to_string())?;
                body.step.with_file(reference).unwrap_or_else(|s| s)
            }
            None => body.step,
        };
        Ok(control::Command::Progress {
            id,
            step,
            operator: Some(operator),
        })
    })
    .await
}

/// Queues the command `build` makes (an operator command, applied by the run loop) and
/// waits a little for its outcome; with an idempotency key, a repeat answers the first
/// result and never queues twice (`build` is not called then).
pub(super) async fn queue(
    state: &HttpState,
    keyed: Option<crate::idempotency::Key>,
    about: &str,
    build: impl FnOnce() -> Result<control::Command, String>,
) -> Response {
    let state_dir = state.config.spool.shared_root();
    let keys = crate::idempotency::Folder::new(state_dir);
    let name = match &keyed {
        None => None,
        Some(k) => {
            match keys.recall(k) {
                Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &format!("keys: {e}")),
                Ok(Seen::Conflict) => {
                    return error(
                        StatusCode::CONFLICT,
                        "this Idempotency-Key was used with another request",
                    )
                }
                Ok(Seen::Same(first)) => match replay(state, k, &first, about).await {
                    Some(r) => return r,
                    None => Some(first), // remembered, never queued (a crash): queue it now
                },
                Ok(Seen::New(name)) => Some(name),
            }
        }
    };
    let command = match build() {
        Ok(c) => c,
        Err(why) => {
            // refused before anything was queued: the key is not burned
            if let Some(k) = &keyed {
                keys.forget(k);
            }
            return error(StatusCode::BAD_REQUEST, &why);
        }
    };
    let queued = match &name {
        Some(n) => control::submit_named(state_dir, &command, n),
        None => control::submit(state_dir, &command),
    };
    match queued {
        Ok(path) => wait_outcome(state, &path, about).await,
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("cannot queue the command: {e}"),
        ),
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RegistrationBody {
    number: Option<String>,
    date: Option<String>,
    #[serde(default)]
    force: bool,
    comment: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RefusalBody {
    reason: String,
    comment: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RedirectBody {
    to: String,
    #[serde(default)]
    comment: Option<String>,
}

impl Checked for RedirectBody {
    fn problem(&self) -> Option<String> {
        self.to
            .trim()
            .is_empty()
            .then(|| "to: орган, которому направляется обращение, должен быть назван".into())
    }
}

/// `POST /api/v1/appeals/{id}/redirect` `{"to": "…", "comment": "…"}` (scope `write`,
/// idempotent like the other writes): redirect by competence to another body of the hub —
/// registered anew there, УРОГ notified «направлено» naming it.
pub(super) async fn redirect(
    State(state): State<Arc<HttpState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    raw: axum::body::Bytes,
) -> Response {
    json_write(
        &state,
        &headers,
        id,
        &raw,
        "redirect",
        |id, operator, body: RedirectBody| control::Command::Redirect {
            id,
            to: body.to,
            comment: body.comment,
            operator: Some(operator),
        },
    )
    .await
}

/// `POST /api/v1/appeals/{id}/registration` (scope `write`): register under the СЭД's own
/// number and date; the refusal rules apply as in manual mode (`force` with a `comment`
/// overrides, journaled with the client as operator).
pub(super) async fn registration(
    State(state): State<Arc<HttpState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    raw: axum::body::Bytes,
) -> Response {
    json_write(
        &state,
        &headers,
        id,
        &raw,
        "registration",
        |id, operator, body: RegistrationBody| control::Command::Register {
            id,
            number: body.number,
            force: body.force,
            comment: body.comment,
            operator: Some(operator),
            date: body.date,
        },
    )
    .await
}

/// `POST /api/v1/appeals/{id}/refusal` (scope `write`): refuse with one of the nine reasons.
pub(super) async fn refusal_of(
    State(state): State<Arc<HttpState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    raw: axum::body::Bytes,
) -> Response {
    json_write(
        &state,
        &headers,
        id,
        &raw,
        "refusal",
        |id, operator, body: RefusalBody| control::Command::Refuse {
            id,
            reason: body.reason,
            comment: body.comment,
            operator: Some(operator),
        },
    )
    .await
}

/// A write with a JSON body: [`write_access`]'s checks, the body read as `B` (400 «not a
/// `what`» otherwise), and the command `build` makes of (id, operator, body) queued.
pub(super) async fn json_write<
    B: serde::de::DeserializeOwned + Serialize + Checked + Send + 'static,
>(
    state: &HttpState,
    headers: &HeaderMap,
    id: String,
    raw: &[u8],
    what: &'static str,
    build: impl FnOnce(String, String, B) -> control::Command + Send + 'static,
) -> Response {
    // who first (401/403), then the body's form (400), then the rest
    if let Err(r) = authorize(state, headers, Need::Write) {
        return r;
    }
    let body: B = match serde_json::from_slice(raw) {
        Ok(b) => b,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("тело — не запрос {what}: {e}"),
            )
        }
    };
    // the request compared by meaning: the parsed body, written canonically (JSON escapes,
    // spacing and member order, defaults written or not, all the same request)
    let canonical = serde_json::to_vec(&body).expect("bodies serialise");
    let (operator, keyed, id) = match write_access(state, headers, what.as_bytes(), &id, &canonical)
    {
        Ok(x) => x,
        Err(r) => return r,
    };
    // refused before anything is remembered: the corrected retry under the same key goes
    // through
    if let Some(why) = body.problem() {
        return error(StatusCode::UNPROCESSABLE_ENTITY, &why);
    }
    let about = id.clone();
    queue(state, keyed, &about, move || Ok(build(id, operator, body))).await
}

/// `POST /api/v1/arrivals/{id}/assignment`'s body: the body a held package is for.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AssignmentBody {
    body: String,
}

/// `POST /api/v1/arrivals/{id}/assignment` `{"body": "…"}` (scope `write`; idempotent like
/// the other writes): a region's hub — a package held «адресат не определён» decided as that
/// body's (`appeals assign`). A client of some bodies assigns to those only; an arrival that
/// is not held is not there to assign (404).
pub(super) async fn assignment(
    State(state): State<Arc<HttpState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    raw: axum::body::Bytes,
) -> Response {
    let client = match authorize(&state, &headers, Need::Write) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let wanted: AssignmentBody = match serde_json::from_slice(&raw) {
        Ok(b) => b,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("тело — не назначение органа: {e}"),
            )
        }
    };
    let Ok(arrival) = id.trim().parse::<u64>() else {
        return error(StatusCode::NOT_FOUND, "нет такого поступления");
    };
    if state.config.policy.body(&wanted.body).is_none() || !client.sees(&wanted.body) {
        return error(StatusCode::NOT_FOUND, "нет такого органа");
    }
    let canonical = serde_json::to_vec(&wanted).expect("bodies serialise");
    let keyed = match idempotency_key(
        &client.name,
        &headers,
        &[b"assignment", id.as_bytes(), &canonical],
    ) {
        Ok(k) => k,
        Err(why) => return error(StatusCode::BAD_REQUEST, &why),
    };
    let held = state.book.unrouted().iter().any(|h| h.arrival == arrival);
    if !held && keyed.is_none() {
        return error(
            StatusCode::NOT_FOUND,
            "поступление не ждёт назначения органа",
        );
    }
    let operator = format!("api:{}", client.name);
    let about = arrival.to_string();
    queue(&state, keyed, &about, move || match held {
        true => Ok(control::Command::Assign {
            arrival,
            body: wanted.body,
            operator: Some(operator),
        }),
        false => Err("поступление не ждёт назначения органа".into()),
    })
    .await
}

/// What a write's body says wrong before it is queued (`None`: nothing).
pub(super) trait Checked {
    fn problem(&self) -> Option<String>;
}

impl Checked for RegistrationBody {
    fn problem(&self) -> Option<String> {
        self.number
            .as_deref()
            .and_then(crate::appeals::number_problem)
    }
}

impl Checked for RefusalBody {
    fn problem(&self) -> Option<String> {
        None
    }
}

/// A write's checks: the `write` scope, the appeal exists among the bodies the client sees
/// (another body's is not there: 404), the idempotency key; the client's name as the
/// operator (`api:<name>`), and the appeal's internal id (unique across a hub's bodies: what
/// the command names).
#[allow(clippy::result_large_err)]
pub(super) fn write_access(
    state: &HttpState,
    headers: &HeaderMap,
    what: &[u8],
    id: &str,
    raw: &[u8],
) -> Result<(String, Option<crate::idempotency::Key>, String), Response> {
    let client = authorize(state, headers, Need::Write)?;
    let appeal = match state.book.find_among(client.bodies.as_deref(), id) {
        Ok(a) => a,
        Err(why @ crate::book::Lookup::OursInBodies { .. }) => {
            return Err(error(StatusCode::CONFLICT, &why.to_string()))
        }
        Err(_) => return Err(error(StatusCode::NOT_FOUND, "нет такого обращения")),
    };
    let keyed = idempotency_key(&client.name, headers, &[what, id.as_bytes(), raw])
        .map_err(|why| error(StatusCode::BAD_REQUEST, &why))?;
    Ok((format!("api:{}", client.name), keyed, appeal.id.to_string()))
}

/// The request's `Idempotency-Key`, bound to the client and the request (`Ok(None)`: none
/// given), or why a malformed one is refused.
pub(super) fn idempotency_key(
    client: &str,
    headers: &HeaderMap,
    request: &[&[u8]],
) -> Result<Option<crate::idempotency::Key>, String> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    value
        .to_str()
        .map_err(|_| "Idempotency-Key: visible ASCII only".to_string())
        .and_then(|v| crate::idempotency::key(client, v, request).map_err(|e| e.to_string()))
        .map(Some)
}

/// The first result of a repeated keyed request: applied (journaled), rejected (its
/// reason), or still queued (waited for); `None` when it was never queued.
pub(super) async fn replay(
    state: &HttpState,
    key: &crate::idempotency::Key,
    first: &str,
    about: &str,
) -> Option<Response> {
    let applied = match state.store.as_ref().map(|s| s.try_command_done(&key.id)) {
        Some(Err(e)) => {
            return Some(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("store: {e}"),
            ))
        }
        Some(Ok(done)) => done,
        None => false,
    };
    if applied {
        let mut body = applied_body(state, about);
        body["replayed"] = serde_json::Value::Bool(true);
        return Some((StatusCode::OK, Json(body)).into_response());
    }
    let queue = control::dir(state.config.spool.shared_root());
    let path = queue.join(format!("{first}.json"));
    let rejected = queue.join("rejected").join(format!("{first}.json"));
    (path.exists() || rejected.exists()).then_some(())?;
    Some(wait_outcome(state, &path, about).await)
}

/// What an applied command answers: `applied`, and the appeal as it now stands — its id,
/// our registration number (a registration's first answer and every replay of it say
/// which number was given), its status.
pub(super) fn applied_body(state: &HttpState, about: &str) -> serde_json::Value {
    let mut body = serde_json::json!({ "applied": true });
    if let Ok(a) = state.book.find(about) {
        body["appeal"] = a.id.into();
        if let Some(n) = &a.number {
            body["number"] = n.clone().into();
        }
        body["status"] = serde_json::to_value(a.state).unwrap_or_default();
    }
    body
}

/// Waits a little for the run loop to apply a queued command (it watches the queue): 200
/// applied, 422 rejected with the reason, 202 still queued.
pub(super) async fn wait_outcome(
    state: &HttpState,
    path: &std::path::Path,
    about: &str,
) -> Response {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match control::outcome(path) {
            Some(Ok(())) => {
                return (StatusCode::OK, Json(applied_body(state, about))).into_response()
            }
            Some(Err(why)) => return error(StatusCode::UNPROCESSABLE_ENTITY, &why),
            None if Instant::now() >= deadline => {
                return (
                    StatusCode::ACCEPTED,
                    Json(serde_json::json!({ "applied": false, "queued": true })),
                )
                    .into_response()
            }
            None => tokio::time::sleep(Duration::from_millis(25)).await,
        }
    }
}
