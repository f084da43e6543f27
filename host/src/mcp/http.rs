//! The axum router: rmcp's Streamable HTTP service at `/mcp` behind the guard
//! and the JSON-RPC body check, plus `/healthz`, `/readyz`, `/metrics` (each
//! behind a Host check, [`super::edge`]) and the OAuth protected-resource
//! metadata.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http::{HeaderMap, StatusCode, header};
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use super::admission::{Admission, admit};
use super::edge::{ProbeHosts, probe_host, single_host};
use super::guard::{Guard, guard};
use super::handler::ToolServer;
use super::jsonrpc::{BodyLimits, check_body};
use super::sessions::{OwnedSessionStore, Sessions, TrackingSessionManager};
use crate::db::caller::CallerDb;
use crate::metrics::Metrics;

pub struct HttpOptions {
    pub guard: Guard,
    /// The port the router is served on (probes may name it with an IP).
    pub port: u16,
    pub max_body_bytes: usize,
    pub body_timeout: Duration,
    pub admission: Admission,
    /// Where sessions are shared with other replicas, if anywhere.
    pub session_store: Option<Arc<crate::db::sessions::SessionRows>>,
    pub cancel: CancellationToken,
    /// Serve `/metrics` on this router (else it has its own listener).
    pub metrics_route: Option<MetricsSource>,
}

/// What `/metrics` reports: the counters, plus states read at scrape time.
#[derive(Clone)]
pub struct MetricsSource {
    pub metrics: Arc<Metrics>,
    pub sessions: Arc<Sessions>,
    pub db: Option<Arc<CallerDb>>,
}

impl MetricsSource {
    fn render(&self) -> String {
        self.metrics.sessions.set(self.sessions.count() as i64);
        if let Some(db) = &self.db {
            let status = db.pool_status();
            self.metrics.pool("open", status.size as i64);
            self.metrics.pool("idle", status.available as i64);
            self.metrics.pool("waiting", status.waiting as i64);
        }
        self.metrics.encode()
    }

    /// A router with only `/metrics`, for a separate listener (which
    /// checks `Host` like the main one).
    pub fn router(self, hosts: ProbeHosts) -> Router {
        Router::new()
            .route("/metrics", get(metrics))
            .with_state(self)
            .layer(from_fn_with_state(hosts, probe_host))
            .layer(from_fn(single_host))
    }
}

async fn metrics(State(source): State<MetricsSource>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        source.render(),
    )
        .into_response()
}

pub fn router(server: ToolServer, ready: Arc<AtomicBool>, options: HttpOptions) -> Router {
    // Host/Origin validation lives in our guard (which must run before
    // authentication), so rmcp's own copy is switched off rather than kept as
    // a second, differently configured list.
    let mut config = StreamableHttpServerConfig::default()
        .disable_allowed_hosts()
        .disable_allowed_origins()
        .with_max_request_body_bytes(options.max_body_bytes)
        .with_sse_keep_alive(Some(Duration::from_secs(15)))
        // Stateless (2026-07-28) answers as plain JSON when nothing is
        // streamed before them; sessions keep SSE.
        .with_json_response(true)
        .with_cancellation_token(options.cancel);
    // Handshake-era sessions restorable on any replica.
    config.session_store = options.session_store.map(|rows| {
        Arc::new(OwnedSessionStore { rows })
            as Arc<dyn rmcp::transport::streamable_http_server::session::store::SessionStore>
    });
    let mcp = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(TrackingSessionManager::new(
            options.admission.sessions.clone(),
        )),
        config,
    );
    let probe_hosts = ProbeHosts {
        allowed: Arc::new(options.guard.allowed_hosts.clone()),
        port: options.port,
    };
    let guard_state = Arc::new(options.guard);
    let mcp_routes = Router::new()
        .route_service("/mcp", mcp)
        // Layers run outermost-last: guard, then the body check, then
        // session admission, then rmcp.
        .layer(from_fn_with_state(Arc::new(options.admission), admit))
        .layer(from_fn_with_state(
            BodyLimits {
                max_bytes: options.max_body_bytes,
                timeout: options.body_timeout,
            },
            check_body,
        ))
        .layer(from_fn_with_state(guard_state.clone(), guard));
    // RFC 9728: the metadata of the resource `<base>/mcp` lives at the
    // well-known path with `/mcp` appended; the bare path serves clients
    // that look there first.
    let metadata_routes = Router::new()
        .route(
            "/.well-known/oauth-protected-resource",
            get(resource_metadata),
        )
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get(resource_metadata),
        )
        .with_state(guard_state);
    let mut probes = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(ready);
    if let Some(source) = options.metrics_route {
        probes = probes.merge(
            Router::new()
                .route("/metrics", get(metrics))
                .with_state(source),
        );
    }
    let probes = probes.layer(from_fn_with_state(probe_hosts, probe_host));
    Router::new()
        .merge(probes)
        .merge(mcp_routes)
        .merge(metadata_routes)
        .layer(from_fn(single_host))
}

/// OAuth 2.0 Protected Resource Metadata, when the identity mode signs
/// clients in (404 for the dev header). Public, so any origin may read it.
async fn resource_metadata(State(guard): State<Arc<Guard>>, headers: HeaderMap) -> Response {
    if let Err(reason) = super::guard::check_host(&headers, &guard.allowed_hosts) {
        return (StatusCode::FORBIDDEN, format!("Forbidden: {reason}")).into_response();
    }
    let base = guard.public_base(&headers);
    match guard.authenticator.resource_metadata(&base) {
        Some(document) => {
            ([(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")], Json(document)).into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            "this server's identity mode has no OAuth authorization server",
        )
            .into_response(),
    }
}

async fn readyz(State(ready): State<Arc<AtomicBool>>) -> (StatusCode, &'static str) {
    if ready.load(Ordering::Acquire) {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "loading components")
    }
}
