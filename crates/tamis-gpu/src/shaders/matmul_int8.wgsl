// y = x W + bias (then GELU when p.flag = 1), W int8 with one scale per output column,
// stored transposed (outputs x inputs/4 words). One invocation per (output, token).
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<u32>;
@group(0) @binding(3) var<storage, read> scales: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let column = id.x;
    let row = id.y;
    if (column >= p.n || row >= p.rows) { return; }
    let words = p.k / 4u;
    let x_start = row * p.k;
    let w_start = column * words;
    var sum = 0.0;
    for (var i = 0u; i < words; i++) {
        let word = w[w_start + i];
        let xs = vec4<f32>(x[x_start + 4u * i], x[x_start + 4u * i + 1u], x[x_start + 4u * i + 2u], x[x_start + 4u * i + 3u]);
        sum += dot(xs, vec4<f32>(int8_at(word, 0u), int8_at(word, 1u), int8_at(word, 2u), int8_at(word, 3u)));
    }
    y[row * p.n + column] = activate(sum * scales[column] + bias[column]);
}
