//! One caller query = one short read-only transaction on a pooled connection
//! of the query role, in which the host first establishes the caller with
//! `rls.enter` and a proof only it can make ([`super::gate`]).
//!
//! Before a connection is taken:
//! - the statement guard checks the SQL ([`super::guard`]);
//! - the caller's identity takes one of its share of the pool's connections
//!   ([`Shares`]), so one identity never holds the whole pool.
//!
//! Two round trips, each a pipeline of requests:
//! 1. `BEGIN READ ONLY ISOLATION LEVEL REPEATABLE READ` + `SET LOCAL` limits,
//!    `rls.enter(proof, ms, user)`, and Parse/Describe of the caller's
//!    statement (extended protocol: exactly one statement, wrapped in
//!    `LIMIT max-rows + 1` where that leaves its plan alone — see
//!    [`guard::Checked::limited`]);
//! 2. Bind + Execute, reading at most max-rows + 1 rows within a byte budget
//!    that decoding charges as it goes ([`values::Budget`]), then
//!    `pg_advisory_unlock_all()` and `ROLLBACK`.
//!
//! No server message may exceed the budget either ([`super::transport`]).
//! A connection whose state is in doubt (an error in step 2, a call
//! abandoned half-way) is cancelled and dropped, never returned to the pool.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{StreamExt, pin_mut};
use quick_cache::sync::Cache;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::Type;
use tokio_postgres::{Config, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;
use uuid::Uuid;

use super::gate::{GateKey, Purpose, now_ms};
use super::guard::{self, Guard, KnownFunctions};
use super::pool::Object;
use super::servers::{DbBuildError, Login, Picked, PoolSettings, Servers, cannot_connect};
use super::transport::MessageTooLarge;
use super::values::{self, Budget, DecodeError, Param, Raw};
use crate::bindings::zava::mcp::types::{Column, DbError, RowSet, SqlValue};

/// Limits applied to every caller statement.
#[derive(Debug, Clone)]
pub struct QueryLimits {
    pub statement_timeout: Duration,
    pub lock_timeout: Duration,
    pub idle_timeout: Duration,
    pub work_mem_mib: u32,
    /// Upper bound on what a component may ask for.
    pub max_rows: u32,
    /// What one result may take in the host's memory, decoded.
    pub max_bytes: usize,
    /// Longest SQL text the guard parses.
    pub max_sql_bytes: usize,
    /// Connections of the pool one identity may hold at once (0: a quarter
    /// of the pool, at least one).
    pub identity_share: usize,
    /// Check caller SQL with the statement guard before sending it. Only the
    /// attack tests turn it off, to show what the database holds on its own.
    pub parser_guard: bool,
}

impl Default for QueryLimits {
    fn default() -> Self {
        Self {
            statement_timeout: Duration::from_secs(10),
            lock_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(30),
            work_mem_mib: 4,
            max_rows: 10_000,
            max_bytes: 4 << 20,
            max_sql_bytes: guard::DEFAULT_MAX_SQL_BYTES,
            identity_share: 0,
            parser_guard: true,
        }
    }
}

/// Whose query this is: the identity that holds a share of the pool, and
/// the RLS user PostgreSQL establishes.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Arc<str>,
    pub user: Uuid,
}

impl From<Uuid> for Caller {
    /// A caller known only by its RLS user (tests, benchmarks).
    fn from(user: Uuid) -> Self {
        Self {
            principal: format!("user:{user}").into(),
            user,
        }
    }
}

/// Running one statement as a caller: what the `database` import needs of
/// [`CallerDb`]. A trait, so that the import's host side (query caps, row
/// ceilings, refusals, audit records) is tested without PostgreSQL.
#[async_trait::async_trait]
pub trait QueryAsCaller: Send + Sync {
    async fn query_as(
        &self,
        caller: Caller,
        sql: &str,
        params: &[SqlValue],
        max_rows: u32,
    ) -> Result<RowSet, DbError>;
}

