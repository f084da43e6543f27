//! `mcp-host migrate`: roles, the `vector` extension, the ordered SQL files
//! of `migrations/` (each applied once, in its own transaction, recorded with
//! a checksum), and the hash of the RLS gate secret.
//!
//! Runs with an administrative connection. Objects are created as the owner
//! role `zava_owner`; the host's login role `zava_query` is created without
//! any privilege beyond what the migrations grant it.

use sha2::{Digest, Sha256};
use tokio_postgres::{Client, Config};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::settings::{HQ_ROLE, OWNER_ROLE, QUERY_ROLE, SESSIONS_ROLE};

/// The migrations, in order. Names are recorded; a changed file after it was
/// applied is an error (write a new migration instead).
pub const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_retail_schema",
        include_str!("../../../migrations/0001_retail_schema.sql"),
    ),
    (
        "0002_row_level_security",
        include_str!("../../../migrations/0002_row_level_security.sql"),
    ),
    (
        "0003_rls_parallel_and_head_office",
        include_str!("../../../migrations/0003_rls_parallel_and_head_office.sql"),
    ),
    (
        "0004_semantic_search",
        include_str!("../../../migrations/0004_semantic_search.sql"),
    ),
    (
        "0005_gate_proofs",
        include_str!("../../../migrations/0005_gate_proofs.sql"),
    ),
    (
        "0006_mcp_sessions",
        include_str!("../../../migrations/0006_mcp_sessions.sql"),
    ),
    (
        "0007_session_owners",
        include_str!("../../../migrations/0007_session_owners.sql"),
    ),
    (
        "0008_store_partitions",
        include_str!("../../../migrations/0008_store_partitions.sql"),
    ),
    (
        "0009_replica_heartbeat",
        include_str!("../../../migrations/0009_replica_heartbeat.sql"),
    ),
];

/// Serialises concurrent migrators (any constant works; this spells "zava").
const MIGRATION_LOCK: i64 = 0x7a617661;

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("cannot connect to {target}: {}", super::error_text(source))]
    Connect {
        target: String,
        source: tokio_postgres::Error,
    },
    #[error("{step}: {message}")]
    Step { step: String, message: String },
    #[error("refusing to continue: {0}")]
    Unsafe(String),
}

fn step(name: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> MigrateError {
    let name = name.into();
    move |e| MigrateError::Step {
        step: name,
        message: super::error_text(&e),
    }
}

#[derive(Debug, Default)]
pub struct MigrateReport {
    pub applied: Vec<String>,
    pub already: usize,
}

/// Connects with `config`, creating its database first if it is missing.
pub async fn connect_creating(
    config: &Config,
    tls: &MakeRustlsConnect,
) -> Result<Client, MigrateError> {
    match connect(config, tls).await {
        Ok(client) => Ok(client),
        Err(MigrateError::Connect { source, .. })
            if source.code() == Some(&tokio_postgres::error::SqlState::INVALID_CATALOG_NAME) =>
        {
            let dbname = config.get_dbname().unwrap_or("zava").to_string();
            let mut server = config.clone();
            server.dbname("postgres");
            let admin = connect(&server, tls).await?;
            admin
                .batch_execute(&format!("CREATE DATABASE {}", quote_ident(&dbname)))
                .await
                .map_err(step(format!("creating database {dbname}")))?;
            connect(config, tls).await
        }
        Err(e) => Err(e),
    }
}

pub async fn connect(config: &Config, tls: &MakeRustlsConnect) -> Result<Client, MigrateError> {
    let (client, connection) =
        config
            .connect(tls.clone())
            .await
            .map_err(|source| MigrateError::Connect {
                target: super::settings::describe(config),
                source,
            })?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "admin connection ended");
        }
    });
    Ok(client)
}

/// Applies everything that is missing. Idempotent.
pub async fn migrate(
    client: &Client,
    rls_secret: &str,
    query_password: Option<&str>,
) -> Result<MigrateReport, MigrateError> {
    migrate_with(client, rls_secret, query_password, MIGRATIONS).await
}

