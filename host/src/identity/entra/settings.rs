//! How the Entra mode is configured: the `--entra-*` flags ([`EntraArgs`]),
//! and what they become once checked ([`EntraSettings`]), in one place.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use uuid::Uuid;

/// Where Entra lives in the public cloud.
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";

/// `--identity entra`: which tenant and app registration tokens come from.
#[derive(Debug, Clone, Args)]
pub struct EntraArgs {
    /// Directory (tenant) id whose tokens are accepted.
    #[arg(long, env = "MCP_ENTRA_TENANT_ID")]
    pub entra_tenant_id: Option<String>,

    /// Accepted token audiences: the app registration's client id and/or
    /// Application ID URI (e.g. `api://zava-mcp`).
    #[arg(long, env = "MCP_ENTRA_AUDIENCE", value_delimiter = ',')]
    pub entra_audience: Vec<String>,

    /// Entra's base URL (sovereign clouds differ).
    #[arg(long, env = "MCP_ENTRA_AUTHORITY", default_value = DEFAULT_AUTHORITY)]
    pub entra_authority: String,

    /// Token claim holding the caller's RLS user id.
    #[arg(long, env = "MCP_ENTRA_USER_CLAIM", default_value = "rls_user_id")]
    pub entra_user_claim: String,

    /// TOML file mapping Entra object ids to RLS users (`[users]` table,
    /// `"<oid>" = "<rls user id>"`), for tokens without the user claim.
    #[arg(long, env = "MCP_ENTRA_USER_MAP")]
    pub entra_user_map: Option<PathBuf>,

    /// Delegated scopes (`scp`) that admit a caller (any one of them).
    #[arg(long, env = "MCP_ENTRA_REQUIRED_SCOPES", value_delimiter = ',')]
    pub entra_required_scopes: Vec<String>,

    /// App roles (`roles`) that admit a caller (any one of them).
    #[arg(long, env = "MCP_ENTRA_REQUIRED_ROLES", value_delimiter = ',')]
    pub entra_required_roles: Vec<String>,

    /// Shortest time between two fetches of the tenant's signing keys (a
    /// token with an unknown key id triggers one).
    #[arg(long, env = "MCP_ENTRA_JWKS_COOLDOWN", default_value = "10s", value_parser = humantime::parse_duration)]
    pub entra_jwks_cooldown: Duration,
}

impl EntraArgs {
    /// The settings these flags describe, checked ([`EntraSettings::validate`]).
    pub fn settings(&self) -> Result<EntraSettings, EntraSettingsError> {
        let user_map = match &self.entra_user_map {
            Some(path) => EntraSettings::read_user_map(path)?,
            None => Default::default(),
        };
        let settings = EntraSettings {
            tenant_id: self
                .entra_tenant_id
                .clone()
                .ok_or(EntraSettingsError::NoTenantId)?,
            audiences: self.entra_audience.clone(),
            authority: self.entra_authority.trim_end_matches('/').to_string(),
            user_claim: self.entra_user_claim.clone(),
            user_map,
            required_scopes: self.entra_required_scopes.clone(),
            required_roles: self.entra_required_roles.clone(),
            jwks_cooldown: self.entra_jwks_cooldown,
        };
        settings.validate()?;
        Ok(settings)
    }
}

/// Everything the Entra mode needs, already validated.
#[derive(Debug, Clone)]
pub struct EntraSettings {
    pub tenant_id: String,
    /// Accepted `aud` values: the app's client id and/or Application ID URI.
    pub audiences: Vec<String>,
    /// `https://login.microsoftonline.com` or a sovereign cloud (loopback
    /// `http://` is accepted for tests).
    pub authority: String,
    /// Claim holding the RLS user id.
    pub user_claim: String,
    /// Entra object id -> RLS user, for tokens without `user_claim`.
    pub user_map: HashMap<String, Uuid>,
    /// Delegated scopes (`scp`), any one of which admits a caller.
    pub required_scopes: Vec<String>,
    /// App roles (`roles`), any one of which admits a caller.
    pub required_roles: Vec<String>,
    /// Shortest time between two fetches of the signing keys.
    pub jwks_cooldown: Duration,
}

impl EntraSettings {
    pub fn issuer(&self) -> String {
        format!("{}/{}/v2.0", self.authority, self.tenant_id)
    }

    pub fn jwks_url(&self) -> String {
        format!("{}/{}/discovery/v2.0/keys", self.authority, self.tenant_id)
    }

