//! MCP: the protocol handler and its HTTP front.
//!
//! - [`handler`]: rmcp `ServerHandler` over the tool registry; knows no HTTP.
//! - [`sessions`]: live sessions: their owners (a session is usable only by
//!   its opener), how many each principal holds, their peers (told when the
//!   tool list changes).
//! - [`admission`]: `initialize` rate and sessions per principal.
//! - [`http`]: the axum router: `/mcp`, `/healthz`, `/readyz`, `/metrics`.
//! - [`edge`]: one Host per request, Host checks for probes, `TCP_NODELAY`.
//! - [`guard`]: Host/Origin checks and identity, before rmcp sees a request.
//! - [`rate_limit`]: per-caller concurrency and calls-per-period limits.
//! - [`jsonrpc`]: body cap and JSON-RPC error answers for malformed input.

pub mod admission;
pub mod edge;
pub mod guard;
pub mod handler;
pub mod http;
pub mod jsonrpc;
pub mod notices;
pub mod offers;
pub mod rate_limit;
pub mod sessions;
