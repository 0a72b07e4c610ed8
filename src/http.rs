//! The HTTP API inside `run`: the operators' listener (`[http] listen`: dashboard, metrics,
//! the write API; off loopback the dashboard and metrics need the token) and, optionally, a
//! public one (`[http] public_listen`: the applicant's status and `/healthz` only). SED events
//! (`POST /api/v1/appeals/{id}/events`, bearer token from `api_token_file`), the applicant's
//! status (`GET /api/v1/status?number=…&pin=…`, rate-limited per client; a wrong PIN answers
//! exactly like an unknown number), `/metrics` (Prometheus text) and `/healthz`. Reads appeals from the store (every commit
//! is visible) and the metrics the run loop publishes after each pass; writes only operator
//! commands into the control queue.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::wire::hash::Sha256;

use crate::appeals::pin_hash;
use crate::book::{AppealState, Appeals, TimelineEntry};
use crate::config::{ApiClient, Config, Scopes};
use crate::control;
use crate::idempotency::Seen;

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
struct PinTries {
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

/// What the handlers share.
pub struct HttpState {
    pub config: Config,
    /// The appeals (the service's store: reads see each commit).
    pub book: Arc<dyn Appeals + Send + Sync>,
    /// The service's store, for the dashboard's spool section (read-only).
    pub store: Option<crate::store::Store>,
    /// The metrics as of the last pass.
    pub metrics: Arc<RwLock<crate::metrics::Metrics>>,
    /// The API's clients: `[[api.clients]]` and the `api_token_file` (client `api`, read and
    /// write) — each token kept only as its SHA-256. None: the API is off (403).
    pub clients: Vec<ApiClient>,
    /// Status lookups per client address (`governor`'s GCRA: a burst of `[http]
    /// status_lookups_per_minute`, then one every 60 / that seconds).
    limiter: governor::DefaultKeyedRateLimiter<IpAddr>,
    pins: Mutex<PinGuard>,
    /// The operators' listener is bound to a loopback address (then the dashboard and
    /// `/metrics` need no token).
    pub loopback: bool,
    /// The clients' webhooks, as they fare.
    pub webhooks: crate::webhooks::Statuses,
    /// What `/healthz` answers (the loop reports each pass).
    pub health: Arc<crate::health::Health>,
    /// Refusals (401, 429) logged at most every [`REFUSAL_LOG_EVERY`], with how many came.
    refusals: Mutex<HashMap<u16, (Option<Instant>, u64)>>,
    /// Heavy reads (the API list, the feed, the dashboard) served at once, at most
    /// [`HEAVY_READS`]: memory stays bounded however many clients ask at once.
    heavy: Arc<tokio::sync::Semaphore>,
}

/// Heavy reads served at once; more are answered 503 with `Retry-After: 1`.
pub const HEAVY_READS: usize = 8;

/// How often refusals of one kind are logged at most (a flood must not flood the log).
pub const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(10);

impl HttpState {
    pub fn new(
        config: Config,
        store: crate::store::Store,
        metrics: Arc<RwLock<crate::metrics::Metrics>>,
        token: Option<String>,
    ) -> HttpState {
        let mut clients = config.api_clients.clone();
        if let Some(t) = token {
            clients.push(ApiClient {
                name: "api".into(),
                token_sha256: Sha256::digest(t.as_bytes()).into(),
                scopes: Scopes {
                    read: true,
                    write: true,
                    dsp: false,
                },
                webhook: None,
            });
        }
        let health = Arc::new(crate::health::Health::new(&config));
        let lookups = governor::Quota::per_minute(
            std::num::NonZeroU32::new(config.http_limits.status_lookups_per_minute)
                .unwrap_or(std::num::NonZeroU32::MIN),
        );
        HttpState {
            config,
            book: Arc::new(store.clone()),
            store: Some(store),
            metrics,
            clients,
            limiter: governor::RateLimiter::keyed(lookups),
            pins: Mutex::new(PinGuard::default()),
            loopback: true,
            webhooks: Default::default(),
            health,
            refusals: Mutex::new(HashMap::new()),
            heavy: Arc::new(tokio::sync::Semaphore::new(HEAVY_READS)),
        }
    }

    /// Logs a refusal (401 without a valid token, 429 over the lookup limit): a WARN now and
    /// then, with the count since the last one.
    fn refused(&self, status: StatusCode, from: Option<IpAddr>) {
        let mut map = self.refusals.lock().expect("refusals lock");
        let (last, count) = map.entry(status.as_u16()).or_insert((None, 0));
        *count += 1;
        if last.is_none_or(|t| t.elapsed() >= REFUSAL_LOG_EVERY) {
            let ip = from.map(|ip| ip.to_string()).unwrap_or_default();
            tracing::warn!(status = status.as_u16(), count = *count, from = %ip, "HTTP requests refused");
            (*last, *count) = (Some(Instant::now()), 0);
        }
    }

