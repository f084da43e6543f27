//! Setting a database up, as `migrate`, `seed`, `embed` and `serve` (on the
//! embedded database) all do: the embedded PostgreSQL started if it is the
//! target, an administrative connection (creating the database if it is
//! missing), the migrations, and the Zava demo data.

use tokio_postgres::Client;

use super::migrate::{self, MigrateError, MigrateReport};
use super::settings::{DbArgs, DbSettingsError, Resolved};
use crate::seed::{self, SeedOptions, SeedReport};

/// What [`set_up`] does once connected.
#[derive(Debug, Clone, Copy, Default)]
pub struct Steps {
    /// Apply the migrations.
    pub migrate: bool,
    /// Load the demo data.
    pub seed: Option<Seed>,
}

#[derive(Debug, Clone, Copy)]
pub enum Seed {
    /// Load it; over data already there only with `replace`.
    Always(SeedOptions),
    /// Load it unless the retail tables hold data already.
    IfEmpty(SeedOptions),
}

/// A database set up, with the administrative session for what comes next.
pub struct SetUp {
    pub client: Client,
    pub resolved: Resolved,
    /// `Some` when the steps included the migrations.
    pub migrated: Option<MigrateReport>,
    /// `Some` when the steps included the demo data.
    pub seeded: Option<Seeded>,
}

#[derive(Debug)]
pub enum Seeded {
    Loaded(SeedReport),
    /// [`Seed::IfEmpty`] found data: nothing was loaded.
    AlreadyThere,
}

/// Why a database could not be set up. Wrapped errors are part of the
/// message.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Settings(#[from] DbSettingsError),
    #[error("starting the database: {0}")]
    Task(tokio::task::JoinError),
    #[error(
        "an administrative connection is needed: set DATABASE_URL (or the POSTGRES_* variables)"
    )]
    NoAdmin,
    #[error(transparent)]
    Migrate(#[from] MigrateError),
    #[error(transparent)]
    Seed(#[from] crate::seed::SeedError),
}

/// The connection settings of `args`, starting the embedded cluster first if
/// that is the target (on a blocking thread: it runs `pg_ctl`).
pub async fn resolve(args: &DbArgs) -> Result<Resolved, SetupError> {
    let args = args.clone();
    let resolved = tokio::task::spawn_blocking(move || args.resolve())
        .await
        .map_err(SetupError::Task)??;
    Ok(resolved)
}

/// Resolves `args` ([`resolve`]), connects as administrator, and takes
/// `steps`.
pub async fn set_up(args: &DbArgs, steps: Steps) -> Result<SetUp, SetupError> {
    let resolved = resolve(args).await?;
    let admin = resolved.admin.as_ref().ok_or(SetupError::NoAdmin)?;
    let client = migrate::connect_creating(admin, &resolved.tls).await?;
    let migrated = if steps.migrate {
        let password = resolved.query_password.as_deref();
        Some(migrate::migrate(&client, &resolved.rls_secret, password).await?)
    } else {
        None
    };
    let seeded = match steps.seed {
        None => None,
        Some(Seed::Always(options)) => Some(load(&client, options).await?),
        Some(Seed::IfEmpty(options)) => {
            if seed::is_seeded(&client).await.map_err(SetupError::Seed)? {
                Some(Seeded::AlreadyThere)
            } else {
                tracing::info!(
                    scale = options.scale,
                    "loading the Zava demo data (the database holds none yet)"
                );
                Some(load(&client, options).await?)
            }
        }
    };
    Ok(SetUp {
        client,
        resolved,
        migrated,
        seeded,
    })
}

async fn load(client: &Client, options: SeedOptions) -> Result<Seeded, SetupError> {
    seed::seed(client, options)
        .await
        .map(Seeded::Loaded)
        .map_err(SetupError::Seed)
}
