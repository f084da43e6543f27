//! A remote embeddings endpoint as a [`Provider`]: the model is the
//! deployment (Azure) or model name (OpenAI-compatible); its dimension is
//! configured or learnt from one probe request, once.

use async_trait::async_trait;
use tokio::sync::OnceCell;

use super::remote::RemoteEmbedder;
use super::{EmbedError, ModelInfo, Provider};

pub struct RemoteProvider {
    embedder: RemoteEmbedder,
    dimensions: OnceCell<u32>,
    kind: &'static str,
}

impl RemoteProvider {
    pub fn new(embedder: RemoteEmbedder, dimensions: Option<u32>, kind: &'static str) -> Self {
        Self {
            embedder,
            dimensions: OnceCell::new_with(dimensions),
            kind,
        }
    }
}

#[async_trait]
impl Provider for RemoteProvider {
    fn describe(&self) -> String {
        format!("{} {}", self.kind, self.embedder.model_name())
    }

    async fn model(&self) -> Result<ModelInfo, EmbedError> {
        let dimensions = self
            .dimensions
            .get_or_try_init(|| async {
                let probe = self.embed(&["dimension probe".to_string()]).await?;
                probe
                    .first()
                    .map(|v| v.len() as u32)
                    .filter(|d| *d > 0)
                    .ok_or_else(|| EmbedError("the endpoint returned an empty vector".into()))
            })
            .await?;
        Ok(ModelInfo {
            name: self.embedder.model_name().to_string(),
            dimensions: *dimensions,
        })
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.embedder
            .embed(texts)
            .await
            .map_err(|e| EmbedError(format!("{} embeddings: {e}", self.kind)))
    }
}
