//! The red team's findings on the HTTP front and the sessions, each as an
//! attack that must fail: connections that never finish their headers or
//! bodies, more connections than allowed, session ids rmcp and the guard
//! would read differently, sessions of another replica adopted or deleted
//! by someone else, a stalled session table, rows without end, a repeated
//! request id, HTTP/2 without a `Host` header, and headers that contradict
//! the body.

use crate::support;

use std::time::Duration;

use serde_json::{Value, json};
use support::pg::TestDb;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BELLEVUE: &str = "6ba7b810-9dad-11d1-80b4-00c04fd430c8";

fn http() -> reqwest::Client {
    mcp_host::embeddings::remote::tls_init();
    reqwest::Client::new()
}

const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"attacks","version":"1"}}}"#;
const META_2026: &str = r#""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}"#;

fn post(url: &str, user: &str) -> reqwest::RequestBuilder {
    http()
        .post(url)
        .header("x-rls-user-id", user)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
}

/// A handshake-era session of `user`, initialised.
async fn open_session(url: &str, user: &str) -> String {
    let init = post(url, user).body(INIT).send().await.unwrap();
    assert_eq!(init.status(), 200);
    let session = init.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string();
    let _ = init.text().await.unwrap();
    let done = in_session(url, user, &session)
        .body(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 202);
    session
}

fn in_session(url: &str, user: &str, session: &str) -> reqwest::RequestBuilder {
    post(url, user)
        .header("mcp-session-id", session)
        .header("mcp-protocol-version", "2025-11-25")
}

/// `tools/call probe_scope` in `session` as `user`: status and body text.
async fn call_in(url: &str, user: &str, session: &str, id: u32) -> (u16, String) {
    let response = in_session(url, user, session)
        .body(
            json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                   "params": {"name": "probe_scope", "arguments": {}}})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// Whether the server closed `stream` (EOF or reset) within `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            // A 408 or similar before closing is fine too.
            Ok(Ok(_)) => continue,
        }
    }
}

#[tokio::test]
async fn unfinished_headers_and_bodies_do_not_hold_connections() {
    let server = TestServer::start_with(
        &["get_current_utc_date"],
        &["--header-timeout", "1s", "--body-timeout", "1s"],
    )
    .await;
    let addr = server.server.as_ref().unwrap().addr;
    // A request line and nothing more; a connection that sends nothing.
    let mut partial = TcpStream::connect(addr).await.unwrap();
    partial
        .write_all(b"GET /healthz HTTP/1.1\r\n")
        .await
        .unwrap();
    let mut silent = TcpStream::connect(addr).await.unwrap();
    assert!(closed_within(&mut partial, Duration::from_secs(5)).await);
    assert!(closed_within(&mut silent, Duration::from_secs(5)).await);

    // A body that trickles in is cut off with 408.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(
        format!(
            "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nx-rls-user-id: {SEATTLE}\r\n\
             content-type: application/json\r\naccept: application/json, text/event-stream\r\n\
             content-length: 100\r\n\r\n{{\"jsonrpc\""
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");

    // A header larger than the buffer is refused, not buffered.
    let mut big = TcpStream::connect(addr).await.unwrap();
    let filler = "a".repeat(100 << 10);
    let _ = big
        .write_all(
            format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nx-big: {filler}\r\n").as_bytes(),
        )
        .await;
    assert!(closed_within(&mut big, Duration::from_secs(5)).await);
    server.stop().await;
}

#[tokio::test]
async fn connections_beyond_the_cap_are_closed_and_the_server_recovers() {
    let server = TestServer::start_with(
        &["get_current_utc_date"],
        &["--max-connections", "3", "--header-timeout", "2s"],
    )
    .await;
    let addr = server.server.as_ref().unwrap().addr;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut extra = TcpStream::connect(addr).await.unwrap();
    assert!(
        closed_within(&mut extra, Duration::from_millis(1500)).await,
        "a fourth connection was kept"
    );
    // The idle ones time out; then the server answers again.
    for stream in &mut held {
        assert!(closed_within(stream, Duration::from_secs(5)).await);
    }
    let health = http()
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    server.stop().await;
}

#[tokio::test]
async fn unreadable_or_repeated_session_ids_are_refused_before_anything_opens() {
    let server = TestServer::start_with(
        &["probe_v1"],
        &[
            "--identity-max-sessions",
            "1",
            "--identity-session-rate",
            "off",
        ],
    )
    .await;
    let addr = server.server.as_ref().unwrap().addr;
    // reqwest will not send a non-ASCII header value: raw bytes.
    for header in [
        &b"Mcp-Session-Id: \xff\r\n"[..],
        b"Mcp-Session-Id: a b\r\n",
        b"Mcp-Session-Id: \r\n",
        b"Mcp-Session-Id: one\r\nMcp-Session-Id: two\r\n",
    ] {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut request = format!(
            "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nx-rls-user-id: {SEATTLE}\r\n\
             content-type: application/json\r\naccept: application/json, text/event-stream\r\n\
             content-length: {}\r\nconnection: close\r\n",
            INIT.len()
        )
        .into_bytes();
        request.extend_from_slice(header);
        request.extend_from_slice(b"\r\n");
        request.extend_from_slice(INIT.as_bytes());
        stream.write_all(&request).await.unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.unwrap();
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
        let head = answer.split("\r\n\r\n").next().unwrap();
        assert!(
            !head.to_ascii_lowercase().contains("mcp-session-id:"),
            "{answer}"
        );
    }
    // None of them took the identity's one place.
    open_session(&server.url, SEATTLE).await;
    server.stop().await;
}

#[tokio::test]
async fn a_request_id_in_flight_cannot_be_reused_in_the_session() {
    let server = TestServer::start_with(&["probe_v1"], &["--call-timeout", "10s"]).await;
    let session = open_session(&server.url, HEAD_OFFICE).await;
    let slow_call = |id: u32| {
        in_session(&server.url, HEAD_OFFICE, &session).body(
            json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                   "params": {"name": "swap_probe_slow", "arguments": {}}})
            .to_string(),
        )
    };
    let first = tokio::spawn(slow_call(5).send());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, body) = call_in(&server.url, HEAD_OFFICE, &session, 5).await;
    assert_eq!(status, 400, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["code"], -32600);
    // The first one still gets its answer ...
    let first = first.await.unwrap().unwrap();
    assert_eq!(first.status(), 200);
    assert!(first.text().await.unwrap().contains("v1"));
    // ... and then the id is free again; other ids never waited.
    let (status, body) = call_in(&server.url, HEAD_OFFICE, &session, 5).await;
    assert_eq!(status, 200, "{body}");
    server.stop().await;
}

