//! Outcome statistics: decay over time, the Wilson lower bound, lift.

use crate::model::OutcomeStats;
use chrono::{DateTime, Utc};

/// z for a 95% two-sided interval.
const Z: f64 = 1.96;

/// The Wilson score lower bound of a success rate with `successes` out of `n` (fractional
/// counts allowed): a success rate that is honest about small samples.
pub fn wilson_lower_bound(successes: f64, n: f64) -> f64 {
    if n <= 0.0 {
        return 0.0;
    }
    let p = (successes / n).clamp(0.0, 1.0);
    let z2 = Z * Z;
    let centre = p + z2 / (2.0 * n);
    let margin = Z * ((p * (1.0 - p) + z2 / (4.0 * n)) / n).sqrt();
    ((centre - margin) / (1.0 + z2 / n)).clamp(0.0, 1.0)
}

/// The factor by which evidence `from` → `to` old is worth less: `0.5^(age / half_life)`.
pub fn decay_factor(from: DateTime<Utc>, to: DateTime<Utc>, half_life_days: f64) -> f64 {
    let age_days = (to - from).num_milliseconds().max(0) as f64 / 86_400_000.0;
    if half_life_days <= 0.0 {
        return 1.0;
    }
    0.5_f64.powf(age_days / half_life_days)
}

impl OutcomeStats {
    /// Empty statistics as of `now`.
    pub fn empty(now: DateTime<Utc>) -> Self {
        OutcomeStats {
            support: 0.0,
            successes: 0.0,
            reward_sum: 0.0,
            episodes: 0,
            successful_episodes: 0,
            updated_at: now,
        }
    }

    /// The statistics as they stand at `now`, decayed since they were last updated.
    pub fn at(&self, now: DateTime<Utc>, half_life_days: f64) -> OutcomeStats {
        let f = decay_factor(self.updated_at, now, half_life_days);
        OutcomeStats {
            support: self.support * f,
            successes: self.successes * f,
            reward_sum: self.reward_sum * f,
            updated_at: now.max(self.updated_at),
            ..self.clone()
        }
    }

    /// Adds one episode with success weight `success` (1, 0.5 or 0) and `reward` at `now`.
    pub fn record(&mut self, success: f64, reward: f64, now: DateTime<Utc>, half_life_days: f64) {
        *self = self.at(now, half_life_days);
        self.support += 1.0;
        self.successes += success;
        self.reward_sum += reward;
        self.episodes += 1;
        if success >= 1.0 {
            self.successful_episodes += 1;
        }
    }

    /// Takes back one episode that [`OutcomeStats::record`] added at `at` with `success`
    /// and `reward`: its weight, decayed from `at` to when the statistics were last brought
    /// up to date, comes off the sums, and it no longer counts in the raw counts. With no
    /// episode left, the sums are exactly zero (not a rounding residue).
    pub fn forget(&mut self, success: f64, reward: f64, at: DateTime<Utc>, half_life_days: f64) {
        let weight = decay_factor(at, self.updated_at, half_life_days);
        self.episodes = self.episodes.saturating_sub(1);
        if success >= 1.0 {
            self.successful_episodes = self.successful_episodes.saturating_sub(1);
        }
        if self.episodes == 0 {
            self.support = 0.0;
            self.successes = 0.0;
            self.reward_sum = 0.0;
            return;
        }
        self.support = (self.support - weight).max(0.0);
        self.successes = (self.successes - weight * success).clamp(0.0, self.support);
        self.reward_sum -= weight * reward;
    }

