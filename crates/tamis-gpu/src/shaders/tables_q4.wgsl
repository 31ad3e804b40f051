// The Q4_0 word table (q4.wgsl), vocab rows of hidden/32 blocks, and the f32 position table,
// for embed.wgsl.
@group(0) @binding(5) var<storage, read> q4_words: array<u32>;
@group(0) @binding(6) var<storage, read> positions: array<f32>;    // positions x hidden

fn word_value(word: u32, unit: u32) -> f32 {
    return q4_weight(word * (p.n / 32u) + unit / 32u, unit % 32u);
}

fn position_value(position: u32, unit: u32) -> f32 {
    return positions[position * p.n + unit];
}
