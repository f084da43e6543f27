//! Tool arguments: the JSON object the client sent, into the tool's type.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, DeserializeOwned, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ToolError;

/// Reads a tool's arguments (the JSON object text the host passes to
/// `call-tool`) into `A`, as every [`Tool`](crate::Tool) does before calling
/// its function. Public so that a component can test its argument type.
///
/// The arguments must be a JSON object (the host always sends one). Before
/// deserialising, two things assistants commonly do are accepted:
///
/// - a top-level argument that is `null` counts as absent (so an optional
///   argument or one with a `#[serde(default)]` takes its default);
/// - a number with no fractional part (`20.0`) is an integer, as in JSON
///   Schema, so it fits an integer field.
///
/// A mismatch is [`ToolError::InvalidArguments`] with serde's message,
/// prefixed with the path of the argument it concerns when that is not the
/// whole object: `` `max_rows`: invalid type: string "ten", expected u32 ``,
/// ``unknown field `colour`, expected `query` or `limit` ``,
/// ``missing field `query` ``.
pub fn parse_arguments<A: DeserializeOwned>(arguments: &str) -> Result<A, ToolError> {
    let mut value: Value = serde_json::from_str(arguments)
        .map_err(|e| ToolError::InvalidArguments(format!("the arguments are not JSON: {e}")))?;
    let Value::Object(map) = &mut value else {
        return Err(ToolError::InvalidArguments(
            "arguments must be a JSON object".into(),
        ));
    };
    map.retain(|_, v| !v.is_null());
    integral_numbers(&mut value);
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = format!("`{}`", error.path());
        let message = error.into_inner().to_string();
        // The root needs no path, nor a message that names it already
        // (serde's "unknown field `colour`").
        ToolError::InvalidArguments(if path == "`.`" || message.contains(&path) {
            message
        } else {
            format!("{path}: {message}")
        })
    })
}

/// `20.0` -> `20` (exactly representable integers only).
fn integral_numbers(value: &mut Value) {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    match value {
        Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f.abs() <= EXACT
            {
                *value = if f < 0.0 {
                    Value::from(f as i64)
                } else {
                    Value::from(f as u64)
                };
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_numbers),
        Value::Object(map) => map.values_mut().for_each(integral_numbers),
        _ => {}
    }
}

/// The arguments of a tool that takes none: schema
/// `{"type":"object","properties":{},"additionalProperties":false}`, and any
/// argument is refused with "this tool takes no arguments (got: a, b)".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct NoArgs {}

impl<'de> Deserialize<'de> for NoArgs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Empty;
        impl<'de> Visitor<'de> for Empty {
            type Value = NoArgs;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("no arguments (an empty JSON object)")
            }

            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<NoArgs, M::Error> {
                let mut names = Vec::new();
                while let Some(name) = map.next_key::<String>()? {
                    map.next_value::<IgnoredAny>()?;
                    names.push(name);
                }
                if names.is_empty() {
                    Ok(NoArgs {})
                } else {
                    Err(de::Error::custom(format!(
                        "this tool takes no arguments (got: {})",
                        names.join(", ")
                    )))
                }
            }
        }
        deserializer.deserialize_map(Empty)
    }
}

impl JsonSchema for NoArgs {
    fn schema_name() -> Cow<'static, str> {
        "NoArgs".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "object", "properties": {}, "additionalProperties": false })
    }
}
