//! Defence in depth: PostgreSQL's own parser (libpg_query) checks caller SQL
//! before it reaches the server.
//!
//! This is *not* what keeps callers apart — Row Level Security with an
//! unforgeable scope, a read-only transaction and a role that may only
//! SELECT do that (see `migrations/0002_row_level_security.sql`). The guard
//! turns whole classes of attempts into an early, clear "rejected" that an
//! assistant can act on, and blocks side channels that RLS does not cover
//! (catalog statistics, advisory locks, functions that run SQL text).
//!
//! The parse tree is walked generically (every node, through its serde
//! form), so no node type can hide a call from the walk.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use serde_json::Value;

/// The `retail` tables: the only relations a query may name without a schema.
pub const RETAIL_TABLES: &[&str] = &[
    "stores",
    "customers",
    "categories",
    "product_types",
    "products",
    "inventory",
    "orders",
    "order_items",
    "product_description_embeddings",
    "embedding_model",
];

/// Catalog views that describe the schema without revealing row data or
/// statistics (used by `get_multiple_table_schemas`).
const CATALOG_VIEWS: &[&str] = &["pg_indexes", "pg_constraint", "pg_description", "pg_type"];

/// Functions that change state, run SQL text, touch files or the network,
/// or leave something behind in the session.
const DENIED_FUNCTIONS: &[&str] = &[
    "set_config",
    "setseed",
    "nextval",
    "setval",
    "currval",
    "lastval",
    "loread",
    "lowrite",
    "query_to_xml",
    "query_to_xmlschema",
    "query_to_xml_and_xmlschema",
    "cursor_to_xml",
    "cursor_to_xmlschema",
    "ts_stat",
    "ts_rewrite",
    "txid_current",
    "txid_current_if_assigned",
    "txid_current_snapshot",
    "gin_clean_pending_list",
];
const DENIED_PREFIXES: &[&str] = &[
    "dblink",
    "lo_",
    "table_to_xml",
    "schema_to_xml",
    "database_to_xml",
    "brin_",
    "binary_upgrade_",
];
/// `pg_*` functions are administrative; these few are harmless and useful.
const ALLOWED_PG_FUNCTIONS: &[&str] = &[
    "pg_typeof",
    "pg_size_pretty",
    "pg_get_constraintdef",
    "pg_get_indexdef",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Rejected(pub String);

fn reject<T>(message: impl Into<String>) -> Result<T, Rejected> {
    Err(Rejected(message.into()))
}

/// A statement that passed [`check`]: where it sits in the text (without
/// surrounding comments or the trailing `;`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    start: usize,
    end: usize,
    /// Whether an outer LIMIT leaves the statement's plan alone (see
    /// [`Checked::limited`]).
    limit_keeps_plan: bool,
}

impl Checked {
    /// The statement, wrapped so that the server stops after `rows` rows
    /// where that is free. Wrapping is safe because the statement is known to
    /// be exactly one SELECT; the newline keeps a trailing `--` comment from
    /// eating the closing parenthesis.
    ///
    /// A LIMIT is also a planning hint: PostgreSQL plans for the first rows,
    /// which for grouped or set-operation queries means nested loops over
    /// presorted input instead of hash joins — measured 2x slower on the
    /// demo data. Those queries (which return few rows anyway) run unwrapped
    /// and the row cap is applied while reading. (A row-limited portal
    /// would cap them too, but PostgreSQL never runs those in parallel.)
    pub fn limited(&self, sql: &str, rows: u32) -> String {
        let statement = &sql[self.start..self.end];
        if self.limit_keeps_plan {
            format!("SELECT * FROM (\n{statement}\n) AS result LIMIT {rows}")
        } else {
            statement.to_string()
        }
    }
}

/// [`check`] with a bounded memo: the check is a pure function of the text,
/// and tools send the same statements again and again (the schema tool's
/// catalog queries on every call).
#[derive(Default)]
pub struct CachedGuard {
    memo: Mutex<HashMap<String, Result<Checked, Rejected>>>,
}

const MEMO_ENTRIES: usize = 2048;
const MEMO_MAX_TEXT: usize = 8 * 1024;

impl CachedGuard {
    pub fn check(&self, sql: &str) -> Result<Checked, Rejected> {
        // Long texts are checked every time: a memo of megabyte strings
        // would be a memory sink anyone could fill.
        if sql.len() > MEMO_MAX_TEXT {
            return check(sql);
        }
        if let Ok(memo) = self.memo.lock()
            && let Some(known) = memo.get(sql)
        {
            return known.clone();
        }
        let verdict = check(sql);
        if let Ok(mut memo) = self.memo.lock() {
            if memo.len() >= MEMO_ENTRIES {
                memo.clear();
            }
            memo.insert(sql.to_string(), verdict.clone());
        }
        verdict
    }
}

