//! The live catalogue of tools, prompts and resources. Readers take a snapshot (an `Arc`) and never
//! block; the watcher publishes a new catalogue atomically. A call that
//! started on one version finishes on it, because it holds its own `Arc`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use rmcp::model::{Prompt, Resource, ResourceTemplate, Tool};
use tokio::sync::watch;

use super::loader::{LoadedComponent, Tier};
use super::policy::Grant;
use super::resourcedef::UriTemplate;

/// One immutable view of every loaded component and what it offers.
#[derive(Default)]
pub struct Catalog {
    by_file: BTreeMap<PathBuf, Arc<LoadedComponent>>,
    by_tool: HashMap<String, Arc<LoadedComponent>>,
    by_prompt: HashMap<String, Arc<LoadedComponent>>,
    by_resource: HashMap<String, Arc<LoadedComponent>>,
    /// Templates and their components, in file order.
    templates: Vec<(UriTemplate, Arc<LoadedComponent>)>,
    /// What the list methods answer, each sorted.
    tools: Vec<Tool>,
    prompts: Vec<Prompt>,
    resources: Vec<Resource>,
    resource_templates: Vec<ResourceTemplate>,
}

impl Catalog {
    fn build(by_file: BTreeMap<PathBuf, Arc<LoadedComponent>>) -> Self {
        let mut catalog = Self::default();
        for component in by_file.values() {
            for spec in &component.tools {
                catalog.by_tool.insert(spec.name.clone(), component.clone());
                catalog.tools.push(spec.mcp.clone());
            }
            for spec in &component.prompts {
                catalog
                    .by_prompt
                    .insert(spec.name.clone(), component.clone());
                catalog.prompts.push(spec.mcp.clone());
            }
            for spec in &component.resources {
                catalog
                    .by_resource
                    .insert(spec.uri.clone(), component.clone());
                catalog.resources.push(spec.mcp.clone());
            }
            for spec in &component.templates {
                catalog
                    .templates
                    .push((spec.template.clone(), component.clone()));
                catalog.resource_templates.push(spec.mcp.clone());
            }
        }
        catalog.tools.sort_by(|a, b| a.name.cmp(&b.name));
        catalog.prompts.sort_by(|a, b| a.name.cmp(&b.name));
        catalog.resources.sort_by(|a, b| a.uri.cmp(&b.uri));
        catalog
            .resource_templates
            .sort_by(|a, b| a.uri_template.cmp(&b.uri_template));
        catalog.by_file = by_file;
        catalog
    }

    /// The component serving `tool`, if any.
    pub fn component_for(&self, tool: &str) -> Option<&Arc<LoadedComponent>> {
        self.by_tool.get(tool)
    }

    /// The component serving prompt `name`, if any.
    pub fn prompt_owner(&self, name: &str) -> Option<&Arc<LoadedComponent>> {
        self.by_prompt.get(name)
    }

    /// The component that reads `uri`: the one that lists it, else the one
    /// with a template it matches (templates of different components never
    /// overlap, see [`Registry::install`]), and the template matched.
    pub fn resource_owner(
        &self,
        uri: &str,
    ) -> Option<(&Arc<LoadedComponent>, Option<&UriTemplate>)> {
        if let Some(owner) = self.by_resource.get(uri) {
            return Some((owner, None));
        }
        self.templates
            .iter()
            .find(|(template, _)| template.matches(uri).is_some())
            .map(|(template, owner)| (owner, Some(template)))
    }

    /// The component with the template written exactly `template`.
    pub fn template_owner(&self, template: &str) -> Option<&Arc<LoadedComponent>> {
        self.templates
            .iter()
            .find(|(t, _)| t.as_str() == template)
            .map(|(_, owner)| owner)
    }

    pub fn tools(&self) -> &[Tool] {
        &self.tools
    }

    pub fn prompts(&self) -> &[Prompt] {
        &self.prompts
    }

    pub fn resources(&self) -> &[Resource] {
        &self.resources
    }

    pub fn resource_templates(&self) -> &[ResourceTemplate] {
        &self.resource_templates
    }

    /// Every loaded component, in file order.
    pub fn components(&self) -> impl Iterator<Item = &Arc<LoadedComponent>> {
        self.by_file.values()
    }

    pub fn component(&self, path: &Path) -> Option<&Arc<LoadedComponent>> {
        self.by_file.get(path)
    }

