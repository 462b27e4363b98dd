// LLM.int8 run-time step 2: per-token int8 quantization of the non-outlier columns of x, one workgroup per token:
//   s[t]     = absmax(x[t, c] for non-outlier c) / 127          (f32; 0 when that row is all zero)
//   xq[t, c] = clamp(round(x[t, c] / s[t]), -127, 127), 0 on outlier columns (they are multiplied in float)
// round() is half to even (torch.round). xq: four int8 per u32 (element 4i in the low byte), `row_words` u32 per
// token, packed with shifts only (no packed_4x8 builtins, so the fallback matmul needs nothing this runtime lacks).
// Entry points: `main` (any tokens; mask from int8_outliers.wgsl) and `single` (tokens == 1, the decode step): with one
// token an outlier column is just |x[c]| >= threshold, so `single` also writes the mask and the outlier list that
// int8_outliers.wgsl would have written, saving that dispatch (the same chunked scan, so the same ascending list).
// WG = 1 (one thread per token, no barriers) is for CPU adapters, where a barrier costs far more than the k columns;
// WG = 64 (threads stride over the columns, reductions in workgroup memory) is for GPUs. Both give the same values.

override WG: u32 = 64u;  // 1 or a power of two

struct Step { tokens: u32, pos: u32, kv_len: u32, _pad: u32 }

struct Params {
  k: u32,          // columns of x
  row_words: u32,  // ceil(k / 4)
  threshold: f32,  // `single` only: |x| >= threshold makes an outlier; 0 = none
  _a: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;            // [tokens, k]
@group(0) @binding(1) var<storage, read_write> mask: array<u32>;   // [k], 1 = outlier column (`single` writes it)
@group(0) @binding(2) var<storage, read_write> xq: array<u32>;     // [tokens, row_words]
@group(0) @binding(3) var<storage, read_write> sx: array<f32>;     // [tokens]
@group(0) @binding(4) var<uniform> step: Step;
@group(0) @binding(5) var<uniform> p: Params;
@group(0) @binding(6) var<storage, read_write> list: array<u32>;   // `single` writes [count, outlier columns...]

var<workgroup> partial: array<f32, WG>;
var<workgroup> counts: array<u32, WG>;

// x[t, c] for a quantized column, 0 for an outlier column or past k.
fn inlier(base: u32, c: u32) -> f32 {
  if (c >= p.k) { return 0.0; }
  return select(x[base + c], 0.0, mask[c] != 0u);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = wg.x + wg.y * nwg.x;
  let valid = t < step.tokens;
  let base = t * p.k;

  var m = 0.0;
  if (valid) {
    for (var c = lid; c < p.k; c += WG) { m = max(m, abs(inlier(base, c))); }
  }
  if (WG > 1u) {
    partial[lid] = m;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
      if (lid < s) { partial[lid] = max(partial[lid], partial[lid + s]); }
      workgroupBarrier();
    }
    m = partial[0];
  }
  if (!valid) { return; }
  let scale = m / 127.0;

  for (var j = lid; j < p.row_words; j += WG) {
    var word = 0u;
    for (var b = 0u; b < 4u; b++) {
      let q = select(0.0, clamp(round(inlier(base, 4u * j + b) / scale), -127.0, 127.0), scale > 0.0);
      word |= (bitcast<u32>(i32(q)) & 0xffu) << (8u * b);
    }
    xq[t * p.row_words + j] = word;
  }
  if (lid == 0u) { sx[t] = scale; }
}

fn is_outlier(c: u32) -> bool {
  return p.threshold > 0.0 && abs(x[c]) >= p.threshold;
}

// x[0, c] for a quantized column, 0 for an outlier column or past k.
fn single_inlier(c: u32) -> f32 {
  if (c >= p.k || is_outlier(c)) { return 0.0; }
  return x[c];
}

// tokens == 1: outlier columns, list, absmax and quantization of token 0 in one workgroup.
@compute @workgroup_size(WG)
fn single(@builtin(local_invocation_index) lid: u32) {
  // each thread owns a contiguous chunk of columns (for the ordered list) and strides over words (for xq)
  let chunk = (p.k + WG - 1u) / WG;
  let c0 = min(lid * chunk, p.k);
  let c1 = min(c0 + chunk, p.k);
  var n = 0u;
  var m = 0.0;
  for (var c = c0; c < c1; c++) {
    let hit = is_outlier(c);
    mask[c] = u32(hit);
    n += u32(hit);
    m = max(m, abs(single_inlier(c)));
  }
  // inclusive scans (Hillis–Steele) of the chunk counts and absmaxes; one thread's chunk is all of x
  var before = 0u;  // outlier columns in the chunks before this thread's
  var total = n;
  if (WG > 1u) {
    counts[lid] = n;
    partial[lid] = m;
    workgroupBarrier();
    for (var s = 1u; s < WG; s <<= 1u) {
      var v = 0u;
      var w = 0.0;
      if (lid >= s) {
        v = counts[lid - s];
        w = partial[lid - s];
      }
      workgroupBarrier();
      counts[lid] += v;
      partial[lid] = max(partial[lid], w);
      workgroupBarrier();
    }
    before = counts[lid] - n;
    total = counts[WG - 1u];
    m = partial[WG - 1u];
  }
  var o = before;
  for (var c = c0; c < c1; c++) {
    if (is_outlier(c)) {
      list[1u + o] = c;
      o++;
    }
  }
  if (lid == WG - 1u) { list[0] = total; }

  let scale = m / 127.0;
  for (var j = lid; j < p.row_words; j += WG) {
    var word = 0u;
    for (var b = 0u; b < 4u; b++) {
      let q = select(0.0, clamp(round(single_inlier(4u * j + b) / scale), -127.0, 127.0), scale > 0.0);
      word |= (bitcast<u32>(i32(q)) & 0xffu) << (8u * b);
    }
    xq[j] = word;
  }
  if (lid == 0u) { sx[0] = scale; }
}