/// Checks that `sql` is one read-only SELECT that names only allowed
/// relations and calls no denied function.
pub fn check(sql: &str) -> Result<Checked, Rejected> {
    let parsed = match pg_query::parse(sql, 0) {
        Ok(parsed) => parsed,
        Err(pg_query::Error::Parse(message)) => {
            return reject(format!("the SQL does not parse: {message}"));
        }
        Err(e) => return reject(format!("the SQL cannot be checked: {e}")),
    };
    let statements = &parsed.protobuf.stmts;
    match statements.len() {
        0 => return reject("the query is empty; send one SELECT statement"),
        1 => {}
        n => {
            return reject(format!(
                "send exactly one statement (got {n}); no `;`-separated statements"
            ));
        }
    }
    let tree = serde_json::to_value(&parsed.protobuf)
        .map_err(|e| Rejected(format!("the SQL cannot be checked: {e}")))?;
    let top = tree
        .pointer("/stmts/0/stmt/node")
        .and_then(Value::as_object)
        .and_then(|node| node.keys().next().cloned())
        .unwrap_or_default();
    if top != "SelectStmt" {
        return reject(format!(
            "only SELECT queries are allowed (this is a {})",
            statement_label(&top)
        ));
    }
    // pg_query lists every CTE name in the statement without its scope, so a
    // CTE named like a catalog relation in one subquery would let another
    // subquery reach the real one: such names are never taken as CTEs
    // (every pg_catalog relation starts with `pg_`).
    let ctes: HashSet<String> = parsed
        .cte_names
        .iter()
        .map(|n| n.to_lowercase())
        .filter(|n| !n.starts_with("pg_"))
        .collect();
    Walker { ctes: &ctes }.walk(&tree)?;
    // Byte offsets of the statement in the text (length 0: to the end).
    let raw = &statements[0];
    let start = usize::try_from(raw.stmt_location)
        .unwrap_or(0)
        .min(sql.len());
    let end = match usize::try_from(raw.stmt_len) {
        Ok(0) | Err(_) => sql.len(),
        Ok(len) => (start + len).min(sql.len()),
    };
    if !sql.is_char_boundary(start) || !sql.is_char_boundary(end) {
        return reject(
            "the SQL cannot be checked: statement bounds are not on character boundaries",
        );
    }
    let select = tree.pointer("/stmts/0/stmt/node/SelectStmt");
    let non_empty = |key: &str| {
        select
            .and_then(|s| s.get(key))
            .is_some_and(|v| v.as_array().is_some_and(|a| !a.is_empty()) || v.is_object())
    };
    let limit_keeps_plan = !(non_empty("group_clause")
        || non_empty("distinct_clause")
        || non_empty("having_clause")
        || non_empty("larg"));
    Ok(Checked {
        start,
        end,
        limit_keeps_plan,
    })
}

fn statement_label(node: &str) -> String {
    let name = node.strip_suffix("Stmt").unwrap_or(node);
    match name {
        "" => "statement the server does not recognise".into(),
        _ => format!("{} statement", name.to_uppercase()),
    }
}

struct Walker<'a> {
    ctes: &'a HashSet<String>,
}

