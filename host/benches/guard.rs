//! The statement guard's cost per statement, side by side with the guard it
//! replaced (measured in the same run): the old one turned libpg_query's
//! parse tree into `serde_json` values and walked those with a denylist; the
//! new one walks the protobuf structs against an allowlist.
//!
//! `cargo bench -p mcp-host --bench guard` (release). No database needed:
//! the function names come from a fixed list of this machine's PostgreSQL
//! names that matter for the statements below.

use std::collections::HashSet;
use std::time::Instant;

use mcp_host::db::guard::{self, KnownFunctions};

#[path = "common/stats.rs"]
mod stats;
use stats::{row, stats};

const STATEMENTS: &[(&str, &str)] = &[
    (
        "point lookup",
        "SELECT product_id, product_name, base_price FROM retail.products WHERE sku = 'PT01001'",
    ),
    (
        "revenue by store",
        "SELECT s.store_name, SUM(oi.total_amount) AS revenue FROM retail.order_items oi \
         JOIN retail.stores s ON s.store_id = oi.store_id GROUP BY s.store_name ORDER BY revenue DESC",
    ),
    (
        "top 10 products 2025",
        "SELECT p.product_name, SUM(oi.quantity) AS units, SUM(oi.total_amount) AS revenue \
         FROM retail.order_items oi JOIN retail.orders o ON o.order_id = oi.order_id \
         JOIN retail.products p ON p.product_id = oi.product_id \
         WHERE o.order_date >= '2025-01-01' AND o.order_date < '2026-01-01' \
         GROUP BY p.product_name ORDER BY revenue DESC LIMIT 10",
    ),
    (
        "schema columns (catalog)",
        "SELECT c.table_name::text AS table_name, c.column_name::text AS name, \
                c.data_type::text AS type, c.is_nullable::text = 'YES' AS nullable, \
                c.column_default::text AS default_value, \
                col_description(format('retail.%I', c.table_name)::regclass, c.ordinal_position::int) AS comment \
         FROM information_schema.columns c \
         WHERE c.table_schema = 'retail' ORDER BY c.table_name, c.ordinal_position",
    ),
    (
        "hybrid search (CTEs, window)",
        "WITH vec AS (SELECT e.product_id, row_number() OVER (ORDER BY e.description_embedding <=> $1::vector) AS rank \
         FROM retail.product_description_embeddings e ORDER BY e.description_embedding <=> $1::vector LIMIT 40), \
         kw AS (SELECT p.product_id, row_number() OVER (ORDER BY ts_rank_cd(to_tsvector('english', p.product_name || ' ' || p.product_description), \
         websearch_to_tsquery('english', $2)) DESC) AS rank FROM retail.products p \
         WHERE to_tsvector('english', p.product_name || ' ' || p.product_description) @@ websearch_to_tsquery('english', $2) LIMIT 40), \
         fused AS (SELECT product_id, coalesce(1.0 / (60 + vec.rank), 0) + coalesce(1.0 / (60 + kw.rank), 0) AS score \
         FROM vec FULL JOIN kw USING (product_id)) \
         SELECT p.product_id, p.product_name, round(f.score * 1000, 3) AS score FROM fused f \
         JOIN retail.products p USING (product_id) ORDER BY f.score DESC LIMIT 20",
    ),
];

fn main() {
    let known = KnownFunctions::new(
        [
            "count",
            "sum",
            "row_number",
            "pg_stat_get_xact_tuples_returned",
        ]
        .map(String::from),
    );
    println!("| statement | guard | p50 µs | p90 µs | p99 µs | mean µs | - |");
    println!("|---|---|---|---|---|---|---|");
    let mut statements: Vec<(String, String)> = STATEMENTS
        .iter()
        .map(|(n, s)| (n.to_string(), s.to_string()))
        .collect();
    // A 60 KiB statement, just under the default cap.
    let constants: Vec<String> = (0..9000).map(|i| i.to_string()).collect();
    statements.push((
        "60 KiB IN list".into(),
        format!(
            "SELECT count(*) FROM retail.orders WHERE order_id IN ({})",
            constants.join(", ")
        ),
    ));
    for (name, sql) in &statements {
        let n = if sql.len() > 10_000 { 200 } else { 3000 };
        let run = |check: &dyn Fn(&str) -> bool| {
            for _ in 0..n / 10 {
                assert!(check(sql), "{name}");
            }
            let mut samples = Vec::with_capacity(n);
            for _ in 0..n {
                let t = Instant::now();
                std::hint::black_box(check(sql));
                samples.push(t.elapsed());
            }
            stats(samples)
        };
        let before = run(&|sql| baseline::check(sql).is_ok());
        let after = run(&|sql| guard::check(sql, &known).is_ok());
        row(
            &format!("{name} | before (serde_json, denylist)"),
            &before,
            None,
        );
        row(
            &format!("{name} | after (protobuf, allowlist)"),
            &after,
            None,
        );
        println!(
            "| {name} | after / before | {:.2}x | | | | |",
            after.p50.as_secs_f64() / before.p50.as_secs_f64()
        );
    }
}

/// The guard as it was before the allowlist (host/src/db/sql_guard.rs at
/// bf92773), reduced to what costs time: parse, convert the protobuf tree
/// to `serde_json` values, walk every node checking relations and function
/// names against the old denylist.
mod baseline {
    use super::HashSet;
    use serde_json::Value;

    pub fn check(sql: &str) -> Result<(), String> {
        let parsed = pg_query::parse(sql, 0).map_err(|e| e.to_string())?;
        let tree = serde_json::to_value(&parsed.protobuf).map_err(|e| e.to_string())?;
        let ctes: HashSet<String> = parsed
            .cte_names
            .iter()
            .map(|n| n.to_lowercase())
            .filter(|n| !n.starts_with("pg_"))
            .collect();
        walk(&tree, &ctes)
    }

    fn walk(value: &Value, ctes: &HashSet<String>) -> Result<(), String> {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    visit(key, child, ctes)?;
                    walk(child, ctes)?;
                }
                Ok(())
            }
            Value::Array(items) => items.iter().try_for_each(|item| walk(item, ctes)),
            _ => Ok(()),
        }
    }

    fn visit(key: &str, node: &Value, ctes: &HashSet<String>) -> Result<(), String> {
        match key {
            "InsertStmt" | "UpdateStmt" | "DeleteStmt" | "MergeStmt" => Err("write".into()),
            "RangeVar" => {
                let schema = node["schemaname"].as_str().unwrap_or_default();
                let name = node["relname"].as_str().unwrap_or_default();
                let ok = match schema {
                    "" => !name.starts_with("pg_") || ctes.contains(name),
                    "retail" | "information_schema" => true,
                    "pg_catalog" => name == "pg_indexes",
                    _ => false,
                };
                if ok { Ok(()) } else { Err(name.into()) }
            }
            "FuncCall" => {
                let name = node["funcname"]
                    .as_array()
                    .and_then(|n| n.last())
                    .and_then(|n| n.pointer("/node/String/sval"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if name.starts_with("pg_") || name == "set_config" {
                    Err(name.into())
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }
}
