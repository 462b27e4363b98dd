// Combine pass of split-K decode attention (after attention_split.wgsl): merges the partials of each head's active
// chunks with the log-sum-exp rescaling, M = max_c m_c, w_c = exp(m_c - M):
//   out[h, d] = sum_c w_c acc_c[d] / sum_c w_c l_c.
// One workgroup per head, one thread per output column (strided), no barriers: every thread reads the few (m, l) of
// its head itself. With a single active chunk the split pass has written out already and this pass returns.
// partials: f32 [n_heads, max_chunks, head_dim + 2] as (m, l, acc[head_dim]); out: f32 [1, n_heads * head_dim].
// window_start comes from attention_reduce.wgsl, put in front by attention.ts.

override WG: u32 = 64u;

// attention_split.wgsl's Params (the same uniform buffer).
struct Params {
  n_heads: u32,
  n_kv_heads: u32,
  head_dim: u32,
  kv_groups: u32,
  context: u32,
  scale: f32,
  max_chunks: u32,
  min_chunk: u32,
  window: u32,
  cache_rows: u32,
  softcap: f32,
}

// struct Step { tokens, pos, kv_len }: step.wgsl, put in front of this file by its owner.

@group(0) @binding(0) var<storage, read> partials: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;
@group(0) @binding(3) var<uniform> step: Step;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let h = wg.x + wg.y * nwg.x;
  if (h >= p.n_heads) { return; }
  // the positions the query sees, as attention_split.wgsl counts them
  let first = window_start(step.pos, p.window);
  let len = step.pos + 1u - first;
  let chunk = max(p.min_chunk, (len + p.max_chunks - 1u) / p.max_chunks);
  let n_active = (len + chunk - 1u) / chunk;
  if (n_active <= 1u) { return; }
  let hd = p.head_dim;
  let stride = hd + 2u;
  let hb = h * p.max_chunks * stride;

  var big_m = -3.0e38;
  for (var c = 0u; c < n_active; c++) { big_m = max(big_m, partials[hb + c * stride]); }
  var l = 0.0;
  for (var c = 0u; c < n_active; c++) {
    let b = hb + c * stride;
    l += partials[b + 1u] * exp(partials[b] - big_m);
  }
  let inv = 1.0 / l;
  for (var d = lid; d < hd; d += WG) {
    var acc = 0.0;
    for (var c = 0u; c < n_active; c++) {
      let b = hb + c * stride;
      acc += partials[b + 2u + d] * exp(partials[b] - big_m);
    }
    out[h * hd + d] = acc * inv;
  }
}
