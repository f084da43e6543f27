//! Microsoft Entra ID access tokens for Azure OpenAI, with caching and refresh.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::header::{ACCEPT, HeaderValue};
use reqwest::{Client, RequestBuilder, Url};
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::error::{RemoteError, StatusContext, from_reqwest, from_status};
use super::retry::{Failure, retry_after};
use super::wire::error_detail;

/// Where client-credential tokens come from unless a sovereign cloud is configured.
pub const DEFAULT_AUTHORITY_HOST: &str = "https://login.microsoftonline.com";
const SCOPE: &str = "https://cognitiveservices.azure.com/.default";
const RESOURCE: &str = "https://cognitiveservices.azure.com";
const MANAGED_IDENTITY_API_VERSION: &str = "2019-08-01";
/// Tokens this close to expiry are replaced, so a request never races the expiry.
const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// How to obtain Entra ID tokens for the Cognitive Services scope.
#[derive(Clone)]
pub enum EntraCredential {
    /// OAuth2 client credentials against `{authority_host}/{tenant_id}/oauth2/v2.0/token`.
    ClientSecret {
        /// Empty means [`DEFAULT_AUTHORITY_HOST`].
        authority_host: String,
        tenant_id: String,
        client_id: String,
        client_secret: String,
    },
    /// The local token endpoint of Azure Container Apps / App Service managed identity.
    ManagedIdentity {
        endpoint: String,
        header: String,
        /// Selects a user-assigned identity; `None` uses the system-assigned one.
        client_id: Option<String>,
    },
}

impl EntraCredential {
    /// Client credentials against the public cloud authority.
    pub fn client_secret(
        tenant_id: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        Self::ClientSecret {
            authority_host: DEFAULT_AUTHORITY_HOST.into(),
            tenant_id: tenant_id.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
        }
    }

    /// Managed identity from `IDENTITY_ENDPOINT` / `IDENTITY_HEADER`, which Container
    /// Apps and App Service set when an identity is assigned; `None` outside Azure.
    pub fn managed_identity_from_env(client_id: Option<String>) -> Option<Self> {
        let endpoint = std::env::var("IDENTITY_ENDPOINT")
            .ok()
            .filter(|v| !v.is_empty())?;
        let header = std::env::var("IDENTITY_HEADER")
            .ok()
            .filter(|v| !v.is_empty())?;
        Some(Self::ManagedIdentity {
            endpoint,
            header,
            client_id,
        })
    }
}

// Hand-written so secrets never reach logs through `{:?}`.
impl fmt::Debug for EntraCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ClientSecret {
                authority_host,
                tenant_id,
                client_id,
                ..
            } => f
                .debug_struct("ClientSecret")
                .field("authority_host", authority_host)
                .field("tenant_id", tenant_id)
                .field("client_id", client_id)
                .field("client_secret", &"<redacted>")
                .finish(),
            Self::ManagedIdentity {
                endpoint,
                client_id,
                ..
            } => f
                .debug_struct("ManagedIdentity")
                .field("endpoint", endpoint)
                .field("header", &"<redacted>")
                .field("client_id", client_id)
                .finish(),
        }
    }
}

/// A bearer token; compared by value to tell whether a rejected token is still cached.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct AccessToken(Arc<str>);