    /// Whether `ip` may make another status lookup now; otherwise how long until it may.
    fn allow(&self, ip: IpAddr) -> Result<(), Duration> {
        use governor::clock::{Clock, DefaultClock};
        if self.limiter.len() > 100_000 {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(&ip)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// The client a request comes from: the peer, or — when the peer is a trusted proxy
/// (`[http] trusted_proxies`) — the nearest address before it in `X-Forwarded-For` (or
/// `Forwarded: for=`) that is not a trusted proxy itself. From anyone else those headers
/// are ignored: a client cannot choose its own address.
pub fn client_address(
    peer: IpAddr,
    headers: &HeaderMap,
    limits: &crate::config::HttpLimits,
) -> IpAddr {
    if !limits.trusts(peer) {
        return peer;
    }
    let forwarded_for = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::to_string)
        .collect::<Vec<_>>();
    let hops = if forwarded_for.is_empty() {
        headers
            .get_all("forwarded")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|element| {
                element.split(';').find_map(|pair| {
                    let (k, v) = pair.split_once('=')?;
                    k.trim().eq_ignore_ascii_case("for").then(|| v.to_string())
                })
            })
            .collect()
    } else {
        forwarded_for
    };
    hops.iter()
        .rev()
        .filter_map(|h| forwarded_ip(h))
        .find(|ip| !limits.trusts(*ip))
        .unwrap_or(peer)
}

/// An address as a forwarding header writes it: `203.0.113.7`, `"[2001:db8::1]:443"`,
/// `203.0.113.7:5555`.
fn forwarded_ip(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim().trim_matches('"');
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Some(rest) = hop.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    hop.parse::<SocketAddr>().ok().map(|s| s.ip())
}

/// What the appeal says, as `appeals show` has it (read from its archived package): its
/// kind and content («Содержание»), the cover letter's requisites and signatories, how it
/// came (МЭДО, from УРОГ).
fn appeal_content(
    a: &crate::book::Appeal,
    book: &dyn crate::book::Appeals,
    config: &crate::config::Config,
) -> serde_json::Value {
    let d = crate::operator::details(a, book, config, crate::operator::today(config), None);
    serde_json::json!({
        "kind": d.kind,
        "annotation": d.annotation,
        "cover_letter": {
            "number": a.urog_number,
            "date": a.urog_date,
            "organization": a.urog_organization,
            "signatories": d.signatories,
        },
        "delivery": "МЭДО",
        "sender": config.policy.partner(&a.source_uid).map(|p| p.name.clone()),
    })
}

/// Whether the request's client holds the `dsp` scope (ДСП appeals' details).
fn has_dsp(state: &HttpState, headers: &HeaderMap) -> bool {
    client(state, headers).is_some_and(|c| c.scopes.dsp)
}

/// A slot for a heavy read, or 503 «busy» with `Retry-After: 1` when [`HEAVY_READS`] run.
#[allow(clippy::result_large_err)]
fn heavy_slot(state: &HttpState) -> Result<tokio::sync::OwnedSemaphorePermit, Response> {
    state.heavy.clone().try_acquire_owned().map_err(|_| {
        let mut r = error(
            StatusCode::SERVICE_UNAVAILABLE,
            "занято: слишком много тяжёлых запросов одновременно; повторите через секунду",
        );
        r.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("1"),
        );
        r
    })
}

/// Which routes a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// `[http] listen`: the dashboard, `/metrics`, the write API (and the status lookup).
    Operators,
    /// `[http] public_listen`: only `GET /api/v1/status` and `/healthz`; anything else 404.
    Public,
}

/// A route: its method, path and handler (one table, so the OpenAPI document can be checked
/// against what is served).
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub surface: Surface,
    handler: axum::routing::MethodRouter<Arc<HttpState>>,
}

/// Every route: the public surface's, then the operators' (which serve the public ones too).
pub fn routes(body_limit: usize) -> Vec<Route> {
    use Surface::{Operators as O, Public as P};
    let route = |method, path, surface, handler| Route {
        method,
        path,
        surface,
        handler,
    };
    vec![
        route("GET", "/healthz", P, get(healthz)),
        route("GET", "/api/v1/status", P, get(status)),
        route("GET", "/", O, get(dashboard)),
        route("GET", "/metrics", O, get(metrics)),
        route("GET", "/api/v1/openapi.json", O, get(openapi)),
        route("GET", "/api/v1/changes", O, get(changes)),
        route("GET", "/api/v1/appeals", O, get(appeals_page)),
        route("GET", "/api/v1/appeals/{id}", O, get(appeal_one)),
        route(
            "GET",
            "/api/v1/appeals/{id}/files/{name}",
            O,
            get(appeal_file),
        ),
        route(
            "POST",
            "/api/v1/appeals/{id}/registration",
            O,
            post(registration),
        ),
        route("POST", "/api/v1/appeals/{id}/refusal", O, post(refusal_of)),
        route(
            "POST",
            "/api/v1/appeals/{id}/events",
            O,
            post(event).layer(axum::extract::DefaultBodyLimit::max(body_limit)),
        ),
    ]
}

/// The routes of a surface; every error answered as problem details.
pub fn router(state: Arc<HttpState>, surface: Surface) -> Router {
    // a step with the largest answer file in base64, and room for the rest
    let body_limit = (state.config.limits.max_answer_bytes as usize / 3 + 1) * 4 + 64 * 1024;
    routes(body_limit)
        .into_iter()
        .filter(|r| surface == Surface::Operators || r.surface == Surface::Public)
        .fold(Router::new(), |router, r| router.route(r.path, r.handler))
        .layer(axum::middleware::map_response(problems))
        .with_state(state)
}

