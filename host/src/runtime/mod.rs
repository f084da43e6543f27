//! The WebAssembly side of the host.
//!
//! - [`engine`]: one wasmtime `Engine` (pooling allocator, epoch ticker).
//! - [`limits`]: deadline, memory and pool sizes, and the per-call limiter.
//! - [`cache`]: compiled code on disk, keyed by content hash and engine.
//! - [`contract`]: refuses components built against another WIT version.
//! - [`tooldef`]: validates what a component says its tools are.
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
pub mod contract;
pub mod engine;
pub mod limits;
pub mod loader;
pub mod policy;
pub mod registry;
pub mod rejudge;
pub mod sandbox;
pub mod tooldef;
pub mod watcher;
