use super::*;

/// A few real function and type names, as `rls.callable_names()` would
/// list them.
fn known() -> KnownFunctions {
    KnownFunctions::new(
        [
            "count",
            "sum",
            "pg_stat_get_xact_tuples_returned",
            "pg_stat_get_backend_activity",
            "pg_sleep",
            "set_config",
            "current_setting",
            "version",
            "xpath",
            "date",
            "regproc",
            "_polygon",
            "text",
        ]
        .map(String::from),
    )
}

fn ok(sql: &str) {
    if let Err(e) = check(sql, &known()) {
        panic!("{sql}: rejected: {e}");
    }
}

fn rejected(sql: &str, needle: &str) {
    match check(sql, &known()) {
        Ok(_) => panic!("{sql}: accepted"),
        Err(Rejected(message)) => {
            assert!(
                message.contains(needle),
                "{sql}: {message} (wanted {needle:?})"
            )
        }
    }
}

#[test]
fn checked_statements_are_limited_without_their_semicolon_or_comments() {
    let sql = "  SELECT store_id FROM retail.orders; -- done";
    let checked = check(sql, &known()).unwrap();
    assert_eq!(
        checked.limited(sql, 11),
        "SELECT * FROM (\nSELECT store_id FROM retail.orders\n) AS result LIMIT 11"
    );
    let sql = "SELECT 1 -- trailing";
    assert_eq!(
        check(sql, &known()).unwrap().limited(sql, 2),
        "SELECT * FROM (\nSELECT 1 -- trailing\n) AS result LIMIT 2"
    );
    // Grouped, distinct and set-operation queries keep their plan.
    for sql in [
        "SELECT store_id, count(*) FROM retail.orders GROUP BY 1;",
        "SELECT DISTINCT store_id FROM retail.orders",
        "SELECT 1 UNION SELECT 2",
    ] {
        let checked = check(sql, &known()).unwrap();
        assert_eq!(checked.limited(sql, 5), sql.trim_end_matches(';'), "{sql}");
    }
}

#[tokio::test]
async fn the_guard_caps_memoises_and_fails_closed_until_it_knows_the_functions() {
    let guard = Guard::new(64, KnownFunctions::Unknown);
    assert!(guard.check("me", "SELECT 1").await.is_ok());
    assert!(guard.check("me", "SELECT 1").await.is_ok());
    assert!(
        guard
            .check("me", "DELETE FROM retail.orders")
            .await
            .is_err()
    );
    let long = format!("SELECT 1 -- {}", "x".repeat(100));
    let refused = guard.check("me", &long).await.unwrap_err();
    assert!(refused.0.contains("the limit is 64 bytes"), "{refused}");
    // Until the function names are known, a name after a dot that is not
    // allowlisted could be a call: refused.
    let cte = "WITH m AS (SELECT 1 AS revenue) SELECT m.revenue FROM m";
    assert!(!guard.knows_functions());
    assert!(guard.check("me", cte).await.is_err());
    guard.set_known(known());
    assert!(guard.knows_functions());
    assert!(guard.check("me", cte).await.is_ok());
}

