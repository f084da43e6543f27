//! Handshake-era MCP sessions in PostgreSQL (`zava_sessions.sessions`), so
//! that any replica can serve a request of a session another one opened:
//! rmcp's [`SessionStore`] (restore what `initialize` said) plus the
//! principal that opened each session, which every replica checks.
//!
//! The host logs in as `zava_sessions` for this (its password derived from
//! the gate secret, [`super::gate::sessions_password`]); the query role has
//! no access to the schema. Session ids are bearer credentials: rows are
//! keyed by their SHA-256.
//!
//! A database that fails is not fatal: a lookup that fails answers "no such
//! session" (the client re-initialises), a write that fails leaves the
//! session in this replica's memory only; both are logged, at most once a
//! minute.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use deadpool::managed::Timeouts;
use rmcp::transport::streamable_http_server::session::store::{
    SessionState, SessionStore, SessionStoreError,
};
use sha2::{Digest, Sha256};
use tokio_postgres::Config;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::pool::{Manager, Pool};

pub struct SessionRows {
    pool: Pool,
    /// A session unused for this long is gone (and swept).
    idle: Duration,
    last_warning_ms: AtomicI64,
}

fn key(session: &str) -> Vec<u8> {
    Sha256::digest(session.as_bytes()).to_vec()
}

/// Why the session table cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unavailable(String);

impl SessionRows {
    /// Connects as the sessions login and checks the table is there.
    pub async fn open(
        config: Config,
        tls: MakeRustlsConnect,
        idle: Duration,
    ) -> Result<Self, Unavailable> {
        let pool = Pool::builder(Manager::new(config, tls, 1 << 20))
            .max_size(4)
            .runtime(deadpool::Runtime::Tokio1)
            .timeouts(Timeouts {
                wait: Some(Duration::from_secs(5)),
                create: Some(Duration::from_secs(5)),
                recycle: Some(Duration::from_secs(5)),
            })
            .build()
            .map_err(|e| Unavailable(e.to_string()))?;
        let rows = Self {
            pool,
            idle,
            last_warning_ms: AtomicI64::new(0),
        };
        let conn = rows.connection().await?;
        conn.client
            .query_one("SELECT count(*) FROM zava_sessions.sessions", &[])
            .await
            .map_err(|e| Unavailable(super::error_text(&e)))?;
        Ok(rows)
    }

    async fn connection(&self) -> Result<super::pool::Object, Unavailable> {
        self.pool
            .get()
            .await
            .map_err(|e| Unavailable(format!("cannot connect as the sessions login: {e}")))
    }

    fn idle_seconds(&self) -> f64 {
        self.idle.as_secs_f64()
    }

