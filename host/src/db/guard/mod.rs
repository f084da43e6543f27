//! The statement guard: PostgreSQL's own parser (libpg_query) reads caller
//! SQL before the server does, and only what the allowlist names passes.
//!
//! Row Level Security with an unforgeable scope is what keeps stores apart;
//! the guard closes what RLS does not cover — statistics counted before RLS
//! filters rows, other sessions' activity, functions that run SQL text,
//! timing, locks — and turns attempts into a clear refusal an assistant can
//! act on. Where `migrate` runs as a superuser the database enforces the same
//! allowlist ([`crate::db::privileges`]); on managed servers the guard holds
//! alone, and the tests prove both.
//!
//! - [`allowlist`]: the list (`allowlist.toml`), shared with `migrate`;
//! - `walk`: the walk over the parse tree, complete by construction;
//! - [`known`]: the names of every function the database has, which tell a
//!   column from a call in attribute notation (`x.f` is `f(x)`).
//!
//! Costs are bounded: the text has a size cap before it is parsed, parsing
//! runs on a thread of its own with a large stack (never on an async worker),
//! a few at a time, and verdicts are memoised within a byte budget.

pub mod allowlist;
pub mod known;
mod walk;

use std::sync::Arc;

use arc_swap::ArcSwap;
use pg_query::protobuf::node::Node as N;
use tokio::sync::Semaphore;

pub use allowlist::{Allowlist, RETAIL_TABLES};
pub use known::KnownFunctions;

/// Why a statement was refused, in words an assistant can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Rejected(pub String);

fn reject<T>(message: impl Into<String>) -> Result<T, Rejected> {
    Err(Rejected(message.into()))
}

/// Default cap on the SQL text of one statement.
pub const DEFAULT_MAX_SQL_BYTES: usize = 64 * 1024;

/// A statement that passed [`check`]: where it sits in the text (without
/// surrounding comments or the trailing `;`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    start: usize,
    end: usize,
    /// Whether an outer LIMIT leaves the statement's plan alone (see
    /// [`Checked::limited`]).
    limit_keeps_plan: bool,
}

impl Checked {
    /// The statement, wrapped so that the server stops after `rows` rows
    /// where that is free. Wrapping is safe because the statement is known to
    /// be exactly one SELECT; the newline keeps a trailing `--` comment from
    /// eating the closing parenthesis.
    ///
    /// A LIMIT is also a planning hint: PostgreSQL plans for the first rows,
    /// which for grouped or set-operation queries means nested loops over
    /// presorted input instead of hash joins — measured 2x slower on the
    /// demo data. Those queries (which return few rows anyway) run unwrapped
    /// and the row cap is applied while reading. (A row-limited portal
    /// would cap them too, but PostgreSQL never runs those in parallel.)
    pub fn limited(&self, sql: &str, rows: u32) -> String {
        let statement = &sql[self.start..self.end];
        if self.limit_keeps_plan {
            format!("SELECT * FROM (\n{statement}\n) AS result LIMIT {rows}")
        } else {
            statement.to_string()
        }
    }
}

/// Checks that `sql` is one read-only SELECT that uses only what the
/// allowlist names. `known` holds the database's function names.
pub fn check(sql: &str, known: &KnownFunctions) -> Result<Checked, Rejected> {
    let parsed = match pg_query::parse(sql, 0) {
        Ok(parsed) => parsed,
        Err(pg_query::Error::Parse(message)) => {
            return reject(format!("the SQL does not parse: {message}"));
        }
        Err(pg_query::Error::Decode(_)) => {
            return reject(
                "the SQL is nested too deeply to be checked; flatten subqueries into WITH queries",
            );
        }
        Err(e) => return reject(format!("the SQL cannot be checked: {e}")),
    };
    let statements = &parsed.protobuf.stmts;
    let raw = match statements.as_slice() {
        [] => return reject("the query is empty; send one SELECT statement"),
        [one] => one,
        many => {
            return reject(format!(
                "send exactly one statement (got {}); no `;`-separated statements",
                many.len()
            ));
        }
    };
    let select = match raw.stmt.as_deref().and_then(|s| s.node.as_ref()) {
        Some(N::SelectStmt(select)) => select,
        other => {
            return reject(format!(
                "only SELECT queries are allowed (this is {})",
                statement_label(other)
            ));
        }
    };
    walk::Walker::new(Allowlist::get(), known).select(select)?;
    // Byte offsets of the statement in the text (length 0: to the end).
    let start = usize::try_from(raw.stmt_location)
        .unwrap_or(0)
        .min(sql.len());
    let end = match usize::try_from(raw.stmt_len) {
        Ok(0) | Err(_) => sql.len(),
        Ok(len) => (start + len).min(sql.len()),
    };
    if !sql.is_char_boundary(start) || !sql.is_char_boundary(end) {
        return reject(
            "the SQL cannot be checked: statement bounds are not on character boundaries",
        );
    }
    let limit_keeps_plan = select.group_clause.is_empty()
        && select.distinct_clause.is_empty()
        && select.having_clause.is_none()
        && select.larg.is_none();
    Ok(Checked {
        start,
        end,
        limit_keeps_plan,
    })
}