impl AccessToken {
    /// `Authorization` value, flagged sensitive so HTTP-level logging redacts it.
    pub(super) fn bearer_header(&self) -> Result<HeaderValue, RemoteError> {
        let mut value = HeaderValue::try_from(format!("Bearer {}", self.0)).map_err(|_| {
            RemoteError::BadResponse(
                "Entra returned an access token that is not a valid header value".into(),
            )
        })?;
        value.set_sensitive(true);
        Ok(value)
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

/// The token request, prepared once so configuration errors surface at construction.
enum TokenRequest {
    ClientSecret {
        url: Url,
        form: Vec<(&'static str, String)>,
    },
    ManagedIdentity {
        url: Url,
        header: HeaderValue,
    },
}

struct Cached {
    token: AccessToken,
    expires_at: Instant,
}

/// Caches one token; concurrent callers share a single refresh.
pub(super) struct TokenCache {
    http: Client,
    request: TokenRequest,
    // A tokio Mutex so the lock can be held across the refresh request: callers
    // that arrive meanwhile wait for that token instead of fetching their own.
    cached: Mutex<Option<Cached>>,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.request {
            TokenRequest::ClientSecret { .. } => "ClientSecret",
            TokenRequest::ManagedIdentity { .. } => "ManagedIdentity",
        };
        f.debug_struct("TokenCache")
            .field("kind", &kind)
            .finish_non_exhaustive()
    }
}

impl TokenCache {
    pub(super) fn new(credential: EntraCredential, http: Client) -> Result<Self, RemoteError> {
        let request = match credential {
            EntraCredential::ClientSecret {
                authority_host,
                tenant_id,
                client_id,
                client_secret,
            } => {
                for (name, value) in [("tenant_id", &tenant_id), ("client_id", &client_id)] {
                    if value.trim().is_empty() {
                        return Err(RemoteError::Config(format!("Entra {name} is empty")));
                    }
                }
                if client_secret.is_empty() {
                    return Err(RemoteError::Config("Entra client_secret is empty".into()));
                }
                let host = if authority_host.trim().is_empty() {
                    DEFAULT_AUTHORITY_HOST
                } else {
                    authority_host.trim()
                };
                let mut url = super::parse_http_url(host, "Entra authority_host")?;
                url.path_segments_mut()
                    .map_err(|()| {
                        RemoteError::Config("Entra authority_host cannot be a base URL".into())
                    })?
                    .pop_if_empty()
                    .extend([tenant_id.trim(), "oauth2", "v2.0", "token"]);
                let form = vec![
                    ("grant_type", "client_credentials".into()),
                    ("client_id", client_id.trim().into()),
                    ("client_secret", client_secret),
                    ("scope", SCOPE.into()),
                ];
                TokenRequest::ClientSecret { url, form }
            }
            EntraCredential::ManagedIdentity {
                endpoint,
                header,
                client_id,
            } => {
                let mut url = super::parse_http_url(endpoint.trim(), "managed identity endpoint")?;
                {
                    let mut query = url.query_pairs_mut();
                    query
                        .append_pair("resource", RESOURCE)
                        .append_pair("api-version", MANAGED_IDENTITY_API_VERSION);
                    if let Some(id) = client_id
                        .as_deref()
                        .map(str::trim)
                        .filter(|id| !id.is_empty())
                    {
                        query.append_pair("client_id", id);
                    }
                }
                let mut header = HeaderValue::try_from(header).map_err(|_| {
                    RemoteError::Config(
                        "managed identity header is not a valid HTTP header value".into(),
                    )
                })?;
                header.set_sensitive(true);
                TokenRequest::ManagedIdentity { url, header }
            }
        };
        Ok(Self {
            http,
            request,
            cached: Mutex::new(None),
        })
    }

    /// A token valid for at least a few more minutes, fetched if needed.
    pub(super) async fn token(&self) -> Result<AccessToken, Failure> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref()
            && c.expires_at.saturating_duration_since(Instant::now()) > REFRESH_MARGIN
        {
            return Ok(c.token.clone());
        }
        let fresh = self.fetch().await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    /// Forgets `rejected` unless another caller has already replaced it.
    pub(super) async fn invalidate(&self, rejected: &AccessToken) {
        let mut cached = self.cached.lock().await;
        if cached.as_ref().is_some_and(|c| &c.token == rejected) {
            *cached = None;
        }
    }

    /// The request for a token, what it asks and what to check when refused.
    fn request(&self) -> (RequestBuilder, &'static str, &'static str) {
        match &self.request {
            TokenRequest::ClientSecret { url, form } => (
                // application/x-www-form-urlencoded, Content-Type included.
                self.http.post(url.clone()).form(form),
                "Entra token endpoint",
                "check tenant_id, client_id and client_secret (and that the secret has not expired)",
            ),
            TokenRequest::ManagedIdentity { url, header } => (
                self.http
                    .get(url.clone())
                    .header("X-IDENTITY-HEADER", header.clone()),
                "managed identity endpoint",
                "check that a managed identity is assigned to the app and, for a user-assigned one, the client_id",
            ),
        }
    }

    async fn fetch(&self) -> Result<Cached, Failure> {
        let (request, what, hint) = self.request();
        tracing::debug!(source = what, "requesting Entra access token");
        let started = Instant::now();
        let response = request
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| from_reqwest(e, &format!("{what} request")))?;
        let status = response.status();
        let waited = retry_after(response.headers(), SystemTime::now());
        let body = response
            .bytes()
            .await
            .map_err(|e| from_reqwest(e, &format!("{what} response")))?;

        if !status.is_success() {
            let detail = error_detail(&body);
            let error = if status.is_client_error()
                && status != reqwest::StatusCode::TOO_MANY_REQUESTS
                && status != reqwest::StatusCode::REQUEST_TIMEOUT
            {
                // Any other 4xx from a token endpoint means the credential is wrong, not the request.
                RemoteError::Unauthorized(format!(
                    "{what} refused to issue a token (HTTP {}): {detail}; {hint}",
                    status.as_u16()
                ))
            } else {
                let cx = StatusContext {
                    service: what,
                    path: "",
                    target: "",
                    auth_hint: hint,
                };
                from_status(status, &detail, &cx)
            };
            return Err(Failure {
                error,
                retry_after: waited,
                rejected_token: None,
            });
        }

        let parsed: TokenResponse = serde_json::from_slice(&body).map_err(|e| {
            // serde's message could quote a field value, and fields here include the token.
            RemoteError::BadResponse(format!(
                "{what} returned an unexpected JSON body (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        let lifetime = parsed.lifetime(SystemTime::now()).ok_or_else(|| {
            RemoteError::BadResponse(format!(
                "{what} returned a token without expires_in or expires_on"
            ))
        })?;
        if parsed.access_token.is_empty() {
            return Err(
                RemoteError::BadResponse(format!("{what} returned an empty access_token")).into(),
            );
        }
        tracing::debug!(
            source = what,
            lifetime_secs = lifetime.as_secs(),
            "got Entra access token"
        );
        Ok(Cached {
            token: AccessToken(parsed.access_token.into()),
            // Measured from before the request, so a slow response can't make us overestimate.
            expires_at: started + lifetime,
        })
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    /// Seconds from now (client credentials).
    expires_in: Option<NumberOrString>,
    /// Unix seconds (managed identity).
    expires_on: Option<NumberOrString>,
}

impl TokenResponse {
    fn lifetime(&self, now: SystemTime) -> Option<Duration> {
        if let Some(secs) = self.expires_in.as_ref().and_then(NumberOrString::as_u64) {
            return Some(Duration::from_secs(secs));
        }
        let at = self.expires_on.as_ref().and_then(NumberOrString::as_u64)?;
        let now = now.duration_since(SystemTime::UNIX_EPOCH).ok()?.as_secs();
        Some(Duration::from_secs(at.saturating_sub(now)))
    }
}

/// Entra and the managed identity endpoints send these numbers either way.
#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrString {
    Number(u64),
    String(String),
}

impl NumberOrString {
    fn as_u64(&self) -> Option<u64> {
        match self {
            Self::Number(n) => Some(*n),
            Self::String(s) => s.trim().parse().ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::CONTENT_TYPE;

    #[test]
    fn form_encoding_round_trips_through_url_parser() {
        super::super::tls_init();
        let secret = "a+b/c=d&e f~ü%";
        let credential = EntraCredential::client_secret("tenant", "client", secret);
        let cache = TokenCache::new(credential, Client::new()).unwrap();
        let request = cache.request().0.build().unwrap();
        assert_eq!(
            request.headers()[CONTENT_TYPE],
            "application/x-www-form-urlencoded"
        );
        let body = request.body().and_then(|b| b.as_bytes()).unwrap();
        let encoded = std::str::from_utf8(body).unwrap();
        assert_eq!(
            encoded,
            "grant_type=client_credentials&client_id=client&\
             client_secret=a%2Bb%2Fc%3Dd%26e+f%7E%C3%BC%25&scope=https%3A%2F%2Fcognitiveservices.azure.com%2F.default"
        );
        let url = Url::parse(&format!("http://x/?{encoded}")).unwrap();
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(pairs[2], ("client_secret".into(), secret.into()));
        assert_eq!(pairs[3], ("scope".into(), SCOPE.into()));
    }

    #[test]
    fn lifetime_from_either_field_and_form() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let parse = |json: &str| {
            serde_json::from_str::<TokenResponse>(json)
                .unwrap()
                .lifetime(now)
        };
        assert_eq!(
            parse(r#"{"access_token":"t","expires_in":3599}"#),
            Some(Duration::from_secs(3599))
        );
        assert_eq!(
            parse(r#"{"access_token":"t","expires_in":"60"}"#),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse(r#"{"access_token":"t","expires_on":"4600"}"#),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(
            parse(r#"{"access_token":"t","expires_on":4600}"#),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(
            parse(r#"{"access_token":"t","expires_on":10}"#),
            Some(Duration::ZERO)
        );
        assert_eq!(parse(r#"{"access_token":"t"}"#), None);
    }

    #[test]
    fn debug_redacts_secrets() {
        let cred = EntraCredential::client_secret("tenant", "client", "s3cr3t");
        assert!(!format!("{cred:?}").contains("s3cr3t"));
        let mi = EntraCredential::ManagedIdentity {
            endpoint: "http://localhost:42356/msi/token".into(),
            header: "h3ad3r".into(),
            client_id: None,
        };
        assert!(!format!("{mi:?}").contains("h3ad3r"));
        assert!(!format!("{:?}", AccessToken("tok".into())).contains("tok"));
    }
}
