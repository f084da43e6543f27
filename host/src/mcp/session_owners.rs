//! Binds each MCP session to the principal that opened it (not merely its RLS
//! user: two people mapped to one store still have separate sessions), so a session id
//! seen by someone else (logs, a shared proxy) cannot be used or ended by
//! another caller. A foreign session id is answered as if it did not exist.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::response::Response;
use http::StatusCode;
use rmcp::transport::common::http_header::HEADER_SESSION_ID;

#[derive(Default)]
pub struct SessionOwners {
    owners: Mutex<HashMap<String, Arc<str>>>,
}

/// What the guard should do with a request naming a session.
#[derive(Debug, PartialEq, Eq)]
pub enum Ownership {
    /// The caller opened it, or we have not seen it (rmcp decides).
    Allowed,
    /// Another identity opened it.
    Foreign,
}

impl SessionOwners {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<str>>> {
        self.owners.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn check(&self, session: &str, principal: &str) -> Ownership {
        match self.lock().get(session) {
            Some(owner) if **owner != *principal => Ownership::Foreign,
            _ => Ownership::Allowed,
        }
    }

    /// Updates the map from one answered request: a response that opened a
    /// session records its owner; a successful DELETE, or a 404 (the server
    /// no longer knows the session), forgets it.
    pub fn observe(
        &self,
        session: Option<&str>,
        is_delete: bool,
        response: &Response,
        principal: &Arc<str>,
    ) {
        let status = response.status();
        match session {
            None => {
                let opened = response.headers().get(HEADER_SESSION_ID);
                if let Some(opened) = opened.and_then(|v| v.to_str().ok()) {
                    self.opened(opened, principal);
                }
            }
            Some(id) if (is_delete && status.is_success()) || status == StatusCode::NOT_FOUND => {
                self.closed(id);
            }
            Some(_) => {}
        }
    }

    /// Records the owner of a session the server just created.
    pub fn opened(&self, session: &str, principal: &Arc<str>) {
        self.lock().insert(session.to_string(), principal.clone());
    }

    /// Forgets a session that was deleted or that the server no longer knows.
    pub fn closed(&self, session: &str) {
        self.lock().remove(session);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_opener_may_use_a_session() {
        let owners = SessionOwners::default();
        let (a, b): (Arc<str>, Arc<str>) = ("entra:t/a".into(), "entra:t/b".into());
        owners.opened("s1", &a);
        assert_eq!(owners.check("s1", &a), Ownership::Allowed);
        assert_eq!(owners.check("s1", &b), Ownership::Foreign);
        assert_eq!(owners.check("unknown", &b), Ownership::Allowed);
        owners.closed("s1");
        assert_eq!(owners.check("s1", &b), Ownership::Allowed);
    }
}
