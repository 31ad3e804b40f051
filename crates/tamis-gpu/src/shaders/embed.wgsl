// Word + position + token-type embeddings: one invocation per (hidden unit, token). The
// tables' format defines `word_value` and `position_value` (tables_int8.wgsl,
// tables_q4.wgsl); the position of each token comes from the host, which numbers them by the
// architecture's conventions.
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read> position_ids: array<u32>;
@group(0) @binding(3) var<storage, read> token_type: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let unit = id.x;
    let token = id.y;
    if (unit >= p.n || token >= p.rows) { return; }
    out[token * p.n + unit] = word_value(ids[token], unit) + position_value(position_ids[token], unit) + token_type[unit];
}
