//! A stand-in for Microsoft Entra ID's key endpoint and a token minter, so
//! the real verification path (HTTP fetch of the JWKS, RS256 signatures,
//! claim checks) runs against tokens whose every field a test controls.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

pub const TENANT: &str = "7d3f0c55-1111-4e2a-9a44-0123456789ab";
pub const AUDIENCE: &str = "api://zava-mcp";
pub const SCOPE: &str = "Zava.Read";
pub const KEY_ID: &str = "test-key-1";

fn data(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/jwt")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The test key's JWKS document (what the tenant publishes).
pub fn jwks() -> Value {
    serde_json::from_str(&data("jwks.json")).unwrap()
}

/// The private half of the key in [`jwks`].
pub fn signing_key() -> EncodingKey {
    EncodingKey::from_rsa_pem(data("signing.pem").as_bytes()).unwrap()
}

/// A key the tenant never published.
pub fn other_key() -> EncodingKey {
    EncodingKey::from_rsa_pem(data("other.pem").as_bytes()).unwrap()
}

/// The JWK of [`other_key`] (for key-rotation tests), built from its modulus.
pub fn other_jwk(kid: &str) -> Value {
    let output = std::process::Command::new("openssl")
        .args(["rsa", "-noout", "-modulus", "-in"])
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/jwt/other.pem"))
        .output()
        .expect("openssl");
    let text = String::from_utf8(output.stdout).unwrap();
    let hex_modulus = text.trim().trim_start_matches("Modulus=");
    let bytes = hex::decode(hex_modulus).unwrap();
    json!({"kty": "RSA", "use": "sig", "kid": kid, "e": "AQAB", "n": URL_SAFE_NO_PAD.encode(bytes)})
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The claims of a good access token for `rls_user`, as Entra would issue
/// it for the server's app registration.
pub fn claims(authority: &str, rls_user: &str) -> Value {
    json!({
        "aud": AUDIENCE,
        "iss": format!("{authority}/{TENANT}/v2.0"),
        "iat": now() - 10,
        "nbf": now() - 10,
        "exp": now() + 3600,
        "tid": TENANT,
        "oid": "0b1c2d3e-0000-4000-8000-00000000a11c",
        "sub": "pairwise-subject",
        "scp": SCOPE,
        "ver": "2.0",
        "rls_user_id": rls_user,
    })
}

pub fn sign(claims: &Value, key: &EncodingKey, kid: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

pub fn token(claims: &Value) -> String {
    sign(claims, &signing_key(), KEY_ID)
}

/// The loopback "Entra": serves `/{tenant}/discovery/v2.0/keys` and counts
/// the fetches.
pub struct FakeEntra {
    pub authority: String,
    pub fetches: Arc<AtomicUsize>,
    keys: Arc<Mutex<Value>>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct EntraState {
    keys: Arc<Mutex<Value>>,
    fetches: Arc<AtomicUsize>,
}

async fn serve_keys(State(state): State<EntraState>, Path(tenant): Path<String>) -> Response {
    if tenant != TENANT {
        return (
            http::StatusCode::BAD_REQUEST,
            "AADSTS90002: tenant not found",
        )
            .into_response();
    }
    state.fetches.fetch_add(1, Ordering::SeqCst);
    let body = state.keys.lock().unwrap().clone();
    axum::Json(body).into_response()
}

impl FakeEntra {
    pub async fn start() -> Self {
        let keys = Arc::new(Mutex::new(jwks()));
        let fetches = Arc::new(AtomicUsize::new(0));
        let app = Router::new()
            .route("/{tenant}/discovery/v2.0/keys", get(serve_keys))
            .with_state(EntraState {
                keys: keys.clone(),
                fetches: fetches.clone(),
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let authority = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            authority,
            fetches,
            keys,
            task,
        }
    }

    /// Publishes another key beside the current ones (a rotation).
    pub fn publish(&self, jwk: Value) {
        self.keys.lock().unwrap()["keys"]
            .as_array_mut()
            .unwrap()
            .push(jwk);
    }

    pub fn fetch_count(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    /// The `serve` flags for this tenant.
    pub fn serve_flags(&self) -> Vec<String> {
        [
            "--identity",
            "entra",
            "--entra-tenant-id",
            TENANT,
            "--entra-audience",
            AUDIENCE,
            "--entra-required-scopes",
            SCOPE,
            "--entra-authority",
            &self.authority,
        ]
        .map(String::from)
        .to_vec()
    }

    pub fn stop(self) {
        self.task.abort();
    }
}
