//! A logistic model over [embedding ; lexical features], fitted in milliseconds on a policy's
//! examples, and pulled towards an anchor (a built-in prior, or zero) rather than towards
//! zero alone: with a prior, a few examples adjust it instead of replacing it.

use super::features::{SparseVector, LEXICAL_DIMENSIONS};

/// What the classifier knows about one text.
#[derive(Debug, Clone, PartialEq)]
pub struct TextFeatures {
    /// The unit-length sentence embedding.
    pub embedding: Vec<f32>,
    /// Hashed n-grams and signals of the normalized text.
    pub lexical: SparseVector,
}

/// Weights of one category.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearModel {
    pub embedding: Vec<f32>,
    /// [`LEXICAL_DIMENSIONS`] long.
    pub lexical: Vec<f32>,
    pub bias: f32,
}

impl LinearModel {
    /// The all-zero model (every score 0.5) for embeddings of `dimension`.
    pub fn zeros(dimension: usize) -> Self {
        LinearModel {
            embedding: vec![0.0; dimension],
            lexical: vec![0.0; LEXICAL_DIMENSIONS],
            bias: 0.0,
        }
    }

    /// The log-odds of `features`.
    pub fn logit(&self, features: &TextFeatures) -> f32 {
        let dense: f32 = self
            .embedding
            .iter()
            .zip(&features.embedding)
            .map(|(w, x)| w * x)
            .sum();
        dense + features.lexical.dot(&self.lexical) + self.bias
    }
}

/// The logistic function.
pub fn sigmoid(logit: f32) -> f32 {
    1.0 / (1.0 + (-logit).exp())
}

/// One labelled text of a fit.
#[derive(Debug, Clone, Copy)]
pub struct Sample<'a> {
    pub features: &'a TextFeatures,
    pub positive: bool,
    pub weight: f32,
}

/// Settings of [`fit`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitOptions {
    /// Strength of the pull towards the anchor (L2 on the weights, not the bias).
    pub l2: f32,
    /// Full-batch Adam steps.
    pub iterations: usize,
    pub learning_rate: f32,
    /// Fit the lexical weights too; without, they stay the anchor's.
    pub lexical: bool,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            l2: 1e-3,
            iterations: 300,
            learning_rate: 0.05,
            lexical: true,
        }
    }
}

/// Adam state for one block of weights.
struct Adam {
    first: Vec<f32>,
    second: Vec<f32>,
}

impl Adam {
    fn new(len: usize) -> Self {
        Adam {
            first: vec![0.0; len],
            second: vec![0.0; len],
        }
    }

    fn step(&mut self, weights: &mut [f32], gradient: &[f32], rate: f32, t: i32) {
        const BETA1: f32 = 0.9;
        const BETA2: f32 = 0.999;
        let correction1 = 1.0 - BETA1.powi(t);
        let correction2 = 1.0 - BETA2.powi(t);
        for (((w, g), m), v) in weights
            .iter_mut()
            .zip(gradient)
            .zip(&mut self.first)
            .zip(&mut self.second)
        {
            *m = BETA1 * *m + (1.0 - BETA1) * g;
            *v = BETA2 * *v + (1.0 - BETA2) * g * g;
            *w -= rate * (*m / correction1) / ((*v / correction2).sqrt() + 1e-8);
        }
    }
}

/// Minimises the weighted mean log-loss of `samples` plus `l2 / 2 * |w - anchor|²`, starting
/// from the anchor. Deterministic: the same samples give the same model.
///
/// ```
/// use tamis_core::classify::{fit, sigmoid, FitOptions, LinearModel, Sample, SparseVector, TextFeatures};
///
/// let text = |x: f32| TextFeatures { embedding: vec![x, 1.0 - x], lexical: SparseVector::default() };
/// let (yes, no) = (text(1.0), text(0.0));
/// let samples = [
///     Sample { features: &yes, positive: true, weight: 1.0 },
///     Sample { features: &no, positive: false, weight: 1.0 },
/// ];
/// let model = fit(&samples, &LinearModel::zeros(2), &FitOptions::default());
/// assert!(sigmoid(model.logit(&yes)) > 0.9 && sigmoid(model.logit(&no)) < 0.1);
/// ```
pub fn fit(samples: &[Sample], anchor: &LinearModel, options: &FitOptions) -> LinearModel {
    let mut model = anchor.clone();
    let total_weight: f32 = samples.iter().map(|s| s.weight).sum();
    if samples.is_empty() || total_weight <= 0.0 {
        return model;
    }
    let mut adam_embedding = Adam::new(model.embedding.len());
    let mut adam_bias = Adam::new(1);
    let mut gradient_embedding = vec![0.0; model.embedding.len()];
    // Without a lexical fit its weights stay the anchor's: no gradient is computed for them.
    let lexical_len = if options.lexical {
        model.lexical.len()
    } else {
        0
    };
    let mut adam_lexical = Adam::new(lexical_len);
    let mut gradient_lexical = vec![0.0; lexical_len];
    for t in 1..=options.iterations {
        for ((g, w), a) in gradient_embedding
            .iter_mut()
            .zip(&model.embedding)
            .zip(&anchor.embedding)
        {
            *g = options.l2 * (w - a);
        }
        for ((g, w), a) in gradient_lexical
            .iter_mut()
            .zip(&model.lexical)
            .zip(&anchor.lexical)
        {
            *g = options.l2 * (w - a);
        }
        let mut gradient_bias = 0.0;
        for sample in samples {
            let target = if sample.positive { 1.0 } else { 0.0 };
            let error =
                (sigmoid(model.logit(sample.features)) - target) * sample.weight / total_weight;
            for (g, x) in gradient_embedding
                .iter_mut()
                .zip(&sample.features.embedding)
            {
                *g += error * x;
            }
            if options.lexical {
                for (i, x) in sample.features.lexical.iter() {
                    gradient_lexical[i] += error * x;
                }
            }
            gradient_bias += error;
        }
        let t = t as i32;
        let rate = options.learning_rate;
        adam_embedding.step(&mut model.embedding, &gradient_embedding, rate, t);
        if options.lexical {
            adam_lexical.step(&mut model.lexical, &gradient_lexical, rate, t);
        }
        adam_bias.step(
            std::slice::from_mut(&mut model.bias),
            &[gradient_bias],
            rate,
            t,
        );
    }
    model
}

/// [`fit`] with the classes balanced: the positives share half the total weight and the
/// negatives the other half, each side in proportion to the given relative weights, so
/// that a score of 0.5 means "as likely as not" whatever the class sizes.
pub fn fit_balanced(
    positives: &[(&TextFeatures, f32)],
    negatives: &[(&TextFeatures, f32)],
    anchor: &LinearModel,
    options: &FitOptions,
) -> LinearModel {
    let mut samples = half_of(positives, true);
    samples.extend(half_of(negatives, false));
    fit(&samples, anchor, options)
}

/// Samples of one class whose weights sum to one half.
fn half_of<'a>(texts: &[(&'a TextFeatures, f32)], positive: bool) -> Vec<Sample<'a>> {
    let total: f32 = texts.iter().map(|(_, w)| w).sum();
    texts
        .iter()
        .map(|&(features, weight)| Sample {
            features,
            positive,
            weight: 0.5 * weight / total.max(f32::MIN_POSITIVE),
        })
        .collect()
}
