//! `zava:mcp/caller`: the caller's scope and a log sink tagged with the tool.

use std::sync::Arc;

use wasmtime::component::{HasData, Linker};

use super::{CallContext, Capability, HostState};
use crate::bindings::v1::zava::mcp::caller as v1_caller;
use crate::bindings::zava::mcp::caller::{self, Level, Scope as WitScope};
use crate::identity::Scope;

/// The capability: every component has it, and it needs no service.
#[derive(Default)]
pub struct Caller;

impl Capability for Caller {
    const IMPORT: Option<&'static str> = None;
    type Ctx = CallerCtx;

    fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
        caller::add_to_linker::<HostState, CallerImport>(linker, |state| &mut state.caps.caller)?;
        v1_caller::add_to_linker::<HostState, CallerImport>(linker, |state| &mut state.caps.caller)
    }

    fn prepare(&self, call: &CallContext<'_>) -> CallerCtx {
        CallerCtx {
            scope: call.caller.map_or(Scope::Unassigned, |c| c.scope),
            component: call.component.clone(),
            tool: call.tool.into(),
        }
    }
}

/// Per-call state: whose call this is and which tool is running.
pub struct CallerCtx {
    pub scope: Scope,
    /// The component file, then the tool name, for log lines.
    pub component: Arc<str>,
    pub tool: Arc<str>,
}

struct CallerImport;
impl HasData for CallerImport {
    type Data<'a> = &'a mut CallerCtx;
}

/// Log lines from a component are capped so a chatty tool cannot flood the log.
const MAX_LOG_LINE: usize = 4096;

impl caller::Host for CallerCtx {
    async fn current(&mut self) -> WitScope {
        match self.scope {
            Scope::HeadOffice => WitScope::HeadOffice,
            Scope::Store(id) => WitScope::Store(id),
            Scope::Unassigned => WitScope::Unassigned,
        }
    }

    async fn log(&mut self, level: Level, message: String) {
        let message = truncate(&message, MAX_LOG_LINE);
        let (component, tool) = (&*self.component, &*self.tool);
        match level {
            Level::Debug => tracing::debug!(target: "component", component, tool, "{message}"),
            Level::Info => tracing::info!(target: "component", component, tool, "{message}"),
            Level::Warn => tracing::warn!(target: "component", component, tool, "{message}"),
            Level::Error => tracing::error!(target: "component", component, tool, "{message}"),
        }
    }
}

/// 0.1 components: the same import under its old version.
impl v1_caller::Host for CallerCtx {
    async fn current(&mut self) -> v1_caller::Scope {
        match caller::Host::current(self).await {
            WitScope::HeadOffice => v1_caller::Scope::HeadOffice,
            WitScope::Store(id) => v1_caller::Scope::Store(id),
            WitScope::Unassigned => v1_caller::Scope::Unassigned,
        }
    }

    async fn log(&mut self, level: v1_caller::Level, message: String) {
        let level = match level {
            v1_caller::Level::Debug => Level::Debug,
            v1_caller::Level::Info => Level::Info,
            v1_caller::Level::Warn => Level::Warn,
            v1_caller::Level::Error => Level::Error,
        };
        caller::Host::log(self, level, message).await
    }
}

/// Cuts `text` to at most `max` bytes on a character boundary.
pub(crate) fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::truncate;

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("héllo", 3), "hé");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
