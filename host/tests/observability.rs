//! What an operator sees: Prometheus `/metrics` series that move when tools
//! are called, and OTLP traces (one span per call, child spans for the
//! database) reaching a collector — here a loopback OTLP/HTTP receiver that
//! decodes what the real `mcp-host` binary sends.

use crate::support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::json;
use support::pg::TestDb;
use support::{
    HEAD_OFFICE, McpClient, SEATTLE, TestServer, fixture, free_port, is_error, text_of,
    wait_until_ready,
};

async fn scrape(url: &str) -> String {
    let response = reqwest::get(url).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    response.text().await.unwrap()
}

/// The value of the series line starting with `series` (name + labels).
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_name_every_part_and_move_with_calls() {
    let db = TestDb::fresh().await;
    let mut flags = db.serve_flags();
    flags.extend(["--identity-rate".into(), "2/1h".into()]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let server = TestServer::start_with(&["get_current_utc_date", "sales_sql"], &flags).await;
    let url = format!("{}/metrics", server.base);
    let before = scrape(&url).await;
    for series in [
        "mcp_tools ",
        "mcp_component_loads_total{outcome=\"loaded\"}",
        "mcp_db_pool_connections{state=\"open\"}",
        "mcp_process_resident_memory_bytes ",
        "mcp_sessions ",
    ] {
        assert!(before.contains(series), "{series} missing:\n{before}");
    }
    assert_eq!(value(&before, "mcp_tools "), 3.0);

    let client = server.client(SEATTLE).await;
    assert!(!is_error(
        &client.call("get_current_utc_date", json!({})).await
    ));
    let sql = client
        .call(
            "execute_sales_query",
            json!({"postgresql_query": "SELECT order_id FROM retail.orders LIMIT 5"}),
        )
        .await;
    assert!(!is_error(&sql), "{}", text_of(&sql));
    // The third call is over this caller's rate.
    let refused = client
        .service
        .call_tool(rmcp::model::CallToolRequestParams::new(
            "get_current_utc_date",
        ))
        .await;
    assert!(refused.is_err());
    // A request without identity.
    let anonymous = reqwest::Client::new()
        .post(&server.url)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    let after = scrape(&url).await;
    let moved = |series: &str, by: f64| {
        assert_eq!(
            value(&after, series) - value(&before, series),
            by,
            "{series}:\n{after}"
        );
    };
    moved(
        "mcp_tool_calls_total{tool=\"get_current_utc_date\",outcome=\"ok\"}",
        1.0,
    );
    moved(
        "mcp_tool_calls_total{tool=\"execute_sales_query\",outcome=\"ok\"}",
        1.0,
    );
    moved(
        "mcp_tool_calls_total{tool=\"get_current_utc_date\",outcome=\"rate_limited\"}",
        1.0,
    );
    moved(
        "mcp_tool_call_duration_seconds_count{tool=\"execute_sales_query\"}",
        1.0,
    );
    moved("mcp_component_instantiation_duration_seconds_count ", 2.0);
    moved("mcp_db_queries_total{outcome=\"ok\"}", 1.0);
    moved("mcp_db_query_duration_seconds_count ", 1.0);
    moved("mcp_db_rows_total ", 5.0);
    moved("mcp_auth_refusals_total{status=\"401\"}", 1.0);
    assert_eq!(value(&after, "mcp_sessions "), 1.0, "{after}");
    assert!(value(&after, "mcp_process_resident_memory_bytes ") > 1e6);
    server.stop().await;
}

#[tokio::test]
async fn metrics_can_move_to_their_own_listener() {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let server =
        TestServer::start_with(&["get_current_utc_date"], &["--metrics-listen", &listen]).await;
    let main = reqwest::get(format!("{}/metrics", server.base))
        .await
        .unwrap();
    assert_eq!(main.status(), 404, "not on the public listener");
    let text = scrape(&format!("http://{listen}/metrics")).await;
    assert!(text.contains("mcp_tools 1"), "{text}");
    server.stop().await;
}

type Received = Arc<Mutex<Vec<Span>>>;

fn keep(spans: &Received, request: ExportTraceServiceRequest) {
    let mut spans = spans.lock().unwrap();
    for resource in request.resource_spans {
        for scope in resource.scope_spans {
            spans.extend(scope.spans);
        }
    }
}

/// A loopback OTLP/gRPC trace receiver (the collector's trace service).
struct GrpcReceiver(Received);

#[tonic::async_trait]
impl TraceService for GrpcReceiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        keep(&self.0, request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

async fn otlp_grpc_receiver() -> (String, Received) {
    let spans = Received::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let service = TraceServiceServer::new(GrpcReceiver(spans.clone()));
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
            .await
            .unwrap()
    });
    (endpoint, spans)
}