/// The OpenAPI document (`docs/openapi.yaml`, built in), as JSON.
pub fn openapi_document() -> &'static serde_json::Value {
    static DOCUMENT: std::sync::LazyLock<serde_json::Value> = std::sync::LazyLock::new(|| {
        yaml_serde::from_str(include_str!("../docs/openapi.yaml"))
            .expect("docs/openapi.yaml is valid YAML (checked by the tests)")
    });
    &DOCUMENT
}

async fn openapi() -> Response {
    Json(openapi_document()).into_response()
}

/// Any error response that is not problem details yet — axum's own rejections (plain text),
/// an unknown route or method (no body) — becomes one, its text the detail; its other headers
/// (`Allow`, `Retry-After`) kept.
async fn problems(response: Response) -> Response {
    use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
    let status = response.status();
    let done = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v == "application/problem+json");
    if status.as_u16() < 400 || done {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let detail = match text.is_empty() {
        true => status.canonical_reason().unwrap_or("error").to_string(),
        false => text,
    };
    let mut problem = error(status, &detail);
    for (name, value) in &parts.headers {
        if name != CONTENT_TYPE && name != CONTENT_LENGTH {
            problem.headers_mut().insert(name.clone(), value.clone());
        }
    }
    problem
}

/// `GET /healthz`: 200 `{"status":"ok"}` while the loop passes ([`crate::health`]), else
/// 503 with the reason.
async fn healthz(State(state): State<Arc<HttpState>>) -> Response {
    match state.health.check() {
        Ok(()) => Json(serde_json::json!({ "status": "ok" })).into_response(),
        Err(why) => error(StatusCode::SERVICE_UNAVAILABLE, &why),
    }
}

async fn metrics(State(state): State<Arc<HttpState>>, headers: HeaderMap) -> Response {
    if let Some(r) = operators_only(&state, &headers) {
        return r;
    }
    let hooks = state
        .webhooks
        .lock()
        .expect("webhook statuses lock")
        .clone();
    let body = state.metrics.read().expect("metrics lock").render(&hooks);
    // OpenMetrics when asked for (Prometheus asks), the 0.0.4 text otherwise
    let openmetrics = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/openmetrics-text"));
    let (kind, body) = match openmetrics {
        true => (crate::metrics::CONTENT_TYPE, body),
        false => (
            crate::metrics::TEXT_CONTENT_TYPE,
            crate::metrics::to_text_004(&body),
        ),
    };
    ([(axum::http::header::CONTENT_TYPE, kind)], body).into_response()
}

/// On an operators' listener bound to a non-loopback address, the dashboard and `/metrics`
/// need the bearer token too; `None` when the request may pass.
fn operators_only(state: &HttpState, headers: &HeaderMap) -> Option<Response> {
    if state.loopback {
        return None;
    }
    refusal(state, headers, Need::Read)
}

/// An error as RFC 9457 problem details (`application/problem+json`); `error` repeats the
/// detail for clients written against the first version of the API.
/// An appeal not found (or a УРОГ number naming several: 404 too — the client names it by our
/// number or id instead); a store that cannot be read: 503.
fn lookup_status(why: &crate::book::Lookup) -> StatusCode {
    match why {
        crate::book::Lookup::Unreadable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::NOT_FOUND,
    }
}

fn error(code: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({
        "type": "about:blank",
        "title": code.canonical_reason().unwrap_or("Error"),
        "status": code.as_u16(),
        "detail": message,
        "error": message,
    });
    let kind = [(axum::http::header::CONTENT_TYPE, "application/problem+json")];
    (code, kind, body.to_string()).into_response()
}

#[derive(Debug, Deserialize)]
struct ChangesQuery {
    after: Option<String>,
    limit: Option<usize>,
}

/// `GET /api/v1/changes?after=&limit=`: the changes feed (scope `read`), journal order, up to
/// what the store has applied (durable).
async fn changes(
    State(state): State<Arc<HttpState>>,
    headers: HeaderMap,
    Query(q): Query<ChangesQuery>,
) -> Response {
    if let Some(r) = refusal(&state, &headers, Need::Read) {
        return r;
    }
    let Some(from) = crate::feed::parse_cursor(q.after.as_deref().unwrap_or("")) else {
        return error(StatusCode::BAD_REQUEST, "after: не курсор этой ленты");
    };
    let store = match running_store(&state, "the feed needs") {
        Ok(s) => s,
        Err(r) => return r,
    };
    let journal =
        crate::journal::Folder::new(crate::spool::Layout::new(&state.config.spool).journal);
    let limit = match page_size(q.limit, crate::feed::MAX_LIMIT) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let (dsp, book) = (has_dsp(&state, &headers), state.book.clone());
    let slot = match heavy_slot(&state) {
        Ok(s) => s,
        Err(r) => return r,
    };
    read_json("journal", move || {
        let _slot = slot;
        let durable = store
            .applied_seq()
            .map_err(|e| e.to_string())?
            .map_or(0, |s| s + 1);
        let mut page =
            crate::feed::page(&journal, from, durable, limit).map_err(|e| e.to_string())?;
        crate::feed::for_scope(&mut page, dsp, |id| {
            book.appeal(id).is_some_and(|a| a.restricted)
        });
        crate::feed::with_numbers(&mut page, |id| book.appeal(id).and_then(|a| a.number));
        Ok::<_, String>(page)
    })
    .await
}

