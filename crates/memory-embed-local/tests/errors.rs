//! A model directory that is missing, incomplete, malformed or unsupported fails with an
//! error naming the file at fault; a model whose vectors do not fit an existing store is
//! refused before anything is written. None of these tests needs the real model: they build
//! small fake model directories.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use memory_core::MemoryError;
use memory_core::embedding::{EmbedError, Embedder, Vectors};
use memory_core::storage::prelude::*;
use memory_embed_local::{LoadError, LocalModelEmbedder};
use memory_storage_turso::TursoStorage;
use serde_json::json;
use std::path::Path;
use std::sync::Arc;

const HIDDEN: usize = 384;

fn bert_config() -> serde_json::Value {
    json!({
        "architectures": ["BertModel"],
        "attention_probs_dropout_prob": 0.1,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": HIDDEN,
        "initializer_range": 0.02,
        "intermediate_size": 1536,
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": 512,
        "model_type": "bert",
        "num_attention_heads": 12,
        "num_hidden_layers": 6,
        "pad_token_id": 0,
        "type_vocab_size": 2,
        "vocab_size": 30522
    })
}

/// A safetensors file holding one `rows × width` F32 tensor named `name` (zeros).
fn safetensors(name: &str, rows: usize, width: usize) -> Vec<u8> {
    let bytes = rows * width * 4;
    let header =
        json!({ name: { "dtype": "F32", "shape": [rows, width], "data_offsets": [0, bytes] } })
            .to_string();
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.resize(out.len() + bytes, 0);
    out
}

/// A directory that passes every check `open` makes (its weights hold only the word
/// embeddings, and its tokenizer is not a tokenizer: both fail only when loaded).
fn fake_model(dir: &Path) {
    std::fs::write(dir.join("config.json"), bert_config().to_string()).unwrap();
    std::fs::write(dir.join("tokenizer.json"), "{}").unwrap();
    std::fs::write(
        dir.join("model.safetensors"),
        safetensors("embeddings.word_embeddings.weight", 4, HIDDEN),
    )
    .unwrap();
}

fn open_err(dir: &Path) -> LoadError {
    match LocalModelEmbedder::open(dir) {
        Err(e) => e,
        Ok(e) => panic!("expected an error, opened {e:?}"),
    }
}

#[test]
fn a_missing_directory_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no-such-model");
    let err = open_err(&missing);
    assert!(matches!(err, LoadError::NotADirectory { .. }), "{err:?}");
    assert!(err.to_string().contains("no-such-model"), "{err}");
}

#[test]
fn each_missing_file_is_named() {
    for file in ["config.json", "tokenizer.json", "model.safetensors"] {
        let tmp = tempfile::tempdir().unwrap();
        fake_model(tmp.path());
        std::fs::remove_file(tmp.path().join(file)).unwrap();
        let err = open_err(tmp.path());
        match &err {
            LoadError::MissingFile { path } => assert!(path.ends_with(file), "{path:?}"),
            other => panic!("{file}: expected MissingFile, got {other:?}"),
        }
        let message = err.to_string();
        assert!(message.contains(file), "{message}");
        assert!(message.contains("model.safetensors"), "{message}");
    }
}

#[test]
fn a_malformed_config_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    fake_model(tmp.path());
    std::fs::write(tmp.path().join("config.json"), "{ not json").unwrap();
    let err = open_err(tmp.path());
    assert!(matches!(&err, LoadError::Malformed { path, .. } if path.ends_with("config.json")));

    let mut config = bert_config();
    config.as_object_mut().unwrap().remove("hidden_size");
    std::fs::write(tmp.path().join("config.json"), config.to_string()).unwrap();
    let err = open_err(tmp.path());
    assert!(err.to_string().contains("config.json"), "{err}");
    assert!(err.to_string().contains("hidden_size"), "{err}");

    let mut config = bert_config();
    config["model_type"] = json!("xlm-roberta");
    std::fs::write(tmp.path().join("config.json"), config.to_string()).unwrap();
    let err = open_err(tmp.path());
    assert!(matches!(err, LoadError::Unsupported { .. }), "{err:?}");
    assert!(err.to_string().contains("xlm-roberta"), "{err}");
}

#[test]
fn malformed_weights_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    fake_model(tmp.path());
    let weights = tmp.path().join("model.safetensors");
    for (content, why) in [
        (b"abc".to_vec(), "shorter than a header"),
        (u64::MAX.to_le_bytes().to_vec(), "absurd header length"),
        (
            [5u64.to_le_bytes().as_slice(), b"nope!"].concat(),
            "header not JSON",
        ),
        (
            safetensors("encoder.layer.0.weight", 2, HIDDEN),
            "no word embeddings",
        ),
        (
            safetensors("embeddings.word_embeddings.weight", 2, 768),
            "wrong width",
        ),
    ] {
        std::fs::write(&weights, content).unwrap();
        let err = open_err(tmp.path());
        assert!(
            matches!(&err, LoadError::Malformed { path, .. } if path.ends_with("model.safetensors")),
            "{why}: {err:?}"
        );
    }
}

