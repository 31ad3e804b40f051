//! Content-aware fusion: the retrievers' consensus and the candidates' content, weighed
//! together per query.
//!
//! The classical fuser gives the consensus. Its top candidates then serve as in-context
//! examples of what this query is after: with the query embedding (and the user's liked and
//! disliked examples, as a preference vector), they form a profile, and every candidate's
//! content is scored by its similarity to that profile. The final score mixes consensus and
//! content, per query: content's share shrinks when its similarities hardly separate the
//! candidates (their standard deviation is below [`ContentFusion::full_share_spread`]). A
//! candidate that one list ranks high and whose content fits the profile rises; when the
//! content signal is flat (ambiguous), consensus decides.

use super::{fuse, FuseError, FusedItem, FusionMethod, Normalization, RankedList};
use crate::similarity::{cosine, l2_normalize};

/// Settings of [`fuse_with_content`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContentFusion {
    /// The classical fusion that gives the consensus.
    pub method: FusionMethod,
    pub normalization: Normalization,
    /// How many top consensus candidates join the profile.
    pub feedback_depth: usize,
    /// Weight of their mean embedding in the profile (the query's is 1).
    pub feedback_weight: f32,
    /// Weight of the preference vector (mean liked minus mean disliked) in the profile.
    pub preference_weight: f32,
    /// Share of the content score in the final score, in [0, 1], when content is clear.
    pub content_share: f64,
    /// The standard deviation of the candidates' similarities to the profile at which content
    /// gets its full share; below it the share shrinks in proportion, so a query whose
    /// content barely separates the candidates is decided by consensus. 0 disables this.
    pub full_share_spread: f64,
}

impl Default for ContentFusion {
    fn default() -> Self {
        Self {
            method: FusionMethod::Mnz,
            normalization: Normalization::MinMax,
            // Chosen on the odd Cranfield queries by `tamis eval fusion`.
            feedback_depth: 3,
            feedback_weight: 2.0,
            preference_weight: 1.0,
            content_share: 0.9,
            full_share_spread: FULL_SHARE_SPREAD,
        }
    }
}

/// The default [`ContentFusion::full_share_spread`], chosen on the odd Cranfield queries by
/// `tamis eval fusion`.
pub const FULL_SHARE_SPREAD: f64 = 0.05;

/// The user's examples for personalized ranking, as embeddings.
#[derive(Debug, Clone, Default)]
pub struct Preferences {
    pub liked: Vec<Vec<f32>>,
    pub disliked: Vec<Vec<f32>>,
}

/// A fused candidate with its content evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct ContentFusedItem {
    pub item: FusedItem,
    /// Consensus score, min-max normalized over the candidates.
    pub consensus: f64,
    /// Similarity of the candidate's content to the query profile, min-max normalized.
    pub content: f64,
    /// The share content had in this query's scores (the same for every candidate).
    pub content_share: f64,
}

/// Standard deviation of a non-empty sample.
fn spread(values: &[f64]) -> f64 {
    let count = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / count;
    (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / count).sqrt()
}

fn mean(vectors: &[&[f32]], dimension: usize) -> Vec<f32> {
    let mut sum = vec![0.0; dimension];
    for vector in vectors {
        sum.iter_mut().zip(vector.iter()).for_each(|(s, v)| *s += v);
    }
    let count = vectors.len().max(1) as f32;
    sum.iter_mut().for_each(|s| *s /= count);
    sum
}

fn min_max(values: &[f64]) -> Vec<f64> {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let range = (max - min).max(1e-9);
    values.iter().map(|v| (v - min) / range).collect()
}

