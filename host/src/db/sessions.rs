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
//! Rows are written with their owner and read or deleted only for it
//! (`crate::mcp::sessions::OwnedSessionStore` supplies the caller). A
//! principal keeps at most [`MAX_ROWS_PER_PRINCIPAL`] rows, each at most
//! [`MAX_STATE_BYTES`]; every statement has a 5 s timeout.
//!
//! A database that fails is not fatal: a restore that fails is an error for
//! that request (not "no such session", which would end the client's
//! session for good), a write that fails leaves the session in this
//! replica's memory only; both are logged, at most once a minute.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use deadpool::managed::Timeouts;
use rmcp::transport::streamable_http_server::session::store::SessionState;
use sha2::{Digest, Sha256};
use tokio_postgres::Config;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::pool::{Manager, Pool};

/// Rows one principal keeps (sessions restorable on any replica); beyond
/// this the least recently used are deleted. Four times the default
/// per-identity session cap: clients that reconnect often keep working.
pub const MAX_ROWS_PER_PRINCIPAL: usize = 64;

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
        mut config: Config,
        tls: MakeRustlsConnect,
        idle: Duration,
    ) -> Result<Self, Unavailable> {
        // A stalled table must not hold requests (or the pool) for long.
        config.options("-c statement_timeout=5000 -c lock_timeout=2000");
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

/// What rmcp keeps of a session (the client's `initialize` parameters)
/// beyond this is not stored: the session then lives on this replica only.
/// VS Code's handshake is ~1 KiB.
pub const MAX_STATE_BYTES: usize = 16 << 10;

impl SessionRows {
    /// The state of `principal`'s session `session`, if it has one that has
    /// not expired. Another principal's session is not found.
    pub async fn load(
        &self,
        session: &str,
        principal: &str,
    ) -> Result<Option<SessionState>, Unavailable> {
        let conn = self.connection().await?;
        let row = conn
            .client
            .query_opt(
                "SELECT state FROM zava_sessions.sessions
                 WHERE id_sha256 = $1 AND principal = $3
                   AND last_seen > now() - make_interval(secs => $2)",
                &[&key(session), &self.idle_seconds(), &principal],
            )
            .await
            .map_err(|e| {
                self.warn("restore a session", &super::error_text(&e));
                Unavailable(super::error_text(&e))
            })?;
        Ok(row.and_then(|row| serde_json::from_value(row.get(0)).ok()))
    }

    /// Saves `principal`'s new session, keeping at most
    /// [`MAX_ROWS_PER_PRINCIPAL`] rows of theirs (the least recently used
    /// go first).
    pub async fn store(
        &self,
        session: &str,
        principal: &str,
        state: &SessionState,
    ) -> Result<(), Unavailable> {
        let state = serde_json::to_value(state).map_err(|e| Unavailable(e.to_string()))?;
        let size = state.to_string().len();
        if size > MAX_STATE_BYTES {
            return Err(Unavailable(format!(
                "the session's initialize parameters are {size} bytes (at most {MAX_STATE_BYTES} \
                 are stored); it is served by this replica only"
            )));
        }
        let conn = self.connection().await?;
        conn.client
            .execute(
                "WITH saved AS (
                     INSERT INTO zava_sessions.sessions (id_sha256, principal, state)
                     VALUES ($1, $2, $3)
                     ON CONFLICT (id_sha256) DO NOTHING
                     RETURNING id_sha256)
                 DELETE FROM zava_sessions.sessions
                 WHERE id_sha256 IN (
                     SELECT id_sha256 FROM zava_sessions.sessions
                     WHERE principal = $2
                     ORDER BY last_seen DESC
                     OFFSET $4)
                   AND id_sha256 NOT IN (SELECT id_sha256 FROM saved)",
                &[
                    &key(session),
                    &principal,
                    &state,
                    // The statement's snapshot does not see the new row.
                    &(MAX_ROWS_PER_PRINCIPAL as i64 - 1),
                ],
            )
            .await
            .map_err(|e| {
                self.warn("save a session", &super::error_text(&e));
                Unavailable(super::error_text(&e))
            })?;
        Ok(())
    }

    /// Ends `principal`'s session `session` for every replica.
    pub async fn delete(&self, session: &str, principal: &str) -> Result<(), Unavailable> {
        let conn = self.connection().await?;
        conn.client
            .execute(
                "DELETE FROM zava_sessions.sessions WHERE id_sha256 = $1 AND principal = $2",
                &[&key(session), &principal],
            )
            .await
            .map_err(|e| Unavailable(super::error_text(&e)))?;
        Ok(())
    }
}
