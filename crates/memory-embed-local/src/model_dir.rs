//! A sentence-transformers model directory, checked and described without loading the
//! weights: which files it has, the BERT configuration, the pooling, the sequence limit and a
//! fingerprint of the weights that names the vector space.

use crate::error::LoadError;
use candle_transformers::models::bert;
use memory_core::stable_hash::Fnv1a64;
use serde::Deserialize;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// The model's configuration (architecture and sizes).
pub const CONFIG_FILE: &str = "config.json";
/// The tokenizer, in the `tokenizers` JSON format.
pub const TOKENIZER_FILE: &str = "tokenizer.json";
/// The weights.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// The sentence-transformers pipeline (optional: mean pooling when absent).
const MODULES_FILE: &str = "modules.json";
/// The sentence-transformers transformer settings (optional).
const SENTENCE_CONFIG_FILE: &str = "sentence_bert_config.json";

/// The largest safetensors header accepted (the header lists every tensor; real ones are KBs).
const MAX_HEADER_BYTES: u64 = 16 * 1024 * 1024;
/// How many slices of the weights the fingerprint samples, and how long each is.
const SAMPLES: u64 = 16;
const SAMPLE_BYTES: u64 = 4096;

/// How token vectors become one sentence vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// The mean of the token vectors, padding excluded (all-MiniLM-L6-v2 and most
    /// sentence-transformers models).
    Mean,
    /// The vector of the first (`[CLS]`) token.
    Cls,
}

impl Pooling {
    /// Its name in the fingerprint and in logs.
    pub fn name(self) -> &'static str {
        match self {
            Pooling::Mean => "mean",
            Pooling::Cls => "cls",
        }
    }
}

/// A model directory whose files are present and whose small files are well formed.
#[derive(Debug, Clone)]
pub struct ModelDir {
    /// The directory.
    pub dir: PathBuf,
    /// The BERT configuration from `config.json`.
    pub config: bert::Config,
    /// The pooling the pipeline asks for.
    pub pooling: Pooling,
    /// The longest input in tokens (special tokens included); longer inputs are truncated.
    pub max_seq_length: usize,
    /// Whether texts are lower-cased before tokenizing (sentence-transformers' `do_lower_case`).
    pub lowercase: bool,
    /// 16 hex digits identifying the weights, tokenizer and pipeline settings: a 64-bit
    /// FNV-1a hash ([`memory_core::stable_hash`]), enough to tell models apart.
    pub fingerprint: String,
}

impl ModelDir {
    /// Checks `dir`: the three files are there, the configuration describes a BERT model
    /// whose pipeline this crate can run, the weights file has a readable safetensors header
    /// whose word embeddings match the configured hidden size. The weights themselves are
    /// not read (a few sampled KiB go into the fingerprint).
    pub fn open(dir: &Path) -> Result<ModelDir, LoadError> {
        if !dir.is_dir() {
            return Err(LoadError::NotADirectory {
                path: dir.to_path_buf(),
            });
        }
        let config_path = require(dir, CONFIG_FILE)?;
        let tokenizer_path = require(dir, TOKENIZER_FILE)?;
        let weights_path = require(dir, WEIGHTS_FILE)?;

        let config = read_config(&config_path)?;
        let pooling = read_pooling(dir, config.hidden_size)?;
        let sentence = read_optional::<SentenceConfig>(&dir.join(SENTENCE_CONFIG_FILE))?;
        let max_seq_length = sentence
            .as_ref()
            .and_then(|s| s.max_seq_length)
            .unwrap_or(config.max_position_embeddings)
            .min(config.max_position_embeddings);
        if max_seq_length < 2 {
            return Err(LoadError::Malformed {
                path: dir.join(SENTENCE_CONFIG_FILE),
                detail: format!("max_seq_length {max_seq_length} leaves no room for text"),
            });
        }
        let lowercase = sentence.and_then(|s| s.do_lower_case).unwrap_or(false);

        let mut hash = Fnv1a64::new();
        let tokenizer_bytes = read(&tokenizer_path)?;
        hash.write(&tokenizer_bytes);
        hash_weights(&weights_path, config.hidden_size, &mut hash)?;
        hash.write(pooling.name().as_bytes());
        hash.write(&(max_seq_length as u64).to_le_bytes());
        hash.write(&[u8::from(lowercase)]);

        Ok(ModelDir {
            dir: dir.to_path_buf(),
            config,
            pooling,
            max_seq_length,
            lowercase,
            fingerprint: format!("{:016x}", hash.finish()),
        })
    }

