// RMSNorm as transformers computes it in float32, over rows of `dim` values:
//   y[r, i] = (w[i] + w_offset) * x[r, i] / sqrt(mean_i(x[r, i]^2) + eps)
// w_offset is 0 for Llama-style norms (x̂ · w) and 1 for Gemma's (x̂ · (1 + w)). A token holds `rows_per_token` rows
// (1 for the hidden state; n_heads for Qwen 3 / Gemma 3 q and k norms over each head's head_dim), so the rows of this
// forward are step.tokens × rows_per_token. With ACCUMULATE the result is added to out, scaled (the post-norms of
// Gemma 2 / 3 and OLMo 2: x += residual_scale · norm(f(x))):
//   out[r, i] = out[r, i] + residual_scale * y[r, i]    (ACCUMULATE)
//   out[r, i] = y[r, i]                                  (otherwise)
// x: a token's rows_per_token rows of dim values start at token · x_stride + x_offset (x_stride = rows_per_token · dim
// and x_offset 0 for a plain [rows, dim] x; the q or k columns of the fused q/k/v rows for q/k norms).
// out: f32 [rows, dim] (may not alias x). w: fp16 packed two per u32. One workgroup per row.

override WG: u32 = 64u;
override ACCUMULATE: bool = false;

struct Params {
  dim: u32,
  eps: f32,
  w_offset: f32,
  rows_per_token: u32,
  residual_scale: f32,
  x_stride: u32,   // floats per token in x
  x_offset: u32,   // where a token's rows start in its x stride
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
  let r = wg.x + wg.y * nwg.x;
  if (r >= step.tokens * p.rows_per_token) { return; }
  let base = r * p.dim;
  let xb = (r / p.rows_per_token) * p.x_stride + p.x_offset + (r % p.rows_per_token) * p.dim;
  var acc = 0.0;
  for (var i = lid; i < p.dim; i += WG) { let v = x[xb + i]; acc += v * v; }
  partial[lid] = acc;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { partial[lid] += partial[lid + s]; }
    workgroupBarrier();
  }
  let inv = inverseSqrt(partial[0] / f32(p.dim) + p.eps);
  for (var i = lid; i < p.dim; i += WG) {
    let wv = unpack2x16float(w[i / 2u]);
    let y = (select(wv.x, wv.y, (i & 1u) == 1u) + p.w_offset) * (x[xb + i] * inv);
    if (ACCUMULATE) {
      out[base + i] += p.residual_scale * y;
    } else {
      out[base + i] = y;
    }
  }
}
