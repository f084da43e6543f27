//! `zava:mcp/database`: read-only SQL as the caller, under Row Level Security.
//!
//! The per-call context holds the caller's RLS user id and a handle on the
//! shared [`CallerDb`]; every query runs through it (its own transaction,
//! scope established inside PostgreSQL). Without a configured database every
//! query answers `unavailable`, which a tool passes on.

use std::sync::Arc;

use uuid::Uuid;
use wasmtime::component::{HasData, Linker};

use super::HostState;
use crate::bindings::zava::mcp::database;
use crate::bindings::zava::mcp::types::{DbError, RowSet, SqlValue};
use crate::db::caller::CallerDb;

/// Most queries one tool call may run: a loop of queries is a bug or an
/// attack, not a tool.
const MAX_QUERIES_PER_CALL: u32 = 64;

/// Per-call database state.
#[derive(Default)]
pub struct DatabaseCtx {
    db: Option<Arc<CallerDb>>,
    caller: Option<Uuid>,
    queries: u32,
}

impl DatabaseCtx {
    pub fn new(db: Option<Arc<CallerDb>>, caller: Option<Uuid>) -> Self {
        Self {
            db,
            caller,
            queries: 0,
        }
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
        let Some(db) = &self.db else {
            return Err(DbError::Unavailable(
                "no database is configured for this server".to_string(),
            ));
        };
        // Tool listing runs with no caller: it must not read data.
        let Some(caller) = self.caller else {
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
        db.query(caller, &sql, &params, max_rows).await
    }
}

impl crate::bindings::zava::mcp::types::Host for DatabaseCtx {}
