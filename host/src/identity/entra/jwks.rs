//! The tenant's token-signing keys (a JSON Web Key Set), fetched over HTTPS
//! and cached. Entra rotates keys without notice, so a token naming a key id
//! we do not know makes us fetch the set again, at most once per cooldown so
//! a flood of made-up key ids cannot turn into a flood of fetches.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use serde::Deserialize;
use tokio::sync::{Mutex, RwLock};

use crate::identity::AuthError;

/// Keys older than this are fetched again even if every token's key is known.
const MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// A key set is a few KiB; anything much larger is not one.
const MAX_BYTES: usize = 512 * 1024;
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Deserialize)]
struct KeySet {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    #[serde(rename = "use")]
    usage: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

#[derive(Default)]
struct Cached {
    keys: HashMap<String, Arc<DecodingKey>>,
    /// Last successful fetch (keys older than [`MAX_AGE`] are refreshed).
    fetched: Option<Instant>,
    /// Last attempt, successful or not: the cooldown counts from here, so a
    /// failing endpoint is not retried on every request either.
    attempted: Option<Instant>,
}

pub struct Jwks {
    url: String,
    http: reqwest::Client,
    cooldown: Duration,
    cached: RwLock<Cached>,
    /// One fetch at a time; callers waiting on it reuse its result.
    fetching: Mutex<()>,
    /// Fetches made, for logs and tests.
    fetches: std::sync::atomic::AtomicU64,
}

impl Jwks {
    pub fn new(url: String, cooldown: Duration) -> Result<Self, JwksError> {
        crate::embeddings::remote::tls_init();
        // The key set comes from exactly the URL configured: no redirects.
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(JwksError::Client)?;
        Ok(Self {
            url,
            http,
            cooldown,
            cached: RwLock::new(Cached::default()),
            fetching: Mutex::new(()),
            fetches: Default::default(),
        })
    }

    /// Fetches the key set now (at start-up, so the first caller does not
    /// wait and a misconfigured tenant shows in the log at once).
    pub async fn prefetch(&self) -> Result<usize, JwksError> {
        let _one_fetch = self.fetching.lock().await;
        let fetched = self.fetch().await;
        let mut cached = self.cached.write().await;
        cached.attempted = Some(Instant::now());
        let keys = fetched?;
        let count = keys.len();
        cached.keys = keys;
        cached.fetched = cached.attempted;
        Ok(count)
    }

    /// The key with id `kid`, fetching the set when it is unknown or old.
    pub async fn key(&self, kid: &str) -> Result<Arc<DecodingKey>, AuthError> {
        if let Some(key) = self.fresh(kid).await {
            return Ok(key);
        }
        let (known, may_fetch) = self.state(kid).await;
        if !may_fetch {
            // Within the cooldown: answer from what we have, without waiting
            // for (or starting) a fetch.
            return match (known, self.cached.read().await.fetched) {
                (Some(key), _) => Ok(key),
                (None, Some(_)) => Err(unknown_key(kid)),
                (None, None) => Err(AuthError::Unavailable(
                    "the tenant's signing keys could not be fetched yet".into(),
                )),
            };
        }
        let _one_fetch = self.fetching.lock().await;
        // Someone else may have fetched while we waited.
        if let Some(key) = self.fresh(kid).await {
            return Ok(key);
        }
        let (known, may_fetch) = self.state(kid).await;
        if !may_fetch {
            return known.ok_or_else(|| unknown_key(kid));
        }
        let fetched = self.fetch().await;
        let mut cached = self.cached.write().await;
        cached.attempted = Some(Instant::now());
        match fetched {
            Ok(keys) => {
                cached.keys = keys;
                cached.fetched = cached.attempted;
                cached
                    .keys
                    .get(kid)
                    .cloned()
                    .ok_or_else(|| unknown_key(kid))
            }
            // An old copy of a known key beats refusing everyone while the
            // endpoint is down.
            Err(error) => match known {
                Some(key) => {
                    tracing::warn!(%error, "cannot refresh the Entra signing keys; using the cached ones");
                    Ok(key)
                }
                None => Err(AuthError::Unavailable(error.to_string())),
            },
        }
    }

    /// The cached key for `kid` (however old), and whether the cooldown
    /// allows another fetch.
    async fn state(&self, kid: &str) -> (Option<Arc<DecodingKey>>, bool) {
        let cached = self.cached.read().await;
        let may_fetch = cached
            .attempted
            .is_none_or(|at| at.elapsed() >= self.cooldown);
        (cached.keys.get(kid).cloned(), may_fetch)
    }

    async fn fresh(&self, kid: &str) -> Option<Arc<DecodingKey>> {
        let cached = self.cached.read().await;
        let young = cached.fetched.is_some_and(|at| at.elapsed() < MAX_AGE);
        cached.keys.get(kid).filter(|_| young).cloned()
    }

