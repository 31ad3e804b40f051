//! Calibration of a category's scores from the policy's own texts, so that 0.5 means "as
//! likely as not" whether or not a built-in prior describes the category.
//!
//! A model fitted on a handful of examples separates them perfectly and says little about
//! the texts it did not see: on a renamed category its scores for unseen harmful texts sat
//! at .33–.41. Two calibrations replace the raw score:
//!
//! - [`platt`]: with two examples or more, the policy's texts are scored by models fitted
//!   without them (cross-fitting, [`fold_of`]), and a logistic map of those held-out logits
//!   (a Platt fit, pulled towards the identity) corrects the full model's logit.
//! - [`AnchorCalibration`]: with fewer examples (a definition alone, or one post), the
//!   score is the cosine to the anchors (the definition, the example) measured against the
//!   same cosines of the benign background: a text scores 0.5 when it is as close to the
//!   anchors as the background's upper tail.
//!
//! One to three examples in a policy with counter-examples (keep texts, other categories'
//! examples) take neither: they are a plain probe against those counter-examples (see the
//! classifier's `fit_one`).

/// Fewest examples whose category is calibrated by cross-fitting when the policy has
/// counter-examples: with one to three, a fold holds out one example and a Platt fit on one
/// or two held-out examples placed 0.5 almost anywhere (see the classifier's `fit_one`).
pub const MIN_CROSS_FITTED_EXAMPLES: usize = 4;

/// Folds of the cross-fitting: enough that each fold's model, fitted on all the other folds,
/// scores like the model fitted on everything, few enough to keep a policy edit quick: one
/// example added to a category of 32 examples and 32 keep texts (nine fits, the new example
/// embedded) takes 148 ms with MiniLM and 200 ms with e5 in wasm (`npm run bench`'s timeline,
/// docs/speed-wasm.md). Measured with e5 on renamed categories (`tamis eval classify --only
/// renamed`, k harmful examples and k keep texts, SMS spam / TextDetox / SST-2), four folds
/// against eight: k = 8, F1 .883 / .895 / .735 against .895 / .896 / .731, ECE .086 / .062 /
/// .085 against .079 / .054 / .078; k = 32, F1 .927 / .927 / .795 against .930 / .925 /
/// .796, ECE .069 / .042 / .062 against .067 / .041 / .057. Sixteen changed nothing more.
/// MiniLM at k = 8: F1 .753 / .847 / .628 against .764 / .847 / .615 (SST-2's deviation
/// across seeds is .06), ECE .125 / .083 / .099 against .113 / .082 / .100.
pub const MAX_FOLDS: usize = 8;

/// The fold of the `index`-th text of its class among `folds` (round robin, deterministic).
pub fn fold_of(index: usize, folds: usize) -> usize {
    index % folds.max(1)
}

/// An affine map of a logit: `scale * logit + offset`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibration {
    pub scale: f32,
    pub offset: f32,
}

impl Calibration {
    /// The map that changes nothing.
    pub const IDENTITY: Calibration = Calibration {
        scale: 1.0,
        offset: 0.0,
    };

    /// The calibrated logit.
    pub fn apply(&self, logit: f32) -> f32 {
        self.scale * logit + self.offset
    }
}

/// One held-out score of a Platt fit: the logit a model gave a text it was not fitted on,
/// the text's class and its weight.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeldOut {
    pub logit: f32,
    pub positive: bool,
    pub weight: f32,
}

/// Smallest scale of the standardized logit a Platt fit may reach: the calibrated score keeps
/// the model's ranking.
const MIN_SCALE: f64 = 0.05;

