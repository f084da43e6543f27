//! Text embeddings for the `embeddings` import and `mcp-host embed`: one
//! [`Provider`] chosen by configuration ([`settings`]) — the local model
//! ([`local`], the offline default), Azure OpenAI or any OpenAI-compatible
//! endpoint ([`remote`]) — behind a cache of query texts ([`cache`]).
//! Keys and tokens stay in here; components only see vectors.

pub mod cache;
pub mod local;
pub mod local_model;
pub mod product_index;
pub mod remote;
pub mod remote_provider;
pub mod settings;

use std::sync::Arc;

use async_trait::async_trait;

/// What a provider computes with (recorded next to stored embeddings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelInfo {
    pub name: String,
    pub dimensions: u32,
}

/// Why embeddings could not be had: the message a component, a command or
/// a log shows (remote failures arrive as [`remote::RemoteError`], with
/// their kind, and are described here with the provider's name).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct EmbedError(pub String);

#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// For the start-up banner, e.g. `local all-MiniLM-L6-v2`.
    fn describe(&self) -> String;
    async fn model(&self) -> Result<ModelInfo, EmbedError>;
    /// One vector per text, in order.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError>;
}

/// The provider plus a cache of recent texts (assistants repeat queries).
pub struct Embeddings {
    provider: Arc<dyn Provider>,
    cache: cache::VectorCache,
}

/// Limits on what one `embed` call from a component may ask for.
pub const MAX_TEXTS_PER_CALL: usize = 64;
pub const MAX_TEXT_CHARS: usize = 8_192;

impl Embeddings {
    pub fn new(provider: Arc<dyn Provider>, cache_entries: usize) -> Self {
        Self {
            provider,
            cache: cache::VectorCache::new(cache_entries),
        }
    }

    pub fn describe(&self) -> String {
        self.provider.describe()
    }

    pub async fn model(&self) -> Result<ModelInfo, EmbedError> {
        self.provider.model().await
    }

    /// Embeds `texts`, answering repeated texts from the cache and sending
    /// only the rest to the provider (in one batch).
    pub async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut out: Vec<Option<Arc<Vec<f32>>>> = texts.iter().map(|t| self.cache.get(t)).collect();
        let missing: Vec<usize> = (0..texts.len()).filter(|&i| out[i].is_none()).collect();
        if !missing.is_empty() {
            let batch: Vec<String> = missing.iter().map(|&i| texts[i].clone()).collect();
            let vectors = self.provider.embed(&batch).await?;
            if vectors.len() != batch.len() {
                return Err(EmbedError(format!(
                    "the embeddings provider returned {} vectors for {} texts",
                    vectors.len(),
                    batch.len()
                )));
            }
            for (&i, vector) in missing.iter().zip(vectors) {
                let vector = Arc::new(vector);
                self.cache.put(&texts[i], vector.clone());
                out[i] = Some(vector);
            }
        }
        Ok(out
            .into_iter()
            .map(|v| v.map(|v| v.as_ref().clone()).unwrap_or_default())
            .collect())
    }
}

/// A provider for unit tests here and in the `embeddings` capability.
#[cfg(test)]
pub(crate) mod testing {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Counts the texts it is asked to embed; a one-dimensional vector
    /// encodes each text's length.
    pub struct Counting(pub AtomicUsize);

    #[async_trait]
    impl Provider for Counting {
        fn describe(&self) -> String {
            "counting".into()
        }
        async fn model(&self) -> Result<ModelInfo, EmbedError> {
            Ok(ModelInfo {
                name: "counting".into(),
                dimensions: 1,
            })
        }
        async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
            self.0.fetch_add(texts.len(), Ordering::SeqCst);
            Ok(texts.iter().map(|t| vec![t.len() as f32]).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::testing::Counting;
    use super::*;

    #[tokio::test]
    async fn repeated_texts_come_from_the_cache_in_order() {
        let provider = Arc::new(Counting(AtomicUsize::new(0)));
        let embeddings = Embeddings::new(provider.clone(), 16);
        let first = embeddings
            .embed(&["ab".into(), "abcd".into()])
            .await
            .unwrap();
        assert_eq!(first, vec![vec![2.0], vec![4.0]]);
        let second = embeddings
            .embed(&["abcd".into(), "x".into(), "ab".into()])
            .await
            .unwrap();
        assert_eq!(second, vec![vec![4.0], vec![1.0], vec![2.0]]);
        assert_eq!(provider.0.load(Ordering::SeqCst), 3, "only `x` was new");
    }
}
