//! The handshake-era sessions this replica serves, in one book:
//! - who opened each one: a session is usable only by the principal that
//!   opened it (not merely its RLS user: two people mapped to one store
//!   still have separate sessions), and a foreign id is answered as if it
//!   did not exist;
//! - how many each principal holds, capped so one identity cannot fill the
//!   server with sessions;
//! - each session's peer, told when the tool list changes (on its GET
//!   stream), and each 2026-07-28 `subscriptions/listen` stream (which
//!   counts against its principal like a session).
//!
//! Every operation is O(1) (hash maps keyed by session id and principal);
//! telling peers about a change is O(sessions) by nature. Sessions leave the
//! book exactly when rmcp closes them — DELETE, idle expiry, shutdown —
//! through [`TrackingSessionManager`].
//!
//! With a database, sessions outlive this replica ([`SessionRows`]): the
//! owner is recorded there when a session opens, and a request naming a
//! session this replica has not seen is checked against it before rmcp
//! restores the session here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::service::SubscriptionSink;
use rmcp::transport::streamable_http_server::session::local::{
    LocalSessionManager, LocalSessionManagerError,
};
use rmcp::transport::streamable_http_server::session::{
    RestoreOutcome, ServerSseMessage, SessionId, SessionManager,
};
use rmcp::{Peer, RoleServer};

use crate::db::sessions::SessionRows;
use crate::runtime::registry::Registry;

/// What the guard should do with a request naming a session.
#[derive(Debug, PartialEq, Eq)]
pub enum Ownership {
    /// The caller opened it, or this replica has not seen it (rmcp decides).
    Allowed,
    /// Another identity opened it.
    Foreign,
}

/// Why a principal may not open another session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "too many open sessions: you hold {open} of at most {max}; end one (HTTP DELETE) or let idle ones expire"
)]
pub struct TooManySessions {
    pub open: usize,
    pub max: usize,
}

struct Owner {
    principal: Arc<str>,
    /// When the session's row was last marked as used.
    touched: Instant,
}

/// How often a session in use has its row's `last_seen` renewed.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

#[derive(Default)]
struct Book {
    owners: HashMap<SessionId, Owner>,
    /// Sessions held and being opened, per principal.
    counts: HashMap<Arc<str>, usize>,
    peers: HashMap<SessionId, Peer<RoleServer>>,
    listeners: HashMap<u64, SubscriptionSink>,
    next_listener: u64,
}

impl Book {
    fn decrement(&mut self, principal: &Arc<str>) {
        if let Some(count) = self.counts.get_mut(principal) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.counts.remove(principal);
            }
        }
    }
}

pub struct Sessions {
    book: Mutex<Book>,
    max_per_principal: usize,
    rows: Option<Arc<SessionRows>>,
}

/// A registered listen stream; dropping it unregisters the stream and gives
/// its principal's place back.
pub struct Listener {
    sessions: Arc<Sessions>,
    id: u64,
    principal: Arc<str>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        let mut book = self.sessions.lock();
        book.listeners.remove(&self.id);
        book.decrement(&self.principal);
    }
}

impl Default for Sessions {
    fn default() -> Self {
        Self::new(0)
    }
}

impl Sessions {
    /// `max_per_principal` 0 means unlimited.
    pub fn new(max_per_principal: usize) -> Self {
        Self {
            book: Mutex::new(Book::default()),
            max_per_principal,
            rows: None,
        }
    }

    /// Keeps sessions in PostgreSQL as well, for every replica.
    pub fn with_rows(mut self, rows: Option<Arc<SessionRows>>) -> Self {
        self.rows = rows;
        self
    }

