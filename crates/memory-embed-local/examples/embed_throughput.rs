//! Embedding speed of the local model on realistic text: throughput over the episode texts
//! of the retrieval evaluation's corpus (texts/s, in batches) and the latency of embedding
//! one held-out query at a time (p50/p95), as `retrieve` does.
//!
//! ```text
//! RAYON_NUM_THREADS=1 cargo run --release -p memory-embed-local --example embed_throughput -- DIR
//! RAYON_NUM_THREADS=2 cargo run --release -p memory-embed-local --example embed_throughput -- DIR
//! ```
//!
//! Options after DIR: `--texts N` (default 2000), `--queries N` (200), `--batch N` (32),
//! `--runs N` (3; the throughput reported is the median run).

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use chrono::{TimeZone, Utc};
use memory_bench::retrieval_eval::{CorpusGen, queries};
use memory_core::embedding::episode_text;
use memory_embed_local::LocalModelEmbedder;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .expect("usage: embed_throughput DIR [--texts N] [--queries N] [--batch N] [--runs N]");
    let (mut texts, mut queries_n, mut batch, mut runs) = (2000usize, 200usize, 32usize, 3usize);
    while let Some(flag) = args.next() {
        let value: usize = args.next().and_then(|v| v.parse().ok()).expect("a number");
        match flag.as_str() {
            "--texts" => texts = value,
            "--queries" => queries_n = value,
            "--batch" => batch = value,
            "--runs" => runs = value.max(1),
            other => panic!("unknown option {other}"),
        }
    }

    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let mut corpus = CorpusGen::new(42, now);
    let corpus: Vec<String> = (0..texts)
        .map(|_| episode_text(&corpus.next_episode("bench").episode))
        .collect();
    let held_out: Vec<String> = queries(42, queries_n)
        .into_iter()
        .map(|q| q.query.text)
        .collect();

    let t = Instant::now();
    let embedder = LocalModelEmbedder::load(&dir)
        .expect("the model loads")
        .with_batch_size(batch);
    let load_ms = t.elapsed().as_secs_f64() * 1e3;
    let threads = candle_core::utils::get_num_threads();
    let mean_chars = corpus.iter().map(|t| t.len()).sum::<usize>() as f64 / texts.max(1) as f64;
    println!(
        "model {} loaded in {load_ms:.0} ms; {threads} thread(s); batch {batch}; {texts} texts \
         of {mean_chars:.0} chars on average",
        embedder.model_dir().display()
    );

    // Warm-up: page in the weights, size the allocator.
    embedder
        .embed_blocking(&corpus[..corpus.len().min(64)])
        .unwrap();

    let mut rates = Vec::new();
    for run in 1..=runs {
        let t = Instant::now();
        let vectors = embedder.embed_blocking(&corpus).unwrap();
        let s = t.elapsed().as_secs_f64();
        assert_eq!(vectors.len(), corpus.len());
        let rate = corpus.len() as f64 / s;
        println!(
            "run {run}: {} texts in {s:.2} s = {rate:.1} texts/s",
            corpus.len()
        );
        rates.push(rate);
    }
    rates.sort_by(f64::total_cmp);
    println!("throughput median: {:.1} texts/s", rates[rates.len() / 2]);

    for q in held_out.iter().take(10) {
        embedder.embed_blocking(std::slice::from_ref(q)).unwrap();
    }
    let mut ms: Vec<f64> = held_out
        .iter()
        .map(|q| {
            let t = Instant::now();
            embedder.embed_blocking(std::slice::from_ref(q)).unwrap();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    let at = |p: f64| ms[((ms.len() - 1) as f64 * p).round() as usize];
    println!(
        "query embedding over {} queries: p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms",
        ms.len(),
        at(0.5),
        at(0.95),
        at(1.0)
    );
}
