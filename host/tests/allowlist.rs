//! The allowlist, generated rather than hand-picked: every function and
//! every relation the database has is tried, through the statement guard and
//! (with the guard off, on a database migrated by a superuser) straight
//! against PostgreSQL as the query role. Outside the allowlist, both refuse.

use crate::support;

use std::time::Duration;

use mcp_host::db::caller::{CallerDb, QueryLimits};
use mcp_host::db::guard::{self, Allowlist, KnownFunctions, RETAIL_TABLES};
use support::pg::TestDb;
use tokio_postgres::Client;

struct Function {
    schema: String,
    name: String,
    kind: String,
    /// Argument types as SQL type names; `None` when one is a pseudo-type
    /// that no value can be cast to (internal, anyelement, ...).
    args: Option<Vec<String>>,
    /// What PostgreSQL says the query role may execute.
    executable: bool,
    /// The function behind an allowlisted operator or cast, an index
    /// support function (comparison, hashing), or the input or output
    /// function of an allowlisted type.
    operator_or_cast: bool,
}

async fn functions(admin: &Client) -> Vec<Function> {
    let allow = Allowlist::get();
    let operators: Vec<String> = allow.operators.iter().cloned().collect();
    let types: Vec<String> = allow.types.iter().cloned().collect();
    admin
        .query(
            "SELECT n.nspname::text, p.proname::text, p.prokind::text,
                    CASE WHEN bool_and(t.typtype IS DISTINCT FROM 'p') OR p.pronargs = 0
                         THEN array_agg(format_type(a.t, NULL) ORDER BY a.i)
                              FILTER (WHERE a.t IS NOT NULL) END,
                    has_function_privilege('zava_query', p.oid, 'EXECUTE'),
                    p.oid IN (SELECT oprcode::oid FROM pg_operator WHERE oprname = ANY($1))
                    OR p.oid IN (SELECT c.castfunc FROM pg_cast c JOIN pg_type ct ON ct.oid = c.casttarget
                                 WHERE ct.typname = ANY($2))
                    OR p.oid IN (SELECT amproc::oid FROM pg_amproc)
                    OR p.oid IN (SELECT unnest(ARRAY[t.typinput, t.typoutput, t.typreceive, t.typsend]::oid[])
                                 FROM pg_type t WHERE t.typname = ANY($2)
                                    OR t.typelem IN (SELECT e.oid FROM pg_type e WHERE e.typname = ANY($2)))
             FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             LEFT JOIN LATERAL unnest(p.proargtypes::oid[]) WITH ORDINALITY AS a(t, i) ON true
             LEFT JOIN pg_type t ON t.oid = a.t
             GROUP BY p.oid, n.nspname, p.proname, p.prokind, p.pronargs
             ORDER BY 1, 2",
            &[&operators, &types],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| Function {
            schema: r.get(0),
            name: r.get(1),
            kind: r.get(2),
            args: r.get(3),
            executable: r.get(4),
            operator_or_cast: r.get(5),
        })
        .collect()
}

