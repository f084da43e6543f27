//! The gate: how the host proves to PostgreSQL, once per transaction, that
//! it is the host — without the gate secret ever travelling in a statement
//! or a parameter, where `log_statement = all` and parameter logging would
//! write it to the server's log.
//!
//! - `migrate` derives a key from the secret, `K = HMAC-SHA256(secret,
//!   "zava-gate-key/v1")`, and hands it to the database as `COPY` data (which
//!   PostgreSQL never logs; the COPY statement itself holds nothing secret).
//!   The database keeps K where the query role cannot read it.
//! - Every caller transaction presents `HMAC-SHA256(K, "enter:<backend
//!   pid>:<unix ms>:<user>")`. The database recomputes it, and accepts it
//!   only on that backend, within two minutes of its own clock, for that
//!   user, and once per transaction. A proof read from a log is worth nothing
//!   elsewhere: it is bound to one server process, one moment and one user,
//!   and entering a second time in a transaction is refused.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tokio_postgres::Client;
use uuid::Uuid;

type HmacSha256 = Hmac<Sha256>;

/// What a proof is for: entering a transaction as a caller, or asking for a
/// caller's scope.
#[derive(Debug, Clone, Copy)]
pub enum Purpose {
    Enter,
    Scope,
}

impl Purpose {
    fn label(self) -> &'static str {
        match self {
            Purpose::Enter => "enter",
            Purpose::Scope => "scope",
        }
    }
}

/// The key derived from the gate secret.
#[derive(Clone)]
pub struct GateKey([u8; 32]);

impl std::fmt::Debug for GateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GateKey(..)")
    }
}

impl GateKey {
    pub fn from_secret(secret: &str) -> Self {
        let mut mac =
            HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
        mac.update(b"zava-gate-key/v1");
        Self(mac.finalize().into_bytes().into())
    }

    /// The proof for `purpose` on backend `pid` at `at_ms` (Unix time) for
    /// `user`, as lower-case hex.
    pub fn proof(&self, purpose: Purpose, pid: i32, at_ms: i64, user: Uuid) -> String {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes 32-byte keys");
        mac.update(format!("{}:{pid}:{at_ms}:{user}", purpose.label()).as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Installs the key in the database (as the owner role, inside the
    /// caller's transaction): the key travels as COPY data only.
    pub async fn install(&self, client: &Client) -> Result<(), tokio_postgres::Error> {
        use futures::SinkExt;
        client
            .batch_execute("DELETE FROM rls_private.gate_key_staging")
            .await?;
        let sink = client
            .copy_in("COPY rls_private.gate_key_staging (key) FROM STDIN")
            .await?;
        futures::pin_mut!(sink);
        let line = format!("\\\\x{}\n", hex::encode(self.0));
        sink.send(bytes::Bytes::from(line)).await?;
        sink.close().await?;
        client
            .batch_execute("SELECT rls_private.install_gate_key()")
            .await
    }
}

/// The password of the sessions login (`zava_sessions`), derived from the
/// gate secret: `migrate` sets it (as a SCRAM verifier), every replica
/// derives it, and nobody has to configure it.
pub fn sessions_password(secret: &str) -> String {
    let mut mac =
        HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(b"zava-sessions-password/v1");
    hex::encode(mac.finalize().into_bytes())
}

/// The password of head office's login (`zava_hq`), derived like
/// [`sessions_password`].
pub fn hq_password(secret: &str) -> String {
    let mut mac =
        HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(b"zava-hq-password/v1");
    hex::encode(mac.finalize().into_bytes())
}

/// Milliseconds since the Unix epoch, as the proofs carry them.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proofs_are_hmacs_bound_to_purpose_backend_time_and_user() {
        let key = GateKey::from_secret("0123456789abcdef0123456789abcdef");
        let user = Uuid::nil();
        let proof = key.proof(Purpose::Enter, 42, 1_700_000_000_000, user);
        assert_eq!(proof.len(), 64);
        assert!(proof.bytes().all(|b| b.is_ascii_hexdigit()));
        for other in [
            key.proof(Purpose::Scope, 42, 1_700_000_000_000, user),
            key.proof(Purpose::Enter, 43, 1_700_000_000_000, user),
            key.proof(Purpose::Enter, 42, 1_700_000_000_001, user),
            key.proof(Purpose::Enter, 42, 1_700_000_000_000, Uuid::max()),
            GateKey::from_secret("another secret of enough length!!").proof(
                Purpose::Enter,
                42,
                1_700_000_000_000,
                user,
            ),
        ] {
            assert_ne!(proof, other);
        }
        // RFC 4231-style check that this is plain HMAC-SHA256 (the database
        // computes the same with sha256() and the key's pads).
        let mut mac = HmacSha256::new_from_slice(&key.0).unwrap();
        mac.update(format!("enter:42:1700000000000:{user}").as_bytes());
        assert_eq!(proof, hex::encode(mac.finalize().into_bytes()));
        assert!(!format!("{key:?}").contains(&hex::encode(key.0)));
    }
}
