//! Local sentence embeddings with all-MiniLM-L6-v2 on CPU, reproducing
//! `SentenceTransformer("all-MiniLM-L6-v2").encode(texts)` (Transformer ->
//! mean pooling -> L2 normalise) without Python and without network access.
//!
//! Self-contained: depends only on candle-core, candle-nn, candle-transformers,
//! tokenizers (default-features = false, features = ["fancy-regex"]),
//! serde_json and thiserror.
//!
//! Performance note: candle 0.11.1 re-derives its thread count on every
//! matmul, and on x86 Linux without `RAYON_NUM_THREADS` that means opening
//! and parsing /proc/cpuinfo 48 times per forward pass (measured with strace),
//! which shows up clearly in short-query latency.
//! Setting `RAYON_NUM_THREADS=<cores>` in the process environment (before any
//! threads start, e.g. in the service unit) avoids it. A library cannot set it
//! safely itself because `set_var` races with other threads.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config as BertConfig};
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

const MODEL_NAME: &str = "all-MiniLM-L6-v2";
const WEIGHTS_FILE: &str = "model.safetensors";
const CONFIG_FILE: &str = "config.json";
const TOKENIZER_FILE: &str = "tokenizer.json";
// Optional sentence-transformers metadata; read when present so the module
// follows the model directory rather than hard-coding, but never required.
const ST_CONFIG_FILE: &str = "sentence_bert_config.json";
const POOLING_CONFIG_FILE: &str = "1_Pooling/config.json";

/// sentence-transformers' `max_seq_length` for this model. tokenizer.json
/// ships `truncation.max_length = 128`, which is *not* what Python uses: the
/// Python side always passes `max_length=max_seq_length` explicitly.
const DEFAULT_MAX_SEQ_LEN: usize = 256;

/// Texts per forward pass. Bounds peak memory (attention scores are
/// batch * heads * seq^2 floats: 32 * 12 * 256^2 * 4 B = 100 MB worst case).
const BATCH_SIZE: usize = 32;

/// Texts tokenised together before length-sorting. Sorting a window rather
/// than the whole input keeps token-id memory bounded for huge inputs while
/// still grouping similar lengths so little compute is wasted on padding.
const TOKENIZE_WINDOW: usize = BATCH_SIZE * 8;

#[derive(Debug, thiserror::Error)]
pub enum LocalModelError {
    #[error("model directory {0} does not exist or is not a directory")]
    MissingDir(PathBuf),
    #[error("required model file {0} is missing")]
    MissingFile(PathBuf),
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a valid config: {message}")]
    BadConfig { path: PathBuf, message: String },
    #[error("{path} is not a usable tokenizer: {message}")]
    BadTokenizer { path: PathBuf, message: String },
    #[error("{path} does not contain usable BERT weights: {source}")]
    BadWeights {
        path: PathBuf,
        #[source]
        source: candle_core::Error,
    },
    #[error("tokenization failed: {0}")]
    Tokenize(String),
    #[error("model inference failed: {0}")]
    Inference(#[from] candle_core::Error),
    #[error("internal panic while embedding (bug in a dependency?): {0}")]
    Panic(String),
}

pub struct LocalModel {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
    dimensions: usize,
}

// The model is shared via Arc across spawn_blocking tasks; fail the build here
// rather than at the use site in the larger project if a dependency upgrade
// ever makes a field !Send or !Sync.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<LocalModel>();
};

impl std::fmt::Debug for LocalModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalModel")
            .field("name", &MODEL_NAME)
            .field("dimensions", &self.dimensions)
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

