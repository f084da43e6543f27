//! The scenarios: which tool calls, with which arguments, by whom; the run
//! loop (warm-up, then N sessions calling until the time is up); and the
//! isolation check on every SQL result.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::client::{self, User};
use crate::report::{self, ByTool};
use crate::{RunArgs, baseline, host_process, swap};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// `get_current_utc_date`: the sandbox and protocol alone.
    Trivial,
    /// Typical analytic SQL through `execute_sales_query`.
    Analytic,
    /// `semantic_search_products` with a few different questions.
    Search,
    /// Analytic, trivial and search calls interleaved.
    Mixed,
    /// `swap_probe` while its component is replaced (see `--swap-*`).
    Swap,
}

/// One kind of call.
#[derive(Clone, Debug)]
pub struct Op {
    pub label: String,
    pub tool: &'static str,
    pub arguments: Value,
    /// The SQL, for the baseline and the isolation check.
    pub sql: Option<&'static str>,
}

/// Typical questions a store manager asks; every result carries `store_id`
/// so the isolation check can see whose rows came back.
const ANALYTIC: &[(&str, &str)] = &[
    (
        "revenue by store",
        "SELECT store_id, SUM(total_amount) AS revenue FROM retail.order_items GROUP BY store_id ORDER BY revenue DESC",
    ),
    (
        "orders per month 2025",
        "SELECT store_id, date_trunc('month', order_date)::date AS month, count(*) AS orders \
         FROM retail.orders WHERE order_date >= DATE '2025-01-01' AND order_date < DATE '2026-01-01' \
         GROUP BY 1, 2 ORDER BY 1, 2",
    ),
    (
        "top products by units",
        "SELECT oi.store_id, p.product_name, SUM(oi.quantity) AS units FROM retail.order_items oi \
         JOIN retail.products p ON p.product_id = oi.product_id GROUP BY 1, 2 ORDER BY units DESC LIMIT 20",
    ),
    (
        "low stock",
        "SELECT i.store_id, p.product_name, i.stock_level FROM retail.inventory i \
         JOIN retail.products p ON p.product_id = i.product_id WHERE i.stock_level < 5 \
         ORDER BY i.stock_level, p.product_name LIMIT 50",
    ),
];

const SEARCHES: &[&str] = &[
    "waterproof electrical connectors",
    "cordless drill with two batteries",
    "paint for outdoor wooden decks",
    "copper pipe fittings for plumbing repairs",
];

fn sql_op((label, sql): &(&'static str, &'static str)) -> Op {
    Op {
        label: format!("sql: {label}"),
        tool: "execute_sales_query",
        arguments: json!({ "postgresql_query": sql }),
        sql: Some(sql),
    }
}

fn tool_op(tool: &'static str, arguments: Value) -> Op {
    Op {
        label: tool.to_string(),
        tool,
        arguments,
        sql: None,
    }
}

fn search_op(text: &str) -> Op {
    Op {
        label: "semantic_search_products".into(),
        tool: "semantic_search_products",
        arguments: json!({ "query_description": text, "max_rows": 10 }),
        sql: None,
    }
}

pub fn ops(kind: Kind) -> Vec<Op> {
    let trivial = || tool_op("get_current_utc_date", json!({}));
    match kind {
        Kind::Trivial => vec![trivial()],
        Kind::Analytic => ANALYTIC.iter().map(sql_op).collect(),
        Kind::Search => SEARCHES.iter().map(|s| search_op(s)).collect(),
        // Three analytic calls for each trivial and each search call.
        Kind::Mixed => {
            let mut ops = Vec::new();
            for (i, query) in ANALYTIC.iter().enumerate() {
                ops.push(sql_op(query));
                if i % 2 == 1 {
                    ops.push(trivial());
                    ops.push(search_op(SEARCHES[i % SEARCHES.len()]));
                }
            }
            ops
        }
        Kind::Swap => vec![tool_op("swap_probe", json!({}))],
    }
}

/// Rows whose `store_id` is not the caller's (0 for head office).
pub fn foreign_rows(result: &Value, user: &User) -> usize {
    let Some(store) = user.store else { return 0 };
    let columns = result["columns"].as_array().cloned().unwrap_or_default();
    let Some(at) = columns.iter().position(|c| c == "store_id") else {
        return 0;
    };
    result["rows"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .filter(|row| row[at].as_i64() != Some(store))
                .count()
        })
        .unwrap_or(0)
}

struct Outcome {
    by_tool: ByTool,
    foreign: usize,
    checked: usize,
}

