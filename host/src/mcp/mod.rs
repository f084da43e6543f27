//! MCP: the protocol handler and its HTTP front.
//!
//! - [`handler`]: rmcp `ServerHandler` over the tool registry; knows no HTTP.
//! - [`sessions`]: live sessions, told when the tool list changes.
//! - [`http`]: the axum router: `/mcp`, `/healthz`, `/readyz`.
//! - [`guard`]: Host/Origin checks and identity, before rmcp sees a request.
//! - [`session_owners`]: a session is usable only by the identity that opened it.
//! - [`rate_limit`]: per-caller concurrency and calls-per-period limits.
//! - [`jsonrpc`]: body cap and JSON-RPC error answers for malformed input.

pub mod guard;
pub mod handler;
pub mod http;
pub mod jsonrpc;
pub mod rate_limit;
pub mod session_owners;
pub mod sessions;
