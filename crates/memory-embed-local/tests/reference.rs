//! The Rust embeddings agree with the reference implementation (sentence-transformers on
//! PyTorch) for the same model: cosine similarity ≥ 0.999 on every reference sentence.
//! The reference vectors come from `scripts/reference_embeddings.py`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use memory_core::embedding::{Embedder, cosine};
use memory_embed_local::LocalModelEmbedder;
use serde::Deserialize;

#[derive(Deserialize)]
struct Reference {
    sentences: Vec<Sentence>,
}

#[derive(Deserialize)]
struct Sentence {
    text: String,
    vector: Vec<f32>,
}

fn reference() -> Reference {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/reference_embeddings.json"
    );
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embeddings_match_the_reference_implementation() {
    let Some(dir) = common::model_dir("embeddings_match_the_reference_implementation") else {
        return;
    };
    let reference = reference();
    assert!(reference.sentences.len() >= 10);
    // A small batch size, so the sentences are spread over several padded batches.
    let embedder = LocalModelEmbedder::load(&dir).unwrap().with_batch_size(4);
    assert_eq!(embedder.dimension(), 384);
    let texts: Vec<String> = reference.sentences.iter().map(|s| s.text.clone()).collect();
    let vectors = embedder.embed(&texts).await.unwrap();
    assert_eq!(vectors.len(), texts.len());
    for (s, v) in reference.sentences.iter().zip(&vectors) {
        assert_eq!(v.len(), s.vector.len());
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{:?}: norm {norm}", s.text);
        let c = cosine(v, &s.vector);
        assert!(c >= 0.999, "{:?}: cosine {c} with the reference", s.text);
    }
    // One at a time (no padding at all) gives the same vectors as in a batch.
    for (text, batched) in texts.iter().zip(&vectors).take(4) {
        let alone = embedder.embed(std::slice::from_ref(text)).await.unwrap();
        assert!(cosine(&alone[0], batched) > 0.9999, "{text:?}");
    }
}