    /// Refuses `component` if one of its names or URIs is another file's.
    fn check_clashes(&self, component: &LoadedComponent) -> Result<(), RegistryError> {
        let foreign = |owner: &Arc<LoadedComponent>| owner.path != component.path;
        let clash =
            |kind: &'static str, name: &str, owner: &Arc<LoadedComponent>| RegistryError::Clash {
                kind,
                name: name.to_string(),
                owner: owner.file.to_string(),
            };
        for spec in &component.tools {
            if let Some(owner) = self.by_tool.get(&spec.name).filter(|o| foreign(o)) {
                return Err(clash("tool", &spec.name, owner));
            }
        }
        for spec in &component.prompts {
            if let Some(owner) = self.by_prompt.get(&spec.name).filter(|o| foreign(o)) {
                return Err(clash("prompt", &spec.name, owner));
            }
        }
        // A URI's scheme and authority belong to the first component that
        // serves one there: another cannot squat next to it
        // (`ui://sales-sql/evil.html`, `ZAVA://schema/orders/`).
        let mine: Vec<Authority> = component
            .resources
            .iter()
            .map(|r| authority(&r.uri, true))
            .chain(
                component
                    .templates
                    .iter()
                    .map(|t| authority(t.template.prefix(), false)),
            )
            .collect();
        let theirs = self
            .by_resource
            .iter()
            .filter(|(_, o)| foreign(o))
            .map(|(uri, o)| (authority(uri, true), o))
            .chain(
                self.templates
                    .iter()
                    .filter(|(_, o)| foreign(o))
                    .map(|(t, o)| (authority(t.prefix(), false), o)),
            );
        for (taken, owner) in theirs {
            if let Some(claim) = mine.iter().find(|a| a.overlaps(&taken)) {
                return Err(clash("URI authority", &claim.0, owner));
            }
        }
        let others_templates = self.templates.iter().filter(|(_, o)| foreign(o));
        for spec in &component.resources {
            if let Some(owner) = self.by_resource.get(&spec.uri).filter(|o| foreign(o)) {
                return Err(clash("resource", &spec.uri, owner));
            }
            if let Some((_, owner)) = others_templates
                .clone()
                .find(|(t, _)| t.matches(&spec.uri).is_some())
            {
                return Err(clash("resource", &spec.uri, owner));
            }
        }
        for spec in &component.templates {
            if let Some((_, owner)) = others_templates
                .clone()
                .find(|(t, _)| t.overlaps(&spec.template))
            {
                return Err(clash("resource template", spec.template.as_str(), owner));
            }
            let listed = self.by_resource.iter().filter(|(_, o)| foreign(o));
            if let Some((_, owner)) = listed
                .into_iter()
                .find(|(uri, _)| spec.template.matches(uri).is_some())
            {
                return Err(clash("resource template", spec.template.as_str(), owner));
            }
        }
        Ok(())
    }
}

/// A URI's scheme and authority (`zava://schema`, `ui://sales-sql`),
/// lower-cased; `scheme://*` when a template's variable is in the authority.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Authority(String);

/// The authority of a full URI (`complete`), or of a template's literal
/// prefix, which may stop inside it: then its variable may be any host.
fn authority(uri: &str, complete: bool) -> Authority {
    let (scheme, rest) = uri.split_once(':').unwrap_or((uri, ""));
    let scheme = scheme.to_ascii_lowercase();
    let (sep, rest) = match rest.strip_prefix("//") {
        Some(rest) => ("://", rest),
        None => (":", rest),
    };
    let end = rest.find(['/', '?', '#']);
    if end.is_none() && !complete {
        return Authority(format!("{scheme}{sep}*"));
    }
    let host = &rest[..end.unwrap_or(rest.len())];
    Authority(format!("{scheme}{sep}{}", host.to_ascii_lowercase()))
}

impl Authority {
    fn overlaps(&self, other: &Authority) -> bool {
        let wildcard = |a: &Authority, b: &Authority| {
            a.0.strip_suffix('*')
                .is_some_and(|scheme| b.0.starts_with(scheme))
        };
        self == other || wildcard(self, other) || wildcard(other, self)
    }
}

/// Which lists changed from one catalogue to the next, for `list_changed`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ListChanges {
    pub tools: bool,
    pub prompts: bool,
    pub resources: bool,
}

impl ListChanges {
    /// A list changed when what it says changed, or when a component
    /// offering it was added, replaced or removed (a new version of a
    /// tool may behave differently under the same declaration; clients
    /// that cache a list should look again).
    pub fn between(before: &Catalog, after: &Catalog) -> Self {
        let versions = |catalog: &Catalog, offers: fn(&LoadedComponent) -> bool| {
            catalog
                .components()
                .filter(|c| offers(c))
                .map(|c| (c.path.clone(), c.digest.clone()))
                .collect::<Vec<_>>()
        };
        let changed = |offers: fn(&LoadedComponent) -> bool| {
            versions(before, offers) != versions(after, offers)
        };
        Self {
            tools: before.tools != after.tools || changed(|c| !c.tools.is_empty()),
            prompts: before.prompts != after.prompts || changed(|c| !c.prompts.is_empty()),
            resources: before.resources != after.resources
                || before.resource_templates != after.resource_templates
                || changed(|c| !c.resources.is_empty() || !c.templates.is_empty()),
        }
    }

