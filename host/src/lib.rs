//! `mcp-host`: an MCP server whose tools are sandboxed WebAssembly components.
//!
//! Reading order:
//! - [`config`]: every knob, one typed struct per subcommand;
//!   [`config_file`]: the same knobs from a TOML file.
//! - [`identity`]: who is calling (Entra ID tokens, or the dev header).
//! - [`runtime`]: wasmtime engine, component loading, the per-call sandbox, the
//!   tool registry and the folder watcher that hot-swaps components.
//! - [`capabilities`]: the host side of each WIT import (`caller`, `database`,
//!   `embeddings`, and the small WASI subset components get).
//! - [`db`]: PostgreSQL — embedded or external, migrations, and caller
//!   queries under Row Level Security; [`seed`]: the Zava demo data.
//! - [`embeddings`]: the embeddings providers (local model, Azure OpenAI,
//!   OpenAI-compatible) and `mcp-host embed`.
//! - [`mcp`]: the MCP protocol handler (rmcp) and its HTTP front (axum).
//! - [`audit`]: one JSON line per tool call (who, what, which SQL shapes).
//! - [`metrics`]: Prometheus series at `/metrics`; [`telemetry`]: logs and
//!   OTLP traces.
//! - [`app`]: wiring it all together for `mcp-host serve`.

pub mod app;
pub mod audit;
pub mod capabilities;
pub mod check_component;
pub mod config;
pub mod config_file;
pub mod db;
pub mod embeddings;
pub mod healthcheck;
pub mod identity;
pub mod mcp;
pub mod metrics;
pub mod outcome;
pub mod runtime;
pub mod scaffold;
pub mod seed;
pub mod telemetry;

/// The generated bindings for the WIT contract the host speaks: 0.2
/// (`wit/zava-mcp.wit`) at the root, and the frozen 0.1 (`wit/v0.1/`) in
/// [`bindings::v1`]. 0.1's data types are 0.2's (the same WIT types, so the
/// same Rust types); what differs is adapted where the host reads 0.1 exports.
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "server-component",
        imports: { default: async },
        exports: { default: async },
        additional_derives: [PartialEq],
    });

    /// `zava:mcp@0.1.0`, for components built before 0.2.
    pub mod v1 {
        wasmtime::component::bindgen!({
            path: "../wit/v0.1",
            world: "tool-component",
            imports: { default: async },
            exports: { default: async },
            with: { "zava:mcp/types@0.1.0": crate::bindings::zava::mcp::types },
        });
    }
}

/// The WIT package this host speaks, and its versions (newest first);
/// components built against another version are refused at load time with a
/// message saying so.
pub const WIT_PACKAGE: &str = "zava:mcp";
pub const WIT_VERSION: &str = "0.2.0";
pub const WIT_VERSIONS: [&str; 2] = [WIT_VERSION, "0.1.0"];
