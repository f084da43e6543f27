//! `get_current_utc_date`: the current date and time in UTC.
//!
//! The classic sample's tool, which assistants use to resolve "this month",
//! "last quarter" and the like before writing SQL. It reads the WASI wall
//! clock (the only clock a component has) and needs no other import.

use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

wit_bindgen::generate!({
    path: "../../wit/v0.1",
    world: "tool-component",
});

use exports::zava::mcp::tool::{Guest, ToolDef, ToolError, ToolOutput};

const NAME: &str = "get_current_utc_date";

struct Component;

impl Guest for Component {
    fn list_tools() -> Vec<ToolDef> {
        vec![ToolDef {
            name: NAME.into(),
            title: Some("Current UTC date and time".into()),
            description:
                "Get the current date and time in UTC (ISO 8601). Use it to turn relative \
                          periods such as 'this month', 'last quarter' or 'year to date' into \
                          concrete dates before writing SQL."
                    .into(),
            input_schema:
                json!({ "type": "object", "properties": {}, "additionalProperties": false })
                    .to_string(),
            output_schema: Some(output_schema().to_string()),
            read_only: true,
        }]
    }

    fn call_tool(name: String, arguments: String) -> Result<ToolOutput, ToolError> {
        if name != NAME {
            return Err(ToolError::InvalidArguments(format!(
                "this component has no tool `{name}`"
            )));
        }
        check_no_arguments(&arguments)?;
        let now = OffsetDateTime::now_utc();
        describe(now).map_err(ToolError::Failed)
    }
}

fn output_schema() -> serde_json::Value {
    json!({
        "type": "object",
        "properties": {
            "utc_datetime": { "type": "string", "format": "date-time", "description": "ISO 8601 / RFC 3339, UTC" },
            "date": { "type": "string", "format": "date" },
            "year": { "type": "integer" },
            "month": { "type": "integer", "minimum": 1, "maximum": 12 },
            "day": { "type": "integer", "minimum": 1, "maximum": 31 },
            "weekday": { "type": "string" },
            "unix_seconds": { "type": "integer" }
        },
        "required": ["utc_datetime", "date", "year", "month", "day", "weekday", "unix_seconds"]
    })
}

fn check_no_arguments(arguments: &str) -> Result<(), ToolError> {
    match serde_json::from_str::<serde_json::Value>(arguments) {
        Ok(serde_json::Value::Object(map)) if map.is_empty() => Ok(()),
        Ok(serde_json::Value::Object(map)) => Err(ToolError::InvalidArguments(format!(
            "this tool takes no arguments (got: {})",
            map.keys().cloned().collect::<Vec<_>>().join(", ")
        ))),
        _ => Err(ToolError::InvalidArguments(
            "arguments must be a JSON object".into(),
        )),
    }
}

/// Text and structured output for one instant.
fn describe(now: OffsetDateTime) -> Result<ToolOutput, String> {
    let iso = now
        .format(&Rfc3339)
        .map_err(|e| format!("cannot format the time: {e}"))?;
    let date = now.date();
    let structured = json!({
        "utc_datetime": iso,
        "date": date.to_string(),
        "year": date.year(),
        "month": u8::from(date.month()),
        "day": date.day(),
        "weekday": date.weekday().to_string(),
        "unix_seconds": now.unix_timestamp(),
    });
    Ok(ToolOutput {
        text: iso,
        structured: Some(structured.to_string()),
    })
}

export!(Component);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_an_instant_in_utc() {
        let instant = OffsetDateTime::from_unix_timestamp(1_764_028_800).unwrap(); // 2025-11-25T00:00:00Z
        let output = describe(instant).unwrap();
        assert_eq!(output.text, "2025-11-25T00:00:00Z");
        let value: serde_json::Value = serde_json::from_str(&output.structured.unwrap()).unwrap();
        assert_eq!(value["date"], "2025-11-25");
        assert_eq!(value["weekday"], "Tuesday");
        assert_eq!(value["month"], 11);
    }

    #[test]
    fn refuses_arguments() {
        assert!(check_no_arguments("{}").is_ok());
        assert!(check_no_arguments(r#"{"tz":"PST"}"#).is_err());
        assert!(check_no_arguments("[]").is_err());
    }
}
