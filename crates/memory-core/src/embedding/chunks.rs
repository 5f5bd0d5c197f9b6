//! The texts an episode's vectors stand for, so that vector search sees the whole episode.
//!
//! An episode gets several vectors: the first (chunk 0) stands for what the task was and how
//! it ended ([`super::episode_text`]); the others for its steps — each step's action and
//! result, in order, packed into chunks of at most the embedder's window
//! ([`super::Embedder::window_chars`]). A step longer than the window is cut (at a word
//! boundary when there is one) into pieces of the window's length, so a long tool output is
//! covered to its end instead of being truncated by the model. A search matches an episode
//! by its best chunk, so one relevant step is enough to find it.
//!
//! Tool names and parameters are left out, as context is from chunk 0: they are shared by
//! many unrelated episodes and matched by full-text search already. The reflection's lessons
//! are left out too: they are generated from the steps and the outcome (both embedded) in a
//! fixed wording that would make unrelated episodes look alike.
//!
//! An episode has at most [`MAX_CHUNKS`] vectors: the cost of a vector search and of an
//! insert into the index grows with their number. When the steps need more, neighbouring
//! chunks are merged (two windows' worth in one chunk, then more), so every step still
//! counts; an embedder with a short window then reads only the start of each merged chunk.

use super::episode_text;
use crate::model::{Episode, ExecutionStep, StepResult};

/// The most vectors one episode has (chunk 0 and its step chunks).
pub const MAX_CHUNKS: usize = 32;

/// The window of an embedder that does not say otherwise, in characters (about 250 tokens
/// of English).
pub const DEFAULT_WINDOW_CHARS: usize = 1_000;

/// The texts of `episode`'s vectors, in chunk order: chunk 0 is the task and outcome, the
/// rest its steps packed into chunks of at most `window_chars` characters (see the module
/// docs). Never empty.
pub fn episode_chunks(episode: &Episode, window_chars: usize) -> Vec<String> {
    let window = window_chars.max(16);
    let mut pieces = Vec::new();
    for step in &episode.steps {
        cut(&step_text(step), window, &mut pieces);
    }
    let mut chunks = pack(pieces, window);
    while chunks.len() > MAX_CHUNKS - 1 {
        chunks = chunks
            .chunks(2)
            .map(|pair| pair.join("\n"))
            .collect::<Vec<_>>();
    }
    let mut out = Vec::with_capacity(chunks.len() + 1);
    out.push(episode_text(episode));
    out.extend(chunks);
    out
}

/// A step's text for its vector: what the agent meant to do and what came back.
fn step_text(step: &ExecutionStep) -> String {
    let result = match &step.result {
        StepResult::Success { output } => output.as_str(),
        StepResult::Error { message } => message.as_str(),
        StepResult::Timeout => "timed out",
    };
    match (step.action.trim(), result.trim()) {
        ("", r) => r.to_string(),
        (a, "") => a.to_string(),
        (a, r) => format!("{a}\n{r}"),
    }
}

/// Appends `text` to `out` in pieces of at most `window` characters, cut after the last
/// whitespace of a piece when it has one in its second half.
fn cut(text: &str, window: usize, out: &mut Vec<String>) {
    let mut rest = text.trim();
    while !rest.is_empty() {
        let Some((limit, _)) = rest.char_indices().nth(window) else {
            out.push(rest.to_string());
            return;
        };
        let head = &rest[..limit];
        let end = head
            .rfind(char::is_whitespace)
            .filter(|&i| head[..i].chars().count() >= window / 2)
            .unwrap_or(limit);
        out.push(rest[..end].trim_end().to_string());
        rest = rest[end..].trim_start();
    }
}

