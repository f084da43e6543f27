use std::error::Error as _;

use reqwest::StatusCode;

/// Why a request to a remote embeddings endpoint failed, by kind (the
/// provider layer turns it into [`crate::embeddings::EmbedError`], the one
/// error components and commands see).
///
/// Messages never contain API keys, client secrets or access tokens, so they
/// can be shown to users and logged as-is.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("rate limited: {0}")]
    RateLimited(String),
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("server error: {0}")]
    Server(String),
    #[error("timed out: {0}")]
    Timeout(String),
    #[error("transport error: {0}")]
    Transport(String),
    #[error("bad response: {0}")]
    BadResponse(String),
    #[error("configuration error: {0}")]
    Config(String),
}

impl RemoteError {
    /// Whether the same request may succeed if sent again later.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::RateLimited(_) | Self::Server(_) | Self::Timeout(_) | Self::Transport(_)
        )
    }
}

/// What a status-code error refers to, so messages can tell the user what to fix.
pub(super) struct StatusContext<'a> {
    /// e.g. "Azure OpenAI".
    pub service: &'a str,
    /// URL path without the query, e.g. "/openai/deployments/emb/embeddings".
    pub path: &'a str,
    /// e.g. "deployment 'emb'".
    pub target: &'a str,
    /// What to check when credentials are rejected.
    pub auth_hint: &'a str,
}

/// Maps a non-success status to an error; `detail` is the server's own message.
pub(super) fn from_status(status: StatusCode, detail: &str, cx: &StatusContext<'_>) -> RemoteError {
    let code = status.as_u16();
    let StatusContext {
        service,
        path,
        target,
        auth_hint,
    } = cx;
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => RemoteError::Unauthorized(format!(
            "{service} rejected the credentials (HTTP {code}): {detail}; {auth_hint}"
        )),
        StatusCode::NOT_FOUND => RemoteError::NotFound(format!(
            "{service} answered 404 for {path} ({target}): {detail}; check the endpoint URL and that the {target} exists"
        )),
        StatusCode::TOO_MANY_REQUESTS => {
            RemoteError::RateLimited(format!("{service} (HTTP 429): {detail}"))
        }
        StatusCode::REQUEST_TIMEOUT => {
            RemoteError::Timeout(format!("{service} (HTTP 408): {detail}"))
        }
        s if s.is_server_error() => {
            RemoteError::Server(format!("{service} (HTTP {code}): {detail}"))
        }
        // Other 4xx (400, 413, 422, ...) mean the request itself is wrong; resending won't help.
        _ => RemoteError::BadRequest(format!("{service} (HTTP {code}): {detail}")),
    }
}

/// Maps a reqwest send/read failure; `what` names the request, e.g. "embeddings request to host/path".
pub(super) fn from_reqwest(err: reqwest::Error, what: &str) -> RemoteError {
    let timed_out = err.is_timeout();
    // The URL is dropped because `what` already names the endpoint without the
    // query string. reqwest's own text is terse ("error sending request"); the
    // cause chain says whether it was DNS, refused, TLS, ..., which users need.
    let err = err.without_url();
    let mut msg = format!("{what}: {err}");
    let mut source = err.source();
    while let Some(cause) = source {
        msg.push_str(": ");
        msg.push_str(&cause.to_string());
        source = cause.source();
    }
    if timed_out {
        RemoteError::Timeout(msg)
    } else {
        RemoteError::Transport(msg)
    }
}
