// Token + position + token-type embeddings, dequantized row by row: one invocation per
// (hidden unit, token).
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read> words: array<u32>;        // vocab x hidden/4
@group(0) @binding(3) var<storage, read> word_scales: array<f32>;
@group(0) @binding(4) var<storage, read> positions: array<u32>;    // positions x hidden/4
@group(0) @binding(5) var<storage, read> position_scales: array<f32>;
@group(0) @binding(6) var<storage, read> token_type: array<f32>;
@group(0) @binding(7) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let unit = id.x;
    let token = id.y;
    if (unit >= p.n || token >= p.rows) { return; }
    let words_per_row = p.n / 4u;
    let word = ids[token];
    let position = token % p.seq;
    let from_word = int8_at(words[word * words_per_row + unit / 4u], unit % 4u) * word_scales[word];
    let from_position = int8_at(positions[position * words_per_row + unit / 4u], unit % 4u) * position_scales[position];
    out[token * p.n + unit] = from_word + from_position + token_type[unit];
}
