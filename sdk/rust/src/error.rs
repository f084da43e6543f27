//! Tool errors: what the assistant is told when a call does not succeed.

use std::fmt;

use crate::bindings::tool_world::exports::zava::mcp::tool as wit;

/// Why a tool call did not succeed.
///
/// - [`ToolError::InvalidArguments`]: the arguments do not fit; the message
///   says how to fix them (the assistant usually retries). The SDK returns it
///   for arguments that do not deserialise into the tool's argument type,
///   with serde's message.
/// - [`ToolError::Failed`]: the tool ran and failed; the client gets a tool
///   result with `isError: true` and this message.
///
/// `?` turns any [`std::error::Error`] into `Failed` with its message (and
/// its sources'), like `anyhow`; for other errors (a `String`, an
/// `anyhow::Error`) use [`ToolError::failed`] or [`Context::context`].
/// `ToolError` itself does not implement `std::error::Error`, which is what
/// makes that blanket conversion possible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolError {
    /// The arguments do not fit the tool; the message says how to fix them.
    InvalidArguments(String),
    /// The tool ran and failed; the message says what happened.
    Failed(String),
}

impl ToolError {
    /// Arguments that do not fit, e.g. a value out of range.
    pub fn invalid_arguments(message: impl fmt::Display) -> Self {
        Self::InvalidArguments(message.to_string())
    }

    /// A failure while running, e.g. a database error.
    pub fn failed(message: impl fmt::Display) -> Self {
        Self::Failed(message.to_string())
    }

    /// The message, whichever the kind.
    pub fn message(&self) -> &str {
        match self {
            Self::InvalidArguments(message) | Self::Failed(message) => message,
        }
    }
}

impl fmt::Display for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidArguments(message) => write!(f, "invalid arguments: {message}"),
            Self::Failed(message) => f.write_str(message),
        }
    }
}

impl<E: std::error::Error> From<E> for ToolError {
    fn from(error: E) -> Self {
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            let cause_text = cause.to_string();
            if !message.contains(&cause_text) {
                message.push_str(": ");
                message.push_str(&cause_text);
            }
            source = cause.source();
        }
        Self::Failed(message)
    }
}

impl From<ToolError> for wit::ToolError {
    fn from(error: ToolError) -> Self {
        match error {
            ToolError::InvalidArguments(message) => Self::InvalidArguments(message),
            ToolError::Failed(message) => Self::Failed(message),
        }
    }
}

/// `anyhow`-style context: turns an error (anything that displays) or a
/// `None` into [`ToolError::Failed`] with a message saying what was being
/// done.
///
/// ```
/// use zava_tool::{Context, ToolError};
///
/// fn port(text: &str) -> Result<u16, ToolError> {
///     text.parse::<u16>().context("cannot read the port")
/// }
/// assert_eq!(
///     port("x").unwrap_err(),
///     ToolError::Failed("cannot read the port: invalid digit found in string".into())
/// );
/// ```
pub trait Context<T> {
    /// `Failed("{what}: {error}")` for an error, `Failed("{what}")` for `None`.
    fn context(self, what: impl fmt::Display) -> Result<T, ToolError>;
}

impl<T, E: fmt::Display> Context<T> for Result<T, E> {
    fn context(self, what: impl fmt::Display) -> Result<T, ToolError> {
        self.map_err(|error| ToolError::Failed(format!("{what}: {error}")))
    }
}

impl<T> Context<T> for Option<T> {
    fn context(self, what: impl fmt::Display) -> Result<T, ToolError> {
        self.ok_or_else(|| ToolError::Failed(what.to_string()))
    }
}
