//! Lexical features beside the sentence embedding: hashed word and character n-grams, and a
//! few surface signals (links, phone numbers, money, shouting) that a sentence embedding
//! barely sees but that give spam away.

use crate::hash::fnv1a;

/// Buckets for hashed n-grams. Collisions cost little at this size, and the weights of a
/// category stay small enough to ship as a built-in prior.
pub const HASHED_DIMENSIONS: usize = 1 << 14;
/// Surface signals after the hashed buckets.
pub const SIGNALS: usize = 8;
/// Length of a lexical feature vector.
pub const LEXICAL_DIMENSIONS: usize = HASHED_DIMENSIONS + SIGNALS;

/// A sparse vector: sorted, distinct indices below [`LEXICAL_DIMENSIONS`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SparseVector {
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

impl SparseVector {
    /// Builds one from (index, value) pairs, adding the values of repeated indices.
    pub fn from_pairs(mut pairs: Vec<(u32, f32)>) -> Self {
        pairs.sort_unstable_by_key(|&(index, _)| index);
        let mut vector = SparseVector::default();
        for (index, value) in pairs {
            if vector.indices.last() == Some(&index) {
                *vector.values.last_mut().expect("values follow indices") += value;
            } else {
                vector.indices.push(index);
                vector.values.push(value);
            }
        }
        vector
    }

    /// Dot product with a dense vector of at least [`LEXICAL_DIMENSIONS`].
    pub fn dot(&self, dense: &[f32]) -> f32 {
        self.indices
            .iter()
            .zip(&self.values)
            .map(|(&i, &v)| dense[i as usize] * v)
            .sum()
    }

    /// Iterates over (index, value).
    pub fn iter(&self) -> impl Iterator<Item = (usize, f32)> + '_ {
        self.indices
            .iter()
            .zip(&self.values)
            .map(|(&i, &v)| (i as usize, v))
    }
}

fn bucket(kind: u8, gram: &str) -> u32 {
    let mut bytes = Vec::with_capacity(gram.len() + 1);
    bytes.push(kind);
    bytes.extend_from_slice(gram.as_bytes());
    (fnv1a(&bytes) % HASHED_DIMENSIONS as u64) as u32
}

/// Hashed n-grams of a normalized text, L2-normalized together with sublinear counts:
/// lower-cased word unigrams and bigrams, and character 3- to 5-grams of each word padded
/// with spaces.
fn hashed_ngrams(text: &str) -> Vec<(u32, f32)> {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .collect();
    let mut pairs = Vec::new();
    for (i, word) in words.iter().enumerate() {
        pairs.push((bucket(b'w', word), 1.0));
        if let Some(next) = words.get(i + 1) {
            pairs.push((bucket(b'b', &format!("{word} {next}")), 1.0));
        }
        let padded: Vec<char> = format!(" {word} ").chars().collect();
        for n in 3..=5 {
            for gram in padded.windows(n) {
                pairs.push((bucket(b'c', &gram.iter().collect::<String>()), 1.0));
            }
        }
    }
    let mut counted = SparseVector::from_pairs(pairs);
    counted.values.iter_mut().for_each(|v| *v = 1.0 + v.ln());
    let norm = counted.values.iter().map(|v| v * v).sum::<f32>().sqrt();
    counted
        .indices
        .into_iter()
        .zip(counted.values.into_iter().map(|v| v / norm.max(1e-12)))
        .collect()
}

/// True for a link: a scheme, `www.`, or the `URL` placeholder of some datasets.
fn is_link(word: &str) -> bool {
    let lower = word.to_lowercase();
    lower.contains("http://")
        || lower.contains("https://")
        || lower.starts_with("www.")
        || word == "URL"
        || [".com", ".net", ".org", ".co.uk", ".ly"]
            .iter()
            .any(|tld| lower.trim_end_matches(['.', ',', '!', ')']).ends_with(tld))
}

/// Surface signals, each in [0, 1].
fn signals(text: &str) -> [f32; SIGNALS] {
    let words: Vec<&str> = text.split_whitespace().collect();
    let letters = text.chars().filter(|c| c.is_alphabetic()).count();
    let capitals = text.chars().filter(|c| c.is_uppercase()).count();
    let digits = text.chars().filter(|c| c.is_ascii_digit()).count();
    let longest_digit_run = text
        .split(|c: char| !c.is_ascii_digit())
        .map(str::len)
        .max()
        .unwrap_or(0);
    let ratio = |part: usize, whole: usize| part as f32 / whole.max(1) as f32;
    let flag = |on: bool| if on { 1.0 } else { 0.0 };
    [
        flag(words.iter().any(|w| is_link(w))),
        flag(longest_digit_run >= 5),
        flag(text.contains(['£', '$', '€']) || text.to_lowercase().contains("cash")),
        ratio(capitals, letters),
        ratio(digits, text.chars().count()),
        flag(text.contains('!')),
        (words.len() as f32 / 50.0).min(1.0),
        flag(words.iter().any(|w| {
            let letters = w.trim_matches(|c: char| !c.is_alphabetic());
            letters.len() >= 3 && letters.chars().all(char::is_uppercase)
        })),
    ]
}

/// The lexical features of a normalized text (see [`super::normalize_text`]).
///
/// ```
/// use tamis_core::classify::{lexical_features, LEXICAL_DIMENSIONS};
///
/// let features = lexical_features("WIN a prize! Call 09061701461");
/// assert!(features.indices.iter().all(|&i| (i as usize) < LEXICAL_DIMENSIONS));
/// ```
pub fn lexical_features(text: &str) -> SparseVector {
    let mut pairs = hashed_ngrams(text);
    pairs.extend(
        signals(text)
            .into_iter()
            .enumerate()
            .filter(|&(_, v)| v != 0.0)
            .map(|(i, v)| ((HASHED_DIMENSIONS + i) as u32, v)),
    );
    SparseVector::from_pairs(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_text_same_features_and_unit_ngram_norm() {
        let a = lexical_features("Free entry in 2 a wkly comp");
        assert_eq!(a, lexical_features("Free entry in 2 a wkly comp"));
        let ngram_norm: f32 = a
            .iter()
            .filter(|&(i, _)| i < HASHED_DIMENSIONS)
            .map(|(_, v)| v * v)
            .sum();
        assert!((ngram_norm - 1.0).abs() < 1e-5);
    }

    #[test]
    fn signals_fire_on_spam_markers() {
        let s = signals("URGENT! Call 09061701461 to claim £1000 www.win.com");
        assert_eq!(s[0], 1.0, "link");
        assert_eq!(s[1], 1.0, "phone number");
        assert_eq!(s[2], 1.0, "money");
        assert_eq!(s[7], 1.0, "shouted word");
        let calm = signals("see you at lunch");
        assert_eq!(calm[..3], [0.0, 0.0, 0.0]);
    }

    #[test]
    fn empty_text_has_no_features() {
        assert!(lexical_features("").indices.is_empty());
    }
}
