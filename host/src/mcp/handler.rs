//! The MCP protocol handler: `tools/list` from the registry snapshot,
//! `tools/call` into the sandbox as the request's authenticated caller.

use std::borrow::Cow;
use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    InitializeResult, ListToolsResult, PaginatedRequestParams, ProtocolVersion, ServerCapabilities,
    ServerConfig,
};
use rmcp::service::{NotificationContext, RequestContext};
use rmcp::{ErrorData, RoleServer, ServerHandler};

use super::sessions::Sessions;
use crate::identity::Identity;
use crate::runtime::registry::Registry;
use crate::runtime::sandbox::Sandbox;

/// The newest protocol revision we speak; older clients are negotiated down.
const MAX_PROTOCOL: ProtocolVersion = ProtocolVersion::V_2025_11_25;

const INSTRUCTIONS: &str = "Tools over the Zava retail data. Every call runs as the \
caller identified by this connection: store managers see their store only, head office sees all.";

#[derive(Clone)]
pub struct ToolServer {
    registry: Arc<Registry>,
    sandbox: Arc<Sandbox>,
    sessions: Arc<Sessions>,
}

impl ToolServer {
    pub fn new(registry: Arc<Registry>, sandbox: Arc<Sandbox>, sessions: Arc<Sessions>) -> Self {
        Self {
            registry,
            sandbox,
            sessions,
        }
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
            .with_protocol_version(MAX_PROTOCOL)
            .with_server_info(
                Implementation::new("zava-mcp-host", env!("CARGO_PKG_VERSION"))
                    .with_title("Zava retail MCP server"),
            )
            .with_instructions(INSTRUCTIONS)
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        Cow::Borrowed(ProtocolVersion::known_up_to(&MAX_PROTOCOL))
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        self.sessions.add(context.peer);
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(
            self.registry.snapshot().tools().to_vec(),
        ))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let caller = identity(&context)?;
        let catalog = self.registry.snapshot();
        let Some(component) = catalog.component_for(&request.name).cloned() else {
            return Err(ErrorData::invalid_params(
                format!(
                    "unknown tool `{}`; call tools/list for the tools available",
                    request.name
                ),
                None,
            ));
        };
        // The spec lets clients omit arguments; tools always get an object.
        let arguments =
            serde_json::Value::Object(request.arguments.unwrap_or_default()).to_string();
        let spec = component.tools.iter().find(|t| t.name == request.name);
        let started = std::time::Instant::now();
        let outcome = self
            .sandbox
            .call_tool(
                &component.pre,
                &component.file,
                &request.name,
                &arguments,
                &caller,
            )
            .await;
        let result = match outcome {
            Ok(output) => {
                let structured = match output.structured.as_deref().map(serde_json::from_str) {
                    None => Ok(None),
                    Some(Ok(value)) => Ok(Some(value)),
                    Some(Err(e)) => Err(format!(
                        "the tool returned malformed structured output: {e}"
                    )),
                };
                match (structured, spec.is_some_and(|s| s.has_output_schema)) {
                    (Err(message), _) => error_result(message),
                    (Ok(None), true) => error_result(
                        "the tool declares an output schema but returned no structured output"
                            .into(),
                    ),
                    (Ok(value), _) => {
                        let mut result =
                            CallToolResult::success(vec![ContentBlock::text(output.text)]);
                        result.structured_content = value;
                        result
                    }
                }
            }
            Err(error) => error_result(error.to_string()),
        };
        let outcome_label = match &result.is_error {
            Some(true) => "error",
            _ => "ok",
        };
        tracing::info!(
            tool = %request.name,
            component = &*component.file,
            scope = ?caller.scope,
            outcome = outcome_label,
            us = started.elapsed().as_micros() as u64,
            "tool call"
        );
        Ok(result.into())
    }
}
