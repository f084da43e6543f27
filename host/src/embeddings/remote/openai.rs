//! OpenAI-compatible servers: `POST {base_url}/embeddings`.

use reqwest::Url;
use serde::Serialize;

use super::auth::RemoteAuth;
use super::error::RemoteError;

/// An OpenAI-compatible embeddings API (OpenAI, Ollama, vLLM, LiteLLM, ...).
#[derive(Debug, Clone)]
pub struct OpenAiCompatible {
    /// Everything before `/embeddings`, e.g. `https://api.openai.com/v1` or
    /// `http://localhost:11434/v1`.
    pub base_url: String,
    pub model: String,
    pub auth: RemoteAuth,
    /// Output size for models that can shorten vectors (text-embedding-3-*).
    pub dimensions: Option<u32>,
}

#[derive(Serialize)]
pub(super) struct OpenAiRequest<'a> {
    pub model: &'a str,
    pub input: &'a [String],
    // Omitted rather than null: several compatible servers reject unknown nulls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
}

impl OpenAiCompatible {
    pub(super) fn embeddings_url(&self) -> Result<Url, RemoteError> {
        if self.model.trim().is_empty() {
            return Err(RemoteError::Config("embedding model name is empty".into()));
        }
        if self.dimensions == Some(0) {
            return Err(RemoteError::Config("dimensions must be at least 1".into()));
        }
        let mut url = super::parse_http_url(self.base_url.trim(), "OpenAI-compatible base_url")?;
        url.path_segments_mut()
            .map_err(|()| {
                RemoteError::Config("OpenAI-compatible base_url cannot be a base URL".into())
            })?
            .pop_if_empty()
            .push("embeddings");
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(base_url: &str) -> OpenAiCompatible {
        OpenAiCompatible {
            base_url: base_url.into(),
            model: "m".into(),
            auth: RemoteAuth::None,
            dimensions: None,
        }
    }

    #[test]
    fn url_appends_embeddings() {
        for base in ["http://localhost:11434/v1", "http://localhost:11434/v1/"] {
            assert_eq!(
                config(base).embeddings_url().unwrap().as_str(),
                "http://localhost:11434/v1/embeddings"
            );
        }
    }

    #[test]
    fn body_omits_unset_dimensions() {
        let input = vec!["a".to_string()];
        let body = |dimensions| {
            serde_json::to_value(OpenAiRequest {
                model: "m",
                input: &input,
                dimensions,
            })
            .unwrap()
        };
        assert_eq!(
            body(None),
            serde_json::json!({"model": "m", "input": ["a"]})
        );
        assert_eq!(
            body(Some(8)),
            serde_json::json!({"model": "m", "input": ["a"], "dimensions": 8})
        );
    }
}