    /// Decayed success rate (0 with no support).
    pub fn success_rate(&self) -> f64 {
        if self.support > 0.0 {
            (self.successes / self.support).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }

    /// Wilson lower bound of the decayed success rate.
    pub fn confidence(&self) -> f64 {
        wilson_lower_bound(self.successes, self.support)
    }

    /// Wilson lower bound of the decayed failure rate.
    pub fn failure_confidence(&self) -> f64 {
        wilson_lower_bound(self.support - self.successes, self.support)
    }

    /// Mean decayed reward.
    pub fn mean_reward(&self) -> f64 {
        if self.support > 0.0 {
            self.reward_sum / self.support
        } else {
            0.0
        }
    }
}

/// Success rate of a pattern relative to its context's baseline rate; 1.0 when unknown.
pub fn lift(pattern_rate: f64, baseline_rate: f64) -> f64 {
    if baseline_rate <= 0.0 {
        return if pattern_rate > 0.0 { 2.0 } else { 1.0 };
    }
    (pattern_rate / baseline_rate).min(10.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use proptest::prelude::*;

    proptest! {
        /// Forgetting one of the episodes recorded leaves the statistics of the others alone,
        /// whatever the order, times and outcomes (compared at one time).
        #[test]
        fn forgetting_an_episode_leaves_the_others(
            episodes in prop::collection::vec((0u8..3, 0.0f64..1.0, 0i64..400), 1..12),
            pick in any::<prop::sample::Index>(),
        ) {
            let t0 = chrono::DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap_or_default();
            let gone = pick.index(episodes.len());
            let mut all = OutcomeStats::empty(t0);
            let mut others = OutcomeStats::empty(t0);
            let mut when = t0;
            for (i, (outcome, reward, gap)) in episodes.iter().enumerate() {
                when += Duration::hours(*gap);
                let success = f64::from(*outcome) / 2.0;
                all.record(success, *reward, when, 30.0);
                if i != gone {
                    others.record(success, *reward, when, 30.0);
                }
            }
            let (outcome, reward, _) = episodes[gone];
            let gone_at = t0 + Duration::hours(episodes[..=gone].iter().map(|e| e.2).sum());
            all.forget(f64::from(outcome) / 2.0, reward, gone_at, 30.0);
            let end = when + Duration::days(3);
            let (a, b) = (all.at(end, 30.0), others.at(end, 30.0));
            prop_assert_eq!(a.episodes, b.episodes);
            prop_assert_eq!(a.successful_episodes, b.successful_episodes);
            prop_assert!((a.support - b.support).abs() < 1e-9, "{:?} {:?}", a, b);
            prop_assert!((a.successes - b.successes).abs() < 1e-9, "{:?} {:?}", a, b);
            prop_assert!((a.reward_sum - b.reward_sum).abs() < 1e-9, "{:?} {:?}", a, b);
        }
    }

    #[test]
    fn wilson_is_cautious_with_few_samples() {
        assert_eq!(wilson_lower_bound(0.0, 0.0), 0.0);
        let two = wilson_lower_bound(2.0, 2.0);
        let twenty = wilson_lower_bound(20.0, 20.0);
        assert!(two < 0.4 && twenty > 0.8, "{two} {twenty}");
        let seven_of_eight = wilson_lower_bound(7.0, 8.0);
        assert!((seven_of_eight - 0.529).abs() < 0.01, "{seven_of_eight}");
    }

    #[test]
    fn stats_halve_after_half_life() {
        let t0 = Utc::now();
        let mut s = OutcomeStats::empty(t0);
        s.record(1.0, 0.9, t0, 30.0);
        s.record(0.0, 0.0, t0, 30.0);
        let later = s.at(t0 + Duration::days(30), 30.0);
        assert!((later.support - 1.0).abs() < 1e-9);
        assert!((later.successes - 0.5).abs() < 1e-9);
        assert_eq!(later.episodes, 2);
        assert!((later.success_rate() - 0.5).abs() < 1e-9);
        assert!(
            later.confidence() < s.confidence(),
            "less evidence, less confidence"
        );
    }

    #[test]
    fn lift_against_baseline() {
        assert_eq!(lift(0.8, 0.4), 2.0);
        assert_eq!(lift(0.0, 0.0), 1.0);
    }
}
