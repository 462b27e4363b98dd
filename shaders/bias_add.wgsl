// Bias of a linear layer: y[t, i] += b[i] for t < tokens. y: f32 [tokens, n]; b: fp16 packed two per u32.

override WG: u32 = 64u;

struct Params { n: u32 }
// struct Step { tokens, pos, kv_len }: step.wgsl, put in front of this file by its owner.

@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;
@group(0) @binding(3) var<uniform> step: Step;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wg.x + wg.y * nwg.x) * WG + lid;
  if (i >= step.tokens * p.n) { return; }
  let c = i % p.n;
  let bv = unpack2x16float(b[c / 2u]);
  y[i] += select(bv.x, bv.y, (c & 1u) == 1u);
}
