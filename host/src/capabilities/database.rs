//! `zava:mcp/database`: read-only SQL as the caller, under Row Level Security.
//!
//! The per-call context holds the caller's RLS user id and a handle on the
//! shared [`CallerDb`]; every query runs through it (its own transaction,
//! scope established inside PostgreSQL). Without a configured database every
//! query answers `unavailable`, which a tool passes on.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::Instrument;
use wasmtime::component::{HasData, Linker};

use super::HostState;
use crate::bindings::zava::mcp::database;
use crate::bindings::zava::mcp::types::{DbError, RowSet, SqlValue};
use crate::db::caller::{Caller, CallerDb};

/// Most queries one tool call may run: a loop of queries is a bug or an
/// attack, not a tool.
const MAX_QUERIES_PER_CALL: u32 = 64;

/// One query a call ran, for the audit log. The SQL text stays in memory
/// only: the audit writer reduces it to a fingerprint and a normalised form
/// without literals before anything is written.
#[derive(Debug, Clone)]
pub struct QueryRecord {
    /// `None` when longer than [`MAX_AUDITED_SQL`] (not kept in memory).
    pub sql: Option<String>,
    pub rows: u64,
    pub truncated: bool,
    pub elapsed: Duration,
    /// `ok`, `rejected`, `timeout`, `failed` or `unavailable`.
    pub outcome: &'static str,
}

/// Longest statement text kept for the audit trail; longer ones are logged
/// without a shape rather than held in memory.
pub const MAX_AUDITED_SQL: usize = 64 * 1024;

/// Per-call database state.
#[derive(Default)]
pub struct DatabaseCtx {
    db: Option<Arc<CallerDb>>,
    caller: Option<Caller>,
    /// Set when the operator's policy withholds the import: the component's
    /// file name, for the error message.
    denied: Option<Arc<str>>,
    /// The policy's row cap for this component.
    max_rows: u32,
    queries: u32,
    pub records: Vec<QueryRecord>,
}

impl DatabaseCtx {
    pub fn new(db: Option<Arc<CallerDb>>, caller: Option<Caller>) -> Self {
        Self {
            db,
            caller,
            denied: None,
            max_rows: u32::MAX,
            queries: 0,
            records: Vec::new(),
        }
    }

    /// Applies the component's grant: the import may be withheld, and rows
    /// capped below what the component asks for.
    pub fn granted(mut self, allowed: bool, component: &Arc<str>, max_rows: u32) -> Self {
        self.denied = (!allowed).then(|| component.clone());
        self.max_rows = max_rows;
        self
    }
}

struct Database;
impl HasData for Database {
    type Data<'a> = &'a mut DatabaseCtx;
}

pub fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    database::add_to_linker::<HostState, Database>(linker, |state| &mut state.database)
}

impl database::Host for DatabaseCtx {
    async fn query(
        &mut self,
        sql: String,
        params: Vec<SqlValue>,
        max_rows: u32,
    ) -> Result<RowSet, DbError> {
        if let Some(component) = &self.denied {
            return Err(DbError::Rejected(format!(
                "the operator's component policy does not grant `{component}` the database import"
            )));
        }
        let Some(db) = &self.db else {
            return Err(DbError::Unavailable(
                "no database is configured for this server".to_string(),
            ));
        };
        // Tool listing runs with no caller: it must not read data.
        let Some(caller) = self.caller.clone() else {
            return Err(DbError::Rejected(
                "queries are only available while serving a caller's tool call".into(),
            ));
        };
        self.queries += 1;
        if self.queries > MAX_QUERIES_PER_CALL {
            return Err(DbError::Rejected(format!(
                "a tool call may run at most {MAX_QUERIES_PER_CALL} queries"
            )));
        }
        let started = Instant::now();
        let span = tracing::info_span!(
            "db.query",
            db.system = "postgresql",
            rows = tracing::field::Empty,
            outcome = tracing::field::Empty,
        );
        let result = db
            .query(caller, &sql, &params, max_rows.min(self.max_rows))
            .instrument(span.clone())
            .await;
        let (rows, truncated, outcome) = match &result {
            Ok(set) => (set.rows.len() as u64, set.truncated, "ok"),
            Err(DbError::Rejected(_)) => (0, false, "rejected"),
            Err(DbError::Timeout) => (0, false, "timeout"),
            Err(DbError::Failed(_)) => (0, false, "failed"),
            Err(DbError::Unavailable(_)) => (0, false, "unavailable"),
        };
        span.record("rows", rows);
        span.record("outcome", outcome);
        self.records.push(QueryRecord {
            sql: (sql.len() <= MAX_AUDITED_SQL).then_some(sql),
            rows,
            truncated,
            elapsed: started.elapsed(),
            outcome,
        });
        result
    }
}

impl crate::bindings::zava::mcp::types::Host for DatabaseCtx {}
