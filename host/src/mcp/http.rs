//! The axum router: rmcp's Streamable HTTP service at `/mcp` behind the guard
//! and the JSON-RPC body check, plus `/healthz` and `/readyz`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use http::StatusCode;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use super::guard::{Guard, guard};
use super::handler::ToolServer;
use super::jsonrpc::check_body;

pub struct HttpOptions {
    pub guard: Guard,
    pub max_body_bytes: usize,
    pub cancel: CancellationToken,
}

pub fn router(server: ToolServer, ready: Arc<AtomicBool>, options: HttpOptions) -> Router {
    // Host/Origin validation lives in our guard (which must run before
    // authentication), so rmcp's own copy is switched off rather than kept as
    // a second, differently configured list.
    let config = StreamableHttpServerConfig::default()
        .disable_allowed_hosts()
        .disable_allowed_origins()
        .with_max_request_body_bytes(options.max_body_bytes)
        .with_sse_keep_alive(Some(Duration::from_secs(15)))
        .with_cancellation_token(options.cancel);
    let mcp = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let mcp_routes = Router::new()
        .route_service("/mcp", mcp)
        // Layers run outermost-last: guard, then the body check, then rmcp.
        .layer(from_fn_with_state(options.max_body_bytes, check_body))
        .layer(from_fn_with_state(Arc::new(options.guard), guard));
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(ready)
        .merge(mcp_routes)
}

async fn readyz(State(ready): State<Arc<AtomicBool>>) -> (StatusCode, &'static str) {
    if ready.load(Ordering::Acquire) {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "loading components")
    }
}
