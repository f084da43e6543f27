//! The handshake-era sessions this replica serves, in one book:
//! - who opened each one: a session is usable only by the principal that
//!   opened it (not merely its RLS user: two people mapped to one store
//!   still have separate sessions), and a foreign id is answered as if it
//!   did not exist;
//! - how many each principal holds, capped so one identity cannot fill the
//!   server with sessions;
//! - each session's peer, told when the tool, prompt or resource list
//!   changes or a resource it follows does (on its GET stream), with the
//!   log level and subscriptions it asked for; and each 2026-07-28
//!   `subscriptions/listen` stream (which counts against its principal like
//!   a session).
//!
//! Every operation is O(1) (hash maps keyed by session id and principal);
//! telling peers about a change is O(sessions) by nature.
//!
//! The book follows rmcp's own session map exactly, through
//! [`TrackingSessionManager`]: a session enters it when rmcp creates or
//! restores it and leaves when rmcp closes it (DELETE, idle expiry,
//! shutdown). Whose request is being served reaches the session manager
//! and the session store as a task-local ([`RequestScope`]) set by the
//! guard and the admission layer, so no session exists — in memory or in
//! PostgreSQL — without its owner, and none is restored for anyone else.
//!
//! With a database, sessions outlive this replica ([`SessionRows`], behind
//! [`OwnedSessionStore`]): a row is written with its owner, read back only
//! for that owner, and deleted only by that owner.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmcp::model::{ClientJsonRpcMessage, ResourceUpdatedNotificationParam, ServerJsonRpcMessage};
use rmcp::service::SubscriptionSink;
use rmcp::transport::streamable_http_server::session::local::{
    LocalSessionManager, LocalSessionManagerError,
};
use rmcp::transport::streamable_http_server::session::{
    RestoreOutcome, ServerSseMessage, SessionId, SessionManager,
};
use rmcp::{Peer, RoleServer};

use rmcp::transport::streamable_http_server::session::store::{
    SessionState, SessionStore, SessionStoreError,
};

use crate::capabilities::client::Severity;
use crate::db::sessions::SessionRows;
use crate::runtime::registry::{Catalog, ListChanges, Registry};

/// What the guard should do with a request naming a session.
#[derive(Debug, PartialEq, Eq)]
pub enum Ownership {
    /// The caller opened it, or this replica has not seen it (rmcp decides,
    /// restoring only the caller's own sessions).
    Allowed,
    /// Another identity opened it.
    Foreign,
}

/// Why a principal may not open another session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TooManySessions {
    #[error(
        "too many open sessions: you hold {open} of at most {max}; end one (HTTP DELETE) or let idle ones expire"
    )]
    Yours { open: usize, max: usize },
    #[error(
        "this server holds as many sessions as it allows ({max}); retry shortly or on another replica"
    )]
    Server { max: usize },
}

tokio::task_local! {
    /// Whose request this task is serving (set by the guard for every
    /// `/mcp` request) and, for an admitted `initialize`, its reservation.
    static REQUEST: RequestScope;
}

/// The request a task serves, as the session manager and store see it.
#[derive(Clone)]
pub struct RequestScope {
    pub principal: Arc<str>,
    /// Set only for an `initialize` that passed admission.
    pub opening: Option<Arc<Reservation>>,
}

impl RequestScope {
    /// Runs `future` (the rest of the request) in this scope.
    pub async fn run<F: std::future::Future>(self, future: F) -> F::Output {
        REQUEST.scope(self, future).await
    }

    fn current() -> Option<Self> {
        REQUEST.try_with(Clone::clone).ok()
    }
}

/// A place held for a session being opened. Dropped without becoming a
/// session (the handshake failed, the client went away mid-request), it
/// gives the place back.
pub struct Reservation {
    sessions: Arc<Sessions>,
    principal: Arc<str>,
    used: std::sync::atomic::AtomicBool,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.used.load(std::sync::atomic::Ordering::Acquire) {
            self.sessions.lock().decrement(&self.principal);
        }
    }
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
    /// Sessions and listen streams held and being opened, per principal.
    counts: HashMap<Arc<str>, usize>,
    /// The sum of `counts`.
    total: usize,
    peers: HashMap<SessionId, Peer<RoleServer>>,
    /// What each session asked for (`logging/setLevel`, resource
    /// subscriptions). Per replica, like the GET stream it concerns.
    asked: HashMap<SessionId, Asked>,
    listeners: HashMap<u64, ListenStream>,
    next_listener: u64,
}

