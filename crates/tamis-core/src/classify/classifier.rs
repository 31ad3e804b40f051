//! The classifier: a policy, the features of its texts cached by content, one linear model
//! per category fitted on those features (anchored on a built-in prior where there is one),
//! and verdicts with scores, decision, action and reason.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;
use thiserror::Error;

use super::calibrate::{
    fold_of, platt, AnchorCalibration, AnchorOptions, Calibration, HeldOut, MAX_FOLDS,
    MIN_CROSS_FITTED_EXAMPLES,
};
use super::describe::definition_anchors;
use super::features::{lexical_features, SparseVector};
use super::linear::{fit_balanced, sigmoid, FitOptions, LinearModel, TextFeatures};
use super::normalize::normalize_text;
use super::policy::{Action, Mode, Policy, PolicyError};
use super::prior::{BackgroundPoint, Priors};
use crate::similarity::cosine;
use crate::Encoder;

/// Longest text [`Classifier::classify`] accepts, in bytes. The model reads only its window
/// (the verdict says when a text was cut); this bound keeps a runaway input from exhausting
/// memory before that.
pub const MAX_TEXT_BYTES: usize = 1 << 20;

/// Settings of a [`Classifier`].
#[derive(Debug, Clone, PartialEq)]
pub struct ClassifierOptions {
    /// Threshold of categories that set none.
    pub threshold: f32,
    /// Anchor standard categories on the built-in priors.
    pub use_priors: bool,
    /// Use hashed n-grams and surface signals beside the embedding.
    pub lexical: bool,
    /// Undo obfuscation (see [`normalize_text`]) before anything else.
    pub normalize: bool,
    /// Fit of a category without a prior: the embedding alone, with a moderate pull
    /// towards zero. Measured on renamed categories with e5 (`tamis eval classify`, 400 test
    /// texts per dataset, k = 8 harmful examples and 8 keep texts): fitting the hashed n-grams
    /// too let a handful of examples be told apart by their words (F1 .821 / .800 / .663 on
    /// SMS spam / TextDetox / SST-2, against .900 / .896 / .736 without), and an almost free
    /// fit (l2 1e-5) was below a plain probe on the embeddings.
    pub fit: FitOptions,
    /// Examples up to which a category without a prior is fitted with [`Self::fit`]'s pull;
    /// with more, the pull is `fit.l2 * fit_reference_examples / examples`. The fit minimizes
    /// the mean loss, so a fixed pull weighs as much against a thousand examples as against
    /// eight, and held a category of a whole file of examples back from what they tell. Measured
    /// (`tamis eval classify`, full test sets; fixed pull -> this one): GermEval's `offensive`
    /// from its 3,339 remaining tweets (1,125 offensive), e5 F1 .613 -> .633, MiniLM .568 ->
    /// .577; English toxic examples applied to the German tweets, e5 .304 -> .387; three
    /// categories of 128 examples in one binary policy, e5 .746 -> .763, MiniLM .713 -> .727;
    /// one category of 128 examples per class, SMS spam / TextDetox / SST-2, e5 .945 / .931 /
    /// .809 -> .949 / .933 / .805, MiniLM .829 / .927 / .768 -> .836 / .926 / .751 (SST-2's
    /// reviews, the least separable, lose what the others gain). Fitting the hashed words too
    /// at the German whole file's size added .006 there and took English examples on German
    /// texts to .30: the embedding alone carries across languages. Up to 32 examples, where the
    /// fit's pull was measured, nothing changes.
    pub fit_reference_examples: usize,
    /// Fit of a category anchored on its prior: a stronger pull keeps the prior's knowledge.
    pub prior_fit: FitOptions,
    /// Share of the negative weight given to the built-in benign background when the policy
    /// has counter-examples for a category (it takes all of it when there are none). It keeps
    /// a category with few, similar counter-examples from matching every text on the same
    /// topic; on the seed datasets, a larger share cost recall (`tamis eval classify`).
    /// GermEval's `offensive` from its whole remaining file (e5, F1 at k = 8 / 32 / whole file,
    /// `--only german`): .519 / .577 / .633 at 0.25, .454 / .552 / .624 at 0.02, .534 / .573 /
    /// .641 at 0.4, .539 / .552 / .620 at 0.6: no share that helps throughout.
    pub background_share: f32,
    /// Share of the policy's negative weight (what the background leaves) that a category's
    /// own keep texts take together, when it has some beside the policy's other negatives
    /// (its global keep texts, the other categories' examples). They are the user's contrast
    /// for this category: a `gloomy` category from 8 negative film reviews, on a spam and
    /// toxic policy whose 64 keep texts are SMS and comments, learned "film review" and hid
    /// positive reviews too; its 8 positive reviews as keep texts, weighed as one text each
    /// among 136 negatives, changed little (`tamis eval classify`, personalization).
    pub own_keep_share: f32,
    /// A text at least this similar to a keep text, and closer to it than to any example,
    /// passes.
    pub keep_similarity: f32,
    /// Calibrate the scores of categories without a prior on the policy's own texts (see
    /// [`Calibration`]): without it, a renamed category scored its unseen harmful texts
    /// at .33–.41 and 0.5 missed most of them.
    pub calibrate: bool,
    /// Pull of the Platt fit towards the uncalibrated scores. Measured on the seed data
    /// (`tamis eval classify`): 0.01 keeps a renamed category at or above a plain linear
    /// probe with keep texts; 0.1 flagged fewer out-of-domain benign texts (a `gloomy`
    /// category added to a spam and toxic policy: FPR .19 against .61) but lost about .1 F1
    /// with keep texts.
    pub calibration_pull: f32,
    /// Examples up to which the Platt fit is pulled with [`Self::calibration_pull`]; with more,
    /// the pull is `calibration_pull * calibration_reference_examples / examples`. The Platt
    /// fit weighs its held-out texts as one whole (each class half), so a fixed pull weighed as
    /// much against 32 examples as against 8: what few held-out texts need, many do not.
    /// Measured with e5 on renamed categories (`tamis eval classify --only renamed`, k harmful
    /// examples and k keep texts, SMS spam / TextDetox / SST-2): at k = 32 (pull 0.0025) ECE
    /// .042 / .033 / .047 against .064 / .042 / .048 with the fixed pull, F1 .927 / .925 /
    /// .796 against .931 / .924 / .795; a pull of 0.001 at k = 8 too traded there, ECE .053 /
    /// .067 / .095 against .077 / .057 / .076, F1 .886 / .899 / .731 against .903 / .899 /
    /// .728. Tried beside it at k = 8, each trading one dataset against another: Platt's
    /// smoothed targets (`(n + 1) / (n + 2)`, `1 / (n + 2)`) F1 .924 / .887 / .706, ECE .097 /
    /// .093 / .071; the calibrated logit lowered by 0.5 F1 .922 / .879 / .698, ECE .056 / .072
    /// / .084 (SMS spam's test set is 13% spam, SST-2's half negative: a shift that suits one
    /// misses the other).
    pub calibration_reference_examples: usize,
    /// How far a calibrated category's scores move towards the policy's own mix of texts when
    /// its counter-examples outnumber its examples: the calibrated logit is lowered by this
    /// times `ln(counter-examples / examples)`; never raised. The Platt fit weighs its classes
    /// half and half, as if one text in two were in the category; a policy of several
    /// categories hides a text when any of them fires, so each one's half-and-half guess added
    /// up. Measured with e5 (`tamis eval classify`, mean of 5 seeds), at 0 / 0.5 / 1: three
    /// renamed categories of 32 examples in one binary policy (32 keep texts each), F1 .737 /
    /// .753 / .732, ECE .189 / .086 / .047 (at 8 examples F1 .722 / .706 / .619, ECE .123 /
    /// .046 / .116); `gloomy` from 8 negative reviews added to a spam and toxic policy, recall
    /// .918 / .704 / .396 at a benign FPR of .605 / .307 / .101; GermEval's `offensive` from
    /// its whole remaining file (twice as many keep texts as examples), F1 .632 / .622 / not
    /// measured. A category with no more counter-examples (keep texts, the other categories'
    /// examples; not the background) than examples is unchanged, as are the single-category
    /// figures of k examples and k keep texts: users add examples first, and a policy of
    /// examples alone says nothing about how common its category is.
    pub policy_mix_strength: f32,
    /// How a definition or a lone example scores by similarity.
    pub anchor: AnchorOptions,
}

