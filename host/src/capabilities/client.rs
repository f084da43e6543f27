//! `zava:mcp/client`: log lines and progress a component sends to the
//! client that made the call, while it runs.
//!
//! The component never holds the client: the MCP handler opens a
//! [`ClientChannel`] for the call (with the level the client asked for and
//! whether it sent a progress token), the import puts [`Notice`]s on it, and
//! the handler forwards them to that request's peer (the caller's own
//! session or POST stream, never another's) before it answers. The channel
//! is bounded (a component that floods waits) and each call has a budget of
//! notices; what is over the budget is dropped and counted.

use tokio::sync::mpsc;
use wasmtime::component::{HasData, Linker};

use super::caller::truncate;
use super::{CallContext, CallStats, Capability, HostState};
use crate::bindings::zava::mcp::client::{self, LogLevel};

/// Most notices one call may send (logs and progress together).
pub const MAX_NOTICES_PER_CALL: u32 = 256;
/// Longest log message or progress message forwarded, in bytes.
pub const MAX_NOTICE_TEXT: usize = 4096;
/// Notices in flight between the component and the forwarder.
pub const CHANNEL_CAPACITY: usize = 16;

/// MCP logging levels (RFC 5424 severities), lowest first, so that they
/// compare as the spec orders them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Debug,
    Info,
    Notice,
    Warning,
    Error,
    Critical,
    Alert,
    Emergency,
}

impl From<LogLevel> for Severity {
    fn from(level: LogLevel) -> Self {
        match level {
            LogLevel::Debug => Self::Debug,
            LogLevel::Info => Self::Info,
            LogLevel::Notice => Self::Notice,
            LogLevel::Warning => Self::Warning,
            LogLevel::Error => Self::Error,
            LogLevel::Critical => Self::Critical,
            LogLevel::Alert => Self::Alert,
            LogLevel::Emergency => Self::Emergency,
        }
    }
}

/// One notification for the calling client.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    Log {
        level: Severity,
        logger: Option<String>,
        message: String,
    },
    Progress {
        progress: f64,
        total: Option<f64>,
        message: Option<String>,
    },
}

/// Where one call's notices go, and which the client wants.
#[derive(Debug, Clone)]
pub struct ClientChannel {
    pub sender: mpsc::Sender<Notice>,
    /// Log lines below this level are not sent; none at all when `None`
    /// (a 2026-07-28 request that asked for no log level).
    pub min_level: Option<Severity>,
    /// Whether the client asked for progress (sent a progress token).
    pub progress: bool,
}

impl ClientChannel {
    /// A channel for one call and the receiver the handler forwards from.
    pub fn open(min_level: Option<Severity>, progress: bool) -> (Self, mpsc::Receiver<Notice>) {
        let (sender, receiver) = mpsc::channel(CHANNEL_CAPACITY);
        (
            Self {
                sender,
                min_level,
                progress,
            },
            receiver,
        )
    }
}

/// The capability: every component has it (it reaches only its own caller);
/// it needs no service.
#[derive(Default)]
pub struct Client;

impl Capability for Client {
    const IMPORT: Option<&'static str> = None;
    type Ctx = ClientCtx;

    fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
        client::add_to_linker::<HostState, ClientImport>(linker, |state| &mut state.caps.client)
    }

    fn prepare(&self, call: &CallContext<'_>) -> ClientCtx {
        ClientCtx {
            channel: call.client.cloned(),
            sent: 0,
            dropped: 0,
        }
    }

    fn report(ctx: &mut ClientCtx, stats: &mut CallStats) {
        stats.notices = ctx.sent;
        stats.notices_dropped = ctx.dropped;
    }
}

/// Per-call state: the channel (none while listing) and what went through.
pub struct ClientCtx {
    channel: Option<ClientChannel>,
    sent: u32,
    dropped: u32,
}

impl ClientCtx {
    /// Sends `notice` within the call's budget; a client that went away
    /// just stops receiving.
    async fn send(&mut self, notice: Notice) {
        let Some(channel) = &self.channel else { return };
        if self.sent >= MAX_NOTICES_PER_CALL {
            self.dropped += 1;
            return;
        }
        self.sent += 1;
        if channel.sender.send(notice).await.is_err() {
            self.channel = None;
        }
    }
}

