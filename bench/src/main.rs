//! `zava-load`: drives a running `mcp-host` with N MCP sessions and a mix of
//! tool calls for a set time, and reports throughput and latency per tool,
//! errors, isolation violations and the host's CPU and memory. A baseline
//! mode runs the same SQL straight over tokio-postgres, so what MCP and the
//! sandbox add is visible as a difference. `scripts/bench.sh` runs every
//! scenario against a fresh server; BENCHMARKS.md explains the numbers.

mod baseline;
mod client;
mod host_process;
mod report;
mod scenario;
mod swap;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "zava-load", about = "Load generator for mcp-host")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once
enum Command {
    /// Run a scenario against a server.
    Run(RunArgs),
    /// Print the host process's resident memory (e.g. idle, after start-up).
    Rss {
        #[arg(long)]
        pid: u32,
    },
}

#[derive(clap::Args, Clone)]
pub struct RunArgs {
    /// The server's MCP endpoint.
    #[arg(long, default_value = "http://127.0.0.1:8000/mcp")]
    pub url: String,

    /// trivial | analytic | search | mixed | swap
    #[arg(long)]
    pub scenario: scenario::Kind,

    /// Concurrent sessions; a list runs once per count (e.g. `1,16,64`).
    #[arg(long, value_delimiter = ',', default_value = "16")]
    pub clients: Vec<usize>,

    /// How long each run lasts (after the warm-up).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub duration: Duration,

    /// Calls before measuring, per session.
    #[arg(long, default_value_t = 20)]
    pub warmup: usize,

    /// Callers, cycled over the sessions: `head-office`, a store's short
    /// name (`seattle`, `online`, ...), `stores` (every store manager) or
    /// `all` (head office and every manager).
    #[arg(long, value_delimiter = ',', default_value = "head-office")]
    pub users: Vec<String>,

    /// Check every SQL result's `store_id`s against the caller's store.
    #[arg(long)]
    pub check_isolation: bool,

    /// PID of the server, to report its CPU use and memory.
    #[arg(long)]
    pub host_pid: Option<u32>,

    /// Also run the same SQL directly on PostgreSQL (a tokio-postgres DSN,
    /// e.g. `host=/path/run port=5432 user=postgres dbname=zava`).
    #[arg(long)]
    pub baseline_db: Option<String>,

    /// Swap scenario: the watched components folder, and the two files
    /// whose contents alternate under `probe.wasm`.
    #[arg(long)]
    pub swap_dir: Option<PathBuf>,
    #[arg(long, num_args = 2)]
    pub swap_files: Vec<PathBuf>,
    #[arg(long, default_value_t = 10)]
    pub swaps: usize,

    /// Append one JSON object per result to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // reqwest (under rmcp's client) is built without a default TLS provider
    // in this workspace; install the host's.
    mcp_host::embeddings::remote::tls_init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Rss { pid } => {
            let rss = host_process::rss_bytes(pid)?;
            println!("host RSS: {:.1} MiB", rss as f64 / (1 << 20) as f64);
            Ok(())
        }
        Command::Run(args) => runtime.block_on(scenario::run(args)),
    }
}
