//! Components written in Python (componentize-py) and JavaScript
//! (componentize-js) next to Rust ones: each loads, lists, answers as a
//! store manager (one store) and as head office (eight), hot-swaps, refuses
//! bad arguments, and is contained like a Rust component when it loops or
//! allocates without end.

mod javascript;
mod python;
mod scaffold;

use rmcp::model::CallToolResult;
use serde_json::Value;

use crate::support::pg::TestDb;
use std::time::{Duration, Instant};

use crate::support::{McpClient, TestServer, is_error, text_of, wait_until};

/// A caller id no store is assigned to.
const UNKNOWN: &str = "11111111-2222-3333-4444-555555555555";

/// The operator's policy as shipped (`components/policy.toml`), so a
/// component runs under the memory limit it is deployed with.
const POLICY: &str = include_str!("../../../components/policy.toml");

/// A server on `db` with `components` under the shipped policy.
async fn server_with_db(db: &TestDb, components: &[&str], extra: &[&str]) -> TestServer {
    let mut flags = db.serve_flags();
    flags.extend(extra.iter().map(|s| s.to_string()));
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    TestServer::start_with_files(components, &[("policy.toml", POLICY)], &flags).await
}

/// A successful result's `structuredContent`.
fn structured(result: &CallToolResult) -> Value {
    assert!(!is_error(result), "tool error: {}", text_of(result));
    result
        .structured_content
        .clone()
        .expect("structuredContent")
}

/// Drops `fixture` into the running server's folder and waits until its
/// `tool` is listed and `client` has been told. Compiling a big component
/// (a whole runtime inside) from cold takes seconds, more on a busy machine
/// than `next_list_changed`'s bound, hence the longer wait first.
async fn drop_in(server: &TestServer, client: &mut McpClient, fixture: &str, tool: &str) {
    assert!(!client.tool_names().await.contains(&tool.to_string()));
    let dropped = Instant::now();
    server.install(fixture, &format!("{fixture}.wasm"));
    wait_until(Duration::from_secs(240), || {
        server.tool_names().contains(&tool.to_string())
    })
    .await
    .expect("the dropped component is loaded");
    eprintln!("{tool} listed {:?} after the drop", dropped.elapsed());
    client.next_list_changed().await;
    assert!(client.tool_names().await.contains(&tool.to_string()));
}

/// Removes `fixture` from the folder: `client` is told and `tool` is gone.
async fn take_out(server: &TestServer, client: &mut McpClient, fixture: &str, tool: &str) {
    client.drain_list_changed();
    server.remove(&format!("{fixture}.wasm"));
    client.next_list_changed().await;
    assert!(!client.tool_names().await.contains(&tool.to_string()));
    assert!(!server.tool_names().contains(&tool.to_string()));
}