#[async_trait::async_trait]
impl QueryAsCaller for CallerDb {
    async fn query_as(
        &self,
        caller: Caller,
        sql: &str,
        params: &[SqlValue],
        max_rows: u32,
    ) -> Result<RowSet, DbError> {
        self.query(caller, sql, params, max_rows).await
    }
}

/// How long a query waits for its identity's share of the pool.
const CONNECTION_WAIT: Duration = Duration::from_secs(10);
/// Callers whose login (store or head office) is remembered.
const KNOWN_LOGINS: usize = 10_000;
/// How often the database's function names are read again.
const KNOWN_FUNCTIONS_TTL: Duration = Duration::from_secs(600);

/// Why the caller database cannot be set up. Wrapped errors are part of the
/// message.
#[derive(Debug, thiserror::Error)]
pub enum CallerDbError {
    #[error(transparent)]
    Tls(#[from] super::tls::TlsError),
    #[error(transparent)]
    Pool(#[from] DbBuildError),
    /// A replica must be reached as the primary's query login: any other
    /// role (an administrator's, copied from DATABASE_URL) could read
    /// around the policies.
    #[error("read replica {replica}: log in as {expected}, the query login (it names {named})")]
    ReplicaUser {
        replica: String,
        expected: String,
        named: String,
    },
}

/// The database as tool components see it: every query as its caller.
pub struct CallerDb {
    servers: Servers,
    /// Which login each recent caller runs on; a caller not in it tries the
    /// store login first, and PostgreSQL's answer corrects the guess.
    logins: Cache<Uuid, Login>,
    gate: GateKey,
    gate_secret: String,
    tls: MakeRustlsConnect,
    /// Largest server message a connection accepts.
    max_message: usize,
    pool_size: usize,
    limits: QueryLimits,
    /// `BEGIN` and the `SET LOCAL` batch, built once from the limits.
    prologue: String,
    guard: Guard,
    shares: Shares,
    /// Until when (Unix ms) the guard's function names are fresh.
    known_until: AtomicI64,
    refreshing: tokio::sync::Mutex<()>,
}

impl CallerDb {
    /// Builds the pool (connections open lazily, so a database that is down
    /// at start-up only makes queries answer `unavailable` until it is up).
    pub fn new(
        query: Config,
        gate_secret: String,
        limits: QueryLimits,
        pool_size: usize,
    ) -> Result<Self, CallerDbError> {
        let tls = super::tls::connector(None)?;
        Self::with_tls(query, gate_secret, limits, pool_size, tls)
    }

    /// As [`CallerDb::new`], with a TLS configuration (extra CAs).
    pub fn with_tls(
        query: Config,
        gate_secret: String,
        limits: QueryLimits,
        pool_size: usize,
        tls: MakeRustlsConnect,
    ) -> Result<Self, CallerDbError> {
        let pool_size = pool_size.max(1);
        // A whole result fits in one message only up to the budget; the
        // margin covers a row description and an error message.
        let max_message = limits.max_bytes.max(1 << 20) + (64 << 10);
        let servers = Servers::new(
            query,
            &PoolSettings {
                secret: &gate_secret,
                tls: &tls,
                max_message,
                size: pool_size,
            },
        )?;
        // hnsw.*: with a selective filter, pgvector keeps walking the index
        // until enough rows pass (iterative scans, pgvector >= 0.8) instead
        // of returning fewer than asked for.
        let prologue = format!(
            "BEGIN READ ONLY ISOLATION LEVEL REPEATABLE READ; \
             SET LOCAL statement_timeout = {}; SET LOCAL lock_timeout = {}; \
             SET LOCAL idle_in_transaction_session_timeout = {}; SET LOCAL work_mem = '{}MB'; \
             SET LOCAL search_path = pg_catalog, retail, public; \
             SET LOCAL client_min_messages = warning; \
             SET LOCAL hnsw.iterative_scan = strict_order; SET LOCAL hnsw.ef_search = 100",
            limits.statement_timeout.as_millis().max(1),
            limits.lock_timeout.as_millis().max(1),
            limits.idle_timeout.as_millis().max(1),
            limits.work_mem_mib.max(1),
        );
        let share = match limits.identity_share {
            0 => (pool_size / 4).max(1),
            n => n.min(pool_size),
        };
        Ok(Self {
            servers,
            logins: Cache::new(KNOWN_LOGINS),
            gate: GateKey::from_secret(&gate_secret),
            gate_secret,
            tls,
            max_message,
            pool_size,
            guard: Guard::new(limits.max_sql_bytes, KnownFunctions::Unknown),
            shares: Shares::new(share),
            limits,
            prologue,
            known_until: AtomicI64::new(0),
            refreshing: tokio::sync::Mutex::new(()),
        })
    }

    pub fn limits(&self) -> &QueryLimits {
        &self.limits
    }

    /// Connections one identity may hold at once.
    pub fn identity_share(&self) -> usize {
        self.shares.per_identity
    }

    /// The primary's store-login pool.
    pub fn pool_status(&self) -> deadpool::Status {
        self.servers.primary.status()
    }

    /// Spreads caller statements over read replicas of the primary too
    /// (see [`super::servers`]). Each URL names a replica; its user and
    /// password default to the primary's query login. Needs a Tokio
    /// runtime (each replica is probed by a task of its own).
    pub fn with_replicas(mut self, replicas: Replicas) -> Result<Self, CallerDbError> {
        let Replicas {
            servers: configs,
            max_lag,
            primary_reads,
        } = replicas;
        self.servers.primary_reads = primary_reads;
        let primary = self.servers.primary_config().clone();
        for config in configs {
            let config = replica_settings(&primary, config)?;
            self.servers.add_replica(
                config,
                &PoolSettings {
                    secret: &self.gate_secret,
                    tls: &self.tls,
                    max_message: self.max_message,
                    size: self.pool_size,
                },
                max_lag,
            )?;
        }
        Ok(self)
    }

    /// The replicas and what their probes last found: (label, healthy, lag).
    pub fn replicas(&self) -> Vec<(String, bool, Option<Duration>)> {
        self.servers
            .replicas
            .iter()
            .map(|r| (r.server.label.clone(), r.is_healthy(), r.lag()))
            .collect()
    }

    /// The scope PostgreSQL holds for `caller`: `all`, a store id, or `none`.
    pub async fn scope_of(&self, caller: Uuid) -> Result<String, DbError> {
        let conn = self.connection().await?;
        let at = now_ms();
        let proof = self.gate.proof(Purpose::Scope, conn.pid, at, caller);
        let row = conn
            .client
            .query_typed_one(
                "SELECT rls.scope_of($1, $2, $3)",
                &[
                    (&proof, Type::TEXT),
                    (&at, Type::INT8),
                    (&caller, Type::UUID),
                ],
            )
            .await
            .map_err(|e| classify(&e))?;
        let scope: String = row.get(0);
        // The next query of this caller goes straight to its login.
        let login = if scope == "all" {
            Login::HeadOffice
        } else {
            Login::Store
        };
        self.logins.insert(caller, login);
        Ok(scope)
    }

    /// Makes sure the guard knows the database's function names: read
    /// them when unknown (the query waits), or when stale (in passing, by
    /// whichever query gets there first; the others use the old names).
    pub async fn refresh_known_functions(&self) -> Result<(), DbError> {
        if self.known_until.load(Ordering::Relaxed) > now_ms() {
            return Ok(());
        }
        if self.guard.knows_functions() {
            if let Ok(_refreshing) = self.refreshing.try_lock()
                && let Err(error) = self.read_known_functions().await
            {
                tracing::warn!(?error, "could not read the database's function names again");
            }
            return Ok(());
        }
        let _refreshing = self.refreshing.lock().await;
        if !self.guard.knows_functions() {
            self.read_known_functions().await?;
        }
        Ok(())
    }

    async fn read_known_functions(&self) -> Result<(), DbError> {
        let conn = self.connection().await?;
        let row = conn
            .client
            .query_one("SELECT rls.callable_names()", &[])
            .await
            .map_err(|e| classify(&e))?;
        let names: Vec<String> = row.get(0);
        tracing::debug!(
            functions = names.len(),
            "the statement guard read the database's function names"
        );
        self.guard.set_known(KnownFunctions::new(names));
        self.known_until.store(
            now_ms() + KNOWN_FUNCTIONS_TTL.as_millis() as i64,
            Ordering::Relaxed,
        );
        Ok(())
    }

    /// Runs `sql` as `caller`. See the module documentation for the steps.
    pub async fn query(
        &self,
        caller: impl Into<Caller>,
        sql: &str,
        params: &[SqlValue],
        max_rows: u32,
    ) -> Result<RowSet, DbError> {
        let caller = caller.into();
        let max_rows = max_rows.clamp(1, self.limits.max_rows);
        // Where a LIMIT does not change its plan, the server stops after
        // max-rows + 1 rows; reading stops there in any case.
        let text = if self.limits.parser_guard {
            self.refresh_known_functions().await?;
            let checked = self
                .guard
                .check(&caller.principal, sql)
                .await
                .map_err(|e| DbError::Rejected(e.0))?;
            checked.limited(sql, max_rows + 1)
        } else {
            sql.to_string()
        };
        // A wrong guess of the login costs one round trip, and a replica
        // that went away one retry on the primary; never more than that.
        let mut login = self.logins.get(&caller.user).unwrap_or(Login::Store);
        let mut picked = self.servers.pick();
        let mut share = None;
        for _ in 0..3 {
            let permit = match share.take() {
                Some(permit) => permit,
                None => self.shares.acquire(&caller.principal).await?,
            };
            let object = match picked.server().connection(login).await {
                Ok(object) => object,
                Err(error) => match picked {
                    Picked::Replica(replica) if cannot_connect(&error) => {
                        replica.mark_down(&format!("{error:?}"));
                        picked = Picked::Primary(&self.servers.primary);
                        share = Some(permit);
                        continue;
                    }
                    _ => return Err(error),
                },
            };
            let mut conn = Checkout::new(object, permit);
            let result = self
                .run(
                    conn.connection(),
                    login,
                    caller.user,
                    &text,
                    params,
                    max_rows,
                )
                .await;
            match result {
                Ok(rows) => {
                    conn.mark_clean();
                    return Ok(rows);
                }
                Err(Attempt::OtherLogin(other)) => {
                    conn.finish_after_error().await;
                    self.logins.insert(caller.user, other);
                    login = other;
                    share = conn.release();
                }
                Err(Attempt::Failed { error, elsewhere }) => {
                    // The statement failed or was refused inside the
                    // transaction: roll back, and release advisory locks
                    // outside of it.
                    conn.finish_after_error().await;
                    match picked {
                        Picked::Replica(_) if elsewhere => {
                            picked = Picked::Primary(&self.servers.primary);
                            share = conn.release();
                        }
                        _ => return Err(error),
                    }
                }
            }
        }
        Err(DbError::Unavailable(
            "the database could not serve this query; retry shortly".into(),
        ))
    }

    async fn connection(&self) -> Result<Object, DbError> {
        self.servers.primary.connection(Login::Store).await
    }

    async fn run(
        &self,
        conn: &super::pool::Connection,
        login: Login,
        caller: Uuid,
        sql: &str,
        params: &[SqlValue],
        max_rows: u32,
    ) -> Result<RowSet, Attempt> {
        let client = &conn.client;
        let at = now_ms();
        let proof = self.gate.proof(Purpose::Enter, conn.pid, at, caller);
        let enter_params: [(&(dyn tokio_postgres::types::ToSql + Sync), Type); 3] = [
            (&proof, Type::TEXT),
            (&at, Type::INT8),
            (&caller, Type::UUID),
        ];
        // Round trip 1: open the transaction, set its limits, establish the
        // caller, and parse the statement. Each request is answered in order,
        // so everything after a failure fails too and is reported as such.
        let (begun, entered, prepared) = futures::join!(
            client.batch_execute(&self.prologue),
            client.query_typed_one("SELECT rls.enter($1, $2, $3)", &enter_params),
            client.prepare(sql),
        );
        // Nothing of the caller's has executed yet: a lost connection here
        // may be retried elsewhere.
        begun.map_err(failed_before_execute)?;
        // Head office is served on its own login (no per-row policy), and
        // only head office is: each login's `rls.enter` says when the
        // caller belongs on the other one, before any caller SQL has run.
        // On head office's login the host insists on the answer `all` too,
        // not only on the database refusing everyone else.
        match entered {
            Ok(row) => match (login, row.try_get::<_, Option<&str>>(0).ok().flatten()) {
                (Login::Store, Some("all")) => return Err(Attempt::OtherLogin(Login::HeadOffice)),
                (Login::HeadOffice, Some("all")) | (Login::Store, Some(_)) => {}
                (_, scope) => {
                    return Err(Attempt::from(DbError::Unavailable(format!(
                        "the server established an unexpected scope ({scope:?}) on the {login:?} login"
                    ))));
                }
            },
            Err(e)
                if login == Login::HeadOffice
                    && e.code().map(|c| c.code()) == Some(WRONG_LOGIN) =>
            {
                return Err(Attempt::OtherLogin(Login::Store));
            }
            Err(e) => return Err(failed_before_execute(e)),
        };
        // Parsing the caller's statement runs code of its choosing (type
        // input functions of its literals): a backend lost here may have
        // been killed by the statement, so only the server's own word lets
        // it run elsewhere.
        let statement = prepared.map_err(failed)?;
        let columns = describe(&statement)?;
        if statement.params().len() != params.len() {
            return Err(Attempt::from(DbError::Rejected(format!(
                "the query has {} parameter placeholder(s) ($1, $2, ...) but {} value(s) were given",
                statement.params().len(),
                params.len()
            ))));
        }
        // Round trip 2: bind and execute, then (pipelined behind it) release
        // any session-level advisory lock the statement took and roll back.
        let bound: Vec<Param<'_>> = params.iter().map(Param).collect();
        let (fetched, finished) = futures::join!(
            async {
                let stream = client
                    .query_raw(&statement, bound.iter())
                    .await
                    .map_err(failed)?;
                collect(stream, &statement, max_rows, self.limits.max_bytes)
                    .await
                    .map_err(Attempt::from)
            },
            client.batch_execute("SELECT pg_advisory_unlock_all(); ROLLBACK"),
        );
        let (rows, truncated) = fetched?;
        finished.map_err(failed)?;
        Ok(RowSet {
            columns,
            rows,
            truncated,
        })
    }
}

/// Read replicas of the primary ([`CallerDb::with_replicas`]).
#[derive(Debug, Clone)]
pub struct Replicas {
    /// Each replica's address (user, password and database default to the
    /// primary's query login).
    pub servers: Vec<Config>,
    /// Replay lag past which a replica takes no statements.
    pub max_lag: Duration,
    /// The primary serves its share of statements too, beside healthy
    /// replicas (otherwise only when none is healthy).
    pub primary_reads: bool,
}

impl Replicas {
    pub fn new(servers: Vec<Config>, max_lag: Duration) -> Self {
        Self {
            servers,
            max_lag,
            primary_reads: false,
        }
    }
}

/// A replica's connection settings, completed from the primary's query
/// login and checked.
fn replica_settings(primary: &Config, mut config: Config) -> Result<Config, CallerDbError> {
    // Roles replicate with the data: the query login's name and
    // password are the primary's unless the URL says otherwise.
    if config.get_user().is_none()
        && let Some(user) = primary.get_user()
    {
        config.user(user);
    }
    if config.get_password().is_none()
        && config.get_user() == primary.get_user()
        && let Some(password) = primary.get_password()
    {
        config.password(password);
    }
    // The same passwords go there: never over weaker TLS than the
    // primary's (a URL without sslmode would otherwise be "prefer",
    // which an attacker on the path can turn into cleartext).
    if config.get_ssl_mode() == SslMode::Prefer && primary.get_ssl_mode() == SslMode::Require {
        config.ssl_mode(SslMode::Require);
    }
    if config.get_user() != primary.get_user() {
        return Err(CallerDbError::ReplicaUser {
            replica: super::settings::describe(&config),
            expected: primary.get_user().unwrap_or("?").to_string(),
            named: config.get_user().unwrap_or("?").to_string(),
        });
    }
    if config.get_dbname().is_none()
        && let Some(db) = primary.get_dbname()
    {
        config.dbname(db);
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(5));
    }
    Ok(config)
}

/// SQLSTATE of `rls.enter` refusing a caller on head office's login.
const WRONG_LOGIN: &str = "ZV001";

/// How one attempt at a statement ended, short of rows.
enum Attempt {
    /// The caller belongs on the other login; nothing of theirs ran.
    OtherLogin(Login),
    Failed {
        error: DbError,
        /// The server, not the statement, ended it: shutting down or
        /// restarting (SQLSTATE 57P01-57P03), gone without a word (the
        /// connection closed, and not by the host over its byte budget),
        /// or, on a hot standby, cancelled to replay the primary's changes
        /// (40001, "conflict with recovery"). Another server may run it
        /// (once: read-only, so nothing happens twice).
        elsewhere: bool,
    },
}

impl From<DbError> for Attempt {
    fn from(error: DbError) -> Self {
        Attempt::Failed {
            error,
            elsewhere: false,
        }
    }
}

/// A failure once the statement may have executed: only the server's own
/// word (shutting down, a recovery conflict) lets it run elsewhere; a
/// backend that died mid-statement (a crash, the OOM killer) may have been
/// killed by the statement itself, and the primary must not get it too.
fn failed(error: tokio_postgres::Error) -> Attempt {
    // 40001 cannot happen to a read-only transaction but on a hot standby
    // (conflict with recovery), whatever the server's message language.
    let elsewhere = error.as_db_error().is_some_and(|db| {
        matches!(db.code().code(), "57P01" | "57P02" | "57P03")
            || *db.code() == SqlState::T_R_SERIALIZATION_FAILURE
    });
    Attempt::Failed {
        error: classify(&error),
        elsewhere,
    }
}

/// A failure before the statement executed (opening the transaction,
/// establishing the caller, parsing): a connection lost here, short of the
/// host's own byte cap, means the server went away.
fn failed_before_execute(error: tokio_postgres::Error) -> Attempt {
    let lost = error.as_db_error().is_none()
        && error.is_closed()
        && MessageTooLarge::in_chain(&error).is_none();
    match failed(error) {
        Attempt::Failed { error, elsewhere } => Attempt::Failed {
            error,
            elsewhere: elsewhere || lost,
        },
        other => other,
    }
}

/// Each identity's share of the pool: a semaphore per identity that holds
/// connections or waits for them. Entries of identities with nothing in
/// flight are dropped once the map grows, so bookkeeping stays O(1) per
/// query (amortised).
struct Shares {
    per_identity: usize,
    map: Mutex<ShareMap>,
}

struct ShareMap {
    semaphores: HashMap<Arc<str>, Arc<Semaphore>>,
    sweep_at: usize,
}

const SHARES_SWEEP_AT: usize = 1024;

impl Shares {
    fn new(per_identity: usize) -> Self {
        Self {
            per_identity,
            map: Mutex::new(ShareMap {
                semaphores: HashMap::new(),
                sweep_at: SHARES_SWEEP_AT,
            }),
        }
    }

