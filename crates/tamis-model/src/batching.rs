use std::num::NonZeroUsize;

use tamis_core::Embedding;

use crate::threads::map_in_threads;
use crate::{ModelError, TextTokenizer, TokenizedText};

/// How texts are grouped into runs of the model: texts of similar token length together, so
/// that padding each run to its longest text wastes little work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batching {
    /// Most texts in one run.
    pub max_texts: usize,
    /// Most tokens a text may have beyond the shortest of its run.
    pub max_extra_tokens: usize,
}

/// Groups texts by token length: returns indices into `lengths`, shortest texts first, every
/// index exactly once.
///
/// ```
/// use tamis_model::{length_buckets, Batching};
///
/// let pairs = Batching { max_texts: 2, max_extra_tokens: usize::MAX };
/// assert_eq!(length_buckets(&[9, 1, 8, 2], pairs), vec![vec![1, 3], vec![2, 0]]);
/// let close = Batching { max_texts: 8, max_extra_tokens: 2 };
/// assert_eq!(length_buckets(&[9, 1, 8, 2], close), vec![vec![1, 3], vec![2, 0]]);
/// ```
pub fn length_buckets(lengths: &[usize], batching: Batching) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&index| lengths[index]);
    let mut buckets: Vec<Vec<usize>> = Vec::new();
    for index in order {
        match buckets.last_mut() {
            Some(bucket)
                if bucket.len() < batching.max_texts
                    && lengths[index] - lengths[bucket[0]] <= batching.max_extra_tokens =>
            {
                bucket.push(index)
            }
            _ => buckets.push(vec![index]),
        }
    }
    buckets
}

/// Texts tokenized and grouped into batches of similar length: the batching every encoder of
/// this crate shares, whether it runs batches synchronously ([`embed_in_batches`]) or awaits
/// them (the GPU encoder in a browser).
pub struct BatchPlan {
    tokenized: Vec<TokenizedText>,
    buckets: Vec<Vec<usize>>,
}

impl BatchPlan {
    /// Tokenizes `texts` and groups them as `batching` says.
    pub fn new(
        tokenizer: &TextTokenizer,
        texts: &[&str],
        batching: Batching,
    ) -> Result<Self, ModelError> {
        Ok(Self::from_tokenized(tokenizer.tokenize(texts)?, batching))
    }

    /// Groups texts tokenized elsewhere (by a tokenizer that is not a [`TextTokenizer`], such
    /// as [`crate::XlmRobertaTokenizer`]) as `batching` says.
    pub fn from_tokenized(tokenized: Vec<TokenizedText>, batching: Batching) -> Self {
        let lengths: Vec<usize> = tokenized.iter().map(|t| t.ids.len()).collect();
        let buckets = length_buckets(&lengths, batching);
        Self { tokenized, buckets }
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

/// Embeds `texts` through a [`BatchPlan`]: `run_batch` gets one run of texts of similar
/// length and returns one finished vector per text; embeddings come back in input order with
/// token counts. The runs are shared out over `threads` threads (each run whole, as one thread
/// would run it, so the vectors do not depend on the number).
pub fn embed_in_batches<E: From<ModelError> + Send>(
    tokenizer: &TextTokenizer,
    texts: &[&str],
    batching: Batching,
    threads: NonZeroUsize,
    run_batch: impl Fn(&[&TokenizedText]) -> Result<Vec<Vec<f32>>, E> + Sync,
) -> Result<Vec<Embedding>, E> {
    let plan = BatchPlan::new(tokenizer, texts, batching)?;
    let batches: Vec<_> = plan.batches().collect();
    let vectors = map_in_threads(batches, threads, |batch| run_batch(&batch))
        .into_iter()
        .collect::<Result<Vec<_>, E>>()?;
    Ok(plan.assemble(vectors))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_most(max_texts: usize) -> Batching {
        Batching {
            max_texts,
            max_extra_tokens: usize::MAX,
        }
    }

    #[test]
    fn buckets_group_similar_lengths_and_cover_every_text_once() {
        let lengths = [30, 2, 29, 3, 31, 1];
        let buckets = length_buckets(&lengths, at_most(3));
        assert_eq!(buckets, vec![vec![5, 1, 3], vec![2, 0, 4]]);
    }

    #[test]
    fn a_run_ends_where_a_text_is_too_much_longer_than_its_shortest() {
        let lengths = [10, 11, 12, 13, 30];
        let batching = Batching {
            max_texts: 8,
            max_extra_tokens: 2,
        };
        assert_eq!(
            length_buckets(&lengths, batching),
            vec![vec![0, 1, 2], vec![3], vec![4]]
        );
    }

    #[test]
    fn zero_batch_size_still_makes_progress() {
        assert_eq!(length_buckets(&[1, 2], at_most(0)), vec![vec![0], vec![1]]);
    }

    #[test]
    fn no_texts_no_batches() {
        assert!(length_buckets(&[], at_most(4)).is_empty());
    }
}
