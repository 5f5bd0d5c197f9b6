//! Retrieval: turning a new task into the most useful past experience, as a context pack.
//!
//! The flow is: [`query_terms`] extracts search terms; the storage backend returns BM25
//! candidates (plus recent episodes from the same domain, so a context match can surface
//! even without shared words); [`rank`] scores them; [`render_pack`] writes the Markdown
//! pack within the token budget. Later work replaces the ranking core behind [`rank`] only.

mod pack;
mod query;
mod rank;
mod recommend;

pub use pack::{ContextPack, RetrievedEpisode, estimate_tokens, render_pack};
pub use query::{RetrievalQuery, query_terms};
pub use rank::{Candidate, RankingConfig, ScoreBreakdown, Scored, rank};
pub use recommend::{Playbook, PlaybookStep, Recommendations, RecommendedPattern, recommend};