    /// The path of one of the model's files.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// `dir/name`, if it is a file.
fn require(dir: &Path, name: &str) -> Result<PathBuf, LoadError> {
    let path = dir.join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(LoadError::MissingFile { path })
    }
}

/// The whole content of `path`.
pub fn read(path: &Path) -> Result<Vec<u8>, LoadError> {
    std::fs::read(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// `path` parsed as JSON, or `None` if there is no such file.
fn read_optional<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>, LoadError> {
    if !path.exists() {
        return Ok(None);
    }
    let bytes = read(path)?;
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| LoadError::Malformed {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })
}

/// `config.json`, which must describe a BERT model.
fn read_config(path: &Path) -> Result<bert::Config, LoadError> {
    let bytes = read(path)?;
    let malformed = |detail: String| LoadError::Malformed {
        path: path.to_path_buf(),
        detail,
    };
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| malformed(e.to_string()))?;
    match value.get("model_type").and_then(|t| t.as_str()) {
        Some("bert") | None => {}
        Some(other) => {
            return Err(LoadError::Unsupported {
                path: path.to_path_buf(),
                detail: format!("model_type `{other}`; only BERT models (`bert`) are supported"),
            });
        }
    }
    let config: bert::Config =
        serde_json::from_value(value).map_err(|e| malformed(e.to_string()))?;
    if config.hidden_size == 0 || config.num_attention_heads == 0 {
        return Err(malformed(
            "hidden_size and num_attention_heads must not be 0".into(),
        ));
    }
    if !config
        .hidden_size
        .is_multiple_of(config.num_attention_heads)
    {
        return Err(malformed(format!(
            "hidden_size {} is not a multiple of num_attention_heads {}",
            config.hidden_size, config.num_attention_heads
        )));
    }
    Ok(config)
}

/// One entry of `modules.json`.
#[derive(Deserialize)]
struct Module {
    path: String,
    #[serde(rename = "type")]
    kind: String,
}

/// `1_Pooling/config.json` (or wherever `modules.json` puts the pooling module).
#[derive(Deserialize)]
struct PoolingConfig {
    word_embedding_dimension: Option<usize>,
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_sqrt_len_tokens: bool,
    #[serde(default)]
    pooling_mode_weightedmean_tokens: bool,
    #[serde(default)]
    pooling_mode_lasttoken: bool,
}

/// `sentence_bert_config.json`.
#[derive(Deserialize)]
struct SentenceConfig {
    max_seq_length: Option<usize>,
    do_lower_case: Option<bool>,
}