impl LocalModel {
    /// Loads model.safetensors, config.json and tokenizer.json from `dir`.
    pub fn load(dir: &Path) -> Result<Self, LocalModelError> {
        if !dir.is_dir() {
            return Err(LocalModelError::MissingDir(dir.to_path_buf()));
        }
        // Check all required files up front so the error names the missing
        // file instead of surfacing as a parse error from a later stage.
        let config_path = dir.join(CONFIG_FILE);
        let tokenizer_path = dir.join(TOKENIZER_FILE);
        let weights_path = dir.join(WEIGHTS_FILE);
        for p in [&config_path, &tokenizer_path, &weights_path] {
            if !p.is_file() {
                return Err(LocalModelError::MissingFile(p.clone()));
            }
        }

        let config: BertConfig =
            serde_json::from_str(&read_to_string(&config_path)?).map_err(|e| {
                LocalModelError::BadConfig {
                    path: config_path.clone(),
                    message: e.to_string(),
                }
            })?;
        check_pooling_config(dir)?;
        let max_seq_len = read_max_seq_len(dir)?;
        if max_seq_len > config.max_position_embeddings {
            // Longer sequences would index past the position-embedding table.
            return Err(LocalModelError::BadConfig {
                path: dir.join(ST_CONFIG_FILE),
                message: format!(
                    "max_seq_length {max_seq_len} exceeds max_position_embeddings {}",
                    config.max_position_embeddings
                ),
            });
        }

        let tokenizer = load_tokenizer(&tokenizer_path, max_seq_len)?;

        let device = Device::Cpu;
        // Read into memory instead of mmap: mmap loading is `unsafe` in candle
        // because another process truncating the file would be UB. The copy
        // costs ~90 MB briefly and a few tens of ms.
        let bytes = std::fs::read(&weights_path).map_err(|source| LocalModelError::Io {
            path: weights_path.clone(),
            source,
        })?;
        let bad_weights = |source| LocalModelError::BadWeights {
            path: weights_path.clone(),
            source,
        };
        let vb = VarBuilder::from_buffered_safetensors(bytes, DType::F32, &device)
            .map_err(bad_weights)?;
        let model = BertModel::load(vb, &config).map_err(bad_weights)?;

        Ok(Self {
            model,
            tokenizer,
            device,
            dimensions: config.hidden_size,
        })
    }

    pub fn name(&self) -> &str {
        MODEL_NAME
    }

    pub fn dimensions(&self) -> usize {
        self.dimensions
    }

    /// Embeds a batch (any size; chunked internally, 32 per forward pass).
    /// Empty input -> empty output. Output order matches input order and
    /// every vector is L2-normalised.
    pub fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, LocalModelError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        // The callers run this inside a server; a panic deep in a dependency
        // must become an error for one request, not a poisoned worker.
        // (Ineffective if the final binary is built with panic = "abort".)
        // AssertUnwindSafe is sound: `self` has no interior mutability, so a
        // panic cannot leave it half-updated.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.embed_inner(texts)))
            .unwrap_or_else(|payload| {
                let msg = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic payload".to_string());
                Err(LocalModelError::Panic(msg))
            })
    }

    fn embed_inner(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, LocalModelError> {
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
        for (w, window) in texts.chunks(TOKENIZE_WINDOW).enumerate() {
            let base = w * TOKENIZE_WINDOW;
            let inputs: Vec<&str> = window.iter().map(String::as_str).collect();
            let encodings = self
                .tokenizer
                .encode_batch(inputs, true)
                .map_err(|e| LocalModelError::Tokenize(e.to_string()))?;
            let mut seqs: Vec<(usize, Vec<u32>)> = encodings
                .into_iter()
                .enumerate()
                .map(|(i, enc)| (base + i, enc.get_ids().to_vec()))
                .collect();
            // Longest first, like sentence-transformers, so each forward pass
            // pads to a similar length. Padding does not change results
            // (masked out of attention and pooling), only cost.
            seqs.sort_by_key(|(_, ids)| std::cmp::Reverse(ids.len()));
            for chunk in seqs.chunks(BATCH_SIZE) {
                let vecs = self.forward_chunk(chunk)?;
                for ((idx, _), v) in chunk.iter().zip(vecs) {
                    out[*idx] = v;
                }
            }
        }
        Ok(out)
    }

    fn forward_chunk(&self, chunk: &[(usize, Vec<u32>)]) -> Result<Vec<Vec<f32>>, LocalModelError> {
        let batch = chunk.len();
        // Never 0: the post-processor always adds [CLS] and [SEP], but guard
        // anyway so a tokenizer swap cannot produce a zero-width tensor.
        let seq_len = chunk
            .iter()
            .map(|(_, ids)| ids.len())
            .max()
            .unwrap_or(0)
            .max(1);

        // Pad ourselves (pad id 0 = [PAD], mask 0) instead of using the
        // tokenizer's padding, whose tokenizer.json default is Fixed(128).
        let mut ids = vec![0u32; batch * seq_len];
        let mut mask = vec![0u32; batch * seq_len];
        for (row, (_, seq)) in chunk.iter().enumerate() {
            let start = row * seq_len;
            ids[start..start + seq.len()].copy_from_slice(seq);
            mask[start..start + seq.len()].fill(1);
        }
        let ids = Tensor::from_vec(ids, (batch, seq_len), &self.device)?;
        let mask = Tensor::from_vec(mask, (batch, seq_len), &self.device)?;
        let token_type_ids = ids.zeros_like()?;

        let hidden = self.model.forward(&ids, &token_type_ids, Some(&mask))?; // (b, s, h)

        // Mean over real tokens only, matching sentence-transformers' Pooling
        // (sum of masked embeddings / clamp(token count, 1e-9)).
        let mask_f = mask.to_dtype(DType::F32)?.unsqueeze(2)?; // (b, s, 1)
        let summed = hidden.broadcast_mul(&mask_f)?.sum(1)?; // (b, h)
        let counts = mask_f.sum(1)?.maximum(1e-9f32)?; // (b, 1)
        let mean = summed.broadcast_div(&counts)?;

        // Same as torch.nn.functional.normalize(p=2, eps=1e-12).
        let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?.maximum(1e-12f32)?;
        let normed = mean.broadcast_div(&norms)?;
        Ok(normed.to_vec2::<f32>()?)
    }
}

