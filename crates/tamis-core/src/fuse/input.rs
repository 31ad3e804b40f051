use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::hash::BuildFnv;

/// One candidate in a ranked list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RankedItem {
    pub id: String,
    /// Retrieval score, higher is better. Absent: the list's order (or `rank`) decides.
    #[serde(default)]
    pub score: Option<f64>,
    /// 1-based rank. Absent: the item's position in the list.
    #[serde(default)]
    pub rank: Option<usize>,
    /// The candidate's content, for content-aware fusion.
    #[serde(default)]
    pub text: Option<String>,
}

impl RankedItem {
    /// An item with a score.
    pub fn scored(id: impl Into<String>, score: f64) -> Self {
        Self {
            id: id.into(),
            score: Some(score),
            rank: None,
            text: None,
        }
    }

    /// An item known by its rank only.
    pub fn ranked(id: impl Into<String>, rank: usize) -> Self {
        Self {
            id: id.into(),
            score: None,
            rank: Some(rank),
            text: None,
        }
    }
}

/// The output of one retriever or source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RankedList {
    pub name: String,
    /// Weight for the weighted fusers; 1 by default.
    #[serde(default = "unit_weight")]
    pub weight: f64,
    pub items: Vec<RankedItem>,
}

fn unit_weight() -> f64 {
    1.0
}

impl RankedList {
    /// A list with weight 1.
    pub fn new(name: impl Into<String>, items: Vec<RankedItem>) -> Self {
        Self {
            name: name.into(),
            weight: 1.0,
            items,
        }
    }
}

/// Input that cannot be fused. Nothing is fused when any list is invalid. Messages name lists
/// and positions (1-based), never item content.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum FuseError {
    #[error("no lists to fuse")]
    NoLists,
    #[error("list {list} is empty")]
    EmptyList { list: usize },
    #[error("list {list}, item {position}: the score is {value}, scores must be finite numbers")]
    NonFiniteScore {
        list: usize,
        position: usize,
        value: f64,
    },
    #[error("list {list}: items {first} and {second} have the same id")]
    DuplicateId {
        list: usize,
        first: usize,
        second: usize,
    },
    #[error("list {list}, item {position}: every item needs a score, or none may have one")]
    MixedScores { list: usize, position: usize },
    #[error(
        "list {list}, item {position}: rank {rank} does not fit the list \
         (ranks must be 1..=n, each once, and agree with the scores)"
    )]
    MismatchedRank {
        list: usize,
        position: usize,
        rank: usize,
    },
    #[error("list {list}: the weight is {value}, weights must be finite and non-negative")]
    InvalidWeight { list: usize, value: f64 },
    #[error("fusion parameter `{name}` is {value}: {expected}")]
    InvalidParameter {
        name: &'static str,
        value: f64,
        expected: &'static str,
    },
}

/// Validated lists: candidates interned, each list ordered best first with its scores.
pub(crate) struct Runs {
    /// Candidate ids in order of first appearance.
    pub candidates: Vec<String>,
    /// Per list, (candidate, score) best first.
    pub lists: Vec<Vec<(usize, f64)>>,
    /// Per list, the 1-based position of each candidate, or 0 when absent.
    position: Vec<Vec<usize>>,
}

