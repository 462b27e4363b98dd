// Rotary position embedding (the Llama "rotate half" layout, as transformers' apply_rotary_pos_emb) and the KV-cache
// append, in one pass over the tokens of this forward:
//   q[t, h] is rotated in place;
//   k[t, h] is rotated and written, with v[t, h] as is, to the cache rows pos + t.
// For i < half:  out[i] = x[i] cos - x[i + half] sin,  out[i + half] = x[i + half] cos + x[i] sin,
// with (cos, sin) of angle (pos + t) * inv_freq[i] taken from a table computed on the CPU in float32 (exact like HF's,
// where GPU cos/sin of large angles are not).
// q: f32 [tokens, n_heads * head_dim]; k, v: f32 [tokens, n_kv_heads * head_dim];
// k_cache, v_cache: f32 [context, n_kv_heads * head_dim]; table: f32 [context, half, 2] (cos, sin).

override WG: u32 = 64u;

struct Params {
  n_heads: u32,
  n_kv_heads: u32,
  head_dim: u32,
  half: u32,      // head_dim / 2
}

// struct Step { tokens, pos, kv_len }: step.wgsl, put in front of this file by its owner.

@group(0) @binding(0) var<storage, read_write> q: array<f32>;
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read_write> k_cache: array<f32>;
@group(0) @binding(4) var<storage, read_write> v_cache: array<f32>;
@group(0) @binding(5) var<storage, read> table: array<vec2<f32>>;
@group(0) @binding(6) var<uniform> p: Params;
@group(0) @binding(7) var<uniform> step: Step;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let idx = (wg.x + wg.y * nwg.x) * WG + lid;
  let heads = p.n_heads + p.n_kv_heads;
  let i = idx % p.half;
  let head = (idx / p.half) % heads;
  let t = idx / (p.half * heads);
  if (t >= step.tokens) { return; }
  let position = step.pos + t;
  let cs = table[position * p.half + i];
  if (head < p.n_heads) {
    let base = (t * p.n_heads + head) * p.head_dim;
    let x0 = q[base + i];
    let x1 = q[base + i + p.half];
    q[base + i] = x0 * cs.x - x1 * cs.y;
    q[base + i + p.half] = x1 * cs.x + x0 * cs.y;
  } else {
    let kh = head - p.n_heads;
    let src = (t * p.n_kv_heads + kh) * p.head_dim;
    let dst = (position * p.n_kv_heads + kh) * p.head_dim;
    let x0 = k[src + i];
    let x1 = k[src + i + p.half];
    k_cache[dst + i] = x0 * cs.x - x1 * cs.y;
    k_cache[dst + i + p.half] = x1 * cs.x + x0 * cs.y;
    v_cache[dst + i] = v[src + i];
    v_cache[dst + i + p.half] = v[src + i + p.half];
  }
}
