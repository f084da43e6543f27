//! The database path: how long the demo set takes to load, what a caller's
//! analytic query costs over running the same SQL directly, what each store
//! manager pays, and what a streaming read replica adds.
//!
//! `cargo bench -p mcp-host --bench sql_query` (release). Starts a private
//! embedded PostgreSQL, migrates and seeds it (scale from ZAVA_BENCH_SCALE,
//! default 1.0 = the full demo set; 10 = 500k customers), then for the
//! typical analytic queries measures, sequentially on one connection each:
//!
//! - `raw`: the SQL through tokio-postgres (`Client::query`), as the
//!   superuser (no RLS) — the floor;
//! - `caller`: the host's caller path in-process (guard, read-only
//!   transaction, `rls.enter`, RLS, portal fetch, rollback), as head office
//!   (on its own login, `zava_hq`), which sees the same rows as the
//!   superuser, and as each of the eight store managers;
//! - `mcp`: `tools/call execute_sales_query` over HTTP with rmcp's client
//!   (sandboxed component, JSON both ways), as head office and as Seattle.
//!
//! Then throughput: 8 concurrent head-office callers running the queries in
//! turn for ZAVA_BENCH_SECONDS (default 10) against the primary alone, and
//! with a hot standby of it (`pg_basebackup`) taking its share.

use std::time::{Duration, Instant};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use mcp_host::db::caller::{CallerDb, QueryLimits, Replicas};
use mcp_host::db::embedded::EmbeddedPostgres;
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

/// (name, SQL, iterations at scale 1: fewer at larger scales).
const QUERIES: &[(&str, &str, usize)] = &[
    (
        "revenue by store",
        "SELECT s.store_name, SUM(oi.total_amount) AS revenue FROM retail.order_items oi \
         JOIN retail.stores s ON s.store_id = oi.store_id GROUP BY s.store_name ORDER BY revenue DESC",
        60,
    ),
    (
        "top 10 products 2025",
        "SELECT p.product_name, SUM(oi.quantity) AS units, SUM(oi.total_amount) AS revenue \
         FROM retail.order_items oi JOIN retail.orders o ON o.order_id = oi.order_id \
         JOIN retail.products p ON p.product_id = oi.product_id \
         WHERE o.order_date >= '2025-01-01' AND o.order_date < '2026-01-01' \
         GROUP BY p.product_name ORDER BY revenue DESC LIMIT 10",
        60,
    ),
    (
        "monthly revenue by category 2024",
        "SELECT date_trunc('month', o.order_date)::date AS month, c.category_name, SUM(oi.total_amount) AS revenue \
         FROM retail.order_items oi JOIN retail.orders o ON o.order_id = oi.order_id \
         JOIN retail.products p ON p.product_id = oi.product_id \
         JOIN retail.categories c ON c.category_id = p.category_id \
         WHERE o.order_date >= '2024-01-01' AND o.order_date < '2025-01-01' GROUP BY 1, 2 ORDER BY 1, 2",
        60,
    ),
    (
        "product lookup by SKU",
        "SELECT product_id, product_name, base_price FROM retail.products WHERE sku = 'PT01001'",
        1000,
    ),
    (
        "revenue per category since 2025",
        "SELECT c.category_name, SUM(oi.total_amount) AS revenue, COUNT(DISTINCT o.order_id) AS orders \
         FROM retail.order_items oi JOIN retail.orders o ON o.order_id = oi.order_id \
         JOIN retail.products p ON p.product_id = oi.product_id \
         JOIN retail.categories c ON c.category_id = p.category_id \
         WHERE o.order_date >= '2025-01-01' GROUP BY 1 ORDER BY 2 DESC",
        60,
    ),
];

/// Runs `f` `warm` times, then `n` times timed; the timings.
async fn sample<F, Fut>(n: usize, warm: usize, mut f: F) -> Vec<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut samples = Vec::with_capacity(n);
    for i in 0..n + warm {
        let t = Instant::now();
        f().await;
        if i >= warm {
            samples.push(t.elapsed());
        }
    }
    samples
}

