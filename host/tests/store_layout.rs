//! The store-partitioned layout (migration 0008): a store manager's queries
//! read their store's partitions only and give the same numbers as a
//! superuser's filtered to that store; head office's plans carry no policy
//! at all; partitions cannot be read around their parent; and `migrate`
//! moves a database of the previous layout in place, every row kept.

use crate::support;

use mcp_host::db::caller::{Caller, CallerDb, QueryLimits};
use mcp_host::db::gate::{GateKey, Purpose, now_ms};
use mcp_host::db::migrate;
use mcp_host::db::settings::HQ_ROLE;
use mcp_host::seed::{self, SeedOptions};
use serde_json::Value;
use support::pg::{TestDb, checksums, connect, start_private_cluster, stores};
use uuid::Uuid;

/// The classic analytic questions, with `{scope}` where the superuser's
/// version names the store (`TRUE` for the caller: RLS does it).
const CLASSIC: &[(&str, &str)] = &[
    (
        "revenue by store",
        "SELECT s.store_name, SUM(oi.total_amount)::text AS revenue FROM retail.order_items oi \
         JOIN retail.stores s ON s.store_id = oi.store_id WHERE {oi} \
         GROUP BY s.store_name ORDER BY 2 DESC, 1",
    ),
    (
        "top 10 products 2025",
        "SELECT p.product_name, SUM(oi.quantity)::int8 AS units, SUM(oi.total_amount)::text AS revenue \
         FROM retail.order_items oi JOIN retail.orders o ON o.order_id = oi.order_id AND o.store_id = oi.store_id \
         JOIN retail.products p ON p.product_id = oi.product_id \
         WHERE o.order_date >= '2025-01-01' AND o.order_date < '2026-01-01' AND {oi} \
         GROUP BY p.product_name ORDER BY SUM(oi.total_amount) DESC, 1 LIMIT 10",
    ),
    (
        "monthly revenue by category 2024",
        "SELECT date_trunc('month', o.order_date)::date::text AS month, c.category_name, \
                SUM(oi.total_amount)::text AS revenue \
         FROM retail.order_items oi JOIN retail.orders o ON o.order_id = oi.order_id AND o.store_id = oi.store_id \
         JOIN retail.products p ON p.product_id = oi.product_id \
         JOIN retail.categories c ON c.category_id = p.category_id \
         WHERE o.order_date >= '2024-01-01' AND o.order_date < '2025-01-01' AND {oi} \
         GROUP BY 1, 2 ORDER BY 1, 2",
    ),
    (
        "revenue per category since 2025",
        "SELECT c.category_name, SUM(oi.total_amount)::text AS revenue, COUNT(DISTINCT o.order_id)::int8 AS orders \
         FROM retail.order_items oi JOIN retail.orders o ON o.order_id = oi.order_id AND o.store_id = oi.store_id \
         JOIN retail.products p ON p.product_id = oi.product_id \
         JOIN retail.categories c ON c.category_id = p.category_id \
         WHERE o.order_date >= '2025-01-01' AND {oi} GROUP BY 1 ORDER BY 1",
    ),
    (
        "low stock",
        "SELECT p.product_name, i.stock_level::int8 FROM retail.inventory i \
         JOIN retail.products p ON p.product_id = i.product_id \
         WHERE i.stock_level < 10 AND {i} ORDER BY 2, 1",
    ),
    (
        "customers and their orders",
        "SELECT count(*)::int8 AS customers FROM retail.customers c WHERE {c}",
    ),
];

fn scoped(sql: &str, store: Option<i32>) -> String {
    let (oi, i, c) = match store {
        None => ("TRUE".to_string(), "TRUE".to_string(), "TRUE".to_string()),
        Some(s) => (
            format!("oi.store_id = {s}"),
            format!("i.store_id = {s}"),
            format!(
                "(c.primary_store_id = {s} OR EXISTS (SELECT 1 FROM retail.orders x \
                 WHERE x.customer_id = c.customer_id AND x.store_id = {s}))"
            ),
        ),
    };
    sql.replace("{oi}", &oi)
        .replace("{i}", &i)
        .replace("{c}", &c)
}

async fn admin_rows(admin: &tokio_postgres::Client, sql: &str) -> Vec<Vec<Value>> {
    // The questions return text and int8 only, so both sides compare as
    // text, value for value.
    admin
        .query(sql, &[])
        .await
        .unwrap()
        .iter()
        .map(|row| {
            (0..row.len())
                .map(|i| {
                    let text = match row.columns()[i].type_().name() {
                        "int8" => row.get::<_, i64>(i).to_string(),
                        _ => row.get::<_, String>(i),
                    };
                    Value::String(text)
                })
                .collect()
        })
        .collect()
}

