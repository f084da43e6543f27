//! Each test runs a loopback axum server that records every request and answers
//! the way Azure OpenAI / OpenAI / Entra do, then checks what was sent on the wire.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use mcp_host::embeddings::remote::{
    AzureOpenAi, EntraCredential, OpenAiCompatible, RemoteAuth, RemoteEmbedder, RemoteError,
    RemoteOptions,
};
use serde_json::{Value, json};

// ---------------------------------------------------------------- test server

#[derive(Clone, Debug)]
struct Seen {
    method: Method,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    body: Bytes,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }

    /// Query string or form body as decoded pairs, in order.
    fn pairs(encoded: &str) -> Vec<(String, String)> {
        reqwest::Url::parse(&format!("http://x/?{encoded}"))
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect()
    }

    fn inputs(&self) -> Vec<String> {
        serde_json::from_value(self.json()["input"].clone()).unwrap()
    }
}

type BoxedReply =
    Box<dyn Fn(Seen, usize) -> Pin<Box<dyn Future<Output = Response> + Send>> + Send + Sync>;

struct ServerState {
    seen: Mutex<Vec<Seen>>,
    reply: BoxedReply,
}

struct Server {
    base: String,
    state: Arc<ServerState>,
}

impl Server {
    /// `reply` gets each request and how many earlier requests had the same path.
    async fn start<F, Fut>(reply: F) -> Self
    where
        F: Fn(Seen, usize) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response> + Send + 'static,
    {
        let state = Arc::new(ServerState {
            seen: Mutex::new(Vec::new()),
            reply: Box::new(move |seen, n| Box::pin(reply(seen, n))),
        });
        let app = axum::Router::new()
            .fallback(record)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { base, state }
    }

    fn requests(&self, path: &str) -> Vec<Seen> {
        let seen = self.state.seen.lock().unwrap();
        seen.iter().filter(|s| s.path == path).cloned().collect()
    }

    fn total(&self) -> usize {
        self.state.seen.lock().unwrap().len()
    }
}

async fn record(State(state): State<Arc<ServerState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let seen = Seen {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body: axum::body::to_bytes(body, usize::MAX).await.unwrap(),
    };
    let n = {
        let mut all = state.seen.lock().unwrap();
        let n = all.iter().filter(|s| s.path == seen.path).count();
        all.push(seen.clone());
        n
    };
    (state.reply)(seen, n).await
}

// ------------------------------------------------------------- fake provider

fn vector_for(text: &str) -> Vec<f32> {
    let bytes = text.as_bytes();
    vec![
        bytes.len() as f32,
        f32::from(*bytes.first().unwrap_or(&0)),
        f32::from(*bytes.last().unwrap_or(&0)),
    ]
}

/// A successful embeddings answer, listing items in reverse to prove we sort by index.
fn embeddings_ok(seen: &Seen) -> Response {
    let inputs = seen.inputs();
    let mut data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| json!({"object": "embedding", "index": i, "embedding": vector_for(t)}))
        .collect();
    data.reverse();
    Json(json!({
        "object": "list",
        "data": data,
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": inputs.len(), "total_tokens": inputs.len()},
    }))
    .into_response()
}

fn api_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

