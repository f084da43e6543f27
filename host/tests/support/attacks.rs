//! The SQL attack corpus, shared by `sql_attacks.rs` (what each case may
//! see and change, in three configurations) and `memory.rs` (what the whole
//! corpus costs the host in memory).

pub struct Attack {
    pub name: &'static str,
    pub sql: &'static str,
}

const fn attack(name: &'static str, sql: &'static str) -> Attack {
    Attack { name, sql }
}

pub fn corpus() -> Vec<Attack> {
    vec![
        // Stacked statements.
        attack(
            "commit then read",
            "COMMIT; SELECT count(*) AS n FROM retail.orders",
        ),
        attack(
            "end then read",
            "END; SELECT count(*) AS n FROM retail.orders",
        ),
        attack(
            "rollback, set role",
            "ROLLBACK; SET ROLE zava_owner; SELECT count(*) AS n FROM retail.orders",
        ),
        attack(
            "read write then delete",
            "SET TRANSACTION READ WRITE; DELETE FROM retail.orders",
        ),
        attack("select then delete", "SELECT 1; DELETE FROM retail.orders"),
        attack(
            "own transaction",
            "BEGIN; DELETE FROM retail.orders; COMMIT",
        ),
        attack(
            "session setting after",
            "SELECT count(*) AS n FROM retail.orders; SELECT set_config('zava.scope', 'all:x', false)",
        ),
        // Writes hidden in a SELECT.
        attack(
            "delete in a CTE",
            "WITH d AS (DELETE FROM retail.orders RETURNING store_id) SELECT store_id FROM d",
        ),
        attack(
            "update in a CTE",
            "WITH u AS (UPDATE retail.orders SET store_id = 1 RETURNING store_id) SELECT store_id FROM u",
        ),
        attack(
            "insert in a CTE",
            "WITH i AS (INSERT INTO retail.stores (store_name) VALUES ('Evil') RETURNING store_id) SELECT store_id FROM i",
        ),
        attack(
            "select into",
            "SELECT * INTO retail.stolen FROM retail.orders",
        ),
        attack(
            "nextval",
            "SELECT nextval(pg_get_serial_sequence('retail.orders', 'order_id')) AS big",
        ),
        attack(
            "setval",
            "SELECT setval(pg_get_serial_sequence('retail.orders', 'order_id'), 1) AS big",
        ),
        attack(
            "for update",
            "SELECT store_id FROM retail.orders FOR UPDATE",
        ),
        attack(
            "for share nowait",
            "SELECT store_id FROM retail.orders FOR SHARE NOWAIT",
        ),
        attack(
            "merge",
            "MERGE INTO retail.stores s USING (SELECT 1 AS id) x ON s.store_id = x.id WHEN MATCHED THEN DELETE",
        ),
        attack("truncate", "TRUNCATE retail.order_items"),
        // Side effects.
        attack(
            "dblink",
            "SELECT dblink_exec('dbname=postgres', 'DROP TABLE retail.orders')",
        ),
        attack("lo_import", "SELECT lo_import('/etc/passwd') AS leak"),
        attack("lo_export", "SELECT lo_export(1234, '/tmp/zava-leak')"),
        attack("lo_create", "SELECT lo_create(0) AS big"),
        attack(
            "copy to file",
            "COPY retail.orders TO '/tmp/zava-orders.csv'",
        ),
        attack(
            "copy to stdout",
            "COPY (SELECT store_id FROM retail.orders) TO STDOUT",
        ),
        attack("advisory lock", "SELECT pg_advisory_lock(42)"),
        attack(
            "try advisory lock",
            "SELECT pg_try_advisory_lock(43) AS locked, count(*) AS n FROM retail.orders",
        ),
        attack("prepare", "PREPARE p AS SELECT store_id FROM retail.orders"),
        attack(
            "lock table",
            "LOCK TABLE retail.orders IN ACCESS EXCLUSIVE MODE",
        ),
        attack("notify", "NOTIFY zava, 'hello'"),
        attack("pg_notify", "SELECT pg_notify('zava', 'hello')"),
        attack("listen", "LISTEN zava"),
        attack("setseed", "SELECT setseed(0.5)"),
        // Identity forging.
        attack(
            "set_config in a CTE",
            concat!(
                "WITH x AS (SELECT set_config('zava.scope', 'all:' || split_part(current_setting('zava.scope'), ':', 2), true)) ",
                "SELECT count(*) AS n FROM x, retail.orders"
            ),
        ),
        attack(
            "set_config in WHERE",
            concat!(
                "SELECT count(*) AS n FROM retail.orders WHERE set_config('zava.scope', ",
                "'all:' || split_part(current_setting('zava.scope'), ':', 2), true) IS NOT NULL"
            ),
        ),
        attack(
            "set_config in LATERAL",
            concat!(
                "SELECT o.store_id FROM (SELECT set_config('zava.scope', 'all:' || split_part(current_setting('zava.scope'), ':', 2), true)) s, ",
                "LATERAL (SELECT store_id FROM retail.orders) o"
            ),
        ),
        attack(
            "classic sample's setting",
            concat!(
                "SELECT set_config('app.current_rls_user_id', '00000000-0000-0000-0000-000000000000', true), ",
                "count(*) AS n FROM retail.orders"
            ),
        ),
        attack(
            "query_to_xml",
            "SELECT query_to_xml('select store_id from retail.orders where store_id <> 1', true, false, '')::text AS xml",
        ),
        attack(
            "query_to_xml(format) forging",
            concat!(
                "SELECT query_to_xml(format('select set_config(%L, %s, true) as s, (select count(*) from retail.orders) as n', ",
                "'zava.scope', quote_literal('all:' || split_part(current_setting('zava.scope'), ':', 2))), true, false, '')::text AS xml"
            ),
        ),
        attack("set role", "SET ROLE zava_owner"),
        attack(
            "set_config role",
            "SELECT set_config('role', 'zava_owner', true), count(*) AS n FROM retail.orders",
        ),
        attack(
            "session authorization",
            "SET SESSION AUTHORIZATION postgres",
        ),
        attack(
            "enter without the secret",
            "SELECT rls.enter('guess', '00000000-0000-0000-0000-000000000000'), count(*) AS n FROM retail.orders",
        ),
        attack(
            "clear the scope",
            "SELECT set_config('zava.scope', '', true), count(*) AS n FROM retail.orders",
        ),
        attack("reset all", "RESET ALL"),
        attack(
            "forge with a copied mac",
            "SELECT set_config('zava.scope', '2:' || split_part(current_setting('zava.scope'), ':', 2), true), (SELECT count(*) FROM retail.orders) AS n",
        ),
        // Reads around the rules.
        attack("pg_read_file", "SELECT pg_read_file('/etc/passwd') AS leak"),
        attack(
            "pg_read_file config",
            "SELECT pg_read_file('postgresql.conf') AS leak",
        ),
        attack("pg_ls_dir", "SELECT pg_ls_dir('.') AS leak"),
        attack(
            "manager map",
            "SELECT user_id::text AS leak FROM rls_private.principals",
        ),
        attack(
            "hmac key",
            "SELECT mac_inner::text AS leak FROM rls_private.keys",
        ),
        attack(
            "the mac function",
            "SELECT rls_private.mac('all:1:1') AS leak",
        ),
        attack(
            "pg_stats",
            "SELECT most_common_vals::text AS leak FROM pg_stats WHERE tablename = 'orders'",
        ),
        attack(
            "reltuples",
            "SELECT reltuples::bigint AS n FROM pg_class WHERE relname = 'orders' AND reltuples > 0",
        ),
        attack(
            "live tuples",
            "SELECT n_live_tup AS n FROM pg_stat_user_tables WHERE relname = 'orders' AND n_live_tup > 0",
        ),
        attack(
            "other sessions' queries",
            "SELECT query AS leak FROM pg_stat_activity WHERE query LIKE '%rls.enter%' AND pid <> pg_backend_pid()",
        ),
        // Found in review: scope-less CTE names, SQL text run by ts_rewrite,
        // the pool's own sessions.
        attack(
            "CTE named like a catalog view",
            "SELECT query AS leak FROM pg_stat_activity WHERE pid <> pg_backend_pid() \
             AND EXISTS (WITH pg_stat_activity AS (SELECT 1) SELECT 1 FROM pg_stat_activity)",
        ),
        attack(
            "ts_rewrite runs SQL text",
            "SELECT ts_rewrite('a'::tsquery, 'SELECT (SELECT string_agg(query, ''|'') \
             FROM pg_stat_activity)::tsquery, ''a''::tsquery')::text AS leak",
        ),
        attack(
            "ts_rewrite forging",
            "SELECT ts_rewrite('a'::tsquery, 'SELECT set_config(''zava.scope'', ''all:0'', true)::tsquery, \
             ''a''::tsquery'), (SELECT count(*) FROM retail.orders) AS n",
        ),
        attack(
            "terminate the pool's sessions",
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = current_user \
             AND pid <> pg_backend_pid()",
        ),
        attack(
            "huge array",
            "SELECT array_fill(NULL::int, ARRAY[50000000]) AS big",
        ),
        // Resource attacks.
        attack("pg_sleep", "SELECT pg_sleep(60)"),
        attack(
            "recursive CTE",
            "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT count(*) AS big FROM r",
        ),
        attack(
            "huge series",
            "SELECT count(*) AS big FROM generate_series(1, 10000000000)",
        ),
        attack("huge repeat", "SELECT repeat('x', 200000000) AS big"),
        attack(
            "cross join",
            "SELECT count(*) AS big FROM retail.order_items a, retail.order_items b, retail.order_items c",
        ),
        // Statistics oracles: counters that count index entries and rows
        // *before* Row Level Security filters them (the red team read
        // Bellevue's order count and a customer's e-mail this way).
        attack(
            "stats oracle in attribute notation",
            "WITH b AS MATERIALIZED (SELECT ('retail.orders_store_date_idx'::regclass::oid).pg_stat_get_xact_tuples_returned AS c0), \
             p AS MATERIALIZED (SELECT (SELECT count(*) FROM retail.orders WHERE store_id = 2) AS c) \
             SELECT ('retail.orders_store_date_idx'::regclass::oid).pg_stat_get_xact_tuples_returned - b.c0 AS leak FROM b, p",
        ),
        attack(
            "stats oracle in call syntax",
            "WITH p AS MATERIALIZED (SELECT (SELECT count(*) FROM retail.orders WHERE store_id = 2) AS c) \
             SELECT pg_stat_get_xact_tuples_fetched('retail.orders_store_date_idx'::regclass) AS leak FROM p",
        ),
        attack(
            "stats oracle on a table alias",
            "SELECT x.pg_stat_get_xact_numscans AS leak FROM (SELECT 'retail.orders'::regclass::oid AS oid) s, \
             LATERAL (SELECT s.oid AS pg_stat_get_xact_numscans) x WHERE (s.oid).pg_stat_get_xact_numscans > 0",
        ),
        attack(
            "live tuple counter",
            "SELECT ('retail.orders'::regclass::oid).pg_stat_get_live_tuples AS leak",
        ),
        attack(
            "relation size",
            "SELECT ('retail.orders'::regclass).pg_relation_size AS leak",
        ),
        attack(
            "index statistics view",
            "SELECT idx_tup_read AS leak FROM pg_stat_user_indexes WHERE relname = 'orders'",
        ),
        // Other callers' SQL and sessions (every pool connection logs in
        // as the same role).
        attack(
            "other backends' activity",
            "SELECT pg_stat_get_backend_activity(i) AS leak FROM generate_series(1, 200) AS i \
             WHERE pg_stat_get_backend_activity(i) IS NOT NULL",
        ),
        attack(
            "other backends' activity in attribute notation",
            "SELECT (i).pg_stat_get_backend_activity AS leak FROM generate_series(1, 200) AS i \
             WHERE (i).pg_stat_get_backend_activity IS NOT NULL",
        ),
        attack(
            "pg_stat_get_activity",
            "SELECT query AS leak FROM pg_stat_get_activity(NULL) WHERE query IS NOT NULL",
        ),
        attack(
            "advisory lock in attribute notation",
            "SELECT (42::bigint).pg_advisory_lock IS NULL AS x",
        ),
        attack(
            "sleep in attribute notation",
            "SELECT (3.0::float8).pg_sleep IS NULL AS x",
        ),
        attack(
            "current_setting in attribute notation",
            "SELECT ('zava.scope'::text).current_setting AS leak",
        ),
        attack(
            "read a file in attribute notation",
            "SELECT ('postgresql.conf'::text).pg_read_file AS leak",
        ),
        // Timing: a clock that moves during the statement times other rows.
        attack(
            "clock inside a statement",
            "SELECT clock_timestamp() - statement_timestamp() AS leak",
        ),
        attack("timeofday", "SELECT timeofday() AS leak"),
        // XML (libxml does not honour statement_timeout where it exists).
        attack("xml cast", "SELECT '<a>1</a>'::xml::text AS leak"),
        attack("xpath", "SELECT xpath('/a', '<a>1</a>') AS leak"),
        attack("xmlelement", "SELECT xmlelement(name a, 'b')::text AS leak"),
        // Operators and casts outside the allowlist.
        attack(
            "geometric operator",
            "SELECT point(1, 1) <-> point(2, 2) AS leak",
        ),
        // Type input functions run without a privilege check, so only the
        // guard refuses this cast; it names a function, no row data.
        attack("regproc cast", "SELECT 'pg_sleep'::regproc::text AS x"),
        // Decode bombs: tiny on the wire, huge as text or JSON.
        attack(
            "numeric text bomb",
            "SELECT array_fill(1e131071::numeric, ARRAY[3000]) AS big",
        ),
        attack(
            "numeric text bomb from allowlisted parts",
            "SELECT array_agg(1e131071::numeric) AS big FROM generate_series(1, 3000)",
        ),
        attack(
            "numeric rows",
            "SELECT 1e131071::numeric AS big FROM generate_series(1, 3000)",
        ),
        attack("one huge row", "SELECT lpad('x', 200000000, 'y') AS big"),
        attack(
            "huge json",
            "SELECT jsonb_agg(lpad('x', 1000, 'y')) AS big FROM generate_series(1, 100000)",
        ),
        attack(
            "one huge row from allowlisted parts",
            "SELECT string_agg('xxxxxxxxxx', '') AS big FROM generate_series(1, 20000000)",
        ),
        attack(
            "huge bytea from allowlisted parts",
            "SELECT convert_to(string_agg('yyyyyyyyyy', ''), 'UTF8') AS big FROM generate_series(1, 6000000)",
        ),
        attack(
            "system columns count hidden rows",
            "SELECT max(ctid)::text AS leak, count(*) AS n FROM retail.orders",
        ),
        attack(
            "xmin of every row",
            "SELECT xmin::text AS leak FROM retail.orders",
        ),
        // Like the regproc cast above: refused by the guard; no row data.
        attack(
            "cast by attribute notation to a type outside the allowlist",
            "SELECT (x).regproc::text AS x FROM (SELECT CASE WHEN random() < 2 THEN 'pg_sleep' END AS x) s",
        ),
        attack(
            "uuidv7 is a stopwatch",
            "SELECT uuid_extract_timestamp(uuidv7())::text AS leak",
        ),
        attack(
            "array containment ignores statement_timeout",
            "SELECT (SELECT array_agg(g) FROM generate_series(1, 30000) g) @> \
             (SELECT array_agg(30000 + 0 * g) FROM generate_series(1, 30000) g) AS x",
        ),
        attack(
            "notice flood",
            "SELECT count(plainto_tsquery('english', CASE WHEN g > 0 THEN 'the' END)) AS x \
             FROM generate_series(1, 20000) g",
        ),
        attack(
            "huge bytea",
            "SELECT convert_to(lpad('x', 60000000, 'y'), 'UTF8') AS big",
        ),
        attack(
            "TABLESAMPLE",
            "SELECT count(*) AS n FROM retail.orders TABLESAMPLE SYSTEM (100)",
        ),
    ]
}