/// [`migrate`] with a given list of migrations: tests use a prefix of
/// [`MIGRATIONS`] to build a database as an earlier release left it.
pub async fn migrate_with(
    client: &Client,
    rls_secret: &str,
    query_password: Option<&str>,
    migrations: &[(&str, &str)],
) -> Result<MigrateReport, MigrateError> {
    client
        .query("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(step("taking the migration lock"))?;
    let result = migrate_locked(client, rls_secret, query_password, migrations).await;
    let _ = client
        .query("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await;
    result
}

async fn migrate_locked(
    client: &Client,
    rls_secret: &str,
    query_password: Option<&str>,
    migrations: &[(&str, &str)],
) -> Result<MigrateReport, MigrateError> {
    // "already exists, skipping" notices are expected on every run.
    client
        .batch_execute("SET client_min_messages = warning")
        .await
        .map_err(step("configuring the session"))?;
    let superuser: bool = client
        .query_one(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .await
        .map_err(step("checking the admin role"))?
        .get(0);
    ensure_roles(client, query_password, rls_secret, superuser).await?;
    let database: String = client
        .query_one("SELECT current_database()", &[])
        .await
        .map_err(step("reading the database name"))?
        .get(0);
    let db = quote_ident(&database);
    client
        .batch_execute(&format!(
            "CREATE EXTENSION IF NOT EXISTS vector;
             GRANT CONNECT, CREATE ON DATABASE {db} TO {OWNER_ROLE};
             GRANT CONNECT ON DATABASE {db} TO {QUERY_ROLE}, {HQ_ROLE};
             REVOKE TEMPORARY ON DATABASE {db} FROM PUBLIC;
             REVOKE CREATE ON SCHEMA public FROM PUBLIC;
             CREATE SCHEMA IF NOT EXISTS zava_meta;
             REVOKE ALL ON SCHEMA zava_meta FROM PUBLIC;
             CREATE TABLE IF NOT EXISTS zava_meta.schema_migrations (
                 name       text PRIMARY KEY,
                 checksum   text NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now()
             );"
        ))
        .await
        .map_err(step(
            "preparing the database (extension vector, grants, zava_meta)",
        ))?;

    let mut report = MigrateReport::default();
    for (name, sql) in migrations {
        let checksum = hex::encode(Sha256::digest(sql.as_bytes()));
        let recorded: Option<String> = client
            .query_opt(
                "SELECT checksum FROM zava_meta.schema_migrations WHERE name = $1",
                &[name],
            )
            .await
            .map_err(step("reading applied migrations"))?
            .map(|row| row.get(0));
        match recorded {
            Some(existing) if existing == checksum => {
                report.already += 1;
                continue;
            }
            Some(_) => {
                return Err(MigrateError::Step {
                    step: format!("migration {name}"),
                    message: "it was changed after it was applied; add a new migration instead"
                        .into(),
                });
            }
            None => {}
        }
        client
            .batch_execute(&format!("BEGIN; SET LOCAL ROLE {OWNER_ROLE};"))
            .await
            .map_err(step(format!("migration {name}")))?;
        let applied = async {
            client.batch_execute(sql).await?;
            client.batch_execute("RESET ROLE").await?;
            client
                .execute(
                    "INSERT INTO zava_meta.schema_migrations (name, checksum) VALUES ($1, $2)",
                    &[name, &checksum],
                )
                .await?;
            client.batch_execute("COMMIT").await
        }
        .await;
        if let Err(e) = applied {
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(step(format!("migration {name}"))(e));
        }
        tracing::info!(migration = name, "applied");
        report.applied.push(name.to_string());
    }

    grant_columns(client).await?;
    if superuser {
        let enforced = super::privileges::enforce(client)
            .await
            .map_err(step("enforcing the allowlist in the database"))?;
        tracing::info!(
            ?enforced,
            "the query role may use only the allowlisted functions and relations"
        );
    } else {
        let (functions, relations) = super::privileges::exposure(client)
            .await
            .map_err(step("checking what the query role can reach"))?;
        tracing::warn!(
            functions,
            relations,
            "not a superuser: the query role can still execute {functions} built-in functions and \
             read {relations} catalog relations outside the allowlist; the statement guard alone \
             refuses them"
        );
    }

    // The gate key, derived from the secret, travels as COPY data only:
    // nothing secret appears in a statement or a parameter, which the
    // server may log.
    client
        .batch_execute(&format!("BEGIN; SET LOCAL ROLE {OWNER_ROLE};"))
        .await
        .map_err(step("installing the RLS gate key"))?;
    let installed = super::gate::GateKey::from_secret(rls_secret)
        .install(client)
        .await;
    match installed {
        Ok(()) => client
            .batch_execute("COMMIT")
            .await
            .map_err(step("installing the RLS gate key"))?,
        Err(e) => {
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(step("installing the RLS gate key")(e));
        }
    }
    Ok(report)
}

/// The query role may read the retail tables' own columns, not the whole
/// table: a table-level grant also opens the system columns (`ctid`,
/// `xmin`, ...), whose values tell how many rows Row Level Security hides
/// between the caller's own. Column grants leave `SELECT *` and `count(*)`
/// working and make PostgreSQL refuse system columns. Redone on every run,
/// so that new columns are granted too.
async fn grant_columns(client: &Client) -> Result<(), MigrateError> {
    let granted = client
        .batch_execute(&format!(
            "BEGIN; SET LOCAL ROLE {OWNER_ROLE};
             DO $$
             DECLARE
                 t record;
                 columns text;
             BEGIN
                 -- Partitions are read through their parent only.
                 FOR t IN SELECT c.oid, c.relname FROM pg_class c
                          JOIN pg_namespace n ON n.oid = c.relnamespace
                          WHERE n.nspname = 'retail' AND c.relkind IN ('r', 'p')
                            AND NOT c.relispartition
                 LOOP
                     SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO columns
                     FROM pg_attribute WHERE attrelid = t.oid AND attnum > 0 AND NOT attisdropped;
                     EXECUTE format('REVOKE SELECT ON retail.%I FROM {QUERY_ROLE}, {HQ_ROLE}', t.relname);
                     EXECUTE format('GRANT SELECT (%s) ON retail.%I TO {QUERY_ROLE}, {HQ_ROLE}', columns, t.relname);
                 END LOOP;
             END
             $$;
             COMMIT;"
        ))
        .await;
    if let Err(e) = granted {
        let _ = client.batch_execute("ROLLBACK").await;
        return Err(step("granting the retail columns to the query role")(e));
    }
    Ok(())
}

/// Creates the two roles if missing and checks the query role holds no
/// privilege it must not have.
async fn ensure_roles(
    client: &Client,
    query_password: Option<&str>,
    rls_secret: &str,
    is_superuser: bool,
) -> Result<(), MigrateError> {
    // Since PostgreSQL 16 only a superuser may even restate SUPERUSER,
    // REPLICATION or BYPASSRLS (managed servers such as Azure's give the
    // admin CREATEROLE, not SUPERUSER); roles it creates lack them anyway,
    // and they are verified below either way.
    let attributes = if is_superuser {
        "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT"
    } else {
        "NOCREATEDB NOCREATEROLE NOINHERIT"
    };
    client
        .batch_execute(&format!(
            "DO $$ BEGIN
               IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{OWNER_ROLE}') THEN
                 CREATE ROLE {OWNER_ROLE} NOLOGIN;
               END IF;
               IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{QUERY_ROLE}') THEN
                 CREATE ROLE {QUERY_ROLE} LOGIN;
               END IF;
               IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{SESSIONS_ROLE}') THEN
                 CREATE ROLE {SESSIONS_ROLE} LOGIN;
               END IF;
               IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{HQ_ROLE}') THEN
                 CREATE ROLE {HQ_ROLE} LOGIN;
               END IF;
             END $$;
             ALTER ROLE {QUERY_ROLE} {attributes};
             ALTER ROLE {HQ_ROLE} {attributes};
             ALTER ROLE {SESSIONS_ROLE} {attributes};
             ALTER ROLE {QUERY_ROLE} SET default_transaction_read_only = on;
             ALTER ROLE {QUERY_ROLE} SET statement_timeout = '30s';
             ALTER ROLE {HQ_ROLE} SET default_transaction_read_only = on;
             ALTER ROLE {HQ_ROLE} SET statement_timeout = '30s';"
        ))
        .await
        .map_err(step("creating roles"))?;
    // Checked rather than trusted: a role created earlier by someone else
    // may carry powers a non-superuser cannot take away.
    for role in [QUERY_ROLE, HQ_ROLE] {
        let row = client
            .query_one(
                "SELECT rolsuper, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = $1",
                &[&role],
            )
            .await
            .map_err(step("checking the query roles"))?;
        let powers: Vec<&str> = ["SUPERUSER", "REPLICATION", "BYPASSRLS"]
            .into_iter()
            .enumerate()
            .filter(|(i, _)| row.get::<_, bool>(*i))
            .map(|(_, name)| name)
            .collect();
        if !powers.is_empty() {
            return Err(MigrateError::Unsafe(format!(
                "the role {role} has {}; a superuser must remove that before it may serve queries",
                powers.join(", ")
            )));
        }
    }
    // Non-superuser administrators (managed PostgreSQL) need membership in
    // the owner role to create objects as it.
    if !is_superuser {
        client
            .batch_execute(&format!("GRANT {OWNER_ROLE} TO CURRENT_USER"))
            .await
            .map_err(step("granting the owner role to the admin"))?;
    }
    // temp_file_limit is a superuser setting; on managed servers set it as
    // a server parameter instead (infra/ does, for Azure).
    if is_superuser {
        client
            .batch_execute(&format!(
                "ALTER ROLE {QUERY_ROLE} SET temp_file_limit = '1GB';
                 ALTER ROLE {HQ_ROLE} SET temp_file_limit = '1GB'"
            ))
            .await
            .map_err(step("limiting the query role's temporary files"))?;
    } else {
        tracing::warn!(
            "not a superuser: cannot set temp_file_limit for {QUERY_ROLE}; set it as a server parameter"
        );
    }
    // Passwords as SCRAM verifiers computed here, not the passwords: the
    // statement may be logged, and a verifier cannot be used to log in.
    let set_password = |role: &'static str, password: String| async move {
        let verifier = postgres_protocol::password::scram_sha_256(password.as_bytes());
        client
            .batch_execute(&format!(
                "ALTER ROLE {role} PASSWORD {}",
                quote_literal(&verifier)
            ))
            .await
            .map_err(step(format!("setting the password of {role}")))
    };
    if let Some(password) = query_password {
        set_password(QUERY_ROLE, password.to_string()).await?;
    }
    // The sessions login's password is derived from the gate secret, so
    // every replica that holds the secret can log in with nothing to set.
    set_password(SESSIONS_ROLE, super::gate::sessions_password(rls_secret)).await?;
    set_password(HQ_ROLE, super::gate::hq_password(rls_secret)).await?;
    let memberships: Vec<String> = client
        .query(
            "SELECT l.rolname || ' is a member of ' || r.rolname FROM pg_auth_members m
             JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles l ON l.oid = m.member
             WHERE l.rolname IN ($1, $2, $3)",
            &[&QUERY_ROLE, &SESSIONS_ROLE, &HQ_ROLE],
        )
        .await
        .map_err(step("checking the query roles"))?
        .iter()
        .map(|row| row.get(0))
        .collect();
    if !memberships.is_empty() {
        return Err(MigrateError::Unsafe(format!(
            "{}; revoke that (the host's logins must hold no role)",
            memberships.join(", ")
        )));
    }
    // Nobody may act as head office's login either: its policies filter
    // nothing, and only `rls.enter` on that very login stands in front of
    // them. (An administrator that created it holds it with ADMIN OPTION
    // only, which lets it manage the role, not use it.)
    let members: Vec<String> = client
        .query(
            "SELECT l.rolname::text FROM pg_auth_members m
             JOIN pg_roles l ON l.oid = m.member
             WHERE m.roleid = (SELECT oid FROM pg_roles WHERE rolname = $1)
               AND (m.inherit_option OR m.set_option)",
            &[&HQ_ROLE],
        )
        .await
        .map_err(step("checking who may act as head office's login"))?
        .iter()
        .map(|row| row.get(0))
        .collect();
    if !members.is_empty() {
        return Err(MigrateError::Unsafe(format!(
            "{} may act as {HQ_ROLE}, which reads every store; revoke that membership",
            members.join(", ")
        )));
    }
    Ok(())
}

/// A string literal (a verifier holds no quote, but it is quoted properly
/// anyway).
fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
