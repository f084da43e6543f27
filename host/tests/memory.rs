//! Every byte a caller can make the host allocate has a budget: the real
//! binary, as a child process, is driven through the whole SQL attack corpus
//! (four cases at a time), decode bombs (values a few bytes long on the wire
//! and megabytes as text) and a 1 MiB SQL text, and its peak resident
//! memory (VmHWM) stays under a stated bound while `/healthz` keeps
//! answering.

use crate::support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::pg::{TestDb, stores};
use support::*;

/// The bound on the host's peak resident memory through the whole run.
/// Before the budgets, one 42-byte `array_fill(1e131071::numeric, ...)`
/// took the host from 250 MB to 1 GB.
const PEAK_BOUND_MIB: u64 = 320;

/// The child host, killed if the test fails before stopping it.
struct KillOnDrop(Option<std::process::Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn vm_hwm_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/<pid>/status");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap();
    kib / 1024
}

#[tokio::test]
async fn decode_bombs_and_a_huge_sql_text_stay_within_the_memory_bound() {
    let db = TestDb::fresh().await;
    let components = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture("sales_sql"),
        components.path().join("sales_sql.wasm"),
    )
    .unwrap();
    let port = free_port();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_mcp-host"))
        .args(["serve", "--identity", "dev-header", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--components")
        .arg(components.path())
        .args(["--audit-log", "off", "--embeddings", "none"])
        // Parse a 1 MiB text rather than refuse it at the default 64 KiB
        // cap: the parse itself must stay bounded and off the async workers.
        .args(["--max-sql-bytes", "2097152", "--statement-timeout", "5s"])
        .args(["--call-timeout", "60s", "--max-body-bytes", "4194304"])
        .args(&db.serve_flags()[..4])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start mcp-host");
    let pid = child.id();
    let mut child = KillOnDrop(Some(child));
    let url = format!("http://127.0.0.1:{port}/mcp");
    wait_until_ready(child.0.as_mut().unwrap(), port).await;
    let (_, _, seattle) = stores()[0];
    let client = McpClient::connect(&url, seattle).await;
    let call = |sql: String| {
        let client = &client;
        async move {
            client
                .call(
                    "execute_sales_query",
                    json!({ "postgresql_query": sql, "max_rows": 1000 }),
                )
                .await
        }
    };
    // Warm up, then note where the host starts from.
    let warm = call("SELECT count(*) AS n FROM retail.orders".into()).await;
    assert!(!is_error(&warm), "{}", text_of(&warm));
    let start_mib = vm_hwm_mib(pid);

    let bombs = [
        // 3,000 numerics of 131,072 digits each: 393 MB as text.
        "SELECT array_agg(1e131071::numeric) AS big FROM generate_series(1, 3000)",
        "SELECT 1e131071::numeric AS big FROM generate_series(1, 3000)",
        // One 200 MB row.
        "SELECT string_agg('xxxxxxxxxx', '') AS big FROM generate_series(1, 20000000)",
        "SELECT jsonb_agg(md5(g::text) || md5(g::text)) AS big FROM generate_series(1, 100000) g",
        "SELECT convert_to(string_agg('yyyyyyyyyy', ''), 'UTF8') AS big FROM generate_series(1, 6000000)",
        "SELECT array_agg(md5(g::text) || md5(g::text)) AS big FROM generate_series(1, 1000000) g",
    ];
    for sql in bombs {
        let result = call(sql.into()).await;
        // Cut short or refused, never a crash; either way small.
        let text = text_of(&result);
        assert!(
            text.len() < 16 << 20,
            "{sql}: {} bytes of answer",
            text.len()
        );
    }

    let after_bombs_mib = vm_hwm_mib(pid);
    // The whole attack corpus, four cases at a time.
    let cases = support::attacks::corpus();
    for chunk in cases.chunks(4) {
        let calls = chunk.iter().map(|case| call(case.sql.to_string()));
        for result in futures::future::join_all(calls).await {
            assert!(text_of(&result).len() < 16 << 20);
        }
    }
    let after_corpus_mib = vm_hwm_mib(pid);
    // A 1 MiB statement, checked while /healthz keeps answering.
    let constants: Vec<String> = (0..150_000).map(|i| i.to_string()).collect();
    let huge = format!(
        "SELECT count(*) AS n FROM retail.orders WHERE order_id IN ({})",
        constants.join(", ")
    );
    assert!(huge.len() > 1 << 20, "{} bytes", huge.len());
    let health = async {
        let mut slowest = Duration::ZERO;
        let deadline = Instant::now() + Duration::from_secs(8);
        while Instant::now() < deadline {
            let started = Instant::now();
            let answer = tokio::time::timeout(
                Duration::from_secs(5),
                reqwest::get(format!("http://127.0.0.1:{port}/healthz")),
            )
            .await
            .expect("/healthz answers while the big text is checked")
            .unwrap();
            assert_eq!(answer.status(), 200);
            slowest = slowest.max(started.elapsed());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        slowest
    };
    let (result, slowest) = tokio::join!(call(huge), health);
    assert!(!is_error(&result), "{}", text_of(&result));
    println!("slowest /healthz while checking 1 MiB of SQL: {slowest:?}");

    let peak_mib = vm_hwm_mib(pid);
    println!(
        "host peak RSS: {start_mib} MiB after warm-up, {after_bombs_mib} MiB after the decode \
         bombs, {after_corpus_mib} MiB after the {} attack cases, {peak_mib} MiB after the 1 MiB \
         statement",
        cases.len()
    );
    assert!(
        peak_mib < PEAK_BOUND_MIB,
        "peak RSS {peak_mib} MiB (bound {PEAK_BOUND_MIB} MiB)"
    );
    // Still serving, still Seattle.
    let after = call("SELECT DISTINCT store_id FROM retail.orders".into()).await;
    assert_eq!(
        after.structured_content.unwrap()["rows"],
        json!([[1]]),
        "still scoped"
    );
    // SAFETY: plain signal to our own child.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let mut child = child.0.take().unwrap();
    let exited = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exited.success(), "{exited}");
}
