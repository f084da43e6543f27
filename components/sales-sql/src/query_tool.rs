//! `execute_sales_query`: one read-only query, as the caller.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use zava_tool::caller::{self, Scope};
use zava_tool::types::RowSet;
use zava_tool::{Structured, Tool, ToolError, database};

use crate::rows;

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

pub fn tool() -> Tool {
    Tool::new(NAME, call)
        .title("Query the Zava sales database")
        .description(DESCRIPTION)
        .read_only(true)
        // The MCP App that shows the rows as a table and a chart (served by
        // our `resources`); clients without MCP Apps just show the text.
        .app(crate::resources::RESULT_VIEW_URI)
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Arguments {
    // Required (the schema says so), but an `Option` for serde: a missing
    // one gets the message in `check` rather than serde's.
    #[schemars(
        required,
        description = "One PostgreSQL SELECT statement, e.g. SELECT s.store_name, \
            SUM(oi.total_amount) AS revenue FROM retail.order_items oi JOIN retail.stores s \
            ON s.store_id = oi.store_id GROUP BY s.store_name ORDER BY revenue DESC"
    )]
    postgresql_query: Option<String>,
    /// Most rows to return
    #[serde(default = "default_rows")]
    #[schemars(range(min = 1, max = MAX_ROWS))]
    max_rows: u32,
}

fn default_rows() -> u32 {
    DEFAULT_ROWS
}

/// The rows as compact JSON (also the text, for clients without
/// `structuredContent`, and what the MCP App draws).
#[derive(Debug, Serialize, JsonSchema)]
pub struct QueryResult {
    columns: Vec<String>,
    column_types: Vec<String>,
    rows: Vec<Vec<Value>>,
    row_count: usize,
    truncated: bool,
    /// Whose rows these are: head-office, store:<store_id> or unassigned
    scope: String,
}

impl Arguments {
    fn check(self) -> Result<(String, u32), ToolError> {
        let sql = match self.postgresql_query {
            Some(sql) if !sql.trim().is_empty() => sql,
            Some(_) => return Err(ToolError::invalid_arguments("`postgresql_query` is empty")),
            None => {
                return Err(ToolError::invalid_arguments(
                    "`postgresql_query` is required: one PostgreSQL SELECT statement",
                ));
            }
        };
        if !(1..=MAX_ROWS).contains(&self.max_rows) {
            return Err(ToolError::invalid_arguments(format!(
                "`max_rows` must be an integer from 1 to {MAX_ROWS}"
            )));
        }
        Ok((sql, self.max_rows))
    }
}

fn call(arguments: Arguments) -> Result<Structured<QueryResult>, ToolError> {
    let (sql, max_rows) = arguments.check()?;
    let set = database::query(&sql, &[], max_rows).map_err(rows::db_error)?;
    // Whose rows these are, for the assistant and the result view (the
    // host decides the scope; this only says it).
    Ok(Structured::new(result(&set, scope())))
}

fn result(set: &RowSet, scope: String) -> QueryResult {
    QueryResult {
        columns: set.columns.iter().map(|c| c.name.clone()).collect(),
        column_types: set.columns.iter().map(|c| c.type_name.clone()).collect(),
        rows: set
            .rows
            .iter()
            .map(|r| r.iter().map(rows::value).collect())
            .collect(),
        row_count: set.rows.len(),
        truncated: set.truncated,
        scope,
    }
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
    use serde_json::json;
    use zava_tool::IntoOutput;
    use zava_tool::types::{Column, SqlValue};

    fn parse(arguments: Value) -> Result<(String, u32), ToolError> {
        zava_tool::parse_arguments::<Arguments>(&arguments.to_string())?.check()
    }

    #[test]
    fn arguments_are_checked() {
        let ok = parse(json!({"postgresql_query": "SELECT 1"})).unwrap();
        assert_eq!(ok.1, DEFAULT_ROWS);
        for (bad, message) in [
            (
                json!({}),
                "`postgresql_query` is required: one PostgreSQL SELECT statement",
            ),
            (
                json!({"postgresql_query": "  "}),
                "`postgresql_query` is empty",
            ),
            (
                json!({"postgresql_query": "SELECT 1", "max_rows": 0}),
                "`max_rows` must be an integer from 1 to 1000",
            ),
            (
                json!({"postgresql_query": "SELECT 1", "max_rows": 5000}),
                "`max_rows` must be an integer from 1 to 1000",
            ),
        ] {
            assert_eq!(
                parse(bad.clone()),
                Err(ToolError::InvalidArguments(message.into())),
                "{bad}"
            );
        }
        let unknown = parse(json!({"postgresql_query": "SELECT 1", "limit": 5})).unwrap_err();
        assert!(
            unknown.message().starts_with("unknown field `limit`"),
            "{unknown}"
        );
    }

    #[test]
    fn the_schemas_are_the_documented_ones() {
        let def = tool().definition();
        let input: Value = serde_json::from_str(&def.input_schema).unwrap();
        assert_eq!(input["required"], json!(["postgresql_query"]));
        assert_eq!(input["additionalProperties"], false);
        assert_eq!(
            input["properties"]["max_rows"],
            json!({"type": "integer", "minimum": 1, "maximum": MAX_ROWS, "default": DEFAULT_ROWS,
                   "description": "Most rows to return"})
        );
        assert_eq!(input["properties"]["postgresql_query"]["type"], "string");
        let output: Value = serde_json::from_str(&def.output_schema.unwrap()).unwrap();
        assert_eq!(output["type"], "object");
        assert_eq!(def.app.as_deref(), Some(crate::resources::RESULT_VIEW_URI));
    }

    #[test]
    fn the_text_is_the_structured_json() {
        let set = RowSet {
            columns: vec![Column {
                name: "n".into(),
                type_name: "numeric".into(),
            }],
            rows: vec![vec![SqlValue::Numeric("1.50".into())]],
            truncated: false,
        };
        let output = Structured::new(result(&set, "head-office".into()))
            .into_output()
            .unwrap();
        let structured: Value =
            serde_json::from_str(output.structured.as_deref().unwrap()).unwrap();
        assert_eq!(
            structured,
            json!({"columns": ["n"], "column_types": ["numeric"], "rows": [["1.50"]],
                   "row_count": 1, "truncated": false, "scope": "head-office"})
        );
        assert!(
            matches!(&output.content[..], [zava_tool::types::Content::Text(t)] if *t == output.structured.clone().unwrap())
        );
    }
}
