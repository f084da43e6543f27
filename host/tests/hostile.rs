//! Hostile components: each misbehaviour becomes a tool error with a plain
//! message, and the host keeps serving other calls meanwhile and after.

use crate::support;

use serde_json::json;
use support::*;

async fn assert_healthy(client: &McpClient) {
    let result = client.call("get_current_utc_date", json!({})).await;
    assert!(!is_error(&result), "host must keep serving: {result:?}");
}

#[tokio::test]
async fn infinite_loop_hits_the_deadline_while_others_are_served() {
    let server = TestServer::start(&["get_current_utc_date", "hostile"]).await;
    let client = server.client(HEAD_OFFICE).await;
    let url = server.url.clone();
    let looping = tokio::spawn(async move {
        let client = McpClient::connect(&url, HEAD_OFFICE).await;
        client.call("hostile_loop", json!({})).await
    });
    // While the loop spins, other calls still get answers: the guest yields
    // at every epoch tick instead of holding a runtime thread.
    for _ in 0..5 {
        assert_healthy(&client).await;
    }
    let result = looping.await.unwrap();
    assert!(is_error(&result));
    assert!(
        text_of(&result).contains("ran longer than its 2 s limit"),
        "{}",
        text_of(&result)
    );
    assert_healthy(&client).await;
    server.stop().await;
}

#[tokio::test]
async fn memory_bomb_is_stopped_at_the_limit() {
    let server = TestServer::start(&["get_current_utc_date", "hostile"]).await;
    let client = server.client(HEAD_OFFICE).await;
    let result = client.call("hostile_memory", json!({})).await;
    assert!(is_error(&result));
    assert!(
        text_of(&result).contains("64 MiB memory limit"),
        "{}",
        text_of(&result)
    );
    assert_healthy(&client).await;
    server.stop().await;
}

#[tokio::test]
async fn panic_becomes_an_error_with_its_message() {
    let server = TestServer::start(&["get_current_utc_date", "hostile"]).await;
    let client = server.client(HEAD_OFFICE).await;
    let result = client.call("hostile_panic", json!({})).await;
    assert!(is_error(&result));
    let text = text_of(&result);
    assert!(text.contains("panicked"), "{text}");
    assert!(text.contains("on purpose"), "{text}");
    assert_healthy(&client).await;
    server.stop().await;
}

#[tokio::test]
async fn files_environment_and_network_are_out_of_reach() {
    let server = TestServer::start(&["get_current_utc_date", "hostile"]).await;
    let client = server.client(HEAD_OFFICE).await;
    for tool in ["hostile_read_file", "hostile_read_env", "hostile_connect"] {
        let result = client.call(tool, json!({})).await;
        let text = text_of(&result);
        assert!(is_error(&result), "{tool} must fail: {text}");
        assert!(!text.contains("LEAKED"), "{tool} leaked: {text}");
        assert!(
            text.contains("not given") || text.contains("no "),
            "{tool}: {text}"
        );
    }
    assert_healthy(&client).await;
    server.stop().await;
}

#[tokio::test]
async fn a_chatty_component_is_capped_not_fatal() {
    let server = TestServer::start(&["get_current_utc_date", "hostile"]).await;
    let client = server.client(HEAD_OFFICE).await;
    let result = client.call("hostile_chatty", json!({})).await;
    assert!(!is_error(&result), "{result:?}");
    assert_eq!(text_of(&result), "still here");
    server.stop().await;
}

#[tokio::test]
async fn repeated_crashes_do_not_exhaust_the_host() {
    let server = TestServer::start(&["get_current_utc_date", "hostile"]).await;
    let client = server.client(HEAD_OFFICE).await;
    for _ in 0..50 {
        assert!(is_error(&client.call("hostile_panic", json!({})).await));
    }
    assert_healthy(&client).await;
    server.stop().await;
}
