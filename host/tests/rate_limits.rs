//! Per-caller limits: a caller over their rate or concurrency gets a clear
//! MCP error (and when to retry); other callers are unaffected; the limit
//! recovers on its own.

use crate::support;

use std::time::Duration;

use rmcp::ServiceError;
use rmcp::model::CallToolRequestParams;
use support::*;

const REDMOND: &str = "e7f8a9b0-c1d2-3e4f-5678-90abcdef1234";

/// Calls `tool`; `Err` is the JSON-RPC error (code, message, data).
async fn call(client: &McpClient, tool: &str) -> Result<String, (i32, String, serde_json::Value)> {
    match client
        .service
        .call_tool(CallToolRequestParams::new(tool.to_string()))
        .await
    {
        Ok(result) => Ok(text_of(&result)),
        Err(ServiceError::McpError(error)) => Err((
            error.code.0,
            error.message.to_string(),
            error.data.unwrap_or_default(),
        )),
        Err(other) => panic!("transport failure: {other}"),
    }
}

#[tokio::test]
async fn calls_per_period_trip_and_recover_per_caller() {
    let server = TestServer::start_with(&["probe_v1"], &["--identity-rate", "3/2s"]).await;
    let seattle = server.client(SEATTLE).await;
    let redmond = server.client(REDMOND).await;
    for _ in 0..3 {
        call(&seattle, "probe_counter")
            .await
            .expect("within the burst");
    }
    let (code, message, data) = call(&seattle, "probe_counter").await.unwrap_err();
    assert_eq!(code, -32029);
    assert!(
        message.contains("rate limit: at most 3/2s tool calls per caller"),
        "{message}"
    );
    let retry_ms = data["retry_after_ms"].as_u64().expect("retry_after_ms");
    assert!(retry_ms > 0 && retry_ms <= 667, "{retry_ms}");

    // Another caller has their own allowance.
    call(&redmond, "probe_counter")
        .await
        .expect("others unaffected");

    // After the advertised wait, the caller may call again.
    tokio::time::sleep(Duration::from_millis(retry_ms + 50)).await;
    call(&seattle, "probe_counter").await.expect("recovered");
    server.stop().await;
}

#[tokio::test]
async fn concurrent_calls_per_caller_are_capped() {
    let server = TestServer::start_with(
        &["probe_v1"],
        &["--identity-max-concurrent", "1", "--call-timeout", "10s"],
    )
    .await;
    let seattle = server.client(SEATTLE).await;
    let url = server.url.clone();
    let slow = tokio::spawn(async move {
        let client = McpClient::connect(&url, SEATTLE).await;
        call(&client, "swap_probe_slow").await
    });
    // Wait until the slow call holds the caller's only slot.
    let mut refused = None;
    for _ in 0..100 {
        match call(&seattle, "probe_counter").await {
            Ok(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            Err(error) => {
                refused = Some(error);
                break;
            }
        }
    }
    let (code, message, _) = refused.expect("a second concurrent call is refused");
    assert_eq!(code, -32029);
    assert!(
        message.contains("at most 1 of your tool calls"),
        "{message}"
    );
    // Someone else is not held up.
    let redmond = server.client("e7f8a9b0-c1d2-3e4f-5678-90abcdef1234").await;
    call(&redmond, "probe_counter")
        .await
        .expect("others unaffected");

    slow.await.unwrap().expect("the slow call itself completes");
    call(&seattle, "probe_counter").await.expect("slot freed");
    server.stop().await;
}
