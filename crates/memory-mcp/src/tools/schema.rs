//! The input schemas `tools/list` shows: generated from the argument structs, then given the
//! library's [`Limits`] and the allowed values of every enumerated field.
//!
//! A field means the same thing in every tool (`namespace`, `tags`, `episode_id` …), so its
//! constraints are keyed by name; the one field whose bound differs by tool (`limit`) is
//! passed by the tool. Constraints JSON Schema cannot express (bytes as JSON, nesting
//! depth) are stated in the field's description, and the server checks all of them anyway.

use memory_core::{Limits, OutcomeKind, PatternKindName, TaskType};
use rmcp::model::JsonObject;
use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

/// The bounds and default of a tool's `limit` argument.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PageLimit {
    /// Largest value accepted.
    pub max: usize,
    /// Value used when the argument is absent.
    pub default: usize,
}

/// The JSON schema of `T`'s arguments, with every limit of `limits` attached.
pub(crate) fn input_schema<T: JsonSchema>(limits: &Limits, page: Option<PageLimit>) -> JsonObject {
    let settings = SchemaSettings::draft2020_12().with(|s| {
        s.inline_subschemas = true;
        s.meta_schema = None;
    });
    let root = settings.into_generator().into_root_schema_for::<T>();
    let mut value = serde_json::to_value(root).unwrap_or_else(|_| json!({"type": "object"}));
    let rules = Rules { limits, page };
    walk(&mut value, &rules);
    let mut object = match value {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    // The struct's name and doc comment are noise to a model; the tool has its description.
    object.remove("title");
    object.remove("description");
    object
}

struct Rules<'a> {
    limits: &'a Limits,
    page: Option<PageLimit>,
}

/// Visits every schema in `node`: folds `Option`'s null alternative away (absent and null
/// mean the same to the parser; a model reads a plain type more easily) and constrains each
/// property by its name.
fn walk(node: &mut Value, rules: &Rules<'_>) {
    let Value::Object(map) = node else { return };
    drop_null_alternative(map);
    // Doc comments wrap at 100 columns; a description is one paragraph.
    if let Some(Value::String(d)) = map.get_mut("description") {
        *d = d.split_whitespace().collect::<Vec<_>>().join(" ");
    }
    if let Some(Value::Object(props)) = map.get_mut("properties") {
        for (name, sub) in props.iter_mut() {
            walk(sub, rules);
            if let Value::Object(sub) = sub {
                rules.constrain(name, sub);
            }
        }
    }
    if let Some(items) = map.get_mut("items") {
        walk(items, rules);
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(Value::Array(list)) = map.get_mut(key) {
            list.iter_mut().for_each(|s| walk(s, rules));
        }
    }
}

/// `{"type": ["string", "null"]}` → `{"type": "string"}`; `{"anyOf": [S, {"type": "null"}]}`
/// → `S` (keeping the outer description).
fn drop_null_alternative(map: &mut Map<String, Value>) {
    if let Some(Value::Array(types)) = map.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types.remove(0);
            map.insert("type".into(), only);
        }
    }
    let is_null = |v: &Value| v.get("type").and_then(Value::as_str) == Some("null");
    if let Some(Value::Array(alts)) = map.get("anyOf")
        && alts.len() == 2
        && alts.iter().any(is_null)
    {
        let kept = alts.iter().find(|v| !is_null(v)).cloned();
        map.remove("anyOf");
        if let Some(Value::Object(kept)) = kept {
            for (k, v) in kept {
                map.entry(k).or_insert(v);
            }
        }
    }
}