fn read_to_string(path: &Path) -> Result<String, LocalModelError> {
    std::fs::read_to_string(path).map_err(|source| LocalModelError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn load_tokenizer(path: &Path, max_seq_len: usize) -> Result<Tokenizer, LocalModelError> {
    let bad = |message: String| LocalModelError::BadTokenizer {
        path: path.to_path_buf(),
        message,
    };
    let mut tokenizer = Tokenizer::from_file(path).map_err(|e| bad(e.to_string()))?;
    // tokenizers subtracts the special-token count from max_length without a
    // checked_sub, so reject tiny values before they can panic in there.
    if max_seq_len < 2 {
        return Err(bad(format!("max_seq_length {max_seq_len} is too small")));
    }
    tokenizer
        .with_truncation(Some(TruncationParams {
            max_length: max_seq_len,
            strategy: TruncationStrategy::LongestFirst,
            stride: 0,
            direction: TruncationDirection::Right,
        }))
        .map_err(|e| bad(e.to_string()))?;
    tokenizer.with_padding(None);
    Ok(tokenizer)
}

/// Reads sentence-transformers' max_seq_length if the metadata file exists;
/// otherwise uses the value the published model ships with.
fn read_max_seq_len(dir: &Path) -> Result<usize, LocalModelError> {
    let path = dir.join(ST_CONFIG_FILE);
    if !path.is_file() {
        return Ok(DEFAULT_MAX_SEQ_LEN);
    }
    let v: serde_json::Value =
        serde_json::from_str(&read_to_string(&path)?).map_err(|e| LocalModelError::BadConfig {
            path: path.clone(),
            message: e.to_string(),
        })?;
    match v.get("max_seq_length") {
        None | Some(serde_json::Value::Null) => Ok(DEFAULT_MAX_SEQ_LEN),
        Some(n) => n
            .as_u64()
            .map(|n| n as usize)
            .ok_or_else(|| LocalModelError::BadConfig {
                path,
                message: format!("max_seq_length must be a positive integer, got {n}"),
            }),
    }
}

/// Only mean pooling is implemented; refuse a directory whose pooling config
/// asks for something else rather than silently returning different vectors.
fn check_pooling_config(dir: &Path) -> Result<(), LocalModelError> {
    let path = dir.join(POOLING_CONFIG_FILE);
    if !path.is_file() {
        return Ok(());
    }
    let v: serde_json::Value =
        serde_json::from_str(&read_to_string(&path)?).map_err(|e| LocalModelError::BadConfig {
            path: path.clone(),
            message: e.to_string(),
        })?;
    let flag = |k: &str| v.get(k).and_then(|x| x.as_bool()).unwrap_or(false);
    let others = [
        "pooling_mode_cls_token",
        "pooling_mode_max_tokens",
        "pooling_mode_mean_sqrt_len_tokens",
        "pooling_mode_weightedmean_tokens",
        "pooling_mode_lasttoken",
    ];
    if !flag("pooling_mode_mean_tokens") || others.iter().any(|k| flag(k)) {
        return Err(LocalModelError::BadConfig {
            path,
            message: "only pooling_mode_mean_tokens=true (and no other mode) is supported".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    /// The model `scripts/tools.sh` installs (or MCP_LOCAL_MODEL_DIR). The
    /// tests fail rather than skip without it: the suite installs it.
    fn model_dir() -> Option<PathBuf> {
        let dir = std::env::var_os("MCP_LOCAL_MODEL_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/tools/minilm")
            });
        assert!(
            dir.join("model.safetensors").is_file(),
            "no all-MiniLM-L6-v2 in {} (run scripts/tools.sh or set MCP_LOCAL_MODEL_DIR)",
            dir.display()
        );
        Some(dir)
    }

    /// Loaded once and shared by all tests (which run on parallel threads),
    /// which also exercises the Sync bound for real.
    fn model() -> Option<&'static LocalModel> {
        static MODEL: OnceLock<LocalModel> = OnceLock::new();
        let dir = model_dir()?;
        Some(MODEL.get_or_init(|| LocalModel::load(&dir).expect("load the local model")))
    }

    fn cosine(a: &[f32], b: &[f32]) -> f64 {
        let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
        let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
        let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
        dot / (na * nb)
    }

    fn norm(v: &[f32]) -> f64 {
        v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt()
    }

    fn s(x: &str) -> String {
        x.to_string()
    }

    #[test]
    fn dimension_and_unit_length() {
        let Some(m) = model() else { return };
        assert_eq!(m.name(), "all-MiniLM-L6-v2");
        assert_eq!(m.dimensions(), 384);
        let v = m
            .embed(&[
                s("waterproof electrical connectors"),
                s("cordless drill"),
                s(""),
            ])
            .unwrap();
        assert_eq!(v.len(), 3);
        for e in &v {
            assert_eq!(e.len(), 384);
            assert!((norm(e) - 1.0).abs() < 1e-5, "norm {}", norm(e));
        }
        assert!(m.embed(&[]).unwrap().is_empty());
    }

    #[test]
    fn deterministic_and_batch_equals_single() {
        let Some(m) = model() else { return };
        let a = m.embed(&[s("cordless drill")]).unwrap();
        let b = m.embed(&[s("cordless drill")]).unwrap();
        assert_eq!(a, b, "same text twice must give bit-identical vectors");

        // 70 texts of varied length: crosses the 32-per-pass chunking, and the
        // short text ends up padded next to much longer ones.
        let mut batch: Vec<String> = (0..70)
            .map(|i| {
                format!(
                    "product {i}: {}",
                    "sturdy steel hammer with grip ".repeat(i % 9)
                )
            })
            .collect();
        batch[41] = s("cordless drill");
        let out = m.embed(&batch).unwrap();
        assert_eq!(out.len(), 70);
        for (i, t) in batch.iter().enumerate() {
            if i % 7 != 0 && i != 41 {
                continue;
            }
            let single = &m.embed(std::slice::from_ref(t)).unwrap()[0];
            let max_diff = single
                .iter()
                .zip(&out[i])
                .map(|(x, y)| (x - y).abs())
                .fold(0f32, f32::max);
            assert!(
                max_diff < 1e-5,
                "text {i}: batch vs single max diff {max_diff}"
            );
        }
    }

    #[test]
    fn matches_sentence_transformers_reference() {
        let Some(m) = model() else { return };
        let path = std::env::var_os("MINILM_REFERENCE")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/minilm_reference.json")
            });
        let raw = std::fs::read_to_string(&path).expect("the reference vectors");
        let json: serde_json::Value = serde_json::from_str(&raw).unwrap();
        let items = json["items"].as_array().unwrap();
        assert!(items.len() >= 4);
        let texts: Vec<String> = items
            .iter()
            .map(|it| s(it["text"].as_str().unwrap()))
            .collect();
        let expected: Vec<Vec<f32>> = items
            .iter()
            .map(|it| {
                it["embedding"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap() as f32)
                    .collect()
            })
            .collect();
        // One batch, so padding is in play for all but the longest text.
        let got = m.embed(&texts).unwrap();
        for ((t, g), e) in texts.iter().zip(&got).zip(&expected) {
            let c = cosine(g, e);
            let max_diff = g
                .iter()
                .zip(e)
                .map(|(x, y)| (x - y).abs())
                .fold(0f32, f32::max);
            eprintln!(
                "cos={c:.9} max|diff|={max_diff:.2e} {:?}",
                t.chars().take(40).collect::<String>()
            );
            assert!(c >= 0.9999, "cosine {c} for {t:?}");
        }
    }

    #[test]
    fn semantic_sanity() {
        let Some(m) = model() else { return };
        let v = m
            .embed(&[
                s("cordless drill"),
                s("battery powered drill driver"),
                s("garden hose"),
            ])
            .unwrap();
        let near = cosine(&v[0], &v[1]);
        let far = cosine(&v[0], &v[2]);
        eprintln!("cos(drill, drill driver)={near:.4} cos(drill, hose)={far:.4}");
        assert!(near > far);
    }

    #[test]
    fn odd_inputs_do_not_panic() {
        let Some(m) = model() else { return };
        let texts = vec![
            s(""),
            s(" "),
            s("\n\t\r"),
            s("\0\0\0"),
            s("\u{200b}\u{feff}\u{202e}"),
            s("🔧🪛🏠👩‍👩‍👧‍👦🇬🇧"),
            s("e\u{301}\u{301}\u{301}\u{301}"),
            s("日本語のテキストと中文文本和한국어"),
            s("مرحبا بالعالم"),
            "x".repeat(200_000),
            "word ".repeat(100_000),
            "🔥 ".repeat(10_000),
            s("\u{10FFFF}\u{FFFD}"),
        ];
        let out = m.embed(&texts).unwrap();
        assert_eq!(out.len(), texts.len());
        for (t, e) in texts.iter().zip(&out) {
            assert_eq!(e.len(), 384);
            assert!(
                e.iter().all(|x| x.is_finite()),
                "non-finite for {:?}",
                &t[..t.len().min(20)]
            );
            assert!((norm(e) - 1.0).abs() < 1e-5);
        }
    }

    #[test]
    fn errors_name_the_bad_file() {
        let dir = std::env::temp_dir().join(format!("local-embed-err-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);

        let err = LocalModel::load(&dir).unwrap_err();
        assert!(matches!(err, LocalModelError::MissingDir(_)), "{err}");

        std::fs::create_dir_all(&dir).unwrap();
        let err = LocalModel::load(&dir).unwrap_err().to_string();
        assert!(
            err.contains("config.json") && err.contains("missing"),
            "{err}"
        );

        std::fs::write(dir.join("config.json"), "{ not json").unwrap();
        std::fs::write(dir.join("tokenizer.json"), "{}").unwrap();
        let err = LocalModel::load(&dir).unwrap_err().to_string();
        assert!(
            err.contains("model.safetensors") && err.contains("missing"),
            "{err}"
        );

        std::fs::write(dir.join("model.safetensors"), b"garbage").unwrap();
        let err = LocalModel::load(&dir).unwrap_err().to_string();
        assert!(
            err.contains("config.json") && err.contains("not a valid config"),
            "{err}"
        );

        if let Some(real) = model_dir() {
            std::fs::copy(real.join("config.json"), dir.join("config.json")).unwrap();
            let err = LocalModel::load(&dir).unwrap_err().to_string();
            assert!(err.contains("tokenizer.json"), "{err}");

            std::fs::copy(real.join("tokenizer.json"), dir.join("tokenizer.json")).unwrap();
            let err = LocalModel::load(&dir).unwrap_err().to_string();
            assert!(err.contains("model.safetensors"), "{err}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