/// Fuses `lists`, then re-scores every candidate by content. `embedding(id)` gives a
/// candidate's embedding; candidates without one get the lowest content score.
pub fn fuse_with_content<'a>(
    lists: &[RankedList],
    query: &[f32],
    embedding: impl Fn(&str) -> Option<&'a [f32]>,
    preferences: &Preferences,
    settings: ContentFusion,
) -> Result<Vec<ContentFusedItem>, FuseError> {
    let fused = fuse(lists, settings.normalization, settings.method)?;
    let dimension = query.len();
    let feedback: Vec<&[f32]> = fused
        .iter()
        .take(settings.feedback_depth)
        .filter_map(|item| embedding(&item.id))
        .collect();
    let liked: Vec<&[f32]> = preferences.liked.iter().map(Vec::as_slice).collect();
    let disliked: Vec<&[f32]> = preferences.disliked.iter().map(Vec::as_slice).collect();
    let (feedback, liked, disliked) = (
        mean(&feedback, dimension),
        mean(&liked, dimension),
        mean(&disliked, dimension),
    );
    let mut profile: Vec<f32> = (0..dimension)
        .map(|d| {
            query[d]
                + settings.feedback_weight * feedback[d]
                + settings.preference_weight * (liked[d] - disliked[d])
        })
        .collect();
    l2_normalize(&mut profile);
    let consensus = min_max(&fused.iter().map(|f| f.score).collect::<Vec<_>>());
    let similarity: Vec<Option<f64>> = fused
        .iter()
        .map(|f| embedding(&f.id).map(|v| f64::from(cosine(&profile, v))))
        .collect();
    let known: Vec<f64> = similarity.iter().flatten().copied().collect();
    let clarity = if settings.full_share_spread > 0.0 {
        (spread(&known) / settings.full_share_spread).min(1.0)
    } else {
        1.0
    };
    let share = settings.content_share.clamp(0.0, 1.0) * clarity;
    let content = min_max(
        &similarity
            .iter()
            .map(|s| s.unwrap_or(-1.0))
            .collect::<Vec<_>>(),
    );
    let mut items: Vec<ContentFusedItem> = fused
        .into_iter()
        .zip(consensus.into_iter().zip(content))
        .map(|(mut item, (consensus, content))| {
            item.score = (1.0 - share) * consensus + share * content;
            ContentFusedItem {
                item,
                consensus,
                content,
                content_share: share,
            }
        })
        .collect();
    items.sort_by(|a, b| b.item.score.total_cmp(&a.item.score));
    Ok(items)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::fuse::RankedItem;

    /// Topic A is axis 0, topic B axis 1.
    fn embeddings() -> HashMap<&'static str, Vec<f32>> {
        HashMap::from([
            ("a1", vec![1.0, 0.0]),
            ("a2", vec![0.9, 0.1]),
            ("b1", vec![0.0, 1.0]),
            ("b2", vec![0.1, 0.9]),
        ])
    }

    fn lists() -> Vec<RankedList> {
        vec![
            RankedList::new(
                "x",
                vec![
                    RankedItem::scored("b1", 3.0),
                    RankedItem::scored("a1", 2.0),
                    RankedItem::scored("b2", 1.0),
                ],
            ),
            RankedList::new(
                "y",
                vec![
                    RankedItem::scored("b1", 3.0),
                    RankedItem::scored("b2", 2.0),
                    RankedItem::scored("a2", 1.0),
                ],
            ),
        ]
    }

    fn ranking(items: &[ContentFusedItem]) -> Vec<&str> {
        items.iter().map(|i| i.item.id.as_str()).collect()
    }

    fn fused_with(
        vectors: &HashMap<&str, Vec<f32>>,
        query: &[f32],
        preferences: &Preferences,
        settings: ContentFusion,
    ) -> Vec<ContentFusedItem> {
        let embedding = |id: &str| vectors.get(id).map(Vec::as_slice);
        fuse_with_content(&lists(), query, embedding, preferences, settings).unwrap()
    }

    /// The consensus order alone (CombMNZ, min-max).
    fn classical() -> Vec<String> {
        let fused = fuse(&lists(), Normalization::MinMax, FusionMethod::Mnz).unwrap();
        fused.into_iter().map(|f| f.id).collect()
    }

    #[test]
    fn content_that_fits_the_query_rises_above_consensus() {
        let settings = ContentFusion {
            feedback_weight: 0.0,
            ..ContentFusion::default()
        };
        let fused = fused_with(
            &embeddings(),
            &[1.0, 0.0],
            &Preferences::default(),
            settings,
        );
        assert_eq!(ranking(&fused)[..2], ["a1", "a2"], "{fused:?}");
        assert!(fused[0].consensus < 1.0 && fused[0].content == 1.0);
    }

    #[test]
    fn consensus_decides_when_content_is_ambiguous() {
        let flat: HashMap<&str, Vec<f32>> = embeddings()
            .into_keys()
            .map(|id| (id, vec![1.0, 1.0]))
            .collect();
        let fused = fused_with(
            &flat,
            &[1.0, 0.0],
            &Preferences::default(),
            ContentFusion::default(),
        );
        assert_eq!(ranking(&fused), classical());
    }

    #[test]
    fn consensus_decides_when_content_barely_separates_the_candidates() {
        // Near-duplicates of one vector: min-max alone would blow their tiny differences up
        // to the whole [0, 1] range and let noise rank.
        let noisy: HashMap<&str, Vec<f32>> =
            [("a1", 0.001), ("a2", 0.0), ("b1", -0.001), ("b2", 0.002)]
                .into_iter()
                .map(|(id, noise)| (id, vec![1.0 + noise, 1.0]))
                .collect();
        let adaptive = ContentFusion {
            full_share_spread: 0.05,
            ..ContentFusion::default()
        };
        let fused = fused_with(&noisy, &[1.0, 0.0], &Preferences::default(), adaptive);
        assert_eq!(ranking(&fused), classical());
        assert!(fused[0].content_share < 0.01, "{}", fused[0].content_share);
        let fixed = ContentFusion {
            full_share_spread: 0.0,
            ..adaptive
        };
        let fused = fused_with(&noisy, &[1.0, 0.0], &Preferences::default(), fixed);
        assert_ne!(ranking(&fused), classical(), "without it, noise ranks");
    }

    #[test]
    fn preferences_pull_towards_liked_and_away_from_disliked() {
        let neutral_query = [0.7, 0.7];
        let settings = ContentFusion {
            feedback_weight: 0.0,
            preference_weight: 2.0,
            ..ContentFusion::default()
        };
        let likes_a = Preferences {
            liked: vec![vec![1.0, 0.0]],
            disliked: vec![vec![0.0, 1.0]],
        };
        let fused = fused_with(&embeddings(), &neutral_query, &likes_a, settings);
        assert_eq!(ranking(&fused)[..2], ["a1", "a2"]);
        let likes_b = Preferences {
            liked: likes_a.disliked.clone(),
            disliked: likes_a.liked.clone(),
        };
        let fused = fused_with(&embeddings(), &neutral_query, &likes_b, settings);
        assert_eq!(ranking(&fused)[..2], ["b1", "b2"]);
    }

    #[test]
    fn candidates_without_an_embedding_get_the_lowest_content_score() {
        let vectors = embeddings();
        let embedding = |id: &str| {
            if id == "b1" {
                None
            } else {
                vectors.get(id).map(Vec::as_slice)
            }
        };
        let fused = fuse_with_content(
            &lists(),
            &[0.0, 1.0],
            embedding,
            &Preferences::default(),
            ContentFusion::default(),
        )
        .unwrap();
        let b1 = fused.iter().find(|i| i.item.id == "b1").unwrap();
        assert_eq!(b1.content, 0.0);
        assert_eq!(fused.len(), 4, "every candidate is kept");
    }
}