/// The median of `a[i] / b[i]`: timings taken in pairs, one right after
/// the other, compare best this way (what else the cores do at the time
/// weighs on both).
fn paired_ratio(a: &[Duration], b: &[Duration]) -> f64 {
    let mut ratios: Vec<f64> = a
        .iter()
        .zip(b)
        .map(|(a, b)| a.as_secs_f64() / b.as_secs_f64())
        .collect();
    ratios.sort_by(f64::total_cmp);
    ratios[ratios.len() / 2]
}

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

        let seconds: u64 = std::env::var("ZAVA_BENCH_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(10);
        let caller = CallerDb::new(
            pg.config(QUERY_ROLE, "zava"),
            secret.clone(),
            QueryLimits::default(),
            8,
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
            &[
                "--query-database-url",
                &query_url,
                "--rls-secret",
                &secret,
                "--call-timeout",
                "30s",
                // A benchmark is one caller making thousands of calls.
                "--identity-rate",
                "off",
            ],
        );
        let server = mcp_host::app::start(args).await.unwrap();
        let url = format!("http://{}/mcp", server.addr);
        let head_office_client = support::McpClient::connect(&url, support::HEAD_OFFICE).await;
        let seattle_client = support::McpClient::connect(&url, support::SEATTLE).await;
        let stores = support::pg::stores();

        println!();
        println!("scale {scale}; p50 etc. in µs; ratios of p50s");
        println!();
        println!("| query / path | p50 µs | p90 µs | p99 µs | mean µs | calls/s |");
        println!("|---|---:|---:|---:|---:|---:|");
        let mut summary = Vec::new();
        for (name, sql, n) in QUERIES {
            // At scale 10 a query takes up to seconds: fewer rounds.
            let n = ((*n as f64 / scale.max(1.0)) as usize).max(6);
            let warm = if scale >= 5.0 { 1 } else { WARMUP.min(n) };
            let as_caller = |user: uuid::Uuid| {
                let caller = &caller;
                async move {
                    std::hint::black_box(caller.query(user, sql, &[], 1000).await.unwrap());
                }
            };
            // Raw and head office alternate, so that whatever else the two
            // cores do at the time weighs on both alike.
            let (mut raw, mut head_office) = (Vec::new(), Vec::new());
            for i in 0..n + warm {
                let t = Instant::now();
                std::hint::black_box(admin.query(*sql, &[]).await.unwrap());
                let between = Instant::now();
                as_caller(uuid::Uuid::nil()).await;
                if i >= warm {
                    raw.push(between - t);
                    head_office.push(between.elapsed());
                }
            }
            let head_office_over_raw = paired_ratio(&head_office, &raw);
            let (raw, head_office) = (stats(raw), stats(head_office));
            let mut managers = Vec::new();
            for (_, store, manager) in &stores {
                let manager = uuid::Uuid::parse_str(manager).unwrap();
                let store = store.trim_start_matches("Zava Retail ");
                managers.push((store, stats(sample(n, warm, || as_caller(manager)).await)));
            }
            let mut mcp = Vec::new();
            for client in [&head_office_client, &seattle_client] {
                mcp.push(stats(
                    sample(n, warm, || async {
                        let result = client
                            .call("execute_sales_query", json!({ "postgresql_query": sql, "max_rows": 1000 }))
                            .await;
                        assert_ne!(result.is_error, Some(true), "{}", support::text_of(&result));
                    })
                    .await,
                ));
            }
            let guard = stats(
                sample(n, warm, || async {
                    mcp_host::db::guard::check(sql, &mcp_host::db::guard::KnownFunctions::new(Vec::<String>::new()))
                        .unwrap();
                })
                .await,
            );
            row(&format!("{name}: parser guard alone"), &guard, None);
            row(&format!("{name}: raw tokio-postgres (superuser)"), &raw, None);
            row(&format!("{name}: caller path, head office"), &head_office, None);
            for (store, s) in &managers {
                row(&format!("{name}: caller path, {store} manager"), s, None);
            }
            row(&format!("{name}: MCP execute_sales_query, head office"), &mcp[0], None);
            row(&format!("{name}: MCP execute_sales_query, Seattle"), &mcp[1], None);
            let ratio = |a: &stats::Stats, b: &stats::Stats| a.p50.as_secs_f64() / b.p50.as_secs_f64();
            let kirkland = &managers.iter().find(|(s, _)| *s == "Kirkland").unwrap().1;
            let seattle = &managers.iter().find(|(s, _)| *s == "Seattle").unwrap().1;
            summary.push(format!(
                "| {name} | {:.1} | {:.3}x | {:.3}x | {:.2}x | {:.2}x |",
                raw.p50.as_secs_f64() * 1e3,
                head_office_over_raw,
                ratio(&mcp[0], &raw),
                ratio(seattle, &head_office),
                ratio(kirkland, &head_office),
            ));
        }
        println!();
        println!("| query (scale {scale}) | raw p50 ms | head office caller / raw (median of paired runs) | head office MCP / raw | Seattle / head office | Kirkland / head office |");
        println!("|---|---:|---:|---:|---:|---:|");
        for line in summary {
            println!("{line}");
        }
        server.shutdown().await.unwrap();
        drop(caller);

        // Throughput with a read replica. Analytic queries only (the SKU
        // lookup is not what replicas are for).
        let analytic: Vec<&'static str> = QUERIES
            .iter()
            .filter(|(name, _, _)| !name.contains("SKU"))
            .map(|(_, sql, _)| *sql)
            .collect();
        let standby_dir = tempfile::Builder::new().prefix("zava-bench-standby-").tempdir_in("/tmp").unwrap().keep();
        let standby = EmbeddedPostgres::new(&standby_dir, Some(&support::pg::pg_bin())).unwrap();
        standby.stop_when_process_exits(std::process::id(), true).unwrap();
        {
            let (from, to) = (&pg, &standby);
            std::thread::scope(|s| s.spawn(|| to.start_standby_of(from)).join()).unwrap().unwrap();
        }
        let replica = standby.config(QUERY_ROLE, "zava");
        println!();
        println!("| 8 head-office callers, analytic queries in turn, {seconds} s (scale {scale}) | queries/s | vs primary alone |");
        println!("|---|---:|---:|");
        let mut baseline = None;
        for (label, replicas) in [
            ("primary alone", None),
            ("primary + 1 replica, both serving", Some(true)),
            ("1 replica serving, primary idle", Some(false)),
        ] {
            // One identity, eight connections: its share is the whole pool;
            // eight concurrent analytic queries at scale 10 take longer
            // than the default statement timeout.
            let limits = QueryLimits {
                identity_share: 8,
                statement_timeout: Duration::from_secs(300),
                ..QueryLimits::default()
            };
            let mut db = CallerDb::new(pg.config(QUERY_ROLE, "zava"), secret.clone(), limits, 8).unwrap();
            if let Some(primary_reads) = replicas {
                db = db
                    .with_replicas(Replicas {
                        servers: vec![replica.clone()],
                        max_lag: Duration::from_secs(30),
                        primary_reads,
                    })
                    .unwrap();
                let deadline = Instant::now() + Duration::from_secs(30);
                while !db.replicas().iter().all(|(_, healthy, _)| *healthy) {
                    assert!(Instant::now() < deadline, "the standby never came into rotation");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            let rate = throughput(Arc::new(db), &analytic, 8, Duration::from_secs(seconds)).await;
            let base = *baseline.get_or_insert(rate);
            println!("| {label} | {rate:.1} | {:.2}x |", rate / base);
        }
        standby.stop().unwrap();
    });
}

/// Queries per second that `clients` concurrent head-office callers get,
/// each running `queries` in turn until `time` is up.
async fn throughput(
    db: Arc<CallerDb>,
    queries: &[&'static str],
    clients: usize,
    time: Duration,
) -> f64 {
    // Warm every connection and cache first.
    for sql in queries {
        db.query(uuid::Uuid::nil(), sql, &[], 1000).await.unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|i| {
            let (db, stop, done) = (db.clone(), stop.clone(), done.clone());
            let queries: Vec<&'static str> = queries.to_vec();
            tokio::spawn(async move {
                let mut k = i;
                while !stop.load(Ordering::Relaxed) {
                    db.query(uuid::Uuid::nil(), queries[k % queries.len()], &[], 1000)
                        .await
                        .unwrap();
                    done.fetch_add(1, Ordering::Relaxed);
                    k += 1;
                }
            })
        })
        .collect();
    tokio::time::sleep(time).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}
