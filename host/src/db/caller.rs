//! One caller query = one short read-only transaction on a pooled connection
//! of the query role, in which the host first establishes the caller's scope
//! with `rls.enter` (which only the host, holding the gate secret, can call).
//!
//! Two round trips, each a pipeline of requests:
//! 1. `BEGIN READ ONLY ISOLATION LEVEL REPEATABLE READ` + `SET LOCAL` limits,
//!    `rls.enter($secret, $caller)`, and Parse/Describe of the caller's
//!    statement (extended protocol: exactly one statement, wrapped in
//!    `LIMIT max-rows + 1` where that leaves its plan alone — see
//!    [`sql_guard::Checked::limited`]);
//! 2. Bind + Execute, reading at most max-rows + 1 rows and a byte cap, then
//!    `pg_advisory_unlock_all()` and `ROLLBACK`.
//!
//! A connection whose state is in doubt (an error in steps 4-5, a call
//! abandoned half-way) is dropped, never returned to the pool.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Timeouts};
use futures::{StreamExt, pin_mut};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::Type;
use tokio_postgres::{Config, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;
use uuid::Uuid;

use super::sql_guard;
use super::values::{self, Param, Raw};
use crate::bindings::zava::mcp::types::{Column, DbError, RowSet};

/// Limits applied to every caller statement.
#[derive(Debug, Clone)]
pub struct QueryLimits {
    pub statement_timeout: Duration,
    pub lock_timeout: Duration,
    pub idle_timeout: Duration,
    pub work_mem_mib: u32,
    /// Upper bound on what a component may ask for.
    pub max_rows: u32,
    pub max_bytes: usize,
    /// Check caller SQL with PostgreSQL's parser before sending it (defence
    /// in depth). Only the attack tests turn it off, to show that Row Level
    /// Security holds without it.
    pub parser_guard: bool,
}

impl Default for QueryLimits {
    fn default() -> Self {
        Self {
            statement_timeout: Duration::from_secs(10),
            lock_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(30),
            work_mem_mib: 16,
            max_rows: 10_000,
            max_bytes: 4 << 20,
            parser_guard: true,
        }
    }
}

/// The database as tool components see it: every query as its caller.
pub struct CallerDb {
    pool: Pool,
    gate_secret: String,
    limits: QueryLimits,
    /// `BEGIN` and the `SET LOCAL` batch, built once from the limits.
    prologue: String,
    guard: sql_guard::CachedGuard,
}

impl CallerDb {
    /// Builds the pool (connections open lazily, so a database that is down
    /// at start-up only makes queries answer `unavailable` until it is up).
    pub fn new(
        query: Config,
        gate_secret: String,
        limits: QueryLimits,
        pool_size: usize,
    ) -> Result<Self, String> {
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
    ) -> Result<Self, String> {
        let manager = Manager::from_config(
            query,
            tls,
            ManagerConfig {
                // Connections are cleaned by the query path itself; the pool
                // only checks that a connection is still open.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(1))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .timeouts(Timeouts {
                wait: Some(Duration::from_secs(10)),
                create: Some(Duration::from_secs(5)),
                recycle: Some(Duration::from_secs(5)),
            })
            .build()
            .map_err(|e| format!("cannot build the connection pool: {e}"))?;
        // hnsw.*: with a selective filter, pgvector keeps walking the index
        // until enough rows pass (iterative scans, pgvector >= 0.8) instead
        // of returning fewer than asked for.
        let prologue = format!(
            "BEGIN READ ONLY ISOLATION LEVEL REPEATABLE READ; \
             SET LOCAL statement_timeout = {}; SET LOCAL lock_timeout = {}; \
             SET LOCAL idle_in_transaction_session_timeout = {}; SET LOCAL work_mem = '{}MB'; \
             SET LOCAL search_path = pg_catalog, retail, public; \
             SET LOCAL hnsw.iterative_scan = strict_order; SET LOCAL hnsw.ef_search = 100",
            limits.statement_timeout.as_millis().max(1),
            limits.lock_timeout.as_millis().max(1),
            limits.idle_timeout.as_millis().max(1),
            limits.work_mem_mib.max(1),
        );
        Ok(Self {
            pool,
            gate_secret,
            limits,
            prologue,
            guard: sql_guard::CachedGuard::default(),
        })
    }

    pub fn limits(&self) -> &QueryLimits {
        &self.limits
    }

    pub fn pool_status(&self) -> deadpool_postgres::Status {
        self.pool.status()
    }

    /// The scope PostgreSQL holds for `caller`: `all`, a store id, or `none`.
    pub async fn scope_of(&self, caller: Uuid) -> Result<String, DbError> {
        let conn = self.connection().await?;
        let row = conn
            .query_typed_one(
                "SELECT rls.scope_of($1, $2)",
                &[(&self.gate_secret, Type::TEXT), (&caller, Type::UUID)],
            )
            .await
            .map_err(|e| classify(&e))?;
        Ok(row.get(0))
    }

    /// Runs `sql` as `caller`. See the module documentation for the steps.
    pub async fn query(
        &self,
        caller: Uuid,
        sql: &str,
        params: &[crate::bindings::zava::mcp::types::SqlValue],
        max_rows: u32,
    ) -> Result<RowSet, DbError> {
        let max_rows = max_rows.clamp(1, self.limits.max_rows);
        // Where a LIMIT does not change its plan, the server stops after
        // max-rows + 1 rows; reading stops there in any case.
        let text = if self.limits.parser_guard {
            let checked = self.guard.check(sql).map_err(|e| DbError::Rejected(e.0))?;
            checked.limited(sql, max_rows + 1)
        } else {
            sql.to_string()
        };
        let mut conn = Checkout::new(self.connection().await?);
        let result = self
            .run(conn.client(), caller, &text, params, max_rows)
            .await;
        match &result {
            // The statement failed or was refused inside the transaction:
            // roll back, and release advisory locks outside of it.
            Err(_) => conn.finish_after_error().await,
            Ok(_) => conn.mark_clean(),
        }
        result
    }

    async fn connection(&self) -> Result<Object, DbError> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Timeout(_) => DbError::Unavailable(
                "the database is busy or not answering (no connection became free); retry shortly"
                    .into(),
            ),
            deadpool_postgres::PoolError::Backend(e) => DbError::Unavailable(format!(
                "cannot connect to the database: {}",
                super::error_text(&e)
            )),
            other => DbError::Unavailable(format!("cannot connect to the database: {other}")),
        })
    }

    async fn run(
        &self,
        client: &tokio_postgres::Client,
        caller: Uuid,
        sql: &str,
        params: &[crate::bindings::zava::mcp::types::SqlValue],
        max_rows: u32,
    ) -> Result<RowSet, DbError> {
        let enter_params: [(&(dyn tokio_postgres::types::ToSql + Sync), Type); 2] =
            [(&self.gate_secret, Type::TEXT), (&caller, Type::UUID)];
        // Round trip 1: open the transaction, set its limits, establish the
        // caller, and parse the statement. Each request is answered in order,
        // so everything after a failure fails too and is reported as such.
        let (begun, entered, prepared) = futures::join!(
            client.batch_execute(&self.prologue),
            client.query_typed_one("SELECT rls.enter($1, $2)", &enter_params),
            client.prepare(sql),
        );
        begun.map_err(|e| classify(&e))?;
        entered.map_err(|e| classify(&e))?;
        let statement = prepared.map_err(|e| classify(&e))?;
        let columns = describe(&statement)?;
        if statement.params().len() != params.len() {
            return Err(DbError::Rejected(format!(
                "the query has {} parameter placeholder(s) ($1, $2, ...) but {} value(s) were given",
                statement.params().len(),
                params.len()
            )));
        }
        // Round trip 2: bind and execute, then (pipelined behind it) release
        // any session-level advisory lock the statement took and roll back.
        let bound: Vec<Param<'_>> = params.iter().map(Param).collect();
        let (fetched, finished) = futures::join!(
            async {
                let stream = client
                    .query_raw(&statement, bound.iter())
                    .await
                    .map_err(|e| classify(&e))?;
                collect(stream, &statement, max_rows, self.limits.max_bytes).await
            },
            client.batch_execute("SELECT pg_advisory_unlock_all(); ROLLBACK"),
        );
        let (rows, truncated) = fetched?;
        finished.map_err(|e| classify(&e))?;
        Ok(RowSet {
            columns,
            rows,
            truncated,
        })
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

type Rows = Vec<Vec<crate::bindings::zava::mcp::types::SqlValue>>;

/// Reads at most `max_rows` rows and `max_bytes` bytes; says whether more existed.
async fn collect(
    stream: tokio_postgres::RowStream,
    statement: &Statement,
    max_rows: u32,
    max_bytes: usize,
) -> Result<(Rows, bool), DbError> {
    pin_mut!(stream);
    let mut rows = Vec::new();
    let mut bytes = 0usize;
    let mut truncated = false;
    while let Some(row) = stream.next().await {
        let row = row.map_err(|e| classify(&e))?;
        if rows.len() as u32 >= max_rows {
            truncated = true;
            break;
        }
        // The wire size bounds what decoding would allocate (arrays grow
        // several-fold as JSON), so the cap is checked before decoding.
        let wire = row.raw_size_bytes();
        if bytes + wire > max_bytes {
            truncated = true;
            break;
        }
        let mut values = Vec::with_capacity(statement.columns().len());
        for (i, column) in statement.columns().iter().enumerate() {
            let raw: Raw<'_> = row.try_get(i).map_err(|e| DbError::Failed(e.to_string()))?;
            let value = values::decode(column.type_(), raw.0)
                .map_err(|e| DbError::Failed(format!("column `{}`: {e}", column.name())))?;
            bytes += values::approximate_size(&value);
            values.push(value);
        }
        if bytes > max_bytes {
            truncated = true;
            break;
        }
        rows.push(values);
    }
    Ok((rows, truncated))
}

/// Maps a PostgreSQL error to what a component (and the assistant behind
/// it) can act on.
pub fn classify(error: &tokio_postgres::Error) -> DbError {
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
/// says its state is clean; otherwise it is closed on drop.
struct Checkout {
    object: Option<Object>,
    clean: bool,
}

impl Checkout {
    fn new(object: Object) -> Self {
        Self {
            object: Some(object),
            clean: false,
        }
    }

    fn client(&self) -> &tokio_postgres::Client {
        self.object
            .as_ref()
            .expect("a checkout holds its connection until dropped")
    }

    fn mark_clean(&mut self) {
        self.clean = true;
    }

    /// After a failure: end the transaction (if one is open; otherwise the
    /// ROLLBACK is only a warning) and release advisory locks. Only if that
    /// works is the connection reusable.
    async fn finish_after_error(&mut self) {
        let client = self.client();
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
        if let Some(object) = self.object.take()
            && !self.clean
        {
            // Detach from the pool: the connection closes when dropped.
            drop(Object::take(object));
        }
    }
}
