//! Who is calling. The HTTP layer asks an [`Authenticator`] for the caller of
//! every request; the resulting [`Identity`] travels with the request into the
//! MCP handler and from there into each sandboxed call.
//!
//! - [`entra`]: production; Microsoft Entra ID bearer tokens checked against
//!   the tenant's keys, plus the OAuth metadata VS Code signs in with.
//! - [`dev_header`]: the classic sample's `x-rls-user-id`, for loopback use.

mod dev_header;
pub mod entra;
mod scope;

pub use dev_header::DevHeaderAuthenticator;
pub use entra::EntraAuthenticator;
pub use scope::{HEAD_OFFICE_ID, Scope, ScopeResolver, StaticScopeResolver};

use std::sync::Arc;

use http::{HeaderMap, StatusCode};
use uuid::Uuid;

/// The authenticated caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The RLS user id (the classic sample's `x-rls-user-id`).
    pub subject: Uuid,
    /// What data the caller may see; what the `caller` import reports.
    pub scope: Scope,
    /// Who proved it, e.g. `entra:<tenant>/<object id>` or `dev:<subject>`.
    /// Sessions and rate limits are keyed by this, so two people mapped to
    /// the same RLS user still cannot share a session or a budget.
    pub principal: Arc<str>,
}

impl Identity {
    /// An identity whose principal is its RLS user (the dev header; tests).
    pub fn dev(subject: Uuid, scope: Scope) -> Self {
        Self {
            subject,
            scope,
            principal: format!("dev:{subject}").into(),
        }
    }
}

/// Why a request has no usable identity.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    /// No credentials at all (HTTP 401, challenge without an error code).
    #[error("missing identity: {0}")]
    Missing(&'static str),
    /// Credentials that do not prove anything (HTTP 401, `invalid_token`).
    #[error("invalid identity: {0}")]
    Invalid(String),
    /// A valid caller without the scope or role this server requires
    /// (HTTP 403, `insufficient_scope`).
    #[error("insufficient scope: {0}")]
    InsufficientScope(String),
    /// A valid caller this server cannot map to an RLS user (HTTP 403).
    #[error("not allowed: {0}")]
    Forbidden(String),
    /// The identity provider cannot be reached to check the credentials
    /// (HTTP 503; retrying later may work).
    #[error("identity provider unavailable: {0}")]
    Unavailable(String),
}

impl AuthError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Missing(_) | Self::Invalid(_) => StatusCode::UNAUTHORIZED,
            Self::InsufficientScope(_) | Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// Where this server is reached, as the client sees it: for the URLs in
/// challenges and in the protected-resource metadata.
#[derive(Debug, Clone)]
pub struct PublicBase(pub String);

#[async_trait::async_trait]
pub trait Authenticator: Send + Sync + 'static {
    /// Short name for logs and the start-up banner.
    fn mode(&self) -> &'static str;

    /// The `WWW-Authenticate` value sent with a refusal (`base` is the
    /// server's public base URL, e.g. `https://mcp.example.com`).
    fn challenge(&self, error: &AuthError, base: &PublicBase) -> Option<String>;

    /// OAuth 2.0 Protected Resource Metadata (RFC 9728) for `base`, when
    /// this mode has an authorization server for clients to sign in with.
    fn resource_metadata(&self, _base: &PublicBase) -> Option<serde_json::Value> {
        None
    }

    /// Prepares what the first request would otherwise wait for.
    async fn warm_up(&self) {}

    async fn authenticate(&self, headers: &HeaderMap) -> Result<Identity, AuthError>;
}

pub type SharedAuthenticator = Arc<dyn Authenticator>;
