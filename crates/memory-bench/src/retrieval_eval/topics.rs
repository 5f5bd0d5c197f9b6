//! The hand-written material of the retrieval corpus: domains, toolchains ("kits") and
//! topics.
//!
//! A **topic** is one concrete problem an agent meets (for example "Postgres connection pool
//! exhausted under load in a Go API"), written twice, in two vocabularies:
//! - the **stored side** (`tasks`, `probes`, `errors`, `fixes`, `verdicts`) is how an agent
//!   records an episode about it: the task as filed, the commands it ran, the real-looking
//!   error messages it met, the change that fixed it and the verdict;
//! - the **query side** (`queries`) is how a different agent, later, asks about the same
//!   problem: synonyms, paraphrase, partial symptoms, no copied phrases. These phrasings are
//!   held out — they appear in no stored template — so retrieval must bridge the vocabulary
//!   gap the way it would have to in real use.
//!
//! Topics in the same domain and **family** are related problems (an answer to one is some
//! help for the other). Several topics are deliberate **near misses**: they share surface
//! words with another topic's stored text or queries ("pool", "out of memory", "timeout",
//! "twice", "lock", "traffic spike") while being different problems, so lexical overlap alone
//! misleads.
//!
//! Templates may contain `{subject}` (a service, table, screen… of the domain), `{file}` (a
//! path of the topic's kit), `{n}` and `{line}` (numbers); the generator fills them in.
//!
//! The material itself is data, not code: [`DATA_FILE`] (JSON: `domains`, `kits` and
//! `topics`, one object each, fields in the order of the structs below, a step template as
//! `{"tool", "action", "result"}`). It is compiled into the crate and parsed and checked
//! once, on first use ([`domains`], [`kits`], [`topics`]); the order of each list is part of
//! the corpus (the generator draws by index), so reordering it changes every figure.

use memory_core::TaskType;
use serde::Deserialize;
use std::collections::HashSet;
use std::sync::LazyLock;

/// The data file, as named in every error about it (relative to the repository root).
pub(super) const DATA_FILE: &str = "crates/memory-bench/data/retrieval_topics.json";

/// The data file's contents, compiled in.
const DATA: &str = include_str!("../../data/retrieval_topics.json");

/// The material, parsed and checked on first use. The file is compiled in, so a malformed
/// one is a build of this crate that cannot run the evaluation: it panics with the error,
/// which names the file (and `cargo test -p memory-bench` fails first, on the check below).
static MATERIAL: LazyLock<Material> =
    LazyLock::new(|| Material::parse(DATA).unwrap_or_else(|e| panic!("{e}")));

/// Every domain, in the data file's order.
pub(super) fn domains() -> &'static [Domain] {
    &MATERIAL.domains
}

/// Every kit, in the data file's order.
pub(super) fn kits() -> &'static [Kit] {
    &MATERIAL.kits
}

/// Every topic of the corpus, in the data file's order (a topic's index is its id in labels
/// and queries).
pub(super) fn topics() -> &'static [Topic] {
    &MATERIAL.topics
}

/// A step template as the generator uses it: tool, action, and the tool's output (for a
/// probe or a fix) or error message (for an error).
pub(super) type StepT = (&'static str, &'static str, &'static str);

/// A step template of the data file (see [`StepT`]).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Step {
    /// The tool called.
    pub tool: String,
    /// What was done with it.
    pub action: String,
    /// The tool's output (a probe, a fix) or the error message (an error).
    pub result: String,
}

impl Step {
    /// The template as `(tool, action, result)`.
    pub(super) fn parts(&self) -> (&str, &str, &str) {
        (&self.tool, &self.action, &self.result)
    }
}

/// A problem area: its context tags and the things its tasks are about.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Domain {
    /// The `TaskContext::domain` of its episodes.
    pub name: String,
    /// Context tags, some of which each episode carries.
    pub tags: Vec<String>,
    /// Values of `{subject}`.
    pub subjects: Vec<String>,
}

/// A toolchain: where the files are and how a fix is checked.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Kit {
    /// The name topics refer to it by.
    pub name: String,
    /// Values of `{file}` (may contain `{subject}`).
    pub files: Vec<String>,
    /// Steps that confirm a fix.
    pub verify: Vec<Step>,
}

/// One concrete problem, in its stored and its query vocabulary (see the module docs).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Topic {
    /// A stable, unique key.
    pub key: String,
    /// The [`Domain`] name.
    pub domain: String,
    /// The problem family inside the domain; same domain and family means "related".
    pub family: String,
    /// `TaskContext::language`.
    pub language: String,
    /// `TaskContext::framework`.
    pub framework: String,
    /// The [`Kit`] name.
    pub kit: String,
    /// The task type (its snake_case name in the file, e.g. `debugging`).
    pub kind: TaskType,
    /// Task descriptions as recorded (stored side).
    pub tasks: Vec<String>,
    /// Diagnostic steps that succeed.
    pub probes: Vec<Step>,
    /// Steps that fail, with the error message.
    pub errors: Vec<Step>,
    /// The changes that fix the problem.
    pub fixes: Vec<Step>,
    /// Verdicts of a successful episode.
    pub verdicts: Vec<String>,
    /// Held-out query phrasings (query side).
    pub queries: Vec<String>,
}

/// The whole data file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Material {
    /// The problem areas.
    pub domains: Vec<Domain>,
    /// The toolchains.
    pub kits: Vec<Kit>,
    /// The problems.
    pub topics: Vec<Topic>,
}

