// LLM.int8 run-time step 2: per-token int8 quantization of the non-outlier columns of x, one workgroup per token:
//   s[t]     = absmax(x[t, c] for non-outlier c) / 127          (f32; 0 when that row is all zero)
//   xq[t, c] = clamp(round(x[t, c] / s[t]), -127, 127), 0 on outlier columns (they are multiplied in float)
// round() is half to even (torch.round). xq: four int8 per u32 (element 4i in the low byte), `row_words` u32 per
// token, packed with shifts only (no packed_4x8 builtins, so the fallback matmul needs nothing this runtime lacks).
// The outlier mask comes from int8_outliers.wgsl. This serves forwards of several tokens (prefill); one token's product
// (matvec_int8.wgsl) quantizes x itself.
// WG = 1 (one thread per token, no barriers) is for CPU adapters, where a barrier costs far more than the k columns;
// WG = 64 (threads stride over the columns, reductions in workgroup memory) is for GPUs. Both give the same values.

override WG: u32 = 64u;  // 1 or a power of two

// struct Step { tokens, pos, kv_len, row }: step.wgsl, put in front by the owner.

struct Params {
  k: u32,          // columns of x
  row_words: u32,  // ceil(k / 4)
}

@group(0) @binding(0) var<storage, read> x: array<f32>;            // [tokens, k]
@group(0) @binding(1) var<storage, read> mask: array<u32>;         // [k], 1 = outlier column
@group(0) @binding(2) var<storage, read_write> xq: array<u32>;     // [tokens, row_words]
@group(0) @binding(3) var<storage, read_write> sx: array<f32>;     // [tokens]
@group(0) @binding(4) var<uniform> step: Step;
@group(0) @binding(5) var<uniform> p: Params;

var<workgroup> partial: array<f32, WG>;

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