impl Runs {
    pub fn validate(lists: &[RankedList]) -> Result<Self, FuseError> {
        if lists.is_empty() {
            return Err(FuseError::NoLists);
        }
        let expected: usize = lists.iter().map(|l| l.items.len()).sum();
        let mut index: HashMap<&str, usize, BuildFnv> =
            HashMap::with_capacity_and_hasher(expected, BuildFnv);
        let mut candidates: Vec<String> = Vec::new();
        // Per candidate: the last list (1-based) that had it, and the item position there.
        let mut seen_in: Vec<(usize, usize)> = Vec::new();
        let mut ordered = Vec::with_capacity(lists.len());
        for (list_number, list) in lists.iter().enumerate().map(|(i, l)| (i + 1, l)) {
            if !(list.weight.is_finite() && list.weight >= 0.0) {
                return Err(FuseError::InvalidWeight {
                    list: list_number,
                    value: list.weight,
                });
            }
            let order = list_order(list_number, &list.items)?;
            let mut item_candidate = Vec::with_capacity(list.items.len());
            for (position, item) in list.items.iter().enumerate().map(|(i, it)| (i + 1, it)) {
                let next = candidates.len();
                let candidate = *index.entry(item.id.as_str()).or_insert(next);
                if candidate == next {
                    candidates.push(item.id.clone());
                    seen_in.push((0, 0));
                }
                let (last_list, first) = seen_in[candidate];
                if last_list == list_number {
                    return Err(FuseError::DuplicateId {
                        list: list_number,
                        first,
                        second: position,
                    });
                }
                seen_in[candidate] = (list_number, position);
                item_candidate.push(candidate);
            }
            ordered.push(
                order
                    .into_iter()
                    .map(|(item, score)| (item_candidate[item], score))
                    .collect::<Vec<_>>(),
            );
        }
        let position = ordered
            .iter()
            .map(|run| {
                let mut position = vec![0; candidates.len()];
                for (rank, &(candidate, _)) in run.iter().enumerate() {
                    position[candidate] = rank + 1;
                }
                position
            })
            .collect();
        Ok(Self {
            candidates,
            lists: ordered,
            position,
        })
    }

    /// 1-based position of `candidate` in each list.
    pub fn positions_of(&self, candidate: usize) -> Vec<Option<usize>> {
        self.position
            .iter()
            .map(|p| Some(p[candidate]).filter(|&rank| rank > 0))
            .collect()
    }

    /// 1-based position of `candidate` in list `list`, 0 when absent.
    pub fn position(&self, list: usize, candidate: usize) -> usize {
        self.position[list][candidate]
    }
}

/// The list's items best first, as (item index, score). Without scores, the score of the item
/// at position p (1-based) of n is n - p + 1, so score-based fusers see a linear ranking.
fn list_order(list: usize, items: &[RankedItem]) -> Result<Vec<(usize, f64)>, FuseError> {
    if items.is_empty() {
        return Err(FuseError::EmptyList { list });
    }
    let has_scores = items[0].score.is_some();
    for (i, item) in items.iter().enumerate() {
        match item.score {
            Some(value) if !value.is_finite() => {
                return Err(FuseError::NonFiniteScore {
                    list,
                    position: i + 1,
                    value,
                })
            }
            score if score.is_some() != has_scores => {
                return Err(FuseError::MixedScores {
                    list,
                    position: i + 1,
                })
            }
            _ => {}
        }
    }
    // Position in the list unless ranks say otherwise; ranks must be a permutation of 1..=n.
    let n = items.len();
    let mut by_rank: Vec<Option<usize>> = vec![None; n];
    for (i, item) in items.iter().enumerate() {
        let rank = item.rank.unwrap_or(i + 1);
        let mismatched = FuseError::MismatchedRank {
            list,
            position: i + 1,
            rank,
        };
        match by_rank.get_mut(rank.wrapping_sub(1)) {
            Some(slot @ None) => *slot = Some(i),
            _ => return Err(mismatched),
        }
    }
    let ranked: Vec<usize> = by_rank.into_iter().flatten().collect();
    let mut order: Vec<(usize, f64)> = ranked
        .iter()
        .enumerate()
        .map(|(p, &i)| (i, items[i].score.unwrap_or((n - p) as f64)))
        .collect();
    if has_scores {
        let ranks_given = items.iter().any(|item| item.rank.is_some());
        if ranks_given {
            // Explicit ranks must not contradict the scores.
            if let Some(w) = order.windows(2).find(|w| w[1].1 > w[0].1) {
                let i = w[1].0;
                return Err(FuseError::MismatchedRank {
                    list,
                    position: i + 1,
                    rank: items[i].rank.unwrap_or(i + 1),
                });
            }
        } else {
            order.sort_by(|a, b| b.1.total_cmp(&a.1));
        }
    }
    Ok(order)
}
