//! Secrets never reach PostgreSQL's log, even when it logs every statement
//! with every parameter in full: the gate secret (and the key derived from
//! it) and the query role's password.

use crate::support;

use std::time::Duration;

use mcp_host::db::caller::CallerDb;
use mcp_host::db::migrate;
use mcp_host::seed::{self, SeedOptions};
use support::pg::{connect, start_private_cluster};

#[tokio::test]
async fn with_every_statement_and_parameter_logged_no_secret_is_in_the_log() {
    let pg = start_private_cluster("zava-logs-");
    let superuser = connect(&pg.superuser("postgres")).await;
    // One statement at a time: ALTER SYSTEM refuses a transaction block.
    for setting in [
        "log_statement = 'all'",
        "log_min_duration_statement = 0",
        "log_parameter_max_length = -1",
        "log_parameter_max_length_on_error = -1",
        "log_min_error_statement = 'debug5'",
        "log_error_verbosity = 'verbose'",
        "log_min_messages = 'info'",
    ] {
        superuser
            .simple_query(&format!("ALTER SYSTEM SET {setting}"))
            .await
            .unwrap();
    }
    superuser
        .simple_query("SELECT pg_reload_conf()")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let secret = mcp_host::db::secrets::random_secret();
    let password = format!("pw-{}", mcp_host::db::secrets::random_secret());
    let tls = mcp_host::db::tls::connector(None).unwrap();
    let admin = migrate::connect_creating(&pg.superuser("zava"), &tls)
        .await
        .unwrap();
    migrate::migrate(&admin, &secret, Some(&password))
        .await
        .unwrap();
    // Again: what a restart does.
    migrate::migrate(&admin, &secret, Some(&password))
        .await
        .unwrap();
    seed::seed(
        &admin,
        SeedOptions {
            seed: 1,
            scale: 0.002,
            replace: false,
            progress: false,
        },
    )
    .await
    .unwrap();

    // Calls as the query role, logging in with the password: queries, the
    // scope lookup, a statement that fails inside the transaction.
    let mut query = pg.config(mcp_host::db::settings::QUERY_ROLE, "zava");
    query.password(password.as_str());
    let caller = CallerDb::new(query.clone(), secret.clone(), Default::default(), 2).unwrap();
    let seattle: uuid::Uuid = support::SEATTLE.parse().unwrap();
    for sql in [
        "SELECT count(*) AS n FROM retail.orders",
        "SELECT store_id FROM retail.orders WHERE store_id = $1",
        "SELECT 1 / 0 AS boom",
    ] {
        let params = if sql.contains("$1") {
            vec![mcp_host::bindings::zava::mcp::types::SqlValue::Int(1)]
        } else {
            vec![]
        };
        let _ = caller.query(seattle, sql, &params, 10).await;
    }
    assert_eq!(caller.scope_of(seattle).await.unwrap(), "1");
    // A server with the wrong secret: its proofs fail, and the failure is
    // logged with its parameters.
    let wrong = CallerDb::new(
        query,
        mcp_host::db::secrets::random_secret(),
        Default::default(),
        1,
    )
    .unwrap();
    assert!(wrong.query(seattle, "SELECT 1", &[], 1).await.is_err());
    drop((caller, wrong, admin));
    tokio::time::sleep(Duration::from_millis(500)).await;

    let log = std::fs::read_to_string(pg.root().join("postgres.log")).unwrap();
    // The log did record statements and their parameters in full.
    assert!(log.contains("rls.enter"), "statements are logged");
    assert!(log.contains("Parameters: $1 = '"), "parameters are logged");
    assert!(log.contains("COPY rls_private.gate_key_staging"));
    // The key the host derives and installs (as COPY data).
    let key = {
        use hmac::{Hmac, KeyInit, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(b"zava-gate-key/v1");
        hex::encode(mac.finalize().into_bytes())
    };
    for (what, needle) in [
        ("the gate secret", secret.clone()),
        ("the query role's password", password.clone()),
        ("the gate key", key),
    ] {
        assert!(!log.contains(&needle), "{what} is in the server log");
    }
    pg.stop().unwrap();
}
