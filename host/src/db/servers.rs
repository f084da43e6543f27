//! Where a caller's statement runs: the primary, or one of its streaming
//! read replicas, and on which login.
//!
//! Every caller statement is a short read-only transaction, which a hot
//! standby serves as well as the primary: statements spread round-robin over
//! the replicas that are healthy, and go to the primary when none is. A
//! replica is healthy when a probe answered within [`PROBE_TIMEOUT`] and its
//! replay lag is within the bound; a statement that finds its replica gone
//! marks it unhealthy and runs again on the primary (read-only, so running
//! it twice changes nothing). Migrations, seeding and MCP sessions never
//! come here: they use the primary's administrative and sessions logins.
//!
//! Lag is measured against the primary, not by the replica's own account:
//! while replicas are configured the host writes a heartbeat on the primary
//! every [`PROBE_EVERY`] (`zava_sessions.heartbeat`, migration 0009), and
//! the probe reads its age on the replica. A replica whose WAL stream
//! stopped has replayed all it received and would report no lag of its own
//! while its copy of who-may-see-what ages; a promoted one is no longer a
//! copy of the primary at all (not in recovery: out of rotation).
//!
//! Each server has two pools, one per login ([`Login`]): store managers run
//! on `zava_query`, whose policies filter by store; head office on
//! `zava_hq`, whose policies filter nothing and whose `rls.enter` refuses
//! everybody else (migration 0008).

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use deadpool::managed::{PoolError as DeadpoolError, Timeouts};
use tokio_postgres::Config;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::pool::{Manager, Object, Pool};
use super::settings::{HQ_ROLE, SESSIONS_ROLE};
use crate::bindings::zava::mcp::types::DbError;

/// How long a statement waits for a connection of a pool.
const CONNECTION_WAIT: Duration = Duration::from_secs(10);
/// How often each replica is probed.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);
/// A probe slower than this counts as a failure.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// The login a statement runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login {
    /// `zava_query`: store managers (and callers with no scope).
    Store,
    /// `zava_hq`: head office only.
    HeadOffice,
}

/// One PostgreSQL server's pools.
pub struct Server {
    /// Host and port, for logs and errors.
    pub label: String,
    store: Pool,
    head_office: Pool,
}

impl Server {
    fn new(
        store: Config,
        secret: &str,
        tls: &MakeRustlsConnect,
        max_message: usize,
        size: usize,
    ) -> Result<Self, deadpool::managed::BuildError> {
        let mut head_office = store.clone();
        head_office
            .user(HQ_ROLE)
            .password(super::gate::hq_password(secret));
        Ok(Self {
            label: super::settings::describe(&store),
            store: pool(store, tls, max_message, size)?,
            head_office: pool(head_office, tls, max_message, size)?,
        })
    }

    pub async fn connection(&self, login: Login) -> Result<Object, DbError> {
        let pool = match login {
            Login::Store => &self.store,
            Login::HeadOffice => &self.head_office,
        };
        pool.get().await.map_err(|e| match e {
            DeadpoolError::Timeout(_) => DbError::Unavailable(
                "the database is busy or not answering (no connection became free); retry shortly"
                    .into(),
            ),
            DeadpoolError::Backend(e) => DbError::Unavailable(format!("{CANNOT_CONNECT}: {e}")),
            other => DbError::Unavailable(format!("{CANNOT_CONNECT}: {other}")),
        })
    }

    pub fn status(&self) -> deadpool::Status {
        self.store.status()
    }
}

fn pool(
    config: Config,
    tls: &MakeRustlsConnect,
    max_message: usize,
    size: usize,
) -> Result<Pool, deadpool::managed::BuildError> {
    Pool::builder(Manager::new(config, tls.clone(), max_message))
        .max_size(size.max(1))
        .runtime(deadpool::Runtime::Tokio1)
        .timeouts(Timeouts {
            wait: Some(CONNECTION_WAIT),
            create: Some(Duration::from_secs(5)),
            recycle: Some(Duration::from_secs(5)),
        })
        .build()
}

/// A streaming replica: its pools and what its probe last found.
pub struct Replica {
    pub server: Server,
    healthy: AtomicBool,
    /// Replay lag in ms at the last probe (-1: never answered).
    lag_ms: AtomicI64,
}

impl Replica {
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Replay lag at the last successful probe.
    pub fn lag(&self) -> Option<Duration> {
        u64::try_from(self.lag_ms.load(Ordering::Relaxed))
            .ok()
            .map(Duration::from_millis)
    }

