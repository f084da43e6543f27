//! The database agrees with the statement guard: `migrate`, when it runs as a
//! superuser, lets the query role execute only the allowlisted functions and
//! read only the allowlisted catalog relations ([`crate::db::guard::allowlist`]).
//!
//! PostgreSQL checks EXECUTE on every function a statement reaches however it
//! is spelled — call syntax, attribute notation, the function behind an
//! operator or a cast — so revoking from PUBLIC closes what a guard bug
//! could let through. What is revoked from PUBLIC is granted to the owner
//! role, whose definer functions (the RLS gate) still need some of it.
//! Without a superuser (managed servers such as Azure's) nothing here can be
//! changed; `migrate` then says what stays open, and the guard holds alone.

use tokio_postgres::Client;

use super::guard::Allowlist;
use super::settings::{HQ_ROLE, OWNER_ROLE, QUERY_ROLE, SESSIONS_ROLE};

/// What one run changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Enforced {
    pub revoked_functions: u64,
    pub granted_functions: u64,
    pub revoked_relations: u64,
    pub granted_relations: u64,
}

/// What the host reads to judge a read replica (see `db::replicas`).
pub const REPLICA_HEALTH: &[&str] = &[
    "pg_is_in_recovery()",
    "pg_last_wal_receive_lsn()",
    "pg_last_wal_replay_lsn()",
    "pg_last_xact_replay_timestamp()",
];

/// The schemas whose functions and relations the allowlist governs.
const GOVERNED_SCHEMAS: &[&str] = &["pg_catalog", "public", "information_schema"];

/// The functions the query role may execute: allowlisted by name, the
/// functions behind allowlisted operators and behind casts to allowlisted
/// types, the index support functions (comparison, hashing, `in_range`:
/// the executor checks EXECUTE on some of them, e.g. the hash function of
/// a hashed `IN (...)` list; they compute on their arguments only), the
/// input and output functions of allowlisted types and their arrays (SQL/JSON
/// calls some of them as functions), and the host's own (`pg_advisory_unlock_all`, granted to the query
/// role alone). Functions in `rls` are granted by the migrations themselves.
const ALLOWED_FUNCTIONS: &str = "
    SELECT p.oid FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = ANY($1::text[])
      AND (p.proname = ANY($2::text[]) OR p.proname = ANY($6::text[])
           OR (n.nspname || '.' || p.proname) = ANY($3::text[])
           OR p.oid IN (SELECT o.oprcode::oid FROM pg_operator o WHERE o.oprname = ANY($4::text[]))
           OR p.oid IN (SELECT c.castfunc FROM pg_cast c JOIN pg_type t ON t.oid = c.casttarget
                        WHERE t.typname = ANY($5::text[]))
           OR p.oid IN (SELECT a.amproc::oid FROM pg_amproc a)
           OR p.oid IN (SELECT unnest(ARRAY[t.typinput, t.typoutput, t.typreceive, t.typsend]::oid[])
                        FROM pg_type t
                        WHERE t.typname = ANY($5::text[])
                           OR t.typelem IN (SELECT e.oid FROM pg_type e WHERE e.typname = ANY($5::text[]))))";

const ALLOWED_RELATIONS: &str = "
    SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE (n.nspname || '.' || c.relname) = ANY($1::text[])";

