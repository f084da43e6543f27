//! One tool call = one fresh `Store` and instance, so no memory survives from
//! one caller to the next. Every way a guest can go wrong (trap, panic,
//! deadline, memory, a forbidden import) comes back as a [`CallError`] with a
//! plain message; nothing here can take the host down.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::{Instance, InstancePre};
use wasmtime::{Engine, Store, UpdateDeadline};

use super::contract::{Offer, Version};
use super::limits::CallLimiter;
use super::loader::LoadedComponent;
use super::policy::Grant;
use super::tooldef;
use crate::bindings::exports::zava::mcp::prompts::{self, PromptDef, PromptResult};
use crate::bindings::exports::zava::mcp::resources::{self, ResourceDef, TemplateDef};
use crate::bindings::exports::zava::mcp::tool::{self, ToolDef, ToolError, ToolOutput};
use crate::bindings::v1::exports::zava::mcp::tool as v1_tool;
use crate::bindings::zava::mcp::types::{Content, RequestError, ResourceContents};
pub use crate::capabilities::CallStats;
use crate::capabilities::client::ClientChannel;
use crate::capabilities::{CallContext, Capabilities, HostState, wasi::WasiState};
use crate::identity::Identity;
use crate::outcome::Outcome;

/// Most bytes one transfer from a guest to the host may copy (wasmtime's
/// default is 128 MiB); the component's memory limit when lower.
const MAX_TRANSFER_BYTES: usize = 32 << 20;

/// Longest message a component's error may carry to the client and the logs.
const MAX_ERROR_MESSAGE: usize = 4096;

