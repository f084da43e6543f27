//! Binds each MCP session to the principal that opened it (not merely its RLS
//! user: two people mapped to one store still have separate sessions), so a session id
//! seen by someone else (logs, a shared proxy) cannot be used or ended by
//! another caller. A foreign session id is answered as if it did not exist.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::response::Response;
use http::StatusCode;
use rmcp::transport::common::http_header::HEADER_SESSION_ID;

/// rmcp ends idle sessions (5 minutes without a request or an open stream)
/// without telling us. An entry that no request has touched for this long is
/// forgotten; the margin covers a session kept alive only by its GET stream
/// (which passes the guard once, when it opens).
const IDLE: Duration = Duration::from_secs(2 * 3600);
/// Sweep idle entries once the map holds this many.
const SWEEP_ABOVE: usize = 4096;

struct Owner {
    principal: Arc<str>,
    seen: Instant,
}

#[derive(Default)]
pub struct SessionOwners {
    owners: Mutex<HashMap<String, Owner>>,
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
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Owner>> {
        self.owners.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn check(&self, session: &str, principal: &str) -> Ownership {
        match self.lock().get_mut(session) {
            Some(owner) if *owner.principal != *principal => Ownership::Foreign,
            Some(owner) => {
                owner.seen = Instant::now();
                Ownership::Allowed
            }
            None => Ownership::Allowed,
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
        let mut owners = self.lock();
        if owners.len() >= SWEEP_ABOVE {
            owners.retain(|_, owner| owner.seen.elapsed() < IDLE);
        }
        owners.insert(
            session.to_string(),
            Owner {
                principal: principal.clone(),
                seen: Instant::now(),
            },
        );
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
