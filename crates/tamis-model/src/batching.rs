/// Groups texts into batches of at most `batch_size`, each made of texts of similar token
/// length, so that padding every batch to its longest text wastes little work.
///
/// Returns indices into `lengths`; every index appears exactly once.
pub(crate) fn length_buckets(lengths: &[usize], batch_size: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&index| lengths[index]);
    order
        .chunks(batch_size.max(1))
        .map(<[usize]>::to_vec)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_group_similar_lengths_and_cover_every_text_once() {
        let lengths = [30, 2, 29, 3, 31, 1];
        let buckets = length_buckets(&lengths, 3);
        assert_eq!(buckets, vec![vec![5, 1, 3], vec![2, 0, 4]]);
    }

    #[test]
    fn zero_batch_size_still_makes_progress() {
        assert_eq!(length_buckets(&[1, 2], 0), vec![vec![0], vec![1]]);
    }

    #[test]
    fn no_texts_no_batches() {
        assert!(length_buckets(&[], 4).is_empty());
    }
}
