use tokenizers::{Tokenizer, TruncationParams};

use crate::ModelError;

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
    inner: Tokenizer,
}

impl TextTokenizer {
    /// Loads `tokenizer.json` bytes, truncating at `max_tokens`.
    pub fn from_bytes(bytes: &[u8], max_tokens: usize) -> Result<Self, ModelError> {
        let mut inner = Tokenizer::from_bytes(bytes)
            .map_err(|e| ModelError::InvalidTokenizer(e.to_string()))?;
        inner
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens,
                ..Default::default()
            }))
            .map_err(|e| ModelError::InvalidTokenizer(e.to_string()))?;
        inner.with_padding(None);
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

    /// Number of distinct token ids, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Tokenizes each text with the model's special tokens.
    pub fn tokenize(&self, texts: &[&str]) -> Result<Vec<TokenizedText>, ModelError> {
        texts
            .iter()
            .enumerate()
            .map(|(index, text)| {
                let encoding =
                    self.inner
                        .encode(*text, true)
                        .map_err(|e| ModelError::Tokenization {
                            index,
                            reason: e.to_string(),
                        })?;
                Ok(TokenizedText {
                    truncated: !encoding.get_overflowing().is_empty(),
                    ids: encoding.get_ids().to_vec(),
                })
            })
            .collect()
    }
}
