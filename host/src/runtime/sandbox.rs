//! One tool call = one fresh `Store` and instance, so no memory survives from
//! one caller to the next. Every way a guest can go wrong (trap, panic,
//! deadline, memory, a forbidden import) comes back as a [`CallError`] with a
//! plain message; nothing here can take the host down.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::InstancePre;
use wasmtime::{Engine, Store, UpdateDeadline};

use super::limits::CallLimiter;
use super::loader::LoadedComponent;
use super::policy::Grant;
use crate::bindings::ToolComponentPre;
use crate::bindings::exports::zava::mcp::tool::{ToolDef, ToolError, ToolOutput};
pub use crate::capabilities::CallStats;
use crate::capabilities::{CallContext, Capabilities, HostState, wasi::WasiState};
use crate::identity::Identity;
use crate::outcome::Outcome;

/// Extra time given to the async backstop timer beyond the epoch deadline,
/// so the precise epoch check normally fires first.
const BACKSTOP_GRACE: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CallError {
    #[error("invalid arguments: {0}")]
    InvalidArguments(String),
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
            Self::Failed(_) => Outcome::ToolError,
            Self::Deadline(_) => Outcome::Deadline,
            Self::OutOfMemory(_) => Outcome::OutOfMemory,
            Self::Crashed(_) => Outcome::Crashed,
            Self::Busy => Outcome::Busy,
        }
    }
}

/// What one call produced, and what it did on the way.
pub struct CallReport {
    pub result: Result<ToolOutput, CallError>,
    pub stats: CallStats,
}

/// Raised from the epoch callback when a call runs past its deadline.
#[derive(Debug, thiserror::Error)]
#[error("deadline exceeded")]
struct DeadlineExceeded;

pub struct Sandbox {
    engine: Engine,
    /// The services behind the imports every call may be granted.
    capabilities: Capabilities,
}

impl Sandbox {
    /// A sandbox on `engine` whose imports reach `capabilities`; each call's
    /// limits and imports come from its component's grant.
    pub fn new(engine: Engine, capabilities: Capabilities) -> Self {
        Self {
            engine,
            capabilities,
        }
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
        let grant = &component.grant;
        let mut store = self.new_store(&component.file, tool, Some(caller), grant);
        let mut instantiate = Duration::ZERO;
        let run = async {
            let started = Instant::now();
            let instance = component.pre.instantiate_async(&mut store).await?;
            instantiate = started.elapsed();
            instance
                .zava_mcp_tool()
                .call_call_tool(&mut store, tool, arguments)
                .await
        };
        let result = match tokio::time::timeout(grant.deadline + BACKSTOP_GRACE, run).await {
            Err(_elapsed) => Err(CallError::Deadline(grant.deadline)),
            Ok(Ok(Ok(output))) => Ok(output),
            Ok(Ok(Err(ToolError::InvalidArguments(message)))) => {
                Err(CallError::InvalidArguments(message))
            }
            Ok(Ok(Err(ToolError::Failed(message)))) => Err(CallError::Failed(message)),
            Ok(Err(error)) => Err(self.classify(&error, &store, grant)),
        };
        let mut stats = CallStats {
            instantiate,
            ..CallStats::default()
        };
        Capabilities::report(&mut store.data_mut().caps, &mut stats);
        CallReport { result, stats }
    }

    /// Asks a freshly linked component which tools it offers.
    pub async fn list_tools(
        &self,
        pre: &ToolComponentPre<HostState>,
        component: &Arc<str>,
        grant: &Grant,
    ) -> Result<Vec<ToolDef>, CallError> {
        let mut store = self.new_store(component, "list-tools", None, grant);
        let run = async {
            let instance = pre.instantiate_async(&mut store).await?;
            instance.zava_mcp_tool().call_list_tools(&mut store).await
        };
        match tokio::time::timeout(grant.deadline + BACKSTOP_GRACE, run).await {
            Err(_elapsed) => Err(CallError::Deadline(grant.deadline)),
            Ok(Ok(defs)) => Ok(defs),
            Ok(Err(error)) => Err(self.classify(&error, &store, grant)),
        }
    }

    /// Links a component for this sandbox's engine.
    pub fn prepare(
        &self,
        pre: InstancePre<HostState>,
    ) -> wasmtime::Result<ToolComponentPre<HostState>> {
        ToolComponentPre::new(pre)
    }

    /// A store for one call; `caller` is `None` while listing tools, which
    /// then sees no scope and cannot query.
    fn new_store(
        &self,
        component: &Arc<str>,
        tool: &str,
        caller: Option<&Identity>,
        grant: &Grant,
    ) -> Store<HostState> {
        let state = HostState {
            caps: self.capabilities.prepare(&CallContext {
                caller,
                component,
                tool,
                grant,
            }),
            wasi: WasiState::new(component),
            limiter: CallLimiter::new(grant.memory_bytes),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limiter);
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
