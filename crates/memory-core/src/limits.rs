//! The documented limits on every input, and the checks that enforce them.
//!
//! Every public write goes through these checks before anything is stored, so a bad input
//! is rejected whole with an error naming the field and the limit. The defaults are listed
//! in the README; they can be changed per `SelfLearningMemory` through [`Limits`].

use crate::error::ValidationError;
use crate::model::{
    Episode, NewEpisode, Relationship, StepInput, StepResult, TaskContext, TaskOutcome,
};

/// Size limits for everything an agent can send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Characters in a namespace name (`[A-Za-z0-9_.:-]` only).
    pub namespace_chars: usize,
    /// Characters in a task description.
    pub task_chars: usize,
    /// Characters in a domain, language, framework or tag.
    pub label_chars: usize,
    /// Tags on an episode, and tags in its context (each).
    pub tags: usize,
    /// Steps in one episode.
    pub steps_per_episode: u32,
    /// Characters in a tool name.
    pub tool_chars: usize,
    /// Characters in a step's action.
    pub action_chars: usize,
    /// Bytes in a step's output or error message.
    pub result_bytes: usize,
    /// Milliseconds a step may say it took (a week): a bound that keeps every sum of them
    /// (an episode's time, shares of it) meaningful.
    pub step_latency_ms: u64,
    /// Bytes of a JSON value (parameters, metadata) once serialised.
    pub json_bytes: usize,
    /// Nesting depth of a JSON value.
    pub json_depth: usize,
    /// Characters in an outcome's verdict, reason or details.
    pub outcome_chars: usize,
    /// Items in an outcome's artifacts, completed or failed lists.
    pub outcome_items: usize,
    /// Characters in a retrieval query.
    pub query_chars: usize,
    /// Most hits a retrieval may ask for.
    pub retrieve_limit: usize,
    /// Smallest and largest token budget of a context pack.
    pub token_budget: (usize, usize),
    /// Most episodes one listing page may hold.
    pub list_limit: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            namespace_chars: 128,
            task_chars: 4_096,
            label_chars: 64,
            tags: 32,
            steps_per_episode: 1_000,
            tool_chars: 128,
            action_chars: 4_096,
            result_bytes: 65_536,
            step_latency_ms: 7 * 24 * 3_600_000,
            json_bytes: 65_536,
            json_depth: 16,
            outcome_chars: 4_096,
            outcome_items: 64,
            query_chars: 4_096,
            retrieve_limit: 50,
            token_budget: (64, 32_000),
            list_limit: 1_000,
        }
    }
}

type Check = Result<(), ValidationError>;

impl Limits {
    /// Checks a namespace name.
    pub fn check_namespace(&self, namespace: &str) -> Check {
        non_empty("namespace", namespace)?;
        max_chars("namespace", namespace, self.namespace_chars)?;
        if let Some(bad) = namespace
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')))
        {
            return Err(ValidationError::new(
                "namespace",
                format!(
                    "contains `{bad}`; only letters, digits, `_`, `-`, `.` and `:` are allowed"
                ),
            ));
        }
        Ok(())
    }

    /// Checks everything an agent supplies to start an episode.
    pub fn check_new_episode(&self, new: &NewEpisode) -> Check {
        non_empty("task_description", &new.task_description)?;
        max_chars("task_description", &new.task_description, self.task_chars)?;
        self.check_context(&new.context)?;
        self.check_tags("tags", &new.tags)?;
        self.check_json_map("metadata", &new.metadata)
    }

    /// Checks a task context.
    pub fn check_context(&self, ctx: &TaskContext) -> Check {
        for (field, value) in [
            ("context.domain", &ctx.domain),
            ("context.language", &ctx.language),
            ("context.framework", &ctx.framework),
        ] {
            if let Some(v) = value {
                non_empty(field, v)?;
                max_chars(field, v, self.label_chars)?;
            }
        }
        self.check_tags("context.tags", &ctx.tags)
    }

    fn check_tags(&self, field: &str, tags: &[String]) -> Check {
        if tags.len() > self.tags {
            return Err(ValidationError::new(
                field,
                format!("has {} tags; the limit is {}", tags.len(), self.tags),
            ));
        }
        for (i, tag) in tags.iter().enumerate() {
            let name = format!("{field}[{i}]");
            non_empty(&name, tag)?;
            max_chars(&name, tag, self.label_chars)?;
        }
        Ok(())
    }

