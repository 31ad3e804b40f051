//! The arithmetic of [`super::FusedAttention`], vectorized and the same bits on every target.
//!
//! Per head, a group of [`QUERIES`] queries is scored against blocks of [`LANES`] keys, the
//! scores go through a masked softmax with tamis's own `exp` ([`exp`]), and the weights sum the
//! values in blocks of [`LANES`] columns. Each step is written as fixed-size arrays of lanes that
//! the compiler turns into vector instructions; every sum runs in an order fixed by the code
//! (over the head's columns for a score, over the keys for an output, lane by lane then in order
//! for a softmax's total), and Rust never fuses a multiply and an add, so baseline x86-64, AVX2,
//! AVX-512 and wasm SIMD builds give the same bits. The x86-64 builds compile the same code once
//! per instruction set and pick the widest the host runs ([`attend_in_threads`]).
//!
//! With several threads, each computes some of the heads ([`attend_in_threads`]): a head's
//! outputs are computed by the same code whichever thread runs it, so the bits are those of one
//! thread.
//!
//! Keys and values are copied once per head into blocked layouts (zeros past the last key and
//! the last column), so the inner loops read whole blocks without bounds checks or tails: the
//! cost per query and key is the same at 16 tokens as at 256.

use std::num::NonZeroUsize;
use std::ops::Range;

use super::super::custom_op::TamisOp;
use super::FusedAttention;
use crate::threads::map_column_groups_in_threads;
use crate::wide_vectors::with_wide_vectors;
use tract_onnx::tract_core::internal::*;

/// Keys per block of scores and value columns per block of outputs: one AVX-512 register, two
/// AVX2 ones, four SSE or wasm ones.
const LANES: usize = 16;
/// Queries computed together: each block of keys or values loaded serves this many, and their
/// independent sums hide the latency of the additions.
const QUERIES: usize = 4;

/// `q`, `k`, `v` of one call: batch x tokens x (heads x head_dim), row-major.
pub(crate) struct Heads<'a> {
    pub query: &'a [f32],
    pub key: &'a [f32],
    pub value: &'a [f32],
    pub batch: usize,
    pub tokens: usize,
    pub heads: usize,
    pub head_dim: usize,
    /// The product of the query and key scales, applied to each query.
    pub scale: f32,
}

/// The additive mask: its values and where element (b, h, i, j) of its broadcast to batch x
/// heads x tokens x tokens lies among them.
pub(crate) struct Mask<'a> {
    values: &'a [f32],
    strides: [usize; 4],
}

impl<'a> Mask<'a> {
    /// No mask: every query attends to every key of its text.
    pub(crate) fn none() -> Self {
        Self {
            values: &[0.0],
            strides: [0; 4],
        }
    }

    /// Each mask axis must be 1 (broadcast) or the full size.
    pub(super) fn new(values: &'a [f32], shape: &[usize], full: [usize; 4]) -> TractResult<Self> {
        ensure!(
            shape.len() == 4 && shape.iter().zip(full).all(|(&d, f)| d == 1 || d == f),
            "{}: a mask of shape {shape:?} does not broadcast to {full:?}",
            FusedAttention::OP_TYPE
        );
        let mut strides = [0; 4];
        let mut stride = 1;
        for axis in (0..4).rev() {
            strides[axis] = if shape[axis] == 1 { 0 } else { stride };
            stride *= shape[axis];
        }
        Ok(Self { values, strides })
    }

    /// Writes the mask of query `i` of head `h` of text `b` against every key into `row`.
    #[inline(always)]
    fn row_into(&self, b: usize, h: usize, i: usize, row: &mut [f32]) {
        let [sb, sh, si, sj] = self.strides;
        let start = b * sb + h * sh + i * si;
        if sj == 0 {
            row.fill(self.values[start]);
        } else {
            row.copy_from_slice(&self.values[start..][..row.len()]);
        }
    }
}

