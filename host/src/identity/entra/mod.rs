//! Production identity: `Authorization: Bearer <JWT>` access tokens issued
//! by Microsoft Entra ID (v2 endpoint) for this server's app registration.
//!
//! A token is accepted when it is RS256-signed by one of the tenant's current
//! keys, was issued by the tenant (`iss`, `tid`) for this server (`aud`), is
//! within its lifetime (`exp`, `nbf`, one minute of clock skew), and carries
//! a required scope (`scp`) or app role (`roles`) if any are configured. The
//! RLS user comes from a claim (default `rls_user_id`) or, failing that, from
//! the operator's map of Entra object ids (`oid`) to RLS users.
//!
//! For sign-in, the server publishes OAuth Protected Resource Metadata (RFC
//! 9728) naming the tenant as authorization server, and every 401 points at
//! it (`WWW-Authenticate: Bearer resource_metadata=...`): that is how VS Code
//! finds out, by itself, where and for which scope to get a token.
//!
//! How the mode is configured (the `--entra-*` flags and the settings they
//! become) is in [`settings`]; the tenant's signing keys in `jwks`.

mod jwks;
pub mod settings;

use std::collections::HashSet;
use std::sync::Arc;

use http::HeaderMap;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{AuthError, Authenticator, Identity, PublicBase, ScopeResolver};
use jwks::Jwks;
pub use jwks::{JwksError, KeySetError};
pub use settings::{DEFAULT_AUTHORITY, EntraArgs, EntraSettings, EntraSettingsError};

/// Bearer tokens far larger than this are not Entra access tokens.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Why the Entra mode cannot start.
#[derive(Debug, thiserror::Error)]
pub enum EntraError {
    #[error(transparent)]
    Settings(#[from] EntraSettingsError),
    #[error(transparent)]
    Jwks(#[from] JwksError),
}

pub struct EntraAuthenticator {
    settings: EntraSettings,
    issuer: String,
    scopes: Vec<String>,
    jwks: Jwks,
    resolver: Arc<dyn ScopeResolver>,
    validation: Validation,
}

impl EntraAuthenticator {
    pub fn new(
        mut settings: EntraSettings,
        resolver: Arc<dyn ScopeResolver>,
    ) -> Result<Self, EntraError> {
        settings.authority = settings.authority.trim_end_matches('/').to_string();
        settings.validate()?;
        let issuer = settings.issuer();
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&settings.audiences);
        validation.set_issuer(&[&issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = 60;
        let jwks = Jwks::new(settings.jwks_url(), settings.jwks_cooldown)?;
        Ok(Self {
            scopes: settings.qualified_scopes(),
            issuer,
            jwks,
            resolver,
            validation,
            settings,
        })
    }

    pub fn settings(&self) -> &EntraSettings {
        &self.settings
    }

    fn metadata_url(base: &PublicBase) -> String {
        format!("{}/.well-known/oauth-protected-resource/mcp", base.0)
    }

    /// Checks the token and returns its claims.
    async fn verify(&self, token: &str) -> Result<Map<String, Value>, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::Invalid("the bearer token is too large".into()));
        }
        // The header is read before the signature is checked, so trust
        // nothing in it but the key id; the algorithm is fixed to RS256.
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| AuthError::Invalid("the bearer token is not a well-formed JWT".into()))?;
        if header.alg != Algorithm::RS256 {
            return Err(AuthError::Invalid(format!(
                "tokens must be signed with RS256, not {:?}",
                header.alg
            )));
        }
        let kid = header
            .kid
            .ok_or_else(|| AuthError::Invalid("the token names no signing key (`kid`)".into()))?;
        let key = self.jwks.key(&kid).await?;
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &self.validation)
            .map_err(|error| AuthError::Invalid(describe(error.kind(), &self.issuer)))?;
        Ok(data.claims)
    }

    /// The RLS user and principal named by verified claims.
    fn caller(&self, claims: &Map<String, Value>) -> Result<(Uuid, String), AuthError> {
        let text = |name: &str| claims.get(name).and_then(Value::as_str);
        if let Some(tid) = text("tid")
            && !tid.eq_ignore_ascii_case(&self.settings.tenant_id)
        {
            return Err(AuthError::Invalid(
                "the token was issued for another tenant".into(),
            ));
        }
        let tenant = text("tid").unwrap_or(&self.settings.tenant_id);
        let object = text("oid").or_else(|| text("sub")).ok_or_else(|| {
            AuthError::Invalid("the token names no principal (`oid` or `sub`)".into())
        })?;
        let principal = format!("entra:{tenant}/{object}");
        let user_claim = &self.settings.user_claim;
        let subject = match claims.get(user_claim) {
            Some(value) => value
                .as_str()
                .and_then(|v| Uuid::try_parse(v.trim()).ok())
                .ok_or_else(|| {
                    AuthError::Forbidden(format!("the token's `{user_claim}` claim is not a UUID"))
                })?,
            None => text("oid")
                .and_then(|oid| self.settings.user_map.get(&oid.to_ascii_lowercase()))
                .copied()
                .ok_or_else(|| {
                    AuthError::Forbidden(format!(
                        "the token has no `{user_claim}` claim and its object id is not in \
                         the server's user map; ask the operator to map {object} to an RLS user"
                    ))
                })?,
        };
        Ok((subject, principal))
    }

    fn check_scopes(&self, claims: &Map<String, Value>) -> Result<(), AuthError> {
        // Access tokens for an API carry delegated scopes or app roles; an ID
        // token (same issuer, audience = the client id) carries neither and
        // must not work as a bearer token.
        if !claims.contains_key("scp") && !claims.contains_key("roles") {
            return Err(AuthError::Invalid(
                "this is not an access token for this server (it has no `scp` or `roles`); \
                 ID tokens are not accepted"
                    .into(),
            ));
        }
        let required = &self.settings;
        if required.required_scopes.is_empty() && required.required_roles.is_empty() {
            return Ok(());
        }
        let scopes: HashSet<&str> = claims
            .get("scp")
            .and_then(Value::as_str)
            .map(|s| s.split_whitespace().collect())
            .unwrap_or_default();
        let roles: HashSet<&str> = claims
            .get("roles")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let short = |s: &String| s.rsplit('/').next().unwrap_or(s).to_string();
        if required
            .required_scopes
            .iter()
            .any(|s| scopes.contains(short(s).as_str()))
            || required
                .required_roles
                .iter()
                .any(|r| roles.contains(r.as_str()))
        {
            return Ok(());
        }
        let mut wanted: Vec<String> = required.required_scopes.iter().map(short).collect();
        wanted.extend(required.required_roles.iter().map(|r| format!("role {r}")));
        Err(AuthError::InsufficientScope(format!(
            "the token grants none of: {}",
            wanted.join(", ")
        )))
    }
}

