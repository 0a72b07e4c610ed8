//! The operators' read side: the changes feed, the appeals (a page, one, a file of one), the
//! dashboard and `/metrics` — at most [`HEAVY_READS`](super::HEAVY_READS) heavy reads at once;
//! a ДСП appeal's details only with the `dsp` scope.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::{authorize, client, error, operators_only, refusal, seen_bodies, HttpState, Need};

/// What the appeal says, as `appeals show` has it (read from its archived package): its
/// kind and content («Содержание»), the cover letter's requisites and signatories, how it
/// came (МЭДО, from УРОГ).
pub(super) fn appeal_content(
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
pub(super) fn has_dsp(state: &HttpState, headers: &HeaderMap) -> bool {
    client(state, headers).is_some_and(|c| c.scopes.dsp)
}

/// A slot for a heavy read, or 503 «busy» with `Retry-After: 1` when [`HEAVY_READS`] run.
#[allow(clippy::result_large_err)]
pub(super) fn heavy_slot(state: &HttpState) -> Result<tokio::sync::OwnedSemaphorePermit, Response> {
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

pub(super) async fn metrics(State(state): State<Arc<HttpState>>, headers: HeaderMap) -> Response {
    if let Some(r) = operators_only(&state, &headers) {
        return r;
    }
    let hooks = state
        .webhooks
        .lock()
        .expect("webhook statuses lock")
        .clone();
    let leadership = state.health.leadership();
    let body = state
        .metrics
        .read()
        .expect("metrics lock")
        .render(&hooks, leadership);
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

/// An error as RFC 9457 problem details (`application/problem+json`); `error` repeats the
/// detail for clients written against the first version of the API.
/// An appeal not found (or a УРОГ number naming several: 404 too — the client names it by our
/// number or id instead); a store that cannot be read: 503.
pub(super) fn lookup_status(why: &crate::book::Lookup) -> StatusCode {
    match why {
        crate::book::Lookup::Unreadable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::NOT_FOUND,
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct ChangesQuery {
    after: Option<String>,
    limit: Option<usize>,
}

/// `GET /api/v1/changes?after=&limit=`: the changes feed (scope `read`), journal order, up to
/// what the store has applied (durable).
pub(super) async fn changes(
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
    let journal = crate::postgres::JournalSource::of(&state.config);
    let limit = match page_size(q.limit, crate::feed::MAX_LIMIT) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let (dsp, book) = (has_dsp(&state, &headers), state.book.clone());
    let seen = seen_bodies(&state, &headers);
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
        let mut page = crate::feed::page_in(&journal, from, durable, limit)?;
        crate::feed::of_bodies(&mut page, seen.as_deref(), book.as_ref());
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
pub(super) fn running_store(
    state: &HttpState,
    what: &str,
) -> Result<crate::store::Store, Response> {
    state.store.clone().ok_or_else(|| {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("{what} the running service"),
        )
    })
}

/// Runs a read off the async threads; its value as JSON, its error as a 500 naming `source`.
pub(super) async fn read_json<
    T: Serialize + Send + 'static,
    E: std::fmt::Display + Send + 'static,
>(
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
pub(super) fn page_size(limit: Option<usize>, max: usize) -> Result<usize, Response> {
    match limit.unwrap_or(100) {
        n if (1..=max).contains(&n) => Ok(n),
        _ => Err(error(
            StatusCode::BAD_REQUEST,
            &format!("limit: from 1 to {max}"),
        )),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct AppealsQuery {
    status: Option<String>,
    updated_since: Option<String>,
    cursor: Option<String>,
    limit: Option<usize>,
}

/// `GET /api/v1/appeals?status=&updated_since=&cursor=&limit=` (scope `read`).
pub(super) async fn appeals_page(
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
    let seen = seen_bodies(&state, &headers);
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
            .map_while(|r| r.map_err(|e| failed = Some(e)).ok())
            .filter(|a| seen.as_ref().is_none_or(|s| s.contains(&a.body)));
        let page = api::page(scanned, after, (&filter, dsp), limit, &config);
        failed.map_or(Ok(page), Err)
    })
    .await
}

/// `GET /api/v1/appeals/{id}` (scope `read`): one appeal, by our number, the УРОГ number or
/// the id, with its history.
pub(super) async fn appeal_one(
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
    let seen = seen_bodies(&state, &headers);
    let found = tokio::task::spawn_blocking(move || {
        book.find_among(seen.as_deref(), &id).map(|a| {
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
pub(super) async fn appeal_file(
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
    let seen = client.bodies.clone();
    let found = tokio::task::spawn_blocking(move || {
        let a = book
            .find_among(seen.as_deref(), &id)
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

/// `GET /api/v1/appeals/{id}/notices/redirect` (scope `read`; ДСП also `dsp`): the
/// applicant's notice of the appeal's redirect by competence as a PDF
/// ([`crate::letters::applicant_redirect_pdf`]), for the СЭД to deliver; 404 when it was
/// not redirected.
pub(super) async fn redirect_notice(
    State(state): State<Arc<HttpState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    use axum::http::header;
    let client = match authorize(&state, &headers, Need::Read) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let (book, config, dsp) = (state.book.clone(), state.config.clone(), client.scopes.dsp);
    let seen = client.bodies.clone();
    let made = tokio::task::spawn_blocking(move || {
        let a = book
            .find_among(seen.as_deref(), &id)
            .map_err(|why| (lookup_status(&why), why.to_string()))?;
        if a.restricted && !dsp {
            let why = "обращение ДСП: уведомление — только клиенту с областью dsp";
            return Err((StatusCode::FORBIDDEN, why.to_string()));
        }
        let policy = config
            .policy
            .for_body(&a.body)
            .unwrap_or_else(|| config.policy.clone());
        crate::letters::applicant_redirect_pdf(&a, &policy).ok_or((
            StatusCode::NOT_FOUND,
            format!("обращение {} не направлялось по компетенции", a.id),
        ))
    })
    .await;
    match made {
        Ok(Ok(pdf)) => (
            [
                (header::CONTENT_TYPE, "application/pdf"),
                (header::CACHE_CONTROL, "private, no-store"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"redirect-notice.pdf\"",
                ),
            ],
            pdf,
        )
            .into_response(),
        Ok(Err((code, why))) => error(code, &why),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct DashboardQuery {
    q: Option<String>,
    list: Option<String>,
    after: Option<u64>,
    body: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct SupervisionQuery {
    sort: Option<String>,
}

/// `GET /supervision?sort=`: a region's hub supervised as a whole — per body, open, overdue,
/// due soon, waiting for an operator; the packages held for no body (operators' surface,
/// read-only; a client of some bodies sees their rows only, and no held packages).
pub(super) async fn supervision(
    State(state): State<Arc<HttpState>>,
    headers: HeaderMap,
    Query(q): Query<SupervisionQuery>,
) -> Response {
    if let Some(r) = operators_only(&state, &headers) {
        return r;
    }
    let seen = seen_bodies(&state, &headers);
    let mut figures = state.metrics.read().expect("metrics lock").by_body.clone();
    figures.retain(|body, _| seen.as_ref().is_none_or(|s| s.iter().any(|b| b == body)));
    let state = state.clone();
    let html = tokio::task::spawn_blocking(move || {
        let held = match &seen {
            None => state.book.unrouted(),
            Some(_) => Vec::new(),
        };
        let mut config = state.config.clone();
        if let Some(s) = &seen {
            let seen: Vec<_> = config
                .policy
                .bodies
                .iter()
                .filter(|b| s.contains(&b.id))
                .cloned()
                .collect();
            config.policy.bodies = seen.into();
        }
        crate::supervision::page(&config, &figures, &held, q.sort.as_deref())
    })
    .await
    .unwrap_or_else(|e| format!("<p>error: {e}</p>"));
    axum::response::Html(html).into_response()
}

pub(super) async fn dashboard(
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
    // a client of some bodies sees one of them at a time (the first unless it asks another)
    let seen = seen_bodies(&state, &headers);
    let body = match (&seen, q.body.filter(|b| !b.is_empty())) {
        (Some(s), Some(b)) if s.iter().any(|x| *x == b) => Some(b),
        (Some(s), _) => s.first().map(|b| b.to_string()),
        (None, b) => b,
    };
    let view = crate::dashboard::View {
        q: q.q,
        list: q.list,
        after: q.after,
        body,
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
            &view,
            (&hooks, &held),
        )
    })
    .await
    .unwrap_or_else(|e| format!("<p>error: {e}</p>"));
    axum::response::Html(html).into_response()
}