    /// Checks a step before it is logged.
    pub fn check_step(&self, step: &StepInput) -> Check {
        self.check_step_fields(
            &step.tool,
            &step.action,
            &step.result,
            step.latency_ms,
            &step.parameters,
            &step.metadata,
        )
    }

    /// Checks a whole recorded episode, as an import supplies it: namespace, task,
    /// context, tags, metadata, the number of steps and each step, and the outcome. Errors
    /// name the step as `steps[i]`.
    pub fn check_episode(&self, episode: &Episode) -> Check {
        self.check_namespace(&episode.namespace)?;
        non_empty("task_description", &episode.task_description)?;
        max_chars(
            "task_description",
            &episode.task_description,
            self.task_chars,
        )?;
        self.check_context(&episode.context)?;
        self.check_tags("tags", &episode.tags)?;
        self.check_json_map("metadata", &episode.metadata)?;
        if episode.steps.len() > self.steps_per_episode as usize {
            return Err(ValidationError::new(
                "steps",
                format!(
                    "has {} steps; the limit is {}",
                    episode.steps.len(),
                    self.steps_per_episode
                ),
            ));
        }
        for (i, step) in episode.steps.iter().enumerate() {
            self.check_step_fields(
                &step.tool,
                &step.action,
                &step.result,
                step.latency_ms,
                &step.parameters,
                &step.metadata,
            )
            .map_err(|e| {
                ValidationError::new(
                    e.field.replacen("step.", &format!("steps[{i}]."), 1),
                    e.problem,
                )
            })?;
        }
        if let Some(outcome) = &episode.outcome {
            self.check_outcome(outcome)?;
        }
        Ok(())
    }

    /// Checks a checkpoint note: 1 to `outcome_chars` characters.
    pub fn check_note(&self, note: &str) -> Check {
        non_empty("note", note)?;
        max_chars("note", note, self.outcome_chars)
    }

    /// Checks an edge between episodes: its namespace, that it is not a self-link, and its
    /// metadata (reason up to `outcome_chars`, author up to `namespace_chars`, weight from 0
    /// to 1, free key/values as JSON).
    pub fn check_relationship(&self, r: &Relationship) -> Check {
        self.check_namespace(&r.namespace)?;
        if r.from == r.to {
            return Err(ValidationError::new(
                "to",
                format!(
                    "is {}, the same episode as `from`; an episode cannot be related to itself",
                    r.to
                ),
            ));
        }
        let m = &r.metadata;
        if let Some(reason) = &m.reason {
            max_chars("metadata.reason", reason, self.outcome_chars)?;
        }
        if let Some(by) = &m.created_by {
            non_empty("metadata.created_by", by)?;
            max_chars("metadata.created_by", by, self.namespace_chars)?;
        }
        if let Some(w) = m.weight
            && !(w.is_finite() && (0.0..=1.0).contains(&w))
        {
            return Err(ValidationError::new(
                "metadata.weight",
                format!("is {w}; it must be between 0 and 1"),
            ));
        }
        self.check_json_map("metadata.extra", &m.extra)
    }

    fn check_step_fields(
        &self,
        tool: &str,
        action: &str,
        result: &StepResult,
        latency_ms: u64,
        parameters: &serde_json::Value,
        metadata: &serde_json::Map<String, serde_json::Value>,
    ) -> Check {
        non_empty("step.tool", tool)?;
        if latency_ms > self.step_latency_ms {
            return Err(ValidationError::new(
                "step.latency_ms",
                format!(
                    "is {latency_ms}; the limit is {} (a week)",
                    self.step_latency_ms
                ),
            ));
        }
        max_chars("step.tool", tool, self.tool_chars)?;
        max_chars("step.action", action, self.action_chars)?;
        match result {
            StepResult::Success { output } => {
                max_bytes("step.result.output", output, self.result_bytes)?
            }
            StepResult::Error { message } => {
                max_bytes("step.result.message", message, self.result_bytes)?
            }
            StepResult::Timeout => {}
        }
        self.check_json("step.parameters", parameters)?;
        self.check_json_map("step.metadata", metadata)
    }