    async fn acquire(&self, principal: &Arc<str>) -> Result<OwnedSemaphorePermit, DbError> {
        let semaphore = {
            let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
            if map.semaphores.len() >= map.sweep_at {
                // Idle: nobody but the map holds it and every permit is back.
                let full = self.per_identity;
                map.semaphores
                    .retain(|_, s| Arc::strong_count(s) > 1 || s.available_permits() < full);
                map.sweep_at = (map.semaphores.len() * 2).max(SHARES_SWEEP_AT);
            }
            map.semaphores
                .entry(principal.clone())
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_identity)))
                .clone()
        };
        match tokio::time::timeout(CONNECTION_WAIT, semaphore.acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(DbError::Unavailable(format!(
                "you already have {} queries running (your share of the server's database \
                 connections); wait for one to finish",
                self.per_identity
            ))),
        }
    }
}

fn describe(statement: &Statement) -> Result<Vec<Column>, DbError> {
    statement
        .columns()
        .iter()
        .map(|c| {
            if values::supported(c.type_()) {
                Ok(Column {
                    name: c.name().to_string(),
                    type_name: c.type_().name().to_string(),
                })
            } else {
                Err(DbError::Rejected(format!(
                    "column `{}` has type `{}`, which this server cannot return; cast it to text \
                     (e.g. `{}::text`)",
                    c.name(),
                    c.type_().name(),
                    c.name()
                )))
            }
        })
        .collect()
}

