use super::input::Runs;

/// How each list's scores are rescaled before score-based fusion (ranx's normalizations).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Normalization {
    /// Scores as given.
    None,
    /// `(s - min) / (max - min)`.
    MinMax,
    /// `s / max`.
    Max,
    /// `(s - min) / (sum - n * min)`.
    Sum,
    /// Zero mean, unit variance: `(s - mean) / std` (population standard deviation).
    Zmuv,
    /// `1 - (p - 1) / n` for the item at 1-based position `p` of `n`.
    Rank,
    /// Over all candidates `N` of all lists: `1 - (p - 1) / N` for ranked items, and
    /// `0.5 - (n - 1) / (2 N)` for candidates the list lacks, which it then contains.
    Borda,
}

/// Denominators never go below this, as in ranx, so constant lists do not divide by zero.
const MIN_DENOMINATOR: f64 = 1e-9;

impl Normalization {
    /// The normalized lists, each as (candidate, score) in the list's order.
    pub(crate) fn apply(self, runs: &Runs) -> Vec<Vec<(usize, f64)>> {
        runs.lists
            .iter()
            .enumerate()
            .map(|(list, run)| self.apply_to(runs, list, run))
            .collect()
    }

    fn apply_to(self, runs: &Runs, list: usize, run: &[(usize, f64)]) -> Vec<(usize, f64)> {
        let n = run.len() as f64;
        let scores = || run.iter().map(|&(_, s)| s);
        let min = scores().fold(f64::INFINITY, f64::min);
        let max = scores().fold(f64::NEG_INFINITY, f64::max);
        let rescale = |offset: f64, denominator: f64| {
            let denominator = denominator.max(MIN_DENOMINATOR);
            run.iter()
                .map(|&(c, s)| (c, (s - offset) / denominator))
                .collect()
        };
        match self {
            Self::None => run.to_vec(),
            Self::MinMax => rescale(min, max - min),
            Self::Max => rescale(0.0, max),
            Self::Sum => rescale(min, scores().sum::<f64>() - min * n),
            Self::Zmuv => {
                let mean = scores().sum::<f64>() / n;
                let variance = scores().map(|s| (s - mean).powi(2)).sum::<f64>() / n;
                rescale(mean, variance.sqrt())
            }
            Self::Rank => run
                .iter()
                .enumerate()
                .map(|(i, &(c, _))| (c, 1.0 - i as f64 / n))
                .collect(),
            Self::Borda => {
                let total = runs.candidates.len() as f64;
                let unranked = 0.5 - (n - 1.0) / (2.0 * total);
                let mut normalized: Vec<(usize, f64)> = run
                    .iter()
                    .enumerate()
                    .map(|(i, &(c, _))| (c, 1.0 - i as f64 / total))
                    .collect();
                normalized.extend(
                    (0..runs.candidates.len())
                        .filter(|&c| runs.position(list, c) == 0)
                        .map(|c| (c, unranked)),
                );
                normalized
            }
        }
    }
}

impl Normalization {
    /// The normalization with this name: none, min-max, max, sum, zmuv, rank, borda.
    ///
    /// ```
    /// use tamis_core::fuse::Normalization;
    /// assert_eq!(Normalization::from_name("min-max"), Some(Normalization::MinMax));
    /// ```
    pub fn from_name(name: &str) -> Option<Normalization> {
        Some(match name {
            "none" => Normalization::None,
            "min-max" => Normalization::MinMax,
            "max" => Normalization::Max,
            "sum" => Normalization::Sum,
            "zmuv" => Normalization::Zmuv,
            "rank" => Normalization::Rank,
            "borda" => Normalization::Borda,
            _ => return None,
        })
    }
}
