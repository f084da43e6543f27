//! The host side of every import a tool component may use.
//!
//! Each capability is one unit (the pattern of Spin's factors): a module
//! whose type implements [`Capability`] — it owns its shared service (the
//! database pool, the embeddings provider), links its WIT interface once,
//! builds its small per-call context from one [`CallContext`], and reports
//! what the call did into [`CallStats`]. The sandbox knows none of them by
//! name; the operator's policy grants them by import name.
//!
//! Adding a capability: its module, one line in `capabilities!` below, its
//! interface in the WIT (and its service where the server is put together,
//! `app.rs`, if it has one).

pub mod caller;
pub mod client;
pub mod database;
pub mod embeddings;
pub mod wasi;

use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::Linker;

use crate::identity::Identity;
use crate::runtime::limits::CallLimiter;
use crate::runtime::policy::Grant;

/// What a capability needs to know about one call.
pub struct CallContext<'a> {
    /// `None` while the host lists a component's tools: no caller, no data.
    pub caller: Option<&'a Identity>,
    /// The component's file name, for messages and logs.
    pub component: &'a Arc<str>,
    /// The tool, prompt or resource being served, for logs.
    pub tool: &'a str,
    /// What the operator's policy allows this component.
    pub grant: &'a Grant,
    /// Where notifications to the calling client go (`None` while listing).
    pub client: Option<&'a client::ClientChannel>,
}

impl CallContext<'_> {
    /// The refusal for an import this component was not granted, or `None`
    /// when it was.
    pub fn withheld(&self, import: &str) -> Option<String> {
        (!self.grant.allows(import)).then(|| {
            format!(
                "the operator's component policy does not grant `{}` the {import} import",
                self.component
            )
        })
    }
}

/// One host capability.
pub trait Capability: Send + Sync + 'static {
    /// Its name in the policy's `imports = [...]`; `None`: every component
    /// has it (the caller's scope and log).
    const IMPORT: Option<&'static str>;
    /// What one call holds.
    type Ctx: Send + 'static;
    /// Links the WIT interface into the shared linker (once).
    fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()>;
    /// The context of one call.
    fn prepare(&self, call: &CallContext<'_>) -> Self::Ctx;
    /// What the call did, for the audit trail and the metrics.
    fn report(_ctx: &mut Self::Ctx, _stats: &mut CallStats) {}
}

/// What a call did through its imports.
#[derive(Debug, Default)]
pub struct CallStats {
    pub queries: Vec<database::QueryRecord>,
    pub embedded_texts: u32,
    /// Time spent waiting for the embeddings provider.
    pub embedding_time: Duration,
    /// Time to instantiate the component (zero if that failed).
    pub instantiate: Duration,
    /// Notifications sent to the caller, and those over the call's budget.
    pub notices: u32,
    pub notices_dropped: u32,
}

/// Declares the capabilities: their shared services ([`Capabilities`]),
/// their per-call contexts ([`Contexts`]), linking, preparing and reporting
/// them all.
macro_rules! capabilities {
    ($($field:ident: $capability:ty),* $(,)?) => {
        /// The shared service of every capability. `default()` has none
        /// configured: imports that need one answer `unavailable`.
        #[derive(Default)]
        pub struct Capabilities {
            $(pub $field: $capability,)*
        }

        /// Every capability's context for one call.
        pub struct Contexts {
            $(pub $field: <$capability as Capability>::Ctx,)*
        }

        impl Capabilities {
            /// The import names a policy may grant.
            pub fn grantable() -> Vec<&'static str> {
                [$(<$capability as Capability>::IMPORT),*].into_iter().flatten().collect()
            }

            /// Links every import the host offers (and the WASI subset).
            pub fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
                wasi::add_to_linker(linker)?;
                $(<$capability as Capability>::add_to_linker(linker)?;)*
                Ok(())
            }

            pub fn prepare(&self, call: &CallContext<'_>) -> Contexts {
                Contexts {
                    $($field: self.$field.prepare(call),)*
                }
            }

            pub fn report(contexts: &mut Contexts, stats: &mut CallStats) {
                $(<$capability as Capability>::report(&mut contexts.$field, stats);)*
            }
        }
    };
}

capabilities! {
    caller: caller::Caller,
    client: client::Client,
    database: database::Database,
    embeddings: embeddings::EmbeddingsImport,
}

/// Everything one sandboxed call may touch. Built fresh for every call and
/// dropped with its `Store`, so nothing survives from one caller to the next.
pub struct HostState {
    pub caps: Contexts,
    pub wasi: wasi::WasiState,
    pub limiter: CallLimiter,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grantable_imports_are_those_the_capabilities_name() {
        assert_eq!(Capabilities::grantable(), ["database", "embeddings"]);
    }
}