#[test]
fn analytic_selects_pass() {
    ok(
        "SELECT s.store_name, SUM(oi.total_amount) FROM retail.order_items oi \
        JOIN retail.stores s ON s.store_id = oi.store_id GROUP BY 1 ORDER BY 2 DESC LIMIT 10",
    );
    ok(
        "WITH monthly AS (SELECT date_trunc('month', order_date) m, count(*) n FROM orders GROUP BY 1) \
        SELECT monthly.m, monthly.n FROM monthly ORDER BY m",
    );
    ok("SELECT extract(year FROM order_date)::int AS y, count(*) FROM retail.orders GROUP BY y");
    ok(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'retail'",
    );
    ok("SELECT * FROM retail.products WHERE product_name ILIKE $1");
    ok("SELECT 1;");
    ok(
        "SELECT p.product_name, e.description_embedding <=> $1::vector AS d \
        FROM retail.product_description_embeddings e JOIN retail.products p USING (product_id) \
        ORDER BY 2 LIMIT 5",
    );
    ok(
        "SELECT to_char(order_date, 'YYYY-MM') AS month, round(avg(total_amount)::numeric, 2) \
        FROM retail.order_items oi JOIN retail.orders o USING (order_id) GROUP BY 1",
    );
    ok(
        "SELECT store_id, rank() OVER (PARTITION BY store_id ORDER BY total_amount DESC) \
        FROM retail.order_items WHERE total_amount > 10 AND store_id IN (1, 2)",
    );
    ok(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY total_amount) FILTER (WHERE quantity > 1) \
        FROM retail.order_items",
    );
    ok(
        "SELECT CASE WHEN quantity BETWEEN 1 AND 3 THEN 'small' ELSE 'large' END, \
        coalesce(discount_percent, 0), greatest(1, 2), nullif(1, 2) FROM retail.order_items",
    );
    ok("SELECT x.key, x.value FROM jsonb_each('{\"a\": 1}'::jsonb) AS x");
    ok("SELECT t.a FROM json_to_record('{\"a\": 1}') AS t(a int)");
    ok(
        "SELECT JSON_OBJECT('a': 1), JSON_ARRAY(1, 2), '{}'::jsonb IS JSON OBJECT, \
        JSON_VALUE('{\"a\": 1}'::jsonb, '$.a' RETURNING int)",
    );
    ok("SELECT (o).store_id FROM (SELECT o FROM retail.orders o) s");
    ok("SELECT date(o.order_date) FROM retail.orders o");
    ok("SELECT current_date, current_timestamp, now() - interval '30 days'");
    ok(
        "SELECT 'english'::regconfig, to_tsvector('english', product_name) @@ \
        websearch_to_tsquery('english', $1) FROM retail.products",
    );
    ok(
        "SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_catalog.pg_constraint \
        WHERE connamespace = 'retail'::regnamespace",
    );
    ok(
        "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 5) SELECT i FROM r",
    );
    ok("SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS v(n, s)");
    ok("SELECT (array_agg(store_id ORDER BY store_id))[1:2] FROM retail.stores");
    ok("SELECT product_name COLLATE \"C\" FROM retail.products ORDER BY 1 USING <");
}

#[test]
fn one_select_only() {
    rejected("", "empty");
    rejected("SELECT 1; SELECT 2", "exactly one statement");
    rejected("COMMIT; SELECT 1", "exactly one statement");
    rejected("DELETE FROM retail.orders", "only SELECT");
    rejected("SET ROLE zava_owner", "only SELECT");
    rejected("COPY retail.orders TO '/tmp/x'", "only SELECT");
    rejected("EXPLAIN ANALYZE SELECT 1", "only SELECT");
    rejected("SELEC 1", "does not parse");
}

#[test]
fn writes_hidden_in_selects_are_refused() {
    rejected(
        "WITH d AS (DELETE FROM retail.orders RETURNING *) SELECT * FROM d",
        "data-modifying",
    );
    rejected("SELECT * INTO retail.copy FROM retail.orders", "INTO");
    rejected("SELECT * FROM retail.orders FOR UPDATE", "row locking");
    rejected("SELECT nextval('retail.orders_order_id_seq')", "nextval");
}

#[test]
fn side_effects_and_forgery_are_refused() {
    rejected(
        "SELECT set_config('zava.scope', 'all:x', true)",
        "set_config",
    );
    rejected(
        "SELECT pg_catalog.set_config('role', 'zava_owner', false)",
        "set_config",
    );
    rejected("SELECT pg_advisory_lock(1)", "pg_advisory_lock");
    rejected("SELECT pg_advisory_unlock_all()", "pg_advisory_unlock_all");
    rejected("SELECT pg_sleep(10)", "pg_sleep");
    rejected("SELECT pg_read_file('/etc/passwd')", "pg_read_file");
    rejected("SELECT lo_import('/etc/passwd')", "lo_import");
    rejected("SELECT dblink('host=x', 'select 1')", "dblink");
    rejected(
        "SELECT query_to_xml(format('select %s', 1), true, true, '')",
        "query_to_xml",
    );
    rejected(
        "SELECT rls.enter('x', '00000000-0000-0000-0000-000000000000')",
        "rls.enter",
    );
    rejected(
        "SELECT * FROM retail.orders o, LATERAL (SELECT set_config('a.b', 'c', true)) x",
        "set_config",
    );
    rejected("SELECT current_setting('zava.scope')", "current_setting");
    rejected("SELECT clock_timestamp()", "clock_timestamp");
    rejected("SELECT timeofday()", "timeofday");
    rejected("SELECT repeat('x', 100000000)", "repeat");
}

