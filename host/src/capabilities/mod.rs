//! The host side of every import a tool component may use.
//!
//! Each capability follows the same shape (Spin's "factors"): a module with an
//! `add_to_linker` that links its WIT interface once into the shared linker,
//! and a small per-call context that lives in [`HostState`]. Adding a
//! capability means adding one module and one field here.

pub mod caller;
pub mod database;
pub mod embeddings;
pub mod wasi;

use wasmtime::component::Linker;

use crate::runtime::limits::CallLimiter;

/// Everything one sandboxed call may touch. Built fresh for every call and
/// dropped with its `Store`, so nothing survives from one caller to the next.
pub struct HostState {
    pub caller: caller::CallerCtx,
    pub database: database::DatabaseCtx,
    pub embeddings: embeddings::EmbeddingsCtx,
    pub wasi: wasi::WasiState,
    pub limiter: CallLimiter,
}

/// Links every import the host offers into `linker`.
pub fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    wasi::add_to_linker(linker)?;
    caller::add_to_linker(linker)?;
    database::add_to_linker(linker)?;
    embeddings::add_to_linker(linker)?;
    Ok(())
}