type Rows = Vec<Vec<SqlValue>>;

/// Heap bytes of one row besides its values.
const ROW_OVERHEAD: usize = std::mem::size_of::<Vec<SqlValue>>();

/// Reads at most `max_rows` rows within `max_bytes` of decoded values; says
/// whether more existed (or would not fit).
async fn collect(
    stream: tokio_postgres::RowStream,
    statement: &Statement,
    max_rows: u32,
    max_bytes: usize,
) -> Result<(Rows, bool), DbError> {
    pin_mut!(stream);
    let mut rows = Vec::new();
    let mut budget = Budget::new(max_bytes);
    while let Some(row) = stream.next().await {
        let row = row.map_err(|e| classify(&e))?;
        if rows.len() as u32 >= max_rows {
            return Ok((rows, true));
        }
        if budget.charge(ROW_OVERHEAD).is_err() {
            return Ok((rows, true));
        }
        let mut values = Vec::with_capacity(statement.columns().len());
        for (i, column) in statement.columns().iter().enumerate() {
            let raw: Raw<'_> = row.try_get(i).map_err(|e| DbError::Failed(e.to_string()))?;
            match values::decode(column.type_(), raw.0, &mut budget) {
                Ok(value) => values.push(value),
                // The row does not fit: the result so far is returned,
                // marked as cut short.
                Err(DecodeError::OverBudget) => return Ok((rows, true)),
                Err(e) => {
                    return Err(DbError::Failed(format!("column `{}`: {e}", column.name())));
                }
            }
        }
        rows.push(values);
    }
    Ok((rows, false))
}

