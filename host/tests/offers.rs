//! What WIT 0.2 components offer besides tools, through a real MCP client
//! (rmcp's, 2025-11-25 sessions): prompts, resources, templates and
//! completions run as the caller; rich content; log and progress
//! notifications that reach only the calling session; hot swaps of every
//! list announced; clashes refused; 0.1 components beside 0.2 ones.

use crate::support;

use std::time::Duration;

use rmcp::model::{
    ArgumentInfo, CallToolRequestParams, CompleteRequestParams, GetPromptRequestParams,
    ProgressToken, ReadResourceRequestParams, Reference, RequestMetaObject, ResourceContents,
    SubscribeRequestParams,
};
use serde_json::{Value, json};
use support::*;

fn json_of<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap()
}

async fn get_prompt(client: &McpClient, name: &str, arguments: Value) -> Result<Value, String> {
    let mut request = GetPromptRequestParams::new(name);
    request.arguments = arguments.as_object().cloned();
    client
        .service
        .get_prompt(request)
        .await
        .map(|r| json_of(&r))
        .map_err(|e| e.to_string())
}

async fn read(client: &McpClient, uri: &str) -> Result<Vec<ResourceContents>, String> {
    client
        .service
        .read_resource(ReadResourceRequestParams::new(uri))
        .await
        .map(|r| r.contents)
        .map_err(|e| e.to_string())
}

#[allow(deprecated)] // rmcp marks MCP logging deprecated (SEP-2577)
async fn set_level(client: &McpClient, level: &str) {
    let level: rmcp::model::LoggingLevel = serde_json::from_value(json!(level)).unwrap();
    client
        .service
        .set_level(rmcp::model::SetLevelRequestParams::new(level))
        .await
        .expect("logging/setLevel");
}

#[tokio::test]
async fn components_of_both_contract_versions_serve_side_by_side() {
    // 0.1: get_current_utc_date, probe; 0.2: conformance (all three
    // exports), prompts_only (prompts alone).
    let server = TestServer::start(&[
        "get_current_utc_date",
        "probe_v1",
        "conformance",
        "prompts_only",
    ])
    .await;
    let client = server.client(SEATTLE).await;
    let tools = client.tool_names().await;
    for name in [
        "get_current_utc_date",
        "swap_probe",
        "test_simple_text",
        "test_image_content",
    ] {
        assert!(tools.contains(&name.to_string()), "{name} in {tools:?}");
    }
    assert!(!is_error(
        &client.call("get_current_utc_date", json!({})).await
    ));
    assert_eq!(text_of(&client.call("swap_probe", json!({})).await), "v1");

    // Rich content from a 0.2 tool: an image block with base64 data.
    let image = client.call("test_image_content", json!({})).await;
    let block = json_of(&image.content[0]);
    assert_eq!(block["type"], "image", "{block}");
    assert_eq!(block["mimeType"], "image/png");
    assert!(!block["data"].as_str().unwrap().is_empty());

    // Prompts from both 0.2 components, run as the caller.
    let prompts: Vec<String> = client
        .service
        .list_all_prompts()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert!(prompts.contains(&"swap_prompt".to_string()), "{prompts:?}");
    assert!(prompts.contains(&"test_simple_prompt".to_string()));
    let prompt = get_prompt(&client, "swap_prompt", json!({"topic": "paint"}))
        .await
        .unwrap();
    // (No database here: the caller maps to no store, and says so.)
    assert_eq!(
        prompt["messages"][0]["content"]["text"],
        "As nobody, tell me about paint."
    );
    // The host checks arguments against the declaration first.
    let missing = get_prompt(&client, "swap_prompt", json!({}))
        .await
        .unwrap_err();
    assert!(missing.contains("`topic`"), "{missing}");
    let unknown = get_prompt(&client, "no_such_prompt", json!({}))
        .await
        .unwrap_err();
    assert!(unknown.contains("unknown prompt"), "{unknown}");

    // Resources and templates.
    let text = read(&client, "test://static-text").await.unwrap();
    assert!(
        json_of(&text[0])["text"]
            .as_str()
            .unwrap()
            .contains("static text")
    );
    let templated = read(&client, "test://template/4711/data").await.unwrap();
    assert!(
        json_of(&templated[0])["text"]
            .as_str()
            .unwrap()
            .contains("4711")
    );
    let missing = read(&client, "test://nothing-here").await.unwrap_err();
    assert!(missing.contains("no resource"), "{missing}");

    // Completions: from the prompt's component, filtered by what was typed.
    let completion = client
        .service
        .complete(CompleteRequestParams::new(
            Reference::for_prompt("swap_prompt"),
            ArgumentInfo::new("topic", "p"),
        ))
        .await
        .unwrap();
    assert_eq!(
        completion.completion.values,
        ["paint", "power tools", "plumbing"]
    );
    server.stop().await;
}

