//! What a tool function returns, and the output schema that goes with it.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::types::Content;
use crate::{ToolError, ToolOutput};

/// A tool function's successful result: its content blocks, and whether it
/// carries structured content (then its type gives the output schema).
///
/// Implemented for:
///
/// - [`Structured<T>`] (`T: Serialize + JsonSchema`): `structuredContent`
///   and an output schema derived from `T`, plus a text rendering;
/// - `String` and `&'static str`: one text block, no output schema;
/// - [`Content`] and `Vec<Content>`: those blocks (an image, an embedded
///   resource, ...), no output schema;
/// - [`ToolOutput`]: as it is (no output schema).
pub trait IntoOutput {
    /// The JSON Schema of the structured content, if the result has any.
    fn output_schema() -> Option<Value> {
        None
    }

    /// The result as the WIT `tool-output`.
    fn into_output(self) -> Result<ToolOutput, ToolError>;
}

impl IntoOutput for ToolOutput {
    fn into_output(self) -> Result<ToolOutput, ToolError> {
        Ok(self)
    }
}

impl IntoOutput for String {
    fn into_output(self) -> Result<ToolOutput, ToolError> {
        Ok(ToolOutput {
            content: vec![Content::Text(self)],
            structured: None,
        })
    }
}

impl IntoOutput for &'static str {
    fn into_output(self) -> Result<ToolOutput, ToolError> {
        self.to_string().into_output()
    }
}

impl IntoOutput for Content {
    fn into_output(self) -> Result<ToolOutput, ToolError> {
        vec![self].into_output()
    }
}

impl IntoOutput for Vec<Content> {
    fn into_output(self) -> Result<ToolOutput, ToolError> {
        Ok(ToolOutput {
            content: self,
            structured: None,
        })
    }
}

/// Structured output: `value` becomes the result's `structuredContent`, and
/// `T`'s JSON Schema (how it serialises) the tool's output schema, which must
/// be an object schema (a struct, or a map).
///
/// The content is one text block: the value as compact JSON (what MCP
/// suggests for clients that do not read `structuredContent`), or the
/// rendering given with [`with_text`](Self::with_text); then any blocks
/// added with [`with_content`](Self::with_content).
#[derive(Debug, Clone)]
pub struct Structured<T> {
    value: T,
    text: Option<String>,
    more: Vec<Content>,
}

impl<T> Structured<T> {
    /// `value`, with its JSON as the text.
    pub fn new(value: T) -> Self {
        Self {
            value,
            text: None,
            more: Vec::new(),
        }
    }

    /// Shows `text` instead of the JSON (e.g. a sentence or a short list
    /// an assistant can quote).
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    /// Adds a content block after the text (an image, a resource link, ...).
    pub fn with_content(mut self, block: Content) -> Self {
        self.more.push(block);
        self
    }

    /// The structured value.
    pub fn value(&self) -> &T {
        &self.value
    }

    /// The text block's content, if set with [`with_text`](Self::with_text).
    pub fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }
}

impl<T: Serialize + JsonSchema> IntoOutput for Structured<T> {
    fn output_schema() -> Option<Value> {
        Some(crate::schema::output_schema::<T>())
    }

    fn into_output(self) -> Result<ToolOutput, ToolError> {
        let json = serde_json::to_string(&self.value)
            .map_err(|e| ToolError::Failed(format!("cannot serialise the tool's result: {e}")))?;
        let text = self.text.unwrap_or_else(|| json.clone());
        let mut content = Vec::with_capacity(1 + self.more.len());
        content.push(Content::Text(text));
        content.extend(self.more);
        Ok(ToolOutput {
            content,
            structured: Some(json),
        })
    }
}
