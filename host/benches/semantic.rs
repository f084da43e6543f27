//! Semantic search with the local model: embedding latency, the catalogue's
//! embed time, `semantic_search_products` through MCP, and HNSW recall.
//!
//! `MCP_PG_BIN=... MCP_LOCAL_MODEL_DIR=... cargo bench -p mcp-host --bench semantic`
//! (both exported by `source target/tools/env`). Starts a private
//! PostgreSQL with a small demo data set (the catalogue is always whole).

use std::sync::Arc;
use std::time::{Duration, Instant};

use mcp_host::db::migrate;
use mcp_host::db::settings::QUERY_ROLE;
use mcp_host::embeddings::Embeddings;
use mcp_host::embeddings::local::LocalProvider;
use mcp_host::embeddings::product_index::embed_products;
use mcp_host::seed::{self, SeedOptions};
use serde_json::json;

#[path = "../tests/support/mod.rs"]
mod support;

#[path = "common/stats.rs"]
mod stats;
use stats::{row, stats};

const ADJECTIVES: &[&str] = &[
    "heavy duty",
    "waterproof",
    "compact",
    "cordless",
    "outdoor",
    "quiet",
    "cheap",
    "premium",
    "lightweight",
    "rust resistant",
];

/// Distinct query texts (so the cache does not answer them).
fn queries(types: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for t in types {
        for a in ADJECTIVES {
            out.push(format!("{a} {}", t.to_lowercase()));
        }
    }
    out
}

