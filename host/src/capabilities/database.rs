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

use super::{CallContext, CallStats, Capability, HostState};
use crate::bindings::v1::zava::mcp::database as v1_database;
use crate::bindings::zava::mcp::database;
use crate::bindings::zava::mcp::types::{DbError, RowSet, SqlValue};
use crate::db::caller::{Caller, QueryAsCaller};
use crate::outcome::QueryOutcome;

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
    pub outcome: QueryOutcome,
}

/// Longest statement text kept for the audit trail; longer ones are logged
/// without a shape rather than held in memory.
pub const MAX_AUDITED_SQL: usize = 64 * 1024;

/// The capability: the caller database, if one is configured (behind a
/// trait, so that its host side is tested without PostgreSQL).
#[derive(Default)]
pub struct Database {
    pub db: Option<Arc<dyn QueryAsCaller>>,
}

impl Capability for Database {
    const IMPORT: Option<&'static str> = Some("database");
    type Ctx = DatabaseCtx;

    fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
        database::add_to_linker::<HostState, Import>(linker, |state| &mut state.caps.database)?;
        // 0.1 components import the same interface under its old version;
        // its types are 0.2's (see `bindings::v1`).
        v1_database::add_to_linker::<HostState, Import>(linker, |state| &mut state.caps.database)
    }

    fn prepare(&self, call: &CallContext<'_>) -> DatabaseCtx {
        DatabaseCtx {
            db: self.db.clone(),
            caller: call.caller.map(|c| Caller {
                principal: c.principal.clone(),
                user: c.subject,
            }),
            withheld: call.withheld("database"),
            max_rows: call.grant.max_rows,
            queries: 0,
            records: Vec::new(),
        }
    }

    fn report(ctx: &mut DatabaseCtx, stats: &mut CallStats) {
        stats.queries = std::mem::take(&mut ctx.records);
    }
}

/// Per-call database state.
pub struct DatabaseCtx {
    db: Option<Arc<dyn QueryAsCaller>>,
    caller: Option<Caller>,
    /// Why the import is refused, when the operator's policy withholds it.
    withheld: Option<String>,
    /// The policy's row cap for this component.
    max_rows: u32,
    queries: u32,
    records: Vec<QueryRecord>,
}

struct Import;
impl HasData for Import {
    type Data<'a> = &'a mut DatabaseCtx;
}