impl Walker<'_> {
    fn walk(&self, value: &Value) -> Result<(), Rejected> {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    self.visit(key, child)?;
                    self.walk(child)?;
                }
                Ok(())
            }
            Value::Array(items) => items.iter().try_for_each(|item| self.walk(item)),
            _ => Ok(()),
        }
    }

    fn visit(&self, key: &str, node: &Value) -> Result<(), Rejected> {
        match key {
            "InsertStmt" | "UpdateStmt" | "DeleteStmt" | "MergeStmt" => reject(format!(
                "data-modifying statements are not allowed (found {} inside the query)",
                statement_label(key)
            )),
            "into_clause" if !node.is_null() => {
                reject("SELECT ... INTO creates a table and is not allowed; drop the INTO clause")
            }
            "locking_clause" if node.as_array().is_some_and(|a| !a.is_empty()) => reject(
                "row locking (FOR UPDATE / FOR SHARE ...) is not allowed in read-only queries",
            ),
            "RangeVar" => self.relation(node),
            "FuncCall" => function(node),
            _ => Ok(()),
        }
    }

    fn relation(&self, node: &Value) -> Result<(), Rejected> {
        let schema = node["schemaname"].as_str().unwrap_or_default();
        let name = node["relname"].as_str().unwrap_or_default();
        let allowed = match schema {
            "" => RETAIL_TABLES.contains(&name) || self.ctes.contains(name),
            "retail" => RETAIL_TABLES.contains(&name),
            "information_schema" => true,
            "pg_catalog" => CATALOG_VIEWS.contains(&name),
            _ => false,
        };
        if allowed {
            return Ok(());
        }
        let qualified = if schema.is_empty() {
            name.to_string()
        } else {
            format!("{schema}.{name}")
        };
        reject(format!(
            "`{qualified}` is not available to queries; use the retail tables ({})",
            RETAIL_TABLES
                .iter()
                .map(|t| format!("retail.{t}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

fn function(node: &Value) -> Result<(), Rejected> {
    let parts: Vec<&str> = node["funcname"]
        .as_array()
        .map(|names| {
            names
                .iter()
                .filter_map(|n| n.pointer("/node/String/sval").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    let Some((&name, schema)) = parts.split_last() else {
        return reject("a function call could not be checked");
    };
    let qualified = parts.join(".");
    let schema_ok = schema.is_empty() || schema == ["pg_catalog"];
    let denied = !schema_ok
        || DENIED_FUNCTIONS.contains(&name)
        || DENIED_PREFIXES.iter().any(|p| name.starts_with(p))
        || (name.starts_with("pg_") && !ALLOWED_PG_FUNCTIONS.contains(&name));
    if denied {
        return reject(format!(
            "the function `{qualified}` is not allowed in queries (it can change state, run SQL \
             text, reach files or the network, or bypass the caller's scope)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(sql: &str) {
        if let Err(e) = check(sql) {
            panic!("{sql}: rejected: {e}");
        }
    }

    #[test]
    fn checked_statements_are_limited_without_their_semicolon_or_comments() {
        let sql = "  SELECT store_id FROM retail.orders; -- done";
        let checked = check(sql).unwrap();
        assert_eq!(
            checked.limited(sql, 11),
            "SELECT * FROM (\nSELECT store_id FROM retail.orders\n) AS result LIMIT 11"
        );
        let sql = "SELECT 1 -- trailing";
        assert_eq!(
            check(sql).unwrap().limited(sql, 2),
            "SELECT * FROM (\nSELECT 1 -- trailing\n) AS result LIMIT 2"
        );
        // Grouped, distinct and set-operation queries keep their plan.
        for sql in [
            "SELECT store_id, count(*) FROM retail.orders GROUP BY 1;",
            "SELECT DISTINCT store_id FROM retail.orders",
            "SELECT 1 UNION SELECT 2",
        ] {
            let checked = check(sql).unwrap();
            assert_eq!(checked.limited(sql, 5), sql.trim_end_matches(';'), "{sql}");
        }
        let guard = CachedGuard::default();
        assert!(guard.check("SELECT 1").is_ok());
        assert!(guard.check("SELECT 1").is_ok());
        assert!(guard.check("DELETE FROM retail.orders").is_err());
        assert!(guard.check("DELETE FROM retail.orders").is_err());
    }

    fn rejected(sql: &str, needle: &str) {
        match check(sql) {
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
    fn analytic_selects_pass() {
        ok(
            "SELECT s.store_name, SUM(oi.total_amount) FROM retail.order_items oi \
            JOIN retail.stores s ON s.store_id = oi.store_id GROUP BY 1 ORDER BY 2 DESC LIMIT 10",
        );
        ok(
            "WITH monthly AS (SELECT date_trunc('month', order_date) m, count(*) n FROM orders GROUP BY 1) \
            SELECT * FROM monthly ORDER BY m",
        );
        ok(
            "SELECT extract(year FROM order_date)::int AS y, count(*) FROM retail.orders GROUP BY y",
        );
        ok(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'retail'",
        );
        ok("SELECT * FROM retail.products WHERE product_name ILIKE $1");
        ok("SELECT 1;");
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
        // A CTE named like a catalog view elsewhere does not unlock the view.
        rejected(
            "SELECT query FROM pg_stat_activity WHERE EXISTS \
             (WITH pg_stat_activity AS (SELECT 1) SELECT 1 FROM pg_stat_activity)",
            "pg_stat_activity",
        );
        // Functions that run SQL text are refused.
        rejected(
            "SELECT ts_rewrite('a'::tsquery, 'SELECT ''a''::tsquery, ''b''::tsquery')",
            "ts_rewrite",
        );
        rejected(
            "SELECT * FROM rls_private.principals",
            "rls_private.principals",
        );
        ok("SELECT indexdef FROM pg_catalog.pg_indexes WHERE schemaname = 'retail'");
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
        assert_eq!(
            schema.matches("CREATE TABLE retail.").count(),
            RETAIL_TABLES.len()
        );
    }
}
