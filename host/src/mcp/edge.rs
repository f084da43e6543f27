//! The HTTP edge: what every request passes before any route sees it.
//!
//! - Exactly one `Host` header (and, for an absolute request target, the
//!   same authority in both): two hosts are two answers to "which site is
//!   this?", and a proxy and this server might pick different ones -> 400.
//! - The probe and scrape routes (`/healthz`, `/readyz`, `/metrics`) check
//!   `Host` too (DNS-rebinding defence). Besides the allowed hosts they accept
//!   an IP address with the port this server listens on (`Host:
//!   10.0.0.7:8000`): that is what a container platform's probe sends, and a
//!   rebinding attack cannot produce it — rebinding needs a host *name*, and
//!   the browser sends that name. `/mcp` keeps the strict check of
//!   [`super::guard`].
//! - A request without `Host` (HTTP/2 carries the host as `:authority`) gets
//!   one from its authority, so every later check sees the same host.
//! - [`serve`] accepts connections: at most so many at once, each with
//!   `TCP_NODELAY`, a deadline for every request's headers (which also ends
//!   a keep-alive connection left idle that long) and a bounded header
//!   buffer, so connections that send nothing, or a header a byte at a time,
//!   cannot pile up before anyone is authenticated.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Refuses requests that name more than one host; gives an HTTP/2 request
/// (host in `:authority`, no `Host` header) its authority as `Host`.
pub async fn single_host(mut request: Request, next: Next) -> Response {
    if !request.headers().contains_key(header::HOST)
        && let Some(authority) = request.uri().authority()
        && let Ok(host) = HeaderValue::from_str(authority.as_str())
    {
        request.headers_mut().insert(header::HOST, host);
    }
    let hosts = request.headers().get_all(header::HOST).iter().count();
    if hosts > 1 {
        return (
            StatusCode::BAD_REQUEST,
            "Bad Request: more than one Host header",
        )
            .into_response();
    }
    if let (Some(authority), Some(host)) = (
        request.uri().authority(),
        request.headers().get(header::HOST),
    ) && !host
        .to_str()
        .is_ok_and(|h| h.eq_ignore_ascii_case(authority.as_str()))
    {
        return (
            StatusCode::BAD_REQUEST,
            "Bad Request: the Host header and the request target name different hosts",
        )
            .into_response();
    }
    next.run(request).await
}

/// What probe and scrape routes accept besides the allowed hosts.
#[derive(Clone)]
pub struct ProbeHosts {
    pub allowed: Arc<Vec<String>>,
    /// The port of the listener these routes are served on.
    pub port: u16,
}

/// Host check for probe and scrape routes: an allowed host, or an IP
/// address with our port.
pub async fn probe_host(State(hosts): State<ProbeHosts>, request: Request, next: Next) -> Response {
    let ip_with_our_port = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.parse::<SocketAddr>().ok())
        .is_some_and(|addr| addr.port() == hosts.port);
    if ip_with_our_port || super::guard::check_host(request.headers(), &hosts.allowed).is_ok() {
        return next.run(request).await;
    }
    tracing::warn!("probe or scrape refused (Host)");
    (
        StatusCode::FORBIDDEN,
        "Forbidden: Host header is not allowed",
    )
        .into_response()
}

/// How [`serve`] treats connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Connections open at once; one more is closed as soon as it is
    /// accepted (its client sees a reset and retries).
    pub max_connections: usize,
    /// A request's headers must arrive within this; a keep-alive
    /// connection idle this long is closed.
    pub header_timeout: Duration,
    /// `TCP_NODELAY` (off only to measure what it saves).
    pub nodelay: bool,
}

impl ConnectionLimits {
    /// `requested` connections, fewer if the process's file-descriptor
    /// limit (raised to its hard limit first) leaves no room for them beside
    /// the database pools, compiled components and logs.
    pub fn fitted(requested: usize, header_timeout: Duration, nodelay: bool) -> Self {
        const RESERVED: usize = 256;
        let fds = raise_fd_limit();
        let fit = fds.saturating_sub(RESERVED).max(16);
        if requested > fit {
            tracing::warn!(
                requested,
                serving = fit,
                fd_limit = fds,
                "fewer connections than --max-connections: the file-descriptor limit is too low \
                 (raise `ulimit -n`)"
            );
        }
        Self {
            max_connections: requested.clamp(1, fit),
            header_timeout,
            nodelay,
        }
    }
}

/// Raises this process's soft limit on open files to its hard limit;
/// returns the limit in force.
fn raise_fd_limit() -> usize {
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                ..limit
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
        usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX)
    }
}

/// Largest request head (start line and headers) a connection may buffer:
/// room for a large bearer token, not for a memory attack.
pub const MAX_HEADER_BYTES: usize = 64 << 10;

/// Serves `app` on `listener` until `shutdown`, then lets the connections
/// finish.
///
/// `TCP_NODELAY` on every connection: a response written in pieces (SSE)
/// must not wait for the client's delayed ACK, which costs ~40 ms per call
/// on a reused keep-alive connection (measured before this: 44 ms vs 1 ms
/// per call).
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    limits: ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_HEADER_BYTES);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_HEADER_BYTES as u32)
        .keep_alive_interval(limits.header_timeout)
        .keep_alive_timeout(limits.header_timeout);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut refused_warned = std::time::Instant::now() - Duration::from_secs(60);
    tokio::pin!(shutdown);
    loop {
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, most likely: wait for some to
                    // close rather than spin (axum::serve does the same).
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            if refused_warned.elapsed() >= Duration::from_secs(60) {
                refused_warned = std::time::Instant::now();
                tracing::warn!(
                    max = limits.max_connections,
                    "connection refused: this server holds as many connections as it allows \
                     (--max-connections); logged at most once a minute"
                );
            }
            drop(stream);
            continue;
        };
        if let Err(error) = stream.set_nodelay(limits.nodelay) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
        let service = TowerToHyperService::new(app.clone());
        let builder = builder.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            // The first bytes tell HTTP/1 from HTTP/2, and hyper waits for
            // them without a deadline: a connection that sends nothing
            // would hold its place for ever.
            let mut first = [0u8; 1];
            if !matches!(
                tokio::time::timeout(limits.header_timeout, stream.peek(&mut first)).await,
                Ok(Ok(1..))
            ) {
                return;
            }
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            if let Err(error) = watcher.watch(connection.into_owned()).await {
                tracing::trace!(%error, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
