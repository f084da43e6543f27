//! Faults while serving, against real parts only (embedded PostgreSQL, the
//! built components, rmcp's MCP client, plain HTTP): PostgreSQL stopped and
//! restarted under load, the embeddings endpoint failing or slow, a
//! component that traps on every call hammered concurrently, a client that
//! disconnects mid-call, and a components folder full of junk. Each time the
//! host must answer every call with a clear result, keep serving everyone
//! else, recover without a restart, leak nothing, and never panic.
//!
//! Complements `sql_tools.rs` (a database that never was), `hostile.rs`
//! (one misbehaving call at a time) and `hot_swap.rs` (one corrupt file).

use crate::support;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use mcp_host::db::embedded::EmbeddedPostgres;
use mcp_host::db::settings::QUERY_ROLE;
use reqwest::header::{HeaderMap, HeaderValue};
use rmcp::model::{CallToolRequestParams, CallToolResult};
use serde_json::{Value, json};
use support::pg::{load_demo, start_private_cluster};
use support::*;

// ------------------------------------------------------------------ helpers

/// Panics raised anywhere but in this file's own assertions (the host, its
/// libraries, tasks it spawned). Tests of this binary share the list.
static HOST_PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn watch_for_host_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let file = info.location().map_or("?", |l| l.file());
            if !(file.ends_with("tests/faults.rs") || file.contains("tests/support/")) {
                let thread = std::thread::current().name().unwrap_or("?").to_string();
                HOST_PANICS
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(format!("{info} (thread {thread})"));
            }
            default(info);
        }));
    });
}

fn assert_no_host_panics() {
    let panics = HOST_PANICS.lock().unwrap_or_else(|e| e.into_inner());
    assert!(
        panics.is_empty(),
        "the host panicked:\n{}",
        panics.join("\n")
    );
}

/// `tools/call`, with a transport or protocol failure as `Err` (instead of
/// the panic of [`McpClient::call`]) so that a test can count it.
async fn try_call(
    client: &McpClient,
    tool: &str,
    arguments: Value,
) -> Result<CallToolResult, String> {
    let Value::Object(arguments) = arguments else {
        panic!("arguments must be an object")
    };
    client
        .service
        .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(arguments))
        .await
        .map_err(|e| e.to_string())
}

/// Polls `check` until it holds (at most a minute: CI machines are slow).
async fn poll_until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..600 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting until {what}");
}

