//! `mcp-host serve`: builds every part, loads the components, and serves.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::audit::AuditLog;
use crate::capabilities::{self, Capabilities};
use crate::config::{IdentityMode, ServeArgs};
use crate::db::caller::{CallerDb, Replicas};
use crate::db::embedded::EmbeddedPostgres;
use crate::db::scope::DbScopeResolver;
use crate::db::sessions::SessionRows;
use crate::db::settings::{Resolved, Target};
use crate::db::setup::{self, Seed, Seeded, Steps};
use crate::embeddings::Embeddings;
use crate::identity::{
    DevHeaderAuthenticator, EntraAuthenticator, ScopeResolver, SharedAuthenticator,
    StaticScopeResolver,
};
use crate::mcp::edge::ConnectionLimits;
use crate::mcp::guard::Guard;
use crate::mcp::handler::ToolServer;
use crate::mcp::http::{HttpOptions, MetricsSource, router};
use crate::mcp::rate_limit::CallerLimits;
use crate::mcp::sessions::Sessions;
use crate::metrics::Metrics;
use crate::runtime::cache::CompiledCache;
use crate::runtime::loader::Loader;
use crate::runtime::policy::Policy;
use crate::runtime::registry::Registry;
use crate::runtime::sandbox::Sandbox;
use crate::runtime::{engine, watcher::Watcher};
use crate::seed::SeedOptions;

/// A running server. Dropping it does not stop it; call [`Server::shutdown`].
pub struct Server {
    pub addr: SocketAddr,
    pub registry: Arc<Registry>,
    pub db: Option<Arc<CallerDb>>,
    cancel: CancellationToken,
    http: JoinHandle<std::io::Result<()>>,
    /// The embedded PostgreSQL this server started, stopped with it.
    embedded: Option<EmbeddedPostgres>,
}

impl Server {
    /// Stops accepting, ends sessions and the watcher, and waits for the HTTP
    /// server to finish.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.cancel.cancel();
        self.wait().await
    }

    /// Resolves when the server has stopped (after [`Server::cancel_token`]
    /// is cancelled).
    pub async fn wait(self) -> anyhow::Result<()> {
        let served = self.http.await.context("HTTP server task failed");
        if let Some(pg) = self.embedded {
            tracing::info!("stopping the embedded PostgreSQL");
            tokio::task::spawn_blocking(move || pg.stop())
                .await
                .context("stopping PostgreSQL")??;
        }
        served??;
        Ok(())
    }

    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }
}

fn authenticator(
    args: &ServeArgs,
    db: Option<&Arc<CallerDb>>,
) -> anyhow::Result<SharedAuthenticator> {
    let scopes: Arc<dyn ScopeResolver> = match db {
        Some(db) => Arc::new(DbScopeResolver::new(db.clone())),
        None => Arc::new(StaticScopeResolver::default()),
    };
    Ok(match args.identity {
        IdentityMode::DevHeader => Arc::new(DevHeaderAuthenticator::new(scopes)),
        IdentityMode::Entra => {
            let settings = args.entra.settings()?;
            tracing::info!(
                tenant = %settings.tenant_id,
                audiences = ?settings.audiences,
                issuer = %settings.issuer(),
                scopes = ?settings.qualified_scopes(),
                user_claim = %settings.user_claim,
                mapped_users = settings.user_map.len(),
                "identity: Entra ID bearer tokens"
            );
            Arc::new(EntraAuthenticator::new(settings, scopes)?)
        }
    })
}

/// The database side of `serve`: none, an external server, or the embedded
/// one (started, migrated and, on first start, seeded with the demo data).
struct Database {
    db: Option<Arc<CallerDb>>,
    /// Where handshake-era sessions are shared with other replicas.
    sessions: Option<Arc<SessionRows>>,
    description: String,
    embedded: Option<EmbeddedPostgres>,
}

/// Builds the embeddings provider off the async workers (the local model
/// takes a moment to load).
/// A provider chosen explicitly must work; the automatic local default may
/// be missing (no model installed), which only disables semantic search.
async fn embeddings(args: &ServeArgs) -> anyhow::Result<Option<Arc<Embeddings>>> {
    let settings = args.embeddings.clone();
    let explicit = settings.embeddings.is_some();
    let built = tokio::task::spawn_blocking(move || settings.build())
        .await
        .context("loading the embeddings provider")?;
    match built {
        Ok(embeddings) => Ok(embeddings),
        Err(error) if !explicit => {
            tracing::warn!(%error, "no embeddings provider: semantic search is unavailable");
            Ok(None)
        }
        Err(error) => Err(anyhow::anyhow!("{error}")),
    }
}

