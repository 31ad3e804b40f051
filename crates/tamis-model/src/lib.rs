//! Model bundles, their tokenizers and the CPU encoders of tamis.
//!
//! A [`ModelBundle`] is the bytes of `manifest.json` and of the files its architecture names
//! (BERT: `model.onnx` and `tokenizer.json`; XLM-RoBERTa: `model.e5s`, tokenizer inside),
//! checked against the sha256 values in the manifest. [`CpuEncoder`] runs any bundle on the
//! CPU, natively or in wasm: [`TractEncoder`] for BERT, [`XlmRobertaEncoder`] for e5; each
//! implements [`tamis_core::Encoder`].
//!
//! ```no_run
//! use tamis_core::Encoder;
//! use tamis_model::{CpuEncoder, ModelBundle};
//!
//! let bundle = ModelBundle::read_dir("models/minilm-l6-int8")?;
//! let encoder = CpuEncoder::new(&bundle)?;
//! let embeddings = encoder.embed(&["a post", "another post"])?;
//! assert_eq!(embeddings[0].vector.len(), encoder.dimension());
//! # Ok::<(), tamis_model::ModelError>(())
//! ```

mod architecture;
mod batching;
mod bundle;
mod cpu;
mod error;
mod kernel_choice;
mod onnx_data;
mod priors;
mod threads;
mod tokenize;
mod tract;
mod weights;
mod wide_vectors;
mod xlm_roberta;

pub use architecture::{Architecture, Conventions};
pub use batching::{embed_in_batches, length_buckets, BatchPlan, Batching};
pub use bundle::{
    FileEntry, Manifest, ModelBundle, Prefixes, SourcePackage, TextRole, PREPARE_COMMAND,
};
pub use cpu::CpuEncoder;
pub use error::ModelError;
#[cfg(feature = "built-in-priors")]
pub use priors::built_in_priors;
pub use priors::{priors_path, read_priors};
#[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
pub use threads::pool_worker_panicked;
pub use tokenize::{TextTokenizer, TokenizedText};
pub use tract::{EncoderOptions, TractEncoder};
pub use weights::{BertWeights, Dense, EncoderLayer, LayerNorm, QuantizedMatrix};
pub use xlm_roberta::{
    Q4Dense, XlmRobertaEncoder, XlmRobertaLayer, XlmRobertaTokenizer, XlmRobertaWeights,
};
