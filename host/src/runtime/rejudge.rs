//! The operator changed `policy.toml`: read it again and judge every loaded
//! component by it. Those it refuses are removed, the others take their new
//! grants at once (same compiled code, swapped atomically), and files it now
//! admits are loaded by the watcher's next scan.

use std::path::PathBuf;

use super::component_file::Fingerprint;
use super::loader::Loader;
use super::policy::{Ceilings, Policy};
use super::registry::Registry;

/// The operator's policy file, re-read when it changes.
pub struct PolicyFile {
    path: PathBuf,
    ceilings: Ceilings,
    seen: Option<Fingerprint>,
}

impl PolicyFile {
    /// Watches the file at `path` (the loader already holds the policy read
    /// from it at start-up).
    pub fn new(path: PathBuf, ceilings: Ceilings) -> Self {
        let seen = Fingerprint::of_path(&path);
        Self {
            path,
            ceilings,
            seen,
        }
    }

    /// Re-reads the file if it changed and, if it holds a new policy, puts
    /// it in force: the loader judges new files by it and every loaded
    /// component is judged again ([`rejudge`]). `Some(removed)` when a new
    /// policy took effect. A file that is removed or cannot be used leaves
    /// the policy in force as it is.
    pub fn check(&mut self, loader: &Loader, registry: &Registry) -> Option<usize> {
        let now = Fingerprint::of_path(&self.path);
        if now == self.seen {
            return None;
        }
        self.seen = now;
        let policy = match Policy::read(&self.path, self.ceilings) {
            Ok(Some(policy)) => policy,
            Ok(None) => {
                if !loader.policy().is_open() {
                    tracing::error!(file = %self.path.display(), "component policy file removed; the last policy stays in force (restart to run without one)");
                }
                return None;
            }
            Err(error) => {
                tracing::error!("component policy rejected, the one in force stays: {error}");
                return None;
            }
        };
        if *loader.policy() == policy {
            return None;
        }
        tracing::info!(
            file = %self.path.display(),
            components = policy.listed(),
            "component policy changed; judging every component again"
        );
        let removed = rejudge(&policy, registry);
        loader.set_policy(policy);
        Some(removed)
    }
}

/// Gives every loaded component the grant `policy` allows it, or removes it.
/// Nothing keeps an old grant while waiting for a reload that might fail.
/// Returns how many components were removed.
pub fn rejudge(policy: &Policy, registry: &Registry) -> usize {
    let mut removed = 0;
    for component in registry.snapshot().components() {
        match policy.grant(&component.file, &component.digest) {
            Err(reason) => {
                if registry.remove(&component.path) {
                    removed += 1;
                    tracing::warn!(file = %component.file, "component removed: {reason}");
                }
            }
            Ok(grant) if grant != component.grant => {
                // On the entry in the registry now, not this snapshot's: a
                // tier-up may have swapped in optimised code meanwhile.
                registry.regrant(&component.path, &component.digest, grant);
            }
            Ok(_) => {}
        }
    }
    removed
}
