//! What a component declares about its prompts, validated and turned into
//! the MCP `Prompt` the host advertises.

use rmcp::model::Prompt;
use serde_json::{Map, Value};

use super::content::MAX_DECLARED;
use super::tooldef::is_valid_tool_name;
use crate::bindings::exports::zava::mcp::prompts::PromptDef;

/// Most arguments one prompt may declare.
const MAX_ARGUMENTS: usize = 32;

/// A prompt as the host serves it.
#[derive(Debug, Clone)]
pub struct PromptSpec {
    pub name: String,
    pub mcp: Prompt,
    /// Argument names, and whether each is required (checked before the
    /// component is called).
    pub arguments: Vec<(String, bool)>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PromptDefError {
    #[error(
        "prompt name {0:?} is not a valid MCP prompt name (1-128 characters from A-Z a-z 0-9 _ - .)"
    )]
    BadName(String),
    #[error("the component declares more than {MAX_DECLARED} prompts")]
    TooMany,
    #[error("prompt `{0}` is declared twice by this component")]
    Duplicate(String),
    #[error(
        "prompt `{prompt}` has a bad argument {argument:?} (names are 1-128 characters from A-Z a-z 0-9 _ - ., unique, at most {MAX_ARGUMENTS})"
    )]
    BadArgument { prompt: String, argument: String },
}

fn optional(object: &mut Map<String, Value>, key: &str, value: Option<String>) {
    if let Some(value) = value {
        object.insert(key.into(), value.into());
    }
}

pub fn validate(defs: Vec<PromptDef>) -> Result<Vec<PromptSpec>, PromptDefError> {
    if defs.len() > MAX_DECLARED {
        return Err(PromptDefError::TooMany);
    }
    let mut specs: Vec<PromptSpec> = Vec::with_capacity(defs.len());
    let mut names = std::collections::HashSet::new();
    for def in defs {
        if !is_valid_tool_name(&def.name) {
            return Err(PromptDefError::BadName(def.name));
        }
        if !names.insert(def.name.clone()) {
            return Err(PromptDefError::Duplicate(def.name));
        }
        let mut arguments: Vec<(String, bool)> = Vec::new();
        let mut json_arguments = Vec::new();
        for argument in def.arguments {
            if !is_valid_tool_name(&argument.name)
                || arguments.iter().any(|(n, _)| *n == argument.name)
                || arguments.len() == MAX_ARGUMENTS
            {
                return Err(PromptDefError::BadArgument {
                    prompt: def.name,
                    argument: argument.name,
                });
            }
            let mut object = Map::new();
            object.insert("name".into(), argument.name.clone().into());
            optional(&mut object, "title", argument.title);
            optional(&mut object, "description", argument.description);
            object.insert("required".into(), argument.required.into());
            json_arguments.push(Value::Object(object));
            arguments.push((argument.name, argument.required));
        }
        let mut object = Map::new();
        object.insert("name".into(), def.name.clone().into());
        optional(&mut object, "title", def.title);
        object.insert("description".into(), def.description.into());
        if !json_arguments.is_empty() {
            object.insert("arguments".into(), Value::Array(json_arguments));
        }
        let mcp = serde_json::from_value(Value::Object(object))
            .expect("MCP prompt JSON matches rmcp's type");
        specs.push(PromptSpec {
            name: def.name,
            mcp,
            arguments,
        });
    }
    Ok(specs)
}

impl PromptSpec {
    /// The client's arguments, checked against the declaration: every
    /// required one present, none undeclared.
    pub fn check_arguments(&self, given: &Map<String, Value>) -> Result<(), String> {
        for (name, required) in &self.arguments {
            if *required && !given.contains_key(name) {
                return Err(format!(
                    "prompt `{}` needs the argument `{name}`",
                    self.name
                ));
            }
        }
        for name in given.keys() {
            if !self.arguments.iter().any(|(n, _)| n == name) {
                return Err(format!(
                    "prompt `{}` has no argument `{}`",
                    self.name,
                    super::content::printable(name, 128)
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::exports::zava::mcp::prompts::PromptArgument;

    fn def(name: &str, arguments: &[(&str, bool)]) -> PromptDef {
        PromptDef {
            name: name.into(),
            title: Some("T".into()),
            description: "d".into(),
            arguments: arguments
                .iter()
                .map(|(n, required)| PromptArgument {
                    name: (*n).into(),
                    title: None,
                    description: None,
                    required: *required,
                })
                .collect(),
        }
    }

    #[test]
    fn prompts_become_mcp_prompts() {
        let specs = validate(vec![def(
            "top_products",
            &[("period", true), ("limit", false)],
        )])
        .unwrap();
        assert_eq!(
            serde_json::to_value(&specs[0].mcp).unwrap(),
            serde_json::json!({"name":"top_products","title":"T","description":"d","arguments":[
                {"name":"period","required":true},{"name":"limit","required":false}]})
        );
    }

    #[test]
    fn bad_declarations_are_refused() {
        assert!(matches!(
            validate(vec![def("a b", &[])]),
            Err(PromptDefError::BadName(_))
        ));
        assert!(matches!(
            validate(vec![def("p", &[]), def("p", &[])]),
            Err(PromptDefError::Duplicate(_))
        ));
        assert!(matches!(
            validate(vec![def("p", &[("x", true), ("x", false)])]),
            Err(PromptDefError::BadArgument { .. })
        ));
    }

    #[test]
    fn arguments_are_checked_before_the_component_runs() {
        let spec = validate(vec![def("p", &[("period", true), ("store", false)])])
            .unwrap()
            .remove(0);
        let given = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_string(), Value::from(*v)))
                .collect::<Map<_, _>>()
        };
        assert!(
            spec.check_arguments(&given(&[("period", "2025-Q3")]))
                .is_ok()
        );
        assert!(
            spec.check_arguments(&given(&[("store", "x")]))
                .unwrap_err()
                .contains("`period`")
        );
        assert!(
            spec.check_arguments(&given(&[("period", "x"), ("other", "y")]))
                .unwrap_err()
                .contains("`other`")
        );
    }
}