impl Default for ClassifierOptions {
    fn default() -> Self {
        ClassifierOptions {
            threshold: 0.5,
            use_priors: true,
            lexical: true,
            normalize: true,
            fit: FitOptions {
                l2: 1e-3,
                lexical: false,
                ..FitOptions::default()
            },
            fit_reference_examples: 32,
            prior_fit: FitOptions {
                l2: 0.05,
                ..FitOptions::default()
            },
            background_share: 0.25,
            own_keep_share: 0.5,
            keep_similarity: 0.9,
            calibrate: true,
            calibration_pull: 0.01,
            calibration_reference_examples: 8,
            policy_mix_strength: 0.5,
            anchor: AnchorOptions::default(),
        }
    }
}

impl ClassifierOptions {
    /// The fit of a category without a prior from `examples` examples: [`ClassifierOptions::fit`],
    /// its pull weakened past [`ClassifierOptions::fit_reference_examples`] examples.
    pub(crate) fn fit_without_prior(&self, examples: usize) -> FitOptions {
        FitOptions {
            l2: weakened_past(self.fit.l2, self.fit_reference_examples, examples),
            ..self.fit
        }
    }

    /// The pull of the Platt fit of a category of `examples` examples:
    /// [`ClassifierOptions::calibration_pull`], weakened past
    /// [`ClassifierOptions::calibration_reference_examples`] examples.
    pub(crate) fn calibration_pull_for(&self, examples: usize) -> f32 {
        weakened_past(
            self.calibration_pull,
            self.calibration_reference_examples,
            examples,
        )
    }

    /// What [`ClassifierOptions::policy_mix_strength`] adds to the calibrated logit of a
    /// category of `examples` examples among `counter_examples` of the policy's texts: zero or
    /// less.
    pub(crate) fn policy_mix_shift(&self, examples: usize, counter_examples: usize) -> f32 {
        if examples == 0 || counter_examples <= examples {
            return 0.0;
        }
        -self.policy_mix_strength * (counter_examples as f32 / examples as f32).ln()
    }

    /// The text the encoder and the lexical features see: normalized (when
    /// [`ClassifierOptions::normalize`] is on) with whitespace collapsed.
    pub fn prepare(&self, text: &str) -> String {
        if self.normalize {
            normalize_text(text)
        } else {
            text.split_whitespace().collect::<Vec<_>>().join(" ")
        }
    }
}

