//! Heuristics: the rules in words that well-supported patterns justify.
//!
//! A heuristic is a view of one pattern, recomputed whenever it is read (so it always
//! reflects the decayed statistics): "In rust debugging, when `cargo test` fails with
//! "timeout after <n>s", do `cargo test` (run single-threaded) — 7/8 episodes succeeded".
//! Patterns that usually end in failure become anti-patterns ("avoid …").

use super::stats::wilson_lower_bound;
use crate::model::{Heuristic, HeuristicKind, Pattern, PatternKind};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The thresholds of learning: decay, support, and what counts as good or bad.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LearningConfig {
    /// Age at which a pattern's evidence counts half, in days.
    pub half_life_days: f64,
    /// Fewest episodes before a pattern is recommended or turned into a heuristic.
    pub min_support: u64,
    /// Lowest success rate of a recommended pattern or heuristic.
    pub recommend_min_rate: f64,
    /// Highest success rate of an anti-pattern.
    pub avoid_max_rate: f64,
    /// Lift at which a pattern is recommended even below `recommend_min_rate`.
    pub recommend_min_lift: f64,
}

impl Default for LearningConfig {
    fn default() -> Self {
        LearningConfig {
            half_life_days: 30.0,
            min_support: 2,
            recommend_min_rate: 0.6,
            avoid_max_rate: 0.3,
            recommend_min_lift: 1.5,
        }
    }
}

/// The heuristic a pattern justifies at `now`, if any.
pub fn heuristic_for(p: &Pattern, now: DateTime<Utc>, cfg: &LearningConfig) -> Option<Heuristic> {
    if p.stats.episodes < cfg.min_support {
        return None;
    }
    let st = p.stats.at(now, cfg.half_life_days);
    let rate = st.success_rate();
    let kind = if rate >= cfg.recommend_min_rate {
        HeuristicKind::Recommend
    } else if rate <= cfg.avoid_max_rate {
        HeuristicKind::Avoid
    } else {
        return None;
    };
    let scope = p.scope.describe();
    let (condition, action) = match (&p.kind, kind) {
        (PatternKind::ToolSequence { tools }, HeuristicKind::Recommend) => (
            format!("In {scope}"),
            format!("work in the order {}", arrows(tools)),
        ),
        (PatternKind::ToolSequence { tools }, HeuristicKind::Avoid) => (
            format!("In {scope}"),
            format!("avoid the sequence {}", arrows(tools)),
        ),
        (
            PatternKind::ErrorRecovery {
                tool,
                error_class,
                recovery,
            },
            k,
        ) => {
            let cond = format!("In {scope}, when `{tool}` fails with \"{error_class}\"");
            let example = p
                .example
                .as_deref()
                .map(|e| format!(" ({})", super::shorten(e, 160)))
                .unwrap_or_default();
            match k {
                HeuristicKind::Recommend => (cond, format!("do {}{example}", arrows(recovery))),
                HeuristicKind::Avoid => (cond, format!("do not rely on {}", arrows(recovery))),
            }
        }
        (PatternKind::DecisionPoint { condition, choice }, k) => {
            let cond = format!("In {scope}, when {condition}");
            match k {
                HeuristicKind::Recommend => (cond, format!("choose \"{choice}\"")),
                HeuristicKind::Avoid => (cond, format!("avoid choosing \"{choice}\"")),
            }
        }
        (PatternKind::ContextPattern { features, approach }, k) => {
            // Only worth saying when the approach beats (or trails) the context's baseline.
            if (k == HeuristicKind::Recommend && p.lift < 1.05)
                || (k == HeuristicKind::Avoid && p.lift > 0.8)
            {
                return None;
            }
            let cond = format!("With {}", features.join(", "));
            match k {
                HeuristicKind::Recommend => {
                    (cond, format!("take the approach {}", arrows(approach)))
                }
                HeuristicKind::Avoid => (cond, format!("avoid the approach {}", arrows(approach))),
            }
        }
    };
    let confidence = match kind {
        HeuristicKind::Recommend => st.confidence(),
        HeuristicKind::Avoid => wilson_lower_bound(st.support - st.successes, st.support),
    };
    let text = format!(
        "{condition}, {action} — {}/{} episodes succeeded (confidence {confidence:.2}, lift {:.2})",
        p.stats.successful_episodes, p.stats.episodes, p.lift
    );
    Some(Heuristic {
        pattern_id: p.id,
        kind,
        condition,
        action,
        text,
        confidence,
        episodes: p.stats.episodes,
        successful_episodes: p.stats.successful_episodes,
        evidence: p.evidence.clone(),
    })
}