#[tokio::test]
async fn headers_must_agree_with_the_body_in_every_revision() {
    let server = TestServer::start(&["probe_v1"]).await;
    let session = open_session(&server.url, BELLEVUE).await;
    let call = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                      "params": {"name": "probe_scope", "arguments": {}}})
    .to_string();
    // In a 2025-11-25 session: the method and name headers must match.
    for (header, value) in [
        ("mcp-method", "tools/list"),
        ("mcp-name", "get_current_utc_date"),
    ] {
        let response = in_session(&server.url, BELLEVUE, &session)
            .header(header, value)
            .body(call.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], -32020, "{body}");
    }
    let agreeing = in_session(&server.url, BELLEVUE, &session)
        .header("mcp-method", "tools/call")
        .header("mcp-name", "probe_scope")
        .body(call)
        .send()
        .await
        .unwrap();
    assert_eq!(agreeing.status(), 200);
    // A handshake-era revision outside a session is not served statelessly.
    let stateless_2025 = post(&server.url, BELLEVUE)
        .header("mcp-protocol-version", "2025-11-25")
        .body(
            r#"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2025-11-25","io.modelcontextprotocol/clientCapabilities":{}},"name":"probe_scope","arguments":{}}}"#,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(stateless_2025.status(), 400);
    let body: Value = stateless_2025.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32022, "{body}");
    server.stop().await;
}

#[tokio::test]
async fn http2_requests_are_served_by_their_authority() {
    let server = TestServer::start(&["get_current_utc_date"]).await;
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let health = h2
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (health.version(), health.status()),
        (reqwest::Version::HTTP_2, reqwest::StatusCode::OK)
    );
    let discover = h2
        .post(&server.url)
        .header("x-rls-user-id", SEATTLE)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "server/discover")
        .body(format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{{{META_2026}}}}}"#
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(discover.status(), 200, "{:?}", discover.text().await);
    server.stop().await;
}

/// Two replicas on one database, as behind a load balancer.
struct Replicas {
    a: TestServer,
    b: TestServer,
    db: TestDb,
}

impl Replicas {
    async fn start(extra: &[&str]) -> Self {
        let db = TestDb::fresh().await;
        let mut flags: Vec<String> = db.serve_flags();
        flags.extend(["--embeddings".into(), "none".into()]);
        flags.extend(extra.iter().map(|s| s.to_string()));
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let a = TestServer::start_with(&["probe_v1"], &flags).await;
        let b = TestServer::start_with(&["probe_v1"], &flags).await;
        Self { a, b, db }
    }

