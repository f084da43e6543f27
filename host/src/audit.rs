//! The audit trail: one JSON line per tool call, saying who called what,
//! as which store, which component (by digest) answered, which SQL shapes
//! ran, how many rows left the database, how long it took and how it ended.
//!
//! What it never holds: tokens, secrets, SQL literals or results. The SQL a
//! call ran is reduced to libpg_query's fingerprint and its normalised text
//! (constants replaced by `$n`, comments removed) on the writer thread, so
//! the request path pays only for a channel send.
//!
//! Lines go to stdout (the container's log stream) or to a file, written by
//! one thread; calls wait for room in a bounded queue rather than losing
//! records when the writer falls behind.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokio::sync::mpsc;

use crate::capabilities::database::QueryRecord;
use crate::identity::Identity;
pub use crate::outcome::Outcome;
use crate::outcome::QueryOutcome;

/// Records waiting for the writer before callers are made to wait.
const QUEUE: usize = 4096;

/// Where audit lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditTarget {
    Stdout,
    File(PathBuf),
    Off,
}

impl std::str::FromStr for AuditTarget {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        Ok(match text {
            "-" | "stdout" => Self::Stdout,
            "off" | "none" => Self::Off,
            "" => return Err("empty audit log target".into()),
            path => Self::File(PathBuf::from(path)),
        })
    }
}

/// One tool call, as the handler saw it.
pub struct CallAudit {
    pub at: SystemTime,
    pub caller: Identity,
    /// `tools/call`, `prompts/get`, `resources/read`, `completion/complete`.
    pub method: &'static str,
    /// The tool or prompt, the resource's URI, or what is completed.
    pub tool: String,
    /// The MCP revision the call came in (`2025-11-25` in a session,
    /// `2026-07-28` stateless, ...).
    pub protocol: Option<String>,
    /// File and sha256 of the component that served it (none if refused
    /// before a component was chosen).
    pub component: Option<(Arc<str>, String)>,
    pub queries: Vec<QueryRecord>,
    pub embedded_texts: u32,
    pub duration: Duration,
    pub outcome: Outcome,
}

#[derive(Clone)]
pub struct AuditLog {
    queue: Option<mpsc::Sender<CallAudit>>,
}

impl AuditLog {
    /// Starts the writer for `target`.
    pub fn start(target: &AuditTarget) -> std::io::Result<Self> {
        let mut out: Box<dyn Write + Send> = match target {
            AuditTarget::Off => return Ok(Self { queue: None }),
            AuditTarget::Stdout => Box::new(std::io::stdout()),
            AuditTarget::File(path) => {
                let mut options = std::fs::OpenOptions::new();
                options.create(true).append(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let file = options.open(path)?;
                // `mode` applies to a new file only; tighten an existing
                // regular one. Never a device or a pipe: `--audit-log
                // /dev/null` made /dev/null unwritable for every other
                // user of the machine (PostgreSQL's server among them), and
                // a log shipper's FIFO would lock its reader out.
                #[cfg(unix)]
                if file.metadata()?.file_type().is_file() {
                    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
                }
                Box::new(file)
            }
        };
        let (tx, mut rx) = mpsc::channel::<CallAudit>(QUEUE);
        std::thread::Builder::new()
            .name("audit-writer".into())
            // libpg_query's fingerprinting recurses over the parse tree.
            .stack_size(16 << 20)
            .spawn(move || {
                while let Some(record) = rx.blocking_recv() {
                    write_line(&mut out, &record);
                    while let Ok(record) = rx.try_recv() {
                        write_line(&mut out, &record);
                    }
                    if let Err(error) = out.flush() {
                        tracing::error!(%error, "cannot write the audit log");
                    }
                }
            })?;
        Ok(Self { queue: Some(tx) })
    }

    pub fn disabled() -> Self {
        Self { queue: None }
    }

    pub async fn record(&self, record: CallAudit) {
        if let Some(queue) = &self.queue
            && queue.send(record).await.is_err()
        {
            tracing::error!("the audit writer has stopped; a tool call went unrecorded");
        }
    }
}

fn write_line(out: &mut dyn Write, record: &CallAudit) {
    let line = serde_json::to_string(&Line::from(record)).unwrap_or_default();
    if let Err(error) = writeln!(out, "{line}") {
        tracing::error!(%error, "cannot write the audit log");
    }
}

#[derive(Serialize)]
struct Line<'a> {
    ts: String,
    event: &'static str,
    principal: &'a str,
    subject: String,
    scope: String,
    method: &'static str,
    tool: &'a str,
    protocol: Option<&'a str>,
    component: Option<&'a str>,
    component_sha256: Option<&'a str>,
    outcome: Outcome,
    duration_ms: f64,
    rows: u64,
    truncated: bool,
    embedded_texts: u32,
    queries: Vec<QueryLine>,
}

#[derive(Serialize)]
struct QueryLine {
    /// libpg_query fingerprint: equal for the same shape of statement.
    fingerprint: Option<String>,
    /// The statement with constants as `$n` and no comments; `None` when
    /// it does not parse (its text is then withheld entirely).
    sql: Option<String>,
    rows: u64,
    truncated: bool,
    duration_ms: f64,
    outcome: QueryOutcome,
}

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

