//! The MCP protocol handler: `tools/list` from the registry snapshot,
//! `tools/call` into the sandbox as the request's authenticated caller.
//!
//! Both eras of the protocol, on one endpoint (rmcp routes each request):
//! handshake-era sessions (`initialize`, `Mcp-Session-Id`, list changes on
//! the GET stream) for 2025-11-25 and older, and stateless 2026-07-28
//! requests (`server/discover`, version and capabilities in each request's
//! `_meta`, list changes on `subscriptions/listen`). Identity and per-caller
//! limits apply per request in both.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock,
    DiscoverResult, ErrorCode, Implementation, InitializeResult, ListToolsResult,
    PaginatedRequestParams, ProtocolVersion, ServerCapabilities, ServerConfig, SubscriptionFilter,
    Tool,
};
use rmcp::service::{NotificationContext, RequestContext, SubscriptionContext};
use rmcp::transport::common::http_header::HEADER_SESSION_ID;
use rmcp::{ErrorData, RoleServer, ServerHandler};

use super::rate_limit::CallerLimits;
use super::sessions::Sessions;
use crate::audit::{AuditLog, CallAudit};
use crate::identity::Identity;
use crate::metrics::Metrics;
use crate::outcome::Outcome;
use crate::runtime::loader::LoadedComponent;
use crate::runtime::registry::Registry;
use crate::runtime::sandbox::{CallReport, CallStats, Sandbox};

/// The newest revision with an `initialize` handshake: what a handshake
/// that asks for something else (newer, unknown) is answered with.
const HANDSHAKE_PROTOCOL: ProtocolVersion = ProtocolVersion::LATEST_WITH_INITIALIZE;
/// Every revision we speak, the stateless 2026-07-28 included.
const NEWEST_PROTOCOL: ProtocolVersion = ProtocolVersion::V_2026_07_28;

/// How long a client may reuse a tool list. A listen stream (or the GET
/// stream) announces a change sooner.
const TOOL_LIST_TTL_MS: u64 = 60_000;
/// How long a client may reuse `server/discover`: it changes only with a
/// new release of the server.
const DISCOVER_TTL_MS: u64 = 300_000;

const INSTRUCTIONS: &str = "Tools over the Zava retail data. Every call runs as the \
caller identified by this connection: store managers see their store only, head office sees all.";

/// Default cap on one tool answer (text + structured JSON).
pub const DEFAULT_MAX_OUTPUT_BYTES: usize = 8 << 20;

/// The `tool` label of calls naming no loaded tool (labels stay bounded).
const UNKNOWN_TOOL: &str = "(unknown)";

/// JSON-RPC error code of a call refused by the per-caller limits (in the
/// range JSON-RPC leaves to servers; 429 as a mnemonic).
pub const RATE_LIMITED: ErrorCode = ErrorCode(-32029);

#[derive(Clone)]
pub struct ToolServer {
    registry: Arc<Registry>,
    sandbox: Arc<Sandbox>,
    sessions: Arc<Sessions>,
    limits: Arc<CallerLimits>,
    audit: AuditLog,
    metrics: Arc<Metrics>,
    /// The server's shutdown: listen streams end gracefully on it.
    shutdown: CancellationToken,
    /// Largest answer (text + structured JSON) a tool call may return.
    max_output_bytes: usize,
}

impl ToolServer {
    pub fn new(registry: Arc<Registry>, sandbox: Arc<Sandbox>, sessions: Arc<Sessions>) -> Self {
        Self {
            registry,
            sandbox,
            sessions,
            limits: CallerLimits::new(0, None),
            audit: AuditLog::disabled(),
            metrics: Arc::new(Metrics::new()),
            shutdown: CancellationToken::new(),
            max_output_bytes: DEFAULT_MAX_OUTPUT_BYTES,
        }
    }

    pub fn with_max_output_bytes(mut self, bytes: usize) -> Self {
        self.max_output_bytes = bytes;
        self
    }

    pub fn with_shutdown(mut self, shutdown: CancellationToken) -> Self {
        self.shutdown = shutdown;
        self
    }

    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    pub fn with_limits(mut self, limits: Arc<CallerLimits>) -> Self {
        self.limits = limits;
        self
    }

