//! `memory episode start|step|complete|show|list|delete`: the episode lifecycle from the shell.
//!
//! Each call is its own process, so an agent (or a shell script) can start an episode in one
//! command, log steps from others and complete it from yet another.

use crate::cli::{CompleteArgs, ContextArgs, ListArgs, StartArgs, StepArgs};
use crate::output::Printer;
use crate::parse;
use chrono::{DateTime, Utc};
use memory_core::{
    Episode, EpisodeCursor, EpisodeFilter, EpisodeStatus, EpisodeSummary, NewEpisode, OutcomeKind,
    SelfLearningMemory, StepInput, TaskContext, learning::shorten,
};
use serde_json::json;
use std::fmt::Write as _;

/// Builds a task context from the shared context flags.
pub fn context_from(args: &ContextArgs) -> TaskContext {
    TaskContext {
        domain: args.domain.clone(),
        language: args.language.clone(),
        framework: args.framework.clone(),
        complexity: None,
        tags: args.context_tags.clone(),
    }
}

pub async fn start(
    memory: &SelfLearningMemory,
    ns: &str,
    args: &StartArgs,
    out: Printer,
) -> anyhow::Result<()> {
    let mut context = context_from(&args.context);
    context.complexity = parse::complexity(args.complexity.as_deref())?;
    let new = NewEpisode {
        task_description: args.task.clone(),
        task_type: parse::task_type(Some(&args.task_type))?.unwrap_or_default(),
        context,
        tags: args.tags.clone(),
        metadata: parse::json_object("metadata", args.metadata.as_deref())?,
        retrieval_session: args
            .session
            .as_deref()
            .map(|s| parse::uuid("session", s))
            .transpose()?,
    };
    let id = memory.start_episode(ns, new).await?;
    out.either(&json!({ "id": id, "namespace": ns }), || id.to_string())
}

pub async fn step(
    memory: &SelfLearningMemory,
    ns: &str,
    args: &StepArgs,
    out: Printer,
) -> anyhow::Result<()> {
    let id = parse::episode_id(&args.id)?;
    let input = StepInput {
        tool: args.tool.clone(),
        action: args.action.clone(),
        parameters: match &args.params {
            Some(raw) => parse::json("params", raw)?,
            None => serde_json::Value::Null,
        },
        result: parse::step_result(&args.status, &args.output)?,
        latency_ms: args.latency_ms,
        tokens_used: args.tokens,
        metadata: parse::json_object("metadata", args.metadata.as_deref())?,
    };
    let step = memory.log_step(ns, id, input).await?;
    out.either(&step, || {
        format!(
            "step {} logged: `{}` {}",
            step.seq,
            step.tool,
            step.result.status().as_str()
        )
    })
}

pub async fn complete(
    memory: &SelfLearningMemory,
    ns: &str,
    args: &CompleteArgs,
    out: Printer,
) -> anyhow::Result<()> {
    let id = parse::episode_id(&args.id)?;
    let outcome = parse::outcome(args)?;
    let episode = memory.complete_episode(ns, id, outcome).await?;
    out.either(&episode, || {
        let mut s = String::new();
        if let Some(r) = &episode.reward {
            let _ = writeln!(s, "completed {}: reward {:.2}", episode.id, r.total);
            let _ = writeln!(s, "  {}", r.breakdown);
        }
        render_reflection(&episode, &mut s);
        s
    })
}

pub async fn show(
    memory: &SelfLearningMemory,
    ns: &str,
    id: &str,
    out: Printer,
) -> anyhow::Result<()> {
    let episode = memory.get_episode(ns, parse::episode_id(id)?).await?;
    out.either(&episode, || render_episode(&episode))
}

pub async fn list(
    memory: &SelfLearningMemory,
    ns: &str,
    args: &ListArgs,
    out: Printer,
) -> anyhow::Result<()> {
    let now = Utc::now();
    let (started_after, started_before) =
        parse::time_range(args.since.as_deref(), args.until.as_deref(), now)?;
    let filter = EpisodeFilter {
        namespace: ns.to_string(),
        domain: args.domain.clone(),
        language: args.language.clone(),
        task_type: parse::task_type(args.task_type.as_deref())?,
        outcome: args
            .outcome
            .as_deref()
            .map(|o| parse::value::<OutcomeKind>("outcome", o))
            .transpose()?,
        status: args.status.as_deref().map(|s| match s {
            "running" => EpisodeStatus::Running,
            _ => EpisodeStatus::Completed,
        }),
        tags: args.tags.clone(),
        started_after,
        started_before,
        limit: args.limit,
        offset: args.offset,
        after: parse::cursor(args.after.as_deref())?,
    };
    let episodes = memory.list_episodes(&filter).await?;
    out.either(&episodes, || {
        let mut listed = render_list(&episodes, now);
        if let Some(last) = episodes.last().filter(|_| episodes.len() == args.limit) {
            let _ = write!(listed, "next page: --after {}", EpisodeCursor::after(last));
        }
        listed
    })
}

