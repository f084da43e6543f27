//! The query role's connection pool. The pool opens its connections itself
//! (rather than through `Config::connect`) so that every one of them runs
//! over a [`Capped`] stream, and learns its backend's process id, which the
//! gate proof of each transaction is bound to ([`crate::db::gate`]).

use std::path::Path;
use std::time::Duration;

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use tokio::net::{TcpStream, UnixStream};
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{CancelToken, Client, Config, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::transport::{Capped, CappedTls, Socket};

/// One open connection of the query role.
pub struct Connection {
    pub client: Client,
    /// The server process serving it (`pg_backend_pid()`).
    pub pid: i32,
    cancel: CancelToken,
    tls: MakeRustlsConnect,
}

impl Connection {
    /// Asks the server to cancel whatever this connection is running: the
    /// connection is being dropped in doubt, and its backend should not go
    /// on working for nobody.
    pub fn cancel_in_background(&self) {
        let cancel = self.cancel.clone();
        let tls = self.tls.clone();
        tokio::spawn(async move {
            let _ = cancel.cancel_query(tls).await;
        });
    }
}

/// Why a connection could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("{}", super::error_text(.0))]
    Postgres(#[from] tokio_postgres::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("the connection settings name no host")]
    NoHost,
}

pub struct Manager {
    config: Config,
    tls: MakeRustlsConnect,
    /// Largest server message a connection accepts.
    max_message: usize,
}

impl Manager {
    pub fn new(config: Config, tls: MakeRustlsConnect, max_message: usize) -> Self {
        Self {
            config,
            tls,
            max_message,
        }
    }

    /// Tries each host of the settings in turn, as libpq does.
    async fn open(&self) -> Result<Connection, ConnectError> {
        let hosts = self.config.get_hosts();
        let ports = self.config.get_ports();
        let mut last = ConnectError::NoHost;
        for (i, host) in hosts.iter().enumerate() {
            let port = ports
                .get(i)
                .or_else(|| ports.first())
                .copied()
                .unwrap_or(5432);
            let attempt = self.open_one(host, port);
            let result = match self.config.get_connect_timeout() {
                Some(limit) => tokio::time::timeout(*limit, attempt)
                    .await
                    .unwrap_or(Err(ConnectError::Timeout(*limit))),
                None => attempt.await,
            };
            match result {
                Ok(connection) => return Ok(connection),
                Err(error) => last = error,
            }
        }
        Err(last)
    }

    async fn open_one(&self, host: &Host, port: u16) -> Result<Connection, ConnectError> {
        let client = match host {
            Host::Unix(dir) => {
                let socket = UnixStream::connect(unix_socket(dir, port)).await?;
                // Unix-domain sockets never negotiate TLS (libpq neither).
                let mut config = self.config.clone();
                config.ssl_mode(SslMode::Disable);
                let stream = Capped::new(Socket::Unix(socket), self.max_message);
                let (client, connection) = config.connect_raw(stream, NoTls).await?;
                spawn_connection(connection);
                client
            }
            Host::Tcp(name) => {
                let socket = TcpStream::connect((name.as_str(), port)).await?;
                socket.set_nodelay(true)?;
                let keepalive = socket2::TcpKeepalive::new()
                    .with_time(Duration::from_secs(60))
                    .with_interval(Duration::from_secs(10));
                socket2::SockRef::from(&socket).set_tcp_keepalive(&keepalive)?;
                let stream = Capped::new(Socket::Tcp(socket), self.max_message);
                let mut tls = CappedTls::new(self.tls.clone(), self.max_message);
                let Ok(connector) = MakeTlsConnect::make_tls_connect(&mut tls, name);
                let (client, connection) = self.config.connect_raw(stream, connector).await?;
                spawn_connection(connection);
                client
            }
        };
        let pid: i32 = client
            .query_one("SELECT pg_backend_pid()", &[])
            .await?
            .get(0);
        Ok(Connection {
            cancel: client.cancel_token(),
            client,
            pid,
            tls: self.tls.clone(),
        })
    }
}

fn unix_socket(dir: &Path, port: u16) -> std::path::PathBuf {
    dir.join(format!(".s.PGSQL.{port}"))
}

fn spawn_connection<S, T>(connection: tokio_postgres::Connection<S, T>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(error = %super::error_text(&error), "query connection ended");
        }
    });
}

impl managed::Manager for Manager {
    type Type = Connection;
    type Error = ConnectError;

    async fn create(&self) -> Result<Connection, ConnectError> {
        self.open().await
    }

    async fn recycle(
        &self,
        connection: &mut Connection,
        _: &Metrics,
    ) -> RecycleResult<ConnectError> {
        // The query path returns only clean connections; here it suffices
        // that the server has not closed this one meanwhile.
        if connection.client.is_closed() {
            Err(RecycleError::message("the connection was closed"))
        } else {
            Ok(())
        }
    }
}

pub type Pool = managed::Pool<Manager>;
pub type Object = managed::Object<Manager>;
pub type PoolError = managed::PoolError<ConnectError>;
