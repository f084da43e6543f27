//! The SDK natively: schema derivation, argument parsing and its error
//! messages, dispatch, outputs and errors. (Imports are not called here:
//! natively they are stubs.)

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use zava_tool::types::{Content, SqlValue};
use zava_tool::{
    Context, IntoOutput, NoArgs, Structured, Tool, ToolError, Tools, call_tool, db, parse_arguments,
};

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Order {
    #[default]
    Ascending,
    Descending,
}

#[derive(Debug, PartialEq, Deserialize, JsonSchema)]
struct Window {
    /// First day, YYYY-MM-DD
    from: String,
    days: u16,
}

/// Developer documentation: not for the assistant.
#[derive(Debug, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Args {
    /// What to look for
    query: String,
    /// Most rows to return
    #[serde(default = "twenty")]
    #[schemars(range(min = 1, max = 100))]
    limit: u32,
    /// Only this category
    category: Option<String>,
    #[schemars(range(min = 0))]
    min_price: Option<f64>,
    #[serde(default)]
    order: Order,
    #[serde(default)]
    tags: Vec<String>,
    window: Option<Window>,
}

fn twenty() -> u32 {
    20
}

fn input_schema_of<A: serde::de::DeserializeOwned + JsonSchema>() -> Value {
    let def = Tool::new("t", |_: A| Ok(String::new())).definition();
    serde_json::from_str(&def.input_schema).unwrap()
}

#[test]
fn input_schemas_are_plain_inlined_object_schemas() {
    assert_eq!(
        input_schema_of::<Args>(),
        json!({
            "type": "object",
            "properties": {
                "query": { "type": "string", "description": "What to look for" },
                "limit": { "type": "integer", "minimum": 1, "maximum": 100, "default": 20,
                           "description": "Most rows to return" },
                "category": { "type": "string", "description": "Only this category" },
                "min_price": { "type": "number", "minimum": 0 },
                "order": { "type": "string", "enum": ["ascending", "descending"], "default": "ascending" },
                "tags": { "type": "array", "items": { "type": "string" }, "default": [] },
                "window": {
                    "type": "object",
                    "properties": {
                        "from": { "type": "string", "description": "First day, YYYY-MM-DD" },
                        "days": { "type": "integer", "minimum": 0, "maximum": 65535 }
                    },
                    "required": ["from", "days"]
                }
            },
            "required": ["query"],
            "additionalProperties": false
        })
    );
}

#[test]
fn no_args_declares_an_empty_object() {
    assert_eq!(
        input_schema_of::<NoArgs>(),
        json!({ "type": "object", "properties": {}, "additionalProperties": false })
    );
}

#[test]
fn a_required_option_is_required_and_not_nullable() {
    #[derive(Deserialize, JsonSchema)]
    struct Checked {
        /// Checked by the tool, so that its message is the tool's
        #[schemars(required)]
        name: Option<String>,
    }
    assert_eq!(
        input_schema_of::<Checked>(),
        json!({
            "type": "object",
            "properties": { "name": { "type": "string", "description": "Checked by the tool, so that its message is the tool's" } },
            "required": ["name"]
        })
    );
    let parsed: Checked = parse_arguments("{}").unwrap();
    assert_eq!(parsed.name, None);
}

#[test]
fn recursive_types_keep_their_definitions() {
    #[derive(Deserialize, JsonSchema)]
    #[allow(dead_code)]
    struct Node {
        name: String,
        children: Vec<Node>,
    }
    #[derive(Deserialize, JsonSchema)]
    #[allow(dead_code)]
    struct Tree {
        root: Node,
    }
    let schema = input_schema_of::<Tree>();
    assert_eq!(schema["type"], "object");
    assert_eq!(schema["properties"]["root"]["type"], "object");
    assert_eq!(
        schema["properties"]["root"]["properties"]["children"]["items"]["$ref"],
        "#/$defs/Node"
    );
    assert!(schema["$defs"]["Node"].is_object(), "{schema}");
}

#[derive(Serialize, JsonSchema)]
struct Report {
    /// When it was made
    #[schemars(extend("format" = "date-time"))]
    at: String,
    count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    by_store: BTreeMap<String, f64>,
}

fn report() -> Report {
    Report {
        at: "2025-11-25T00:00:00Z".into(),
        count: 3,
        note: None,
        by_store: BTreeMap::from([("Seattle".into(), 1.5)]),
    }
}

#[test]
fn output_schemas_describe_how_results_serialise() {
    let def = Tool::new("r", |_: NoArgs| Ok(Structured::new(report()))).definition();
    let output: Value = serde_json::from_str(def.output_schema.as_deref().unwrap()).unwrap();
    assert_eq!(
        output,
        json!({
            "type": "object",
            "properties": {
                "at": { "type": "string", "format": "date-time", "description": "When it was made" },
                "count": { "type": "integer", "minimum": 0 },
                "note": { "type": ["string", "null"] },
                "by_store": { "type": "object", "additionalProperties": { "type": "number" } }
            },
            "required": ["at", "count", "by_store"]
        })
    );
    // A text result declares none.
    let def = Tool::new("s", |_: NoArgs| Ok("done")).definition();
    assert_eq!(def.output_schema, None);
}