    async fn fetch(&self) -> Result<HashMap<String, Arc<DecodingKey>>, JwksError> {
        let n = self
            .fetches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        tracing::info!(url = %self.url, fetch = n, "fetching the Entra signing keys");
        let response = self
            .http
            .get(&self.url)
            .send()
            .await
            .map_err(|error| JwksError::Fetch {
                url: self.url.clone(),
                error,
            })?;
        let status = response.status();
        if !status.is_success() {
            return Err(JwksError::Status {
                url: self.url.clone(),
                status,
            });
        }
        let too_large = || JwksError::TooLarge {
            url: self.url.clone(),
        };
        if response
            .content_length()
            .is_some_and(|len| len > MAX_BYTES as u64)
        {
            return Err(too_large());
        }
        let mut response = response;
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|error| JwksError::Read {
            url: self.url.clone(),
            error,
        })? {
            if body.len() + chunk.len() > MAX_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        parse_key_set(&body).map_err(|error| JwksError::Unusable {
            url: self.url.clone(),
            error,
        })
    }

    #[cfg(test)]
    fn fetch_count(&self) -> u64 {
        self.fetches.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Why the key set cannot be had. Wrapped errors are part of the message.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("cannot build the HTTP client for the key set: {0}")]
    Client(reqwest::Error),
    #[error("cannot fetch {url}: {error}")]
    Fetch { url: String, error: reqwest::Error },
    #[error("{url} answered {status}")]
    Status {
        url: String,
        status: reqwest::StatusCode,
    },
    #[error("{url} sent more than {MAX_BYTES} bytes")]
    TooLarge { url: String },
    #[error("cannot read {url}: {error}")]
    Read { url: String, error: reqwest::Error },
    #[error("{url} is not a usable key set: {error}")]
    Unusable { url: String, error: KeySetError },
}

/// Why a document is not a key set we can verify tokens with.
#[derive(Debug, thiserror::Error)]
pub enum KeySetError {
    #[error("{0}")]
    Json(serde_json::Error),
    #[error("it has no RSA signing keys")]
    NoSigningKeys,
}

fn unknown_key(kid: &str) -> AuthError {
    AuthError::Invalid(format!(
        "the token is signed with key `{}`, which is not one of the tenant's signing keys",
        printable(kid)
    ))
}

/// `kid` as it may appear in a message: Entra's key ids are short and
/// URL-safe; anything else is not echoed (it could forge log lines).
fn printable(kid: &str) -> &str {
    let safe = kid.len() <= 128
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'='));
    if safe { kid } else { "(malformed)" }
}

/// The RSA signing keys of a JWKS document, by key id. Keys of other types
/// or for encryption are skipped (Entra signs with RS256 only).
fn parse_key_set(body: &[u8]) -> Result<HashMap<String, Arc<DecodingKey>>, KeySetError> {
    let set: KeySet = serde_json::from_slice(body).map_err(KeySetError::Json)?;
    let mut keys = HashMap::new();
    for jwk in set.keys {
        let (Some(kid), Some(n), Some(e)) = (jwk.kid, jwk.n, jwk.e) else {
            continue;
        };
        if jwk.kty != "RSA" || jwk.usage.as_deref().is_some_and(|u| u != "sig") {
            continue;
        }
        match DecodingKey::from_rsa_components(&n, &e) {
            Ok(key) => {
                keys.insert(kid, Arc::new(key));
            }
            Err(error) => tracing::warn!(%kid, %error, "skipping a malformed signing key"),
        }
    }
    if keys.is_empty() {
        return Err(KeySetError::NoSigningKeys);
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = include_str!("../../../tests/data/jwt/jwks.json");

    #[test]
    fn parses_rsa_signing_keys_and_skips_the_rest() {
        let mut doc: serde_json::Value = serde_json::from_str(FIXTURE).unwrap();
        let keys = doc["keys"].as_array_mut().unwrap();
        keys.push(
            serde_json::json!({"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"}),
        );
        keys.push(
            serde_json::json!({"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"}),
        );
        let parsed = parse_key_set(doc.to_string().as_bytes()).unwrap();
        assert_eq!(parsed.keys().collect::<Vec<_>>(), vec!["test-key-1"]);
        assert!(parse_key_set(br#"{"keys": []}"#).is_err());
        assert!(parse_key_set(b"<html>").is_err());
    }

    #[tokio::test]
    async fn unreachable_endpoint_is_unavailable_not_invalid() {
        // Port 9 (discard) on loopback: nothing listens there.
        let jwks = Jwks::new("http://127.0.0.1:9/keys".into(), Duration::ZERO).unwrap();
        assert!(matches!(
            jwks.key("any").await,
            Err(AuthError::Unavailable(_))
        ));
        assert_eq!(jwks.fetch_count(), 1);
    }

    #[tokio::test]
    async fn a_failing_endpoint_is_not_hammered_within_the_cooldown() {
        let jwks = Jwks::new("http://127.0.0.1:9/keys".into(), Duration::from_secs(60)).unwrap();
        assert!(jwks.prefetch().await.is_err());
        for kid in ["a", "b", "c\nforged log line"] {
            assert!(matches!(
                jwks.key(kid).await,
                Err(AuthError::Unavailable(_))
            ));
        }
        assert_eq!(jwks.fetch_count(), 1, "one attempt per cooldown");
        assert_eq!(printable("c\nforged"), "(malformed)");
        assert_eq!(printable("nOYmB9w1_-x"), "nOYmB9w1_-x");
    }
}
