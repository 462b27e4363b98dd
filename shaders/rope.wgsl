// Rotary position embedding (the Llama "rotate half" layout, as transformers' apply_rotary_pos_emb) and the KV-cache
// append for the tokens of a forward of several tokens (prefill; one token: the rope_kv epilogue of the q/k/v product,
// matvec_io.wgsl), from this forward's q, k and v rows:
//   q[t, h] rotated into q; k[t, h] rotated and v[t, h] as is into the cache row of position pos + t.
// q, k and v are read as columns of wider rows (source stride and offset per token): all three from the fused q/k/v
// product's rows, or q and k from the q/k norms' outputs (Qwen 3, Gemma 3, OLMo 2) and v from those rows.
// The pairs are the rope_kv epilogue's: for i < rot_half the dims (i, i + rot_half) turn together,
//   out[i] = x[i] cos - x[i + rot_half] sin,  out[i + rot_half] = x[i + rot_half] cos + x[i] sin,
// with (cos, sin) of angle (pos + t) · inv_freq[i] from a table computed on the CPU in float32 (exact like HF's, where
// GPU cos/sin of large angles are not; LongRoPE's attention factor multiplied in); the dims past 2 · rot_half (partial
// rotary; every dim of a NoPE layer) pass as they are. The cache of a sliding-window layer is a ring: position p lives
// in row p mod cache_rows (cache_rows = context for a global layer). One thread per (token, head, pair).
// q: f32 [tokens, n_heads head_dim]; kv: the layer's cache, keys [cache_rows, n_kv_heads head_dim] then (from
// v_offset floats) values; table: [context, rot_half] (cos, sin).

override WG: u32 = 64u;

struct Params {
  n_heads: u32,
  n_kv_heads: u32,
  head_dim: u32,
  rot_half: u32,    // pairs turned per head (head_dim / 2 but for partial rotary; 0: none)
  v_offset: u32,    // floats from the start of kv to the value cache
  cache_rows: u32,  // rows of each cache
  q_stride: u32,    // floats per token of q_src, and where its q columns start
  q_col: u32,
  k_stride: u32,
  k_col: u32,
  v_stride: u32,
  v_col: u32,
}
// struct Step { tokens, pos, kv_len, row }: step.wgsl, put in front of this file by its owner.

@group(0) @binding(0) var<storage, read_write> q: array<f32>;
@group(0) @binding(1) var<storage, read> q_src: array<f32>;
@group(0) @binding(2) var<storage, read> k_src: array<f32>;
@group(0) @binding(3) var<storage, read> v_src: array<f32>;
@group(0) @binding(4) var<storage, read_write> kv: array<f32>;
@group(0) @binding(5) var<storage, read> table: array<vec2<f32>>;
@group(0) @binding(6) var<uniform> p: Params;
@group(0) @binding(7) var<uniform> step: Step;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let idx = (wg.x + wg.y * nwg.x) * WG + lid;
  let half = p.head_dim / 2u;
  let heads = p.n_heads + 2u * p.n_kv_heads;
  let i = idx % half;
  let head = (idx / half) % heads;
  let t = idx / (half * heads);
  if (t >= step.tokens) { return; }
  let rh = p.rot_half;
  let d = select(vec2<u32>(rh + i, half + i), vec2<u32>(i, i + rh), i < rh);
  var a: f32;
  var b: f32;
  if (head < p.n_heads) {
    let src = t * p.q_stride + p.q_col + head * p.head_dim;
    a = q_src[src + d.x];
    b = q_src[src + d.y];
  } else if (head < p.n_heads + p.n_kv_heads) {
    let src = t * p.k_stride + p.k_col + (head - p.n_heads) * p.head_dim;
    a = k_src[src + d.x];
    b = k_src[src + d.y];
  } else {
    let src = t * p.v_stride + p.v_col + (head - p.n_heads - p.n_kv_heads) * p.head_dim;
    a = v_src[src + d.x];
    b = v_src[src + d.y];
  }
  let position = step.pos + t;
  if (i < rh && head < p.n_heads + p.n_kv_heads) {
    let cs = table[position * rh + i];
    let a0 = a;
    a = a0 * cs.x - b * cs.y;
    b = b * cs.x + a0 * cs.y;
  }
  let kv_row = p.n_kv_heads * p.head_dim;
  let row = position % p.cache_rows;
  var dst: u32;
  if (head < p.n_heads) {
    dst = (t * p.n_heads + head) * p.head_dim;
    q[dst + d.x] = a;
    q[dst + d.y] = b;
    return;
  }
  if (head < p.n_heads + p.n_kv_heads) {
    dst = row * kv_row + (head - p.n_heads) * p.head_dim;
  } else {
    dst = p.v_offset + row * kv_row + (head - p.n_heads - p.n_kv_heads) * p.head_dim;
  }
  kv[dst + d.x] = a;
  kv[dst + d.y] = b;
}
