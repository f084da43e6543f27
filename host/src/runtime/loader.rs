//! Turns a `.wasm` file into a [`LoadedComponent`]: compiled (or taken from
//! the disk cache), checked against the WIT contract, linked once into an
//! `InstancePre`, and asked what it offers (tools, prompts, resources). All of it runs off the
//! request path (compilation on a blocking thread).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use wasmtime::Engine;
use wasmtime::component::{Component, Linker};

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
    /// Which compiler's code serves it.
    pub tier: Tier,
    /// The component's bytes while it serves from baseline code, for the
    /// optimising compile that replaces it ([`Loader::tier_up`]).
    pub source: Option<Arc<Vec<u8>>>,
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
            tier: self.tier,
            source: self.source.clone(),
            grant,
        }
    }
}

/// Which compiler produced the code a component runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// Cranelift: optimised code (compiled now, or from the disk cache).
    Optimized,
    /// Winch, the baseline compiler: there in a fraction of the time, for a
    /// big component's first minutes; replaced by optimised code.
    Baseline,
}

/// Components at least this big serve from baseline code first when their
/// optimised code is not cached: a Python or JavaScript component (a whole
/// interpreter inside, 12-19 MB) takes Cranelift many seconds, Winch a few
/// hundred milliseconds (BENCHMARKS.md "Big components").
pub const TIER_UP_BYTES: usize = 2 << 20;

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
    /// The baseline engine and its linker, when big components may serve
    /// from Winch's code first.
    baseline: Option<(Engine, Linker<HostState>)>,
    /// Where background compiles run: one at a time (`tier_up_turn`), on
    /// one thread, so a component being optimised leaves the other cores
    /// to calls, loads and the embedding model instead of stalling them.
    tier_up_pool: Option<Arc<rayon::ThreadPool>>,
    tier_up_turn: tokio::sync::Mutex<()>,
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
            baseline: None,
            tier_up_pool: None,
            tier_up_turn: tokio::sync::Mutex::new(()),
            cache: Arc::new(cache),
            sandbox,
            policy: ArcSwap::from_pointee(policy),
        })
    }

    /// Big components not in the compiled-code cache serve from `engine`'s
    /// baseline (Winch) code first, until [`Loader::tier_up`].
    pub fn with_baseline(mut self, engine: Engine) -> wasmtime::Result<Self> {
        let mut linker = Linker::new(&engine);
        Capabilities::add_to_linker(&mut linker)?;
        self.baseline = Some((engine, linker));
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .thread_name(|_| "tier-up".into())
            .build()
            .map_err(|e| wasmtime::format_err!("cannot start the tier-up thread: {e}"))?;
        self.tier_up_pool = Some(Arc::new(pool));
        Ok(self)
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
        let wasm = Arc::new(wasm);
        let (component, origin, tier) = self.compile(&wasm, &digest).await?;
        let engine = component.engine().clone();
        let offer = contract::check(&engine, &component)?;
        let exports = self.link(&component, &offer)?;

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
            tier,
            source: (tier == Tier::Baseline).then_some(wasm),
            grant,
        })
    }

    /// The component's code: optimised from the disk cache if it is there;
    /// else baseline code for a big component (when a baseline engine is
    /// configured), optimised code compiled now for the rest. Compilation
    /// runs on a blocking thread.
    async fn compile(
        &self,
        wasm: &Arc<Vec<u8>>,
        digest: &str,
    ) -> Result<(Component, Origin, Tier), LoadError> {
        let (engine, cache, key, bytes) = (
            self.engine.clone(),
            self.cache.clone(),
            digest.to_string(),
            wasm.clone(),
        );
        let baseline = self
            .baseline
            .as_ref()
            .filter(|_| wasm.len() >= TIER_UP_BYTES)
            .map(|(engine, _)| engine.clone());
        tokio::task::spawn_blocking(move || {
            if let Some(baseline) = baseline {
                if let Some(component) = cache.cached(&engine, &key) {
                    return Ok((component, Origin::Cache, Tier::Optimized));
                }
                // Winch does not compile every proposal Cranelift does (tail
                // calls, relaxed SIMD, ...): what it refuses, Cranelift
                // compiles now, so a component loads whichever is first.
                match Component::new(&baseline, bytes.as_slice()) {
                    Ok(component) => return Ok((component, Origin::Compiled, Tier::Baseline)),
                    Err(error) => tracing::info!(
                        error = %format!("{error:#}"),
                        "the baseline compiler refused a component; compiling optimised code now"
                    ),
                }
            }
            let (component, origin) = cache.load_or_compile(&engine, &bytes, &key)?;
            Ok((component, origin, Tier::Optimized))
        })
        .await
        .map_err(|e| LoadError::Compile(format!("compiler task failed: {e}")))?
        .map_err(|e: wasmtime::Error| LoadError::Compile(format!("{e:#}")))
    }

    /// Links `component` with the linker of the engine that compiled it.
    fn link(&self, component: &Component, offer: &Offer) -> Result<Exports, LoadError> {
        let linker = match &self.baseline {
            Some((engine, linker)) if Engine::same(engine, component.engine()) => linker,
            _ => &self.linker,
        };
        // WASI imports we withhold (filesystem, sockets, environment ...)
        // become traps: the component loads, and using one fails that call.
        let mut linker = linker.clone();
        wasi::withhold_unlinked(&mut linker, component.engine(), component)
            .map_err(|e| LoadError::Link(format!("{e:#}")))?;
        linker
            .instantiate_pre(component)
            .and_then(|pre| self.sandbox.prepare(pre, offer))
            .map_err(|e| LoadError::Link(format!("{e:#}")))
    }

    /// The same component on optimised code, compiled now (and written to
    /// the disk cache, so a restart starts optimised): what replaces a
    /// component serving from baseline code. Its declarations are the
    /// baseline load's (the same bytes); only the code changes (the
    /// registry keeps whatever grant is in force when it swaps it in).
    ///
    /// Background compiles take turns on one thread; `still_wanted` is asked
    /// when this one's turn comes, so a component replaced or removed while
    /// it waited costs nothing. `Ok(None)`: no longer wanted.
    pub async fn tier_up(
        &self,
        baseline: &LoadedComponent,
        still_wanted: impl Fn() -> bool,
    ) -> Result<Option<LoadedComponent>, LoadError> {
        let Some(wasm) = baseline.source.clone() else {
            return Ok(Some(baseline.with_grant(baseline.grant.clone())));
        };
        let _turn = self.tier_up_turn.lock().await;
        if !still_wanted() {
            return Ok(None);
        }
        let (engine, cache, key, pool) = (
            self.engine.clone(),
            self.cache.clone(),
            baseline.digest.clone(),
            self.tier_up_pool.clone(),
        );
        let (component, origin) = tokio::task::spawn_blocking(move || match pool {
            Some(pool) => pool.install(|| cache.load_or_compile(&engine, &wasm, &key)),
            None => cache.load_or_compile(&engine, &wasm, &key),
        })
        .await
        .map_err(|e| LoadError::Compile(format!("compiler task failed: {e}")))?
        .map_err(|e| LoadError::Compile(format!("{e:#}")))?;
        let exports = self.link(&component, &baseline.offer)?;
        Ok(Some(LoadedComponent {
            file: baseline.file.clone(),
            path: baseline.path.clone(),
            digest: baseline.digest.clone(),
            offer: baseline.offer,
            tools: baseline.tools.clone(),
            prompts: baseline.prompts.clone(),
            resources: baseline.resources.clone(),
            templates: baseline.templates.clone(),
            exports,
            origin,
            tier: Tier::Optimized,
            source: None,
            grant: baseline.grant.clone(),
        }))
    }
}
