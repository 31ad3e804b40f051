//! Ranking metrics with ranx's definitions (and trec_eval's for MAP and recall).
//!
//! A run is a ranked list of document ids, best first; judgments map ids to graded relevance
//! (> 0 is relevant). Documents without a judgment count as not relevant.
//!
//! ```
//! use std::collections::HashMap;
//! use tamis_core::metrics::{average_precision, ndcg_at, recall_at};
//!
//! let judgments = HashMap::from([("a", 2.0), ("c", 1.0)]);
//! let run = ["a", "b", "c"];
//! assert_eq!(recall_at(&run, &judgments, 2), 0.5);
//! assert!((average_precision(&run, &judgments) - (1.0 + 2.0 / 3.0) / 2.0).abs() < 1e-12);
//! assert!(ndcg_at(&run, &judgments, 10) < 1.0);
//! ```

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;

fn gain<K: Borrow<Q> + Eq + Hash, Q: Eq + Hash + ?Sized>(
    judgments: &HashMap<K, f64>,
    id: &Q,
) -> f64 {
    judgments
        .get(id)
        .copied()
        .filter(|&g| g > 0.0)
        .unwrap_or(0.0)
}

fn relevant_count<K>(judgments: &HashMap<K, f64>) -> usize {
    judgments.values().filter(|&&g| g > 0.0).count()
}

/// nDCG@k with linear gains and a log2(rank + 1) discount (ranx's `ndcg@k`); 0 when no
/// document is relevant.
pub fn ndcg_at<K, Q>(run: &[&Q], judgments: &HashMap<K, f64>, k: usize) -> f64
where
    K: Borrow<Q> + Eq + Hash,
    Q: Eq + Hash + ?Sized,
{
    let discounted = |gains: &mut dyn Iterator<Item = f64>| -> f64 {
        gains
            .take(k)
            .enumerate()
            .map(|(i, g)| g / ((i + 2) as f64).log2())
            .sum()
    };
    let dcg = discounted(&mut run.iter().map(|id| gain(judgments, *id)));
    let mut ideal: Vec<f64> = judgments.values().copied().filter(|&g| g > 0.0).collect();
    ideal.sort_by(|a, b| b.total_cmp(a));
    let idcg = discounted(&mut ideal.into_iter());
    if idcg > 0.0 {
        dcg / idcg
    } else {
        0.0
    }
}

/// Average precision over the whole run: the mean, over all relevant documents, of the
/// precision at each one's rank (0 for those never retrieved).
pub fn average_precision<K, Q>(run: &[&Q], judgments: &HashMap<K, f64>) -> f64
where
    K: Borrow<Q> + Eq + Hash,
    Q: Eq + Hash + ?Sized,
{
    let relevant = relevant_count(judgments);
    if relevant == 0 {
        return 0.0;
    }
    let mut hits = 0;
    let mut sum = 0.0;
    for (i, id) in run.iter().enumerate() {
        if gain(judgments, *id) > 0.0 {
            hits += 1;
            sum += hits as f64 / (i + 1) as f64;
        }
    }
    sum / relevant as f64
}

/// Share of the relevant documents found in the first `k`; 0 when none is relevant.
pub fn recall_at<K, Q>(run: &[&Q], judgments: &HashMap<K, f64>, k: usize) -> f64
where
    K: Borrow<Q> + Eq + Hash,
    Q: Eq + Hash + ?Sized,
{
    let relevant = relevant_count(judgments);
    if relevant == 0 {
        return 0.0;
    }
    let found = run
        .iter()
        .take(k)
        .filter(|id| gain(judgments, **id) > 0.0)
        .count();
    found as f64 / relevant as f64
}