fn texts(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn expected(items: &[String]) -> Vec<Vec<f32>> {
    items.iter().map(|t| vector_for(t)).collect()
}

fn fast() -> RemoteOptions {
    RemoteOptions {
        timeout: Duration::from_secs(5),
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        ..RemoteOptions::default()
    }
}

const AZURE_PATH: &str = "/openai/deployments/emb/embeddings";

fn azure(server: &Server, auth: RemoteAuth, options: RemoteOptions) -> RemoteEmbedder {
    RemoteEmbedder::azure(
        AzureOpenAi {
            endpoint: format!("{}/", server.base),
            deployment: "emb".into(),
            api_version: "2024-02-01".into(),
            auth,
        },
        options,
    )
    .unwrap()
}

fn azure_key() -> RemoteAuth {
    RemoteAuth::AzureApiKey("k3y-secret".into())
}

fn client_secret(server: &Server) -> RemoteAuth {
    RemoteAuth::Entra(EntraCredential::ClientSecret {
        authority_host: server.base.clone(),
        tenant_id: "tenant-1".into(),
        client_id: "client-1".into(),
        client_secret: "s3cr3t+/=&".into(),
    })
}

const TOKEN_PATH: &str = "/tenant-1/oauth2/v2.0/token";

/// Entra token endpoint issuing tok-1, tok-2, ... with the given `expires_in`.
fn token_reply(seen: &Seen, n: usize, expires_in: Value) -> Response {
    assert_eq!(seen.method, Method::POST);
    Json(json!({
        "token_type": "Bearer",
        "expires_in": expires_in,
        "ext_expires_in": expires_in,
        "access_token": format!("tok-{}", n + 1),
    }))
    .into_response()
}

fn bearer(seen: &Seen) -> &str {
    seen.header("authorization").unwrap()
}

// ---------------------------------------------------------------------- tests

#[tokio::test]
async fn azure_api_key_exact_request_and_index_order() {
    let server = Server::start(|seen, _| async move { embeddings_ok(&seen) }).await;
    let embedder = azure(&server, azure_key(), fast());
    let input = texts(&["alpha", "beta", "gamma delta"]);

    let vectors = embedder.embed(&input).await.unwrap();

    assert_eq!(vectors, expected(&input));
    assert_eq!(embedder.model_name(), "emb");
    let [req] = server.requests(AZURE_PATH).try_into().unwrap();
    assert_eq!(req.method, Method::POST);
    assert_eq!(req.query.as_deref(), Some("api-version=2024-02-01"));
    assert_eq!(req.header("api-key"), Some("k3y-secret"));
    assert_eq!(req.header("authorization"), None);
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(
        req.json(),
        json!({"input": ["alpha", "beta", "gamma delta"]})
    );
    assert_eq!(server.total(), 1);
}

#[tokio::test]
async fn empty_input_sends_nothing() {
    let server = Server::start(|seen, _| async move { embeddings_ok(&seen) }).await;
    let embedder = azure(&server, azure_key(), fast());
    assert!(embedder.embed(&[]).await.unwrap().is_empty());
    assert_eq!(server.total(), 0);
}

#[tokio::test]
async fn entra_client_secret_token_is_fetched_once_and_reused() {
    let server = Server::start(|seen, n| async move {
        match seen.path.as_str() {
            TOKEN_PATH => token_reply(&seen, n, json!(3599)),
            _ => embeddings_ok(&seen),
        }
    })
    .await;
    let embedder = azure(&server, client_secret(&server), fast());
    let input = texts(&["one", "two"]);

    assert_eq!(embedder.embed(&input).await.unwrap(), expected(&input));
    assert_eq!(embedder.embed(&input).await.unwrap(), expected(&input));

    let [token_req] = server.requests(TOKEN_PATH).try_into().unwrap();
    assert_eq!(
        token_req.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let form = Seen::pairs(std::str::from_utf8(&token_req.body).unwrap());
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(field("grant_type"), Some("client_credentials"));
    assert_eq!(field("client_id"), Some("client-1"));
    assert_eq!(field("client_secret"), Some("s3cr3t+/=&"));
    assert_eq!(
        field("scope"),
        Some("https://cognitiveservices.azure.com/.default")
    );

    let calls = server.requests(AZURE_PATH);
    assert_eq!(calls.len(), 2);
    for call in &calls {
        assert_eq!(bearer(call), "Bearer tok-1");
        assert_eq!(call.header("api-key"), None);
    }
}

#[tokio::test]
async fn entra_token_inside_refresh_window_is_replaced_on_next_use() {
    // 60 s is inside the 5-minute margin, so each use must fetch a new token;
    // the string form is what some Entra endpoints actually send.
    let server = Server::start(|seen, n| async move {
        match seen.path.as_str() {
            TOKEN_PATH => token_reply(&seen, n, json!("60")),
            _ => embeddings_ok(&seen),
        }
    })
    .await;
    let embedder = azure(&server, client_secret(&server), fast());
    let input = texts(&["x"]);

    embedder.embed(&input).await.unwrap();
    embedder.embed(&input).await.unwrap();

    assert_eq!(server.requests(TOKEN_PATH).len(), 2);
    let auth: Vec<String> = server
        .requests(AZURE_PATH)
        .iter()
        .map(|s| bearer(s).to_owned())
        .collect();
    assert_eq!(auth, ["Bearer tok-1", "Bearer tok-2"]);
}

#[tokio::test]
async fn entra_concurrent_callers_share_one_refresh() {
    let server = Server::start(|seen, n| async move {
        match seen.path.as_str() {
            TOKEN_PATH => {
                // Slow enough that every caller arrives while the fetch is in flight.
                tokio::time::sleep(Duration::from_millis(200)).await;
                token_reply(&seen, n, json!(3599))
            }
            _ => embeddings_ok(&seen),
        }
    })
    .await;
    let embedder = Arc::new(azure(&server, client_secret(&server), fast()));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let embedder = embedder.clone();
        tasks.spawn(async move { embedder.embed(&[format!("text {i}")]).await });
    }
    while let Some(result) = tasks.join_next().await {
        result.unwrap().unwrap();
    }
    assert_eq!(server.requests(TOKEN_PATH).len(), 1);
    assert_eq!(server.requests(AZURE_PATH).len(), 8);
}

#[tokio::test]
async fn entra_401_invalidates_token_and_retries_once() {
    let server = Server::start(|seen, n| async move {
        match seen.path.as_str() {
            TOKEN_PATH => token_reply(&seen, n, json!(3599)),
            _ if bearer(&seen) == "Bearer tok-1" => api_error(
                StatusCode::UNAUTHORIZED,
                "401",
                "Access token is missing, invalid, or expired",
            ),
            _ => embeddings_ok(&seen),
        }
    })
    .await;
    let embedder = azure(&server, client_secret(&server), fast());
    let input = texts(&["x", "y"]);

    assert_eq!(embedder.embed(&input).await.unwrap(), expected(&input));
    assert_eq!(server.requests(TOKEN_PATH).len(), 2);
    let auth: Vec<String> = server
        .requests(AZURE_PATH)
        .iter()
        .map(|s| bearer(s).to_owned())
        .collect();
    assert_eq!(auth, ["Bearer tok-1", "Bearer tok-2"]);
}

#[tokio::test]
async fn entra_persistent_401_is_unauthorized_with_role_hint() {
    let server = Server::start(|seen, n| async move {
        match seen.path.as_str() {
            TOKEN_PATH => token_reply(&seen, n, json!(3599)),
            _ => api_error(
                StatusCode::UNAUTHORIZED,
                "PermissionDenied",
                "principal lacks data action",
            ),
        }
    })
    .await;
    let embedder = azure(&server, client_secret(&server), fast());

    let err = embedder.embed(&texts(&["x"])).await.unwrap_err();

    let RemoteError::Unauthorized(message) = &err else {
        panic!("{err:?}")
    };
    assert!(
        message.contains("Cognitive Services OpenAI User"),
        "{message}"
    );
    assert!(message.contains("principal lacks data action"), "{message}");
    assert!(!message.contains("tok-"), "token leaked: {message}");
    // The original try plus exactly one with a fresh token.
    assert_eq!(server.requests(AZURE_PATH).len(), 2);
    assert_eq!(server.requests(TOKEN_PATH).len(), 2);
}

#[tokio::test]
async fn entra_rejected_client_secret_is_unauthorized_without_the_secret() {
    let server = Server::start(|seen, _| async move {
        match seen.path.as_str() {
            TOKEN_PATH => (
                StatusCode::UNAUTHORIZED,
                Json(json!({
                    "error": "invalid_client",
                    "error_description": "AADSTS7000215: Invalid client secret provided.",
                })),
            )
                .into_response(),
            _ => embeddings_ok(&seen),
        }
    })
    .await;
    let embedder = azure(&server, client_secret(&server), fast());

    let err = embedder.embed(&texts(&["x"])).await.unwrap_err();

    let RemoteError::Unauthorized(message) = &err else {
        panic!("{err:?}")
    };
    assert!(message.contains("AADSTS7000215"), "{message}");
    assert!(message.contains("client_secret"), "{message}");
    assert!(!message.contains("s3cr3t"), "secret leaked: {message}");
    assert!(!format!("{err:?}").contains("s3cr3t"));
    assert_eq!(server.requests(TOKEN_PATH).len(), 1);
    assert_eq!(server.requests(AZURE_PATH).len(), 0);
}

#[tokio::test]
async fn managed_identity_token_request() {
    let server = Server::start(|seen, _| async move {
        match seen.path.as_str() {
            "/msi/token" => {
                let expires_on = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .as_secs()
                    + 3600;
                Json(json!({
                    "access_token": "mi-tok",
                    "expires_on": expires_on.to_string(),
                    "resource": "https://cognitiveservices.azure.com",
                    "token_type": "Bearer",
                    "client_id": "uai-1",
                }))
                .into_response()
            }
            _ => embeddings_ok(&seen),
        }
    })
    .await;
    let auth = RemoteAuth::Entra(EntraCredential::ManagedIdentity {
        endpoint: format!("{}/msi/token", server.base),
        header: "h3ad3r".into(),
        client_id: Some("uai-1".into()),
    });
    let embedder = azure(&server, auth, fast());
    let input = texts(&["a", "b"]);

    assert_eq!(embedder.embed(&input).await.unwrap(), expected(&input));
    assert_eq!(embedder.embed(&input).await.unwrap(), expected(&input));

    let [token_req] = server.requests("/msi/token").try_into().unwrap();
    assert_eq!(token_req.method, Method::GET);
    assert_eq!(token_req.header("x-identity-header"), Some("h3ad3r"));
    let query = Seen::pairs(token_req.query.as_deref().unwrap());
    let q = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(q("resource"), Some("https://cognitiveservices.azure.com"));
    assert_eq!(q("api-version"), Some("2019-08-01"));
    assert_eq!(q("client_id"), Some("uai-1"));
    for call in server.requests(AZURE_PATH) {
        assert_eq!(bearer(&call), "Bearer mi-tok");
    }
}

#[tokio::test]
async fn rate_limit_honours_retry_after() {
    let server = Server::start(|seen, n| async move {
        if n == 0 {
            let mut response = api_error(
                StatusCode::TOO_MANY_REQUESTS,
                "429",
                "Requests exceed the rate limit",
            );
            response
                .headers_mut()
                .insert("retry-after", "1".parse().unwrap());
            response
        } else {
            embeddings_ok(&seen)
        }
    })
    .await;
    // Default max_backoff (20 s) so the 1 s Retry-After is not capped.
    let options = RemoteOptions {
        initial_backoff: Duration::from_millis(10),
        ..RemoteOptions::default()
    };
    let embedder = azure(&server, azure_key(), options);
    let input = texts(&["x"]);

    let started = Instant::now();
    assert_eq!(embedder.embed(&input).await.unwrap(), expected(&input));

    assert_eq!(server.requests(AZURE_PATH).len(), 2);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn rate_limit_exhausted_is_rate_limited() {
    let server = Server::start(|_, _| async move {
        let mut response = api_error(
            StatusCode::TOO_MANY_REQUESTS,
            "429",
            "Requests exceed the rate limit",
        );
        response
            .headers_mut()
            .insert("retry-after-ms", "5".parse().unwrap());
        response
    })
    .await;
    let embedder = azure(&server, azure_key(), fast());

    let err = embedder.embed(&texts(&["x"])).await.unwrap_err();

    assert!(
        matches!(&err, RemoteError::RateLimited(m) if m.contains("exceed the rate limit")),
        "{err:?}"
    );
    assert_eq!(server.requests(AZURE_PATH).len(), 4);
}

#[tokio::test]
async fn unauthorized_key_fails_fast_without_retry() {
    let server = Server::start(|_, _| async move {
        api_error(
            StatusCode::UNAUTHORIZED,
            "401",
            "Access denied due to invalid subscription key or wrong API endpoint.",
        )
    })
    .await;
    let embedder = azure(&server, azure_key(), fast());

    let err = embedder.embed(&texts(&["x"])).await.unwrap_err();

    let RemoteError::Unauthorized(message) = &err else {
        panic!("{err:?}")
    };
    assert!(message.contains("api-key"), "{message}");
    assert!(message.contains("invalid subscription key"), "{message}");
    assert!(!message.contains("k3y-secret"), "key leaked: {message}");
    assert_eq!(server.total(), 1);
}

#[tokio::test]
async fn not_found_names_path_and_deployment() {
    let server = Server::start(|_, _| async move {
        api_error(
            StatusCode::NOT_FOUND,
            "DeploymentNotFound",
            "The API deployment for this resource does not exist.",
        )
    })
    .await;
    let embedder = azure(&server, azure_key(), fast());

    let err = embedder.embed(&texts(&["x"])).await.unwrap_err();

    let RemoteError::NotFound(message) = &err else {
        panic!("{err:?}")
    };
    assert!(message.contains("deployment 'emb'"), "{message}");
    assert!(message.contains(AZURE_PATH), "{message}");
    assert!(message.contains("DeploymentNotFound"), "{message}");
    assert_eq!(server.total(), 1);
}

#[tokio::test]
async fn bad_request_is_not_retried() {
    let server = Server::start(|_, _| async move {
        api_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "'$.input' is invalid.",
        )
    })
    .await;
    let embedder = azure(&server, azure_key(), fast());

    let err = embedder.embed(&texts(&[""])).await.unwrap_err();

    assert!(
        matches!(&err, RemoteError::BadRequest(m) if m.contains("'$.input' is invalid.")),
        "{err:?}"
    );
    assert_eq!(server.total(), 1);
}

#[tokio::test]
async fn server_errors_are_retried_then_succeed() {
    let server = Server::start(|seen, n| async move {
        if n < 3 {
            api_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                "try again",
            )
        } else {
            embeddings_ok(&seen)
        }
    })
    .await;
    let embedder = azure(&server, azure_key(), fast());
    let input = texts(&["x", "y"]);

    assert_eq!(embedder.embed(&input).await.unwrap(), expected(&input));
    assert_eq!(server.requests(AZURE_PATH).len(), 4);
}