/// A pull `strength` for up to `reference` examples; past them, weakened in proportion
/// (`strength * reference / examples`), since the fits weigh their texts as one whole.
fn weakened_past(strength: f32, reference: usize, examples: usize) -> f32 {
    if examples <= reference {
        return strength;
    }
    strength * reference as f32 / examples as f32
}

/// Features of `texts` exactly as a classifier with `options` computes them, with each
/// text's truncated flag; for fitting priors and for evaluation.
pub fn text_features<E: Encoder>(
    encoder: &E,
    texts: &[&str],
    options: &ClassifierOptions,
) -> Result<Vec<(TextFeatures, bool)>, ClassifyError<E::Error>> {
    let prepared: Vec<String> = texts.iter().map(|t| options.prepare(t)).collect();
    let refs: Vec<&str> = prepared.iter().map(String::as_str).collect();
    featurize_prepared(encoder, &refs, options.lexical)
}

fn featurize_prepared<E: Encoder>(
    encoder: &E,
    prepared: &[&str],
    lexical: bool,
) -> Result<Vec<(TextFeatures, bool)>, ClassifyError<E::Error>> {
    let embeddings = encoder.embed(prepared).map_err(ClassifyError::Encoder)?;
    if embeddings.len() != prepared.len() {
        return Err(ClassifyError::EncoderCount {
            expected: prepared.len(),
            returned: embeddings.len(),
        });
    }
    Ok(prepared
        .iter()
        .zip(embeddings)
        .map(|(text, embedding)| {
            let lexical = if lexical {
                lexical_features(text)
            } else {
                SparseVector::default()
            };
            let features = TextFeatures {
                embedding: embedding.vector,
                lexical,
            };
            (features, embedding.truncated)
        })
        .collect())
}

/// What decided a category's score for a text.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Reason {
    /// The category's example nearest to the text.
    Example {
        category: String,
        text: String,
        similarity: f32,
    },
    /// The category's definition, nearer than any example.
    Definition {
        category: String,
        text: String,
        similarity: f32,
    },
    /// A keep text so close that the text passes.
    Keep {
        category: String,
        text: String,
        similarity: f32,
    },
}

/// One category's score for a text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoryScore {
    pub category: String,
    /// Probability in [0, 1] that the text belongs to the category.
    pub score: f32,
    /// The score reached the threshold (and no keep text vetoed it).
    pub matched: bool,
    pub blocked: bool,
}

/// The verdict on one text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// Every category, in policy order.
    pub scores: Vec<CategoryScore>,
    /// The decided categories: all matched ones (binary, multi-label) or the best (multi-class).
    pub labels: Vec<String>,
    /// A blocked category was decided.
    pub harmful: bool,
    /// The strictest action among the decided blocked categories.
    pub action: Option<Action>,
    /// Why the top decided category (or, when none was, the top-scoring one) scored as it did.
    pub reason: Option<Reason>,
    /// The model saw only the start of the text.
    pub truncated: bool,
}

/// Why texts could not be classified. The classifier's state is unchanged by a failure.
#[derive(Debug, Error)]
pub enum ClassifyError<E: std::error::Error> {
    #[error("text {index} is empty; there is nothing to classify")]
    EmptyText { index: usize },
    #[error("text {index} is {bytes} bytes; the limit is {MAX_TEXT_BYTES}")]
    TextTooLong { index: usize, bytes: usize },
    #[error("the encoder failed: {0}")]
    Encoder(E),
    #[error("the encoder returned {returned} embeddings for {expected} texts")]
    EncoderCount { expected: usize, returned: usize },
}

/// A text of the policy with its features.
#[derive(Debug, Clone)]
struct Evidence {
    text: String,
    features: Arc<TextFeatures>,
}

/// How a fitted category turns a text's features into a logit.
#[derive(Debug, Clone, Copy)]
enum Scoring {
    /// The linear model's logit, calibrated.
    Model(Calibration),
    /// The best similarity to the examples and definition, calibrated on the background.
    Anchors(AnchorCalibration),
}

/// A category ready to score.
#[derive(Debug, Clone)]
struct FittedCategory {
    model: LinearModel,
    scoring: Scoring,
    examples: Vec<Evidence>,
    definition: Option<Evidence>,
    /// The definition and its items as descriptions ([`definition_anchors`]), when the
    /// category has a definition and no examples: what it is then scored by.
    definition_anchors: Vec<Arc<TextFeatures>>,
    keep: Vec<Evidence>,
}

/// Classifies texts under a policy.
///
/// ```no_run
/// # fn demo<E: tamis_core::Encoder>(encoder: &E) -> Result<(), Box<dyn std::error::Error>>
/// # where E::Error: 'static {
/// use tamis_core::classify::{Classifier, ClassifierOptions, Policy};
///
/// let policy = Policy::from_json(r#"{"version": 1, "mode": "binary", "categories": [
///     {"name": "spam", "examples": ["WIN a FREE prize, call 0906 now"], "action": "blur"}]}"#)?;
/// let mut classifier = Classifier::new(policy, None, ClassifierOptions::default())?;
/// let verdicts = classifier.classify(encoder, &["Claim your free prize now"])?;
/// println!("{:?} because {:?}", verdicts[0].action, verdicts[0].reason);
/// classifier.edit(|policy| policy.unblock("spam"))?;
/// # Ok(()) }
/// ```
pub struct Classifier {
    policy: Policy,
    priors: Option<Arc<Priors>>,
    options: ClassifierOptions,
    /// Features of policy texts, by normalized text.
    cache: HashMap<String, Arc<TextFeatures>>,
    /// Features of the anchors of definitions ([`Encoder::embed_descriptions`]), by
    /// normalized text.
    descriptions: HashMap<String, Arc<TextFeatures>>,
    /// None after an edit until the next classification refits.
    fitted: Option<Vec<FittedCategory>>,
}

