//! Rank fusion: several ranked lists of candidates in, one ranking out.
//!
//! The classical (untrained) fusers of ranx are here, with its normalizations, computing the
//! same scores (checked against golden files made with ranx). Content-aware fusion builds on
//! the same validated input.
//!
//! ```
//! use tamis_core::fuse::{fuse, FusionMethod, Normalization, RankedItem, RankedList};
//!
//! let bm25 = RankedList::new("bm25", vec![RankedItem::scored("a", 12.0), RankedItem::scored("b", 9.5)]);
//! let dense = RankedList::new("dense", vec![RankedItem::scored("b", 0.91), RankedItem::scored("c", 0.80)]);
//! let fused = fuse(&[bm25, dense], Normalization::MinMax, FusionMethod::Rrf { k: 60.0 })?;
//! assert_eq!(fused[0].id, "b"); // both lists agree on it
//! assert_eq!(fused[0].evidence.agreement, 2);
//! # Ok::<(), tamis_core::fuse::FuseError>(())
//! ```

mod condorcet;
mod content;
mod input;
mod listwise;
mod methods;
mod normalize;
mod request;
mod trec;

pub use content::{
    fuse_with_content, ContentFusedItem, ContentFusion, Preferences, FULL_SHARE_SPREAD,
};
pub use input::{FuseError, RankedItem, RankedList};
pub use listwise::{repair_permutation, rerank, ListwiseRanker, Reranked, Windows};
pub use methods::FusionMethod;
pub use normalize::Normalization;
pub use request::{
    fuse_request, FusionRequest, FusionRequestError, PreferenceTexts, RankedCandidate,
};
pub use trec::{lists_for_query, parse_trec, trec_line, TrecError, TrecProblem, TrecRun};

/// Why a fused item is where it is.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Evidence {
    /// 1-based position of the item in each input list, in list order; `None` where absent.
    pub positions: Vec<Option<usize>>,
    /// How many lists contain the item.
    pub agreement: usize,
}

/// One candidate of the fused ranking.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FusedItem {
    pub id: String,
    pub score: f64,
    pub evidence: Evidence,
}

/// Fuses `lists` with `method` after normalizing each list's scores with `normalization`.
///
/// The result holds every candidate once, best first; equal scores keep the order in which
/// candidates first appear in the input. Rank-based methods (RRF, ISR and its variants, RBC,
/// Borda and Condorcet fusion) use each list's own order and ignore the normalization.
pub fn fuse(
    lists: &[RankedList],
    normalization: Normalization,
    method: FusionMethod,
) -> Result<Vec<FusedItem>, FuseError> {
    let runs = input::Runs::validate(lists)?;
    method.validate(lists.len())?;
    let scores = methods::fused_scores(&runs, normalization, method, lists);
    let mut order: Vec<usize> = (0..runs.candidates.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    Ok(order
        .into_iter()
        .map(|candidate| {
            let positions = runs.positions_of(candidate);
            FusedItem {
                id: runs.candidates[candidate].clone(),
                score: scores[candidate],
                evidence: Evidence {
                    agreement: positions.iter().flatten().count(),
                    positions,
                },
            }
        })
        .collect())
}
