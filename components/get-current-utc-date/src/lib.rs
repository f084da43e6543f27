//! `get_current_utc_date`: the current date and time in UTC.
//!
//! The classic sample's tool, which assistants use to resolve "this month",
//! "last quarter" and the like before writing SQL. It reads the WASI wall
//! clock (the only clock a component has) and needs no other import.

use schemars::JsonSchema;
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use zava_tool::{NoArgs, Structured, Tool, ToolError, Tools};

/// The structured result; the text is `utc_datetime`.
#[derive(Serialize, JsonSchema)]
struct Now {
    /// ISO 8601 / RFC 3339, UTC
    #[schemars(extend("format" = "date-time"))]
    utc_datetime: String,
    #[schemars(extend("format" = "date"))]
    date: String,
    year: i32,
    #[schemars(range(min = 1, max = 12))]
    month: u8,
    #[schemars(range(min = 1, max = 31))]
    day: u8,
    weekday: String,
    unix_seconds: i64,
}

fn now(_: NoArgs) -> Result<Structured<Now>, ToolError> {
    describe(OffsetDateTime::now_utc())
}

/// Text and structured output for one instant.
fn describe(now: OffsetDateTime) -> Result<Structured<Now>, ToolError> {
    let iso = now
        .format(&Rfc3339)
        .map_err(|e| ToolError::failed(format!("cannot format the time: {e}")))?;
    let date = now.date();
    let value = Now {
        utc_datetime: iso.clone(),
        date: date.to_string(),
        year: date.year(),
        month: date.month().into(),
        day: date.day(),
        weekday: date.weekday().to_string(),
        unix_seconds: now.unix_timestamp(),
    };
    Ok(Structured::new(value).with_text(iso))
}

struct Component;

impl Tools for Component {
    fn tools() -> Vec<Tool> {
        vec![
            Tool::new("get_current_utc_date", now)
                .title("Current UTC date and time")
                .description(
                    "Get the current date and time in UTC (ISO 8601). Use it to turn relative \
                     periods such as 'this month', 'last quarter' or 'year to date' into \
                     concrete dates before writing SQL.",
                )
                .read_only(true),
        ]
    }
}

zava_tool::export!(Component);

#[cfg(test)]
mod tests {
    use super::*;
    use zava_tool::IntoOutput;
    use zava_tool::serde_json::{self, Value, json};
    use zava_tool::types::Content;

    #[test]
    fn describes_an_instant_in_utc() {
        let instant = OffsetDateTime::from_unix_timestamp(1_764_028_800).unwrap(); // 2025-11-25T00:00:00Z
        let output = describe(instant).unwrap().into_output().unwrap();
        assert!(matches!(&output.content[..], [Content::Text(t)] if t == "2025-11-25T00:00:00Z"));
        let value: Value = serde_json::from_str(&output.structured.unwrap()).unwrap();
        assert_eq!(value["date"], "2025-11-25");
        assert_eq!(value["weekday"], "Tuesday");
        assert_eq!(value["month"], 11);
    }

    #[test]
    fn refuses_arguments() {
        let tool = &Component::tools()[0];
        let error = tool.call(r#"{"tz":"PST"}"#).unwrap_err();
        assert_eq!(
            error,
            ToolError::InvalidArguments("this tool takes no arguments (got: tz)".into())
        );
    }

    #[test]
    fn schemas_are_the_documented_ones() {
        let def = Component::tools()[0].definition();
        let input: Value = serde_json::from_str(&def.input_schema).unwrap();
        assert_eq!(
            input,
            json!({ "type": "object", "properties": {}, "additionalProperties": false })
        );
        let output: Value = serde_json::from_str(&def.output_schema.unwrap()).unwrap();
        assert_eq!(
            output,
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
        );
    }
}
