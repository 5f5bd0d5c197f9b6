//! The model matches meaning, not words: for paraphrased task descriptions that share no
//! content words, it ranks the paraphrase above unrelated tasks, including distractors that
//! share the query's words, where the hashing embedder does not.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use memory_core::HashingEmbedder;
use memory_core::embedding::{Embedder, cosine};
use memory_embed_local::LocalModelEmbedder;

/// (query, its paraphrase in other words, a distractor from another walk of life that shares
/// the query's words).
const CASES: [(&str, &str, &str); 6] = [
    (
        "the login page crashes when the password field is empty",
        "authentication form throws an exception on blank credentials",
        "the invoice page is printed when the billing field is filled",
    ),
    (
        "speed up the slow database query on the orders table",
        "optimize the sluggish SQL lookup for purchases",
        "write up the notes on the kitchen table for the slow cooker",
    ),
    (
        "unit tests fail intermittently on the build server",
        "automated checks randomly break during continuous integration runs",
        "the server at the restaurant failed to bring the unit of wine",
    ),
    (
        "container keeps restarting after deployment",
        "pod stuck in crash loop once rolled out",
        "the water container keeps leaking after the hike",
    ),
    (
        "memory usage grows until the process is killed",
        "leak makes the service run out of RAM and get OOM-terminated",
        "the usage of the garden grows until the weeds are killed",
    ),
    (
        "translate the user interface into Spanish",
        "localize the app screens for Spanish speakers",
        "the user manual interface for the Spanish guitar course",
    ),
];

/// For each case, whether `embedder` puts the paraphrase first among the paraphrase, the
/// distractor and every other case's texts.
async fn ranks_paraphrase_first(embedder: &dyn Embedder) -> Vec<bool> {
    let mut texts = Vec::new();
    for (q, p, d) in CASES {
        texts.extend([q.to_owned(), p.to_owned(), d.to_owned()]);
    }
    let v = embedder.embed(&texts).await.unwrap();
    (0..CASES.len())
        .map(|i| {
            let query = &v[3 * i];
            let paraphrase = cosine(query, &v[3 * i + 1]);
            let best_other = (0..texts.len())
                .filter(|&j| j != 3 * i && j != 3 * i + 1)
                .map(|j| cosine(query, &v[j]))
                .fold(f32::MIN, f32::max);
            paraphrase > best_other
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_ranks_paraphrases_above_unrelated_tasks_and_hashing_does_not() {
    let Some(dir) = common::model_dir("the_model_ranks_paraphrases_above_unrelated_tasks") else {
        return;
    };
    let model = LocalModelEmbedder::open(&dir).unwrap();
    let hashing = HashingEmbedder::default();
    let by_model = ranks_paraphrase_first(&model).await;
    let by_hashing = ranks_paraphrase_first(&hashing).await;
    for (i, ok) in by_model.iter().enumerate() {
        assert!(
            ok,
            "the model did not rank the paraphrase first for {:?}",
            CASES[i].0
        );
    }
    let hashing_right = by_hashing.iter().filter(|ok| **ok).count();
    assert!(
        hashing_right * 2 <= CASES.len(),
        "the cases do not discriminate: hashing ranks {hashing_right} of {} paraphrases first",
        CASES.len()
    );
}
