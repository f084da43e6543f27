//! The operator's component policy: imports granted per component, deny by
//! default, limits narrowed per component, sha256 pinning, and edits to the
//! policy file taking effect without a restart.

use crate::support;

use serde_json::json;
use support::*;

fn sha256_of(name: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(std::fs::read(fixture(name)).unwrap()))
}

/// A host whose components folder holds `components` and `policy.toml`.
async fn with_policy(components: &[&str], policy: &str) -> TestServer {
    TestServer::start_with_files(components, &[("policy.toml", policy)], &[]).await
}

#[tokio::test]
async fn an_import_the_policy_withholds_fails_the_call_clearly() {
    let server = with_policy(
        &["sales_sql", "get_current_utc_date"],
        "[components.sales_sql]\nimports = []\n\n[components.get_current_utc_date]\n",
    )
    .await;
    let client = server.client(HEAD_OFFICE).await;
    let result = client
        .call(
            "execute_sales_query",
            json!({"postgresql_query": "SELECT 1"}),
        )
        .await;
    assert!(is_error(&result));
    let text = text_of(&result);
    assert!(
        text.contains("component policy does not grant `sales_sql.wasm` the database import"),
        "{text}"
    );
    // Components that need no import are unaffected.
    assert!(!is_error(
        &client.call("get_current_utc_date", json!({})).await
    ));

    // Granting it takes effect without a restart: the call now reaches the
    // database layer (none is configured in this test, and it says so).
    server.write_file(
        "policy.toml",
        b"[components.sales_sql]\nimports = [\"database\"]\n\n[components.get_current_utc_date]\n",
    );
    let mut last = String::new();
    for _ in 0..100 {
        let result = client
            .call(
                "execute_sales_query",
                json!({"postgresql_query": "SELECT 1"}),
            )
            .await;
        last = text_of(&result);
        if last.contains("no database is configured") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(last.contains("no database is configured"), "{last}");
    server.stop().await;
}

#[tokio::test]
async fn unlisted_components_are_refused_once_a_policy_exists() {
    let server = with_policy(
        &["get_current_utc_date", "probe_v1"],
        "[components.get_current_utc_date]\n",
    )
    .await;
    assert_eq!(server.tool_names(), vec!["get_current_utc_date"]);

    // Listing it later loads it; removing it again unloads it.
    server.write_file(
        "policy.toml",
        b"[components.get_current_utc_date]\n[components.probe_v1]\n",
    );
    eventually("probe_v1 loads once listed", || {
        server.tool_names().contains(&"probe_scope".to_string())
    })
    .await;
    server.write_file("policy.toml", b"[components.probe_v1]\n");
    eventually("get_current_utc_date is unloaded once unlisted", || {
        !server
            .tool_names()
            .contains(&"get_current_utc_date".to_string())
    })
    .await;

    // A broken edit keeps the policy in force rather than opening up.
    server.write_file("policy.toml", b"[components.probe_v1\n");
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    server.install("get_current_utc_date", "get_current_utc_date.wasm");
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert!(
        !server
            .tool_names()
            .contains(&"get_current_utc_date".to_string())
    );
    server.stop().await;
}

#[tokio::test]
async fn a_pinned_digest_refuses_other_bytes() {
    let date = sha256_of("get_current_utc_date");
    let policy = format!(
        "[components.get_current_utc_date]\nsha256 = \"{date}\"\n\n[components.probe]\nsha256 = \"{}\"\n",
        "0".repeat(64)
    );
    let server =
        TestServer::start_with_files(&["get_current_utc_date"], &[("policy.toml", &policy)], &[])
            .await;
    assert_eq!(server.tool_names(), vec!["get_current_utc_date"]);
    // `probe.wasm` is listed, but pinned to other bytes: refused.
    server.install("probe_v1", "probe.wasm");
    // Someone swaps the pinned file for other bytes: refused, and the
    // approved version keeps serving.
    server.install("probe_v1", "get_current_utc_date.wasm");
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert_eq!(server.tool_names(), vec!["get_current_utc_date"]);
    let client = server.client(HEAD_OFFICE).await;
    let result = client.call("get_current_utc_date", json!({})).await;
    assert!(!is_error(&result), "{}", text_of(&result));
    server.stop().await;
}

#[tokio::test]
async fn per_component_limits_narrow_the_host_limits() {
    let server = with_policy(
        &["hostile"],
        "[components.hostile]\ndeadline = \"1s\"\nmemory_mib = 16\n",
    )
    .await;
    let client = server.client(HEAD_OFFICE).await;
    let memory = client.call("hostile_memory", json!({})).await;
    assert!(
        text_of(&memory).contains("16 MiB memory limit"),
        "{}",
        text_of(&memory)
    );
    let looping = client.call("hostile_loop", json!({})).await;
    assert!(
        text_of(&looping).contains("1 s limit"),
        "{}",
        text_of(&looping)
    );
    server.stop().await;
}

#[tokio::test]
async fn a_policy_that_widens_the_host_limits_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("policy.toml"),
        "[components.x]\nmemory_mib = 4096\n",
    )
    .unwrap();
    let error = mcp_host::app::start(serve_args(dir.path(), &[]))
        .await
        .err()
        .expect("start refused");
    let message = format!("{error:#}");
    assert!(message.contains("--memory-limit-mib"), "{message}");
}

#[tokio::test]
async fn a_named_policy_file_that_is_missing_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere/policy.toml");
    let missing = missing.display().to_string();
    let error = mcp_host::app::start(serve_args(dir.path(), &["--policy", &missing]))
        .await
        .err()
        .expect("start refused");
    assert!(format!("{error:#}").contains("does not exist"), "{error:#}");
}
