//! Integer matrix products for int8 weights: each activation row is quantized to int16 with
//! its own scale, and products of int16 activations by int16-widened int8 weights are summed
//! exactly in int32 (`vpdpwssd` with AVX-512 VNNI, `pmaddwd` with AVX2, `i32x4.dot_i16x8_s` in
//! wasm: eight to thirty-two multiply-adds per instruction where an f32 kernel does four to
//! sixteen, and wasm has no f32 fused multiply-add).
//!
//! Quantizing rounds each activation to 1/65534 of its row's largest magnitude: embeddings
//! move by about 1e-4 from f32 products (cosine 0.99999 or closer). The results are the same
//! on every host: integer sums are exact, so every kernel returns the same bits, and the ops
//! around the products are tamis's own deterministic ones ([`super::custom_op`]), so each
//! rounding sees the same input natively and in wasm.

use std::num::NonZeroUsize;
use std::ops::Range;

use crate::kernel_choice::{Kernel, MAX_TILE_ROWS};
use crate::threads::{map_column_groups_in_threads, map_row_runs_in_threads};
use crate::wide_vectors::with_wide_vectors;
use crate::QuantizedMatrix;

/// Output columns per packed group: one AVX-512 register, two AVX2 ones, four wasm ones.
pub(crate) const GROUP: usize = 16;
/// Largest quantized activation magnitude.
const ACTIVATION_MAX: f32 = 32767.0;
/// Input pairs summed in int32 before converting to f32: 2 * 256 products of
/// |activation| <= 32767 and |weight| <= 128 stay below 2^31.
const CHUNK_PAIRS: usize = 256;

/// An int8 weight matrix (inputs x outputs, one scale per output) packed for the kernels:
/// outputs in groups of [`GROUP`]; within a group, for each pair of inputs `(2p, 2p + 1)`,
/// the two weights of each output side by side, as `pmaddwd` multiplies and adds them once
/// the kernel has widened them to int16. Kept as int8: half the memory to fault in at load
/// and to stream through at each product.
#[derive(Debug)]
pub(crate) struct PackedWeights {
    inputs: usize,
    outputs: usize,
    pairs: usize,
    values: Vec<i8>,
    scales: Vec<f32>,
}

impl PackedWeights {
    /// Packs `matrix` (rows = inputs, columns = outputs, one scale per column); `None` when its
    /// scales are not one per column.
    pub(crate) fn new(matrix: &QuantizedMatrix) -> Option<Self> {
        let (inputs, outputs) = (matrix.rows, matrix.columns);
        if matrix.scales.len() != outputs || matrix.values.len() != inputs * outputs {
            return None;
        }
        let pairs = inputs.div_ceil(2);
        let groups = outputs.div_ceil(GROUP);
        let mut values = vec![0i8; groups * pairs * GROUP * 2];
        for (input, row) in matrix.values.chunks_exact(outputs).enumerate() {
            for (output, &weight) in row.iter().enumerate() {
                let (group, lane) = (output / GROUP, output % GROUP);
                values[(group * pairs + input / 2) * GROUP * 2 + lane * 2 + input % 2] = weight;
            }
        }
        Some(Self {
            inputs,
            outputs,
            pairs,
            values,
            scales: matrix.scales.clone(),
        })
    }

    pub(crate) fn inputs(&self) -> usize {
        self.inputs
    }

    pub(crate) fn outputs(&self) -> usize {
        self.outputs
    }

    fn group(&self, group: usize) -> &[i8] {
        let len = self.pairs * GROUP * 2;
        &self.values[group * len..(group + 1) * len]
    }
}

/// Rows of activations as int16, each with one scale: `x = scale * integer`. Also used by the
/// 4-bit kernels ([`crate::xlm_roberta`]).
pub(crate) struct QuantizedRows {
    /// Row after row, each padded to a whole number of input pairs.
    pub(crate) values: Vec<i16>,
    pub(crate) scales: Vec<f32>,
    pairs: usize,
}

