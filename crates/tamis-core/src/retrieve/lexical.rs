use std::collections::HashMap;

use super::analyze::analyze;

/// How a query is scored against the documents.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scoring {
    /// Okapi BM25 with the Lucene idf `ln(1 + (N - df + 0.5) / (df + 0.5))`.
    Bm25 { k1: f64, b: f64 },
    /// Cosine of `(1 + ln tf) * ln(N / df)` vectors.
    TfIdfCosine,
}

/// An inverted index over analyzed documents.
pub struct LexicalIndex {
    vocabulary: HashMap<String, usize>,
    /// Per term: (document, term frequency).
    postings: Vec<Vec<(usize, f64)>>,
    lengths: Vec<f64>,
    /// Euclidean norm of each document's TF-IDF vector.
    tfidf_norms: Vec<f64>,
}

impl LexicalIndex {
    /// Indexes `documents`; their positions are the ids `search` returns.
    pub fn new<S: AsRef<str>>(documents: &[S]) -> Self {
        let mut vocabulary: HashMap<String, usize> = HashMap::new();
        let mut postings: Vec<Vec<(usize, f64)>> = Vec::new();
        let mut lengths = Vec::with_capacity(documents.len());
        for (document, text) in documents.iter().enumerate() {
            let terms = analyze(text.as_ref());
            lengths.push(terms.len() as f64);
            let mut counts: HashMap<usize, f64> = HashMap::new();
            for term in terms {
                let next = vocabulary.len();
                let id = *vocabulary.entry(term).or_insert(next);
                if id == next {
                    postings.push(Vec::new());
                }
                *counts.entry(id).or_default() += 1.0;
            }
            let mut counts: Vec<(usize, f64)> = counts.into_iter().collect();
            counts.sort_by_key(|&(term, _)| term);
            for (term, count) in counts {
                postings[term].push((document, count));
            }
        }
        let mut index = Self {
            vocabulary,
            postings,
            tfidf_norms: vec![0.0; documents.len()],
            lengths,
        };
        let mut squares = vec![0.0; documents.len()];
        for term in 0..index.postings.len() {
            let idf = index.tfidf_idf(term);
            for &(document, tf) in &index.postings[term] {
                squares[document] += (tfidf_tf(tf) * idf).powi(2);
            }
        }
        index.tfidf_norms = squares.into_iter().map(f64::sqrt).collect();
        index
    }

    /// Number of indexed documents.
    pub fn len(&self) -> usize {
        self.lengths.len()
    }

    /// Whether no document is indexed.
    pub fn is_empty(&self) -> bool {
        self.lengths.is_empty()
    }

    fn tfidf_idf(&self, term: usize) -> f64 {
        (self.len() as f64 / self.postings[term].len() as f64).ln()
    }

    /// The `k` best documents for `query` as (document, score), best first; documents that
    /// share no term with the query are not returned. Ties keep document order.
    pub fn search(&self, query: &str, scoring: Scoring, k: usize) -> Vec<(usize, f64)> {
        let mut query_counts: HashMap<usize, f64> = HashMap::new();
        for term in analyze(query) {
            if let Some(&id) = self.vocabulary.get(&term) {
                *query_counts.entry(id).or_default() += 1.0;
            }
        }
        let mut scores: HashMap<usize, f64> = HashMap::new();
        let documents = self.len() as f64;
        let average_length = self.lengths.iter().sum::<f64>() / documents.max(1.0);
        let mut query_norm = 0.0;
        for (&term, &query_tf) in &query_counts {
            let postings = &self.postings[term];
            match scoring {
                Scoring::Bm25 { k1, b } => {
                    let df = postings.len() as f64;
                    let idf = (1.0 + (documents - df + 0.5) / (df + 0.5)).ln();
                    for &(document, tf) in postings {
                        let norm = k1 * (1.0 - b + b * self.lengths[document] / average_length);
                        *scores.entry(document).or_default() +=
                            query_tf * idf * tf * (k1 + 1.0) / (tf + norm);
                    }
                }
                Scoring::TfIdfCosine => {
                    let idf = self.tfidf_idf(term);
                    let query_weight = tfidf_tf(query_tf) * idf;
                    query_norm += query_weight * query_weight;
                    for &(document, tf) in postings {
                        *scores.entry(document).or_default() += query_weight * tfidf_tf(tf) * idf;
                    }
                }
            }
        }
        if scoring == Scoring::TfIdfCosine {
            let query_norm = query_norm.sqrt();
            for (document, score) in scores.iter_mut() {
                let norms = query_norm * self.tfidf_norms[*document];
                *score = if norms > 0.0 { *score / norms } else { 0.0 };
            }
        }
        let mut ranked: Vec<(usize, f64)> = scores.into_iter().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.truncate(k);
        ranked
    }
}

fn tfidf_tf(tf: f64) -> f64 {
    1.0 + tf.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCUMENTS: [&str; 3] = [
        "supersonic flutter of thin wings",
        "heat conduction in composite slabs",
        "flutter flutter flutter of panels at supersonic speed",
    ];

    #[test]
    fn bm25_ranks_matching_documents_and_skips_others() {
        let index = LexicalIndex::new(&DOCUMENTS);
        let hits = index.search("wing flutter", Scoring::Bm25 { k1: 1.2, b: 0.75 }, 10);
        assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), vec![0, 2]);
        assert!(index
            .search("unknown words", Scoring::Bm25 { k1: 1.2, b: 0.75 }, 10)
            .is_empty());
    }

    #[test]
    fn tfidf_cosine_is_one_for_an_identical_text() {
        let index = LexicalIndex::new(&DOCUMENTS);
        let hits = index.search(DOCUMENTS[1], Scoring::TfIdfCosine, 1);
        assert_eq!(hits[0].0, 1);
        assert!((hits[0].1 - 1.0).abs() < 1e-12);
    }
}
