//! Personalized harmful-content classification: a [`Policy`] says what to hide with
//! definitions and examples per category; a [`Classifier`] turns it into verdicts with
//! calibrated scores, an action and a reason, without retraining the encoder.
//!
//! Pipeline: [`normalize_text`] undoes obfuscation; the encoder embeds the text and
//! [`lexical_features`] adds hashed n-grams and surface signals; one logistic model per
//! category, fitted on the policy's texts in milliseconds and anchored on a built-in
//! [`Priors`] for the standard categories, scores it.

mod calibrate;
mod classifier;
mod describe;
mod features;
mod linear;
mod normalize;
mod policy;
mod prior;

pub use calibrate::{
    fold_of, platt, AnchorCalibration, AnchorOptions, Calibration, HeldOut, MAX_FOLDS,
    MIN_CROSS_FITTED_EXAMPLES,
};
pub use classifier::{
    text_features, CategoryScore, Classifier, ClassifierOptions, ClassifyError, Reason, Verdict,
    MAX_TEXT_BYTES,
};
pub use describe::{definition_anchors, MAX_DEFINITION_ITEMS};
pub use features::{
    lexical_features, SparseVector, HASHED_DIMENSIONS, LEXICAL_DIMENSIONS, SIGNALS,
};
pub use linear::{fit, fit_balanced, sigmoid, FitOptions, LinearModel, Sample, TextFeatures};
pub use normalize::normalize_text;
pub use policy::{
    Action, Category, Mode, Policy, PolicyEdit, PolicyError, MAX_EXAMPLE_BYTES, MAX_NAME_CHARS,
    MAX_POLICY_TEXTS, POLICY_VERSION,
};
pub use prior::{summarize_background, BackgroundPoint, Priors, PriorsError, REPRESENTATIVE_RANK};
