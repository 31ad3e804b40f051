// The int8 word and position tables, one scale per row, for embed.wgsl.
@group(0) @binding(5) var<storage, read> words: array<u32>;        // vocab x hidden/4
@group(0) @binding(6) var<storage, read> word_scales: array<f32>;
@group(0) @binding(7) var<storage, read> positions: array<u32>;    // positions x hidden/4
@group(0) @binding(8) var<storage, read> position_scales: array<f32>;

fn word_value(word: u32, unit: u32) -> f32 {
    return int8_at(words[word * (p.n / 4u) + unit / 4u], unit % 4u) * word_scales[word];
}

fn position_value(position: u32, unit: u32) -> f32 {
    return int8_at(positions[position * (p.n / 4u) + unit / 4u], unit % 4u) * position_scales[position];
}
