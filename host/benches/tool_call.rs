//! Per-call cost of a trivial tool, in-process and over MCP/HTTP.
//!
//! `cargo bench -p mcp-host --bench tool_call` (release build). Prints a table;
//! the README quotes its numbers. Counts are fixed, not time-boxed, so runs
//! are comparable; the first calls of each section are warm-up and dropped.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use mcp_host::capabilities::Capabilities;
use mcp_host::config::{Cli, Command as Sub};
use mcp_host::identity::{HEAD_OFFICE_ID, Identity, Scope};
use mcp_host::runtime::cache::CompiledCache;
use mcp_host::runtime::engine;
use mcp_host::runtime::limits::SandboxLimits;
use mcp_host::runtime::loader::Loader;
use mcp_host::runtime::policy::{Ceilings, Policy};
use mcp_host::runtime::sandbox::Sandbox;
use rmcp::model::{CallToolRequestParams, ClientConfig, ProtocolVersion};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientHandler, ServiceExt};

#[path = "../tests/support/mod.rs"]
mod support;

#[path = "common/stats.rs"]
mod stats;
use stats::{row, stats};

const IN_PROCESS_CALLS: usize = 20_000;
const HTTP_CALLS_SEQUENTIAL: usize = 3_000;
const HTTP_CALLS_PER_CLIENT: usize = 500;
const WARMUP: usize = 200;

async fn in_process(fixtures: &Path) {
    let limits = SandboxLimits::default();
    let engine = engine::build(&limits).unwrap();
    let sandbox = Arc::new(Sandbox::new(Capabilities::default()));
    let loader = Loader::new(
        engine.clone(),
        CompiledCache::new(None, &engine),
        sandbox.clone(),
        Policy::open(Ceilings::new(&limits, 10_000)),
    )
    .unwrap();
    for (file, tool) in [
        ("probe_v1", "probe_counter"),
        ("get_current_utc_date", "get_current_utc_date"),
    ] {
        let path = fixtures.join(format!("{file}.wasm"));
        let component = loader
            .load(&path, std::fs::read(&path).unwrap())
            .await
            .unwrap();
        let head_office = Identity::dev(HEAD_OFFICE_ID, Scope::HeadOffice);
        let mut samples = Vec::with_capacity(IN_PROCESS_CALLS);
        let started = Instant::now();
        for i in 0..IN_PROCESS_CALLS + WARMUP {
            let t = Instant::now();
            let out = sandbox
                .call_tool(&component, tool, "{}", &head_office)
                .await
                .result
                .unwrap();
            std::hint::black_box(out);
            if i >= WARMUP {
                samples.push(t.elapsed());
            }
        }
        let rate = (IN_PROCESS_CALLS + WARMUP) as f64 / started.elapsed().as_secs_f64();
        row(
            &format!("in-process instantiate+call `{tool}`"),
            &stats(samples),
            Some(rate),
        );
    }
}

#[derive(Clone)]
struct Quiet;
impl ClientHandler for Quiet {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::default().with_protocol_version(ProtocolVersion::LATEST_WITH_INITIALIZE)
    }
}

async fn client(url: &str) -> rmcp::service::RunningService<rmcp::RoleClient, Quiet> {
    let mut headers = std::collections::HashMap::new();
    headers.insert(
        http::HeaderName::from_static("x-rls-user-id"),
        http::HeaderValue::from_static("00000000-0000-0000-0000-000000000000"),
    );
    let config = StreamableHttpClientTransportConfig::with_uri(url).custom_headers(headers);
    Quiet
        .serve(StreamableHttpClientTransport::from_config(config))
        .await
        .unwrap()
}

async fn call_n(url: String, n: usize) -> Vec<Duration> {
    let client = client(&url).await;
    let mut samples = Vec::with_capacity(n);
    for i in 0..n + WARMUP / 4 {
        let t = Instant::now();
        let result = client
            .call_tool(CallToolRequestParams::new("get_current_utc_date"))
            .await
            .unwrap();
        assert_ne!(result.is_error, Some(true));
        if i >= WARMUP / 4 {
            samples.push(t.elapsed());
        }
    }
    samples
}

async fn over_http(fixtures: &Path) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixtures.join("get_current_utc_date.wasm"),
        dir.path().join("get_current_utc_date.wasm"),
    )
    .unwrap();
    let argv = [
        "mcp-host",
        "serve",
        "--identity",
        "dev-header",
        "--listen",
        "127.0.0.1:0",
        "--components",
        dir.path().to_str().unwrap(),
        "--no-database",
        "--embeddings",
        "none",
        // The raw call path; `benches/governance.rs` measures what audit
        // and per-caller limits add.
        "--audit-log",
        "off",
        "--identity-rate",
        "off",
        "--identity-max-concurrent",
        "0",
    ];
    let Sub::Serve(args) = Cli::parse_from(argv).command else {
        unreachable!("parsed a serve command line")
    };
    let server = mcp_host::app::start(args).await.unwrap();
    let url = format!("http://{}/mcp", server.addr);

    for clients in [1usize, 16] {
        let per_client = if clients == 1 {
            HTTP_CALLS_SEQUENTIAL
        } else {
            HTTP_CALLS_PER_CLIENT
        };
        let started = Instant::now();
        let tasks: Vec<_> = (0..clients)
            .map(|_| tokio::spawn(call_n(url.clone(), per_client)))
            .collect();
        let mut samples = Vec::new();
        for task in tasks {
            samples.extend(task.await.unwrap());
        }
        let rate = samples.len() as f64 / started.elapsed().as_secs_f64();
        row(
            &format!("HTTP tools/call get_current_utc_date, {clients} client(s)"),
            &stats(samples),
            Some(rate),
        );
    }
    server.shutdown().await.unwrap();
}

fn main() {
    // Only this benchmark's output; `--bench` and filters from cargo are ignored.
    let fixtures = support::fixtures();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!("| what | p50 µs | p90 µs | p99 µs | mean µs | calls/s |");
    println!("|---|---:|---:|---:|---:|---:|");
    runtime.block_on(async {
        in_process(fixtures).await;
        over_http(fixtures).await;
    });
}
