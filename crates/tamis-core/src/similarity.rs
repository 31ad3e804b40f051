/// Cosine similarity of two vectors of equal length; 0 when either has zero length.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let (mut dot, mut norm_a, mut norm_b) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        norm_a += x * x;
        norm_b += y * y;
    }
    if norm_a == 0.0 || norm_b == 0.0 {
        return 0.0;
    }
    dot / (norm_a.sqrt() * norm_b.sqrt())
}

/// Scales `vector` to unit length in place; a zero vector stays zero.
pub fn l2_normalize(vector: &mut [f32]) {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|x| *x /= norm);
    }
}

/// A candidate found by [`nearest_neighbours`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Neighbour {
    /// Index into the candidate slice.
    pub index: usize,
    /// Cosine similarity to the query.
    pub similarity: f32,
}

/// The `k` candidates most similar to `query`, best first, skipping index `exclude`
/// (the query itself when it is one of the candidates). Ties keep candidate order.
pub fn nearest_neighbours(
    query: &[f32],
    candidates: &[Vec<f32>],
    k: usize,
    exclude: Option<usize>,
) -> Vec<Neighbour> {
    let mut scored: Vec<Neighbour> = candidates
        .iter()
        .enumerate()
        .filter(|(index, _)| Some(*index) != exclude)
        .map(|(index, candidate)| Neighbour {
            index,
            similarity: cosine(query, candidate),
        })
        .collect();
    scored.sort_by(|a, b| b.similarity.total_cmp(&a.similarity));
    scored.truncate(k);
    scored
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_of_orthogonal_parallel_and_zero_vectors() {
        assert_eq!(cosine(&[1.0, 0.0], &[0.0, 2.0]), 0.0);
        assert!((cosine(&[1.0, 2.0], &[2.0, 4.0]) - 1.0).abs() < 1e-6);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 1.0]), 0.0);
    }

    #[test]
    fn l2_normalize_gives_unit_length_and_leaves_zero_alone() {
        let mut v = vec![3.0, 4.0];
        l2_normalize(&mut v);
        assert_eq!(v, vec![0.6, 0.8]);
        let mut zero = vec![0.0, 0.0];
        l2_normalize(&mut zero);
        assert_eq!(zero, vec![0.0, 0.0]);
    }

    #[test]
    fn nearest_neighbours_ranks_best_first_and_excludes_the_query() {
        let candidates = vec![vec![1.0, 0.0], vec![0.9, 0.1], vec![0.0, 1.0]];
        let found = nearest_neighbours(&candidates[0], &candidates, 2, Some(0));
        assert_eq!(
            found.iter().map(|n| n.index).collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert!(found[0].similarity > found[1].similarity);
    }
}
