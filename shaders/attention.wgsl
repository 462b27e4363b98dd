// Causal self-attention over one layer's f32 KV cache, for the tokens of this forward (T queries in prefill, 1 when
// decoding), with grouped KV heads (GQA/MQA: query head h reads KV head h / kv_groups).
// Query t sits at position pos + t and attends to positions first ..= pos + t: all of them, or the last `window` of
// them on a sliding-window layer, whose cache is a ring (position j in row j mod cache_rows). One workgroup per
// (query, head), over the positions it sees (j relative to the first):
//   1. s[j] = softcap(scale * q·k[j]) into a scratch row (scores), and the row maximum;
//   2. e[j] = exp(s[j] - max) in place, and their sum;
//   3. out[d] = sum_j e[j] v[j, d] / sum.
// q, out: f32 [tokens, n_heads * head_dim]; k_cache, v_cache: f32 [cache_rows, n_kv_heads * head_dim];
// scores: f32 [max_tokens, n_heads, context].

override WG: u32 = 64u;

// The uniform buffer is shared with the split-K decode passes (attention_split.wgsl, attention_combine.wgsl).
struct Params {
  n_heads: u32,
  n_kv_heads: u32,
  head_dim: u32,
  kv_groups: u32,
  context: u32,     // scores row stride
  scale: f32,       // 1 / sqrt(head_dim), query_pre_attn_scalar^-0.5 or attention_multiplier
  max_chunks: u32,  // (split-K decode)
  min_chunk: u32,   // (split-K decode)
  window: u32,      // sliding window (0: every position)
  cache_rows: u32,  // rows of the cache: context, or the ring of a sliding-window layer
  softcap: f32,     // attention-score soft cap (0: none)
}

// struct Step { tokens, pos, kv_len }: step.wgsl, put in front of this file by its owner.

@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> k_cache: array<f32>;
@group(0) @binding(2) var<storage, read> v_cache: array<f32>;
@group(0) @binding(3) var<storage, read_write> scores: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;
@group(0) @binding(6) var<uniform> step: Step;

var<workgroup> qs: array<f32, 256>;
// window_start, soft_cap, reduce_max / reduce_sum come from attention_reduce.wgsl, put in front by attention.ts.

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let flat = wg.x + wg.y * nwg.x;
  let t = flat / p.n_heads;
  let h = flat % p.n_heads;
  if (t >= step.tokens) { return; }
  let last = step.pos + t;
  let first = window_start(last, p.window);
  let len = last + 1u - first;
  let hd = p.head_dim;
  let kv_stride = p.n_kv_heads * hd;
  let kv_off = (h / p.kv_groups) * hd;
  let q_base = (t * p.n_heads + h) * hd;
  let s_base = (t * p.n_heads + h) * p.context;

  for (var d = lid; d < hd; d += WG) { qs[d] = q[q_base + d]; }
  workgroupBarrier();

  var m = -3.0e38;
  for (var j = lid; j < len; j += WG) {
    let kb = ((first + j) % p.cache_rows) * kv_stride + kv_off;
    var dot = 0.0;
    for (var d = 0u; d < hd; d++) { dot += qs[d] * k_cache[kb + d]; }
    let s = soft_cap(dot * p.scale, p.softcap);
    scores[s_base + j] = s;
    m = max(m, s);
  }
  let row_max = reduce_max(m, lid);

  var sum = 0.0;
  for (var j = lid; j < len; j += WG) {
    let e = exp(scores[s_base + j] - row_max);
    scores[s_base + j] = e;
    sum += e;
  }
  let total = reduce_sum(sum, lid);
  storageBarrier();  // every thread's e[j] is visible to the whole workgroup

  let inv = 1.0 / total;
  for (var d = lid; d < hd; d += WG) {
    var acc = 0.0;
    for (var j = 0u; j < len; j++) { acc += scores[s_base + j] * v_cache[((first + j) % p.cache_rows) * kv_stride + kv_off + d]; }
    out[q_base + d] = acc * inv;
  }
}