async fn database(args: &ServeArgs, embeddings: Option<&Embeddings>) -> anyhow::Result<Database> {
    if args.no_database {
        return Ok(Database {
            db: None,
            sessions: None,
            description: "none (--no-database)".into(),
            embedded: None,
        });
    }
    let embedded = match args.db.target()? {
        Target::Embedded(pg) => Some(pg),
        Target::External { .. } => None,
    };
    let resolved = match embedded {
        Some(_) => demo_database(args, embeddings).await?,
        None => setup::resolve(&args.db).await?,
    };
    let sessions = session_rows(args, &resolved).await;
    let db = CallerDb::with_tls(
        resolved.query,
        resolved.rls_secret,
        args.query_limits(),
        args.db.db_pool_size,
        resolved.tls,
    )?
    .with_replicas(Replicas {
        servers: resolved.replicas,
        max_lag: args.db.replica_max_lag,
        primary_reads: args.db.primary_serves_reads,
    })?;
    let db = Arc::new(db);
    // A database that is down at start-up is not fatal: queries answer
    // `unavailable` until it is back.
    if let Err(error) = db.scope_of(crate::identity::HEAD_OFFICE_ID).await {
        tracing::warn!(
            ?error,
            "the database does not answer yet; queries will fail until it does"
        );
    }
    // Warm the statement guard with the database's function names.
    if let Err(error) = db.refresh_known_functions().await {
        tracing::debug!(
            ?error,
            "the statement guard will read the function names later"
        );
    }
    Ok(Database {
        db: Some(db),
        sessions,
        description: resolved.description,
        embedded,
    })
}

/// The embedded database as the demo wants it: migrated, loaded with the
/// demo data on first start, and the products embedded.
async fn demo_database(
    args: &ServeArgs,
    embeddings: Option<&Embeddings>,
) -> anyhow::Result<Resolved> {
    let demo = SeedOptions {
        seed: 42,
        scale: args.demo_scale,
        replace: false,
        progress: true,
    };
    let steps = Steps {
        migrate: true,
        seed: (args.demo_scale > 0.0).then_some(Seed::IfEmpty(demo)),
    };
    let set_up = setup::set_up(&args.db, steps).await?;
    if let Some(report) = &set_up.migrated
        && !report.applied.is_empty()
    {
        tracing::info!(applied = ?report.applied, "migrated the embedded database");
    }
    if let Some(Seeded::Loaded(seeded)) = &set_up.seeded {
        tracing::info!(rows = ?seeded.rows, load_ms = seeded.load.as_millis() as u64, "demo data loaded");
    }
    // The demo's semantic search works out of the box: embed what is
    // missing with the configured model (a no-op once done).
    if let Some(embeddings) = embeddings {
        let report =
            crate::embeddings::product_index::embed_products(&set_up.client, embeddings, 32, true)
                .await?;
        if report.embedded > 0 {
            tracing::info!(
                model = %report.model.name,
                embedded = report.embedded,
                ms = report.elapsed.as_millis() as u64,
                "embedded the product catalogue"
            );
        }
    }
    Ok(set_up.resolved)
}

/// The shared session table, logged in as the sessions login on the same
/// server as the query role. Not fatal when it cannot be used: sessions
/// then live in this replica's memory, and the log says what that means.
async fn session_rows(args: &ServeArgs, resolved: &Resolved) -> Option<Arc<SessionRows>> {
    if args.no_session_store {
        tracing::info!("MCP sessions: in this replica's memory (--no-session-store)");
        return None;
    }
    let mut config = resolved.query.clone();
    config.user(crate::db::settings::SESSIONS_ROLE);
    config.password(crate::db::gate::sessions_password(&resolved.rls_secret));
    match SessionRows::open(config, resolved.tls.clone(), args.session_idle).await {
        Ok(rows) => {
            tracing::info!(
                idle = %humantime::format_duration(args.session_idle),
                "MCP sessions: shared with every replica through PostgreSQL"
            );
            let rows = Arc::new(rows);
            tokio::spawn(rows.clone().sweep_forever(Duration::from_secs(600)));
            Some(rows)
        }
        Err(error) => {
            tracing::warn!(
                %error,
                "MCP sessions: in this replica's memory only (the session table cannot be \
                 used); with more than one replica, a client must stay on the one that opened \
                 its session (run `mcp-host migrate` to create the table)"
            );
            None
        }
    }
}

