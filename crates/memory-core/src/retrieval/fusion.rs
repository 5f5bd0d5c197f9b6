//! Diversification: maximal marginal relevance over the embeddings of the top candidates
//! (the fusion of the text and vector lists is part of the ranking, in `rank`).

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
