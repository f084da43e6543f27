//! Keeps the registry in step with the components folder.
//!
//! Change detection is a cheap scan (name, size, mtime) of `*.wasm` files,
//! run when inotify reports something and on a slow poll as a fallback
//! (network shares such as Azure Files send no inotify events). A file whose
//! fingerprint changed is read and hashed; only new content is loaded. A
//! broken file is logged once and the version already serving stays.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use notify::{RecursiveMode, Watcher as _};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::cache::Origin;
use super::cache::sha256_hex;
use super::loader::Loader;
use super::policy::{Ceilings, Policy};
use super::registry::Registry;
use crate::metrics::Metrics;
use crate::outcome::LoadOutcome;

/// How long to let a burst of file events settle before scanning.
const SETTLE: Duration = Duration::from_millis(50);

/// Largest component file read. Components are a few MiB (tens when they
/// bundle an interpreter); a bigger file is refused without being read, so
/// a stray disk image in the folder cannot exhaust the host's memory.
const MAX_COMPONENT_BYTES: u64 = 256 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    len: u64,
    modified: Option<SystemTime>,
}

impl Fingerprint {
    fn of(meta: &std::fs::Metadata) -> Self {
        Self {
            len: meta.len(),
            modified: meta.modified().ok(),
        }
    }
}

/// What the watcher last saw of a file.
struct Seen {
    fingerprint: Fingerprint,
    digest: String,
}

pub struct Watcher {
    dir: PathBuf,
    loader: Arc<Loader>,
    registry: Arc<Registry>,
    poll: Duration,
    seen: HashMap<PathBuf, Seen>,
    policy: Option<PolicyFile>,
    metrics: Option<Arc<Metrics>>,
}

/// The operator's policy file, re-read when it changes.
struct PolicyFile {
    path: PathBuf,
    ceilings: Ceilings,
    seen: Option<Fingerprint>,
}

/// Summary of one scan, for logs and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ScanReport {
    pub loaded: usize,
    pub rejected: usize,
    pub removed: usize,
}

