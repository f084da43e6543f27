//! The operator's component policy: which component may use which import,
//! under which limits, and optionally exactly which bytes it must be.
//!
//! ```toml
//! # components/policy.toml
//! [components.sales_sql]          # the file's name without `.wasm`
//! imports = ["database"]          # of: database, embeddings
//! deadline = "10s"                # each at most the host's flag
//! memory_mib = 32
//! max_rows = 1000
//! sha256 = "9f2c..."              # refuse any other bytes under this name
//! ```
//!
//! Without a policy file every component may use every import under the
//! host's limits (development). Once a file exists, a component it does not
//! list is refused: deny by default. The host's flags stay the ceiling; a
//! policy can only narrow them, never widen them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::capabilities::Capabilities;

/// Host-wide limits, from the command line; the most a policy may grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ceilings {
    pub deadline: Duration,
    pub memory_bytes: usize,
    pub max_rows: u32,
}

impl Ceilings {
    /// The sandbox's limits, with the database's row cap.
    pub fn new(limits: &crate::runtime::limits::SandboxLimits, max_rows: u32) -> Self {
        Self {
            deadline: limits.deadline,
            memory_bytes: limits.memory_bytes,
            max_rows,
        }
    }
}

/// What one component is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The imports granted, by the name a capability declares
    /// ([`crate::capabilities::Capability::IMPORT`]).
    pub imports: BTreeSet<&'static str>,
    pub deadline: Duration,
    pub memory_bytes: usize,
    pub max_rows: u32,
}

impl Grant {
    /// Everything, at the host's limits (no policy file).
    pub fn everything(ceilings: &Ceilings) -> Self {
        Self {
            imports: Capabilities::grantable().into_iter().collect(),
            deadline: ceilings.deadline,
            memory_bytes: ceilings.memory_bytes,
            max_rows: ceilings.max_rows,
        }
    }

    /// Whether the component may use the import named `import`.
    pub fn allows(&self, import: &str) -> bool {
        self.imports.contains(import)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    grant: Grant,
    sha256: Option<String>,
}

/// The policy in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    ceilings: Ceilings,
    /// `None`: no policy file, everything is allowed.
    components: Option<BTreeMap<String, Entry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    components: BTreeMap<String, FileEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEntry {
    #[serde(default)]
    imports: Vec<String>,
    deadline: Option<String>,
    memory_mib: Option<usize>,
    max_rows: Option<u32>,
    sha256: Option<String>,
}

impl Policy {
    /// No policy file: every component may use everything.
    pub fn open(ceilings: Ceilings) -> Self {
        Self {
            ceilings,
            components: None,
        }
    }

    pub fn is_open(&self) -> bool {
        self.components.is_none()
    }

    /// Components the policy lists (0 when there is no file).
    pub fn listed(&self) -> usize {
        self.components.as_ref().map_or(0, BTreeMap::len)
    }

    /// Reads `path`; `Ok(None)` when there is no such file.
    pub fn read(path: &Path, ceilings: Ceilings) -> Result<Option<Self>, PolicyError> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                Self::parse(&text, ceilings)
                    .map(Some)
                    .map_err(|error| PolicyError::InFile {
                        path: path.to_path_buf(),
                        error: Box::new(error),
                    })
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(PolicyError::Read {
                path: path.to_path_buf(),
                error,
            }),
        }
    }

    pub fn parse(text: &str, ceilings: Ceilings) -> Result<Self, PolicyError> {
        let file: File = toml::from_str(text).map_err(PolicyError::Syntax)?;
        let mut components = BTreeMap::new();
        for (name, entry) in file.components {
            let entry = Self::entry(&entry, &ceilings).map_err(|error| PolicyError::Component {
                name: name.clone(),
                error: Box::new(error),
            })?;
            components.insert(name, entry);
        }
        Ok(Self {
            ceilings,
            components: Some(components),
        })
    }

    fn entry(entry: &FileEntry, ceilings: &Ceilings) -> Result<Entry, PolicyError> {
        let grantable = Capabilities::grantable();
        let mut grant = Grant {
            imports: BTreeSet::new(),
            ..Grant::everything(ceilings)
        };
        for import in &entry.imports {
            let Some(known) = grantable.iter().find(|known| **known == import) else {
                return Err(PolicyError::UnknownImport {
                    import: import.clone(),
                    grantable,
                });
            };
            grant.imports.insert(known);
        }
        if let Some(text) = &entry.deadline {
            let deadline =
                humantime::parse_duration(text).map_err(|error| PolicyError::Deadline {
                    text: text.clone(),
                    error,
                })?;
            if deadline.is_zero() || deadline > ceilings.deadline {
                return Err(PolicyError::DeadlineOutOfRange {
                    text: text.clone(),
                    ceiling: ceilings.deadline,
                });
            }
            grant.deadline = deadline;
        }
        if let Some(mib) = entry.memory_mib {
            let bytes = mib.saturating_mul(1 << 20);
            if mib == 0 || bytes > ceilings.memory_bytes {
                return Err(PolicyError::MemoryOutOfRange {
                    mib,
                    ceiling_mib: ceilings.memory_bytes >> 20,
                });
            }
            grant.memory_bytes = bytes;
        }
        if let Some(rows) = entry.max_rows {
            if rows == 0 || rows > ceilings.max_rows {
                return Err(PolicyError::MaxRowsOutOfRange {
                    rows,
                    ceiling: ceilings.max_rows,
                });
            }
            grant.max_rows = rows;
        }
        let sha256 = match &entry.sha256 {
            Some(hex) => {
                let hex = hex.trim().to_ascii_lowercase();
                if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(PolicyError::Sha256Format);
                }
                Some(hex)
            }
            None => None,
        };
        Ok(Entry { grant, sha256 })
    }

    /// What the component in file `file` (e.g. `sales_sql.wasm`) with these
    /// bytes' `digest` may do, or why it may not be loaded at all.
    pub fn grant(&self, file: &str, digest: &str) -> Result<Grant, PolicyError> {
        let Some(components) = &self.components else {
            return Ok(Grant::everything(&self.ceilings));
        };
        let name = file.strip_suffix(".wasm").unwrap_or(file);
        let entry = components
            .get(name)
            .ok_or_else(|| PolicyError::Unlisted { name: name.into() })?;
        if let Some(pinned) = &entry.sha256
            && pinned != digest
        {
            return Err(PolicyError::PinnedElsewhere {
                name: name.into(),
                digest: digest.into(),
                pinned: pinned.clone(),
            });
        }
        Ok(entry.grant.clone())
    }
}

