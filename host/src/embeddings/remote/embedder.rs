//! Batching and the retry loop around one embeddings endpoint.

use std::fmt;
use std::time::{Duration, SystemTime};

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Client, StatusCode, Url};

use super::auth::{Authorizer, RemoteAuth};
use super::azure::{AzureOpenAi, AzureRequest};
use super::error::{RemoteError, StatusContext, from_reqwest, from_status};
use super::openai::{OpenAiCompatible, OpenAiRequest};
use super::retry::{self, Failure};
use super::wire;

/// Limits for talking to a remote provider.
#[derive(Debug, Clone)]
pub struct RemoteOptions {
    /// Per HTTP request, including reading the response.
    pub timeout: Duration,
    /// Tries per batch, counting the first; 1 disables retries.
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt unless the server says how long to wait.
    pub initial_backoff: Duration,
    /// Upper bound on any single wait, including server-requested ones.
    pub max_backoff: Duration,
    /// Texts per request. Azure OpenAI accepts up to 2048 inputs, but smaller
    /// batches keep each request well under the per-request token limit.
    pub max_batch: usize,
}

impl Default for RemoteOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            max_attempts: 4,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(20),
            max_batch: 96,
        }
    }
}

#[derive(Debug)]
enum Provider {
    Azure,
    OpenAi { dimensions: Option<u32> },
}

/// Computes embeddings through Azure OpenAI or an OpenAI-compatible API.
///
/// Cheap to share behind an `Arc`; concurrent `embed` calls are fine.
pub struct RemoteEmbedder {
    http: Client,
    url: Url,
    /// `url` without query or userinfo, for messages and logs.
    label: String,
    model: String,
    provider: Provider,
    auth: Authorizer,
    options: RemoteOptions,
}

// Hand-written to keep logs short: the client and parsed URL add only noise.
impl fmt::Debug for RemoteEmbedder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteEmbedder")
            .field("endpoint", &self.label)
            .field("model", &self.model)
            .field("provider", &self.provider)
            .field("auth", &self.auth)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl RemoteEmbedder {
    pub fn azure(config: AzureOpenAi, options: RemoteOptions) -> Result<Self, RemoteError> {
        let url = config.embeddings_url()?;
        let model = config.deployment.trim().to_owned();
        Self::new(url, model, Provider::Azure, config.auth, options)
    }

    pub fn openai_compatible(
        config: OpenAiCompatible,
        options: RemoteOptions,
    ) -> Result<Self, RemoteError> {
        let url = config.embeddings_url()?;
        let provider = Provider::OpenAi {
            dimensions: config.dimensions,
        };
        Self::new(
            url,
            config.model.trim().to_owned(),
            provider,
            config.auth,
            options,
        )
    }

    fn new(
        url: Url,
        model: String,
        provider: Provider,
        auth: RemoteAuth,
        options: RemoteOptions,
    ) -> Result<Self, RemoteError> {
        if options.max_attempts == 0 {
            return Err(RemoteError::Config(
                "max_attempts must be at least 1".into(),
            ));
        }
        if options.max_batch == 0 {
            return Err(RemoteError::Config("max_batch must be at least 1".into()));
        }
        if options.timeout.is_zero() {
            return Err(RemoteError::Config(
                "timeout must be greater than zero".into(),
            ));
        }
        super::tls_init();
        let http = Client::builder()
            .timeout(options.timeout)
            .connect_timeout(options.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!(
                env!("CARGO_PKG_NAME"),
                "/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()
            .map_err(|e| RemoteError::Config(format!("cannot build HTTP client: {e}")))?;
        let auth = Authorizer::new(auth, &http)?;
        let label = display_url(&url);
        Ok(Self {
            http,
            url,
            label,
            model,
            provider,
            auth,
            options,
        })
    }

    /// The name to record next to stored vectors: the Azure deployment or the model.
    pub fn model_name(&self) -> &str {
        &self.model
    }

    /// Embeds `texts`, returning one vector per text in the same order.
    ///
    /// Sends at most `max_batch` texts per request, one request at a time, so a
    /// large input does not trip the provider's rate limit all at once.
    pub async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, RemoteError> {
        let mut vectors = Vec::with_capacity(texts.len());
        for batch in texts.chunks(self.options.max_batch) {
            vectors.extend(self.embed_batch(batch).await?);
        }
        Ok(vectors)
    }

    async fn embed_batch(&self, batch: &[String]) -> Result<Vec<Vec<f32>>, RemoteError> {
        let body = match self.provider {
            Provider::Azure => serde_json::to_vec(&AzureRequest { input: batch }),
            Provider::OpenAi { dimensions } => serde_json::to_vec(&OpenAiRequest {
                model: &self.model,
                input: batch,
                dimensions,
            }),
        }
        .map_err(|e| RemoteError::BadRequest(format!("cannot encode request body: {e}")))?;

        let max_attempts = self.options.max_attempts;
        let mut attempt = 1;
        let mut refreshed_token = false;
        loop {
            let mut failure = match self.attempt(&body, batch.len()).await {
                Ok(vectors) => return Ok(vectors),
                Err(failure) => failure,
            };
            // A cached token can be revoked before its stated expiry; one fresh
            // token is worth trying, and doesn't count against max_attempts.
            if let Some(token) = failure.rejected_token.take()
                && !refreshed_token
            {
                refreshed_token = true;
                tracing::info!(endpoint = %self.label, "Entra token rejected; fetching a new one");
                self.auth.invalidate(&token).await;
                continue;
            }
            if !failure.error.is_retryable() || attempt >= max_attempts {
                return Err(failure.error);
            }
            let wait = retry::delay(attempt, failure.retry_after, &self.options);
            tracing::warn!(
                endpoint = %self.label,
                attempt,
                max_attempts,
                wait_ms = wait.as_millis() as u64,
                error = %failure.error,
                "embeddings request failed; retrying",
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    async fn attempt(&self, body: &[u8], expected: usize) -> Result<Vec<Vec<f32>>, Failure> {
        let request = self
            .http
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .body(body.to_vec());
        let (request, token) = self.auth.apply(request).await?;
        let what = || format!("embeddings request to {}", self.label);
        let response = request.send().await.map_err(|e| from_reqwest(e, &what()))?;
        let status = response.status();
        let retry_after = retry::retry_after(response.headers(), SystemTime::now());
        let bytes = response
            .bytes()
            .await
            .map_err(|e| from_reqwest(e, &what()))?;

        if status.is_success() {
            return Ok(wire::parse_embeddings(&bytes, expected)?);
        }
        let target = match self.provider {
            Provider::Azure => format!("deployment '{}'", self.model),
            Provider::OpenAi { .. } => format!("model '{}'", self.model),
        };
        let cx = StatusContext {
            service: match self.provider {
                Provider::Azure => "Azure OpenAI",
                Provider::OpenAi { .. } => "OpenAI-compatible endpoint",
            },
            path: self.url.path(),
            target: &target,
            auth_hint: self.auth.hint(),
        };
        Err(Failure {
            error: from_status(status, &wire::error_detail(&bytes), &cx),
            retry_after,
            rejected_token: token.filter(|_| status == StatusCode::UNAUTHORIZED),
        })
    }
}

/// The URL as shown in messages: no query string or userinfo.
fn display_url(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    // Only fails for URLs that cannot have userinfo, which then have none to hide.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.into()
}
