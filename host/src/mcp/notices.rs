//! Delivers what a component sends its caller during a call (`client`
//! import) to that request's peer: `notifications/message` at the level the
//! client asked for, `notifications/progress` under the request's progress
//! token. rmcp puts them on the caller's own streams (the POST's SSE in
//! 2026-07-28, and in a session the POST's stream for progress and the
//! session's GET stream for log lines), never on another session's.
//!
//! rmcp marks MCP logging deprecated (SEP-2577, for a future revision);
//! every revision we serve still has it, hence the `allow` below.
#![allow(deprecated)]

use std::time::Duration;

use rmcp::model::{
    LoggingLevel, LoggingMessageNotificationParam, ProgressNotificationParam, ProgressToken,
};
use rmcp::service::RequestContext;
use rmcp::{Peer, RoleServer};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::capabilities::client::{ClientChannel, Notice, Severity};

/// The level a session's log lines are sent at until it says
/// (`logging/setLevel`). A 2026-07-28 request that names no level gets no
/// log lines at all: that revision says so.
pub const DEFAULT_LEVEL: Severity = Severity::Info;
/// How long an answer waits for its notifications to be handed to rmcp.
const DRAIN: Duration = Duration::from_secs(5);

pub fn severity(level: LoggingLevel) -> Severity {
    match level {
        LoggingLevel::Debug => Severity::Debug,
        LoggingLevel::Info => Severity::Info,
        LoggingLevel::Notice => Severity::Notice,
        LoggingLevel::Warning => Severity::Warning,
        LoggingLevel::Error => Severity::Error,
        LoggingLevel::Critical => Severity::Critical,
        LoggingLevel::Alert => Severity::Alert,
        LoggingLevel::Emergency => Severity::Emergency,
    }
}

fn logging_level(severity: Severity) -> LoggingLevel {
    match severity {
        Severity::Debug => LoggingLevel::Debug,
        Severity::Info => LoggingLevel::Info,
        Severity::Notice => LoggingLevel::Notice,
        Severity::Warning => LoggingLevel::Warning,
        Severity::Error => LoggingLevel::Error,
        Severity::Critical => LoggingLevel::Critical,
        Severity::Alert => LoggingLevel::Alert,
        Severity::Emergency => LoggingLevel::Emergency,
    }
}

/// Forwards one call's notices until the call ends.
pub struct Forwarder {
    task: JoinHandle<()>,
}

/// Opens the channel for one request: log lines at `min_level` and up,
/// progress if the request carries a token.
pub fn open(
    context: &RequestContext<RoleServer>,
    min_level: Option<Severity>,
) -> (ClientChannel, Forwarder) {
    let token = context.meta.get_progress_token();
    let (channel, receiver) = ClientChannel::open(min_level, token.is_some());
    let task = tokio::spawn(forward(receiver, context.peer.clone(), token));
    (channel, Forwarder { task })
}

impl Forwarder {
    /// Waits (bounded) until every notice of the call is handed over, so
    /// they precede the answer on the stream. Call it after the call's
    /// channel (and the instance holding a copy) is dropped.
    pub async fn finish(self) {
        let abort = self.task.abort_handle();
        if tokio::time::timeout(DRAIN, self.task).await.is_err() {
            abort.abort();
            tracing::debug!("a client did not take its notifications in time");
        }
    }
}

async fn forward(
    mut receiver: mpsc::Receiver<Notice>,
    peer: Peer<RoleServer>,
    token: Option<ProgressToken>,
) {
    while let Some(notice) = receiver.recv().await {
        let sent = match notice {
            Notice::Log {
                level,
                logger,
                message,
            } => {
                let mut param = LoggingMessageNotificationParam::new(
                    logging_level(level),
                    serde_json::Value::String(message),
                );
                if let Some(logger) = logger {
                    param = param.with_logger(logger);
                }
                peer.notify_logging_message(param).await
            }
            Notice::Progress {
                progress,
                total,
                message,
            } => {
                let Some(token) = &token else { continue };
                let mut param = ProgressNotificationParam::new(token.clone(), progress);
                if let Some(total) = total {
                    param = param.with_total(total);
                }
                if let Some(message) = message {
                    param = param.with_message(message);
                }
                peer.notify_progress(param).await
            }
        };
        if sent.is_err() {
            // The client went away: drain silently so the component does
            // not wait on a full channel.
            while receiver.recv().await.is_some() {}
            return;
        }
    }
}
