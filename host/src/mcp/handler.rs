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
    CacheScope, CallToolRequestParams, CallToolResponse, CallToolResult, CompleteRequestParams,
    CompleteResult, ContentBlock, DiscoverResult, ErrorCode, GetPromptRequestParams,
    GetPromptResponse, Implementation, InitializeResult, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ProtocolVersion, ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities,
    ServerConfig, SubscribeRequestParams, SubscriptionFilter, Tool, UnsubscribeRequestParams,
};
// Deprecated by rmcp for a future revision (SEP-2577); every revision we
// serve has `logging/setLevel`.
#[allow(deprecated)]
use rmcp::model::SetLevelRequestParams;
use rmcp::service::{NotificationContext, RequestContext, SubscriptionContext};
use rmcp::transport::common::http_header::HEADER_SESSION_ID;
use rmcp::{ErrorData, RoleServer, ServerHandler};

use super::notices;
use super::rate_limit::CallerLimits;
use super::sessions::MAX_SUBSCRIPTIONS;
use super::sessions::Sessions;
use crate::audit::{AuditLog, CallAudit};
use crate::bindings::exports::zava::mcp::tool::ToolOutput;
use crate::bindings::zava::mcp::types::Content;
use crate::capabilities::client::Severity;
use crate::identity::Identity;
use crate::metrics::Metrics;
use crate::outcome::Outcome;
use crate::runtime::content;
use crate::runtime::loader::LoadedComponent;
use crate::runtime::registry::Registry;
use crate::runtime::sandbox::{Answer, CallReport, CallStats, Request, Sandbox};

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
    pub(super) registry: Arc<Registry>,
    pub(super) sandbox: Arc<Sandbox>,
    sessions: Arc<Sessions>,
    pub(super) limits: Arc<CallerLimits>,
    pub(super) audit: AuditLog,
    pub(super) metrics: Arc<Metrics>,
    /// The server's shutdown: listen streams end gracefully on it.
    shutdown: CancellationToken,
    /// Largest answer (content, structured JSON, a prompt or a resource's
    /// contents) a component may return.
    pub(super) max_output_bytes: usize,
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
pub(super) fn identity(ctx: &RequestContext<RoleServer>) -> Result<Identity, ErrorData> {
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

/// The `Mcp-Session-Id` a request names, whatever rmcp made of it.
fn session_header(ctx: &RequestContext<RoleServer>) -> Option<&str> {
    ctx.extensions
        .get::<http::request::Parts>()
        .and_then(|parts| parts.headers.get(HEADER_SESSION_ID))
        .and_then(|v| v.to_str().ok())
}

/// The bytes a tool's answer takes (text, binary as base64, structured).
fn output_size(output: &ToolOutput) -> usize {
    output.content.iter().map(content::wire_size).sum::<usize>()
        + output.structured.as_ref().map_or(0, String::len)
}

/// A tool's content blocks for the client; a tool must say something.
fn tool_content(blocks: Vec<Content>) -> Result<Vec<ContentBlock>, String> {
    if blocks.is_empty() {
        return Err("the tool returned no content".into());
    }
    blocks
        .into_iter()
        .map(content::block)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("the tool returned bad content: {e}"))
}

impl ToolServer {
    /// The session a request is served in: the one its header names, if
    /// rmcp serves it in a session (a request carrying its own protocol
    /// version is stateless, whatever header it sends) and the caller owns
    /// it. Per-session state is kept only for such sessions: an invented
    /// id must not make the server remember anything.
    fn session_of<'a>(
        &self,
        context: &'a RequestContext<RoleServer>,
        caller: &Identity,
    ) -> Option<&'a str> {
        if context.meta.protocol_version().is_some() {
            return None;
        }
        session_header(context).filter(|s| self.sessions.owns(s, &caller.principal))
    }

    /// The level a request's log lines go out at: the request's own
    /// (2026-07-28 `_meta`), else its session's (`logging/setLevel`, info
    /// until set); none for a stateless request that named none.
    pub(super) fn log_level(&self, context: &RequestContext<RoleServer>) -> Option<Severity> {
        if let Some(level) = context.meta.log_level() {
            return Some(notices::severity(level));
        }
        let caller = identity(context).ok()?;
        let session = self.session_of(context, &caller)?;
        Some(
            self.sessions
                .log_level(session)
                .unwrap_or(notices::DEFAULT_LEVEL),
        )
    }
}

impl ServerHandler for ToolServer {
    #[allow(deprecated)] // `enable_logging`: see `set_level`
    fn get_info(&self) -> ServerConfig {
        // Everything is advertised even while no component offers it: a
        // component dropped in later is announced by `list_changed`.
        let capabilities = ServerCapabilities::builder()
            .enable_logging()
            .enable_completions()
            .enable_prompts()
            .enable_prompts_list_changed()
            .enable_resources()
            .enable_resources_list_changed()
            .enable_resources_subscribe()
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
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        // rmcp intersects this with what was asked for and advertised. Of
        // the resources asked for, those served now, up to the cap.
        let catalog = self.registry.snapshot();
        let followed = requested
            .resource_subscriptions
            .iter()
            .flatten()
            .filter(|uri| {
                uri.len() <= content::MAX_URI_BYTES && catalog.resource_owner(uri).is_some()
            })
            .take(MAX_SUBSCRIPTIONS)
            .cloned();
        Some(
            SubscriptionFilter::builder()
                .tools_list_changed()
                .prompts_list_changed()
                .resources_list_changed()
                .resource_subscriptions(followed)
                .build(),
        )
    }