    /// Checks an outcome before an episode is completed with it.
    pub fn check_outcome(&self, outcome: &TaskOutcome) -> Check {
        match outcome {
            TaskOutcome::Success { verdict, artifacts } => {
                max_chars("outcome.verdict", verdict, self.outcome_chars)?;
                self.check_items("outcome.artifacts", artifacts)
            }
            TaskOutcome::PartialSuccess {
                verdict,
                completed,
                failed,
            } => {
                max_chars("outcome.verdict", verdict, self.outcome_chars)?;
                self.check_items("outcome.completed", completed)?;
                self.check_items("outcome.failed", failed)
            }
            TaskOutcome::Failure { reason, details } => {
                non_empty("outcome.reason", reason)?;
                max_chars("outcome.reason", reason, self.outcome_chars)?;
                if let Some(d) = details {
                    max_chars("outcome.details", d, self.outcome_chars)?;
                }
                Ok(())
            }
            TaskOutcome::Abstained { reason } => {
                non_empty("outcome.reason", reason)?;
                max_chars("outcome.reason", reason, self.outcome_chars)
            }
        }
    }

    fn check_items(&self, field: &str, items: &[String]) -> Check {
        if items.len() > self.outcome_items {
            return Err(ValidationError::new(
                field,
                format!(
                    "has {} items; the limit is {}",
                    items.len(),
                    self.outcome_items
                ),
            ));
        }
        for (i, item) in items.iter().enumerate() {
            max_chars(&format!("{field}[{i}]"), item, self.outcome_chars)?;
        }
        Ok(())
    }

    /// Checks a JSON value's serialised size and nesting depth.
    pub fn check_json(&self, field: &str, value: &serde_json::Value) -> Check {
        let depth = json_depth(value);
        if depth > self.json_depth {
            return Err(ValidationError::new(
                field,
                format!(
                    "is nested {depth} levels deep; the limit is {}",
                    self.json_depth
                ),
            ));
        }
        let bytes = serde_json::to_vec(value)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if bytes > self.json_bytes {
            return Err(ValidationError::new(
                field,
                format!("is {bytes} bytes as JSON; the limit is {}", self.json_bytes),
            ));
        }
        Ok(())
    }

    fn check_json_map(
        &self,
        field: &str,
        map: &serde_json::Map<String, serde_json::Value>,
    ) -> Check {
        // A map is one level of nesting itself.
        let as_value = serde_json::Value::Object(map.clone());
        self.check_json(field, &as_value)
    }

    /// Checks a retrieval query's text, hit count and token budget.
    pub fn check_query(&self, text: &str, limit: usize, token_budget: usize) -> Check {
        non_empty("query", text)?;
        max_chars("query", text, self.query_chars)?;
        if limit == 0 || limit > self.retrieve_limit {
            return Err(ValidationError::new(
                "limit",
                format!(
                    "is {limit}; it must be between 1 and {}",
                    self.retrieve_limit
                ),
            ));
        }
        let (lo, hi) = self.token_budget;
        if token_budget < lo || token_budget > hi {
            return Err(ValidationError::new(
                "token_budget",
                format!("is {token_budget}; it must be between {lo} and {hi}"),
            ));
        }
        Ok(())
    }

    /// Checks a listing page size.
    pub fn check_list_limit(&self, limit: usize) -> Check {
        if limit == 0 || limit > self.list_limit {
            return Err(ValidationError::new(
                "limit",
                format!("is {limit}; it must be between 1 and {}", self.list_limit),
            ));
        }
        Ok(())
    }
}

fn non_empty(field: &str, value: &str) -> Check {
    if value.trim().is_empty() {
        return Err(ValidationError::new(field, "is empty"));
    }
    Ok(())
}

fn max_chars(field: &str, value: &str, limit: usize) -> Check {
    let n = value.chars().count();
    if n > limit {
        return Err(ValidationError::new(
            field,
            format!("is {n} characters; the limit is {limit}"),
        ));
    }
    Ok(())
}

fn max_bytes(field: &str, value: &str, limit: usize) -> Check {
    if value.len() > limit {
        return Err(ValidationError::new(
            field,
            format!("is {} bytes; the limit is {limit}", value.len()),
        ));
    }
    Ok(())
}