/// The component policy at start-up. A policy file that exists but cannot be
/// used stops the start: running without the operator's restrictions, or
/// with none of the tools, would both be surprises.
fn component_policy(args: &ServeArgs) -> anyhow::Result<Policy> {
    let path = args.policy_path();
    match Policy::read(&path, args.ceilings())? {
        Some(policy) => {
            tracing::info!(
                file = %path.display(),
                components = policy.listed(),
                "component policy: only listed components load, with the imports and limits it grants"
            );
            Ok(policy)
        }
        // A policy the operator named must exist: a typo or a volume mounted
        // over it must not silently open everything up.
        None if args.policy.is_some() => Err(anyhow::anyhow!(
            "the component policy {} does not exist (named by --policy / MCP_POLICY_FILE)",
            path.display()
        )),
        None => {
            tracing::warn!(
                file = %path.display(),
                "no component policy file: every component may use every import under the host's limits"
            );
            Ok(Policy::open(args.ceilings()))
        }
    }
}

/// Starts the server described by `args` and returns once it listens.
pub async fn start(args: ServeArgs) -> anyhow::Result<Server> {
    args.validate()?;
    if args.identity == IdentityMode::DevHeader && !args.listen.ip().is_loopback() {
        tracing::warn!(
            listen = %args.listen,
            "UNSAFE: --identity dev-header on a network address: anyone who can reach this port \
             can claim to be any store manager or head office by sending a header. \
             Use --identity entra beyond your own machine."
        );
    }
    crate::embeddings::remote::tls_init();
    let embeddings = embeddings(&args).await?;
    let database = database(&args, embeddings.as_deref()).await?;
    let limits = args.limits();
    let engine = engine::build(&limits).map_err(|e| anyhow::anyhow!("{e:#}"))?;
    let sandbox = Arc::new(Sandbox::new(Capabilities {
        caller: capabilities::caller::Caller,
        client: capabilities::client::Client,
        database: capabilities::database::Database {
            db: database.db.clone().map(|db| db as _),
        },
        embeddings: capabilities::embeddings::EmbeddingsImport {
            provider: embeddings.clone(),
        },
    }));
    let cache = CompiledCache::new(args.cache_dir(), &engine);
    let policy = component_policy(&args)?;
    let policy_summary = if policy.is_open() {
        "none (every component may use every import)".to_string()
    } else {
        format!(
            "{} ({} components)",
            args.policy_path().display(),
            policy.listed()
        )
    };
    let mut loader = Loader::new(engine, cache, sandbox.clone(), policy)
        .map_err(|e| anyhow::anyhow!("{e:#}"))?;
    if args.baseline_first {
        let baseline = engine::build_baseline(&limits).map_err(|e| anyhow::anyhow!("{e:#}"))?;
        loader = loader
            .with_baseline(baseline)
            .map_err(|e| anyhow::anyhow!("{e:#}"))?;
    }
    let loader = Arc::new(loader);
    let registry = Arc::new(Registry::default());
    let sessions = Arc::new(
        Sessions::new(args.identity_max_sessions)
            .with_max_total(args.max_sessions)
            .with_rows(database.sessions.clone()),
    );
    let metrics = Arc::new(Metrics::new());
    let ready = Arc::new(AtomicBool::new(false));
    let cancel = CancellationToken::new();

    std::fs::create_dir_all(&args.components).with_context(|| {
        format!(
            "cannot create the components folder {}",
            args.components.display()
        )
    })?;
    let mut watcher = Watcher::new(
        args.components.clone(),
        loader,
        registry.clone(),
        args.poll_interval,
    )
    .with_policy_file(args.policy_path(), args.ceilings())
    .with_metrics(metrics.clone());
    let report = watcher.scan().await;
    ready.store(true, Ordering::Release);
    tokio::spawn(watcher.run(cancel.clone()));
    tokio::spawn(sessions.clone().forward_changes(registry.clone()));

    let authenticator = authenticator(&args, database.db.as_ref())?;
    tokio::spawn({
        let authenticator = authenticator.clone();
        async move { authenticator.warm_up().await }
    });
    let guard = Guard {
        allowed_hosts: args.allowed_hosts(),
        allowed_origins: args.allowed_origins(),
        authenticator: authenticator.clone(),
        sessions: sessions.clone(),
        public_url: args.public_url.clone(),
        metrics: metrics.clone(),
    };
    let audit = AuditLog::start(&args.audit_log)
        .with_context(|| format!("cannot open the audit log {:?}", args.audit_log))?;
    let server = ToolServer::new(registry.clone(), sandbox, sessions.clone())
        .with_limits(CallerLimits::new(
            args.identity_max_concurrent,
            args.identity_rate.0,
        ))
        .with_audit(audit)
        .with_metrics(metrics.clone())
        .with_shutdown(cancel.clone())
        .with_max_output_bytes(args.max_output_bytes);
    let metrics_source = MetricsSource {
        metrics,
        sessions: sessions.clone(),
        db: database.db.clone(),
    };
    // Metrics describe every caller's traffic: on a public listener they
    // are off unless the operator gives them a listener of their own.
    let metrics_on_main = args.metrics_listen.is_none() && args.listen.ip().is_loopback();
    let metrics_at = match args.metrics_listen {
        Some(addr) => {
            let listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} for /metrics"))?;
            let addr = listener.local_addr()?;
            let app = metrics_source.clone().router(crate::mcp::edge::ProbeHosts {
                allowed: Arc::new(args.allowed_hosts()),
                port: addr.port(),
            });
            let shutdown = cancel.clone();
            tokio::spawn(async move {
                let limits = ConnectionLimits {
                    max_connections: 64,
                    header_timeout: Duration::from_secs(10),
                    nodelay: true,
                };
                let served = crate::mcp::edge::serve(listener, app, limits, async move {
                    shutdown.cancelled().await
                })
                .await;
                if let Err(error) = served {
                    tracing::error!(%error, "the /metrics listener stopped");
                }
            });
            format!("http://{addr}/metrics")
        }
        None if metrics_on_main => "/metrics on the main listener".to_string(),
        None => {
            tracing::warn!(
                listen = %args.listen,
                "/metrics is off: the main listener is not on loopback; give metrics a listener \
                 of their own with --metrics-listen (e.g. 127.0.0.1:9100)"
            );
            "off (set --metrics-listen)".to_string()
        }
    };
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let app = router(
        server,
        ready,
        HttpOptions {
            guard,
            port: addr.port(),
            max_body_bytes: args.max_body_bytes,
            body_timeout: args.body_timeout,
            session_store: database.sessions.clone(),
            admission: crate::mcp::admission::Admission::new(
                sessions.clone(),
                CallerLimits::new(0, args.identity_session_rate.0),
            ),
            cancel: cancel.clone(),
            metrics_route: metrics_on_main.then(|| metrics_source.clone()),
        },
    );
    tracing::info!(
        %addr,
        url = %format!("http://{addr}/mcp"),
        identity = authenticator.mode(),
        database = %database.description,
        embeddings = %embeddings.as_ref().map_or("none".to_string(), |e| e.describe()),
        components = %args.components.display(),
        loaded = report.loaded,
        rejected = report.rejected,
        tools = registry.snapshot().tools().len(),
        deadline = ?limits.deadline,
        memory_mib = limits.memory_bytes >> 20,
        policy = %policy_summary,
        metrics = %metrics_at,
        audit = ?args.audit_log,
        per_caller = %format!(
            "{} concurrent, {}",
            args.identity_max_concurrent,
            args.identity_rate.0.map_or("no rate limit".to_string(), |r| r.to_string())
        ),
        "mcp-host listening"
    );
    let shutdown = cancel.clone();
    let limits =
        ConnectionLimits::fitted(args.max_connections, args.header_timeout, args.tcp_nodelay);
    let http = tokio::spawn(async move {
        crate::mcp::edge::serve(
            listener,
            app,
            limits,
            async move { shutdown.cancelled().await },
        )
        .await
    });
    Ok(Server {
        addr,
        registry,
        db: database.db,
        cancel,
        http,
        embedded: database.embedded,
    })
}
