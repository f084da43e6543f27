//! Query results as compact JSON, and database errors as messages an
//! assistant (or the user picking a prompt) can act on.

use serde_json::{Map, Value, json};

use zava_tool::ToolError;
use zava_tool::types::{DbError, RequestError, RowSet, SqlValue};

/// One value as JSON. Exact decimals (`numeric`) stay strings so that no
/// digit is lost; floats that JSON cannot hold (NaN, infinity) become text.
pub fn value(v: &SqlValue) -> Value {
    match v {
        SqlValue::Null => Value::Null,
        SqlValue::Boolean(b) => Value::Bool(*b),
        SqlValue::Int(i) => json!(i),
        SqlValue::Float(f) => serde_json::Number::from_f64(*f)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(f.to_string())),
        SqlValue::Numeric(s)
        | SqlValue::Text(s)
        | SqlValue::Date(s)
        | SqlValue::Timestamp(s)
        | SqlValue::Uuid(s) => Value::String(s.clone()),
        SqlValue::Json(s) => serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone())),
        SqlValue::Vector(v) => json!(v),
    }
}

/// Rows as objects keyed by column name (for small lookups).
pub fn records(set: &RowSet) -> Vec<Map<String, Value>> {
    set.rows
        .iter()
        .map(|row| {
            set.columns
                .iter()
                .zip(row)
                .map(|(c, v)| (c.name.clone(), value(v)))
                .collect()
        })
        .collect()
}

/// A database error as a tool result the assistant can act on.
pub fn db_error(error: DbError) -> ToolError {
    ToolError::Failed(db_message(error))
}

/// A database error as a failed prompt, resource or completion request.
pub fn request_error(error: DbError) -> RequestError {
    RequestError::Failed(db_message(error))
}

fn db_message(error: DbError) -> String {
    match error {
        DbError::Rejected(message) => format!("The query was rejected: {message}"),
        DbError::Timeout => "The query ran longer than the server allows and was cancelled. \
             Narrow it (filter on order_date or store, aggregate before joining) and retry."
            .to_string(),
        DbError::Failed(message) => format!("PostgreSQL reported an error: {message}"),
        DbError::Unavailable(message) => {
            format!("The database is unavailable right now: {message}")
        }
    }
}
