//! How a call, and each query in it, ended: one vocabulary for the sandbox,
//! the capabilities, the audit trail, the metrics and the handler. The names
//! (`as_str`) are what dashboards and audit readers match on; they do not
//! change when a variant is renamed in code.

use std::fmt;

use prometheus_client::encoding::{EncodeLabelValue, LabelValueEncoder};
use serde::{Serialize, Serializer};

/// How one tool call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Ok,
    /// The component refused the arguments.
    InvalidArguments,
    /// The component answered with an error of its own.
    ToolError,
    Deadline,
    OutOfMemory,
    Crashed,
    /// No instance slot was free.
    Busy,
    /// The answer broke the host's rules (too large, malformed, missing the
    /// structured output its schema promises).
    BadOutput,
    /// Refused by the caller's limits before any component ran.
    RateLimited,
    /// No loaded component offers the name.
    UnknownTool,
    /// The component has no such prompt or resource.
    NotFound,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::InvalidArguments => "invalid_arguments",
            Self::ToolError => "tool_error",
            Self::Deadline => "deadline",
            Self::OutOfMemory => "out_of_memory",
            Self::Crashed => "crashed",
            Self::Busy => "busy",
            Self::BadOutput => "bad_output",
            Self::RateLimited => "rate_limited",
            Self::UnknownTool => "unknown_tool",
            Self::NotFound => "not_found",
        }
    }
}

/// How one query ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueryOutcome {
    Ok,
    /// The guard or the database's privileges refused it.
    Rejected,
    Timeout,
    Failed,
    /// No database, or it could not be reached.
    Unavailable,
}

impl QueryOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Rejected => "rejected",
            Self::Timeout => "timeout",
            Self::Failed => "failed",
            Self::Unavailable => "unavailable",
        }
    }
}

/// How a component (re)load ended, for `mcp_component_loads_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LoadOutcome {
    Loaded,
    Rejected,
    Removed,
}

impl LoadOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Loaded => "loaded",
            Self::Rejected => "rejected",
            Self::Removed => "removed",
        }
    }
}

/// All serialise, print and label as their stable names.
macro_rules! named {
    ($($ty:ty),*) => {$(
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl EncodeLabelValue for $ty {
            fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> fmt::Result {
                fmt::Write::write_str(encoder, self.as_str())
            }
        }
    )*};
}

named!(Outcome, QueryOutcome, LoadOutcome);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_ones_dashboards_match() {
        assert_eq!(Outcome::OutOfMemory.to_string(), "out_of_memory");
        assert_eq!(
            serde_json::to_string(&QueryOutcome::Unavailable).unwrap(),
            "\"unavailable\""
        );
    }
}
