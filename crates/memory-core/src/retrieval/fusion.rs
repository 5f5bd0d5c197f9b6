//! Fusion and diversification: reciprocal-rank fusion of candidate lists, and maximal
//! marginal relevance over the embeddings of the top candidates.

/// The constant of reciprocal-rank fusion: how quickly a lower rank stops counting. 60 is the
/// value from the original RRF paper and works well without tuning.
pub const RRF_K: f64 = 60.0;

/// The reciprocal-rank-fusion score of an item ranked (1-based) in some of the lists:
/// `Σ 1 / (RRF_K + rank)`.
pub fn reciprocal_rank(ranks: &[Option<usize>]) -> f64 {
    ranks
        .iter()
        .flatten()
        .map(|r| 1.0 / (RRF_K + *r as f64))
        .sum()
}

/// Maximal marginal relevance: picks `k` items one by one, each maximising
/// `λ·score − (1−λ)·(highest similarity to an item already picked)`; returns their indexes
/// in pick order. `scores` are in `[0, 1]`; `similarity(i, j)` says how alike items are
/// (`None` when unknown, counted as 0). λ = 1 is plain ranking.
pub fn mmr(
    scores: &[f64],
    k: usize,
    lambda: f64,
    similarity: impl Fn(usize, usize) -> Option<f64>,
) -> Vec<usize> {
    let mut picked: Vec<usize> = Vec::with_capacity(k.min(scores.len()));
    let mut left: Vec<usize> = (0..scores.len()).collect();
    while picked.len() < k && !left.is_empty() {
        let (best_pos, _) = left
            .iter()
            .enumerate()
            .map(|(pos, &i)| {
                let redundancy = picked
                    .iter()
                    .filter_map(|&j| similarity(i, j))
                    .fold(0.0_f64, f64::max);
                (pos, lambda * scores[i] - (1.0 - lambda) * redundancy)
            })
            .fold((0, f64::NEG_INFINITY), |best, cur| {
                if cur.1 > best.1 { cur } else { best }
            });
        picked.push(left.remove(best_pos));
    }
    picked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rrf_rewards_agreement() {
        let both = reciprocal_rank(&[Some(3), Some(3)]);
        let one_top = reciprocal_rank(&[Some(1), None]);
        assert!(both > one_top, "{both} {one_top}");
        assert_eq!(reciprocal_rank(&[None, None]), 0.0);
        assert!((reciprocal_rank(&[Some(1)]) - 1.0 / 61.0).abs() < 1e-12);
    }

    #[test]
    fn mmr_skips_near_duplicates() {
        // Items 0 and 1 are duplicates; 2 is different and slightly less relevant.
        let scores = [1.0, 0.99, 0.9];
        let sim = |a: usize, b: usize| {
            Some(if (a == 0 && b == 1) || (a == 1 && b == 0) {
                0.99
            } else {
                0.1
            })
        };
        assert_eq!(mmr(&scores, 2, 0.7, sim), vec![0, 2]);
        assert_eq!(
            mmr(&scores, 2, 1.0, sim),
            vec![0, 1],
            "λ = 1 is plain ranking"
        );
        assert_eq!(mmr(&scores, 5, 0.7, sim).len(), 3);
    }
}
