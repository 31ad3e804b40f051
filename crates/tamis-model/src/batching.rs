use tamis_core::Embedding;

use crate::{ModelError, TextTokenizer, TokenizedText};

/// Groups texts into batches of at most `batch_size`, each made of texts of similar token
/// length, so that padding every batch to its longest text wastes little work.
///
/// Returns indices into `lengths`; every index appears exactly once.
///
/// ```
/// assert_eq!(tamis_model::length_buckets(&[9, 1, 8, 2], 2), vec![vec![1, 3], vec![2, 0]]);
/// ```
pub fn length_buckets(lengths: &[usize], batch_size: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&index| lengths[index]);
    order
        .chunks(batch_size.max(1))
        .map(<[usize]>::to_vec)
        .collect()
}

/// Texts tokenized and grouped into batches of similar length: the batching every encoder of
/// this crate shares, whether it runs batches synchronously ([`embed_in_batches`]) or awaits
/// them (the GPU encoder in a browser).
pub struct BatchPlan {
    tokenized: Vec<TokenizedText>,
    buckets: Vec<Vec<usize>>,
}

impl BatchPlan {
    /// Tokenizes `texts` and groups them into batches of at most `batch_size`.
    pub fn new(
        tokenizer: &TextTokenizer,
        texts: &[&str],
        batch_size: usize,
    ) -> Result<Self, ModelError> {
        let tokenized = tokenizer.tokenize(texts)?;
        let lengths: Vec<usize> = tokenized.iter().map(|t| t.ids.len()).collect();
        let buckets = length_buckets(&lengths, batch_size);
        Ok(Self { tokenized, buckets })
    }

    /// The batches, in the order [`BatchPlan::assemble`] expects their vectors.
    pub fn batches(&self) -> impl Iterator<Item = Vec<&TokenizedText>> {
        self.buckets
            .iter()
            .map(|bucket| bucket.iter().map(|&i| &self.tokenized[i]).collect())
    }

    /// Puts the finished vectors of every batch (one per text, batches in the order of
    /// [`BatchPlan::batches`]) back in input order, with token counts.
    pub fn assemble(self, batch_vectors: Vec<Vec<Vec<f32>>>) -> Vec<Embedding> {
        let mut vectors: Vec<Vec<f32>> = vec![Vec::new(); self.tokenized.len()];
        for (bucket, batch) in self.buckets.into_iter().zip(batch_vectors) {
            for (index, vector) in bucket.into_iter().zip(batch) {
                vectors[index] = vector;
            }
        }
        vectors
            .into_iter()
            .zip(self.tokenized)
            .map(|(vector, text)| Embedding {
                vector,
                tokens: text.ids.len(),
                truncated: text.truncated,
            })
            .collect()
    }
}

/// Embeds `texts` through a [`BatchPlan`]: `run_batch` gets at most `batch_size` texts of
/// similar length and returns one finished vector per text; embeddings come back in input
/// order with token counts.
pub fn embed_in_batches<E: From<ModelError>>(
    tokenizer: &TextTokenizer,
    texts: &[&str],
    batch_size: usize,
    mut run_batch: impl FnMut(&[&TokenizedText]) -> Result<Vec<Vec<f32>>, E>,
) -> Result<Vec<Embedding>, E> {
    let plan = BatchPlan::new(tokenizer, texts, batch_size)?;
    let vectors = plan
        .batches()
        .map(|batch| run_batch(&batch))
        .collect::<Result<Vec<_>, E>>()?;
    Ok(plan.assemble(vectors))
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