    /// Logs a failure, at most once a minute.
    fn warn(&self, what: &str, error: &dyn std::fmt::Display) {
        let now = super::gate::now_ms();
        let last = self.last_warning_ms.load(Ordering::Relaxed);
        if now - last > 60_000
            && self
                .last_warning_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                %error,
                "MCP sessions: cannot {what} in PostgreSQL; sessions live in this replica's memory \
                 until it works again (a client on another replica must re-initialise)"
            );
        }
    }

    /// The principal that opened `session`, if the session exists.
    pub async fn owner(&self, session: &str) -> Option<String> {
        let result = async {
            let conn = self.connection().await?;
            conn.client
                .query_opt(
                    "SELECT principal FROM zava_sessions.sessions
                     WHERE id_sha256 = $1 AND principal IS NOT NULL
                       AND last_seen > now() - make_interval(secs => $2)",
                    &[&key(session), &self.idle_seconds()],
                )
                .await
                .map_err(|e| Unavailable(super::error_text(&e)))
        }
        .await;
        match result {
            Ok(row) => row.map(|r| r.get(0)),
            Err(error) => {
                self.warn("look a session up", &error);
                None
            }
        }
    }

    /// Records who opened `session` (once: an owner never changes).
    pub async fn bind_owner(&self, session: &str, principal: &str) {
        let result = async {
            let conn = self.connection().await?;
            conn.client
                .execute(
                    "UPDATE zava_sessions.sessions SET principal = $2, last_seen = now()
                     WHERE id_sha256 = $1 AND principal IS NULL",
                    &[&key(session), &principal],
                )
                .await
                .map_err(|e| Unavailable(super::error_text(&e)))
        }
        .await;
        if let Err(error) = result {
            self.warn("record a session's owner", &error);
        }
    }

    /// Marks `session` as used now (callers throttle this).
    pub async fn touch(&self, session: &str) {
        let result = async {
            let conn = self.connection().await?;
            conn.client
                .execute(
                    "UPDATE zava_sessions.sessions SET last_seen = now() WHERE id_sha256 = $1",
                    &[&key(session)],
                )
                .await
                .map_err(|e| Unavailable(super::error_text(&e)))
        }
        .await;
        if let Err(error) = result {
            self.warn("mark a session as used", &error);
        }
    }

    /// Deletes sessions unused for longer than the idle limit; how many.
    pub async fn sweep(&self) -> u64 {
        let result = async {
            let conn = self.connection().await?;
            conn.client
                .execute(
                    "DELETE FROM zava_sessions.sessions
                     WHERE last_seen < now() - make_interval(secs => $1)",
                    &[&self.idle_seconds()],
                )
                .await
                .map_err(|e| Unavailable(super::error_text(&e)))
        }
        .await;
        match result {
            Ok(n) => n,
            Err(error) => {
                self.warn("sweep expired sessions", &error);
                0
            }
        }
    }

    /// Sweeps every `every` until the process ends.
    pub async fn sweep_forever(self: std::sync::Arc<Self>, every: Duration) {
        let mut ticks = tokio::time::interval(every);
        loop {
            ticks.tick().await;
            let swept = self.sweep().await;
            if swept > 0 {
                tracing::debug!(swept, "expired MCP sessions removed");
            }
        }
    }
}

#[async_trait::async_trait]
impl SessionStore for SessionRows {
    async fn load(&self, session: &str) -> Result<Option<SessionState>, SessionStoreError> {
        let result = async {
            let conn = self.connection().await?;
            conn.client
                .query_opt(
                    "SELECT state FROM zava_sessions.sessions
                     WHERE id_sha256 = $1 AND principal IS NOT NULL
                       AND last_seen > now() - make_interval(secs => $2)",
                    &[&key(session), &self.idle_seconds()],
                )
                .await
                .map_err(|e| Unavailable(super::error_text(&e)))
        }
        .await;
        match result {
            Ok(Some(row)) => {
                let state: serde_json::Value = row.get(0);
                Ok(serde_json::from_value(state).ok())
            }
            Ok(None) => Ok(None),
            // Not an error for rmcp (which would answer 500): the client
            // gets "no such session" and opens a new one.
            Err(error) => {
                self.warn("restore a session", &error);
                Ok(None)
            }
        }
    }

    async fn store(&self, session: &str, state: &SessionState) -> Result<(), SessionStoreError> {
        let state = serde_json::to_value(state)?;
        let conn = self.connection().await?;
        conn.client
            .execute(
                "INSERT INTO zava_sessions.sessions (id_sha256, state) VALUES ($1, $2)
                 ON CONFLICT (id_sha256) DO UPDATE SET state = EXCLUDED.state, last_seen = now()",
                &[&key(session), &state],
            )
            .await
            .map_err(|e| {
                self.warn("save a session", &super::error_text(&e));
                Box::new(Unavailable(super::error_text(&e))) as SessionStoreError
            })?;
        Ok(())
    }

    async fn delete(&self, session: &str) -> Result<(), SessionStoreError> {
        let conn = self.connection().await?;
        conn.client
            .execute(
                "DELETE FROM zava_sessions.sessions WHERE id_sha256 = $1",
                &[&key(session)],
            )
            .await
            .map_err(|e| Box::new(Unavailable(super::error_text(&e))) as SessionStoreError)?;
        Ok(())
    }
}
