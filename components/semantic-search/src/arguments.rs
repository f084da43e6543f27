//! The tool's arguments, checked with messages an assistant can act on.

use serde_json::{Map, Value, json};

use crate::exports::zava::mcp::tool::ToolError;

pub const DEFAULT_ROWS: u32 = 20;
pub const MAX_ROWS: u32 = 100;
pub const DEFAULT_THRESHOLD: f64 = 30.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Vector,
    Hybrid,
}

#[derive(Debug)]
pub struct Arguments {
    pub query: String,
    pub max_rows: u32,
    pub threshold: f64,
    pub category: Option<String>,
    pub min_price: Option<f64>,
    pub max_price: Option<f64>,
    pub in_stock: bool,
    pub mode: Mode,
}

pub fn schema() -> Value {
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
}

fn invalid(message: impl Into<String>) -> ToolError {
    ToolError::InvalidArguments(message.into())
}

fn number(map: &mut Map<String, Value>, key: &str) -> Result<Option<f64>, ToolError> {
    match map.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .filter(|x| x.is_finite() && *x >= 0.0)
            .map(Some)
            .ok_or_else(|| invalid(format!("`{key}` must be a non-negative number"))),
        Some(_) => Err(invalid(format!("`{key}` must be a number"))),
    }
}

pub fn parse(text: &str) -> Result<Arguments, ToolError> {
    let Ok(Value::Object(mut map)) = serde_json::from_str::<Value>(text) else {
        return Err(invalid("arguments must be a JSON object"));
    };
    let query = match map.remove("query_description") {
        Some(Value::String(q)) if !q.trim().is_empty() => q.trim().to_string(),
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
    let max_rows = match number(&mut map, "max_rows")? {
        None => DEFAULT_ROWS,
        Some(n) if n.fract() == 0.0 && (1.0..=MAX_ROWS as f64).contains(&n) => n as u32,
        Some(_) => {
            return Err(invalid(format!(
                "`max_rows` must be an integer from 1 to {MAX_ROWS}"
            )));
        }
    };
    let threshold = match number(&mut map, "similarity_threshold")? {
        None => DEFAULT_THRESHOLD,
        Some(t) if t <= 100.0 => t,
        Some(_) => return Err(invalid("`similarity_threshold` is a percent from 0 to 100")),
    };
    let category = match map.remove("category") {
        None | Some(Value::Null) => None,
        Some(Value::String(c)) if !c.trim().is_empty() => Some(c.trim().to_string()),
        Some(_) => return Err(invalid("`category` must be a category name")),
    };
    let min_price = number(&mut map, "min_price")?;
    let max_price = number(&mut map, "max_price")?;
    if let (Some(lo), Some(hi)) = (min_price, max_price)
        && lo > hi
    {
        return Err(invalid("`min_price` is above `max_price`"));
    }
    let in_stock = match map.remove("in_stock") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => b,
        Some(_) => return Err(invalid("`in_stock` must be true or false")),
    };
    let mode = match map.remove("mode") {
        None | Some(Value::Null) => Mode::Vector,
        Some(Value::String(m)) if m == "vector" => Mode::Vector,
        Some(Value::String(m)) if m == "hybrid" => Mode::Hybrid,
        Some(_) => return Err(invalid("`mode` is 'vector' or 'hybrid'")),
    };
    if let Some(extra) = map.keys().next() {
        return Err(invalid(format!(
            "unknown argument `{extra}` (expected query_description, max_rows, \
             similarity_threshold, category, min_price, max_price, in_stock, mode)"
        )));
    }
    Ok(Arguments {
        query,
        max_rows,
        threshold,
        category,
        min_price,
        max_price,
        in_stock,
        mode,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_classic_sample() {
        let a = parse(r#"{"query_description": "cordless drill"}"#).unwrap();
        assert_eq!(
            (a.max_rows, a.threshold, a.mode, a.in_stock),
            (20, 30.0, Mode::Vector, false)
        );
    }

    #[test]
    fn bad_arguments_say_what_to_fix() {
        for bad in [
            r#"{}"#,
            r#"{"query_description": ""}"#,
            r#"{"query_description": "x", "max_rows": 0}"#,
            r#"{"query_description": "x", "similarity_threshold": 120}"#,
            r#"{"query_description": "x", "min_price": 10, "max_price": 5}"#,
            r#"{"query_description": "x", "mode": "fuzzy"}"#,
            r#"{"query_description": "x", "colour": "red"}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