    async fn rows_of(&self, user: &str) -> i64 {
        self.db
            .admin()
            .await
            .query_one(
                "SELECT count(*) FROM zava_sessions.sessions WHERE principal = $1",
                &[&format!("dev:{user}")],
            )
            .await
            .unwrap()
            .get(0)
    }

    async fn stop(self) {
        self.a.stop().await;
        self.b.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn another_replica_restores_and_deletes_a_session_only_for_its_owner() {
    let replicas = Replicas::start(&[]).await;
    let (a, b) = (&replicas.a.url, &replicas.b.url);
    let session = open_session(a, SEATTLE).await;
    assert_eq!(replicas.rows_of(SEATTLE).await, 1, "saved with its owner");

    // Bellevue, holding Seattle's id, is told there is no such session on
    // the replica that has never seen it, and cannot end it there.
    let (status, _) = call_in(b, BELLEVUE, &session, 2).await;
    assert_eq!(status, 404);
    let deleted = http()
        .delete(b)
        .header("x-rls-user-id", BELLEVUE)
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success() || deleted.status() == 404);
    assert_eq!(replicas.rows_of(SEATTLE).await, 1, "a stranger deleted it");

    // Seattle is served on B in the same session, as Seattle.
    let (status, body) = call_in(b, SEATTLE, &session, 3).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("store:1"), "{body}");
    // Now that B holds it, Bellevue gets 404 there too.
    let (status, _) = call_in(b, BELLEVUE, &session, 4).await;
    assert_eq!(status, 404);
    replicas.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_session_table_fails_closed() {
    let replicas = Replicas::start(&[]).await;
    let (a, b) = (&replicas.a.url, &replicas.b.url);
    let session = open_session(a, SEATTLE).await;

    // A superuser holds the table: lookups on B cannot finish.
    let mut admin = replicas.db.admin().await;
    let lock = admin.transaction().await.unwrap();
    lock.batch_execute("LOCK TABLE zava_sessions.sessions IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let (status, body) = call_in(b, BELLEVUE, &session, 2).await;
    assert_ne!(status, 200, "served in someone else's session: {body}");
    assert!(!body.contains("store:2"), "{body}");
    let deleted = http()
        .delete(b)
        .header("x-rls-user-id", BELLEVUE)
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    let _ = deleted.status();
    // Even the owner is refused with an error, not told the session is
    // gone (a 404 would make the client drop it).
    let (status, _) = call_in(b, SEATTLE, &session, 3).await;
    assert_eq!(status, 500);
    lock.rollback().await.unwrap();

    assert_eq!(replicas.rows_of(SEATTLE).await, 1);
    let (status, body) = call_in(b, SEATTLE, &session, 4).await;
    assert_eq!(status, 200, "{body}");
    replicas.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stateless_requests_naming_a_session_adopt_nothing() {
    let replicas = Replicas::start(&["--identity-max-sessions", "1"]).await;
    let (a, b) = (&replicas.a.url, &replicas.b.url);
    let session = open_session(a, SEATTLE).await;
    for id in 0..3 {
        let listed = post(b, SEATTLE)
            .header("mcp-session-id", &session)
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/list")
            .body(format!(
                r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/list","params":{{{META_2026}}}}}"#
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(listed.status(), 200);
    }
    // B holds nothing for Seattle: its one place is free there.
    open_session(b, SEATTLE).await;
    replicas.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stored_sessions_are_bounded_per_identity_and_in_size() {
    let replicas = Replicas::start(&[
        "--identity-max-sessions",
        "0",
        "--identity-session-rate",
        "off",
    ])
    .await;
    let a = &replicas.a.url;
    let max = mcp_host::db::sessions::MAX_ROWS_PER_PRINCIPAL;
    for _ in 0..max + 6 {
        let init = post(a, SEATTLE).body(INIT).send().await.unwrap();
        assert_eq!(init.status(), 200);
    }
    assert_eq!(replicas.rows_of(SEATTLE).await, max as i64);

    // A handshake too large to keep is served, on this replica only.
    let big = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25",
                   "capabilities": {"experimental": {"x": {"pad": "p".repeat(20_000)}}},
                   "clientInfo": {"name": "big", "version": "1"}}});
    let init = post(a, BELLEVUE)
        .body(big.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(init.status(), 200);
    assert_eq!(replicas.rows_of(BELLEVUE).await, 0);
    replicas.stop().await;
}