/// The heuristics `patterns` justify at `now`, most confident first, without tool sequences
/// that a longer recommended sequence with as much support already covers.
pub fn heuristics(
    patterns: &[Pattern],
    now: DateTime<Utc>,
    cfg: &LearningConfig,
) -> Vec<Heuristic> {
    let mut out: Vec<(Heuristic, &Pattern)> = patterns
        .iter()
        .filter_map(|p| heuristic_for(p, now, cfg).map(|h| (h, p)))
        .collect();
    let covered: Vec<bool> = out
        .iter()
        .map(|(h, p)| {
            let PatternKind::ToolSequence { tools } = &p.kind else {
                return false;
            };
            out.iter().any(|(h2, p2)| match &p2.kind {
                PatternKind::ToolSequence { tools: longer } => {
                    h2.kind == h.kind
                        && p2.scope == p.scope
                        && longer.len() > tools.len()
                        && p2.stats.episodes >= p.stats.episodes
                        && longer.windows(tools.len()).any(|w| w == tools.as_slice())
                }
                _ => false,
            })
        })
        .collect();
    let mut kept: Vec<Heuristic> = out
        .drain(..)
        .zip(covered)
        .filter(|(_, c)| !c)
        .map(|((h, _), _)| h)
        .collect();
    kept.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then_with(|| b.episodes.cmp(&a.episodes))
            .then_with(|| a.pattern_id.cmp(&b.pattern_id))
    });
    kept
}

/// Tool names in backticks joined by arrows: "`a` → `b`".
pub(crate) fn arrows(tools: &[String]) -> String {
    tools
        .iter()
        .map(|t| format!("`{t}`"))
        .collect::<Vec<_>>()
        .join(" → ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{OutcomeStats, PatternScope, TaskType};
    use uuid::Uuid;

    pub(crate) fn pattern(
        kind: PatternKind,
        episodes: u64,
        successes: u64,
        now: DateTime<Utc>,
    ) -> Pattern {
        let mut stats = OutcomeStats::empty(now);
        for i in 0..episodes {
            let s = if i < successes { 1.0 } else { 0.0 };
            stats.record(s, s, now, 30.0);
        }
        Pattern {
            id: Uuid::now_v7(),
            namespace: "ns".into(),
            signature: "x".into(),
            scope: PatternScope {
                domain: Some("web-api".into()),
                language: Some("rust".into()),
                task_type: Some(TaskType::Debugging),
                ..PatternScope::default()
            },
            kind,
            stats,
            lift: 1.2,
            effectiveness: Default::default(),
            evidence: vec![Uuid::now_v7()],
            example: Some(
                "`cargo test`: run single-threaded {\"args\":[\"--test-threads=1\"]}".into(),
            ),
            created_at: now,
            last_seen: now,
        }
    }

    #[test]
    fn recovery_heuristic_reads_like_advice() {
        let now = Utc::now();
        let p = pattern(
            PatternKind::ErrorRecovery {
                tool: "cargo test".into(),
                error_class: "timeout after <n>s".into(),
                recovery: vec!["cargo test".into()],
            },
            8,
            7,
            now,
        );
        let h = heuristic_for(&p, now, &LearningConfig::default()).unwrap();
        assert_eq!(h.kind, HeuristicKind::Recommend);
        assert!(h.text.starts_with(
            "In rust/web-api debugging, when `cargo test` fails with \"timeout after <n>s\", do `cargo test` (`cargo test`: run single-threaded"
        ), "{}", h.text);
        assert!(h.text.contains("7/8 episodes succeeded"));
    }

    #[test]
    fn low_success_sequences_become_anti_patterns_and_thin_ones_nothing() {
        let now = Utc::now();
        let bad = pattern(
            PatternKind::ToolSequence {
                tools: vec!["grep".into(), "deploy".into()],
            },
            6,
            1,
            now,
        );
        let h = heuristic_for(&bad, now, &LearningConfig::default()).unwrap();
        assert_eq!(h.kind, HeuristicKind::Avoid);
        assert!(h.text.contains("avoid the sequence `grep` → `deploy`") && h.text.contains("1/6"));
        let thin = pattern(
            PatternKind::ToolSequence {
                tools: vec!["a".into(), "b".into()],
            },
            1,
            1,
            now,
        );
        assert!(heuristic_for(&thin, now, &LearningConfig::default()).is_none());
        let middling = pattern(
            PatternKind::ToolSequence {
                tools: vec!["a".into(), "b".into()],
            },
            10,
            5,
            now,
        );
        assert!(heuristic_for(&middling, now, &LearningConfig::default()).is_none());
    }

    #[test]
    fn longer_sequence_covers_its_parts() {
        let now = Utc::now();
        let ab = pattern(
            PatternKind::ToolSequence {
                tools: vec!["a".into(), "b".into()],
            },
            5,
            5,
            now,
        );
        let abc = pattern(
            PatternKind::ToolSequence {
                tools: vec!["a".into(), "b".into(), "c".into()],
            },
            5,
            5,
            now,
        );
        let hs = heuristics(&[ab, abc.clone()], now, &LearningConfig::default());
        assert_eq!(hs.len(), 1);
        assert_eq!(hs[0].pattern_id, abc.id);
    }
}
