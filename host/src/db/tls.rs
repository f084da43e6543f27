//! TLS to PostgreSQL (Azure Database for PostgreSQL requires it), through
//! rustls. Certificates are always verified — against the system's CAs plus
//! an optional CA file (`MCP_PG_CA_FILE`, e.g. a private CA) — unlike
//! libpq's `sslmode=require`, which accepts any certificate. Over Unix
//! sockets (the embedded database) TLS is never used. `sslmode` in the URL
//! still decides whether TLS is attempted (`disable`), preferred (the
//! default) or required.

use std::path::{Path, PathBuf};

use tokio_postgres_rustls::MakeRustlsConnect;

pub fn connector(ca_file: Option<&Path>) -> Result<MakeRustlsConnect, TlsError> {
    crate::embeddings::remote::tls_init();
    let mut roots = rustls::RootCertStore::empty();
    // A store without system CAs (a minimal container) still works with a CA file.
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).map_err(|error| TlsError::ReadCaFile {
            path: path.to_path_buf(),
            error,
        })?;
        let mut added = 0;
        for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
            let cert = cert.map_err(|error| TlsError::NotPem {
                path: path.to_path_buf(),
                error,
            })?;
            roots.add(cert).map_err(|error| TlsError::Certificate {
                path: path.to_path_buf(),
                error,
            })?;
            added += 1;
        }
        if added == 0 {
            return Err(TlsError::NoCertificate {
                path: path.to_path_buf(),
            });
        }
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// Why the CA file cannot be used. Wrapped errors are part of the message.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the PostgreSQL CA file {}: {error}", path.display())]
    ReadCaFile {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{} is not PEM: {error}", path.display())]
    NotPem {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{}: unusable certificate: {error}", path.display())]
    Certificate { path: PathBuf, error: rustls::Error },
    #[error("{} holds no PEM certificate", path.display())]
    NoCertificate { path: PathBuf },
}
