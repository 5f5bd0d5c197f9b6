//! Retrieval: turning a new task into the most useful past experience, as a context pack.
//!
//! The flow is: [`query_terms`] extracts search terms and the embedder turns the query into a
//! vector; the storage backend returns BM25 candidates and nearest-vector candidates (plus
//! recent episodes from the same domain, so a context match can surface even without shared
//! words); [`rank`] fuses the two lists' scores (the vectors weighted by how far their embedder is
//! trusted, [`Fusion`]) and adds the soft signals;
//! [`mmr`] diversifies the top; [`select_neighbourhood`] keeps the candidates similar enough
//! to the task for [`advise`] to draw plans and recoveries from their outcomes;
//! [`recommend`] turns that advice and the learned patterns into a playbook (or options to
//! explore), rules and recoveries; [`render_pack`] writes the Markdown pack within the budget.

mod advice;
mod fusion;
mod neighbourhood;
mod pack;
mod query;
mod rank;
mod recommend;

pub use advice::{
    Advice, KnownRecovery, NeighbourhoodConfig, PlanEvidence, PlanOption, PlanOrigin, PlanStatus,
    SimilarEpisode, advise,
};
pub use fusion::mmr;
pub use neighbourhood::{select as select_neighbourhood, similarity as neighbour_similarity};
pub use pack::{ContextPack, RelatedLink, RetrievedEpisode, estimate_tokens, render_pack};
pub use query::{RetrievalMode, RetrievalQuery, query_terms};
pub use rank::{
    Candidate, Fusion, RankingConfig, ScoreBreakdown, Scored, rank, text_trust, vector_trust,
};
pub use recommend::{
    Exploration, Playbook, PlaybookStep, Recommendations, RecommendedPattern, recommend,
};
