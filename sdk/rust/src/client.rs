//! The `client` import: notifications to the client that made the current
//! call, while it runs (the host caps how many one call may send; outside a
//! call they do nothing).

use crate::bindings::tool_world::zava::mcp::client as wit;

pub use wit::LogLevel;

/// Sends `notifications/message` at `level`, if the client asked for that
/// level or a lower one.
pub fn log(level: LogLevel, message: &str) {
    wit::log(level, None, message);
}

/// [`log`], naming the source (`logger`).
pub fn log_as(level: LogLevel, logger: &str, message: &str) {
    wit::log(level, Some(logger), message);
}

/// Sends `notifications/progress`, if the client asked for progress.
/// `progress` should rise from one report to the next; `total` when known.
///
/// ```no_run
/// zava_tool::client::progress(3.0, Some(10.0), Some("3 of 10 stores"));
/// ```
pub fn progress(progress: f64, total: Option<f64>, message: Option<&str>) {
    wit::progress(progress, total, message);
}