#[tokio::test]
async fn server_errors_give_up_after_max_attempts() {
    let server = Server::start(|_, _| async move {
        api_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "backend exploded",
        )
    })
    .await;
    let embedder = azure(&server, azure_key(), fast());

    let err = embedder.embed(&texts(&["x"])).await.unwrap_err();

    assert!(
        matches!(&err, RemoteError::Server(m) if m.contains("backend exploded")),
        "{err:?}"
    );
    assert_eq!(server.requests(AZURE_PATH).len(), 4);
}

#[tokio::test]
async fn slow_server_times_out_after_retries() {
    let server = Server::start(|seen, _| async move {
        tokio::time::sleep(Duration::from_secs(5)).await;
        embeddings_ok(&seen)
    })
    .await;
    let options = RemoteOptions {
        timeout: Duration::from_millis(200),
        max_attempts: 2,
        ..fast()
    };
    let embedder = azure(&server, azure_key(), options);

    let err = embedder.embed(&texts(&["x"])).await.unwrap_err();

    assert!(matches!(err, RemoteError::Timeout(_)), "{err:?}");
    assert_eq!(server.requests(AZURE_PATH).len(), 2);
}

#[tokio::test]
async fn refused_connection_is_transport_error() {
    // Bind then drop to get a loopback port that nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let embedder = RemoteEmbedder::openai_compatible(
        OpenAiCompatible {
            base_url: format!("http://127.0.0.1:{port}/v1"),
            model: "m".into(),
            auth: RemoteAuth::None,
            dimensions: None,
        },
        RemoteOptions {
            max_attempts: 2,
            ..fast()
        },
    )
    .unwrap();

    let err = embedder.embed(&texts(&["x"])).await.unwrap_err();

    let RemoteError::Transport(message) = &err else {
        panic!("{err:?}")
    };
    assert!(
        message.contains(&format!("127.0.0.1:{port}/v1/embeddings")),
        "{message}"
    );
}