/// A refusal reason a person can act on.
fn describe(kind: &ErrorKind, issuer: &str) -> String {
    match kind {
        ErrorKind::ExpiredSignature => "the token has expired; sign in again".into(),
        ErrorKind::ImmatureSignature => "the token is not valid yet (`nbf`)".into(),
        ErrorKind::InvalidAudience => "the token was issued for another audience (`aud`)".into(),
        ErrorKind::InvalidIssuer => format!("the token was not issued by {issuer} (`iss`)"),
        ErrorKind::InvalidSignature => "the token's signature does not verify".into(),
        ErrorKind::InvalidAlgorithm => "tokens must be signed with RS256".into(),
        ErrorKind::MissingRequiredClaim(claim) => format!("the token has no `{claim}` claim"),
        _ => "the bearer token is not a well-formed JWT".into(),
    }
}

/// A header value's quoted-string form (RFC 9110): no quotes or control
/// characters can break out of it.
fn quoted(text: &str) -> String {
    let clean: String = text
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| if c == '"' || c == '\\' { '\'' } else { c })
        .collect();
    format!("\"{clean}\"")
}

/// The token of an `Authorization: Bearer` header.
fn bearer(headers: &HeaderMap) -> Result<&str, AuthError> {
    let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
    let value = values.next().ok_or(AuthError::Missing(
        "sign in: send `Authorization: Bearer <token>`",
    ))?;
    if values.next().is_some() {
        return Err(AuthError::Invalid(
            "`Authorization` was sent more than once".into(),
        ));
    }
    let value = value
        .to_str()
        .map_err(|_| AuthError::Invalid("`Authorization` is not ASCII text".into()))?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => Err(AuthError::Invalid(
            "`Authorization` must be `Bearer <token>`".into(),
        )),
    }
}

#[async_trait::async_trait]
impl Authenticator for EntraAuthenticator {
    fn mode(&self) -> &'static str {
        "entra"
    }

    fn challenge(&self, error: &AuthError, base: &PublicBase) -> Option<String> {
        let mut parts = vec![format!(
            "Bearer resource_metadata={}",
            quoted(&Self::metadata_url(base))
        )];
        if !self.scopes.is_empty() {
            parts.push(format!("scope={}", quoted(&self.scopes.join(" "))));
        }
        match error {
            AuthError::Missing(_) | AuthError::Unavailable(_) => {}
            AuthError::Invalid(reason) | AuthError::Forbidden(reason) => {
                parts.push("error=\"invalid_token\"".into());
                parts.push(format!("error_description={}", quoted(reason)));
            }
            AuthError::InsufficientScope(reason) => {
                parts.push("error=\"insufficient_scope\"".into());
                parts.push(format!("error_description={}", quoted(reason)));
            }
        }
        Some(parts.join(", "))
    }

    fn resource_metadata(&self, base: &PublicBase) -> Option<Value> {
        Some(serde_json::json!({
            "resource": format!("{}/mcp", base.0),
            "authorization_servers": [self.issuer],
            "scopes_supported": self.scopes,
            "bearer_methods_supported": ["header"],
            "resource_name": "Zava retail MCP server",
        }))
    }

    async fn warm_up(&self) {
        match self.jwks.prefetch().await {
            Ok(keys) => tracing::info!(keys, "fetched the tenant's token-signing keys"),
            Err(error) => tracing::error!(
                %error,
                "cannot fetch the tenant's token-signing keys; callers get 503 until it works"
            ),
        }
    }

    async fn authenticate(&self, headers: &HeaderMap) -> Result<Identity, AuthError> {
        let token = bearer(headers)?;
        let claims = self.verify(token).await?;
        self.check_scopes(&claims)?;
        let (subject, principal) = self.caller(&claims)?;
        let scope = self.resolver.resolve(subject).await;
        Ok(Identity {
            subject,
            scope,
            principal: principal.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_header_must_be_single_and_well_formed() {
        let mut h = HeaderMap::new();
        assert!(matches!(bearer(&h), Err(AuthError::Missing(_))));
        h.insert("authorization", "Basic abc".parse().unwrap());
        assert!(matches!(bearer(&h), Err(AuthError::Invalid(_))));
        h.insert("authorization", "bearer abc.def.ghi".parse().unwrap());
        assert_eq!(bearer(&h), Ok("abc.def.ghi"));
        h.append("authorization", "Bearer x".parse().unwrap());
        assert!(matches!(bearer(&h), Err(AuthError::Invalid(_))));
    }

    #[test]
    fn challenges_cannot_be_broken_out_of() {
        assert_eq!(quoted("a\"b\\c\r\nd"), "\"a'b'cd\"");
    }
}
