//! The attack corpus: SQL an assistant (or someone steering it) might send
//! to see another store's rows, write, leave state behind, or exhaust the
//! server. Every case runs as the Seattle manager and must end with no
//! foreign row seen, no write, no lasting state, and the host still serving.
//!
//! It runs three times:
//! - through the MCP endpoint, statement guard on, as deployed;
//! - straight into the database layer with the guard *off*, on a database a
//!   superuser migrated: Row Level Security, the read-only transaction and
//!   the allowlist the database enforces hold on their own;
//! - with the guard on, on a database migrated without a superuser (as on
//!   Azure), where the database cannot enforce the allowlist: the guard
//!   alone holds;
//! - on a streaming read replica (a hot standby of the primary), where the
//!   host sends caller statements once the replica is healthy.
//!
//! The corpus grows by class: statistics oracles (counts taken before RLS
//! filters), other callers' SQL, decode bombs, huge values, XML, timing,
//! and every way PostgreSQL can call a function (call syntax, attribute
//! notation, operators, casts).

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use mcp_host::db::caller::{CallerDb, QueryLimits};
use serde_json::{Value, json};
use support::attacks::corpus;
use support::pg::{TestDb, checksums, stores};
use support::{TestServer, is_error, text_of};

const SEATTLE: i32 = 1;

/// What a successful result reveals that it must not: rows of another
/// store, more orders than Seattle has, or anything in a `leak` column.
fn foreign_rows(columns: &[String], rows: &[Vec<Value>], seattle_orders: i64) -> Vec<String> {
    let mut found = Vec::new();
    for row in rows {
        for (column, value) in columns.iter().zip(row) {
            let bad = match column.as_str() {
                "store_id" => value.as_i64().is_some_and(|s| s != SEATTLE as i64),
                "n" => value.as_i64().is_some_and(|n| n > seattle_orders),
                "leak" => !value.is_null(),
                "xml" => {
                    let text = value.as_str().unwrap_or_default();
                    (2..=8).any(|s| text.contains(&format!("<store_id>{s}</store_id>")))
                        || text
                            .split("<n>")
                            .skip(1)
                            .filter_map(|t| t.split('<').next()?.parse::<i64>().ok())
                            .any(|n| n > seattle_orders)
                }
                _ => false,
            };
            if bad {
                found.push(format!("{column}={value}"));
            }
        }
    }
    found
}

async fn seattle_orders(db: &TestDb) -> i64 {
    seattle_orders_in(&db.admin().await).await
}

/// Seattle's orders, counted by an administrator.
async fn seattle_orders_in(admin: &tokio_postgres::Client) -> i64 {
    admin
        .query_one(
            "SELECT count(*) FROM retail.orders WHERE store_id = $1",
            &[&SEATTLE],
        )
        .await
        .unwrap()
        .get(0)
}

/// Limits for the corpus: attacks that run long stop after a second.
fn corpus_limits() -> QueryLimits {
    QueryLimits {
        statement_timeout: Duration::from_secs(1),
        ..QueryLimits::default()
    }
}

