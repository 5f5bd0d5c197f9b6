//! The storage conformance suite: what every `StorageBackend` must do, written once and run
//! against each backend — `InMemoryStorage` (`memory-core/tests/in_memory.rs`) and the
//! libSQL `TursoStorage` on a file, a `sqld` server or an embedded replica
//! (`memory-storage-turso/tests/conformance.rs`, which includes this directory by path).
//!
//! Each check is a `pub async fn check(store: Arc<dyn StorageBackend>)` that starts from an
//! empty store and panics on the first disagreement with the contract. A backend's test
//! file runs them all with [`conformance_tests!`], one named `#[tokio::test]` per check, so
//! a failure names the behaviour:
//!
//! ```ignore
//! mod conformance;
//! async fn store() -> ((), Arc<dyn StorageBackend>) { ((), Arc::new(InMemoryStorage::new())) }
//! conformance::conformance_tests!(store());
//! ```
//!
//! The expression given must be a future of `(guard, store)`: the guard (a temporary
//! directory, a server) is kept alive until the check ends.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

mod builders;
mod episodes;
mod graph;
mod learning;
mod search;
mod transfer;
mod vectors;

pub use episodes::*;
pub use graph::*;
pub use learning::*;
pub use search::*;
pub use transfer::*;
pub use vectors::*;

/// Expands to one `#[tokio::test]` per conformance check, each running the check on a
/// fresh store from `$store` (a future of `(guard, Arc<dyn StorageBackend>)`).
macro_rules! conformance_tests {
    ($store:expr) => {
        $crate::conformance::conformance_tests!(@each $store;
            // Episodes.
            episode_round_trips_and_ids_are_unique,
            misnumbered_steps_are_refused,
            steps_are_numbered_and_bounded,
            completion_records_outcome_and_refuses_misuse,
            listing_is_newest_first_with_ties_by_id,
            listing_filters_match_every_set_field,
            cursor_pages_equal_offset_pages,
            delete_removes_the_episode_and_what_hangs_off_it,
            comparable_costs_are_newest_first,
            idle_running_lists_quiet_running_episodes,
            counts_by_outcome_and_namespaces,
            storage_stats_count_everything,
            namespaces_isolate_everything,
            // Full-text search.
            text_search_finds_completed_episodes_by_stem,
            text_search_ranks_and_covers,
            // Learning and sessions.
            completions_merge_into_patterns,
            delete_takes_back_what_an_episode_taught,
            pattern_listing_filters_and_orders,
            feedback_credits_applied_patterns_once,
            completion_gives_its_session_feedback,
            sessions_are_kept_by_retention,
            // Vectors.
            vector_space_rules,
            vector_search_by_best_chunk_cosine,
            pending_embeddings_work_list,
            embedding_cache_round_trips,
            // Graph.
            relationships_store_list_and_delete,
            acyclic_kinds_refuse_cycles,
            checkpoints_record_the_step_count,
            // Transfer and retention.
            batches_are_all_or_nothing,
            export_snapshot_pages_one_moment,
            garbage_collection_follows_the_plan,
        );
    };
    (@each $store:expr; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $check() {
                let (_guard, store) = $store.await;
                $crate::conformance::$check(store).await;
            }
        )*
    };
}

pub(crate) use conformance_tests;
