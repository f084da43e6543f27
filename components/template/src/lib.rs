//! Template for a tool component. Copy this folder, rename the crate and the
//! tool, and build with
//!
//! ```sh
//! cargo build --release --target wasm32-wasip2 -p tool-template
//! cp target/wasm32-wasip2/release/tool_template.wasm components-dist/
//! ```
//!
//! The running host picks the file up within a second; no restart.

use serde::Deserialize;
use serde_json::json;

wit_bindgen::generate!({
    path: "../../wit",
    world: "tool-component",
});

use exports::zava::mcp::tool::{Guest, ToolDef, ToolError, ToolOutput};
use zava::mcp::caller::{self, Level, Scope};
use zava::mcp::types::Content;

const NAME: &str = "template_greet";

/// The tool's arguments; the input schema below describes the same shape.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Arguments {
    name: String,
}

struct Component;

impl Guest for Component {
    fn list_tools() -> Vec<ToolDef> {
        vec![ToolDef {
            name: NAME.into(),
            title: Some("Greet (template)".into()),
            description: "Greets someone and says which data the caller may see. \
                          Replace with what your tool does and when an assistant should use it."
                .into(),
            input_schema: json!({
                "type": "object",
                "properties": { "name": { "type": "string", "description": "Who to greet" } },
                "required": ["name"],
                "additionalProperties": false
            })
            .to_string(),
            output_schema: Some(
                json!({
                    "type": "object",
                    "properties": { "greeting": { "type": "string" }, "scope": { "type": "string" } },
                    "required": ["greeting", "scope"]
                })
                .to_string(),
            ),
            read_only: true,
            app: None,
        }]
    }

    fn call_tool(name: String, arguments: String) -> Result<ToolOutput, ToolError> {
        if name != NAME {
            return Err(ToolError::InvalidArguments(format!(
                "unknown tool `{name}`"
            )));
        }
        let args: Arguments = serde_json::from_str(&arguments).map_err(|e| {
            ToolError::InvalidArguments(format!("expected {{\"name\": string}}: {e}"))
        })?;
        // The host tells us the caller's scope; the database import (not used
        // here) already runs every query as that caller.
        let scope = match caller::current() {
            Scope::HeadOffice => "head office".to_string(),
            Scope::Store(id) => format!("store {id}"),
            Scope::Unassigned => "no store".to_string(),
        };
        caller::log(Level::Info, &format!("greeting {}", args.name));
        let greeting = format!("Hello, {}!", args.name);
        Ok(ToolOutput {
            content: vec![Content::Text(format!(
                "{greeting} You are calling as {scope}."
            ))],
            structured: Some(json!({ "greeting": greeting, "scope": scope }).to_string()),
        })
    }
}

export!(Component);
