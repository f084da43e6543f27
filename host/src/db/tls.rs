//! TLS to PostgreSQL (Azure Database for PostgreSQL requires it), through
//! rustls. Certificates are always verified — against the system's CAs plus
//! an optional CA file (`MCP_PG_CA_FILE`, e.g. a private CA) — unlike
//! libpq's `sslmode=require`, which accepts any certificate. Over Unix
//! sockets (the embedded database) TLS is never used. `sslmode` in the URL
//! still decides whether TLS is attempted (`disable`), preferred (the
//! default) or required.

use std::path::Path;

use tokio_postgres_rustls::MakeRustlsConnect;

pub fn connector(ca_file: Option<&Path>) -> Result<MakeRustlsConnect, String> {
    crate::embeddings::remote::tls_init();
    let mut roots = rustls::RootCertStore::empty();
    // A store without system CAs (a minimal container) still works with a CA file.
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(path) = ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| format!("cannot read the PostgreSQL CA file {}: {e}", path.display()))?;
        let mut added = 0;
        for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
            let cert = cert.map_err(|e| format!("{} is not PEM: {e}", path.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("{}: unusable certificate: {e}", path.display()))?;
            added += 1;
        }
        if added == 0 {
            return Err(format!("{} holds no PEM certificate", path.display()));
        }
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}
