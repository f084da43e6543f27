//! Azure OpenAI: `POST {endpoint}/openai/deployments/{deployment}/embeddings?api-version=...`.

use reqwest::Url;
use serde::Serialize;

use super::auth::RemoteAuth;
use super::error::RemoteError;

/// An Azure OpenAI embeddings deployment.
#[derive(Debug, Clone)]
pub struct AzureOpenAi {
    /// e.g. `https://my-resource.openai.azure.com`; a trailing slash is fine.
    pub endpoint: String,
    /// The deployment name chosen in Azure, not the underlying model name.
    pub deployment: String,
    /// e.g. `2024-02-01`.
    pub api_version: String,
    pub auth: RemoteAuth,
}

/// Azure picks the model from the deployment, so the body has no `model` field.
#[derive(Serialize)]
pub(super) struct AzureRequest<'a> {
    pub input: &'a [String],
}

impl AzureOpenAi {
    pub(super) fn embeddings_url(&self) -> Result<Url, RemoteError> {
        for (name, value) in [
            ("endpoint", &self.endpoint),
            ("deployment", &self.deployment),
            ("api_version", &self.api_version),
        ] {
            if value.trim().is_empty() {
                return Err(RemoteError::Config(format!("Azure OpenAI {name} is empty")));
            }
        }
        let mut url = super::parse_http_url(self.endpoint.trim(), "Azure OpenAI endpoint")?;
        url.path_segments_mut()
            .map_err(|()| RemoteError::Config("Azure OpenAI endpoint cannot be a base URL".into()))?
            .pop_if_empty()
            .extend([
                "openai",
                "deployments",
                self.deployment.trim(),
                "embeddings",
            ]);
        url.query_pairs_mut()
            .clear()
            .append_pair("api-version", self.api_version.trim());
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(endpoint: &str) -> AzureOpenAi {
        AzureOpenAi {
            endpoint: endpoint.into(),
            deployment: "emb".into(),
            api_version: "2024-02-01".into(),
            auth: RemoteAuth::None,
        }
    }

    #[test]
    fn url_tolerates_trailing_slash() {
        let expected =
            "https://x.openai.azure.com/openai/deployments/emb/embeddings?api-version=2024-02-01";
        assert_eq!(
            config("https://x.openai.azure.com")
                .embeddings_url()
                .unwrap()
                .as_str(),
            expected
        );
        assert_eq!(
            config("https://x.openai.azure.com/")
                .embeddings_url()
                .unwrap()
                .as_str(),
            expected
        );
    }

    #[test]
    fn bad_endpoints_are_config_errors() {
        for endpoint in ["", "x.openai.azure.com", "ftp://x", "mailto:a@b"] {
            let err = config(endpoint).embeddings_url().unwrap_err();
            assert!(matches!(err, RemoteError::Config(_)), "{endpoint}: {err}");
        }
    }
}
