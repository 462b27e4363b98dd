// RMSNorm as transformers' LlamaRMSNorm computes it in float32:
//   out[t, i] = w[i] * x[t, i] / sqrt(mean_i(x[t, i]^2) + eps)
// x, out: f32 [tokens, dim] (may not alias). w: fp16 packed two per u32. One workgroup per row.

override WG: u32 = 64u;

struct Params {
  dim: u32,
  eps: f32,
}

// struct Step { tokens, pos, kv_len }: step.wgsl, put in front of this file by its owner.

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(4) var<uniform> step: Step;

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = wg.x + wg.y * nwg.x;
  if (t >= step.tokens) { return; }
  let base = t * p.dim;
  var acc = 0.0;
  for (var i = lid; i < p.dim; i += WG) { let v = x[base + i]; acc += v * v; }
  partial[lid] = acc;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { partial[lid] += partial[lid + s]; }
    workgroupBarrier();
  }
  let inv = inverseSqrt(partial[0] / f32(p.dim) + p.eps);
  for (var i = lid; i < p.dim; i += WG) {
    let wv = unpack2x16float(w[i / 2u]);
    out[base + i] = select(wv.x, wv.y, (i & 1u) == 1u) * (x[base + i] * inv);
  }
}
