//! `--identity entra`: bearer tokens minted here with a test RSA key whose
//! key set a loopback "Entra" serves. Every refusal must be a 401/403 with a
//! `WWW-Authenticate` challenge that lets a client (VS Code) sign in by
//! itself; a valid token must map to the right store through PostgreSQL.

use crate::support;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use support::entra::{self, AUDIENCE, FakeEntra, KEY_ID, SCOPE, TENANT};
use support::pg::{TestDb, stores};
use support::{McpClient, SEATTLE, TestServer, is_error, text_of};

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;

async fn server(fake: &FakeEntra, extra: &[&str]) -> TestServer {
    let mut flags = fake.serve_flags();
    flags.extend(extra.iter().map(|s| s.to_string()));
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    TestServer::start_with(&["probe_v1"], &flags).await
}

/// POSTs an `initialize` with `authorization` (if any); status, challenge.
async fn initialize(server: &TestServer, authorization: Option<&str>) -> (u16, String, Value) {
    let mut request = reqwest::Client::new()
        .post(&server.url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(INITIALIZE);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = response.text().await.unwrap();
    let body = serde_json::from_str(&body).unwrap_or(Value::String(body));
    (status, challenge, body)
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

async fn session(server: &TestServer, token: &str) -> McpClient {
    McpClient::try_connect(&server.url, &[("authorization", &bearer(token))])
        .await
        .expect("a valid token opens a session")
}

#[tokio::test]
async fn refusals_are_401_with_a_challenge_that_leads_to_sign_in() {
    let fake = FakeEntra::start().await;
    let server = server(&fake, &[]).await;
    let metadata = format!(
        "resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\"",
        server.base
    );
    let scope = format!("scope=\"{AUDIENCE}/{SCOPE}\"");

    // No token at all: a challenge without an error code (RFC 6750 3.1).
    let (status, challenge, body) = initialize(&server, None).await;
    assert_eq!(status, 401, "{body}");
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(challenge.contains(&metadata), "{challenge}");
    assert!(challenge.contains(&scope), "{challenge}");
    assert!(!challenge.contains("error="), "{challenge}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Bearer")
    );

    let good = entra::claims(&fake.authority, SEATTLE);
    let with = |patch: Value| {
        let mut claims = good.clone();
        for (k, v) in patch.as_object().unwrap() {
            claims[k] = v.clone();
        }
        claims
    };
    // Flip one character inside the signature (the last one may carry only
    // padding bits, which decoders ignore).
    let bad_signature = {
        let token = entra::token(&good);
        let at = token.len() - 20;
        let flipped = if &token[at..=at] == "A" { "B" } else { "A" };
        format!("{}{flipped}{}", &token[..at], &token[at + 1..])
    };
    // JWT segments are unpadded base64url.
    let header = |alg: &str| {
        URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}","typ":"JWT","kid":"{KEY_ID}"}}"#))
    };
    let payload = URL_SAFE_NO_PAD.encode(good.to_string());
    let alg_none = format!("{}.{payload}.", header("none"));
    // The classic confusion attack: HS256 keyed with the public key's bytes.
    let hs256 = {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some(KEY_ID.into());
        let public = entra::jwks().to_string();
        jsonwebtoken::encode(&h, &good, &EncodingKey::from_secret(public.as_bytes())).unwrap()
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "expired",
            entra::token(&with(
                json!({"exp": entra::now() - 3600, "nbf": entra::now() - 7200}),
            )),
            "expired",
        ),
        (
            "not yet valid",
            entra::token(&with(json!({"nbf": entra::now() + 3600}))),
            "not valid yet",
        ),
        (
            "wrong audience",
            entra::token(&with(json!({"aud": "api://someone-else"}))),
            "audience",
        ),
        (
            "wrong issuer",
            entra::token(&with(
                json!({"iss": format!("{}/{}/v2.0", fake.authority, "another-tenant")}),
            )),
            "issued by",
        ),
        (
            "other tenant id",
            entra::token(&with(json!({"tid": "another-tenant"}))),
            "another tenant",
        ),
        (
            "unknown key",
            entra::sign(&good, &entra::other_key(), "rotated-away"),
            "not one of the tenant's signing keys",
        ),
        (
            "signed by another key under our key id",
            entra::sign(&good, &entra::other_key(), KEY_ID),
            "signature does not verify",
        ),
        (
            "tampered signature",
            bad_signature,
            "signature does not verify",
        ),
        ("alg none", alg_none, "not a well-formed JWT"),
        ("HS256 with the public key", hs256, "RS256"),
        ("not a JWT", "hello".into(), "not a well-formed JWT"),
        (
            "an ID token (no scp, no roles)",
            {
                let mut id_token = good.clone();
                id_token.as_object_mut().unwrap().remove("scp");
                entra::token(&id_token)
            },
            "ID tokens are not accepted",
        ),
    ];
    for (name, token, reason) in cases {
        let (status, challenge, body) = initialize(&server, Some(&bearer(&token))).await;
        assert_eq!(status, 401, "{name}: {body}");
        assert!(
            challenge.contains("error=\"invalid_token\""),
            "{name}: {challenge}"
        );
        assert!(challenge.contains(&metadata), "{name}: {challenge}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(reason), "{name}: {message}");
        assert!(!message.contains(&token), "{name}: the token is echoed");
    }
    let (status, _, _) = initialize(&server, Some("Basic dXNlcjpwYXNz")).await;
    assert_eq!(status, 401);

    // Valid, but without the scope this server requires: 403.
    let (status, challenge, body) = initialize(
        &server,
        Some(&bearer(&entra::token(&with(json!({"scp": "User.Read"}))))),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert!(challenge.contains(&scope), "{challenge}");

    // Valid, but naming no RLS user and not in the user map: 403.
    let mut unmapped = good.clone();
    unmapped.as_object_mut().unwrap().remove("rls_user_id");
    let (status, _, body) = initialize(&server, Some(&bearer(&entra::token(&unmapped)))).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("user map")
    );

    // The good token itself works, and all of the above cost one key fetch:
    // keys are cached, and an unknown key id within the cooldown does not
    // make us fetch again (made-up ids cannot turn into a flood of fetches).
    let client = session(&server, &entra::token(&good)).await;
    assert_eq!(client.tool_names().await.len(), 4);
    assert_eq!(fake.fetch_count(), 1, "keys are cached");
    server.stop().await;
    fake.stop();
}