impl database::Host for DatabaseCtx {
    async fn query(
        &mut self,
        sql: String,
        params: Vec<SqlValue>,
        max_rows: u32,
    ) -> Result<RowSet, DbError> {
        if let Some(refusal) = &self.withheld {
            return Err(DbError::Rejected(refusal.clone()));
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
            .query_as(caller, &sql, &params, max_rows.min(self.max_rows))
            .instrument(span.clone())
            .await;
        let (rows, truncated, outcome) = match &result {
            Ok(set) => (set.rows.len() as u64, set.truncated, QueryOutcome::Ok),
            Err(DbError::Rejected(_)) => (0, false, QueryOutcome::Rejected),
            Err(DbError::Timeout) => (0, false, QueryOutcome::Timeout),
            Err(DbError::Failed(_)) => (0, false, QueryOutcome::Failed),
            Err(DbError::Unavailable(_)) => (0, false, QueryOutcome::Unavailable),
        };
        span.record("rows", rows);
        span.record("outcome", outcome.as_str());
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

impl v1_database::Host for DatabaseCtx {
    async fn query(
        &mut self,
        sql: String,
        params: Vec<SqlValue>,
        max_rows: u32,
    ) -> Result<RowSet, DbError> {
        database::Host::query(self, sql, params, max_rows).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use uuid::Uuid;

    use super::*;
    use crate::bindings::zava::mcp::database::Host as _;
    use crate::identity::{Identity, Scope};
    use crate::runtime::policy::{Ceilings, Grant};

    /// Answers every statement with `rows` one-column rows (cut at
    /// `max_rows`, as the real database does) and remembers what it was asked.
    struct Fake {
        rows: u32,
        answer: Result<(), DbError>,
        asked: Mutex<Vec<(Uuid, String, u32)>>,
    }

    impl Fake {
        fn new(rows: u32) -> Arc<Self> {
            Arc::new(Self {
                rows,
                answer: Ok(()),
                asked: Mutex::default(),
            })
        }
    }

    #[async_trait::async_trait]
    impl QueryAsCaller for Fake {
        async fn query_as(
            &self,
            caller: Caller,
            sql: &str,
            _params: &[SqlValue],
            max_rows: u32,
        ) -> Result<RowSet, DbError> {
            self.asked
                .lock()
                .unwrap()
                .push((caller.user, sql.to_string(), max_rows));
            self.answer.clone()?;
            let returned = self.rows.min(max_rows);
            Ok(RowSet {
                columns: Vec::new(),
                rows: (0..returned)
                    .map(|i| vec![SqlValue::Int(i.into())])
                    .collect(),
                truncated: self.rows > max_rows,
            })
        }
    }

    fn grant(imports: &[&'static str], max_rows: u32) -> Grant {
        let ceilings = Ceilings {
            deadline: Duration::from_secs(30),
            memory_bytes: 64 << 20,
            max_rows: 10_000,
        };
        Grant {
            imports: imports.iter().copied().collect(),
            max_rows,
            ..Grant::everything(&ceilings)
        }
    }

    fn seattle() -> Identity {
        Identity::dev(Uuid::from_u128(7), Scope::Store(1))
    }

    fn context(db: Arc<Fake>, caller: Option<&Identity>, grant: &Grant) -> DatabaseCtx {
        let component: Arc<str> = "sales_sql.wasm".into();
        Database {
            db: Some(db as Arc<dyn QueryAsCaller>),
        }
        .prepare(&CallContext {
            caller,
            component: &component,
            tool: "execute_sales_query",
            grant,
            client: None,
        })
    }

    #[tokio::test]
    async fn runs_as_the_caller_under_the_lower_of_the_two_row_caps() {
        let fake = Fake::new(500);
        let caller = seattle();
        let mut ctx = context(fake.clone(), Some(&caller), &grant(&["database"], 100));

        let rows = ctx
            .query("SELECT 1".into(), Vec::new(), 1000)
            .await
            .unwrap();
        assert_eq!((rows.rows.len(), rows.truncated), (100, true));
        let rows = ctx.query("SELECT 2".into(), Vec::new(), 10).await.unwrap();
        assert_eq!((rows.rows.len(), rows.truncated), (10, true));

        let asked = fake.asked.lock().unwrap().clone();
        assert_eq!(
            asked,
            [
                (caller.subject, "SELECT 1".to_string(), 100),
                (caller.subject, "SELECT 2".to_string(), 10)
            ]
        );
        let mut stats = CallStats::default();
        Database::report(&mut ctx, &mut stats);
        let audited: Vec<_> = stats
            .queries
            .iter()
            .map(|q| (q.sql.as_deref(), q.rows, q.truncated, q.outcome))
            .collect();
        assert_eq!(
            audited,
            [
                (Some("SELECT 1"), 100, true, QueryOutcome::Ok),
                (Some("SELECT 2"), 10, true, QueryOutcome::Ok)
            ]
        );
    }

    #[tokio::test]
    async fn a_call_may_run_at_most_its_query_budget() {
        let fake = Fake::new(1);
        let caller = seattle();
        let mut ctx = context(fake.clone(), Some(&caller), &grant(&["database"], 100));
        for _ in 0..MAX_QUERIES_PER_CALL {
            ctx.query("SELECT 1".into(), Vec::new(), 10).await.unwrap();
        }
        let refused = ctx.query("SELECT 1".into(), Vec::new(), 10).await;
        assert!(
            matches!(&refused, Err(DbError::Rejected(m)) if m.contains("at most 64 queries")),
            "{refused:?}"
        );
        assert_eq!(fake.asked.lock().unwrap().len(), 64);
    }

    #[tokio::test]
    async fn without_a_grant_or_a_caller_nothing_reaches_the_database() {
        let fake = Fake::new(1);
        let caller = seattle();

        let mut withheld = context(fake.clone(), Some(&caller), &grant(&["embeddings"], 100));
        let refused = withheld.query("SELECT 1".into(), Vec::new(), 10).await;
        assert!(
            matches!(&refused, Err(DbError::Rejected(m))
                if m == "the operator's component policy does not grant `sales_sql.wasm` the database import"),
            "{refused:?}"
        );

        let mut listing = context(fake.clone(), None, &grant(&["database"], 100));
        let refused = listing.query("SELECT 1".into(), Vec::new(), 10).await;
        assert!(
            matches!(&refused, Err(DbError::Rejected(m)) if m.contains("only available while serving")),
            "{refused:?}"
        );
        assert!(fake.asked.lock().unwrap().is_empty());

        let mut unconfigured = Database::default().prepare(&CallContext {
            caller: Some(&caller),
            component: &"x.wasm".into(),
            tool: "t",
            grant: &grant(&["database"], 100),
            client: None,
        });
        assert!(matches!(
            unconfigured.query("SELECT 1".into(), Vec::new(), 10).await,
            Err(DbError::Unavailable(_))
        ));
    }

    #[tokio::test]
    async fn refusals_and_failures_are_audited_with_their_outcome() {
        let fake = Arc::new(Fake {
            rows: 0,
            answer: Err(DbError::Rejected("not a read-only query".into())),
            asked: Mutex::default(),
        });
        let caller = seattle();
        let mut ctx = context(fake, Some(&caller), &grant(&["database"], 100));
        let long = format!("SELECT 1 -- {}", "x".repeat(MAX_AUDITED_SQL));
        assert!(
            ctx.query("DELETE FROM t".into(), Vec::new(), 10)
                .await
                .is_err()
        );
        assert!(ctx.query(long, Vec::new(), 10).await.is_err());
        let mut stats = CallStats::default();
        Database::report(&mut ctx, &mut stats);
        let audited: Vec<_> = stats
            .queries
            .iter()
            .map(|q| (q.sql.as_deref(), q.rows, q.outcome))
            .collect();
        assert_eq!(
            audited,
            [
                (Some("DELETE FROM t"), 0, QueryOutcome::Rejected),
                (None, 0, QueryOutcome::Rejected)
            ]
        );
    }
}