/// Why a policy file cannot be used, or why the policy refuses a component.
/// Wrapped errors are part of the message, not a separate source.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read {}: {error}", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The file at `path` is not a usable policy.
    #[error("{}: {error}", path.display())]
    InFile {
        path: PathBuf,
        error: Box<PolicyError>,
    },
    #[error("{0}")]
    Syntax(toml::de::Error),
    /// The `[components.<name>]` table is not a usable grant.
    #[error("[components.{name}]: {error}")]
    Component {
        name: String,
        error: Box<PolicyError>,
    },
    #[error("unknown import `{import}` (grantable: {})", grantable.join(", "))]
    UnknownImport {
        import: String,
        grantable: Vec<&'static str>,
    },
    #[error("deadline `{text}`: {error}")]
    Deadline {
        text: String,
        error: humantime::DurationError,
    },
    #[error(
        "deadline {text} must be positive and at most the host's --call-timeout ({})",
        humantime::format_duration(*ceiling)
    )]
    DeadlineOutOfRange { text: String, ceiling: Duration },
    #[error(
        "memory_mib {mib} must be positive and at most the host's --memory-limit-mib ({ceiling_mib})"
    )]
    MemoryOutOfRange { mib: usize, ceiling_mib: usize },
    #[error("max_rows {rows} must be positive and at most the host's --max-rows ({ceiling})")]
    MaxRowsOutOfRange { rows: u32, ceiling: u32 },
    #[error("sha256 must be 64 hex digits")]
    Sha256Format,
    /// A policy file exists and does not name this component.
    #[error("the component policy does not list `{name}` (add [components.{name}] to allow it)")]
    Unlisted { name: String },
    /// The bytes are not the ones the policy pins.
    #[error(
        "its sha256 is {digest}, but the component policy pins `{name}` to {pinned}; \
         refusing bytes the operator did not approve"
    )]
    PinnedElsewhere {
        name: String,
        digest: String,
        pinned: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    const CEILINGS: Ceilings = Ceilings {
        deadline: Duration::from_secs(30),
        memory_bytes: 64 << 20,
        max_rows: 10_000,
    };
    const DIGEST: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    #[test]
    fn no_file_allows_everything_at_the_host_limits() {
        let policy = Policy::open(CEILINGS);
        assert_eq!(
            policy.grant("x.wasm", DIGEST).ok(),
            Some(Grant::everything(&CEILINGS))
        );
    }

    #[test]
    fn listed_components_get_what_is_written_and_others_are_refused() {
        let policy = Policy::parse(
            r#"
            [components.sales_sql]
            imports = ["database"]
            deadline = "5s"
            memory_mib = 16
            max_rows = 100

            [components.get_current_utc_date]
            "#,
            CEILINGS,
        )
        .unwrap();
        let sql = policy.grant("sales_sql.wasm", DIGEST).unwrap();
        assert!(sql.allows("database") && !sql.allows("embeddings"));
        assert_eq!(sql.deadline, Duration::from_secs(5));
        assert_eq!(sql.memory_bytes, 16 << 20);
        assert_eq!(sql.max_rows, 100);
        let date = policy.grant("get_current_utc_date.wasm", DIGEST).unwrap();
        assert!(!date.allows("database") && !date.allows("embeddings"));
        assert_eq!(date.deadline, CEILINGS.deadline);
        let refused = policy
            .grant("semantic_search.wasm", DIGEST)
            .unwrap_err()
            .to_string();
        assert!(
            refused.contains("does not list `semantic_search`"),
            "{refused}"
        );
    }

    #[test]
    fn pinned_digest_must_match() {
        let policy = Policy::parse(
            &format!("[components.t]\nsha256 = \"{}\"\n", DIGEST.to_uppercase()),
            CEILINGS,
        )
        .unwrap();
        assert!(policy.grant("t.wasm", DIGEST).is_ok());
        let other = "b".repeat(64);
        let refused = policy.grant("t.wasm", &other).unwrap_err().to_string();
        assert!(refused.contains("pins `t`"), "{refused}");
    }

    #[test]
    fn a_policy_cannot_widen_the_host_limits_or_invent_imports() {
        for bad in [
            "[components.t]\nimports = [\"filesystem\"]",
            "[components.t]\ndeadline = \"1h\"",
            "[components.t]\ndeadline = \"0s\"",
            "[components.t]\nmemory_mib = 4096",
            "[components.t]\nmemory_mib = 17592186044416",
            "[components.t]\nmax_rows = 1000000",
            "[components.t]\nsha256 = \"abc\"",
            "[components.t]\nimport = [\"database\"]",
            "[component.t]",
        ] {
            assert!(Policy::parse(bad, CEILINGS).is_err(), "{bad}");
        }
    }
}