fn statement_label(node: Option<&N>) -> &'static str {
    match node {
        Some(N::InsertStmt(_)) => "an INSERT statement",
        Some(N::UpdateStmt(_)) => "an UPDATE statement",
        Some(N::DeleteStmt(_)) => "a DELETE statement",
        Some(N::MergeStmt(_)) => "a MERGE statement",
        Some(N::TransactionStmt(_)) => "transaction control",
        Some(N::VariableSetStmt(_)) => "a SET statement",
        Some(N::VariableShowStmt(_)) => "a SHOW statement",
        Some(N::CopyStmt(_)) => "a COPY statement",
        Some(N::ExplainStmt(_)) => "an EXPLAIN statement",
        Some(N::PrepareStmt(_) | N::ExecuteStmt(_) | N::DeallocateStmt(_)) => {
            "a prepared-statement command"
        }
        Some(N::LockStmt(_)) => "a LOCK statement",
        Some(N::NotifyStmt(_) | N::ListenStmt(_) | N::UnlistenStmt(_)) => {
            "a LISTEN/NOTIFY statement"
        }
        Some(N::TruncateStmt(_)) => "a TRUNCATE statement",
        Some(N::DoStmt(_) | N::CallStmt(_)) => "a DO/CALL statement",
        Some(N::DeclareCursorStmt(_) | N::FetchStmt(_) | N::ClosePortalStmt(_)) => {
            "a cursor command"
        }
        Some(N::CreateTableAsStmt(_)) => "CREATE TABLE AS",
        Some(_) => "a statement that changes the schema or the session",
        None => "a statement the server does not recognise",
    }
}

/// [`check`] as the query path uses it: the size cap first, then a memo of
/// verdicts (the check is a pure function of the text and the function
/// names, and tools send the same statements again and again), then the
/// parse on a thread of its own, at most one per core at a time.
///
/// The memo is kept per caller: shared, a fast answer would tell one caller
/// that another had sent exactly this text.
pub struct Guard {
    max_sql_bytes: usize,
    known: ArcSwap<KnownFunctions>,
    memo: quick_cache::sync::Cache<String, Result<Checked, Rejected>, MemoWeight>,
    parsing: Semaphore,
}

/// The parser's protobuf decoding recurses up to 100 messages deep with
/// large frames: measured, the worst nesting needs 2-4 MiB of stack, more
/// than a default thread (2 MiB) has, and a stack overflow would abort the
/// whole process. Each check runs on its own thread with room to spare
/// (reserved address space; only what is touched is committed).
const PARSE_STACK: usize = 16 << 20;

/// Memo budget: texts up to the SQL cap, this many bytes in all.
const MEMO_BYTES: u64 = 16 << 20;
const MEMO_ESTIMATED_ITEMS: usize = 4096;

#[derive(Clone)]
struct MemoWeight;

impl quick_cache::Weighter<String, Result<Checked, Rejected>> for MemoWeight {
    fn weight(&self, key: &String, verdict: &Result<Checked, Rejected>) -> u64 {
        let message = verdict.as_ref().err().map_or(0, |r| r.0.len());
        (key.len() + message + 64) as u64
    }
}

impl Guard {
    pub fn new(max_sql_bytes: usize, known: KnownFunctions) -> Self {
        let parallel = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            max_sql_bytes,
            known: ArcSwap::from_pointee(known),
            memo: quick_cache::sync::Cache::with_weighter(
                MEMO_ESTIMATED_ITEMS,
                MEMO_BYTES,
                MemoWeight,
            ),
            parsing: Semaphore::new(parallel),
        }
    }

    /// Replaces the database's function names (and forgets verdicts made
    /// with the old ones).
    pub fn set_known(&self, known: KnownFunctions) {
        self.known.store(Arc::new(known));
        self.memo.clear();
    }

    /// Whether the database's function names have been read (until then
    /// every name after a dot that is not allowlisted is refused).
    pub fn knows_functions(&self) -> bool {
        self.known.load().is_known()
    }

    pub fn max_sql_bytes(&self) -> usize {
        self.max_sql_bytes
    }

    /// Checks `sql` for the caller `who` (whose memo it uses).
    pub async fn check(&self, who: &str, sql: &str) -> Result<Checked, Rejected> {
        if sql.len() > self.max_sql_bytes {
            return reject(format!(
                "the SQL text is {} bytes; the limit is {} bytes (shorten the query)",
                sql.len(),
                self.max_sql_bytes
            ));
        }
        let key = format!("{who}\u{0}{sql}");
        if let Some(verdict) = self.memo.get(&key) {
            return verdict;
        }
        let _permit = self
            .parsing
            .acquire()
            .await
            .map_err(|_| Rejected("the server is shutting down".into()))?;
        let text = sql.to_string();
        let known = self.known.load_full();
        let (done, verdict) = tokio::sync::oneshot::channel();
        let spawned = std::thread::Builder::new()
            .name("sql-guard".into())
            .stack_size(PARSE_STACK)
            .spawn(move || {
                let verdict = check(&text, &known);
                let _ = done.send((text, verdict));
            });
        if spawned.is_err() {
            return reject("the SQL could not be checked (no thread for the checker); retry");
        }
        match verdict.await {
            Ok((_, verdict)) => {
                self.memo.insert(key, verdict.clone());
                verdict
            }
            Err(_) => reject("the SQL could not be checked (the checker stopped)"),
        }
    }
}

#[cfg(test)]
mod tests;
