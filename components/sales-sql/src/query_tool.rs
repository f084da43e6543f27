//! `execute_sales_query`: one read-only query, as the caller.

use serde_json::{Value, json};

use crate::exports::zava::mcp::tool::{ToolDef, ToolError, ToolOutput};
use crate::rows;
use crate::zava::mcp::caller::{self, Scope};
use crate::zava::mcp::database;
use crate::zava::mcp::types::Content;

pub const NAME: &str = "execute_sales_query";
const DEFAULT_ROWS: u32 = 200;
const MAX_ROWS: u32 = 1000;

const DESCRIPTION: &str = "Run ONE read-only PostgreSQL SELECT against the Zava retail database and \
get the rows back as JSON (columns, rows, row_count, truncated). \
Call get_multiple_table_schemas first to learn the columns and valid values. \
Tables live in the `retail` schema: stores, customers, categories, product_types, products, \
inventory, orders, order_items. Write PostgreSQL: qualify tables (retail.orders), join \
order_items to orders on order_id, products on product_id, categories on category_id; revenue is \
SUM(order_items.total_amount); use date_trunc/extract on orders.order_date for periods. \
Aggregate in SQL (GROUP BY, ORDER BY ... LIMIT) rather than fetching raw rows: results stop at \
max_rows (default 200, at most 1000) and `truncated` says when more existed. \
Row Level Security applies: a store manager sees only their store's orders, items, inventory and \
customers, head office sees all, and no SQL can change that. Only one SELECT (WITH ... SELECT \
allowed); no writes, no `;`-separated statements, no session settings.";

pub fn definition() -> ToolDef {
    ToolDef {
        name: NAME.into(),
        title: Some("Query the Zava sales database".into()),
        description: DESCRIPTION.into(),
        input_schema: json!({
            "type": "object",
            "properties": {
                "postgresql_query": {
                    "type": "string",
                    "description": "One PostgreSQL SELECT statement, e.g. SELECT s.store_name, SUM(oi.total_amount) AS revenue FROM retail.order_items oi JOIN retail.stores s ON s.store_id = oi.store_id GROUP BY s.store_name ORDER BY revenue DESC"
                },
                "max_rows": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_ROWS,
                    "default": DEFAULT_ROWS,
                    "description": "Most rows to return"
                }
            },
            "required": ["postgresql_query"],
            "additionalProperties": false
        })
        .to_string(),
        output_schema: Some(
            json!({
                "type": "object",
                "properties": {
                    "columns": { "type": "array", "items": { "type": "string" } },
                    "column_types": { "type": "array", "items": { "type": "string" } },
                    "rows": { "type": "array", "items": { "type": "array" } },
                    "row_count": { "type": "integer" },
                    "truncated": { "type": "boolean" },
                    "scope": {
                        "type": "string",
                        "description": "Whose rows these are: head-office, store:<store_id> or unassigned"
                    }
                },
                "required": ["columns", "column_types", "rows", "row_count", "truncated"]
            })
            .to_string(),
        ),
        read_only: true,
        // The MCP App that shows the rows as a table and a chart (served by
        // our `resources`); clients without MCP Apps just show the text.
        app: Some(crate::resources::RESULT_VIEW_URI.into()),
    }
}

struct Arguments {
    sql: String,
    max_rows: u32,
}

fn parse(arguments: Value) -> Result<Arguments, ToolError> {
    let Value::Object(mut map) = arguments else {
        return Err(ToolError::InvalidArguments(
            "arguments must be a JSON object".into(),
        ));
    };
    let sql = match map.remove("postgresql_query") {
        Some(Value::String(sql)) if !sql.trim().is_empty() => sql,
        Some(Value::String(_)) => {
            return Err(ToolError::InvalidArguments(
                "`postgresql_query` is empty".into(),
            ));
        }
        Some(_) => {
            return Err(ToolError::InvalidArguments(
                "`postgresql_query` must be a string".into(),
            ));
        }
        None => {
            return Err(ToolError::InvalidArguments(
                "`postgresql_query` is required: one PostgreSQL SELECT statement".into(),
            ));
        }
    };
    let max_rows = match map.remove("max_rows") {
        None | Some(Value::Null) => DEFAULT_ROWS,
        Some(Value::Number(n)) => match n.as_u64() {
            Some(n) if (1..=MAX_ROWS as u64).contains(&n) => n as u32,
            _ => {
                return Err(ToolError::InvalidArguments(format!(
                    "`max_rows` must be an integer from 1 to {MAX_ROWS}"
                )));
            }
        },
        Some(_) => {
            return Err(ToolError::InvalidArguments(
                "`max_rows` must be an integer".into(),
            ));
        }
    };
    if let Some(extra) = map.keys().next() {
        return Err(ToolError::InvalidArguments(format!(
            "unknown argument `{extra}` (expected postgresql_query, max_rows)"
        )));
    }
    Ok(Arguments { sql, max_rows })
}

pub fn call(arguments: Value) -> Result<ToolOutput, ToolError> {
    let Arguments { sql, max_rows } = parse(arguments)?;
    let set = database::query(&sql, &[], max_rows).map_err(rows::db_error)?;
    let mut result = rows::row_set(&set);
    // Whose rows these are, for the assistant and the result view (the
    // host decides the scope; this only says it).
    result["scope"] = scope().into();
    let text = result.to_string();
    Ok(ToolOutput {
        content: vec![Content::Text(text.clone())],
        structured: Some(text),
    })
}

fn scope() -> String {
    match caller::current() {
        Scope::HeadOffice => "head-office".into(),
        Scope::Store(id) => format!("store:{id}"),
        Scope::Unassigned => "unassigned".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_checked() {
        let ok = parse(json!({"postgresql_query": "SELECT 1"})).ok().unwrap();
        assert_eq!(ok.max_rows, DEFAULT_ROWS);
        assert!(parse(json!({})).is_err());
        assert!(parse(json!({"postgresql_query": "  "})).is_err());
        assert!(parse(json!({"postgresql_query": "SELECT 1", "max_rows": 0})).is_err());
        assert!(parse(json!({"postgresql_query": "SELECT 1", "max_rows": 5000})).is_err());
        assert!(parse(json!({"postgresql_query": "SELECT 1", "limit": 5})).is_err());
    }
}
