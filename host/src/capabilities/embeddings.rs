//! `zava:mcp/embeddings`: text embeddings from the host's provider.
//!
//! Linked now so the contract is complete; providers (local model, Azure
//! OpenAI, OpenAI-compatible) arrive with the semantic-search issue. Until
//! then every call answers with an error that says no provider is configured.

use wasmtime::component::{HasData, Linker};

use super::HostState;
use crate::bindings::zava::mcp::embeddings::{self, ModelInfo};

#[derive(Default)]
pub struct EmbeddingsCtx {}

struct Embeddings;
impl HasData for Embeddings {
    type Data<'a> = &'a mut EmbeddingsCtx;
}

pub fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    embeddings::add_to_linker::<HostState, Embeddings>(linker, |state| &mut state.embeddings)
}

const NO_PROVIDER: &str = "no embeddings provider is configured for this server";

impl embeddings::Host for EmbeddingsCtx {
    async fn model(&mut self) -> Result<ModelInfo, String> {
        Err(NO_PROVIDER.to_string())
    }

    async fn embed(&mut self, _texts: Vec<String>) -> Result<Vec<Vec<f32>>, String> {
        Err(NO_PROVIDER.to_string())
    }
}
