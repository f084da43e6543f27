//! Template for a tool component. Copy this folder, rename the crate and the
//! tool, and build with
//!
//! ```sh
//! cargo build --release --target wasm32-wasip2 -p tool-template
//! cp target/wasm32-wasip2/release/tool_template.wasm components-dist/
//! ```
//!
//! The running host picks the file up within a second; no restart. The SDK
//! (`zava-tool`, sdk/rust) does the plumbing: the input schema is derived
//! from `Arguments`, the output schema from `Greeting`, and arguments that
//! do not fit come back to the assistant as `invalid-arguments`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use zava_tool::caller::{self, Level, Scope};
use zava_tool::{Structured, Tool, ToolError, Tools};

/// The tool's arguments; the input schema is derived from them. Doc comments
/// on fields become the properties' descriptions (the assistant reads them);
/// `deny_unknown_fields` refuses (and the schema forbids) other arguments.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Arguments {
    /// Who to greet
    name: String,
}

/// The structured result (`structuredContent`); its schema is the tool's
/// output schema.
#[derive(Serialize, JsonSchema)]
struct Greeting {
    greeting: String,
    scope: String,
}

/// The tool itself: a plain function. Return `ToolError::invalid_arguments`
/// for input the schema cannot rule out, `ToolError::failed` (or `?`) when
/// something goes wrong.
fn greet(args: Arguments) -> Result<Structured<Greeting>, ToolError> {
    // The host tells us the caller's scope; the database import (not used
    // here) already runs every query as that caller.
    let scope = match caller::scope() {
        Scope::HeadOffice => "head office".to_string(),
        Scope::Store(id) => format!("store {id}"),
        Scope::Unassigned => "no store".to_string(),
    };
    caller::log(Level::Info, &format!("greeting {}", args.name));
    let greeting = format!("Hello, {}!", args.name);
    let text = format!("{greeting} You are calling as {scope}.");
    Ok(Structured::new(Greeting { greeting, scope }).with_text(text))
}

struct Component;

impl Tools for Component {
    fn tools() -> Vec<Tool> {
        vec![
            // The name (1-128 characters of `A-Za-z0-9_-.`, unique across all
            // components) is written here only: calls are routed by it.
            Tool::new("template_greet", greet)
                .title("Greet (template)")
                .description(
                    "Greets someone and says which data the caller may see. \
                     Replace with what your tool does and when an assistant should use it.",
                )
                .read_only(true),
        ]
    }
}

zava_tool::export!(Component);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declares_its_schemas() {
        let def = &Component::tools()[0].definition();
        let input: zava_tool::serde_json::Value =
            zava_tool::serde_json::from_str(&def.input_schema).unwrap();
        assert_eq!(input["type"], "object");
        assert_eq!(input["required"], zava_tool::serde_json::json!(["name"]));
        assert_eq!(input["additionalProperties"], false);
        assert!(def.output_schema.is_some());
    }

    #[test]
    fn refuses_unknown_arguments() {
        let error = Component::tools()[0].call(r#"{"nom":"Ada"}"#).unwrap_err();
        assert!(matches!(error, ToolError::InvalidArguments(_)), "{error}");
    }
}