/// Why the data file cannot be used; the message names [`DATA_FILE`].
#[derive(Debug, thiserror::Error)]
pub(super) enum TopicsError {
    /// Not JSON of the expected shape (the message gives the line and column).
    #[error("{DATA_FILE}: not valid retrieval topic data: {0}")]
    Parse(#[from] serde_json::Error),
    /// Well-formed, but not something the generator can draw from.
    #[error("{DATA_FILE}: {0}")]
    Invalid(String),
}

impl Material {
    /// Parses the data file's `text` and checks what the generator relies on: every list it
    /// draws from is non-empty, names and keys are unique, and every topic's domain and kit
    /// exist.
    pub(super) fn parse(text: &str) -> Result<Material, TopicsError> {
        let material: Material = serde_json::from_str(text)?;
        material.check()?;
        Ok(material)
    }

    fn check(&self) -> Result<(), TopicsError> {
        let invalid = |what: String| Err(TopicsError::Invalid(what));
        if self.domains.is_empty() || self.kits.is_empty() || self.topics.is_empty() {
            return invalid("needs at least one domain, one kit and one topic".into());
        }
        let mut domains = HashSet::new();
        for d in &self.domains {
            if !domains.insert(d.name.as_str()) {
                return invalid(format!("domain `{}` appears twice", d.name));
            }
            if d.subjects.is_empty() {
                return invalid(format!("domain `{}` has no subjects", d.name));
            }
        }
        let mut kits = HashSet::new();
        for k in &self.kits {
            if !kits.insert(k.name.as_str()) {
                return invalid(format!("kit `{}` appears twice", k.name));
            }
            if k.files.is_empty() || k.verify.is_empty() {
                return invalid(format!("kit `{}` needs files and verify steps", k.name));
            }
        }
        let mut keys = HashSet::new();
        for t in &self.topics {
            if !keys.insert(t.key.as_str()) {
                return invalid(format!("topic key `{}` appears twice", t.key));
            }
            if !domains.contains(t.domain.as_str()) {
                return invalid(format!("topic `{}`: no domain `{}`", t.key, t.domain));
            }
            if !kits.contains(t.kit.as_str()) {
                return invalid(format!("topic `{}`: no kit `{}`", t.key, t.kit));
            }
            let empty = [
                ("tasks", t.tasks.is_empty()),
                ("probes", t.probes.is_empty()),
                ("errors", t.errors.is_empty()),
                ("fixes", t.fixes.is_empty()),
                ("verdicts", t.verdicts.is_empty()),
                ("queries", t.queries.is_empty()),
            ];
            if let Some((list, _)) = empty.iter().find(|(_, is_empty)| *is_empty) {
                return invalid(format!("topic `{}` has no {list}", t.key));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// The size of the corpus every published figure was measured on.
    const DOMAIN_COUNT: usize = 23;
    const KIT_COUNT: usize = 18;
    const TOPIC_COUNT: usize = 96;

    #[test]
    fn the_data_file_loads_whole() {
        let material = Material::parse(DATA).unwrap();
        assert_eq!(material.domains.len(), DOMAIN_COUNT);
        assert_eq!(material.kits.len(), KIT_COUNT);
        assert_eq!(material.topics.len(), TOPIC_COUNT);
        let keys: HashSet<&str> = material.topics.iter().map(|t| t.key.as_str()).collect();
        assert_eq!(keys.len(), material.topics.len(), "topic keys are unique");
        for t in &material.topics {
            assert!(
                material.domains.iter().any(|d| d.name == t.domain),
                "{}",
                t.key
            );
            assert!(material.kits.iter().any(|k| k.name == t.kit), "{}", t.key);
        }
        // The lazily loaded copy is the same material.
        assert_eq!(topics().len(), TOPIC_COUNT);
        assert_eq!(topics()[0].key, material.topics[0].key);
        assert_eq!(domains().len(), DOMAIN_COUNT);
        assert_eq!(kits().len(), KIT_COUNT);
    }

    #[test]
    fn a_malformed_file_is_refused_naming_it() {
        let cases = [
            ("{", "not valid retrieval topic data"),
            (
                r#"{"domains": [], "kits": [], "topics": [], "extra": 1}"#,
                "unknown field",
            ),
            (
                r#"{"domains": [], "kits": [], "topics": []}"#,
                "at least one domain",
            ),
        ];
        for (text, says) in cases {
            let err = Material::parse(text).unwrap_err().to_string();
            assert!(err.starts_with(DATA_FILE), "{err}");
            assert!(err.contains(says), "{err}");
        }
        // A topic whose kit does not exist, a duplicate key, an unknown task type, a topic
        // with nothing to fix it.
        let mut value: serde_json::Value = serde_json::from_str(DATA).unwrap();
        value["topics"][0]["kit"] = "no-such-kit".into();
        let err = Material::parse(&value.to_string()).unwrap_err().to_string();
        assert!(err.contains("no kit `no-such-kit`"), "{err}");
        let mut value: serde_json::Value = serde_json::from_str(DATA).unwrap();
        value["topics"][1]["key"] = value["topics"][0]["key"].clone();
        let err = Material::parse(&value.to_string()).unwrap_err().to_string();
        assert!(err.contains("appears twice"), "{err}");
        let mut value: serde_json::Value = serde_json::from_str(DATA).unwrap();
        value["topics"][0]["kind"] = "sleeping".into();
        let err = Material::parse(&value.to_string()).unwrap_err().to_string();
        assert!(
            err.starts_with(DATA_FILE) && err.contains("sleeping"),
            "{err}"
        );
        let mut value: serde_json::Value = serde_json::from_str(DATA).unwrap();
        value["topics"][0]["fixes"] = serde_json::json!([]);
        let err = Material::parse(&value.to_string()).unwrap_err().to_string();
        assert!(err.contains("has no fixes"), "{err}");
    }
}
