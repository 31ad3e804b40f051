//! Listwise re-ranking by a model that orders a window of candidates at a time (a small
//! generative LM printing a ranking, in the Vote-in-Context style), with sliding windows for
//! lists longer than the model's context and a repaired, checked permutation at every step:
//! whatever the model prints, the output holds every input candidate exactly once.

use super::FusedItem;

/// Orders one window of candidates for a query.
pub trait ListwiseRanker {
    type Error: std::error::Error;

    /// The window's candidates best first, as indices into `window`. The output may be
    /// malformed (repeats, out-of-range indices, omissions): the caller repairs it.
    fn rank(&self, query: &str, window: &[&FusedItem]) -> Result<Vec<usize>, Self::Error>;
}

/// Sliding-window settings: windows of `size` candidates, moved up by `step`, bottom first,
/// so strong candidates can climb from the bottom of the list to the top.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    pub size: usize,
    pub step: usize,
}

/// What re-ranking did.
#[derive(Debug, Clone, PartialEq)]
pub struct Reranked {
    pub items: Vec<FusedItem>,
    /// Windows whose model output was not a permutation and had to be repaired.
    pub repaired_windows: usize,
}

/// Keeps the first occurrence of each valid index of `order`, then appends the indices it
/// lacks in their original order. Returns the permutation and whether it had to change.
pub fn repair_permutation(order: &[usize], len: usize) -> (Vec<usize>, bool) {
    let mut seen = vec![false; len];
    let mut permutation: Vec<usize> = order
        .iter()
        .copied()
        .filter(|&i| i < len && !std::mem::replace(&mut seen[i], true))
        .collect();
    let changed = permutation.len() != order.len() || permutation.len() != len;
    permutation.extend((0..len).filter(|&i| !seen[i]));
    (permutation, changed)
}

/// Re-ranks `items` (a fused list, best first) with `ranker` over sliding windows.
pub fn rerank<R: ListwiseRanker>(
    ranker: &R,
    query: &str,
    mut items: Vec<FusedItem>,
    windows: Windows,
) -> Result<Reranked, R::Error> {
    let size = windows.size.max(2);
    let step = windows.step.clamp(1, size);
    let mut repaired_windows = 0;
    let mut end = items.len();
    loop {
        let start = end.saturating_sub(size);
        let window: Vec<&FusedItem> = items[start..end].iter().collect();
        let (order, changed) = repair_permutation(&ranker.rank(query, &window)?, window.len());
        repaired_windows += usize::from(changed);
        let reordered: Vec<FusedItem> = order.iter().map(|&i| items[start + i].clone()).collect();
        items.splice(start..end, reordered);
        if start == 0 {
            break;
        }
        end -= step.min(end - 1).max(1);
    }
    Ok(Reranked {
        items,
        repaired_windows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuse::Evidence;

    fn items(ids: &[&str]) -> Vec<FusedItem> {
        ids.iter()
            .map(|id| FusedItem {
                id: id.to_string(),
                score: 0.0,
                evidence: Evidence {
                    positions: vec![],
                    agreement: 0,
                },
            })
            .collect()
    }

    /// Orders by id, alphabetically: the ideal ranking is "a", "b", ...
    struct ById;
    impl ListwiseRanker for ById {
        type Error = std::convert::Infallible;
        fn rank(&self, _: &str, window: &[&FusedItem]) -> Result<Vec<usize>, Self::Error> {
            let mut order: Vec<usize> = (0..window.len()).collect();
            order.sort_by_key(|&i| window[i].id.clone());
            Ok(order)
        }
    }

    /// Prints a malformed ranking: repeats, an out-of-range index, and omissions.
    struct Sloppy;
    impl ListwiseRanker for Sloppy {
        type Error = std::convert::Infallible;
        fn rank(&self, _: &str, window: &[&FusedItem]) -> Result<Vec<usize>, Self::Error> {
            Ok(vec![1, 1, window.len() + 7, 0])
        }
    }

    fn ids(items: &[FusedItem]) -> Vec<&str> {
        items.iter().map(|i| i.id.as_str()).collect()
    }

    #[test]
    fn the_best_candidate_climbs_from_the_bottom_through_windows() {
        let input = items(&["f", "e", "d", "c", "b", "a", "g", "h"]);
        let windows = Windows { size: 3, step: 2 };
        let reranked = rerank(&ById, "q", input, windows).unwrap();
        assert_eq!(ids(&reranked.items)[0], "a");
        assert_eq!(reranked.repaired_windows, 0);
    }

    #[test]
    fn one_window_covering_everything_sorts_fully() {
        let reranked = rerank(
            &ById,
            "q",
            items(&["c", "a", "b"]),
            Windows { size: 10, step: 5 },
        )
        .unwrap();
        assert_eq!(ids(&reranked.items), ["a", "b", "c"]);
    }

    #[test]
    fn malformed_model_output_is_repaired_into_a_permutation() {
        let input = items(&["a", "b", "c", "d", "e", "f", "g"]);
        let reranked = rerank(&Sloppy, "q", input, Windows { size: 4, step: 2 }).unwrap();
        let mut sorted = ids(&reranked.items);
        sorted.sort_unstable();
        assert_eq!(sorted, ["a", "b", "c", "d", "e", "f", "g"]);
        assert!(reranked.repaired_windows >= 3);
    }

    #[test]
    fn repair_keeps_first_valid_occurrences_then_the_rest_in_order() {
        assert_eq!(
            repair_permutation(&[2, 2, 9, 0], 4),
            (vec![2, 0, 1, 3], true)
        );
        assert_eq!(repair_permutation(&[1, 0], 2), (vec![1, 0], false));
        assert_eq!(repair_permutation(&[], 0), (vec![], false));
    }

    #[test]
    fn an_empty_list_stays_empty() {
        let reranked = rerank(&ById, "q", Vec::new(), Windows { size: 3, step: 1 }).unwrap();
        assert!(reranked.items.is_empty());
    }
}