impl Classifier {
    /// A classifier for `policy`. `priors` must belong to the encoder's model (see
    /// [`Priors::check_model`]).
    pub fn new(
        policy: Policy,
        priors: Option<Arc<Priors>>,
        options: ClassifierOptions,
    ) -> Result<Self, PolicyError> {
        policy.validate()?;
        Ok(Classifier {
            policy,
            priors,
            options,
            cache: HashMap::new(),
            descriptions: HashMap::new(),
            fitted: None,
        })
    }

    /// The current policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Changes the policy with one of its edit methods; a refused edit changes nothing.
    /// Cached features of unchanged texts are kept.
    pub fn edit(
        &mut self,
        change: impl FnOnce(&mut Policy) -> Result<(), PolicyError>,
    ) -> Result<(), PolicyError> {
        let mut edited = self.policy.clone();
        change(&mut edited)?;
        self.set_policy(edited)
    }

    /// Replaces the whole policy, keeping cached features of the texts it shares with the old.
    /// An invalid policy is refused and the current one stays.
    pub fn set_policy(&mut self, policy: Policy) -> Result<(), PolicyError> {
        policy.validate()?;
        self.policy = policy;
        self.fitted = None;
        Ok(())
    }

    /// How many policy texts have cached features.
    pub fn cached_texts(&self) -> usize {
        self.cache.len()
    }

    fn prepare(&self, text: &str) -> String {
        self.options.prepare(text)
    }

    /// Embeds the policy texts missing from the cache and drops those no longer used.
    fn refresh_cache<E: Encoder>(&mut self, encoder: &E) -> Result<(), ClassifyError<E::Error>> {
        let mut wanted: Vec<String> = Vec::new();
        for category in &self.policy.categories {
            let texts = category
                .examples
                .iter()
                .chain(&category.keep)
                .chain(&category.definition);
            wanted.extend(texts.map(|t| self.prepare(t)));
        }
        wanted.extend(self.policy.keep.iter().map(|t| self.prepare(t)));
        let missing = missing_from(&wanted, &self.cache);
        let featurized = if missing.is_empty() {
            Vec::new()
        } else {
            featurize_prepared(encoder, &missing, self.options.lexical)?
        };
        let descriptions = self.refreshed_descriptions(encoder)?;
        let mut cache = std::mem::take(&mut self.cache);
        for (text, (features, _)) in missing.iter().zip(featurized) {
            cache.insert(text.to_string(), Arc::new(features));
        }
        let wanted: std::collections::HashSet<&str> = wanted.iter().map(String::as_str).collect();
        cache.retain(|text, _| wanted.contains(text.as_str()));
        self.cache = cache;
        self.descriptions = descriptions;
        Ok(())
    }

    /// The description cache for the current policy: the anchors of the definitions of
    /// categories without examples, embedded as descriptions where missing.
    fn refreshed_descriptions<E: Encoder>(
        &self,
        encoder: &E,
    ) -> Result<HashMap<String, Arc<TextFeatures>>, ClassifyError<E::Error>> {
        let wanted: Vec<String> = self
            .policy
            .categories
            .iter()
            .filter(|c| c.examples.is_empty())
            .filter_map(|c| c.definition.as_deref())
            .flat_map(definition_anchors)
            .map(|anchor| self.prepare(&anchor))
            .collect();
        let missing = missing_from(&wanted, &self.descriptions);
        let mut descriptions: HashMap<String, Arc<TextFeatures>> = wanted
            .iter()
            .filter_map(|t| Some((t.clone(), Arc::clone(self.descriptions.get(t)?))))
            .collect();
        if missing.is_empty() {
            return Ok(descriptions);
        }
        let embeddings = encoder
            .embed_descriptions(&missing)
            .map_err(ClassifyError::Encoder)?;
        if embeddings.len() != missing.len() {
            return Err(ClassifyError::EncoderCount {
                expected: missing.len(),
                returned: embeddings.len(),
            });
        }
        for (text, embedding) in missing.iter().zip(embeddings) {
            let features = TextFeatures {
                embedding: embedding.vector,
                lexical: SparseVector::default(),
            };
            descriptions.insert(text.to_string(), Arc::new(features));
        }
        Ok(descriptions)
    }

    fn evidence(&self, text: &str) -> Evidence {
        Evidence {
            text: text.to_string(),
            features: Arc::clone(&self.cache[&self.prepare(text)]),
        }
    }