/// The Platt fit: the `scale` and `offset` minimizing the weighted log-loss of
/// `sigmoid(scale * logit + offset)` on `held_out`, with the classes balanced (each class
/// holds half the weight) and an L2 pull of strength `pull`, which decides when the held-out
/// texts are few, towards the logit divided by its spread (the held-out logits' standard
/// deviation). The pull means the same whatever the logits' scale: a model fitted with a
/// strong L2 gives logits within ±0.2, and a pull towards the raw logit kept their scores
/// near 0.5 (ECE .3 on renamed categories). Newton steps on the two parameters.
pub fn platt(held_out: &[HeldOut], pull: f32) -> Calibration {
    let class_weight = |positive: bool| -> f64 {
        held_out
            .iter()
            .filter(|h| h.positive == positive)
            .map(|h| f64::from(h.weight))
            .sum()
    };
    let (positive_weight, negative_weight) = (class_weight(true), class_weight(false));
    if positive_weight <= 0.0 || negative_weight <= 0.0 {
        return Calibration::IDENTITY;
    }
    let pull = f64::from(pull);
    // Each text's class weight (the classes hold half the weight each) and target.
    let mut terms: Vec<(f64, f64, f64)> = held_out
        .iter()
        .map(|h| {
            let (class_weight, target) = if h.positive {
                (positive_weight, 1.0)
            } else {
                (negative_weight, 0.0)
            };
            (
                f64::from(h.logit),
                0.5 * f64::from(h.weight) / class_weight,
                target,
            )
        })
        .collect();
    let spread = weighted_spread(&terms);
    for term in &mut terms {
        term.0 /= spread;
    }
    let loss = |scale: f64, offset: f64| -> f64 {
        let fit: f64 = terms
            .iter()
            .map(|&(x, weight, target)| {
                let z = scale * x + offset;
                weight * (target * softplus(-z) + (1.0 - target) * softplus(z))
            })
            .sum();
        fit + 0.5 * pull * ((scale - 1.0).powi(2) + offset * offset)
    };
    let (mut scale, mut offset) = (1.0f64, 0.0f64);
    let mut current = loss(scale, offset);
    for _ in 0..50 {
        // Gradient and Hessian of the loss in (scale, offset).
        let (mut g_scale, mut g_offset) = (pull * (scale - 1.0), pull * offset);
        let (mut h_ss, mut h_so, mut h_oo) = (pull, 0.0, pull);
        for &(x, weight, target) in &terms {
            let p = 1.0 / (1.0 + (-(scale * x + offset)).exp());
            let error = weight * (p - target);
            let curvature = weight * p * (1.0 - p);
            g_scale += error * x;
            g_offset += error;
            h_ss += curvature * x * x;
            h_so += curvature * x;
            h_oo += curvature;
        }
        let determinant = h_ss * h_oo - h_so * h_so;
        if determinant <= f64::EPSILON {
            break;
        }
        let step_scale = (h_oo * g_scale - h_so * g_offset) / determinant;
        let step_offset = (h_ss * g_offset - h_so * g_scale) / determinant;
        // Held-out logits far from 0.5 have almost no curvature, and a full Newton step
        // from there overshot to a map that put 0.5 above every held-out example: the step
        // is halved until the loss falls.
        let mut fraction = 1.0;
        let accepted = loop {
            let candidate = (
                (scale - fraction * step_scale).max(MIN_SCALE),
                offset - fraction * step_offset,
            );
            let candidate_loss = loss(candidate.0, candidate.1);
            if candidate_loss <= current {
                break Some((candidate, candidate_loss));
            }
            fraction *= 0.5;
            if fraction < 1e-6 {
                break None;
            }
        };
        let Some(((next_scale, next_offset), next_loss)) = accepted else {
            break;
        };
        let moved = (next_scale - scale).abs().max((next_offset - offset).abs());
        (scale, offset, current) = (next_scale, next_offset, next_loss);
        if moved < 1e-6 {
            break;
        }
    }
    Calibration {
        scale: (scale / spread) as f32,
        offset: offset as f32,
    }
}

/// The standard deviation of the logits under their weights (which sum to one); 1 when
/// they do not spread, so that a degenerate fit keeps the identity.
fn weighted_spread(terms: &[(f64, f64, f64)]) -> f64 {
    let mean: f64 = terms.iter().map(|&(x, weight, _)| weight * x).sum();
    let variance: f64 = terms
        .iter()
        .map(|&(x, weight, _)| weight * (x - mean).powi(2))
        .sum();
    let spread = variance.sqrt();
    if spread > 1e-9 {
        spread
    } else {
        1.0
    }
}

