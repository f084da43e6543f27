//! `mcp-host serve`: builds every part, loads the components, and serves.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{IdentityMode, ServeArgs};
use crate::identity::{DevHeaderAuthenticator, SharedAuthenticator, StaticScopeResolver};
use crate::mcp::guard::Guard;
use crate::mcp::handler::ToolServer;
use crate::mcp::http::{HttpOptions, router};
use crate::mcp::sessions::Sessions;
use crate::runtime::cache::CompiledCache;
use crate::runtime::loader::Loader;
use crate::runtime::registry::Registry;
use crate::runtime::sandbox::Sandbox;
use crate::runtime::{engine, watcher::Watcher};

/// A running server. Dropping it does not stop it; call [`Server::shutdown`].
pub struct Server {
    pub addr: SocketAddr,
    pub registry: Arc<Registry>,
    cancel: CancellationToken,
    http: JoinHandle<std::io::Result<()>>,
}

impl Server {
    /// Stops accepting, ends sessions and the watcher, and waits for the HTTP
    /// server to finish.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.cancel.cancel();
        self.http.await.context("HTTP server task failed")??;
        Ok(())
    }

    /// Resolves when the server stops on its own (it normally does not).
    pub async fn wait(self) -> anyhow::Result<()> {
        self.http.await.context("HTTP server task failed")??;
        Ok(())
    }

    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }
}

fn authenticator(args: &ServeArgs) -> SharedAuthenticator {
    match args.identity {
        IdentityMode::DevHeader => Arc::new(DevHeaderAuthenticator::new(Arc::new(
            StaticScopeResolver::default(),
        ))),
    }
}

/// Starts the server described by `args` and returns once it listens.
pub async fn start(args: ServeArgs) -> anyhow::Result<Server> {
    args.validate().map_err(anyhow::Error::msg)?;
    let limits = args.limits();
    let engine = engine::build(&limits).map_err(|e| anyhow::anyhow!("{e:#}"))?;
    let sandbox = Arc::new(Sandbox::new(engine.clone(), limits));
    let cache = CompiledCache::new(args.cache_dir(), &engine);
    let loader = Arc::new(
        Loader::new(engine, cache, sandbox.clone()).map_err(|e| anyhow::anyhow!("{e:#}"))?,
    );
    let registry = Arc::new(Registry::default());
    let sessions = Arc::new(Sessions::default());
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
    );
    let report = watcher.scan().await;
    ready.store(true, Ordering::Release);
    tokio::spawn(watcher.run(cancel.clone()));
    tokio::spawn(sessions.clone().forward_changes(registry.clone()));

    let authenticator = authenticator(&args);
    let guard = Guard {
        allowed_hosts: args.allowed_hosts(),
        allowed_origins: args.allowed_origins(),
        authenticator: authenticator.clone(),
        sessions: Default::default(),
    };
    let server = ToolServer::new(registry.clone(), sandbox, sessions.clone());
    let app = router(
        server,
        ready,
        HttpOptions {
            guard,
            max_body_bytes: args.max_body_bytes,
            cancel: cancel.clone(),
        },
    );
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(
        %addr,
        url = %format!("http://{addr}/mcp"),
        identity = authenticator.mode(),
        components = %args.components.display(),
        loaded = report.loaded,
        rejected = report.rejected,
        tools = registry.snapshot().tools().len(),
        deadline = ?limits.deadline,
        memory_mib = limits.memory_bytes >> 20,
        "mcp-host listening"
    );
    let shutdown = cancel.clone();
    let http = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await
    });
    Ok(Server {
        addr,
        registry,
        cancel,
        http,
    })
}