#[tokio::test]
async fn openai_compatible_request_and_batching() {
    let server = Server::start(|seen, _| async move { embeddings_ok(&seen) }).await;
    let embedder = RemoteEmbedder::openai_compatible(
        OpenAiCompatible {
            base_url: format!("{}/v1", server.base),
            model: "text-embedding-3-small".into(),
            auth: RemoteAuth::BearerKey("sk-test".into()),
            dimensions: Some(256),
        },
        RemoteOptions {
            max_batch: 2,
            ..fast()
        },
    )
    .unwrap();
    let input = texts(&["a", "bb", "ccc", "dddd", "eeeee"]);

    assert_eq!(embedder.embed(&input).await.unwrap(), expected(&input));
    assert_eq!(embedder.model_name(), "text-embedding-3-small");

    let calls = server.requests("/v1/embeddings");
    assert_eq!(server.total(), 3);
    let bodies: Vec<Value> = calls.iter().map(Seen::json).collect();
    assert_eq!(
        bodies,
        [
            json!({"model": "text-embedding-3-small", "input": ["a", "bb"], "dimensions": 256}),
            json!({"model": "text-embedding-3-small", "input": ["ccc", "dddd"], "dimensions": 256}),
            json!({"model": "text-embedding-3-small", "input": ["eeeee"], "dimensions": 256}),
        ]
    );
    for call in &calls {
        assert_eq!(call.method, Method::POST);
        assert_eq!(call.query, None);
        assert_eq!(bearer(call), "Bearer sk-test");
        assert_eq!(call.header("content-type"), Some("application/json"));
    }
}