    /// Taken out of rotation until a probe finds it well again.
    pub fn mark_down(&self, why: &str) {
        if self.healthy.swap(false, Ordering::Relaxed) {
            tracing::warn!(replica = %self.server.label, reason = why, "read replica out of rotation");
        }
    }

    fn mark(&self, lag: Option<Duration>, max_lag: Duration, why: impl FnOnce() -> String) {
        self.lag_ms.store(
            lag.map_or(-1, |l| l.as_millis().min(i64::MAX as u128) as i64),
            Ordering::Relaxed,
        );
        let healthy = lag.is_some_and(|l| l <= max_lag);
        if healthy != self.healthy.swap(healthy, Ordering::Relaxed) {
            if healthy {
                tracing::info!(replica = %self.server.label, lag_ms = ?lag.map(|l| l.as_millis()), "read replica in rotation");
            } else {
                tracing::warn!(replica = %self.server.label, reason = %why(), "read replica out of rotation");
            }
        }
    }
}

/// Where statements run: the primary and its replicas.
pub struct Servers {
    pub primary: Server,
    primary_config: Config,
    pub replicas: Vec<Arc<Replica>>,
    /// Writes the heartbeat on the primary while replicas are configured.
    heartbeat: Option<tokio::task::JoinHandle<()>>,
    /// The last heartbeat written, in ms by the primary's clock (0: none
    /// yet): lag is the distance from it to the one a replica has replayed,
    /// both read off the same clock.
    latest_beat: Arc<AtomicI64>,
    /// The primary takes its turn beside healthy replicas (otherwise only
    /// when none is healthy).
    pub primary_reads: bool,
    next: AtomicUsize,
}

/// The server a statement was sent to.
pub enum Picked<'a> {
    Primary(&'a Server),
    Replica(&'a Arc<Replica>),
}

impl Picked<'_> {
    pub fn server(&self) -> &Server {
        match self {
            Picked::Primary(server) => server,
            Picked::Replica(replica) => &replica.server,
        }
    }
}

/// Connection settings shared by every server's pools.
pub struct PoolSettings<'a> {
    pub secret: &'a str,
    pub tls: &'a MakeRustlsConnect,
    pub max_message: usize,
    pub size: usize,
}

impl Servers {
    pub fn new(primary: Config, settings: &PoolSettings<'_>) -> Result<Self, DbBuildError> {
        Ok(Self {
            primary_config: primary.clone(),
            primary: Server::new(
                primary,
                settings.secret,
                settings.tls,
                settings.max_message,
                settings.size,
            )
            .map_err(DbBuildError)?,
            replicas: Vec::new(),
            heartbeat: None,
            latest_beat: Arc::new(AtomicI64::new(0)),
            primary_reads: false,
            next: AtomicUsize::new(0),
        })
    }

    /// Adds a replica served with the same logins as the primary, and
    /// starts probing it (every [`PROBE_EVERY`]; the probe stops when the
    /// replica is dropped). It takes statements once a probe has found it
    /// within `max_lag`.
    pub fn add_replica(
        &mut self,
        store: Config,
        settings: &PoolSettings<'_>,
        max_lag: Duration,
    ) -> Result<(), DbBuildError> {
        let mut probe = store.clone();
        probe
            .user(SESSIONS_ROLE)
            .password(super::gate::sessions_password(settings.secret));
        if self.heartbeat.is_none() {
            let mut primary = self.primary_config.clone();
            primary
                .user(SESSIONS_ROLE)
                .password(super::gate::sessions_password(settings.secret));
            self.heartbeat = Some(tokio::spawn(heartbeat_loop(
                primary,
                settings.tls.clone(),
                self.latest_beat.clone(),
            )));
        }
        let replica = Arc::new(Replica {
            server: Server::new(
                store,
                settings.secret,
                settings.tls,
                settings.max_message,
                settings.size,
            )
            .map_err(DbBuildError)?,
            healthy: AtomicBool::new(false),
            lag_ms: AtomicI64::new(-1),
        });
        tokio::spawn(probe_loop(
            Arc::downgrade(&replica),
            probe,
            settings.tls.clone(),
            self.latest_beat.clone(),
            max_lag,
        ));
        self.replicas.push(replica);
        Ok(())
    }

    /// The primary's store-login settings.
    pub fn primary_config(&self) -> &Config {
        &self.primary_config
    }

