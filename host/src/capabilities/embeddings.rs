//! `zava:mcp/embeddings`: text embeddings from the host's provider. Keys,
//! tokens and endpoints stay in the host; a component gets vectors (and the
//! model's name and size, to match them with stored embeddings).

use std::sync::Arc;

use tracing::Instrument;
use wasmtime::component::{HasData, Linker};

use super::HostState;
use crate::bindings::zava::mcp::embeddings::{self, ModelInfo};
use crate::embeddings::{Embeddings, MAX_TEXT_CHARS, MAX_TEXTS_PER_CALL};

#[derive(Default)]
pub struct EmbeddingsCtx {
    embeddings: Option<Arc<Embeddings>>,
    /// Set when the operator's policy withholds the import (the component).
    denied: Option<Arc<str>>,
    /// Texts embedded during this call, for the audit log.
    pub texts: u32,
    /// Time spent waiting for the provider during this call.
    pub elapsed: std::time::Duration,
}

impl EmbeddingsCtx {
    pub fn new(embeddings: Option<Arc<Embeddings>>) -> Self {
        Self {
            embeddings,
            denied: None,
            texts: 0,
            elapsed: std::time::Duration::ZERO,
        }
    }

    pub fn granted(mut self, allowed: bool, component: &Arc<str>) -> Self {
        self.denied = (!allowed).then(|| component.clone());
        self
    }

    fn provider(&self) -> Result<Arc<Embeddings>, String> {
        if let Some(component) = &self.denied {
            return Err(format!(
                "the operator's component policy does not grant `{component}` the embeddings import"
            ));
        }
        self.embeddings
            .clone()
            .ok_or_else(|| "no embeddings provider is configured for this server".to_string())
    }
}

struct EmbeddingsImport;
impl HasData for EmbeddingsImport {
    type Data<'a> = &'a mut EmbeddingsCtx;
}

pub fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    embeddings::add_to_linker::<HostState, EmbeddingsImport>(linker, |state| &mut state.embeddings)
}

impl embeddings::Host for EmbeddingsCtx {
    async fn model(&mut self) -> Result<ModelInfo, String> {
        let info = self.provider()?.model().await.map_err(|e| e.to_string())?;
        Ok(ModelInfo {
            name: info.name,
            dimensions: info.dimensions,
        })
    }

    async fn embed(&mut self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, String> {
        let provider = self.provider()?;
        if texts.len() > MAX_TEXTS_PER_CALL {
            return Err(format!(
                "at most {MAX_TEXTS_PER_CALL} texts per call (got {})",
                texts.len()
            ));
        }
        if let Some(long) = texts.iter().find(|t| t.chars().count() > MAX_TEXT_CHARS) {
            return Err(format!(
                "texts may have at most {MAX_TEXT_CHARS} characters (one has {})",
                long.chars().count()
            ));
        }
        self.texts += texts.len() as u32;
        let span = tracing::info_span!("embeddings.embed", texts = texts.len());
        let started = std::time::Instant::now();
        let result = provider
            .embed(&texts)
            .instrument(span)
            .await
            .map_err(|e| e.to_string());
        self.elapsed += started.elapsed();
        result
    }
}
