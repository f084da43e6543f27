//! What every `/mcp` request passes before rmcp sees it:
//! 1. `Host` must be one we serve (DNS-rebinding defence) -> else 403;
//! 2. `Origin`, when present, must be allowed (cross-site defence) -> else 403;
//! 3. the caller must authenticate -> else 401 (403 for a missing scope, 503
//!    when the identity provider cannot be reached) with a `WWW-Authenticate`
//!    challenge. The [`Identity`](crate::identity::Identity) is attached to
//!    the request for the MCP handler;
//! 4. an `Mcp-Session-Id` must be one visible-ASCII token (one header) -> else
//!    400: rmcp and this guard must agree on whether a request names a
//!    session, and both read an unreadable value as "none";
//! 5. a request naming a session opened by another identity -> 404, as if the
//!    session did not exist ([`Sessions`]).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use rmcp::transport::common::http_header::HEADER_SESSION_ID;

use super::jsonrpc;
use super::sessions::{Ownership, Sessions};
use crate::identity::{AuthError, PublicBase, SharedAuthenticator};
use crate::metrics::{Metrics, StatusLabel};

pub struct Guard {
    pub allowed_hosts: Vec<String>,
    pub allowed_origins: Vec<String>,
    pub authenticator: SharedAuthenticator,
    pub sessions: Arc<Sessions>,
    /// `--public-url`; without it, URLs are built from the request.
    pub public_url: Option<String>,
    pub metrics: Arc<Metrics>,
}

impl Guard {
    /// The base URL a client used to reach us. The Host header has passed
    /// [`check_host`] by the time this is used; the scheme comes from the
    /// TLS-terminating proxy's `X-Forwarded-Proto` (Azure Container Apps
    /// sets it), else plain HTTP.
    pub fn public_base(&self, headers: &HeaderMap) -> PublicBase {
        if let Some(url) = &self.public_url {
            return PublicBase(url.trim_end_matches('/').to_string());
        }
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        let scheme = match headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
        {
            Some(p) if p.eq_ignore_ascii_case("https") => "https",
            _ => "http",
        };
        PublicBase(format!("{scheme}://{host}"))
    }

    /// The answer to a request without a usable identity.
    fn refuse(&self, error: &AuthError, headers: &HeaderMap) -> Response {
        self.metrics
            .auth_refusals
            .get_or_create(&StatusLabel {
                status: error.status().as_u16().to_string(),
            })
            .inc();
        let mut response = jsonrpc::error_response(
            error.status(),
            None,
            jsonrpc::INVALID_REQUEST,
            &error.to_string(),
        );
        let challenge = self
            .authenticator
            .challenge(error, &self.public_base(headers));
        if let Some(value) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

pub async fn guard(State(guard): State<Arc<Guard>>, mut request: Request, next: Next) -> Response {
    if let Err(reason) = check_host(request.headers(), &guard.allowed_hosts) {
        tracing::warn!(reason, "request refused (Host)");
        return forbidden(reason);
    }
    if let Err(reason) = check_origin(request.headers(), &guard.allowed_origins) {
        tracing::warn!(reason, "request refused (Origin)");
        return forbidden(reason);
    }
    match guard.authenticator.authenticate(request.headers()).await {
        Ok(identity) => {
            let principal = identity.principal.clone();
            let session = match session_id(request.headers()) {
                Ok(session) => session,
                Err(reason) => {
                    return jsonrpc::error_response(
                        StatusCode::BAD_REQUEST,
                        None,
                        jsonrpc::INVALID_REQUEST,
                        &format!("Bad Request: {reason}"),
                    );
                }
            };
            if let Some(id) = session
                && guard.sessions.admit(id, &principal) == Ownership::Foreign
            {
                tracing::warn!(%principal, "request refused: session belongs to another identity");
                return (StatusCode::NOT_FOUND, "Not Found: Session not found").into_response();
            }
            let is_delete = request.method() == http::Method::DELETE;
            request.extensions_mut().insert(identity);
            let mut response = next.run(request).await;
            // rmcp answers a session DELETE with 202; the spec names no code,
            // and the official Python SDK reports anything but 200/204 as a
            // failed termination.
            if is_delete && response.status() == StatusCode::ACCEPTED {
                *response.status_mut() = StatusCode::OK;
            }
            response
        }
        Err(error) => {
            if !matches!(error, AuthError::Missing(_)) {
                tracing::warn!(%error, "request refused (identity)");
            }
            guard.refuse(&error, request.headers())
        }
    }
}

/// The session a request names: none, or exactly one `Mcp-Session-Id` of
/// visible ASCII (what session ids are made of).
fn session_id(headers: &HeaderMap) -> Result<Option<&str>, &'static str> {
    let mut values = headers.get_all(HEADER_SESSION_ID).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err("more than one Mcp-Session-Id header");
    }
    let bytes = value.as_bytes();
    if bytes.is_empty() || bytes.len() > 256 || !bytes.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return Err("Mcp-Session-Id must be 1 to 256 visible ASCII characters");
    }
    Ok(value.to_str().ok())
}

fn forbidden(reason: &'static str) -> Response {
    (StatusCode::FORBIDDEN, format!("Forbidden: {reason}")).into_response()
}