struct ClientImport;
impl HasData for ClientImport {
    type Data<'a> = &'a mut ClientCtx;
}

impl client::Host for ClientCtx {
    async fn log(&mut self, level: LogLevel, logger: Option<String>, message: String) {
        let level = Severity::from(level);
        if self
            .channel
            .as_ref()
            .is_none_or(|c| c.min_level.is_none_or(|min| level < min))
        {
            return;
        }
        self.send(Notice::Log {
            level,
            logger: logger.map(|l| truncate(&l, 128).to_string()),
            message: truncate(&message, MAX_NOTICE_TEXT).to_string(),
        })
        .await
    }

    async fn progress(&mut self, progress: f64, total: Option<f64>, message: Option<String>) {
        if !self.channel.as_ref().is_some_and(|c| c.progress) {
            return;
        }
        // JSON has no NaN or infinity: such a report could not be sent.
        if !progress.is_finite() || total.is_some_and(|t| !t.is_finite()) {
            self.dropped += 1;
            return;
        }
        self.send(Notice::Progress {
            progress,
            total,
            message: message.map(|m| truncate(&m, MAX_NOTICE_TEXT).to_string()),
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::zava::mcp::client::Host as _;

    fn ctx(min_level: Option<Severity>, progress: bool) -> (ClientCtx, mpsc::Receiver<Notice>) {
        let (channel, receiver) = ClientChannel::open(min_level, progress);
        (
            ClientCtx {
                channel: Some(channel),
                sent: 0,
                dropped: 0,
            },
            receiver,
        )
    }

    #[tokio::test]
    async fn logs_below_the_clients_level_are_not_sent() {
        let (mut ctx, mut rx) = ctx(Some(Severity::Warning), false);
        ctx.log(LogLevel::Info, None, "quiet".into()).await;
        ctx.log(LogLevel::Error, Some("db".into()), "loud".into())
            .await;
        drop(ctx);
        assert_eq!(
            rx.recv().await,
            Some(Notice::Log {
                level: Severity::Error,
                logger: Some("db".into()),
                message: "loud".into()
            })
        );
        assert_eq!(rx.recv().await, None);
    }

    #[tokio::test]
    async fn no_level_no_logs() {
        let (mut ctx, mut rx) = ctx(None, false);
        ctx.log(LogLevel::Emergency, None, "unasked".into()).await;
        drop(ctx);
        assert_eq!(rx.recv().await, None);
    }

    #[tokio::test]
    async fn progress_only_when_asked_and_finite() {
        let (mut quiet, mut rx) = ctx(Some(Severity::Info), false);
        quiet.progress(1.0, None, None).await;
        drop(quiet);
        assert_eq!(rx.recv().await, None);

        let (mut asked, mut rx) = ctx(Some(Severity::Info), true);
        asked.progress(f64::NAN, None, None).await;
        asked.progress(50.0, Some(100.0), Some("half".into())).await;
        assert_eq!(asked.dropped, 1);
        drop(asked);
        assert!(
            matches!(rx.recv().await, Some(Notice::Progress { progress, .. }) if progress == 50.0)
        );
    }

    #[tokio::test]
    async fn a_call_has_a_budget_of_notices() {
        let (mut ctx, mut rx) = ctx(Some(Severity::Debug), true);
        let drain = tokio::spawn(async move {
            let mut n = 0;
            while rx.recv().await.is_some() {
                n += 1;
            }
            n
        });
        for i in 0..MAX_NOTICES_PER_CALL + 10 {
            ctx.log(LogLevel::Info, None, "x".repeat(10_000) + &i.to_string())
                .await;
        }
        let mut stats = CallStats::default();
        Client::report(&mut ctx, &mut stats);
        drop(ctx);
        assert_eq!(drain.await.unwrap(), MAX_NOTICES_PER_CALL);
        assert_eq!(
            (stats.notices, stats.notices_dropped),
            (MAX_NOTICES_PER_CALL, 10)
        );
    }
}