fn caller_rows(set: &mcp_host::bindings::zava::mcp::types::RowSet) -> Vec<Vec<Value>> {
    use mcp_host::bindings::zava::mcp::types::SqlValue;
    set.rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|v| {
                    Value::String(match v {
                        SqlValue::Text(t) => t.clone(),
                        SqlValue::Int(n) => n.to_string(),
                        other => format!("{other:?}"),
                    })
                })
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn store_managers_get_the_superusers_numbers_for_their_store() {
    let db = TestDb::fresh().await;
    let admin = db.admin().await;
    let caller = CallerDb::new(
        db.query_config(),
        db.secret().to_string(),
        QueryLimits::default(),
        4,
    )
    .unwrap();
    for (store, name, manager) in stores() {
        let manager = Uuid::parse_str(manager).unwrap();
        for (question, sql) in CLASSIC {
            let truth = admin_rows(&admin, &scoped(sql, Some(store))).await;
            let seen = caller
                .query(manager, &scoped(sql, None), &[], 10_000)
                .await
                .unwrap_or_else(|e| panic!("{name}, {question}: {e:?}"));
            assert_eq!(caller_rows(&seen), truth, "{name}: {question}");
            assert!(
                !truth.is_empty(),
                "{name}: {question} has no rows to compare"
            );
        }
    }
    // Head office: everything, as the superuser sees it.
    let head_office = Uuid::nil();
    for (question, sql) in CLASSIC {
        let truth = admin_rows(&admin, &scoped(sql, None)).await;
        let seen = caller
            .query(head_office, &scoped(sql, None), &[], 10_000)
            .await
            .unwrap();
        assert_eq!(caller_rows(&seen), truth, "head office: {question}");
    }
}

/// Each scan node of a plan: (relation, times it ran).
fn scans(plan: &str) -> Vec<(String, u64)> {
    fn walk(node: &Value, out: &mut Vec<(String, u64)>) {
        if let Some(relation) = node.get("Relation Name").and_then(Value::as_str) {
            let loops = node
                .get("Actual Loops")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            out.push((relation.to_string(), loops));
        }
        for child in node
            .get("Plans")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            walk(child, out);
        }
    }
    let plan: Value = serde_json::from_str(plan).unwrap();
    let mut out = Vec::new();
    walk(&plan[0]["Plan"], &mut out);
    out
}

/// A connection on `login` inside a read-only transaction in which the
/// host's gate proof has asked to establish `user`; `rls.enter`'s answer.
async fn enter_as(
    db: &TestDb,
    login: &str,
    user: Uuid,
) -> (tokio_postgres::Client, Result<(), tokio_postgres::Error>) {
    let mut config = db.admin_config();
    config.user(login);
    let client = connect(&config).await;
    let gate = GateKey::from_secret(db.secret());
    let pid: i32 = client
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    client.batch_execute("BEGIN READ ONLY").await.unwrap();
    let at = now_ms();
    let entered = client
        .query(
            "SELECT rls.enter($1, $2, $3)",
            &[&gate.proof(Purpose::Enter, pid, at, user), &at, &user],
        )
        .await
        .map(drop);
    (client, entered)
}

/// The plan of `sql` as the query roles run it for `user`, as JSON.
async fn plan_as(db: &TestDb, login: &str, user: Uuid, sql: &str) -> String {
    let (client, entered) = enter_as(db, login, user).await;
    entered.unwrap();
    // EXPLAIN is the test's, not a caller's: the guard never sees it.
    let plan: Value = client
        .query_one(&format!("EXPLAIN (ANALYZE, FORMAT JSON) {sql}"), &[])
        .await
        .unwrap()
        .get(0);
    client.batch_execute("ROLLBACK").await.unwrap();
    plan.to_string()
}

#[tokio::test]
async fn a_store_manager_reads_only_their_partitions_and_head_office_no_policy() {
    let db = TestDb::fresh().await;
    let (kirkland, _, manager) = stores()[6];
    let manager = Uuid::parse_str(manager).unwrap();
    let plan = plan_as(
        &db,
        "zava_query",
        manager,
        "SELECT count(*) FROM retail.order_items",
    )
    .await;
    // Every other store's partition is pruned when the query starts (on
    // the InitPlan's value: the executor never runs those scans).
    let scans = scans(&plan);
    let own = format!("order_items_store_{kirkland}");
    assert!(
        scans
            .iter()
            .any(|(relation, loops)| *relation == own && *loops == 1),
        "{own} not read: {scans:?}"
    );
    let others: Vec<_> = scans
        .iter()
        .filter(|(relation, loops)| *relation != own && *loops > 0)
        .collect();
    assert!(
        others.is_empty(),
        "other stores' partitions were read: {others:?}"
    );
    assert!(
        scans.len() >= 9,
        "every partition is in the plan: {scans:?}"
    );

    let plan = plan_as(
        &db,
        HQ_ROLE,
        Uuid::nil(),
        "SELECT count(*) FROM retail.order_items",
    )
    .await;
    assert!(
        !plan.contains("Filter"),
        "head office pays for a policy: {plan}"
    );
}

