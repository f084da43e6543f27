//! `semantic_search_products` through MCP with the local model, and the
//! `embed` command, against a real PostgreSQL with pgvector.

use crate::support;

use std::sync::Arc;

use async_trait::async_trait;
use mcp_host::embeddings::product_index::embed_products;
use mcp_host::embeddings::{EmbedError, Embeddings, ModelInfo, Provider};
use serde_json::{Value, json};
use support::pg::{TestDb, stores};
use support::{HEAD_OFFICE, TestServer, is_error, text_of};

async fn server(db: &TestDb) -> TestServer {
    let flags = db.serve_flags();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    TestServer::start_with(&["semantic_search"], &flags).await
}

async fn search(client: &support::McpClient, arguments: Value) -> Vec<Value> {
    let result = client.call("semantic_search_products", arguments).await;
    assert!(!is_error(&result), "{}", text_of(&result));
    let structured = result.structured_content.expect("structuredContent");
    assert_eq!(structured["model"], "all-MiniLM-L6-v2");
    structured["results"].as_array().unwrap().clone()
}

fn categories(results: &[Value]) -> Vec<&str> {
    results
        .iter()
        .map(|r| r["category"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn requests_rank_the_right_category_first() {
    let db = TestDb::fresh().await;
    let server = server(&db).await;
    let client = server.client(HEAD_OFFICE).await;

    let connectors = search(
        &client,
        json!({ "query_description": "waterproof electrical connectors" }),
    )
    .await;
    assert!(!connectors.is_empty());
    assert_eq!(connectors[0]["category"], "Electrical", "{connectors:#?}");
    let top5 = categories(&connectors[..5.min(connectors.len())]);
    assert!(
        top5.iter().filter(|c| **c == "Electrical").count() >= 4,
        "{top5:?}"
    );
    assert!(connectors.len() <= 20);
    // Similarity is the classic sample's percent, best first, above the threshold.
    let similarity: Vec<f64> = connectors
        .iter()
        .map(|r| r["similarity"].as_f64().unwrap())
        .collect();
    assert!(
        similarity.windows(2).all(|w| w[0] >= w[1]),
        "{similarity:?}"
    );
    assert!(similarity.iter().all(|s| (30.0..=100.0).contains(s)));

    let drills = search(&client, json!({ "query_description": "cordless drill" })).await;
    assert_eq!(drills[0]["category"], "Power Tools", "{drills:#?}");
    assert!(
        drills[0]["product_name"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("drill")
    );

    let result = client
        .call(
            "semantic_search_products",
            json!({ "query_description": "" }),
        )
        .await;
    assert!(is_error(&result));
    assert!(text_of(&result).contains("query_description"));
    server.stop().await;
}

#[tokio::test]
async fn a_selective_filter_still_fills_max_rows() {
    let db = TestDb::fresh().await;
    let server = server(&db).await;
    let client = server.client(HEAD_OFFICE).await;
    // Plumbing is 1/9 of the catalogue and far from this request's meaning.
    let results = search(
        &client,
        json!({ "query_description": "waterproof electrical connectors", "category": "Plumbing",
                "similarity_threshold": 0, "max_rows": 20 }),
    )
    .await;
    assert_eq!(results.len(), 20);
    assert!(categories(&results).iter().all(|c| *c == "Plumbing"));
    let priced = search(
        &client,
        json!({ "query_description": "cordless drill", "min_price": 100, "max_price": 200,
                "similarity_threshold": 0 }),
    )
    .await;
    assert!(!priced.is_empty());
    for r in &priced {
        let price: f64 = r["base_price"].as_str().unwrap().parse().unwrap();
        assert!((100.0..=200.0).contains(&price), "{r}");
    }
    server.stop().await;
}

#[tokio::test]
async fn in_stock_means_at_a_store_the_caller_may_see() {
    let db = TestDb::fresh().await;
    let admin = db.admin().await;
    let (seattle_id, _, seattle) = stores()[0];
    // The best matches run out at Seattle (and only there).
    let server = server(&db).await;
    let head_office = server.client(HEAD_OFFICE).await;
    let query = json!({ "query_description": "waterproof electrical connectors", "max_rows": 5 });
    let top: Vec<i32> = search(&head_office, query.clone())
        .await
        .iter()
        .map(|r| r["product_id"].as_i64().unwrap() as i32)
        .collect();
    admin
        .execute(
            "UPDATE retail.inventory SET stock_level = CASE WHEN store_id = $1 THEN 0 ELSE 25 END
             WHERE product_id = ANY($2)",
            &[&seattle_id, &top],
        )
        .await
        .unwrap();

    let manager = server.client(seattle).await;
    let mut in_stock = query.clone();
    in_stock["in_stock"] = json!(true);
    in_stock["max_rows"] = json!(20);
    let seen = search(&manager, in_stock.clone()).await;
    assert!(!seen.is_empty());
    for r in &seen {
        let id = r["product_id"].as_i64().unwrap() as i32;
        assert!(!top.contains(&id), "{id} is out of stock at Seattle");
        let stock: i32 = admin
            .query_one(
                "SELECT stock_level FROM retail.inventory WHERE store_id = $1 AND product_id = $2",
                &[&seattle_id, &id],
            )
            .await
            .unwrap()
            .get(0);
        assert!(stock > 0, "{id} has no stock at Seattle");
    }
    // Without the filter Seattle still finds them; head office, who sees
    // every store's stock, finds them in stock elsewhere.
    let unfiltered = search(&manager, query.clone()).await;
    assert_eq!(unfiltered[0]["product_id"], json!(top[0]));
    let everywhere = search(&head_office, in_stock).await;
    assert_eq!(everywhere[0]["product_id"], json!(top[0]));
    server.stop().await;
}

#[tokio::test]
async fn hybrid_mode_puts_exact_words_first() {
    let db = TestDb::fresh().await;
    let admin = db.admin().await;
    let row = admin
        .query_one(
            "SELECT product_name, sku FROM retail.products WHERE product_name ILIKE '%hammer%' ORDER BY product_id LIMIT 1",
            &[],
        )
        .await
        .unwrap();
    let name: String = row.get(0);
    let server = server(&db).await;
    let client = server.client(HEAD_OFFICE).await;
    let results = search(
        &client,
        json!({ "query_description": name, "mode": "hybrid" }),
    )
    .await;
    assert_eq!(results[0]["product_name"], json!(name), "{results:#?}");
    assert!(results[0]["fused_score"].as_f64().unwrap() > 0.0);
    server.stop().await;
}

/// A provider whose vectors are a deterministic function of the text.
struct Hashing;

#[async_trait]
impl Provider for Hashing {
    fn describe(&self) -> String {
        "hashing".into()
    }
    async fn model(&self) -> Result<ModelInfo, EmbedError> {
        Ok(ModelInfo {
            name: "hashing-8".into(),
            dimensions: 8,
        })
    }
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(texts
            .iter()
            .map(|t| {
                (0..8)
                    .map(|i| ((t.len() * (i + 3)) % 17) as f32 + 1.0)
                    .collect()
            })
            .collect())
    }
}

#[tokio::test]
async fn embedding_is_idempotent_resumable_and_never_mixes_models() {
    let db = TestDb::fresh().await;
    let admin = db.admin().await;
    let local = support::pg::local_embeddings();
    // The template was embedded: nothing to do.
    let report = embed_products(&admin, &local, 32, false).await.unwrap();
    assert_eq!((report.embedded, report.already), (0, 405));
    // Interrupted half-way (some rows missing): only those are embedded.
    admin
        .execute(
            "DELETE FROM retail.product_description_embeddings WHERE product_id % 10 = 0",
            &[],
        )
        .await
        .unwrap();
    let report = embed_products(&admin, &local, 32, false).await.unwrap();
    assert_eq!((report.embedded, report.already), (40, 365));
    // Another model replaces every vector, retypes the column and keeps one model.
    let hashing = Embeddings::new(Arc::new(Hashing), 0);
    let report = embed_products(&admin, &hashing, 100, false).await.unwrap();
    assert_eq!(report.replaced_model.as_deref(), Some("all-MiniLM-L6-v2"));
    assert_eq!(report.embedded, 405);
    let row = admin
        .query_one(
            "SELECT (SELECT count(DISTINCT model) FROM retail.product_description_embeddings),
                    (SELECT model FROM retail.embedding_model),
                    format_type(atttypid, atttypmod)
             FROM pg_attribute WHERE attrelid = 'retail.product_description_embeddings'::regclass
               AND attname = 'description_embedding'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 1);
    assert_eq!(row.get::<_, String>(1), "hashing-8");
    assert_eq!(row.get::<_, String>(2), "vector(8)");
    // A row of another model cannot be written next to it.
    let mixed = admin
        .execute(
            "INSERT INTO retail.product_description_embeddings (product_id, model, description_embedding)
             VALUES (1, 'other-model', '[1,2,3,4,5,6,7,8]')
             ON CONFLICT (product_id) DO UPDATE SET model = excluded.model",
            &[],
        )
        .await;
    assert!(mixed.is_err(), "a second model was accepted");
}

/// A loopback Azure OpenAI: checks the deployment path, api-version and key,
/// answers with deterministic 16-dimensional vectors, counts requests.
async fn fake_azure(key: &'static str) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use axum::extract::{Query, State};
    use axum::http::{HeaderMap, StatusCode};
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let hits = Arc::new(AtomicUsize::new(0));
    async fn embeddings(
        State((key, hits)): State<(&'static str, Arc<AtomicUsize>)>,
        Query(query): Query<HashMap<String, String>>,
        headers: HeaderMap,
        axum::Json(body): axum::Json<Value>,
    ) -> Result<axum::Json<Value>, StatusCode> {
        hits.fetch_add(1, Ordering::SeqCst);
        if query.get("api-version").map(String::as_str) != Some("2024-02-01") {
            return Err(StatusCode::BAD_REQUEST);
        }
        if headers.get("api-key").and_then(|v| v.to_str().ok()) != Some(key) {
            return Err(StatusCode::UNAUTHORIZED);
        }
        let inputs = body["input"].as_array().ok_or(StatusCode::BAD_REQUEST)?;
        let data: Vec<Value> = inputs
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let text = text.as_str().unwrap_or_default();
                let v: Vec<f32> = (0..16)
                    .map(|d| {
                        (text.bytes().map(|b| b as usize * (d + 1)).sum::<usize>() % 97) as f32
                            + 1.0
                    })
                    .collect();
                json!({ "object": "embedding", "index": i, "embedding": v })
            })
            .collect();
        Ok(axum::Json(
            json!({ "object": "list", "data": data, "model": "text-embedding-3-small",
                              "usage": { "prompt_tokens": 1, "total_tokens": 1 } }),
        ))
    }
    let app = axum::Router::new()
        .route(
            "/openai/deployments/emb/embeddings",
            axum::routing::post(embeddings),
        )
        .with_state((key, hits.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, hits)
}

#[tokio::test]
async fn azure_openai_serves_the_search_and_the_component_never_sees_the_key() {
    use clap::Parser;
    use mcp_host::config::{Cli, Command};
    let key = "azure-test-key-3f9a";
    let (endpoint, hits) = fake_azure(key).await;
    let azure = [
        "--embeddings",
        "azure-openai",
        "--azure-openai-endpoint",
        &endpoint,
        "--azure-openai-deployment",
        "emb",
        "--azure-openai-api-key",
        key,
    ];
    let db = TestDb::fresh().await;
    // Re-embed the catalogue with the Azure deployment (replacing the local model's vectors).
    let mut argv = vec!["mcp-host", "embed"];
    argv.extend(azure);
    let Command::Embed(args) = Cli::parse_from(argv).command else {
        unreachable!()
    };
    let embeddings = args.embeddings.build().unwrap().unwrap();
    let report = embed_products(&db.admin().await, &embeddings, 64, false)
        .await
        .unwrap();
    assert_eq!(
        (report.model.name.as_str(), report.model.dimensions),
        ("emb", 16)
    );
    assert_eq!(report.embedded, 405);

    let mut flags = db.serve_flags();
    flags.truncate(4); // the database, not the local model
    flags.extend(azure.iter().map(|s| s.to_string()));
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let server = TestServer::start_with(&["semantic_search"], &flags).await;
    let client = server.client(HEAD_OFFICE).await;
    let before = hits.load(std::sync::atomic::Ordering::SeqCst);
    let result = client
        .call(
            "semantic_search_products",
            json!({ "query_description": "garden hose", "similarity_threshold": 0, "max_rows": 3 }),
        )
        .await;
    assert!(!is_error(&result), "{}", text_of(&result));
    let structured = result.structured_content.clone().unwrap();
    assert_eq!(structured["model"], "emb");
    assert_eq!(structured["results"].as_array().unwrap().len(), 3);
    assert!(
        hits.load(std::sync::atomic::Ordering::SeqCst) > before,
        "the query went to Azure"
    );
    assert!(!serde_json::to_string(&result).unwrap().contains(key));
    server.stop().await;
}
