// Rotary position embedding (the Llama "rotate half" layout, as transformers' apply_rotary_pos_emb) and the KV-cache
// append, in one pass over the tokens of this forward:
//   q[t, h] is rotated in place;
//   k[t, h] is rotated and written, with v[t, h] as is, to the cache row of position pos + t.
// Only the first 2 · rot_half dims of a head rotate (Phi-3's partial_rotary_factor; all of them for most models; none
// on SmolLM3's NoPE layers, rot_half = 0); the others pass through. For i < rot_half:
//   out[i] = x[i] cos - x[i + rot_half] sin,  out[i + rot_half] = x[i + rot_half] cos + x[i] sin,
// with (cos, sin) of angle (pos + t) * inv_freq[i] taken from a table computed on the CPU in float32 (exact like HF's,
// where GPU cos/sin of large angles are not), LongRoPE's attention factor already multiplied in.
// The cache of a sliding-window layer is a ring: position p lives in row p mod cache_rows (cache_rows = context for
// a global layer, so the row is the position).
// q: f32 [tokens, n_heads * head_dim]; k, v: f32 [tokens, n_kv_heads * head_dim];
// k_cache, v_cache: f32 [cache_rows, n_kv_heads * head_dim]; table: f32 [context, rot_half, 2] (cos, sin).
// One thread per (token, head, i < head_dim / 2): rotation pair i, or pass-through pair i - rot_half.

override WG: u32 = 64u;

struct Params {
  n_heads: u32,
  n_kv_heads: u32,
  head_dim: u32,
  half: u32,        // head_dim / 2
  rot_half: u32,    // rotated dims / 2 (<= half)
  cache_rows: u32,  // rows of k_cache / v_cache
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

// Rotation pair i (< rot_half), or the pass-through pair of dims i - rot_half after the rotated ones.
fn embed(x0: f32, x1: f32, cs: vec2<f32>, rotate: bool) -> vec2<f32> {
  if (rotate) { return vec2<f32>(x0 * cs.x - x1 * cs.y, x1 * cs.x + x0 * cs.y); }
  return vec2<f32>(x0, x1);
}

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
  let rotate = i < p.rot_half;
  // dims of this thread's pair: (i, i + rot_half) rotating; else two of the 2 · (half - rot_half) passing through
  let d0 = select(p.rot_half + i, i, rotate);
  let d1 = select(d0 + p.half - p.rot_half, i + p.rot_half, rotate);
  var cs = vec2<f32>(1.0, 0.0);
  if (rotate) { cs = table[position * p.rot_half + i]; }
  if (head < p.n_heads) {
    let base = (t * p.n_heads + head) * p.head_dim;
    let y = embed(q[base + d0], q[base + d1], cs, rotate);
    q[base + d0] = y.x;
    q[base + d1] = y.y;
  } else {
    let kh = head - p.n_heads;
    let src = (t * p.n_kv_heads + kh) * p.head_dim;
    let dst = ((position % p.cache_rows) * p.n_kv_heads + kh) * p.head_dim;
    let y = embed(k[src + d0], k[src + d1], cs, rotate);
    k_cache[dst + d0] = y.x;
    k_cache[dst + d1] = y.y;
    v_cache[dst + i] = v[src + i];
    v_cache[dst + i + p.half] = v[src + i + p.half];
  }
}