/// Maps a PostgreSQL error to what a component (and the assistant behind
/// it) can act on.
pub fn classify(error: &tokio_postgres::Error) -> DbError {
    if let Some(too_large) = MessageTooLarge::in_chain(error) {
        return DbError::Rejected(format!(
            "one result row (or server message) is {} bytes, more than the {}-byte limit of this \
             server; select fewer or narrower columns",
            too_large.size, too_large.max
        ));
    }
    let message = super::error_text(error);
    match error.code() {
        Some(code) if *code == SqlState::QUERY_CANCELED => DbError::Timeout,
        Some(code) if *code == SqlState::LOCK_NOT_AVAILABLE => DbError::Timeout,
        Some(code) if *code == SqlState::READ_ONLY_SQL_TRANSACTION => {
            DbError::Rejected(format!("{message} (queries run in read-only transactions)"))
        }
        Some(code) if *code == SqlState::INSUFFICIENT_PRIVILEGE => DbError::Rejected(message),
        Some(code) if *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION => {
            DbError::Unavailable(format!("the server cannot establish the caller: {message}"))
        }
        Some(code)
            if code.code().starts_with("08")
                || code.code().starts_with("57P")
                || code.code().starts_with("53") =>
        {
            DbError::Unavailable(message)
        }
        Some(_) => DbError::Failed(message),
        None if error.is_closed() => {
            DbError::Unavailable("the database connection was lost; retry shortly".into())
        }
        None => DbError::Unavailable(message),
    }
}