/// Nesting depth of a JSON value: scalars are 0, `[]` and `{}` are 1.
fn json_depth(value: &serde_json::Value) -> usize {
    // Iterative, so a hostile value cannot overflow the stack here.
    let mut deepest = 0;
    let mut stack = vec![(value, 0usize)];
    while let Some((v, d)) = stack.pop() {
        match v {
            serde_json::Value::Array(items) => {
                deepest = deepest.max(d + 1);
                stack.extend(items.iter().map(|i| (i, d + 1)));
            }
            serde_json::Value::Object(map) => {
                deepest = deepest.max(d + 1);
                stack.extend(map.values().map(|i| (i, d + 1)));
            }
            _ => {}
        }
    }
    deepest
}

/// Checks that an episode's steps are numbered 1, 2, 3, … in order, as stored steps must be
/// (the next appended step takes `step_count + 1`).
pub fn check_step_seqs(episode: &Episode) -> Result<(), ValidationError> {
    for (i, step) in episode.steps.iter().enumerate() {
        let expected = i as u64 + 1;
        if u64::from(step.seq) != expected {
            return Err(ValidationError::new(
                format!("steps[{i}].seq"),
                format!(
                    "is {}; steps must be numbered 1, 2, 3, … in order, so it should be {expected}",
                    step.seq
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_may_not_say_it_took_more_than_a_week() {
        let limits = Limits::default();
        let step = |ms| {
            StepInput::new(
                "tool",
                "act",
                StepResult::Success {
                    output: "ok".into(),
                },
            )
            .with_latency_ms(ms)
        };
        assert!(limits.check_step(&step(limits.step_latency_ms)).is_ok());
        let err = limits
            .check_step(&step(limits.step_latency_ms + 1))
            .unwrap_err();
        assert_eq!(err.field, "step.latency_ms");
        assert!(limits.check_step(&step(u64::MAX)).is_err());
    }
    use serde_json::json;

    #[test]
    fn long_task_names_field_and_limit() {
        let limits = Limits::default();
        let new = NewEpisode::new("x".repeat(4_097));
        let err = limits.check_new_episode(&new).unwrap_err();
        assert_eq!(err.field, "task_description");
        assert!(
            err.problem.contains("4097") && err.problem.contains("4096"),
            "{err}"
        );
    }

    #[test]
    fn json_depth_is_counted() {
        assert_eq!(json_depth(&json!(1)), 0);
        assert_eq!(json_depth(&json!({"a": [1, {"b": 2}]})), 3);
        let limits = Limits {
            json_depth: 2,
            ..Limits::default()
        };
        let step = StepInput::new("t", "a", StepResult::Timeout)
            .with_parameters(json!({"a": {"b": {"c": 1}}}));
        let err = limits.check_step(&step).unwrap_err();
        assert_eq!(err.field, "step.parameters");
        assert!(err.problem.contains("3 levels") && err.problem.contains("limit is 2"));
    }

    #[test]
    fn namespace_charset() {
        let limits = Limits::default();
        assert!(limits.check_namespace("team-a:agent_1.v2").is_ok());
        assert_eq!(
            limits.check_namespace("a b").unwrap_err().field,
            "namespace"
        );
        assert!(limits.check_namespace("").is_err());
    }

    #[test]
    fn tag_count_and_empty_tag() {
        let limits = Limits::default();
        let mut new = NewEpisode::new("t");
        new.tags = (0..33).map(|i| format!("t{i}")).collect();
        assert!(
            limits
                .check_new_episode(&new)
                .unwrap_err()
                .problem
                .contains("33 tags")
        );
        new.tags = vec!["ok".into(), " ".into()];
        assert_eq!(limits.check_new_episode(&new).unwrap_err().field, "tags[1]");
    }

    #[test]
    fn query_bounds() {
        let limits = Limits::default();
        assert!(limits.check_query("fix it", 5, 2_000).is_ok());
        assert_eq!(
            limits.check_query("fix it", 0, 2_000).unwrap_err().field,
            "limit"
        );
        assert_eq!(
            limits.check_query("fix it", 5, 10).unwrap_err().field,
            "token_budget"
        );
        assert_eq!(
            limits.check_query("  ", 5, 2_000).unwrap_err().field,
            "query"
        );
    }
}
