//! Who is calling. The HTTP layer asks an [`Authenticator`] for the caller of
//! every request; the resulting [`Identity`] travels with the request into the
//! MCP handler and from there into each sandboxed call.
//!
//! Only `dev-header` exists today; verified bearer tokens slot in as another
//! `Authenticator` without touching the rest of the host.

mod dev_header;
mod scope;

pub use dev_header::DevHeaderAuthenticator;
pub use scope::{HEAD_OFFICE_ID, Scope, ScopeResolver, StaticScopeResolver};

use std::sync::Arc;

use http::HeaderMap;
use uuid::Uuid;

/// The authenticated caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The RLS user id (the classic sample's `x-rls-user-id`).
    pub subject: Uuid,
    /// What data the caller may see; what the `caller` import reports.
    pub scope: Scope,
}

/// Why a request has no identity. Always answered with HTTP 401.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("missing identity: send the `{0}` header")]
    Missing(&'static str),
    #[error("invalid identity: {0}")]
    Invalid(String),
}

#[async_trait::async_trait]
pub trait Authenticator: Send + Sync + 'static {
    /// Short name for logs and the start-up banner.
    fn mode(&self) -> &'static str;
    /// The `WWW-Authenticate` challenge sent with a 401.
    fn challenge(&self) -> String;
    async fn authenticate(&self, headers: &HeaderMap) -> Result<Identity, AuthError>;
}

pub type SharedAuthenticator = Arc<dyn Authenticator>;
