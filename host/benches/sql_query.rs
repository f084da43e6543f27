//! The database path: how long the full demo set takes to load, and what
//! `execute_sales_query` costs over running the same SQL directly.
//!
//! `cargo bench -p mcp-host --bench sql_query` (release). Starts a private
//! embedded PostgreSQL, migrates and seeds it (scale from ZAVA_BENCH_SCALE,
//! default 1.0 = the full demo set), then for a few typical analytic queries
//! measures, sequentially on one connection each:
//!
//! - `raw`: the SQL through tokio-postgres (`Client::query`), as the
//!   superuser (no RLS) — the floor;
//! - `caller`: the host's caller path in-process (guard, read-only
//!   transaction, `rls.enter`, RLS, portal fetch, rollback), as head office,
//!   which sees the same rows as the superuser;
//! - `mcp`: `tools/call execute_sales_query` over HTTP with rmcp's client
//!   (sandboxed component, JSON both ways), as head office;
//! - `mcp seattle`: the same as a store manager (RLS filters to one store).

use std::time::{Duration, Instant};

use mcp_host::db::caller::{CallerDb, QueryLimits};
use mcp_host::db::migrate;
use mcp_host::db::settings::QUERY_ROLE;
use mcp_host::seed::{self, SeedOptions};
use serde_json::json;

#[path = "../tests/support/mod.rs"]
mod support;

#[path = "common/stats.rs"]
mod stats;
use stats::{row, stats};

const WARMUP: usize = 20;

const QUERIES: &[(&str, &str, usize)] = &[
    (
        "revenue by store",
        "SELECT s.store_name, SUM(oi.total_amount) AS revenue FROM retail.order_items oi \
         JOIN retail.stores s ON s.store_id = oi.store_id GROUP BY s.store_name ORDER BY revenue DESC",
        100,
    ),
    (
        "top 10 products 2025",
        "SELECT p.product_name, SUM(oi.quantity) AS units, SUM(oi.total_amount) AS revenue \
         FROM retail.order_items oi JOIN retail.orders o ON o.order_id = oi.order_id \
         JOIN retail.products p ON p.product_id = oi.product_id \
         WHERE o.order_date >= '2025-01-01' AND o.order_date < '2026-01-01' \
         GROUP BY p.product_name ORDER BY revenue DESC LIMIT 10",
        100,
    ),
    (
        "monthly revenue by category 2024",
        "SELECT date_trunc('month', o.order_date)::date AS month, c.category_name, SUM(oi.total_amount) AS revenue \
         FROM retail.order_items oi JOIN retail.orders o ON o.order_id = oi.order_id \
         JOIN retail.products p ON p.product_id = oi.product_id \
         JOIN retail.categories c ON c.category_id = p.category_id \
         WHERE o.order_date >= '2024-01-01' AND o.order_date < '2025-01-01' GROUP BY 1, 2 ORDER BY 1, 2",
        100,
    ),
    (
        "product lookup by SKU",
        "SELECT product_id, product_name, base_price FROM retail.products WHERE sku = 'PT01001'",
        2000,
    ),
];

