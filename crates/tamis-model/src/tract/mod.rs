//! The CPU encoder: the bundle's ONNX graph run by tract, natively and in wasm, with tamis's
//! own ops for what takes the time (integer weight products, attention, layer norms, GELU;
//! see `custom_op`), which also make native and wasm embeddings bit-identical.

mod attention;
mod custom_op;
mod dequantize;
mod gelu;
mod graph;
mod integer_kernels;
mod integer_matmul;
mod layer_norm;
mod rewrites;

pub(crate) use attention::{attend_in_threads, Heads, Mask};
pub(crate) use gelu::erf;
#[cfg(test)]
pub(crate) use graph::default_model_proto;
pub(crate) use integer_kernels::QuantizedRows;

use std::collections::HashMap;
use std::num::NonZeroUsize;

use tamis_core::{l2_normalize, Embedding, Encoder};
use tract_onnx::pb::{GraphProto, ModelProto};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::DimLike;

use crate::batching::{embed_in_batches, Batching};
use crate::onnx_data::decode_model;
use crate::{Manifest, ModelBundle, ModelError, TextTokenizer, TokenizedText};

type Plan = Arc<TypedRunnableModel>;

/// Tunables of [`TractEncoder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncoderOptions {
    /// Most texts run through the model at once, after grouping texts of similar token length.
    pub batch_size: usize,
    /// Most tokens a text of a run may have beyond the run's shortest: a longer text starts a
    /// new run rather than have the others padded to it. The defaults (12 texts, 2 tokens) were
    /// the fastest of the sizes 4 to 32 and tolerances 0 to 3 (and none) tried on SST-2, in
    /// calls of 32 texts and in one call of 256.
    pub max_extra_tokens: usize,
    /// Most tokens (texts x their padded length) one run of the model holds: a run of long
    /// texts is split into runs of fewer texts, so that each op's output stays in a core's
    /// cache (256 rows of the 1536-wide intermediate layer are 1.5 MB). With all 12 texts of a
    /// run at 256 tokens, 32 texts per call cost 1.26x as much per token as one text per call
    /// (`tamis bench lengths`); 256 was steadier than 384, 512 and 1024, and leaves runs of
    /// 12 texts up to 21 tokens unchanged.
    pub max_run_tokens: usize,
    /// Rewrite the graph's int8 weight dequantization (identical output, much faster): tables
    /// dequantize only the rows looked up, other weights once at load. Off only to measure.
    pub rewrite_dequantization: bool,
    /// Run the model's exact GELU as one fused operation instead of five element-wise ones
    /// (same formula, float rounding aside). Off only to measure.
    pub fuse_gelu: bool,
    /// Multiply by the int8 weight matrices with tamis's integer kernels (activations
    /// quantized to int16 per row; embeddings within about 1e-4 of f32 products) instead of
    /// tract's f32 kernels on dequantized weights: about twice as fast in wasm (eight
    /// multiply-adds per instruction, where wasm's f32 does four, without fused multiply-add)
    /// and natively with AVX-512 VNNI. The same bits on every host. Off only to measure.
    pub integer_matmul: bool,
    /// Run each layer's self-attention as one op instead of some twenty (head splits, scaled
    /// products, mask, softmax, NaN guard, head merge). Same formula, float rounding aside.
    pub fuse_attention: bool,
}

impl Default for EncoderOptions {
    fn default() -> Self {
        Self {
            batch_size: 12,
            max_extra_tokens: 2,
            max_run_tokens: 256,
            rewrite_dequantization: true,
            fuse_gelu: true,
            integer_matmul: true,
            fuse_attention: true,
        }
    }
}

/// What each model input is fed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InputRole {
    TokenIds,
    AttentionMask,
    TokenTypes,
}

impl InputRole {
    fn from_name(name: &str) -> Option<Self> {
        match name {
            "input_ids" => Some(Self::TokenIds),
            "attention_mask" => Some(Self::AttentionMask),
            "token_type_ids" => Some(Self::TokenTypes),
            _ => None,
        }
    }
}

