//! Remote text-embedding providers: Azure OpenAI deployments and
//! OpenAI-compatible `/embeddings` endpoints (OpenAI, Ollama, vLLM, LiteLLM, ...).
//!
//! The entry point is [`RemoteEmbedder`]; everything else is configuration.

mod auth;
mod azure;
mod embedder;
mod entra;
mod error;
mod openai;
mod retry;
mod wire;

pub use auth::RemoteAuth;
pub use azure::AzureOpenAi;
pub use embedder::{RemoteEmbedder, RemoteOptions};
pub use entra::{DEFAULT_AUTHORITY_HOST, EntraCredential};
pub use error::RemoteError;
pub use openai::OpenAiCompatible;

use std::sync::OnceLock;

use reqwest::Url;

/// Installs ring as the process-wide rustls crypto provider.
///
/// reqwest is built with `rustls-no-provider` (to keep aws-lc out of the build),
/// so building a client panics unless some provider is installed first. Safe to
/// call any number of times; if the host application already installed a
/// provider, that one is kept.
pub fn tls_init() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        // Err only means another provider won the race; either way one is installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Parses a configured base URL, accepting only http(s).
fn parse_http_url(value: &str, what: &str) -> Result<Url, RemoteError> {
    let url = Url::parse(value)
        .map_err(|e| RemoteError::Config(format!("{what} '{value}' is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(RemoteError::Config(format!(
            "{what} '{value}' must start with http:// or https://"
        )));
    }
    Ok(url)
}