    /// Whether sessions are shared through the database.
    pub fn shared(&self) -> bool {
        self.rows.is_some()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `principal` may use `session` on this replica.
    pub fn check(&self, session: &str, principal: &str) -> Ownership {
        match self.lock().owners.get(session) {
            Some(owner) if *owner.principal != *principal => Ownership::Foreign,
            _ => Ownership::Allowed,
        }
    }

    /// [`Sessions::check`], asking the database about sessions this replica
    /// has not seen (opened elsewhere, or closed here after idling): the
    /// owner found there is adopted, and rmcp then restores the session.
    pub async fn admit(&self, session: &str, principal: &Arc<str>) -> Ownership {
        let touch = {
            let mut book = self.lock();
            match book.owners.get_mut(session) {
                Some(owner) if *owner.principal != **principal => return Ownership::Foreign,
                Some(owner) => {
                    let stale = owner.touched.elapsed() >= TOUCH_EVERY;
                    if stale {
                        owner.touched = Instant::now();
                    }
                    Some(stale)
                }
                None => None,
            }
        };
        let Some(rows) = &self.rows else {
            return Ownership::Allowed;
        };
        match touch {
            Some(true) => {
                let (rows, session) = (rows.clone(), session.to_string());
                tokio::spawn(async move { rows.touch(&session).await });
                Ownership::Allowed
            }
            Some(false) => Ownership::Allowed,
            None => match rows.owner(session).await {
                Some(owner) if *owner != **principal => Ownership::Foreign,
                Some(_) => {
                    self.adopt(session, principal);
                    Ownership::Allowed
                }
                None => Ownership::Allowed,
            },
        }
    }

    /// A session opened elsewhere is served here from now on.
    fn adopt(&self, session: &str, principal: &Arc<str>) {
        let mut book = self.lock();
        if !book.owners.contains_key(session) {
            *book.counts.entry(principal.clone()).or_default() += 1;
            book.owners.insert(
                session.into(),
                Owner {
                    principal: principal.clone(),
                    touched: Instant::now(),
                },
            );
        }
    }

    /// Holds a place for a session `principal` is opening, or says why not.
    /// Followed by [`Sessions::opened`] or [`Sessions::release`].
    pub fn reserve(&self, principal: &Arc<str>) -> Result<(), TooManySessions> {
        let mut book = self.lock();
        let count = book.counts.entry(principal.clone()).or_default();
        if self.max_per_principal > 0 && *count >= self.max_per_principal {
            return Err(TooManySessions {
                open: *count,
                max: self.max_per_principal,
            });
        }
        *count += 1;
        Ok(())
    }

    /// A reserved place that did not become a session.
    pub fn release(&self, principal: &Arc<str>) {
        self.lock().decrement(principal);
    }

    /// The session `principal` reserved a place for now exists; its owner
    /// is recorded for every replica before the client learns its id.
    pub async fn opened(&self, session: &str, principal: &Arc<str>) {
        {
            let mut book = self.lock();
            let owner = Owner {
                principal: principal.clone(),
                touched: Instant::now(),
            };
            if let Some(previous) = book.owners.insert(session.into(), owner) {
                // The same id again (cannot happen with random ids): keep the
                // count of the previous owner right.
                book.decrement(&previous.principal);
            }
        }
        if let Some(rows) = &self.rows {
            rows.bind_owner(session, principal).await;
        }
    }

    /// rmcp closed the session (DELETE, idle expiry, shutdown). Idempotent:
    /// rmcp reports a DELETE twice.
    pub fn closed(&self, session: &str) {
        let mut book = self.lock();
        book.peers.remove(session);
        if let Some(owner) = book.owners.remove(session) {
            book.decrement(&owner.principal);
        }
    }

    /// The peer of a session that finished its handshake.
    pub fn add_peer(&self, session: &str, peer: Peer<RoleServer>) {
        self.lock().peers.insert(session.into(), peer);
    }

    /// Registers a listen stream of `principal`, if it may hold one more.
    pub fn add_listener(
        self: &Arc<Self>,
        principal: &Arc<str>,
        sink: SubscriptionSink,
    ) -> Result<Listener, TooManySessions> {
        self.reserve(principal)?;
        let mut book = self.lock();
        let id = book.next_listener;
        book.next_listener += 1;
        book.listeners.insert(id, sink);
        Ok(Listener {
            sessions: self.clone(),
            id,
            principal: principal.clone(),
        })
    }

    /// Sessions this replica serves (listen streams included).
    pub fn count(&self) -> usize {
        let book = self.lock();
        book.owners.len() + book.listeners.len()
    }

    /// Sessions `principal` holds or is opening.
    pub fn held_by(&self, principal: &str) -> usize {
        self.lock().counts.get(principal).copied().unwrap_or(0)
    }

    /// Tells every session's GET stream and every listen stream that the
    /// tool list changed.
    pub async fn notify_tool_list_changed(&self) {
        let (peers, listeners): (Vec<Peer<RoleServer>>, Vec<SubscriptionSink>) = {
            let book = self.lock();
            (
                book.peers.values().cloned().collect(),
                book.listeners.values().cloned().collect(),
            )
        };
        let sends = peers.iter().map(|peer| peer.notify_tool_list_changed());
        for result in futures::future::join_all(sends).await {
            if let Err(error) = result {
                tracing::debug!(%error, "could not notify a session of the tool list change");
            }
        }
        let sends = listeners.iter().map(|sink| sink.notify_tool_list_changed());
        for result in futures::future::join_all(sends).await {
            if let Err(error) = result {
                tracing::debug!(
                    ?error,
                    "could not notify a listen stream of the tool list change"
                );
            }
        }
    }

    /// Forwards every registry change to the sessions until the registry goes.
    pub async fn forward_changes(self: Arc<Self>, registry: Arc<Registry>) {
        let mut changes = registry.subscribe();
        drop(registry);
        while changes.changed().await.is_ok() {
            self.notify_tool_list_changed().await;
        }
    }
}

/// rmcp's in-memory session manager, reporting to the book when a session
/// ends (rmcp has no hook of its own for that).
pub struct TrackingSessionManager {
    inner: LocalSessionManager,
    sessions: Arc<Sessions>,
}

impl TrackingSessionManager {
    pub fn new(sessions: Arc<Sessions>) -> Self {
        Self {
            inner: LocalSessionManager::default(),
            sessions,
        }
    }
}

impl SessionManager for TrackingSessionManager {
    type Error = LocalSessionManagerError;
    type Transport = <LocalSessionManager as SessionManager>::Transport;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        self.inner.create_session().await
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        self.inner.initialize_session(id, message).await
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        self.inner.has_session(id).await
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        self.sessions.closed(id);
        self.inner.close_session(id).await
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl futures::Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error>
    {
        self.inner.create_stream(id, message).await
    }

