// The gated MLP activation for several tokens (prefill):
//   out[t, j] = activation(gu[t, gate row of j]) · gu[t, up row of j]
// over the product of a gate/up weight concatenated in blocks of `block` gate rows then `block` up rows, as the
// one-token product's glu epilogue (matvec_io.wgsl) reads it: gate j = b·2B + i, up j = b·2B + B + i for j = bB + i.
// gu: f32 [tokens, 2 · hidden]; out: f32 [tokens, hidden]. activation() comes from activation.wgsl.

override WG: u32 = 64u;

struct Params { hidden: u32, block: u32, activation: u32 }
// struct Step { tokens, pos, kv_len, row }: step.wgsl, put in front of this file by its owner.

@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> gu: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;
@group(0) @binding(3) var<uniform> step: Step;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wg.x + wg.y * nwg.x) * WG + lid;
  if (i >= step.tokens * p.hidden) { return; }
  let t = i / p.hidden;
  let j = i % p.hidden;
  let g = t * 2u * p.hidden + (j / p.block) * 2u * p.block + j % p.block;
  out[i] = activation(gu[g], p.activation) * gu[g + p.block];
}
