//! The `database` import, with an error type that reads well.
//!
//! [`query`] runs ONE read-only statement as the MCP caller, in its own
//! transaction, under Row Level Security: the host decides whose rows it
//! sees. The raw import is [`crate::database`].

use std::fmt;

use serde_json::{Map, Value, json};

pub use crate::types::{Column, DbError, RowSet, SqlValue};

/// Runs `sql` with `$1`, `$2`, ... bound to `params`, returning at most
/// `max_rows` rows (`truncated` says when more existed).
///
/// ```no_run
/// # fn main() -> Result<(), zava_tool::ToolError> {
/// use zava_tool::db;
///
/// let rows = db::query(
///     "SELECT product_name FROM retail.products WHERE base_price < $1",
///     &[12.5.into()],
///     20,
/// )?;
/// # Ok(()) }
/// ```
pub fn query(sql: &str, params: &[SqlValue], max_rows: u32) -> Result<RowSet, Error> {
    crate::database::query(sql, params, max_rows).map_err(Error::from)
}

/// Why a query failed: the WIT `db-error`, with messages an assistant can
/// act on (`?` in a tool makes it [`ToolError::Failed`](crate::ToolError)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The statement is not allowed (not one read-only query, or it touches
    /// something forbidden); the message says what to change.
    Rejected(String),
    /// It ran past the caller's statement timeout.
    Timeout,
    /// PostgreSQL reported an error (syntax, unknown column, ...).
    Failed(String),
    /// No database is configured or reachable right now.
    Unavailable(String),
}

impl From<DbError> for Error {
    fn from(error: DbError) -> Self {
        match error {
            DbError::Rejected(message) => Self::Rejected(message),
            DbError::Timeout => Self::Timeout,
            DbError::Failed(message) => Self::Failed(message),
            DbError::Unavailable(message) => Self::Unavailable(message),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rejected(message) => write!(f, "the query was rejected: {message}"),
            Self::Timeout => f.write_str(
                "the query ran longer than the server allows and was cancelled; narrow it and retry",
            ),
            Self::Failed(message) => write!(f, "PostgreSQL reported an error: {message}"),
            Self::Unavailable(message) => {
                write!(f, "the database is unavailable right now: {message}")
            }
        }
    }
}

impl std::error::Error for Error {}

impl SqlValue {
    /// The value as JSON: exact decimals (`numeric`) stay strings so that no
    /// digit is lost, `json` is parsed, floats JSON cannot hold (NaN,
    /// infinity) become text, dates and timestamps are their text.
    pub fn to_json(&self) -> Value {
        match self {
            Self::Null => Value::Null,
            Self::Boolean(b) => Value::Bool(*b),
            Self::Int(i) => json!(i),
            Self::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or_else(|| Value::String(f.to_string())),
            Self::Numeric(s)
            | Self::Text(s)
            | Self::Date(s)
            | Self::Timestamp(s)
            | Self::Uuid(s) => Value::String(s.clone()),
            Self::Json(s) => serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone())),
            Self::Vector(v) => json!(v),
        }
    }
}

impl RowSet {
    /// Each row as a JSON object keyed by column name.
    pub fn records(&self) -> Vec<Map<String, Value>> {
        self.rows
            .iter()
            .map(|row| {
                self.columns
                    .iter()
                    .zip(row)
                    .map(|(column, value)| (column.name.clone(), value.to_json()))
                    .collect()
            })
            .collect()
    }
}

macro_rules! sql_value_from {
    ($($ty:ty => $variant:ident $(as $via:ty)?),* $(,)?) => {$(
        impl From<$ty> for SqlValue {
            fn from(value: $ty) -> Self {
                Self::$variant((value $(as $via)?).into())
            }
        }
    )*};
}

sql_value_from! {
    bool => Boolean,
    i16 => Int as i64,
    i32 => Int as i64,
    i64 => Int,
    u16 => Int as i64,
    u32 => Int as i64,
    f32 => Float as f64,
    f64 => Float,
    String => Text,
    &str => Text,
    Vec<f32> => Vector,
}

impl<T: Into<SqlValue>> From<Option<T>> for SqlValue {
    /// `None` is SQL `NULL`.
    fn from(value: Option<T>) -> Self {
        value.map_or(Self::Null, Into::into)
    }
}