#[test]
fn arguments_deserialise_with_defaults() {
    let args: Args = parse_arguments(r#"{"query": "drill"}"#).unwrap();
    assert_eq!(
        args,
        Args {
            query: "drill".into(),
            limit: 20,
            category: None,
            min_price: None,
            order: Order::Ascending,
            tags: vec![],
            window: None,
        }
    );
}

#[test]
fn null_is_absent_and_whole_floats_are_integers() {
    let args: Args = parse_arguments(
        r#"{"query": "drill", "limit": 5.0, "category": null, "order": null, "window": {"from": "2025-01-01", "days": 7.0}}"#,
    )
    .unwrap();
    assert_eq!(args.limit, 5);
    assert_eq!(args.category, None);
    assert_eq!(args.order, Order::Ascending);
    assert_eq!(args.window.unwrap().days, 7);
    // A float argument still takes an integer, and a fraction stays one.
    let args: Args = parse_arguments(r#"{"query": "x", "min_price": 10}"#).unwrap();
    assert_eq!(args.min_price, Some(10.0));
    assert_eq!(
        parse_arguments::<Args>(r#"{"query": "x", "limit": 2.5}"#).unwrap_err(),
        ToolError::InvalidArguments(
            "`limit`: invalid type: floating point `2.5`, expected u32".into()
        )
    );
}

#[test]
fn argument_errors_are_invalid_arguments_with_serdes_message_and_the_path() {
    let cases = [
        (r#"{}"#, "missing field `query`"),
        (r#"{"query": null}"#, "missing field `query`"),
        (
            r#"{"query": "x", "colour": "red"}"#,
            "unknown field `colour`, expected one of `query`, `limit`, `category`, `min_price`, `order`, `tags`, `window`",
        ),
        (
            r#"{"query": "x", "limit": "ten"}"#,
            "`limit`: invalid type: string \"ten\", expected u32",
        ),
        (
            r#"{"query": "x", "limit": -1}"#,
            "`limit`: invalid value: integer `-1`, expected u32",
        ),
        (
            r#"{"query": "x", "order": "random"}"#,
            "`order`: unknown variant `random`, expected `ascending` or `descending`",
        ),
        (
            r#"{"query": "x", "tags": ["a", 2]}"#,
            "`tags[1]`: invalid type: integer `2`, expected a string",
        ),
        (
            r#"{"query": "x", "window": {"from": "2025-01-01"}}"#,
            "`window`: missing field `days`",
        ),
        (
            r#"{"query": "x", "window": {"from": 1, "days": 2}}"#,
            "`window.from`: invalid type: integer `1`, expected a string",
        ),
        (r#"[1, 2]"#, "arguments must be a JSON object"),
    ];
    for (arguments, message) in cases {
        assert_eq!(
            parse_arguments::<Args>(arguments).unwrap_err(),
            ToolError::InvalidArguments(message.into()),
            "{arguments}"
        );
    }
    let not_json = parse_arguments::<Args>("{oops").unwrap_err();
    assert!(
        matches!(&not_json, ToolError::InvalidArguments(m) if m.starts_with("the arguments are not JSON: ")),
        "{not_json:?}"
    );
}

#[test]
fn no_args_refuses_every_argument_by_name() {
    assert_eq!(parse_arguments::<NoArgs>("{}").unwrap(), NoArgs {});
    // (null counts as absent)
    assert_eq!(
        parse_arguments::<NoArgs>(r#"{"tz": null}"#).unwrap(),
        NoArgs {}
    );
    assert_eq!(
        parse_arguments::<NoArgs>(r#"{"tz": "PST", "at": 1}"#).unwrap_err(),
        ToolError::InvalidArguments("this tool takes no arguments (got: at, tz)".into())
    );
}

// ---- tools, dispatch and outputs ----------------------------------------

fn echo(args: Args) -> Result<Structured<Report>, ToolError> {
    if args.query.trim().is_empty() {
        return Err(ToolError::invalid_arguments("`query` is empty"));
    }
    Ok(Structured::new(report()).with_text(format!("report for {}", args.query)))
}

fn broken(_: NoArgs) -> Result<String, ToolError> {
    let number: u32 = "many".parse()?;
    Ok(number.to_string())
}

fn picture(_: NoArgs) -> Result<Vec<Content>, ToolError> {
    Ok(vec![Content::Text("a picture".into())])
}

struct Component;

impl Tools for Component {
    fn tools() -> Vec<Tool> {
        vec![
            Tool::new("echo", echo)
                .title("Echo")
                .description("Says what it got.")
                .read_only(true)
                .app("ui://test/view.html"),
            Tool::new("broken", broken).description("Always fails."),
            Tool::new("picture", picture).description("Content blocks."),
        ]
    }
}

#[test]
fn declarations_come_from_the_descriptor() {
    let defs: Vec<_> = Component::tools().iter().map(Tool::definition).collect();
    assert_eq!(
        defs.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(),
        ["echo", "broken", "picture"]
    );
    let echo = &defs[0];
    assert_eq!(echo.title.as_deref(), Some("Echo"));
    assert_eq!(echo.description, "Says what it got.");
    assert!(echo.read_only);
    assert_eq!(echo.app.as_deref(), Some("ui://test/view.html"));
    assert!(echo.output_schema.is_some());
    // MCP's default: not read-only unless said.
    assert!(!defs[1].read_only);
    assert_eq!(defs[1].title, None);
    for def in &defs {
        let input: Value = serde_json::from_str(&def.input_schema).unwrap();
        assert_eq!(input["type"], "object", "{}", def.name);
    }
}

#[test]
fn calls_are_routed_by_name_and_results_are_content_plus_structured() {
    let output = call_tool::<Component>("echo", r#"{"query": "drill"}"#).unwrap();
    assert!(matches!(&output.content[..], [Content::Text(t)] if t == "report for drill"));
    let structured: Value = serde_json::from_str(&output.structured.unwrap()).unwrap();
    assert_eq!(
        structured,
        json!({ "at": "2025-11-25T00:00:00Z", "count": 3, "by_store": { "Seattle": 1.5 } })
    );

    let output = call_tool::<Component>("picture", "{}").unwrap();
    assert!(matches!(&output.content[..], [Content::Text(t)] if t == "a picture"));
    assert_eq!(output.structured, None);

    assert_eq!(
        call_tool::<Component>("nope", "{}").unwrap_err(),
        ToolError::InvalidArguments("this component has no tool `nope`".into())
    );
    assert_eq!(
        call_tool::<Component>("echo", r#"{"query": " "}"#).unwrap_err(),
        ToolError::InvalidArguments("`query` is empty".into())
    );
    assert_eq!(
        call_tool::<Component>("echo", r#"{"query": 1}"#).unwrap_err(),
        ToolError::InvalidArguments("`query`: invalid type: integer `1`, expected a string".into())
    );
}

#[test]
fn errors_from_question_mark_and_context_are_failures() {
    assert_eq!(
        call_tool::<Component>("broken", "{}").unwrap_err(),
        ToolError::Failed("invalid digit found in string".into())
    );
    let none: Option<u8> = None;
    assert_eq!(
        none.context("no such store"),
        Err(ToolError::Failed("no such store".into()))
    );
    let text: Result<u8, String> = Err("quota exceeded".into());
    assert_eq!(
        text.context("cannot embed the request"),
        Err(ToolError::Failed(
            "cannot embed the request: quota exceeded".into()
        ))
    );
    // `?` on a database error: its message, as a failure.
    let error: ToolError = db::Error::Failed("column \"x\" does not exist".into()).into();
    assert_eq!(
        error,
        ToolError::Failed("PostgreSQL reported an error: column \"x\" does not exist".into())
    );
    assert_eq!(
        ToolError::invalid_arguments("bad").to_string(),
        "invalid arguments: bad"
    );
}

#[test]
fn structured_output_defaults_to_its_json_and_keeps_extra_blocks() {
    let output = Structured::new(json!({"a": 1}))
        .with_content(Content::Text("more".into()))
        .into_output()
        .unwrap();
    assert_eq!(output.structured.as_deref(), Some(r#"{"a":1}"#));
    assert!(matches!(&output.content[..],
        [Content::Text(json), Content::Text(more)] if json == r#"{"a":1}"# && more == "more"));
}

#[test]
fn sql_values_convert_both_ways() {
    let params: Vec<SqlValue> = vec![
        42.into(),
        7u32.into(),
        1.5.into(),
        true.into(),
        "text".into(),
        None::<String>.into(),
        Some("x").into(),
        vec![0.5f32].into(),
    ];
    assert!(matches!(params[0], SqlValue::Int(42)));
    assert!(matches!(params[1], SqlValue::Int(7)));
    assert!(matches!(params[5], SqlValue::Null));
    assert!(matches!(&params[6], SqlValue::Text(t) if t == "x"));
    assert_eq!(SqlValue::Numeric("1.50".into()).to_json(), json!("1.50"));
    assert_eq!(
        SqlValue::Json(r#"{"a":[1]}"#.into()).to_json(),
        json!({"a": [1]})
    );
    assert_eq!(SqlValue::Float(f64::NAN).to_json(), json!("NaN"));
    assert_eq!(
        db::Error::Timeout.to_string(),
        "the query ran longer than the server allows and was cancelled; narrow it and retry"
    );
}
