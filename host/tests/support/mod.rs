//! Shared fixtures for the integration tests: built components, a running
//! host on a private folder and port, and a real MCP client (rmcp's, over
//! Streamable HTTP) that records `tools/list_changed` notifications.
#![allow(dead_code)] // some helpers serve only the tests of one build configuration

pub mod attacks;
pub mod entra;
pub mod pg;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use clap::Parser;
use mcp_host::app::{self, Server};
use mcp_host::config::{Cli, Command as Sub, ServeArgs};
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientConfig, JsonObject, ProtocolVersion,
};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use tokio::sync::mpsc;

pub const HEAD_OFFICE: &str = "00000000-0000-0000-0000-000000000000";
pub const SEATTLE: &str = "f47ac10b-58cc-4372-a567-0e02b2c3d479";

/// The folder of built fixture components (built once per test run).
pub fn fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .to_path_buf();
        let status = Command::new("bash")
            .arg(root.join("scripts/build-components.sh"))
            .current_dir(&root)
            .status()
            .expect("run scripts/build-components.sh");
        assert!(status.success(), "building the fixture components failed");
        root.join("target/wasm/fixtures")
    })
}

pub fn fixture(name: &str) -> PathBuf {
    let path = fixtures().join(format!("{name}.wasm"));
    assert!(path.exists(), "no fixture {}", path.display());
    path
}

pub struct TestServer {
    pub server: Option<Server>,
    pub dir: tempfile::TempDir,
    pub url: String,
    pub base: String,
}

/// `mcp-host serve` arguments for tests: loopback, ephemeral port, dev-header
/// identity, a short deadline (unless `extra` sets one) so the runaway-guest
/// test is quick.
pub fn serve_args(components: &Path, extra: &[&str]) -> ServeArgs {
    let mut argv = vec!["mcp-host".to_string(), "serve".into()];
    if !extra.contains(&"--identity") {
        argv.extend(["--identity".into(), "dev-header".into()]);
    }
    if !extra.contains(&"--listen") {
        argv.extend(["--listen".into(), "127.0.0.1:0".into()]);
    }
    argv.extend([
        "--components".into(),
        components.display().to_string(),
        "--poll-interval".into(),
        "200ms".into(),
    ]);
    if !extra.contains(&"--call-timeout") {
        argv.extend(["--call-timeout".into(), "2s".into()]);
    }
    // Tests that need PostgreSQL pass its connection; the others run
    // without it (and without loading an embeddings model).
    if !extra.contains(&"--query-database-url") {
        argv.push("--no-database".into());
        if !extra
            .iter()
            .any(|a| a.starts_with("--embeddings") || *a == "--local-model-dir")
        {
            argv.extend(["--embeddings".into(), "none".into()]);
        }
    }
    // Audit lines on stdout would flood the test output; the audit tests
    // name a file.
    if !extra.contains(&"--audit-log") {
        argv.extend(["--audit-log".into(), "off".into()]);
    }
    argv.extend(extra.iter().map(|s| s.to_string()));
    match Cli::parse_from(argv).command {
        Sub::Serve(args) => args,
        _ => unreachable!("parsed a serve command line"),
    }
}

impl TestServer {
    /// Starts a host whose components folder holds the named fixtures.
    pub async fn start(components: &[&str]) -> Self {
        Self::start_with(components, &[]).await
    }

    pub async fn start_with(components: &[&str], extra: &[&str]) -> Self {
        Self::start_with_files(components, &[], extra).await
    }

    /// Like [`TestServer::start_with`], with `files` (name, text) written
    /// into the components folder first (e.g. `policy.toml`).
    pub async fn start_with_files(
        components: &[&str],
        files: &[(&str, &str)],
        extra: &[&str],
    ) -> Self {
        mcp_host::embeddings::remote::tls_init();
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        for name in components {
            std::fs::copy(fixture(name), dir.path().join(format!("{name}.wasm"))).unwrap();
        }
        let server = app::start(serve_args(dir.path(), extra))
            .await
            .expect("server starts");
        let base = format!("http://{}", server.addr);
        Self {
            url: format!("{base}/mcp"),
            base,
            server: Some(server),
            dir,
        }
    }

    /// Drops a fixture into the watched folder the way an operator should:
    /// write a hidden temporary file, then rename it into place.
    pub fn install(&self, fixture_name: &str, as_name: &str) {
        let tmp = self.dir.path().join(format!(".{as_name}.tmp"));
        std::fs::copy(fixture(fixture_name), &tmp).unwrap();
        std::fs::rename(&tmp, self.dir.path().join(as_name)).unwrap();
    }

    pub fn write_file(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.dir.path().join(name), bytes).unwrap();
    }

    pub fn remove(&self, name: &str) {
        std::fs::remove_file(self.dir.path().join(name)).unwrap();
    }

    pub fn tool_names(&self) -> Vec<String> {
        let server = self.server.as_ref().unwrap();
        server
            .registry
            .snapshot()
            .tools()
            .iter()
            .map(|t| t.name.to_string())
            .collect()
    }

    pub fn prompt_names(&self) -> Vec<String> {
        let server = self.server.as_ref().unwrap();
        server
            .registry
            .snapshot()
            .prompts()
            .iter()
            .map(|p| p.name.clone())
            .collect()
    }

    pub async fn client(&self, user: &str) -> McpClient {
        McpClient::connect(&self.url, user).await
    }

    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.unwrap();
        }
    }
}

/// A notification a test client received.
#[derive(Debug, Clone, PartialEq)]
pub enum Heard {
    ToolsChanged,
    PromptsChanged,
    ResourcesChanged,
    ResourceUpdated(String),
    /// A log line's data (and level).
    Log(serde_json::Value, String),
    /// A progress report: token, progress, total.
    Progress(String, f64, Option<f64>),
}