/// The running service's store, or 503 saying that `what` needs it.
#[allow(clippy::result_large_err)]
fn running_store(state: &HttpState, what: &str) -> Result<crate::store::Store, Response> {
    state.store.clone().ok_or_else(|| {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("{what} the running service"),
        )
    })
}

/// Runs a read off the async threads; its value as JSON, its error as a 500 naming `source`.
async fn read_json<T: Serialize + Send + 'static, E: std::fmt::Display + Send + 'static>(
    source: &str,
    read: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Response {
    match tokio::task::spawn_blocking(read).await {
        Ok(Ok(value)) => Json(value).into_response(),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, &format!("{source}: {e}")),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// A page's `limit`: 100 when absent, otherwise 1 to `max` (more is an error, not a clamp).
#[allow(clippy::result_large_err)]
fn page_size(limit: Option<usize>, max: usize) -> Result<usize, Response> {
    match limit.unwrap_or(100) {
        n if (1..=max).contains(&n) => Ok(n),
        _ => Err(error(
            StatusCode::BAD_REQUEST,
            &format!("limit: from 1 to {max}"),
        )),
    }
}

#[derive(Debug, Deserialize)]
struct AppealsQuery {
    status: Option<String>,
    updated_since: Option<String>,
    cursor: Option<String>,
    limit: Option<usize>,
}

/// `GET /api/v1/appeals?status=&updated_since=&cursor=&limit=` (scope `read`).
async fn appeals_page(
    State(state): State<Arc<HttpState>>,
    headers: HeaderMap,
    Query(q): Query<AppealsQuery>,
) -> Response {
    use crate::appeals_api as api;
    if let Some(r) = refusal(&state, &headers, Need::Read) {
        return r;
    }
    let Some(after) = api::parse_cursor(q.cursor.as_deref().unwrap_or("")) else {
        return error(StatusCode::BAD_REQUEST, "cursor: не курсор этого списка");
    };
    let status =
        match q.status.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => match api::parse_status(s) {
                Some(s) => Some(s),
                None => return error(
                    StatusCode::BAD_REQUEST,
                    "status: one of received, registered, refused, in_work, redirected, answered",
                ),
            },
        };
    let filter = api::Filter {
        status,
        updated_since: q.updated_since.filter(|s| !s.is_empty()),
    };
    let store = match running_store(&state, "the list needs") {
        Ok(s) => s,
        Err(r) => return r,
    };
    let config = state.config.clone();
    let limit = match page_size(q.limit, api::MAX_LIMIT) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let dsp = has_dsp(&state, &headers);
    let slot = match heavy_slot(&state) {
        Ok(s) => s,
        Err(r) => return r,
    };
    read_json("store", move || {
        let _slot = slot;
        // appeals decoded one at a time: the request holds its page, not what it looked at
        let mut failed = None;
        let scanned = store
            .iter_appeals_after(after)
            .map_while(|r| r.map_err(|e| failed = Some(e)).ok());
        let page = api::page(scanned, after, (&filter, dsp), limit, &config);
        failed.map_or(Ok(page), Err)
    })
    .await
}

/// `GET /api/v1/appeals/{id}` (scope `read`): one appeal, by our number, the УРОГ number or
/// the id, with its history.
async fn appeal_one(
    State(state): State<Arc<HttpState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(r) = refusal(&state, &headers, Need::Read) {
        return r;
    }
    let (book, store, config) = (
        state.book.clone(),
        state.store.clone(),
        state.config.clone(),
    );
    let dsp = has_dsp(&state, &headers);
    let found = tokio::task::spawn_blocking(move || {
        book.find(&id).map(|a| {
            let mut summary =
                crate::appeals_api::summary(&a, &config, crate::operator::today(&config));
            if let (true, Some(store)) = (summary.files.is_empty(), store) {
                // journaled before files were: as its package holds them
                summary.files = crate::appeal_files::of(&config, &store, &a)
                    .map(|(_, files)| files)
                    .unwrap_or_default();
            }
            if a.restricted && !dsp {
                // ДСП without the dsp scope: numbers, dates and a state, nothing more
                let summary = crate::appeals_api::for_scope(summary, false);
                let none: [u64; 0] = [];
                return serde_json::json!({ "appeal": summary, "content": null, "history": [], "cites": none, "cited_by": none });
            }
            let content = appeal_content(&a, book.as_ref(), &config);
            serde_json::json!({ "appeal": summary, "content": content, "history": a.history, "cites": a.cites, "cited_by": a.cited_by })
        })
    })
    .await;
    match found {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err(why)) => error(lookup_status(&why), &why.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// `GET /api/v1/appeals/{id}/files/{name}` (scope `read`; an appeal's files marked ДСП need
/// `dsp` too): one file the appeal arrived with, streamed from the archive (see
/// [`crate::appeal_files`]); `If-None-Match` with its `ETag` answers 304.
async fn appeal_file(
    State(state): State<Arc<HttpState>>,
    headers: HeaderMap,
    Path((id, name)): Path<(String, String)>,
) -> Response {
    use crate::appeal_files as files;
    use axum::http::header;
    let client = match authorize(&state, &headers, Need::Read) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let dsp = client.scopes.dsp;
    let store = match running_store(&state, "files need") {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (book, config) = (state.book.clone(), state.config.clone());
    let found = tokio::task::spawn_blocking(move || {
        let a = book
            .find(&id)
            .map_err(|why| (lookup_status(&why), why.to_string()))?;
        if a.restricted && !dsp {
            let why = "обращение ДСП: его файлы — только клиенту с областью dsp";
            return Err((StatusCode::FORBIDDEN, why.to_string()));
        }
        let (dir, list) = files::of(&config, &store, &a)
            .map_err(|why| (StatusCode::INTERNAL_SERVER_ERROR, why))?;
        match files::find(&list, &name) {
            // in the package, but named by nothing (not the envelope, the message or the
            // passport): listed as `other`, never served as part of the appeal
            Some(f) if f.role == crate::model::FileRole::Other => Err((
                StatusCode::NOT_FOUND,
                format!("{name:?} не входит в обращение: его не называет ни конверт, ни сообщение (в списке — role other)"),
            )),
            Some(f) => Ok((a.id, dir, f.clone())),
            None => Err((
                StatusCode::NOT_FOUND,
                format!("у обращения нет файла {name:?}"),
            )),
        }
    })
    .await;
    let (appeal, dir, file) = match found {
        Ok(Ok(x)) => x,
        Ok(Err((code, why))) => return error(code, &why),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let etag = format!("\"{}\"", file.sha256);
    let same = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut h = HeaderMap::new();
    let mut put = |k, v: String| {
        if let Ok(v) = axum::http::HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    };
    put(header::ETAG, etag);
    put(header::CACHE_CONTROL, "private, no-store".into());
    if same {
        return (StatusCode::NOT_MODIFIED, h).into_response();
    }
    put(header::CONTENT_TYPE, files::content_type(&file.name));
    put(header::CONTENT_LENGTH, file.size.to_string());
    put(
        header::CONTENT_DISPOSITION,
        files::content_disposition(&file.name),
    );
    put(header::X_CONTENT_TYPE_OPTIONS, "nosniff".into());
    (h, files::stream(dir, file, appeal)).into_response()
}

#[derive(Debug, Deserialize)]
struct DashboardQuery {
    q: Option<String>,
}

async fn dashboard(
    State(state): State<Arc<HttpState>>,
    headers: HeaderMap,
    Query(q): Query<DashboardQuery>,
) -> Response {
    if let Some(r) = operators_only(&state, &headers) {
        return r;
    }
    let slot = match heavy_slot(&state) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let state = state.clone();
    // the page reads the journal and folders: off the async threads
    let html = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let hooks = state
            .webhooks
            .lock()
            .expect("webhook statuses lock")
            .clone();
        let held = state.metrics.read().expect("metrics lock").held.clone();
        crate::dashboard::page(
            &state.config,
            state.book.as_ref(),
            state.store.as_ref(),
            q.q.as_deref(),
            (&hooks, &held),
        )
    })
    .await
    .unwrap_or_else(|e| format!("<p>error: {e}</p>"));
    axum::response::Html(html).into_response()
}

#[derive(Debug, Deserialize)]
struct StatusQuery {
    number: String,
    pin: String,
}

/// What an applicant sees.
#[derive(Debug, Serialize)]
struct ApplicantStatus {
    number: String,
    registered_on: Option<String>,
    status: &'static str,
    timeline: Vec<TimelineEntry>,
    answer_available: bool,
}

async fn status(
    State(state): State<Arc<HttpState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<StatusQuery>,
) -> Response {
    let client = client_address(peer.ip(), &headers, &state.config.http_limits);
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
        return r;
    }
    let not_found = || error(StatusCode::NOT_FOUND, "нет обращения с таким номером и PIN");
    let number = crate::appeals::normalize_number(&q.number);
    let now = Instant::now();
    let mut pins = state.pins.lock().expect("pin guard lock");
    if pins.locked(&number, now) {
        return not_found();
    }
    // only our registration number, and only with the right PIN (spaces and dashes aside)
    let pin: String = q.pin.chars().filter(char::is_ascii_digit).collect();
    let found = state.book.find(&q.number).ok().filter(|a| {
        a.number.as_deref() == Some(q.number.trim())
            && a.pin_hash.as_deref() == Some(pin_hash(a.id, &pin).as_str())
    });
    let Some(a) = found else {
        pins.failed(&number, now);
        return not_found();
    };
    pins.succeeded(&number);
    drop(pins);
    if a.state == AppealState::Received || a.state == AppealState::Refused {
        return not_found();
    }
    Json(ApplicantStatus {
        number: a.number.clone().unwrap_or_default(),
        registered_on: a.registered_on.clone(),
        status: a.state.label(),
        timeline: a.timeline.clone(),
        answer_available: a.answer_attached,
    })
    .into_response()
}

/// A scope an endpoint needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Read,
    Write,
}

/// The client whose bearer token the request carries: its SHA-256 compared with every
/// client's (all of them, without an early exit).
fn client<'a>(state: &'a HttpState, headers: &HeaderMap) -> Option<&'a ApiClient> {
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)?;
    let digest: [u8; 32] = Sha256::digest(given.as_bytes()).into();
    let mut found = None;
    for c in &state.clients {
        let diff = c
            .token_sha256
            .iter()
            .zip(digest.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if diff == 0 {
            found = Some(c);
        }
    }
    found
}

