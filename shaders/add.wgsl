// Residual add: x[i] += scale * y[i] for the first tokens × dim elements (scale: Granite's residual_multiplier, else 1).
// x, y: f32 [tokens, dim].

override WG: u32 = 64u;

struct Params { dim: u32, scale: f32 }
// struct Step { tokens, pos, kv_len }: step.wgsl, put in front of this file by its owner.

@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;
@group(0) @binding(3) var<uniform> step: Step;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wg.x + wg.y * nwg.x) * WG + lid;
  if (i >= step.tokens * p.dim) { return; }
  x[i] += p.scale * y[i];
}
