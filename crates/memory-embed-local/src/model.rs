//! The loaded model: tokenizer and BERT weights in memory, and the forward pass that turns a
//! batch of texts into pooled, L2-normalised sentence vectors.

use crate::error::LoadError;
use crate::model_dir::{ModelDir, Pooling, TOKENIZER_FILE, WEIGHTS_FILE, read};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::BertModel;
use memory_core::embedding::normalize;
use tokenizers::{Encoding, Tokenizer, TruncationParams, TruncationStrategy};

/// A model ready to run on the CPU.
pub struct LoadedModel {
    tokenizer: Tokenizer,
    bert: BertModel,
    pooling: Pooling,
    lowercase: bool,
    hidden_size: usize,
    device: Device,
}

impl LoadedModel {
    /// Reads the tokenizer and the weights of `dir` (about 90 MB for all-MiniLM-L6-v2).
    pub fn load(dir: &ModelDir) -> Result<LoadedModel, LoadError> {
        let tokenizer_path = dir.file(TOKENIZER_FILE);
        let mut tokenizer =
            Tokenizer::from_bytes(read(&tokenizer_path)?).map_err(|e| LoadError::Malformed {
                path: tokenizer_path.clone(),
                detail: e.to_string(),
            })?;
        // Padding is done per batch below; truncation follows the sentence-transformers
        // limit, not the one saved in tokenizer.json (which is often shorter).
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: dir.max_seq_length,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                ..TruncationParams::default()
            }))
            .map_err(|e| LoadError::Malformed {
                path: tokenizer_path.clone(),
                detail: e.to_string(),
            })?;
        let vocab = tokenizer.get_vocab_size(true);
        if vocab > dir.config.vocab_size {
            return Err(LoadError::Malformed {
                path: tokenizer_path,
                detail: format!(
                    "its vocabulary has {vocab} tokens but the model only {}",
                    dir.config.vocab_size
                ),
            });
        }

        let weights_path = dir.file(WEIGHTS_FILE);
        let device = Device::Cpu;
        let weights = read(&weights_path)?;
        let malformed = |e: candle_core::Error| LoadError::Malformed {
            path: weights_path.clone(),
            detail: e.to_string(),
        };
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &device)
            .map_err(malformed)?;
        let bert = BertModel::load(vb, &dir.config).map_err(malformed)?;
        Ok(LoadedModel {
            tokenizer,
            bert,
            pooling: dir.pooling,
            lowercase: dir.lowercase,
            hidden_size: dir.config.hidden_size,
            device,
        })
    }

    /// Tokenizes `texts` (truncated to the model's limit), one encoding per text.
    pub fn tokenize(&self, texts: &[String]) -> Result<Vec<Encoding>, String> {
        let inputs: Vec<String> = if self.lowercase {
            texts.iter().map(|t| t.to_lowercase()).collect()
        } else {
            texts.to_vec()
        };
        self.tokenizer
            .encode_batch(inputs, true)
            .map_err(|e| format!("tokenizing failed: {e}"))
    }

    /// One L2-normalised vector per encoding, computed in one forward pass over the batch
    /// padded to its longest member.
    pub fn forward(&self, batch: &[&Encoding]) -> candle_core::Result<Vec<Vec<f32>>> {
        let n = batch.len();
        if n == 0 {
            return Ok(Vec::new());
        }
        let len = batch.iter().map(|e| e.len()).max().unwrap_or(0).max(1);
        let mut ids = vec![0u32; n * len];
        let mut types = vec![0u32; n * len];
        let mut mask = vec![0u32; n * len];
        for (row, enc) in batch.iter().enumerate() {
            let at = row * len;
            let k = enc.len();
            ids[at..at + k].copy_from_slice(enc.get_ids());
            types[at..at + k].copy_from_slice(enc.get_type_ids());
            mask[at..at + k].copy_from_slice(enc.get_attention_mask());
        }
        let ids = Tensor::from_vec(ids, (n, len), &self.device)?;
        let types = Tensor::from_vec(types, (n, len), &self.device)?;
        let mask = Tensor::from_vec(mask, (n, len), &self.device)?;
        let hidden = self.bert.forward(&ids, &types, Some(&mask))?;
        let pooled = pool(&hidden, &mask, self.pooling)?;
        let mut vectors = pooled.to_vec2::<f32>()?;
        for v in &mut vectors {
            if v.len() != self.hidden_size {
                candle_core::bail!(
                    "the model produced {} values per text; expected {}",
                    v.len(),
                    self.hidden_size
                );
            }
            normalize(v);
        }
        Ok(vectors)
    }
}

/// Pools `hidden` (batch × tokens × hidden) into one vector per row: the mean over the
/// tokens that `mask` (batch × tokens, 1 for a real token) keeps, or the first token.
pub fn pool(hidden: &Tensor, mask: &Tensor, pooling: Pooling) -> candle_core::Result<Tensor> {
    match pooling {
        Pooling::Cls => hidden.narrow(1, 0, 1)?.squeeze(1),
        Pooling::Mean => {
            let mask = mask.to_dtype(hidden.dtype())?.unsqueeze(2)?;
            let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
            // As sentence-transformers: the count is clamped so an empty row gives zeros.
            let counts = mask.sum(1)?.clamp(1e-9f32, f32::MAX)?;
            summed.broadcast_div(&counts)
        }
    }
}

impl std::fmt::Debug for LoadedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedModel")
            .field("pooling", &self.pooling)
            .field("hidden_size", &self.hidden_size)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn mean_pooling_ignores_padding_and_cls_takes_the_first_token() {
        let dev = Device::Cpu;
        // Two rows of three tokens, two dimensions; the second row has one padding token.
        let hidden = Tensor::from_vec(
            vec![
                1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0, 10.0, 20.0, 30.0, 40.0, 99.0, 99.0,
            ],
            (2, 3, 2),
            &dev,
        )
        .unwrap();
        let mask = Tensor::from_vec(vec![1u32, 1, 1, 1, 1, 0], (2, 3), &dev).unwrap();
        let mean = pool(&hidden, &mask, Pooling::Mean).unwrap();
        assert_eq!(
            mean.to_vec2::<f32>().unwrap(),
            vec![vec![3.0, 4.0], vec![20.0, 30.0]]
        );
        let cls = pool(&hidden, &mask, Pooling::Cls).unwrap();
        assert_eq!(
            cls.to_vec2::<f32>().unwrap(),
            vec![vec![1.0, 2.0], vec![10.0, 20.0]]
        );
    }

    #[test]
    fn mean_pooling_of_an_empty_row_is_zero() {
        let dev = Device::Cpu;
        let hidden = Tensor::from_vec(vec![5.0f32, 7.0], (1, 1, 2), &dev).unwrap();
        let mask = Tensor::from_vec(vec![0u32], (1, 1), &dev).unwrap();
        let mean = pool(&hidden, &mask, Pooling::Mean).unwrap();
        assert_eq!(mean.to_vec2::<f32>().unwrap(), vec![vec![0.0, 0.0]]);
    }
}