/// A BERT-style sentence encoder run by tract on the CPU: tokenizes, batches texts of similar
/// length with dynamic padding, mean-pools the last hidden state over the attention mask and
/// L2-normalises, as the bundle's manifest prescribes.
pub struct TractEncoder {
    plan: Plan,
    tokenizer: TextTokenizer,
    inputs: Vec<InputRole>,
    dimension: usize,
    /// The id shorter texts of a batch are padded with (the architecture's `[PAD]`).
    pad_id: i64,
    options: EncoderOptions,
    /// Threads a call's runs of texts, or its products' columns, are shared out over
    /// ([`TractEncoder::set_threads`]).
    threads: NonZeroUsize,
}

impl TractEncoder {
    /// Loads a verified bundle with the default options.
    pub fn new(bundle: &ModelBundle) -> Result<Self, ModelError> {
        Self::with_options(bundle, EncoderOptions::default())
    }

    /// Loads a verified bundle, taking it over with the default options: its ONNX bytes are
    /// freed as soon as they are decoded, so the weights packed next reuse their memory (in
    /// wasm, where memory never shrinks, that is a smaller module memory for good, and fewer
    /// fresh pages to fault in while loading).
    ///
    /// ```no_run
    /// use tamis_core::Encoder;
    /// use tamis_model::{ModelBundle, TractEncoder};
    ///
    /// let encoder = TractEncoder::from_bundle(ModelBundle::read_dir("models/minilm-l6-int8")?)?;
    /// let embeddings = encoder.embed(&["a post"])?;
    /// # Ok::<(), tamis_model::ModelError>(())
    /// ```
    pub fn from_bundle(bundle: ModelBundle) -> Result<Self, ModelError> {
        let tokenizer = TextTokenizer::from_bundle(&bundle)?;
        let ModelBundle {
            manifest, model, ..
        } = bundle;
        let proto = decode_model(&model)?;
        drop(model);
        Self::from_proto(&manifest, tokenizer, proto, EncoderOptions::default())
    }

    /// Loads a verified bundle. A node left in the graph that an enabled rewrite exists to
    /// replace (the rewrite did not recognise its chain) is [`ModelError::UnsupportedModel`]
    /// naming the rewrite, the node and the option that turns the rewrite off.
    pub fn with_options(bundle: &ModelBundle, options: EncoderOptions) -> Result<Self, ModelError> {
        let tokenizer = TextTokenizer::from_bundle(bundle)?;
        let proto = decode_model(&bundle.model)?;
        Self::from_proto(&bundle.manifest, tokenizer, proto, options)
    }

    fn from_proto(
        manifest: &Manifest,
        tokenizer: TextTokenizer,
        mut proto: ModelProto,
        options: EncoderOptions,
    ) -> Result<Self, ModelError> {
        let invalid_onnx = |e: TractError| ModelError::InvalidOnnx(format!("{e:#}"));
        let graph = proto
            .graph
            .as_mut()
            .ok_or_else(|| ModelError::InvalidOnnx("the file holds no graph".into()))?;
        let inputs = input_roles(graph)?;
        let table_rows = token_table_rows(graph)?;
        if table_rows != manifest.vocab_size {
            return Err(ModelError::UnsupportedModel(format!(
                "its token embedding table has {table_rows} rows, the manifest's vocab_size is {}",
                manifest.vocab_size
            )));
        }
        tokenizer.expect_vocabulary(table_rows)?;
        rewrites::rewrite(graph, &options)?;
        let model = framework()
            .model_for_proto_model(&proto)
            .map_err(invalid_onnx)?;
        // The protobuf holds a copy of every weight (as f32 initializers or the integer nodes'
        // int8 attributes): free it before optimizing, or both copies count towards peak
        // memory (in wasm, for good).
        drop(proto);
        let mut model = model
            .into_typed()
            .and_then(|typed| typed.into_decluttered())
            .map_err(invalid_onnx)?;
        // tract's codegen pass picks kernels for tract's own matrix products; with tamis's
        // ops running them all it changed no embedding time measurably and took a tenth of
        // the wasm cold start.
        if !(options.integer_matmul && options.fuse_attention) {
            model.optimize().map_err(invalid_onnx)?;
        }
        let hidden_size = model
            .output_fact(0)
            .ok()
            .and_then(|fact| fact.shape.last().and_then(|d| d.to_usize().ok()));
        if hidden_size != Some(manifest.dimension) {
            return Err(ModelError::UnsupportedModel(format!(
                "its output's last axis is {hidden_size:?}, the manifest's dimension is {}",
                manifest.dimension
            )));
        }
        let plan = model.into_runnable().map_err(invalid_onnx)?;
        Ok(Self {
            plan,
            tokenizer,
            inputs,
            dimension: manifest.dimension,
            pad_id: i64::from(manifest.architecture.conventions().pad_id),
            options,
            threads: NonZeroUsize::MIN,
        })
    }

