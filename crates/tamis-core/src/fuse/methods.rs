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

/// Per candidate, running totals over the lists that contain it.
struct Totals {
    sum: Vec<f64>,
    count: Vec<f64>,
    weighted_sum: Vec<f64>,
    weight: Vec<f64>,
    max: Vec<f64>,
    min: Vec<f64>,
}

impl Totals {
    fn collect(candidates: usize, lists: &[Vec<(usize, f64)>], weights: &[f64]) -> Self {
        let mut totals = Self {
            sum: vec![0.0; candidates],
            count: vec![0.0; candidates],
            weighted_sum: vec![0.0; candidates],
            weight: vec![0.0; candidates],
            max: vec![f64::NEG_INFINITY; candidates],
            min: vec![f64::INFINITY; candidates],
        };
        for (run, &weight) in lists.iter().zip(weights) {
            for &(c, value) in run {
                totals.sum[c] += value;
                totals.count[c] += 1.0;
                totals.weighted_sum[c] += weight * value;
                totals.weight[c] += weight;
                totals.max[c] = totals.max[c].max(value);
                totals.min[c] = totals.min[c].min(value);
            }
        }
        totals
    }

    fn combine(&self, f: impl Fn(usize) -> f64) -> Vec<f64> {
        (0..self.sum.len()).map(f).collect()
    }
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
    let all_lists = runs.lists.len() as f64;
    let totals = |lists: &[Vec<(usize, f64)>]| Totals::collect(candidates, lists, &weights);
    let inverse_square = || totals(&rank_values(runs, |r| 1.0 / (r * r) as f64));
    use FusionMethod as M;
    match method {
        M::Sum => totals(&normalized).sum,
        M::Mnz => {
            let t = totals(&normalized);
            t.combine(|c| t.sum[c] * t.count[c])
        }
        M::Anz => {
            let t = totals(&normalized);
            t.combine(|c| t.sum[c] / t.count[c])
        }
        // ranx fills absent lists with -1e9 (max) and 1e9 (min).
        M::Max => {
            let t = totals(&normalized);
            t.combine(|c| {
                if t.count[c] < all_lists {
                    t.max[c].max(-1e9)
                } else {
                    t.max[c]
                }
            })
        }
        M::Min => {
            let t = totals(&normalized);
            t.combine(|c| {
                if t.count[c] < all_lists {
                    t.min[c].min(1e9)
                } else {
                    t.min[c]
                }
            })
        }
        M::Med => {
            let mut values = vec![Vec::new(); candidates];
            for &(c, value) in normalized.iter().flatten() {
                values[c].push(value);
            }
            values.into_iter().map(median).collect()
        }
        M::Gmnz { gamma } => {
            let t = totals(&normalized);
            t.combine(|c| t.sum[c] * t.count[c].powf(gamma))
        }
        M::Wsum => totals(&normalized).weighted_sum,
        M::Wmnz => {
            let t = totals(&normalized);
            t.combine(|c| t.sum[c] * t.weight[c])
        }
        M::Rrf { k } => totals(&rank_values(runs, |r| 1.0 / (k + r as f64))).sum,
        M::Isr => {
            let t = inverse_square();
            t.combine(|c| t.sum[c] * t.count[c])
        }
        M::LogIsr => {
            let t = inverse_square();
            t.combine(|c| t.sum[c] * t.count[c].ln())
        }
        M::LognIsr { sigma } => {
            let t = inverse_square();
            t.combine(|c| t.sum[c] * (t.count[c] + sigma).ln())
        }
        M::Rbc { phi } => totals(&rank_values(runs, |r| (1.0 - phi) * phi.powi(r as i32 - 1))).sum,
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

impl FusionMethod {
    /// Every method under its ranx name, with ranx's default parameters.
    pub const NAMED: [(&'static str, FusionMethod); 18] = [
        ("sum", FusionMethod::Sum),
        ("mnz", FusionMethod::Mnz),
        ("anz", FusionMethod::Anz),
        ("max", FusionMethod::Max),
        ("min", FusionMethod::Min),
        ("med", FusionMethod::Med),
        ("gmnz", FusionMethod::Gmnz { gamma: 0.5 }),
        ("wsum", FusionMethod::Wsum),
        ("wmnz", FusionMethod::Wmnz),
        ("rrf", FusionMethod::Rrf { k: 60.0 }),
        ("isr", FusionMethod::Isr),
        ("log_isr", FusionMethod::LogIsr),
        ("logn_isr", FusionMethod::LognIsr { sigma: 0.01 }),
        ("rbc", FusionMethod::Rbc { phi: 0.8 }),
        ("bordafuse", FusionMethod::BordaFuse),
        ("w_bordafuse", FusionMethod::WeightedBordaFuse),
        ("condorcet", FusionMethod::Condorcet),
        ("w_condorcet", FusionMethod::WeightedCondorcet),
    ];

    /// The method with this ranx name and default parameters.
    ///
    /// ```
    /// use tamis_core::fuse::FusionMethod;
    /// assert_eq!(FusionMethod::from_name("rrf"), Some(FusionMethod::Rrf { k: 60.0 }));
    /// assert_eq!(FusionMethod::from_name("magic"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<FusionMethod> {
        Self::NAMED
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, method)| *method)
    }
}
