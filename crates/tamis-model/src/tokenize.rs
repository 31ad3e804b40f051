use tokenizers::models::wordpiece::WordPiece;
use tokenizers::{
    DecoderWrapper, Encoding, Model, ModelWrapper, NormalizerWrapper, PostProcessorWrapper,
    PreTokenizerWrapper, TokenizerImpl, TruncationParams,
};

use crate::{Architecture, ModelBundle, ModelError};

/// A `tokenizer.json` pipeline whose model is `M`.
type Pipeline<M> =
    TokenizerImpl<M, NormalizerWrapper, PreTokenizerWrapper, PostProcessorWrapper, DecoderWrapper>;

/// The pipeline, with its model's type known when it is BERT's WordPiece: `tokenizers` reads
/// a model of unknown type through two intermediate JSON trees (in wasm, loading the default
/// tokenizer took 66 ms of the cold start that way, 45 ms with the type known).
#[derive(Clone)]
enum Inner {
    WordPiece(Pipeline<WordPiece>),
    Other(Pipeline<ModelWrapper>),
}

/// Evaluates `$body` with `$pipeline` bound to the pipeline, whatever its model type.
macro_rules! with_pipeline {
    ($inner:expr, $pipeline:ident => $body:expr) => {
        match $inner {
            Inner::WordPiece($pipeline) => $body,
            Inner::Other($pipeline) => $body,
        }
    };
}

/// A text as token ids, ready for the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenizedText {
    /// Token ids, special tokens included, at most the model's window long.
    pub ids: Vec<u32>,
    /// True when the text did not fit the window and its end was cut off.
    pub truncated: bool,
}

/// The bundle's `tokenizer.json`, set to truncate at the model's window and never pad
/// (batches are padded later, to the longest text of each batch only).
#[derive(Clone)]
pub struct TextTokenizer {
    inner: Inner,
}

impl TextTokenizer {
    /// Loads `tokenizer.json` bytes, truncating at `max_tokens`.
    pub fn from_bytes(bytes: &[u8], max_tokens: usize) -> Result<Self, ModelError> {
        let inner = match serde_json::from_slice(bytes) {
            Ok(pipeline) => Inner::WordPiece(pipeline),
            Err(_) => Inner::Other(serde_json::from_slice(bytes).map_err(invalid_tokenizer)?),
        };
        Self::truncating(inner, max_tokens)
    }

    /// The `tokenizer.json` of a BERT bundle, truncating at the manifest's `max_tokens`; the
    /// other architectures keep their tokenizer in the model file and are not this type's.
    pub fn from_bundle(bundle: &ModelBundle) -> Result<Self, ModelError> {
        let manifest = &bundle.manifest;
        match (&bundle.tokenizer, manifest.architecture) {
            (Some(tokenizer), Architecture::Bert) => {
                Self::from_bytes(tokenizer, manifest.max_tokens)
            }
            (_, architecture) => Err(ModelError::UnsupportedModel(format!(
                "the manifest's architecture is {architecture}, and this encoder runs bert \
                 bundles only: load it with CpuEncoder, which runs every architecture"
            ))),
        }
    }

    /// `inner`, truncating at `max_tokens` and never padding.
    fn truncating(mut inner: Inner, max_tokens: usize) -> Result<Self, ModelError> {
        let truncation = TruncationParams {
            max_length: max_tokens,
            ..Default::default()
        };
        with_pipeline!(&mut inner, pipeline => {
            pipeline.with_truncation(Some(truncation)).map_err(invalid_tokenizer)?;
            pipeline.with_padding(None);
        });
        Ok(Self { inner })
    }

    /// Fails when this tokenizer's vocabulary does not match a model's embedding table of
    /// `model_rows` rows: the tokenizer belongs to another model.
    pub fn expect_vocabulary(&self, model_rows: usize) -> Result<(), ModelError> {
        if self.vocab_size() == model_rows {
            Ok(())
        } else {
            Err(ModelError::VocabularyMismatch {
                tokenizer: self.vocab_size(),
                model: model_rows,
            })
        }
    }

    /// Number of distinct tokens, added tokens included: the model's vocabulary and the added
    /// tokens it lacks (what `get_vocab(true).len()` counts, without copying the vocabulary).
    pub fn vocab_size(&self) -> usize {
        with_pipeline!(&self.inner, pipeline => {
            let model = pipeline.get_model();
            let added_tokens = pipeline.get_added_tokens_decoder();
            let beyond_model = added_tokens
                .values()
                .filter(|token| model.token_to_id(&token.content).is_none())
                .count();
            model.get_vocab_size() + beyond_model
        })
    }

    /// Tokenizes each text with the model's special tokens.
    pub fn tokenize(&self, texts: &[&str]) -> Result<Vec<TokenizedText>, ModelError> {
        texts
            .iter()
            .enumerate()
            .map(|(index, text)| {
                let encoding: Encoding =
                    with_pipeline!(&self.inner, pipeline => pipeline.encode(*text, true)).map_err(
                        |e| ModelError::Tokenization {
                            index,
                            reason: e.to_string(),
                        },
                    )?;
                Ok(TokenizedText {
                    truncated: !encoding.get_overflowing().is_empty(),
                    ids: encoding.get_ids().to_vec(),
                })
            })
            .collect()
    }
}

fn invalid_tokenizer(error: impl std::fmt::Display) -> ModelError {
    ModelError::InvalidTokenizer(error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wordpiece_tokenizer_is_read_with_its_model_type_known_and_tokenizes_the_same() {
        let bytes = crate::ModelBundle::default_for_tests()
            .tokenizer
            .clone()
            .expect("a bert bundle has tokenizer.json");
        let fast = TextTokenizer::from_bytes(&bytes, 16).unwrap();
        assert!(matches!(fast.inner, Inner::WordPiece(_)));
        let generic = Inner::Other(serde_json::from_slice(&bytes).unwrap());
        let generic = TextTokenizer::truncating(generic, 16).unwrap();
        let texts = [
            "Héllo, WORLD! unaffable tokenizers",
            "",
            "一二三 [MASK] émoji 🙂 and a rather long sentence that goes past sixteen tokens",
        ];
        assert_eq!(
            fast.tokenize(&texts).unwrap(),
            generic.tokenize(&texts).unwrap()
        );
        assert!(fast.tokenize(&texts).unwrap()[2].truncated);
    }

    #[test]
    fn the_vocabulary_size_counts_what_get_vocab_counts() {
        let wordpiece = crate::ModelBundle::default_for_tests()
            .tokenizer
            .clone()
            .expect("a bert bundle has tokenizer.json");
        let word_level = br#"{"version":"1.0","truncation":null,"padding":null,
            "added_tokens":[{"id":3,"content":"[NEW]","single_word":false,"lstrip":false,
            "rstrip":false,"normalized":false,"special":true}],
            "normalizer":null,"pre_tokenizer":{"type":"Whitespace"},"post_processor":null,
            "decoder":null,"model":{"type":"WordLevel","vocab":{"[UNK]":0,"a":1,"b":2},
            "unk_token":"[UNK]"}}"#;
        for bytes in [wordpiece.as_slice(), word_level] {
            let tokenizer = TextTokenizer::from_bytes(bytes, 16).unwrap();
            let counted = with_pipeline!(&tokenizer.inner, p => p.get_vocab(true).len());
            assert_eq!(tokenizer.vocab_size(), counted);
        }
        let tokenizer = TextTokenizer::from_bytes(word_level, 16).unwrap();
        assert!(matches!(tokenizer.inner, Inner::Other(_)));
        assert_eq!(tokenizer.vocab_size(), 4);
    }
}