/// Client side of a session: records the notifications it receives.
#[derive(Clone)]
pub struct Recorder {
    heard: mpsc::UnboundedSender<Heard>,
}

#[allow(deprecated)] // rmcp marks MCP logging deprecated (SEP-2577)
impl ClientHandler for Recorder {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::default().with_protocol_version(ProtocolVersion::LATEST_WITH_INITIALIZE)
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        let _ = self.heard.send(Heard::ToolsChanged);
    }

    async fn on_prompt_list_changed(&self, _context: NotificationContext<RoleClient>) {
        let _ = self.heard.send(Heard::PromptsChanged);
    }

    async fn on_resource_list_changed(&self, _context: NotificationContext<RoleClient>) {
        let _ = self.heard.send(Heard::ResourcesChanged);
    }

    async fn on_resource_updated(
        &self,
        params: rmcp::model::ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let _ = self.heard.send(Heard::ResourceUpdated(params.uri));
    }

    async fn on_logging_message(
        &self,
        params: rmcp::model::LoggingMessageNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let level = serde_json::to_value(params.level).unwrap();
        let _ = self
            .heard
            .send(Heard::Log(params.data, level.as_str().unwrap_or("").into()));
    }

    async fn on_progress(
        &self,
        params: rmcp::model::ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let token = serde_json::to_value(&params.progress_token).unwrap();
        let _ = self.heard.send(Heard::Progress(
            token
                .as_str()
                .map_or_else(|| token.to_string(), String::from),
            params.progress,
            params.total,
        ));
    }
}

pub struct McpClient {
    pub service: RunningService<RoleClient, Recorder>,
    heard: mpsc::UnboundedReceiver<Heard>,
}

impl McpClient {
    /// A session as the dev-header user `user`.
    pub async fn connect(url: &str, user: &str) -> Self {
        Self::try_connect(url, &[("x-rls-user-id", user)])
            .await
            .expect("MCP initialize succeeds")
    }

    /// A session sending `headers` with every request.
    pub async fn try_connect(url: &str, headers: &[(&str, &str)]) -> Result<Self, String> {
        // reqwest is built without a default TLS provider (see the host's
        // Cargo.toml); install the one the host uses before any client.
        mcp_host::embeddings::remote::tls_init();
        let headers = headers
            .iter()
            .map(|(name, value)| {
                (
                    http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                    http::HeaderValue::from_str(value).unwrap(),
                )
            })
            .collect();
        let config = StreamableHttpClientTransportConfig::with_uri(url).custom_headers(headers);
        let transport = StreamableHttpClientTransport::from_config(config);
        let (tx, heard) = mpsc::unbounded_channel();
        let service = Recorder { heard: tx }
            .serve(transport)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Self { service, heard })
    }

    pub async fn tool_names(&self) -> Vec<String> {
        let tools = self.service.list_all_tools().await.expect("tools/list");
        tools.into_iter().map(|t| t.name.to_string()).collect()
    }

    pub async fn call(&self, tool: &str, arguments: serde_json::Value) -> CallToolResult {
        let arguments: JsonObject = match arguments {
            serde_json::Value::Object(map) => map,
            other => panic!("arguments must be an object, got {other}"),
        };
        let request = CallToolRequestParams::new(tool.to_string()).with_arguments(arguments);
        self.service
            .call_tool(request)
            .await
            .expect("tools/call answered")
    }

    /// Waits for the next `tools/list_changed` (generous bound: CI is slow).
    pub async fn next_list_changed(&mut self) {
        self.next_heard(
            |h| *h == Heard::ToolsChanged,
            "a tools/list_changed notification",
        )
        .await;
    }

    /// Waits for the next notification `wanted` accepts, skipping others.
    pub async fn next_heard(&mut self, wanted: impl Fn(&Heard) -> bool, what: &str) -> Heard {
        let wait = async {
            loop {
                let heard = self.heard.recv().await.expect("client still running");
                if wanted(&heard) {
                    return heard;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(30), wait)
            .await
            .unwrap_or_else(|_| panic!("{what} arrives"))
    }

    /// Every notification received so far.
    pub fn heard_so_far(&mut self) -> Vec<Heard> {
        let mut heard = Vec::new();
        while let Ok(h) = self.heard.try_recv() {
            heard.push(h);
        }
        heard
    }

    /// Drops notifications received so far.
    pub fn drain_list_changed(&mut self) {
        self.heard_so_far();
    }
}

/// The text of the first content block.
pub fn text_of(result: &CallToolResult) -> String {
    result
        .content
        .first()
        .and_then(|c| c.as_text())
        .map(|t| t.text.clone())
        .unwrap_or_default()
}

pub fn is_error(result: &CallToolResult) -> bool {
    result.is_error == Some(true)
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until the `mcp-host` child process answers `/readyz` on `port`
/// (bounded); fails the test if it exits first.
pub async fn wait_until_ready(child: &mut std::process::Child, port: u16) {
    mcp_host::embeddings::remote::tls_init();
    for _ in 0..200 {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("mcp-host exited: {status}");
        }
        if reqwest::get(format!("http://127.0.0.1:{port}/readyz"))
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("mcp-host did not become ready on port {port}");
}

/// Polls `check` until it holds (bounded), for state the watcher changes.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..300 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting until {what}");
}

/// Polls `ready` every 100 ms until it holds; `Err` after `limit`.
pub async fn wait_until(
    limit: std::time::Duration,
    mut ready: impl FnMut() -> bool,
) -> Result<(), String> {
    let deadline = std::time::Instant::now() + limit;
    while !ready() {
        if std::time::Instant::now() > deadline {
            return Err(format!("not within {limit:?}"));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Ok(())
}
