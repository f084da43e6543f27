//! Turns a `.wasm` file into a [`LoadedComponent`]: compiled (or taken from
//! the disk cache), checked against the WIT contract, linked once into an
//! `InstancePre`, and asked what it offers (tools, prompts, resources). All of it runs off the
//! request path (compilation on a blocking thread).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use wasmtime::Engine;
use wasmtime::component::Linker;

use super::cache::{CompiledCache, Origin};
use super::component_file::ComponentFile;
use super::contract::{self, ContractError, Offer};
use super::policy::{Grant, Policy, PolicyError};
use super::promptdef::{self, PromptDefError, PromptSpec};
use super::resourcedef::{self, ResourceDefError, ResourceSpec, TemplateSpec};
use super::sandbox::{CallError, Exports, Sandbox};
use super::tooldef::{self, ToolDefError, ToolSpec};
use crate::capabilities::{Capabilities, HostState, wasi};

/// A component ready to serve calls. Shared by `Arc`: a call in flight keeps
/// the version it started on, even after a swap.
pub struct LoadedComponent {
    /// File name within the components folder, e.g. `utc_date.wasm`.
    pub file: Arc<str>,
    pub path: PathBuf,
    /// Hex sha256 of the file's bytes.
    pub digest: String,
    /// The contract it was built against, and which interfaces it exports.
    pub offer: Offer,
    pub tools: Vec<ToolSpec>,
    pub prompts: Vec<PromptSpec>,
    pub resources: Vec<ResourceSpec>,
    pub templates: Vec<TemplateSpec>,
    /// The linked component and where its exports are.
    pub exports: Exports,
    /// Whether this load compiled the code or took it from the disk cache.
    pub origin: Origin,
    /// What the operator's policy allows it (imports, limits).
    pub grant: Grant,
}

impl LoadedComponent {
    /// The same compiled component under another grant (the code does not
    /// depend on it, so a policy change needs no recompilation or reload).
    pub fn with_grant(&self, grant: Grant) -> Self {
        Self {
            file: self.file.clone(),
            path: self.path.clone(),
            digest: self.digest.clone(),
            offer: self.offer,
            tools: self.tools.clone(),
            prompts: self.prompts.clone(),
            resources: self.resources.clone(),
            templates: self.templates.clone(),
            exports: self.exports.clone(),
            origin: self.origin,
            grant,
        }
    }
}

impl std::fmt::Debug for LoadedComponent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedComponent")
            .field("file", &self.file)
            .field("digest", &self.digest)
            .field("version", &self.offer.version.as_str())
            .field(
                "tools",
                &self.tools.iter().map(|t| &t.name).collect::<Vec<_>>(),
            )
            .field(
                "prompts",
                &self.prompts.iter().map(|p| &p.name).collect::<Vec<_>>(),
            )
            .field(
                "resources",
                &self.resources.iter().map(|r| &r.uri).collect::<Vec<_>>(),
            )
            .field(
                "templates",
                &self
                    .templates
                    .iter()
                    .map(|t| t.template.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read it: {0}")]
    Read(#[from] std::io::Error),
    #[error("it is not a valid WebAssembly component: {0}")]
    Compile(String),
    #[error("{0}")]
    Contract(#[from] ContractError),
    #[error("it cannot be linked: {0}")]
    Link(String),
    #[error("asking it what it offers failed: {0}")]
    Discover(#[from] CallError),
    #[error("{0}")]
    ToolDef(#[from] ToolDefError),
    #[error("{0}")]
    PromptDef(#[from] PromptDefError),
    #[error("{0}")]
    ResourceDef(#[from] ResourceDefError),
    #[error("it offers no tools, prompts or resources")]
    Empty,
    #[error(
        "its tool `{tool}` names the app {uri}, which it does not serve itself (list it in its resources)"
    )]
    AppNotServed { tool: String, uri: String },
    #[error(transparent)]
    Policy(#[from] PolicyError),
}

pub struct Loader {
    engine: Engine,
    linker: Linker<HostState>,
    cache: Arc<CompiledCache>,
    sandbox: Arc<Sandbox>,
    policy: ArcSwap<Policy>,
}

impl Loader {
    pub fn new(
        engine: Engine,
        cache: CompiledCache,
        sandbox: Arc<Sandbox>,
        policy: Policy,
    ) -> wasmtime::Result<Self> {
        let mut linker = Linker::new(&engine);
        Capabilities::add_to_linker(&mut linker)?;
        Ok(Self {
            engine,
            linker,
            cache: Arc::new(cache),
            sandbox,
            policy: ArcSwap::from_pointee(policy),
        })
    }

    pub fn policy(&self) -> Arc<Policy> {
        self.policy.load_full()
    }

    /// Components loaded from now on are checked against `policy`.
    pub fn set_policy(&self, policy: Policy) {
        self.policy.store(Arc::new(policy));
    }

    /// Loads the component in `path` from its bytes, already read and
    /// hashed (bytes given as a `Vec<u8>` are hashed on the way in).
    pub async fn load(
        &self,
        path: &Path,
        component_file: impl Into<ComponentFile>,
    ) -> Result<LoadedComponent, LoadError> {
        let ComponentFile {
            bytes: wasm,
            digest,
        } = component_file.into();
        let file: Arc<str> = path
            .file_name()
            .map(|n| n.to_string_lossy().into())
            .unwrap_or_else(|| path.to_string_lossy().into());
        // Before compiling: a component the policy refuses costs nothing.
        let grant = self.policy.load().grant(&file, &digest)?;
        let (engine, cache, key) = (self.engine.clone(), self.cache.clone(), digest.clone());
        let (component, origin) =
            tokio::task::spawn_blocking(move || cache.load_or_compile(&engine, &wasm, &key))
                .await
                .map_err(|e| LoadError::Compile(format!("compiler task failed: {e}")))?
                .map_err(|e| LoadError::Compile(format!("{e:#}")))?;
        let offer = contract::check(&self.engine, &component)?;

        // WASI imports we withhold (filesystem, sockets, environment ...)
        // become traps: the component loads, and using one fails that call.
        let mut linker = self.linker.clone();
        wasi::withhold_unlinked(&mut linker, &self.engine, &component)
            .map_err(|e| LoadError::Link(format!("{e:#}")))?;
        let exports = linker
            .instantiate_pre(&component)
            .and_then(|pre| self.sandbox.prepare(pre, &offer))
            .map_err(|e| LoadError::Link(format!("{e:#}")))?;

        let offered = self.sandbox.discover(&exports, &file, &grant).await?;
        let tools = tooldef::validate(offered.tools)?;
        let prompts = promptdef::validate(offered.prompts)?;
        let resources = resourcedef::validate_resources(offered.resources)?;
        let templates = resourcedef::validate_templates(offered.templates)?;
        if tools.is_empty() && prompts.is_empty() && resources.is_empty() && templates.is_empty() {
            return Err(LoadError::Empty);
        }
        // An app comes from its tool's own component: a tool cannot point
        // the client at another component's page.
        for tool in &tools {
            if let Some(uri) = tool.app()
                && !resources.iter().any(|r| r.uri == uri)
                && !templates.iter().any(|t| t.template.matches(uri).is_some())
            {
                return Err(LoadError::AppNotServed {
                    tool: tool.name.clone(),
                    uri: uri.to_string(),
                });
            }
        }
        Ok(LoadedComponent {
            file,
            path: path.to_path_buf(),
            digest,
            offer,
            tools,
            prompts,
            resources,
            templates,
            exports,
            origin,
            grant,
        })
    }
}
