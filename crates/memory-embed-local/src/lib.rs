//! An [`Embedder`] that runs a BERT-family sentence-embedding model in-process, on the CPU,
//! from a local directory: semantic recall without sending anything to an API and without
//! Python or an ONNX runtime.
//!
//! The directory has the sentence-transformers layout — `config.json`, `tokenizer.json` and
//! `model.safetensors`, optionally `modules.json`, `sentence_bert_config.json` and
//! `1_Pooling/config.json` — as all-MiniLM-L6-v2 ships it (384 dimensions, mean pooling).
//! The model runs on [candle](https://docs.rs/candle-core) and is tokenized by
//! [tokenizers](https://docs.rs/tokenizers), both pure Rust; nothing is downloaded, ever.
//! Vectors are pooled as the model's pipeline says (mean or CLS) and L2-normalised, as
//! sentence-transformers' `encode(..., normalize_embeddings=True)` would give them.
//!
//! [`LocalModelEmbedder::open`] checks the directory and reads only its small files, so a
//! command that never embeds (logging a step) does not pay for the model; the tokenizer
//! and weights are loaded on the first [`embed`](Embedder::embed) (or by
//! [`LocalModelEmbedder::preload`]). [`LocalModelEmbedder::load`] does both at once.
//!
//! **Cost and where it runs.** A forward pass costs milliseconds per text, so this embedder
//! reports [`is_local`](Embedder::is_local) `false`: memory-core then caches its vectors by
//! content hash (as for a remote embedder) and never embeds on the write path. Episodes are
//! embedded in batches by retrievals (a few pending ones each) and by `embed_pending` /
//! `reembed`; a retrieval embeds its query. Each call runs on Tokio's blocking pool, its
//! texts sorted by length and cut into batches so little time goes into padding. The matrix
//! products use as many threads as rayon does (`RAYON_NUM_THREADS`, else every core).
//!
//! **Identity.** The [`id`](Embedder::id) is `local:{fingerprint}:{dimension}`, where the
//! fingerprint hashes the tokenizer, the safetensors header, samples of the weights and the
//! pooling settings: the same model in another directory shares stored vectors, a different
//! model never does.
//!
//! # Example
//!
//! ```no_run
//! use memory_core::embedding::Embedder;
//! use memory_embed_local::LocalModelEmbedder;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let embedder = LocalModelEmbedder::open("models/all-MiniLM-L6-v2")?;
//! assert_eq!(embedder.dimension(), 384);
//! let vectors = embedder.embed(&["fix the flaky integration test".to_owned()]).await?;
//! assert_eq!(vectors[0].len(), 384);
//! # Ok(()) }
//! ```

mod error;
mod model;
mod model_dir;

pub use error::LoadError;
pub use model_dir::{Pooling, WEIGHTS_FILE};

use async_trait::async_trait;
use memory_core::embedding::{EmbedError, Embedder};
use model::LoadedModel;
use model_dir::ModelDir;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Texts per forward pass unless [`LocalModelEmbedder::with_batch_size`] says otherwise.
pub const DEFAULT_BATCH_SIZE: usize = 32;

/// A sentence-embedding model from a local directory, run in-process on the CPU.
///
/// Cheap to clone (clones share the loaded model).
#[derive(Clone)]
pub struct LocalModelEmbedder {
    inner: Arc<Inner>,
    batch_size: usize,
}

/// What clones share: the directory, the id and the model once loaded.
struct Inner {
    dir: ModelDir,
    id: String,
    /// The tokenizer and weights, once loaded.
    model: Mutex<Option<Arc<LoadedModel>>>,
}

impl LocalModelEmbedder {
    /// The model in `dir`, after checking that its files are there and its configuration is
    /// one this crate runs; the weights are loaded on first use.
    ///
    /// # Errors
    ///
    /// A [`LoadError`] naming the missing, unreadable, malformed or unsupported file.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, LoadError> {
        let dir = ModelDir::open(dir.as_ref())?;
        let id = format!("local:{}:{}", dir.fingerprint, dir.config.hidden_size);
        Ok(LocalModelEmbedder {
            inner: Arc::new(Inner {
                dir,
                id,
                model: Mutex::new(None),
            }),
            batch_size: DEFAULT_BATCH_SIZE,
        })
    }

    /// The model in `dir`, loaded now: [`open`](Self::open) then [`preload`](Self::preload).
    ///
    /// # Errors
    ///
    /// A [`LoadError`] naming the file at fault.
    pub fn load(dir: impl AsRef<Path>) -> Result<Self, LoadError> {
        let embedder = Self::open(dir)?;
        embedder.preload()?;
        Ok(embedder)
    }

    /// This embedder with `batch_size` texts per forward pass (at least 1). Larger batches
    /// amortise more per-pass overhead but pad more; 16 to 64 suit a CPU.
    #[must_use]
    pub fn with_batch_size(self, batch_size: usize) -> Self {
        LocalModelEmbedder {
            batch_size: batch_size.max(1),
            ..self
        }
    }

    /// Loads the tokenizer and the weights if they are not loaded yet (blocking: this reads
    /// the whole weights file).
    ///
    /// # Errors
    ///
    /// A [`LoadError`] naming the file that could not be loaded.
    pub fn preload(&self) -> Result<(), LoadError> {
        self.inner.model().map(|_| ())
    }

    /// The model directory.
    pub fn model_dir(&self) -> &Path {
        &self.inner.dir.dir
    }

    /// The pooling the model's pipeline uses.
    pub fn pooling(&self) -> Pooling {
        self.inner.dir.pooling
    }

    /// The longest input in tokens; longer texts are truncated (their start is kept).
    pub fn max_seq_length(&self) -> usize {
        self.inner.dir.max_seq_length
    }

    /// Texts per forward pass.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Embeds `texts` on the calling thread (blocking): one L2-normalised vector per text.
    ///
    /// # Errors
    ///
    /// [`EmbedError::Invalid`] if the model cannot be loaded or a forward pass fails.
    pub fn embed_blocking(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.inner.embed_blocking(texts, self.batch_size)
    }
}