/// The client whose token the request carries, when it has the scope `need`; otherwise the
/// refusal: 403 when the API has no client, 401 without a valid token, 403 for a missing
/// scope.
#[allow(clippy::result_large_err)]
fn authorize<'a>(
    state: &'a HttpState,
    headers: &HeaderMap,
    need: Need,
) -> Result<&'a ApiClient, Response> {
    if state.clients.is_empty() {
        return Err(error(
            StatusCode::FORBIDDEN,
            "API выключен: не заданы ни [[api.clients]], ни api_token_file",
        ));
    }
    let Some(c) = client(state, headers) else {
        state.refused(StatusCode::UNAUTHORIZED, None);
        let mut r = error(
            StatusCode::UNAUTHORIZED,
            "нужен действующий токен (Authorization: Bearer …)",
        );
        // RFC 6750 §3: how to authenticate
        r.headers_mut().insert(
            axum::http::header::WWW_AUTHENTICATE,
            axum::http::HeaderValue::from_static("Bearer realm=\"medo-gateway\""),
        );
        return Err(r);
    };
    let (allowed, scope) = match need {
        Need::Read => (c.scopes.read, "read"),
        Need::Write => (c.scopes.write, "write"),
    };
    match allowed {
        true => Ok(c),
        false => Err(error(
            StatusCode::FORBIDDEN,
            &format!("the client {:?} lacks the scope {scope:?}", c.name),
        )),
    }
}