fn main() {
    let fixtures = support::fixtures();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let model_dir = support::pg::local_model_dir();
        let started = Instant::now();
        let provider = LocalProvider::load(&model_dir).unwrap();
        println!("local model load: {:.0} ms", started.elapsed().as_secs_f64() * 1e3);
        let embeddings = Arc::new(Embeddings::new(Arc::new(provider), 0));

        // Per query and per batch, straight through the provider (no cache).
        let mut single = Vec::new();
        for i in 0..60 {
            let t = Instant::now();
            embeddings.embed(&[format!("cordless drill number {i}")]).await.unwrap();
            if i >= 10 {
                single.push(t.elapsed());
            }
        }
        let description = "Heavy-duty cordless drill driver with two lithium-ion batteries, variable \
                           speed trigger, LED work light and keyless chuck for home improvement.";
        let mut batch = Vec::new();
        for i in 0..6 {
            let texts: Vec<String> = (0..32).map(|j| format!("{description} ({i}-{j})")).collect();
            let t = Instant::now();
            embeddings.embed(&texts).await.unwrap();
            if i >= 1 {
                batch.push(t.elapsed() / 32);
            }
        }
        println!();
        println!("| what | p50 µs | p90 µs | p99 µs | mean µs | calls/s |");
        println!("|---|---:|---:|---:|---:|---:|");
        row("local model: one short query", &stats(single), None);
        row("local model: per text in a batch of 32", &stats(batch), None);

        let pg = support::pg::start_private_cluster("zava-bench-");
        let secret = mcp_host::db::secrets::random_secret();
        let admin = migrate::connect_creating(&pg.superuser("zava"), &mcp_host::db::tls::connector(None).unwrap())
            .await
            .unwrap();
        migrate::migrate(&admin, &secret, None).await.unwrap();
        seed::seed(&admin, SeedOptions { seed: 42, scale: 0.05, replace: false, progress: false })
            .await
            .unwrap();
        let report = embed_products(&admin, &embeddings, 32, false).await.unwrap();
        println!(
            "\nfull catalogue: {} products embedded in {:.2} s ({:.1} ms each)",
            report.embedded,
            report.elapsed.as_secs_f64(),
            report.elapsed.as_secs_f64() * 1e3 / report.embedded as f64
        );

        // Recall@20 of the HNSW index against exact search.
        let types: Vec<String> = admin
            .query("SELECT type_name FROM retail.product_types ORDER BY type_id", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let texts = queries(&types);
        let vectors = embeddings.embed(&texts[..100]).await.unwrap();
        for (label, filter) in [
            ("no filter", ""),
            (
                "in stock at Seattle",
                "AND EXISTS (SELECT 1 FROM retail.inventory i WHERE i.product_id = e.product_id AND i.store_id = 1 AND i.stock_level > 0)",
            ),
        ] {
            let sql = format!(
                "SELECT e.product_id FROM retail.product_description_embeddings e WHERE true {filter}
                 ORDER BY e.description_embedding <=> $1::text::vector LIMIT 20"
            );
            let mut found = 0usize;
            let mut wanted = 0usize;
            for v in &vectors {
                let literal = format!("[{}]", v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(","));
                admin
                    .batch_execute("BEGIN; SET LOCAL enable_indexscan = off; SET LOCAL enable_bitmapscan = off")
                    .await
                    .unwrap();
                let exact: Vec<i32> = admin.query(&sql, &[&literal]).await.unwrap().iter().map(|r| r.get(0)).collect();
                admin
                    .batch_execute("ROLLBACK; BEGIN; SET LOCAL enable_seqscan = off; SET LOCAL hnsw.iterative_scan = strict_order; SET LOCAL hnsw.ef_search = 100")
                    .await
                    .unwrap();
                let plan: String = admin
                    .query(&format!("EXPLAIN {sql}"), &[&literal])
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| r.get::<_, String>(0))
                    .collect();
                assert!(plan.contains("hnsw"), "the index is not used: {plan}");
                let approx: Vec<i32> = admin.query(&sql, &[&literal]).await.unwrap().iter().map(|r| r.get(0)).collect();
                admin.batch_execute("ROLLBACK").await.unwrap();
                wanted += exact.len();
                found += approx.iter().filter(|id| exact.contains(id)).count();
            }
            println!(
                "HNSW recall@20, {label}: {:.4} over {} queries",
                found as f64 / wanted as f64,
                vectors.len()
            );
        }

        // End to end through MCP, distinct texts (cache misses) and one text repeated.
        let components = tempfile::tempdir().unwrap();
        std::fs::copy(
            fixtures.join("semantic_search.wasm"),
            components.path().join("semantic_search.wasm"),
        )
        .unwrap();
        let query_url = format!(
            "host={} port=5432 user={QUERY_ROLE} dbname=zava",
            pg.root().join("run").display()
        );
        let model_flag = model_dir.display().to_string();
        let args = support::serve_args(
            components.path(),
            &["--query-database-url", &query_url, "--rls-secret", &secret,
              "--local-model-dir", &model_flag, "--call-timeout", "30s"],
        );
        let server = mcp_host::app::start(args).await.unwrap();
        let client = support::McpClient::connect(&format!("http://{}/mcp", server.addr), support::SEATTLE).await;
        println!();
        println!("| what | p50 µs | p90 µs | p99 µs | mean µs | calls/s |");
        println!("|---|---:|---:|---:|---:|---:|");
        // Each row uses texts no earlier call embedded (the server caches them),
        // except the last, which repeats one text.
        for (label, range, mode) in [
            ("MCP semantic_search_products, new text each call", 100..300, "vector"),
            ("MCP semantic_search_products, hybrid, new text", 300..450, "hybrid"),
            ("MCP semantic_search_products, repeated text (cached)", 0..0, "vector"),
        ] {
            let calls: Vec<String> = if range.is_empty() {
                vec!["waterproof electrical connectors".to_string(); 200]
            } else {
                texts[range].to_vec()
            };
            let mut samples: Vec<Duration> = Vec::new();
            for (i, text) in calls.iter().enumerate() {
                let t = Instant::now();
                let result = client
                    .call("semantic_search_products", json!({ "query_description": text, "mode": mode }))
                    .await;
                assert_ne!(result.is_error, Some(true), "{}", support::text_of(&result));
                if i >= 10 {
                    samples.push(t.elapsed());
                }
            }
            row(label, &stats(samples), None);
        }
        server.shutdown().await.unwrap();
    });
}