#[tokio::test]
async fn openai_compatible_without_key_or_dimensions() {
    let server = Server::start(|seen, _| async move { embeddings_ok(&seen) }).await;
    let embedder = RemoteEmbedder::openai_compatible(
        OpenAiCompatible {
            base_url: format!("{}/v1/", server.base),
            model: "nomic-embed-text".into(),
            auth: RemoteAuth::None,
            dimensions: None,
        },
        fast(),
    )
    .unwrap();

    embedder.embed(&texts(&["hi"])).await.unwrap();

    let [call] = server.requests("/v1/embeddings").try_into().unwrap();
    assert_eq!(call.header("authorization"), None);
    assert_eq!(
        call.json(),
        json!({"model": "nomic-embed-text", "input": ["hi"]})
    );
}

#[tokio::test]
async fn openai_not_found_names_model() {
    let server = Server::start(|_, _| async move {
        api_error(
            StatusCode::NOT_FOUND,
            "model_not_found",
            "The model `nope` does not exist",
        )
    })
    .await;
    let embedder = RemoteEmbedder::openai_compatible(
        OpenAiCompatible {
            base_url: format!("{}/v1", server.base),
            model: "nope".into(),
            auth: RemoteAuth::BearerKey("sk-test".into()),
            dimensions: None,
        },
        fast(),
    )
    .unwrap();

    let err = embedder.embed(&texts(&["x"])).await.unwrap_err();

    let RemoteError::NotFound(message) = &err else {
        panic!("{err:?}")
    };
    assert!(
        message.contains("model 'nope'") && message.contains("/v1/embeddings"),
        "{message}"
    );
}

