//! The CPU encoder of any bundle: the one its manifest's architecture needs.

use std::num::NonZeroUsize;

use tamis_core::{Embedding, Encoder};

use crate::{
    Architecture, Manifest, ModelBundle, ModelError, TextRole, TractEncoder, XlmRobertaEncoder,
};

/// Runs a bundle on the CPU, natively or in wasm, with the encoder its architecture needs:
/// tract for BERT's ONNX graphs, tamis's own forward pass for XLM-RoBERTa's 4-bit weights.
///
/// ```no_run
/// use tamis_core::Encoder;
/// use tamis_model::{CpuEncoder, ModelBundle};
///
/// let encoder = CpuEncoder::from_bundle(ModelBundle::read_dir("models/e5-small-q4")?)?;
/// let embeddings = encoder.embed(&["ein Beitrag", "a post", "投稿"])?;
/// assert_eq!(embeddings[0].vector.len(), encoder.dimension());
/// # Ok::<(), tamis_model::ModelError>(())
/// ```
pub enum CpuEncoder {
    Bert(Box<TractEncoder>),
    XlmRoberta {
        encoder: Box<XlmRobertaEncoder>,
        /// Put before descriptions ([`Encoder::embed_descriptions`]): the manifest's
        /// passage prefix.
        description_prefix: String,
    },
}

impl CpuEncoder {
    /// Loads a verified bundle to embed texts as queries ([`TextRole::Query`]): the role of
    /// every text tamis embeds outside retrieval evaluations (e5's card asks for the query
    /// prefix on both sides of symmetric tasks such as classification).
    pub fn new(bundle: &ModelBundle) -> Result<Self, ModelError> {
        Self::for_role(bundle, TextRole::Query)
    }

    /// Loads a verified bundle to embed texts of `role`, each behind the manifest's prefix for
    /// it ([`Manifest::prefix`]): [`TextRole::Passage`] for the documents of a retrieval
    /// evaluation.
    pub fn for_role(bundle: &ModelBundle, role: TextRole) -> Result<Self, ModelError> {
        match bundle.manifest.architecture {
            Architecture::Bert => Ok(Self::Bert(Box::new(TractEncoder::new(bundle)?))),
            Architecture::XlmRoberta => {
                let manifest = &bundle.manifest;
                let encoder = XlmRobertaEncoder::from_model_file(
                    &bundle.model,
                    manifest.prefix(role),
                    manifest.max_tokens,
                )?;
                Self::xlm_roberta(encoder, manifest)
            }
        }
    }

    /// [`CpuEncoder::new`], taking the bundle over so that its bytes are freed as soon as the
    /// encoder no longer needs them (in wasm, where memory never shrinks, that is a smaller
    /// module memory for good).
    pub fn from_bundle(bundle: ModelBundle) -> Result<Self, ModelError> {
        match bundle.manifest.architecture {
            Architecture::Bert => Ok(Self::Bert(Box::new(TractEncoder::from_bundle(bundle)?))),
            Architecture::XlmRoberta => {
                let ModelBundle {
                    manifest, model, ..
                } = bundle;
                let encoder = XlmRobertaEncoder::from_owned_model_file(
                    model,
                    manifest.prefix(TextRole::Query),
                    manifest.max_tokens,
                )?;
                Self::xlm_roberta(encoder, &manifest)
            }
        }
    }

    fn xlm_roberta(encoder: XlmRobertaEncoder, manifest: &Manifest) -> Result<Self, ModelError> {
        if encoder.dimension() != manifest.dimension {
            return Err(ModelError::UnsupportedModel(format!(
                "model.e5s's hidden size is {}, the manifest's dimension is {}",
                encoder.dimension(),
                manifest.dimension
            )));
        }
        Ok(Self::XlmRoberta {
            encoder: Box::new(encoder),
            description_prefix: manifest.prefix(TextRole::Passage).to_owned(),
        })
    }

    /// Splits the work of each call over `threads` threads (one by default), with the same
    /// embeddings, bit for bit: for e5 each matrix product's output columns and each text's
    /// attention heads, for BERT the call's runs of texts of similar length, and in the
    /// threaded wasm module each product's output columns and the attention heads when the
    /// call has fewer runs than threads (one text per call).
    ///
    /// ```no_run
    /// use std::num::NonZeroUsize;
    /// use tamis_model::{CpuEncoder, ModelBundle};
    ///
    /// let mut encoder = CpuEncoder::new(&ModelBundle::read_dir("models/e5-small-q4")?)?;
    /// encoder.set_threads(NonZeroUsize::new(2).expect("not zero"));
    /// # Ok::<(), tamis_model::ModelError>(())
    /// ```
    pub fn set_threads(&mut self, threads: NonZeroUsize) {
        match self {
            Self::Bert(encoder) => encoder.set_threads(threads),
            Self::XlmRoberta { encoder, .. } => encoder.set_threads(threads),
        }
    }

    /// The architecture this encoder runs.
    pub fn architecture(&self) -> Architecture {
        match self {
            Self::Bert(_) => Architecture::Bert,
            Self::XlmRoberta { .. } => Architecture::XlmRoberta,
        }
    }
}

impl Encoder for CpuEncoder {
    type Error = ModelError;

    fn dimension(&self) -> usize {
        match self {
            Self::Bert(encoder) => encoder.dimension(),
            Self::XlmRoberta { encoder, .. } => encoder.dimension(),
        }
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Embedding>, ModelError> {
        match self {
            Self::Bert(encoder) => encoder.embed(texts),
            Self::XlmRoberta { encoder, .. } => encoder.embed(texts),
        }
    }

    fn embed_descriptions(&self, descriptions: &[&str]) -> Result<Vec<Embedding>, ModelError> {
        match self {
            Self::Bert(encoder) => encoder.embed(descriptions),
            Self::XlmRoberta {
                encoder,
                description_prefix,
            } => encoder.embed_behind(description_prefix, descriptions),
        }
    }
}
