//! Secrets of the embedded database, generated on first start and kept next
//! to its data (readable by the host's user only). External databases get
//! theirs from the operator (MCP_RLS_SECRET, MCP_QUERY_PASSWORD).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmbeddedSecrets {
    pub rls_secret: String,
}

const FILE: &str = "secrets.json";

impl EmbeddedSecrets {
    pub fn load_or_create(root: &Path) -> Result<Self, SecretsError> {
        let path = root.join(FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                serde_json::from_str(&text).map_err(|error| SecretsError::Damaged { path, error })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let secrets = Self {
                    rls_secret: random_secret(),
                };
                std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&path)
                    .and_then(|mut file| {
                        file.write_all(
                            serde_json::to_string(&secrets)
                                .unwrap_or_default()
                                .as_bytes(),
                        )
                    })
                    .map_err(|error| SecretsError::Write { path, error })?;
                Ok(secrets)
            }
            Err(error) => Err(SecretsError::Read { path, error }),
        }
    }
}

/// Why the embedded database's secrets cannot be had. Wrapped errors are
/// part of the message.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("{} is damaged ({error}); delete it and run `mcp-host migrate`", path.display())]
    Damaged {
        path: PathBuf,
        error: serde_json::Error,
    },
    #[error("cannot write {}: {error}", path.display())]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot read {}: {error}", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// 244 random bits as hex: two v4 UUIDs, drawn from the OS random source.
pub fn random_secret() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}
