//! `memory retrieve`: the context pack for a new task.

use super::episode::context_from;
use crate::cli::RetrieveArgs;
use crate::output::Printer;
use crate::parse;
use memory_core::{ContextPack, RetrievalQuery, SelfLearningMemory};
use std::fmt::Write as _;

pub async fn run(
    memory: &SelfLearningMemory,
    ns: &str,
    args: &RetrieveArgs,
    out: Printer,
) -> anyhow::Result<()> {
    let query = RetrievalQuery {
        namespace: ns.to_string(),
        text: args.query.clone(),
        context: context_from(&args.context),
        task_type: parse::task_type(args.task_type.as_deref())?,
        limit: args.limit,
        token_budget: args.budget,
        mode: parse::value("mode", &args.mode)?,
        record_session: !args.no_session,
    };
    let pack = memory.retrieve_context(&query).await?;
    out.either(&pack, || {
        let mut s = pack.markdown.clone();
        if args.explain {
            s.push_str(&explain(&pack));
            if pack.hits.iter().any(|h| h.score.similarity.is_some()) {
                s.push_str(
                    "COS = cosine of the episode's best matching vector: its task and outcome, \
                     or (sN) its Nth chunk of steps\n",
                );
            }
            if query.mode == memory_core::retrieval::RetrievalMode::Hybrid {
                let fusion = memory.fusion();
                let _ = writeln!(
                    s,
                    "TEXT = (a·bm25/best + w·v) / (a + w), v = cosine rescaled from the weakest \
                     vector candidate (0) to the best (1); w = {:.2} ({}) × this query's \
                     vector trust (how far its best vector match stands out from the tenth); \
                     a = 1 when a candidate holds most of the query's words, down to {:.2} \
                     when none does",
                    fusion.vector_weight,
                    match memory.embedder() {
                        Some(e) if e.is_semantic() => "a trained model's vectors",
                        Some(_) => "vectors of hashed words",
                        None => "no embedder",
                    },
                    fusion.text_trust_floor,
                );
            }
        }
        s
    })
}

/// A table of each hit's score parts, for `--explain`.
pub fn explain(pack: &ContextPack) -> String {
    let mut s = format!(
        "\n---\n{} candidates scored; advice from {} similar episode{}; pack is {} of {} tokens\n{:<4} {:>6} {:>5} {:>5} {:>6} {:>8} {:>6} {:>8} {:>7} {:>8} {:>8}  {:<7} {}\n",
        pack.candidates_considered,
        pack.neighbours,
        if pack.neighbours == 1 { "" } else { "s" },
        pack.token_estimate,
        pack.token_budget,
        "#",
        "SCORE",
        "LEX#",
        "SEM#",
        "COVER",
        "COS",
        "TEXT",
        "CONTEXT",
        "REWARD",
        "RECENCY",
        "RELATED",
        "IN PACK",
        "ID"
    );
    for w in &pack.warnings {
        let _ = writeln!(s, "warning: {w}");
    }
    for (i, h) in pack.hits.iter().enumerate() {
        let _ = writeln!(
            s,
            "{:<4} {:>6.3} {:>5} {:>5} {:>6} {:>8} {:>6.3} {:>8.3} {:>7.3} {:>8.3} {:>8.3}  {:<7} {}",
            i + 1,
            h.score.total,
            h.score.lexical_rank.map_or("-".into(), |r| r.to_string()),
            h.score.semantic_rank.map_or("-".into(), |r| r.to_string()),
            h.score.coverage.map_or("-".into(), |c| format!("{c:.3}")),
            match (h.score.similarity, h.score.chunk) {
                (Some(c), Some(n)) if n > 0 => format!("{c:.3}s{n}"),
                (Some(c), _) => format!("{c:.3}"),
                (None, _) => "-".into(),
            },
            h.score.text,
            h.score.context,
            h.score.reward,
            h.score.recency,
            h.score.relation,
            if h.in_pack { "yes" } else { "no" },
            h.id
        );
    }
    if !pack.patterns.is_empty() {
        let _ = write!(
            s,
            "\nrecommended patterns (report applied ones with `memory feedback {} --applied ID`)\n{:<4} {:>6} {:>6} {:>6} {:>9} {:>8} {:>5}  {:<36} PATTERN\n",
            pack.session_id
                .map_or("SESSION (none: read-only lookup)".to_string(), |id| id
                    .to_string()),
            "#",
            "SCORE",
            "CONF",
            "LIFT",
            "RELEVANCE",
            "FEEDBACK",
            "EPIS",
            "ID",
        );
        for (i, p) in pack.patterns.iter().enumerate() {
            let _ = writeln!(
                s,
                "{:<4} {:>6.3} {:>6.3} {:>6.2} {:>9.2} {:>8.2} {:>5}  {:<36} {}",
                i + 1,
                p.score,
                p.confidence,
                p.lift,
                p.relevance,
                p.feedback,
                p.episodes,
                p.id,
                memory_core::learning::shorten(&p.description, 70)
            );
        }
    }
    s
}