#[test]
fn attribute_notation_is_a_call() {
    // The red team's statistics oracle, and its variants.
    rejected(
        "SELECT ('retail.orders_store_date_idx'::regclass::oid).pg_stat_get_xact_tuples_returned",
        "pg_stat_get_xact_tuples_returned",
    );
    rejected(
        "WITH b AS MATERIALIZED (SELECT (1::oid).pg_stat_get_xact_tuples_returned AS c0) SELECT 1",
        "pg_stat_get_xact_tuples_returned",
    );
    rejected(
        "SELECT (pid).pg_stat_get_backend_activity FROM (SELECT 1 AS pid) p",
        "pg_stat_get_backend_activity",
    );
    rejected(
        "SELECT p.pg_stat_get_backend_activity FROM (SELECT 1 AS pid) p",
        "pg_stat_get_backend_activity",
    );
    rejected("SELECT (10.0).pg_sleep", "pg_sleep");
    rejected(
        "SELECT ('zava.scope'::text).current_setting",
        "current_setting",
    );
    // A column alias named like a function does not make the call safe.
    rejected(
        "SELECT (1::oid).pg_stat_get_xact_tuples_returned, 2 AS pg_stat_get_xact_tuples_returned",
        "pg_stat_get_xact_tuples_returned",
    );
    rejected("SELECT s.x.version FROM retail.stores s", "version");
    // A name no function has but a type has is a cast (to anything).
    rejected(
        "SELECT (x).regproc FROM (SELECT 'pg_sleep' AS x) s",
        "regproc",
    );
    rejected("SELECT (x)._polygon FROM (SELECT '{}' AS x) s", "_polygon");
    ok("SELECT (x).text FROM (SELECT 1 AS x) s");
    // Names no function has, and allowlisted ones, pass.
    ok("SELECT o.store_id, o.order_date FROM retail.orders o");
    ok("SELECT (o).count FROM (SELECT 1) o");
    ok("SELECT t.order_date.date FROM retail.orders t");
}

#[test]
fn system_columns_are_refused() {
    for sql in [
        "SELECT ctid FROM retail.orders",
        "SELECT o.xmin, o.order_id FROM retail.orders o",
        "SELECT max(ctid)::text FROM retail.orders",
        "SELECT tableoid FROM retail.orders",
        "SELECT (o).cmax FROM retail.orders o",
    ] {
        rejected(sql, "system column");
    }
    ok("SELECT oid, conname FROM pg_catalog.pg_constraint");
}

#[test]
fn operators_types_and_constructs_outside_the_allowlist_are_refused() {
    rejected("SELECT point(1,2) ## lseg(point(0,0), point(1,1))", "##");
    rejected("SELECT point(1,2)", "point");
    rejected("SELECT 1 OPERATOR(pg_catalog.##) 2", "##");
    rejected("SELECT 1 OPERATOR(evil.+) 2", "evil.+");
    rejected("SELECT '<a/>'::xml", "xml");
    rejected("SELECT 'now'::regproc", "regproc");
    rejected("SELECT 1::evil.int4", "evil.int4");
    rejected("SELECT xmlelement(name a, 'b')", "XML");
    rejected(
        "SELECT * FROM XMLTABLE('/a' PASSING '<a/>' COLUMNS b int)",
        "XML",
    );
    rejected(
        "SELECT * FROM retail.orders TABLESAMPLE SYSTEM (1)",
        "TABLESAMPLE",
    );
    rejected("SELECT evil.f(1)", "evil.f");
    rejected("SELECT a.b.c.d(1)", "a.b.c.d");
    rejected("SELECT 1 = ANY (SELECT 1) AND 1 ## 2", "##");
    rejected("SELECT 1 FROM retail.orders ORDER BY 1 USING ##", "##");
}

