// y = W x + bias (then GELU when p.flag = 1), W in Q4_0 blocks as the model file stores it
// (q4.wgsl): outputs rows of inputs/32 blocks. One invocation per (output, token); each
// block's 32 products are summed, then scaled once.
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> q4_words: array<u32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

// The four weights in the low (`shift` 0) or high (`shift` 4) nibbles of a nibble word.
fn nibble_weights(nibbles: u32, shift: u32) -> vec4<f32> {
    let n = nibbles >> shift;
    return vec4<f32>(f32(n & 0xfu), f32((n >> 8u) & 0xfu), f32((n >> 16u) & 0xfu), f32((n >> 24u) & 0xfu)) - 8.0;
}

fn inputs_at(at: u32) -> vec4<f32> {
    return vec4<f32>(x[at], x[at + 1u], x[at + 2u], x[at + 3u]);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let column = id.x;
    let row = id.y;
    if (column >= p.n || row >= p.rows) { return; }
    let blocks = p.k / 32u;
    var sum = 0.0;
    for (var b = 0u; b < blocks; b++) {
        let block = column * blocks + b;
        let x_start = row * p.k + 32u * b;
        var block_sum = 0.0;
        for (var k = 0u; k < 4u; k++) {
            let nibbles = q4_nibbles(block, k);
            let at = x_start + 4u * k;
            block_sum += dot(nibble_weights(nibbles, 0u), inputs_at(at))
                + dot(nibble_weights(nibbles, 4u), inputs_at(at + 16u));
        }
        sum += block_sum * q4_scale(block);
    }
    y[row * p.n + column] = activate(sum + bias[column]);
}