    /// Shares each call's runs of texts of similar length ([`EncoderOptions::batch_size`])
    /// out over `threads` threads (one by default); in the threaded wasm module, a run that has
    /// threads to itself (a call of fewer runs than threads, such as one text) splits the
    /// output columns of each of its int8 products over them. Each run and each column is computed whole, as one thread
    /// computes it, so the embeddings are the same bits whatever the number. Where threads
    /// cannot be started (wasm32 without threads) the work runs on the calling thread.
    pub fn set_threads(&mut self, threads: NonZeroUsize) {
        self.threads = threads;
    }

    /// The tokenizer this encoder feeds its model with.
    pub fn tokenizer(&self) -> &TextTokenizer {
        &self.tokenizer
    }

    /// Runs a batch as runs of at most [`EncoderOptions::max_run_tokens`] tokens (at least one
    /// text each); one pooled, normalised vector per text. The texts' vectors are the same bits
    /// however a batch is split: tamis's ops work row by row and mask padding exactly.
    fn run_within_token_budget(
        &self,
        batch: &[&TokenizedText],
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        let longest = batch.iter().map(|t| t.ids.len()).max().unwrap_or(0);
        let texts_per_run = (self.options.max_run_tokens / longest.max(1)).max(1);
        let mut vectors = Vec::with_capacity(batch.len());
        for run in batch.chunks(texts_per_run) {
            vectors.extend(self.run_batch(run)?);
        }
        Ok(vectors)
    }

    /// Runs one padded batch and returns one pooled, normalised vector per text.
    fn run_batch(&self, batch: &[&TokenizedText]) -> Result<Vec<Vec<f32>>, ModelError> {
        let width = batch.iter().map(|t| t.ids.len()).max().unwrap_or(0);
        let mut ids = vec![self.pad_id; batch.len() * width];
        let mut mask = vec![0i64; batch.len() * width];
        for (row, text) in batch.iter().enumerate() {
            for (column, &id) in text.ids.iter().enumerate() {
                ids[row * width + column] = i64::from(id);
                mask[row * width + column] = 1;
            }
        }
        let shape = [batch.len(), width];
        let inference = |e: TractError| ModelError::Inference(format!("{e:#}"));
        let tensor = |data: &[i64]| Tensor::from_shape(&shape, data).map_err(inference);
        let inputs = self
            .inputs
            .iter()
            .map(|role| match role {
                InputRole::TokenIds => tensor(&ids),
                InputRole::AttentionMask => tensor(&mask),
                InputRole::TokenTypes => tensor(&vec![0; ids.len()]),
            })
            .map(|t| t.map(TValue::from))
            .collect::<Result<TVec<_>, _>>()?;
        let outputs = self.plan.run(inputs).map_err(inference)?;
        let hidden = outputs[0]
            .try_as_plain_ram()
            .and_then(|view| view.as_slice::<f32>())
            .map_err(inference)?;
        if hidden.len() != batch.len() * width * self.dimension {
            return Err(ModelError::Inference(format!(
                "expected {} x {width} x {} hidden states, got {} values",
                batch.len(),
                self.dimension,
                hidden.len()
            )));
        }
        Ok(batch
            .iter()
            .enumerate()
            .map(|(row, text)| self.mean_pool(hidden, row * width, text.ids.len()))
            .collect())
    }

