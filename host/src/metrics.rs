//! Prometheus metrics, served at `/metrics` (OpenMetrics text).
//!
//! One [`Metrics`] per server, shared by the parts that count: the MCP
//! handler (calls, latency, what each call did in the database and the
//! embeddings provider, instantiation time), the watcher (loads, rejections,
//! removals), the guard (refused identities). Gauges that describe a state
//! (pool, sessions, tools, memory) are read when scraped.
//!
//! Labels are bounded: `tool` is a loaded tool's name or `(unknown)`, never
//! whatever a client sent.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::capabilities::CallStats;
use crate::outcome::{LoadOutcome, Outcome, QueryOutcome};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    pub tool: String,
    pub outcome: Outcome,
}

/// A prompt, resource or completion request served by a component. `name`
/// is a prompt name or a resource's URI or template as the catalogue has
/// it (bounded by what components offer, never the client's text).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: &'static str,
    pub name: String,
    pub outcome: Outcome,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabel {
    pub method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ToolLabel {
    pub tool: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueryLabel {
    pub outcome: QueryOutcome,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LoadLabel {
    pub outcome: LoadOutcome,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    pub state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    pub status: String,
}

/// Buckets from 100 µs to ~6.5 s, doubling.
fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 17))
}

pub struct Metrics {
    registry: Registry,
    pub tool_calls: Family<CallLabels, Counter>,
    pub tool_call_seconds: Family<ToolLabel, Histogram, fn() -> Histogram>,
    pub requests: Family<RequestLabels, Counter>,
    pub request_seconds: Family<MethodLabel, Histogram, fn() -> Histogram>,
    pub client_notifications: Counter,
    pub client_notifications_dropped: Counter,
    pub instantiate_seconds: Histogram,
    pub db_queries: Family<QueryLabel, Counter>,
    pub db_query_seconds: Histogram,
    pub db_rows: Counter,
    pub embedding_seconds: Histogram,
    pub embedded_texts: Counter,
    pub component_loads: Family<LoadLabel, Counter>,
    pub auth_refusals: Family<StatusLabel, Counter>,
    pub pool_connections: Family<StateLabel, Gauge>,
    pub sessions: Gauge,
    pub tools: Gauge,
    pub resident_memory_bytes: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("mcp");
        let tool_calls = Family::<CallLabels, Counter>::default();
        registry.register(
            "tool_calls",
            "Tool calls by tool and outcome (ok, tool_error, deadline, rate_limited, ...)",
            tool_calls.clone(),
        );
        let tool_call_seconds =
            Family::<ToolLabel, Histogram, fn() -> Histogram>::new_with_constructor(latency);
        registry.register(
            "tool_call_duration_seconds",
            "Wall time of a tool call in the host (sandbox, imports, output checks)",
            tool_call_seconds.clone(),
        );
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "component_requests",
            "Prompt, resource and completion requests served by components, by method, name and outcome",
            requests.clone(),
        );
        let request_seconds =
            Family::<MethodLabel, Histogram, fn() -> Histogram>::new_with_constructor(latency);
        registry.register(
            "component_request_duration_seconds",
            "Wall time of a prompt, resource or completion request in the host",
            request_seconds.clone(),
        );
        let client_notifications = Counter::default();
        registry.register(
            "client_notifications",
            "Log and progress notifications components sent to their callers",
            client_notifications.clone(),
        );
        let client_notifications_dropped = Counter::default();
        registry.register(
            "client_notifications_dropped",
            "Notifications over a call's budget, not sent",
            client_notifications_dropped.clone(),
        );
        let instantiate_seconds = latency();
        registry.register(
            "component_instantiation_duration_seconds",
            "Time to instantiate a component for one call (fresh instance per call)",
            instantiate_seconds.clone(),
        );
        let db_queries = Family::<QueryLabel, Counter>::default();
        registry.register(
            "db_queries",
            "Queries run for tool calls, by outcome",
            db_queries.clone(),
        );
        let db_query_seconds = latency();
        registry.register(
            "db_query_duration_seconds",
            "Time of one caller query (transaction, RLS, statement, rows)",
            db_query_seconds.clone(),
        );
        let db_rows = Counter::default();
        registry.register("db_rows", "Rows returned to components", db_rows.clone());
        let embedding_seconds = latency();
        registry.register(
            "embedding_duration_seconds",
            "Time components spent waiting for embeddings, per call that asked",
            embedding_seconds.clone(),
        );
        let embedded_texts = Counter::default();
        registry.register(
            "embedded_texts",
            "Texts embedded for components",
            embedded_texts.clone(),
        );
        let component_loads = Family::<LoadLabel, Counter>::default();
        registry.register(
            "component_loads",
            "Component (re)loads by outcome (loaded, rejected, removed)",
            component_loads.clone(),
        );
        let auth_refusals = Family::<StatusLabel, Counter>::default();
        registry.register(
            "auth_refusals",
            "Requests refused for their identity, by HTTP status",
            auth_refusals.clone(),
        );
        let pool_connections = Family::<StateLabel, Gauge>::default();
        registry.register(
            "db_pool_connections",
            "Query-role connections: open, idle and callers waiting for one",
            pool_connections.clone(),
        );
        let sessions = Gauge::default();
        registry.register("sessions", "Open MCP sessions", sessions.clone());
        let tools = Gauge::default();
        registry.register("tools", "Tools currently served", tools.clone());
        let resident_memory_bytes = Gauge::default();
        registry.register(
            "process_resident_memory_bytes",
            "Resident memory of the host process",
            resident_memory_bytes.clone(),
        );
        Self {
            registry,
            tool_calls,
            tool_call_seconds,
            requests,
            request_seconds,
            client_notifications,
            client_notifications_dropped,
            instantiate_seconds,
            db_queries,
            db_query_seconds,
            db_rows,
            embedding_seconds,
            embedded_texts,
            component_loads,
            auth_refusals,
            pool_connections,
            sessions,
            tools,
            resident_memory_bytes,
        }
    }

    /// Counts a finished call and, when it ran, what it did through its
    /// imports.
    pub fn call(&self, tool: &str, outcome: Outcome, elapsed: Duration, stats: Option<&CallStats>) {
        self.tool_calls
            .get_or_create(&CallLabels {
                tool: tool.to_string(),
                outcome,
            })
            .inc();
        self.tool_call_seconds
            .get_or_create(&ToolLabel {
                tool: tool.to_string(),
            })
            .observe(elapsed.as_secs_f64());
        if let Some(stats) = stats {
            self.imports(stats);
        }
    }

    /// Counts a finished prompt, resource or completion request.
    pub fn request(
        &self,
        method: &'static str,
        name: &str,
        outcome: Outcome,
        elapsed: Duration,
        stats: Option<&CallStats>,
    ) {
        self.requests
            .get_or_create(&RequestLabels {
                method,
                name: name.to_string(),
                outcome,
            })
            .inc();
        self.request_seconds
            .get_or_create(&MethodLabel { method })
            .observe(elapsed.as_secs_f64());
        if let Some(stats) = stats {
            self.imports(stats);
        }
    }

    /// What a call or request did through its imports.
    fn imports(&self, stats: &CallStats) {
        self.client_notifications.inc_by(stats.notices.into());
        self.client_notifications_dropped
            .inc_by(stats.notices_dropped.into());
        if !stats.instantiate.is_zero() {
            self.instantiate_seconds
                .observe(stats.instantiate.as_secs_f64());
        }
        for query in &stats.queries {
            self.db_queries
                .get_or_create(&QueryLabel {
                    outcome: query.outcome,
                })
                .inc();
            self.db_query_seconds.observe(query.elapsed.as_secs_f64());
            self.db_rows.inc_by(query.rows);
        }
        if stats.embedded_texts > 0 {
            self.embedding_seconds
                .observe(stats.embedding_time.as_secs_f64());
            self.embedded_texts.inc_by(stats.embedded_texts.into());
        }
    }

    pub fn component_load(&self, outcome: LoadOutcome, count: usize) {
        if count > 0 {
            self.component_loads
                .get_or_create(&LoadLabel { outcome })
                .inc_by(count as u64);
        }
    }

    pub fn pool(&self, state: &str, value: i64) {
        self.pool_connections
            .get_or_create(&StateLabel {
                state: state.to_string(),
            })
            .set(value);
    }

    /// The OpenMetrics text of every series.
    pub fn encode(&self) -> String {
        if let Some(rss) = resident_memory("self") {
            self.resident_memory_bytes.set(rss as i64);
        }
        let mut out = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(%error, "cannot encode the metrics");
        }
        out
    }
}

/// Resident set size of `process` (`self` or a pid) from
/// `/proc/<process>/statm` (Linux), in bytes.
pub fn resident_memory(process: &str) -> Option<u64> {
    let statm = std::fs::read_to_string(format!("/proc/{process}/statm")).ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_are_named_and_move() {
        let metrics = Metrics::new();
        metrics.call(
            "get_current_utc_date",
            Outcome::Ok,
            Duration::from_millis(2),
            None,
        );
        metrics.component_load(LoadOutcome::Loaded, 3);
        let text = metrics.encode();
        assert!(
            text.contains(r#"mcp_tool_calls_total{tool="get_current_utc_date",outcome="ok"} 1"#),
            "{text}"
        );
        assert!(
            text.contains("mcp_tool_call_duration_seconds_bucket"),
            "{text}"
        );
        assert!(
            text.contains(r#"mcp_component_loads_total{outcome="loaded"} 3"#),
            "{text}"
        );
        assert!(text.contains("mcp_process_resident_memory_bytes"), "{text}");
        assert!(text.ends_with("# EOF\n"));
    }
}
