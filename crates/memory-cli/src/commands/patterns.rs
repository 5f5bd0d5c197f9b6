//! `memory pattern list|show`, `memory heuristic list`, `memory feedback`: what the memory
//! has learned, and how agents tell it what helped.

use crate::cli::{FeedbackArgs, PatternListArgs};
use crate::output::Printer;
use crate::parse;
use chrono::Utc;
use memory_core::{
    HeuristicKind, OutcomeKind, Pattern, PatternFilter, PatternKindName, PatternOrder,
    SelfLearningMemory, learning::shorten,
};
use serde_json::json;
use std::fmt::Write as _;

fn filter_from(ns: &str, args: &PatternListArgs) -> anyhow::Result<PatternFilter> {
    Ok(PatternFilter {
        namespace: ns.to_string(),
        kind: args
            .kind
            .as_deref()
            .map(|k| parse::value::<PatternKindName>("kind", k))
            .transpose()?,
        domain: args.domain.clone(),
        language: args.language.clone(),
        framework: args.framework.clone(),
        task_type: parse::task_type(args.task_type.as_deref())?,
        tags: args.context_tags.clone(),
        min_episodes: args.min_episodes,
        min_confidence: args.min_confidence,
        order: match args.sort.as_str() {
            "support" => PatternOrder::Support,
            "lift" => PatternOrder::Lift,
            "recent" => PatternOrder::Recent,
            _ => PatternOrder::Confidence,
        },
        limit: args.limit,
        offset: args.offset,
    })
}

pub async fn list(
    memory: &SelfLearningMemory,
    ns: &str,
    args: &PatternListArgs,
    out: Printer,
) -> anyhow::Result<()> {
    let patterns = memory.list_patterns(&filter_from(ns, args)?).await?;
    let half_life = memory.config().learning.half_life_days;
    out.either(&patterns, || {
        if patterns.is_empty() {
            return "no patterns yet (they are mined when episodes complete)".to_string();
        }
        let now = Utc::now();
        let mut s = format!(
            "{:<36}  {:<15}  {:>4}  {:>5}  {:>5}  {:>5}  {:>8}  {:<24}  {}\n",
            "ID", "KIND", "EPIS", "RATE", "CONF", "LIFT", "HELPED", "SCOPE", "PATTERN"
        );
        for p in &patterns {
            let st = p.stats.at(now, half_life);
            let _ = writeln!(
                s,
                "{:<36}  {:<15}  {:>4}  {:>5.2}  {:>5.2}  {:>5.2}  {:>8}  {:<24}  {}",
                p.id,
                p.kind.name().as_str(),
                p.stats.episodes,
                st.success_rate(),
                st.confidence(),
                p.lift,
                format!("{}/{}", p.effectiveness.helped, p.effectiveness.applied),
                shorten(&p.scope.describe(), 24),
                shorten(&p.kind.describe(), 80)
            );
        }
        s
    })
}

pub async fn show(
    memory: &SelfLearningMemory,
    ns: &str,
    id: &str,
    out: Printer,
) -> anyhow::Result<()> {
    let pattern = memory.get_pattern(ns, parse::uuid("id", id)?).await?;
    let half_life = memory.config().learning.half_life_days;
    out.either(&pattern, || render_pattern(&pattern, half_life))
}

fn render_pattern(p: &Pattern, half_life: f64) -> String {
    let st = p.stats.at(Utc::now(), half_life);
    let mut s = String::new();
    let _ = writeln!(s, "Pattern {}  ({})", p.id, p.kind.name());
    let _ = writeln!(s, "What:        {}", p.kind.describe());
    let _ = writeln!(s, "Scope:       {}", p.scope.describe());
    let _ = writeln!(
        s,
        "Episodes:    {} ({} succeeded); decayed support {:.2}",
        p.stats.episodes, p.stats.successful_episodes, st.support
    );
    let _ = writeln!(
        s,
        "Success:     {:.2} (confidence {:.2}, lift {:.2}, mean reward {:.2})",
        st.success_rate(),
        st.confidence(),
        p.lift,
        st.mean_reward()
    );
    let e = &p.effectiveness;
    let _ = writeln!(
        s,
        "Feedback:    applied {}×, helped {}, hindered {}",
        e.applied, e.helped, e.hindered
    );
    if let Some(ex) = &p.example {
        let _ = writeln!(s, "Example:     {ex}");
    }
    let _ = writeln!(s, "First seen:  {}", p.created_at.to_rfc3339());
    let _ = writeln!(s, "Last seen:   {}", p.last_seen.to_rfc3339());
    let _ = writeln!(s, "Evidence:    {} most recent episodes", p.evidence.len());
    for id in p.evidence.iter().rev() {
        let _ = writeln!(s, "  {id}");
    }
    s
}

pub async fn heuristics(
    memory: &SelfLearningMemory,
    ns: &str,
    args: &PatternListArgs,
    out: Printer,
) -> anyhow::Result<()> {
    let rules = memory.heuristics(&filter_from(ns, args)?).await?;
    out.either(&rules, || {
        if rules.is_empty() {
            return "no heuristics yet (a pattern needs support in at least 2 episodes)".into();
        }
        let mut s = String::new();
        for h in &rules {
            let mark = match h.kind {
                HeuristicKind::Recommend => "+",
                HeuristicKind::Avoid => "-",
            };
            let _ = writeln!(s, "[{mark}] {}\n    pattern {}", h.text, h.pattern_id);
        }
        s
    })
}

pub async fn feedback(
    memory: &SelfLearningMemory,
    ns: &str,
    args: &FeedbackArgs,
    out: Printer,
) -> anyhow::Result<()> {
    let session = parse::uuid("session", &args.session)?;
    let applied = args
        .applied
        .iter()
        .map(|a| parse::uuid("applied", a))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let outcome: OutcomeKind = parse::value("outcome", &args.outcome)?;
    memory
        .record_feedback(ns, session, applied.clone(), outcome)
        .await?;
    out.either(
        &json!({ "session_id": session, "applied": applied, "outcome": outcome }),
        || {
            format!(
                "feedback recorded for session {session}: {} pattern(s) applied, outcome {outcome}",
                applied.len()
            )
        },
    )
}