    /// Mean of the first `tokens` hidden states of one row (the unmasked ones), L2-normalised.
    fn mean_pool(&self, hidden: &[f32], row_start: usize, tokens: usize) -> Vec<f32> {
        let mut pooled = vec![0f32; self.dimension];
        for token in 0..tokens {
            let start = (row_start + token) * self.dimension;
            for (sum, value) in pooled
                .iter_mut()
                .zip(&hidden[start..start + self.dimension])
            {
                *sum += value;
            }
        }
        pooled.iter_mut().for_each(|x| *x /= tokens.max(1) as f32);
        l2_normalize(&mut pooled);
        pooled
    }
}

impl Encoder for TractEncoder {
    type Error = ModelError;

    fn dimension(&self) -> usize {
        self.dimension
    }

    /// Embeds `texts` in order. An empty text is embedded as the model's special tokens alone
    /// (`[CLS] [SEP]`): a valid unit vector, the same for every empty text.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Embedding>, ModelError> {
        let batching = Batching {
            max_texts: self.options.batch_size,
            max_extra_tokens: self.options.max_extra_tokens,
        };
        embed_in_batches(&self.tokenizer, texts, batching, self.threads, |batch| {
            self.run_within_token_budget(batch)
        })
    }
}

/// tract's ONNX framework, taught to build every tamis op.
fn framework() -> tract_onnx::Onnx {
    let mut framework = onnx();
    for register in [
        integer_matmul::register,
        attention::register,
        gelu::register,
        layer_norm::register,
    ] {
        register(&mut framework.op_register);
    }
    framework
}

/// Maps the graph's inputs to what they must be fed with.
fn input_roles(graph: &GraphProto) -> Result<Vec<InputRole>, ModelError> {
    let initializers: Vec<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let roles = graph
        .input
        .iter()
        .filter(|input| !initializers.contains(&input.name.as_str()))
        .map(|input| {
            InputRole::from_name(&input.name).ok_or_else(|| {
                ModelError::UnsupportedModel(format!(
                    "input `{}` is not one of input_ids, attention_mask, token_type_ids",
                    input.name
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    for required in [InputRole::TokenIds, InputRole::AttentionMask] {
        if !roles.contains(&required) {
            return Err(ModelError::UnsupportedModel(format!(
                "it has no {required:?} input"
            )));
        }
    }
    Ok(roles)
}

/// Rows of the embedding table that `input_ids` indexes, found by following the `Gather` on
/// `input_ids` back through its dequantization (`Mul`, `Cast`) to an initializer.
fn token_table_rows(graph: &GraphProto) -> Result<usize, ModelError> {
    let initializer_rows: HashMap<&str, i64> = graph
        .initializer
        .iter()
        .filter_map(|t| Some((t.name.as_str(), *t.dims.first()?)))
        .collect();
    let producer: HashMap<&str, &tract_onnx::pb::NodeProto> = graph
        .node
        .iter()
        .flat_map(|n| n.output.iter().map(move |o| (o.as_str(), n)))
        .collect();
    let lookup = graph
        .node
        .iter()
        .find(|n| n.op_type == "Gather" && n.input.get(1).map(String::as_str) == Some("input_ids"));
    let mut value = lookup.and_then(|n| n.input.first()).map(String::as_str);
    // A table is at most a few elementwise steps away from its initializer.
    for _ in 0..4 {
        let Some(name) = value else { break };
        if let Some(&rows) = initializer_rows.get(name) {
            return usize::try_from(rows)
                .map_err(|_| ModelError::UnsupportedModel("negative table size".into()));
        }
        value = producer
            .get(name)
            .filter(|n| matches!(n.op_type.as_str(), "Mul" | "Cast" | "DequantizeLinear"))
            .and_then(|n| n.input.first())
            .map(String::as_str);
    }
    Err(ModelError::UnsupportedModel(
        "no token embedding table is looked up with input_ids".into(),
    ))
}