/// Extra time given to the async backstop timer beyond the epoch deadline,
/// so the precise epoch check normally fires first.
const BACKSTOP_GRACE: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CallError {
    #[error("invalid arguments: {0}")]
    InvalidArguments(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Failed(String),
    #[error("the tool was stopped: it ran longer than its {} s limit", .0.as_secs_f64())]
    Deadline(Duration),
    #[error("the tool was stopped: it needed more than its {} MiB memory limit", .0 >> 20)]
    OutOfMemory(usize),
    #[error("the tool crashed: {0}")]
    Crashed(String),
    #[error("the server is running as many tool calls as it allows; retry shortly")]
    Busy,
}

impl CallError {
    /// How the call ended, for logs, metrics and the audit trail.
    pub fn outcome(&self) -> Outcome {
        match self {
            Self::InvalidArguments(_) => Outcome::InvalidArguments,
            Self::NotFound(_) => Outcome::NotFound,
            Self::Failed(_) => Outcome::ToolError,
            Self::Deadline(_) => Outcome::Deadline,
            Self::OutOfMemory(_) => Outcome::OutOfMemory,
            Self::Crashed(_) => Outcome::Crashed,
            Self::Busy => Outcome::Busy,
        }
    }
}

/// A component's exports, found once when it is loaded: the linked
/// component and where each interface it offers lives.
#[derive(Clone)]
pub enum Exports {
    /// `zava:mcp@0.1.0`: tools only.
    V1 {
        pre: InstancePre<HostState>,
        tool: v1_tool::GuestIndices,
    },
    /// `zava:mcp@0.2.0`: any of tools, prompts, resources.
    V2 {
        pre: InstancePre<HostState>,
        tool: Option<tool::GuestIndices>,
        prompts: Option<prompts::GuestIndices>,
        resources: Option<resources::GuestIndices>,
    },
}

impl Exports {
    /// Finds the exports `offer` names in the linked component.
    pub fn find(pre: InstancePre<HostState>, offer: &Offer) -> wasmtime::Result<Self> {
        Ok(match offer.version {
            Version::V1 => Self::V1 {
                tool: v1_tool::GuestIndices::new(&pre)?,
                pre,
            },
            Version::V2 => Self::V2 {
                tool: offer
                    .tools
                    .then(|| tool::GuestIndices::new(&pre))
                    .transpose()?,
                prompts: offer
                    .prompts
                    .then(|| prompts::GuestIndices::new(&pre))
                    .transpose()?,
                resources: offer
                    .resources
                    .then(|| resources::GuestIndices::new(&pre))
                    .transpose()?,
                pre,
            },
        })
    }

    fn pre(&self) -> &InstancePre<HostState> {
        match self {
            Self::V1 { pre, .. } | Self::V2 { pre, .. } => pre,
        }
    }

    /// The compiled component.
    pub fn component(&self) -> &wasmtime::component::Component {
        self.pre().component()
    }
}

/// What the host asks a component.
#[derive(Debug, Clone)]
pub enum Request {
    /// Everything it offers (at load time, with no caller).
    Discover,
    CallTool {
        name: String,
        arguments: String,
    },
    GetPrompt {
        name: String,
        arguments: Vec<(String, String)>,
    },
    /// Completions for an argument of a prompt.
    CompletePrompt(Completion),
    ReadResource {
        uri: String,
    },
    /// Completions for a variable of a resource template.
    CompleteTemplate(Completion),
}

#[derive(Debug, Clone)]
pub struct Completion {
    /// The prompt's name or the template's text.
    pub of: String,
    pub argument: String,
    pub value: String,
    pub context: Vec<(String, String)>,
}

impl Request {
    /// What a log line or an error names this request by.
    pub fn label(&self) -> &str {
        match self {
            Self::Discover => "list",
            Self::CallTool { name, .. } | Self::GetPrompt { name, .. } => name,
            Self::ReadResource { uri } => uri,
            Self::CompletePrompt(c) | Self::CompleteTemplate(c) => &c.of,
        }
    }
}

/// Everything a component offers, as it declared it.
#[derive(Debug, Default)]
pub struct Offered {
    pub tools: Vec<ToolDef>,
    pub prompts: Vec<PromptDef>,
    pub resources: Vec<ResourceDef>,
    pub templates: Vec<TemplateDef>,
}

/// A component's answer.
#[derive(Debug)]
pub enum Answer {
    Offered(Offered),
    Tool(ToolOutput),
    Prompt(PromptResult),
    Completions(Vec<String>),
    Contents(Vec<ResourceContents>),
}

/// What one call produced, and what it did on the way.
pub struct CallReport {
    pub result: Result<Answer, CallError>,
    pub stats: CallStats,
}

/// Raised from the epoch callback when a call runs past its deadline.
#[derive(Debug, thiserror::Error)]
#[error("deadline exceeded")]
struct DeadlineExceeded;

pub struct Sandbox {
    /// The services behind the imports every call may be granted.
    capabilities: Capabilities,
}

/// A component's message, cut to [`MAX_ERROR_MESSAGE`] bytes.
fn capped(mut message: String) -> String {
    if message.len() > MAX_ERROR_MESSAGE {
        let len = message.len();
        let keep = crate::capabilities::caller::truncate(&message, MAX_ERROR_MESSAGE).len();
        message.truncate(keep);
        message.push_str(&format!("… ({len} bytes)"));
    }
    message
}

impl From<ToolError> for CallError {
    fn from(error: ToolError) -> Self {
        match error {
            ToolError::InvalidArguments(message) => Self::InvalidArguments(capped(message)),
            ToolError::Failed(message) => Self::Failed(capped(message)),
        }
    }
}

impl From<RequestError> for CallError {
    fn from(error: RequestError) -> Self {
        match error {
            RequestError::InvalidArguments(message) => Self::InvalidArguments(capped(message)),
            RequestError::NotFound(message) => Self::NotFound(capped(message)),
            RequestError::Failed(message) => Self::Failed(capped(message)),
        }
    }
}

impl Sandbox {
    /// A sandbox whose imports reach `capabilities`; each call's limits and
    /// imports come from its component's grant, its store from the engine
    /// that compiled the component.
    pub fn new(capabilities: Capabilities) -> Self {
        Self { capabilities }
    }

    /// Calls `tool` of `component` with JSON `arguments` as `caller`, under
    /// the limits and imports the component's policy grant allows.
    pub async fn call_tool(
        &self,
        component: &LoadedComponent,
        tool: &str,
        arguments: &str,
        caller: &Identity,
    ) -> CallReport {
        let request = Request::CallTool {
            name: tool.into(),
            arguments: arguments.into(),
        };
        self.serve(component, request, caller, None).await
    }

    /// Serves `request` with a fresh instance of `component` as `caller`,
    /// under the limits and imports its policy grant allows; notifications
    /// it sends go to `client`.
    pub async fn serve(
        &self,
        component: &LoadedComponent,
        request: Request,
        caller: &Identity,
        client: Option<&ClientChannel>,
    ) -> CallReport {
        let context = Context {
            file: &component.file,
            caller: Some(caller),
            client,
            grant: &component.grant,
        };
        self.run(&component.exports, context, request).await
    }

    /// Asks a freshly linked component what it offers.
    pub async fn discover(
        &self,
        exports: &Exports,
        file: &Arc<str>,
        grant: &Grant,
    ) -> Result<Offered, CallError> {
        let context = Context {
            file,
            caller: None,
            client: None,
            grant,
        };
        match self.run(exports, context, Request::Discover).await.result {
            Ok(Answer::Offered(offered)) => Ok(offered),
            Ok(_) => unreachable!("discovery answers with an offer"),
            Err(error) => Err(error),
        }
    }

    async fn run(&self, exports: &Exports, context: Context<'_>, request: Request) -> CallReport {
        let grant = context.grant;
        let mut store = self.new_store(exports.component().engine(), &context, request.label());
        let mut instantiate = Duration::ZERO;
        let run = async {
            let started = Instant::now();
            let instance = exports.pre().instantiate_async(&mut store).await?;
            instantiate = started.elapsed();
            ask(exports, &mut store, &instance, request).await
        };
        let result = match tokio::time::timeout(grant.deadline + BACKSTOP_GRACE, run).await {
            Err(_elapsed) => Err(CallError::Deadline(grant.deadline)),
            Ok(Ok(answer)) => answer,
            Ok(Err(error)) => Err(self.classify(&error, &store, grant)),
        };
        let mut stats = CallStats {
            instantiate,
            ..CallStats::default()
        };
        Capabilities::report(&mut store.data_mut().caps, &mut stats);
        CallReport { result, stats }
    }

    /// Links a component for this sandbox's engine and finds its exports.
    pub fn prepare(&self, pre: InstancePre<HostState>, offer: &Offer) -> wasmtime::Result<Exports> {
        Exports::find(pre, offer)
    }

    /// A store for one call; the caller is `None` while discovering, which
    /// then sees no scope and cannot query.
    /// `engine` is the one that compiled the component (Cranelift's, or
    /// Winch's while a big component waits for optimised code).
    fn new_store(&self, engine: &Engine, context: &Context<'_>, label: &str) -> Store<HostState> {
        let grant = context.grant;
        let state = HostState {
            caps: self.capabilities.prepare(&CallContext {
                caller: context.caller,
                component: context.file,
                tool: label,
                grant,
                client: context.client,
            }),
            wasi: WasiState::new(context.file),
            limiter: CallLimiter::new(grant.memory_bytes),
        };
        let mut store = Store::new(engine, state);
        store.limiter(|state| &mut state.limiter);
        // What the host may allocate for one transfer out of the guest (an
        // import's arguments, an export's answer): strings and lists that
        // all point at the same guest bytes would otherwise cost the host
        // far more than the guest's own memory limit.
        store.set_hostcall_fuel(grant.memory_bytes.min(MAX_TRANSFER_BYTES));
        // Every epoch tick the guest yields to tokio (a busy loop cannot hog a
        // worker thread) and the deadline is checked.
        let deadline = Instant::now() + grant.deadline;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if Instant::now() >= deadline {
                Err(wasmtime::Error::new(DeadlineExceeded))
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        store
    }

    /// Turns a wasmtime error into something a caller can read.
    fn classify(
        &self,
        error: &wasmtime::Error,
        store: &Store<HostState>,
        grant: &Grant,
    ) -> CallError {
        if error.is::<DeadlineExceeded>() {
            return CallError::Deadline(grant.deadline);
        }
        if store.data().limiter.memory_refused {
            return CallError::OutOfMemory(grant.memory_bytes);
        }
        let chain = format!("{error:#}");
        if chain.contains("concurrent instance limit") || chain.contains("maximum concurrent") {
            return CallError::Busy;
        }
        if let Some(import) = forbidden_import(&chain) {
            return CallError::Crashed(format!(
                "it called `{import}`, which tool components are not given (no filesystem or network)"
            ));
        }
        let stderr = store.data().wasi.stderr_tail();
        let detail = match (error.downcast_ref::<wasmtime::Trap>(), stderr.as_str()) {
            (_, tail) if tail.contains("panicked at") => {
                format!("it panicked: {}", last_lines(tail, 4))
            }
            (Some(trap), "") => format!("it trapped ({trap})"),
            (Some(trap), tail) => format!("it trapped ({trap}): {}", last_lines(tail, 4)),
            (None, _) => chain,
        };
        CallError::Crashed(detail)
    }
}

/// Who a call is for and what it may use.
struct Context<'a> {
    file: &'a Arc<str>,
    caller: Option<&'a Identity>,
    client: Option<&'a ClientChannel>,
    grant: &'a Grant,
}

/// Asks an instance `request` through the export that serves it.
async fn ask(
    exports: &Exports,
    store: &mut Store<HostState>,
    instance: &Instance,
    request: Request,
) -> wasmtime::Result<Result<Answer, CallError>> {
    let missing = |what: &str| Ok(Err(CallError::NotFound(format!("it offers no {what}"))));
    match (exports, request) {
        (Exports::V1 { tool, .. }, Request::Discover) => {
            let tools = tool
                .load(&mut *store, instance)?
                .call_list_tools(&mut *store)
                .await?;
            let tools = tools.into_iter().map(tooldef::from_v1).collect();
            Ok(Ok(Answer::Offered(Offered {
                tools,
                ..Offered::default()
            })))
        }
        (Exports::V1 { tool, .. }, Request::CallTool { name, arguments }) => {
            let guest = tool.load(&mut *store, instance)?;
            Ok(
                match guest.call_call_tool(&mut *store, &name, &arguments).await? {
                    Ok(v1_tool::ToolOutput { text, structured }) => Ok(Answer::Tool(ToolOutput {
                        content: vec![Content::Text(text)],
                        structured,
                    })),
                    Err(v1_tool::ToolError::InvalidArguments(m)) => {
                        Err(CallError::InvalidArguments(capped(m)))
                    }
                    Err(v1_tool::ToolError::Failed(m)) => Err(CallError::Failed(capped(m))),
                },
            )
        }
        (Exports::V1 { .. }, _) => missing("prompts or resources (it was built against 0.1)"),
        (
            Exports::V2 {
                tool,
                prompts,
                resources,
                ..
            },
            request,
        ) => match request {
            Request::Discover => {
                let mut offered = Offered::default();
                if let Some(tool) = tool {
                    offered.tools = tool
                        .load(&mut *store, instance)?
                        .call_list_tools(&mut *store)
                        .await?;
                }
                if let Some(prompts) = prompts {
                    let guest = prompts.load(&mut *store, instance)?;
                    offered.prompts = guest.call_list_prompts(&mut *store).await?;
                }
                if let Some(resources) = resources {
                    let guest = resources.load(&mut *store, instance)?;
                    offered.resources = guest.call_list_resources(&mut *store).await?;
                    offered.templates = guest.call_list_templates(&mut *store).await?;
                }
                Ok(Ok(Answer::Offered(offered)))
            }
            Request::CallTool { name, arguments } => {
                let Some(tool) = tool else {
                    return missing("tools");
                };
                let guest = tool.load(&mut *store, instance)?;
                let answer = guest.call_call_tool(&mut *store, &name, &arguments).await?;
                Ok(answer.map(Answer::Tool).map_err(CallError::from))
            }
            Request::GetPrompt { name, arguments } => {
                let Some(prompts) = prompts else {
                    return missing("prompts");
                };
                let guest = prompts.load(&mut *store, instance)?;
                let answer = guest
                    .call_get_prompt(&mut *store, &name, &arguments)
                    .await?;
                Ok(answer.map(Answer::Prompt).map_err(CallError::from))
            }
            Request::CompletePrompt(c) => {
                let Some(prompts) = prompts else {
                    return missing("prompts");
                };
                let guest = prompts.load(&mut *store, instance)?;
                let answer = guest
                    .call_complete(&mut *store, &c.of, &c.argument, &c.value, &c.context)
                    .await?;
                Ok(answer.map(Answer::Completions).map_err(CallError::from))
            }
            Request::ReadResource { uri } => {
                let Some(resources) = resources else {
                    return missing("resources");
                };
                let guest = resources.load(&mut *store, instance)?;
                let answer = guest.call_read_resource(&mut *store, &uri).await?;
                Ok(answer.map(Answer::Contents).map_err(CallError::from))
            }
            Request::CompleteTemplate(c) => {
                let Some(resources) = resources else {
                    return missing("resources");
                };
                let guest = resources.load(&mut *store, instance)?;
                let answer = guest
                    .call_complete(&mut *store, &c.of, &c.argument, &c.value, &c.context)
                    .await?;
                Ok(answer.map(Answer::Completions).map_err(CallError::from))
            }
        },
    }
}

/// The import named by wasmtime's "unknown import ... has not been defined" trap.
fn forbidden_import(chain: &str) -> Option<&str> {
    let rest = &chain[chain.find("unknown import")?..];
    let start = rest.find('`')? + 1;
    let len = rest[start..].find('`')?;
    Some(&rest[start..start + len])
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_forbidden_import() {
        let chain = "error while executing: unknown import: `wasi:filesystem/preopens@0.2.6#get-directories` has not been defined";
        assert_eq!(
            forbidden_import(chain),
            Some("wasi:filesystem/preopens@0.2.6#get-directories")
        );
        assert_eq!(forbidden_import("wasm trap: unreachable"), None);
    }

    #[test]
    fn errors_read_plainly() {
        assert_eq!(
            CallError::Deadline(Duration::from_secs(30)).to_string(),
            "the tool was stopped: it ran longer than its 30 s limit"
        );
        assert_eq!(
            CallError::OutOfMemory(64 << 20).to_string(),
            "the tool was stopped: it needed more than its 64 MiB memory limit"
        );
    }
}