    /// The scopes a client must ask Entra for, fully qualified
    /// (`api://<app>/Zava.Read`), as the challenge and metadata name them.
    pub fn qualified_scopes(&self) -> Vec<String> {
        let resource = self
            .audiences
            .iter()
            .find(|a| a.contains("://"))
            .cloned()
            .or_else(|| self.audiences.first().map(|a| format!("api://{a}")));
        self.required_scopes
            .iter()
            .map(|scope| match (&resource, scope.contains("://")) {
                (Some(resource), false) => format!("{}/{scope}", resource.trim_end_matches('/')),
                _ => scope.clone(),
            })
            .collect()
    }

    /// Reads the operator's `oid = "rls user id"` map (TOML: a `[users]`
    /// table).
    pub fn read_user_map(path: &Path) -> Result<HashMap<String, Uuid>, EntraSettingsError> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            users: HashMap<String, Uuid>,
        }
        let text =
            std::fs::read_to_string(path).map_err(|error| EntraSettingsError::ReadUserMap {
                path: path.to_path_buf(),
                error,
            })?;
        let file: File =
            toml::from_str(&text).map_err(|error| EntraSettingsError::MalformedUserMap {
                path: path.to_path_buf(),
                error,
            })?;
        Ok(file
            .users
            .into_iter()
            .map(|(oid, user)| (oid.to_ascii_lowercase(), user))
            .collect())
    }

    /// Refuses a tenant id that is not one, no audience, and an authority
    /// reached without TLS (loopback excepted).
    pub fn validate(&self) -> Result<(), EntraSettingsError> {
        if self.tenant_id.trim().is_empty()
            || !self
                .tenant_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            return Err(EntraSettingsError::TenantId);
        }
        if self.audiences.is_empty() {
            return Err(EntraSettingsError::NoAudience);
        }
        let authority = self.authority.trim_end_matches('/');
        let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
            .iter()
            .any(|prefix| {
                authority
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '/']))
            });
        if !authority.starts_with("https://") && !loopback {
            return Err(EntraSettingsError::Authority {
                authority: authority.into(),
            });
        }
        Ok(())
    }
}

/// Why the Entra settings cannot be used. Wrapped errors are part of the
/// message.
#[derive(Debug, thiserror::Error)]
pub enum EntraSettingsError {
    #[error("--entra-tenant-id is required with --identity entra")]
    NoTenantId,
    #[error("--entra-tenant-id must be the tenant's id (a GUID) or domain")]
    TenantId,
    #[error("--entra-audience is required with --identity entra")]
    NoAudience,
    #[error("--entra-authority must be an https:// URL (got {authority})")]
    Authority { authority: String },
    #[error("cannot read the user map {}: {error}", path.display())]
    ReadUserMap {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("the user map {} is malformed: {error}", path.display())]
    MalformedUserMap {
        path: PathBuf,
        error: toml::de::Error,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> EntraSettings {
        EntraSettings {
            tenant_id: "11111111-2222-3333-4444-555555555555".into(),
            audiences: vec![
                "api://zava-mcp".into(),
                "6f1c0000-0000-0000-0000-000000000001".into(),
            ],
            authority: DEFAULT_AUTHORITY.into(),
            user_claim: "rls_user_id".into(),
            user_map: HashMap::new(),
            required_scopes: vec!["Zava.Read".into()],
            required_roles: vec![],
            jwks_cooldown: Duration::from_secs(10),
        }
    }

    #[test]
    fn urls_follow_the_v2_endpoint() {
        let s = settings();
        assert_eq!(
            s.issuer(),
            "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0"
        );
        assert_eq!(
            s.jwks_url(),
            "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/discovery/v2.0/keys"
        );
        assert_eq!(s.qualified_scopes(), vec!["api://zava-mcp/Zava.Read"]);
        let guid_only = EntraSettings {
            audiences: vec!["6f1c0000-0000-0000-0000-000000000001".into()],
            ..settings()
        };
        assert_eq!(
            guid_only.qualified_scopes(),
            vec!["api://6f1c0000-0000-0000-0000-000000000001/Zava.Read"]
        );
    }

    #[test]
    fn authority_must_be_https_except_on_loopback() {
        for ok in [
            "https://login.microsoftonline.us",
            "http://127.0.0.1:8123",
            "http://localhost",
        ] {
            let s = EntraSettings {
                authority: ok.into(),
                ..settings()
            };
            assert!(s.validate().is_ok(), "{ok}");
        }
        for bad in [
            "http://login.microsoftonline.com",
            "http://127.0.0.1.evil.example",
            "ftp://x",
        ] {
            let s = EntraSettings {
                authority: bad.into(),
                ..settings()
            };
            assert!(s.validate().is_err(), "{bad}");
        }
        let s = EntraSettings {
            tenant_id: "a/../b".into(),
            ..settings()
        };
        assert!(s.validate().is_err());
    }
}