    pub fn with_audit(mut self, audit: AuditLog) -> Self {
        self.audit = audit;
        self
    }
}

/// The caller the HTTP guard attached to this request.
fn identity(ctx: &RequestContext<RoleServer>) -> Result<Identity, ErrorData> {
    ctx.extensions
        .get::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Identity>())
        .cloned()
        // The guard refuses unauthenticated requests before they get here; if
        // one slips through (a wiring bug) it must not run as anyone.
        .ok_or_else(|| ErrorData::internal_error("request carries no caller identity", None))
}

fn error_result(message: String) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message)])
}

impl ServerHandler for ToolServer {
    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_tool_list_changed()
            .build();
        InitializeResult::new(capabilities)
            .with_protocol_version(HANDSHAKE_PROTOCOL)
            .with_server_info(
                Implementation::new("zava-mcp-host", env!("CARGO_PKG_VERSION"))
                    .with_title("Zava retail MCP server"),
            )
            .with_instructions(INSTRUCTIONS)
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        Cow::Borrowed(ProtocolVersion::known_up_to(&NEWEST_PROTOCOL))
    }

    /// What the server is (2026-07-28). The same for everyone, so any
    /// cache may share it.
    async fn discover(
        &self,
        _context: RequestContext<RoleServer>,
    ) -> Result<DiscoverResult, ErrorData> {
        Ok(DiscoverResult::from_server_info(
            self.supported_protocol_versions().into_owned(),
            self.get_info(),
        )
        .with_ttl_ms(DISCOVER_TTL_MS)
        .with_cache_scope(CacheScope::Public))
    }

    fn accepted_subscription_filter(
        &self,
        _requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        // rmcp intersects this with what was asked for and advertised.
        Some(SubscriptionFilter::builder().tools_list_changed().build())
    }

    /// A `subscriptions/listen` stream (2026-07-28): registered so that tool
    /// list changes reach it, until the client closes it or the server
    /// stops (then it ends gracefully). Each one counts against its
    /// principal's sessions.
    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let caller = identity(context.request_context())?;
        let _listener = self
            .sessions
            .add_listener(&caller.principal, context.sink().clone())
            .map_err(|too_many| ErrorData::new(RATE_LIMITED, too_many.to_string(), None))?;
        tokio::select! {
            _ = context.cancelled() => {}
            _ = self.shutdown.cancelled() => {}
        }
        Ok(())
    }

    /// Lets rmcp check `Mcp-Param-*` headers against a tool's schema.
    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.registry
            .snapshot()
            .tools()
            .iter()
            .find(|t| t.name == name)
            .cloned()
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        let session = context
            .extensions
            .get::<http::request::Parts>()
            .and_then(|parts| parts.headers.get(HEADER_SESSION_ID))
            .and_then(|v| v.to_str().ok());
        if let Some(session) = session {
            self.sessions.add_peer(session, context.peer);
        }
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        // Private: the list is the same for every caller today, but the
        // component policy may one day grant tools per caller, and a shared
        // cache must never hand one caller's list to another. A client's own
        // cache loses nothing by it.
        Ok(
            ListToolsResult::with_all_items(self.registry.snapshot().tools().to_vec())
                .with_ttl_ms(TOOL_LIST_TTL_MS)
                .with_cache_scope(CacheScope::Private),
        )
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let caller = identity(&context)?;
        let protocol = context.protocol_version().map(|v| v.to_string());
        let started = Instant::now();
        let at = SystemTime::now();
        let tool = request.name.to_string();
        // What logs and the audit trail may repeat of a name the client sent:
        // MCP tool names are at most 128 characters.
        let tool_label = || -> String {
            if tool.len() <= 128 {
                tool.clone()
            } else {
                format!(
                    "{}… ({} bytes)",
                    crate::capabilities::caller::truncate(&tool, 128),
                    tool.len()
                )
            }
        };
        // Every way out of a call ends here: metrics and audit together.
        let finish = |label: &str,
                      component: Option<&LoadedComponent>,
                      stats: CallStats,
                      outcome: Outcome| {
            let duration = started.elapsed();
            self.metrics.call(label, outcome, duration, Some(&stats));
            self.audit.record(CallAudit {
                at,
                caller: caller.clone(),
                tool: tool_label(),
                protocol: protocol.clone(),
                component: component.map(|c| (c.file.clone(), c.digest.clone())),
                queries: stats.queries,
                embedded_texts: stats.embedded_texts,
                duration,
                outcome,
            })
        };
        let catalog = self.registry.snapshot();

        let _permit = match self.limits.acquire(&caller.principal) {
            Ok(permit) => permit,
            Err(refusal) => {
                tracing::warn!(principal = %caller.principal, tool = ?tool_label(), %refusal, "tool call refused");
                let label = if catalog.component_for(&tool).is_some() {
                    tool.as_str()
                } else {
                    UNKNOWN_TOOL
                };
                finish(label, None, CallStats::default(), Outcome::RateLimited).await;
                let data = refusal
                    .retry_after()
                    .map(|d| serde_json::json!({ "retry_after_ms": d.as_millis() as u64 }));
                return Err(ErrorData::new(RATE_LIMITED, refusal.to_string(), data));
            }
        };
        let Some(component) = catalog.component_for(&tool).cloned() else {
            finish(
                UNKNOWN_TOOL,
                None,
                CallStats::default(),
                Outcome::UnknownTool,
            )
            .await;
            return Err(ErrorData::invalid_params(
                format!("unknown tool `{tool}`; call tools/list for the tools available"),
                None,
            ));
        };
        // The spec lets clients omit arguments; tools always get an object.
        let arguments =
            serde_json::Value::Object(request.arguments.unwrap_or_default()).to_string();
        let spec = component.tools.iter().find(|t| t.name == tool);
        let span = tracing::info_span!(
            "tool_call",
            otel.name = %format!("tools/call {tool}"),
            tool = %tool,
            component = %component.file,
            component.sha256 = %component.digest,
            scope = %caller.scope.label(),
            outcome = tracing::field::Empty,
        );
        let CallReport { result, stats } = self
            .sandbox
            .call_tool(&component, &tool, &arguments, &caller)
            .instrument(span.clone())
            .await;
        let (result, outcome) = match result {
            Ok(output)
                if output.text.len() + output.structured.as_ref().map_or(0, String::len)
                    > self.max_output_bytes =>
            {
                // Escaping can make an answer several times the size of the
                // rows behind it (a control character is six bytes of JSON),
                // and every byte is copied and parsed again here: the answer
                // has a budget of its own.
                let size = output.text.len() + output.structured.as_ref().map_or(0, String::len);
                (
                    error_result(format!(
                        "the tool's answer is {size} bytes, more than this server's limit of {} \
                         bytes; ask for fewer rows or columns",
                        self.max_output_bytes
                    )),
                    Outcome::BadOutput,
                )
            }
            Ok(output) => {
                let structured = match output.structured.as_deref().map(serde_json::from_str) {
                    None => Ok(None),
                    Some(Ok(value)) => Ok(Some(value)),
                    Some(Err(e)) => Err(format!(
                        "the tool returned malformed structured output: {e}"
                    )),
                };
                match (structured, spec.is_some_and(|s| s.has_output_schema)) {
                    (Err(message), _) => (error_result(message), Outcome::BadOutput),
                    (Ok(None), true) => (
                        error_result(
                            "the tool declares an output schema but returned no structured output"
                                .into(),
                        ),
                        Outcome::BadOutput,
                    ),
                    (Ok(value), _) => {
                        let mut result =
                            CallToolResult::success(vec![ContentBlock::text(output.text)]);
                        result.structured_content = value;
                        (result, Outcome::Ok)
                    }
                }
            }
            Err(error) => (error_result(error.to_string()), error.outcome()),
        };
        span.record("outcome", outcome.as_str());
        span.in_scope(|| {
            tracing::info!(
                outcome = outcome.as_str(),
                us = started.elapsed().as_micros() as u64,
                "tool call"
            )
        });
        finish(&tool, Some(&component), stats, outcome).await;
        Ok(result.into())
    }
}
