//! The priors of each model tamis ships (see `tamis_core::classify::Priors`), fitted by
//! `tamis prior fit` on the `train.csv` splits of the seed datasets and committed beside this
//! crate, one file per model id: `priors/<id>.priors`.
//!
//! Native programs get them built in (the `built-in-priors` feature, on by default). The wasm
//! module leaves them out (they are 168 KB each and barely compress: 10% of the gzipped
//! module): the npm package ships the files beside it, JavaScript fetches the one of the model
//! it loads, and [`read_priors`] checks them.

use tamis_core::classify::{Priors, PriorsError};

use crate::ModelBundle;

/// The built-in priors by model id, each fitted for the model file whose sha256 it holds.
#[cfg(feature = "built-in-priors")]
const BUILT_IN: &[(&str, &[u8])] = &[
    (
        "minilm-l6-int8",
        include_bytes!("../priors/minilm-l6-int8.priors"),
    ),
    (
        "e5-small-q4",
        include_bytes!("../priors/e5-small-q4.priors"),
    ),
];

/// Where `tamis prior fit` writes the priors of the model with this id, from the repository
/// root.
pub fn priors_path(model_id: &str) -> String {
    format!("crates/tamis-model/priors/{model_id}.priors")
}

/// Reads priors from the bytes of a `.priors` file and checks that they were fitted for
/// `bundle`'s model file: an error for bytes that are no priors file, or priors of another
/// model (or another version of this one).
pub fn read_priors(bytes: &[u8], bundle: &ModelBundle) -> Result<Priors, PriorsError> {
    let priors = Priors::from_bytes(bytes)?;
    priors.check_model(bundle.model_sha256())?;
    Ok(priors)
}

/// The built-in priors of `bundle`'s model, or `None` when tamis has none for it: the
/// classifier then works from the policy's examples and definitions alone. An error when the
/// priors of this model id were fitted for another version of its model file.
#[cfg(feature = "built-in-priors")]
pub fn built_in_priors(bundle: &ModelBundle) -> Result<Option<Priors>, PriorsError> {
    BUILT_IN
        .iter()
        .find(|(id, _)| *id == bundle.manifest.id)
        .map(|(_, bytes)| read_priors(bytes, bundle))
        .transpose()
}
