//! Our documents waiting for a person's approval over the API (issue 30):
//! `GET /api/v1/documents?state=pending` (scope `read`) lists them from the service's index,
//! `POST /api/v1/documents/{uid}/approval` (scope `write`, idempotent like the other writes)
//! approves one — a command the leader carries out (`document_approved`), as `documents
//! approve` is.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::{authorize, error, HttpState, Need};
use crate::control;

#[derive(Debug, Deserialize)]
pub(super) struct DocumentsQuery {
    state: Option<String>,
}

/// The documents waiting for approval that `sees` lets the client see.
fn waiting(
    state: &HttpState,
    sees: impl Fn(&str) -> bool,
) -> Result<Vec<crate::documents::Waiting>, String> {
    match &state.store {
        Some(store) => crate::documents::awaiting(&state.config, store, sees),
        None => Ok(Vec::new()),
    }
}

/// `GET /api/v1/documents?state=pending`.
pub(super) async fn documents(
    State(state): State<Arc<HttpState>>,
    headers: HeaderMap,
    Query(q): Query<DocumentsQuery>,
) -> Response {
    let client = match authorize(&state, &headers, Need::Read) {
        Ok(c) => c.clone(),
        Err(r) => return r,
    };
    if q.state.as_deref() != Some("pending") {
        return error(
            StatusCode::BAD_REQUEST,
            "state: pending (the documents waiting for approval)",
        );
    }
    let listed = {
        let state = state.clone();
        tokio::task::spawn_blocking(move || waiting(&state, |b| client.sees(b))).await
    };
    match listed {
        Ok(Ok(list)) => Json(serde_json::json!({ "documents": list })).into_response(),
        Ok(Err(why)) => error(StatusCode::SERVICE_UNAVAILABLE, &why),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "the list failed"),
    }
}

/// `POST /api/v1/documents/{uid}/approval`: the document is approved (queued for the leader;
/// 200 once journaled, 202 while queued); one not waiting for approval is not there (404).
pub(super) async fn approval(
    State(state): State<Arc<HttpState>>,
    headers: HeaderMap,
    Path(uid): Path<String>,
) -> Response {
    let client = match authorize(&state, &headers, Need::Write) {
        Ok(c) => c.clone(),
        Err(r) => return r,
    };
    let keyed =
        match super::write::idempotency_key(&client.name, &headers, &[b"approval", uid.as_bytes()])
        {
            Ok(k) => k,
            Err(why) => return error(StatusCode::BAD_REQUEST, &why),
        };
    let looked = {
        let state = state.clone();
        let client = client.clone();
        tokio::task::spawn_blocking(move || waiting(&state, |b| client.sees(b))).await
    };
    let waits = match looked {
        Ok(Ok(list)) => list.iter().any(|d| d.uid.eq_ignore_ascii_case(uid.trim())),
        Ok(Err(why)) => return error(StatusCode::SERVICE_UNAVAILABLE, &why),
        Err(_) => return error(StatusCode::INTERNAL_SERVER_ERROR, "the lookup failed"),
    };
    if !waits && keyed.is_none() {
        return error(StatusCode::NOT_FOUND, "нет документа, ждущего утверждения");
    }
    // with a key, queued whatever it finds: a retry answers the first result, a document
    // approved meanwhile is refused by the leader in words (422)
    let operator = format!("api:{}", client.name);
    let about = uid.clone();
    super::write::queue(&state, keyed, &about, move || {
        Ok(control::Command::Approve {
            document: uid,
            operator: Some(operator),
        })
    })
    .await
}
