//! The WebAssembly side of the host.
//!
//! - [`engine`]: one wasmtime `Engine` (pooling allocator, epoch ticker).
//! - [`limits`]: deadline, memory and pool sizes, and the per-call limiter.
//! - [`cache`]: compiled code on disk, keyed by content hash and engine.
//! - [`contract`]: refuses components built against another WIT version.
//! - [`tooldef`], [`promptdef`], [`resourcedef`]: validate what a component
//!   says its tools, prompts and resources are; [`content`]: its answers
//!   made into MCP's content blocks.
//! - [`policy`]: the operator's grants: imports, limits, pinned digests.
//! - [`component_file`]: which files are components, read safely and hashed
//!   once.
//! - [`loader`]: file -> compiled, linked, validated [`loader::LoadedComponent`].
//! - [`sandbox`]: one fresh `Store` per call, errors made plain.
//! - [`registry`]: the live tool catalogue, swapped atomically.
//! - [`watcher`]: keeps the registry in step with the components folder;
//!   [`rejudge`]: when the policy file changes, judges every loaded
//!   component again.

pub mod cache;
pub mod component_file;
pub mod content;
pub mod contract;
pub mod engine;
pub mod limits;
pub mod loader;
pub mod policy;
pub mod promptdef;
pub mod registry;
pub mod rejudge;
pub mod resourcedef;
pub mod sandbox;
pub mod tooldef;
pub mod watcher;
