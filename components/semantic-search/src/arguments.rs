//! The tool's arguments: their schema (derived), and the checks serde cannot
//! express, with messages an assistant can act on.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use zava_tool::ToolError;

pub const DEFAULT_ROWS: u32 = 20;
pub const MAX_ROWS: u32 = 100;
pub const DEFAULT_THRESHOLD: f64 = 30.0;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Vector,
    Hybrid,
}

/// What the client sent (a `null` argument counts as absent).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Arguments {
    /// What the products should be or do, in plain words
    // Required (the schema says so), but an `Option` for serde: a missing or
    // blank one gets the message below rather than serde's.
    #[schemars(required)]
    query_description: Option<String>,
    #[serde(default = "default_rows")]
    #[schemars(range(min = 1, max = MAX_ROWS))]
    max_rows: u32,
    /// Lowest similarity percent to return
    #[serde(default = "default_threshold")]
    #[schemars(range(min = 0, max = 100))]
    similarity_threshold: f64,
    /// Only this category, e.g. 'Electrical'
    category: Option<String>,
    #[schemars(range(min = 0))]
    min_price: Option<f64>,
    #[schemars(range(min = 0))]
    max_price: Option<f64>,
    /// Only products in stock at a store you may see (your store for a store manager)
    #[serde(default)]
    in_stock: bool,
    #[serde(default)]
    mode: Mode,
}

fn default_rows() -> u32 {
    DEFAULT_ROWS
}

fn default_threshold() -> f64 {
    DEFAULT_THRESHOLD
}

/// The arguments, checked.
#[derive(Debug)]
pub struct Search {
    pub query: String,
    pub max_rows: u32,
    pub threshold: f64,
    pub category: Option<String>,
    pub min_price: Option<f64>,
    pub max_price: Option<f64>,
    pub in_stock: bool,
    pub mode: Mode,
}

fn invalid(message: impl Into<String>) -> ToolError {
    ToolError::InvalidArguments(message.into())
}

fn non_negative(value: Option<f64>, key: &str) -> Result<Option<f64>, ToolError> {
    match value {
        Some(x) if !(x.is_finite() && x >= 0.0) => {
            Err(invalid(format!("`{key}` must be a non-negative number")))
        }
        _ => Ok(value),
    }
}