/// `ln(1 + e^z)`, without overflow.
fn softplus(z: f64) -> f64 {
    z.max(0.0) + (-z.abs()).exp().ln_1p()
}

/// Scores by similarity to anchor texts (a definition, a lone example), calibrated on the
/// benign background's similarities to the same anchors.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnchorCalibration {
    /// The similarity that scores 0.5.
    pub midpoint: f32,
    /// Similarity per unit of logit.
    pub width: f32,
}

/// Settings of [`AnchorCalibration::from_background`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnchorOptions {
    /// The 0.5 point, in standard deviations of the background's similarities above their
    /// mean: the share of benign texts an anchor alone flags. The background's points are
    /// summaries of many texts, whose similarities spread less than single texts' do: at
    /// one deviation a `cooking` definition flagged "See you at the library after lunch?"
    /// (and TextDetox's benign texts at 14%), at two it does not (`tamis eval classify`).
    /// One deviation with keep texts only was tried too: a lone TextDetox or SST-2 example
    /// with one keep text rose from F1 .486 / .306 to .670 / .620 (SMS spam fell from .482
    /// to .254), but `gloomy` added to a spam and toxic policy, whose keep texts are SMS and
    /// comments, then hid 61% of the benign texts from one example or its definition alone.
    pub deviations: f32,
    /// The 0.5 point of a definition without examples (scored by its anchors, see
    /// [`crate::classify::definition_anchors`]), in the same units. A definition is a
    /// looser description than an example: at two deviations the definitions of the seed
    /// categories caught almost nothing. F1 on SMS spam / TextDetox / SST-2, definition alone
    /// (`tamis eval classify --only renamed`, benign FPR in brackets, the background of
    /// [`crate::classify::REPRESENTATIVE_RANK`]), e5: at 0.6 .40 / .76 / .59 (.25 / .16 / .10),
    /// at 0.75 .40 / .72 / .57 (.20 / .14 / .08), at 1 .41 / .66 / .51 (.13 / .10 / .05);
    /// MiniLM at 0.6 .54 / .68 / .54 (.26 / .27 / .42), at 0.75 .57 / .65 / .52 (.22 / .22 /
    /// .36), at 1 .63 / .60 / .48 (.17 / .15 / .26). Below 0.75 each gain in recall costs
    /// benign texts a user sees hidden (SMS spam's FPR rises by a quarter at 0.6); above it,
    /// e5's toxicity definition falls below .70, so 0.75 stays.
    pub definition_deviations: f32,
    /// Standard deviations of the background's similarities per unit of logit.
    pub width: f32,
}

impl Default for AnchorOptions {
    fn default() -> Self {
        AnchorOptions {
            deviations: 2.0,
            definition_deviations: 0.75,
            width: 0.5,
        }
    }
}

impl AnchorCalibration {
    /// Calibration from the background's similarities to the anchors (similarity, weight),
    /// with its 0.5 point `deviations` standard deviations above their mean and `width`
    /// deviations per unit of logit. `None` without a background to measure against.
    pub fn from_background(
        similarities: &[(f32, f32)],
        deviations: f32,
        width: f32,
    ) -> Option<Self> {
        let total: f32 = similarities.iter().map(|(_, w)| w).sum();
        if similarities.is_empty() || total <= 0.0 {
            return None;
        }
        let mean = similarities.iter().map(|(s, w)| s * w).sum::<f32>() / total;
        let variance = similarities
            .iter()
            .map(|(s, w)| w * (s - mean) * (s - mean))
            .sum::<f32>()
            / total;
        // A background of one point (or identical ones) still gives a usable width.
        let deviation = variance.sqrt().max(0.02);
        Some(AnchorCalibration {
            midpoint: mean + deviations * deviation,
            width: width * deviation,
        })
    }

