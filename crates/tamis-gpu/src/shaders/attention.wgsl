// Scaled dot-product attention over the unmasked keys of each text. One invocation per
// (query token, head, text); q, k, v and out are tokens x hidden, heads side by side.
const MAX_HEAD_WIDTH: u32 = 64u;

@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read> mask: array<u32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

fn score(query_start: u32, key_token: u32, head_offset: u32) -> f32 {
    let key_start = key_token * p.n + head_offset;
    var s = 0.0;
    for (var c = 0u; c < p.head_width; c++) { s += q[query_start + c] * k[key_start + c]; }
    return s * p.score_scale;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let position = id.x;
    let head = id.y;
    let text = id.z;
    if (position >= p.seq || text >= p.batch) { return; }
    let first = text * p.seq;
    let head_offset = head * p.head_width;
    let query_start = (first + position) * p.n + head_offset;
    var highest = -3.4e38;
    for (var j = 0u; j < p.seq; j++) {
        if (mask[first + j] == 1u) { highest = max(highest, score(query_start, first + j, head_offset)); }
    }
    var total = 0.0;
    var context: array<f32, MAX_HEAD_WIDTH>;
    for (var j = 0u; j < p.seq; j++) {
        if (mask[first + j] == 1u) {
            let weight = exp(score(query_start, first + j, head_offset) - highest);
            total += weight;
            let value_start = (first + j) * p.n + head_offset;
            for (var c = 0u; c < p.head_width; c++) { context[c] += weight * v[value_start + c]; }
        }
    }
    for (var c = 0u; c < p.head_width; c++) { out[query_start + c] = context[c] / total; }
}
