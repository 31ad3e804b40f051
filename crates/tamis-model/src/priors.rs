//! The built-in priors of the default model (see `tamis_core::classify::Priors`), fitted by
//! `tamis prior fit` on the `train.csv` splits of the seed datasets and committed beside
//! this crate.

/// Where `tamis prior fit` writes them, from the repository root.
pub const DEFAULT_PRIORS_PATH: &str = "crates/tamis-model/priors/minilm-l6-int8.priors";

use tamis_core::classify::{Priors, PriorsError};

use crate::ModelBundle;

/// The built-in priors, for the model whose `model.onnx` has the checksum inside.
pub const DEFAULT_PRIORS: &[u8] = include_bytes!("../priors/minilm-l6-int8.priors");

/// The built-in priors, checked against `bundle`'s model: an error names the mismatch when
/// the bundle holds another model, whose embeddings these weights cannot read.
pub fn default_priors(bundle: &ModelBundle) -> Result<Priors, PriorsError> {
    let priors = Priors::from_bytes(DEFAULT_PRIORS)?;
    priors.check_model(bundle.model_sha256())?;
    Ok(priors)
}
