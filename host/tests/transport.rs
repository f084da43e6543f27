//! The HTTP edge, spoken to with a plain HTTP client: Host/Origin checks,
//! identity, body cap, JSON-RPC errors, sessions, the GET stream, health.

mod support;

use http::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::Value;
use support::*;

const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}"#;

fn headers(user: Option<&str>) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        "accept",
        HeaderValue::from_static("application/json, text/event-stream"),
    );
    h.insert("content-type", HeaderValue::from_static("application/json"));
    if let Some(user) = user {
        h.insert("x-rls-user-id", HeaderValue::from_str(user).unwrap());
    }
    h
}

/// Headers of a request inside an initialised session.
fn session_headers(user: &str, session: &str) -> HeaderMap {
    let mut h = headers(Some(user));
    h.insert("mcp-session-id", HeaderValue::from_str(session).unwrap());
    h.insert(
        "mcp-protocol-version",
        HeaderValue::from_static("2025-11-25"),
    );
    h
}

async fn post(url: &str, h: HeaderMap, body: impl Into<reqwest::Body>) -> reqwest::Response {
    reqwest::Client::new()
        .post(url)
        .headers(h)
        .body(body)
        .send()
        .await
        .unwrap()
}

/// The first JSON-RPC message in a JSON or SSE response body.
async fn first_message(response: reqwest::Response) -> Value {
    let text = response.text().await.unwrap();
    let json_text = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("data:")
                .map(str::trim)
                .filter(|d| !d.is_empty())
        })
        .unwrap_or(&text);
    serde_json::from_str(json_text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[tokio::test]
async fn bad_origin_or_host_gets_403() {
    let server = TestServer::start(&["get_current_utc_date"]).await;
    let mut h = headers(Some(HEAD_OFFICE));
    h.insert("origin", HeaderValue::from_static("https://evil.example"));
    assert_eq!(
        post(&server.url, h, INIT).await.status(),
        StatusCode::FORBIDDEN
    );

    let mut h = headers(Some(HEAD_OFFICE));
    h.insert("host", HeaderValue::from_static("evil.example:8000"));
    assert_eq!(
        post(&server.url, h, INIT).await.status(),
        StatusCode::FORBIDDEN
    );

    // A local browser tool (e.g. the MCP Inspector) is allowed by default.
    let mut h = headers(Some(HEAD_OFFICE));
    h.insert("origin", HeaderValue::from_static("http://localhost:6274"));
    assert_eq!(post(&server.url, h, INIT).await.status(), StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn missing_or_malformed_identity_gets_401_with_a_challenge() {
    let server = TestServer::start(&["get_current_utc_date"]).await;
    for user in [None, Some("not-a-uuid")] {
        let response = post(&server.url, headers(user), INIT).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{user:?}");
        assert!(response.headers().contains_key("www-authenticate"));
        let body: Value = response.json().await.unwrap();
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("x-rls-user-id")
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn malformed_json_rpc_gets_json_rpc_errors() {
    let server = TestServer::start(&["get_current_utc_date"]).await;
    let cases: [(&str, i64); 4] = [
        ("{this is not json", -32700),
        ("[]", -32600),
        (r#"{"id":1,"method":"ping"}"#, -32600),
        (
            r#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":42}}"#,
            -32602,
        ),
    ];
    for (body, code) in cases {
        let response = post(&server.url, headers(Some(HEAD_OFFICE)), body).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["jsonrpc"], "2.0");
        assert_eq!(error["error"]["code"], code, "{body}: {error}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_body_over_the_cap_is_refused() {
    let server =
        TestServer::start_with(&["get_current_utc_date"], &["--max-body-bytes", "4096"]).await;
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"_meta":{{"pad":"{}"}}}}}}"#,
        "x".repeat(8192)
    );
    let response = post(&server.url, headers(Some(HEAD_OFFICE)), big).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], -32600);
    server.stop().await;
}

#[tokio::test]
async fn sessions_get_stream_and_delete() {
    let server = TestServer::start(&["get_current_utc_date"]).await;
    let response = post(&server.url, headers(Some(HEAD_OFFICE)), INIT).await;
    assert_eq!(response.status(), StatusCode::OK);
    let session = response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string();
    let init = first_message(response).await;
    assert_eq!(init["result"]["protocolVersion"], "2025-11-25");

    let h = session_headers(HEAD_OFFICE, &session);
    let initialized = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    assert_eq!(
        post(&server.url, h.clone(), initialized).await.status(),
        StatusCode::ACCEPTED
    );

    // The GET stream opens (VS Code turns notifications off if it fails).
    let mut get_h = h.clone();
    get_h.insert("accept", HeaderValue::from_static("text/event-stream"));
    let stream = reqwest::Client::new()
        .get(&server.url)
        .headers(get_h)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    assert!(
        stream.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    drop(stream);

    let ping = r#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#;
    let pong = first_message(post(&server.url, h.clone(), ping).await).await;
    assert_eq!(pong["id"], 2);

    // DELETE ends the session; it is then unknown.
    let deleted = reqwest::Client::new()
        .delete(&server.url)
        .headers(h.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::OK);
    assert_eq!(
        post(&server.url, h, ping).await.status(),
        StatusCode::NOT_FOUND
    );
    server.stop().await;
}

#[tokio::test]
async fn older_clients_are_negotiated_down() {
    let server = TestServer::start(&["get_current_utc_date"]).await;
    for version in ["2025-06-18", "2025-03-26", "2024-11-05"] {
        let body = INIT.replace("2025-11-25", version);
        let response = post(&server.url, headers(Some(HEAD_OFFICE)), body).await;
        assert_eq!(response.status(), StatusCode::OK);
        let init = first_message(response).await;
        assert_eq!(init["result"]["protocolVersion"], version);
    }
    // A newer-than-known version is answered with ours, never an HTTP error.
    let body = INIT.replace("2025-11-25", "2099-01-01");
    let response = post(&server.url, headers(Some(HEAD_OFFICE)), body).await;
    assert_eq!(response.status(), StatusCode::OK);
    let init = first_message(response).await;
    assert_eq!(init["result"]["protocolVersion"], "2025-11-25");
    server.stop().await;
}

#[tokio::test]
async fn health_and_readiness() {
    let server = TestServer::start(&["get_current_utc_date"]).await;
    let client = reqwest::Client::new();
    let health = client
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let ready = client
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn a_session_cannot_be_used_or_ended_by_another_identity() {
    let server = TestServer::start(&["get_current_utc_date"]).await;
    let response = post(&server.url, headers(Some(HEAD_OFFICE)), INIT).await;
    let session = response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string();
    let with_session = |user: &str| session_headers(user, &session);
    let initialized = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    post(&server.url, with_session(HEAD_OFFICE), initialized).await;
    let ping = r#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#;

    // Seattle's manager holds head office's session id: refused, as unknown.
    assert_eq!(
        post(&server.url, with_session(SEATTLE), ping)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let delete = reqwest::Client::new()
        .delete(&server.url)
        .headers(with_session(SEATTLE))
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), StatusCode::NOT_FOUND);

    // The owner's session is intact.
    let pong = first_message(post(&server.url, with_session(HEAD_OFFICE), ping).await).await;
    assert_eq!(pong["id"], 2);
    server.stop().await;
}