    async fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<(), Self::Error> {
        self.inner.accept_message(id, message).await
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl futures::Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error>
    {
        self.inner.create_standalone_stream(id).await
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl futures::Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error>
    {
        self.inner.resume(id, last_event_id).await
    }

    async fn restore_session(
        &self,
        id: SessionId,
    ) -> Result<RestoreOutcome<Self::Transport>, Self::Error> {
        self.inner.restore_session(id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_the_opener_may_use_a_session_and_counts_follow_closes() {
        let sessions = Sessions::new(2);
        let (a, b): (Arc<str>, Arc<str>) = ("entra:t/a".into(), "entra:t/b".into());
        sessions.reserve(&a).unwrap();
        sessions.opened("s1", &a).await;
        assert_eq!(sessions.check("s1", &a), Ownership::Allowed);
        assert_eq!(sessions.check("s1", &b), Ownership::Foreign);
        assert_eq!(sessions.check("unknown", &b), Ownership::Allowed);
        sessions.reserve(&a).unwrap();
        assert_eq!(
            sessions.reserve(&a),
            Err(TooManySessions { open: 2, max: 2 })
        );
        // Another principal is not affected.
        sessions.reserve(&b).unwrap();
        sessions.release(&b);
        // A failed open gives its place back; a close (reported twice) too.
        sessions.release(&a);
        assert_eq!(sessions.held_by(&a), 1);
        sessions.closed("s1");
        sessions.closed("s1");
        assert_eq!((sessions.held_by(&a), sessions.count()), (0, 0));
        assert_eq!(sessions.check("s1", &b), Ownership::Allowed);
    }
}
