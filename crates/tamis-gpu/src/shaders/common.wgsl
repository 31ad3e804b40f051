// Shared by every kernel: the dispatch's sizes, and int8 values packed four to a u32.
struct Params {
    rows: u32,        // tokens in the batch (batch x seq)
    k: u32,           // input width of a matrix product
    n: u32,           // output width
    seq: u32,         // padded tokens per text
    batch: u32,       // texts
    head_width: u32,
    flag: u32,        // GELU after a product; residual add before a layer norm
    _pad: u32,
    epsilon: f32,
    score_scale: f32, // 1 / sqrt(head width)
}

@group(0) @binding(0) var<uniform> p: Params;

// The `i`-th signed byte of `word`, as f32.
fn int8_at(word: u32, i: u32) -> f32 {
    return f32(bitcast<i32>(word << (24u - 8u * i)) >> 24u);
}
