//! `zava:mcp/database`: read-only SQL as the caller, under Row Level Security.
//!
//! The contract is linked now so that components written against it keep
//! working; the PostgreSQL pool and the RLS transaction arrive with the
//! database issue. Until a database is configured every query answers
//! `unavailable` with a message saying so, which a tool passes on.

use wasmtime::component::{HasData, Linker};

use super::HostState;
use crate::bindings::zava::mcp::database;
use crate::bindings::zava::mcp::types::{DbError, RowSet, SqlValue};

/// Per-call database state. Empty until a pool exists.
#[derive(Default)]
pub struct DatabaseCtx {}

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
        _sql: String,
        _params: Vec<SqlValue>,
        _max_rows: u32,
    ) -> Result<RowSet, DbError> {
        Err(DbError::Unavailable(
            "no database is configured for this server".to_string(),
        ))
    }
}

impl crate::bindings::zava::mcp::types::Host for DatabaseCtx {}
