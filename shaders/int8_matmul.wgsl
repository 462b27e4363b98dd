// LLM.int8 run-time step 3, for one row part of an int8 weight (rows y_offset ..), for the first `tokens` rows of x:
//   y[t, r] = (sum_c xq[t, c] * q[r, c]) * sx[t] * sw[r]                 int8 × int8 over the non-outlier columns
//           + (sum_{c in outliers} x[t, c] * q[r, c]) * sw[r]            float × dequantized int8 over the outliers
//           + bias[r]
// The int8 sum is exact in i32. xq is 0 on outlier columns, so the int8 part skips them without a test.
// For several tokens (prefill; one token goes through matvec_int8.wgsl, which quantizes x itself): TT tokens per
// thread, so each weight word read serves TT tokens. Each workgroup computes WG / TPR output rows of one token block;
// the TPR threads of a row stride over its words and reduce in workgroup memory. TPR = WG (one row per workgroup,
// coalesced reads + a tree reduction) is for GPUs; TPR = 1 (one thread per row, no barriers at all) is for CPU
// adapters, where barriers cost far more than the math. The int8 sums are exact either way; the float sum over the outlier columns is added in another order (which
// may move its last bit).
//
// dot4(a, b) — the i32 dot product of two words of four int8 — is not defined here: the owner puts one of
// int8_dot4_packed.wgsl (dot4I8Packed, the WGSL language feature packed_4x8_integer_dot_product) or
// int8_dot4_shifts.wgsl (sign extension with shifts, for runtimes without it) in front of this file. An override
// constant cannot choose between them: a builtin the runtime lacks fails compilation even in a branch never taken.

override WG: u32 = 64u;
override TPR: u32 = 64u;  // threads per output row: a power of two dividing WG
const TT: u32 = 4u;

// struct Step { tokens, pos, kv_len, row }: step.wgsl, put in front by the owner.

struct Params {
  rows: u32,       // output rows in this part
  row_words: u32,  // u32 words per int8 row of q (ceil(k / 4), or more where rows are padded)
  y_offset: u32,   // first output row of this part in the whole weight (index into scales, bias and y's columns)
  k: u32,          // in_features
  n: u32,          // out_features (row stride of y)
  has_bias: u32,
  x_words: u32,    // u32 words per row of xq (= ceil(k / 4))
  _b: u32,
}

@group(0) @binding(0) var<storage, read> w: array<u32>;        // this part's int8 rows, four per u32
@group(0) @binding(1) var<storage, read> scales: array<f32>;   // [n] row scales of the whole weight
@group(0) @binding(2) var<storage, read> xq: array<u32>;       // [tokens, x_words] quantized x
@group(0) @binding(3) var<storage, read> sx: array<f32>;       // [tokens] token scales
@group(0) @binding(4) var<storage, read> x: array<f32>;        // [tokens, k] float x (outlier columns)
@group(0) @binding(5) var<storage, read> list: array<u32>;     // [count, outlier columns...]
@group(0) @binding(6) var<storage, read> bias: array<u32>;     // [n] fp16 packed two per u32 (unused without bias)
@group(0) @binding(7) var<storage, read_write> y: array<f32>;  // [tokens, n]
@group(0) @binding(8) var<uniform> step: Step;
@group(0) @binding(9) var<uniform> p: Params;

var<workgroup> pre_i: array<vec4<i32>, WG>;
var<workgroup> pre_f: array<vec4<f32>, WG>;

// The int8 weight q[row, c] as a float (row starts at word wb of this part).
fn weight_at(wb: u32, c: u32) -> f32 {
  return f32(extractBits(bitcast<i32>(w[wb + c / 4u]), 8u * (c % 4u), 8u));
}

fn store(row: u32, t: u32, acc_i: i32, acc_f: f32) {
  let r = p.y_offset + row;
  let sw = scales[r];
  var v = f32(acc_i) * sx[t] * sw + acc_f * sw;
  if (p.has_bias != 0u) {
    let b = unpack2x16float(bias[r / 2u]);
    v += select(b.x, b.y, (r & 1u) == 1u);
  }
  y[t * p.n + r] = v;
}

// Which output row and token block this thread works on: workgroups are numbered row group first, then token block.
struct Slot { row: u32, block: u32, lane: u32 }

fn slot(wg: vec3<u32>, nwg: vec3<u32>, lid: u32) -> Slot {
  let flat = wg.x + wg.y * nwg.x;
  let groups = (p.rows + WG / TPR - 1u) / (WG / TPR);  // row groups per token block
  return Slot((flat % groups) * (WG / TPR) + lid / TPR, flat / groups, lid % TPR);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let at = slot(wg, nwg, lid);
  let row = at.row;
  let t0 = at.block * TT;
  let valid = t0 < step.tokens && row < p.rows;
  var ai = vec4<i32>(0i);
  var af = vec4<f32>(0.0);
  if (valid) {
    // tokens past the last one repeat it; their sums are never stored
    let t = min(vec4<u32>(t0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(step.tokens - 1u));
    let xb = t * p.x_words;
    let wb = row * p.row_words;
    for (var j = at.lane; j < p.x_words; j += TPR) {
      let wv = w[wb + j];
      ai += vec4<i32>(dot4(wv, xq[xb.x + j]), dot4(wv, xq[xb.y + j]), dot4(wv, xq[xb.z + j]), dot4(wv, xq[xb.w + j]));
    }
    let xr = t * p.k;
    let count = list[0];
    for (var i = at.lane; i < count; i += TPR) {
      let c = list[1u + i];
      af += vec4<f32>(x[xr.x + c], x[xr.y + c], x[xr.z + c], x[xr.w + c]) * weight_at(wb, c);
    }
  }
  if (TPR > 1u) {
    pre_i[lid] = ai;
    pre_f[lid] = af;
    workgroupBarrier();
    for (var s = TPR / 2u; s > 0u; s >>= 1u) {
      if (at.lane < s) {
        pre_i[lid] += pre_i[lid + s];
        pre_f[lid] += pre_f[lid + s];
      }
      workgroupBarrier();
    }
    ai = pre_i[lid];
    af = pre_f[lid];
  }
  if (valid && at.lane == 0u) {
    for (var i = 0u; i < TT; i++) {
      if (t0 + i < step.tokens) { store(row, t0 + i, ai[i], af[i]); }
    }
  }
}
