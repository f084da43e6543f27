//! How requests to the embeddings endpoint are authenticated.

use std::fmt;

use reqwest::header::{AUTHORIZATION, HeaderName, HeaderValue};
use reqwest::{Client, RequestBuilder};

use super::entra::{AccessToken, EntraCredential, TokenCache};
use super::error::RemoteError;
use super::retry::Failure;

/// Credentials for the embeddings endpoint.
#[derive(Clone)]
pub enum RemoteAuth {
    /// Azure OpenAI key: header `api-key: <key>`.
    AzureApiKey(String),
    /// OpenAI-compatible key: `Authorization: Bearer <key>`.
    BearerKey(String),
    /// Microsoft Entra ID token for scope `https://cognitiveservices.azure.com/.default`,
    /// sent as `Authorization: Bearer <token>`.
    Entra(EntraCredential),
    /// No credentials, e.g. a local Ollama.
    None,
}

// Hand-written so keys never reach logs through `{:?}`.
impl fmt::Debug for RemoteAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AzureApiKey(_) => f.write_str("AzureApiKey(<redacted>)"),
            Self::BearerKey(_) => f.write_str("BearerKey(<redacted>)"),
            Self::Entra(credential) => f.debug_tuple("Entra").field(credential).finish(),
            Self::None => f.write_str("None"),
        }
    }
}

/// [`RemoteAuth`] turned into something that can stamp requests.
#[derive(Debug)]
pub(super) enum Authorizer {
    Static(HeaderName, HeaderValue),
    Entra(TokenCache),
    None,
}

/// The outcome of [`Authorizer::apply`]: the request, plus the Entra token it carries.
pub(super) type Authorized = (RequestBuilder, Option<AccessToken>);

impl Authorizer {
    pub(super) fn new(auth: RemoteAuth, http: &Client) -> Result<Self, RemoteError> {
        Ok(match auth {
            RemoteAuth::AzureApiKey(key) => {
                Self::Static(HeaderName::from_static("api-key"), secret_header(&key, "")?)
            }
            RemoteAuth::BearerKey(key) => {
                Self::Static(AUTHORIZATION, secret_header(&key, "Bearer ")?)
            }
            RemoteAuth::Entra(credential) => {
                Self::Entra(TokenCache::new(credential, http.clone())?)
            }
            RemoteAuth::None => Self::None,
        })
    }

    pub(super) async fn apply(&self, request: RequestBuilder) -> Result<Authorized, Failure> {
        match self {
            Self::Static(name, value) => Ok((request.header(name, value), None)),
            Self::Entra(cache) => {
                let token = cache.token().await?;
                let value = token.bearer_header()?;
                Ok((request.header(AUTHORIZATION, value), Some(token)))
            }
            Self::None => Ok((request, None)),
        }
    }

    /// Drops a token the server rejected so the next attempt fetches a new one.
    pub(super) async fn invalidate(&self, token: &AccessToken) {
        if let Self::Entra(cache) = self {
            cache.invalidate(token).await;
        }
    }

    /// What to tell the user to check when the server answers 401/403.
    pub(super) fn hint(&self) -> &'static str {
        match self {
            Self::Static(name, _) if name == "api-key" => {
                "check the api-key: it must be one of the two keys of this Azure OpenAI resource"
            }
            Self::Static(..) => "check the API key sent as 'Authorization: Bearer'",
            Self::Entra(_) => {
                "check the Entra credentials and that the identity has the role \
                 'Cognitive Services OpenAI User' on the Azure OpenAI resource \
                 (role assignments can take minutes to apply)"
            }
            Self::None => "the server wants credentials but none are configured; set an API key",
        }
    }
}

fn secret_header(key: &str, prefix: &str) -> Result<HeaderValue, RemoteError> {
    let key = key.trim();
    if key.is_empty() {
        return Err(RemoteError::Config("API key is empty".into()));
    }
    // The key is deliberately not echoed in the error.
    let mut value = HeaderValue::try_from(format!("{prefix}{key}")).map_err(|_| {
        RemoteError::Config("API key contains characters not allowed in an HTTP header".into())
    })?;
    value.set_sensitive(true);
    Ok(value)
}