impl Inner {
    /// The loaded model, if it is loaded.
    fn loaded(&self) -> Option<Arc<LoadedModel>> {
        self.model
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The loaded model, loading it first if needed (once, however many callers wait).
    fn model(&self) -> Result<Arc<LoadedModel>, LoadError> {
        let mut slot = self
            .model
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(model) = slot.as_ref() {
            return Ok(Arc::clone(model));
        }
        let started = Instant::now();
        let model = Arc::new(LoadedModel::load(&self.dir)?);
        tracing::info!(
            dir = %self.dir.dir.display(),
            id = %self.id,
            ms = started.elapsed().as_millis() as u64,
            "loaded the local embedding model"
        );
        *slot = Some(Arc::clone(&model));
        Ok(model)
    }

    fn invalid(&self, detail: String) -> EmbedError {
        EmbedError::Invalid {
            embedder: self.id.clone(),
            detail,
        }
    }

    fn embed_blocking(
        &self,
        texts: &[String],
        batch_size: usize,
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let model = self.model().map_err(|e| self.invalid(e.to_string()))?;
        let encodings = model.tokenize(texts).map_err(|e| self.invalid(e))?;
        // Similar lengths together, so each batch pads little.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| encodings[i].len());
        let mut vectors: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
        for chunk in order.chunks(batch_size) {
            let batch: Vec<_> = chunk.iter().map(|&i| &encodings[i]).collect();
            let out = model
                .forward(&batch)
                .map_err(|e| self.invalid(format!("the forward pass failed: {e}")))?;
            for (&i, v) in chunk.iter().zip(out) {
                vectors[i] = v;
            }
        }
        let dimension = self.dir.config.hidden_size;
        if let Some(v) = vectors.iter().find(|v| v.len() != dimension) {
            return Err(EmbedError::WrongDimension {
                embedder: self.id.clone(),
                expected: dimension,
                got: v.len(),
            });
        }
        Ok(vectors)
    }
}

#[async_trait]
impl Embedder for LocalModelEmbedder {
    fn id(&self) -> &str {
        &self.inner.id
    }

    fn dimension(&self) -> usize {
        self.inner.dir.config.hidden_size
    }

    /// `false`: the model runs in-process, but at milliseconds per text it is not cheap
    /// enough for the write path, and its vectors are worth caching by content hash.
    fn is_local(&self) -> bool {
        false
    }

    /// What fits in the model's token window (less the two special tokens), at three
    /// characters per token: a cautious figure for the word pieces of tool output and code
    /// (English prose averages about four), so a chunk of an episode's steps is rarely cut.
    fn window_chars(&self) -> usize {
        self.max_seq_length().saturating_sub(2).max(16) * 3
    }

    /// Embeds `texts` on Tokio's blocking pool (loading the model first if needed).
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let (inner, batch_size) = (Arc::clone(&self.inner), self.batch_size);
        let texts = texts.to_vec();
        tokio::task::spawn_blocking(move || inner.embed_blocking(&texts, batch_size))
            .await
            .map_err(|e| EmbedError::Invalid {
                embedder: self.inner.id.clone(),
                detail: format!("the embedding task failed: {e}"),
            })?
    }
}

impl std::fmt::Debug for LocalModelEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalModelEmbedder")
            .field("id", &self.inner.id)
            .field("dir", &self.inner.dir.dir)
            .field("pooling", &self.inner.dir.pooling)
            .field("max_seq_length", &self.inner.dir.max_seq_length)
            .field("batch_size", &self.batch_size)
            .field("loaded", &self.inner.loaded().is_some())
            .finish()
    }
}