    /// Whether what `uri` reads may have changed: another component (or a
    /// new version of it) serves it now, or nobody does.
    pub fn resource_updated(before: &Catalog, after: &Catalog, uri: &str) -> bool {
        // By file and bytes: the same component on new code (tier-up) or
        // under a new grant reads the same.
        let owner = |catalog: &Catalog| {
            catalog
                .resource_owner(uri)
                .map(|(c, _)| (c.path.clone(), c.digest.clone()))
        };
        owner(before) != owner(after)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RegistryError {
    #[error(
        "its {kind} `{name}` is already served by {owner}; names and URIs must be unique (resource templates may not overlap)"
    )]
    Clash {
        kind: &'static str,
        name: String,
        owner: String,
    },
}

pub struct Registry {
    current: ArcSwap<Catalog>,
    /// Serialises writers; readers never take it.
    write: Mutex<()>,
    /// The catalogue after every change; sessions compare one with the
    /// next to send `list_changed` and `resources/updated`.
    changed: watch::Sender<Arc<Catalog>>,
}

impl Default for Registry {
    fn default() -> Self {
        Self {
            current: ArcSwap::from_pointee(Catalog::default()),
            write: Mutex::new(()),
            changed: watch::channel(Arc::new(Catalog::default())).0,
        }
    }
}

impl Registry {
    pub fn snapshot(&self) -> Arc<Catalog> {
        self.current.load_full()
    }

    pub fn subscribe(&self) -> watch::Receiver<Arc<Catalog>> {
        self.changed.subscribe()
    }

    /// Adds `component`, or replaces the one loaded from the same file.
    /// Refused if one of its tool or prompt names, resource URIs or
    /// templates is another file's.
    pub fn install(&self, component: LoadedComponent) -> Result<(), RegistryError> {
        let _guard = self
            .write
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let current = self.current.load();
        current.check_clashes(&component)?;
        let mut by_file = current.by_file.clone();
        by_file.insert(component.path.clone(), Arc::new(component));
        self.publish(by_file);
        Ok(())
    }

    /// Puts `optimized` in place of the same file and bytes serving from
    /// baseline code, under the grant in force now (the policy may have
    /// changed while it compiled); false (nothing done) when the file was
    /// replaced or removed since.
    pub fn upgrade(&self, optimized: LoadedComponent) -> bool {
        let _guard = self
            .write
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let current = self.current.load();
        let optimized = match current.by_file.get(&optimized.path) {
            Some(now) if now.digest == optimized.digest && now.tier == Tier::Baseline => {
                optimized.with_grant(now.grant.clone())
            }
            _ => return false,
        };
        let mut by_file = current.by_file.clone();
        by_file.insert(optimized.path.clone(), Arc::new(optimized));
        self.publish(by_file);
        true
    }

    /// Whether the file at `path` still serves these bytes from baseline
    /// code (a background compile for it is still wanted).
    pub fn serves_baseline(&self, path: &Path, digest: &str) -> bool {
        self.current
            .load()
            .by_file
            .get(path)
            .is_some_and(|now| now.digest == digest && now.tier == Tier::Baseline)
    }

    /// Gives the component now loaded from `path` with these bytes `grant`,
    /// whatever code it runs (a tier-up may have swapped it since the
    /// caller looked); false when the file was replaced or removed.
    pub fn regrant(&self, path: &Path, digest: &str, grant: Grant) -> bool {
        let _guard = self
            .write
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let current = self.current.load();
        let regranted = match current.by_file.get(path) {
            Some(now) if now.digest == digest => now.with_grant(grant),
            _ => return false,
        };
        let mut by_file = current.by_file.clone();
        by_file.insert(path.to_path_buf(), Arc::new(regranted));
        self.publish(by_file);
        true
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
        let catalog = Arc::new(Catalog::build(by_file));
        self.current.store(catalog.clone());
        self.changed.send_replace(catalog);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities_are_claimed_by_scheme_and_host() {
        let a = |uri: &str| authority(uri, true);
        let t = |prefix: &str| authority(prefix, false);
        assert_eq!(
            a("ui://sales-sql/result-view.html"),
            Authority("ui://sales-sql".into())
        );
        assert_eq!(
            a("ZAVA://Schema/orders/"),
            Authority("zava://schema".into())
        );
        assert_eq!(
            a("test://static-text"),
            Authority("test://static-text".into())
        );
        assert_eq!(t("zava://schema/"), Authority("zava://schema".into()));
        assert_eq!(t("zava://sch"), Authority("zava://*".into()));
        assert!(a("ui://sales-sql/evil.html").overlaps(&a("ui://sales-sql/result-view.html")));
        assert!(t("zava://").overlaps(&a("zava://schema/orders")));
        assert!(!a("ui://other/page.html").overlaps(&a("ui://sales-sql/page.html")));
        assert!(!t("test://template/").overlaps(&a("test://static-text")));
    }
}