/// `None` when the request may pass ([`authorize`]), otherwise the refusal.
fn refusal(state: &HttpState, headers: &HeaderMap, need: Need) -> Option<Response> {
    authorize(state, headers, need).err()
}

/// The body of `POST /api/v1/appeals/{id}/events`: a step of consideration, as a command
/// file carries it (its own type: not the journal's). It never names a path — no host path
/// crosses the HTTP API; a file (the answer, the extension or redirect letter) comes in the
/// request itself, at most `limits.max_answer_bytes`: as `file_name` + `file_base64` in the
/// JSON, or as `multipart/form-data` with the part `event` (the step as JSON) and the part
/// `file` (its `filename` the file's name).
struct EventBody {
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
const UNNAMED: &str = "document.pdf";

fn too_large(max: u64) -> String {
    format!("the file is larger than limits.max_answer_bytes ({max} bytes)")
}

/// A file sent as base64, at most `max` bytes once decoded.
fn decode_file(b64: &str, max: u64) -> Result<Vec<u8>, String> {
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
const NO_PATHS: &str = "API не принимает путь к файлу: передайте файл в теле запроса — \"file_name\" и \"file_base64\" или часть \"file\" тела multipart/form-data (не больше limits.max_answer_bytes)";

async fn event(
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
    let (operator, keyed) = match write_access(&state, &headers, b"events", &id, &body.canonical())
    {
        Ok(x) => x,
        Err(r) => return r,
    };
    let state_dir = state.config.spool.state_dir.clone();
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
async fn queue(
    state: &HttpState,
    keyed: Option<crate::idempotency::Key>,
    about: &str,
    build: impl FnOnce() -> Result<control::Command, String>,
) -> Response {
    let state_dir = &state.config.spool.state_dir;
    let name = match &keyed {
        None => None,
        Some(k) => match crate::idempotency::recall(state_dir, k) {
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
        },
    };
    let command = match build() {
        Ok(c) => c,
        Err(why) => {
            // refused before anything was queued: the key is not burned
            if let Some(k) = &keyed {
                crate::idempotency::forget(state_dir, k);
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
struct RegistrationBody {
    number: Option<String>,
    date: Option<String>,
    #[serde(default)]
    force: bool,
    comment: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RefusalBody {
    reason: String,
    comment: Option<String>,
}

/// `POST /api/v1/appeals/{id}/registration` (scope `write`): register under the СЭД's own
/// number and date; the refusal rules apply as in manual mode (`force` with a `comment`
/// overrides, journaled with the client as operator).
async fn registration(
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
async fn refusal_of(
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
async fn json_write<B: serde::de::DeserializeOwned + Serialize + Checked + Send + 'static>(
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
    let (operator, keyed) = match write_access(state, headers, what.as_bytes(), &id, &canonical) {
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

/// What a write's body says wrong before it is queued (`None`: nothing).
trait Checked {
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

/// A write's checks: the `write` scope, the appeal exists, the idempotency key; the
/// client's name as the operator (`api:<name>`).
#[allow(clippy::result_large_err)]
fn write_access(
    state: &HttpState,
    headers: &HeaderMap,
    what: &[u8],
    id: &str,
    raw: &[u8],
) -> Result<(String, Option<crate::idempotency::Key>), Response> {
    let client = authorize(state, headers, Need::Write)?;
    if state.book.find(id).is_err() {
        return Err(error(StatusCode::NOT_FOUND, "нет такого обращения"));
    }
    let keyed = idempotency_key(&client.name, headers, &[what, id.as_bytes(), raw])
        .map_err(|why| error(StatusCode::BAD_REQUEST, &why))?;
    Ok((format!("api:{}", client.name), keyed))
}

/// The request's `Idempotency-Key`, bound to the client and the request (`Ok(None)`: none
/// given), or why a malformed one is refused.
fn idempotency_key(
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
async fn replay(
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
    let queue = control::dir(&state.config.spool.state_dir);
    let path = queue.join(format!("{first}.json"));
    let rejected = queue.join("rejected").join(format!("{first}.json"));
    (path.exists() || rejected.exists()).then_some(())?;
    Some(wait_outcome(state, &path, about).await)
}

/// What an applied command answers: `applied`, and the appeal as it now stands — its id,
/// our registration number (a registration's first answer and every replay of it say
/// which number was given), its status.
fn applied_body(state: &HttpState, about: &str) -> serde_json::Value {
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
async fn wait_outcome(state: &HttpState, path: &std::path::Path, about: &str) -> Response {
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

/// Most connections served at once; more are closed at once (the process's file descriptors
/// belong to the spool first: a flood of idle clients must never stop intake).
pub const MAX_CONNECTIONS: usize = 256;
/// A client must send a request's headers within this time, or the connection is closed.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest a connection lives, whatever it does (a slow body, a kept-alive idle one).
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);

/// Serves on a bound listener until `shutdown` resolves: each connection under
/// [`HEADER_READ_TIMEOUT`] and [`CONNECTION_LIFETIME`], at most [`MAX_CONNECTIONS`] at once.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<HttpState>,
    surface: Surface,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(listen = %addr, surface = ?surface, "HTTP API listening");
    }
    let limits = state.config.http_limits.clone();
    let app = router(state, surface);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let per_address = PerAddress::default();
    // refused connections are logged at most every 10 s (a flood must not flood the log)
    let (mut last_warned, mut refused) = (None, 0u64);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => return Ok(()),
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // out of descriptors or the like: back off instead of spinning
                tracing::warn!(error = %e, "HTTP accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // one address cannot take the listener (a trusted proxy speaks for many)
        let Some(held) = per_address.take(peer.ip(), &limits) else {
            refused += 1;
            continue;
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            refused += 1;
            if last_warned.is_none_or(|t: Instant| t.elapsed() >= Duration::from_secs(10)) {
                tracing::warn!(
                    limit = MAX_CONNECTIONS,
                    refused,
                    "too many HTTP connections; closing new ones"
                );
                (last_warned, refused) = (Some(Instant::now()), 0);
            }
            continue;
        };
        tokio::spawn(connection(stream, peer, app.clone(), (slot, held)));
    }
}

/// Connections open per client address on one listener.
#[derive(Debug, Default, Clone)]
struct PerAddress(Arc<std::sync::Mutex<HashMap<IpAddr, usize>>>);

/// One connection counted against its address; given back when dropped.
struct AddressSlot(Option<(PerAddress, IpAddr)>);

impl PerAddress {
    /// A slot for a connection from `ip`, unless it already holds
    /// `max_connections_per_address` (a trusted proxy is not counted).
    fn take(&self, ip: IpAddr, limits: &crate::config::HttpLimits) -> Option<AddressSlot> {
        if limits.trusts(ip) {
            return Some(AddressSlot(None));
        }
        let mut open = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = open.entry(ip).or_insert(0);
        if *n >= limits.max_connections_per_address {
            return None;
        }
        *n += 1;
        Some(AddressSlot(Some((self.clone(), ip))))
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        if let Some((per, ip)) = self.0.take() {
            let mut open = per
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(n) = open.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    open.remove(&ip);
                }
            }
        }
    }
}

/// Binds the operators' Unix socket at `path` (a stale socket file left by a crash is
/// replaced; anything else there is not), mode 0660: the service's user and group only.
#[cfg(unix)]
pub fn bind_operators_socket(path: &std::path::Path) -> std::io::Result<tokio::net::UnixListener> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    if let Ok(m) = std::fs::symlink_metadata(path) {
        if !m.file_type().is_socket() {
            return Err(std::io::Error::other("exists and is not a socket"));
        }
        std::fs::remove_file(path)?;
    }
    let listener = tokio::net::UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    Ok(listener)
}

/// Serves the operators' surface on a Unix socket until `shutdown`: the same routes, limits
/// and timeouts as on TCP; whoever may open the socket (mode 0660) is local and trusted as
/// a loopback client is — the socket's mode is the access control.
#[cfg(unix)]
pub async fn serve_unix(
    listener: tokio::net::UnixListener,
    state: Arc<HttpState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    tracing::info!(socket = ?listener.local_addr().ok(), "HTTP API listening (operators, Unix socket)");
    let app = router(state, Surface::Operators);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let local = SocketAddr::from(([127, 0, 0, 1], 0));
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => return Ok(()),
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((s, _)) => s,
            Err(e) => {
                tracing::warn!(error = %e, "HTTP accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            continue;
        };
        tokio::spawn(connection(
            stream,
            local,
            app.clone(),
            (slot, AddressSlot(None)),
        ));
    }
}

/// One HTTP/1 connection, bounded in time; the client's address is given to the handlers.
async fn connection<S>(
    stream: S,
    peer: SocketAddr,
    app: Router,
    _slots: (tokio::sync::OwnedSemaphorePermit, AddressSlot),
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    use tower::ServiceExt;
    let service = hyper::service::service_fn(
        move |mut request: axum::extract::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(request.map(axum::body::Body::new))
        },
    );
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let served = http.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
    if let Ok(Err(e)) = tokio::time::timeout(CONNECTION_LIFETIME, served).await {
        tracing::debug!(error = %e, "HTTP connection ended with an error");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Item 5: the routes served and the operations `docs/openapi.yaml` documents are the
    /// same set; every operation documents its errors as problem details.
    #[test]
    fn the_routes_and_the_openapi_document_agree() {
        let doc = openapi_document();
        assert_eq!(doc["openapi"], "3.1.0");
        let mut documented = std::collections::BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                if method == "parameters" {
                    continue;
                }
                documented.insert((method.to_uppercase(), path.clone()));
                let responses = op["responses"].as_object().unwrap();
                let open = op["security"].as_array().is_some_and(|s| s.is_empty());
                for needed in ["401", "403"] {
                    assert!(open || responses.contains_key(needed), "{path}: {needed}");
                }
            }
        }
        let served: std::collections::BTreeSet<_> = routes(0)
            .iter()
            .map(|r| (r.method.to_string(), r.path.to_string()))
            .collect();
        assert_eq!(served, documented);
        let problem = &doc["components"]["responses"]["NotFound"]["content"];
        assert!(problem["application/problem+json"].is_object());
    }

    /// Issue 26 item 12, as a table: (second of the try, wrong?) → locked right after it.
    #[test]
    fn the_pin_lock_is_short_and_tries_during_it_do_not_extend_it() {
        let n = "ОГ-1/26";
        type Tries = &'static [(u64, bool)];
        let cases: &[(&str, Tries, Tries)] = &[
            (
                "five wrong within a minute lock it for a minute from the fifth",
                &[(0, true), (1, true), (2, true), (3, true), (4, true)],
                &[(4, true), (63, true), (64, false)],
            ),
            (
                "one wrong PIN a minute never locks it",
                &[
                    (0, true),
                    (61, true),
                    (122, true),
                    (183, true),
                    (244, true),
                    (305, true),
                ],
                &[(305, false), (306, false)],
            ),
            (
                "tries during the lock (the applicant's right one too) do not extend it",
                &[
                    (0, true),
                    (1, true),
                    (2, true),
                    (3, true),
                    (4, true),
                    (30, true),
                    (60, false),
                    (63, true),
                ],
                &[(63, true), (64, false)],
            ),
            (
                "after the lock the count starts again",
                &[
                    (0, true),
                    (1, true),
                    (2, true),
                    (3, true),
                    (4, true),
                    (70, true),
                ],
                &[(70, false)],
            ),
        ];
        for (what, tries, expect) in cases {
            let mut g = PinGuard::default();
            let t0 = Instant::now();
            for (at, wrong) in *tries {
                let now = t0 + Duration::from_secs(*at);
                match (*wrong, g.locked(n, now)) {
                    (_, true) => {}
                    (true, false) => g.failed(n, now),
                    (false, false) => g.succeeded(n),
                }
            }
            for (at, locked) in *expect {
                let now = t0 + Duration::from_secs(*at);
                assert_eq!(g.locked(n, now), *locked, "{what}: at {at} s");
            }
            assert!(!g.locked("ОГ-2/26", t0), "{what}: other numbers stay open");
        }
    }

    /// Issue 26 item 12: the client's address comes from forwarding headers only through a
    /// trusted proxy, and is the nearest hop that is not a trusted proxy itself.
    #[test]
    fn the_client_address_is_taken_from_trusted_proxies_only() {
        let limits = crate::config::HttpLimits {
            trusted_proxies: vec![
                "127.0.0.1/32".parse().unwrap(),
                "10.0.0.0/8".parse().unwrap(),
            ],
            ..Default::default()
        };
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        type Headers = &'static [(&'static str, &'static str)];
        let cases: &[(&str, Headers, &str)] = &[
            (
                "203.0.113.9",
                &[("x-forwarded-for", "198.51.100.1")],
                "203.0.113.9",
            ),
            ("127.0.0.1", &[], "127.0.0.1"),
            (
                "127.0.0.1",
                &[("x-forwarded-for", "198.51.100.1")],
                "198.51.100.1",
            ),
            (
                "127.0.0.1",
                &[("x-forwarded-for", "6.6.6.6, 198.51.100.1, 10.1.2.3")],
                "198.51.100.1",
            ),
            (
                "127.0.0.1",
                &[("forwarded", "for=\"[2001:db8::1]:443\";proto=https")],
                "2001:db8::1",
            ),
            (
                "127.0.0.1",
                &[("forwarded", "for=192.0.2.60, for=10.0.0.1")],
                "192.0.2.60",
            ),
            (
                "127.0.0.1",
                &[("x-forwarded-for", "not an address")],
                "127.0.0.1",
            ),
        ];
        for (peer, headers, expected) in cases {
            let mut h = HeaderMap::new();
            for (k, v) in *headers {
                h.append(*k, v.parse().unwrap());
            }
            assert_eq!(
                client_address(ip(peer), &h, &limits),
                ip(expected),
                "{peer} {headers:?}"
            );
        }
    }
}