#[test]
fn unsupported_pipelines_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    fake_model(tmp.path());
    let modules = json!([
        { "idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer" },
        { "idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling" },
        { "idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense" }
    ]);
    std::fs::write(tmp.path().join("modules.json"), modules.to_string()).unwrap();
    let err = open_err(tmp.path());
    assert!(matches!(err, LoadError::Unsupported { .. }), "{err:?}");
    assert!(err.to_string().contains("Dense"), "{err}");

    let modules = json!([
        { "idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer" },
        { "idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling" }
    ]);
    std::fs::write(tmp.path().join("modules.json"), modules.to_string()).unwrap();
    std::fs::create_dir(tmp.path().join("1_Pooling")).unwrap();
    let pooling = tmp.path().join("1_Pooling/config.json");
    std::fs::write(
        &pooling,
        json!({ "word_embedding_dimension": HIDDEN, "pooling_mode_max_tokens": true }).to_string(),
    )
    .unwrap();
    let err = open_err(tmp.path());
    assert!(matches!(err, LoadError::Unsupported { .. }), "{err:?}");

    std::fs::write(
        &pooling,
        json!({ "word_embedding_dimension": 768, "pooling_mode_mean_tokens": true }).to_string(),
    )
    .unwrap();
    let err = open_err(tmp.path());
    assert!(err.to_string().contains("768"), "{err}");

    std::fs::write(
        &pooling,
        json!({ "word_embedding_dimension": HIDDEN, "pooling_mode_cls_token": true }).to_string(),
    )
    .unwrap();
    let e = LocalModelEmbedder::open(tmp.path()).unwrap();
    assert_eq!(e.pooling(), memory_embed_local::Pooling::Cls);
}

#[tokio::test]
async fn files_that_fail_only_when_loaded_are_named_then() {
    let tmp = tempfile::tempdir().unwrap();
    fake_model(tmp.path());
    // `open` reads only the small files: it succeeds, and knows the id and dimension.
    let embedder = LocalModelEmbedder::open(tmp.path()).unwrap();
    assert_eq!(embedder.dimension(), HIDDEN);
    assert!(embedder.id().starts_with("local:"), "{}", embedder.id());
    assert!(embedder.id().ends_with(":384"), "{}", embedder.id());
    // The tokenizer is not one.
    let err = embedder.preload().unwrap_err();
    assert!(
        matches!(&err, LoadError::Malformed { path, .. } if path.ends_with("tokenizer.json")),
        "{err:?}"
    );
    match embedder.embed(&["hello".to_owned()]).await {
        Err(EmbedError::Invalid { detail, .. }) => {
            assert!(detail.contains("tokenizer.json"), "{detail}")
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    // Nothing to embed needs no model.
    assert!(embedder.embed(&[]).await.unwrap().is_empty());

    // With the real tokenizer, the weights lacking the encoder are named.
    if let Some(real) = common::model_dir("files_that_fail_only_when_loaded_are_named_then") {
        std::fs::copy(
            real.join("tokenizer.json"),
            tmp.path().join("tokenizer.json"),
        )
        .unwrap();
        let err = LocalModelEmbedder::load(tmp.path()).unwrap_err();
        assert!(
            matches!(&err, LoadError::Malformed { path, .. } if path.ends_with("model.safetensors")),
            "{err:?}"
        );
    }
}

#[test]
fn the_id_names_the_weights_not_the_path() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    fake_model(a.path());
    fake_model(b.path());
    let id = |dir: &Path| LocalModelEmbedder::open(dir).unwrap().id().to_owned();
    assert_eq!(id(a.path()), id(b.path()));
    let mut weights = safetensors("embeddings.word_embeddings.weight", 4, HIDDEN);
    let last = weights.len() - 1;
    weights[last] = 1;
    std::fs::write(b.path().join("model.safetensors"), weights).unwrap();
    assert_ne!(id(a.path()), id(b.path()));
}

#[tokio::test]
async fn a_store_with_vectors_of_another_dimension_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let storage = TursoStorage::open(tmp.path().join("memory.db"))
        .await
        .unwrap();
    storage
        .ensure_vector_space("hash-v1-256", 256)
        .await
        .unwrap();
    let model = tmp.path().join("model");
    std::fs::create_dir(&model).unwrap();
    fake_model(&model);
    let embedder = Arc::new(LocalModelEmbedder::open(&model).unwrap());
    let vectors = Vectors::new(embedder.clone());
    match vectors.ensure_space(&storage).await {
        Err(MemoryError::Conflict(msg)) => {
            assert!(msg.contains("256") && msg.contains("384"), "{msg}");
            assert!(msg.contains("memory reembed"), "{msg}");
            assert!(msg.contains(embedder.id()), "{msg}");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    // The store still belongs to the embedder that wrote it.
    assert_eq!(
        storage.vector_space().await.unwrap(),
        Some(("hash-v1-256".to_owned(), 256))
    );
}