    /// The calibrated logit of a text whose best similarity to the anchors is `similarity`.
    pub fn logit(&self, similarity: f32) -> f32 {
        (similarity - self.midpoint) / self.width
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::sigmoid;

    fn held_out(logits: &[f32], positive: bool) -> Vec<HeldOut> {
        logits
            .iter()
            .map(|&logit| HeldOut {
                logit,
                positive,
                weight: 1.0,
            })
            .collect()
    }

    #[test]
    fn platt_moves_held_out_positives_above_one_half() {
        // The raw model scores unseen positives at .33-.41 (logits -0.7..-0.35) and
        // negatives well below: the calibrated map must put 0.5 between the two groups.
        let mut scored = held_out(&[-0.7, -0.5, -0.45, -0.35], true);
        scored.extend(held_out(&[-3.0, -2.5, -2.2, -2.0, -1.8, -1.5], false));
        let calibration = platt(&scored, 0.01);
        for h in &scored {
            let score = sigmoid(calibration.apply(h.logit));
            assert_eq!(score >= 0.5, h.positive, "{h:?} scored {score}");
        }
        assert!(calibration.scale > 0.0);
    }

    #[test]
    fn platt_balances_the_classes_whatever_their_sizes() {
        // Ten times more negatives, overlapping the positives: balanced weights keep the
        // 0.5 point midway, where an unbalanced fit would push it towards the positives.
        let mut scored = held_out(&[0.0, 1.0], true);
        let negatives: Vec<f32> = (0..20).map(|i| -1.0 + (i % 2) as f32).collect();
        scored.extend(held_out(&negatives, false));
        let calibration = platt(&scored, 0.0);
        let midpoint = -calibration.offset / calibration.scale;
        assert!((midpoint - 0.0).abs() < 0.3, "0.5 at logit {midpoint}");
    }

    #[test]
    fn platt_stays_at_the_identity_without_both_classes() {
        assert_eq!(
            platt(&held_out(&[1.0, 2.0], true), 0.1),
            Calibration::IDENTITY
        );
        assert_eq!(platt(&[], 0.1), Calibration::IDENTITY);
    }

    #[test]
    fn a_strong_pull_divides_the_logits_by_their_spread() {
        // Held-out logits -1 and -3, balanced: their spread is 1, so the standardized logit
        // is the logit itself; at ten times the scale, one tenth of it.
        for factor in [1.0, 10.0] {
            let mut scored = held_out(&[-factor], true);
            scored.extend(held_out(&[-3.0 * factor], false));
            let pulled = platt(&scored, 1e4);
            assert!(
                (pulled.scale * factor - 1.0).abs() < 1e-3 && pulled.offset.abs() < 1e-3,
                "{pulled:?} at factor {factor}"
            );
        }
    }

    #[test]
    fn platt_keeps_the_ranking_when_the_held_out_scores_are_inverted() {
        // Held-out positives below the negatives: the scale stops at its floor rather than
        // turning the model's ranking upside down.
        let mut scored = held_out(&[-2.0, -2.5], true);
        scored.extend(held_out(&[1.0, 2.0], false));
        assert!(platt(&scored, 0.0).scale > 0.0);
    }

    #[test]
    fn anchor_calibration_puts_one_half_in_the_background_tail() {
        let background: Vec<(f32, f32)> = [0.0, 0.1, 0.2, 0.1, 0.0, 0.2]
            .iter()
            .map(|&s| (s, 1.0))
            .collect();
        let anchor =
            AnchorCalibration::from_background(&background, 2.0, 0.5).expect("a background");
        // Mean 0.1, deviation about 0.082: 0.5 two deviations above the mean, about 0.26.
        assert!((anchor.midpoint - 0.263).abs() < 0.01, "{anchor:?}");
        assert!(sigmoid(anchor.logit(0.2)) < 0.5);
        assert!(sigmoid(anchor.logit(0.6)) > 0.95);
        assert_eq!(AnchorCalibration::from_background(&[], 2.0, 0.5), None);
    }

    #[test]
    fn folds_are_round_robin() {
        let folds: Vec<usize> = (0..6).map(|i| fold_of(i, 4)).collect();
        assert_eq!(folds, [0, 1, 2, 3, 0, 1]);
        assert_eq!(fold_of(3, 0), 0);
    }
}
