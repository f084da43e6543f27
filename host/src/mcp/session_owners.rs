//! Binds each MCP session to the identity that opened it, so a session id
//! seen by someone else (logs, a shared proxy) cannot be used or ended by
//! another caller. A foreign session id is answered as if it did not exist.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::response::Response;
use http::StatusCode;
use rmcp::transport::common::http_header::HEADER_SESSION_ID;
use uuid::Uuid;

#[derive(Default)]
pub struct SessionOwners {
    owners: Mutex<HashMap<String, Uuid>>,
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
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Uuid>> {
        self.owners.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn check(&self, session: &str, subject: Uuid) -> Ownership {
        match self.lock().get(session) {
            Some(owner) if *owner != subject => Ownership::Foreign,
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
        subject: Uuid,
    ) {
        let status = response.status();
        match session {
            None => {
                let opened = response.headers().get(HEADER_SESSION_ID);
                if let Some(opened) = opened.and_then(|v| v.to_str().ok()) {
                    self.opened(opened, subject);
                }
            }
            Some(id) if (is_delete && status.is_success()) || status == StatusCode::NOT_FOUND => {
                self.closed(id);
            }
            Some(_) => {}
        }
    }

    /// Records the owner of a session the server just created.
    pub fn opened(&self, session: &str, subject: Uuid) {
        self.lock().insert(session.to_string(), subject);
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
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        owners.opened("s1", a);
        assert_eq!(owners.check("s1", a), Ownership::Allowed);
        assert_eq!(owners.check("s1", b), Ownership::Foreign);
        assert_eq!(owners.check("unknown", b), Ownership::Allowed);
        owners.closed("s1");
        assert_eq!(owners.check("s1", b), Ownership::Allowed);
    }
}
