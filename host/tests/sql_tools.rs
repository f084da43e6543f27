//! The SQL tools through the MCP endpoint against a real PostgreSQL: store
//! isolation, the schema tool, many concurrent callers, and a dead database.

use crate::support;

use std::collections::HashMap;

use serde_json::{Value, json};
use support::pg::{TestDb, stores};
use support::{HEAD_OFFICE, TestServer, is_error, text_of};

const UNKNOWN: &str = "11111111-2222-3333-4444-555555555555";

async fn server(db: &TestDb) -> TestServer {
    let flags = db.serve_flags();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    TestServer::start_with(&["sales_sql", "get_current_utc_date"], &flags).await
}

fn structured(result: &rmcp::model::CallToolResult) -> Value {
    assert!(!is_error(result), "tool error: {}", text_of(result));
    result
        .structured_content
        .clone()
        .expect("structuredContent")
}

/// Counts per store as the superuser sees them (the truth).
async fn truth(db: &TestDb, sql: &str) -> HashMap<i32, i64> {
    let admin = db.admin().await;
    admin
        .query(sql, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get::<_, i32>(0), r.get::<_, i64>(1)))
        .collect()
}

async fn count(client: &support::McpClient, table: &str) -> i64 {
    let result = client
        .call(
            "execute_sales_query",
            json!({ "postgresql_query": format!("SELECT count(*) AS n FROM retail.{table}") }),
        )
        .await;
    structured(&result)["rows"][0][0].as_i64().unwrap()
}

#[tokio::test]
async fn each_store_manager_sees_exactly_their_store() {
    let db = TestDb::fresh().await;
    let server = server(&db).await;
    let orders = truth(
        &db,
        "SELECT store_id, count(*) FROM retail.orders GROUP BY 1",
    )
    .await;
    let items = truth(
        &db,
        "SELECT store_id, count(*) FROM retail.order_items GROUP BY 1",
    )
    .await;
    let inventory = truth(
        &db,
        "SELECT store_id, count(*) FROM retail.inventory GROUP BY 1",
    )
    .await;
    let customers = truth(
        &db,
        "SELECT s.store_id, count(*) FROM retail.stores s JOIN retail.customers c ON c.primary_store_id = s.store_id
            OR EXISTS (SELECT 1 FROM retail.orders o WHERE o.customer_id = c.customer_id AND o.store_id = s.store_id)
         GROUP BY 1",
    )
    .await;
    for (store_id, name, manager) in stores() {
        let client = server.client(manager).await;
        assert!(orders[&store_id] > 0, "{name} has orders in the test data");
        assert_eq!(
            count(&client, "orders").await,
            orders[&store_id],
            "{name} orders"
        );
        assert_eq!(
            count(&client, "order_items").await,
            items[&store_id],
            "{name} items"
        );
        assert_eq!(
            count(&client, "inventory").await,
            inventory[&store_id],
            "{name} inventory"
        );
        assert_eq!(
            count(&client, "customers").await,
            customers[&store_id],
            "{name} customers"
        );
        // Every row it can see is its own store's.
        let result = client
            .call(
                "execute_sales_query",
                json!({ "postgresql_query": "SELECT DISTINCT store_id FROM retail.order_items" }),
            )
            .await;
        assert_eq!(structured(&result)["rows"], json!([[store_id]]), "{name}");
        // Shared tables are whole.
        assert_eq!(count(&client, "stores").await, 8);
        assert!(count(&client, "products").await >= 390);
    }
    let head_office = server.client(HEAD_OFFICE).await;
    assert_eq!(
        count(&head_office, "orders").await,
        orders.values().sum::<i64>()
    );
    assert_eq!(
        count(&head_office, "order_items").await,
        items.values().sum::<i64>()
    );

    let unknown = server.client(UNKNOWN).await;
    for table in ["orders", "order_items", "inventory", "customers"] {
        assert_eq!(
            count(&unknown, table).await,
            0,
            "unknown id sees no {table}"
        );
    }
    assert_eq!(
        count(&unknown, "products").await,
        count(&head_office, "products").await
    );
    server.stop().await;
}

#[tokio::test]
async fn a_request_without_identity_is_refused() {
    let db = TestDb::fresh().await;
    let server = server(&db).await;
    let response = reqwest::Client::new()
        .post(&server.url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"execute_sales_query","arguments":{"postgresql_query":"SELECT count(*) FROM retail.orders"}}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    server.stop().await;
}