impl Rules<'_> {
    fn constrain(&self, name: &str, s: &mut Map<String, Value>) {
        let l = self.limits;
        match name {
            "namespace" => {
                text(s, 1, l.namespace_chars);
                s.insert("pattern".into(), json!("^[A-Za-z0-9_.:-]+$"));
            }
            "task" => text(s, 1, l.task_chars),
            "domain" | "language" | "framework" => text(s, 1, l.label_chars),
            "tags" => {
                s.insert("maxItems".into(), json!(l.tags));
                if let Some(Value::Object(items)) = s.get_mut("items") {
                    text(items, 1, l.label_chars);
                }
            }
            "task_type" => one_of(s, TaskType::ALL.iter().map(|t| t.as_str())),
            "complexity" => one_of(s, ["simple", "moderate", "complex"]),
            "episode_id" | "session_id" => {
                s.insert("format".into(), json!("uuid"));
            }
            "tool" => text(s, 1, l.tool_chars),
            "latency_ms" => {
                s.insert("minimum".into(), json!(0));
                s.insert("maximum".into(), json!(l.step_latency_ms));
            }
            "action" => text(s, 0, l.action_chars),
            "status" => one_of(s, ["success", "error", "timeout"]),
            "output" | "error" => {
                // A string of at most N bytes has at most N characters; the byte limit
                // itself is checked by the server and stated for the model.
                text(s, 0, l.result_bytes);
                append(s, &format!("At most {} bytes (UTF-8).", l.result_bytes));
            }
            "parameters" | "metadata" => append(
                s,
                &format!(
                    "At most {} bytes as JSON, nested at most {} levels deep.",
                    l.json_bytes, l.json_depth
                ),
            ),
            "outcome" => one_of(s, OutcomeKind::ALL.iter().map(|o| o.as_str())),
            "verdict" | "reason" | "details" => text(s, 0, l.outcome_chars),
            "artifacts" | "completed" | "failed" if s.get("type") == Some(&json!("array")) => {
                s.insert("maxItems".into(), json!(l.outcome_items));
                if let Some(Value::Object(items)) = s.get_mut("items") {
                    text(items, 0, l.outcome_chars);
                }
            }
            "query" => text(s, 1, l.query_chars),
            "limit" => {
                if let Some(page) = self.page {
                    range(s, 1, page.max);
                    s.insert("default".into(), json!(page.default));
                }
            }
            "offset" => {
                s.insert("minimum".into(), json!(0));
            }
            "token_budget" => {
                range(s, l.token_budget.0, l.token_budget.1);
                s.insert("default".into(), json!(1_500));
            }
            "mode" => {
                one_of(s, ["hybrid", "text", "vector"]);
                s.insert("default".into(), json!("hybrid"));
            }
            "kind" => one_of(s, PatternKindName::ALL.iter().map(|k| k.as_str())),
            "order" => {
                one_of(s, ["confidence", "support", "lift", "recent"]);
                s.insert("default".into(), json!("confidence"));
            }
            "min_confidence" => {
                s.insert("minimum".into(), json!(0.0));
                s.insert("maximum".into(), json!(1.0));
            }
            "applied" => {
                s.insert("maxItems".into(), json!(l.list_limit));
                if let Some(Value::Object(items)) = s.get_mut("items") {
                    items.insert("format".into(), json!("uuid"));
                }
            }
            "since" | "until" => {
                s.insert("format".into(), json!("date-time"));
            }
            _ => {}
        }
    }
}

fn text(s: &mut Map<String, Value>, min: usize, max: usize) {
    if min > 0 {
        s.insert("minLength".into(), json!(min));
    }
    s.insert("maxLength".into(), json!(max));
}

fn range(s: &mut Map<String, Value>, min: usize, max: usize) {
    s.insert("minimum".into(), json!(min));
    s.insert("maximum".into(), json!(max));
}

fn one_of<'a>(s: &mut Map<String, Value>, values: impl IntoIterator<Item = &'a str>) {
    s.insert(
        "enum".into(),
        Value::Array(values.into_iter().map(|v| json!(v)).collect()),
    );
}

fn append(s: &mut Map<String, Value>, sentence: &str) {
    let description = match s.get("description").and_then(Value::as_str) {
        Some(d) => format!("{d} {sentence}"),
        None => sentence.to_string(),
    };
    s.insert("description".into(), json!(description));
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::tools::input::{LogStep, RetrieveContext, StartEpisode};

    #[test]
    fn limits_and_enums_reach_nested_fields() {
        let limits = Limits::default();
        let schema = input_schema::<StartEpisode>(&limits, None);
        let props = &schema["properties"];
        assert_eq!(schema["type"], "object");
        assert_eq!(schema["additionalProperties"], false);
        assert_eq!(schema["required"], json!(["task"]));
        assert_eq!(props["task"]["maxLength"], 4_096);
        assert_eq!(props["task"]["type"], "string");
        assert_eq!(props["namespace"]["type"], "string", "null folded away");
        assert_eq!(props["context"]["type"], "object");
        assert_eq!(props["context"]["properties"]["domain"]["maxLength"], 64);
        assert_eq!(props["context"]["properties"]["tags"]["maxItems"], 32);
        assert_eq!(
            props["context"]["properties"]["complexity"]["enum"],
            json!(["simple", "moderate", "complex"])
        );
        assert!(
            props["task_type"]["enum"]
                .as_array()
                .unwrap()
                .contains(&json!("debugging"))
        );
        assert!(
            props["metadata"]["description"]
                .as_str()
                .unwrap()
                .contains("65536 bytes as JSON")
        );
    }

    #[test]
    fn page_limit_is_per_tool() {
        let limits = Limits::default();
        let schema = input_schema::<RetrieveContext>(
            &limits,
            Some(PageLimit {
                max: 50,
                default: 5,
            }),
        );
        let limit = &schema["properties"]["limit"];
        assert_eq!(limit["maximum"], 50);
        assert_eq!(limit["minimum"], 1);
        assert_eq!(limit["default"], 5);
        assert_eq!(schema["properties"]["token_budget"]["maximum"], 32_000);
    }

    #[test]
    fn step_schema_states_byte_limits() {
        let schema = input_schema::<LogStep>(&Limits::default(), None);
        let props = &schema["properties"];
        assert_eq!(
            props["status"]["enum"],
            json!(["success", "error", "timeout"])
        );
        assert_eq!(props["tool"]["maxLength"], 128);
        assert!(
            props["output"]["description"]
                .as_str()
                .unwrap()
                .contains("65536 bytes")
        );
        let required = schema["required"].as_array().unwrap();
        for field in ["episode_id", "tool", "status"] {
            assert!(required.contains(&json!(field)), "{field} required");
        }
    }
}