impl QuantizedRows {
    /// Quantizes each row of `activations` (rows x `inputs`) with its own scale, compiled for
    /// the host's widest vectors (5% of a MiniLM post's time natively in SSE2 code), runs of
    /// rows split over `threads` threads (the same values whatever the number).
    pub(crate) fn new(activations: &[f32], inputs: usize, threads: NonZeroUsize) -> Self {
        let width = Self::row_width(inputs);
        let mut values = vec![0i16; activations.len() / inputs.max(1) * width];
        let scales = map_row_runs_in_threads(&mut values, width, threads, |first_row, run| {
            let run_rows = run.len() / width.max(1);
            let activations = &activations[first_row * inputs..][..run_rows * inputs];
            Self::quantize_run(activations, inputs, run)
        })
        .concat();
        Self::from_runs(values, scales, inputs)
    }

    /// Values per quantized row of `inputs` values: padded to whole pairs.
    pub(crate) fn row_width(inputs: usize) -> usize {
        inputs.div_ceil(2) * 2
    }

    /// Quantizes a run of rows of `activations` (of `inputs` values) into `values` (as many rows
    /// of [`Self::row_width`]), compiled for the host's widest vectors; their scales. A pass that
    /// prepares rows (a layer norm) quantizes each run as it finishes it, on the same thread.
    pub(crate) fn quantize_run(activations: &[f32], inputs: usize, values: &mut [i16]) -> Vec<f32> {
        let mut scales = vec![0f32; activations.len() / inputs.max(1)];
        with_wide_vectors(
            #[inline(always)]
            || Self::quantize(activations, inputs, values, &mut scales),
        );
        scales
    }

    /// The rows whose runs [`Self::quantize_run`] wrote into `values`, with their scales in
    /// row order.
    pub(crate) fn from_runs(values: Vec<i16>, scales: Vec<f32>, inputs: usize) -> Self {
        Self {
            values,
            scales,
            pairs: inputs.div_ceil(2),
        }
    }

    /// Quantizes the rows of `activations` into `values` (each row padded to whole pairs) and
    /// their `scales`.
    #[inline(always)]
    fn quantize(activations: &[f32], inputs: usize, values: &mut [i16], scales: &mut [f32]) {
        let pairs = inputs.div_ceil(2);
        for ((row, quantized), scale) in activations
            .chunks_exact(inputs)
            .zip(values.chunks_exact_mut(pairs * 2))
            .zip(scales)
        {
            let (largest, has_nan) = largest_magnitude(row);
            // A NaN or infinite row gets a NaN or infinite scale, so its outputs are not finite
            // either (whatever integers it got); an all-zero row gets scale 0, zero outputs.
            let to_integer = ACTIVATION_MAX / largest;
            for (q, &x) in quantized.iter_mut().zip(row) {
                *q = round_to_integer(x * to_integer);
            }
            *scale = if has_nan {
                f32::NAN
            } else {
                largest / ACTIVATION_MAX
            };
        }
    }

    fn row(&self, row: usize) -> &[i16] {
        &self.values[row * self.pairs * 2..][..self.pairs * 2]
    }
}

/// Rounds to the nearest integer, ties to even, for |value| <= 2^22: adding 1.5 * 2^23 leaves
/// no fraction bits, and the integer is then the low bits of the sum. Integer operations
/// only, so the compiler vectorizes it (`f32::round_ties_even` is a library call per value on
/// baseline x86-64, and a saturating `as` is several instructions).
fn round_to_integer(value: f32) -> i16 {
    const SHIFT: f32 = 12_582_912.0;
    (value + SHIFT).to_bits().wrapping_sub(SHIFT.to_bits()) as i16
}

/// The largest |x| of `row`, and whether it holds a NaN. On the bits, in lanes, so that it
/// vectorizes: without its sign, a number that is not a NaN orders like its bits as an integer,
/// and a NaN's bits are above infinity's. With `f32` comparisons the wasm build compared one
/// value at a time (3.3% of the time of a post in Node, `perf record`).
#[inline(always)]
fn largest_magnitude(row: &[f32]) -> (f32, bool) {
    const LANES: usize = 8;
    const MAGNITUDE: u32 = 0x7fff_ffff;
    let infinity = f32::INFINITY.to_bits();
    // Per lane: the largest magnitude that is not a NaN's, and the largest of all.
    let mut largest = [0u32; LANES];
    let mut largest_or_nan = [0u32; LANES];
    let mut take = |lane: usize, x: f32| {
        let magnitude = x.to_bits() & MAGNITUDE;
        let number = if magnitude > infinity { 0 } else { magnitude };
        largest[lane] = largest[lane].max(number);
        largest_or_nan[lane] = largest_or_nan[lane].max(magnitude);
    };
    let chunks = row.chunks_exact(LANES);
    for &x in chunks.remainder() {
        take(0, x);
    }
    for chunk in chunks {
        for (lane, &x) in chunk.iter().enumerate() {
            take(lane, x);
        }
    }
    let largest = largest.into_iter().max().unwrap_or(0);
    let has_nan = largest_or_nan.into_iter().any(|m| m > infinity);
    (f32::from_bits(largest), has_nan)
}

