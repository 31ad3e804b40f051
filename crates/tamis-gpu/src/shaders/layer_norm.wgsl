// out = LayerNorm(a (+ residual when p.flag = 1)) per token. One invocation per token.
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> residual: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read> beta: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

fn input_at(index: u32) -> f32 {
    if (p.flag == 1u) { return a[index] + residual[index]; }
    return a[index];
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let row = id.x;
    if (row >= p.rows) { return; }
    let start = row * p.n;
    var mean = 0.0;
    for (var i = 0u; i < p.n; i++) { mean += input_at(start + i); }
    mean /= f32(p.n);
    var variance = 0.0;
    for (var i = 0u; i < p.n; i++) {
        let d = input_at(start + i) - mean;
        variance += d * d;
    }
    let inverse = inverseSqrt(variance / f32(p.n) + p.epsilon);
    for (var i = 0u; i < p.n; i++) {
        out[start + i] = (input_at(start + i) - mean) * inverse * gamma[i] + beta[i];
    }
}