/// Makes the database enforce the allowlist. Idempotent: a second run
/// changes nothing. Must run as a superuser (built-ins belong to one).
pub async fn enforce(client: &Client) -> Result<Enforced, tokio_postgres::Error> {
    let allow = Allowlist::get();
    let (plain, qualified, operators, types) = function_parameters(allow);
    let host = host_builtins(allow);
    let relations: Vec<String> = allow.catalog_relations.iter().cloned().collect();
    let schemas: Vec<&str> = GOVERNED_SCHEMAS.to_vec();

    client.batch_execute("BEGIN").await?;
    let result = async {
        // Functions the query role can execute but must not.
        let revoke = client
            .query(
                &format!(
                    "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                     WHERE n.nspname = ANY($1::text[]) AND p.oid NOT IN ({ALLOWED_FUNCTIONS})
                       AND has_function_privilege('{QUERY_ROLE}', p.oid, 'EXECUTE')"
                ),
                &[&schemas, &plain, &qualified, &operators, &types, &host],
            )
            .await?;
        let grant = client
            .query(
                &format!(
                    "SELECT p.oid::regprocedure::text FROM pg_proc p
                     WHERE p.oid IN ({ALLOWED_FUNCTIONS}) AND p.proname <> ALL($6::text[])
                       AND NOT has_function_privilege('{QUERY_ROLE}', p.oid, 'EXECUTE')"
                ),
                &[&schemas, &plain, &qualified, &operators, &types, &host],
            )
            .await?;
        let mut statements = String::new();
        for row in &revoke {
            let function: String = row.get(0);
            statements.push_str(&format!(
                "REVOKE EXECUTE ON FUNCTION {function} FROM PUBLIC; \
                 GRANT EXECUTE ON FUNCTION {function} TO {OWNER_ROLE};\n"
            ));
        }
        for row in &grant {
            let function: String = row.get(0);
            statements.push_str(&format!(
                "GRANT EXECUTE ON FUNCTION {function} TO PUBLIC;\n"
            ));
        }
        // The host's own statements call these as the query role; nobody
        // else needs them, and caller SQL cannot reach them (guard).
        for name in &host {
            statements.push_str(&format!(
                "REVOKE EXECUTE ON FUNCTION pg_catalog.{name}() FROM PUBLIC; \
                 GRANT EXECUTE ON FUNCTION pg_catalog.{name}() TO {QUERY_ROLE}, {HQ_ROLE}, {OWNER_ROLE};\n"
            ));
        }
        // How far a read replica is behind, asked by the host on its own
        // login (never caller SQL's).
        for function in REPLICA_HEALTH {
            statements.push_str(&format!(
                "GRANT EXECUTE ON FUNCTION pg_catalog.{function} TO {SESSIONS_ROLE};\n"
            ));
        }

        // Catalog relations the query role can read but must not.
        let hide = client
            .query(
                &format!(
                    "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE n.nspname IN ('pg_catalog', 'information_schema')
                       AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
                       AND c.oid NOT IN ({ALLOWED_RELATIONS})
                       AND (has_table_privilege('{QUERY_ROLE}', c.oid, 'SELECT')
                            OR has_any_column_privilege('{QUERY_ROLE}', c.oid, 'SELECT'))"
                ),
                &[&relations],
            )
            .await?;
        let show = client
            .query(
                &format!(
                    "SELECT c.oid::regclass::text FROM pg_class c
                     WHERE c.oid IN ({ALLOWED_RELATIONS})
                       AND NOT has_table_privilege('{QUERY_ROLE}', c.oid, 'SELECT')"
                ),
                &[&relations],
            )
            .await?;
        for row in &hide {
            let relation: String = row.get(0);
            statements.push_str(&format!(
                "REVOKE SELECT ON {relation} FROM PUBLIC; GRANT SELECT ON {relation} TO {OWNER_ROLE};\n"
            ));
        }
        for row in &show {
            let relation: String = row.get(0);
            statements.push_str(&format!("GRANT SELECT ON {relation} TO PUBLIC;\n"));
        }
        client.batch_execute(&statements).await?;
        Ok(Enforced {
            revoked_functions: revoke.len() as u64,
            granted_functions: grant.len() as u64,
            revoked_relations: hide.len() as u64,
            granted_relations: show.len() as u64,
        })
    }
    .await;
    match result {
        Ok(enforced) => {
            client.batch_execute("COMMIT").await?;
            Ok(enforced)
        }
        Err(error) => {
            let _ = client.batch_execute("ROLLBACK").await;
            Err(error)
        }
    }
}

/// What the query role can reach that the allowlist does not name, as
/// counts — what a managed install (no superuser) leaves to the guard.
pub async fn exposure(client: &Client) -> Result<(i64, i64), tokio_postgres::Error> {
    let allow = Allowlist::get();
    let (plain, qualified, operators, types) = function_parameters(allow);
    let host = host_builtins(allow);
    let relations: Vec<String> = allow.catalog_relations.iter().cloned().collect();
    let schemas: Vec<&str> = GOVERNED_SCHEMAS.to_vec();
    let functions: i64 = client
        .query_one(
            &format!(
                "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                 WHERE n.nspname = ANY($1::text[]) AND p.oid NOT IN ({ALLOWED_FUNCTIONS})
                   AND has_function_privilege('{QUERY_ROLE}', p.oid, 'EXECUTE')"
            ),
            &[&schemas, &plain, &qualified, &operators, &types, &host],
        )
        .await?
        .get(0);
    let relations: i64 = client
        .query_one(
            &format!(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname IN ('pg_catalog', 'information_schema')
                   AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
                   AND c.oid NOT IN ({ALLOWED_RELATIONS})
                   AND has_table_privilege('{QUERY_ROLE}', c.oid, 'SELECT')"
            ),
            &[&relations],
        )
        .await?
        .get(0);
    Ok((functions, relations))
}

type FunctionParameters = (Vec<String>, Vec<String>, Vec<String>, Vec<String>);

fn function_parameters(allow: &Allowlist) -> FunctionParameters {
    (
        allow.functions.iter().cloned().collect(),
        allow.qualified_functions.iter().cloned().collect(),
        allow.operators.iter().cloned().collect(),
        allow.types.iter().cloned().collect(),
    )
}

/// The host-only built-ins (those of the allowlist's `host_only` without a
/// schema; `rls.*` belong to the migrations). Each has one overload.
fn host_builtins(allow: &Allowlist) -> Vec<String> {
    allow
        .host_only
        .iter()
        .filter(|name| !name.contains('.'))
        .cloned()
        .collect()
}
