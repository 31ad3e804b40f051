use super::condorcet::condorcet_order;
use super::input::{FuseError, RankedList, Runs};
use super::normalize::Normalization;

/// The untrained fusers of ranx (`ranx.fuse`), with its parameter names. Weighted methods
/// read each list's `weight`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FusionMethod {
    /// CombSUM: sum of scores, 0 where absent.
    Sum,
    /// CombMNZ: sum times the number of lists that have the candidate.
    Mnz,
    /// CombANZ: sum divided by that number.
    Anz,
    /// CombMAX.
    Max,
    /// CombMIN.
    Min,
    /// CombMED: median of the scores the candidate has.
    Med,
    /// CombGMNZ: sum times (number of lists)^gamma.
    Gmnz { gamma: f64 },
    /// Weighted sum.
    Wsum,
    /// Weighted MNZ: sum of scores times the sum of the weights of the lists that have it.
    Wmnz,
    /// Reciprocal rank fusion: sum of 1 / (k + rank).
    Rrf { k: f64 },
    /// Inverse square rank: sum of 1 / rank^2, times the number of lists.
    Isr,
    /// Sum of 1 / rank^2 times ln(number of lists).
    LogIsr,
    /// Sum of 1 / rank^2 times ln(number of lists + sigma).
    LognIsr { sigma: f64 },
    /// Rank-biased centroid: sum of (1 - phi) phi^(rank - 1).
    Rbc { phi: f64 },
    /// Borda count over all candidates.
    BordaFuse,
    /// Weighted Borda count.
    WeightedBordaFuse,
    /// Condorcet: pairwise majority of the lists.
    Condorcet,
    /// Condorcet with weighted votes.
    WeightedCondorcet,
}

impl FusionMethod {
    pub(crate) fn validate(self, _lists: usize) -> Result<(), FuseError> {
        let check = |name, value: f64, valid: bool, expected| {
            if valid && value.is_finite() {
                Ok(())
            } else {
                Err(FuseError::InvalidParameter {
                    name,
                    value,
                    expected,
                })
            }
        };
        match self {
            Self::Gmnz { gamma } => check("gamma", gamma, true, "a finite number"),
            Self::Rrf { k } => check("k", k, k >= 0.0, "a finite number >= 0"),
            Self::LognIsr { sigma } => {
                check("sigma", sigma, (0.0..=1.0).contains(&sigma), "in [0, 1]")
            }
            Self::Rbc { phi } => check("phi", phi, phi > 0.0 && phi < 1.0, "in (0, 1)"),
            _ => Ok(()),
        }
    }

    /// Whether the method reads ranks only, so that normalization does not change it.
    fn is_rank_based(self) -> bool {
        matches!(
            self,
            Self::Rrf { .. }
                | Self::Isr
                | Self::LogIsr
                | Self::LognIsr { .. }
                | Self::Rbc { .. }
                | Self::BordaFuse
                | Self::WeightedBordaFuse
                | Self::Condorcet
                | Self::WeightedCondorcet
        )
    }
}

/// Per candidate, what the lists that contain it contribute.
struct Contributions {
    /// Per candidate: (list, value) for each list holding it.
    values: Vec<Vec<(usize, f64)>>,
}

impl Contributions {
    fn collect(candidates: usize, lists: &[Vec<(usize, f64)>]) -> Self {
        let mut values = vec![Vec::new(); candidates];
        for (list, run) in lists.iter().enumerate() {
            for &(candidate, value) in run {
                values[candidate].push((list, value));
            }
        }
        Self { values }
    }

    fn combine(&self, f: impl Fn(&[(usize, f64)]) -> f64) -> Vec<f64> {
        self.values.iter().map(|v| f(v)).collect()
    }
}

fn sum(values: &[(usize, f64)]) -> f64 {
    values.iter().map(|&(_, v)| v).sum()
}

/// Values computed from each item's 1-based rank, in each list's own order.
fn rank_values(runs: &Runs, value: impl Fn(usize) -> f64) -> Vec<Vec<(usize, f64)>> {
    runs.lists
        .iter()
        .map(|run| {
            run.iter()
                .enumerate()
                .map(|(i, &(c, _))| (c, value(i + 1)))
                .collect()
        })
        .collect()
}

