//! How a backend folds a completed episode's lessons into what it stores, and takes a
//! deleted episode's lessons back: the rules every backend shares, the storage left to it.
//! Baselines are a namespace's context statistics keyed by [`PatternScope::key`].
//!
//! [`PatternScope::key`]: crate::PatternScope::key

use crate::{Mined, Observation, OutcomeStats, Pattern, ValidationError};
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// Checks the numbers a completion feeds into the statistics (`half_life_days` and what
/// it `learned`): a NaN or an infinity would be stored as JSON `null` and make the pattern
/// unreadable, so it is refused up front.
pub fn check_learned(learned: &Mined, half_life_days: f64) -> Result<(), ValidationError> {
    let finite = |field: String, value: f64| {
        if value.is_finite() {
            Ok(())
        } else {
            Err(ValidationError::new(
                field,
                format!("is {value}; it must be a finite number"),
            ))
        }
    };
    if half_life_days.is_nan() {
        return Err(ValidationError::new(
            "half_life_days",
            "is NaN; it must be a number of days",
        ));
    }
    finite("learned.success".into(), learned.success)?;
    finite("learned.reward".into(), learned.reward)?;
    for (i, obs) in learned.observations.iter().enumerate() {
        finite(format!("learned.observations[{i}].success"), obs.success)?;
        finite(format!("learned.observations[{i}].reward"), obs.reward)?;
    }
    Ok(())
}

/// Counts a completing episode once in each context it lists (a context listed twice
/// counts once), updating `baselines`; returns those contexts' new statistics, for the
/// backend to store.
pub fn count_in_contexts(
    learned: &Mined,
    baselines: &mut HashMap<String, OutcomeStats>,
    now: DateTime<Utc>,
    half_life_days: f64,
) -> Vec<(String, OutcomeStats)> {
    let mut counted: Vec<(String, OutcomeStats)> = Vec::with_capacity(learned.contexts.len());
    for scope in &learned.contexts {
        let key = scope.key();
        if counted.iter().any(|(k, _)| *k == key) {
            continue;
        }
        let mut stats = baselines
            .remove(&key)
            .unwrap_or_else(|| OutcomeStats::empty(now));
        stats.record(learned.success, learned.reward, now, half_life_days);
        counted.push((key, stats));
    }
    baselines.extend(counted.iter().cloned());
    counted
}

/// Takes a deleted episode back from each stored context it was counted in, updating
/// `baselines`; returns each changed context with its statistics, or `None` for one left
/// with no episode (which the backend deletes).
pub fn uncount_in_contexts(
    learned: &Mined,
    baselines: &mut HashMap<String, OutcomeStats>,
    at: DateTime<Utc>,
    half_life_days: f64,
) -> Vec<(String, Option<OutcomeStats>)> {
    let mut seen: HashSet<String> = HashSet::with_capacity(learned.contexts.len());
    let mut changed = Vec::with_capacity(learned.contexts.len());
    for scope in &learned.contexts {
        let key = scope.key();
        if !seen.insert(key.clone()) {
            continue;
        }
        let Some(stats) = baselines.get_mut(&key) else {
            continue;
        };
        stats.forget(learned.success, learned.reward, at, half_life_days);
        let kept = (stats.episodes > 0).then(|| stats.clone());
        changed.push((key, kept));
    }
    changed
}

/// The observations of `learned` to merge into patterns, each signature once (the first
/// observation of it), with the baseline of its scope.
pub fn observations_to_merge<'a>(
    learned: &'a Mined,
    baselines: &HashMap<String, OutcomeStats>,
    now: DateTime<Utc>,
) -> Vec<(&'a Observation, OutcomeStats)> {
    let mut merged: HashSet<&str> = HashSet::with_capacity(learned.observations.len());
    learned
        .observations
        .iter()
        .filter(|obs| merged.insert(obs.signature.as_str()))
        .map(|obs| {
            let baseline = baselines
                .get(&obs.scope.key())
                .cloned()
                .unwrap_or_else(|| OutcomeStats::empty(now));
            (obs, baseline)
        })
        .collect()
}

/// Takes a deleted episode's share back from a pattern it fed: through its observation of
/// the pattern's signature, or, for a pattern its record names without one, through a plain
/// observation of its outcome. A pattern left with no episode should then be deleted.
pub fn forget_in_pattern(
    pattern: &mut Pattern,
    learned: &Mined,
    episode_id: Uuid,
    baselines: &HashMap<String, OutcomeStats>,
    at: DateTime<Utc>,
    half_life_days: f64,
) {
    let plain;
    let obs = match learned
        .observations
        .iter()
        .find(|o| o.signature == pattern.signature)
    {
        Some(obs) => obs,
        None => {
            plain = Observation {
                kind: pattern.kind.clone(),
                scope: pattern.scope.clone(),
                signature: pattern.signature.clone(),
                success: learned.success,
                reward: learned.reward,
                episode_id,
                example: None,
            };
            &plain
        }
    };
    let baseline = baselines
        .get(&pattern.scope.key())
        .cloned()
        .unwrap_or_else(|| OutcomeStats::empty(at));
    pattern.forget(obs, &baseline, at, half_life_days);
}
