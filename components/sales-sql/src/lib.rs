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

use zava_tool::prompts::{Guest as PromptsGuest, PromptDef, PromptResult};
use zava_tool::resources::{Guest as ResourcesGuest, ResourceDef, TemplateDef};
use zava_tool::types::{RequestError, ResourceContents};
use zava_tool::{Tool, Tools};

struct Component;

impl Tools for Component {
    fn tools() -> Vec<Tool> {
        vec![query_tool::tool(), schema_tool::tool()]
    }
}

// Prompts and resources are written against the WIT bindings the SDK
// re-exports.
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

// All three exports: world `server-component`.
zava_tool::export!(Component: tools, prompts, resources);
