//! What identity, audit and per-caller limits cost per call.
//!
//! `cargo bench -p mcp-host --bench governance` (release build). Prints a
//! table; the README quotes its numbers:
//! - authenticating one request: Entra RS256 token (keys cached) vs the dev
//!   header;
//! - reducing a typical statement to its audit shape (fingerprint +
//!   normalised text; done on the audit writer thread, not the request);
//! - one per-caller limiter acquire + release;
//! - a whole `tools/call` over HTTP with the audit log (to a file) and the
//!   limits on, against the same server with both off.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::HeaderMap;
use mcp_host::identity::entra::{EntraAuthenticator, EntraSettings};
use mcp_host::identity::{Authenticator, DevHeaderAuthenticator, StaticScopeResolver};
use mcp_host::mcp::rate_limit::CallerLimits;
use rmcp::model::CallToolRequestParams;

#[path = "../tests/support/mod.rs"]
mod support;

#[path = "common/stats.rs"]
mod stats;
use stats::{row, stats};

const N: usize = 20_000;
const HTTP_CALLS: usize = 3_000;
const WARMUP: usize = 200;

fn measure(n: usize, mut f: impl FnMut()) -> Vec<Duration> {
    for _ in 0..WARMUP {
        f();
    }
    (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect()
}

async fn measure_async<F: std::future::Future<Output = ()>>(
    n: usize,
    mut f: impl FnMut() -> F,
) -> Vec<Duration> {
    for _ in 0..WARMUP {
        f().await;
    }
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        f().await;
        samples.push(t.elapsed());
    }
    samples
}

async fn authentication() {
    let fake = support::entra::FakeEntra::start().await;
    let settings = EntraSettings {
        tenant_id: support::entra::TENANT.into(),
        audiences: vec![support::entra::AUDIENCE.into()],
        authority: fake.authority.clone(),
        user_claim: "rls_user_id".into(),
        user_map: Default::default(),
        required_scopes: vec![support::entra::SCOPE.into()],
        required_roles: vec![],
        jwks_cooldown: Duration::from_secs(10),
    };
    let entra =
        EntraAuthenticator::new(settings, Arc::new(StaticScopeResolver::default())).unwrap();
    let token = support::entra::token(&support::entra::claims(&fake.authority, support::SEATTLE));
    let mut headers = HeaderMap::new();
    headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
    let samples = measure_async(N, || async {
        entra.authenticate(&headers).await.unwrap();
    })
    .await;
    row(
        "authenticate: Entra RS256 bearer token (keys cached)",
        &stats(samples),
        None,
    );

    let dev = DevHeaderAuthenticator::new(Arc::new(StaticScopeResolver::default()));
    let mut headers = HeaderMap::new();
    headers.insert("x-rls-user-id", support::SEATTLE.parse().unwrap());
    let samples = measure_async(N, || async {
        dev.authenticate(&headers).await.unwrap();
    })
    .await;
    row("authenticate: dev header", &stats(samples), None);
    fake.stop();
}

fn audit_and_limits() {
    let sql = "SELECT s.store_name, date_trunc('month', o.order_date) AS month, \
               sum(oi.total_amount) AS revenue FROM retail.orders o \
               JOIN retail.order_items oi USING (order_id) JOIN retail.stores s USING (store_id) \
               WHERE o.order_date >= DATE '2025-01-01' AND s.store_name <> 'Zava Online' \
               GROUP BY 1, 2 ORDER BY 1, 2 LIMIT 100";
    let samples = measure(N, || {
        std::hint::black_box(mcp_host::audit::shape_of(sql));
    });
    row(
        "audit: SQL → fingerprint + normalised text (writer thread)",
        &stats(samples),
        None,
    );

    let principal: Arc<str> = "entra:t/o".into();
    // A rate the loop cannot exhaust: the cost of the check, not of refusals.
    let limits = CallerLimits::new(16, Some("1000000000/1s".parse().unwrap()));
    let samples = measure(N, || {
        drop(limits.acquire(&principal).unwrap());
    });
    row(
        "per-caller limits: acquire + release",
        &stats(samples),
        None,
    );
}

async fn calls_over_http(label: &str, extra: &[&str]) {
    let server = support::TestServer::start_with(&["get_current_utc_date"], extra).await;
    let client = server.client(support::HEAD_OFFICE).await;
    let samples = measure_async(HTTP_CALLS, || async {
        let result = client
            .service
            .call_tool(CallToolRequestParams::new("get_current_utc_date"))
            .await
            .unwrap();
        assert_ne!(result.is_error, Some(true));
    })
    .await;
    let total: Duration = samples.iter().sum();
    let rate = samples.len() as f64 / total.as_secs_f64();
    row(label, &stats(samples), Some(rate));
    server.stop().await;
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    support::fixtures();
    println!("| what | p50 µs | p90 µs | p99 µs | mean µs | calls/s |");
    println!("|---|---:|---:|---:|---:|---:|");
    runtime.block_on(async {
        authentication().await;
        audit_and_limits();
        let audit_dir = tempfile::tempdir().unwrap();
        let audit_file = audit_dir.path().join("audit.jsonl");
        let audit_file = audit_file.display().to_string();
        calls_over_http(
            "HTTP tools/call, audit off, limits off",
            &[
                "--audit-log",
                "off",
                "--identity-rate",
                "off",
                "--identity-max-concurrent",
                "0",
            ],
        )
        .await;
        calls_over_http(
            "HTTP tools/call, audit to a file, limits on (16, 1M/1m)",
            &["--audit-log", &audit_file, "--identity-rate", "1000000/1m"],
        )
        .await;
    });
}
