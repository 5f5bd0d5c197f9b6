//! Ranking-quality metrics over graded relevance, as pure functions of grade lists.
//!
//! A ranking is given as the **grades of the returned items, in rank order** (`ranked[0]` is
//! the grade of the first hit). Grades are 0..=3 (see [`super::grade`]); an item is
//! **relevant** when its grade is at least [`RELEVANT_GRADE`] (2: an episode of the very
//! problem asked about). Keeping the metrics free of ids and storage makes them easy to check
//! on hand-made rankings.

/// The smallest grade that counts as relevant for recall and reciprocal rank.
pub const RELEVANT_GRADE: u8 = 2;

/// Recall at `k`, capped: the share of the relevant items that a perfect top `k` could hold
/// which the actual top `k` holds:
///
/// `|{i < k : ranked[i] ≥ 2}| / min(k, relevant_total)`
///
/// where `relevant_total` is the number of relevant (grade ≥ 2) items in the whole corpus.
/// The denominator is capped at `k` because a query here typically has dozens of relevant
/// episodes: plain recall (`/ relevant_total`) could then never exceed `k / relevant_total`
/// and would mostly measure corpus size, while the capped form is 1.0 exactly when the top
/// `k` is all relevant (or holds every relevant item when there are fewer than `k`). This is
/// the "R_cap@k" of BEIR. 0 when nothing is relevant.
pub fn recall_at_k(ranked: &[u8], relevant_total: usize, k: usize) -> f64 {
    let denominator = relevant_total.min(k);
    if denominator == 0 {
        return 0.0;
    }
    let hits = ranked
        .iter()
        .take(k)
        .filter(|g| **g >= RELEVANT_GRADE)
        .count();
    hits as f64 / denominator as f64
}

/// Reciprocal rank: `1 / r` where `r` is the (1-based) rank of the first relevant
/// (grade ≥ 2) item, 0 when none was returned. Averaged over queries it is the MRR.
pub fn reciprocal_rank(ranked: &[u8]) -> f64 {
    ranked
        .iter()
        .position(|g| *g >= RELEVANT_GRADE)
        .map_or(0.0, |i| 1.0 / (i + 1) as f64)
}

/// Discounted cumulative gain of the first `k` grades, with gain `2^grade − 1` and discount
/// `log2(rank + 1)`.
pub fn dcg_at_k(ranked: &[u8], k: usize) -> f64 {
    ranked
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, g)| (2f64.powi(i32::from(*g)) - 1.0) / ((i + 2) as f64).log2())
        .sum()
}

/// Normalised DCG at `k`: [`dcg_at_k`] of the ranking divided by the DCG of the ideal
/// ranking, which is `labelled` (the grades of **every** labelled item in the corpus for this
/// query, in any order; zeros may be left out) sorted best first. In `[0, 1]`; 0 when no item
/// has a positive grade.
pub fn ndcg_at_k(ranked: &[u8], labelled: &[u8], k: usize) -> f64 {
    let mut ideal = labelled.to_vec();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let best = dcg_at_k(&ideal, k);
    if best <= 0.0 {
        return 0.0;
    }
    (dcg_at_k(ranked, k) / best).clamp(0.0, 1.0)
}

/// The `q`-quantile of already sorted `values`, by nearest rank; 0 when empty.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn recall_counts_relevant_hits_in_the_top_k() {
        // Grades 3 and 2 are relevant; 1 and 0 are not.
        let ranked = [0, 3, 1, 2, 0, 0, 3, 0, 0, 0];
        assert!(close(recall_at_k(&ranked, 50, 5), 2.0 / 5.0));
        assert!(close(recall_at_k(&ranked, 50, 10), 3.0 / 10.0));
        // Fewer relevant items than k: the denominator is the number that exists.
        assert!(close(recall_at_k(&ranked, 3, 10), 1.0));
        assert!(close(recall_at_k(&ranked, 4, 10), 3.0 / 4.0));
        assert!(close(recall_at_k(&[3, 3, 3, 3, 3], 40, 5), 1.0));
        // Short rankings and empty corpora.
        assert!(close(recall_at_k(&[2], 40, 5), 1.0 / 5.0));
        assert_eq!(recall_at_k(&[], 10, 5), 0.0);
        assert_eq!(recall_at_k(&[3, 3], 0, 5), 0.0);
    }

    #[test]
    fn reciprocal_rank_of_the_first_relevant_hit() {
        assert_eq!(reciprocal_rank(&[3, 0, 0]), 1.0);
        assert!(close(reciprocal_rank(&[1, 0, 2, 3]), 1.0 / 3.0));
        assert_eq!(reciprocal_rank(&[1, 1, 0]), 0.0, "grade 1 is not relevant");
        assert_eq!(reciprocal_rank(&[]), 0.0);
    }

    #[test]
    fn dcg_uses_exponential_gain_and_log_discount() {
        // (2^3-1)/log2(2) + (2^0-1)/log2(3) + (2^2-1)/log2(4) = 7 + 0 + 1.5
        assert!(close(dcg_at_k(&[3, 0, 2], 10), 8.5));
        assert!(close(dcg_at_k(&[3, 0, 2], 1), 7.0));
        assert_eq!(dcg_at_k(&[], 10), 0.0);
    }

    #[test]
    fn ndcg_against_the_ideal_ordering_of_all_labels() {
        // The ideal is built from every labelled item, not only the returned ones.
        let labelled = [1, 3, 2, 3];
        assert!(close(ndcg_at_k(&[3, 3, 2, 1], &labelled, 10), 1.0));
        let ideal = 7.0 + 7.0 / 3f64.log2() + 3.0 / 2.0 + 1.0 / 5f64.log2();
        let got = 3.0 + 7.0 / 3f64.log2(); // [2, 3]
        assert!(close(ndcg_at_k(&[2, 3], &labelled, 10), got / ideal));
        // Perfect within the cut-off counts as perfect.
        assert!(close(ndcg_at_k(&[3, 3], &[3, 3, 3, 2], 2), 1.0));
        assert_eq!(ndcg_at_k(&[0, 0], &labelled, 10), 0.0);
        assert_eq!(ndcg_at_k(&[3], &[0, 0], 10), 0.0, "nothing relevant exists");
        // Order matters: the same items, worse order, lower score.
        assert!(ndcg_at_k(&[1, 2, 3, 3], &labelled, 10) < ndcg_at_k(&[3, 3, 2, 1], &labelled, 10));
    }

    #[test]
    fn nearest_rank_quantiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), 50.0);
        assert_eq!(quantile(&v, 0.95), 95.0);
        assert_eq!(quantile(&[4.0], 0.95), 4.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
    }
}
