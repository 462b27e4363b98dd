// What the attention passes share: the window of positions a query sees (all three), the score's soft cap and the
// workgroup reductions (the two that walk cache positions, attention.wgsl and attention_split.wgsl). Not a kernel:
// attention.ts puts this file in front of each (WGSL has no includes). Every invocation of the workgroup calls the reductions in
// uniform control flow and gets the result.

// The first cache position the query at position `last` sees: 0, or last - window + 1 for a sliding window (window
// 0: none). The query sees positions first ..= last, kept in row position mod cache_rows of the cache.
fn window_start(last: u32, window: u32) -> u32 {
  return select(0u, last + 1u - window, window != 0u && last + 1u > window);
}

// Gemma 2's attention-score soft cap: cap · tanh(s / cap) (cap 0: none). tanh's argument is clamped where it is ±1 in
// f32 already, as some drivers overflow exp inside tanh.
fn soft_cap(s: f32, cap: f32) -> f32 {
  if (cap <= 0.0) { return s; }
  return cap * tanh(clamp(s / cap, -15.0, 15.0));
}

var<workgroup> red: array<f32, WG>;

fn reduce_max(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] = max(red[lid], red[lid + s]); }
    workgroupBarrier();
  }
  return workgroupUniformLoad(&red[0]);
}

fn reduce_sum(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] += red[lid + s]; }
    workgroupBarrier();
  }
  return workgroupUniformLoad(&red[0]);
}