pub async fn delete(
    memory: &SelfLearningMemory,
    ns: &str,
    id: &str,
    out: Printer,
) -> anyhow::Result<()> {
    let id = parse::episode_id(id)?;
    memory.delete_episode(ns, id).await?;
    out.either(&json!({ "deleted": id }), || format!("deleted {id}"))
}

fn render_list(episodes: &[EpisodeSummary], now: DateTime<Utc>) -> String {
    if episodes.is_empty() {
        return "no episodes".to_string();
    }
    let mut s = format!(
        "{:<36}  {:>7}  {:<15}  {:>6}  {:>5}  {:<15}  {:<12}  {}\n",
        "ID", "AGE", "OUTCOME", "REWARD", "STEPS", "TYPE", "DOMAIN", "TASK"
    );
    for e in episodes {
        let _ = writeln!(
            s,
            "{:<36}  {:>7}  {:<15}  {:>6}  {:>5}  {:<15}  {:<12}  {}",
            e.id,
            age(now, e.started_at),
            e.outcome_kind.map(|o| o.as_str()).unwrap_or("running"),
            e.reward
                .map(|r| format!("{r:.2}"))
                .unwrap_or_else(|| "-".into()),
            e.step_count,
            e.task_type.as_str(),
            shorten(e.context.domain.as_deref().unwrap_or("-"), 12),
            shorten(&e.task_description, 60)
        );
    }
    s
}

fn age(now: DateTime<Utc>, then: DateTime<Utc>) -> String {
    let secs = (now - then).num_seconds().max(0);
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3_600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3_600),
        s => format!("{}d", s / 86_400),
    }
}

fn render_episode(e: &Episode) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Episode {}  (namespace {})", e.id, e.namespace);
    let _ = writeln!(s, "Task:     {}", e.task_description);
    let ctx: Vec<String> = [
        e.context.domain.as_ref().map(|d| format!("domain {d}")),
        e.context.language.as_ref().map(|d| format!("language {d}")),
        e.context
            .framework
            .as_ref()
            .map(|d| format!("framework {d}")),
        e.context
            .complexity
            .map(|c| format!("complexity {}", c.as_str())),
    ]
    .into_iter()
    .flatten()
    .collect();
    let _ = writeln!(
        s,
        "Type:     {}{}",
        e.task_type,
        if ctx.is_empty() {
            String::new()
        } else {
            format!("  ({})", ctx.join(", "))
        }
    );
    if !e.context.tags.is_empty() || !e.tags.is_empty() {
        let tags: Vec<&str> = e
            .context
            .tags
            .iter()
            .chain(&e.tags)
            .map(String::as_str)
            .collect();
        let _ = writeln!(s, "Tags:     {}", tags.join(", "));
    }
    let _ = writeln!(s, "Started:  {}", e.started_at.to_rfc3339());
    match (&e.ended_at, &e.outcome) {
        (Some(end), Some(o)) => {
            let _ = writeln!(s, "Ended:    {}", end.to_rfc3339());
            let _ = writeln!(s, "Outcome:  {} — {}", o.kind(), o.full_text());
        }
        _ => {
            let _ = writeln!(s, "Status:   running");
        }
    }
    let _ = writeln!(s, "\nSteps ({}):", e.steps.len());
    for st in &e.steps {
        let text = shorten(st.result.text(), 70);
        let _ = writeln!(
            s,
            "  {:>3}. {:<18} {:<8} {:>7} ms  {}{}",
            st.seq,
            shorten(&st.tool, 18),
            st.result.status().as_str(),
            st.latency_ms,
            shorten(&st.action, 50),
            if text.is_empty() {
                String::new()
            } else {
                format!(" → {text}")
            }
        );
    }
    if let Some(r) = &e.reward {
        let _ = writeln!(s, "\nReward:   {:.2}  ({})", r.total, r.breakdown);
    }
    render_reflection(e, &mut s);
    s
}

fn render_reflection(e: &Episode, s: &mut String) {
    let Some(r) = &e.reflection else { return };
    for (title, lines) in [
        ("Worked", &r.successes),
        ("Improve", &r.improvements),
        ("Insights", &r.insights),
    ] {
        if !lines.is_empty() {
            let _ = writeln!(s, "{title}:");
            for l in lines {
                let _ = writeln!(s, "  - {l}");
            }
        }
    }
}