async fn known_functions(admin: &Client) -> KnownFunctions {
    let names: Vec<String> = admin
        .query_one("SELECT array_agg(DISTINCT proname::text) FROM pg_proc", &[])
        .await
        .unwrap()
        .get(0);
    KnownFunctions::new(names)
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A call of `f` in SQL, with NULL arguments of its types. Each argument is
/// a scalar subquery: a strict function of constant NULLs is folded away by
/// the planner without being called (so without a permission check), and
/// the call is tested with `IS NULL` so that any result type can be read.
fn call_sql(f: &Function, args: &[String]) -> String {
    let args: Vec<String> = args.iter().map(|t| argument(t)).collect();
    let over = if f.kind == "w" { " OVER ()" } else { "" };
    format!(
        "SELECT ({}.{}({}){over}) IS NULL AS x",
        quote(&f.schema),
        quote(&f.name),
        args.join(", ")
    )
}

fn argument(ty: &str) -> String {
    format!("(SELECT NULL::{ty})")
}

/// The host's own functions: the database lets the query role run them
/// (the gate, the policies' scope checks), the guard refuses them.
fn host_only(f: &Function) -> bool {
    let allow = Allowlist::get();
    allow.host_only.iter().any(|h| {
        *h == format!("{}.{}", f.schema, f.name) || (f.schema == "pg_catalog" && *h == f.name)
    })
}

#[tokio::test]
async fn every_function_outside_the_allowlist_is_refused_by_the_guard_and_by_postgresql() {
    let db = TestDb::fresh().await;
    let admin = db.admin().await;
    let allow = Allowlist::get();
    let known = known_functions(&admin).await;
    let functions = functions(&admin).await;
    assert!(functions.len() > 3000, "{} functions", functions.len());

    // 1. The guard: by name, qualified and not, and in attribute notation.
    let mut guard_failures = Vec::new();
    for f in &functions {
        let allowed = allow.allows_function(Some(&f.schema), &f.name);
        let arity = f.args.as_ref().map_or(1, Vec::len);
        let nulls = vec!["NULL"; arity].join(", ");
        let over = if f.kind == "w" { " OVER ()" } else { "" };
        let qualified = format!(
            "SELECT {}.{}({nulls}){over}",
            quote(&f.schema),
            quote(&f.name)
        );
        let plain = format!("SELECT {}({nulls}){over}", quote(&f.name));
        let attribute = format!("SELECT (NULL::text).{}", quote(&f.name));
        for (sql, expect) in [
            (&qualified, allowed),
            (&plain, allow.allows_function(None, &f.name)),
            (&attribute, allow.functions.contains(&f.name)),
        ] {
            let verdict = guard::check(sql, &known);
            if verdict.is_ok() != expect {
                guard_failures.push(format!("{sql}: {verdict:?}"));
            }
        }
    }
    assert!(
        guard_failures.is_empty(),
        "the guard disagrees with the allowlist:\n{}",
        guard_failures.join("\n")
    );

    // 2. PostgreSQL: only the allowlist (by name, or behind an allowlisted
    // operator or cast) and the host's own functions are executable.
    let open: Vec<String> = functions
        .iter()
        .filter(|f| f.executable)
        .filter(|f| {
            !(allow.allows_function(Some(&f.schema), &f.name) || f.operator_or_cast || host_only(f))
        })
        .map(|f| format!("{}.{}", f.schema, f.name))
        .collect();
    assert!(
        open.is_empty(),
        "the query role may execute functions outside the allowlist: {open:?}"
    );

    // 3. And it says so when asked, in call syntax and attribute notation,
    // with the guard off.
    let limits = QueryLimits {
        parser_guard: false,
        statement_timeout: Duration::from_secs(2),
        ..QueryLimits::default()
    };
    let caller = CallerDb::new(db.query_config(), db.secret().to_string(), limits, 2).unwrap();
    let seattle: uuid::Uuid = support::SEATTLE.parse().unwrap();
    let mut tried = 0;
    let mut denied = 0;
    let mut db_failures = Vec::new();
    for f in functions.iter().filter(|f| !f.executable && f.kind != "p") {
        let Some(args) = &f.args else { continue };
        let mut statements = vec![call_sql(f, args)];
        if args.len() == 1 && f.kind == "f" {
            statements.push(format!(
                "SELECT ({}).{} IS NULL AS x",
                argument(&args[0]),
                quote(&f.name)
            ));
        }
        for sql in statements {
            tried += 1;
            match caller.query(seattle, &sql, &[], 1).await {
                Ok(_) => db_failures.push(format!("{sql}: ran")),
                Err(error) => {
                    let text = format!("{error:?}");
                    denied += usize::from(text.contains("permission denied"));
                    // Some signatures cannot even be resolved from NULLs
                    // (polymorphic, ambiguous): no call, which is fine.
                    if !(text.contains("permission denied")
                        || text.contains("does not exist")
                        || text.contains("could not determine")
                        || text.contains("is not unique")
                        || text.contains("cannot accept")
                        || text.contains("not supported")
                        || text.contains("pseudo-type")
                        // Attribute notation that resolves to no call at all.
                        || text.contains("column notation"))
                    {
                        db_failures.push(format!("{sql}: {text}"));
                    }
                }
            }
        }
    }
    // ~1,600 here: the rest take pseudo-types (internal, any...) that no
    // SQL value has, and step 2 covers them.
    assert!(tried > 1000, "{tried} calls tried");
    // Most calls reach the permission check (the rest cannot be resolved
    // from NULL arguments); and the same shape of call does run when the
    // function is allowlisted.
    assert!(denied > 1000, "{denied} of {tried} calls denied");
    for sql in [
        "SELECT (\"pg_catalog\".\"abs\"((SELECT NULL::integer))) IS NULL AS x",
        "SELECT ((SELECT NULL::text)).\"lower\" IS NULL AS x",
        "SELECT (\"pg_catalog\".\"row_number\"() OVER ()) IS NULL AS x",
    ] {
        caller
            .query(seattle, sql, &[], 1)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    }
    assert!(
        db_failures.is_empty(),
        "PostgreSQL did not refuse:\n{}",
        db_failures.join("\n")
    );
}

#[tokio::test]
async fn every_relation_outside_the_allowlist_is_refused_and_the_allowed_ones_work() {
    let db = TestDb::fresh().await;
    let admin = db.admin().await;
    let allow = Allowlist::get();
    let known = known_functions(&admin).await;
    let relations = admin
        .query(
            "SELECT n.nspname::text, c.relname::text,
                    has_table_privilege('zava_query', c.oid, 'SELECT')
                    OR has_any_column_privilege('zava_query', c.oid, 'SELECT')
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f') ORDER BY 1, 2",
            &[],
        )
        .await
        .unwrap();
    assert!(relations.len() > 150, "{} relations", relations.len());
    let mut failures = Vec::new();
    let mut allowed_ones = Vec::new();
    for row in &relations {
        let (schema, name, readable): (String, String, bool) = (row.get(0), row.get(1), row.get(2));
        let allowed = (schema == "retail" && RETAIL_TABLES.contains(&name.as_str()))
            || allow
                .catalog_relations
                .contains(&format!("{schema}.{name}"));
        let sql = format!("SELECT * FROM {}.{}", quote(&schema), quote(&name));
        let verdict = guard::check(&sql, &known);
        if verdict.is_ok() != allowed {
            failures.push(format!("guard: {sql}: {verdict:?}"));
        }
        if readable != allowed {
            failures.push(format!("database: {schema}.{name} readable = {readable}"));
        }
        if allowed {
            allowed_ones.push(sql);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // What the allowlist names works as the query role, guard on: the
    // functions the catalog views call are allowlisted too.
    let caller = CallerDb::new(
        db.query_config(),
        db.secret().to_string(),
        QueryLimits::default(),
        2,
    )
    .unwrap();
    let seattle: uuid::Uuid = support::SEATTLE.parse().unwrap();
    let mut broken = Vec::new();
    for sql in &allowed_ones {
        // Text columns only: some catalog columns have types no tool returns.
        let sql = format!("SELECT count(*) FROM ({sql}) AS r");
        if let Err(error) = caller.query(seattle, &sql, &[], 1).await {
            broken.push(format!("{sql}: {error:?}"));
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn host_only_functions_are_not_callable_by_name_in_queries() {
    let known = KnownFunctions::new(["pg_advisory_unlock_all".to_string(), "enter".into()]);
    for sql in [
        "SELECT pg_advisory_unlock_all()",
        "SELECT rls.enter('a', 1, NULL)",
        "SELECT rls.callable_names()",
        "SELECT rls.sees_all_stores()",
    ] {
        assert!(guard::check(sql, &known).is_err(), "{sql}");
    }
}