/// Nothing may outlive a query: no advisory lock, no open transaction (in
/// this test's database: other tests share the cluster).
async fn assert_no_lasting_state(db: &TestDb) {
    let admin = db.admin().await;
    // Connections being dropped may need a moment to end their backends.
    for _ in 0..50 {
        let row = admin
            .query_one(
                "SELECT (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())),
                        (SELECT count(*) FROM pg_stat_activity
                          WHERE usename IN ('zava_query', 'zava_hq') AND datname = current_database()
                            AND state LIKE 'idle in transaction%')",
                &[],
            )
            .await
            .unwrap();
        let (locks, open): (i64, i64) = (row.get(0), row.get(1));
        if locks == 0 && open == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let row = admin
        .query_one(
            "SELECT (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())),
                    to_regclass('retail.stolen') IS NULL",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        row.get::<_, i64>(0),
        0,
        "an advisory lock outlived its query"
    );
    assert!(row.get::<_, bool>(1), "SELECT INTO created a table");
    assert!(!std::path::Path::new("/tmp/zava-leak").exists());
    assert!(!std::path::Path::new("/tmp/zava-orders.csv").exists());
}

#[test]
fn the_corpus_is_large_enough() {
    assert!(corpus().len() >= 40, "{} cases", corpus().len());
}

#[tokio::test]
async fn attacks_through_mcp_see_nothing_foreign_and_change_nothing() {
    let db = TestDb::fresh().await;
    let before = checksums(&db.admin().await).await;
    let seattle_orders = seattle_orders(&db).await;
    let mut flags = db.serve_flags();
    flags.extend(["--statement-timeout".into(), "1s".into()]);
    flags.extend(["--call-timeout".into(), "20s".into()]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let server = TestServer::start_with(&["sales_sql", "get_current_utc_date"], &flags).await;
    let (_, _, manager) = stores()[0];
    let client = server.client(manager).await;

    let mut failures = Vec::new();
    for attack in corpus() {
        let result = client
            .call(
                "execute_sales_query",
                json!({ "postgresql_query": attack.sql, "max_rows": 1000 }),
            )
            .await;
        if is_error(&result) {
            continue;
        }
        let value = result.structured_content.clone().unwrap_or_default();
        let columns: Vec<String> =
            serde_json::from_value(value["columns"].clone()).unwrap_or_default();
        let rows: Vec<Vec<Value>> =
            serde_json::from_value(value["rows"].clone()).unwrap_or_default();
        let leaks = foreign_rows(&columns, &rows, seattle_orders);
        if !leaks.is_empty() {
            failures.push(format!("{}: {leaks:?} ({})", attack.name, text_of(&result)));
        }
    }
    assert!(
        failures.is_empty(),
        "attacks that saw foreign rows:\n{}",
        failures.join("\n")
    );

    // Still serving, still Seattle, nothing changed or left behind.
    let result = client
        .call(
            "execute_sales_query",
            json!({ "postgresql_query": "SELECT count(*) AS n FROM retail.orders" }),
        )
        .await;
    assert!(!is_error(&result), "{}", text_of(&result));
    assert_eq!(
        result.structured_content.unwrap()["rows"][0][0],
        seattle_orders
    );
    assert!(!is_error(
        &client.call("get_current_utc_date", json!({})).await
    ));
    assert_eq!(
        checksums(&db.admin().await).await,
        before,
        "the data changed"
    );
    assert_no_lasting_state(&db).await;
    server.stop().await;
}

/// Runs the corpus as Seattle straight into `caller_db`; returns the cases
/// that saw something foreign, and how many PostgreSQL or the guard refused.
async fn run_corpus(caller_db: &CallerDb, seattle_orders: i64) -> (Vec<String>, usize) {
    let (_, _, manager) = stores()[0];
    let seattle: uuid::Uuid = manager.parse().unwrap();
    let mut failures = Vec::new();
    let mut stopped = 0;
    for attack in corpus() {
        let outcome = caller_db.query(seattle, attack.sql, &[], 1000).await;
        let Ok(set) = outcome else {
            stopped += 1;
            continue;
        };
        let columns: Vec<String> = set.columns.iter().map(|c| c.name.clone()).collect();
        let rows: Vec<Vec<Value>> = set
            .rows
            .iter()
            .map(|r| r.iter().map(mcp_host::db::values::to_json).collect())
            .collect();
        let leaks = foreign_rows(&columns, &rows, seattle_orders);
        if !leaks.is_empty() {
            failures.push(format!("{}: {leaks:?}", attack.name));
        }
    }
    // The connection pool is still healthy and still scoped.
    let set = caller_db
        .query(seattle, "SELECT count(*) AS n FROM retail.orders", &[], 10)
        .await
        .unwrap();
    assert_eq!(
        mcp_host::db::values::to_json(&set.rows[0][0]),
        json!(seattle_orders)
    );
    (failures, stopped)
}

#[tokio::test]
async fn without_the_guard_the_database_a_superuser_migrated_still_refuses() {
    let db = TestDb::fresh().await;
    let before = checksums(&db.admin().await).await;
    let seattle_orders = seattle_orders(&db).await;
    let limits = QueryLimits {
        statement_timeout: Duration::from_secs(1),
        parser_guard: false,
        ..QueryLimits::default()
    };
    let caller_db =
        Arc::new(CallerDb::new(db.query_config(), db.secret().to_string(), limits, 4).unwrap());
    let (failures, stopped) = run_corpus(&caller_db, seattle_orders).await;
    assert!(
        failures.is_empty(),
        "the database alone let these through:\n{}",
        failures.join("\n")
    );
    assert!(
        stopped >= 60,
        "most attacks fail outright in PostgreSQL ({stopped})"
    );
    assert_eq!(
        checksums(&db.admin().await).await,
        before,
        "the data changed"
    );
    assert_no_lasting_state(&db).await;
}

#[tokio::test]
async fn on_a_streaming_replica_the_corpus_holds_too() {
    let set = support::pg::Replicated::start("zava-attacks-replica-").await;
    let admin = support::pg::connect(&set.primary.superuser("zava")).await;
    let before = checksums(&admin).await;
    let seattle_orders = seattle_orders_in(&admin).await;
    let caller_db = set
        .caller_db(&set.secret, corpus_limits(), Duration::from_secs(30))
        .await;
    let served_before = set.standby_transactions().await;
    let (failures, stopped) = run_corpus(&caller_db, seattle_orders).await;
    assert!(
        failures.is_empty(),
        "on the replica these got through:\n{}",
        failures.join("\n")
    );
    assert!(stopped >= 60, "most attacks are refused ({stopped})");
    // What passed the guard ran on the standby, as do plain statements
    // (its statistics catch up within a second or so).
    for _ in 0..20 {
        caller_db
            .query(
                support::pg::seattle(),
                "SELECT count(*) FROM retail.orders",
                &[],
                1,
            )
            .await
            .unwrap();
    }
    let served = set.served_since(served_before, 21).await;
    assert!(served > 20, "the standby served only {served} statements");
    assert_eq!(checksums(&admin).await, before, "the data changed");
}

#[tokio::test]
async fn on_a_database_migrated_without_a_superuser_the_guard_alone_holds() {
    let managed =
        support::pg::Managed::start("zava-managed-attacks-", support::pg::TEST_SCALE).await;
    let seattle_orders = seattle_orders_in(&managed.admin).await;
    let caller_db = CallerDb::new(
        managed.query_config(),
        managed.secret.clone(),
        corpus_limits(),
        4,
    )
    .unwrap();
    let (failures, stopped) = run_corpus(&caller_db, seattle_orders).await;
    assert!(
        failures.is_empty(),
        "the guard alone let these through:\n{}",
        failures.join("\n")
    );
    assert!(stopped >= 60, "most attacks are refused ({stopped})");

    // The control: with neither the guard nor the database's allowlist,
    // the corpus does catch what the red team found (so its green above
    // means something).
    let open = CallerDb::new(
        managed.query_config(),
        managed.secret.clone(),
        QueryLimits {
            statement_timeout: Duration::from_secs(1),
            parser_guard: false,
            ..QueryLimits::default()
        },
        4,
    )
    .unwrap();
    let (leaks, _) = run_corpus(&open, seattle_orders).await;
    for expected in [
        "stats oracle in attribute notation",
        "live tuple counter",
        "reltuples",
    ] {
        assert!(
            leaks.iter().any(|l| l.starts_with(expected)),
            "{expected} should leak without any allowlist: {leaks:?}"
        );
    }
}
