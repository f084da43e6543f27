//! The floor: the scenario's SQL straight over tokio-postgres, one
//! connection per client, as the DSN's user (no sandbox, no MCP, no RLS
//! when that user is the superuser).

use std::time::{Duration, Instant};

use crate::report::ByTool;
use crate::scenario::Op;

pub async fn run(
    dsn: &str,
    ops: &[Op],
    clients: usize,
    duration: Duration,
    warmup: usize,
) -> anyhow::Result<(ByTool, Duration)> {
    let sql: Vec<(&str, &str)> = ops
        .iter()
        .filter_map(|op| op.sql.map(|sql| (op.label.as_str(), sql)))
        .collect();
    anyhow::ensure!(!sql.is_empty(), "the baseline needs a scenario with SQL");
    let mut connections = Vec::new();
    for _ in 0..clients {
        let (client, connection) = tokio_postgres::connect(dsn, tokio_postgres::NoTls).await?;
        tokio::spawn(connection);
        connections.push(client);
    }
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(clients));
    let tasks: Vec<_> = connections
        .into_iter()
        .enumerate()
        .map(|(n, client)| {
            let sql: Vec<(String, String)> = sql
                .iter()
                .map(|(l, s)| (format!("baseline: {l}"), s.to_string()))
                .collect();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                for i in 0..warmup {
                    let _ = client.query(sql[(n + i) % sql.len()].1.as_str(), &[]).await;
                }
                barrier.wait().await;
                let deadline = Instant::now() + duration;
                let mut by_tool = ByTool::new();
                let mut i = n;
                while Instant::now() < deadline {
                    let (label, sql) = &sql[i % sql.len()];
                    i += 1;
                    let t = Instant::now();
                    let result = client.query(sql.as_str(), &[]).await;
                    let samples = by_tool.entry(label.clone()).or_default();
                    match result {
                        Ok(_) => samples.ok.push(t.elapsed()),
                        Err(error) => samples.error(error.to_string()),
                    }
                }
                by_tool
            })
        })
        .collect();
    let mut merged = ByTool::new();
    for task in tasks {
        for (label, samples) in task.await? {
            merged.entry(label).or_default().merge(samples);
        }
    }
    Ok((merged, duration))
}