/// A pooled connection that goes back to the pool only when the query path
/// says its state is clean; otherwise it is cancelled and closed on drop.
///
/// A connection abandoned while its statement runs (the call's deadline, a
/// client that went away) is not simply dropped: some statements do not
/// notice a cancel or a closed socket for a long time (loops inside a
/// function that never check for interrupts), and a dropped connection's
/// backend would go on working while the pool opened a replacement. So the
/// connection keeps its place in the pool, and the caller keeps the share it
/// was using, until the backend has finished; then the connection is closed.
/// A runaway statement costs its caller's share, nobody else's.
struct Checkout {
    object: Option<Object>,
    share: Option<OwnedSemaphorePermit>,
    clean: bool,
}

impl Checkout {
    fn new(object: Object, share: OwnedSemaphorePermit) -> Self {
        Self {
            object: Some(object),
            share: Some(share),
            clean: false,
        }
    }

    fn connection(&self) -> &super::pool::Connection {
        self.object
            .as_ref()
            .expect("a checkout holds its connection until dropped")
    }

    fn mark_clean(&mut self) {
        self.clean = true;
    }

    /// Gives the connection back (if clean) and keeps the caller's share
    /// for another attempt; `None` when the share stays with a connection
    /// in doubt until its backend has stopped (see [`Drop`]).
    fn release(mut self) -> Option<OwnedSemaphorePermit> {
        if self.clean {
            self.object = None;
            self.share.take()
        } else {
            None
        }
    }

