//! Query results as compact JSON, and database errors as messages an
//! assistant (or the user picking a prompt) can act on.

use serde_json::{Map, Value};

use zava_tool::ToolError;
use zava_tool::types::{DbError, RequestError, RowSet, SqlValue};

/// One value as JSON (the SDK's conversion: exact decimals stay strings,
/// floats JSON cannot hold become text).
pub fn value(v: &SqlValue) -> Value {
    v.to_json()
}

/// Rows as objects keyed by column name (for small lookups).
pub fn records(set: &RowSet) -> Vec<Map<String, Value>> {
    set.records()
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