impl<'a> From<&'a CallAudit> for Line<'a> {
    fn from(record: &'a CallAudit) -> Self {
        let queries: Vec<QueryLine> = record
            .queries
            .iter()
            .map(|q| {
                let (fingerprint, sql) = q.sql.as_deref().map_or((None, None), shape_of);
                QueryLine {
                    fingerprint,
                    sql,
                    rows: q.rows,
                    truncated: q.truncated,
                    duration_ms: millis(q.elapsed),
                    outcome: q.outcome,
                }
            })
            .collect();
        Line {
            ts: time::OffsetDateTime::from(record.at)
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            event: if record.method == "tools/call" {
                "tool_call"
            } else {
                "component_request"
            },
            principal: &record.caller.principal,
            subject: record.caller.subject.to_string(),
            scope: record.caller.scope.label(),
            method: record.method,
            tool: &record.tool,
            protocol: record.protocol.as_deref(),
            component: record.component.as_ref().map(|(file, _)| &**file),
            component_sha256: record.component.as_ref().map(|(_, d)| d.as_str()),
            outcome: record.outcome,
            duration_ms: millis(record.duration),
            rows: queries.iter().map(|q| q.rows).sum(),
            truncated: queries.iter().any(|q| q.truncated),
            embedded_texts: record.embedded_texts,
            queries,
        }
    }
}

/// Fingerprint and literal-free text of `sql`, or nothing if it does not
/// parse (then even its shape could hold a secret).
pub fn shape_of(sql: &str) -> (Option<String>, Option<String>) {
    let Ok(fingerprint) = pg_query::fingerprint(sql, 0, 0) else {
        return (None, None);
    };
    let normalized = pg_query::normalize(sql)
        .ok()
        .and_then(|text| without_comments(&text));
    (Some(fingerprint.hex), normalized)
}

/// `text` without comments (normalisation keeps them, and a comment can say
/// anything) and without any constant normalisation left behind (libpg_query
/// does not rewrite every statement kind, e.g. the body of a PREPARE, nor
/// ORDER BY positions or type modifiers): those become `?`. Whitespace runs
/// are collapsed.
fn without_comments(text: &str) -> Option<String> {
    use pg_query::protobuf::Token;
    let scanned = pg_query::scan(text).ok()?;
    let mut out = String::with_capacity(text.len());
    let mut last = 0usize;
    for token in &scanned.tokens {
        let replacement = match Token::try_from(token.token) {
            Ok(Token::SqlComment | Token::CComment) => " ",
            Ok(
                Token::Sconst
                | Token::Usconst
                | Token::Iconst
                | Token::Fconst
                | Token::Bconst
                | Token::Xconst,
            ) => "?",
            _ => continue,
        };
        let (start, end) = (token.start as usize, token.end as usize);
        out.push_str(text.get(last..start)?);
        out.push_str(replacement);
        last = end;
    }
    out.push_str(text.get(last..)?);
    Some(out.split_whitespace().collect::<Vec<_>>().join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_regular_file_is_made_private_and_a_fifo_keeps_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;

        let file = dir.path().join("audit.jsonl");
        std::fs::write(&file, "").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        drop(AuditLog::start(&AuditTarget::File(file.clone())).unwrap());
        assert_eq!(mode(&file), 0o600);

        // A pipe to a log shipper (or a device such as /dev/null) is not ours
        // to chmod. Its reader opens first so the writer's open returns.
        let fifo = dir.path().join("shipper");
        let c_path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o644) }, 0);
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::File::open(fifo).unwrap())
        };
        drop(AuditLog::start(&AuditTarget::File(fifo.clone())).unwrap());
        drop(reader.join().unwrap());
        assert_eq!(mode(&fifo), 0o644);
    }

    #[test]
    fn literals_and_comments_never_survive() {
        let (fp, sql) = shape_of(
            "SELECT name /* key=hunter2 */ FROM retail.customers -- pw: s3cret\n WHERE email = 'ceo@zava.example' AND id > 42",
        );
        let sql = sql.unwrap();
        assert_eq!(
            sql,
            "SELECT name FROM retail.customers WHERE email = $1 AND id > $2"
        );
        for secret in ["hunter2", "s3cret", "ceo@zava", "42"] {
            assert!(!sql.contains(secret), "{sql}");
        }
        let (fp2, _) = shape_of("SELECT name FROM retail.customers WHERE email = 'x' AND id > 1");
        assert_eq!(fp, fp2, "same shape, same fingerprint");
    }

    #[test]
    fn literals_normalisation_skips_are_caught_too() {
        for sql in [
            "PREPARE p AS SELECT * FROM retail.customers WHERE email = 'ceo@zava.example'",
            "SELECT 'ceo@zava.example'::varchar(31337) ORDER BY 31337",
            "COMMENT ON TABLE t IS 'ceo@zava.example'",
            "SELECT U&'ceo@zava.example', X'31337', 1.31337e5",
        ] {
            let (_, shape) = shape_of(sql);
            let shape = shape.unwrap();
            assert!(
                !shape.contains("ceo@zava") && !shape.contains("31337"),
                "{shape}"
            );
        }
    }

    #[test]
    fn unparseable_sql_is_withheld() {
        assert_eq!(shape_of("SELEC 'my password' FROM"), (None, None));
    }

    #[test]
    fn dollar_quoted_and_typed_literals_are_replaced_too() {
        let (_, sql) = shape_of("SELECT $$secret$$, date '2024-01-01', E'\\x41', 3.14, B'101'");
        let sql = sql.unwrap();
        for secret in ["secret", "2024", "x41", "3.14", "101"] {
            assert!(!sql.contains(secret), "{sql}");
        }
    }
}
