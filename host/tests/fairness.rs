//! One identity gets a share of the pool, not the pool: Seattle's manager
//! saturating their share leaves connections for Bellevue's.

use crate::support;

use std::time::Duration;

use serde_json::json;
use support::pg::{TestDb, stores};
use support::*;

// Three rounds of two must fit in the 10 s a query waits for its share,
// on a loaded two-core CI machine too: about 1 s each when idle.
const SLOW: &str = "SELECT count(*) AS n FROM generate_series(1, 15000000) AS fairness_probe";

#[tokio::test]
async fn one_identity_saturating_its_share_leaves_room_for_another() {
    let db = TestDb::fresh().await;
    let mut flags = db.serve_flags();
    flags.extend(
        [
            "--db-pool-size",
            "6",
            "--db-identity-share",
            "2",
            "--statement-timeout",
            "20s",
            "--call-timeout",
            "60s",
        ]
        .map(String::from),
    );
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let server = TestServer::start_with(&["sales_sql"], &flags).await;
    let (_, _, seattle) = stores()[0];
    let (bellevue_store, _, bellevue) = stores()[1];

    // Seattle asks for as many slow queries as the pool has connections:
    // without a share, Bellevue would wait for all of them.
    let seattle_client = server.client(seattle).await;
    let slow = (0..6)
        .map(|_| seattle_client.call("execute_sales_query", json!({ "postgresql_query": SLOW })));
    let slow = futures::future::join_all(slow);
    tokio::pin!(slow);

    // While they run, PostgreSQL runs exactly Seattle's share of them.
    let admin = db.admin().await;
    let mut seen = 0i64;
    let watch = async {
        for _ in 0..100 {
            let running: i64 = admin
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity
                     WHERE usename = 'zava_query' AND state = 'active' AND query LIKE '%fairness_probe%'",
                    &[],
                )
                .await
                .unwrap()
                .get(0);
            seen = seen.max(running);
            if seen >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::select! {
        _ = watch => {}
        _ = &mut slow => panic!("the slow queries finished before the check"),
    }
    assert_eq!(seen, 2, "Seattle holds its share of the pool");

    // Bellevue's call runs now, not after Seattle's queue.
    let bellevue_client = server.client(bellevue).await;
    let quick = bellevue_client.call(
        "execute_sales_query",
        json!({ "postgresql_query": "SELECT store_id, count(*) AS n FROM retail.orders GROUP BY 1" }),
    );
    let result = tokio::select! {
        result = quick => result,
        _ = &mut slow => panic!("Bellevue waited for Seattle's queries"),
    };
    assert!(!is_error(&result), "{}", text_of(&result));
    let rows = &result.structured_content.unwrap()["rows"];
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    assert_eq!(rows[0][0], json!(bellevue_store));

    // Seattle's queries all finish in the end, two at a time.
    let running_now: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_stat_activity
             WHERE usename = 'zava_query' AND state = 'active' AND query LIKE '%fairness_probe%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(running_now <= 2, "{running_now}");
    for result in slow.await {
        assert!(!is_error(&result), "{}", text_of(&result));
    }
    server.stop().await;
}

/// A statement that does not notice cancellation (array containment
/// compares every pair of elements without checking for interrupts; the
/// allowlist refuses it, so it runs here with the guard off on a managed
/// database, where nothing else stops it): when its call is abandoned, its
/// connection and its caller's share stay taken until the backend is done,
/// so a runaway statement costs its caller's share, nobody else's.
#[tokio::test]
async fn an_abandoned_runaway_statement_keeps_its_callers_share_until_it_ends() {
    use mcp_host::db::caller::{CallerDb, QueryLimits};
    let managed = support::pg::Managed::start("zava-runaway-", 0.005).await;
    let limits = QueryLimits {
        parser_guard: false,
        identity_share: 1,
        statement_timeout: Duration::from_millis(500),
        ..QueryLimits::default()
    };
    let db = CallerDb::new(managed.query_config(), managed.secret.clone(), limits, 4).unwrap();
    let seattle: uuid::Uuid = stores()[0].2.parse().unwrap();
    let bellevue: uuid::Uuid = stores()[1].2.parse().unwrap();
    let runaway = "SELECT (SELECT array_agg(g) FROM generate_series(1, 40000) g) @> \
                   (SELECT array_agg(40000 + 0 * g) FROM generate_series(1, 40000) g) AS runaway_probe";
    // A superuser sees every backend's statement (the managed admin does not).
    let watcher = support::pg::connect(&managed.pg.superuser("zava")).await;
    let running = || async {
        watcher
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' \
                 AND query LIKE '%runaway_probe%' AND pid <> pg_backend_pid()",
                &[],
            )
            .await
            .unwrap()
            .get::<_, i64>(0)
    };
    // Abandoned after 300 ms (as a call deadline would); the statement goes
    // on, past its own 500 ms timeout.
    let abandoned = tokio::time::timeout(
        Duration::from_millis(300),
        db.query(seattle, runaway, &[], 1),
    )
    .await;
    assert!(abandoned.is_err(), "the statement outlives the call");
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        running().await,
        1,
        "the backend ignores cancellation and its timeout"
    );

    // Another identity is not held up.
    db.query(bellevue, "SELECT 1 AS x", &[], 1)
        .await
        .expect("Bellevue's share is free");
    assert_eq!(
        running().await,
        1,
        "Bellevue ran while the runaway statement still did"
    );

    // Seattle's next query waits for Seattle's runaway statement to end.
    db.query(seattle, "SELECT 1 AS x", &[], 1)
        .await
        .expect("Seattle's query runs once its share is back");
    assert_eq!(
        running().await,
        0,
        "Seattle's share came back only when the backend was done"
    );
}
