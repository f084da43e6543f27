//! The HTTP edge under misuse: one identity opening sessions without end,
//! or faster than allowed; probes and metrics asked for under a foreign
//! Host; requests naming two hosts; metrics on a public listener.

use crate::support;

use std::time::Duration;

use serde_json::{Value, json};
use support::*;

const REDMOND: &str = "e7f8a9b0-c1d2-3e4f-5678-90abcdef1234";

fn http() -> reqwest::Client {
    mcp_host::embeddings::remote::tls_init();
    reqwest::Client::new()
}

/// `initialize` as `user`; the session id, or the HTTP status and body.
async fn initialize(url: &str, user: &str) -> Result<String, (u16, Value)> {
    let response = http()
        .post(url)
        .header("x-rls-user-id", user)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(
            json!({
                "jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                           "clientInfo": {"name": "edges", "version": "1"}}
            })
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    match response.headers().get("mcp-session-id") {
        Some(id) => Ok(id.to_str().unwrap().to_string()),
        None => Err((status, response.json().await.unwrap_or(Value::Null))),
    }
}

async fn delete(url: &str, user: &str, session: &str) -> u16 {
    http()
        .delete(url)
        .header("x-rls-user-id", user)
        .header("mcp-session-id", session)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn sessions_per_identity_are_capped_and_freed_when_they_end() {
    let server = TestServer::start_with(
        &["get_current_utc_date"],
        &[
            "--identity-max-sessions",
            "3",
            "--identity-session-rate",
            "off",
        ],
    )
    .await;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(
            initialize(&server.url, SEATTLE)
                .await
                .expect("within the cap"),
        );
    }
    let (status, body) = initialize(&server.url, SEATTLE).await.unwrap_err();
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], -32029);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("too many open sessions: you hold 3 of at most 3"),
        "{body}"
    );
    // Another identity is not affected.
    initialize(&server.url, REDMOND)
        .await
        .expect("others may still open sessions");
    // A session that ends gives its place back.
    assert_eq!(
        delete(&server.url, SEATTLE, &open.pop().unwrap()).await,
        200
    );
    initialize(&server.url, SEATTLE)
        .await
        .expect("a place was freed");
    // Nobody else may end (or use) Seattle's sessions.
    assert_eq!(delete(&server.url, REDMOND, &open[0]).await, 404);
    server.stop().await;
}

#[tokio::test]
async fn initialize_is_rate_limited_per_identity() {
    let server = TestServer::start_with(
        &["get_current_utc_date"],
        &[
            "--identity-session-rate",
            "2/10s",
            "--identity-max-sessions",
            "0",
        ],
    )
    .await;
    for _ in 0..2 {
        initialize(&server.url, SEATTLE)
            .await
            .expect("within the burst");
    }
    let (status, body) = initialize(&server.url, SEATTLE).await.unwrap_err();
    assert_eq!(status, 429, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("new sessions per caller"),
        "{body}"
    );
    assert!(body["error"]["data"]["retry_after_ms"].as_u64().unwrap() > 0);
    initialize(&server.url, REDMOND)
        .await
        .expect("others unaffected");
    server.stop().await;
}

/// Sends raw request bytes (reqwest will not send two Host headers) and
/// returns the status line.
async fn raw_request(addr: std::net::SocketAddr, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn probes_and_metrics_check_host_and_two_hosts_are_refused() {
    let server = TestServer::start(&["get_current_utc_date"]).await;
    let addr = server.server.as_ref().unwrap().addr;
    for path in ["/healthz", "/readyz", "/metrics"] {
        let ok = raw_request(
            addr,
            &format!(
                "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
                addr.port()
            ),
        )
        .await;
        assert!(ok.contains(" 200 "), "{path}: {ok}");
        let rebinding = raw_request(
            addr,
            &format!(
                "GET {path} HTTP/1.1\r\nHost: evil.example:{}\r\nConnection: close\r\n\r\n",
                addr.port()
            ),
        )
        .await;
        assert!(rebinding.contains(" 403 "), "{path}: {rebinding}");
        // What a container platform's probe sends: an IP with our port.
        let probe = raw_request(
            addr,
            &format!(
                "GET {path} HTTP/1.1\r\nHost: 10.1.2.3:{}\r\nConnection: close\r\n\r\n",
                addr.port()
            ),
        )
        .await;
        assert!(probe.contains(" 200 "), "{path}: {probe}");
        let two = raw_request(
            addr,
            &format!(
                "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
                addr.port()
            ),
        )
        .await;
        assert!(two.contains(" 400 "), "{path}: {two}");
    }
    let two = raw_request(
        addr,
        "POST /mcp HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\ncontent-length: 2\r\nConnection: close\r\n\r\n{}",
    )
    .await;
    assert!(two.contains(" 400 "), "/mcp: {two}");
    server.stop().await;
}

#[tokio::test]
async fn metrics_are_off_on_a_public_listener_unless_given_their_own() {
    let server = TestServer::start_with(
        &["get_current_utc_date"],
        &["--listen", "0.0.0.0:0", "--allow-dev-header-on-network"],
    )
    .await;
    let port = server.server.as_ref().unwrap().addr.port();
    let metrics = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap();
    assert_eq!(metrics.status(), 404);
    let health = reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    server.stop().await;
}
