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
    let mut lexical = if options.lexical {
        Lexical::Fitted(TouchedLexical::new(samples, anchor))
    } else {
        // Without a lexical fit its weights stay the anchor's, and each sample's lexical
        // term what it is at the start.
        let term = |s: &Sample| s.features.lexical.dot(&model.lexical);
        Lexical::Fixed(samples.iter().map(term).collect())
    };
    let embeddings = InterleavedEmbeddings::new(samples, model.embedding.len());
    let mut dense = vec![0.0; samples.len()];
    for t in 1..=options.iterations {
        for ((g, w), a) in gradient_embedding
            .iter_mut()
            .zip(&model.embedding)
            .zip(&anchor.embedding)
        {
            *g = options.l2 * (w - a);
        }
        if let Lexical::Fitted(lexical) = &mut lexical {
            lexical.start_gradient(options.l2);
        }
        let mut gradient_bias = 0.0;
        embeddings.dots(&model.embedding, &mut dense);
        for (index, sample) in samples.iter().enumerate() {
            let target = if sample.positive { 1.0 } else { 0.0 };
            // `model.logit(sample.features)`, its dense part from `dots`.
            let logit = dense[index] + lexical.term(index) + model.bias;
            let error = (sigmoid(logit) - target) * sample.weight / total_weight;
            for (g, x) in gradient_embedding
                .iter_mut()
                .zip(&sample.features.embedding)
            {
                *g += error * x;
            }
            if let Lexical::Fitted(lexical) = &mut lexical {
                lexical.add_to_gradient(index, error);
            }
            gradient_bias += error;
        }
        let t = t as i32;
        let rate = options.learning_rate;
        adam_embedding.step(&mut model.embedding, &gradient_embedding, rate, t);
        if let Lexical::Fitted(lexical) = &mut lexical {
            lexical.step(rate, t);
        }
        adam_bias.step(
            std::slice::from_mut(&mut model.bias),
            &[gradient_bias],
            rate,
            t,
        );
    }
    if let Lexical::Fitted(lexical) = lexical {
        for (&i, &w) in lexical.indices.iter().zip(&lexical.weights) {
            model.lexical[i] = w;
        }
    }
    model
}

/// The lexical part of a fit's logits.
enum Lexical {
    /// Each sample's lexical term, which a fit of the embedding's weights alone leaves as is.
    Fixed(Vec<f32>),
    Fitted(TouchedLexical),
}

impl Lexical {
    /// The `sample`-th sample's lexical term of the logit.
    fn term(&self, sample: usize) -> f32 {
        match self {
            Lexical::Fixed(terms) => terms[sample],
            Lexical::Fitted(touched) => touched.dot(sample),
        }
    }
}

/// The lexical weights a fit moves, in a compact copy: those at which some sample has a
/// feature. Every other weight gets no gradient but the pull towards the anchor, where it
/// starts, so each of its Adam steps leaves it exactly where it was; stepping all 16,392 of
/// them on every iteration was most of the work of a fit with a prior (a background point or
/// an example has at most a few hundred features).
struct TouchedLexical {
    /// The weights' indices in the lexical vector, ascending.
    indices: Vec<usize>,
    weights: Vec<f32>,
    /// The anchor's weights at `indices`.
    anchor: Vec<f32>,
    /// Each sample's features as (position in `weights`, value), in its own order.
    entries: Vec<Vec<(usize, f32)>>,
    /// The current step's gradient of `weights`, and Adam's state for them.
    gradient: Vec<f32>,
    adam: Adam,
}

impl TouchedLexical {
    fn new(samples: &[Sample], anchor: &LinearModel) -> Self {
        let mut indices: Vec<usize> = (samples.iter())
            .flat_map(|s| s.features.lexical.iter().map(|(i, _)| i))
            .collect();
        indices.sort_unstable();
        indices.dedup();
        let position = |i: usize| indices.binary_search(&i).expect("collected above");
        let entries = (samples.iter())
            .map(|s| {
                s.features
                    .lexical
                    .iter()
                    .map(|(i, x)| (position(i), x))
                    .collect()
            })
            .collect();
        let weights: Vec<f32> = indices.iter().map(|&i| anchor.lexical[i]).collect();
        Self {
            anchor: weights.clone(),
            gradient: vec![0.0; weights.len()],
            adam: Adam::new(weights.len()),
            weights,
            indices,
            entries,
        }
    }

    /// Starts a step's gradient with the pull towards the anchor, `l2 * (w - anchor)`.
    fn start_gradient(&mut self, l2: f32) {
        for ((g, w), a) in self
            .gradient
            .iter_mut()
            .zip(&self.weights)
            .zip(&self.anchor)
        {
            *g = l2 * (w - a);
        }
    }