#[derive(Default)]
struct Asked {
    log_level: Option<Severity>,
    subscriptions: HashSet<String>,
}

/// A 2026-07-28 `subscriptions/listen` stream and the resources it follows.
struct ListenStream {
    sink: SubscriptionSink,
    resources: Vec<String>,
}

/// Most resources one session or listen stream may follow.
pub const MAX_SUBSCRIPTIONS: usize = 100;

/// Why a subscription was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a session may follow at most {MAX_SUBSCRIPTIONS} resources; unsubscribe from one first")]
pub struct TooManySubscriptions;

impl Book {
    fn decrement(&mut self, principal: &Arc<str>) {
        if let Some(count) = self.counts.get_mut(principal) {
            *count = count.saturating_sub(1);
            self.total = self.total.saturating_sub(1);
            if *count == 0 {
                self.counts.remove(principal);
            }
        }
    }

    fn increment(&mut self, principal: &Arc<str>) {
        *self.counts.entry(principal.clone()).or_default() += 1;
        self.total += 1;
    }
}

pub struct Sessions {
    book: Mutex<Book>,
    max_per_principal: usize,
    /// Over all principals (0: no limit).
    max_total: usize,
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
            max_total: 0,
            rows: None,
        }
    }

    /// At most `max` sessions and listen streams over all principals.
    pub fn with_max_total(mut self, max: usize) -> Self {
        self.max_total = max;
        self
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

    /// [`Sessions::check`] for a request in `session`, marking a session
    /// in use as seen (in the database, at most once a minute). A session
    /// this replica does not hold is rmcp's to restore, which it does only
    /// for its owner ([`OwnedSessionStore`]).
    pub fn admit(&self, session: &str, principal: &Arc<str>) -> Ownership {
        let stale = {
            let mut book = self.lock();
            match book.owners.get_mut(session) {
                Some(owner) if *owner.principal != **principal => return Ownership::Foreign,
                Some(owner) => {
                    let stale = owner.touched.elapsed() >= TOUCH_EVERY;
                    if stale {
                        owner.touched = Instant::now();
                    }
                    stale
                }
                None => false,
            }
        };
        if let (true, Some(rows)) = (stale, &self.rows) {
            let (rows, session) = (rows.clone(), session.to_string());
            tokio::spawn(async move { rows.touch(&session).await });
        }
        Ownership::Allowed
    }

    /// Holds a place for a session `principal` is opening, or says why not.
    /// The place is given back when the reservation is dropped unused.
    pub fn reserve(self: &Arc<Self>, principal: &Arc<str>) -> Result<Reservation, TooManySessions> {
        self.take_place(principal)?;
        Ok(Reservation {
            sessions: self.clone(),
            principal: principal.clone(),
            used: false.into(),
        })
    }

    fn take_place(&self, principal: &Arc<str>) -> Result<(), TooManySessions> {
        let mut book = self.lock();
        let open = book.counts.get(principal).copied().unwrap_or(0);
        if self.max_per_principal > 0 && open >= self.max_per_principal {
            return Err(TooManySessions::Yours {
                open,
                max: self.max_per_principal,
            });
        }
        if self.max_total > 0 && book.total >= self.max_total {
            return Err(TooManySessions::Server {
                max: self.max_total,
            });
        }
        book.increment(principal);
        Ok(())
    }

    /// rmcp created `session` for the reservation's principal.
    fn created(&self, session: &str, reservation: &Reservation) {
        reservation
            .used
            .store(true, std::sync::atomic::Ordering::Release);
        let mut book = self.lock();
        let owner = Owner {
            principal: reservation.principal.clone(),
            touched: Instant::now(),
        };
        if let Some(previous) = book.owners.insert(session.into(), owner) {
            // The same id again (cannot happen with random ids): keep the
            // count of the previous owner right.
            book.decrement(&previous.principal);
        }
    }

    /// Whether `principal` may have a session restored here (a place under
    /// the caps); if so the session is theirs in this replica's book.
    fn restoring(&self, session: &str, principal: &Arc<str>) -> Result<(), TooManySessions> {
        self.take_place(principal)?;
        let mut book = self.lock();
        let owner = Owner {
            principal: principal.clone(),
            touched: Instant::now(),
        };
        if let Some(previous) = book.owners.insert(session.into(), owner) {
            book.decrement(&previous.principal);
        }
        Ok(())
    }

    /// rmcp closed the session (DELETE, idle expiry, shutdown). Idempotent:
    /// rmcp reports a DELETE twice.
    pub fn closed(&self, session: &str) {
        let mut book = self.lock();
        book.peers.remove(session);
        book.asked.remove(session);
        if let Some(owner) = book.owners.remove(session) {
            book.decrement(&owner.principal);
        }
    }

    /// The peer of a session that finished its handshake.
    pub fn add_peer(&self, session: &str, peer: Peer<RoleServer>) {
        self.lock().peers.insert(session.into(), peer);
    }

    /// Whether `session` is open on this replica and `principal`'s.
    pub fn owns(&self, session: &str, principal: &str) -> bool {
        self.lock()
            .owners
            .get(session)
            .is_some_and(|owner| *owner.principal == *principal)
    }

    /// The level `session` asked its log messages at (`logging/setLevel`).
    pub fn log_level(&self, session: &str) -> Option<Severity> {
        self.lock().asked.get(session).and_then(|a| a.log_level)
    }

    pub fn set_log_level(&self, session: &str, level: Severity) {
        self.lock()
            .asked
            .entry(session.into())
            .or_default()
            .log_level = Some(level);
    }

    /// `session` follows `uri` (`resources/subscribe`).
    pub fn subscribe(&self, session: &str, uri: &str) -> Result<(), TooManySubscriptions> {
        let mut book = self.lock();
        let subscriptions = &mut book.asked.entry(session.into()).or_default().subscriptions;
        if !subscriptions.contains(uri) && subscriptions.len() >= MAX_SUBSCRIPTIONS {
            return Err(TooManySubscriptions);
        }
        subscriptions.insert(uri.into());
        Ok(())
    }

    pub fn unsubscribe(&self, session: &str, uri: &str) {
        if let Some(asked) = self.lock().asked.get_mut(session) {
            asked.subscriptions.remove(uri);
        }
    }

    /// Registers a listen stream of `principal` following `resources`, if
    /// it may hold one more.
    pub fn add_listener(
        self: &Arc<Self>,
        principal: &Arc<str>,
        sink: SubscriptionSink,
        resources: Vec<String>,
    ) -> Result<Listener, TooManySessions> {
        self.take_place(principal)?;
        let mut book = self.lock();
        let id = book.next_listener;
        book.next_listener += 1;
        book.listeners.insert(id, ListenStream { sink, resources });
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

    /// Tells every session's GET stream and every listen stream what
    /// changed from `before` to `after`: each list that changed, and each
    /// resource it follows whose component changed.
    pub async fn notify_changes(&self, before: &Catalog, after: &Catalog) {
        let changes = ListChanges::between(before, after);
        let updated = |uri: &String| ListChanges::resource_updated(before, after, uri);
        let (peers, listeners) = {
            let book = self.lock();
            let peers: Vec<(Peer<RoleServer>, Vec<String>)> = book
                .peers
                .iter()
                .map(|(id, peer)| {
                    let followed = book.asked.get(id).map_or_else(Vec::new, |asked| {
                        asked
                            .subscriptions
                            .iter()
                            .filter(|u| updated(u))
                            .cloned()
                            .collect()
                    });
                    (peer.clone(), followed)
                })
                .collect();
            let listeners: Vec<(SubscriptionSink, Vec<String>)> = book
                .listeners
                .values()
                .map(|l| {
                    let followed = l.resources.iter().filter(|u| updated(u)).cloned().collect();
                    (l.sink.clone(), followed)
                })
                .collect();
            (peers, listeners)
        };
        let sends = peers.iter().map(|(peer, followed)| async move {
            if changes.tools {
                peer.notify_tool_list_changed().await?;
            }
            if changes.prompts {
                peer.notify_prompt_list_changed().await?;
            }
            if changes.resources {
                peer.notify_resource_list_changed().await?;
            }
            for uri in followed {
                peer.notify_resource_updated(ResourceUpdatedNotificationParam::new(uri.clone()))
                    .await?;
            }
            Ok::<_, rmcp::service::ServiceError>(())
        });
        for result in futures::future::join_all(sends).await {
            if let Err(error) = result {
                tracing::debug!(%error, "could not notify a session of a change");
            }
        }
        let sends = listeners.iter().map(|(sink, followed)| async move {
            if changes.tools {
                sink.notify_tool_list_changed().await?;
            }
            if changes.prompts {
                sink.notify_prompt_list_changed().await?;
            }
            if changes.resources {
                sink.notify_resource_list_changed().await?;
            }
            for uri in followed {
                sink.notify_resource_updated(uri.clone()).await?;
            }
            Ok::<_, rmcp::service::SubscriptionSendError>(())
        });
        for result in futures::future::join_all(sends).await {
            if let Err(error) = result {
                tracing::debug!(?error, "could not notify a listen stream of a change");
            }
        }
    }

    /// Forwards every registry change to the sessions until the registry goes.
    pub async fn forward_changes(self: Arc<Self>, registry: Arc<Registry>) {
        let mut changes = registry.subscribe();
        drop(registry);
        let mut before = changes.borrow_and_update().clone();
        while changes.changed().await.is_ok() {
            let after = changes.borrow_and_update().clone();
            self.notify_changes(&before, &after).await;
            before = after;
        }
    }
}

/// rmcp's in-memory session manager, keeping the book in step with it:
/// a session is created only for an admitted `initialize` (its owner
/// recorded at that moment), restored only for a caller with room under the
/// caps, and leaves the book when rmcp closes it.
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

impl TrackingSessionManager {
    /// The last word on a request in session `id`: it must be its owner's.
    /// (The guard refuses foreign ids before this; a request racing a
    /// restore of someone else's session is caught here.)
    fn owned(&self, id: &SessionId) -> Result<(), TrackingError> {
        let scope = RequestScope::current().ok_or(TrackingError::NotOwner)?;
        match self.sessions.check(id, &scope.principal) {
            Ownership::Allowed => Ok(()),
            Ownership::Foreign => Err(TrackingError::NotOwner),
        }
    }
}

/// Why the session manager refused.
#[derive(Debug, thiserror::Error)]
pub enum TrackingError {
    #[error(transparent)]
    Local(#[from] LocalSessionManagerError),
    #[error("the session belongs to another identity")]
    NotOwner,
    /// rmcp was about to open a session for a request admission did not see
    /// as an `initialize` (a bug, or a way around the caps): refused.
    #[error("a session is opened only by an admitted initialize request")]
    NotAdmitted,
}

impl SessionManager for TrackingSessionManager {
    type Error = TrackingError;
    type Transport = <LocalSessionManager as SessionManager>::Transport;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        let Some(reservation) = RequestScope::current().and_then(|scope| scope.opening) else {
            tracing::error!("refused to open a session outside an admitted initialize");
            return Err(TrackingError::NotAdmitted);
        };
        let (id, transport) = self.inner.create_session().await?;
        self.sessions.created(&id, &reservation);
        Ok((id, transport))
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        Ok(self.inner.initialize_session(id, message).await?)
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        Ok(self.inner.has_session(id).await?)
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        self.sessions.closed(id);
        Ok(self.inner.close_session(id).await?)
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl futures::Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error>
    {
        self.owned(id)?;
        Ok(self.inner.create_stream(id, message).await?)
    }

    async fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<(), Self::Error> {
        self.owned(id)?;
        Ok(self.inner.accept_message(id, message).await?)
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl futures::Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error>
    {
        self.owned(id)?;
        Ok(self.inner.create_standalone_stream(id).await?)
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl futures::Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error>
    {
        self.owned(id)?;
        Ok(self.inner.resume(id, last_event_id).await?)
    }

    /// Called by rmcp after [`OwnedSessionStore::load`] found the caller's
    /// own row. A caller at their cap is not given another session here
    /// (rmcp answers 404; the client opens a new one when it has room).
    async fn restore_session(
        &self,
        id: SessionId,
    ) -> Result<RestoreOutcome<Self::Transport>, Self::Error> {
        let Some(scope) = RequestScope::current() else {
            return Ok(RestoreOutcome::NotSupported);
        };
        if let Err(refusal) = self.sessions.restoring(&id, &scope.principal) {
            tracing::warn!(principal = %scope.principal, %refusal, "session not restored");
            return Ok(RestoreOutcome::NotSupported);
        }
        match self.inner.restore_session(id.clone()).await {
            Ok(RestoreOutcome::Restored(transport)) => Ok(RestoreOutcome::Restored(transport)),
            other => {
                // Not restored after all: the place goes back.
                self.sessions.closed(&id);
                Ok(other?)
            }
        }
    }
}

/// rmcp's session store over [`SessionRows`], for the principal of the
/// request being served: a session is saved with its owner, and restored or
/// deleted only for that owner. Outside a request scope nothing is read or
/// written.
pub struct OwnedSessionStore {
    pub rows: Arc<SessionRows>,
}

fn principal() -> Result<Arc<str>, SessionStoreError> {
    RequestScope::current()
        .map(|scope| scope.principal)
        .ok_or_else(|| "no caller is being served".into())
}

#[async_trait::async_trait]
impl SessionStore for OwnedSessionStore {
    async fn load(&self, session: &str) -> Result<Option<SessionState>, SessionStoreError> {
        let Ok(principal) = principal() else {
            return Ok(None);
        };
        // A failure is an error (rmcp answers 500), not "no such session":
        // a 404 would tell the client its session is gone for good.
        Ok(self.rows.load(session, &principal).await?)
    }

    async fn store(&self, session: &str, state: &SessionState) -> Result<(), SessionStoreError> {
        let principal = principal()?;
        Ok(self.rows.store(session, &principal, state).await?)
    }

    async fn delete(&self, session: &str) -> Result<(), SessionStoreError> {
        let principal = principal()?;
        Ok(self.rows.delete(session, &principal).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_the_opener_may_use_a_session_and_counts_follow_closes() {
        let sessions = Arc::new(Sessions::new(2));
        let (a, b): (Arc<str>, Arc<str>) = ("entra:t/a".into(), "entra:t/b".into());
        let first = sessions.reserve(&a).unwrap();
        sessions.created("s1", &first);
        drop(first);
        assert_eq!(sessions.check("s1", &a), Ownership::Allowed);
        assert_eq!(sessions.check("s1", &b), Ownership::Foreign);
        assert_eq!(sessions.admit("s1", &b), Ownership::Foreign);
        assert_eq!(sessions.check("unknown", &b), Ownership::Allowed);
        let second = sessions.reserve(&a).unwrap();
        assert_eq!(
            sessions.reserve(&a).err(),
            Some(TooManySessions::Yours { open: 2, max: 2 })
        );
        // Another principal is not affected.
        drop(sessions.reserve(&b).unwrap());
        // A reservation that did not become a session gives its place back
        // (however the request ended); a close (reported twice) too.
        drop(second);
        assert_eq!(sessions.held_by(&a), 1);
        sessions.closed("s1");
        sessions.closed("s1");
        assert_eq!((sessions.held_by(&a), sessions.count()), (0, 0));
        assert_eq!(sessions.check("s1", &b), Ownership::Allowed);
    }

    #[tokio::test]
    async fn the_server_wide_cap_holds_over_all_principals() {
        let sessions = Arc::new(Sessions::new(16).with_max_total(2));
        let held: Vec<_> = ["a", "b"]
            .iter()
            .map(|p| sessions.reserve(&Arc::from(*p)).unwrap())
            .collect();
        assert_eq!(
            sessions.reserve(&Arc::from("c")).err(),
            Some(TooManySessions::Server { max: 2 })
        );
        drop(held);
        assert!(sessions.reserve(&Arc::from("c")).is_ok());
    }

    #[tokio::test]
    async fn sessions_are_created_and_restored_only_inside_a_request_scope() {
        let sessions = Arc::new(Sessions::new(1));
        let manager = TrackingSessionManager::new(sessions.clone());
        assert!(matches!(
            manager.create_session().await,
            Err(TrackingError::NotAdmitted)
        ));
        assert!(matches!(
            manager.restore_session("s".into()).await,
            Ok(RestoreOutcome::NotSupported)
        ));
        let a: Arc<str> = "dev:a".into();
        // A request that is not an admitted initialize cannot open one.
        let scope = RequestScope {
            principal: a.clone(),
            opening: None,
        };
        assert!(scope.run(manager.create_session()).await.is_err());
        // An admitted one can, and the session is its principal's.
        let scope = RequestScope {
            principal: a.clone(),
            opening: Some(Arc::new(sessions.reserve(&a).unwrap())),
        };
        let (id, _transport) = scope.run(manager.create_session()).await.unwrap();
        assert_eq!(sessions.check(&id, "dev:b"), Ownership::Foreign);
        assert_eq!(sessions.held_by(&a), 1);
        // At the cap, a restore for the same principal is refused.
        let scope = RequestScope {
            principal: a.clone(),
            opening: None,
        };
        assert!(matches!(
            scope.run(manager.restore_session("other".into())).await,
            Ok(RestoreOutcome::NotSupported)
        ));
        assert_eq!(sessions.held_by(&a), 1);
        manager.close_session(&id).await.unwrap();
        assert_eq!(sessions.held_by(&a), 0);
    }
}