#[tokio::test]
async fn head_offices_login_serves_nobody_else_and_partitions_are_closed() {
    let db = TestDb::fresh().await;
    let (_, _, seattle) = stores()[0];
    let seattle = Uuid::parse_str(seattle).unwrap();
    let (client, entered) = enter_as(&db, HQ_ROLE, seattle).await;
    let refused = entered.unwrap_err();
    assert_eq!(refused.code().map(|c| c.code()), Some("ZV001"), "{refused}");
    client.batch_execute("ROLLBACK").await.unwrap();

    // A partition read directly: refused, for both logins, whoever asks.
    let caller = CallerDb::new(
        db.query_config(),
        db.secret().to_string(),
        QueryLimits::default(),
        2,
    )
    .unwrap();
    for user in [seattle, Uuid::nil()] {
        let result = caller
            .query(
                Caller::from(user),
                "SELECT count(*) FROM retail.orders_store_2",
                &[],
                10,
            )
            .await;
        assert!(result.is_err(), "{user}: {result:?}");
    }
}

#[tokio::test]
async fn migrate_moves_the_previous_layout_in_place_keeping_every_row() {
    let pg = start_private_cluster("zava-layout-");
    let tls = mcp_host::db::tls::connector(None).unwrap();
    let admin = migrate::connect_creating(&pg.superuser("zava"), &tls)
        .await
        .unwrap();
    let secret = mcp_host::db::secrets::random_secret();
    let before_partitions = migrate::MIGRATIONS
        .iter()
        .position(|(name, _)| *name == "0008_store_partitions")
        .unwrap();
    migrate::migrate_with(
        &admin,
        &secret,
        None,
        &migrate::MIGRATIONS[..before_partitions],
    )
    .await
    .unwrap();
    // The full demo set, as an existing deployment holds it.
    seed::seed(
        &admin,
        SeedOptions {
            seed: 42,
            scale: 1.0,
            replace: false,
            progress: false,
        },
    )
    .await
    .unwrap();
    let kind = |table: &'static str| {
        let admin = &admin;
        async move {
            admin
                .query_one(
                    "SELECT relkind::text FROM pg_class WHERE oid = $1::text::regclass",
                    &[&format!("retail.{table}")],
                )
                .await
                .unwrap()
                .get::<_, String>(0)
        }
    };
    assert_eq!(kind("orders").await, "r");
    let before = checksums(&admin).await;

    let report = migrate::migrate(&admin, &secret, None).await.unwrap();
    assert_eq!(
        report.applied,
        ["0008_store_partitions", "0009_replica_heartbeat"]
    );
    for table in ["orders", "order_items", "inventory"] {
        assert_eq!(kind(table).await, "p", "{table}");
    }
    assert_eq!(checksums(&admin).await, before);
    // Idempotent, and new data lands in the partitions.
    assert!(
        migrate::migrate(&admin, &secret, None)
            .await
            .unwrap()
            .applied
            .is_empty()
    );
    let other: i64 = admin
        .query_one("SELECT count(*) FROM retail.orders_other", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(other, 0, "rows outside the stores' partitions");
    pg.stop().unwrap();
}

/// Every index and constraint of the retail schema, as PostgreSQL prints it.
async fn schema_objects(admin: &tokio_postgres::Client) -> Vec<String> {
    admin
        .query(
            "SELECT 'index ' || indexname || ': ' || indexdef FROM pg_indexes WHERE schemaname = 'retail'
             UNION ALL
             SELECT 'constraint ' || conrelid::regclass::text || '.' || conname || ': ' || pg_get_constraintdef(oid)
             FROM pg_constraint WHERE connamespace = 'retail'::regnamespace
             ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test]
async fn seeding_again_leaves_every_index_and_key_as_the_migrations_made_them() {
    let db = TestDb::fresh().await;
    let admin = db.admin().await;
    let before = schema_objects(&admin).await;
    assert!(
        before.iter().any(|o| o.contains("orders_store_date_idx")),
        "{before:?}"
    );
    assert!(
        before
            .iter()
            .any(|o| o.contains("order_items_order_id_store_id_fkey")),
        "{before:?}"
    );
    seed::seed(
        &admin,
        SeedOptions {
            seed: 11,
            scale: 0.02,
            replace: true,
            progress: false,
        },
    )
    .await
    .unwrap();
    assert_eq!(schema_objects(&admin).await, before);
    // The keys hold again: an order line of no order is refused.
    let orphan = admin
        .batch_execute(
            "INSERT INTO retail.order_items (order_id, store_id, product_id, quantity, unit_price, total_amount) \
             VALUES (-1, 1, (SELECT min(product_id) FROM retail.products), 1, 1, 1)",
        )
        .await
        .unwrap_err();
    assert_eq!(
        orphan.code(),
        Some(&tokio_postgres::error::SqlState::FOREIGN_KEY_VIOLATION),
        "{orphan}"
    );
}
