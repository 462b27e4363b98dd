// y[row] = sum_k W[row, k] * x[k] for one part of an fp16 weight (rows part.rowStart ..), decode path (one token).
// W: fp16 packed two per u32, row-major, `row_words` u32 per row. x, y: f32.
// Each workgroup computes WG / TPR rows; the TPR threads of a row stride over it and reduce in workgroup memory.
// TPR = 1 (one thread per row, no barriers at all) is for CPU adapters, where barriers cost far more than the math;
// TPR = 32 or 64 is for GPUs, where neighbouring threads then read neighbouring words.

override WG: u32 = 64u;
override TPR: u32 = 64u;  // threads per row: a power of two dividing WG

struct Params {
  rows: u32,       // rows in this part
  row_words: u32,  // u32 words per weight row (= ceil(K / 2))
  y_offset: u32,   // where this part's first row goes in y
  k: u32,          // elements per row
}

@group(0) @binding(0) var<storage, read> w: array<u32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let lane = lid % TPR;
  let row = (wg.x + wg.y * nwg.x) * (WG / TPR) + lid / TPR;
  let valid = row < p.rows;
  var acc = 0.0;
  if (valid) {
    let base = row * p.row_words;
    for (var j = lane; j < p.row_words; j += TPR) {
      let wv = unpack2x16float(w[base + j]);
      let k0 = 2u * j;
      // an odd K pads the last word with 0, and x has only K entries
      let x1 = select(0.0, x[min(k0 + 1u, p.k - 1u)], k0 + 1u < p.k);
      acc += wv.x * x[k0] + wv.y * x1;
    }
  }
  if (TPR > 1u) {
    partial[lid] = acc;
    workgroupBarrier();
    for (var s = TPR / 2u; s > 0u; s >>= 1u) {
      if (lane < s) { partial[lid] += partial[lid + s]; }
      workgroupBarrier();
    }
    acc = partial[lid];
  }
  if (valid && lane == 0u) { y[p.y_offset + row] = acc; }
}
