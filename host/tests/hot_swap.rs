//! Drop-in loading: add, replace, delete and break components while a client
//! is connected, with `tools/list_changed` on the client's GET stream.

use crate::support;

use serde_json::json;
use support::*;

#[tokio::test]
async fn add_replace_delete_and_corrupt_components_while_serving() {
    let server = TestServer::start(&["get_current_utc_date"]).await;
    let mut client = server.client(HEAD_OFFICE).await;
    assert_eq!(client.tool_names().await, vec!["get_current_utc_date"]);

    // Add: a new file brings its tools and a notification.
    server.install("probe_v1", "probe.wasm");
    client.next_list_changed().await;
    assert!(
        client
            .tool_names()
            .await
            .contains(&"swap_probe".to_string())
    );
    assert_eq!(text_of(&client.call("swap_probe", json!({})).await), "v1");

    // Replace: same file name, new content, new answer.
    client.drain_list_changed();
    server.install("probe_v2", "probe.wasm");
    client.next_list_changed().await;
    assert_eq!(text_of(&client.call("swap_probe", json!({})).await), "v2");

    // Corrupt replacement: rejected, v2 keeps serving, no notification needed.
    client.drain_list_changed();
    server.write_file("probe.wasm", b"\0asm this is not a component");
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert_eq!(text_of(&client.call("swap_probe", json!({})).await), "v2");
    assert!(!is_error(
        &client.call("get_current_utc_date", json!({})).await
    ));

    // A corrupt new file next to the others is rejected on its own.
    server.write_file("junk.wasm", b"not even wasm");
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let names = client.tool_names().await;
    assert!(
        names.contains(&"swap_probe".to_string())
            && names.contains(&"get_current_utc_date".to_string())
    );

    // Delete: the tools go, with a notification.
    server.remove("probe.wasm");
    client.next_list_changed().await;
    let names = client.tool_names().await;
    assert!(!names.contains(&"swap_probe".to_string()), "{names:?}");
    let error = client
        .service
        .call_tool(rmcp::model::CallToolRequestParams::new("swap_probe"))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("swap_probe"));
    server.stop().await;
}

#[tokio::test]
async fn a_clashing_tool_name_is_refused_and_the_original_kept() {
    let server = TestServer::start(&["get_current_utc_date"]).await;
    let client = server.client(HEAD_OFFICE).await;
    server.install("clash", "clash.wasm");
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let result = client.call("get_current_utc_date", json!({})).await;
    assert!(!is_error(&result));
    assert_ne!(text_of(&result), "impostor");
    assert_eq!(server.tool_names(), vec!["get_current_utc_date"]);
    server.stop().await;
}

#[tokio::test]
async fn a_component_for_another_contract_version_is_refused() {
    let server = TestServer::start(&["get_current_utc_date", "wrong_version"]).await;
    assert_eq!(server.tool_names(), vec!["get_current_utc_date"]);
    server.stop().await;
}

#[tokio::test]
async fn every_session_hears_about_changes() {
    let server = TestServer::start(&["get_current_utc_date"]).await;
    let mut a = server.client(HEAD_OFFICE).await;
    let mut b = server.client(SEATTLE).await;
    server.install("probe_v1", "probe.wasm");
    a.next_list_changed().await;
    b.next_list_changed().await;
    server.stop().await;
}

#[tokio::test]
async fn a_call_in_flight_finishes_on_the_version_it_started_on() {
    let server = TestServer::start_with(&[], &["--call-timeout", "20s"]).await;
    let mut client = server.client(HEAD_OFFICE).await;
    server.install("probe_v1", "probe.wasm");
    client.next_list_changed().await;

    let url = server.url.clone();
    let slow = tokio::spawn(async move {
        let client = McpClient::connect(&url, HEAD_OFFICE).await;
        client.call("swap_probe_slow", json!({})).await
    });
    // Swap while the slow call (3 s) sleeps inside v1; 0.8 s is ample for
    // it to have connected and started.
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    client.drain_list_changed();
    server.install("probe_v2", "probe.wasm");
    client.next_list_changed().await;
    assert_eq!(text_of(&client.call("swap_probe", json!({})).await), "v2");
    assert_eq!(text_of(&slow.await.unwrap()), "v1");
    server.stop().await;
}
