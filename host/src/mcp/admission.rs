//! Who may open a handshake-era session, and what a request in a session
//! may do:
//! - `initialize` is rate-limited per principal, and a principal (and the
//!   server) holds at most so many sessions at once ([`Sessions`]).
//!   Refusals are HTTP 429 with a JSON-RPC error (-32029, and
//!   `retry_after_ms` when waiting helps), before rmcp creates anything;
//! - every request runs in a [`RequestScope`] naming its principal (and, for
//!   an admitted `initialize`, its reservation), which is what lets rmcp's
//!   session manager and store create, restore and delete sessions only for
//!   their owner;
//! - one JSON-RPC id is in flight at most once per session: a second request
//!   with the id of one still running is refused (-32600) instead of
//!   displacing the first, whose client would never get an answer.
//!
//! Runs after the guard (which attached the caller's identity and checked
//! the session header) and the body check (which says which JSON-RPC
//! method this is).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use http::{Method, StatusCode};
use rmcp::transport::common::http_header::HEADER_SESSION_ID;
use serde_json::json;

use super::handler::RATE_LIMITED;
use super::jsonrpc::{INVALID_REQUEST, RpcRequest, error_response};
use super::rate_limit::CallerLimits;
use super::sessions::{RequestScope, Sessions};
use crate::identity::Identity;

pub struct Admission {
    pub sessions: Arc<Sessions>,
    /// `initialize` requests per principal (rate only).
    pub opens: Arc<CallerLimits>,
    /// (session, JSON-RPC id) of the requests in flight.
    pub in_flight: Arc<Mutex<HashSet<(String, String)>>>,
}

impl Admission {
    pub fn new(sessions: Arc<Sessions>, opens: Arc<CallerLimits>) -> Self {
        Self {
            sessions,
            opens,
            in_flight: Arc::default(),
        }
    }
}

/// Removes its request from the in-flight set when the response is done
/// (its stream ended or the client went away).
struct InFlight {
    set: Arc<Mutex<HashSet<(String, String)>>>,
    key: (String, String),
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.key);
    }
}

pub async fn admit(
    State(admission): State<Arc<Admission>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(principal) = request
        .extensions()
        .get::<Identity>()
        .map(|i| i.principal.clone())
    else {
        return next.run(request).await;
    };
    let rpc = request.extensions().get::<RpcRequest>().cloned();
    let session = request
        .headers()
        .get(HEADER_SESSION_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let opening = request.method() == Method::POST
        && session.is_none()
        && rpc.as_ref().is_some_and(|r| r.method == "initialize");
    let id = rpc.as_ref().and_then(|r| r.id.clone());
    if !opening {
        // A request in a session: its id must not be in flight already.
        let in_flight = match (&session, &id) {
            (Some(session), Some(id)) if request.method() == Method::POST => {
                let key = (session.clone(), id.to_string());
                let mut set = admission
                    .in_flight
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                if !set.insert(key.clone()) {
                    return error_response(
                        StatusCode::BAD_REQUEST,
                        Some(id.clone()),
                        INVALID_REQUEST,
                        "Invalid Request: a request with this id is still in progress in this \
                         session; use a new id",
                    );
                }
                Some(InFlight {
                    set: admission.in_flight.clone(),
                    key,
                })
            }
            _ => None,
        };
        let scope = RequestScope {
            principal,
            opening: None,
        };
        let response = scope.run(next.run(request)).await;
        return match in_flight {
            Some(token) => release_when_done(response, token),
            None => response,
        };
    }
    if let Err(refusal) = admission.opens.acquire(&principal) {
        tracing::warn!(%principal, %refusal, "initialize refused");
        let retry = refusal.retry_after().map(|d| d.as_millis() as u64);
        return refuse(
            id,
            &format!("{refusal}").replace("tool calls", "new sessions"),
            retry,
        );
    }
    let reservation = match admission.sessions.reserve(&principal) {
        Ok(reservation) => reservation,
        Err(too_many) => {
            tracing::warn!(%principal, %too_many, "initialize refused");
            return refuse(id, &too_many.to_string(), None);
        }
    };
    // The session manager turns the reservation into a session (owned by
    // `principal`) if rmcp opens one; otherwise dropping it gives the place
    // back, also when the client goes away mid-request.
    let scope = RequestScope {
        principal,
        opening: Some(Arc::new(reservation)),
    };
    scope.run(next.run(request)).await
}

/// The response, holding `token` until its body has been sent or dropped.
fn release_when_done(response: Response, token: InFlight) -> Response {
    let (parts, body) = response.into_parts();
    let stream = body.into_data_stream().map(move |chunk| {
        let _held = &token;
        chunk
    });
    Response::from_parts(parts, Body::from_stream(stream))
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
