//! The facade's learned knowledge: listing and loading patterns, and the heuristics they
//! justify now.

use super::SelfLearningMemory;
use crate::error::{MemoryError, Result};
use crate::learning::heuristics;
use crate::model::{Heuristic, Pattern};
use crate::storage::PatternFilter;
use uuid::Uuid;

impl SelfLearningMemory {
    /// Lists learned patterns.
    pub async fn list_patterns(&self, filter: &PatternFilter) -> Result<Vec<Pattern>> {
        self.timed("list_patterns", async {
            self.config.limits.check_namespace(&filter.namespace)?;
            self.config.limits.check_list_limit(filter.limit)?;
            self.storage.list_patterns(filter).await
        })
        .await
    }

    /// Loads one pattern.
    pub async fn get_pattern(&self, namespace: &str, pattern_id: Uuid) -> Result<Pattern> {
        self.timed("get_pattern", async {
            self.config.limits.check_namespace(namespace)?;
            self.storage
                .get_pattern(namespace, pattern_id)
                .await?
                .ok_or_else(|| MemoryError::NotFound {
                    kind: "pattern",
                    id: pattern_id.to_string(),
                    namespace: namespace.to_string(),
                })
        })
        .await
    }

    /// The heuristics the patterns matching `filter` justify now, most confident first.
    pub async fn heuristics(&self, filter: &PatternFilter) -> Result<Vec<Heuristic>> {
        self.timed("heuristics", async {
            let mut wide = filter.clone();
            wide.min_episodes = wide.min_episodes.max(self.config.learning.min_support);
            wide.limit = self.config.limits.list_limit;
            wide.offset = 0;
            let patterns = self.list_patterns(&wide).await?;
            let mut rules = heuristics(&patterns, self.clock.now(), &self.config.learning);
            rules.truncate(filter.limit);
            Ok(rules)
        })
        .await
    }
}