fn main() {
    let scale: f64 = std::env::var("ZAVA_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let fixtures = support::fixtures();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let pg = support::pg::start_private_cluster("zava-bench-");
        let secret = mcp_host::db::secrets::random_secret();
        let admin = migrate::connect_creating(&pg.superuser("zava"), &mcp_host::db::tls::connector(None).unwrap())
            .await
            .unwrap();
        migrate::migrate(&admin, &secret, None).await.unwrap();
        let started = Instant::now();
        let report = seed::seed(
            &admin,
            SeedOptions {
                seed: 42,
                scale,
                replace: false,
                progress: false,
            },
        )
        .await
        .unwrap();
        let rows: usize = report.rows.iter().map(|(_, n)| n).sum();
        println!(
            "demo data at scale {scale}: {rows} rows generated in {:.2} s, loaded (COPY + ANALYZE) in {:.2} s, total {:.2} s",
            report.generate.as_secs_f64(),
            report.load.as_secs_f64(),
            started.elapsed().as_secs_f64()
        );
        for (table, n) in &report.rows {
            println!("  retail.{table}: {n}");
        }

        let caller = CallerDb::new(
            pg.config(QUERY_ROLE, "zava"),
            secret.clone(),
            QueryLimits::default(),
            4,
        )
        .unwrap();
        let components = tempfile::tempdir().unwrap();
        std::fs::copy(fixtures.join("sales_sql.wasm"), components.path().join("sales_sql.wasm")).unwrap();
        let query_url = format!(
            "host={} port=5432 user={QUERY_ROLE} dbname=zava",
            pg.root().join("run").display()
        );
        let args = support::serve_args(
            components.path(),
            &["--query-database-url", &query_url, "--rls-secret", &secret, "--call-timeout", "30s"],
        );
        let server = mcp_host::app::start(args).await.unwrap();
        let url = format!("http://{}/mcp", server.addr);
        let head_office_client = support::McpClient::connect(&url, support::HEAD_OFFICE).await;
        let seattle_client = support::McpClient::connect(&url, support::SEATTLE).await;

        println!();
        println!("| query / path | p50 µs | p90 µs | p99 µs | mean µs | calls/s |");
        println!("|---|---:|---:|---:|---:|---:|");
        for (name, sql, n) in QUERIES {
            let mut raw = Vec::new();
            for i in 0..n + WARMUP {
                let t = Instant::now();
                let rows = admin.query(*sql, &[]).await.unwrap();
                std::hint::black_box(rows);
                if i >= WARMUP {
                    raw.push(t.elapsed());
                }
            }
            let mut in_process = Vec::new();
            for i in 0..n + WARMUP {
                let t = Instant::now();
                let set = caller.query(uuid::Uuid::nil(), sql, &[], 1000).await.unwrap();
                std::hint::black_box(set);
                if i >= WARMUP {
                    in_process.push(t.elapsed());
                }
            }
            let mut mcp: Vec<Vec<Duration>> = Vec::new();
            for client in [&head_office_client, &seattle_client] {
                let mut samples = Vec::new();
                for i in 0..n + WARMUP {
                    let t = Instant::now();
                    let result = client
                        .call("execute_sales_query", json!({ "postgresql_query": sql, "max_rows": 1000 }))
                        .await;
                    assert_ne!(result.is_error, Some(true), "{}", support::text_of(&result));
                    if i >= WARMUP {
                        samples.push(t.elapsed());
                    }
                }
                mcp.push(samples);
            }
            let mut guard = Vec::new();
            for i in 0..n + WARMUP {
                let t = Instant::now();
                mcp_host::db::guard::check(sql, &mcp_host::db::guard::KnownFunctions::new(Vec::<String>::new()))
                    .unwrap();
                if i >= WARMUP {
                    guard.push(t.elapsed());
                }
            }
            let raw = stats(raw);
            let in_process = stats(in_process);
            row(&format!("{name}: parser guard alone"), &stats(guard), None);
            let seattle = mcp.pop().unwrap();
            let head_office = stats(mcp.pop().unwrap());
            row(&format!("{name}: raw tokio-postgres"), &raw, None);
            row(&format!("{name}: caller path in-process"), &in_process, None);
            row(&format!("{name}: MCP execute_sales_query"), &head_office, None);
            row(&format!("{name}: MCP as Seattle manager"), &stats(seattle), None);
            let over = |s: &stats::Stats| (s.p50.as_secs_f64() - raw.p50.as_secs_f64()) * 1e3;
            println!(
                "| {name}: overhead p50 over raw | caller {:+.3} ms | MCP {:+.3} ms | | | |",
                over(&in_process),
                over(&head_office)
            );
        }
        server.shutdown().await.unwrap();
    });
}