pub(crate) fn fused_scores(
    runs: &Runs,
    normalization: Normalization,
    method: FusionMethod,
    lists: &[RankedList],
) -> Vec<f64> {
    let weights: Vec<f64> = lists.iter().map(|l| l.weight).collect();
    let candidates = runs.candidates.len();
    let normalized = if method.is_rank_based() {
        Vec::new()
    } else {
        normalization.apply(runs)
    };
    let scores = || Contributions::collect(candidates, &normalized);
    let inverse_square =
        || Contributions::collect(candidates, &rank_values(runs, |r| 1.0 / (r * r) as f64));
    let weighted = |values: &[(usize, f64)]| values.iter().map(|&(l, v)| weights[l] * v).sum();
    use FusionMethod as M;
    match method {
        M::Sum => scores().combine(sum),
        M::Mnz => scores().combine(|v| sum(v) * v.len() as f64),
        M::Anz => scores().combine(|v| sum(v) / v.len() as f64),
        // ranx fills absent lists with -1e9 (max) and 1e9 (min).
        M::Max => scores().combine(|v| {
            let present = v.iter().map(|&(_, s)| s).fold(f64::NEG_INFINITY, f64::max);
            if v.len() < runs.lists.len() {
                present.max(-1e9)
            } else {
                present
            }
        }),
        M::Min => scores().combine(|v| {
            let present = v.iter().map(|&(_, s)| s).fold(f64::INFINITY, f64::min);
            if v.len() < runs.lists.len() {
                present.min(1e9)
            } else {
                present
            }
        }),
        M::Med => scores().combine(|v| median(v.iter().map(|&(_, s)| s).collect())),
        M::Gmnz { gamma } => scores().combine(|v| sum(v) * (v.len() as f64).powf(gamma)),
        M::Wsum => scores().combine(weighted),
        M::Wmnz => scores().combine(|v| sum(v) * v.iter().map(|&(l, _)| weights[l]).sum::<f64>()),
        M::Rrf { k } => {
            Contributions::collect(candidates, &rank_values(runs, |r| 1.0 / (k + r as f64)))
                .combine(sum)
        }
        M::Isr => inverse_square().combine(|v| sum(v) * v.len() as f64),
        M::LogIsr => inverse_square().combine(|v| sum(v) * (v.len() as f64).ln()),
        M::LognIsr { sigma } => {
            inverse_square().combine(|v| sum(v) * (v.len() as f64 + sigma).ln())
        }
        M::Rbc { phi } => Contributions::collect(
            candidates,
            &rank_values(runs, |r| (1.0 - phi) * phi.powi(r as i32 - 1)),
        )
        .combine(sum),
        M::BordaFuse => borda_points(runs, &vec![1.0; runs.lists.len()]),
        M::WeightedBordaFuse => borda_points(runs, &weights),
        M::Condorcet => condorcet_points(runs, &vec![1.0; runs.lists.len()]),
        M::WeightedCondorcet => condorcet_points(runs, &weights),
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len() % 2 == 1 {
        values[middle]
    } else {
        (values[middle - 1] + values[middle]) / 2.0
    }
}

/// Borda count: in a list of n items among N candidates, position p earns N - p + 1 points,
/// and each candidate the list lacks earns (N - n + 1) / 2.
fn borda_points(runs: &Runs, weights: &[f64]) -> Vec<f64> {
    let total = runs.candidates.len();
    (0..total)
        .map(|candidate| {
            runs.lists
                .iter()
                .enumerate()
                .map(|(list, run)| {
                    let points = match runs.position(list, candidate) {
                        0 => (total - run.len() + 1) as f64 / 2.0,
                        position => (total - position + 1) as f64,
                    };
                    weights[list] * points
                })
                .sum()
        })
        .collect()
}

/// Condorcet: `x` goes before `y` when the (weighted) lists ranking `x` above `y` are at least
/// as many as the others; a candidate a list lacks is ranked below all it has. The candidate
/// at fused position i of N gets N - i points.
fn condorcet_points(runs: &Runs, weights: &[f64]) -> Vec<f64> {
    let total = runs.candidates.len();
    let rank = |list: usize, candidate: usize| match runs.position(list, candidate) {
        0 => usize::MAX,
        position => position,
    };
    let order = condorcet_order(total, |x, y| {
        let (mut x_votes, mut y_votes) = (0.0, 0.0);
        for (list, weight) in weights.iter().enumerate() {
            if rank(list, x) < rank(list, y) {
                x_votes += weight;
            } else {
                y_votes += weight;
            }
        }
        x_votes >= y_votes
    });
    let mut points = vec![0.0; total];
    for (i, candidate) in order.into_iter().enumerate() {
        points[candidate] = (total - i) as f64;
    }
    points
}