/// Writes `softmax(q kᵀ + mask) v` of every head into `output` (the layout of `q`); NaN outputs
/// (a row of NaN or -inf scores) read as 0, as the ONNX graph's NaN guard has it. The heads are
/// shared out over up to `threads` threads, whole heads each: a run of texts that has threads
/// to itself (one text per call) uses them for its attention as for its products. The same bits
/// whatever `threads`.
pub(crate) fn attend_in_threads(
    heads: &Heads,
    mask: &Mask,
    threads: NonZeroUsize,
    output: &mut [f32],
) {
    // A head's outputs are `head_dim` columns of each token's row: a group of columns.
    let width = heads.heads * heads.head_dim;
    map_column_groups_in_threads(output, width, heads.head_dim, threads, |range, rows| {
        attend_heads(heads, mask, range, rows)
    });
}

/// The outputs of the heads of `range` for every token: `rows[token]` (over the batch) holds
/// them, from the first head's first column on. Compiled for the widest vectors the host has.
fn attend_heads(heads: &Heads, mask: &Mask, range: Range<usize>, rows: &mut [&mut [f32]]) {
    with_wide_vectors(
        #[inline(always)]
        || attend_all(heads, mask, range, rows),
    );
}

/// The blocked copies of one head's keys and values, and the per-group buffers; allocated once
/// per share of a call's heads (one per call on one thread, four per thread on several:
/// `threads::shares`).
struct Workspace {
    /// Key block, column, lane: `LANES` keys side by side for each column.
    keys: Vec<f32>,
    /// Column block, key, lane: `LANES` columns of each key.
    values: Vec<f32>,
    /// Column, query: the group's scaled queries side by side.
    queries: Vec<[f32; QUERIES]>,
    /// Query, key (padded to whole blocks): the group's scores, then `exp(score - max)`.
    scores: Vec<f32>,
    /// Key, query: the group's weights side by side.
    weights: Vec<[f32; QUERIES]>,
}

/// [`attend_heads`], inlined into each instruction set's copy ([`with_wide_vectors`]).
#[inline(always)]
fn attend_all(heads: &Heads, mask: &Mask, range: Range<usize>, rows: &mut [&mut [f32]]) {
    let &Heads {
        query,
        key,
        value,
        batch,
        tokens,
        heads: head_count,
        head_dim: dim,
        scale,
    } = heads;
    let width = head_count * dim;
    // Where head `h`'s columns start in `rows`.
    let first_column = |h: usize| (h - range.start) * dim;
    let padded_keys = tokens.div_ceil(LANES) * LANES;
    let column_blocks = dim.div_ceil(LANES);
    let mut work = Workspace {
        keys: vec![0.0; padded_keys * dim],
        values: vec![0.0; column_blocks * tokens * LANES],
        queries: vec![[0.0; QUERIES]; dim],
        scores: vec![0.0; QUERIES * padded_keys],
        weights: vec![[0.0; QUERIES]; tokens],
    };
    let mut totals = [0f32; QUERIES];
    for b in 0..batch {
        let text = (b * tokens * width)..((b + 1) * tokens * width);
        let (key, value) = (&key[text.clone()], &value[text]);
        for h in range.clone() {
            block_head(&mut work, key, value, h * dim, width, dim);
            for first in (0..tokens).step_by(QUERIES) {
                for (q, scores) in work.scores.chunks_exact_mut(padded_keys).enumerate() {
                    let i = first + q;
                    let (scores, past_last) = scores.split_at_mut(tokens);
                    past_last.fill(f32::NEG_INFINITY);
                    if i < tokens {
                        let row = &query[(b * tokens + i) * width + h * dim..][..dim];
                        for (column, &x) in work.queries.iter_mut().zip(row) {
                            column[q] = x * scale;
                        }
                        mask.row_into(b, h, i, scores);
                    } else {
                        work.queries.iter_mut().for_each(|column| column[q] = 0.0);
                        scores.fill(0.0);
                    }
                }
                add_scores(&mut work, dim);
                for (q, total) in totals.iter_mut().enumerate() {
                    *total = softmax_numerators(&mut work.scores[q * padded_keys..][..padded_keys]);
                }
                for (j, weights) in work.weights.iter_mut().enumerate() {
                    for (q, weight) in weights.iter_mut().enumerate() {
                        *weight = work.scores[q * padded_keys + j];
                    }
                }
                let group = first..(first + QUERIES).min(tokens);
                for (block, values) in work.values.chunks_exact(tokens * LANES).enumerate() {
                    let sums = products(values.as_chunks::<LANES>().0, &work.weights);
                    let columns = block * LANES..((block + 1) * LANES).min(dim);
                    for (i, (sums, total)) in group.clone().zip(sums.iter().zip(totals)) {
                        let start = first_column(h);
                        let out =
                            &mut rows[b * tokens + i][start + columns.start..][..columns.len()];
                        for (o, &sum) in out.iter_mut().zip(sums) {
                            let x = sum / total;
                            *o = if x.is_nan() { 0.0 } else { x };
                        }
                    }
                }
            }
        }
    }
}