#[tokio::test]
async fn query_results_are_typed_capped_and_errors_are_clear() {
    let db = TestDb::fresh().await;
    let server = server(&db).await;
    let client = server.client(HEAD_OFFICE).await;
    let result = client
        .call(
            "execute_sales_query",
            json!({ "postgresql_query": "SELECT s.store_name, s.is_online, SUM(oi.total_amount) AS revenue,
                       min(o.order_date) AS first_day, count(*)::int AS lines, avg(oi.quantity)::float8 AS avg_qty
                   FROM retail.order_items oi JOIN retail.orders o ON o.order_id = oi.order_id
                   JOIN retail.stores s ON s.store_id = oi.store_id
                   GROUP BY 1, 2 ORDER BY revenue DESC" }),
        )
        .await;
    let value = structured(&result);
    assert_eq!(
        value["column_types"],
        json!(["text", "bool", "numeric", "date", "int4", "float8"])
    );
    assert_eq!(value["row_count"], 8);
    assert_eq!(value["truncated"], false);
    let first = &value["rows"][0];
    assert!(first[0].as_str().unwrap().starts_with("Zava Retail"));
    assert!(
        first[2].as_str().unwrap().contains('.'),
        "numeric is exact text"
    );
    assert!(first[3].as_str().unwrap().starts_with("2020-"));
    let text: Value = serde_json::from_str(&text_of(&result)).expect("text is JSON");
    assert_eq!(
        text["columns"], value["columns"],
        "text carries the same result"
    );
    assert_eq!(text["rows"][0][2], value["rows"][0][2]);

    // Row cap.
    let result = client
        .call(
            "execute_sales_query",
            json!({ "postgresql_query": "SELECT order_id FROM retail.orders ORDER BY order_id", "max_rows": 5 }),
        )
        .await;
    let value = structured(&result);
    assert_eq!(value["row_count"], 5);
    assert_eq!(value["truncated"], true);
    // Ids are a keyed permutation (seed/ids.rs): in order, but not 1..5.
    let ids: Vec<i64> = value["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[0].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 5);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");

    // A PostgreSQL error comes back as the server's message.
    let result = client
        .call(
            "execute_sales_query",
            json!({ "postgresql_query": "SELECT no_such_column FROM retail.orders" }),
        )
        .await;
    assert!(is_error(&result));
    assert!(
        text_of(&result).contains("no_such_column"),
        "{}",
        text_of(&result)
    );
    // A write is refused before it reaches the server.
    let result = client
        .call(
            "execute_sales_query",
            json!({ "postgresql_query": "DELETE FROM retail.orders" }),
        )
        .await;
    assert!(is_error(&result));
    assert!(
        text_of(&result).contains("only SELECT"),
        "{}",
        text_of(&result)
    );
    // An answer that escaping makes several times larger than its rows
    // (1.5 MB of control characters is 9 MB of JSON, twice) has a budget.
    let result = client
        .call(
            "execute_sales_query",
            json!({ "postgresql_query": "SELECT string_agg(chr(1), '') AS x FROM generate_series(1, 1500000)" }),
        )
        .await;
    assert!(is_error(&result));
    assert!(
        text_of(&result).contains("more than this server's limit"),
        "{}",
        text_of(&result)
    );
    // Types the server cannot return say how to cast.
    let result = client
        .call(
            "execute_sales_query",
            json!({ "postgresql_query": "SELECT int4range(1, 5) AS p" }),
        )
        .await;
    assert!(text_of(&result).contains("::text"), "{}", text_of(&result));
    server.stop().await;
}

#[tokio::test]
async fn schemas_show_keys_and_the_values_the_caller_may_see() {
    let db = TestDb::fresh().await;
    let server = server(&db).await;
    let (seattle_id, _, seattle) = stores()[0];
    let manager = server.client(seattle).await;
    let result = manager
        .call(
            "get_multiple_table_schemas",
            json!({ "table_names": ["retail.orders", "stores", "retail.order_items", "categories"] }),
        )
        .await;
    let value = structured(&result);
    assert!(
        value["caller_scope"]
            .as_str()
            .unwrap()
            .contains(&format!("store_id {seattle_id}"))
    );
    let tables = value["tables"].as_array().unwrap();
    let table = |name: &str| tables.iter().find(|t| t["table"] == name).unwrap().clone();
    let orders = table("retail.orders");
    let columns: Vec<&str> = orders["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        columns,
        ["order_id", "customer_id", "store_id", "order_date"]
    );
    // Partitioned by store (migration 0008): the key includes store_id.
    assert_eq!(orders["primary_key"], "PRIMARY KEY (order_id, store_id)");
    let fks = orders["foreign_keys"].to_string();
    assert!(
        fks.contains("REFERENCES customers(customer_id)")
            || fks.contains("REFERENCES retail.customers(customer_id)"),
        "{fks}"
    );
    assert_eq!(orders["valid_values"]["store_ids"], json!([seattle_id]));
    let years: Vec<i64> = orders["valid_values"]["order_years"]
        .as_array()
        .unwrap()
        .iter()
        .map(|y| y["year"].as_i64().unwrap())
        .collect();
    assert_eq!(years, (2020..=2026).collect::<Vec<_>>());
    let truth = truth(
        &db,
        "SELECT store_id, count(*) FROM retail.orders GROUP BY 1",
    )
    .await;
    assert_eq!(orders["visible_rows"], truth[&seattle_id]);
    assert!(
        table("retail.order_items")["referenced_by"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        !table("retail.stores")["referenced_by"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        table("retail.stores")["valid_values"]
            .as_array()
            .unwrap()
            .len(),
        8
    );
    assert_eq!(
        table("retail.categories")["valid_values"]
            .as_array()
            .unwrap()
            .len(),
        9
    );

    let head_office = server.client(HEAD_OFFICE).await;
    let value = structured(
        &head_office
            .call(
                "get_multiple_table_schemas",
                json!({ "table_names": ["orders"] }),
            )
            .await,
    );
    assert_eq!(
        value["tables"][0]["visible_rows"],
        truth.values().sum::<i64>()
    );
    assert_eq!(
        value["tables"][0]["valid_values"]["store_ids"],
        json!([1, 2, 3, 4, 5, 6, 7, 8])
    );
    let unknown = head_office
        .call(
            "get_multiple_table_schemas",
            json!({ "table_names": ["retail.payroll"] }),
        )
        .await;
    assert!(is_error(&unknown));
    assert!(
        text_of(&unknown).contains("retail.orders"),
        "lists the real tables"
    );
    server.stop().await;
}

#[tokio::test]
async fn thirty_two_concurrent_sessions_never_see_a_foreign_row() {
    let db = TestDb::fresh().await;
    let server = server(&db).await;
    let truth = truth(
        &db,
        "SELECT store_id, count(*) FROM retail.orders GROUP BY 1",
    )
    .await;
    let mut identities: Vec<(String, Option<i32>)> = stores()
        .into_iter()
        .map(|(id, _, manager)| (manager.to_string(), Some(id)))
        .collect();
    identities.push((HEAD_OFFICE.to_string(), None));
    identities.push((UNKNOWN.to_string(), Some(-1)));
    let calls_per_session = 100;
    let mut tasks = Vec::new();
    for session in 0..32 {
        let (user, store) = identities[(session * 7 + session / 3) % identities.len()].clone();
        let url = server.url.clone();
        let truth = truth.clone();
        tasks.push(tokio::spawn(async move {
            let client = support::McpClient::connect(&url, &user).await;
            let mut foreign = 0;
            for call in 0..calls_per_session {
                // Alternate an aggregate and a row-level read.
                let sql = if call % 2 == 0 {
                    "SELECT store_id, count(*) AS n FROM retail.orders GROUP BY store_id ORDER BY 1"
                } else {
                    "SELECT oi.store_id, o.store_id AS order_store FROM retail.order_items oi JOIN retail.orders o USING (order_id) ORDER BY random() LIMIT 20"
                };
                let result = client
                    .call("execute_sales_query", json!({ "postgresql_query": sql }))
                    .await;
                assert!(!is_error(&result), "{}", text_of(&result));
                let value = result.structured_content.unwrap();
                for row in value["rows"].as_array().unwrap() {
                    let first = row[0].as_i64().unwrap() as i32;
                    let second = row[1].as_i64().unwrap();
                    match store {
                        // Head office: every store, with true counts.
                        None if call % 2 == 0 => assert_eq!(second, truth[&first]),
                        None => {}
                        Some(own) => {
                            let stores_seen = if call % 2 == 0 {
                                vec![first]
                            } else {
                                vec![first, second as i32]
                            };
                            foreign += stores_seen.iter().filter(|s| **s != own).count();
                            if call % 2 == 0 && first == own {
                                assert_eq!(second, truth[&own]);
                            }
                        }
                    }
                }
                if store == Some(-1) {
                    assert_eq!(value["row_count"], 0);
                }
            }
            foreign
        }));
    }
    let mut foreign = 0;
    for task in tasks {
        foreign += task.await.unwrap();
    }
    assert_eq!(foreign, 0, "rows of another store were seen");
    server.stop().await;
}

#[tokio::test]
async fn a_dead_database_is_a_clear_tool_error_and_the_host_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "host={} port=5432 user=zava_query dbname=nowhere connect_timeout=2",
        dir.path().display()
    );
    let server = TestServer::start_with(
        &["sales_sql", "get_current_utc_date"],
        &[
            "--query-database-url",
            &url,
            "--rls-secret",
            &"s".repeat(64),
        ],
    )
    .await;
    let client = server.client(HEAD_OFFICE).await;
    let result = client
        .call(
            "execute_sales_query",
            json!({ "postgresql_query": "SELECT 1" }),
        )
        .await;
    assert!(is_error(&result));
    assert!(
        text_of(&result).contains("database is unavailable"),
        "{}",
        text_of(&result)
    );
    let now = client.call("get_current_utc_date", json!({})).await;
    assert!(!is_error(&now));
    server.stop().await;
}
