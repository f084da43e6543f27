//! A real MCP client (rmcp over Streamable HTTP) against the host.

use crate::support;

use serde_json::json;
use support::*;

#[tokio::test]
async fn client_initialises_lists_and_calls_get_current_utc_date() {
    let server = TestServer::start(&["get_current_utc_date"]).await;
    let client = server.client(HEAD_OFFICE).await;

    let info = client
        .service
        .peer_info()
        .expect("server info after initialize");
    assert_eq!(
        info.server_info.as_ref().map(|i| i.name.as_str()),
        Some("zava-mcp-host")
    );
    assert_eq!(info.protocol_version.as_str(), "2025-11-25");
    let tools_cap = info.capabilities.tools.as_ref().expect("tools capability");
    assert_eq!(tools_cap.list_changed, Some(true));

    let tools = client.service.list_all_tools().await.unwrap();
    let tool = tools
        .iter()
        .find(|t| t.name == "get_current_utc_date")
        .expect("tool listed");
    assert!(tool.output_schema.is_some());
    assert_eq!(
        tool.annotations.as_ref().and_then(|a| a.read_only_hint),
        Some(true)
    );

    let before = time::OffsetDateTime::now_utc();
    let result = client.call("get_current_utc_date", json!({})).await;
    let after = time::OffsetDateTime::now_utc();
    assert!(!is_error(&result), "{result:?}");
    let text = text_of(&result);
    let parsed = time::OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339)
        .expect("ISO 8601 / RFC 3339 text");
    assert_eq!(parsed.offset(), time::UtcOffset::UTC);
    // The component reads the host's wall clock (second precision is enough).
    assert!(parsed.unix_timestamp() >= before.unix_timestamp() - 1);
    assert!(parsed.unix_timestamp() <= after.unix_timestamp() + 1);

    let structured = result.structured_content.expect("structuredContent");
    assert_eq!(structured["utc_datetime"], json!(text));
    assert_eq!(structured["date"], json!(parsed.date().to_string()));
    server.stop().await;
}

#[tokio::test]
async fn bad_arguments_come_back_as_tool_errors() {
    let server = TestServer::start(&["get_current_utc_date"]).await;
    let client = server.client(HEAD_OFFICE).await;
    let result = client
        .call("get_current_utc_date", json!({"timezone": "PST"}))
        .await;
    assert!(is_error(&result));
    assert!(
        text_of(&result).contains("takes no arguments"),
        "{}",
        text_of(&result)
    );
    server.stop().await;
}

#[tokio::test]
async fn unknown_tool_is_a_protocol_error_that_names_it() {
    let server = TestServer::start(&["get_current_utc_date"]).await;
    let client = server.client(HEAD_OFFICE).await;
    let request = rmcp::model::CallToolRequestParams::new("no_such_tool");
    let error = client.service.call_tool(request).await.unwrap_err();
    assert!(error.to_string().contains("no_such_tool"), "{error}");
    // The session survives the error.
    assert!(!is_error(
        &client.call("get_current_utc_date", json!({})).await
    ));
    server.stop().await;
}

#[tokio::test]
async fn caller_import_reports_the_requests_identity() {
    let server = TestServer::start(&["probe_v1"]).await;
    let head_office = server.client(HEAD_OFFICE).await;
    assert_eq!(
        text_of(&head_office.call("probe_scope", json!({})).await),
        "head-office"
    );
    // No store mapping exists before the database issue: a manager id is
    // identified but sees no store (never head office).
    let manager = server.client(SEATTLE).await;
    assert_eq!(
        text_of(&manager.call("probe_scope", json!({})).await),
        "unassigned"
    );
    server.stop().await;
}

#[tokio::test]
async fn every_call_gets_a_fresh_instance() {
    let server = TestServer::start(&["probe_v1"]).await;
    let client = server.client(HEAD_OFFICE).await;
    for _ in 0..5 {
        // A static counter inside the component: 1 every time means no memory
        // survived from the previous call.
        assert_eq!(text_of(&client.call("probe_counter", json!({})).await), "1");
    }
    server.stop().await;
}

#[tokio::test]
async fn concurrent_sessions_are_served_independently() {
    let server = TestServer::start(&["get_current_utc_date", "probe_v1"]).await;
    let mut calls = Vec::new();
    for i in 0..16 {
        let url = server.url.clone();
        calls.push(tokio::spawn(async move {
            let client = McpClient::connect(&url, HEAD_OFFICE).await;
            let tool = if i % 2 == 0 {
                "get_current_utc_date"
            } else {
                "probe_counter"
            };
            for _ in 0..10 {
                assert!(!is_error(&client.call(tool, json!({})).await));
            }
        }));
    }
    for call in calls {
        call.await.unwrap();
    }
    server.stop().await;
}

#[tokio::test]
async fn the_component_template_works_as_documented() {
    let server = TestServer::start(&["template"]).await;
    let client = server.client(HEAD_OFFICE).await;
    let result = client.call("template_greet", json!({"name": "Ada"})).await;
    assert!(!is_error(&result), "{result:?}");
    assert_eq!(
        text_of(&result),
        "Hello, Ada! You are calling as head office."
    );
    assert_eq!(result.structured_content.unwrap()["scope"], "head office");
    let bad = client.call("template_greet", json!({"nom": "Ada"})).await;
    assert!(is_error(&bad));
    assert!(
        text_of(&bad).starts_with("invalid arguments"),
        "{}",
        text_of(&bad)
    );
    server.stop().await;
}
