// Native-f16 variant of matvec_f16.wgsl (only where the device has `shader-f16`): the same packed buffer read as
// vec2<f16> by the hardware instead of unpack2x16float. Arithmetic stays f32: activations rounded to f16 would cost
// the precision the model checks need, and a matrix-vector product is bound by memory, not by math.
// Same bindings and parameters as matvec_f16.wgsl.
enable f16;

override WG: u32 = 64u;
override TPR: u32 = 64u;  // threads per row, as in matvec_f16.wgsl

struct Params {
  rows: u32,
  row_words: u32,
  y_offset: u32,
  k: u32,
}

@group(0) @binding(0) var<storage, read> w: array<vec2<f16>>;
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
      let wv = vec2<f32>(w[base + j]);
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