    /// Adds the `sample`-th sample's `error` times its features to the gradient.
    fn add_to_gradient(&mut self, sample: usize, error: f32) {
        for &(position, x) in &self.entries[sample] {
            self.gradient[position] += error * x;
        }
    }

    /// Moves the weights by one Adam step along the gradient.
    fn step(&mut self, rate: f32, t: i32) {
        self.adam.step(&mut self.weights, &self.gradient, rate, t);
    }

    /// [`SparseVector::dot`] of the `sample`-th sample's features with the weights.
    fn dot(&self, sample: usize) -> f32 {
        self.entries[sample]
            .iter()
            .map(|&(position, x)| self.weights[position] * x)
            .sum()
    }
}

/// Samples side by side in each lane of a vector.
const SAMPLES_PER_BLOCK: usize = 8;

/// The samples' embeddings in blocks of [`SAMPLES_PER_BLOCK`] samples, interleaved: dimension
/// `d` of a block's sample `j` at `d * SAMPLES_PER_BLOCK + j` (the last block padded with
/// zeros). A block's dot products are then summed side by side, each in a lane of its own and
/// in [`LinearModel::logit`]'s order: its bits, several samples for the work of one (summed
/// one sample at a time, each add waits for the one before it).
struct InterleavedEmbeddings {
    blocks: Vec<f32>,
    dimension: usize,
}

impl InterleavedEmbeddings {
    fn new(samples: &[Sample], dimension: usize) -> Self {
        let block_len = dimension * SAMPLES_PER_BLOCK;
        let mut blocks = vec![0.0; samples.len().div_ceil(SAMPLES_PER_BLOCK) * block_len];
        for (index, sample) in samples.iter().enumerate() {
            let block = &mut blocks[index / SAMPLES_PER_BLOCK * block_len..][..block_len];
            let lane = index % SAMPLES_PER_BLOCK;
            for (d, &x) in sample.features.embedding.iter().take(dimension).enumerate() {
                block[d * SAMPLES_PER_BLOCK + lane] = x;
            }
        }
        Self { blocks, dimension }
    }

    /// Each sample's dot product with `weights` (`dimension` long) into `dots`.
    fn dots(&self, weights: &[f32], dots: &mut [f32]) {
        let block_len = self.dimension * SAMPLES_PER_BLOCK;
        for (block, dots) in self
            .blocks
            .chunks_exact(block_len.max(1))
            .zip(dots.chunks_mut(SAMPLES_PER_BLOCK))
        {
            let sums = block_dots(weights, block);
            dots.copy_from_slice(&sums[..dots.len()]);
        }
    }
}

/// The dot products of `weights` with the samples of an interleaved `block`, each summed in
/// order (a multiply, then an add: the bits of [`LinearModel::logit`]'s sum).
fn block_dots(weights: &[f32], block: &[f32]) -> [f32; SAMPLES_PER_BLOCK] {
    let mut sums = [0.0f32; SAMPLES_PER_BLOCK];
    for (&w, xs) in weights.iter().zip(block.chunks_exact(SAMPLES_PER_BLOCK)) {
        sums.iter_mut().zip(xs).for_each(|(sum, &x)| *sum += w * x);
    }
    sums
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleaved_dot_products_are_the_bits_of_the_logit() {
        // 19 samples (two full blocks and a short one) of 37 dimensions, values of every sign
        // and magnitude, so that any other order of the additions rounds differently.
        let value = |i: usize| ((i * 7919) % 2003) as f32 / 37.0 - 27.0;
        let features: Vec<TextFeatures> = (0..19)
            .map(|s| TextFeatures {
                embedding: (0..37)
                    .map(|d| value(s * 37 + d) * 1e-3_f32.powi((d % 5) as i32))
                    .collect(),
                lexical: SparseVector::default(),
            })
            .collect();
        let samples: Vec<Sample> = (features.iter())
            .map(|features| Sample {
                features,
                positive: true,
                weight: 1.0,
            })
            .collect();
        let mut model = LinearModel::zeros(37);
        model.embedding = (0..37).map(|d| value(d + 500)).collect();
        let mut dots = vec![0.0; samples.len()];
        InterleavedEmbeddings::new(&samples, 37).dots(&model.embedding, &mut dots);
        for (sample, dot) in samples.iter().zip(dots) {
            assert_eq!(dot.to_bits(), model.logit(sample.features).to_bits());
        }
    }
}
