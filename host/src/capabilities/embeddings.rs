//! `zava:mcp/embeddings`: text embeddings from the host's provider. Keys,
//! tokens and endpoints stay in the host; a component gets vectors (and the
//! model's name and size, to match them with stored embeddings).

use std::sync::Arc;

use tracing::Instrument;
use wasmtime::component::{HasData, Linker};

use super::{CallContext, CallStats, Capability, HostState};
use crate::bindings::v1::zava::mcp::embeddings as v1_embeddings;
use crate::bindings::zava::mcp::embeddings::{self, ModelInfo};
use crate::embeddings::{Embeddings, MAX_TEXT_CHARS, MAX_TEXTS_PER_CALL};

/// The capability: the host's embeddings provider, if one is configured.
#[derive(Default)]
pub struct EmbeddingsImport {
    pub provider: Option<Arc<Embeddings>>,
}

impl Capability for EmbeddingsImport {
    const IMPORT: Option<&'static str> = Some("embeddings");
    type Ctx = EmbeddingsCtx;

    fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
        embeddings::add_to_linker::<HostState, Import>(linker, |state| &mut state.caps.embeddings)?;
        v1_embeddings::add_to_linker::<HostState, Import>(linker, |state| {
            &mut state.caps.embeddings
        })
    }

    fn prepare(&self, call: &CallContext<'_>) -> EmbeddingsCtx {
        EmbeddingsCtx {
            provider: self.provider.clone(),
            withheld: call.withheld("embeddings"),
            texts: 0,
            elapsed: std::time::Duration::ZERO,
        }
    }

    fn report(ctx: &mut EmbeddingsCtx, stats: &mut CallStats) {
        stats.embedded_texts = ctx.texts;
        stats.embedding_time = ctx.elapsed;
    }
}

pub struct EmbeddingsCtx {
    provider: Option<Arc<Embeddings>>,
    /// Why the import is refused, when the operator's policy withholds it.
    withheld: Option<String>,
    /// Texts embedded during this call, for the audit log.
    texts: u32,
    /// Time spent waiting for the provider during this call.
    elapsed: std::time::Duration,
}

impl EmbeddingsCtx {
    fn provider(&self) -> Result<Arc<Embeddings>, String> {
        if let Some(refusal) = &self.withheld {
            return Err(refusal.clone());
        }
        self.provider
            .clone()
            .ok_or_else(|| "no embeddings provider is configured for this server".to_string())
    }
}

struct Import;
impl HasData for Import {
    type Data<'a> = &'a mut EmbeddingsCtx;
}

/// 0.1 components: the same import under its old version.
impl v1_embeddings::Host for EmbeddingsCtx {
    async fn model(&mut self) -> Result<v1_embeddings::ModelInfo, String> {
        let ModelInfo { name, dimensions } = embeddings::Host::model(self).await?;
        Ok(v1_embeddings::ModelInfo { name, dimensions })
    }

    async fn embed(&mut self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, String> {
        embeddings::Host::embed(self, texts).await
    }
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::bindings::zava::mcp::embeddings::Host as _;
    use crate::embeddings::testing::Counting;
    use crate::runtime::policy::{Ceilings, Grant};

    fn context(provider: &Arc<Counting>, imports: &[&'static str]) -> EmbeddingsCtx {
        let ceilings = Ceilings {
            deadline: Duration::from_secs(30),
            memory_bytes: 64 << 20,
            max_rows: 10,
        };
        let grant = Grant {
            imports: imports.iter().copied().collect(),
            ..Grant::everything(&ceilings)
        };
        EmbeddingsImport {
            provider: Some(Arc::new(Embeddings::new(provider.clone(), 16))),
        }
        .prepare(&CallContext {
            caller: None,
            component: &"semantic_search.wasm".into(),
            tool: "t",
            grant: &grant,
            client: None,
        })
    }

    #[tokio::test]
    async fn embeds_within_the_limits_and_reports_what_it_did() {
        let provider = Arc::new(Counting(AtomicUsize::new(0)));
        let mut ctx = context(&provider, &["embeddings"]);
        let vectors = ctx.embed(vec!["ab".into(), "abcd".into()]).await.unwrap();
        assert_eq!(vectors, [vec![2.0], vec![4.0]]);
        assert_eq!(ctx.model().await.unwrap().dimensions, 1);

        let too_many = ctx.embed(vec![String::new(); MAX_TEXTS_PER_CALL + 1]).await;
        assert_eq!(
            too_many.unwrap_err(),
            format!("at most {MAX_TEXTS_PER_CALL} texts per call (got 65)")
        );
        let too_long = ctx.embed(vec!["é".repeat(MAX_TEXT_CHARS + 1)]).await;
        assert_eq!(
            too_long.unwrap_err(),
            format!("texts may have at most {MAX_TEXT_CHARS} characters (one has 8193)")
        );
        assert_eq!(
            provider.0.load(Ordering::SeqCst),
            2,
            "refusals cost nothing"
        );

        let mut stats = CallStats::default();
        EmbeddingsImport::report(&mut ctx, &mut stats);
        assert_eq!(stats.embedded_texts, 2);
    }

    #[tokio::test]
    async fn without_a_grant_the_provider_is_not_reached() {
        let provider = Arc::new(Counting(AtomicUsize::new(0)));
        let mut ctx = context(&provider, &["database"]);
        assert_eq!(
            ctx.embed(vec!["a".into()]).await.unwrap_err(),
            "the operator's component policy does not grant `semantic_search.wasm` the embeddings import"
        );
        assert!(ctx.model().await.is_err());
        assert_eq!(provider.0.load(Ordering::SeqCst), 0);
    }
}
