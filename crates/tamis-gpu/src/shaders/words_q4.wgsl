// The Q4_0 word table (q4.wgsl), vocab rows of hidden/32 blocks, for embed.wgsl.
@group(0) @binding(6) var<storage, read> q4_words: array<u32>;

fn word_value(word: u32, unit: u32) -> f32 {
    return q4_weight(word * (p.n / 32u) + unit / 32u, unit % 32u);
}
