// Mean of each text's unmasked hidden states. One invocation per (hidden unit, text).
@group(0) @binding(1) var<storage, read> hidden: array<f32>;
@group(0) @binding(2) var<storage, read> mask: array<u32>;
@group(0) @binding(3) var<storage, read_write> pooled: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let unit = id.x;
    let text = id.y;
    if (unit >= p.n || text >= p.batch) { return; }
    var sum = 0.0;
    var count = 0.0;
    for (var j = 0u; j < p.seq; j++) {
        let token = text * p.seq + j;
        if (mask[token] == 1u) {
            sum += hidden[token * p.n + unit];
            count += 1.0;
        }
    }
    pooled[text * p.n + unit] = sum / max(count, 1.0);
}