/// A loopback OTLP/HTTP trace receiver: keeps every span it is sent.
async fn otlp_receiver() -> (String, Arc<Mutex<Vec<Span>>>) {
    async fn traces(State(spans): State<Received>, body: Bytes) -> &'static str {
        keep(
            &spans,
            ExportTraceServiceRequest::decode(body).expect("OTLP protobuf"),
        );
        ""
    }
    let spans = Arc::new(Mutex::new(Vec::new()));
    let app = Router::new()
        .route("/v1/traces", post(traces))
        .with_state(spans.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (endpoint, spans)
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
        .map(|value| match value {
            AnyValue::StringValue(s) => s.clone(),
            AnyValue::IntValue(i) => i.to_string(),
            other => format!("{other:?}"),
        })
}

#[tokio::test]
async fn a_tool_call_is_one_trace_with_a_database_child_span_over_http() {
    let (endpoint, spans) = otlp_receiver().await;
    traced_call(&endpoint, "http/protobuf", spans).await;
}

#[tokio::test]
async fn traces_go_over_grpc_when_the_protocol_says_so() {
    let (endpoint, spans) = otlp_grpc_receiver().await;
    traced_call(&endpoint, "grpc", spans).await;
}

/// Runs the real binary exporting to `endpoint`, makes one SQL tool call,
/// and checks the spans the receiver got.
async fn traced_call(endpoint: &str, protocol: &str, spans: Received) {
    let db = TestDb::fresh().await;
    let components = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture("sales_sql"),
        components.path().join("sales_sql.wasm"),
    )
    .unwrap();
    let port = free_port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mcp-host"))
        .args(["serve", "--identity", "dev-header", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--components")
        .arg(components.path())
        .args(["--audit-log", "off", "--embeddings", "none"])
        // The connection and gate secret (not the local model: no search here).
        .args(&db.serve_flags()[..4])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env("OTEL_SERVICE_NAME", "zava-test")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start mcp-host");
    let url = format!("http://127.0.0.1:{port}/mcp");
    wait_until_ready(&mut child, port).await;
    let client = McpClient::connect(&url, HEAD_OFFICE).await;
    let result = client
        .call(
            "execute_sales_query",
            json!({"postgresql_query": "SELECT count(*) FROM retail.stores"}),
        )
        .await;
    assert!(!is_error(&result), "{}", text_of(&result));

    let mut found = None;
    for _ in 0..100 {
        {
            let spans = spans.lock().unwrap();
            let call = spans
                .iter()
                .find(|s| s.name == "tools/call execute_sales_query");
            let query = spans.iter().find(|s| s.name == "db.query");
            if let (Some(call), Some(query)) = (call, query) {
                found = Some((call.clone(), query.clone()));
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // SAFETY: plain signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    // Off this runtime's only thread: the receiver must keep answering the
    // child's last flush while we wait for it to exit.
    let exited = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(
        exited.success(),
        "mcp-host exits cleanly on SIGTERM: {exited}"
    );
    let (call, query) = found.expect("the call and its query arrive at the collector");
    assert_eq!(
        attribute(&call, "tool").as_deref(),
        Some("execute_sales_query")
    );
    assert_eq!(attribute(&call, "scope").as_deref(), Some("head-office"));
    assert_eq!(attribute(&call, "outcome").as_deref(), Some("ok"));
    assert_eq!(
        attribute(&call, "component.sha256").map(|d| d.len()),
        Some(64)
    );
    assert_eq!(query.trace_id, call.trace_id, "one trace");
    assert_eq!(
        query.parent_span_id, call.span_id,
        "the query is the call's child"
    );
    assert_eq!(
        attribute(&query, "db.system").as_deref(),
        Some("postgresql")
    );
    assert_eq!(attribute(&query, "rows").as_deref(), Some("1"));
}
