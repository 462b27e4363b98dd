// Split-K ("flash-decoding") pass of decode attention: the one query of this forward (position pos, tokens == 1)
// over one layer's f32 KV cache, with the positions it sees (first ..= pos: all, or the last `window` of a sliding-window
// layer, whose cache is a ring) cut into chunks and one workgroup per (chunk, head):
// on a GPU the single-pass kernel (attention.wgsl) runs only n_heads workgroups, each walking the whole cache.
// The chunk length is chosen here from the cache length and the dispatch's chunk count (the same formula as
// attention_combine.wgsl and attention.ts decodeChunkLength): chunk = max(min_chunk, ceil(len / max_chunks)), so
// n_active = ceil(len / chunk) <= max_chunks chunks hold positions; the workgroups of the other chunks return.
// Each active workgroup, over its positions j0 .. j1 (relative to the first; row (first + j) mod cache_rows):
//   1. s[j] = softcap(scale * q·k[j]) into its part of the scores row, and the chunk maximum m;
//   2. e[j] = exp(s[j] - m) in place, and their sum l;
//   3. acc[d] = sum_j e[j] v[j, d]  →  partials[h, c] = (m, l, acc[0 .. head_dim]).
// attention_combine.wgsl then merges a head's partials (log-sum-exp rescaling). With one active chunk (a short
// cache) this workgroup is the whole softmax and writes out = acc / l itself; the combine pass does nothing.
// q, out: f32 [1, n_heads * head_dim]; k_cache, v_cache: f32 [cache_rows, n_kv_heads * head_dim];
// scores: f32 [>= n_heads, context] (row h of the single-pass scratch); partials: f32 [n_heads, max_chunks, head_dim + 2].

override WG: u32 = 64u;

// attention.wgsl's Params; attention_combine.wgsl declares the same struct.
struct Params {
  n_heads: u32,
  n_kv_heads: u32,
  head_dim: u32,
  kv_groups: u32,
  context: u32,     // scores row stride
  scale: f32,       // 1 / sqrt(head_dim), query_pre_attn_scalar^-0.5 or attention_multiplier
  max_chunks: u32,  // chunks per head in the dispatch (n_heads * max_chunks workgroups)
  min_chunk: u32,   // positions per chunk at least
  window: u32,      // sliding window (0: every position)
  cache_rows: u32,  // rows of the cache: context, or the ring of a sliding-window layer
  softcap: f32,     // attention-score soft cap (0: none)
}

// struct Step { tokens, pos, kv_len }: step.wgsl, put in front of this file by its owner.

@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> k_cache: array<f32>;
@group(0) @binding(2) var<storage, read> v_cache: array<f32>;
@group(0) @binding(3) var<storage, read_write> scores: array<f32>;
@group(0) @binding(4) var<storage, read_write> partials: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
@group(0) @binding(6) var<uniform> p: Params;
@group(0) @binding(7) var<uniform> step: Step;

var<workgroup> qs: array<f32, 256>;
// window_start, soft_cap, reduce_max / reduce_sum come from attention_reduce.wgsl, put in front by attention.ts.

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let flat = wg.x + wg.y * nwg.x;
  let c = flat / p.n_heads;  // the heads of one chunk are neighbours: GQA heads sharing its K/V rows run together
  let h = flat % p.n_heads;
  if (c >= p.max_chunks) { return; }
  let first = window_start(step.pos, p.window);
  let len = step.pos + 1u - first;
  let chunk = max(p.min_chunk, (len + p.max_chunks - 1u) / p.max_chunks);
  let n_active = (len + chunk - 1u) / chunk;
  if (c >= n_active) { return; }
  let j0 = c * chunk;
  let j1 = min(len, j0 + chunk);
  let hd = p.head_dim;
  let kv_stride = p.n_kv_heads * hd;
  let kv_off = (h / p.kv_groups) * hd;
  let q_base = h * hd;
  let s_base = h * p.context;

  for (var d = lid; d < hd; d += WG) { qs[d] = q[q_base + d]; }
  workgroupBarrier();

  var m = -3.0e38;
  for (var j = j0 + lid; j < j1; j += WG) {
    let kb = ((first + j) % p.cache_rows) * kv_stride + kv_off;
    var dot = 0.0;
    for (var d = 0u; d < hd; d++) { dot += qs[d] * k_cache[kb + d]; }
    let s = soft_cap(dot * p.scale, p.softcap);
    scores[s_base + j] = s;
    m = max(m, s);
  }
  let chunk_max = reduce_max(m, lid);

  var sum = 0.0;
  for (var j = j0 + lid; j < j1; j += WG) {
    let e = exp(scores[s_base + j] - chunk_max);
    scores[s_base + j] = e;
    sum += e;
  }
  let total = reduce_sum(sum, lid);
  storageBarrier();  // every thread's e[j] is visible to the whole workgroup

  let pb = (h * p.max_chunks + c) * (hd + 2u);
  if (n_active == 1u) {
    let inv = 1.0 / total;
    for (var d = lid; d < hd; d += WG) {
      var acc = 0.0;
      for (var j = j0; j < j1; j++) { acc += scores[s_base + j] * v_cache[((first + j) % p.cache_rows) * kv_stride + kv_off + d]; }
      out[q_base + d] = acc * inv;
    }
    return;
  }
  if (lid == 0u) {
    partials[pb] = chunk_max;
    partials[pb + 1u] = total;
  }
  for (var d = lid; d < hd; d += WG) {
    var acc = 0.0;
    for (var j = j0; j < j1; j++) { acc += scores[s_base + j] * v_cache[((first + j) % p.cache_rows) * kv_stride + kv_off + d]; }
    partials[pb + 2u + d] = acc;
  }
}