/// Copies the `dim` columns from `offset` of each token's row (`width` long) of `key` and
/// `value` into the blocked layouts of `work`.
#[inline(always)]
fn block_head(
    work: &mut Workspace,
    key: &[f32],
    value: &[f32],
    offset: usize,
    width: usize,
    dim: usize,
) {
    let tokens = key.len() / width;
    let rows = key.chunks_exact(width).zip(value.chunks_exact(width));
    for (j, (key_row, value_row)) in rows.enumerate() {
        let (key_row, value_row) = (&key_row[offset..][..dim], &value_row[offset..][..dim]);
        let key_block = &mut work.keys[(j / LANES) * dim * LANES..][..dim * LANES];
        for (column, &x) in key_block.chunks_exact_mut(LANES).zip(key_row) {
            column[j % LANES] = x;
        }
        for (block, columns) in value_row.chunks(LANES).enumerate() {
            work.values[(block * tokens + j) * LANES..][..columns.len()].copy_from_slice(columns);
        }
    }
}

/// Adds `q · k` of each query of the group and each key to the masks already in
/// `work.scores`.
#[inline(always)]
fn add_scores(work: &mut Workspace, dim: usize) {
    let padded_keys = work.scores.len() / QUERIES;
    for (block, keys) in work.keys.chunks_exact(dim * LANES).enumerate() {
        let (keys, _) = keys.as_chunks::<LANES>();
        let sums = products(keys, &work.queries);
        for (q, sums) in sums.iter().enumerate() {
            let scores = &mut work.scores[q * padded_keys + block * LANES..][..LANES];
            for (score, &sum) in scores.iter_mut().zip(sums) {
                *score += sum;
            }
        }
    }
}

