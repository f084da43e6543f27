//! The audit trail: one JSON line per tool call with every field the
//! operator needs, and no token, secret or SQL literal anywhere in it.

use crate::support;

use serde_json::{Value, json};
use support::entra::{self, FakeEntra};
use support::pg::TestDb;
use support::{McpClient, SEATTLE, TestServer, is_error, text_of};

async fn lines(path: &std::path::Path, at_least: usize) -> Vec<Value> {
    for _ in 0..100 {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("each audit line is JSON"))
            .collect();
        if lines.len() >= at_least {
            return lines;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("fewer than {at_least} audit lines in {}", path.display());
}

#[tokio::test]
async fn every_call_leaves_one_complete_line_without_secrets() {
    let fake = FakeEntra::start().await;
    let db = TestDb::fresh().await;
    let log_dir = tempfile::tempdir().unwrap();
    let log = log_dir.path().join("audit.jsonl");
    let mut flags = fake.serve_flags();
    flags.extend(db.serve_flags());
    flags.extend(["--audit-log".into(), log.display().to_string()]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let server = TestServer::start_with(&["sales_sql"], &flags).await;
    let token = entra::token(&entra::claims(&fake.authority, SEATTLE));
    let client = McpClient::try_connect(
        &server.url,
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await
    .unwrap();

    let literal = "Zelda-Quokka-7731";
    let ok = client
        .call(
            "execute_sales_query",
            json!({"postgresql_query": format!(
                "SELECT order_id, store_id FROM retail.orders /* {literal} */ \
                 WHERE store_id > 0 AND customer_id::text <> '{literal}' ORDER BY 1 LIMIT 7"
            )}),
        )
        .await;
    assert!(!is_error(&ok), "{}", text_of(&ok));
    let failed = client
        .call(
            "execute_sales_query",
            json!({"postgresql_query": format!("SELECT no_such_column FROM retail.orders WHERE note = '{literal}'")}),
        )
        .await;
    assert!(is_error(&failed));

    let lines = lines(&log, 2).await;
    assert_eq!(lines.len(), 2, "one line per call: {lines:#?}");
    let first = &lines[0];
    for field in [
        "ts",
        "principal",
        "subject",
        "scope",
        "tool",
        "component",
        "component_sha256",
        "outcome",
        "duration_ms",
        "rows",
        "truncated",
        "queries",
    ] {
        assert!(
            first.get(field).is_some_and(|v| !v.is_null()),
            "{field} in {first}"
        );
    }
    assert_eq!(first["subject"], SEATTLE);
    assert_eq!(first["scope"], "store:1");
    assert!(first["principal"].as_str().unwrap().starts_with("entra:"));
    assert_eq!(first["tool"], "execute_sales_query");
    assert_eq!(first["component"], "sales_sql.wasm");
    assert_eq!(first["component_sha256"].as_str().unwrap().len(), 64);
    assert_eq!(first["outcome"], "ok");
    assert_eq!(first["rows"], 7);
    assert_eq!(first["truncated"], false);
    let query = &first["queries"][0];
    assert_eq!(query["outcome"], "ok");
    assert_eq!(query["rows"], 7);
    assert_eq!(query["fingerprint"].as_str().unwrap().len(), 16);
    let sql = query["sql"].as_str().unwrap();
    assert!(sql.contains("FROM retail.orders"), "{sql}");
    assert!(sql.contains("store_id > $"), "{sql}");

    let second = &lines[1];
    assert_eq!(second["outcome"], "tool_error");
    assert_eq!(second["queries"][0]["outcome"], "failed");

    let raw = std::fs::read_to_string(&log).unwrap();
    let secrets = [
        literal.to_string(),
        token.clone(),
        token.split('.').nth(2).unwrap().to_string(),
        db.secret().to_string(),
    ];
    for secret in &secrets {
        assert!(
            !raw.contains(secret.as_str()),
            "a secret is in the audit log: {raw}"
        );
    }
    server.stop().await;
    fake.stop();
}