#[test]
fn catalog_side_channels_are_refused() {
    rejected(
        "SELECT reltuples FROM pg_class WHERE relname = 'orders'",
        "pg_class",
    );
    rejected(
        "SELECT reltuples FROM pg_catalog.pg_class",
        "pg_catalog.pg_class",
    );
    rejected("SELECT * FROM pg_stats", "pg_stats");
    rejected("SELECT * FROM pg_stat_activity", "pg_stat_activity");
    rejected(
        "SELECT * FROM information_schema.routines",
        "information_schema.routines",
    );
    rejected(
        "SELECT * FROM other_db.retail.orders",
        "other_db.retail.orders",
    );
    // A CTE named like a catalog view elsewhere does not unlock the view.
    rejected(
        "SELECT query FROM pg_stat_activity WHERE EXISTS \
         (WITH pg_stat_activity AS (SELECT 1) SELECT 1 FROM pg_stat_activity)",
        "pg_stat_activity",
    );
    rejected(
        "SELECT ts_rewrite('a'::tsquery, 'SELECT ''a''::tsquery, ''b''::tsquery')",
        "ts_rewrite",
    );
    rejected(
        "SELECT * FROM rls_private.principals",
        "rls_private.principals",
    );
    ok("SELECT indexdef FROM pg_catalog.pg_indexes WHERE schemaname = 'retail'");
    ok("SELECT indexdef FROM pg_indexes WHERE schemaname = 'retail'");
}

#[test]
fn cte_names_are_scoped_as_postgresql_scopes_them() {
    // A CTE sees the ones before it, not the ones after (without RECURSIVE).
    rejected(
        "WITH a AS (SELECT * FROM secrets), secrets AS (SELECT 1) SELECT * FROM a",
        "secrets",
    );
    ok("WITH secrets AS (SELECT 1 AS x), a AS (SELECT * FROM secrets) SELECT * FROM a");
    // Under RECURSIVE every CTE of the clause is in scope.
    ok("WITH RECURSIVE a AS (SELECT * FROM b), b AS (SELECT 1 AS x) SELECT * FROM a");
    // Not outside the statement that defines it.
    rejected(
        "SELECT * FROM secrets, (WITH secrets AS (SELECT 1) SELECT 1) s",
        "secrets",
    );
    ok("WITH w AS (SELECT 1 AS x) SELECT (SELECT x FROM w) FROM w");
    rejected(
        "WITH pg_class AS (SELECT 1) SELECT * FROM pg_class",
        "reserved",
    );
}

#[tokio::test]
async fn deep_nesting_is_refused_not_a_crash() {
    // The parser's decoder recurses with large frames: on a default 2 MiB
    // thread, 30 nested subqueries overflowed the stack and aborted the
    // process. The guard parses on a thread with room to spare.
    let guard = Guard::new(DEFAULT_MAX_SQL_BYTES, known());
    for depth in [10, 30, 100, 1000, 3000] {
        let shapes = [
            format!(
                "SELECT 1 FROM {}retail.orders{}",
                "(SELECT * FROM ".repeat(depth),
                ") s".repeat(depth)
            ),
            format!("SELECT {}1{}", "abs(".repeat(depth), ")".repeat(depth)),
            format!("SELECT {}1{}", "ARRAY[".repeat(depth), "]".repeat(depth)),
            format!(
                "SELECT 1 WHERE {}true{}",
                "EXISTS (SELECT 1 WHERE ".repeat(depth),
                ")".repeat(depth)
            ),
            format!(
                "SELECT {} 1 {}",
                "CASE WHEN true THEN ".repeat(depth),
                " END".repeat(depth)
            ),
        ];
        for sql in shapes.iter().filter(|s| s.len() <= DEFAULT_MAX_SQL_BYTES) {
            let verdict = guard.check("me", sql).await;
            if depth >= 100 {
                assert!(verdict.is_err(), "{depth}: {}", &sql[..60]);
            }
        }
    }
}

#[test]
fn every_retail_table_is_listed_in_the_migrations() {
    let schema: String = crate::db::migrate::MIGRATIONS
        .iter()
        .map(|(_, sql)| *sql)
        .collect();
    for table in RETAIL_TABLES {
        assert!(
            schema.contains(&format!("CREATE TABLE retail.{table} (")),
            "{table} is not created by the migrations"
        );
    }
    // Tables recreated by a later migration (0008 partitions three) count
    // once; partitions are made by name pattern and read through their
    // parents only.
    let created: std::collections::BTreeSet<&str> = schema
        .split("CREATE TABLE retail.")
        .skip(1)
        .filter_map(|rest| rest.lines().next())
        .filter(|line| !line.starts_with('%') && !line.contains(" PARTITION OF "))
        .filter_map(|line| line.split([' ', '(']).next())
        .collect();
    assert_eq!(created.len(), RETAIL_TABLES.len(), "{created:?}");
}
