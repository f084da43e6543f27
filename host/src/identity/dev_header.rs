use std::sync::Arc;

use http::HeaderMap;
use uuid::Uuid;

use super::{AuthError, Authenticator, Identity, PublicBase, ScopeResolver};

/// The classic sample's header naming the RLS user.
pub const HEADER: &str = "x-rls-user-id";

/// Development identity: trusts the `x-rls-user-id` header. Only for loopback
/// use; the operator must ask for it with `--identity dev-header`.
pub struct DevHeaderAuthenticator {
    scopes: Arc<dyn ScopeResolver>,
}

impl DevHeaderAuthenticator {
    pub fn new(scopes: Arc<dyn ScopeResolver>) -> Self {
        Self { scopes }
    }
}

/// Parses the header value; exactly one well-formed UUID is accepted.
fn subject_from(headers: &HeaderMap) -> Result<Uuid, AuthError> {
    let mut values = headers.get_all(HEADER).iter();
    let value = values
        .next()
        .ok_or(AuthError::Missing("send the `x-rls-user-id` header"))?;
    if values.next().is_some() {
        return Err(AuthError::Invalid(format!(
            "`{HEADER}` was sent more than once"
        )));
    }
    let text = value
        .to_str()
        .map_err(|_| AuthError::Invalid(format!("`{HEADER}` is not ASCII text")))?;
    Uuid::try_parse(text.trim())
        .map_err(|_| AuthError::Invalid(format!("`{HEADER}` must be a UUID, got {text:?}")))
}

#[async_trait::async_trait]
impl Authenticator for DevHeaderAuthenticator {
    fn mode(&self) -> &'static str {
        "dev-header"
    }

    fn challenge(&self, _error: &AuthError, _base: &PublicBase) -> Option<String> {
        Some(format!("{HEADER} realm=\"mcp-host\""))
    }

    async fn authenticate(&self, headers: &HeaderMap) -> Result<Identity, AuthError> {
        let subject = subject_from(headers)?;
        let scope = self.scopes.resolve(subject).await;
        Ok(Identity::dev(subject, scope))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{Scope, StaticScopeResolver};

    fn auth() -> DevHeaderAuthenticator {
        DevHeaderAuthenticator::new(Arc::new(StaticScopeResolver::default()))
    }

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(HEADER, v.parse().unwrap());
        }
        map
    }

    #[tokio::test]
    async fn head_office_header_authenticates() {
        let id = auth()
            .authenticate(&headers(&["00000000-0000-0000-0000-000000000000"]))
            .await
            .unwrap();
        assert_eq!(id.scope, Scope::HeadOffice);
    }

    #[tokio::test]
    async fn missing_malformed_or_repeated_header_is_refused() {
        assert_eq!(
            auth().authenticate(&headers(&[])).await,
            Err(AuthError::Missing("send the `x-rls-user-id` header"))
        );
        assert!(matches!(
            auth().authenticate(&headers(&["head-office"])).await,
            Err(AuthError::Invalid(_))
        ));
        let zero = "00000000-0000-0000-0000-000000000000";
        assert!(matches!(
            auth().authenticate(&headers(&[zero, zero])).await,
            Err(AuthError::Invalid(_))
        ));
    }
}
