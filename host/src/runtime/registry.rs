//! The live tool catalogue. Readers take a snapshot (an `Arc`) and never
//! block; the watcher publishes a new catalogue atomically. A call that
//! started on one version finishes on it, because it holds its own `Arc`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use rmcp::model::Tool;
use tokio::sync::watch;

use super::loader::LoadedComponent;

/// One immutable view of every loaded component and tool.
#[derive(Default)]
pub struct Catalog {
    by_file: BTreeMap<PathBuf, Arc<LoadedComponent>>,
    by_tool: HashMap<String, Arc<LoadedComponent>>,
    /// What `tools/list` answers, sorted by name.
    tools: Vec<Tool>,
}

impl Catalog {
    fn build(by_file: BTreeMap<PathBuf, Arc<LoadedComponent>>) -> Self {
        let mut by_tool = HashMap::new();
        let mut tools = Vec::new();
        for component in by_file.values() {
            for spec in &component.tools {
                by_tool.insert(spec.name.clone(), component.clone());
                tools.push(spec.mcp.clone());
            }
        }
        tools.sort_by(|a, b| a.name.cmp(&b.name));
        Self {
            by_file,
            by_tool,
            tools,
        }
    }

    /// The component serving `tool`, if any.
    pub fn component_for(&self, tool: &str) -> Option<&Arc<LoadedComponent>> {
        self.by_tool.get(tool)
    }

    pub fn tools(&self) -> &[Tool] {
        &self.tools
    }

    /// Every loaded component, in file order.
    pub fn components(&self) -> impl Iterator<Item = &Arc<LoadedComponent>> {
        self.by_file.values()
    }

    pub fn component(&self, path: &Path) -> Option<&Arc<LoadedComponent>> {
        self.by_file.get(path)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RegistryError {
    #[error("its tool `{tool}` is already served by {owner}; tool names must be unique")]
    NameClash { tool: String, owner: String },
}

pub struct Registry {
    current: ArcSwap<Catalog>,
    /// Serialises writers; readers never take it.
    write: Mutex<()>,
    /// Bumped after every change; sessions listen to send `list_changed`.
    changed: watch::Sender<u64>,
}

impl Default for Registry {
    fn default() -> Self {
        Self {
            current: ArcSwap::from_pointee(Catalog::default()),
            write: Mutex::new(()),
            changed: watch::channel(0).0,
        }
    }
}

impl Registry {
    pub fn snapshot(&self) -> Arc<Catalog> {
        self.current.load_full()
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Adds `component`, or replaces the one loaded from the same file.
    /// Refused if one of its tools is served by another file.
    pub fn install(&self, component: LoadedComponent) -> Result<(), RegistryError> {
        let _guard = self
            .write
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let current = self.current.load();
        for spec in &component.tools {
            if let Some(owner) = current.by_tool.get(&spec.name)
                && owner.path != component.path
            {
                return Err(RegistryError::NameClash {
                    tool: spec.name.clone(),
                    owner: owner.file.to_string(),
                });
            }
        }
        let mut by_file = current.by_file.clone();
        by_file.insert(component.path.clone(), Arc::new(component));
        self.publish(by_file);
        Ok(())
    }

    /// Removes the component loaded from `path`; true if there was one.
    pub fn remove(&self, path: &Path) -> bool {
        let _guard = self
            .write
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut by_file = self.current.load().by_file.clone();
        let removed = by_file.remove(path).is_some();
        if removed {
            self.publish(by_file);
        }
        removed
    }

    fn publish(&self, by_file: BTreeMap<PathBuf, Arc<LoadedComponent>>) {
        self.current.store(Arc::new(Catalog::build(by_file)));
        self.changed.send_modify(|version| *version += 1);
    }
}