    /// Fits every category on the cached features.
    fn fit_categories(&self) -> Vec<FittedCategory> {
        let global_keep: Vec<Evidence> =
            self.policy.keep.iter().map(|t| self.evidence(t)).collect();
        let background = self
            .priors
            .as_ref()
            .map_or(&[][..], |p| p.background.as_slice());
        // Each text is looked up (and normalized) once, not once per category that uses it.
        let examples_by_category: Vec<Vec<Evidence>> = self
            .policy
            .categories
            .iter()
            .map(|c| c.examples.iter().map(|t| self.evidence(t)).collect())
            .collect();
        self.policy
            .categories
            .iter()
            .enumerate()
            .map(|(index, category)| {
                let examples = examples_by_category[index].clone();
                let definition = category.definition.as_deref().map(|t| self.evidence(t));
                let definition_anchors: Vec<Arc<TextFeatures>> = match &category.definition {
                    Some(definition) if examples.is_empty() => definition_anchors(definition)
                        .iter()
                        .map(|anchor| Arc::clone(&self.descriptions[&self.prepare(anchor)]))
                        .collect(),
                    _ => Vec::new(),
                };
                let keep: Vec<Evidence> = category
                    .keep
                    .iter()
                    .map(|t| self.evidence(t))
                    .chain(global_keep.iter().cloned())
                    .collect();
                let others: Vec<&Evidence> = examples_by_category
                    .iter()
                    .enumerate()
                    .filter(|&(other, _)| other != index)
                    .flat_map(|(_, examples)| examples)
                    .collect();
                let example_features: Vec<&TextFeatures> =
                    examples.iter().map(|e| e.features.as_ref()).collect();
                let negatives: Vec<&TextFeatures> = keep
                    .iter()
                    .chain(others)
                    .map(|e| e.features.as_ref())
                    .collect();
                let prior = self
                    .priors
                    .as_ref()
                    .filter(|_| self.options.use_priors)
                    .and_then(|p| p.category(&category.name));
                let keep_features: Vec<&TextFeatures> =
                    keep.iter().map(|e| e.features.as_ref()).collect();
                let (model, scoring) = self.fit_one(
                    Description {
                        examples: &example_features,
                        definition: definition.as_ref().map(|d| d.features.as_ref()),
                        definition_anchors: &definition_anchors,
                    },
                    &keep_features,
                    Negatives {
                        texts: &negatives,
                        own_keep: category.keep.len(),
                    },
                    background,
                    prior,
                );
                FittedCategory {
                    model,
                    scoring,
                    examples,
                    definition,
                    definition_anchors,
                    keep,
                }
            })
            .collect()
    }

    /// Class-balanced fit of the examples and the definition against the negatives; the
    /// benign background takes `background_share` of the negative side (all of it when the
    /// policy gives no counter-examples). Without a prior, the scores are calibrated (see
    /// [`ClassifierOptions::calibrate`]). `keep` (among `negatives`) are the texts that
    /// must pass, against which a lone example or definition is measured; a definition
    /// without examples by its `definition_anchors`.
    ///
    /// With fewer examples than [`MIN_CROSS_FITTED_EXAMPLES`] (one to three) and counter-examples
    /// in the policy, the fit is a plain probe: the examples against the policy's counter-examples
    /// alone, its logit as the score. Cross-fitting then holds out one example per fold, and a
    /// Platt fit on one or two held-out examples placed 0.5 almost anywhere; the benign background,
    /// beside two keep texts, pulled the probe's boundary towards the examples' topic. Measured
    /// with two TextDetox / SST-2 / SMS spam examples and two keep texts (`tamis eval classify
    /// --only renamed`): e5 F1 .524 / .528 / .733 calibrated with the background, .759 / .586 /
    /// .737 as a probe; MiniLM .606 / .210 / .512 and .702 / .505 / .470 (a plain linear probe's
    /// figures). `gloomy` from two examples on a spam and toxic policy hid 84% of the benign texts;
    /// as a probe against the policy's counter-examples, 2%, catching 10% of the negative reviews
    /// (with four examples: 55% and 83%). One example with one keep text, scored by its similarity
    /// against the background's, was below the probe on two datasets of three: e5 .514 / .439 /
    /// .595, MiniLM .508 / .280 / .501; as a probe .682 / .515 / .514 and .653 / .466 / .412.
    /// Without counter-examples, a lone example still scores by similarity ([`AnchorCalibration`]):
    /// a probe needs a negative.
    fn fit_one(
        &self,
        description: Description<'_>,
        keep: &[&TextFeatures],
        negatives: Negatives<'_>,
        background: &[BackgroundPoint],
        prior: Option<&LinearModel>,
    ) -> (LinearModel, Scoring) {
        let Description {
            examples,
            definition,
            definition_anchors,
        } = description;
        let probe_only = (1..MIN_CROSS_FITTED_EXAMPLES).contains(&examples.len())
            && !negatives.texts.is_empty()
            && prior.is_none();
        let background = if probe_only { &[][..] } else { background };
        let background_share = match (negatives.texts.is_empty(), background.is_empty()) {
            (_, true) => 0.0,
            (true, false) => 1.0,
            (false, false) => self.options.background_share,
        };
        let background_mass: f32 = background.iter().map(|p| p.weight).sum();
        let positives: Vec<(&TextFeatures, f32)> = examples
            .iter()
            .copied()
            .chain(definition)
            .map(|f| (f, 1.0))
            .collect();
        let mut weighted_negatives: Vec<(&TextFeatures, f32)> = negatives
            .texts
            .iter()
            .copied()
            .zip(negatives.weights(1.0 - background_share, self.options.own_keep_share))
            .collect();
        weighted_negatives.extend(background.iter().map(|point| {
            (
                &point.features,
                background_share * point.weight / background_mass.max(f32::MIN_POSITIVE),
            )
        }));
        let dimension = positives
            .first()
            .or(weighted_negatives.first())
            .map_or(0, |f| f.0.embedding.len());
        let prior = prior.filter(|p| p.embedding.len() == dimension);
        let (anchor, options) = match prior {
            Some(prior) => (prior.clone(), self.options.prior_fit),
            None => (
                LinearModel::zeros(dimension),
                self.options.fit_without_prior(examples.len()),
            ),
        };
        let model = fit_balanced(&positives, &weighted_negatives, &anchor, &options);
        let identity = Scoring::Model(Calibration::IDENTITY);
        if probe_only || prior.is_some() || !self.options.calibrate || weighted_negatives.is_empty()
        {
            return (model, identity);
        }
        let scoring = if examples.len() >= 2 {
            let calibration = self.cross_fitted_calibration(
                examples,
                definition,
                &weighted_negatives,
                &anchor,
                &options,
            );
            let mix_shift = self
                .options
                .policy_mix_shift(examples.len(), negatives.texts.len());
            Scoring::Model(Calibration {
                offset: calibration.offset + mix_shift,
                ..calibration
            })
        } else {
            let anchors: Vec<&TextFeatures> = examples.iter().copied().chain(definition).collect();
            let support = |f: &TextFeatures| {
                if definition_anchors.is_empty() {
                    closest_similarity(&anchors, f)
                } else {
                    definition_similarity(definition_anchors, f)
                }
            };
            // A definition's anchors are descriptions: their similarities are not on the scale
            // of a text's similarity to a keep text, so keep texts only veto (see `verdict`).
            let (deviations, margin_keep) = if definition_anchors.is_empty() {
                (self.options.anchor.deviations, keep)
            } else {
                (self.options.anchor.definition_deviations, &[][..])
            };
            let similarities: Vec<(f32, f32)> = weighted_negatives
                .iter()
                .map(|(f, weight)| {
                    (
                        anchor_margin(support(f), closest_similarity(margin_keep, f)),
                        *weight,
                    )
                })
                .collect();
            AnchorCalibration::from_background(&similarities, deviations, self.options.anchor.width)
                .map_or(identity, Scoring::Anchors)
        };
        (model, scoring)
    }

