//! The HTTP edge, spoken to with a plain HTTP client: Host/Origin checks,
//! identity, body cap, JSON-RPC errors, sessions, the GET stream, health.

use crate::support;

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

/// The server's end of the TCP connection from `client` (found among this
/// process's sockets: the server runs in-process): is TCP_NODELAY set?
fn server_socket_has_nodelay(server_port: u16, client_port: u16) -> bool {
    for entry in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let Ok(fd) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let port = |get: unsafe extern "C" fn(i32, *mut libc::sockaddr, *mut u32) -> i32| {
            let mut addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
            let mut len = std::mem::size_of::<libc::sockaddr_in>() as u32;
            // SAFETY: a properly sized sockaddr buffer for any socket fd;
            // non-sockets and other families just fail or mismatch.
            let ok = unsafe { get(fd, &mut addr as *mut _ as *mut libc::sockaddr, &mut len) } == 0;
            (ok && addr.sin_family as i32 == libc::AF_INET).then(|| u16::from_be(addr.sin_port))
        };
        if port(libc::getsockname) == Some(server_port)
            && port(libc::getpeername) == Some(client_port)
        {
            let mut flag: i32 = 0;
            let mut len = std::mem::size_of::<i32>() as u32;
            // SAFETY: reading an int option of a TCP socket we found above.
            let read = unsafe {
                libc::getsockopt(
                    fd,
                    libc::IPPROTO_TCP,
                    libc::TCP_NODELAY,
                    &mut flag as *mut i32 as *mut libc::c_void,
                    &mut len,
                )
            };
            return read == 0 && flag != 0;
        }
    }
    panic!("no server socket for the client's connection");
}

#[tokio::test]
async fn twenty_calls_on_one_keep_alive_connection_with_tcp_nodelay() {
    use http_body_util::{BodyExt, Full};
    let server = TestServer::start(&["get_current_utc_date"]).await;
    let addr = server.server.as_ref().unwrap().addr;
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let client_port = stream.local_addr().unwrap().port();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    let body = serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "get_current_utc_date", "arguments": {},
                   "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                             "io.modelcontextprotocol/clientCapabilities": {}}}
    })
    .to_string();
    for i in 0..20 {
        let request = http::Request::post("/mcp")
            .header("host", addr.to_string())
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("x-rls-user-id", HEAD_OFFICE)
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/call")
            .header("mcp-name", "get_current_utc_date")
            .body(Full::new(bytes::Bytes::from(body.clone())))
            .unwrap();
        let response = sender.send_request(request).await.expect("same connection");
        assert_eq!(response.status(), StatusCode::OK, "call {i}");
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let answer: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert!(
            answer["result"]["content"][0]["text"].is_string(),
            "{answer}"
        );
    }
    assert!(
        server_socket_has_nodelay(addr.port(), client_port),
        "the server's socket has TCP_NODELAY"
    );
    server.stop().await;
}
