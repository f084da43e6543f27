//! Who may open a handshake-era session: `initialize` is rate-limited per
//! principal, and a principal holds at most so many sessions at once
//! ([`Sessions`]). Refusals are HTTP 429 with a JSON-RPC error (-32029, and
//! `retry_after_ms` when waiting helps), before rmcp creates anything.
//!
//! Runs after the guard (which attached the caller's identity) and the body
//! check (which says which JSON-RPC method this is).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode};
use rmcp::transport::common::http_header::HEADER_SESSION_ID;
use serde_json::json;

use super::handler::RATE_LIMITED;
use super::jsonrpc::RpcRequest;
use super::rate_limit::CallerLimits;
use super::sessions::Sessions;
use crate::identity::Identity;

pub struct Admission {
    pub sessions: Arc<Sessions>,
    /// `initialize` requests per principal (rate only).
    pub opens: Arc<CallerLimits>,
}

pub async fn admit(
    State(admission): State<Arc<Admission>>,
    request: Request,
    next: Next,
) -> Response {
    let rpc = request.extensions().get::<RpcRequest>().cloned();
    let opening = request.method() == Method::POST
        && !request.headers().contains_key(HEADER_SESSION_ID)
        && rpc.as_ref().is_some_and(|r| r.method == "initialize");
    let principal = request
        .extensions()
        .get::<Identity>()
        .map(|i| i.principal.clone());
    let (true, Some(principal)) = (opening, principal) else {
        return next.run(request).await;
    };
    let id = rpc.and_then(|r| r.id);
    if let Err(refusal) = admission.opens.acquire(&principal) {
        tracing::warn!(%principal, %refusal, "initialize refused");
        let retry = refusal.retry_after().map(|d| d.as_millis() as u64);
        return refuse(
            id,
            &format!("{refusal}").replace("tool calls", "new sessions"),
            retry,
        );
    }
    if let Err(too_many) = admission.sessions.reserve(&principal) {
        tracing::warn!(%principal, %too_many, "initialize refused");
        return refuse(id, &too_many.to_string(), None);
    }
    let response = next.run(request).await;
    match response
        .headers()
        .get(HEADER_SESSION_ID)
        .and_then(|v| v.to_str().ok())
    {
        Some(session) => admission.sessions.opened(session, &principal).await,
        None => admission.sessions.release(&principal),
    }
    response
}

fn refuse(id: Option<serde_json::Value>, message: &str, retry_after_ms: Option<u64>) -> Response {
    let mut error = json!({ "code": RATE_LIMITED.0, "message": message });
    if let Some(ms) = retry_after_ms {
        error["data"] = json!({ "retry_after_ms": ms });
    }
    let body = json!({ "jsonrpc": "2.0", "id": id, "error": error });
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(http::header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}