    /// The Platt calibration of the model's logits, fitted on the scores of models that did
    /// not see the texts they score (each fold of examples and negatives held out in turn;
    /// the definition is always fitted on).
    fn cross_fitted_calibration(
        &self,
        examples: &[&TextFeatures],
        definition: Option<&TextFeatures>,
        negatives: &[(&TextFeatures, f32)],
        anchor: &LinearModel,
        options: &FitOptions,
    ) -> Calibration {
        let folds = examples.len().min(MAX_FOLDS);
        let mut held_out = Vec::with_capacity(examples.len() + negatives.len());
        for fold in 0..folds {
            let split = |index: usize| fold_of(index, folds) == fold;
            let positives: Vec<(&TextFeatures, f32)> = examples
                .iter()
                .enumerate()
                .filter(|&(i, _)| !split(i))
                .map(|(_, &f)| (f, 1.0))
                .chain(definition.map(|f| (f, 1.0)))
                .collect();
            let fitted_negatives: Vec<(&TextFeatures, f32)> = negatives
                .iter()
                .enumerate()
                .filter(|&(i, _)| !split(i))
                .map(|(_, &n)| n)
                .collect();
            let model = fit_balanced(&positives, &fitted_negatives, anchor, options);
            held_out.extend(examples.iter().enumerate().filter(|&(i, _)| split(i)).map(
                |(_, f)| HeldOut {
                    logit: model.logit(f),
                    positive: true,
                    weight: 1.0,
                },
            ));
            held_out.extend(negatives.iter().enumerate().filter(|&(i, _)| split(i)).map(
                |(_, (f, weight))| HeldOut {
                    logit: model.logit(f),
                    positive: false,
                    weight: *weight,
                },
            ));
        }
        platt(&held_out, self.options.calibration_pull_for(examples.len()))
    }

    /// Verdicts for `texts`, in order.
    pub fn classify<E: Encoder>(
        &mut self,
        encoder: &E,
        texts: &[&str],
    ) -> Result<Vec<Verdict>, ClassifyError<E::Error>> {
        for (index, text) in texts.iter().enumerate() {
            if text.len() > MAX_TEXT_BYTES {
                return Err(ClassifyError::TextTooLong {
                    index,
                    bytes: text.len(),
                });
            }
        }
        let prepared: Vec<String> = texts.iter().map(|t| self.prepare(t)).collect();
        if let Some(index) = prepared.iter().position(|t| t.is_empty()) {
            return Err(ClassifyError::EmptyText { index });
        }
        if self.fitted.is_none() {
            self.refresh_cache(encoder)?;
            self.fitted = Some(self.fit_categories());
        }
        let refs: Vec<&str> = prepared.iter().map(String::as_str).collect();
        let featurized = featurize_prepared(encoder, &refs, self.options.lexical)?;
        let fitted = self.fitted.as_ref().expect("fitted above");
        Ok(featurized
            .iter()
            .map(|(features, truncated)| self.verdict(fitted, features, *truncated))
            .collect())
    }