    /// A `subscriptions/listen` stream (2026-07-28): registered so that list
    /// changes and updates of the resources it follows reach it, until the client closes it or the server
    /// stops (then it ends gracefully). Each one counts against its
    /// principal's sessions.
    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let caller = identity(context.request_context())?;
        let _listener = self
            .sessions
            .add_listener(
                &caller.principal,
                context.sink().clone(),
                context
                    .accepted()
                    .resource_subscriptions
                    .clone()
                    .unwrap_or_default(),
            )
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

    /// `logging/setLevel`: the level this session's log lines go out at.
    /// (2026-07-28 requests carry their level in `_meta` instead.)
    #[allow(deprecated)]
    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let caller = identity(&context)?;
        let Some(session) = self.session_of(&context, &caller) else {
            return Err(ErrorData::invalid_request(
                "logging/setLevel needs a session; 2026-07-28 requests name their level in _meta",
                None,
            ));
        };
        self.sessions
            .set_log_level(session, notices::severity(request.level));
        Ok(())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        Ok(
            ListPromptsResult::with_all_items(self.registry.snapshot().prompts().to_vec())
                .with_ttl_ms(TOOL_LIST_TTL_MS)
                .with_cache_scope(CacheScope::Private),
        )
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        self.serve_get_prompt(request, context)
            .await
            .map(Into::into)
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(
            ListResourcesResult::with_all_items(self.registry.snapshot().resources().to_vec())
                .with_ttl_ms(TOOL_LIST_TTL_MS)
                .with_cache_scope(CacheScope::Private),
        )
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(ListResourceTemplatesResult::with_all_items(
            self.registry.snapshot().resource_templates().to_vec(),
        )
        .with_ttl_ms(TOOL_LIST_TTL_MS)
        .with_cache_scope(CacheScope::Private))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        self.serve_read_resource(request, context)
            .await
            .map(Into::into)
    }

    /// `resources/subscribe` (handshake era): the session is told on its
    /// GET stream when the component serving `uri` is swapped or removed.
    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let caller = identity(&context)?;
        if request.uri.len() > content::MAX_URI_BYTES
            || self
                .registry
                .snapshot()
                .resource_owner(&request.uri)
                .is_none()
        {
            return Err(ErrorData::resource_not_found(
                "no such resource; call resources/list and resources/templates/list",
                Some(serde_json::json!({ "uri": content::printable(&request.uri, 256) })),
            ));
        }
        let Some(session) = self.session_of(&context, &caller) else {
            return Err(ErrorData::invalid_request(
                "resources/subscribe needs a session; use subscriptions/listen (2026-07-28)",
                None,
            ));
        };
        self.sessions
            .subscribe(session, &request.uri)
            .map_err(|too_many| ErrorData::new(RATE_LIMITED, too_many.to_string(), None))
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let caller = identity(&context)?;
        if let Some(session) = self.session_of(&context, &caller) {
            self.sessions.unsubscribe(session, &request.uri);
        }
        Ok(())
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        self.serve_complete(request, context).await
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
                method: "tools/call",
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
                format!(
                    "unknown tool `{}`; call tools/list for the tools available",
                    content::printable(&tool, 128)
                ),
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
        let (client, forwarder) = notices::open(&context, self.log_level(&context));
        let request = Request::CallTool {
            name: tool.clone(),
            arguments,
        };
        let CallReport { result, stats } = self
            .sandbox
            .serve(&component, request, &caller, Some(&client))
            .instrument(span.clone())
            .await;
        drop(client);
        forwarder.finish().await;
        let result = result.map(|answer| match answer {
            Answer::Tool(output) => output,
            _ => unreachable!("a tool call answers with a tool output"),
        });
        let (result, outcome) = match result {
            Ok(output) if output_size(&output) > self.max_output_bytes => {
                // Escaping can make an answer several times the size of the
                // rows behind it (a control character is six bytes of JSON),
                // and every byte is copied and parsed again here: the answer
                // has a budget of its own.
                (
                    error_result(format!(
                        "the tool's answer is {} bytes, more than this server's limit of {} \
                         bytes; ask for fewer rows or columns",
                        output_size(&output),
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
                    (Ok(value), _) => match tool_content(output.content) {
                        Ok(content) => {
                            let mut result = CallToolResult::success(content);
                            result.structured_content = value;
                            (result, Outcome::Ok)
                        }
                        Err(message) => (error_result(message), Outcome::BadOutput),
                    },
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
