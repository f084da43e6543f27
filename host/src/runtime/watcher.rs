//! Keeps the registry in step with the components folder.
//!
//! Change detection is a cheap scan (name, size, mtime) of `*.wasm` files,
//! run when inotify reports something and on a slow poll as a fallback
//! (network shares such as Azure Files send no inotify events). A file whose
//! fingerprint changed is read and hashed ([`super::component_file`]); only
//! new content is loaded. A broken file is logged once and the version
//! already serving stays. A changed policy file is handled first
//! ([`super::rejudge`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher as _};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::cache::Origin;
use super::component_file::{ComponentFile, Fingerprint, list_wasm_files};
use super::loader::{LoadedComponent, Loader, Tier};
use super::policy::Ceilings;
use super::registry::Registry;
use super::rejudge::PolicyFile;
use crate::metrics::Metrics;
use crate::outcome::LoadOutcome;

/// How long to let a burst of file events settle before scanning.
const SETTLE: Duration = Duration::from_millis(50);

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
    /// The folder could not be read: since when, what was last logged and
    /// when (the error repeats on every poll; the log says it once a minute).
    unreadable: Option<Unreadable>,
}

struct Unreadable {
    error: String,
    logged_at: std::time::Instant,
    repeats: u64,
}

/// How often an unchanged folder error is logged again.
const UNREADABLE_LOG_EVERY: Duration = Duration::from_secs(60);

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
            unreadable: None,
        }
    }

    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Watches the policy file at `path` too (the loader already holds the
    /// policy read from it at start-up).
    pub fn with_policy_file(mut self, path: PathBuf, ceilings: Ceilings) -> Self {
        self.policy = Some(PolicyFile::new(path, ceilings));
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
                self.folder_unreadable(error.to_string());
                return report;
            }
        };
        if let Some(gone) = self.unreadable.take() {
            tracing::info!(dir = %self.dir.display(), failed_scans = gone.repeats + 1, "the components folder is readable again");
        }

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
        // Read and hashed off the async workers (a component may be large).
        let read = tokio::task::spawn_blocking(move || ComponentFile::read(&file))
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(format!("reading task failed: {e}"))));
        let component_file = match read {
            Ok(file) => file,
            // Vanished between listing and reading: the next scan sees it gone.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Refresh::Unchanged;
            }
            Err(error) => {
                self.reject(path, fingerprint, String::new(), &error.to_string());
                return Refresh::Rejected;
            }
        };
        let digest = component_file.digest.clone();
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
        let outcome = match self.loader.load(path, component_file).await {
            Ok(component) => {
                let tools: Vec<String> = component.tools.iter().map(|t| t.name.clone()).collect();
                let replaced = self.registry.snapshot().component(path).is_some();
                let origin = component.origin;
                let baseline = (component.tier == Tier::Baseline)
                    .then(|| component.with_grant(component.grant.clone()));
                let installed = self
                    .registry
                    .install(component)
                    .map(|()| (tools, replaced, origin))
                    .map_err(|e| e.to_string());
                if let (Ok(_), Some(baseline)) = (&installed, baseline) {
                    tokio::spawn(tier_up(
                        self.loader.clone(),
                        self.registry.clone(),
                        baseline,
                    ));
                }
                installed
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

    /// Puts a changed policy file in force ([`PolicyFile::check`]). Returns
    /// how many components it removed.
    fn check_policy(&mut self) -> usize {
        let Some(file) = &mut self.policy else {
            return 0;
        };
        let Some(removed) = file.check(&self.loader, &self.registry) else {
            return 0;
        };
        // Files the old policy refused get another look.
        let loaded = self.registry.snapshot();
        self.seen.retain(|path, _| loaded.component(path).is_some());
        removed
    }

    /// Logs a folder error when it first happens, when it changes, and
    /// once a minute while it lasts (a host out of file descriptors would
    /// otherwise log it on every poll).
    fn folder_unreadable(&mut self, error: String) {
        let now = std::time::Instant::now();
        match &mut self.unreadable {
            Some(same) if same.error == error && now - same.logged_at < UNREADABLE_LOG_EVERY => {
                same.repeats += 1;
                return;
            }
            _ => {}
        }
        let repeats = self.unreadable.as_ref().map_or(0, |u| u.repeats);
        tracing::error!(dir = %self.dir.display(), %error, repeated = repeats, "cannot read the components folder; keeping the tools already loaded");
        self.unreadable = Some(Unreadable {
            error,
            logged_at: now,
            repeats: 0,
        });
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

/// Replaces a component serving from baseline code with optimised code
/// once Cranelift has compiled it, unless the file changed meanwhile (then
/// the newer load stands; a compile not yet started is skipped). Calls in flight finish on the code they started
/// on; the lists do not change, so clients are not told anything.
async fn tier_up(loader: Arc<Loader>, registry: Arc<Registry>, baseline: LoadedComponent) {
    let started = std::time::Instant::now();
    let still_wanted = || registry.serves_baseline(&baseline.path, &baseline.digest);
    match loader.tier_up(&baseline, still_wanted).await {
        Ok(None) => {}
        Ok(Some(optimized)) => {
            let file = optimized.file.clone();
            if registry.upgrade(optimized) {
                tracing::info!(
                    file = %file,
                    digest = &baseline.digest[..12],
                    ms = started.elapsed().as_millis() as u64,
                    "component now runs optimised code"
                );
            }
        }
        Err(error) => tracing::warn!(
            file = %baseline.file,
            %error,
            "optimising compile failed; the component keeps serving baseline code"
        ),
    }
}
