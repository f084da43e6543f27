//! Logs and traces.
//!
//! Logs go to stderr, human-readable or one JSON object per line
//! (`--log-format`), filtered by `RUST_LOG` (default `info`).
//!
//! Traces: when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, spans are exported over OTLP
//! (HTTP/protobuf, or gRPC with `OTEL_EXPORTER_OTLP_PROTOCOL=grpc`) in batches: one `tools/call <tool>` span per call with the
//! tool, component digest, scope and outcome, and child spans for each
//! `db.query` and `embeddings.embed`. The standard `OTEL_*` variables apply
//! (`OTEL_SERVICE_NAME`, `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_BSP_*`, ...).
//! Application Insights is reached through an OpenTelemetry collector or
//! Azure Container Apps' managed agent, which set that endpoint.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::LogFormat;

/// Flushes and stops the trace exporter when dropped (at exit).
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(error) = provider.shutdown()
        {
            eprintln!("could not flush the last traces: {error}");
        }
    }
}

/// The OTLP endpoint from the standard variables, if tracing is wanted.
fn otlp_endpoint() -> Option<String> {
    std::env::var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .or_else(|_| std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT"))
        .ok()
        .filter(|v| !v.trim().is_empty())
}

/// `grpc` or `http/protobuf` (the default, as the OpenTelemetry spec says).
fn protocol() -> Result<&'static str, TelemetryError> {
    let value = std::env::var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        .or_else(|_| std::env::var("OTEL_EXPORTER_OTLP_PROTOCOL"))
        .unwrap_or_default();
    match value.trim() {
        "" | "http/protobuf" => Ok("http/protobuf"),
        "grpc" => Ok("grpc"),
        other => Err(TelemetryError::Protocol(other.into())),
    }
}

/// Why traces cannot be exported (logs always work). Wrapped errors are part
/// of the message.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("OTEL_EXPORTER_OTLP_PROTOCOL={0} is not supported (use http/protobuf or grpc)")]
    Protocol(String),
    #[error("cannot set up the OTLP trace exporter: {0}")]
    Exporter(opentelemetry_otlp::ExporterBuildError),
}

fn tracer_provider(
    runtime: &tokio::runtime::Handle,
) -> Result<Option<SdkTracerProvider>, TelemetryError> {
    if otlp_endpoint().is_none() {
        return Ok(None);
    }
    // reqwest is built without a default TLS provider (see Cargo.toml).
    crate::embeddings::remote::tls_init();
    let built = match protocol()? {
        // tonic's channel runs its connection on the Tokio runtime.
        "grpc" => {
            let _runtime = runtime.enter();
            opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .build()
        }
        _ => opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .build(),
    };
    let exporter = built.map_err(TelemetryError::Exporter)?;
    let service = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| "mcp-host".into());
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name(service)
                .with_attribute(opentelemetry::KeyValue::new(
                    "service.version",
                    env!("CARGO_PKG_VERSION"),
                ))
                .build(),
        )
        .build();
    Ok(Some(provider))
}

/// Installs the global log (and, if configured, trace) pipeline. Call it
/// outside the runtime (the HTTP exporter's blocking client must not be
/// created or dropped on it) and drop the result before the runtime (a gRPC
/// export needs it).
pub fn init(format: LogFormat, runtime: &tokio::runtime::Handle) -> Telemetry {
    let filter = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let logs = match format {
        LogFormat::Pretty => logs.boxed(),
        LogFormat::Json => logs.json().flatten_event(true).boxed(),
    };
    let (provider, trace_error) = match tracer_provider(runtime) {
        Ok(provider) => (provider, None),
        Err(error) => (None, Some(error)),
    };
    let traces = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("mcp-host"))
            .with_filter(filter())
    });
    tracing_subscriber::registry()
        .with(logs.with_filter(filter()))
        .with(traces)
        .init();
    match (&provider, trace_error) {
        (Some(_), _) => tracing::info!(
            endpoint = otlp_endpoint().unwrap_or_default(),
            protocol = protocol().unwrap_or_default(),
            "exporting traces over OTLP"
        ),
        (None, Some(error)) => tracing::error!("{error}; traces are not exported"),
        (None, None) => {
            if std::env::var_os("APPLICATIONINSIGHTS_CONNECTION_STRING").is_some() {
                tracing::warn!(
                    "APPLICATIONINSIGHTS_CONNECTION_STRING is set but no OTLP endpoint: this host \
                     exports traces over OTLP; point OTEL_EXPORTER_OTLP_ENDPOINT at a collector or \
                     Azure Container Apps' managed OpenTelemetry agent routed to Application Insights"
                );
            }
        }
    }
    Telemetry { provider }
}
