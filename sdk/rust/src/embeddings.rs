//! The `embeddings` import: text embeddings from the host's configured
//! provider (its keys stay in the host).

pub use crate::bindings::tool_world::zava::mcp::embeddings::{ModelInfo, embed, model};

/// The embedding of one text.
pub fn embed_one(text: &str) -> Result<Vec<f32>, String> {
    embed(&[text.to_string()])?
        .pop()
        .ok_or_else(|| "the embeddings provider returned nothing".to_string())
}
