//! The offline default: all-MiniLM-L6-v2 in-process ([`LocalModel`]), run on
//! the blocking pool so that a request never stalls the async workers, one
//! batch at a time (the model already uses every core for one batch).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::Semaphore;

use super::local_model::LocalModel;
use super::{EmbedError, ModelInfo, Provider};

pub struct LocalProvider {
    model: Arc<LocalModel>,
    dir: PathBuf,
    running: Semaphore,
}

impl LocalProvider {
    pub fn load(dir: &Path) -> Result<Self, EmbedError> {
        let model = LocalModel::load(dir).map_err(|e| {
            EmbedError(format!(
                "cannot load the local embedding model from {}: {e} \
                 (scripts/tools.sh installs it; or set MCP_LOCAL_MODEL_DIR)",
                dir.display()
            ))
        })?;
        Ok(Self {
            model: Arc::new(model),
            dir: dir.to_path_buf(),
            running: Semaphore::new(1),
        })
    }
}

#[async_trait]
impl Provider for LocalProvider {
    fn describe(&self) -> String {
        format!("local {} ({})", self.model.name(), self.dir.display())
    }

    async fn model(&self) -> Result<ModelInfo, EmbedError> {
        Ok(ModelInfo {
            name: self.model.name().to_string(),
            dimensions: self.model.dimensions() as u32,
        })
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let _turn = self
            .running
            .acquire()
            .await
            .map_err(|_| EmbedError("the local model is shutting down".into()))?;
        let model = self.model.clone();
        let texts = texts.to_vec();
        tokio::task::spawn_blocking(move || model.embed(&texts))
            .await
            .map_err(|e| EmbedError(format!("the local model stopped: {e}")))?
            .map_err(|e| EmbedError(format!("the local model failed: {e}")))
    }
}