impl Watcher {
    pub fn new(dir: PathBuf, loader: Arc<Loader>, registry: Arc<Registry>, poll: Duration) -> Self {
        Self {
            dir,
            loader,
            registry,
            poll,
            seen: HashMap::new(),
            policy: None,
            metrics: None,
        }
    }

    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Watches the policy file at `path` too (the loader already holds the
    /// policy read from it at start-up).
    pub fn with_policy_file(mut self, path: PathBuf, ceilings: Ceilings) -> Self {
        let seen = fingerprint(&path);
        self.policy = Some(PolicyFile {
            path,
            ceilings,
            seen,
        });
        self
    }

    /// Runs until `cancel` fires: scans on file events and on every poll tick.
    pub async fn run(mut self, cancel: CancellationToken) {
        let (events_tx, mut events) = mpsc::channel::<()>(1);
        // inotify is an optimisation; without it the poll still finds changes.
        let _fs_watcher = notify::recommended_watcher(move |_event| {
            let _ = events_tx.try_send(());
        })
        .and_then(|mut watcher| {
            watcher.watch(&self.dir, RecursiveMode::NonRecursive)?;
            Ok(watcher)
        })
        .inspect_err(|error| {
            tracing::warn!(%error, "file events unavailable; relying on polling");
        })
        .ok();
        let mut poll = tokio::time::interval(self.poll);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                Some(()) = events.recv() => {
                    tokio::time::sleep(SETTLE).await;
                    while events.try_recv().is_ok() {}
                }
                _ = poll.tick() => {}
            }
            self.scan().await;
        }
    }

    /// Brings the registry in line with the folder once.
    pub async fn scan(&mut self) -> ScanReport {
        let report = self.scan_folder().await;
        if let Some(metrics) = &self.metrics {
            metrics.component_load(LoadOutcome::Loaded, report.loaded);
            metrics.component_load(LoadOutcome::Rejected, report.rejected);
            metrics.component_load(LoadOutcome::Removed, report.removed);
            metrics
                .tools
                .set(self.registry.snapshot().tools().len() as i64);
        }
        report
    }

    async fn scan_folder(&mut self) -> ScanReport {
        let mut report = ScanReport::default();
        report.removed += self.check_policy();
        let present = match list_wasm_files(&self.dir) {
            Ok(files) => files,
            Err(error) => {
                tracing::error!(dir = %self.dir.display(), %error, "cannot read the components folder; keeping the tools already loaded");
                return report;
            }
        };

        let gone: Vec<PathBuf> = self
            .seen
            .keys()
            .filter(|path| !present.contains_key(*path))
            .cloned()
            .collect();
        for path in gone {
            self.seen.remove(&path);
            if self.registry.remove(&path) {
                report.removed += 1;
                tracing::info!(file = %display_name(&path), "component removed; its tools are gone");
            }
        }

        for (path, fingerprint) in present {
            if self.seen.get(&path).map(|s| s.fingerprint) == Some(fingerprint) {
                continue;
            }
            match self.refresh(&path, fingerprint).await {
                Refresh::Loaded => report.loaded += 1,
                Refresh::Rejected => report.rejected += 1,
                Refresh::Unchanged => {}
            }
        }
        report
    }

    async fn refresh(&mut self, path: &Path, fingerprint: Fingerprint) -> Refresh {
        let file = path.to_path_buf();
        let read = tokio::task::spawn_blocking(move || read_component(&file, MAX_COMPONENT_BYTES))
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(format!("reading task failed: {e}"))));
        let wasm = match read {
            Ok(bytes) => bytes,
            // Vanished between listing and reading: the next scan sees it gone.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Refresh::Unchanged;
            }
            Err(error) => {
                self.reject(path, fingerprint, String::new(), &error.to_string());
                return Refresh::Rejected;
            }
        };
        let digest = sha256_hex(&wasm);
        if self.seen.get(path).is_some_and(|s| s.digest == digest) {
            // Touched, not changed (or the same broken bytes): nothing to do.
            self.seen.insert(
                path.to_path_buf(),
                Seen {
                    fingerprint,
                    digest,
                },
            );
            return Refresh::Unchanged;
        }
        let started = std::time::Instant::now();
        let outcome = match self.loader.load(path, wasm).await {
            Ok(component) => {
                let tools: Vec<String> = component.tools.iter().map(|t| t.name.clone()).collect();
                let replaced = self.registry.snapshot().component(path).is_some();
                let origin = component.origin;
                self.registry
                    .install(component)
                    .map(|()| (tools, replaced, origin))
                    .map_err(|e| e.to_string())
            }
            Err(error) => Err(error.to_string()),
        };
        match outcome {
            Ok((tools, replaced, origin)) => {
                tracing::info!(
                    file = %display_name(path),
                    digest = &digest[..12],
                    tools = ?tools,
                    from_cache = (origin == Origin::Cache),
                    ms = started.elapsed().as_millis() as u64,
                    "component {}", if replaced { "replaced" } else { "loaded" }
                );
                self.seen.insert(
                    path.to_path_buf(),
                    Seen {
                        fingerprint,
                        digest,
                    },
                );
                Refresh::Loaded
            }
            Err(reason) => {
                self.reject(path, fingerprint, digest, &reason);
                Refresh::Rejected
            }
        }
    }

    /// Re-reads the policy file if it changed. A new policy judges every
    /// component again: those it refuses are removed, the others take their
    /// new grants, and files it now admits are loaded by the scan that
    /// follows. Returns how many components were removed.
    fn check_policy(&mut self) -> usize {
        let Some(file) = &mut self.policy else {
            return 0;
        };
        let now = fingerprint(&file.path);
        if now == file.seen {
            return 0;
        }
        file.seen = now;
        let policy = match Policy::read(&file.path, file.ceilings) {
            Ok(Some(policy)) => policy,
            Ok(None) => {
                if !self.loader.policy().is_open() {
                    tracing::error!(file = %file.path.display(), "component policy file removed; the last policy stays in force (restart to run without one)");
                }
                return 0;
            }
            Err(error) => {
                tracing::error!("component policy rejected, the one in force stays: {error}");
                return 0;
            }
        };
        if *self.loader.policy() == policy {
            return 0;
        }
        tracing::info!(
            file = %file.path.display(),
            components = policy.listed(),
            "component policy changed; judging every component again"
        );
        // Loaded components take their new grant at once (same compiled
        // code, swapped atomically) or go; nothing keeps an old grant while
        // waiting for a reload that might fail.
        let mut removed = 0;
        for component in self.registry.snapshot().components() {
            match policy.grant(&component.file, &component.digest) {
                Err(reason) => {
                    if self.registry.remove(&component.path) {
                        removed += 1;
                        tracing::warn!(file = %component.file, "component removed: {reason}");
                    }
                }
                Ok(grant) if grant != component.grant => {
                    if let Err(error) = self.registry.install(component.with_grant(grant)) {
                        // Cannot clash: the same file's tools replace themselves.
                        tracing::error!(file = %component.file, %error, "cannot apply the new grant; removing the component");
                        self.registry.remove(&component.path);
                        removed += 1;
                    }
                }
                Ok(_) => {}
            }
        }
        self.loader.set_policy(policy);
        // Files the old policy refused get another look.
        let loaded = self.registry.snapshot();
        self.seen.retain(|path, _| loaded.component(path).is_some());
        removed
    }

    fn reject(&mut self, path: &Path, fingerprint: Fingerprint, digest: String, reason: &str) {
        let keeps = match self.registry.snapshot().component(path) {
            Some(old) => format!(
                "; the previous version ({}) keeps serving",
                &old.digest[..12]
            ),
            None => String::new(),
        };
        tracing::error!(file = %display_name(path), "component rejected: {reason}{keeps}");
        self.seen.insert(
            path.to_path_buf(),
            Seen {
                fingerprint,
                digest,
            },
        );
    }
}