/// Splits `host[:port]` (IPv6 in brackets) into a lower-case host and port.
fn split_authority(authority: &str) -> Option<(String, Option<u16>)> {
    let authority = authority.trim();
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        // Nothing but `:port` may follow the bracket (`[::1]evil` is not a host).
        if !after.is_empty() && !after.starts_with(':') {
            return None;
        }
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') => (host, Some(port)),
            _ => (authority, None),
        }
    };
    let port = match port {
        Some(p) => Some(p.parse().ok()?),
        None => None,
    };
    if host.is_empty() {
        return None;
    }
    Some((host.to_ascii_lowercase(), port))
}

/// Allowed entries are `host` (any port) or `host:port`.
pub fn check_host(headers: &HeaderMap, allowed: &[String]) -> Result<(), &'static str> {
    if allowed.iter().any(|a| a == "*") {
        return Ok(());
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .ok_or("missing or unreadable Host header")?;
    let (host, port) = split_authority(host).ok_or("malformed Host header")?;
    let ok = allowed
        .iter()
        .filter_map(|a| split_authority(a))
        .any(|(h, p)| h == host && (p.is_none() || p == port));
    if ok {
        Ok(())
    } else {
        Err("Host header is not allowed")
    }
}

/// Allowed entries are `scheme://host`, `scheme://host:port`,
/// `scheme://host:*` or the literal `null`. No `Origin` (non-browser clients
/// such as VS Code) passes.
fn check_origin(headers: &HeaderMap, allowed: &[String]) -> Result<(), &'static str> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().map_err(|_| "unreadable Origin header")?;
    if allowed
        .iter()
        .any(|a| a == "*" || (a == "null" && origin == "null"))
    {
        return Ok(());
    }
    let origin = parse_origin(origin).ok_or("malformed Origin header")?;
    if allowed
        .iter()
        .filter_map(|a| parse_allowed_origin(a))
        .any(|a| a.matches(&origin))
    {
        Ok(())
    } else {
        Err("Origin is not allowed")
    }
}

/// An `Origin` as (scheme, host, port), scheme and host lower-cased.
#[derive(Debug, PartialEq)]
struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

/// An allow-list entry; `port: None` means any port (`:*`).
struct AllowedOrigin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

impl AllowedOrigin {
    fn matches(&self, origin: &Origin) -> bool {
        self.scheme == origin.scheme
            && self.host == origin.host
            && self.port.is_none_or(|p| p == origin.port)
    }
}

fn parse_allowed_origin(entry: &str) -> Option<AllowedOrigin> {
    let (base, any_port) = match entry.strip_suffix(":*") {
        Some(base) => (base, true),
        None => (entry, false),
    };
    let origin = parse_origin(base)?;
    Some(AllowedOrigin {
        scheme: origin.scheme,
        host: origin.host,
        port: (!any_port).then_some(origin.port),
    })
}

fn default_port(scheme: &str) -> u16 {
    if scheme.eq_ignore_ascii_case("https") {
        443
    } else {
        80
    }
}

fn parse_origin(origin: &str) -> Option<Origin> {
    let (scheme, authority) = origin.split_once("://")?;
    let (host, port) = split_authority(authority.trim_end_matches('/'))?;
    Some(Origin {
        scheme: scheme.to_ascii_lowercase(),
        host,
        port: port.unwrap_or_else(|| default_port(scheme)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: header::HeaderName, value: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(name, value.parse().unwrap());
        map
    }

    fn hosts() -> Vec<String> {
        vec![
            "localhost".into(),
            "127.0.0.1".into(),
            "[::1]".into(),
            "mcp.example.com:443".into(),
        ]
    }

    #[test]
    fn loopback_hosts_on_any_port_are_allowed() {
        for host in [
            "localhost:8000",
            "127.0.0.1:1234",
            "[::1]:8000",
            "LOCALHOST",
        ] {
            assert_eq!(
                check_host(&headers(header::HOST, host), &hosts()),
                Ok(()),
                "{host}"
            );
        }
    }

    #[test]
    fn rebinding_hosts_and_wrong_ports_are_refused() {
        for host in [
            "evil.example:8000",
            "mcp.example.com:8443",
            "127.0.0.1.evil.example",
            "[::1]evil.example",
        ] {
            assert!(
                check_host(&headers(header::HOST, host), &hosts()).is_err(),
                "{host}"
            );
        }
        assert!(check_host(&HeaderMap::new(), &hosts()).is_err());
    }

    #[test]
    fn origins_match_scheme_host_and_port() {
        let allowed = vec![
            "http://localhost:*".to_string(),
            "https://app.example.com".to_string(),
        ];
        let check = |o: &str| check_origin(&headers(header::ORIGIN, o), &allowed);
        assert_eq!(check("http://localhost:6274"), Ok(()));
        assert_eq!(check("https://app.example.com"), Ok(()));
        assert_eq!(check("https://app.example.com:443"), Ok(()));
        assert!(check("https://app.example.com:8443").is_err());
        assert!(check("https://evil.example").is_err());
        assert!(check("http://localhost.evil.example:80").is_err());
        assert!(check("null").is_err());
        assert_eq!(check_origin(&HeaderMap::new(), &allowed), Ok(()));
    }
}
