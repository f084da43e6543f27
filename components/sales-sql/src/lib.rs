//! The SQL tools of the classic sample, over the Zava retail schema, with
//! the prompts and resources that make them easy to use from a chat:
//!
//! - tools: `execute_sales_query` (one read-only PostgreSQL query, run by the
//!   host as the caller under Row Level Security, returned as compact JSON
//!   and shown by an MCP App) and `get_multiple_table_schemas` (columns,
//!   keys, relationships, the valid values an assistant needs — as the caller
//!   sees them — and query hints);
//! - prompts: the sample's questions (top products, best-selling categories,
//!   monthly trend, store comparison, low stock) with checked arguments and
//!   completions for stores and categories the caller may see;
//! - resources: each table's schema (`zava://schema/{table}`) and the MCP
//!   App page (`ui://sales-sql/result-view.html`).
//!
//! Nothing here holds a connection, a credential or the caller's identity:
//! every query goes through the host's `database` import, and the host
//! decides whose rows it sees.

mod choices;
mod period;
mod prompts;
mod query_tool;
mod resources;
mod rows;
mod schema;
mod schema_tool;

wit_bindgen::generate!({
    path: "../../wit",
    world: "server-component",
});

use exports::zava::mcp::prompts::{Guest as PromptsGuest, PromptDef, PromptResult};
use exports::zava::mcp::resources::{Guest as ResourcesGuest, ResourceDef, TemplateDef};
use exports::zava::mcp::tool::{Guest as ToolGuest, ToolDef, ToolError, ToolOutput};
use zava::mcp::types::{RequestError, ResourceContents};

struct Component;

impl ToolGuest for Component {
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

impl PromptsGuest for Component {
    fn list_prompts() -> Vec<PromptDef> {
        prompts::list()
    }

    fn get_prompt(
        name: String,
        arguments: Vec<(String, String)>,
    ) -> Result<PromptResult, RequestError> {
        prompts::get(&name, &arguments)
    }

    // `context` (the other arguments already chosen) does not narrow any of
    // our suggestions: stores and categories are independent of each other.
    fn complete(
        name: String,
        argument: String,
        value: String,
        _context: Vec<(String, String)>,
    ) -> Result<Vec<String>, RequestError> {
        prompts::complete(&name, &argument, &value)
    }
}

impl ResourcesGuest for Component {
    fn list_resources() -> Vec<ResourceDef> {
        resources::list()
    }

    fn list_templates() -> Vec<TemplateDef> {
        resources::templates()
    }

    fn read_resource(uri: String) -> Result<Vec<ResourceContents>, RequestError> {
        resources::read(&uri)
    }

    fn complete(
        uri_template: String,
        argument: String,
        value: String,
        _context: Vec<(String, String)>,
    ) -> Result<Vec<String>, RequestError> {
        resources::complete(&uri_template, &argument, &value)
    }
}

export!(Component);