    /// The next healthy replica in turn (or the primary's turn, with
    /// [`Servers::primary_reads`]), or the primary if none is healthy.
    /// Turns are counted over the healthy ones only, so a replica out of
    /// rotation does not double its neighbour's share.
    pub fn pick(&self) -> Picked<'_> {
        let healthy = || self.replicas.iter().filter(|r| r.is_healthy());
        let count = healthy().count();
        if count == 0 {
            return Picked::Primary(&self.primary);
        }
        let turns = count + usize::from(self.primary_reads);
        let turn = self.next.fetch_add(1, Ordering::Relaxed) % turns;
        // A replica that left rotation meanwhile gives its turn to the
        // primary.
        match healthy().nth(turn) {
            Some(replica) => Picked::Replica(replica),
            None => Picked::Primary(&self.primary),
        }
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        if let Some(heartbeat) = self.heartbeat.take() {
            heartbeat.abort();
        }
    }
}

/// A pool that cannot be built (only for invalid settings).
#[derive(Debug, thiserror::Error)]
#[error("cannot build the connection pool: {0}")]
pub struct DbBuildError(pub deadpool::managed::BuildError);

/// Is the server a standby, and how old is the primary's heartbeat there
/// (NULL: none replayed yet).
const LAG_SQL: &str = "SELECT pg_is_in_recovery(), \
     (SELECT (extract(epoch FROM at) * 1000)::int8 FROM zava_sessions.heartbeat WHERE id = 1)";

const HEARTBEAT_SQL: &str = "INSERT INTO zava_sessions.heartbeat (id, at) VALUES (1, now()) \
     ON CONFLICT (id) DO UPDATE SET at = excluded.at \
     RETURNING (extract(epoch FROM at) * 1000)::int8";

/// One connection kept open for a periodic statement: opened when needed,
/// dropped after a failure, every step bounded by [`PROBE_TIMEOUT`].
struct Kept {
    config: Config,
    tls: MakeRustlsConnect,
    client: Option<tokio_postgres::Client>,
}

impl Kept {
    fn new(config: Config, tls: MakeRustlsConnect) -> Self {
        Self {
            config,
            tls,
            client: None,
        }
    }

    /// Runs `sql` (one row expected, or none for a command) and says why
    /// not when it could not.
    async fn run(&mut self, sql: &str) -> Result<Option<tokio_postgres::Row>, String> {
        if self.client.as_ref().is_none_or(|c| c.is_closed()) {
            let connect = super::migrate::connect(&self.config, &self.tls);
            self.client = Some(
                tokio::time::timeout(PROBE_TIMEOUT, connect)
                    .await
                    .map_err(|_| "no answer to connect".to_string())?
                    .map_err(|e| e.to_string())?,
            );
        }
        let Some(client) = &self.client else {
            return Err("not connected".into());
        };
        let result = match tokio::time::timeout(PROBE_TIMEOUT, client.query_opt(sql, &[])).await {
            Ok(Ok(row)) => return Ok(row),
            Ok(Err(error)) => super::error_text(&error),
            Err(_) => "no answer to the probe".into(),
        };
        self.client = None;
        Err(result)
    }
}

