//! The `caller` import: who is calling (as far as a component needs to
//! know), and the host's structured log.

pub use crate::bindings::tool_world::zava::mcp::caller::{Level, Scope, current, log};

/// The caller's data scope: head office, one store's manager, or no store.
/// The database import already runs every query as this caller; this only
/// lets a tool say whose rows it shows.
pub fn scope() -> Scope {
    current()
}