/// The pooling of the pipeline in `modules.json` (mean when there is no `modules.json`);
/// any module other than the transformer, pooling and normalisation is unsupported.
fn read_pooling(dir: &Path, hidden_size: usize) -> Result<Pooling, LoadError> {
    let modules_path = dir.join(MODULES_FILE);
    let Some(modules) = read_optional::<Vec<Module>>(&modules_path)? else {
        return Ok(Pooling::Mean);
    };
    let mut pooling_dir = None;
    for module in &modules {
        let kind = module.kind.rsplit('.').next().unwrap_or_default();
        match kind {
            "Transformer" | "Normalize" => {}
            "Pooling" => pooling_dir = Some(module.path.clone()),
            other => {
                return Err(LoadError::Unsupported {
                    path: modules_path,
                    detail: format!(
                        "the pipeline has a `{other}` module; only Transformer, Pooling and \
                         Normalize are supported"
                    ),
                });
            }
        }
    }
    let Some(pooling_dir) = pooling_dir else {
        return Ok(Pooling::Mean);
    };
    let path = dir.join(pooling_dir).join(CONFIG_FILE);
    let Some(config) = read_optional::<PoolingConfig>(&path)? else {
        return Ok(Pooling::Mean);
    };
    if let Some(dim) = config.word_embedding_dimension
        && dim != hidden_size
    {
        return Err(LoadError::Malformed {
            path,
            detail: format!(
                "word_embedding_dimension {dim} differs from the model's hidden_size {hidden_size}"
            ),
        });
    }
    let others = config.pooling_mode_max_tokens
        || config.pooling_mode_mean_sqrt_len_tokens
        || config.pooling_mode_weightedmean_tokens
        || config.pooling_mode_lasttoken;
    match (
        config.pooling_mode_mean_tokens,
        config.pooling_mode_cls_token,
        others,
    ) {
        (true, false, false) => Ok(Pooling::Mean),
        (false, true, false) => Ok(Pooling::Cls),
        _ => Err(LoadError::Unsupported {
            path,
            detail: "only mean pooling or CLS pooling, alone, is supported".into(),
        }),
    }
}

/// Checks the safetensors header of `path` (a JSON object whose word embeddings are
/// `hidden_size` wide) and feeds it, the file's length and sampled slices of the weights into
/// `hash`.
fn hash_weights(path: &Path, hidden_size: usize, hash: &mut Fnv1a64) -> Result<(), LoadError> {
    let io = |source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let malformed = |detail: String| LoadError::Malformed {
        path: path.to_path_buf(),
        detail,
    };
    let mut file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let mut prefix = [0u8; 8];
    file.read_exact(&mut prefix)
        .map_err(|_| malformed("shorter than a safetensors header".into()))?;
    let header_len = u64::from_le_bytes(prefix);
    if header_len > MAX_HEADER_BYTES || 8 + header_len > len {
        return Err(malformed(format!(
            "not a safetensors file (header length {header_len}, file length {len})"
        )));
    }
    let mut header = vec![0u8; header_len as usize];
    file.read_exact(&mut header).map_err(io)?;
    let tensors: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&header)
        .map_err(|e| malformed(format!("the safetensors header is not valid JSON: {e}")))?;
    let embeddings = tensors
        .iter()
        .find(|(name, _)| name.ends_with("embeddings.word_embeddings.weight"))
        .ok_or_else(|| malformed("it has no word embeddings tensor; is it a BERT model?".into()))?;
    let width = embeddings
        .1
        .get("shape")
        .and_then(|s| s.as_array())
        .and_then(|s| s.get(1))
        .and_then(|w| w.as_u64());
    if width != Some(hidden_size as u64) {
        return Err(malformed(format!(
            "its word embeddings are {} wide but config.json says hidden_size {hidden_size}",
            width.map_or_else(|| "?".to_owned(), |w| w.to_string())
        )));
    }
    hash.write(&len.to_le_bytes());
    hash.write(&header);
    let data_start = 8 + header_len;
    let data_len = len - data_start;
    let mut sample = vec![0u8; SAMPLE_BYTES as usize];
    for i in 0..SAMPLES {
        let offset = data_start + data_len * i / SAMPLES;
        let take = SAMPLE_BYTES.min(len - offset) as usize;
        file.seek(SeekFrom::Start(offset)).map_err(io)?;
        file.read_exact(&mut sample[..take]).map_err(io)?;
        hash.write(&sample[..take]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn fnv_is_the_reference_fnv1a() {
        let mut h = Fnv1a64::new();
        h.write(b"a");
        assert_eq!(h.finish(), 0xaf63_dc4c_8601_ec8c);
    }
}
