//! What a component declares about its tools, validated and turned into the
//! MCP `Tool` the host advertises.

use std::sync::Arc;

use rmcp::model::{JsonObject, MetaObject, Tool, ToolAnnotations};

use super::content::{self, MAX_DECLARED};
use crate::bindings::exports::zava::mcp::tool::ToolDef;
use crate::bindings::v1::exports::zava::mcp::tool::ToolDef as V1ToolDef;

/// A tool as the host serves it.
#[derive(Debug, Clone)]
pub struct ToolSpec {
    pub name: String,
    pub mcp: Tool,
    /// Whether the tool promised structured output (then results must carry it).
    pub has_output_schema: bool,
}

impl ToolSpec {
    /// The `ui://` page of its MCP App, if it has one.
    pub fn app(&self) -> Option<&str> {
        self.mcp.meta.as_ref()?.0.get("ui/resourceUri")?.as_str()
    }
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
    #[error("the component declares more than {MAX_DECLARED} tools")]
    TooMany,
    #[error("tool `{tool}` names its app {uri:?}, which is not a `ui://` URI")]
    BadApp { tool: String, uri: String },
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

/// A 0.1 definition in 0.2's terms (no app).
pub fn from_v1(def: V1ToolDef) -> ToolDef {
    ToolDef {
        name: def.name,
        title: def.title,
        description: def.description,
        input_schema: def.input_schema,
        output_schema: def.output_schema,
        read_only: def.read_only,
        app: None,
    }
}

/// The tool's `_meta` for an MCP App: `ui.resourceUri`, and the flat
/// `ui/resourceUri` that hosts built before the extension's 2026-01-26
/// revision read (the spec asks hosts to check both).
fn app_meta(uri: &str) -> MetaObject {
    let mut meta = JsonObject::new();
    meta.insert("ui".into(), serde_json::json!({ "resourceUri": uri }));
    meta.insert("ui/resourceUri".into(), uri.into());
    MetaObject(meta)
}

/// Validates every definition a component returned from `list-tools`.
pub fn validate(defs: Vec<ToolDef>) -> Result<Vec<ToolSpec>, ToolDefError> {
    if defs.len() > MAX_DECLARED {
        return Err(ToolDefError::TooMany);
    }
    let mut specs: Vec<ToolSpec> = Vec::with_capacity(defs.len());
    let mut names = std::collections::HashSet::new();
    for def in defs {
        if !is_valid_tool_name(&def.name) {
            return Err(ToolDefError::BadName(def.name));
        }
        if !names.insert(def.name.clone()) {
            return Err(ToolDefError::Duplicate(def.name));
        }
        let input = parse_schema(&def.name, "input schema", &def.input_schema)?;
        let output = def
            .output_schema
            .as_deref()
            .map(|text| parse_schema(&def.name, "output schema", text))
            .transpose()?;
        let has_output_schema = output.is_some();
        if let Some(uri) = &def.app
            && (!uri.starts_with("ui://") || !content::is_absolute_uri(uri))
        {
            return Err(ToolDefError::BadApp {
                tool: def.name,
                uri: uri.clone(),
            });
        }
        let mut tool = Tool::new(def.name.clone(), def.description, Arc::new(input));
        match &def.app {
            // VS Code (microsoft/vscode#336916, open as of 2026-11) shows a
            // tool's result as plain output, never opening its app, when
            // the tool also declares annotations: a tool with an app goes
            // without them. Its title stays (`title` is not an annotation).
            Some(uri) => tool.meta = Some(app_meta(uri)),
            None => {
                let mut annotations = ToolAnnotations::new().read_only(def.read_only);
                annotations.title = def.title.clone();
                tool = tool.with_annotations(annotations);
            }
        }
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
            app: None,
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
    fn duplicate_declarations_are_refused() {
        let ok = r#"{"type":"object"}"#;
        assert_eq!(
            validate(vec![def("t", ok), def("t", ok)]).unwrap_err(),
            ToolDefError::Duplicate("t".into())
        );
    }

    #[test]
    fn a_tool_with_an_app_carries_both_meta_forms_and_no_annotations() {
        let mut with_app = def("q", r#"{"type":"object"}"#);
        with_app.app = Some("ui://sales-sql/result-view.html".into());
        let tool = &validate(vec![with_app.clone()]).unwrap()[0].mcp;
        let json = serde_json::to_value(tool).unwrap();
        assert_eq!(
            json["_meta"],
            serde_json::json!({"ui":{"resourceUri":"ui://sales-sql/result-view.html"},"ui/resourceUri":"ui://sales-sql/result-view.html"})
        );
        assert!(json.get("annotations").is_none());
        with_app.app = Some("https://example.com/app.html".into());
        assert!(matches!(
            validate(vec![with_app]),
            Err(ToolDefError::BadApp { .. })
        ));
    }
}