/// Joins consecutive pieces into chunks of at most `window` characters.
fn pack(pieces: Vec<String>, window: usize) -> Vec<String> {
    let mut chunks: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut current_chars = 0;
    for piece in pieces {
        let chars = piece.chars().count();
        if !current.is_empty() && current_chars + 1 + chars > window {
            chunks.push(std::mem::take(&mut current));
            current_chars = 0;
        }
        if !current.is_empty() {
            current.push('\n');
            current_chars += 1;
        }
        current.push_str(&piece);
        current_chars += chars;
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{StepInput, TaskContext, TaskOutcome, TaskType};
    use chrono::Utc;
    use proptest::prelude::*;

    fn episode(steps: &[(&str, &str)]) -> Episode {
        Episode {
            id: uuid::Uuid::now_v7(),
            namespace: "ns".into(),
            task_description: "fix the flaky login test".into(),
            task_type: TaskType::Debugging,
            context: TaskContext::default(),
            started_at: Utc::now(),
            ended_at: Some(Utc::now()),
            steps: steps
                .iter()
                .enumerate()
                .map(|(i, (action, output))| {
                    let result = StepResult::Success {
                        output: (*output).to_string(),
                    };
                    StepInput::new("bash", *action, result).into_step(i as u32 + 1, Utc::now())
                })
                .collect(),
            outcome: Some(TaskOutcome::Success {
                verdict: "the test is stable".into(),
                artifacts: vec![],
            }),
            reward: None,
            reflection: None,
            pattern_ids: vec![],
            tags: vec![],
            metadata: Default::default(),
            retrieval_session: None,
        }
    }

    #[test]
    fn chunk_zero_is_the_task_and_outcome_and_short_steps_share_a_chunk() {
        let e = episode(&[
            ("run the tests", "3 passed"),
            ("read the log", "timeout in auth"),
        ]);
        let chunks = episode_chunks(&e, 1_000);
        assert_eq!(chunks[0], episode_text(&e));
        assert_eq!(
            chunks[1..],
            ["run the tests\n3 passed\nread the log\ntimeout in auth".to_string()]
        );
    }

    #[test]
    fn an_episode_without_steps_has_one_chunk() {
        let e = episode(&[]);
        assert_eq!(episode_chunks(&e, 1_000), vec![episode_text(&e)]);
    }

    #[test]
    fn a_long_output_is_cut_at_words_and_covered_to_its_end() {
        let output = (0..300)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        let e = episode(&[("dump", &output)]);
        let chunks = episode_chunks(&e, 100);
        assert!(chunks.len() > 3);
        for c in &chunks[1..] {
            assert!(c.chars().count() <= 100, "{c}");
            assert!(!c.starts_with(' ') && !c.ends_with(' '));
        }
        assert!(chunks.last().is_some_and(|c| c.ends_with("w299")));
        // No word is split: every piece's words are whole words of the output.
        for c in &chunks[1..] {
            for w in c.split_whitespace().filter(|w| *w != "dump") {
                assert!(w.starts_with('w') && w[1..].parse::<u32>().is_ok(), "{w}");
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Every character of every step's text is in some chunk, in order, and the count
        /// stays within the limit.
        #[test]
        fn chunks_cover_every_step_within_the_limit(
            steps in proptest::collection::vec(("[a-z ]{0,40}", "[a-zé ]{0,400}"), 0..120),
            window in 16usize..400,
        ) {
            let refs: Vec<(&str, &str)> =
                steps.iter().map(|(a, o)| (a.as_str(), o.as_str())).collect();
            let e = episode(&refs);
            let chunks = episode_chunks(&e, window);
            prop_assert!(!chunks.is_empty() && chunks.len() <= MAX_CHUNKS);
            let squash = |s: &str| s.split_whitespace().collect::<String>();
            let expected: String = e.steps.iter().map(|s| squash(&step_text(s))).collect();
            let got: String = chunks[1..].iter().map(|c| squash(c)).collect();
            prop_assert_eq!(got, expected);
            // Greedy packing makes at most 2 · total / window + 1 chunks; below the limit
            // nothing was merged, and every chunk fits the window.
            let total: usize = e.steps.iter().map(|s| step_text(s).chars().count() + 1).sum();
            if 2 * total / window.max(16) + 1 < MAX_CHUNKS - 1 {
                for c in &chunks[1..] {
                    prop_assert!(c.chars().count() <= window.max(16));
                }
            }
        }
    }
}