/// Writes `activations` (rows x inputs, row-major) times `weights`, plus `bias` (one per
/// output) when given, into `output` (rows x outputs, row-major): the op's output tensor, as
/// copying a product into one (and faulting in its fresh pages) took 8% of a call of 32 texts
/// of 256 tokens (`perf record`). With several `threads`, each computes some of the output
/// columns (whole groups): every value is computed as one thread computes it, so the bits are
/// the same.
pub(crate) fn multiply(
    activations: &[f32],
    weights: &PackedWeights,
    bias: Option<&[f32]>,
    threads: NonZeroUsize,
    output: &mut [f32],
) {
    let quantized = QuantizedRows::new(activations, weights.inputs, threads);
    debug_assert_eq!(output.len(), quantized.scales.len() * weights.outputs);
    let kernel = Kernel::detect();
    map_column_groups_in_threads(
        output,
        weights.outputs,
        GROUP,
        threads,
        |groups, columns| multiply_groups(kernel, &quantized, weights, bias, groups, columns),
    );
}

/// The output columns of `groups` for every row: `columns[row]` holds them, from the first
/// group's first column on.
fn multiply_groups(
    kernel: Kernel,
    quantized: &QuantizedRows,
    weights: &PackedWeights,
    bias: Option<&[f32]>,
    groups: Range<usize>,
    columns: &mut [&mut [f32]],
) {
    let rows = columns.len();
    let first_column = groups.start * GROUP;
    for first in (0..rows).step_by(kernel.max_rows()) {
        let count = (rows - first).min(kernel.max_rows());
        let tile: Vec<&[i16]> = (first..first + count).map(|r| quantized.row(r)).collect();
        for group in groups.clone() {
            let columns_of_group = group * GROUP..((group + 1) * GROUP).min(weights.outputs);
            let in_share =
                columns_of_group.start - first_column..columns_of_group.end - first_column;
            let mut sums = [[0f32; GROUP]; MAX_TILE_ROWS];
            for start in (0..weights.pairs).step_by(CHUNK_PAIRS) {
                let end = (start + CHUNK_PAIRS).min(weights.pairs);
                let exact = kernel.dot(&tile, weights.group(group), start..end);
                for (row_sums, exact) in sums.iter_mut().zip(&exact[..count]) {
                    for (sum, &value) in row_sums.iter_mut().zip(exact) {
                        *sum += value as f32;
                    }
                }
            }
            for (offset, row_sums) in sums[..count].iter().enumerate() {
                let row = first + offset;
                let row_scale = quantized.scales[row];
                let out = &mut columns[row][in_share.clone()];
                for ((o, &sum), &scale) in out
                    .iter_mut()
                    .zip(row_sums)
                    .zip(&weights.scales[columns_of_group.clone()])
                {
                    *o = sum * row_scale * scale;
                }
                if let Some(bias) = bias {
                    out.iter_mut()
                        .zip(&bias[columns_of_group.clone()])
                        .for_each(|(o, b)| *o += b);
                }
            }
        }
    }
}

/// Exact int32 sums of a tile of rows times one packed group, over some input pairs.
type TileSums = [[i32; GROUP]; MAX_TILE_ROWS];

