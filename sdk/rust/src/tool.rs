//! Tools: a name, a description and a function, declared once.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::bindings::tool_world::exports::zava::mcp::tool as wit;
use crate::{IntoOutput, ToolDef, ToolError, ToolOutput, parse_arguments};

type Handler = Box<dyn Fn(&str) -> Result<ToolOutput, ToolError>>;

/// One tool: its MCP declaration and the function that runs it.
///
/// The input schema comes from the function's argument type, the output
/// schema from its result type (see [`IntoOutput`]); the name routes calls,
/// so it is written once.
///
/// ```
/// use schemars::JsonSchema;
/// use serde::Deserialize;
/// use zava_tool::{Tool, ToolError};
///
/// #[derive(Deserialize, JsonSchema)]
/// #[serde(deny_unknown_fields)]
/// struct Args {
///     /// The text to shout
///     text: String,
/// }
///
/// fn shout(args: Args) -> Result<String, ToolError> {
///     Ok(args.text.to_uppercase())
/// }
///
/// let tool = Tool::new("shout", shout)
///     .title("Shout")
///     .description("Repeats a text in capitals.")
///     .read_only(true);
/// let def = tool.definition();
/// assert_eq!(def.name, "shout");
/// assert!(def.input_schema.contains(r#""required":["text"]"#));
/// assert_eq!(def.output_schema, None);
/// ```
pub struct Tool {
    name: String,
    title: Option<String>,
    description: String,
    read_only: bool,
    app: Option<String>,
    input_schema: fn() -> Value,
    output_schema: fn() -> Option<Value>,
    handler: Handler,
}

impl Tool {
    /// A tool named `name` (1-128 characters of `A-Za-z0-9_-.`, unique in
    /// the host) that calls `run` with its arguments deserialised into `A`
    /// (see [`parse_arguments`]). `A`'s JSON Schema is the input schema; it
    /// must be an object schema: a struct with named fields, or
    /// [`NoArgs`](crate::NoArgs).
    pub fn new<A, O, F>(name: impl Into<String>, run: F) -> Self
    where
        A: DeserializeOwned + JsonSchema,
        O: IntoOutput,
        F: Fn(A) -> Result<O, ToolError> + 'static,
    {
        Self {
            name: name.into(),
            title: None,
            description: String::new(),
            read_only: false,
            app: None,
            input_schema: crate::schema::input_schema::<A>,
            output_schema: O::output_schema,
            handler: Box::new(move |arguments| run(parse_arguments(arguments)?)?.into_output()),
        }
    }

    /// A title for people (MCP `title`).
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// What the tool does and when an assistant should use it.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Whether the tool leaves its environment unchanged (MCP
    /// `readOnlyHint`; default `false`, as in MCP).
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// The `ui://` page of an MCP App that shows this tool's results; the
    /// component serves it from its `resources` (see [`crate::export!`]).
    pub fn app(mut self, uri: impl Into<String>) -> Self {
        self.app = Some(uri.into());
        self
    }

    /// The tool's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The declaration the host receives from `list-tools` (schemas as
    /// JSON text).
    pub fn definition(&self) -> ToolDef {
        ToolDef {
            name: self.name.clone(),
            title: self.title.clone(),
            description: self.description.clone(),
            input_schema: (self.input_schema)().to_string(),
            output_schema: (self.output_schema)().map(|schema| schema.to_string()),
            read_only: self.read_only,
            app: self.app.clone(),
        }
    }

    /// Runs the tool with `arguments` (JSON object text), as `call-tool` does.
    pub fn call(&self, arguments: &str) -> Result<ToolOutput, ToolError> {
        (self.handler)(arguments)
    }
}

impl std::fmt::Debug for Tool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tool")
            .field("name", &self.name)
            .field("title", &self.title)
            .field("read_only", &self.read_only)
            .field("app", &self.app)
            .finish_non_exhaustive()
    }
}

/// What a component offers as tools. Implement it on the type you pass to
/// [`crate::export!`]; the SDK implements the WIT `tool` interface for it.
///
/// A fresh instance serves every request, so `tools()` runs once per
/// request: keep it to declarations (schemas are derived only when listed).
pub trait Tools {
    /// Every tool of the component.
    fn tools() -> Vec<Tool>;
}

/// Runs tool `name` of `T`: what the component's `call-tool` export does.
pub fn call_tool<T: Tools>(name: &str, arguments: &str) -> Result<ToolOutput, ToolError> {
    match T::tools().into_iter().find(|tool| tool.name == name) {
        Some(tool) => tool.call(arguments),
        None => Err(ToolError::InvalidArguments(format!(
            "this component has no tool `{name}`"
        ))),
    }
}

impl<T: Tools + 'static> wit::Guest for T {
    fn list_tools() -> Vec<ToolDef> {
        T::tools().iter().map(Tool::definition).collect()
    }

    fn call_tool(name: String, arguments: String) -> Result<ToolOutput, wit::ToolError> {
        call_tool::<T>(&name, &arguments).map_err(Into::into)
    }
}
