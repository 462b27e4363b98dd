// LLM.int8 run-time step 1: find the outlier input columns of the current activations.
//   outlier(c) = threshold > 0 && any(|x[t, c]| >= threshold for t < tokens)
// Writes mask[c] (1 for an outlier column, else 0) and the compact, ascending list of outlier columns:
//   list[0] = count, list[1 + i] = i-th outlier column.
// One workgroup: each thread owns a contiguous chunk of columns; an exclusive scan of the per-chunk counts gives
// each chunk its place in the list, so the list (and the float sum over it) is deterministic. Threshold 0 turns the
// decomposition off: no column is an outlier.
// WG = 1 (one thread walks every column, no barriers) is for CPU adapters, where barriers cost far more than the scan;
// WG = 256 is for GPUs. Both write the same mask and list.

override WG: u32 = 256u;  // 1 or a power of two

// struct Step { tokens, pos, kv_len }: step.wgsl, put in front of this file by its owner.

struct Params {
  k: u32,           // columns of x (in_features)
  threshold: f32,   // |x| >= threshold makes an outlier; 0 = none
  _a: u32,
  _b: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;          // [tokens, k]
@group(0) @binding(1) var<storage, read_write> mask: array<u32>;  // [k]
@group(0) @binding(2) var<storage, read_write> list: array<u32>;  // [1 + k]
@group(0) @binding(3) var<uniform> step: Step;
@group(0) @binding(4) var<uniform> p: Params;

var<workgroup> counts: array<u32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  let chunk = (p.k + WG - 1u) / WG;
  let c0 = min(lid * chunk, p.k);
  let c1 = min(c0 + chunk, p.k);
  var n = 0u;
  for (var c = c0; c < c1; c++) {
    var hit = 0u;
    if (p.threshold > 0.0) {
      for (var t = 0u; t < step.tokens; t++) {
        if (abs(x[t * p.k + c]) >= p.threshold) { hit = 1u; break; }
      }
    }
    mask[c] = hit;
    n += hit;
  }

  // inclusive scan of the chunk counts (Hillis–Steele); one thread's chunk is all of x
  var before = 0u;  // outlier columns in the chunks before this thread's
  var total = n;
  if (WG > 1u) {
    counts[lid] = n;
    workgroupBarrier();
    for (var s = 1u; s < WG; s <<= 1u) {
      var v = 0u;
      if (lid >= s) { v = counts[lid - s]; }
      workgroupBarrier();
      counts[lid] += v;
      workgroupBarrier();
    }
    before = counts[lid] - n;
    total = counts[WG - 1u];
  }

  var o = before;
  for (var c = c0; c < c1; c++) {
    if (mask[c] == 1u) {
      list[1u + o] = c;
      o++;
    }
  }
  if (lid == WG - 1u) { list[0] = total; }
}