    fn verdict(
        &self,
        fitted: &[FittedCategory],
        features: &TextFeatures,
        truncated: bool,
    ) -> Verdict {
        let mut scores = Vec::with_capacity(fitted.len());
        let mut reasons = Vec::with_capacity(fitted.len());
        for (category, fit) in self.policy.categories.iter().zip(fitted) {
            let name = category.name.clone();
            let example = nearest(&fit.examples, features);
            let definition = fit.definition.as_ref().map(|d| {
                let similarity = definition_similarity(&fit.definition_anchors, features)
                    .unwrap_or_else(|| cosine(&features.embedding, &d.features.embedding));
                (d, similarity)
            });
            let support = match (example, definition) {
                (Some(e), Some(d)) if d.1 > e.1 => Some(d.1),
                (Some(e), _) => Some(e.1),
                (None, d) => d.map(|d| d.1),
            };
            let closest_keep = nearest(&fit.keep, features);
            // An anchored category scores from the similarities the reason needs anyway.
            let score = sigmoid(match fit.scoring {
                Scoring::Model(calibration) => calibration.apply(fit.model.logit(features)),
                Scoring::Anchors(anchor) => {
                    let margin_keep = closest_keep
                        .filter(|_| fit.definition_anchors.is_empty())
                        .map(|(_, s)| s);
                    anchor.logit(anchor_margin(support, margin_keep))
                }
            });
            let veto = closest_keep.filter(|&(_, similarity)| {
                similarity >= self.options.keep_similarity && support.is_none_or(|s| similarity > s)
            });
            let threshold = category.threshold.unwrap_or(self.options.threshold);
            let reason = match (veto, example, definition) {
                (Some((keep, similarity)), _, _) => Some(Reason::Keep {
                    category: name.clone(),
                    text: keep.text.clone(),
                    similarity,
                }),
                (None, Some((e, similarity)), d) if d.is_none_or(|d| d.1 <= similarity) => {
                    Some(Reason::Example {
                        category: name.clone(),
                        text: e.text.clone(),
                        similarity,
                    })
                }
                (None, _, Some((d, similarity))) => Some(Reason::Definition {
                    category: name.clone(),
                    text: d.text.clone(),
                    similarity,
                }),
                (None, _, None) => None,
            };
            scores.push(CategoryScore {
                category: name,
                score,
                matched: score >= threshold && veto.is_none(),
                blocked: category.blocked,
            });
            reasons.push(reason);
        }
        let best_matched = scores
            .iter()
            .enumerate()
            .filter(|(_, s)| s.matched)
            .max_by(|a, b| a.1.score.total_cmp(&b.1.score))
            .map(|(i, _)| i);
        let decided: Vec<usize> = match self.policy.mode {
            Mode::Multiclass => best_matched.into_iter().collect(),
            Mode::Binary | Mode::Multilabel => {
                (0..scores.len()).filter(|&i| scores[i].matched).collect()
            }
        };
        let acting: Vec<usize> = decided
            .iter()
            .copied()
            .filter(|&i| scores[i].blocked)
            .collect();
        let action = acting
            .iter()
            .map(|&i| self.policy.categories[i].action)
            .max();
        let top = |candidates: &[usize]| {
            candidates
                .iter()
                .copied()
                .max_by(|&a, &b| scores[a].score.total_cmp(&scores[b].score))
        };
        let explained = top(&acting)
            .or_else(|| top(&decided))
            .or_else(|| top(&(0..scores.len()).collect::<Vec<_>>()));
        Verdict {
            labels: decided
                .iter()
                .map(|&i| scores[i].category.clone())
                .collect(),
            harmful: !acting.is_empty(),
            action,
            reason: explained.and_then(|i| reasons[i].clone()),
            truncated,
            scores,
        }
    }
}

/// The texts of `wanted` that `cache` lacks, sorted, each once.
fn missing_from<'a>(
    wanted: &'a [String],
    cache: &HashMap<String, Arc<TextFeatures>>,
) -> Vec<&'a str> {
    let mut missing: Vec<&str> = wanted
        .iter()
        .map(String::as_str)
        .filter(|t| !cache.contains_key(*t))
        .collect();
    missing.sort_unstable();
    missing.dedup();
    missing
}

/// What describes a category to its fit: its examples, its definition, and the definition's
/// anchors when it has no examples ([`definition_anchors`]).
#[derive(Clone, Copy)]
struct Description<'a> {
    examples: &'a [&'a TextFeatures],
    definition: Option<&'a TextFeatures>,
    definition_anchors: &'a [Arc<TextFeatures>],
}

/// A category's negatives: its own keep texts first (`own_keep` of them), then the policy's
/// other negatives (its global keep texts, the other categories' examples).
#[derive(Clone, Copy)]
struct Negatives<'a> {
    texts: &'a [&'a TextFeatures],
    own_keep: usize,
}

impl Negatives<'_> {
    /// Each text's weight, `mass` in all: the own keep texts take `own_keep_share` of it
    /// together when there are other negatives beside them, otherwise every text weighs the
    /// same.
    fn weights(&self, mass: f32, own_keep_share: f32) -> impl Iterator<Item = f32> {
        let own = self.own_keep.min(self.texts.len());
        let others = self.texts.len() - own;
        let (own_weight, other_weight) = if own == 0 || others == 0 {
            let each = mass / self.texts.len().max(1) as f32;
            (each, each)
        } else {
            (
                mass * own_keep_share / own as f32,
                mass * (1.0 - own_keep_share) / others as f32,
            )
        };
        (0..self.texts.len()).map(move |i| if i < own { own_weight } else { other_weight })
    }
}