/// For each query `q` of the group and each lane, `Σ_n scalars[n][q] · vectors[n][lane]`, summed
/// over `n` in order: the scores of a block of keys (`n` a column, the vectors the keys'
/// values in it, the scalars the queries') or the outputs of a block of columns (`n` a key,
/// the vectors its values, the scalars the queries' weights for it).
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(always)]
fn products(vectors: &[[f32; LANES]], scalars: &[[f32; QUERIES]]) -> [[f32; LANES]; QUERIES] {
    // One sum array per query and one loop over the lanes: the compiler turns each line into
    // one vector operation and keeps the sums in registers. (A loop over the queries around
    // it stayed a loop in release builds, with the sums in memory and scalar operations.)
    let [mut sums_0, mut sums_1, mut sums_2, mut sums_3] = [[0f32; LANES]; QUERIES];
    for (vector, &[scalar_0, scalar_1, scalar_2, scalar_3]) in vectors.iter().zip(scalars) {
        for lane in 0..LANES {
            sums_0[lane] += scalar_0 * vector[lane];
            sums_1[lane] += scalar_1 * vector[lane];
            sums_2[lane] += scalar_2 * vector[lane];
            sums_3[lane] += scalar_3 * vector[lane];
        }
    }
    [sums_0, sums_1, sums_2, sums_3]
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
use wasm::products;

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm {
    use std::arch::wasm32::*;

    use super::{LANES, QUERIES};

    /// Lanes of a block summed in one pass over the vectors.
    const PASS_LANES: usize = 8;

    /// `products` in wasm SIMD, half a block at a time. V8 compiles wasm SIMD to 16
    /// vector registers: the sums of four queries by 16 lanes fill all of them, and with the
    /// code the compiler made of the portable `products` it kept half of them in memory, loading
    /// and storing each at every step (`perf annotate` in Node). A pass over half the lanes
    /// holds 8 sums. Each lane's sum is the same: `sum + scalar * value`, over the vectors in
    /// order.
    #[inline(always)]
    pub(super) fn products(
        vectors: &[[f32; LANES]],
        scalars: &[[f32; QUERIES]],
    ) -> [[f32; LANES]; QUERIES] {
        let mut sums = [[0f32; LANES]; QUERIES];
        for first in (0..LANES).step_by(PASS_LANES) {
            let mut pass = [[f32x4_splat(0.0); PASS_LANES / 4]; QUERIES];
            for (vector, scalars) in vectors.iter().zip(scalars) {
                let half = &vector[first..][..PASS_LANES];
                // SAFETY: `half` holds PASS_LANES = 8 floats, two vectors of 4.
                let values: [v128; PASS_LANES / 4] = std::array::from_fn(|quarter| unsafe {
                    v128_load(half.as_ptr().add(4 * quarter).cast())
                });
                for (query_sums, &scalar) in pass.iter_mut().zip(scalars) {
                    let scalar = f32x4_splat(scalar);
                    for (sum, &value) in query_sums.iter_mut().zip(&values) {
                        *sum = f32x4_add(*sum, f32x4_mul(scalar, value));
                    }
                }
            }
            for (query_sums, pass_sums) in sums.iter_mut().zip(&pass) {
                let half = &mut query_sums[first..][..PASS_LANES];
                for (quarter, &sum) in pass_sums.iter().enumerate() {
                    // SAFETY: `half` holds 8 floats, two vectors of 4.
                    unsafe { v128_store(half.as_mut_ptr().add(4 * quarter).cast(), sum) };
                }
            }
        }
        sums
    }
}

/// Replaces each score of `row` (a whole number of blocks) by `exp(score - max)` and returns
/// their total, summed lane by lane, then the lanes in order.
#[inline(always)]
fn softmax_numerators(row: &mut [f32]) -> f32 {
    let (blocks, _) = row.as_chunks_mut::<LANES>();
    let mut largest = [f32::NEG_INFINITY; LANES];
    for block in blocks.iter() {
        for (m, &x) in largest.iter_mut().zip(block) {
            *m = if x > *m { x } else { *m };
        }
    }
    let max = largest
        .iter()
        .fold(f32::NEG_INFINITY, |m, &x| if x > m { x } else { m });
    let mut totals = [0f32; LANES];
    for block in blocks.iter_mut() {
        for (total, x) in totals.iter_mut().zip(block) {
            *x = exp(*x - max);
            *total += *x;
        }
    }
    totals.iter().fold(0.0, |sum, &x| sum + x)
}

/// `e^x` for `x <= 88` within about 2 ulp, 0 below -87, NaN for NaN; plain arithmetic and
/// integer operations only, so that it vectorizes and gives the same bits on every target
/// (`libm::expf` branches per value). Cephes' `expf`: `x = n ln 2 + r` with |r| <= ln 2 / 2,
/// `e^r` by its polynomial, `2^n` written into the exponent bits.
#[inline(always)]
#[allow(clippy::excessive_precision)] // Cephes' constants as published
pub(super) fn exp(x: f32) -> f32 {
    /// Adding 1.5 * 2^23 rounds to an integer (ties to even) for |x| <= 2^22, which is then the
    /// low bits of the sum.
    const SHIFT: f32 = 12_582_912.0;
    const LOWEST: f32 = -87.0;
    // ln 2 in two parts; the first has few bits, so that n * LN2_HIGH is exact.
    const LN2_HIGH: f32 = 0.693_359_375;
    const LN2_LOW: f32 = -2.121_944_4e-4;
    let clamped = if x < LOWEST { LOWEST } else { x };
    let shifted = clamped * std::f32::consts::LOG2_E + SHIFT;
    let n = shifted - SHIFT;
    let r = clamped - n * LN2_HIGH - n * LN2_LOW;
    let mut p = 1.987_569_2e-4;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 5.000_000_1e-1;
    let e_r = p * (r * r) + r + 1.0;
    let exponent = shifted
        .to_bits()
        .wrapping_sub(SHIFT.to_bits())
        .wrapping_add(127);
    let e = e_r * f32::from_bits(exponent << 23);
    if x < LOWEST {
        0.0
    } else {
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wide_vectors::VectorSet;

    /// [`attend_in_threads`] on the calling thread.
    fn attend(heads: &Heads, mask: &Mask, output: &mut [f32]) {
        attend_in_threads(heads, mask, NonZeroUsize::MIN, output);
    }

    /// Pseudo-random values in [-2, 2).
    fn values(count: usize, seed: u32) -> Vec<f32> {
        let mut state = seed.max(1);
        (0..count)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state >> 8) as f32 / (1 << 22) as f32 - 2.0
            })
            .collect()
    }

    /// Inputs of `batch` texts of `tokens` tokens, `heads` heads of `dim`; the mask shuts the
    /// last `padding` keys of the second text with `f32::MIN`, as the encoder's masks do.
    struct Case {
        query: Vec<f32>,
        key: Vec<f32>,
        value: Vec<f32>,
        mask: Vec<f32>,
        shape: [usize; 4],
    }

    impl Case {
        fn new(batch: usize, tokens: usize, heads: usize, dim: usize, padding: usize) -> Self {
            let len = batch * tokens * heads * dim;
            let mut mask = vec![0.0; batch * tokens];
            if batch > 1 {
                mask[2 * tokens - padding..2 * tokens].fill(f32::MIN);
            }
            Self {
                query: values(len, 1),
                key: values(len, 2),
                value: values(len, 3),
                mask,
                shape: [batch, tokens, heads, dim],
            }
        }

        fn heads(&self) -> Heads<'_> {
            let [batch, tokens, heads, head_dim] = self.shape;
            Heads {
                query: &self.query,
                key: &self.key,
                value: &self.value,
                batch,
                tokens,
                heads,
                head_dim,
                scale: 0.125,
            }
        }

        fn mask(&self) -> Mask<'_> {
            let [batch, tokens, heads, _] = self.shape;
            let full = [batch, heads, tokens, tokens];
            Mask::new(&self.mask, &[batch, 1, 1, tokens], full).unwrap()
        }

        fn run(&self, attend: impl Fn(&Heads, &Mask, &mut [f32])) -> Vec<f32> {
            let mut output = vec![f32::NAN; self.query.len()];
            attend(&self.heads(), &self.mask(), &mut output);
            output
        }

        /// [`Case::run`] with every head computed on the calling thread by `attend_heads` (one
        /// instruction set's copy).
        fn run_heads(
            &self,
            attend_heads: impl Fn(&Heads, &Mask, Range<usize>, &mut [&mut [f32]]) + Sync,
        ) -> Vec<f32> {
            self.run(|heads, mask, output| {
                let width = heads.heads * heads.head_dim;
                let one = NonZeroUsize::MIN;
                map_column_groups_in_threads(output, width, heads.head_dim, one, |range, rows| {
                    attend_heads(heads, mask, range, rows)
                });
            })
        }

        /// The textbook formula in f64.
        fn expected(&self) -> Vec<f64> {
            let [batch, tokens, heads, dim] = self.shape;
            let width = heads * dim;
            let mut output = vec![0f64; self.query.len()];
            for b in 0..batch {
                for h in 0..heads {
                    let at = |t: usize| (b * tokens + t) * width + h * dim;
                    for i in 0..tokens {
                        let scores: Vec<f64> = (0..tokens)
                            .map(|j| {
                                let dot: f64 = (0..dim)
                                    .map(|d| {
                                        f64::from(self.query[at(i) + d])
                                            * f64::from(self.key[at(j) + d])
                                    })
                                    .sum();
                                dot * 0.125 + f64::from(self.mask[b * tokens + j])
                            })
                            .collect();
                        let max = scores.iter().copied().fold(f64::MIN, f64::max);
                        let exps: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
                        let total: f64 = exps.iter().sum();
                        for d in 0..dim {
                            output[at(i) + d] = (0..tokens)
                                .map(|j| exps[j] * f64::from(self.value[at(j) + d]))
                                .sum::<f64>()
                                / total;
                        }
                    }
                }
            }
            output
        }
    }

    #[test]
    fn attention_matches_the_formula_in_f64() {
        // Token counts below, at and past a block of keys and a group of queries; a head
        // size that is not a whole number of column blocks; masked keys.
        for (batch, tokens, heads, dim, padding) in [
            (1, 1, 1, 32, 0),
            (2, 5, 3, 24, 2),
            (2, 17, 2, 32, 9),
            (1, 70, 12, 32, 0),
        ] {
            let case = Case::new(batch, tokens, heads, dim, padding);
            let got = case.run(attend);
            for (index, (&got, expected)) in got.iter().zip(case.expected()).enumerate() {
                let difference = (f64::from(got) - expected).abs();
                assert!(
                    difference <= 1e-5,
                    "{:?}, value {index}: {got} vs {expected}",
                    case.shape
                );
            }
        }
    }

    #[test]
    fn every_instruction_set_gives_the_same_bits() {
        let case = Case::new(2, 37, 3, 32, 11);
        let bits = |output: Vec<f32>| output.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let on = |set: VectorSet| {
            bits(case.run_heads(|h, m, r, o| {
                set.run(
                    #[inline(always)]
                    || attend_all(h, m, r, o),
                )
            }))
        };
        assert_eq!(
            bits(case.run(attend)),
            on(VectorSet::Baseline),
            "the dispatched one"
        );
        VectorSet::assert_every_set_gives_the_baseline_result(on);
    }

    #[test]
    fn threads_give_the_bits_of_one_thread() {
        let bits = |output: Vec<f32>| output.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        // Fewer heads than threads, as many, and more (MiniLM's 12); masked keys.
        for (batch, tokens, heads, padding) in [(2, 37, 3, 11), (1, 70, 12, 0), (2, 5, 1, 2)] {
            let case = Case::new(batch, tokens, heads, 32, padding);
            let one_thread = bits(case.run(attend));
            for threads in [2, 3, 4] {
                let threads = NonZeroUsize::new(threads).unwrap();
                let split = case.run(|h, m, o| attend_in_threads(h, m, threads, o));
                assert_eq!(
                    bits(split),
                    one_thread,
                    "{:?}, {threads} threads",
                    case.shape
                );
            }
        }
    }

    #[test]
    fn a_fully_masked_row_gives_zeros_as_the_nan_guard_does() {
        let mut case = Case::new(1, 3, 1, 32, 0);
        case.mask.fill(f32::NEG_INFINITY);
        assert!(case.run(attend).iter().all(|&x| x == 0.0));
    }

    #[test]
    fn a_mask_that_does_not_broadcast_is_refused() {
        assert!(Mask::new(&[0.0; 10], &[2, 1, 1, 5], [2, 12, 5, 5]).is_ok());
        let error = Mask::new(&[0.0; 8], &[2, 1, 1, 4], [2, 12, 5, 5])
            .err()
            .unwrap();
        assert!(error.to_string().contains("does not broadcast"), "{error}");
    }

    #[test]
    fn exp_is_within_two_ulp_of_libm() {
        let mut x = -87.0f32;
        while x <= 88.0 {
            let (got, expected) = (exp(x), libm::expf(x));
            let ulp = (got.to_bits() as i64 - expected.to_bits() as i64).abs();
            assert!(ulp <= 2, "exp({x}) = {got}, libm {expected}");
            x += 0.0137;
        }
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(-87.5), 0.0);
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
        assert!(exp(f32::NAN).is_nan());
    }
}