#[tokio::test]
async fn malformed_responses_are_bad_response() {
    let server = Server::start(|seen, _| async move {
        match seen.inputs()[0].as_str() {
            "count" => Json(json!({
                "object": "list",
                "data": [{"object": "embedding", "index": 0, "embedding": [1.0]}],
            }))
            .into_response(),
            "dims" => Json(json!({
                "object": "list",
                "data": [
                    {"object": "embedding", "index": 0, "embedding": [1.0, 2.0]},
                    {"object": "embedding", "index": 1, "embedding": [1.0]},
                ],
            }))
            .into_response(),
            _ => (StatusCode::OK, "<html>gateway says hi</html>").into_response(),
        }
    })
    .await;
    let embedder = azure(&server, azure_key(), fast());

    for first in ["count", "dims", "html"] {
        let err = embedder
            .embed(&texts(&[first, "second"]))
            .await
            .unwrap_err();
        assert!(
            matches!(err, RemoteError::BadResponse(_)),
            "{first}: {err:?}"
        );
    }
    // Malformed answers are not retried.
    assert_eq!(server.total(), 3);
}

#[tokio::test]
async fn invalid_configuration_is_rejected_up_front() {
    let config = |endpoint: &str| AzureOpenAi {
        endpoint: endpoint.into(),
        deployment: "emb".into(),
        api_version: "2024-02-01".into(),
        auth: RemoteAuth::AzureApiKey("k".into()),
    };
    let cases = [
        RemoteEmbedder::azure(config("not a url"), RemoteOptions::default()),
        RemoteEmbedder::azure(
            config("https://x.openai.azure.com"),
            RemoteOptions {
                max_batch: 0,
                ..RemoteOptions::default()
            },
        ),
        RemoteEmbedder::azure(
            AzureOpenAi {
                auth: RemoteAuth::AzureApiKey("bad\nkey".into()),
                ..config("https://x.openai.azure.com")
            },
            RemoteOptions::default(),
        ),
    ];
    for case in cases {
        assert!(matches!(case, Err(RemoteError::Config(_))), "{case:?}");
    }
}