async fn scrape(base: &str) -> String {
    let response = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// The value of the series line starting with `series` (name + labels).
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Calls of `tool` counted under any outcome.
fn calls_of(text: &str, tool: &str) -> f64 {
    let prefix = format!("mcp_tool_calls_total{{tool=\"{tool}\",");
    text.lines()
        .filter(|line| line.starts_with(&prefix))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn calls_series(tool: &str, outcome: &str) -> String {
    format!("mcp_tool_calls_total{{tool=\"{tool}\",outcome=\"{outcome}\"}}")
}

/// A dev-header user per client (unknown users have no store: fine for
/// tools that do not query, and they keep per-caller limits apart).
fn user(n: usize) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

/// A private cluster with the Zava schema and a small demo data set, for
/// scenarios that stop PostgreSQL or re-embed the catalogue. The query role
/// has no password: the cluster trusts its local socket.
struct PrivateDb {
    pg: EmbeddedPostgres,
    secret: String,
}

const DB: &str = "zava";

impl PrivateDb {
    async fn start(prefix: &'static str) -> Self {
        let pg = tokio::task::spawn_blocking(move || start_private_cluster(prefix))
            .await
            .unwrap();
        let secret = mcp_host::db::secrets::random_secret();
        load_demo(&pg, DB, &secret, 11, 0.01).await;
        Self { pg, secret }
    }

    async fn admin(&self) -> tokio_postgres::Client {
        support::pg::connect(&self.pg.superuser(DB)).await
    }

    /// `mcp-host serve` flags for this database (no embeddings unless `extra`
    /// names a provider).
    fn serve_flags(&self, extra: &[&str]) -> Vec<String> {
        let config = self.pg.config(QUERY_ROLE, DB);
        let host = match &config.get_hosts()[0] {
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
            tokio_postgres::config::Host::Tcp(host) => host.clone(),
        };
        let mut flags = vec![
            "--query-database-url".to_string(),
            format!(
                "host={host} port={} user={QUERY_ROLE} dbname={DB}",
                config.get_ports()[0]
            ),
            "--rls-secret".into(),
            self.secret.clone(),
        ];
        if !extra.contains(&"--embeddings") {
            flags.extend(["--embeddings".into(), "none".into()]);
        }
        flags.extend(extra.iter().map(|s| s.to_string()));
        flags
    }

    async fn stop(&self) {
        let pg = self.pg.clone();
        tokio::task::spawn_blocking(move || pg.stop())
            .await
            .unwrap()
            .expect("PostgreSQL stops");
    }

    async fn start_again(&self) {
        let pg = self.pg.clone();
        tokio::task::spawn_blocking(move || pg.start())
            .await
            .unwrap()
            .expect("PostgreSQL starts again");
    }
}

async fn start_server(components: &[&str], flags: &[String]) -> TestServer {
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    TestServer::start_with(components, &flags).await
}

// ------------------------------------------- 1. PostgreSQL stopped under load

#[derive(Debug, Clone)]
enum Outcome {
    Ok,
    Unavailable,
    /// Any other tool error (a deadline, a PostgreSQL error ...): a failure.
    OtherToolError(String),
    /// No `tools/call` result at all: a failure.
    Transport(String),
}

impl Outcome {
    /// What went wrong, for a call that neither succeeded nor said that
    /// the database is unavailable.
    fn failure(&self) -> Option<&str> {
        match self {
            Self::OtherToolError(text) | Self::Transport(text) => Some(text),
            Self::Ok | Self::Unavailable => None,
        }
    }
}

const SQL_WORKERS: usize = 6;
const POOL_SIZE: usize = 4;

#[tokio::test(flavor = "multi_thread")]
async fn postgres_stopped_and_restarted_under_load_recovers_without_a_host_restart() {
    watch_for_host_panics();
    let db = PrivateDb::start("zava-faults-pg-").await;
    let pool = POOL_SIZE.to_string();
    let server = start_server(
        &["sales_sql", "get_current_utc_date"],
        &db.serve_flags(&["--db-pool-size", &pool, "--call-timeout", "20s"]),
    )
    .await;

    // Phase 0: up; 1: stopping; 2: stopped; 3: starting; 4: started again.
    // Each call is logged with the phases it started and ended in.
    let phase = Arc::new(AtomicU8::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let log: Arc<Mutex<Vec<(u8, u8, Outcome)>>> = Arc::default();
    let mut workers = Vec::new();
    for n in 0..SQL_WORKERS {
        let client = server.client(HEAD_OFFICE).await;
        let (phase, stop, log) = (phase.clone(), stop.clone(), log.clone());
        workers.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let started = phase.load(Ordering::SeqCst);
                let sql = format!("SELECT count(*) + {n} AS n FROM retail.orders");
                let outcome = match try_call(
                    &client,
                    "execute_sales_query",
                    json!({ "postgresql_query": sql }),
                )
                .await
                {
                    Err(e) => Outcome::Transport(e),
                    Ok(r) if !is_error(&r) => Outcome::Ok,
                    Ok(r) if text_of(&r).starts_with("The database is unavailable right now: ") => {
                        Outcome::Unavailable
                    }
                    Ok(r) => Outcome::OtherToolError(text_of(&r)),
                };
                let ended = phase.load(Ordering::SeqCst);
                log.lock().unwrap().push((started, ended, outcome));
                // Keep the two cores for PostgreSQL and the host.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    // Calls wholly within `phase`, and those of them that succeeded.
    let within = |log: &[(u8, u8, Outcome)], phase: u8| -> Vec<Outcome> {
        log.iter()
            .filter(|(started, ended, _)| *started == phase && *ended == phase)
            .map(|(_, _, outcome)| outcome.clone())
            .collect()
    };
    let succeeded = |log: &Mutex<Vec<(u8, u8, Outcome)>>, phase: u8| {
        within(&log.lock().unwrap(), phase)
            .iter()
            .filter(|o| matches!(o, Outcome::Ok))
            .count()
    };

    poll_until("the workers' queries succeed", async || {
        succeeded(&log, 0) >= SQL_WORKERS * 3
    })
    .await;

    phase.store(1, Ordering::SeqCst);
    db.stop().await;
    phase.store(2, Ordering::SeqCst);
    poll_until("calls against the stopped database come back", async || {
        within(&log.lock().unwrap(), 2).len() >= SQL_WORKERS * 5
    })
    .await;
    // Meanwhile a tool that needs no database is unaffected.
    let other = server.client(SEATTLE).await;
    let now = other.call("get_current_utc_date", json!({})).await;
    assert!(!is_error(&now), "{}", text_of(&now));

    phase.store(3, Ordering::SeqCst);
    db.start_again().await;
    phase.store(4, Ordering::SeqCst);
    poll_until("queries succeed again after the restart", async || {
        succeeded(&log, 4) >= SQL_WORKERS * 3
    })
    .await;
    stop.store(true, Ordering::SeqCst);
    for worker in workers {
        worker.await.expect("worker task");
    }

    let log = log.lock().unwrap().clone();
    let failures: Vec<String> = log
        .iter()
        .filter_map(|(p, q, o)| o.failure().map(|text| format!("phases {p}-{q}: {text}")))
        .collect();
    assert!(
        failures.is_empty(),
        "every call must succeed or say the database is unavailable: {failures:#?}"
    );
    assert!(
        within(&log, 0).iter().all(|o| matches!(o, Outcome::Ok)),
        "calls failed before the stop"
    );
    assert!(
        within(&log, 2)
            .iter()
            .all(|o| matches!(o, Outcome::Unavailable)),
        "a call succeeded against a stopped database"
    );

    // Fully recovered: a fresh session's calls all succeed.
    let fresh = server.client(HEAD_OFFICE).await;
    for _ in 0..10 {
        let result = fresh
            .call(
                "execute_sales_query",
                json!({ "postgresql_query": "SELECT count(*) AS n FROM retail.stores" }),
            )
            .await;
        assert!(!is_error(&result), "{}", text_of(&result));
    }

    // Nothing leaked: at most the pool's connections per login (store
    // managers on zava_query, head office on zava_hq), no transaction left
    // open, no advisory lock held (connections being dropped may need a
    // moment to end their backends).
    let metrics = scrape(&server.base).await;
    assert!(
        metric(&metrics, "mcp_db_queries_total{outcome=\"unavailable\"}")
            >= (SQL_WORKERS * 5) as f64,
        "{metrics}"
    );
    assert!(metric(&metrics, "mcp_db_pool_connections{state=\"open\"}") <= POOL_SIZE as f64);
    let admin = db.admin().await;
    let state = async || {
        let row = admin
            .query_one(
                "SELECT (SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM pg_stat_activity
                          WHERE usename IN ('zava_query', 'zava_hq') GROUP BY usename) per_login),
                        (SELECT count(*) FROM pg_stat_activity
                          WHERE usename IN ('zava_query', 'zava_hq') AND state LIKE 'idle in transaction%'),
                        (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory')",
                &[],
            )
            .await
            .unwrap();
        (
            row.get::<_, i64>(0),
            row.get::<_, i64>(1),
            row.get::<_, i64>(2),
        )
    };
    poll_until(
        "no connection beyond the pool, no open transaction, no lock",
        async || {
            let (backends, open, locks) = state().await;
            backends <= POOL_SIZE as i64 && open == 0 && locks == 0
        },
    )
    .await;
    let (backends, open, locks) = state().await;
    assert!(
        (1..=POOL_SIZE as i64).contains(&backends),
        "{backends} backends on one login for a pool of {POOL_SIZE}"
    );
    assert_eq!((open, locks), (0, 0));

    server.stop().await;
    assert_no_host_panics();
}

// ------------------------------------------- 2. embeddings endpoint failing

const DIMENSIONS: usize = 384;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Behaviour {
    Ok = 0,
    ServerError = 1,
    RateLimited = 2,
    /// Answers after longer than the host's `--embedding-timeout`.
    Slow = 3,
}

/// A loopback OpenAI-compatible `POST /v1/embeddings` whose behaviour the
/// test switches, counting every request it receives.
struct FakeEmbeddings {
    base: String,
    behaviour: Arc<AtomicU8>,
    hits: Arc<AtomicUsize>,
}

impl FakeEmbeddings {
    async fn start() -> Self {
        use axum::extract::State;
        use axum::http::StatusCode;
        use axum::response::{IntoResponse, Response};
        type Shared = (Arc<AtomicU8>, Arc<AtomicUsize>);
        async fn embeddings(
            State((behaviour, hits)): State<Shared>,
            axum::Json(body): axum::Json<Value>,
        ) -> Response {
            hits.fetch_add(1, Ordering::SeqCst);
            let error = |message: &str| json!({ "error": { "message": message, "type": "fake" } });
            match behaviour.load(Ordering::SeqCst) {
                1 => {
                    return (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        axum::Json(error("the fake is down")),
                    )
                        .into_response();
                }
                2 => {
                    return (
                        StatusCode::TOO_MANY_REQUESTS,
                        [("retry-after-ms", "50")],
                        axum::Json(error("slow down")),
                    )
                        .into_response();
                }
                3 => tokio::time::sleep(Duration::from_secs(5)).await,
                _ => {}
            }
            if body["model"] != "m" {
                return (StatusCode::NOT_FOUND, axum::Json(error("no such model"))).into_response();
            }
            let data: Vec<Value> = body["input"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .enumerate()
                .map(|(i, text)| {
                    let text = text.as_str().unwrap_or_default();
                    let v: Vec<f32> = (0..DIMENSIONS)
                        .map(|d| {
                            (text.bytes().map(|b| b as usize * (d + 1)).sum::<usize>() % 89) as f32
                                + 1.0
                        })
                        .collect();
                    json!({ "object": "embedding", "index": i, "embedding": v })
                })
                .collect();
            axum::Json(json!({ "object": "list", "data": data, "model": "m" })).into_response()
        }
        let behaviour = Arc::new(AtomicU8::new(Behaviour::Ok as u8));
        let hits = Arc::new(AtomicUsize::new(0));
        let app = axum::Router::new()
            .route("/v1/embeddings", axum::routing::post(embeddings))
            .with_state((behaviour.clone(), hits.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/v1", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            base,
            behaviour,
            hits,
        }
    }

    fn set(&self, behaviour: Behaviour) {
        self.behaviour.store(behaviour as u8, Ordering::SeqCst);
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_or_slow_embeddings_endpoint_is_a_clear_error_and_recovers() {
    use clap::Parser;
    use mcp_host::config::{Cli, Command};
    watch_for_host_panics();
    let fake = FakeEmbeddings::start().await;
    let provider = [
        "--embeddings",
        "openai-compatible",
        "--openai-base-url",
        &fake.base,
        "--openai-model",
        "m",
        "--embedding-dimensions",
        "384",
        "--embedding-timeout",
        "1s",
    ];
    let db = PrivateDb::start("zava-faults-emb-").await;
    // The catalogue embedded with the fake's model, as `mcp-host embed` does.
    let mut argv = vec!["mcp-host", "embed"];
    argv.extend(provider);
    let Command::Embed(args) = Cli::parse_from(argv).command else {
        unreachable!()
    };
    let embeddings = args.embeddings.build().unwrap().unwrap();
    let report = mcp_host::embeddings::product_index::embed_products(
        &db.admin().await,
        &embeddings,
        64,
        false,
    )
    .await
    .expect("the catalogue embeds with the fake");
    assert_eq!(
        (report.model.name.as_str(), report.model.dimensions),
        ("m", DIMENSIONS as u32)
    );

    let mut flags = provider.to_vec();
    flags.extend(["--call-timeout", "30s"]);
    let server = start_server(
        &["semantic_search", "sales_sql", "get_current_utc_date"],
        &db.serve_flags(&flags),
    )
    .await;
    let client = Arc::new(server.client(HEAD_OFFICE).await);
    let others = server.client(SEATTLE).await;
    let search = |client: Arc<McpClient>, query: String| {
        tokio::spawn(async move {
            try_call(
                &client,
                "semantic_search_products",
                json!({ "query_description": query, "similarity_threshold": 0, "max_rows": 3 }),
            )
            .await
        })
    };
    let assert_found = |result: &CallToolResult| {
        assert!(!is_error(result), "{}", text_of(result));
        let structured = result.structured_content.clone().unwrap();
        assert_eq!(structured["model"], "m");
        assert_eq!(structured["results"].as_array().unwrap().len(), 3);
    };

    // Healthy: one request per new text.
    let before = fake.hits();
    let result = search(client.clone(), "garden hose".into()).await.unwrap();
    assert_found(&result.expect("tools/call answered"));
    assert_eq!(fake.hits() - before, 1);

    let cases = [
        (
            Behaviour::ServerError,
            "server error: OpenAI-compatible endpoint (HTTP 500): the fake is down",
        ),
        (
            Behaviour::RateLimited,
            "rate limited: OpenAI-compatible endpoint (HTTP 429): slow down",
        ),
        (Behaviour::Slow, "timed out: embeddings request to"),
    ];
    for (round, (behaviour, expected)) in cases.into_iter().enumerate() {
        fake.set(behaviour);
        let before = fake.hits();
        // A text never asked before, so the cache cannot answer it.
        let call = search(client.clone(), format!("cordless drill {round}"));
        poll_until("the search reaches the endpoint", async || {
            fake.hits() > before
        })
        .await;
        // The other tools keep working while the search waits on the provider.
        let now = others.call("get_current_utc_date", json!({})).await;
        assert!(!is_error(&now), "{}", text_of(&now));
        let sql = others
            .call(
                "execute_sales_query",
                json!({ "postgresql_query": "SELECT count(*) AS n FROM retail.orders" }),
            )
            .await;
        assert!(!is_error(&sql), "{}", text_of(&sql));
        if behaviour == Behaviour::Slow {
            // Four attempts of at least 1 s each cannot be over yet.
            assert!(
                !call.is_finished(),
                "the other tools answered only after the search gave up"
            );
        }
        let result = call.await.unwrap().expect("tools/call answered");
        let text = text_of(&result);
        assert!(is_error(&result), "{behaviour:?}: {text}");
        assert!(
            text.starts_with("cannot embed the request: openai-compatible embeddings: ")
                && text.contains(expected),
            "{behaviour:?}: {text}"
        );
        assert!(!text.contains("ran longer than"), "{behaviour:?}: {text}");
        // Retried (429, 5xx and timeouts are), but only up to 4 attempts.
        assert_eq!(fake.hits() - before, 4, "{behaviour:?}: attempts");
    }

    // Recovered: the next search is answered, with one request.
    fake.set(Behaviour::Ok);
    let before = fake.hits();
    let result = search(client.clone(), "cordless drill again".into())
        .await
        .unwrap();
    assert_found(&result.expect("tools/call answered"));
    assert_eq!(fake.hits() - before, 1);

    let metrics = scrape(&server.base).await;
    assert_eq!(
        metric(
            &metrics,
            &calls_series("semantic_search_products", "tool_error")
        ),
        3.0,
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, &calls_series("semantic_search_products", "ok")),
        2.0,
        "{metrics}"
    );
    server.stop().await;
    assert_no_host_panics();
}

// --------------------------------------- 3. a trapping component, hammered

const HOSTILE_CLIENTS: usize = 8;
const CALM_CLIENTS: usize = 4;
const CALLS_EACH: usize = 15;

#[tokio::test(flavor = "multi_thread")]
async fn a_component_that_traps_on_every_call_under_concurrency_harms_no_one_else() {
    watch_for_host_panics();
    let server = TestServer::start_with(&["get_current_utc_date", "hostile"], &[]).await;
    let before = scrape(&server.base).await;
    let mut tasks = Vec::new();
    for n in 0..HOSTILE_CLIENTS + CALM_CLIENTS {
        let client = server.client(&user(n)).await;
        let tool = if n < HOSTILE_CLIENTS {
            "hostile_panic"
        } else {
            "get_current_utc_date"
        };
        tasks.push(tokio::spawn(async move {
            let mut results = Vec::new();
            for _ in 0..CALLS_EACH {
                results.push(try_call(&client, tool, json!({})).await);
            }
            (tool, results)
        }));
    }
    let (mut crashed, mut fine) = (0, 0);
    for task in tasks {
        let (tool, results) = task.await.expect("client task");
        for result in results {
            let result = result.unwrap_or_else(|e| panic!("{tool}: no result: {e}"));
            let text = text_of(&result);
            if tool == "hostile_panic" {
                assert!(is_error(&result), "{text}");
                assert!(
                    text.starts_with("the tool crashed: it panicked: ")
                        && text.contains("hostile component panicked on purpose"),
                    "{text}"
                );
                crashed += 1;
            } else {
                assert!(!is_error(&result), "{text}");
                fine += 1;
            }
        }
    }
    assert_eq!(crashed, HOSTILE_CLIENTS * CALLS_EACH);
    assert_eq!(fine, CALM_CLIENTS * CALLS_EACH);

    let after = scrape(&server.base).await;
    let moved = |series: &str| metric(&after, series) - metric(&before, series);
    assert_eq!(
        moved(&calls_series("hostile_panic", "crashed")),
        crashed as f64,
        "{after}"
    );
    assert_eq!(
        moved(&calls_series("get_current_utc_date", "ok")),
        fine as f64,
        "{after}"
    );
    // Every hostile call is accounted as crashed, none as anything else.
    assert_eq!(
        calls_of(&after, "hostile_panic") - calls_of(&before, "hostile_panic"),
        crashed as f64,
        "{after}"
    );
    // And the instances went back: the host still serves.
    let client = server.client(HEAD_OFFICE).await;
    assert!(!is_error(
        &client.call("get_current_utc_date", json!({})).await
    ));
    server.stop().await;
    assert_no_host_panics();
}

// ----------------------------------------- 4. a client gone mid-call

const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}"#;

fn raw_headers(user: &str, session: Option<&str>) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        "accept",
        HeaderValue::from_static("application/json, text/event-stream"),
    );
    h.insert("content-type", HeaderValue::from_static("application/json"));
    h.insert("x-rls-user-id", HeaderValue::from_str(user).unwrap());
    if let Some(session) = session {
        h.insert("mcp-session-id", HeaderValue::from_str(session).unwrap());
        h.insert(
            "mcp-protocol-version",
            HeaderValue::from_static("2025-11-25"),
        );
    }
    h
}

/// Opens a session over plain HTTP, starts `swap_probe_slow` in it and
/// returns the response whose body would carry the result, unread.
async fn start_slow_call_raw(url: &str, user: &str) -> (reqwest::Client, reqwest::Response) {
    let http = reqwest::Client::new();
    let init = http
        .post(url)
        .headers(raw_headers(user, None))
        .body(INIT)
        .send()
        .await
        .unwrap();
    assert_eq!(init.status(), 200);
    let session = init.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string();
    let _ = init.text().await.unwrap();
    let initialized = http
        .post(url)
        .headers(raw_headers(user, Some(&session)))
        .body(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(initialized.status(), 202);
    let call = http
        .post(url)
        .headers(raw_headers(user, Some(&session)))
        .body(r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"swap_probe_slow","arguments":{}}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(call.status(), 200);
    (http, call)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_disconnects_mid_call_releases_its_instance() {
    watch_for_host_panics();
    // Two instances in all: the two abandoned calls take every one.
    let server = TestServer::start_with(
        &["get_current_utc_date", "probe_v1"],
        &["--max-instances", "2", "--call-timeout", "20s"],
    )
    .await;
    let observer = server.client(HEAD_OFFICE).await;
    let before = scrape(&server.base).await;

    let (http_a, call_a) = start_slow_call_raw(&server.url, &user(1)).await;
    // Another client is served meanwhile (one instance is left).
    let now = observer.call("get_current_utc_date", json!({})).await;
    assert!(!is_error(&now), "{}", text_of(&now));
    let (http_b, call_b) = start_slow_call_raw(&server.url, &user(2)).await;
    // Both slow calls hold an instance: the pool is empty ...
    let mut busy = false;
    for _ in 0..100 {
        let result = observer.call("get_current_utc_date", json!({})).await;
        if is_error(&result) {
            assert_eq!(
                text_of(&result),
                "the server is running as many tool calls as it allows; retry shortly"
            );
            busy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(busy, "the two slow calls never held both instances");
    // ... when both clients vanish without reading their answers.
    drop((call_a, http_a, call_b, http_b));

    // The host keeps serving, and the abandoned calls end and are counted.
    poll_until("both abandoned calls are accounted for", async || {
        let now = scrape(&server.base).await;
        calls_of(&now, "swap_probe_slow") - calls_of(&before, "swap_probe_slow") == 2.0
    })
    .await;
    // Both instances are free again: two slow calls at once both run.
    let (one, two) = (server.client(&user(3)).await, server.client(&user(4)).await);
    let (a, b) = tokio::join!(
        one.call("swap_probe_slow", json!({})),
        two.call("swap_probe_slow", json!({}))
    );
    assert_eq!((text_of(&a), text_of(&b)), ("v1".into(), "v1".into()));
    assert!(!is_error(
        &observer.call("get_current_utc_date", json!({})).await
    ));
    server.stop().await;
    assert_no_host_panics();
}

// -------------------------------------- 5. a components folder full of junk

/// Deterministic junk (xorshift), `len` bytes.
fn junk(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Writes `bytes` under `name` atomically (hidden temporary, then rename),
/// so the watcher sees each file once, complete.
fn drop_file(dir: &Path, name: &str, bytes: &[u8]) {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, dir.join(name)).unwrap();
}

const JUNK_COPIES: usize = 200;

#[tokio::test(flavor = "multi_thread")]
async fn a_components_folder_full_of_junk_is_refused_while_the_good_ones_serve() {
    watch_for_host_panics();
    let server = TestServer::start(&["get_current_utc_date"]).await;
    let dir = server.dir.path().to_path_buf();
    let before = scrape(&server.base).await;

    // A caller and a readiness probe, running all along.
    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicU32::new(0));
    let client = server.client(HEAD_OFFICE).await;
    let caller = {
        let (stop, served) = (stop.clone(), served.clone());
        tokio::spawn(async move {
            let mut failures = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                match try_call(&client, "get_current_utc_date", json!({})).await {
                    Ok(r) if !is_error(&r) => {
                        served.fetch_add(1, Ordering::SeqCst);
                    }
                    other => failures.push(format!("{other:?}")),
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            failures
        })
    };
    let readiness = {
        let (stop, base) = (stop.clone(), server.base.clone());
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut statuses = BTreeSet::new();
            while !stop.load(Ordering::SeqCst) {
                let status = http
                    .get(format!("{base}/readyz"))
                    .send()
                    .await
                    .map(|r| r.status().as_u16());
                statuses.insert(status.map_err(|e| e.to_string()));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            statuses
        })
    };

    // Regular files that are not components: each is rejected once.
    let mut rejected = 0;
    drop_file(&dir, "x.wasm", &junk(1, 64 << 10));
    drop_file(&dir, "empty.wasm", b"");
    let mut magic = b"\0asm\x0d\x00\x01\x00".to_vec();
    magic.extend(junk(2, 4096));
    drop_file(&dir, "component-header.wasm", &magic);
    drop_file(&dir, "core-module.wasm", b"\0asm\x01\x00\x00\x00");
    rejected += 4;
    // Larger than any component: sparse, so it costs no disk.
    let huge = std::fs::File::create(dir.join(".huge.wasm.tmp")).unwrap();
    huge.set_len(300 << 20).unwrap();
    drop(huge);
    std::fs::rename(dir.join(".huge.wasm.tmp"), dir.join("huge.wasm")).unwrap();
    rejected += 1;
    let copy = junk(3, 2048);
    for i in 0..JUNK_COPIES {
        drop_file(&dir, &format!("junk {i:03}.wasm"), &copy);
    }
    rejected += JUNK_COPIES;
    // Things that are not regular files are not components at all (and
    // must not be read: /dev/zero never ends, a FIFO blocks its reader).
    std::fs::create_dir(dir.join("dir.wasm")).unwrap();
    std::fs::write(dir.join("dir.wasm").join("inner.wasm"), b"nested").unwrap();
    std::os::unix::fs::symlink("loop.wasm", dir.join("loop.wasm")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.join("zero.wasm")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/nothing.wasm", dir.join("dangling.wasm")).unwrap();
    let fifo = std::ffi::CString::new(dir.join("fifo.wasm").to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    // Hidden files are skipped (operators' temporaries).
    std::fs::write(dir.join(".hidden.wasm"), b"junk").unwrap();
    // A real component under a name with spaces and Unicode loads.
    let good = "probe ✓ ünïcødé tool.wasm";
    server.install("probe_v1", good);

    let base = server.base.clone();
    let rejected_now = async || {
        let now = scrape(&base).await;
        metric(&now, "mcp_component_loads_total{outcome=\"rejected\"}")
            - metric(&before, "mcp_component_loads_total{outcome=\"rejected\"}")
    };
    poll_until(
        "every junk file is rejected and the good one loaded",
        async || {
            rejected_now().await >= rejected as f64
                && server.tool_names().contains(&"swap_probe".to_string())
        },
    )
    .await;
    // One more junk file: the scan that rejects it looked at all the others
    // again, and rejected none of them twice.
    drop_file(&dir, "late.wasm", &junk(4, 100));
    rejected += 1;
    poll_until("the late junk is rejected", async || {
        rejected_now().await >= rejected as f64
    })
    .await;
    assert_eq!(rejected_now().await, rejected as f64);

    let mut tools = server.client(SEATTLE).await.tool_names().await;
    tools.sort();
    assert_eq!(
        tools,
        [
            "get_current_utc_date",
            "probe_counter",
            "probe_scope",
            "swap_probe",
            "swap_probe_slow"
        ]
    );
    let probe = server.client(SEATTLE).await;
    assert_eq!(text_of(&probe.call("swap_probe", json!({})).await), "v1");
    let after = scrape(&server.base).await;
    assert_eq!(
        metric(&after, "mcp_component_loads_total{outcome=\"loaded\"}")
            - metric(&before, "mcp_component_loads_total{outcome=\"loaded\"}"),
        1.0
    );
    assert_eq!(metric(&after, "mcp_tools "), 5.0);

    let served_before = served.load(Ordering::SeqCst);
    poll_until("the caller is still served", async || {
        served.load(Ordering::SeqCst) > served_before
    })
    .await;
    stop.store(true, Ordering::SeqCst);
    let failures = caller.await.unwrap();
    assert!(
        failures.is_empty(),
        "calls failed during the junk: {failures:?}"
    );
    let statuses = readiness.await.unwrap();
    assert_eq!(
        statuses,
        BTreeSet::from([Ok(200)]),
        "/readyz during the junk"
    );
    server.stop().await;
    assert_no_host_panics();
}