/// How close `features` is to a definition by its anchors ([`definition_anchors`]: the
/// definition, then its items): the mean of its similarity to the definition and to the
/// closest item. Measured with e5 against the closest anchor alone (definition only, each
/// flagging a tenth of the benign background): TextDetox F1 .70 against .73, SST-2 .54 against
/// .59, but SMS spam .41 against .26, whose items are words benign messages use too; against
/// the definition alone .47 / .58 / .40 (MiniLM: .68 / .51 / .46 against .67 / .44 / .42).
/// `None` without anchors.
fn definition_similarity(anchors: &[Arc<TextFeatures>], features: &TextFeatures) -> Option<f32> {
    let (definition, items) = anchors.split_first()?;
    let whole = cosine(&features.embedding, &definition.embedding);
    Some(match closest_similarity(items, features) {
        Some(item) => (whole + item) / 2.0,
        None => whole,
    })
}

/// The highest cosine similarity of `features` to any of `texts`; `None` without texts.
fn closest_similarity<T: Borrow<TextFeatures>>(
    texts: &[T],
    features: &TextFeatures,
) -> Option<f32> {
    texts
        .iter()
        .map(|a| cosine(&features.embedding, &a.borrow().embedding))
        .reduce(f32::max)
}

/// What an anchored category scores: the similarity to its closest anchor (-1 without one),
/// less the similarity to its closest keep text when it has some (a text as close to a keep
/// text as to the example is not evidence for the category).
fn anchor_margin(closest_anchor: Option<f32>, closest_keep: Option<f32>) -> f32 {
    closest_anchor.unwrap_or(-1.0) - closest_keep.unwrap_or(0.0)
}

/// The evidence most similar to `features`, with its cosine similarity.
fn nearest<'a>(evidence: &'a [Evidence], features: &TextFeatures) -> Option<(&'a Evidence, f32)> {
    evidence
        .iter()
        .map(|e| (e, cosine(&features.embedding, &e.features.embedding)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn features(n: usize) -> Vec<TextFeatures> {
        (0..n)
            .map(|_| TextFeatures {
                embedding: vec![1.0],
                lexical: Default::default(),
            })
            .collect()
    }

    #[test]
    fn own_keep_texts_take_their_share_of_the_negative_weight() {
        let texts = features(10);
        let texts: Vec<&TextFeatures> = texts.iter().collect();
        let weights: Vec<f32> = Negatives {
            texts: &texts,
            own_keep: 2,
        }
        .weights(0.75, 0.5)
        .collect();
        assert_eq!(&weights[..2], &[0.1875, 0.1875]);
        assert!(weights[2..].iter().all(|&w| w == 0.75 * 0.5 / 8.0));
        assert!((weights.iter().sum::<f32>() - 0.75).abs() < 1e-6);
    }

    #[test]
    fn the_pull_without_a_prior_weakens_past_the_reference_examples() {
        let options = ClassifierOptions::default();
        let reference = options.fit_reference_examples;
        for examples in [1, 8, reference] {
            assert_eq!(
                options.fit_without_prior(examples),
                options.fit,
                "{examples}"
            );
        }
        let doubled = options.fit_without_prior(2 * reference);
        assert_eq!(doubled.l2, options.fit.l2 / 2.0);
        assert_eq!(doubled.iterations, options.fit.iterations);
        assert!(options.fit_without_prior(1000 * reference).l2 < options.fit.l2 / 999.0);
    }

    #[test]
    fn the_calibration_pull_weakens_past_its_reference_examples() {
        let options = ClassifierOptions::default();
        let reference = options.calibration_reference_examples;
        for examples in [2, 4, reference] {
            assert_eq!(
                options.calibration_pull_for(examples),
                options.calibration_pull,
                "{examples}"
            );
        }
        assert_eq!(
            options.calibration_pull_for(4 * reference),
            options.calibration_pull / 4.0
        );
    }

    #[test]
    fn a_category_outnumbered_by_the_policys_counter_examples_is_lowered_never_raised() {
        let options = ClassifierOptions {
            policy_mix_strength: 0.5,
            ..ClassifierOptions::default()
        };
        for (examples, counter_examples) in [(8, 0), (8, 8), (32, 4), (0, 10)] {
            assert_eq!(
                options.policy_mix_shift(examples, counter_examples),
                0.0,
                "{examples} examples, {counter_examples} counter-examples"
            );
        }
        let shift = options.policy_mix_shift(8, 128);
        assert!((shift - (-0.5 * 16f32.ln())).abs() < 1e-6, "{shift}");
    }

    #[test]
    fn without_own_keep_texts_or_without_others_every_negative_weighs_the_same() {
        let texts = features(4);
        let texts: Vec<&TextFeatures> = texts.iter().collect();
        for own_keep in [0, 4] {
            let weights: Vec<f32> = Negatives {
                texts: &texts,
                own_keep,
            }
            .weights(1.0, 0.5)
            .collect();
            assert_eq!(weights, vec![0.25; 4], "{own_keep} own keep texts");
        }
    }
}
