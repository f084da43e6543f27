//! What a component declares about its tools, validated and turned into the
//! MCP `Tool` the host advertises.

use std::sync::Arc;

use rmcp::model::{JsonObject, Tool, ToolAnnotations};

use crate::bindings::exports::zava::mcp::tool::ToolDef;

/// A tool as the host serves it.
#[derive(Debug, Clone)]
pub struct ToolSpec {
    pub name: String,
    pub mcp: Tool,
    /// Whether the tool promised structured output (then results must carry it).
    pub has_output_schema: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ToolDefError {
    #[error(
        "tool name {0:?} is not a valid MCP tool name (1-128 characters from A-Z a-z 0-9 _ - .)"
    )]
    BadName(String),
    #[error("tool `{tool}` has an invalid {which}: {reason}")]
    BadSchema {
        tool: String,
        which: &'static str,
        reason: String,
    },
    #[error("tool `{0}` is declared twice by this component")]
    Duplicate(String),
    #[error("the component declares no tools")]
    Empty,
}

/// MCP tool names: 1-128 characters, `A-Za-z0-9_-.` (spec 2025-11-25).
pub fn is_valid_tool_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

fn parse_schema(tool: &str, which: &'static str, text: &str) -> Result<JsonObject, ToolDefError> {
    let bad = |reason: String| ToolDefError::BadSchema {
        tool: tool.to_string(),
        which,
        reason,
    };
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| bad(format!("not JSON ({e})")))?;
    let serde_json::Value::Object(object) = value else {
        return Err(bad("not a JSON object".into()));
    };
    if object.get("type").and_then(|t| t.as_str()) != Some("object") {
        return Err(bad(r#"its "type" must be "object""#.into()));
    }
    Ok(object)
}

/// Validates every definition a component returned from `list-tools`.
pub fn validate(defs: Vec<ToolDef>) -> Result<Vec<ToolSpec>, ToolDefError> {
    if defs.is_empty() {
        return Err(ToolDefError::Empty);
    }
    let mut specs: Vec<ToolSpec> = Vec::with_capacity(defs.len());
    for def in defs {
        if !is_valid_tool_name(&def.name) {
            return Err(ToolDefError::BadName(def.name));
        }
        if specs.iter().any(|s| s.name == def.name) {
            return Err(ToolDefError::Duplicate(def.name));
        }
        let input = parse_schema(&def.name, "input schema", &def.input_schema)?;
        let output = def
            .output_schema
            .as_deref()
            .map(|text| parse_schema(&def.name, "output schema", text))
            .transpose()?;
        let has_output_schema = output.is_some();
        let mut annotations = ToolAnnotations::new().read_only(def.read_only);
        if let Some(title) = &def.title {
            annotations.title = Some(title.clone());
        }
        let mut tool = Tool::new(def.name.clone(), def.description, Arc::new(input))
            .with_annotations(annotations);
        if let Some(title) = def.title {
            tool = tool.with_title(title);
        }
        if let Some(output) = output {
            tool = tool.with_raw_output_schema(Arc::new(output));
        }
        specs.push(ToolSpec {
            name: def.name,
            mcp: tool,
            has_output_schema,
        });
    }
    Ok(specs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(name: &str, input: &str) -> ToolDef {
        ToolDef {
            name: name.into(),
            title: None,
            description: "d".into(),
            input_schema: input.into(),
            output_schema: None,
            read_only: true,
        }
    }

    #[test]
    fn tool_names_follow_the_mcp_rules() {
        assert!(is_valid_tool_name("get_current_utc_date"));
        assert!(is_valid_tool_name("a.b-c_9"));
        assert!(!is_valid_tool_name(""));
        assert!(!is_valid_tool_name("has space"));
        assert!(!is_valid_tool_name("ünï"));
        assert!(!is_valid_tool_name(&"x".repeat(129)));
    }

    #[test]
    fn schemas_must_be_object_schemas() {
        let ok = r#"{"type":"object","properties":{}}"#;
        assert!(validate(vec![def("t", ok)]).is_ok());
        assert!(matches!(
            validate(vec![def("t", "not json")]),
            Err(ToolDefError::BadSchema { .. })
        ));
        assert!(matches!(
            validate(vec![def("t", r#"{"type":"string"}"#)]),
            Err(ToolDefError::BadSchema { .. })
        ));
    }

    #[test]
    fn duplicate_and_empty_declarations_are_refused() {
        let ok = r#"{"type":"object"}"#;
        assert_eq!(
            validate(vec![def("t", ok), def("t", ok)]).unwrap_err(),
            ToolDefError::Duplicate("t".into())
        );
        assert_eq!(validate(vec![]).unwrap_err(), ToolDefError::Empty);
    }
}