fn ticker() -> tokio::time::Interval {
    let mut ticker = tokio::time::interval(PROBE_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker
}

/// Writes the heartbeat on the primary every [`PROBE_EVERY`]; failures are
/// logged at debug level (a primary that is down shows everywhere else).
async fn heartbeat_loop(config: Config, tls: MakeRustlsConnect, latest: Arc<AtomicI64>) {
    let mut primary = Kept::new(config, tls);
    let mut ticker = ticker();
    loop {
        ticker.tick().await;
        match primary.run(HEARTBEAT_SQL).await {
            Ok(row) => {
                if let Some(at) = row.and_then(|r| r.try_get::<_, i64>(0).ok()) {
                    latest.store(at, Ordering::Relaxed);
                }
            }
            Err(error) => tracing::debug!(%error, "cannot write the replica heartbeat"),
        }
    }
}

/// Probes a replica every [`PROBE_EVERY`] until it is dropped.
async fn probe_loop(
    replica: Weak<Replica>,
    config: Config,
    tls: MakeRustlsConnect,
    latest_beat: Arc<AtomicI64>,
    max_lag: Duration,
) {
    let mut server = Kept::new(config, tls);
    let mut ticker = ticker();
    loop {
        ticker.tick().await;
        let Some(replica) = replica.upgrade() else {
            return;
        };
        let row = match server.run(LAG_SQL).await {
            Ok(Some(row)) => row,
            Ok(None) => {
                replica.mark(None, max_lag, || "the probe returned no row".into());
                continue;
            }
            Err(error) => {
                replica.mark(None, max_lag, || error);
                continue;
            }
        };
        let in_recovery: bool = row.try_get(0).unwrap_or(false);
        let replayed: Option<i64> = row.try_get(1).ok().flatten();
        let latest = latest_beat.load(Ordering::Relaxed);
        match (in_recovery, replayed) {
            (false, _) => replica.mark(None, max_lag, || {
                "not in recovery: promoted, or not a replica at all".into()
            }),
            (true, None) => replica.mark(None, max_lag, || {
                "no heartbeat of the primary replayed yet".into()
            }),
            (true, Some(_)) if latest == 0 => replica.mark(None, max_lag, || {
                "no heartbeat written on the primary yet".into()
            }),
            (true, Some(replayed)) => {
                // Both ends by the primary's clock: no skew between servers.
                let lag = Duration::from_millis(latest.saturating_sub(replayed).max(0) as u64);
                replica.mark(Some(lag), max_lag, || {
                    format!(
                        "{lag:?} behind the primary's last heartbeat, over the bound of {max_lag:?}"
                    )
                });
            }
        }
    }
}

/// No connection to the server could be opened (as opposed to a pool
/// that is merely busy): the statement may run on another server.
pub fn cannot_connect(error: &DbError) -> bool {
    matches!(error, DbError::Unavailable(message) if message.starts_with(CANNOT_CONNECT))
}

const CANNOT_CONNECT: &str = "cannot connect to the database";

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(tls: &MakeRustlsConnect) -> PoolSettings<'_> {
        PoolSettings {
            secret: "0123456789abcdef0123456789abcdef",
            tls,
            max_message: 1 << 20,
            size: 1,
        }
    }

    fn config(port: u16) -> Config {
        let mut config = Config::new();
        config
            .host("127.0.0.1")
            .port(port)
            .user("zava_query")
            .dbname("zava");
        config
    }

    /// A replica whose probe never runs (pools open lazily: nothing connects).
    fn replica(port: u16, healthy: bool, tls: &MakeRustlsConnect) -> Arc<Replica> {
        let s = settings(tls);
        Arc::new(Replica {
            server: Server::new(config(port), s.secret, s.tls, s.max_message, s.size).unwrap(),
            healthy: AtomicBool::new(healthy),
            lag_ms: AtomicI64::new(if healthy { 0 } else { -1 }),
        })
    }

    fn picks(servers: &Servers, n: usize) -> Vec<String> {
        (0..n)
            .map(|_| match servers.pick() {
                Picked::Primary(_) => "primary".to_string(),
                Picked::Replica(r) => r.server.label.clone(),
            })
            .collect()
    }

    #[tokio::test]
    async fn statements_go_round_robin_over_healthy_replicas_else_the_primary() {
        let tls = crate::db::tls::connector(None).unwrap();
        let mut servers = Servers::new(config(5432), &settings(&tls)).unwrap();
        assert!(picks(&servers, 3).iter().all(|p| p == "primary"));

        servers.replicas = vec![
            replica(5433, true, &tls),
            replica(5434, false, &tls),
            replica(5435, true, &tls),
        ];
        let seen = picks(&servers, 6);
        assert!(
            seen.iter()
                .all(|p| p.ends_with(":5433/zava") || p.ends_with(":5435/zava")),
            "{seen:?}"
        );
        assert_eq!(
            seen.iter().filter(|p| p.ends_with(":5433/zava")).count(),
            3,
            "{seen:?}"
        );

        // With the primary in the rotation it takes its turn too.
        servers.primary_reads = true;
        let seen = picks(&servers, 8);
        assert_eq!(
            seen.iter().filter(|p| *p == "primary").count(),
            2,
            "{seen:?}"
        );

        // None healthy: the primary, always.
        for replica in &servers.replicas {
            replica.mark_down("test");
        }
        assert!(picks(&servers, 4).iter().all(|p| p == "primary"));
    }

    #[test]
    fn a_replica_is_healthy_only_within_the_lag_bound() {
        let tls = crate::db::tls::connector(None).unwrap();
        let replica = replica(5433, false, &tls);
        let bound = Duration::from_secs(5);
        replica.mark(Some(Duration::from_secs(1)), bound, String::new);
        assert!(replica.is_healthy());
        assert_eq!(replica.lag(), Some(Duration::from_secs(1)));
        replica.mark(Some(Duration::from_secs(6)), bound, String::new);
        assert!(!replica.is_healthy());
        replica.mark(None, bound, String::new);
        assert!(!replica.is_healthy());
        assert_eq!(replica.lag(), None);
    }
}
