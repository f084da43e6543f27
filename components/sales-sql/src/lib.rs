//! The SQL tools of the classic sample, over the Zava retail schema:
//!
//! - `execute_sales_query`: one read-only PostgreSQL query, run by the host
//!   as the caller under Row Level Security, returned as compact JSON;
//! - `get_multiple_table_schemas`: columns, keys, relationships, the valid
//!   values an assistant needs (as the caller sees them) and query hints.
//!
//! Neither tool holds a connection, a credential or the caller's identity:
//! they ask the host through the `database` import, and the host decides
//! whose rows the query sees.

mod query_tool;
mod rows;
mod schema_tool;

wit_bindgen::generate!({
    path: "../../wit",
    world: "tool-component",
});

use exports::zava::mcp::tool::{Guest, ToolDef, ToolError, ToolOutput};

struct Component;

impl Guest for Component {
    fn list_tools() -> Vec<ToolDef> {
        vec![query_tool::definition(), schema_tool::definition()]
    }

    fn call_tool(name: String, arguments: String) -> Result<ToolOutput, ToolError> {
        let arguments: serde_json::Value = serde_json::from_str(&arguments)
            .map_err(|e| ToolError::InvalidArguments(format!("arguments are not JSON: {e}")))?;
        match name.as_str() {
            query_tool::NAME => query_tool::call(arguments),
            schema_tool::NAME => schema_tool::call(arguments),
            other => Err(ToolError::InvalidArguments(format!(
                "this component has no tool `{other}`"
            ))),
        }
    }
}

export!(Component);