#[tokio::test]
async fn protected_resource_metadata_names_the_tenant() {
    let fake = FakeEntra::start().await;
    let server = server(&fake, &[]).await;
    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
    ] {
        let response = reqwest::get(format!("{}{path}", server.base))
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            response.headers()["access-control-allow-origin"],
            "*",
            "browser clients may read it"
        );
        let doc: Value = response.json().await.unwrap();
        assert_eq!(doc["resource"], format!("{}/mcp", server.base));
        assert_eq!(
            doc["authorization_servers"],
            json!([format!("{}/{TENANT}/v2.0", fake.authority)])
        );
        assert_eq!(
            doc["scopes_supported"],
            json!([format!("{AUDIENCE}/{SCOPE}")])
        );
        assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
    }
    server.stop().await;

    // Behind a proxy the operator names the public URL.
    let server = server_public(&fake).await;
    let doc: Value = reqwest::get(format!(
        "{}/.well-known/oauth-protected-resource/mcp",
        server.base
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(doc["resource"], "https://zava.example.com/mcp");
    let (_, challenge, _) = initialize(&server, None).await;
    assert!(
        challenge.contains("resource_metadata=\"https://zava.example.com/.well-known/oauth-protected-resource/mcp\""),
        "{challenge}"
    );
    server.stop().await;

    // The dev header has no authorization server to point at.
    let dev = TestServer::start(&["probe_v1"]).await;
    let response = reqwest::get(format!("{}/.well-known/oauth-protected-resource", dev.base))
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    dev.stop().await;
    fake.stop();
}

async fn server_public(fake: &FakeEntra) -> TestServer {
    server(fake, &["--public-url", "https://zava.example.com/"]).await
}

#[tokio::test]
async fn valid_tokens_map_to_their_store_through_the_database() {
    let fake = FakeEntra::start().await;
    let db = TestDb::fresh().await;
    let map = tempfile::NamedTempFile::new().unwrap();
    let mapped_oid = "5a5a5a5a-0000-4000-8000-000000000123";
    let (redmond_store, _, redmond) = stores()
        .into_iter()
        .find(|(_, name, _)| name.contains("Redmond"))
        .unwrap();
    std::fs::write(
        map.path(),
        format!(
            "[users]\n\"{}\" = \"{redmond}\"\n",
            mapped_oid.to_uppercase()
        ),
    )
    .unwrap();
    let mut flags = fake.serve_flags();
    flags.extend(db.serve_flags());
    flags.extend(["--entra-user-map".into(), map.path().display().to_string()]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let server = TestServer::start_with(&["probe_v1", "sales_sql"], &flags).await;

    // Seattle by claim.
    let seattle = session(
        &server,
        &entra::token(&entra::claims(&fake.authority, SEATTLE)),
    )
    .await;
    let scope = seattle.call("probe_scope", json!({})).await;
    assert_eq!(text_of(&scope), "store:1");
    let stores = seattle
        .call(
            "execute_sales_query",
            json!({"postgresql_query": "SELECT DISTINCT store_id FROM retail.orders ORDER BY 1"}),
        )
        .await;
    assert!(!is_error(&stores), "{}", text_of(&stores));
    assert_eq!(stores.structured_content.unwrap()["rows"], json!([[1]]));

    // Redmond by the operator's object-id map (no claim in the token).
    let mut claims = entra::claims(&fake.authority, "");
    claims.as_object_mut().unwrap().remove("rls_user_id");
    claims["oid"] = json!(mapped_oid);
    let redmond_session = session(&server, &entra::token(&claims)).await;
    let scope = redmond_session.call("probe_scope", json!({})).await;
    assert_eq!(text_of(&scope), format!("store:{redmond_store}"));
    server.stop().await;
    fake.stop();
}

#[tokio::test]
async fn a_session_cannot_be_used_by_another_principal() {
    let fake = FakeEntra::start().await;
    let server = server(&fake, &[]).await;
    let alice = entra::claims(&fake.authority, SEATTLE);
    let mut mallory = alice.clone();
    // Another person, even one mapped to the same store.
    mallory["oid"] = json!("99999999-0000-4000-8000-00000000bad0");
    let alice_token = entra::token(&alice);

    let response = reqwest::Client::new()
        .post(&server.url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("authorization", bearer(&alice_token))
        .body(INITIALIZE)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let session_id = response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string();
    drop(response);

    let list = r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#;
    let send = |token: String| {
        reqwest::Client::new()
            .post(&server.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("authorization", bearer(&token))
            .header("mcp-session-id", &session_id)
            .header("mcp-protocol-version", "2025-11-25")
            .body(list)
            .send()
    };
    let hijack = send(entra::token(&mallory)).await.unwrap();
    assert_eq!(
        hijack.status(),
        404,
        "another principal's session is not found"
    );
    let delete = reqwest::Client::new()
        .delete(&server.url)
        .header("authorization", bearer(&entra::token(&mallory)))
        .header("mcp-session-id", &session_id)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 404, "nor can it be ended by them");

    // Alice with a fresh token (same principal) keeps using it.
    let mut refreshed = alice.clone();
    refreshed["iat"] = json!(entra::now());
    let mine = send(entra::token(&refreshed)).await.unwrap();
    assert_ne!(mine.status(), 404);
    assert!(mine.status().is_success(), "{}", mine.status());
    server.stop().await;
    fake.stop();
}

#[tokio::test]
async fn rotated_keys_are_fetched_and_an_unreachable_tenant_is_503() {
    let fake = FakeEntra::start().await;
    let server = server(&fake, &["--entra-jwks-cooldown", "0s"]).await;
    let claims = entra::claims(&fake.authority, SEATTLE);
    let rotated = entra::sign(&claims, &entra::other_key(), "test-key-2");
    let (status, _, _) = initialize(&server, Some(&bearer(&rotated))).await;
    assert_eq!(status, 401, "not published yet");
    fake.publish(entra::other_jwk("test-key-2"));
    let (status, _, body) = initialize(&server, Some(&bearer(&rotated))).await;
    assert_eq!(status, 200, "published: {body}");
    server.stop().await;

    // A tenant whose keys cannot be fetched: the caller is told to retry,
    // not that their token is bad.
    let flags = fake.serve_flags();
    fake.stop();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let server = TestServer::start_with(&["probe_v1"], &flags).await;
    let (status, challenge, body) =
        initialize(&server, Some(&bearer(&entra::token(&claims)))).await;
    assert_eq!(status, 503, "{body}");
    assert!(!challenge.contains("error="), "{challenge}");
    server.stop().await;
}