enum Refresh {
    Loaded,
    Rejected,
    Unchanged,
}

fn display_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Size and modification time of `path`, `None` if it does not exist.
fn fingerprint(path: &Path) -> Option<Fingerprint> {
    std::fs::metadata(path)
        .ok()
        .map(|meta| Fingerprint::of(&meta))
}

/// The bytes of the component file at `path`: a regular file (judged on the
/// opened file, so one swapped for a FIFO or a device after the listing is
/// not read) of at most `max` bytes (also while reading: it may grow).
fn read_component(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::{Error, ErrorKind, Read};
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    // Opening a FIFO must not wait for a writer.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "it is not a regular file",
        ));
    }
    let too_big = || {
        Error::new(
            ErrorKind::FileTooLarge,
            format!("it is larger than the {} MiB a component may be", max >> 20),
        )
    };
    if meta.len() > max {
        return Err(too_big());
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(too_big());
    }
    Ok(bytes)
}

/// `*.wasm` regular files directly in `dir` (hidden files are skipped, so a
/// copy to `.name.wasm` then a rename is atomic from our point of view).
fn list_wasm_files(dir: &Path) -> std::io::Result<HashMap<PathBuf, Fingerprint>> {
    let mut files = HashMap::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || path.extension().is_none_or(|ext| ext != "wasm") {
            continue;
        }
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_file() {
            files.insert(path, Fingerprint::of(&meta));
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_regular_file_up_to_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.wasm");
        std::fs::write(&path, b"0123456789").unwrap();
        assert_eq!(read_component(&path, 10).unwrap(), b"0123456789");
        let error = read_component(&path, 9).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::FileTooLarge);
        assert!(error.to_string().contains("larger than"), "{error}");
    }

    #[test]
    fn a_huge_sparse_file_is_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.wasm");
        std::fs::File::create(&path)
            .unwrap()
            .set_len(1 << 40)
            .unwrap();
        let error = read_component(&path, MAX_COMPONENT_BYTES).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::FileTooLarge);
    }

    #[cfg(unix)]
    #[test]
    fn devices_and_fifos_are_refused_without_blocking() {
        let error = read_component(Path::new("/dev/zero"), MAX_COMPONENT_BYTES).unwrap_err();
        assert!(error.to_string().contains("not a regular file"), "{error}");
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo.wasm");
        let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        let error = read_component(&fifo, MAX_COMPONENT_BYTES).unwrap_err();
        assert!(error.to_string().contains("not a regular file"), "{error}");
    }
}
