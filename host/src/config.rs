//! Command line and environment. Every flag has an environment variable; the
//! configuration is printed at start-up, without secrets.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::audit::AuditTarget;
use crate::db::caller::QueryLimits;
use crate::db::settings::DbArgs;
use crate::embeddings::settings::EmbeddingArgs;
use crate::identity::entra::{EntraArgs, EntraSettingsError};
use crate::mcp::rate_limit::RateSetting;
use crate::runtime::limits::SandboxLimits;
use crate::runtime::policy::Ceilings;

#[derive(Debug, Parser)]
#[command(
    name = "mcp-host",
    version,
    about = "MCP server whose tools are sandboxed WebAssembly components"
)]
pub struct Cli {
    /// TOML file of settings keyed by flag name (`[serve]`, `[migrate]`, ...
    /// tables for one command); flags and environment variables win over it.
    #[arg(long, env = "MCP_CONFIG", global = true)]
    pub config: Option<PathBuf>,

    /// Log format.
    #[arg(long, env = "MCP_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty, global = true)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once
pub enum Command {
    /// Serve MCP over Streamable HTTP at /mcp.
    Serve(ServeArgs),
    /// Create roles, apply the migrations and store the RLS gate secret.
    Migrate(MigrateArgs),
    /// Load the Zava demo data (deterministic for a seed).
    Seed(SeedArgs),
    /// Embed every product's name and description with the configured model
    /// (idempotent, resumable; a new model replaces the old one's vectors).
    Embed(EmbedArgs),
    /// Exit 0 if the server answers `/healthz` (for container health checks:
    /// the image needs no curl).
    Healthcheck(HealthcheckArgs),
    /// Check a component offline, as `serve` would load it: its contract
    /// version, what it offers (tools, prompts, resources, with schemas),
    /// what it imports and what the component policy would grant it. Exit 1
    /// with the reason `serve` would log when it would be refused.
    CheckComponent(CheckComponentArgs),
    /// Create a component folder under components/ with one tool, in Rust,
    /// Python or JavaScript, that builds as it is.
    NewTool(NewToolArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Lang {
    Rust,
    Python,
    Js,
}

#[derive(Debug, Clone, Args)]
pub struct NewToolArgs {
    /// The component's folder name (a-z, 0-9, `-`); its tool is named the
    /// same with `_` for `-`.
    pub name: String,

    #[arg(long, value_enum)]
    pub lang: Lang,

    /// The project (default: the folder with wit/ at or above the current one).
    #[arg(long, env = "MCP_PROJECT_ROOT")]
    pub root: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct CheckComponentArgs {
    /// The component (`.wasm`).
    pub file: PathBuf,

    /// The component policy to judge it by (default: `policy.toml` beside
    /// the file, if there is one; without a policy every import is granted).
    #[arg(long, env = "MCP_POLICY_FILE")]
    pub policy: Option<PathBuf>,

    /// The host's ceilings the policy may narrow (as `serve`'s flags).
    #[arg(long, env = "MCP_CALL_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub call_timeout: Duration,

    #[arg(long, env = "MCP_MEMORY_LIMIT_MIB", default_value_t = 64)]
    pub memory_limit_mib: usize,

    #[arg(long, env = "MCP_MAX_ROWS", default_value_t = 10_000)]
    pub max_rows: u32,

    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct HealthcheckArgs {
    /// The server's health endpoint.
    #[arg(
        long,
        env = "MCP_HEALTHCHECK_URL",
        default_value = "http://127.0.0.1:8000/healthz"
    )]
    pub url: String,

    /// Give up after this long.
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct EmbedArgs {
    #[command(flatten)]
    pub db: DbArgs,

    #[command(flatten)]
    pub embeddings: EmbeddingArgs,

    /// Products per request to the model.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
}

#[derive(Debug, Clone, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Clone, Args)]
pub struct SeedArgs {
    #[command(flatten)]
    pub db: DbArgs,

    /// Seed of the generator: the same seed gives the same data.
    #[arg(long, env = "MCP_SEED", default_value_t = 42)]
    pub seed: u64,

    /// Size relative to the full demo set (1.0 = 50k customers, ~200k orders).
    #[arg(long, env = "MCP_SEED_SCALE", default_value_t = 1.0)]
    pub scale: f64,

    /// Replace data that is already there.
    #[arg(long, conflicts_with = "if_empty")]
    pub replace: bool,

    /// Do nothing (successfully) when the data is already loaded, e.g. in a
    /// one-shot set-up step that runs on every deployment.
    #[arg(long, env = "MCP_SEED_IF_EMPTY")]
    pub if_empty: bool,

    /// Apply migrations first.
    #[arg(long)]
    pub migrate: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum IdentityMode {
    /// Microsoft Entra ID bearer tokens (production).
    Entra,
    /// Trust the `x-rls-user-id` header (development, loopback only).
    DevHeader,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "MCP_LISTEN", default_value = "127.0.0.1:8000")]
    pub listen: SocketAddr,

    /// Folder of tool components (`*.wasm`), watched for changes.
    #[arg(long, env = "MCP_COMPONENTS_DIR", default_value = "components-dist")]
    pub components: PathBuf,

    /// Where compiled components are cached; it must be writable by the host
    /// only [default: $XDG_CACHE_HOME/mcp-host or ~/.cache/mcp-host].
    #[arg(long, env = "MCP_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,

    /// The operator's component policy (imports, limits, pinned digests per
    /// component); once it exists, unlisted components are refused
    /// [default: <components>/policy.toml].
    #[arg(long, env = "MCP_POLICY_FILE")]
    pub policy: Option<PathBuf>,

    /// Serve Prometheus `/metrics` on this address instead of the main
    /// listener (keep it off a public ingress).
    #[arg(long, env = "MCP_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    /// Audit trail, one JSON line per tool call: `-` (stdout), a file path
    /// (appended), or `off`.
    #[arg(long, env = "MCP_AUDIT_LOG", default_value = "-")]
    pub audit_log: AuditTarget,

    /// Tool calls one caller may have running at once (0 = unlimited).
    #[arg(long, env = "MCP_IDENTITY_MAX_CONCURRENT", default_value_t = 16)]
    pub identity_max_concurrent: u32,

    /// Tool calls one caller may start per period, as `N/period` (bursts up
    /// to N, refilled evenly), or `off`.
    #[arg(long, env = "MCP_IDENTITY_RATE", default_value = "600/1m")]
    pub identity_rate: RateSetting,

    /// Handshake-era sessions and listen streams this replica holds at
    /// once, over all identities (0: no limit).
    #[arg(long, env = "MCP_MAX_SESSIONS", default_value_t = 4096)]
    pub max_sessions: usize,

    /// Handshake-era sessions one identity may hold at once (0: no limit).
    #[arg(long, env = "MCP_IDENTITY_MAX_SESSIONS", default_value_t = 16)]
    pub identity_max_sessions: usize,

    /// Keep handshake-era sessions in this replica's memory only, not in
    /// PostgreSQL (where every replica can restore them).
    #[arg(long, env = "MCP_NO_SESSION_STORE")]
    pub no_session_store: bool,

    /// A session unused for this long ends (in the shared session table).
    #[arg(long, env = "MCP_SESSION_IDLE", default_value = "24h", value_parser = humantime::parse_duration)]
    pub session_idle: Duration,

    /// New sessions (`initialize`) per identity and period, or `off`.
    #[arg(long, env = "MCP_IDENTITY_SESSION_RATE", default_value = "30/1m")]
    pub identity_session_rate: RateSetting,

    /// Compile every component at start instead of using the disk cache.
    #[arg(long, env = "MCP_NO_CACHE")]
    pub no_cache: bool,

    /// How callers are identified. Required: there is no anonymous mode.
    #[arg(long, env = "MCP_IDENTITY", value_enum)]
    pub identity: IdentityMode,

    /// Allow `dev-header` identity on a non-loopback address (unsafe).
    #[arg(long, env = "MCP_ALLOW_DEV_HEADER_ON_NETWORK")]
    pub allow_dev_header_on_network: bool,

    // `--entra-*` (with `--identity entra`): identity/entra/settings.rs.
    #[command(flatten)]
    pub entra: EntraArgs,

    /// The URL clients reach this server at, without `/mcp` (e.g.
    /// `https://zava.example.com`), for the OAuth metadata and challenges
    /// [default: from each request's Host header].
    #[arg(long, env = "MCP_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Accepted `Host` values (`name` or `name:port`; `*` for any)
    /// [default: localhost, 127.0.0.1, [::1]].
    #[arg(long, env = "MCP_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,

    /// Accepted browser `Origin`s (`scheme://host[:port|:*]`); requests
    /// without `Origin` always pass [default: http(s) on localhost/127.0.0.1/[::1]].
    #[arg(long, env = "MCP_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// Largest accepted request body.
    #[arg(long, env = "MCP_MAX_BODY_BYTES", default_value_t = 1 << 20)]
    pub max_body_bytes: usize,

    /// Connections served at once (more are closed on accept). Lowered to
    /// fit the process's file-descriptor limit, with room for the pool,
    /// components and logs.
    #[arg(long, env = "MCP_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,

    /// How long a request's headers may take to arrive; also how long an
    /// idle keep-alive connection stays open.
    #[arg(long, env = "MCP_HEADER_TIMEOUT", default_value = "20s", value_parser = humantime::parse_duration)]
    pub header_timeout: Duration,

    /// How long a request's body may take to arrive.
    #[arg(long, env = "MCP_BODY_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub body_timeout: Duration,

    /// TCP_NODELAY on accepted connections. Off only to measure what it
    /// saves (~40 ms per call on a reused keep-alive connection).
    #[arg(long, env = "MCP_TCP_NODELAY", default_value_t = true, action = clap::ArgAction::Set, hide = true)]
    pub tcp_nodelay: bool,

    /// Largest answer one tool call may return (text + structured JSON).
    #[arg(long, env = "MCP_MAX_OUTPUT_BYTES", default_value_t = crate::mcp::handler::DEFAULT_MAX_OUTPUT_BYTES)]
    pub max_output_bytes: usize,

    /// Wall-clock limit of one tool call (e.g. `30s`, `500ms`).
    #[arg(long, env = "MCP_CALL_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub call_timeout: Duration,

    /// Memory limit of one tool instance, in MiB.
    #[arg(long, env = "MCP_MEMORY_LIMIT_MIB", default_value_t = 64)]
    pub memory_limit_mib: usize,

    /// Tool instances that may run at once.
    #[arg(long, env = "MCP_MAX_INSTANCES", default_value_t = 256)]
    pub max_instances: u32,

    /// Memory (MiB) an idle instance slot keeps resident for the next call
    /// of the same component, in at most 8 slots (0: give every page back
    /// after each call, and fault it in again on the next).
    #[arg(long, env = "MCP_WARM_MEMORY_MIB", default_value_t = 16)]
    pub warm_memory_mib: usize,

    /// Serve a big component (2 MiB or more, e.g. Python or JavaScript)
    /// whose optimised code is not cached from baseline code (Winch, compiled
    /// in a fraction of the time) while Cranelift compiles it in the
    /// background; `false`: wait for optimised code.
    #[arg(long, env = "MCP_BASELINE_FIRST", default_value_t = true, action = clap::ArgAction::Set)]
    pub baseline_first: bool,

    /// Rescan the components folder this often even without file events
    /// (network shares send none).
    #[arg(long, env = "MCP_POLL_INTERVAL", default_value = "2s", value_parser = humantime::parse_duration)]
    pub poll_interval: Duration,

    #[command(flatten)]
    pub db: DbArgs,

    #[command(flatten)]
    pub embeddings: EmbeddingArgs,

    /// Serve without a database (tools that query answer `unavailable`).
    #[arg(long, env = "MCP_NO_DATABASE")]
    pub no_database: bool,

    /// With the embedded database: load the demo data on first start at
    /// this scale (0 = do not seed).
    #[arg(long, env = "MCP_DEMO_SCALE", default_value_t = 1.0)]
    pub demo_scale: f64,
}

impl ServeArgs {
    pub fn limits(&self) -> SandboxLimits {
        SandboxLimits {
            deadline: self.call_timeout,
            memory_bytes: self.memory_limit_mib << 20,
            max_instances: self.max_instances,
            warm_memory_bytes: self.warm_memory_mib << 20,
        }
    }

    pub fn query_limits(&self) -> QueryLimits {
        QueryLimits {
            statement_timeout: self.db.statement_timeout,
            work_mem_mib: self.db.work_mem_mib,
            max_rows: self.db.max_rows,
            max_bytes: self.db.max_result_bytes,
            max_sql_bytes: self.db.max_sql_bytes,
            identity_share: self.db.db_identity_share,
            ..QueryLimits::default()
        }
    }

    pub fn policy_path(&self) -> PathBuf {
        self.policy
            .clone()
            .unwrap_or_else(|| self.components.join("policy.toml"))
    }

    /// The most the component policy may grant: the host's own limits.
    pub fn ceilings(&self) -> Ceilings {
        Ceilings::new(&self.limits(), self.db.max_rows)
    }

    /// Compiled code is loaded without re-validation, so its cache must be
    /// writable by the host alone: never inside the components folder (whose
    /// writers are trusted only as far as the sandbox reaches). Default:
    /// `$XDG_CACHE_HOME/mcp-host` or `~/.cache/mcp-host`; none without a home.
    pub fn cache_dir(&self) -> Option<PathBuf> {
        if self.no_cache {
            return None;
        }
        if let Some(dir) = &self.cache_dir {
            return Some(dir.clone());
        }
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
        Some(base.join("mcp-host"))
    }

    pub fn allowed_hosts(&self) -> Vec<String> {
        if self.allowed_hosts.is_empty() {
            return ["localhost", "127.0.0.1", "[::1]"]
                .map(String::from)
                .to_vec();
        }
        self.allowed_hosts.clone()
    }

    pub fn allowed_origins(&self) -> Vec<String> {
        if self.allowed_origins.is_empty() {
            return ["http", "https"]
                .iter()
                .flat_map(|scheme| {
                    ["localhost", "127.0.0.1", "[::1]"].map(|host| format!("{scheme}://{host}:*"))
                })
                .collect();
        }
        self.allowed_origins.clone()
    }

    /// Refuses combinations that would be unsafe.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.identity == IdentityMode::DevHeader
            && !self.listen.ip().is_loopback()
            && !self.allow_dev_header_on_network
        {
            return Err(ConfigError::DevHeaderOnNetwork {
                listen: self.listen,
            });
        }
        if self.identity == IdentityMode::Entra {
            self.entra.settings()?;
        }
        if let Some(url) = &self.public_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(ConfigError::PublicUrl { url: url.clone() });
        }
        if self.memory_limit_mib == 0 || self.max_instances == 0 {
            return Err(ConfigError::ZeroLimit);
        }
        Ok(())
    }
}

/// A combination of settings `serve` refuses.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "--identity dev-header trusts a header anyone can send, so it only listens on loopback; \
         {listen} is not loopback (pass --allow-dev-header-on-network to force it)"
    )]
    DevHeaderOnNetwork { listen: SocketAddr },
    #[error(transparent)]
    Entra(#[from] EntraSettingsError),
    #[error("--public-url must be an http(s) URL, got {url}")]
    PublicUrl { url: String },
    #[error("--memory-limit-mib and --max-instances must be positive")]
    ZeroLimit,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> ServeArgs {
        let mut argv = vec!["mcp-host", "serve"];
        argv.extend_from_slice(args);
        match Cli::parse_from(argv).command {
            Command::Serve(args) => args,
            other => panic!("not serve: {other:?}"),
        }
    }

    #[test]
    fn defaults_match_the_classic_sample() {
        let args = parse(&["--identity", "dev-header"]);
        assert_eq!(args.listen.to_string(), "127.0.0.1:8000");
        assert_eq!(args.call_timeout, Duration::from_secs(30));
        assert_eq!(args.limits().memory_bytes, 64 << 20);
        assert!(args.validate().is_ok());
    }

    #[test]
    fn dev_header_refuses_network_addresses_unless_forced() {
        let args = parse(&["--identity", "dev-header", "--listen", "0.0.0.0:8000"]);
        assert!(args.validate().is_err());
        let forced = parse(&[
            "--identity",
            "dev-header",
            "--listen",
            "0.0.0.0:8000",
            "--allow-dev-header-on-network",
        ]);
        assert!(forced.validate().is_ok());
    }

    #[test]
    fn durations_are_human() {
        let args = parse(&["--identity", "dev-header", "--call-timeout", "250ms"]);
        assert_eq!(args.call_timeout, Duration::from_millis(250));
    }
}
