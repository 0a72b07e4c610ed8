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

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use sha2::Digest;

use crate::book::Appeals;
use crate::config::{ApiClient, Config, Scopes};
use crate::wire::hash::Sha256;

use read::{
    appeal_file, appeal_one, appeals_page, changes, dashboard, metrics, redirect_notice,
    supervision,
};
use status::{healthz, status};
use write::{assignment, event, redirect, refusal_of, registration};

mod documents;
mod listen;
mod read;
mod status;
mod status_page;
mod write;

pub use listen::{
    bind_operators_socket, serve, serve_unix, CONNECTION_LIFETIME, HEADER_READ_TIMEOUT,
    MAX_CONNECTIONS,
};
pub use status::{PinGuard, PIN_LOCK, PIN_WRONG_TRIES};

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
                bodies: None,
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
        route(
            "GET",
            "/api/v1/status/files/{name}",
            P,
            get(status::status_file),
        ),
        route("GET", "/status", P, get(status_page::page)),
        route("GET", "/", O, get(dashboard)),
        route("GET", "/supervision", O, get(supervision)),
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
            "GET",
            "/api/v1/appeals/{id}/notices/redirect",
            O,
            get(redirect_notice),
        ),
        route(
            "POST",
            "/api/v1/appeals/{id}/registration",
            O,
            post(registration),
        ),
        route("POST", "/api/v1/appeals/{id}/refusal", O, post(refusal_of)),
        route("POST", "/api/v1/appeals/{id}/redirect", O, post(redirect)),
        route(
            "POST",
            "/api/v1/appeals/{id}/events",
            O,
            post(event).layer(axum::extract::DefaultBodyLimit::max(body_limit)),
        ),
        route(
            "POST",
            "/api/v1/arrivals/{id}/assignment",
            O,
            post(assignment),
        ),
        route("GET", "/api/v1/documents", O, get(documents::documents)),
        route(
            "POST",
            "/api/v1/documents/{uid}/approval",
            O,
            post(documents::approval),
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
        yaml_serde::from_str(include_str!("../../docs/openapi.yaml"))
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
    // problem details already, or a page for a person (the applicant's `/status` says what
    // went wrong in its own words)
    let done = response.headers().get(CONTENT_TYPE).is_some_and(|v| {
        v == "application/problem+json" || v.to_str().is_ok_and(|t| t.starts_with("text/html"))
    });
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

/// On an operators' listener bound to a non-loopback address, the dashboard and `/metrics`
/// need the bearer token too; `None` when the request may pass.
fn operators_only(state: &HttpState, headers: &HeaderMap) -> Option<Response> {
    if state.loopback {
        return None;
    }
    refusal(state, headers, Need::Read)
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

/// The bodies the request's client sees (`None`: every body — a client not limited to some,
/// or a request without a client).
pub(super) fn seen_bodies(
    state: &HttpState,
    headers: &HeaderMap,
) -> Option<Vec<medo_model::BodyId>> {
    client(state, headers).and_then(|c| c.bodies.clone())
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