impl Kernel {
    fn dot(self, rows: &[&[i16]], group: &[i8], pairs: Range<usize>) -> TileSums {
        debug_assert!(rows.len() <= self.max_rows());
        debug_assert!(rows.iter().all(|r| r.len() >= pairs.end * 2));
        debug_assert!(group.len() >= pairs.end * GROUP * 2);
        match self {
            Self::Portable => portable(rows, group, pairs),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: AVX2 was detected; the slices cover `pairs` (checked above in debug).
            Self::Avx2 => unsafe { x86::dot(rows, group, pairs) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: AVX-512 F, BW and VNNI were detected; the slices cover `pairs`.
            Self::Vnni => unsafe { x86::dot_vnni(rows, group, pairs) },
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            // SAFETY: the slices cover `pairs` (checked above in debug).
            Self::Simd128 => unsafe { wasm::dot(rows, group, pairs) },
        }
    }
}

fn portable(rows: &[&[i16]], group: &[i8], pairs: Range<usize>) -> TileSums {
    let mut sums = [[0i32; GROUP]; MAX_TILE_ROWS];
    for (row, row_sums) in rows.iter().zip(sums.iter_mut()) {
        for pair in pairs.clone() {
            let (a0, a1) = (i32::from(row[2 * pair]), i32::from(row[2 * pair + 1]));
            let weights = &group[pair * GROUP * 2..(pair + 1) * GROUP * 2];
            for (sum, w) in row_sums.iter_mut().zip(weights.chunks_exact(2)) {
                *sum += a0 * i32::from(w[0]) + a1 * i32::from(w[1]);
            }
        }
    }
    sums
}

/// Dispatches a tile of `rows.len()` rows to a kernel compiled for that many rows, so that
/// its accumulators are fixed-size arrays the compiler keeps in registers.
macro_rules! by_row_count {
    ($kernel:ident, $rows:expr, $group:expr, $pairs:expr, [$($n:literal),+]) => {
        match $rows.len() {
            $($n => $kernel::<$n>($rows, $group, $pairs),)+
            other => unreachable!("a tile of {other} rows"),
        }
    };
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;
    use std::ops::Range;

    use super::{TileSums, GROUP, MAX_TILE_ROWS};

    /// # Safety
    /// AVX2 must be available; each row holds `2 * pairs.end` values and `group`
    /// `pairs.end * 2 * GROUP`; at most 4 rows.
    pub(super) unsafe fn dot(rows: &[&[i16]], group: &[i8], pairs: Range<usize>) -> TileSums {
        // SAFETY: forwarded from the caller.
        unsafe { by_row_count!(tile, rows, group, pairs, [1, 2, 3, 4]) }
    }

    #[target_feature(enable = "avx2")]
    unsafe fn tile<const R: usize>(rows: &[&[i16]], group: &[i8], pairs: Range<usize>) -> TileSums {
        let mut low = [_mm256_setzero_si256(); R];
        let mut high = [_mm256_setzero_si256(); R];
        for pair in pairs {
            // SAFETY: the caller guarantees the slices cover `pair`.
            unsafe {
                let weights = group.as_ptr().add(pair * GROUP * 2) as *const __m128i;
                let w_low = _mm256_cvtepi8_epi16(_mm_loadu_si128(weights));
                let w_high = _mm256_cvtepi8_epi16(_mm_loadu_si128(weights.add(1)));
                for r in 0..R {
                    let both = (rows[r].as_ptr().add(2 * pair) as *const i32).read_unaligned();
                    let a = _mm256_set1_epi32(both);
                    low[r] = _mm256_add_epi32(low[r], _mm256_madd_epi16(a, w_low));
                    high[r] = _mm256_add_epi32(high[r], _mm256_madd_epi16(a, w_high));
                }
            }
        }
        let mut sums = [[0i32; GROUP]; MAX_TILE_ROWS];
        for r in 0..R {
            // SAFETY: each row of `sums` holds 16 i32, two 256-bit stores.
            unsafe {
                let out = sums[r].as_mut_ptr() as *mut __m256i;
                _mm256_storeu_si256(out, low[r]);
                _mm256_storeu_si256(out.add(1), high[r]);
            }
        }
        sums
    }

    /// # Safety
    /// AVX-512 F, BW and VNNI must be available; each row holds `2 * pairs.end` values and
    /// `group` `pairs.end * 2 * GROUP`; at most 8 rows.
    pub(super) unsafe fn dot_vnni(rows: &[&[i16]], group: &[i8], pairs: Range<usize>) -> TileSums {
        // SAFETY: forwarded from the caller.
        unsafe { by_row_count!(tile_vnni, rows, group, pairs, [1, 2, 3, 4, 5, 6, 7, 8]) }
    }

    /// One `vpdpwssd` per row and pair: 32 multiply-adds into the group's 16 sums.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    unsafe fn tile_vnni<const R: usize>(
        rows: &[&[i16]],
        group: &[i8],
        pairs: Range<usize>,
    ) -> TileSums {
        let mut acc = [_mm512_setzero_si512(); R];
        for pair in pairs {
            // SAFETY: the caller guarantees the slices cover `pair`.
            unsafe {
                let weights = group.as_ptr().add(pair * GROUP * 2).cast();
                let weights = _mm512_cvtepi8_epi16(_mm256_loadu_si256(weights));
                for r in 0..R {
                    let both = (rows[r].as_ptr().add(2 * pair) as *const i32).read_unaligned();
                    acc[r] = _mm512_dpwssd_epi32(acc[r], _mm512_set1_epi32(both), weights);
                }
            }
        }
        let mut sums = [[0i32; GROUP]; MAX_TILE_ROWS];
        for r in 0..R {
            // SAFETY: each row of `sums` holds 16 i32, one 512-bit store.
            unsafe { _mm512_storeu_si512(sums[r].as_mut_ptr().cast(), acc[r]) };
        }
        sums
    }
}