#[tokio::test]
async fn a_prompt_only_component_is_announced_when_it_comes_and_goes() {
    let server = TestServer::start(&["get_current_utc_date"]).await;
    let mut client = server.client(HEAD_OFFICE).await;
    server.install("prompts_only", "prompts.wasm");
    client
        .next_heard(|h| *h == Heard::PromptsChanged, "prompts/list_changed")
        .await;
    let prompts = client.service.list_all_prompts().await.unwrap();
    assert_eq!(prompts.len(), 1);
    assert_eq!(prompts[0].name, "swap_prompt");
    // Only the list that changed is announced.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!client.heard_so_far().contains(&Heard::ToolsChanged));

    server.remove("prompts.wasm");
    client
        .next_heard(|h| *h == Heard::PromptsChanged, "prompts/list_changed")
        .await;
    assert!(client.service.list_all_prompts().await.unwrap().is_empty());
    server.stop().await;
}

#[tokio::test]
async fn log_and_progress_notifications_reach_only_the_calling_session() {
    let server = TestServer::start(&["conformance"]).await;
    let mut caller = server.client(HEAD_OFFICE).await;
    let mut same_principal = server.client(HEAD_OFFICE).await;
    let mut other = server.client(SEATTLE).await;
    set_level(&caller, "debug").await;

    let logged = caller.call("test_tool_with_logging", json!({})).await;
    assert!(!is_error(&logged));
    let mut request = CallToolRequestParams::new("test_tool_with_progress");
    let mut meta = RequestMetaObject::default();
    meta.set_progress_token(ProgressToken(rmcp::model::NumberOrString::String(
        "p-1".into(),
    )));
    // rmcp's client replaces the token with one of its own; either way the
    // progress must carry the one the request arrived with.
    request.meta = Some(meta);
    let progressed = caller.service.call_tool(request).await.unwrap();
    assert!(!is_error(&progressed));

    let mut logs = Vec::new();
    for _ in 0..3 {
        logs.push(
            caller
                .next_heard(|h| matches!(h, Heard::Log(..)), "a notifications/message")
                .await,
        );
    }
    assert_eq!(
        logs[0],
        Heard::Log(json!("Tool execution started"), "info".into())
    );
    let mut progress = Vec::new();
    let mut tokens = std::collections::BTreeSet::new();
    for _ in 0..3 {
        match caller
            .next_heard(
                |h| matches!(h, Heard::Progress(..)),
                "a notifications/progress",
            )
            .await
        {
            Heard::Progress(token, value, total) => {
                assert_eq!(total, Some(100.0));
                tokens.insert(token);
                progress.push(value);
            }
            _ => unreachable!(),
        }
    }
    assert_eq!(progress, [0.0, 50.0, 100.0]);
    assert_eq!(tokens.len(), 1, "one call, one token: {tokens:?}");

    // A session that asked for errors only hears none of the info lines.
    set_level(&same_principal, "error").await;
    assert!(!is_error(
        &same_principal
            .call("test_tool_with_logging", json!({}))
            .await
    ));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let quiet = |heard: Vec<Heard>| {
        !heard
            .iter()
            .any(|h| matches!(h, Heard::Log(..) | Heard::Progress(..)))
    };
    assert!(quiet(same_principal.heard_so_far()));
    assert!(quiet(other.heard_so_far()));
    server.stop().await;
}

#[tokio::test]
#[allow(deprecated)] // `subscribe`: rmcp calls it legacy; 2025-11-25 sessions use it
async fn a_subscribed_resource_is_announced_when_its_component_goes() {
    let server = TestServer::start(&["conformance"]).await;
    let mut client = server.client(HEAD_OFFICE).await;
    client
        .service
        .subscribe(SubscribeRequestParams::new("test://watched-resource"))
        .await
        .unwrap();
    let unknown = client
        .service
        .subscribe(SubscribeRequestParams::new("test://not-served"))
        .await
        .unwrap_err();
    assert!(
        unknown.to_string().contains("no such resource"),
        "{unknown}"
    );
    server.remove("conformance.wasm");
    // The list changes first, then each followed resource is updated.
    client
        .next_heard(|h| *h == Heard::ResourcesChanged, "resources/list_changed")
        .await;
    let heard = client
        .next_heard(
            |h| matches!(h, Heard::ResourceUpdated(_)),
            "resources/updated",
        )
        .await;
    assert_eq!(
        heard,
        Heard::ResourceUpdated("test://watched-resource".into())
    );
    server.stop().await;
}

#[tokio::test]
async fn prompt_names_and_resource_uris_are_unique_across_components() {
    let server = TestServer::start(&["prompts_only"]).await;
    server.install("prompts_only", "again.wasm");
    server.install("conformance", "conformance.wasm");
    server.install("conformance", "conformance_copy.wasm");
    let client = server.client(HEAD_OFFICE).await;
    wait_until(Duration::from_secs(30), || {
        server
            .tool_names()
            .contains(&"test_simple_text".to_string())
    })
    .await
    .expect("the conformance fixture loads");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let prompts = server.prompt_names();
    assert_eq!(
        prompts.iter().filter(|p| *p == "swap_prompt").count(),
        1,
        "{prompts:?}"
    );
    let resources = client.service.list_all_resources().await.unwrap();
    let watched = resources
        .iter()
        .filter(|r| r.uri == "test://watched-resource")
        .count();
    assert_eq!(watched, 1);
    server.stop().await;
}