    /// After a failure: end the transaction (if one is open; otherwise the
    /// ROLLBACK is only a warning) and release advisory locks. Only if that
    /// works is the connection reusable.
    async fn finish_after_error(&mut self) {
        let client = &self.connection().client;
        if client.is_closed() {
            return;
        }
        let cleanup = client
            .batch_execute("ROLLBACK; SELECT pg_advisory_unlock_all()")
            .await;
        self.clean = cleanup.is_ok();
    }
}

impl Drop for Checkout {
    fn drop(&mut self) {
        let (Some(object), share) = (self.object.take(), self.share.take()) else {
            return;
        };
        if self.clean {
            return;
        }
        let runtime = tokio::runtime::Handle::try_current();
        if object.client.is_closed() || runtime.is_err() {
            // Detach from the pool: the connection closes when dropped.
            drop(Object::take(object));
            return;
        }
        // Ask the backend to stop, then hold the connection (its pool slot)
        // and the caller's share until it has: a request queued behind the
        // abandoned statement completes only when that statement has ended.
        object.cancel_in_background();
        if let Ok(runtime) = runtime {
            runtime.spawn(async move {
                let _ = object.client.simple_query("SELECT 1").await;
                drop(Object::take(object));
                drop(share);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replica_takes_the_query_login_and_never_weaker_tls() {
        let primary: Config =
            "host=db.example.com user=zava_query password=pw dbname=zava sslmode=require"
                .parse()
                .unwrap();
        let replica =
            replica_settings(&primary, "host=replica.example.com".parse().unwrap()).unwrap();
        assert_eq!(replica.get_user(), Some("zava_query"));
        assert_eq!(replica.get_password(), Some(&b"pw"[..]));
        assert_eq!(replica.get_dbname(), Some("zava"));
        assert_eq!(replica.get_ssl_mode(), SslMode::Require);
        // Another login is refused; so is its password never copied.
        let admin = replica_settings(&primary, "host=r user=postgres".parse().unwrap());
        assert!(matches!(admin, Err(CallerDbError::ReplicaUser { .. })));
    }
}