impl Arguments {
    pub fn check(self) -> Result<Search, ToolError> {
        let query = match self.query_description.as_deref().map(str::trim) {
            Some(q) if !q.is_empty() => q.to_string(),
            _ => {
                return Err(invalid(
                    "`query_description` is required: describe the products in words",
                ));
            }
        };
        if query.chars().count() > 2000 {
            return Err(invalid(
                "`query_description` is too long (at most 2000 characters)",
            ));
        }
        if !(1..=MAX_ROWS).contains(&self.max_rows) {
            return Err(invalid(format!(
                "`max_rows` must be an integer from 1 to {MAX_ROWS}"
            )));
        }
        let threshold = non_negative(Some(self.similarity_threshold), "similarity_threshold")?
            .unwrap_or_default();
        if threshold > 100.0 {
            return Err(invalid("`similarity_threshold` is a percent from 0 to 100"));
        }
        let category = match self.category {
            None => None,
            Some(c) if !c.trim().is_empty() => Some(c.trim().to_string()),
            Some(_) => return Err(invalid("`category` must be a category name")),
        };
        let min_price = non_negative(self.min_price, "min_price")?;
        let max_price = non_negative(self.max_price, "max_price")?;
        if let (Some(lo), Some(hi)) = (min_price, max_price)
            && lo > hi
        {
            return Err(invalid("`min_price` is above `max_price`"));
        }
        Ok(Search {
            query,
            max_rows: self.max_rows,
            threshold,
            category,
            min_price,
            max_price,
            in_stock: self.in_stock,
            mode: self.mode,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zava_tool::parse_arguments;
    use zava_tool::serde_json::{Value, json};

    fn parse(text: &str) -> Result<Search, ToolError> {
        parse_arguments::<Arguments>(text)?.check()
    }

    #[test]
    fn defaults_match_the_classic_sample() {
        let a = parse(r#"{"query_description": "cordless drill"}"#).unwrap();
        assert_eq!(
            (a.max_rows, a.threshold, a.mode, a.in_stock),
            (20, 30.0, Mode::Vector, false)
        );
        // What assistants send for "not given", and integers written as floats.
        let a = parse(r#"{"query_description": " drill ", "max_rows": 5.0, "category": null, "in_stock": null}"#)
            .unwrap();
        assert_eq!(
            (a.query.as_str(), a.max_rows, a.category, a.in_stock),
            ("drill", 5, None, false)
        );
    }

    #[test]
    fn bad_arguments_say_what_to_fix() {
        for (bad, message) in [
            (
                r#"{}"#,
                "`query_description` is required: describe the products in words",
            ),
            (
                r#"{"query_description": " "}"#,
                "`query_description` is required: describe the products in words",
            ),
            (
                r#"{"query_description": "x", "max_rows": 0}"#,
                "`max_rows` must be an integer from 1 to 100",
            ),
            (
                r#"{"query_description": "x", "similarity_threshold": 120}"#,
                "`similarity_threshold` is a percent from 0 to 100",
            ),
            (
                r#"{"query_description": "x", "similarity_threshold": -1}"#,
                "`similarity_threshold` must be a non-negative number",
            ),
            (
                r#"{"query_description": "x", "category": ""}"#,
                "`category` must be a category name",
            ),
            (
                r#"{"query_description": "x", "min_price": -2}"#,
                "`min_price` must be a non-negative number",
            ),
            (
                r#"{"query_description": "x", "min_price": 10, "max_price": 5}"#,
                "`min_price` is above `max_price`",
            ),
            (
                r#"{"query_description": "x", "mode": "fuzzy"}"#,
                "`mode`: unknown variant `fuzzy`, expected `vector` or `hybrid`",
            ),
            (
                r#"{"query_description": "x", "max_rows": "ten"}"#,
                "`max_rows`: invalid type: string \"ten\", expected u32",
            ),
        ] {
            assert_eq!(
                parse(bad).unwrap_err(),
                ToolError::InvalidArguments(message.into()),
                "{bad}"
            );
        }
        let unknown = parse(r#"{"query_description": "x", "colour": "red"}"#).unwrap_err();
        assert!(
            unknown
                .message()
                .starts_with("unknown field `colour`, expected one of `query_description`"),
            "{unknown}"
        );
    }

    #[test]
    fn the_schema_is_the_documented_one() {
        let schema = zava_tool::Tool::new("t", |a: Arguments| a.check().map(|_| String::new()))
            .definition()
            .input_schema;
        let schema: Value = zava_tool::serde_json::from_str(&schema).unwrap();
        assert_eq!(
            schema,
            json!({
                "type": "object",
                "properties": {
                    "query_description": { "type": "string", "description": "What the products should be or do, in plain words" },
                    "max_rows": { "type": "integer", "minimum": 1, "maximum": MAX_ROWS, "default": DEFAULT_ROWS },
                    "similarity_threshold": { "type": "number", "minimum": 0, "maximum": 100, "default": DEFAULT_THRESHOLD,
                                              "description": "Lowest similarity percent to return" },
                    "category": { "type": "string", "description": "Only this category, e.g. 'Electrical'" },
                    "min_price": { "type": "number", "minimum": 0 },
                    "max_price": { "type": "number", "minimum": 0 },
                    "in_stock": { "type": "boolean", "default": false,
                                  "description": "Only products in stock at a store you may see (your store for a store manager)" },
                    "mode": { "type": "string", "enum": ["vector", "hybrid"], "default": "vector" }
                },
                "required": ["query_description"],
                "additionalProperties": false
            })
        );
    }
}