async fn session(
    args: Arc<RunArgs>,
    user: User,
    ops: Arc<Vec<Op>>,
    n: usize,
    barrier: Arc<tokio::sync::Barrier>,
) -> anyhow::Result<Outcome> {
    let session = client::connect(&args.url, &user).await?;
    for i in 0..args.warmup {
        let op = &ops[(n + i) % ops.len()];
        let _ = client::call(&session, op.tool, &op.arguments).await;
    }
    barrier.wait().await;
    let deadline = Instant::now() + args.duration;
    let mut outcome = Outcome {
        by_tool: ByTool::new(),
        foreign: 0,
        checked: 0,
    };
    let mut i = n;
    while Instant::now() < deadline {
        let op = &ops[i % ops.len()];
        i += 1;
        let started = Instant::now();
        let result = client::call(&session, op.tool, &op.arguments).await;
        let elapsed = started.elapsed();
        let samples = outcome.by_tool.entry(op.label.clone()).or_default();
        match result {
            Ok(value) => {
                samples.ok.push(elapsed);
                if args.check_isolation && op.sql.is_some() {
                    outcome.checked += 1;
                    outcome.foreign += foreign_rows(&value, &user);
                }
            }
            Err(message) => samples.error(message.chars().take(160).collect()),
        }
    }
    let _ = session.cancel().await;
    Ok(outcome)
}

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let users = client::users(&args.users)?;
    let ops = Arc::new(ops(args.scenario));
    let scenario = format!("{:?}", args.scenario).to_lowercase();
    let args = Arc::new(args);
    report::header();
    for &clients in &args.clients {
        let barrier = Arc::new(tokio::sync::Barrier::new(clients + 1));
        let watch = args.host_pid.map(host_process::Watch::start).transpose()?;
        let sessions: Vec<_> = (0..clients)
            .map(|n| {
                tokio::spawn(session(
                    args.clone(),
                    users[n % users.len()].clone(),
                    ops.clone(),
                    n,
                    barrier.clone(),
                ))
            })
            .collect();
        barrier.wait().await;
        let swapping = match args.scenario {
            Kind::Swap => Some(tokio::spawn(swap::run(args.clone()))),
            _ => None,
        };
        let started = Instant::now();
        let mut by_tool = ByTool::new();
        let (mut foreign, mut checked) = (0, 0);
        for task in sessions {
            let outcome = task.await??;
            for (label, samples) in outcome.by_tool {
                by_tool.entry(label).or_default().merge(samples);
            }
            foreign += outcome.foreign;
            checked += outcome.checked;
        }
        let elapsed = started.elapsed().max(Duration::from_millis(1));
        report::print(&scenario, clients, elapsed, &by_tool, args.json.as_deref())?;
        if let Some(watch) = watch {
            println!("|   | | {} | | | | | | |", watch.finish());
        }
        if args.check_isolation {
            println!(
                "|   | | isolation: {checked} SQL results checked, {foreign} foreign rows | | | | | | |"
            );
            anyhow::ensure!(
                foreign == 0,
                "{foreign} rows of another store were returned"
            );
        }
        if let Some(swapping) = swapping {
            println!("|   | | {} | | | | | | |", swapping.await??);
        }
        if let Some(dsn) = &args.baseline_db {
            let (by_tool, elapsed) =
                baseline::run(dsn, &ops, clients, args.duration, args.warmup).await?;
            report::print(&scenario, clients, elapsed, &by_tool, args.json.as_deref())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isolation_check_counts_rows_of_other_stores() {
        let seattle = client::users(&["seattle".into()]).unwrap().remove(0);
        let head_office = client::users(&["head-office".into()]).unwrap().remove(0);
        let result = json!({"columns": ["store_id", "n"], "rows": [[1, 5], [2, 7], [1, 3]]});
        assert_eq!(foreign_rows(&result, &seattle), 1);
        assert_eq!(foreign_rows(&result, &head_office), 0);
        let no_store = json!({"columns": ["n"], "rows": [[5]]});
        assert_eq!(foreign_rows(&no_store, &seattle), 0);
    }

    #[test]
    fn every_analytic_query_shows_whose_rows_they_are() {
        for op in ops(Kind::Analytic) {
            assert!(op.sql.unwrap().contains("store_id"), "{}", op.label);
        }
        assert!(
            ops(Kind::Mixed)
                .iter()
                .any(|o| o.tool == "semantic_search_products")
        );
    }
}