/// The wasm kernel: three rows per tile, half a group (8 outputs) per pass over the pairs, the
/// int8 weights widened as they are loaded. V8 gives wasm 16 vector registers: three rows by
/// half a group take 6 accumulators, two widened weight vectors and a row's pair.
///
/// The best shape differs between V8 versions, so each was measured in Node 20 (the bench's)
/// and in Chromium 156 (the demo's and the extension's): MiniLM, one thread, ms per Mastodon
/// post, alternating builds (Node: 128 posts one per call; Chromium: 96 posts 32 per call and
/// 48 one per call, through the demo's worker). Three rows by half a group: Node 29.1-29.9,
/// Chromium 26.7-27.3 and 23.3-25.0. Two rows by a whole group (the kernel before): 30.1-30.2,
/// 27.5-29.9 and 24.5-27.9. Four rows by half a group: Node 27.3-28.3 but Chromium 34.3-35.0
/// and 30.4-31.2; two rows by half a group 31.0-31.6, 27.7-28.2 and 24.8-25.2; five and six
/// rows by half a group 38.5-39.1 and 34.4 in Node (accumulators spilled). Against two rows by
/// a whole group, earlier, in Node: weights kept as int16 in memory (plain loads, twice the
/// bytes) 0.89-0.96x on posts but 1.03-1.10x on SST-2, where the products stream the weights
/// from beyond L2; group after group for every tile, each group widened once per call, 0.98x
/// and 1.15x; three rows by a whole group 1.08x and 1.19x (accumulators spilled).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm {
    use std::arch::wasm32::*;
    use std::ops::Range;

    use super::{TileSums, GROUP, MAX_TILE_ROWS};

    /// # Safety
    /// Each row holds `2 * pairs.end` values and `group` `pairs.end * 2 * GROUP`; at most 3 rows.
    pub(super) unsafe fn dot(rows: &[&[i16]], group: &[i8], pairs: Range<usize>) -> TileSums {
        // SAFETY: forwarded from the caller.
        unsafe { by_row_count!(tile, rows, group, pairs, [1, 2, 3]) }
    }

    /// Lanes of a group summed in one pass over the pairs.
    const HALF: usize = GROUP / 2;

    unsafe fn tile<const R: usize>(rows: &[&[i16]], group: &[i8], pairs: Range<usize>) -> TileSums {
        let mut sums = [[0i32; GROUP]; MAX_TILE_ROWS];
        for half in 0..GROUP / HALF {
            let mut acc = [[i32x4_splat(0); HALF / 4]; R];
            for pair in pairs.clone() {
                // SAFETY: the caller guarantees the slices cover `pair`.
                unsafe {
                    let weights = group.as_ptr().add(pair * GROUP * 2 + half * HALF * 2);
                    let w: [v128; HALF / 4] = std::array::from_fn(|quarter| {
                        i16x8_load_extend_i8x8(weights.add(quarter * 8))
                    });
                    for (row_acc, row) in acc.iter_mut().zip(rows) {
                        let both = (row.as_ptr().add(2 * pair) as *const i32).read_unaligned();
                        let a = i32x4_splat(both);
                        for (sum, &w) in row_acc.iter_mut().zip(&w) {
                            *sum = i32x4_add(*sum, i32x4_dot_i16x8(a, w));
                        }
                    }
                }
            }
            for (row_sums, row_acc) in sums.iter_mut().zip(&acc) {
                let lanes = &mut row_sums[half * HALF..][..HALF];
                for (quarter, &value) in row_acc.iter().enumerate() {
                    // SAFETY: `lanes` holds 8 i32, two 128-bit stores.
                    unsafe { v128_store((lanes.as_mut_ptr() as *mut v128).add(quarter), value) };
                }
            }
        }
        sums
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wide_vectors::VectorSet;

    #[test]
    fn every_vector_set_quantizes_to_the_same_integers_and_scales() {
        // 3 rows of 383 inputs (an odd count, padded to whole pairs), with a zero row, a
        // NaN and values of every magnitude.
        let mut activations: Vec<f32> = (0..3 * 383)
            .map(|i| ((i * 7919) % 2003) as f32 / 37.0 - 27.0)
            .collect();
        activations[383..766].fill(0.0);
        activations[900] = f32::NAN;
        let run = |set: VectorSet| {
            let (mut values, mut scales) = (vec![0i16; 3 * 384], vec![0f32; 3]);
            set.run(
                #[inline(always)]
                || QuantizedRows::quantize(&activations, 383, &mut values, &mut scales),
            );
            let scales: Vec<u32> = scales.iter().map(|s| s.to_bits()).collect();
            (values, scales)
        };
        VectorSet::assert_every_set_gives_the_baseline_result(run);
    }

    #[test]
    fn rows_quantized_over_threads_are_those_of_one_thread() {
        let activations: Vec<f32> = (0..7 * 385)
            .map(|i| ((i * 7919) % 2003) as f32 / 37.0 - 27.0)
            .collect();
        let one = QuantizedRows::new(&activations, 385, NonZeroUsize::MIN);
        for threads in 2..=8 {
            let split = QuantizedRows::new(&activations, 385, NonZeroUsize::new(threads).unwrap());
            assert_eq!(split.values, one.values, "{threads} threads");
            let bits = |rows: &QuantizedRows| -> Vec<u32> {
                rows.scales.iter().map(|s| s.to_bits()).collect()
            };
            assert_eq!(bits(&split), bits(&one), "{threads} threads");
        }
    }

    /// A deterministic pseudo-random matrix with the extreme weights included.
    fn matrix(inputs: usize, outputs: usize) -> QuantizedMatrix {
        let mut state = 0x2545_f491_u32;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state
        };
        let mut values: Vec<i8> = (0..inputs * outputs).map(|_| next() as i8).collect();
        values[0] = -128;
        values[1] = 127;
        let scales = (0..outputs).map(|c| 0.001 + c as f32 * 1e-5).collect();
        QuantizedMatrix {
            rows: inputs,
            columns: outputs,
            values,
            scales,
        }
    }

    fn float_product(activations: &[f32], matrix: &QuantizedMatrix) -> Vec<f32> {
        let (k, n) = (matrix.rows, matrix.columns);
        activations
            .chunks_exact(k)
            .flat_map(|row| {
                (0..n).map(move |c| {
                    (0..k)
                        .map(|i| {
                            f64::from(row[i])
                                * f64::from(matrix.values[i * n + c])
                                * f64::from(matrix.scales[c])
                        })
                        .sum::<f64>() as f32
                })
            })
            .collect()
    }

    /// [`multiply`] into a new vector.
    fn product(
        x: &[f32],
        packed: &PackedWeights,
        bias: Option<&[f32]>,
        threads: NonZeroUsize,
    ) -> Vec<f32> {
        let mut output = vec![f32::NAN; x.len() / packed.inputs() * packed.outputs()];
        multiply(x, packed, bias, threads, &mut output);
        output
    }

    fn activations(rows: usize, inputs: usize) -> Vec<f32> {
        (0..rows * inputs)
            .map(|i| ((i * 7919) % 1013) as f32 / 100.0 - 5.0)
            .collect()
    }

    #[test]
    fn products_match_float_arithmetic_within_the_quantization_step() {
        // Odd inputs (a padded pair), outputs not a multiple of the group, every tile height.
        for (rows, inputs, outputs) in [(1, 3, 5), (7, 385, 33), (9, 1536, 16), (2, 1100, 40)] {
            let matrix = matrix(inputs, outputs);
            let packed = PackedWeights::new(&matrix).unwrap();
            let x = activations(rows, inputs);
            let bias: Vec<f32> = (0..outputs).map(|c| c as f32 / 10.0).collect();
            let got = product(&x, &packed, Some(&bias), NonZeroUsize::MIN);
            let expected = float_product(&x, &matrix);
            assert_eq!(got.len(), expected.len());
            for (row, (got, expected)) in got
                .chunks_exact(outputs)
                .zip(expected.chunks_exact(outputs))
                .enumerate()
            {
                let row_x = &x[row * inputs..][..inputs];
                // Each activation rounds by at most half a step, 1/65534 of the largest.
                let step = row_x.iter().fold(0f32, |m, v| m.max(v.abs())) / 65534.0;
                for c in 0..outputs {
                    let weights: f32 = (0..inputs)
                        .map(|i| f32::from(matrix.values[i * outputs + c]).abs())
                        .sum();
                    let bound = step * weights * matrix.scales[c] * 1.001 + 1e-5;
                    let difference = (got[c] - bias[c] - expected[c]).abs();
                    assert!(
                        difference <= bound,
                        "{rows}x{inputs}x{outputs}: {difference} > {bound}"
                    );
                }
            }
        }
    }

    #[test]
    fn every_kernel_sums_exactly_like_the_portable_one() {
        let matrix = matrix(1536, 48);
        let packed = PackedWeights::new(&matrix).unwrap();
        // Extreme activations, so that a chunk's sums come close to the int32 limit.
        let mut x = activations(MAX_TILE_ROWS, 1536);
        x.iter_mut()
            .for_each(|v| *v = if *v > 0.0 { 1.0 } else { -1.0 });
        let quantized = QuantizedRows::new(&x, 1536, NonZeroUsize::MIN);
        for kernel in Kernel::available() {
            let rows: Vec<&[i16]> = (0..kernel.max_rows()).map(|r| quantized.row(r)).collect();
            for group in 0..3 {
                for pairs in [0..CHUNK_PAIRS, CHUNK_PAIRS..768, 5..6] {
                    let weights = packed.group(group);
                    assert_eq!(
                        kernel.dot(&rows, weights, pairs.clone()),
                        portable(&rows, weights, pairs),
                        "{kernel:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn threads_give_the_bits_of_one_thread() {
        // 3 groups, the last one narrow; rows from one to more than a tile.
        for rows in [1, 3, 11] {
            let matrix = matrix(385, 40);
            let packed = PackedWeights::new(&matrix).unwrap();
            let x = activations(rows, 385);
            let bias: Vec<f32> = (0..40).map(|c| c as f32 / 10.0).collect();
            let bits = |threads: usize| -> Vec<u32> {
                let threads = NonZeroUsize::new(threads).unwrap();
                product(&x, &packed, Some(&bias), threads)
                    .iter()
                    .map(|v| v.to_bits())
                    .collect()
            };
            let one_thread = bits(1);
            // Up to more threads than the matrix has groups.
            for threads in [2, 3, 4] {
                assert_eq!(bits(threads), one_thread, "{rows} rows, {threads} threads");
            }
        }
    }

    #[test]
    fn largest_magnitude_is_the_largest_absolute_value_and_flags_nans() {
        // Nine values: eight lanes and a remainder; negatives, -0 and a subnormal.
        let row = [0.5, -3.25, 1e-40, -0.0, 2.0, 1e-3, -7.5, 3.0, 0.25];
        assert_eq!(largest_magnitude(&row), (7.5, false));
        let mut with_nan = row;
        with_nan[8] = -f32::NAN;
        assert_eq!(largest_magnitude(&with_nan), (7.5, true));
        assert_eq!(
            largest_magnitude(&[1.0, f32::NEG_INFINITY]),
            (f32::INFINITY, false)
        );
        assert_eq!(largest_magnitude(&[]), (0.0, false));
    }

    #[test]
    fn zero_and_non_finite_rows() {
        let matrix = matrix(4, 16);
        let packed = PackedWeights::new(&matrix).unwrap();
        let x = [0.0, 0.0, 0.0, 0.0, 1.0, f32::NAN, 2.0, 3.0];
        let out = product(&x, &packed, None, NonZeroUsize::MIN);
        assert!(out[..16].iter().all(|&v| v == 0.0));
        assert!(out[16..].iter().all(|v| v.is_nan()));
    }

    #[test]
    fn one_scale_per_output_is_required() {
        let mut m = matrix(4, 16);
        m.scales.truncate(4);
        assert!(PackedWeights::new(&m).is_none());
    }
}