#[tokio::test]
async fn prompts_resources_and_completions_are_limited_metered_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let audit_flag = audit.display().to_string();
    let server = TestServer::start_with(
        &["conformance", "prompts_only"],
        &["--audit-log", &audit_flag, "--identity-rate", "3/1h"],
    )
    .await;
    let client = server.client(HEAD_OFFICE).await;
    get_prompt(&client, "swap_prompt", json!({"topic": "paint"}))
        .await
        .unwrap();
    read(&client, "test://template/9/data").await.unwrap();
    client
        .service
        .complete(CompleteRequestParams::new(
            Reference::for_resource("test://template/{id}/data"),
            ArgumentInfo::new("id", "1"),
        ))
        .await
        .unwrap();
    // The caller's rate covers these requests like tool calls.
    let refused = get_prompt(&client, "swap_prompt", json!({"topic": "x"}))
        .await
        .unwrap_err();
    assert!(
        refused.contains("rate") || refused.contains("limit"),
        "{refused}"
    );

    let text = reqwest::get(format!("{}/metrics", server.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for series in [
        r#"mcp_component_requests_total{method="prompts/get",name="swap_prompt",outcome="ok"} 1"#,
        r#"mcp_component_requests_total{method="resources/read",name="test://template/{id}/data",outcome="ok"} 1"#,
        r#"mcp_component_requests_total{method="completion/complete",name="test://template/{id}/data",outcome="ok"} 1"#,
        r#"mcp_component_requests_total{method="prompts/get",name="swap_prompt",outcome="rate_limited"} 1"#,
    ] {
        assert!(text.contains(series), "{series} missing:\n{text}");
    }

    let mut lines: Vec<Value> = Vec::new();
    for _ in 0..100 {
        lines = std::fs::read_to_string(&audit)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        if lines.len() >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seen: Vec<(String, String, String)> = lines
        .iter()
        .map(|l| {
            (
                l["method"].as_str().unwrap().to_string(),
                l["tool"].as_str().unwrap().to_string(),
                l["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = |m: &str, t: &str, o: &str| (m.to_string(), t.to_string(), o.to_string());
    assert_eq!(
        seen,
        [
            expected("prompts/get", "swap_prompt", "ok"),
            expected("resources/read", "test://template/9/data", "ok"),
            expected("completion/complete", "test://template/{id}/data", "ok"),
            expected("prompts/get", "swap_prompt", "rate_limited"),
        ]
    );
    assert!(lines.iter().all(|l| l["event"] == "component_request"));
    assert!(
        lines[0]["component"]
            .as_str()
            .unwrap()
            .ends_with("prompts_only.wasm")
    );
    server.stop().await;
}

/// Raw JSON-RPC over HTTP, as an attacker sends it.
async fn raw(url: &str, headers: &[(&str, &str)], body: Value) -> (u16, String) {
    mcp_host::embeddings::remote::tls_init();
    let mut request = reqwest::Client::new()
        .post(url)
        .header("x-rls-user-id", HEAD_OFFICE)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.body(body.to_string()).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn invented_session_ids_and_oversized_uris_buy_nothing() {
    let server = TestServer::start(&["conformance"]).await;
    let meta = |revision: &str| {
        json!({
            "io.modelcontextprotocol/protocolVersion": revision,
            "io.modelcontextprotocol/clientCapabilities": {}
        })
    };
    // A handshake-era revision in `_meta` beside an invented session id: rmcp
    // would serve it statelessly, outside the session it names. Refused.
    let (status, body) = raw(
        &server.url,
        &[
            ("mcp-session-id", "invented-1"),
            ("mcp-protocol-version", "2025-11-25"),
        ],
        json!({"jsonrpc":"2.0","id":1,"method":"resources/subscribe",
               "params":{"uri":"test://watched-resource","_meta": meta("2025-11-25")}}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("-32022"), "{body}");
    // A 2026-07-28 request with an invented session id is stateless:
    // nothing is remembered for that id (there is no session to hold it).
    for (method, params) in [
        ("logging/setLevel", json!({"level": "debug"})),
        (
            "resources/subscribe",
            json!({"uri": "test://watched-resource"}),
        ),
    ] {
        let mut params = params;
        params["_meta"] = meta("2026-07-28");
        let (status, body) = raw(
            &server.url,
            &[
                ("mcp-session-id", "invented-2"),
                ("mcp-protocol-version", "2026-07-28"),
                ("mcp-method", method),
            ],
            json!({"jsonrpc":"2.0","id":2,"method":method,"params":params}),
        )
        .await;
        assert!(body.contains("\"error\""), "{method}: {status} {body}");
    }
    // In a real session: a URI past the cap is refused before any lookup,
    // and the error does not echo it whole.
    let client = server.client(HEAD_OFFICE).await;
    let huge = format!("test://template/{}/data", "9".repeat(100_000));
    let refused = read(&client, &huge).await.unwrap_err();
    assert!(
        refused.contains("at most 2048 bytes"),
        "{}",
        &refused[..200.min(refused.len())]
    );
    assert!(refused.len() < 1000, "{} bytes", refused.len());
    server.stop().await;
}
